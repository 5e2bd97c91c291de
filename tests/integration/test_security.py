"""A hostile register or workbook cannot run a command, write outside results/ or put script
into a page (issue 15). docs/bad_input.md, "Security", states these guarantees.

* Register: every practice code is checked when the register is read (configurable
  ``cleaning.practice_code_pattern``, after zero-padding, and always file-safe characters);
  anything else stops the run with one line naming file, line and column. Hypothesis generates
  hostile codes (shell metacharacters, ``../``, markup, quotes, newlines, unicode).
* Shell: every value in every rule's shell command is quoted (``{x:q}``), checked here over the
  rule files; the workflow builds page paths from codes only through site.practice_pages, which
  refuses any code but the same safe characters, and no rule makes a page for a chosen code.
* Pages: values enter markup only through ``linkseval.report.pages.fragment`` (escaping) or
  ``report.table_html``; every page is parsed for active content before it is written.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import re
from pathlib import Path

import hypothesis.strategies as st
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings

from linkseval.cli import main
from linkseval.data.practice_code import DEFAULT_PATTERN, SAFE
from linkseval.data.register import read_register
from linkseval.errors import ConfigError, ExtractError

ROOT = Path(__file__).resolve().parents[2]
HEADER = [
    "practice_code",
    "practice_name",
    "health_board",
    "list_size",
    "simd15_share",
    "deep_end_rank",
    "links_start_year",
]
GOOD = [
    ["01234", "Alpha", "NHS Greater Glasgow & Clyde", "5000", "0.61", "3", "2014"],
    ["20001", "Beta", "NHS Lothian", "8000", "0.10", "", ""],
]
# pieces a hostile extract is made of; hypothesis mixes them with arbitrary text
HOSTILE = [
    "$(touch X)",
    "`id`",
    "; rm -rf ~",
    "| cat",
    "&& x",
    "../",
    "..",
    "/",
    "\\",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "'",
    '"',
    "\n",
    "\r",
    "\t",
    "\u2028",
    "\u202e",
    "é",
    "\x1b[31m",
    "{code}",
    "%s",
    "-rf",
    " ",
    "*",
    "~",
    "0",
    "12345",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), min_size=1, max_size=5
).map("".join)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def register_text(code: str, **extra: str) -> str:
    """A register with two good practices and a third (a Links practice) coded ``code``."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # the code: one field
    w.writerow(HEADER)
    w.writerows(GOOD)
    w.writerow([code, extra.get("name", "Gamma"), extra.get("board", "NHS Fife")] + GOOD[0][3:])
    return out.getvalue()


