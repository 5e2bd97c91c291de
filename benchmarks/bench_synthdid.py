"""Benchmark: synthetic DiD, SC and DID (``linkseval.estimators.synthdid``) beside Python ports.

Panels: California's Proposition 99 (tests/data/california_prop99.csv: 38 controls + 1 treated,
19 + 12 years) and a synthetic 1,000-practice × 10-year block design (2010–2019, 7 practices
treated from 2014, unit and year effects, a rank-2 factor term, effect +3).

What is timed (the library call alone, the panel already built): the point estimate; the
placebo SE (200 replications, seed 1) and the jackknife SE (the synthetic panel; undefined with
Prop 99's one treated unit). References, where they import: ``diff_diff.SyntheticDiD`` (SDID
only; ``fit`` with ``variance_method="placebo"`` / ``"jackknife"``: estimate + SE in one call,
so its "estimate" column is the jackknife fit) and ``synthdid-py``'s ``synthdid_estimate``,
``sc_estimate``, ``did_estimate`` (estimates only: its placebo loop took 28 s for SDID on Prop 99).
Calls under 5 s are run 3 times after a warm-up and the median is reported.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_synthdid.py
"""

from __future__ import annotations

import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from linkseval.estimators.synthdid import (
    jackknife_se,
    placebo_se,
    synthdid_estimate,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
SEED, REPLICATIONS = 1, 200


def timed(f):
    t = time.perf_counter()
    val = f()
    first = time.perf_counter() - t
    if first > 5:
        return first, val
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        val = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), val


def prop99() -> tuple[pd.DataFrame, np.ndarray, int, int]:
    d = pd.read_csv(ROOT / "tests/data/california_prop99.csv", sep=";")
    d = d.rename(columns={"State": "unit", "Year": "year", "PacksPerCapita": "y"})
    d["ever"] = (d.unit == "California").astype(int)
    return d, *matrix(d, 1989)


def synthetic(n=1000, n1=7, years=range(2010, 2020), start=2014, seed=0):
    rng = np.random.default_rng(seed)
    t = len(years)
    y = (
        rng.normal(70, 5, (n, 1))
        + np.cumsum(rng.normal(0, 1, t))[None]
        + rng.normal(size=(n, 2)) @ rng.normal(size=(2, t))
        + rng.normal(0, 2, (n, t))
    )
    y[n - n1 :, list(years).index(start) :] += 3.0
    units = [f"p{i:04d}" for i in range(n)]
    d = pd.DataFrame({"unit": np.repeat(units, t), "year": np.tile(list(years), n), "y": y.ravel()})
    d["ever"] = d.unit.isin(units[n - n1 :]).astype(int)
    return d, *matrix(d, start)


def matrix(d: pd.DataFrame, start: int) -> tuple[np.ndarray, int, int]:
    wide = d.pivot(index="unit", columns="year", values="y")
    ever = d.groupby("unit").ever.max()
    order = sorted(wide.index[ever[wide.index] == 0]) + sorted(wide.index[ever[wide.index] == 1])
    return wide.loc[order].to_numpy(), int((ever == 0).sum()), int((wide.columns < start).sum())


def ours(Y, n0, t0, kind) -> dict:
    t_est, est = timed(lambda: synthdid_estimate(Y, n0, t0, kind))
    t_pl, pl = timed(lambda: placebo_se(est, REPLICATIONS, SEED))
    t_jk, jk = timed(lambda: jackknife_se(est))
    return {"estimate": est.estimate, "t_estimate": t_est, "placebo": pl, "t_placebo": t_pl,
            "jackknife": jk, "t_jackknife": t_jk}  # fmt: skip


def diff_diff(d: pd.DataFrame, start: int) -> dict | None:
    try:
        from diff_diff import SyntheticDiD
    except ImportError:
        return None
    post = sorted(y for y in d.year.unique() if y >= start)
    out = {}
    for vm in ("jackknife", "placebo"):

        def fit(vm=vm):
            m = SyntheticDiD(variance_method=vm, n_bootstrap=REPLICATIONS, seed=SEED)
            return m.fit(d, outcome="y", treatment="ever", unit="unit", time="year",
                         post_periods=post)  # fmt: skip

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            secs, res = timed(fit)
        out[vm] = float(res.se)
        out[f"t_{vm}"] = secs
        out["estimate"] = float(res.att)
    return out


def synthdid_py(Y, n0, t0, kind) -> dict | None:
    try:
        import synthdid
    except ImportError:
        return None
    if not hasattr(synthdid, "sc_estimate"):  # another package named synthdid
        return None
    f = {"sdid": synthdid.synthdid_estimate, "sc": synthdid.sc_estimate,
         "did": synthdid.did_estimate}[kind]  # fmt: skip
    secs, est = timed(lambda: float(f(Y, n0, t0)))
    return {"estimate": est, "t_estimate": secs}


def fmt_t(x) -> str:
    return "–" if x is None else f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def main() -> None:
    import numpy

    rows = []
    for name, (d, Y, n0, t0), start in (
        ("Prop 99 (39 × 31)", prop99(), 1989),
        ("synthetic 1,000 × 10, 7 treated", synthetic(), 2014),
    ):
        ref_dd = diff_diff(d, start)
        for kind in ("sdid", "sc", "did"):
            o = ours(Y, n0, t0, kind)
            dd = ref_dd if kind == "sdid" else None
            sp = synthdid_py(Y, n0, t0, kind)
            rows.append({"panel": name, "estimator": kind, "ours": o, "diff_diff": dd,
                         "synthdid_py": sp})  # fmt: skip
            print(name, kind, json.dumps(o), flush=True)
    print()
    print("| panel | estimator | estimate | max \\|Δ\\| vs references | fit: ours / diff-diff ¹ / "
          "synthdid-py | placebo SE: ours / diff-diff | placebo (200): ours / diff-diff | "
          "jackknife SE: ours / diff-diff | jackknife: ours / diff-diff |")  # fmt: skip
    print("|---|---|---:|---:|---|---|---|---|---|")
    nan = float("nan")
    for r in rows:
        o, dd, sp = r["ours"], r["diff_diff"] or {}, r["synthdid_py"] or {}
        refs = [x["estimate"] for x in (dd, sp) if x]
        delta = max((abs(o["estimate"] - e) for e in refs), default=None)
        print(
            f"| {r['panel']} | {r['estimator']} | {o['estimate']:.5f} | "
            f"{'–' if delta is None else f'{delta:.1e}'} | {fmt_t(o['t_estimate'])} / "
            f"{fmt_t(dd.get('t_jackknife'))} / {fmt_t(sp.get('t_estimate'))} | "
            f"{o['placebo']:.4f} / {dd.get('placebo', nan):.4f} | {fmt_t(o['t_placebo'])} / "
            f"{fmt_t(dd.get('t_placebo'))} | {o['jackknife']:.4f} / {dd.get('jackknife', nan):.4f}"
            f" | {fmt_t(o['t_jackknife'])} / {fmt_t(dd.get('t_jackknife'))} |"
        )
    print("\n¹ diff-diff (SDID only): one fit = estimate + jackknife SE")
    OUT.mkdir(exist_ok=True)
    meta = {"numpy": numpy.__version__, "threads": os.environ.get("OMP_NUM_THREADS"),
            "load": os.getloadavg()}  # fmt: skip
    (OUT / "bench_synthdid.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
