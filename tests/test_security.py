"""A hostile register or workbook cannot run a command, write outside results/ or put script
into a page (issue 15). docs/bad_input.md, "Security", states these guarantees.

* Register: every practice code is checked when the register is read (configurable
  ``cleaning.practice_code_pattern``, after zero-padding, and always file-safe characters);
  anything else stops the run with one line naming file, line and column. Hypothesis generates
  hostile codes (shell metacharacters, ``../``, markup, quotes, newlines, unicode).
* Shell: every value in every rule's shell command is quoted (``{x:q}``), checked here over the
  rule files; the ``{code}`` wildcard is constrained to the same safe characters.
* Pages: values enter markup only through ``linkseval.pages.fragment`` (escaping) or
  ``report.table_html``; every page is parsed for active content before it is written.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, example, given, settings

from linkseval.cli import main
from linkseval.errors import ConfigError, ExtractError
from linkseval.practice_code import DEFAULT_PATTERN, SAFE
from linkseval.register import read_register

ROOT = Path(__file__).resolve().parents[1]
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
    assert {"notebook_practice", "clean_extract", "links_practices", "synthetic_data"} <= set(
        commands
    )
    unquoted = {
        rule: fields
        for rule, cmd in commands.items()
        if (fields := [f for f in re.findall(r"\{[^{}]*\}", cmd) if not f.endswith(":q}")])
    }
    assert unquoted == {}


def test_the_code_wildcard_only_matches_safe_codes(tmp_path):
    """Defence in depth: asked for a practice page whose code is hostile, Snakemake finds no rule
    (the ``{code}`` wildcard is constrained to linkseval.practice_code.SAFE)."""
    import subprocess
    import sys

    from studies import make_study

    work = make_study(tmp_path / "study", copy_workflow=False)
    for target in ["results/report/practice_$(touch X).html", "results/report/practice_a/b.html"]:
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
             "--cores", "1", "--dry-run", target],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode != 0, target
        assert "MissingRuleException" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert not (work / "X").exists()
