"""Benchmark: the heterogeneity-robust estimators per outcome, ours beside the reference library.

On the same panel (mpdta without its 2004 cohort, 480 counties × 5 years — see ``mpdta``; and
the extended example's Safequest workload panel, the practices observed in all 10 years, cohorts
2014/2018/2019 — moderndid keeps only those), one row per call:

- imputation (Borusyak, Jaravel & Spiess 2024): ``linkseval.estimators.imputation.ImputationFit``
  (point estimates + BJS analytic SEs) against ``pyfixest.did2s`` (Gardner's two-stage DiD: the
  same point estimates; its GMM SE differs by design), second stage ``~ D``;
- Callaway–Sant'Anna, ``linkseval.staggered.callaway_santanna`` against ``moderndid.att_gt`` +
  ``aggte`` (analytic SEs, no bootstrap; ``est_method="reg"`` without covariates):
  never-treated controls (simple and dynamic aggregates); not-yet-treated controls
  (``control_group="not_yet"`` / ``"notyettreated"``); all seven aggregations against aggte's
  four types (simple, dynamic, group, calendar: their ``overall_att`` are our simple,
  dynamic_overall, group_overall, calendar_overall); the doubly robust cells with covariates
  (mpdta ``~lpop``; the extended panel ``simd15_share`` and ``list_size``) against
  ``est_method="dr"``; the event study's uniform band (``cband=True, biters=1000``, seed 1)
  against ``aggte(type="dynamic", cband=True, biters=1000, random_state=1)``, both critical
  values reported;
- ``linkseval.twfe_weights.twfe_weights`` (de Chaisemartin & D'Haultfœuille's TWFE weights; no
  Python reference: R ``TwoWayFEWeights`` / Stata ``twowayfeweights`` only);
- synthetic DiD per cohort as the pipeline runs it (``cohort_panels`` + ``synthdid_panel(q,
  "sdid", "jackknife")`` on every cohort) against ``diff_diff.SyntheticDiD(variance_method=
  "jackknife")`` fitted on the same cohort panels.

Units are labelled so that our unit order (sorted labels) is moderndid's (cohort, never-treated
last, then id): the bootstrap draws of the band, per unit from ``default_rng(1)`` in both, then
fall on the same units (ours with seed 2 shows the Monte Carlo spread). Each call runs once as a
warm-up, then 3 times (once if the warm-up took over 1 s); the median is reported, with max |Δ|
of the overall estimates (CS: also of every aggregate, and of the SEs relative, ours times
√((G−1)/G)). Usage:
OMP_NUM_THREADS=1 python benchmarks/bench_estimators.py [--extended-panel PARQUET]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from linkseval.did import panel_from_frame
from linkseval.estimators.imputation import ImputationFit
from linkseval.estimators.synthdid import cohort_panels, synthdid_panel
from linkseval.staggered import AGGREGATIONS, callaway_santanna
from linkseval.twfe_weights import twfe_weights

OUT = Path(__file__).resolve().parent / "out"
ALL = AGGREGATIONS  # every aggregation of linkseval.staggered
# aggte type -> our term holding its overall_att, and the prefix of its per-event terms
TYPES = {
    "simple": ("simple", None),
    "dynamic": ("dynamic_overall", "dynamic"),
    "group": ("group_overall", "group"),
    "calendar": ("calendar_overall", "calendar"),
}
# aggte(type="dynamic") gives the dynamic effects and their mean over e ≥ 0: ours the same
SD = ("simple", "dynamic", "dynamic_overall")
BITERS, SEED = 1000, 1


def timed(f, reps: int = 3):
    t = time.perf_counter()
    val = f()
    if time.perf_counter() - t > 1:
        reps = 1
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        val = f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), val


def mpdta() -> tuple[pd.DataFrame, list[str]]:
    from moderndid import load_mpdta

    d = load_mpdta().to_pandas()
    d = d.rename(columns={"countyreal": "id", "first.treat": "cohort", "lemp": "y"})
    # pyfixest 0.60's did2s fails (a weights-array shape mismatch in _did2s_vcov) when a unit has
    # a single untreated year, as mpdta's 2004 cohort does: that cohort is left out here
    return d.loc[d.cohort != 2004, ["id", "year", "cohort", "y", "lpop"]], ["lpop"]


def extended(path: str) -> tuple[pd.DataFrame, list[str]]:
    d = pd.read_parquet(path)
    d = d[(d.outcome == "workload") & (d.instrument == "safequest")]
    codes = {c: i + 1 for i, c in enumerate(sorted(d.practice_code.unique()))}
    covs = ["simd15_share", "list_size"]
    d = pd.DataFrame(
        {"id": d.practice_code.map(codes), "year": d.year, "cohort": d.cohort, "y": d.percent}
        | {c: d[c].astype(float) for c in covs}
    ).dropna()
    # moderndid's att_gt keeps only units observed in every year: compare on that balanced panel
    full = d.groupby("id").year.transform("size") == d.year.nunique()
    return d[full], covs


def quiet(f):
    def g():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f()

    return g


def deltas(ours: pd.DataFrame, ref: dict) -> tuple[float, float, float]:
    """Max |Δ| of the overall estimates, of every aggregate, and of the SEs relative (ours
    rescaled by √((G−1)/G), the cluster factor moderndid does not apply)."""
    G = ours.attrs["G"]
    k = np.sqrt((G - 1) / G)
    overall, every, se = [], [], []
    for typ, a in ref.items():
        term, prefix = TYPES[typ]
        if term not in ours.index:
            continue
        overall.append(abs(ours.loc[term, "estimate"] - a.overall_att))
        pairs = [(term, a.overall_att, a.overall_se)]
        if prefix:
            pairs += [
                (f"{prefix}[{int(e)}]", v, s)
                for e, v, s in zip(a.event_times, a.att_by_event, a.se_by_event, strict=True)
            ]
        for t, v, s in pairs:
            every.append(abs(ours.loc[t, "estimate"] - v))
            se.append(abs(ours.loc[t, "std_error"] * k / s - 1))
    return max(overall), max(every), max(se)


def run(name: str, df: pd.DataFrame, covs: list[str]) -> list[dict]:
    import pyfixest as pf
    from moderndid import aggte, att_gt

    df = df.assign(
        # sorted labels = moderndid's unit order (cohort, never-treated last, then id)
        unit=[f"{int(g) or 9999:04d}-{int(i):06d}" for g, i in zip(df.cohort, df.id, strict=True)],
        D=((df.cohort > 0) & (df.year >= df.cohort)).astype(int),
    )
    kw = {"unit": "unit", "time": "year", "cohort": "cohort", "outcome": "y"}
    p = panel_from_frame(df, **kw)
    px = panel_from_frame(df, **kw, covariates=covs)
    assert px.n_obs == p.n_obs == len(df)
    rows = []

    def row(what, t_ours, ref, t_ref, delta, **extra):
        rows.append(
            {
                "panel": name,
                "obs": len(df),
                "call": what,
                "ours_s": t_ours,
                "reference": ref,
                "reference_s": t_ref,
                "max_delta_overall": delta,
            }
            | extra
        )
        print(json.dumps(rows[-1]), flush=True)

    # imputation vs did2s
    t_ours, fit = timed(lambda: ImputationFit(p))
    g_call = quiet(
        lambda: pf.did2s(
            df,
            yname="y",
            first_stage="~ 0 | unit + year",
            second_stage="~ D",
            treatment="D",
            cluster="unit",
        )
    )
    t_pf, g = timed(g_call)
    row(
        "imputation (ImputationFit)",
        t_ours,
        "pyfixest did2s",
        t_pf,
        float(abs(fit.estimate[0] - float(g.coef()["D"]))),
    )

    # Callaway-Sant'Anna
    def md(types, control="nevertreated", xformla=None, band=False):
        def f():
            gt = att_gt(
                df,
                yname="y",
                tname="year",
                idname="id",
                gname="cohort",
                control_group=control,
                est_method="dr" if xformla else "reg",
                xformla=xformla,
                boot=False,
                cband=False,
            )
            if band:
                return {
                    "dynamic": aggte(
                        gt, type="dynamic", cband=True, biters=BITERS, random_state=SEED
                    )
                }
            return {t: aggte(gt, type=t, boot=False, cband=False) for t in types}

        return quiet(f)

    def ours(panel=p, **o):
        def f():
            r = callaway_santanna(panel, **o).set_index("term")
            r.attrs["G"] = panel.n_units
            return r

        return f

    xformla = "~" + " + ".join(covs)
    cases = [
        (
            "CS never-treated: simple, dynamic",
            {"aggregations": SD},
            "att_gt(nevertreated) + aggte simple, dynamic",
            md(("simple", "dynamic")),
        ),
        (
            "CS control_group=not_yet: simple, dynamic",
            {"aggregations": SD, "control_group": "not_yet"},
            "att_gt(notyettreated) + aggte simple, dynamic",
            md(("simple", "dynamic"), "notyettreated"),
        ),
        (
            "CS all 7 aggregations",
            {"aggregations": ALL},
            "att_gt + aggte simple, dynamic, group, calendar",
            md(("simple", "dynamic", "group", "calendar")),
        ),
        (
            f"CS doubly robust, {' + '.join(covs)}: simple, dynamic",
            {"aggregations": SD, "panel": px, "covariates": px.covariates},
            f"att_gt(dr, {xformla}) + aggte simple, dynamic",
            md(("simple", "dynamic"), xformla=xformla),
        ),
        (
            f"CS dynamic + uniform band (cband, biters={BITERS})",
            {"aggregations": SD[1:], "cband": True, "biters": BITERS, "seed": SEED},
            f"att_gt + aggte(dynamic, cband, biters={BITERS})",
            md(("dynamic",), band=True),
        ),
    ]
    for what, opts, ref_name, ref_call in cases:
        t_ours, cs = timed(ours(**opts))
        t_md, ref = timed(ref_call)
        d_over, d_all, d_se = deltas(cs, ref)
        extra = {"max_delta_all_aggregates": d_all, "max_rel_delta_se": d_se}
        if opts.get("cband"):
            extra["crit_ours"] = float(cs.loc["dynamic[0]", "band_critical_value"])
            extra["crit_moderndid"] = float(ref["dynamic"].critical_values[0])
            other = callaway_santanna(
                p, aggregations=SD[1:], cband=True, biters=BITERS, seed=SEED + 1
            )
            extra["crit_ours_seed2"] = float(other.band_critical_value.dropna().iloc[0])
        row(what, t_ours, "moderndid " + ref_name, t_md, d_over, **extra)

    # TWFE weights: no Python reference
    t_w, w = timed(lambda: twfe_weights(p))
    row(
        "twfe_weights(panel)",
        t_w,
        None,
        None,
        None,
        n_negative=int(w.n_negative),
        beta=float(w.beta),
    )

    # SDID per cohort, jackknife, as the pipeline runs it
    def sdid_ours():
        return [(g, synthdid_panel(q, "sdid", "jackknife")) for g, q in cohort_panels(p)]

    t_sd, sd = timed(sdid_ours)
    try:
        from diff_diff import SyntheticDiD
    except ImportError:
        row("SDID per cohort, jackknife SE", t_sd, None, None, None, cohorts=[g for g, _ in sd])
        return rows

    def sdid_dd():
        out = []
        for g, q in cohort_panels(p):
            f = pd.DataFrame(
                {
                    "unit": q.unit_labels[q.unit],
                    "year": q.time,
                    "y": q.y,
                    "ever": (q.cohort[q.unit] > 0).astype(int),
                }
            )
            m = SyntheticDiD(variance_method="jackknife")
            res = m.fit(
                f,
                outcome="y",
                treatment="ever",
                unit="unit",
                time="year",
                post_periods=[t for t in q.periods if t >= g],
            )
            out.append((g, res))
        return out

    t_dd, dd = timed(quiet(sdid_dd))
    pairs = [(a, b) for (_, a), (_, b) in zip(sd, dd, strict=True)]
    row(
        "SDID per cohort, jackknife SE",
        t_sd,
        "diff-diff SyntheticDiD(jackknife) per cohort",
        t_dd,
        max(abs(a.estimate - b.att) for a, b in pairs),
        cohorts=[g for g, _ in sd],
        max_rel_delta_se=max(abs(a.std_error / b.se - 1) for a, b in pairs),
    )
    return rows


def note(r: dict) -> str:
    out = []
    if "max_delta_all_aggregates" in r:
        out.append(f"every aggregate {r['max_delta_all_aggregates']:.1e}")
    if "crit_ours" in r:
        out.append(
            f"critical value {r['crit_ours']:.4f} / {r['crit_moderndid']:.4f} "
            f"(ours with seed 2: {r['crit_ours_seed2']:.4f})"
        )
    if "cohorts" in r:
        out.append("cohorts " + ", ".join(map(str, r["cohorts"])))
    if "max_rel_delta_se" in r:
        out.append(f"SE rel. Δ {r['max_rel_delta_se']:.1e}")
    if "n_negative" in r:
        out.append("no Python reference (R TwoWayFEWeights, Stata twowayfeweights)")
    return "; ".join(out)


def fmt_t(x) -> str:
    return "–" if x is None else f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--extended-panel", help="results/panel/safequest.parquet of the extended study"
    )
    args = ap.parse_args()
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    rows = run("mpdta", *mpdta())
    if args.extended_panel:
        rows += run("extended workload", *extended(args.extended_panel))
    meta = {"load_before": load, "total_s": time.perf_counter() - t0}
    OUT.mkdir(exist_ok=True)
    (OUT / "estimators.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"\nload before {load:.2f}; total {meta['total_s']:.0f} s\n")
    print(
        "| panel | ours: call | ours | reference: call | reference | max \\|Δ\\| overall | note |"
    )
    print("|---|---|---:|---|---:|---:|---|")
    for r in rows:
        d = r["max_delta_overall"]
        print(
            f"| {r['panel']} ({r['obs']:,} obs) | {r['call']} | {fmt_t(r['ours_s'])} | "
            f"{r['reference'] or '–'} | {fmt_t(r['reference_s'])} | "
            f"{'–' if d is None else f'{d:.1e}'} | {note(r)} |"
        )


if __name__ == "__main__":
    main()