def write_register(tmp: Path, code: str, **extra: str) -> Path:
    path = tmp / "practices.csv"
    path.write_text(register_text(code, **extra), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ the register


def test_padding_comes_before_the_pattern(tmp_path):
    """'1234' (Excel dropped the zero) is padded to 01234 and then matches; 6 digits do not."""
    path = write_register(tmp_path, "5283")
    assert "05283" in read_register(path)["practice_code"].tolist()
    with pytest.raises(ExtractError) as err:
        read_register(write_register(tmp_path, "052830"))
    assert (err.value.line, err.value.column) == (4, "practice_code")
    assert "does not match cleaning.practice_code_pattern '^[0-9]{5}$'" in str(err.value)


def test_the_pattern_is_configurable(tmp_path):
    path = write_register(tmp_path, "G1234")
    with pytest.raises(ExtractError, match="does not match"):
        read_register(path)
    reg = read_register(path, code_pattern=r"^([0-9]{5}|G[0-9]{4})$")
    assert "G1234" in reg["practice_code"].tolist()


@pytest.mark.parametrize("code", ["x/../../../../T", "05283$(touch X)", "a.b", "-rf", "a b"])
def test_even_a_permissive_pattern_keeps_codes_file_safe(tmp_path, code):
    with pytest.raises(ExtractError, match="may hold only letters, digits") as err:
        read_register(write_register(tmp_path, code), code_pattern=r"(?s).*")
    assert (err.value.line, err.value.column) == (4, "practice_code")


def test_a_bad_pattern_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cleaning.practice_code_pattern '\\[' is not a regular"):
        read_register(write_register(tmp_path, "30002"), code_pattern="[")


@FUZZ
@given(code=hostile_text)
@example(code="05283$(touch X)")
@example(code="x/../../../../T")
@example(code="12345\n")  # '$' in a pattern would let a trailing newline through; fullmatch not
@example(code="<img src=x onerror=alert(1)>")
def test_a_hostile_code_is_rejected_in_one_line_or_is_a_plain_code(code):
    """Read through the CLI (``linkseval links``, the checkpoint's command): exit 1 with one line
    ``linkseval: error: practices.csv, line 4, column practice_code: ...`` or, if accepted, every
    code is five digits and file-safe. Nothing is written on failure."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = write_register(tmp, code)
        out = tmp / "out" / "links.json"
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = main(["links", "--register", str(path), "--out", str(out)])
        text = err.getvalue()
        if rc == 0:
            codes = json.loads(out.read_text(encoding="utf-8"))
            assert len(codes) == 2  # 01234 and the generated one, both Links practices
            assert all(re.fullmatch(DEFAULT_PATTERN, c) and re.fullmatch(SAFE, c) for c in codes)
        else:
            assert rc == 1
            assert text.count("\n") == 1 and text.startswith("linkseval: error: "), text
            assert "Traceback" not in text
            # the register's own structural errors name where (line 4 is the hostile row)
            if ", column practice_code: " in text:
                assert text.startswith(f"linkseval: error: {path}, line 4, column practice_code: ")
            assert not out.exists() and not out.parent.exists()


@FUZZ
@given(code=hostile_text)
def test_any_accepted_code_is_file_safe_whatever_the_pattern(tmp_path_factory, code):
    """With the most permissive pattern, a code is still either rejected (one line, line 4,
    column practice_code) or made only of letters, digits, '-' and '_'."""
    path = write_register(tmp_path_factory.mktemp("reg"), code)
    try:
        reg = read_register(path, code_pattern=r"(?s).*")
    except ExtractError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc)
        if exc.column == "practice_code":
            assert exc.line == 4
        return
    assert all(re.fullmatch(SAFE, c) for c in reg["practice_code"])


# ------------------------------------------------------------------------------ shell commands


def shell_commands() -> dict[str, str]:
    """rule name -> its shell command (the adjacent string literals after ``shell:``)."""
    out = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text(encoding="utf-8")
        for m in re.finditer(r"^\s*(?:rule|checkpoint) (\w+):(.*?)(?=^\s*(?:rule|checkpoint) |\Z)",
                             text, re.S | re.M):  # fmt: skip
            shell = re.search(r"^\s+shell:\n((?:\s+\".*\"\n?)+)", m.group(2), re.M)
            if shell:
                out[m.group(1)] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', shell.group(1)))
    return out


def test_every_shell_value_is_quoted():
    """Every ``{...}`` in every rule's shell command is ``{...:q}``: no wildcard, param, input,
    output or log is pasted into a command line unquoted."""
    commands = shell_commands()
    assert {"notebook_practices", "clean_extract", "links_practices", "synthetic_data"} <= set(
        commands
    )
    unquoted = {
        rule: fields
        for rule, cmd in commands.items()
        if (fields := [f for f in re.findall(r"\{[^{}]*\}", cmd) if not f.endswith(":q}")])
    }
    assert unquoted == {}


def test_a_hostile_code_in_the_links_list_stops_the_run_before_any_page_path(tmp_path):
    """Defence in depth: a hostile code that got past the register check into the Links list
    (here: written into links_practices.json after the checkpoint ran) stops the workflow when
    it builds the practice profiles' paths, creating nothing; and no rule makes a practice page
    for a code of the caller's choosing."""
    import subprocess
    import sys

    from studies import make_study

    work = make_study(tmp_path / "study", copy_workflow=False)
    base = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
            "--cores", "1"]  # fmt: skip
    proc = subprocess.run([*base, "--until", "links_practices"], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    links = work / "results/pages/links_practices.json"
    codes = json.loads(links.read_text())
    links.write_text(json.dumps([*codes, "05283$(touch X)"]))
    proc = subprocess.run([*base, "--dry-run"], capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "cannot name a page" in out, out[-3000:]
    assert not (work / "X").exists() and not (work / "results/pages/practices").exists()
    for target in ["results/pages/practice_$(touch X).html", "results/pages/practices/a/b.html"]:
        proc = subprocess.run([*base, "--dry-run", target], capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert proc.returncode != 0, target
        assert "MissingRuleException" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert not (work / "X").exists()


# ------------------------------------------------------------------------------ pages


def test_active_content_is_found():
    """The page check finds what would run, and passes what the report uses."""
    from linkseval.report.pages import active_content

    bad = [
        "<script>x</script>",
        "<SCRIPT/x>",
        "<img src=x onerror=alert(1)>",
        "<svg/onload=alert(1)>",
        "<a href=' JavaScript:alert(1)'>a</a>",
        "<iframe src=x></iframe>",
        "<a href='data:text/html,<script>x</script>'>a</a>",
        "<meta http-equiv='refresh' content='0;url=x'>",
        # an SVG runs its script where it is a document: only an <img>'s source is safe
        "<a href='data:image/svg+xml;base64,AAAA'>a</a>",
        "<embed src='data:image/svg+xml;base64,AAAA'>",
        "<img srcset='data:image/svg+xml;base64,AAAA'>",
        "<img src='data:image/svg+xml,<svg onload=alert(1)>'>",
    ]
    for markup in bad:
        assert active_content(f"<p>{markup}</p>"), markup
    ok = "<p class='note'><a href='index.html'>x</a><img src='data:image/png;base64,AAAA'></p>"
    assert active_content(ok) == []
    assert (
        active_content("<figure><img src='data:image/svg+xml;base64,AAAA' alt='x'></figure>") == []
    )
    assert active_content("<p>&lt;script&gt;alert(1)&lt;/script&gt; onerror=x</p>") == []


def test_a_page_with_raw_markup_is_refused():
    from linkseval.errors import PageError
    from linkseval.report.pages import page

    with pytest.raises(PageError, match="event handler onerror="):
        page("t", "<h2>Practice <img src=x onerror=alert(1)></h2>", "")


@FUZZ
@given(value=hostile_text)
@example(value="<img src=x onerror=alert(1)>")
@example(value="' onmouseover='alert(1)")
def test_fragment_escapes_every_value(value):
    """In text and in a quoted attribute, a value comes back exactly (html.unescape) and adds no
    tag or attribute; format specs still apply."""
    from linkseval.report.pages import active_content, fragment

    out = fragment("<p title='{0}'>Practice {0}: {1:.1f}</p>", value, 2.25)
    assert html.unescape(out) == f"<p title='{value}'>Practice {value}: 2.2</p>"
    assert active_content(out) == []
    inner = out[len("<p title='") : -len("</p>")]
    assert "<" not in inner and ">" not in inner.replace("'>Practice", "", 1)


@FUZZ
@given(value=hostile_text, other=hostile_text)
@example(value="<script>alert(1)</script>", other="javascript:alert(1)")
def test_pages_and_tables_escape_every_value(value, other):
    """Title, banner, navigation, table cells, headers and caption, the index page's links:
    hostile values leave a script-free page (page() would refuse it otherwise)."""
    from linkseval.report.pages import active_content, page
    from linkseval.report.tables import table_html

    df = pd.DataFrame({value: [other, 1.5], "n": [value, other]})
    body = table_html(df, caption=value)
    out = page(value, body, data_label=other, nav=[(value, "index.html"), (other, "methods.html")])
    assert active_content(out) == []
    assert html.escape(value) in out and html.escape(other) in out


def test_a_link_that_would_run_script_is_refused():
    from linkseval.errors import PageError
    from linkseval.report.pages import page

    with pytest.raises(PageError, match="href='javascript:alert\\(1\\)' on <a>"):
        page("t", "", "", nav=[("x", "javascript:alert(1)")])


def test_the_index_page_escapes_page_titles_and_links():
    from test_report import _head

    from linkseval.report.narrative import index_page
    from linkseval.report.pages import active_content

    hostile = "<img src=x onerror=alert(1)>"
    head = _head(p_holm_wcr=0.001).replace({"outcome": {"workload": hostile}})  # named as found
    pages = [(hostile, "practice_x.html' onclick='alert(1)")]
    out = index_page(head, pages, hostile, [hostile, "communication"])
    assert active_content(out) == []
    assert out.count("&lt;img src=x onerror=alert(1)&gt;") >= 4  # banner x2, link, summary
    assert "<li><b>&lt;Img Src=X Onerror=Alert(1)&gt;</b>: +1.0 points" in out  # primary
    assert "practice_x.html&#x27; onclick=&#x27;alert(1)" in out


# placebo_verdict and primary_statement build their HTML with fragment (every value escaped)
HTML_BUILDERS = {
    "design_section",  # narrative: built by fragment
    "practice_note",  # report.practice: built by fragment
    "fragment",
    "label_note",
    "table_html",
    "placebo_verdict",
    "primary_statement",
    "twfe_weights_text",  # narrative: built by fragment
    "single_start_text",  # narrative: a fixed sentence
    "inference_sentence",  # narrative: built by fragment
    "png_figure_html",  # an embedded PNG with escaped alt text and caption
}


def test_notebooks_put_values_into_markup_only_through_the_escaping_helpers():
    """Every ``HTML(...)`` in every notebook is a plain string literal or a call of
    ``fragment``, ``label_note`` or ``report.table_html``: no f-string, ``+`` or ``%``."""
    import ast

    import nbformat

    found = []
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "HTML"):
                    continue
                arg = node.args[0]
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                func = arg.func if isinstance(arg, ast.Call) else None
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if not literal and name not in HTML_BUILDERS:
                    found.append(f"{nb_path.name}: {ast.unparse(arg)[:80]}")
    assert found == []
    assert len(list((ROOT / "notebooks").glob("*.ipynb"))) == 5


MARKUP = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def _panel(code: str) -> pd.DataFrame:
    rows = [
        dict(instrument="safequest", outcome=o, practice_code=c, year=y, n_respondents=8,
             percent=80.0 + i, cohort=2014 if c == code else 0, deep_end=i % 2 == 0,
             suppressed=False)
        for o in ["communication", "overall"]
        for i, c in enumerate([code, "20001", "30002", "40003"])
        for y in [2013, 2014]
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _run_page(notebook: str, tmp: Path, params: dict) -> str:
    """Execute a report notebook as the rule does, render its page, return the HTML."""
    import papermill

    from linkseval.report.pages import render_notebook

    out = tmp / f"{notebook}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / f"{notebook}.ipynb"),
        str(out),
        parameters=params,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(ROOT),
    )
    return render_notebook(str(out), "t", params.get("data_label", ""), [("Home", "index.html")])


@pytest.mark.parametrize(
    "notebook", ["practice_profile", "methods"], ids=["practice_code", "provenance_config"]
)
def test_a_hostile_value_reaches_a_real_page_escaped(notebook, tmp_path):
    """The notebooks that showed a value raw (issue 15, item 3), executed on a hostile practice
    code (bypassing the register check) and a provenance record whose config holds markup (a
    raw_dir path, a comparison label): the page is written, script-free, the value visible."""
    from linkseval.data.store import write_json
    from linkseval.report.pages import active_content
    from linkseval.report.provenance import provenance

    if notebook == "practice_profile":
        panel = tmp_path / "panel.parquet"
        _panel(MARKUP).to_parquet(panel)
        base = dict(comparison="scotland_other", method="CR1", term="treated_post")
        estimates = pd.DataFrame(
            [
                dict(base, outcome="overall", estimator="twfe", variant="", estimate=1.5),
                dict(base, outcome="overall", estimator="leave_out", variant=MARKUP, estimate=1.0),
            ]
        )
        estimates.to_csv(tmp_path / "estimates.csv", index=False)
        (tmp_path / "links.json").write_text(json.dumps([MARKUP, "20001"]))
        params = {"practice_code": MARKUP, "panels": [str(panel)], "data_label": MARKUP}
        params["estimates"] = str(tmp_path / "estimates.csv")
        params["links_practices"] = str(tmp_path / "links.json")
    else:
        import yaml

        cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
        cfg["raw_dir"] = f"/data/{MARKUP}"
        cfg["analysis"]["comparisons"]["scotland_other"]["label"] = MARKUP
        rec = provenance([ROOT / "config" / "codebook.yaml"], config=cfg,
                         lock=ROOT / "requirements.lock", root=ROOT, data_label=MARKUP)  # fmt: skip
        write_json(rec, tmp_path / "provenance.json")
        (tmp_path / "links.json").write_text(json.dumps(["01234", "20001"]))
        params = {"provenance": str(tmp_path / "provenance.json"), "data_label": MARKUP}
        params["links_practices"] = str(tmp_path / "links.json")
    page = _run_page(notebook, tmp_path, params)
    assert active_content(page) == []
    escaped = "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"
    assert page.count(escaped) >= 2  # the banner and the value itself (code / config)
    assert "<img src=x" not in page and "<script" not in page


@pytest.mark.parametrize("case", ["register_code_command", "register_code_traversal"])
def test_the_testers_registers_stop_a_real_run_writing_nothing_outside_results(case, tmp_path):
    """End to end (a real Snakemake run, not a dry run) on the tester's registers from issue 15:
    the run fails with the one-line error, no command ran (no file X) and nothing was written
    outside results/ (no T.html / T.ipynb anywhere under the scratch folder)."""
    import shutil
    import subprocess
    import sys

    import yaml

    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "tests" / "data" / "bad" / case, raw)
    work = tmp_path / "a" / "b" / "c" / "work"  # x/../../../../T from results/report lands in tmp
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "codebook.yaml", work / "config" / "codebook.yaml")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    cfg.update(years=[2013], instruments=["safequest"], raw_dir=str(raw))
    cfg["analysis"]["outcomes"] = {"safequest": ["workload"]}
    cfg["analysis"]["family"] = ["workload"]
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    before = {p for p in tmp_path.rglob("*")}
    # --keep-going: every job that reads the register must stop with its one-line error
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
         "--cores", "1", "--keep-going"],
        capture_output=True, text=True, timeout=600, cwd=work,
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    errors = [ln for ln in text.splitlines() if ln.startswith("linkseval: error: ")]
    assert errors, text[-3000:]
    assert all(
        re.fullmatch(r"linkseval: error: \S*practices\.csv, line 5, column practice_code: "
                     r"practice code '.*' does not match cleaning\.practice_code_pattern "
                     r"'\^\[0-9\]\{5\}\$'", ln)
        for ln in errors
    ), errors  # fmt: skip
    new = {p for p in tmp_path.rglob("*")} - before
    allowed = (work / "results", work / ".snakemake")  # results and Snakemake's own state
    outside = [p for p in new if not any(p.is_relative_to(a) for a in allowed)]
    assert outside == []
    assert not any(p.name in ("X", "T.html", "T.ipynb") for p in tmp_path.rglob("*"))
    assert not (work / "results" / "report" / "links_practices.json").exists()


