"""The bad-input corpus (tests/data/bad/<case>/): every case has its expected outcome in
``expected.yaml`` and is checked here. docs/bad_input.md tabulates the corpus.

``kind`` in expected.yaml:

* ``structural``: the run stops with an :class:`ExtractError`; ``message`` (a regex) must match
  the error text, which starts with the file; ``file``, ``line`` and ``column`` must be exactly
  those named (``null`` = not applicable). Also run through the CLI (in-process for every case,
  as a subprocess where ``cli: true``): exit 1, one line ``linkseval: error: ...``, no
  traceback, no output file.
* ``rows``: the file is read; ``rows_read/kept/quarantined``, the count per reason (reasons not
  listed must be 0) and, where given, the rejects (line, column, reason[, value]) must match.
* ``ok``: like ``rows`` with nothing quarantined.
* ``workflow``: a Snakemake dry-run on the case's raw folder must fail with ``message``.

Common optional keys: ``instrument`` (default safequest), ``extract`` and ``register`` (paths in
the case folder; default the only extract and ``practices.csv``), ``repairs`` (listed counts must
match; the practice-code repairs default to 0), ``blank_lines_skipped`` (default 0),
``ignored_columns`` / ``free_text_columns_dropped`` (default []), ``encoding``, ``header_line``,
``kept_lines``, ``kept_codes``, ``kept_staff_groups``, ``practices_without_kept_rows``, ``panel``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from linkseval.cli import main
from linkseval.data.clean import REASONS, clean_extract
from linkseval.data.codebook import load_codebook
from linkseval.data.ingest import LINE, read_extract
from linkseval.data.register import read_register
from linkseval.data.score import practice_year_panel, score_respondents
from linkseval.errors import ExtractError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "bad"
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
CODEBOOK = load_codebook(ROOT / "config" / "codebook.yaml")
KINDS = {"structural", "rows", "ok", "workflow"}


def load_cases() -> dict[str, dict]:
    cases = {}
    for d in sorted(p for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith(".")):
        spec = yaml.safe_load((d / "expected.yaml").read_text(encoding="utf-8"))
        spec["dir"] = d
        cases[d.name] = spec
    return cases


CASES = load_cases()
FILE_CASES = [c for c, s in CASES.items() if s["kind"] != "workflow"]
STRUCTURAL = [c for c, s in CASES.items() if s["kind"] == "structural"]
WORKFLOW = [c for c, s in CASES.items() if s["kind"] == "workflow"]


def inputs(spec: dict) -> tuple[Path, Path, str]:
    """(extract, register, instrument) of a case."""
    d = spec["dir"]
    instrument = spec.get("instrument", "safequest")
    if "extract" in spec:
        extract = d / spec["extract"]
    else:
        found = [p for p in d.glob(f"{instrument}_*") if p.suffix in (".csv", ".xlsx")]
        assert len(found) == 1, f"{d.name}: name the extract in expected.yaml"
        extract = found[0]
    return extract, d / spec.get("register", "practices.csv"), instrument


def run_case(spec: dict):
    """What the clean stage does (and in the same order): register, extract, clean."""
    extract, register_path, name = inputs(spec)
    instrument = CODEBOOK[name]
    cleaning = CONFIG["cleaning"]
    register = read_register(
        register_path,
        code_width=cleaning["practice_code_width"],
        code_pattern=cleaning["practice_code_pattern"],
    )
    raw = read_extract(extract, instrument)
    res = clean_extract(
        raw,
        instrument,
        register["practice_code"],
        code_width=cleaning["practice_code_width"],
        max_missing_items=cleaning["max_missing_items"][name],
    )
    return instrument, register, raw, res


def cli_args(spec: dict, out: Path) -> list[str]:
    extract, register, instrument = inputs(spec)
    return [
        "clean",
        "--instrument",
        instrument,
        "--codebook",
        str(ROOT / "config" / "codebook.yaml"),
        "--extract",
        str(extract),
        "--register",
        str(register),
        "--max-missing-items",
        str(CONFIG["cleaning"]["max_missing_items"][instrument]),
        "--out-clean",
        str(out / "clean dir" / "c.parquet"),
        "--out-rejects",
        str(out / "r.parquet"),
        "--out-accounting",
        str(out / "a.json"),
    ]


def test_corpus_is_complete():
    """>= 20 cases, each with a known kind; every structural case names what it expects."""
    assert len(CASES) >= 20
    for name, spec in CASES.items():
        assert spec["kind"] in KINDS, name
        assert spec.get("description"), name
        if spec["kind"] == "structural":
            assert {"message", "file", "line", "column"} <= set(spec), name
        if spec["kind"] in ("rows", "ok"):
            assert "rows_read" in spec, name


@pytest.mark.parametrize("case", FILE_CASES)
def test_bad_input_case(case):
    spec = CASES[case]
    if spec["kind"] == "structural":
        with pytest.raises(ExtractError) as err:
            run_case(spec)
        exc = err.value
        assert re.search(spec["message"], str(exc)), str(exc)
        assert Path(exc.file).name == spec["file"]
        assert (exc.line, exc.column) == (spec["line"], spec["column"])
        assert "\n" not in str(exc)
        return

    instrument, register, raw, res = run_case(spec)
    acc = res.accounting
    read = spec["rows_read"]
    kept = spec.get("rows_kept", read)
    quarantined = spec.get("rows_quarantined", 0)
    if spec["kind"] == "ok":
        assert (kept, quarantined) == (read, 0), f"{case}: an ok case quarantines nothing"
    assert (acc["rows_read"], acc["rows_kept"], acc["rows_quarantined"]) == (
        read,
        kept,
        quarantined,
    )
    # every row read is accounted for exactly once, under its own line
    lines = sorted(res.kept["line"].tolist() + res.rejects["line"].tolist())
    assert lines == sorted(raw.data[LINE].tolist()) and len(set(lines)) == read
    reasons = spec.get("reasons", {})
    assert set(reasons) <= set(REASONS)
    assert acc["quarantined_by_reason"] == {r: reasons.get(r, 0) for r in REASONS}
    repairs = {"practice_code_whitespace_stripped": 0, "practice_code_zero_padded": 0}
    repairs |= spec.get("repairs", {})
    assert {k: acc["repairs"][k] for k in repairs} == repairs
    assert acc["blank_lines_skipped"] == spec.get("blank_lines_skipped", 0)
    assert acc["ignored_columns"] == spec.get("ignored_columns", [])
    assert acc["free_text_columns_dropped"] == spec.get("free_text_columns_dropped", [])
    for key in ("encoding", "header_line"):
        if key in spec:
            assert acc[key] == spec[key], key
    if "kept_lines" in spec:
        assert res.kept["line"].tolist() == spec["kept_lines"]
    if "kept_codes" in spec:
        assert res.kept["practice_code"].tolist() == spec["kept_codes"]
    if "kept_staff_groups" in spec:
        assert res.kept["staff_group"].tolist() == spec["kept_staff_groups"]
    if "practices_without_kept_rows" in spec:
        assert acc["register_practices_without_kept_rows"] == spec["practices_without_kept_rows"]
    if "rejects" in spec:
        got = res.rejects.to_dict("records")
        assert len(got) == len(spec["rejects"])
        for want, row in zip(spec["rejects"], got, strict=True):
            assert {k: row[k] for k in want} == want
    if "panel" in spec:
        want = spec["panel"]
        scores = score_respondents(res.kept, instrument)
        panel = practice_year_panel(
            scores, instrument, register, min_respondents=want["min_respondents"]
        )
        overall = panel[panel["outcome"] == "overall"].set_index("practice_code")
        assert overall.index.tolist() == want["practices"]
        for code, flag in want.get("suppressed", {}).items():
            assert bool(overall.loc[code, "suppressed"]) is flag, code


@pytest.mark.parametrize("case", STRUCTURAL)
def test_structural_case_through_the_cli(case, tmp_path, capsys):
    """exit 1, one line 'linkseval: error: <file>, ...', no traceback, nothing written."""
    spec = CASES[case]
    assert main(cli_args(spec, tmp_path)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("linkseval: error: "), err
    assert re.search(spec["message"], err)
    assert list(tmp_path.rglob("*")) == []


CLI_CASES = [c for c, s in CASES.items() if s.get("cli")]


@pytest.mark.parametrize("case", CLI_CASES)
def test_case_as_a_subprocess(case, tmp_path):
    """The real command, for a few cases: structural -> exit 1, one stderr line, no traceback,
    no outputs (not even temporary files); ok -> exit 0 and the accounting written."""
    spec = CASES[case]
    out = tmp_path / "out dir"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "linkseval", *cli_args(spec, out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if spec["kind"] == "structural":
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("linkseval: error: ")
        assert re.search(spec["message"], proc.stderr), proc.stderr
        assert proc.stdout == ""
        assert list(out.rglob("*")) == []
    else:
        assert proc.returncode == 0, proc.stderr
        acc = json.loads((out / "a.json").read_text(encoding="utf-8"))
        assert acc["rows_read"] == spec["rows_read"] == acc["rows_kept"]
        assert (out / "clean dir" / "c.parquet").exists() and (out / "r.parquet").exists()


@pytest.mark.parametrize("case", WORKFLOW)
def test_workflow_case(case, tmp_path):
    """A Snakemake dry-run in a scratch folder with the project's config (years and overrides
    from expected.yaml; raw_dir, register and instruments on the command line)."""
    spec = CASES[case]
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "codebook.yaml", work / "config" / "codebook.yaml")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    # years go in the file: `--config years='[2013,2014]'` reaches the schema as strings
    cfg["years"] = spec["years"]
    for key, value in spec.get("config", {}).items():
        cfg[key] = {**cfg[key], **value} if isinstance(value, dict) else value
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    raw = spec["dir"] / spec["raw_dir"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "-d",
            str(work),
            "--cores",
            "1",
            "--dry-run",
            "--config",
            f"raw_dir={raw}",
            f"register={raw / 'practices.csv'}",
            "instruments=[safequest]",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert re.search(spec["message"], text), text[-3000:]
    assert "Traceback" not in text


def test_docs_table_lists_every_case():
    """docs/bad_input.md has one row per case, naming the test that checks it."""
    doc = (ROOT / "docs" / "bad_input.md").read_text(encoding="utf-8")
    for case, spec in CASES.items():
        row = next((ln for ln in doc.splitlines() if ln.startswith(f"| `{case}` ")), None)
        assert row is not None, f"{case} missing from docs/bad_input.md"
        test = "test_workflow_case" if spec["kind"] == "workflow" else "test_bad_input_case"
        assert f"{test}[{case}]" in row, case
