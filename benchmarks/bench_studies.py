"""Benchmark: whole studies end to end, cold, on this machine, one after another.

Studies (each in its own directory under --workdir, a copy of the workflow as the integration
tests make it, from an empty results folder to the report, the default target):

  default    config/config.yaml: 1,000 practices, 2013-2015, one 2014 cohort, both instruments
  long4      the same with 2013-2016 and the Links cohort starting 2015: 2 pre-programme years,
             so the event study's pre-trend test and HonestDiD are on (the shape of a real
             study with a longer baseline)
  extended   config/examples/extended.yaml: 1,000 practices, 2010-2019, cohorts 2014/2018/2019

Timed: `python -m snakemake -s STUDY/Snakefile -d STUDY --workflow-profile
workflow/profiles/default --cores 2` (what `make report` runs), wall clock. Recorded per study:
wall time, jobs, the 1-minute load average before the run, and job-seconds per rule (Snakemake
benchmark files), to benchmarks/out/studies.json, and a Markdown table on stdout.

Usage: python benchmarks/bench_studies.py [--studies default long4 extended]
           [--workdir /tmp/linkseval-studies] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from studies import copy_workflow_files, run_with_timeout  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def study_config(name: str) -> dict:
    """The config of a benchmark study."""
    if name == "extended":
        return yaml.safe_load((ROOT / "config/examples/extended.yaml").read_text())
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    if name == "long4":
        cfg["years"] = [2013, 2014, 2015, 2016]
        syn = cfg["synthetic"]
        syn["links_cohorts"] = {2015: 7}
        syn["xlsx_years"], syn["text_label_years"] = [2015], [2016]
        syn["clp_absence"] = {"practice_index": 3, "year": 2016, "months": 7}
        for fx in syn["year_effects_pct"].values():
            fx[2016] = round(2 * fx[2015] - fx[2014], 2)  # the 2014-15 trend carried on
        syn["messiness"]["leading_zero_years"] = [2016]
    return cfg


def per_rule_seconds(work: Path) -> dict[str, float]:
    """Job-seconds per rule from the Snakemake benchmark files."""
    out: dict[str, float] = {}
    for f in sorted((work / "results/benchmarks").rglob("*.tsv")):
        rule = f.relative_to(work / "results/benchmarks").parts[0]
        out[rule] = out.get(rule, 0.0) + float(pd.read_csv(f, sep="\t")["s"].iloc[-1])
    return {k: round(v, 1) for k, v in sorted(out.items())}


def run_study(name: str, workdir: Path, timeout: float) -> dict:
    work = workdir / name
    shutil.rmtree(work, ignore_errors=True)
    copy_workflow_files(work)
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config/codebook.yaml", work / "config/codebook.yaml")
    (work / "config/config.yaml").write_text(yaml.safe_dump(study_config(name)))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(work / "Snakefile"), "-d", str(work)]
    cmd += ["--workflow-profile", "workflow/profiles/default", "--cores", "2"]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    rc = run_with_timeout(cmd, work / "snakemake.log", cwd=work, timeout=timeout)
    wall = time.perf_counter() - t0
    log = (work / "snakemake.log").read_text(errors="replace")
    jobs = log.count("Finished jobid")
    return {
        "study": name,
        "rc": rc,
        "wall_s": round(wall, 1),
        "jobs": jobs,
        "load_before": round(load, 2),
        "job_seconds": per_rule_seconds(work),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", nargs="+", default=["default", "long4", "extended"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/linkseval-studies"))
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    results = []
    out = ROOT / "benchmarks/out/studies.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.studies:
        r = run_study(name, args.workdir, args.timeout)
        results.append(r)
        out.write_text(json.dumps(results, indent=1))
        print(f"{name}: rc {r['rc']}, {r['wall_s']} s, {r['jobs']} jobs", file=sys.stderr)
    print("| study | rc | wall | jobs | load before | estimate_outcome job-s (sum) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        est = r["job_seconds"].get("estimate_outcome", float("nan"))
        print(
            f"| {r['study']} | {r['rc']} | {r['wall_s']} s | {r['jobs']} | "
            f"{r['load_before']} | {est} |"
        )


if __name__ == "__main__":
    main()
