"""End to end on extracts shaped like a real team's folder, not like the default synthetic set.

The folder has no synthetic marker and no truth files (those are kept aside, as the known truth
of this study): 5 survey years 2012-2016 (3 before the programme), one Links cohort starting in
2015 (6 practices), 360 practices, Safequest only, 2013 delivered as Excel, another year with
renamed header aliases, planted bad rows. The run is the README's real-extracts command with a
data label; the checks are the ones a team would make: every row accounted for, no SYNTHETIC
banner but its own label, the headline against the study's truth, HonestDiD and the pre-trend
test present, every page written, the disclosure check clean, and a byte-identical rerun.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from studies import make_study, result_hashes

from linkseval import results
from linkseval.recovery import coverage, misses

pytestmark = pytest.mark.integration

YEARS = [2012, 2013, 2014, 2015, 2016]
COHORT, N_LINKS, N_PRACTICES = 2015, 6, 360
LABEL = "OFFICIAL – SENSITIVE"
TRUTH_FILES = ("SYNTHETIC_DATA.txt", "truth.json", "truth_practice_year.csv")


def write_extracts(root: Path) -> tuple[Path, Path]:
    """Generate the extracts, then make the folder look like a delivery: marker, truth and
    CARE files moved out, one year's headers renamed to other accepted aliases."""
    raw, truth = root / "extracts", root / "truth"
    settings = {
        "seed": 20260101,
        "n_practices": N_PRACTICES,
        "n_deep_end": 60,
        "links_cohorts": {COHORT: N_LINKS},
        "xlsx_years": [2013],
        "text_label_years": [2016],
        "cp1252_years": [2012],
        "year_effects_pct": {"communication": {2014: 1.0, 2015: 2.0, 2016: 2.5}},
        "treatment_effect_pct": {"workload": [1.5, 1.0], "safety_systems": [2.0, 3.0]},
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "linkseval",
            "synth",
            "--settings",
            json.dumps(settings),
            "--years",
            *map(str, YEARS),
            "--out-dir",
            str(raw),
        ],
        check=True,
        capture_output=True,
    )
    truth.mkdir()
    for name in TRUTH_FILES:
        shutil.move(raw / name, truth / name)
    for care in raw.glob("care_*"):
        care.unlink()
    path = raw / "safequest_2015.csv"
    head, rest = path.read_bytes().split(b"\n", 1)
    fields = head.decode("ascii").rstrip("\r").split(",")
    assert len(fields) == 33  # practice, respondent, staff group, 30 items
    renamed = ["GP Practice Code", "Response ID", "Job Role", *(f"SQ{i:02d}" for i in range(1, 31))]
    path.write_bytes(",".join(renamed).encode("ascii") + b"\n" + rest)
    return raw, truth / "truth.json"


