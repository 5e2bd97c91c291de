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
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from linkseval.did import ols, panel_from_frame, twfe_design  # noqa: E402
from linkseval.inference import cr1, randomization_inference, wild_cluster_bootstrap  # noqa: E402

HERE = Path(__file__).resolve().parent
YEARS = np.array([2013, 2014, 2015])
START = 2014
ALPHA = 0.05
METHODS = ("CR1", "WCR bootstrap", "randomization inference")


@dataclass(frozen=True)
class Scenario:
    key: int  # stable seed key: never renumber, only add
    name: str
    description: str
    n_practices: int = 1000
    n_treated: int = 7
    effect: float = 0.0  # mean treatment effect τ
    effect_sd: float = 0.0  # SD of τ_i across treated practices (0 = constant effect)
    practice_sd: float = 3.0
    year_effects: tuple[float, ...] = (0.0, 1.0, 1.5)
    trend_sd: float = 0.3
    py_sd: float = 0.0
    resp_sd: float = 3.0
    n_min: int = 5
    n_max: int = 25
    treated_n: tuple[int, int] | None = None  # (min, max) respondents of treated practices
    missing: float = 0.05
    missing_treated: bool = False  # may the treated practices' years be missing too?
    small: bool = False  # the 200-practice scenarios (use --reps-small)


NOISY = {"py_sd": 1.5, "resp_sd": 9.0}  # calibrated to linkseval.synth defaults (see README)
SCENARIOS = [
    Scenario(1, "no_effect", "H0: no effect"),
    Scenario(2, "effect_2", "constant effect +2", effect=2.0),
    Scenario(3, "effect_het", "heterogeneous effect, τ_i ~ N(2, 1.5²)", effect=2.0, effect_sd=1.5),
    Scenario(4, "no_effect_noisy", "H0, noisier (py SD 1.5, resp SD 9)", **NOISY),
    Scenario(5, "effect_2_noisy", "effect +2, noisier (py SD 1.5, resp SD 9)", effect=2.0, **NOISY),
    Scenario(6, "no_effect_small_treated", "H0, treated practices small (n 5–8)", treated_n=(5, 8)),
    Scenario(7, "no_effect_200", "H0, 200 practices", n_practices=200, small=True),
    Scenario(
        8, "effect_2_200", "effect +2, 200 practices", n_practices=200, effect=2.0, small=True
    ),
    Scenario(9, "no_effect_missing_all", "H0, treated also 5% missing", missing_treated=True),
    Scenario(10, "no_effect_balanced", "H0, balanced panel (no missing years)", missing=0.0),
]
CHECK_SCENARIOS = ("no_effect", "effect_2", "no_effect_small_treated")


# --------------------------------------------------------------------------- simulation


