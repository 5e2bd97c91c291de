"""Benchmark: HonestDiD bounds, ``linkseval.honest.honest_sensitivity`` vs moderndid's call.

One call per outcome and comparison: smoothness M = 0, 0.5, 1 (FLCI) and relative magnitudes
M̄ = 0.5, 1, 2 (C-LF hybrid, 100-point grid) for the mean post-programme effect, on the same
random event studies (β, Σ) with 1 pre / 2 post, 2 pre / 2 post and 4 pre / 6 post coefficients.
moderndid's call is the one linkseval made before (``construct_original_cs``,
``create_sensitivity_results_sm`` and ``create_sensitivity_results_rm`` with ``l_vec`` the
post-period mean and ``grid_points=100``); with one pre coefficient moderndid has no relative
magnitudes (it raises), so only its FLCI is timed.

Every measurement runs in its own child process (``--child``) with a wall-clock cap (default
300 s): the import of the implementation is timed, then its first call, then (for ours) two more
calls (the median of the three is reported). The children also return the bounds, and the table
gives the largest difference between ours and moderndid's.

Usage: python benchmarks/bench_honest.py [--timeout 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHAPES = [(1, 2), (2, 2), (4, 6)]
M_VEC = [0.0, 0.5, 1.0]
MBAR_VEC = [0.5, 1.0, 2.0]


def event_study(n_pre: int, n_post: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Random β (pre near 0, post near 1) and a positive definite, correlated Σ."""
    rng = np.random.default_rng([seed, n_pre, n_post])
    k = n_pre + n_post
    L = rng.normal(size=(k, k)) * 0.1
    return (
        np.concatenate([rng.normal(0, 0.1, n_pre), 1 + rng.normal(0, 0.1, n_post)]),
        L @ L.T + np.eye(k) * 0.02,
    )


def call_ours(b: np.ndarray, S: np.ndarray, n_pre: int) -> dict[str, list[float]]:
    """linkseval's call; bounds keyed by restriction[bound]."""
    from linkseval.honest import honest_sensitivity

    et = list(range(-n_pre - 1, -1)) + list(range(len(b) - n_pre))
    r = honest_sensitivity(b, S, et, smoothness_m=M_VEC, relative_mbar=MBAR_VEC)
    return {f"{x.restriction}[{x.bound:g}]": [x.ci_low, x.ci_high] for x in r.itertuples()}


def call_moderndid(b: np.ndarray, S: np.ndarray, n_pre: int) -> dict[str, list[float]]:
    """moderndid's call as linkseval made it; bounds keyed by restriction[bound]."""
    import warnings

    from moderndid.didhonest import (
        construct_original_cs,
        create_sensitivity_results_rm,
        create_sensitivity_results_sm,
    )

    n_post = len(b) - n_pre
    lv = np.ones(n_post) / n_post
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = construct_original_cs(b, S, n_pre, n_post, l_vec=lv)
        out["original (parallel trends)[0]"] = [o.lb, o.ub]
        sm = create_sensitivity_results_sm(
            b, S, n_pre, n_post, m_vec=M_VEC, l_vec=lv, grid_points=100
        )
        for r in sm.iter_rows(named=True):
            out[f"smoothness[{r['m']:g}]"] = [r["lb"], r["ub"]]
        if n_pre >= 2:
            rm = create_sensitivity_results_rm(
                b, S, n_pre, n_post, m_bar_vec=MBAR_VEC, l_vec=lv, grid_points=100
            )
            for r in rm.iter_rows(named=True):
                out[f"relative_magnitude[{r['Mbar']:g}]"] = [r["lb"], r["ub"]]
    return out


def child(impl: str, n_pre: int, n_post: int) -> dict:
    """Time the import and the call(s) of one implementation in this process."""
    b, S = event_study(n_pre, n_post)
    t = time.perf_counter()
    if impl == "ours":
        import linkseval.honest  # noqa: F401
    else:
        import moderndid.didhonest  # noqa: F401
    t_import = time.perf_counter() - t
    fn = call_ours if impl == "ours" else call_moderndid
    times = []
    for _ in range(3 if impl == "ours" else 1):
        t = time.perf_counter()
        bounds = fn(b, S, n_pre)
        times.append(time.perf_counter() - t)
    return {
        "import": t_import,
        "first": times[0],
        "median": statistics.median(times),
        "bounds": bounds,
    }


def run_child(impl: str, n_pre: int, n_post: int, timeout: float) -> dict | None:
    """Run :func:`child` in a fresh interpreter; None if it did not finish in ``timeout`` s."""
    cmd = [sys.executable, __file__, "--child", impl, str(n_pre), str(n_post)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def max_diff(a: dict, b: dict) -> float:
    """Largest |difference| of the bounds both report."""
    return max(abs(x - y) for k in a.keys() & b.keys() for x, y in zip(a[k], b[k], strict=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--child", nargs=3)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]), int(a.child[2]))))
        return
    load = os.getloadavg()[0]
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores")
    print(
        "| pre / post | ours: call (first call) | ours: import | moderndid: call | "
        "moderndid: import | speed-up | max |Δ bound| |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n_pre, n_post in SHAPES:
        o = run_child("ours", n_pre, n_post, a.timeout)
        m = run_child("moderndid", n_pre, n_post, a.timeout)
        mcall = f"{m['first']:.1f} s" if m else f"did not finish in {a.timeout:.0f} s"
        mimp = f"{m['import']:.1f} s" if m else "–"
        speed = f"{m['first'] / o['median']:.0f}×" if m else "–"
        diff = f"{max_diff(o['bounds'], m['bounds']):.1e}" if m else "–"
        note = "" if n_pre >= 2 else " (moderndid: FLCI only)"
        print(
            f"| {n_pre} / {n_post}{note} | {o['median']:.2f} s ({o['first']:.2f} s) | "
            f"{o['import']:.1f} s | {mcall} | {mimp} | {speed} | {diff} |"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
