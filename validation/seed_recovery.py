"""Recovery of the generator's true ATT over synthetic-generator seeds (headline CIs).

A validation *study*, not a unit test. For each seed s = 1..N it generates the embedded default
synthetic study (config/config.yaml ``synthetic``, only ``seed`` replaced by s) and runs the
pipeline's own chain in one process, as the Snakemake rules call it
(``linkseval.recovery.study_panels`` and ``headline_rows``):

    synth     linkseval.synthetic.write_synthetic (into a temporary folder)
    clean     linkseval.data.ingest.read_extract -> linkseval.data.clean.clean_extract, per extract
              (written to and read back from Parquet, as the workflow does)
    score     linkseval.data.score.score_respondents -> practice_year_panel, per instrument
    estimate  the headline of linkseval.analysis.estimate_outcome only: static TWFE of the main
              comparison (all other Scottish practices), the same frame preparation
              (``comparison_frame``, ``comparison_panel``) and ``infer_twfe`` with the config's
              ``Settings`` (CR1, WCR bootstrap, randomization inference; family-wise intervals
              for the family outcomes); only the bootstrap and RI draws are reduced
              (``--draws``, default 999; the pipeline uses 9,999).

For every seed × outcome × method it records the estimate, the CI and family-wise CI, the truth
and whether each covers it, and the verdict of ``linkseval recovery``. The truth is
``linkseval.recovery.true_effect``: the mean over the post years of truth.json
``att[outcome][year]["pct"]``.

A diagnostic per seed × outcome, ``cf_did``: the DiD (Links vs all others, unweighted) of the
generator's exact untreated expectations (truth_practice_year.csv), i.e. how far the
counterfactual trends are from parallel; its mean over seeds is the systematic part of the bias.

Outputs (validation/out/, git-ignored): seed_recovery_reps.csv (one row per seed × outcome ×
method), seed_recovery_summary.csv and seed_recovery_table.md (per outcome × method: coverage
and its Monte Carlo SE, mean bias and its SE, SD of the estimate vs mean reported SE, the
diagnostic), seed_recovery_joint.csv (per method: share of seeds with all outcomes covered) and
seed_recovery_run_info.json (timings, versions).

Usage: python validation/seed_recovery.py [--seeds 40] [--draws 999]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from linkseval import __version__  # noqa: E402
from linkseval.analysis import Settings  # noqa: E402
from linkseval.data.score import outcome_scale  # noqa: E402
from linkseval.recovery import headline_rows, study_panels, true_effect  # noqa: E402
from linkseval.study import Study, load_study_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "validation" / "out"
METHODS = ["CR1", "WCR bootstrap", "randomization inference"]
SHORT = {"CR1": "CR1", "WCR bootstrap": "WCR", "randomization inference": "RI"}


def counterfactual_did(
    truth_py: pd.DataFrame, truth: dict, instrument, outcome: str, start: int
) -> float:
    """Diagnostic, not an estimate: the DiD of the generator's exact *untreated* expectations
    (``expected_counterfactual_mean``), Links practices vs all others, unweighted, % points
    (100 × mean / max, as truth.json "pct"): mean change from the last pre year to the post
    years. Non-zero = the counterfactual trends are not parallel in this data set, through the
    realised practice-year shocks and, systematically, through the 1-7 ceiling (the Links
    practices start higher). Its mean over seeds is the systematic part."""
    d = truth_py[(truth_py["instrument"] == instrument.name) & (truth_py["outcome"] == outcome)]
    wide = d.pivot(index="practice_code", columns="year", values="expected_counterfactual_mean")
    years = sorted(wide.columns)
    pre = [y for y in years if y < start][-1]
    post = [y for y in years if y >= start]
    change = wide[post].mean(axis=1) - wide[pre]
    links = change.index.isin([p["practice_code"] for p in truth["links"]])
    hi = outcome_scale(instrument, outcome)[1]
    return float(100.0 * (change[links].mean() - change[~links].mean()) / hi)


def run_seed(study: Study, s: Settings, seed: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"seed_recovery_{seed}_") as tmp:
        panels, truth, truth_py = study_panels(study, seed, Path(tmp))
    start = min(int(p["start_year"]) for p in truth["links"])
    rows = []
    for o in study.outcomes:
        instrument, outcome = o.instrument, o.name
        tau = true_effect(truth, outcome)
        cf = counterfactual_did(truth_py, truth, study.book[instrument], outcome, start)
        for r in headline_rows(panels[instrument], s, instrument, outcome):
            covered = bool(r["ci_low"] <= tau <= r["ci_high"])
            has_fw = not (np.isnan(r["ci_low_fw"]) or np.isnan(r["ci_high_fw"]))
            covered_fw = bool(r["ci_low_fw"] <= tau <= r["ci_high_fw"]) if has_fw else None
            rows.append(
                {
                    "seed": seed,
                    "instrument": instrument,
                    "outcome": outcome,
                    "method": r["method"],
                    "estimate": r["estimate"],
                    "std_error": r["std_error"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "p_value": r["p_value"],
                    "truth": tau,
                    "covered": covered,
                    "ci_low_fw": r["ci_low_fw"],
                    "ci_high_fw": r["ci_high_fw"],
                    "covered_fw": covered_fw,
                    # the verdict of `linkseval recovery`: family-wise interval for family
                    # outcomes, the 1 - alpha interval for the others
                    "covers": covered_fw if has_fw else covered,
                    "bias": r["estimate"] - tau,
                    "cf_did": cf,
                    "n_units": r["n_units"],
                    "n_treated": r["n_treated"],
                    "n_draws": r["n_draws"],
                }
            )
    return rows


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    out = []
    order = list(dict.fromkeys(reps["outcome"]))
    for (outcome, method), g in reps.groupby(["outcome", "method"], sort=False):
        n = len(g)
        cov = float(g["covered"].mean())
        bias = g["bias"].to_numpy(float)
        out.append(
            {
                "outcome": outcome,
                "method": method,
                "n_seeds": n,
                "coverage": cov,
                "coverage_mcse": float(np.sqrt(cov * (1 - cov) / n)),
                "mean_bias": float(bias.mean()),
                "bias_se": float(bias.std(ddof=1) / np.sqrt(n)),
                "mean_estimate": float(g["estimate"].mean()),
                "mean_truth": float(g["truth"].mean()),
                "sd_estimate": float(g["estimate"].std(ddof=1)),
                "sd_error": float(bias.std(ddof=1)),
                "mean_reported_se": float(g["std_error"].mean()),
                "mean_ci_width": float((g["ci_high"] - g["ci_low"]).mean()),
                "mean_cf_did": float(g["cf_did"].mean()),
                "cf_did_se": float(g["cf_did"].std(ddof=1) / np.sqrt(n)),
                "mean_bias_net_cf": float((g["bias"] - g["cf_did"]).mean()),
                "bias_net_cf_se": float((g["bias"] - g["cf_did"]).std(ddof=1) / np.sqrt(n)),
                "n_unbounded_ci": int((~np.isfinite(g[["ci_low", "ci_high"]])).any(axis=1).sum()),
            }
        )
    res = pd.DataFrame(out)
    res["_o"] = res["outcome"].map({o: i for i, o in enumerate(order)})
    res["_m"] = res["method"].map({m: i for i, m in enumerate(METHODS)})
    return res.sort_values(["_o", "_m"]).drop(columns=["_o", "_m"]).reset_index(drop=True)


def _share(flags: pd.Series) -> tuple[float, float]:
    p = float(flags.mean())
    return p, float(np.sqrt(p * (1 - p) / len(flags)))


def joint_coverage(reps: pd.DataFrame) -> pd.DataFrame:
    """Per method, shares of seeds on which: every outcome's 1 − α CI covers its truth
    (``all_covered``); every family outcome's family-wise CI does (``family_fw_all_covered``);
    the check of ``linkseval recovery`` passes (``check_passed``: family-wise for the family,
    1 − α for the other outcomes)."""
    rows = []
    n_out = reps["outcome"].nunique()
    for method in METHODS:
        g = reps[reps["method"] == method]
        per_seed = g.groupby("seed")["covered"].agg(["all", "sum"])
        fam = g[g["covered_fw"].notna()]
        fw_all = fam.groupby("seed")["covered_fw"].agg(lambda v: bool(v.astype(bool).all()))
        check = g.groupby("seed")["covers"].agg(lambda v: bool(v.astype(bool).all()))
        p, se = _share(per_seed["all"])
        pf, sef = _share(fw_all) if len(fw_all) else (np.nan, np.nan)
        pc, sec = _share(check)
        rows.append(
            {
                "method": method,
                "n_seeds": len(per_seed),
                "all_covered": p,
                "all_covered_mcse": se,
                "mean_outcomes_missed": float(n_out - per_seed["sum"].mean()),
                "n_family": int(fam["outcome"].nunique()),
                "family_fw_all_covered": pf,
                "family_fw_all_covered_mcse": sef,
                "check_passed": pc,
                "check_passed_mcse": sec,
            }
        )
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, joint: pd.DataFrame, n_seeds: int, draws: int) -> str:
    lines = [
        f"Seeds 1..{n_seeds}; B = R = {draws}. Coverage (MC SE); bias = estimate − truth, "
        "mean (SE over seeds); SD of the estimate and of the error (estimate − truth) over "
        "seeds vs the mean reported (CR1) SE; mean CI width.",
        "",
        "| outcome | method | coverage (MC SE) | mean bias (SE) | SD estimate | SD error "
        "| mean SE | mean CI width |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary.itertuples():
        lines.append(
            f"| {r.outcome} | {SHORT[r.method]} | {r.coverage:.3f} ({r.coverage_mcse:.3f}) | "
            f"{r.mean_bias:+.3f} ({r.bias_se:.3f}) | {r.sd_estimate:.3f} | {r.sd_error:.3f} | "
            f"{r.mean_reported_se:.3f} | {r.mean_ci_width:.2f} |"
        )
    lines += [
        "",
        "Diagnostic (per outcome; the estimate is the same for every method): cf DiD = the "
        "DiD of the generator's exact untreated expectations, Links vs all others, unweighted "
        "(non-parallel counterfactual trends: realised practice-year shocks + the 1-7 ceiling); "
        "its mean over seeds is the systematic part. Bias net of cf DiD = what remains.",
        "",
        "| outcome | mean bias (SE) | mean cf DiD (SE) | mean bias net of cf DiD (SE) |",
        "|---|---:|---:|---:|",
    ]
    for r in summary[summary["method"] == METHODS[0]].itertuples():
        lines.append(
            f"| {r.outcome} | {r.mean_bias:+.3f} ({r.bias_se:.3f}) | "
            f"{r.mean_cf_did:+.3f} ({r.cf_did_se:.3f}) | "
            f"{r.mean_bias_net_cf:+.3f} ({r.bias_net_cf_se:.3f}) |"
        )
    n_out = summary["outcome"].nunique()
    n_fam = int(joint["n_family"].max())
    lines += [
        "",
        f"Shares of seeds (MC SE): all {n_out} outcomes' 95% CIs cover; all {n_fam} family "
        "outcomes' family-wise (Bonferroni) 95% CIs cover; `linkseval recovery` passes "
        "(family-wise CIs for the family, 95% CIs for the other outcomes).",
        "",
        f"| method | all {n_out} 95% CIs cover | mean outcomes missed | all {n_fam} family-wise "
        "CIs cover | recovery check passes |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in joint.itertuples():
        lines.append(
            f"| {SHORT[r.method]} | {r.all_covered:.3f} ({r.all_covered_mcse:.3f}) | "
            f"{r.mean_outcomes_missed:.2f} | {r.family_fw_all_covered:.3f} "
            f"({r.family_fw_all_covered_mcse:.3f}) | {r.check_passed:.3f} "
            f"({r.check_passed_mcse:.3f}) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=40, help="generator seeds 1..N (default 40)")
    ap.add_argument("--draws", type=int, default=999, help="bootstrap and RI draws (default 999)")
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"), metavar="FILE")
    ap.add_argument("--out-dir", default=str(OUT), metavar="DIR")
    ap.add_argument(
        "--prefix", default="seed_recovery", help="output file name prefix (default %(default)s)"
    )
    a = ap.parse_args()
    study = load_study_file(a.config, base=ROOT)
    if not study.synthetic_data:
        sys.exit("seed_recovery: config raw_dir must be null (the synthetic default)")
    s = dataclasses.replace(study.settings, bootstrap_draws=a.draws, ri_draws=a.draws)

    t0 = time.perf_counter()
    rows: list[dict] = []
    seed_times = []
    for seed in tqdm(range(1, a.seeds + 1), desc="generator seeds", unit="seed"):
        ts = time.perf_counter()
        rows += run_seed(study, s, seed)
        seed_times.append(time.perf_counter() - ts)
    elapsed = time.perf_counter() - t0

    reps = pd.DataFrame(rows)
    summary = summarise(reps)
    joint = joint_coverage(reps)
    table = markdown(summary, joint, a.seeds, a.draws)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reps.to_csv(out / f"{a.prefix}_reps.csv", index=False, float_format="%.10g")
    summary.to_csv(out / f"{a.prefix}_summary.csv", index=False, float_format="%.6g")
    joint.to_csv(out / f"{a.prefix}_joint.csv", index=False, float_format="%.6g")
    (out / f"{a.prefix}_table.md").write_text(table, encoding="utf-8")
    info = {
        "seeds": [1, a.seeds],
        "draws": a.draws,
        "config": str(a.config),
        "bootstrap_seed": s.bootstrap_seed,
        "ri_seed": s.ri_seed,
        "elapsed_seconds": round(elapsed, 1),
        "seconds_per_seed": {
            "mean": round(float(np.mean(seed_times)), 2),
            "min": round(float(np.min(seed_times)), 2),
            "max": round(float(np.max(seed_times)), 2),
        },
        "linkseval": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "machine": platform.platform(),
        "load_average": list(os.getloadavg()),
    }
    (out / f"{a.prefix}_run_info.json").write_text(json.dumps(info, indent=1) + "\n")
    print(table)
    print(f"run time {elapsed:.0f} s ({np.mean(seed_times):.1f} s per seed); outputs in {out}")


if __name__ == "__main__":
    main()
