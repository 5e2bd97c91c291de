"""Benchmark: the modelling pipeline (clean -> score -> DiD fits with 100,000 RI draws ->
multilevel -> combine) at 1x, 10x and 100x the national volume, locally and through SLURM.

Scale as in bench_ingest.py: s x (1,000 practices, 100 of them Deep End), 2013-2015, Safequest
and CARE extracts as CSV from linkseval.synthetic (generated first, not timed; a matching set
already written by bench_ingest.py under benchmarks/out/scale_<s>/raw is hard-linked instead).
Each run gets its own study directory under --workdir (a copy of the workflow files, as
tests/studies.py's make_study) with analysis.randomization.draws = 100,000 (bootstrap at
its default, 9,999) and analysis.scatter_multilevel (one MixedLM job per outcome), and is timed
from an empty results folder to results/models/headline.json:

  local: python -m snakemake -s STUDY/Snakefile -d STUDY \
             --workflow-profile workflow/profiles/default --cores 2 results/models/headline.json
  slurm: the same with --workflow-profile workflow/profiles/slurm, on the single-node test
         cluster (ci/slurm-up.sh; always stopped with ci/slurm-down.sh)

Recorded per run: wall time; the largest job's max_rss (Snakemake benchmark files); the whole
run's peak = the largest sampled sum of RSS over every process whose working directory is in the
study (snakemake and its jobs, also the SLURM jobs; sampled every 0.5 s), and for local runs
/usr/bin/time's maximum RSS (the largest single process); the number of jobs (Snakemake's "Job
stats" total; SLURM: submitted job ids); per-rule job seconds; respondents; load averages.
Local and SLURM results (every result file except logs and benchmarks) are compared byte by byte.

Usage: python benchmarks/bench_scale.py [--scales 1 10 100] [--modes local slurm]
           [--workdir /tmp/linkseval-scale] [--keep] [--timeout SECONDS] [--resume]
           [--targets TARGET ...]   (default results/models/headline.json; e.g. one outcome's
                                     estimates/multilevel files when the full run is too long)
Writes benchmarks/out/scale_results.json after every run and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import yaml

from linkseval.study import Study, load_study_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from studies import (  # noqa: E402  (the test suite's study helpers)
    copy_workflow_files,
    result_hashes,
    run_with_timeout,
)

ROOT = Path(__file__).resolve().parents[1]
TARGET = "results/models/headline.json"
RI_DRAWS = 100_000
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
JOB_TOTAL = re.compile(r"^total\s+(\d+)\s*$", re.MULTILINE)
UNSTABLE = ("logs", "benchmarks")  # timings and job logs are not results


def base_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def base_study() -> Study:
    """The shipped study (config/config.yaml and its codebook)."""
    return load_study_file(ROOT / "config/config.yaml", ROOT / "config/codebook.yaml")


def synth_settings(scale: int) -> dict:
    """bench_ingest.py's definition of scale: 1,000 x scale practices, 100 Deep End, CSV only."""
    settings = dict(base_study().synthetic)
    settings.update(n_practices=1000 * scale, n_deep_end=100, xlsx_years=[])
    return settings


def raw_data(scale: int, workdir: Path) -> Path:
    """The synthetic extracts for a scale: hard links to bench_ingest's set if it was made with
    the same settings, else generated here (not timed)."""
    raw = workdir / "data" / f"scale_{scale}" / "raw"
    if (raw / "truth.json").exists():
        return raw
    settings, study = synth_settings(scale), base_study()
    ingest = ROOT / "benchmarks" / "out" / f"scale_{scale}" / "raw"
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
        truth = json.loads((ingest / "truth.json").read_text())
        from linkseval.synthetic import GENERATOR_VERSION, effective_settings

        mine = json.loads(json.dumps(effective_settings(settings)))
        theirs = {k: truth["settings"][k] for k in mine}
        same_generator = truth["generator_version"] == GENERATOR_VERSION
        if same_generator and theirs == mine and truth["years"] == list(study.years):
            shutil.rmtree(raw, ignore_errors=True)
            shutil.copytree(ingest, raw, copy_function=os.link)
            print(f"  {scale}x: linked {ingest}", file=sys.stderr)
            return raw
    from linkseval.synthetic import write_synthetic

    t = time.perf_counter()
    shutil.rmtree(raw, ignore_errors=True)
    write_synthetic(raw, settings, list(study.years), study.book)
    print(f"  {scale}x: generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return raw


def make_study(study: Path, raw: Path) -> None:
    """A copy of the workflow reading `raw`, with 100,000 RI draws."""
    shutil.rmtree(study, ignore_errors=True)
    copy_workflow_files(study)
    (study / "config").mkdir()
    shutil.copy(ROOT / "config" / "codebook.yaml", study / "config" / "codebook.yaml")
    cfg = base_config()
    cfg.update(raw_dir=str(raw), register=str(raw / "practices.csv"))
    # 100x needs 6-digit practice codes; the generator records the width it used
    width = json.loads((raw / "truth.json").read_text())["code_width"]
    cfg["cleaning"]["practice_code_width"] = int(width)
    cfg["cleaning"]["practice_code_pattern"] = f"^[0-9]{{{int(width)}}}$"
    cfg["analysis"]["randomization"]["draws"] = RI_DRAWS
    # a national-scale run on a cluster scatters the MixedLM fits (one job per outcome, as in
    # every run recorded in benchmarks/README.md: 23 jobs)
    cfg["analysis"]["scatter_multilevel"] = True
    (study / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))


