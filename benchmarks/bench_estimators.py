"""Benchmark: the heterogeneity-robust estimators per outcome, ours beside the reference library.

On the same panel (mpdta without its 2004 cohort, 480 counties × 5 years — see ``mpdta``; and
the extended example's Safequest workload panel, the practices observed in all 10 years, cohorts
2014/2018/2019 — moderndid keeps only those):

- imputation (Borusyak, Jaravel & Spiess 2024): ``linkseval.estimators.imputation.ImputationFit``
  (point estimates + BJS analytic SEs) against ``pyfixest.did2s`` (Gardner's two-stage DiD: the
  same point estimates; its GMM SE differs by design), second stage ``~ D``;
- Callaway–Sant'Anna: ``linkseval.staggered.callaway_santanna`` (ATT(g,t), simple and dynamic
  aggregates with SEs) against ``moderndid.att_gt`` + ``aggte`` (simple and dynamic), no bootstrap.

Each call is timed 3 times after one warm-up; the median is reported, with max |Δ estimate| of the
overall effect. Usage: python benchmarks/bench_estimators.py [--extended-panel PARQUET]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import pandas as pd

from linkseval.did import panel_from_frame
from linkseval.estimators.imputation import ImputationFit
from linkseval.staggered import callaway_santanna

OUT = Path(__file__).resolve().parent / "out"


def timed(f, reps: int = 3):
    f()
    ts, val = [], None
    for _ in range(reps):
        t = time.perf_counter()
        val = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), val


def mpdta() -> pd.DataFrame:
    from moderndid import load_mpdta

    d = load_mpdta().to_pandas()
    d = d.rename(columns={"countyreal": "id", "first.treat": "cohort", "lemp": "y"})
    # pyfixest 0.60's did2s fails (a weights-array shape mismatch in _did2s_vcov) when a unit has
    # a single untreated year, as mpdta's 2004 cohort does: that cohort is left out here
    return d.loc[d.cohort != 2004, ["id", "year", "cohort", "y"]]


def extended(path: str) -> pd.DataFrame:
    d = pd.read_parquet(path)
    d = d[(d.outcome == "workload") & (d.instrument == "safequest")]
    codes = {c: i + 1 for i, c in enumerate(sorted(d.practice_code.unique()))}
    d = pd.DataFrame(
        {"id": d.practice_code.map(codes), "year": d.year, "cohort": d.cohort, "y": d.percent}
    ).dropna()
    # moderndid's att_gt keeps only units observed in every year: compare on that balanced panel
    full = d.groupby("id").year.transform("size") == d.year.nunique()
    return d[full]


def run(name: str, df: pd.DataFrame) -> dict:
    import pyfixest as pf
    from moderndid import aggte, att_gt

    df = df.assign(unit=df.id.astype(str), D=((df.cohort > 0) & (df.year >= df.cohort)).astype(int))
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    t_ours, fit = timed(lambda: ImputationFit(p))

    def gardner():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pf.did2s(
                df,
                yname="y",
                first_stage="~ 0 | unit + year",
                second_stage="~ D",
                treatment="D",
                cluster="unit",
            )

    t_pf, g = timed(gardner)
    t_cs, cs = timed(lambda: callaway_santanna(p))

    def md():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gt = att_gt(
                df,
                yname="y",
                tname="year",
                idname="id",
                gname="cohort",
                control_group="nevertreated",
                est_method="reg",
                boot=False,
                cband=False,
            )
            return aggte(gt, type="simple", boot=False, cband=False), aggte(
                gt, type="dynamic", boot=False, cband=False
            )

    t_md, (simple, _) = timed(md, reps=1 if len(df) > 5000 else 3)
    cs = cs.set_index("term")
    return {
        "panel": name,
        "obs": len(df),
        "imputation_s": round(t_ours, 4),
        "did2s_s": round(t_pf, 4),
        "imputation_delta": float(abs(fit.estimate[0] - float(g.coef()["D"]))),
        "cs_s": round(t_cs, 4),
        "moderndid_s": round(t_md, 4),
        "cs_delta": float(abs(cs.loc["simple", "estimate"] - simple.overall_att)),
        "load_before": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--extended-panel", help="results/panel/safequest.parquet of the extended study"
    )
    args = ap.parse_args()
    rows = [run("mpdta", mpdta())]
    if args.extended_panel:
        rows.append(run("extended workload", extended(args.extended_panel)))
    OUT.mkdir(exist_ok=True)
    (OUT / "estimators.json").write_text(json.dumps(rows, indent=1))
    head = "| panel | obs | imputation (ours) | pyfixest did2s | \\|Δ ATT\\| | CS (ours) "
    print(head + "| moderndid att_gt+aggte | \\|Δ ATT\\| | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['panel']} | {r['obs']:,} | {r['imputation_s']:.3f} s | {r['did2s_s']:.3f} s | "
            f"{r['imputation_delta']:.1e} | {r['cs_s']:.3f} s | {r['moderndid_s']:.3f} s | "
            f"{r['cs_delta']:.1e} | {r['load_before']} |"
        )


if __name__ == "__main__":
    main()
