"""Issue 14, item 5: a new study made by configuration alone runs to the end.

The study of the report: the embedded synthetic extracts (2013-2015, both instruments) delivered
as a real folder (no marker, no truth files), plus a 2016 year (2015's answers again, new
respondent ids, the staff-group column renamed to another accepted alias), and a second Links
cohort: six more Deep End practices start in 2016 in the register. In the issue's run the
respondent-level MixedLM sensitivity fit stopped the whole run with
``numpy.linalg.LinAlgError: Singular matrix``. This rebuild of that study (the issue's exact files
are not available) fits here; the test keeps it running to the end and checks that every
multilevel row is either an estimate or says why it is not one. tests/unit/test_multilevel.py forces
the singular case itself (a singular design, through statsmodels and through the CLI).
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from studies import make_study

from linkseval import results

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
YEARS = [2013, 2014, 2015, 2016]
ID_COLUMN = {"safequest": "RespID", "care": "Patient"}  # the generator's 2015 headers


def add_2016(raw: Path) -> None:
    """2016 = 2015's answers with new respondent ids and 'Role' renamed 'Job Role'."""
    for instrument, id_column in ID_COLUMN.items():
        with (raw / f"{instrument}_2015.csv").open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        header = rows[0]
        assert id_column in header, header
        at = header.index(id_column)
        out = [["Job Role" if h == "Role" else h for h in header]]
        for row in rows[1:]:
            if len(row) > at and row[at].strip():
                row = [*row[:at], f"{row[at]}x16", *row[at + 1 :]]
            out.append(row)
        with (raw / f"{instrument}_2016.csv").open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(out)


def add_cohort_2016(register: Path, n: int = 6) -> list[str]:
    """Six Deep End practices not yet in the programme start in 2016."""
    reg = pd.read_csv(register, dtype=str, keep_default_na=False)
    new = reg[(reg["deep_end_rank"] != "") & (reg["links_start_year"] == "")]
    new = new.sort_values("practice_code").head(n)
    reg.loc[new.index, "links_start_year"] = "2016"
    reg["clp_absent_months_2016"] = ""
    reg.to_csv(register, index=False)
    return sorted(new["practice_code"])


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("config_only")
    raw = root / "extracts"
    cmd = [sys.executable, "-m", "linkseval", "synth", "--out-dir", str(raw)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    for name in ("SYNTHETIC_DATA.txt", "truth.json", "truth_practice_year.csv"):
        (raw / name).unlink()
    add_2016(raw)
    cohort = add_cohort_2016(raw / "practices.csv")
    work = root / "work"
    make_study(work)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(work / "Snakefile"), "-d", str(work)]
    cmd += ["--workflow-profile", "workflow/profiles/default", "--cores", "2", "--config"]
    cmd += [f"raw_dir={raw}", f"register={raw / 'practices.csv'}", f"years={YEARS}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return {"work": work, "cohort": cohort}


def test_the_run_finishes_with_both_cohorts(study):
    links = json.loads((study["work"] / "results/pages/links_practices.json").read_text())
    assert len(links) == 13 and set(study["cohort"]) <= set(links)
    est = pd.read_csv(study["work"] / "results/models/estimates.csv", dtype={"term": str})
    cs = est[est["estimator"] == "callaway_santanna"]
    assert not cs.empty  # staggered adoption (2014 and 2016) reaches the CS estimator


def test_every_multilevel_row_is_an_estimate_or_says_why_not(study):
    est = results.read(study["work"] / "results/models/estimates.csv")
    ml = est[est["estimator"] == "multilevel"]
    assert set(ml["variant"]) == {"respondent"}
    outcomes = est.loc[est["estimator"] == "twfe", ["instrument", "outcome"]].drop_duplicates()
    assert len(outcomes) == 7  # five Safequest themes, overall, CARE total
    assert set(map(tuple, ml[["instrument", "outcome"]].to_numpy())) == set(
        map(tuple, outcomes.to_numpy())
    )
    for row in ml.itertuples():
        if math.isfinite(row.estimate):
            assert row.ci_low < row.estimate < row.ci_high and row.std_error > 0
        else:
            assert math.isnan(row.std_error) and row.note.startswith("not estimable: ")


def test_the_pages_show_the_multilevel_rows(study):
    page = (study["work"] / "results/report/did_safequest_overall.html").read_text()
    assert "multilevel (respondent)" in page and "MixedLM" in page
