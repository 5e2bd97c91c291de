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


# ------------------------------------------------------------------ linkseval notebooks (batch)


def _batch(tmp_path, notebook: str, values: list, shared: dict | None = None, tag: str = "b"):
    """Run ``linkseval notebooks`` with one page per value of ``x``; return the pages' stems."""
    stems = [f"{tag}{i}" for i in range(len(values))]
    jobs = [
        {"parameters": {"x": v}, "notebook": str(tmp_path / tag / f"{s}.ipynb"),
         "html": str(tmp_path / tag / f"{s}.html"), "title": f"Page x={v}"}
        for s, v in zip(stems, values, strict=True)
    ]  # fmt: skip
    rc = main(
        ["notebooks", notebook, "--jobs", json.dumps(jobs), "--parameters",
         json.dumps(shared or {}), "--nav", "Home=index.html", "--data-label=OFFICIAL"]
    )  # fmt: skip
    assert rc == 0
    return stems


# Each page must see only its own names: a name left by the page before would change the output
# (the assert fails the cell); counts, figures and outputs must be those of a fresh kernel.
LEAK_CELLS = (
    "assert 'mine' not in globals() and 'plt' not in globals(), sorted(globals())\n"
    "mine = x * 7\nprint(mine, label)",
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1], [0, x])\n"
    "print(len(plt.get_fignums()))",
    "x + 1",  # an execute_result carries its execution count
    "import numpy as np\nnp.mean([])",  # a library warning: shown on every page, not the first only
)


def test_a_batch_runs_each_page_as_in_a_kernel_of_its_own(tmp_path):
    """Three pages in one kernel: every executed notebook and page is byte for byte the one a
    batch of one (a fresh kernel) writes, names of one page are not seen by the next, execution
    counts start at 1 on every page, and the shared parameters reach every page."""
    nb = _notebook(tmp_path / "in.ipynb", *LEAK_CELLS)
    shared = {"label": "<b>"}
    stems = _batch(tmp_path, nb, [3, 5, 11], shared)
    for i, (stem, x) in enumerate(zip(stems, [3, 5, 11], strict=True)):
        alone = _batch(tmp_path, nb, [x], shared, tag=f"alone{i}")[0]
        for ext in ("ipynb", "html"):
            batch_bytes = (tmp_path / "b" / f"{stem}.{ext}").read_bytes()
            alone_bytes = (tmp_path / f"alone{i}" / f"{alone}.{ext}").read_bytes()
            # the only difference allowed: the file's own path in the notebook's metadata
            batch_bytes = batch_bytes.replace(f"b/{stem}.ipynb".encode(), b"OUT")
            alone_bytes = alone_bytes.replace(f"alone{i}/{alone}.ipynb".encode(), b"OUT")
            assert batch_bytes == alone_bytes, (stem, ext)
        out = nbformat.read(tmp_path / "b" / f"{stem}.ipynb", as_version=4)
        code = [c for c in out.cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == [1, 2, 3, 4, 5, 6]  # with the injected cell
        assert code[2].outputs[0]["text"] == f"{x * 7} <b>\n"
        assert code[3].outputs[0]["text"] == "1\n"  # only this page's figure is open
        assert code[4].outputs[0]["execution_count"] == 5
        assert code[4].outputs[0]["data"]["text/plain"] == str(x + 1)
        warned = [o for o in code[5].outputs if o.get("name") == "stderr"]
        assert len(warned) == 1 and "Mean of empty slice" in warned[0]["text"]
        assert f"Page x={x}" in (tmp_path / "b" / f"{stem}.html").read_text()
        assert not (tmp_path / "b" / f"{stem}.ipynb.partial.ipynb").exists()


def test_a_failing_page_stops_the_batch_with_one_error_line(tmp_path, capsys):
    """The second page's cell raises: the first page is finished, the error names the notebook,
    the cell and the second page's partial notebook, and the third page is not run."""
    nb = _notebook(tmp_path / "in.ipynb", "assert x != 0, 'x is zero'")
    jobs = [
        {"parameters": {"x": v}, "notebook": str(tmp_path / f"p{i}.ipynb"),
         "html": str(tmp_path / f"p{i}.html"), "title": "t"}
        for i, v in enumerate([1, 0, 2])
    ]  # fmt: skip
    assert main(["notebooks", nb, "--jobs", json.dumps(jobs)]) == 1
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("linkseval:")]
    assert errors == [
        f"linkseval: error: {nb}: cell In [3] raised AssertionError: x is zero (its traceback "
        f"is above; the executed notebook is {tmp_path / 'p1.ipynb.partial.ipynb'})"
    ]
    assert (tmp_path / "p0.html").exists() and not (tmp_path / "p1.html").exists()
    assert (
        not (tmp_path / "p2.ipynb.partial.ipynb").exists() and not (tmp_path / "p2.html").exists()
    )


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ("[", "--jobs is not JSON"),
        ("[]", "non-empty JSON list"),
        ('[{"notebook": "a", "html": "b", "title": "t"}]', "expected the keys"),
        ('[{"parameters": {}, "notebook": "", "html": "b", "title": "t"}]', "non-empty text"),
        ('[{"parameters": {"not a name": 1}, "notebook": "a", "html": "b", "title": "t"}]',
         "parameters must be a JSON object of names"),
        ('[{"parameters": {}, "notebook": "a", "html": "a", "title": "t"}]', "share a file"),
    ],
)  # fmt: skip
def test_a_malformed_batch_is_refused_before_any_kernel_starts(tmp_path, capsys, jobs, message):
    nb = _notebook(tmp_path / "in.ipynb", "print(x)")
    assert main(["notebooks", nb, "--jobs", jobs]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
