"""linkseval notebook: papermill in-process, then the page; failures are one error line."""

from __future__ import annotations

import json

import nbformat
import pytest

from linkseval.cli import main


def _notebook(path, *cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1\ndata_label = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return str(path)


def _run(tmp_path, notebook: str, *papermill: str, partial: str | None = None) -> int:
    return main(
        [
            "notebook",
            notebook,
            "--partial",
            partial or str(tmp_path / "out.ipynb.partial.ipynb"),
            "--notebook",
            str(tmp_path / "out.ipynb"),
            "--html",
            str(tmp_path / "out.html"),
            "--title",
            "A page",
            "--nav",
            "Home=index.html",
            "--data-label=OFFICIAL",
            "--papermill",
            *papermill,
        ]
    )


def test_parameters_reach_the_notebook_and_the_page_is_rendered(tmp_path):
    nb = _notebook(tmp_path / "in.ipynb", "print(repr(x * 7), label)")
    assert _run(tmp_path, nb, "-p", "x", "6", "-y", json.dumps({"label": "<b>"})) == 0
    assert not (tmp_path / "out.ipynb.partial.ipynb").exists()
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[-1].outputs[0]["text"] == "42 <b>\n"  # -p typed as papermill's CLI does
    page = (tmp_path / "out.html").read_text()
    assert "42 &lt;b&gt;" in page and "OFFICIAL" in page and "A page" in page


def test_a_failing_cell_is_one_error_line_naming_notebook_and_cell(tmp_path, capsys):
    nb = _notebook(tmp_path / "in.ipynb", "y = 2", "raise ValueError('no such theme')")
    assert _run(tmp_path, nb) == 1
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if line.startswith("linkseval: error:")]
    assert errors == [
        f"linkseval: error: {nb}: cell In [3] raised ValueError: no such theme (its traceback is "
        f"above; the executed notebook is {tmp_path / 'out.ipynb.partial.ipynb'})"
    ]
    assert "\x1b[" not in "\n".join(err)  # the cell's traceback, without colour codes
    assert not (tmp_path / "out.ipynb").exists() and not (tmp_path / "out.html").exists()


@pytest.mark.filterwarnings("ignore:the file is not specified with any extension")
@pytest.mark.parametrize("where", ["papermill's write", "a cell's write"])
def test_a_full_disk_is_one_error_line_without_traceback(tmp_path, capsys, where):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    if where == "papermill's write":
        nb = _notebook(tmp_path / "in.ipynb", "y = 2")
        rc = _run(tmp_path, nb, partial=(named := "/dev/full"))
    else:
        nb = _notebook(tmp_path / "in.ipynb", "open('/dev/full', 'w').write('x' * 100_000)")
        rc = _run(tmp_path, nb)
        named = tmp_path / "out.ipynb.partial.ipynb"
    assert rc == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("linkseval")] == [
        f"linkseval: error: {named}: no space left on device (notebook); free space and run "
        "again (no partial output is kept)"
    ]
    assert not (tmp_path / "out.ipynb").exists() and not (tmp_path / "out.html").exists()


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch, capsys):
    """Two kernels starting at once can race for a TCP port and one dies before any cell runs
    ("Kernel died before replying to kernel_info"): the start is tried again, up to 3 times;
    any other error, or a third death, is not retried."""
    from papermill.cli import papermill as papermill_cli

    from linkseval.report import notebook

    real = papermill_cli.main
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(notebook.KERNEL_DIED)
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill_cli, "main", flaky)
    nb = _notebook(tmp_path / "in.ipynb", "print(x)")
    assert _run(tmp_path, nb, "-p", "x", "5") == 0 and len(calls) == 3
    assert capsys.readouterr().err.count("the kernel did not start") == 2

    def dead(*args, **kwargs):
        calls.append(1)
        raise RuntimeError(notebook.KERNEL_DIED)

    calls.clear()
    monkeypatch.setattr(papermill_cli, "main", dead)
    with pytest.raises(RuntimeError, match="Kernel died"):
        notebook.execute(str(nb), str(tmp_path / "o.ipynb"))
    assert len(calls) == notebook.KERNEL_START_ATTEMPTS

    def other(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("something else")

    calls.clear()
    monkeypatch.setattr(papermill_cli, "main", other)
    with pytest.raises(RuntimeError, match="something else"):
        notebook.execute(str(nb), str(tmp_path / "o.ipynb"))
    assert len(calls) == 1
