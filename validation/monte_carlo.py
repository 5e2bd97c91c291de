"""Monte Carlo size, power and coverage of the static TWFE inference methods (CR1, WCR, RI).

A validation *study*, not a unit test. It simulates the Links design — 7 treated of ~1,000
Scottish GP practices, survey years 2013–2015, programme start 2014 — analyses every simulated
panel exactly as the pipeline does (``panel_from_frame`` with respondent-count weights,
``twfe_design``, ``ols``; then ``cr1``, ``wild_cluster_bootstrap`` with Webb weights and
``randomization_inference``) and records for each method the 5%-level rejection of H0: β = 0 and
whether the 95% CI covers the true (estimand) value.

Data-generating process for practice i, year t (percentage points of the % score)::

    y_it = 87 + a_i + γ_t + δ_i·(t − 2014) + τ_i·D_it + v_it + ε_it,    weight n_it

    a_i ~ N(0, 3²)                 practice level ("heterogeneous practice effects")
    γ = (0, 1.0, 1.5)              year effects 2013, 2014, 2015
    δ_i ~ N(0, trend_sd²)          small practice-specific linear trends (default SD 0.3/year)
    v_it ~ N(0, py_sd²)            practice-year shock common to the practice's respondents
    ε_it ~ N(0, resp_sd² / n_it)   sampling noise of the mean of n_it respondents
    n_it = clip(round(m_i + N(0, 2²)), 5, 25),  m_i ~ U(5, 25)  (persistent practice size)
    D_it = 1[i treated, t ≥ 2014]; the treated are a uniformly random set of 7 practices
    missing: each control practice-year is absent with probability 5% (the Links practices are
    always observed, as in the synthetic generator's ``absent_rate``)

Scenarios (``SCENARIOS``) vary the effect τ (0, +2, heterogeneous), the noise (the brief's
3/√n, or noisier, calibrated to the synthetic generator), the number of practices (1,000 or 200)
and one stress test in which the treated practices are systematically small (n_it 5–8), i.e.
noisier than the controls — that breaks the exchangeability RI relies on.

Rejection: p ≤ α (the same rule that defines the CI, {b0: p(b0) > α}, for WCR and RI).
Coverage: CI ∋ the estimand, i.e. the TWFE coefficient of the noise-free signal τ_i·D_it with
the realised weights and missingness (= τ for a constant effect).

Reproducibility: replication r of a scenario draws everything from
``SeedSequence(seed, spawn_key=(scenario key,)).spawn(reps)[r]`` (its data, its bootstrap seed, its
RI seed), so results do not depend on the number of worker processes or on chunking; a larger
``--reps`` extends, not changes, the first replications. ``--check-reps`` re-analyses the first
replications of the main scenarios with 9,999 bootstrap and 9,999 RI draws.

The simulation, the scenarios and the summaries live in :mod:`linkseval.montecarlo`; this script
runs them in one process or a local pool. The workflow's opt-in target ``monte_carlo``
(``snakemake monte_carlo``) runs the same study as independent chunks of replications (for a
cluster) and gathers the same tables, byte for byte (``tests/unit/test_scatter.py``).

Usage::

    python validation/monte_carlo.py                 # full study (20–40 min on 2 cores)
    python validation/monte_carlo.py --reps 200 --reps-small 100 --check-reps 50   # smoke run

Writes validation/out/monte_carlo_reps.csv (raw, one row per replication × method × draws),
validation/out/run_info.json and validation/monte_carlo_summary.csv (the committed table).
"""

from __future__ import annotations

import os

# One BLAS thread per process: parallelism is over replications (set before numpy loads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from linkseval.montecarlo import (  # noqa: E402, F401  (re-exported for ri_rerun.py)
    ALPHA,
    CHECK_SCENARIOS,
    METHODS,
    NOISY,
    SCENARIOS,
    START,
    YEARS,
    MCSettings,
    Scenario,
    analyse,
    check_agreement,
    estimand,
    markdown,
    markdown_wide,
    replication_rows,
    replication_seeds,
    simulate,
    summarise,
    write_tables,
)