@pytest.mark.integration
def test_hostile_config_paths_and_label_run_to_the_end_without_running_anything(tmp_path):
    """A whole run (real extracts, no marker, 200 practices) whose raw_dir and register paths and
    data label are hostile: the run finishes, no command in them ran, nothing was written outside
    results/, and the label is on every page as text, never as markup."""
    import shutil
    import subprocess
    import sys

    import yaml
    from studies import make_study

    from linkseval.report.pages import active_content

    # everything a shell would act on ({ } < > are refused before any job: test_configuration)
    raw = tmp_path / "in $(touch PWNED1) `touch PWNED2`; x='a\" | &"
    settings = yaml.safe_load((ROOT / "config/config.yaml").read_text())["synthetic"]
    settings.update(n_practices=200, n_deep_end=40)
    cmd = [sys.executable, "-m", "linkseval", "synth", "--settings", json.dumps(settings)]
    cmd += ["--years", "2013", "2014", "2015", "--out-dir", str(raw)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)  # config/codebook.yaml
    for name in ("SYNTHETIC_DATA.txt", "truth.json", "truth_practice_year.csv"):
        (raw / name).unlink()
    shutil.move(raw / "practices.csv", raw / "reg $(touch PWNED3).csv")
    work = make_study(tmp_path / "work")
    label = "<script>alert(1)</script> $(touch PWNED4) ' \" & OFFICIAL"
    cfg = yaml.safe_load((work / "config/config.yaml").read_text())
    cfg.update(raw_dir=str(raw), register=str(raw / "reg $(touch PWNED3).csv"), data_label=label)
    (work / "config/config.yaml").write_text(yaml.safe_dump(cfg))
    before = set(tmp_path.rglob("*"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(work / "Snakefile"), "-d", str(work),
         "--workflow-profile", "workflow/profiles/default", "--cores", "2"],
        capture_output=True, text=True, timeout=1800, cwd=work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    new = set(tmp_path.rglob("*")) - before
    allowed = (work / "results", work / ".snakemake")
    assert [p for p in new if not any(p.is_relative_to(a) for a in allowed)] == []
    assert not [p for p in tmp_path.rglob("PWNED*")] and not list(Path.cwd().glob("PWNED*"))
    pages = sorted((work / "results/report").glob("*.html"))
    assert len(pages) > 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert active_content(text) == [], page.name
        assert html.escape(label, quote=False) in text or html.escape(label) in text, page.name
        assert "<script>alert" not in text, page.name