class RssSampler(threading.Thread):
    """Peak of the summed RSS of all processes whose cwd is inside `study` (every 0.5 s)."""

    def __init__(self, study: Path):
        super().__init__(daemon=True)
        self.study = str(study.resolve())
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            total = 0
            for p in psutil.process_iter(["cwd", "memory_info"]):
                cwd, mem = p.info.get("cwd"), p.info.get("memory_info")
                if cwd and mem and (cwd == self.study or cwd.startswith(self.study + "/")):
                    total += mem.rss
            self.peak = max(self.peak, total)


def run_snakemake(
    study: Path, mode: str, env: dict, timeout: float, targets: list[str]
) -> tuple[int, str, float]:
    """Run the target; the whole process group (ours) is killed after `timeout` seconds."""
    profile = study / "workflow" / "profiles" / ("default" if mode == "local" else "slurm")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(study / "Snakefile"), "-d", str(study),
           "--workflow-profile", str(profile)]  # fmt: skip
    if mode == "local":
        cmd = ["/usr/bin/time", "-v", "-o", str(study / "time.txt"), *cmd, "--cores", "2"]
    cmd.extend(targets)
    log = study / "snakemake.out"
    start = time.perf_counter()
    code = run_with_timeout(cmd, log, env=env, cwd=study, timeout=timeout, grace=30)
    return (-signal.SIGTERM if code is None else code), log.read_text(), time.perf_counter() - start


def respondents(study: Path) -> dict[str, int]:
    """Rows read per instrument, from the clean jobs' accounting files."""
    out: dict[str, int] = {}
    for f in sorted((study / "results" / "quality" / "accounting").glob("*.json")):
        acc = json.loads(f.read_text())
        out[acc["instrument"]] = out.get(acc["instrument"], 0) + int(acc["rows_read"])
    return out


def measure(
    scale: int, mode: str, raw: Path, workdir: Path, env: dict, timeout: float, targets: list[str]
) -> dict:
    study = workdir / f"scale_{scale}" / mode
    make_study(study, raw)
    load_before = os.getloadavg()
    sampler = RssSampler(study)
    sampler.start()
    code, output, wall = run_snakemake(study, mode, env, timeout, targets)
    sampler.stop.set()
    sampler.join()
    load_after = os.getloadavg()
    row: dict = {
        "scale": scale,
        "mode": mode,
        "targets": targets,
        "returncode": code,
        "wall_s": round(wall, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "run_peak_rss_mb": round(sampler.peak / 2**20),
        "practices": 1000 * scale,
        "years": len(base_study().years),
        "ri_draws": RI_DRAWS,
        "bootstrap_draws": base_config()["analysis"]["bootstrap"]["draws"],
    }
    if code != 0:
        row["error_tail"] = output[-3000:]
    totals = JOB_TOTAL.findall(output)
    row["jobs"] = int(totals[-1]) if totals else None
    if mode == "slurm":
        row["slurm_jobs"] = len(set(SUBMITTED.findall(output)))
    timefile = study / "time.txt"
    if timefile.exists():
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timefile.read_text())
        row["largest_process_rss_mb"] = round(int(m.group(1)) / 1024) if m else None
    tsvs = list((study / "results" / "benchmarks").rglob("*.tsv"))
    if tsvs:
        bench = pd.concat(
            pd.read_csv(f, sep="\t").assign(rule=f.parent.name, job=f.stem) for f in tsvs
        ).reset_index(drop=True)
        top = bench.loc[bench["max_rss"].idxmax()]
        row["peak_job_rss_mb"] = round(float(top["max_rss"]))
        row["peak_job"] = f"{top['rule']}/{top['job']}"
        row["job_seconds_by_rule"] = {
            r: {"n": int(len(g)), "sum_s": round(float(g["s"].sum()), 1),
                "max_s": round(float(g["s"].max()), 1),
                "max_rss_mb": round(float(g["max_rss"].max()))}
            for r, g in bench.groupby("rule")
        }  # fmt: skip
    resp = respondents(study)
    row["respondents"] = resp
    row["respondents_total"] = sum(resp.values())
    if code == 0:
        row["hashes"] = result_hashes(study)
        row["headline_sha256"] = row["hashes"].get("models/headline.json")
    return row


