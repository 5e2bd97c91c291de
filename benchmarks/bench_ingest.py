"""Benchmark: ingest + clean + score (the Snakemake workflow up to the panel and quality summary)
at 1x, 10x and 100x the national Safequest volume, on 2 cores.

National volume = ~1,000 practices x 3 years x ~5 respondents... ~15,000 respondents; 100x =
100,000 practices, ~1.5 M respondents, ~45 M item responses. Data are generated first (not timed)
by linkseval.synthetic as CSV (Excel extracts are not used at scale). Timed: `snakemake --cores 2`
on those extracts, from an empty results folder. Peak memory: the largest max_rss of any job (from
Snakemake's benchmark files); at most two jobs run at once, so machine peak <= 2x that.

Usage: python benchmarks/bench_ingest.py [--scales 1 10 100] [--out benchmarks/out]
Prints a Markdown table (paste into benchmarks/README.md) and writes results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def generate(scale: int, out: Path) -> Path:
    from linkseval.study import load_study_file
    from linkseval.synthetic import write_synthetic

    study = load_study_file(ROOT / "config/config.yaml", ROOT / "config/codebook.yaml")
    settings = dict(study.synthetic)
    # Deep End is the 100 most deprived practices whatever the scale (ranks 1-100)
    settings.update(n_practices=1000 * scale, n_deep_end=100, xlsx_years=[])
    raw = out / f"scale_{scale}" / "raw"
    if not (raw / "truth.json").exists():
        t = time.perf_counter()
        write_synthetic(raw, settings, list(study.years), study.book)
        print(f"  generated {scale}x in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return raw


def run(scale: int, raw: Path, out: Path, cores: int) -> dict:
    work = out / f"scale_{scale}" / "work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "codebook.yaml", work / "config" / "codebook.yaml")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(raw_dir=str(raw), register=str(raw / "practices.csv"), instruments=["safequest"])
    # 100x needs 6-digit practice codes; the generator records the width it used
    width = json.loads((raw / "truth.json").read_text())["code_width"]
    cfg["cleaning"]["practice_code_width"] = int(width)
    cfg["cleaning"]["practice_code_pattern"] = f"^[0-9]{{{int(width)}}}$"
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
           "--cores", str(cores), "quality_summary", "--quiet"]  # fmt: skip
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t
    bench = pd.concat(
        [
            pd.read_csv(f, sep="\t").assign(job=f.stem)
            for f in (work / "results" / "benchmarks").rglob("*.tsv")
        ]  # fmt: skip
    )
    files = pd.read_csv(work / "results" / "quality" / "files.csv")
    kept = int(files["rows_kept"].sum())
    return {
        "scale": scale,
        "respondents_read": int(files["rows_read"].sum()),
        "respondents_kept": kept,
        "item_responses": int(files["rows_read"].sum()) * 30,
        "wall_s": round(wall, 1),
        "peak_job_rss_mb": round(float(bench["max_rss"].max()), 0),
        "slowest_job_s": round(float(bench["s"].max()), 1),
        "us_per_respondent": round(wall / max(1, int(files["rows_read"].sum())) * 1e6, 1),
    }


def markdown(df: pd.DataFrame) -> str:
    """A Markdown table (no extra dependency)."""
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for s in args.scales:
        raw = generate(s, args.out)
        rows.append(run(s, raw, args.out, args.cores))
        print(json.dumps(rows[-1]), file=sys.stderr)
    df = pd.DataFrame(rows)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(markdown(df))
    return 0


if __name__ == "__main__":
    sys.exit(main())
