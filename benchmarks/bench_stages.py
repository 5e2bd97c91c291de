"""Benchmark: each pipeline stage in-process, by the same functions the rules call.

Times :mod:`linkseval.stages` — ``clean`` (per extract), ``score``, ``estimate`` (per outcome),
``placebo`` and ``combine`` — on synthetic extracts generated first (not timed), without
Snakemake's or the CLI's process start-up. The whole-workflow timings are in
``bench_ingest.py``/``bench_scale.py``/``bench_studies.py``; this shows where a run's time goes.

Shapes: the default study (1,000 practices, 2013-2015, one 2014 cohort) and any other via
``--practices``, ``--years`` and ``--cohorts`` (e.g. a long, staggered study).

Usage::

    python benchmarks/bench_stages.py                                 # default shape
    python benchmarks/bench_stages.py --practices 400 --years 2010 2011 2012 2013 2014 2015 \\
        --cohorts 2013:3 2014:4 --outcomes workload teamwork

Prints a Markdown table (paste into benchmarks/README.md) and writes ``benchmarks/out/stages.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# one BLAS thread, as Snakemake's jobs run (set before numpy loads)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _timed(label: str, fn, rows: list[dict], **extra):
    t = time.perf_counter()
    out = fn()
    rows.append({"stage": label, "seconds": round(time.perf_counter() - t, 3), **extra})
    print(f"  {label}: {rows[-1]['seconds']:.2f} s", file=sys.stderr)
    return out


def run(args: argparse.Namespace) -> list[dict]:
    """Generate the extracts, then time every stage once; return one row per timed call."""
    from linkseval import stages
    from linkseval.data.register import read_register
    from linkseval.study import load_study_file
    from linkseval.synthetic import extract_filename, write_synthetic

    study = load_study_file(ROOT / "config/config.yaml", ROOT / "config/codebook.yaml")
    codebook = study.book
    years = args.years or list(study.years)
    synth = dict(study.synthetic, n_practices=args.practices, xlsx_years=[])
    if args.cohorts:
        synth["links_cohorts"] = {int(c.split(":")[0]): int(c.split(":")[1]) for c in args.cohorts}
    instrument = codebook["safequest"]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        write_synthetic(raw, synth, years, codebook)  # not timed
        width = int(json.loads((raw / "truth.json").read_text())["code_width"])
        register = read_register(
            raw / "practices.csv", code_width=width, code_pattern=f"^[0-9]{{{width}}}$"
        )
        kept = []
        for year in years:
            extract = raw / extract_filename(instrument.file_stem, year, synth)
            res = _timed(
                f"clean {year}",
                lambda e=extract, y=year: stages.clean(
                    e,
                    instrument,
                    register,
                    year=y,
                    code_width=width,
                    max_missing_items=study.cleaning.max_missing_items["safequest"],
                    data_label="SYNTHETIC DATA",
                ),
                rows,
            )
            rows[-1]["n"] = len(res.result.kept) + len(res.result.rejects)
            kept.append(res.result.kept)
        clean = pd.concat(kept, ignore_index=True)
        sc = study.scoring
        scored = _timed(
            "score",
            lambda: stages.score(
                clean,
                instrument,
                register,
                min_respondents=sc.min_respondents,
                min_items_per_theme=sc.min_items_per_theme,
                percent_formula=sc.percent_formula,
                data_label="SYNTHETIC DATA",
            ),
            rows,
            n=len(clean),
        )
        panel = scored.panel
        settings = study.settings
        outcomes = args.outcomes or sorted(panel["outcome"].unique())
        tables = [
            _timed(
                f"estimate {o}",
                lambda o=o: stages.estimate(panel, settings, "safequest", o),
                rows,
                n=int((panel["outcome"] == o).sum()),
            )
            for o in outcomes
        ]
        _timed(
            f"placebo ({len(outcomes)} outcomes)",
            lambda: stages.placebo(panel, settings, "safequest", outcomes),
            rows,
        )
        _timed("combine", lambda: stages.combine(tables, settings), rows)
    shape = {
        "practices": args.practices,
        "years": f"{years[0]}-{years[-1]}",
        "cohorts": {str(k): v for k, v in synth["links_cohorts"].items()},
        "load_1min": round(os.getloadavg()[0], 2),
    }
    return [{**shape, **r} for r in rows]


def markdown(rows: list[dict]) -> str:
    """Format the rows as the README's table."""
    lines = ["| stage | rows in | seconds |", "|---|---:|---:|"]
    for r in rows:
        n = f"{r['n']:,}" if r.get("n") is not None else ""
        lines.append(f"| {r['stage']} | {n} | {r['seconds']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--practices", type=int, default=1000)
    ap.add_argument("--years", type=int, nargs="+", help="survey years (default: the config's)")
    ap.add_argument("--cohorts", nargs="+", metavar="YEAR:N", help="Links cohorts, e.g. 2014:7")
    ap.add_argument("--outcomes", nargs="+", help="outcomes to estimate (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = ap.parse_args()
    rows = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stages.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{rows[0]['practices']} practices, {rows[0]['years']}, load {rows[0]['load_1min']}")
    print(markdown(rows))


if __name__ == "__main__":
    main()