def slurm_env(run_dir: Path) -> dict:
    return {**os.environ, "SLURM_CONF": str(run_dir / "slurm.conf")}


def fmt_table(rows: list[dict]) -> str:
    head = ["scale", "mode", "practices × years", "respondents (Safequest + CARE)", "wall time",
            "largest job (max_rss)", "run peak RSS", "jobs", "SLURM jobs", "load 1/5/15 before",
            "identical"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        resp = r.get("respondents", {})
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['scale']}×",
                    r["mode"]
                    + ("" if r.get("targets", [TARGET]) == [TARGET] else f" {r['targets']}")
                    + ("" if r["returncode"] == 0 else f" (exit {r['returncode']})"),
                    f"{r['practices']:,} × {r['years']}",
                    f"{resp.get('safequest', 0):,} + {resp.get('care', 0):,}",
                    f"{r['wall_s']:,.0f} s",
                    f"{r.get('peak_job_rss_mb', 0):,} MB ({r.get('peak_job', '–')})",
                    f"{r['run_peak_rss_mb']:,} MB",
                    str(r.get("jobs")),
                    str(r.get("slurm_jobs", "–")),
                    " / ".join(f"{x:.2f}" for x in r["load_before"]),
                    str(r.get("identical_to_local", "–")),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--modes", nargs="+", default=["local", "slurm"], choices=["local", "slurm"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/linkseval-scale"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "scale_results.json")
    ap.add_argument("--keep", action="store_true", help="keep the study directories")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per Snakemake run")
    ap.add_argument("--resume", action="store_true", help="skip runs already in --out")
    ap.add_argument(
        "--targets",
        nargs="+",
        default=[TARGET],
        help=f"Snakemake targets (default {TARGET}); others, e.g. one outcome's fits, are "
        "recorded with their targets and never compared with a headline run",
    )
    args = ap.parse_args()
    workdir = args.workdir.resolve()
    if workdir == ROOT or ROOT / "results" in [workdir, *workdir.parents]:
        ap.error("--workdir must not be the checkout or inside its results/")
    workdir.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    tgt = tuple(args.targets)

    def key(row: dict) -> tuple:
        return tuple(row.get("targets", [TARGET]))

    if args.out.exists():  # earlier runs of other scales/modes are kept, same ones replaced
        rows = json.loads(args.out.read_text())
        if not args.resume:
            todo = {(s, m) for s in args.scales for m in args.modes}
            rows = [r for r in rows if (r["scale"], r["mode"]) not in todo or key(r) != tgt]
    done = {(r["scale"], r["mode"]) for r in rows if r["returncode"] == 0 and key(r) == tgt}
    run_dir = workdir / "slurm-run"
    cluster_up = False
    try:
        for scale in args.scales:
            modes = [m for m in args.modes if (scale, m) not in done]
            raw = raw_data(scale, workdir) if modes else None
            for mode in modes:
                env = dict(os.environ)
                if mode == "slurm":
                    if not cluster_up:
                        cluster_up = True  # down.sh also stops a half-started cluster
                        subprocess.run([str(ROOT / "ci" / "slurm-up.sh"), str(run_dir)],
                                       check=True, timeout=900)  # fmt: skip
                    env = slurm_env(run_dir)
                print(f"== {scale}x {mode} (load {os.getloadavg()})", file=sys.stderr)
                row = measure(scale, mode, raw, workdir, env, args.timeout, args.targets)
                same = [r for r in rows if r.get("targets", [TARGET]) == args.targets]
                local = next((r for r in same if (r["scale"], r["mode"]) == (scale, "local")), None)
                if mode == "slurm" and local and "hashes" in local and "hashes" in row:
                    differ = sorted(
                        k for k in set(row["hashes"]) | set(local["hashes"])
                        if row["hashes"].get(k) != local["hashes"].get(k)
                    )  # fmt: skip
                    row["identical_to_local"] = not differ
                    row["differing_files"] = differ
                    row["n_result_files"] = len(row["hashes"])
                rows.append(row)
                summary = {k: v for k, v in row.items() if k != "hashes"}
                print(json.dumps(summary), file=sys.stderr)
                args.out.write_text(json.dumps(rows, indent=2) + "\n")
                if not args.keep:
                    shutil.rmtree(workdir / f"scale_{scale}" / mode, ignore_errors=True)
            if not args.keep:
                shutil.rmtree(workdir / "data" / f"scale_{scale}", ignore_errors=True)
    finally:
        if cluster_up:
            subprocess.run([str(ROOT / "ci" / "slurm-down.sh"), str(run_dir)], timeout=300)
    print(fmt_table(sorted(rows, key=lambda r: (r["scale"], r["mode"]))))
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