def readme_command(work: Path, raw: Path, *args: str) -> subprocess.CompletedProcess:
    """README "Running on real extracts", with Safequest only and a data label."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(work / "Snakefile"),
        "-d",
        str(work),
        "--workflow-profile",
        "workflow/profiles/default",
        "--cores",
        "2",
        "--config",
        f"raw_dir={raw}",
        f"register={raw / 'practices.csv'}",
        f"years=[{','.join(map(str, YEARS))}]",
        "instruments=[safequest]",
        f"data_label={LABEL}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("real")
    raw, truth = write_extracts(root)
    work = root / "work"
    make_study(work)
    proc = readme_command(work, raw)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"work": work, "raw": raw, "truth": json.loads(truth.read_text()), "root": root}


def test_the_folder_is_not_marked_synthetic(real):
    assert not any((real["raw"] / name).exists() for name in TRUTH_FILES)
    assert sorted(p.name for p in real["raw"].iterdir()) == [
        "practices.csv",
        "safequest_2012.csv",
        "safequest_2013.xlsx",
        "safequest_2014.csv",
        "safequest_2015.csv",
        "safequest_2016.csv",
    ]


def test_every_row_is_accounted_for(real):
    files = pd.read_csv(real["work"] / "results/quality/files.csv")
    assert len(files) == len(YEARS)
    assert (files["rows_read"] == files["rows_kept"] + files["rows_quarantined"]).all()
    assert (files["rows_quarantined"] > 0).all()  # the planted bad rows were found


def test_outputs_carry_the_configured_label_and_no_synthetic_banner(real):
    work = real["work"]
    panel = pd.read_parquet(work / "results/panel/safequest.parquet")
    assert (panel["data_label"] == LABEL).all()
    head = pd.read_csv(work / "results/models/headline.csv")
    assert (head["data_label"] == LABEL).all()
    prov = json.loads((work / "results/provenance.json").read_text())
    assert prov["data_label"] == LABEL and prov["seeds"]["synthetic"] is None
    pages = sorted((work / "results/report").glob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "SYNTHETIC" not in text and "generated data" not in text, page.name
        assert f"<div class='banner' role='alert'>{LABEL}</div>" in text, page.name


def test_headline_recovers_the_known_truth(real):
    """The report's stated WCR and RI intervals (family-wise for the themes) cover this study's
    true effects, and the estimates are within 4 CR1 SEs of them."""
    head = pd.read_csv(real["work"] / "results/models/headline.csv")
    assert set(head["outcome"]) == {
        "communication",
        "workload",
        "leadership",
        "teamwork",
        "safety_systems",
        "overall",
    }
    assert (head["n_treated"] == N_LINKS).all()
    cov = coverage(head, real["truth"])
    assert misses(cov) == []
    cr1 = cov.merge(head[["outcome", "method", "std_error"]], on=["outcome", "method"])
    cr1 = cr1[cr1["method"] == "CR1"]
    assert ((cr1["estimate"] - cr1["truth"]).abs() < 4 * cr1["std_error"]).all()


def test_a_long_baseline_gets_the_pre_trend_test_and_honestdid(real):
    est = results.read(real["work"] / "results/models/estimates.csv")
    main = est[est["comparison"] == "scotland_other"]
    es = main[(main["estimator"] == "event_study") & (main["term"] == "event")]
    assert {-3, -2, 0, 1} <= set(es["event_time"])
    pretrend = main[(main["estimator"] == "event_study") & (main["term"] == "pretrend_joint")]
    assert set(pretrend["outcome"]) == set(est["outcome"]) and pretrend["p_value"].notna().all()
    honest = main[main["estimator"] == "honestdid"]
    assert set(honest["outcome"]) == set(est["outcome"])
    assert {"smoothness", "relative_magnitude"} <= set(honest["variant"])
    assert honest["ci_low"].notna().all() and honest["ci_high"].notna().all()


def test_every_page_is_written_and_the_disclosure_check_is_clean(real):
    work = real["work"]
    links = json.loads((work / "results/pages/links_practices.json").read_text())
    assert len(links) == N_LINKS
    report = work / "results/report"
    expected = {"index.html", "methods.html", "data_quality.html", "descriptives.html"}
    expected |= {f"did_safequest_{o}.html" for o in ("workload", "overall", "teamwork")}
    expected |= {f"practice_{c}.html" for c in links}
    assert expected <= {p.name for p in report.glob("*.html")}
    assert not list(report.glob("did_care_*"))
    staged = {p.name: p.read_bytes() for p in (work / "results/pages").rglob("*.html")}
    staged["report.pdf"] = (work / "results/pages/report.pdf").read_bytes()
    # all pages, as checked, and their PDF; the one other file is the empty marker Snakemake
    # writes into a directory() output
    published = {p.name: p.read_bytes() for p in report.iterdir()}
    assert published.pop(".snakemake_timestamp") == b""
    assert published == staged
    # the PDF carries the real extracts' marking on every sheet, and never the synthetic banner
    text = subprocess.run(
        ["pdftotext", str(report / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    sheets = text.split("\f")[:-1]
    assert len(sheets) >= len(staged) - 1 and "SYNTHETIC" not in text
    assert all(LABEL in sheet for sheet in sheets)
    disclosure = json.loads((work / "results/quality/disclosure.json").read_text())
    assert disclosure["by_kind"] == {}
    assert len(disclosure["files_scanned"]) > len(expected)


def test_a_rerun_from_scratch_is_byte_identical(real):
    again = real["root"] / "again"
    make_study(again)
    proc = readme_command(again, real["raw"], "--cores", "1")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert result_hashes(again) == result_hashes(real["work"])
