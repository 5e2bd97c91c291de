"""Benchmark: the wild cluster restricted bootstrap and randomization inference at scale.

Compares ``linkseval.inference.wild_cluster_bootstrap`` (B = 9,999, Webb weights) with the
``wildboottest`` package (``wildboottest.wildboottest.wildboottest`` on a statsmodels OLS of the
same unit-demeaned, sqrt-weighted design: param="treated_post", cluster=design.cluster,
B=9999, weights_type="webb", impose_null=True, bootstrap_type="11") at 200, 1,000 and 10,000
practices x 3 years, and ours alone at 10,000 x 10 years; and times
``randomization_inference`` with 9,999 and 100,000 draws at 1,000 and 10,000 practices.

Every measurement runs in its own child process (``--child``) with a wall-clock cap (default
300 s; a capped run is reported as "did not finish in X s"). In the child, the panel and design
are built first (not timed); then the library call is timed — once, and twice more if the first
took under ``--repeat-below`` seconds (the median is reported). Peak memory is the child's
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the calls; "+call" is its increase over the
value before the first call (the memory the call itself added on top of data and imports).

Ours is timed with ``ci=False`` (p-value only, like for like with wildboottest, which returns
only a p-value) and with ``ci=True`` (p-value and CI by test inversion — what the pipeline runs
per outcome). By default both libraries use all cores their defaults allow (BLAS threads for ours,
numba ``parallel=True`` for wildboottest); ``--threads 1`` pins both to one thread per process
(OPENBLAS/OMP/MKL/NUMBA_NUM_THREADS). wildboottest's first call in a process includes numba
compilation (about 1 s); the median of 3 mostly excludes it.

Usage: python benchmarks/bench_inference.py [--timeout 300] [--out benchmarks/out]
Prints Markdown tables (pasted into benchmarks/README.md) and writes inference_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
B = 9999
N_TREATED = 7
EFFECT = 1.0  # a modest true effect, so the p-values compared are not all near 1


def make_panel(n_practices: int, n_years: int, seed: int = 1):
    """Balanced practice x year panel like the Links design (7 treated; start mid-period)."""
    import pandas as pd

    from linkseval.did import panel_from_frame

    rng = np.random.default_rng([seed, n_practices, n_years])
    years = np.arange(2013, 2013 + n_years)
    start = years[max(1, n_years // 2)]
    treated = np.zeros(n_practices, dtype=bool)
    treated[rng.choice(n_practices, N_TREATED, replace=False)] = True
    unit = np.repeat(np.arange(n_practices), n_years)
    year = np.tile(years, n_practices)
    n = np.clip(np.rint(rng.uniform(5, 25, n_practices)[unit] + rng.normal(0, 2, unit.size)), 5, 25)
    d = treated[unit] & (year >= start)
    y = (
        87
        + rng.normal(0, 3, n_practices)[unit]
        + 0.5 * (year - years[0])
        + EFFECT * d
        + rng.normal(0, 1, unit.size) * 3 / np.sqrt(n)
    )
    df = pd.DataFrame(
        {"practice": unit, "year": year, "cohort": np.where(treated[unit], start, 0), "y": y,
         "n": n}
    )  # fmt: skip
    return panel_from_frame(
        df, unit="practice", time="year", cohort="cohort", outcome="y", weights="n"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(task: dict) -> dict:
    """Run one measurement (in a fresh process) and return its figures."""
    from linkseval.did import twfe_design
    from linkseval.inference import randomization_inference, wild_cluster_bootstrap

    p = make_panel(task["n"], task["T"])
    design = twfe_design(p)
    kind = task["kind"]
    if kind == "ours":

        def call():
            r = wild_cluster_bootstrap(design, 0, n_draws=B, seed=11, ci=task["ci"])
            return r.p_value, r.ci_low, r.ci_high

    elif kind == "wildboottest":
        import pandas as pd
        import statsmodels.api as sm
        from wildboottest.wildboottest import wildboottest

        model = sm.OLS(design.y, pd.DataFrame(design.Z, columns=design.names))

        def call():
            res = wildboottest(
                model, param="treated_post", cluster=design.cluster, B=B, weights_type="webb",
                impose_null=True, bootstrap_type="11", seed=12, show=False,
            )  # fmt: skip
            return float(res["p-value"].iloc[0]), np.nan, np.nan

    elif kind == "ri":

        def call():
            r = randomization_inference(p, n_draws=task["draws"], seed=13, ci=task["ci"])
            return r.p_value, r.ci_low, r.ci_high

    else:
        raise ValueError(kind)
    rss0 = _maxrss_mb()
    times = []
    while True:
        t = time.perf_counter()
        pval, lo, hi = call()
        times.append(time.perf_counter() - t)
        if len(times) >= 3 or times[0] >= task["repeat_below"]:
            break
    rss1 = _maxrss_mb()
    return {
        **task,
        "n_obs": p.n_obs,
        "n_clusters": design.n_clusters,
        "times": times,
        "seconds": statistics.median(times),
        "p_value": pval,
        "ci_low": lo,
        "ci_high": hi,
        "peak_rss_mb": rss1,
        "call_rss_mb": rss1 - rss0,
    }


THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def measure(task: dict, timeout: float, threads: int | None = None) -> dict:
    load = os.getloadavg()[0]
    cmd = [sys.executable, __file__, "--child", json.dumps(task)]
    env = dict(os.environ)
    if threads:
        env.update({v: str(threads) for v in THREAD_VARS})
    t = time.perf_counter()
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=True, env=env
        )
    except subprocess.TimeoutExpired:
        res = {**task, "seconds": None, "did_not_finish": f"did not finish in {timeout:g} s"}
    except subprocess.CalledProcessError as e:
        res = {**task, "seconds": None, "did_not_finish": f"failed: {e.stderr.strip()[-300:]}"}
    else:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    res["child_wall_s"] = time.perf_counter() - t
    res["load_avg_1min_before"] = load
    print(f"  {_label(res)}: {_fmt_s(res)}", file=sys.stderr, flush=True)
    return res


def _label(r: dict) -> str:
    what = {"ours": "linkseval WCR", "wildboottest": "wildboottest", "ri": "linkseval RI"}
    extra = f" R={r['draws']:,}" if r["kind"] == "ri" else f" B={B:,}"
    ci = " +CI" if r.get("ci") else ""
    return f"{what[r['kind']]}{extra}{ci} {r['n']:,}x{r['T']}"


def _fmt_s(r: dict) -> str:
    if r.get("seconds") is None:
        return r["did_not_finish"]
    s = r["seconds"]
    how = f"median of {len(r['times'])}" if len(r["times"]) > 1 else "1 run"
    return f"{s:.3f} s ({how})" if s < 10 else f"{s:.1f} s ({how})"


def _fmt_mb(r: dict) -> str:
    if r.get("seconds") is None:
        return "–"
    return f"{r['peak_rss_mb']:,.0f} (+{r['call_rss_mb']:,.0f})"


def tables(results: list[dict]) -> str:
    def find(kind, n, T, ci=False, draws=None):
        for r in results:
            if (r["kind"], r["n"], r["T"], r.get("ci", False), r.get("draws")) == (
                kind, n, T, ci, draws
            ):  # fmt: skip
                return r
        return None

    lines = [
        "| practices × years | obs | linkseval WCR, p only | linkseval WCR, p + CI "
        "| wildboottest | speed-up (p only) | p linkseval | p wildboottest | |Δp| / MC SE "
        "| peak RSS MB (+call): linkseval / wildboottest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, T in [(200, 3), (1000, 3), (10000, 3), (10000, 10)]:
        ours, ours_ci, theirs = (
            find("ours", n, T),
            find("ours", n, T, True),
            find("wildboottest", n, T),
        )
        if ours is None:
            continue
        speed = diff = pt = "–"
        if theirs is not None and theirs.get("seconds") is not None:
            speed = f"{theirs['seconds'] / ours['seconds']:,.0f}×"
            pt = f"{theirs['p_value']:.4f}"
            pbar = 0.5 * (ours["p_value"] + theirs["p_value"])
            se = np.sqrt(2 * pbar * (1 - pbar) / B)
            diff = f"{abs(ours['p_value'] - theirs['p_value']) / se:.2f}" if se > 0 else "0"
        elif theirs is not None:
            speed = f"> {theirs['child_wall_s'] / ours['seconds']:,.0f}×"
        lines.append(
            f"| {n:,} × {T} | {ours.get('n_obs', 0):,} | {_fmt_s(ours)} "
            f"| {_fmt_s(ours_ci) if ours_ci else '–'} "
            f"| {_fmt_s(theirs) if theirs else 'not run'} | {speed} | {ours['p_value']:.4f} "
            f"| {pt} | {diff} | {_fmt_mb(ours)} / {_fmt_mb(theirs) if theirs else '–'} |"
        )
    lines += [
        "",
        "| practices × years | RI draws | p only | p + CI | p | peak RSS MB (+call), p + CI |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n in (1000, 10000):
        for draws in (9999, 100000):
            r0, r1 = find("ri", n, 3, False, draws), find("ri", n, 3, True, draws)
            if r0 is None:
                continue
            p = f"{r0['p_value']:.4f}" if r0.get("seconds") is not None else "–"
            lines.append(
                f"| {n:,} × 3 | {draws:,} | {_fmt_s(r0)} | {_fmt_s(r1) if r1 else '–'} | {p} "
                f"| {_fmt_mb(r1) if r1 else '–'} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=300.0, help="cap per child process (s)")
    ap.add_argument(
        "--repeat-below",
        type=float,
        default=30.0,
        help="repeat a call 3x (median) if its first run took less than this (s)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS/numba threads per child (default: the libraries' defaults, all cores)",
    )
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(json.loads(a.child)), default=float))
        return

    rb = a.repeat_below
    sizes = [(200, 3), (1000, 3)] if a.quick else [(200, 3), (1000, 3), (10000, 3), (10000, 10)]
    t0 = time.perf_counter()
    results = []
    wbt_failed = False
    for n, T in sizes:
        for ci in (False, True):
            task = {"kind": "ours", "n": n, "T": T, "ci": ci, "repeat_below": rb}
            results.append(measure(task, a.timeout, a.threads))
        if wbt_failed:  # a larger panel cannot finish if a smaller one did not
            print(
                f"  wildboottest {n:,}x{T}: not run (smaller size did not finish)", file=sys.stderr
            )
            continue
        task = {"kind": "wildboottest", "n": n, "T": T, "repeat_below": rb}
        r = measure(task, a.timeout, a.threads)
        results.append(r)
        wbt_failed = r.get("seconds") is None
    ri_sizes = [1000] if a.quick else [1000, 10000]
    for n in ri_sizes:
        for draws in (9999, 100000):
            for ci in (False, True):
                task = {"kind": "ri", "n": n, "T": 3, "draws": draws, "ci": ci, "repeat_below": rb}
                results.append(measure(task, a.timeout, a.threads))
    total = time.perf_counter() - t0
    from importlib.metadata import version

    info = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, {_cpu_model()}",
        "threads": a.threads or "library defaults",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "wildboottest": version("wildboottest"),
        "command": " ".join(["python", "benchmarks/bench_inference.py", *(argv or sys.argv[1:])]),
        "total_seconds": total,
    }
    a.out.mkdir(parents=True, exist_ok=True)
    name = f"inference_results_threads{a.threads}.json" if a.threads else "inference_results.json"
    (a.out / name).write_text(
        json.dumps({"info": info, "results": results}, indent=2, default=float) + "\n"
    )
    print(tables(results))
    print(f"\ntotal benchmark time: {total:.0f} s; {info['machine']}; {info['date']}")


if __name__ == "__main__":
    main()