def simulate(sc: Scenario, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """One practice-year panel (long) and the per-row noise-free treatment signal τ_i·D_it."""
    N, T = sc.n_practices, len(YEARS)
    treated = np.zeros(N, dtype=bool)
    treated[rng.choice(N, sc.n_treated, replace=False)] = True
    a = rng.normal(0.0, sc.practice_sd, N)
    trend = rng.normal(0.0, sc.trend_sd, N)
    size = rng.uniform(sc.n_min, sc.n_max, N)
    if sc.treated_n is not None:
        size[treated] = rng.uniform(*sc.treated_n, treated.sum())
    tau = np.where(treated, sc.effect + sc.effect_sd * rng.standard_normal(N), 0.0)
    unit = np.repeat(np.arange(N), T)
    year = np.tile(YEARS, N)
    n = np.rint(size[unit] + rng.normal(0.0, 2.0, N * T))
    lo, hi = (np.full(N, sc.n_min), np.full(N, sc.n_max))
    if sc.treated_n is not None:
        lo[treated], hi[treated] = sc.treated_n
    n = np.clip(n, lo[unit], hi[unit])
    d = (treated[unit] & (year >= START)).astype(float)
    signal = tau[unit] * d
    gamma = np.asarray(sc.year_effects)[year - YEARS[0]]
    y = (
        87.0
        + a[unit]
        + gamma
        + trend[unit] * (year - START)
        + signal
        + rng.normal(0.0, sc.py_sd, N * T)
        + rng.normal(0.0, 1.0, N * T) * sc.resp_sd / np.sqrt(n)
    )
    absent = rng.random(N * T) < sc.missing
    if not sc.missing_treated:
        absent &= ~treated[unit]
    df = pd.DataFrame(
        {
            "practice": np.char.add("P", np.char.zfill(unit.astype(str), 5)),
            "year": year,
            "cohort": np.where(treated[unit], START, 0),
            "y": y,
            "n": n,
        }
    )
    keep = ~absent
    return df[keep].reset_index(drop=True), signal[keep]


def estimand(df: pd.DataFrame, signal: np.ndarray) -> float:
    """TWFE coefficient of the noise-free signal τ_i·D_it (the weighted ATT it targets)."""
    p = panel_from_frame(
        df.assign(y=signal), unit="practice", time="year", cohort="cohort", outcome="y",
        weights="n",
    )  # fmt: skip
    return float(ols(twfe_design(p)).beta[0])


def analyse(sc: Scenario, ss: np.random.SeedSequence, draws: int) -> list[dict]:
    """Simulate replication ``ss`` of ``sc`` and apply the three methods (``draws`` B and R)."""
    data_ss, boot_ss, ri_ss = ss.spawn(3)
    df, signal = simulate(sc, np.random.default_rng(data_ss))
    p = panel_from_frame(
        df, unit="practice", time="year", cohort="cohort", outcome="y", weights="n"
    )
    design = twfe_design(p)
    fit = ols(design)
    truth = estimand(df, signal) if sc.effect_sd else sc.effect
    est, se = float(fit.beta[0]), float(fit.se()[0])
    boot_seed = int(boot_ss.generate_state(1, np.uint32)[0])
    ri_seed = int(ri_ss.generate_state(1, np.uint32)[0])
    results = [
        cr1(fit, 0, ALPHA),
        wild_cluster_bootstrap(design, 0, n_draws=draws, seed=boot_seed, alpha=ALPHA),
        randomization_inference(p, n_draws=draws, seed=ri_seed, alpha=ALPHA),
    ]
    rows = []
    for m in results:
        rows.append(
            {
                "estimate": est,
                "std_error": se,
                "truth": truth,
                "method": m.method,
                "draws": draws if m.method != "CR1" else 0,
                "p_value": m.p_value,
                "ci_low": m.ci_low,
                "ci_high": m.ci_high,
                "reject": bool(m.p_value <= ALPHA),
                "covers": bool(m.ci_low <= truth <= m.ci_high),
                "covers_mean_effect": bool(m.ci_low <= sc.effect <= m.ci_high),
                "n_obs": p.n_obs,
                "n_units": p.n_units,
            }
        )
    return rows


def _task(args: tuple[Scenario, int, np.random.SeedSequence, int]) -> list[dict]:
    sc, rep, ss, draws = args
    return [{"scenario": sc.name, "rep": rep, **r} for r in analyse(sc, ss, draws)]


def replication_seeds(seed: int, sc: Scenario, reps: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed, spawn_key=(sc.key,)).spawn(reps)


def run_scenario(
    sc: Scenario, seed: int, reps: int, draws: int, pool, label: str = ""
) -> pd.DataFrame:
    tasks = [(sc, r, ss, draws) for r, ss in enumerate(replication_seeds(seed, sc, reps))]
    it = pool.imap(_task, tasks, chunksize=10) if pool is not None else map(_task, tasks)
    rows = []
    for out in tqdm(it, total=reps, desc=f"{sc.name} {label}".strip(), unit="rep", leave=True):
        rows.extend(out)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- summary


def summarise(raw: pd.DataFrame, scenarios: dict[str, Scenario]) -> pd.DataFrame:
    out = []
    for (name, method, draws), g in raw.groupby(["scenario", "method", "draws"], sort=False):
        sc = scenarios[name]
        R = len(g)
        rej, cov = g["reject"].mean(), g["covers"].mean()
        width = g["ci_high"] - g["ci_low"]
        finite = np.isfinite(width)
        out.append(
            {
                "scenario": name,
                "description": sc.description,
                "n_practices": sc.n_practices,
                "n_treated": sc.n_treated,
                "true_effect": sc.effect,
                "method": method,
                "draws": int(draws) if method != "CR1" else 0,
                "n_reps": R,
                "rejection_rate": rej,
                "rejection_mcse": np.sqrt(rej * (1 - rej) / R),
                "coverage": cov,
                "coverage_mcse": np.sqrt(cov * (1 - cov) / R),
                "coverage_of_mean_effect": g["covers_mean_effect"].mean(),
                "mean_ci_width": width[finite].mean(),
                "median_ci_width": width.median(),
                "n_infinite_ci": int((~finite).sum()),
                "mean_estimate": g["estimate"].mean(),
                "sd_estimate": g["estimate"].std(),
                "mean_cr1_se": g["std_error"].mean(),
            }
        )
    return pd.DataFrame(out)


def check_agreement(raw: pd.DataFrame, check: pd.DataFrame) -> pd.DataFrame:
    """Per scenario × method: how often B = 999 and B = 9,999 reach the same decision."""
    key = ["scenario", "rep", "method"]
    m = raw.merge(check, on=key, suffixes=("_999", "_9999"))
    m = m[m["method"] != "CR1"]
    rows = []
    for (name, method), g in m.groupby(["scenario", "method"], sort=False):
        rows.append(
            {
                "scenario": name,
                "method": method,
                "n_reps": len(g),
                "reject_999": g["reject_999"].mean(),
                "reject_9999": g["reject_9999"].mean(),
                "same_decision": (g["reject_999"] == g["reject_9999"]).mean(),
                "covers_999": g["covers_999"].mean(),
                "covers_9999": g["covers_9999"].mean(),
                "same_coverage": (g["covers_999"] == g["covers_9999"]).mean(),
                "max_abs_p_diff": (g["p_value_999"] - g["p_value_9999"]).abs().max(),
            }
        )
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame) -> str:
    short = {"CR1": "CR1", "WCR bootstrap": "WCR (Webb)", "randomization inference": "RI"}
    lines = [
        "| scenario | practices | true τ | method | draws | reps | rejection (MC SE) "
        "| coverage (MC SE) | mean CI width |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in summary.itertuples():
        lines.append(
            f"| {r.description} | {r.n_practices:,} | {r.true_effect:g} | {short[r.method]} "
            f"| {r.draws:,} | {r.n_reps:,} | {r.rejection_rate:.3f} ({r.rejection_mcse:.3f}) "
            f"| {r.coverage:.3f} ({r.coverage_mcse:.3f}) | {r.mean_ci_width:.2f} |"
        )
    return "\n".join(lines)


def write_outputs(raw: pd.DataFrame, check: pd.DataFrame, a: argparse.Namespace) -> None:
    """Summary CSV, B = 999 vs 9,999 agreement and the Markdown table, from the raw rows."""
    scen = {s.name: s for s in SCENARIOS}
    summary = summarise(pd.concat([raw, check], ignore_index=True), scen)
    summary.to_csv(a.summary, index=False, float_format="%.6g")
    agree = check_agreement(raw[raw["draws"] != 0], check) if len(check) else pd.DataFrame()
    agree.to_csv(a.out / "check_agreement.csv", index=False, float_format="%.6g")
    (a.out / "summary_table.md").write_text(
        markdown(summary) + "\n\n" + markdown_wide(summary) + "\n"
    )
    print(markdown(summary))
    if len(agree):
        print()
        print(agree.to_string(index=False))


def markdown_wide(summary: pd.DataFrame) -> str:
    """One row per scenario × draws: rejection (MC SE), coverage and mean CI width by method."""
    short = {"CR1": "CR1", "WCR bootstrap": "WCR", "randomization inference": "RI"}
    head = "| scenario | reps | B = R |"
    for what in ("rejection", "coverage", "CI width"):
        head += "".join(f" {short[m]} {what} |" for m in METHODS)
    lines = [head, "|---|---:|---:|" + "---:|" * 9]
    s = summary.assign(run=np.where(summary["method"] == "CR1", -1, summary["draws"]))
    for (name, _), g in s.groupby(["scenario", "run"], sort=False):
        if (g["method"] == "CR1").all():
            continue
        first = s.loc[(s["scenario"] == name) & (s["run"] >= 0), "run"].min()
        if g["run"].iloc[0] == first:  # CR1 (no draws) is shown with the main run only
            g = pd.concat([s[(s["scenario"] == name) & (s["method"] == "CR1")], g])
        g = g.set_index("method")
        cells = [g.iloc[0]["description"], f"{int(g['n_reps'].max()):,}"]
        cells.append(f"{int(g.loc[g.index != 'CR1', 'draws'].iloc[0]):,}")

        def fmt(m, col, se=None, g=g):
            if m not in g.index:
                return "–"
            v = g.loc[m, col]
            if se is None:
                return f"{v:.2f}"
            return f"{v:.3f} ({g.loc[m, se]:.3f})"

        cells += [fmt(m, "rejection_rate", "rejection_mcse") for m in METHODS]
        cells += [fmt(m, "coverage", "coverage_mcse") for m in METHODS]
        cells += [fmt(m, "mean_ci_width") for m in METHODS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--reps", type=int, default=10000, help="replications, 1,000-practice runs")
    ap.add_argument("--reps-small", type=int, default=1000, help="replications, 200 practices")
    ap.add_argument("--draws", type=int, default=999, help="bootstrap and RI draws")
    ap.add_argument("--check-reps", type=int, default=1000, help="re-run with 9,999 draws")
    ap.add_argument("--check-draws", type=int, default=9999)
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
    pd.concat([raw, check], ignore_index=True).to_csv(a.out / "monte_carlo_reps.csv", index=False)
    write_outputs(raw, check, a)
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