HERE = Path(__file__).resolve().parent


def run_scenario(
    sc: Scenario, seed: int, reps: int, draws: int, pool, label: str = ""
) -> pd.DataFrame:
    tasks = [(sc, r, ss, draws) for r, ss in enumerate(replication_seeds(seed, sc, reps))]
    it = (
        pool.imap(replication_rows, tasks, chunksize=10)
        if pool is not None
        else map(replication_rows, tasks)
    )
    rows = []
    for out in tqdm(it, total=reps, desc=f"{sc.name} {label}".strip(), unit="rep", leave=True):
        rows.extend(out)
    return pd.DataFrame(rows)


def write_outputs(
    raw: pd.DataFrame, check: pd.DataFrame, a: argparse.Namespace, reps: bool = False
) -> None:
    """Summary CSV, B = 999 vs 9,999 agreement and the Markdown table (and, with ``reps``, the
    raw rows), from the raw rows."""
    summary, agree = write_tables(
        raw,
        check,
        summary=a.summary,
        agreement=a.out / "check_agreement.csv",
        table=a.out / "summary_table.md",
        reps=a.out / "monte_carlo_reps.csv" if reps else None,
    )
    print(markdown(summary))
    if len(agree):
        print()
        print(agree.to_string(index=False))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    d = MCSettings()  # defaults: the config schema's monte_carlo section
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--reps", type=int, default=d.reps, help="replications, 1,000-practice runs")
    ap.add_argument("--reps-small", type=int, default=d.reps_small, help="200-practice runs")
    ap.add_argument("--draws", type=int, default=d.draws, help="bootstrap and RI draws")
    ap.add_argument("--check-reps", type=int, default=d.check_reps, help="re-run, check draws")
    ap.add_argument("--check-draws", type=int, default=d.check_draws)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenarios", nargs="*", default=None, help="names (default: all)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--summary", type=Path, default=HERE / "monte_carlo_summary.csv")
    ap.add_argument(
        "--from-raw", action="store_true", help="only rebuild the summaries from <out>/*reps.csv"
    )
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.from_raw:
        both = pd.read_csv(a.out / "monte_carlo_reps.csv", keep_default_na=False, na_values=[""])
        is_check = both["draws"] == a.check_draws
        write_outputs(both[~is_check], both[is_check], a)
        return

    chosen = [s for s in SCENARIOS if a.scenarios is None or s.name in a.scenarios]
    t0 = time.perf_counter()
    timings = {}
    pool = mp.get_context("fork").Pool(a.workers) if a.workers > 1 else None
    try:
        raws = []
        for sc in chosen:
            t = time.perf_counter()
            reps = a.reps_small if sc.small else a.reps
            raws.append(run_scenario(sc, a.seed, reps, a.draws, pool, f"B=R={a.draws}"))
            timings[f"{sc.name} draws={a.draws}"] = time.perf_counter() - t
        raw = pd.concat(raws, ignore_index=True)
        checks = []
        for sc in chosen:
            if sc.name in CHECK_SCENARIOS and a.check_reps > 0:
                t = time.perf_counter()
                chk = run_scenario(
                    sc, a.seed, a.check_reps, a.check_draws, pool, f"B=R={a.check_draws}"
                )
                checks.append(chk[chk["method"] != "CR1"])  # CR1 has no draws: unchanged
                timings[f"{sc.name} draws={a.check_draws}"] = time.perf_counter() - t
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    total = time.perf_counter() - t0

    check = pd.concat(checks, ignore_index=True) if checks else raw.iloc[:0]
    write_outputs(raw, check, a, reps=True)
    info = {
        "command": " ".join(["python", "validation/monte_carlo.py", *(argv or sys.argv[1:])]),
        "args": {k: str(v) for k, v in vars(a).items()},
        "scenarios": [asdict(s) for s in chosen],
        "total_seconds": total,
        "seconds_by_run": timings,
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, {platform.processor()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    (a.out / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"\ntotal run time: {total:.1f} s ({a.workers} worker processes)")


if __name__ == "__main__":
    main()
