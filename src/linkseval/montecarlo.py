"""Monte Carlo size, power and coverage of the static TWFE inference methods (CR1, WCR, RI).

The simulation study of ``validation/monte_carlo.py`` (design, scenarios and results:
``validation/README.md``), as a module so that it can also run scattered: the script runs every
replication in one process (or a local pool); the workflow's opt-in ``monte_carlo`` target runs
chunks of replications as independent jobs (:func:`run_chunk`) and gathers them
(:func:`gather`, :func:`write_tables`) into the same tables, byte for byte.

Reproducibility: replication r of a scenario draws everything (its data, its bootstrap seed, its
RI seed) from ``SeedSequence(seed, spawn_key=(scenario key,)).spawn(reps)[r]``, so results do not
depend on the number of processes or on chunking, and a larger ``reps`` extends, not changes,
the first replications. A chunk holds replications ``chunk·chunk_size …`` of one *run*: the
main run of a scenario (``draws`` B = R) or its check run (``check_draws``, first
``check_reps`` replications, CR1 left out as it has no draws).

Only numpy and pandas are imported at module level (the workflow reads the scenario list while
it parses); the estimation code is imported where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkseval.errors import ConfigError
from linkseval.study import section_defaults

YEARS = np.array([2013, 2014, 2015])
START = 2014
ALPHA = 0.05
METHODS = ("CR1", "WCR bootstrap", "randomization inference", "randomization inference (t)")


@dataclass(frozen=True)
class Scenario:
    """Describe one Monte Carlo scenario: its seed key, data-generating settings and true effect."""

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
    small: bool = False  # the 200-practice scenarios (reps_small replications)
    # Deep End pool: practices 0..pool-1 are the Deep End; the treated are drawn from them, and
    # they differ from the rest in size (respondents), level and practice-year noise
    pool: int | None = None
    pool_n: tuple[int, int] | None = None  # (min, max) respondents of pool practices
    pool_level: float = 0.0  # shift of the pool practices' level a_i
    pool_py_sd: float = 0.0  # extra practice-year shock SD of the pool practices


NOISY = {"py_sd": 1.5, "resp_sd": 9.0}  # calibrated to linkseval.synthetic defaults (see README)
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
    Scenario(
        11,
        "no_effect_deep_end",
        "H0, treated from a Deep End pool of 100 (n 5–12, level −4, extra py SD 1.5)",
        pool=100,
        pool_n=(5, 12),
        pool_level=-4.0,
        pool_py_sd=1.5,
    ),
]
CHECK_SCENARIOS = ("no_effect", "effect_2", "no_effect_small_treated")


# --------------------------------------------------------------------------- simulation


def simulate(sc: Scenario, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """One practice-year panel (long) and the per-row noise-free treatment signal τ_i·D_it."""
    N, T = sc.n_practices, len(YEARS)
    treated = np.zeros(N, dtype=bool)
    treated[rng.choice(N if sc.pool is None else sc.pool, sc.n_treated, replace=False)] = True
    deep = np.arange(N) < (sc.pool or 0)
    a = rng.normal(0.0, sc.practice_sd, N)
    trend = rng.normal(0.0, sc.trend_sd, N)
    size = rng.uniform(sc.n_min, sc.n_max, N)
    if sc.treated_n is not None:
        size[treated] = rng.uniform(*sc.treated_n, treated.sum())
    if sc.pool_n is not None:
        size[deep] = rng.uniform(*sc.pool_n, deep.sum())
    a[deep] += sc.pool_level
    tau = np.where(treated, sc.effect + sc.effect_sd * rng.standard_normal(N), 0.0)
    unit = np.repeat(np.arange(N), T)
    year = np.tile(YEARS, N)
    n = np.rint(size[unit] + rng.normal(0.0, 2.0, N * T))
    lo, hi = (np.full(N, sc.n_min), np.full(N, sc.n_max))
    if sc.treated_n is not None:
        lo[treated], hi[treated] = sc.treated_n
    if sc.pool_n is not None:
        lo[deep], hi[deep] = sc.pool_n
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
    if sc.pool_py_sd:  # drawn last: the other scenarios' streams are unchanged
        y = y + deep[unit] * rng.normal(0.0, sc.pool_py_sd, N * T)
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
    from linkseval.did import ols, panel_from_frame, twfe_design

    p = panel_from_frame(
        df.assign(y=signal), unit="practice", time="year", cohort="cohort", outcome="y",
        weights="n",
    )  # fmt: skip
    return float(ols(twfe_design(p)).beta[0])


def analyse(sc: Scenario, ss: np.random.SeedSequence, draws: int) -> list[dict]:
    """Simulate replication ``ss`` of ``sc`` and apply the four methods (``draws`` B and R)."""
    from linkseval.did import ols, panel_from_frame, twfe_design
    from linkseval.inference import (
        cr1,
        randomization_inference,
        ri_t_test,
        twfe_ri_t_statistics,
        wild_cluster_bootstrap,
    )

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
        # RI on CR1 t statistics (MacKinnon & Webb 2020): the same reassignments as RI
        ri_t_test(twfe_ri_t_statistics(p, seed=ri_seed, n_draws=draws), alpha=ALPHA),
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


def replication_rows(args: tuple[Scenario, int, np.random.SeedSequence, int]) -> list[dict]:
    """Rows of replication ``rep`` (seed sequence ``ss``) of a scenario with ``draws`` draws."""
    sc, rep, ss, draws = args
    return [{"scenario": sc.name, "rep": rep, **r} for r in analyse(sc, ss, draws)]


def replication_seeds(seed: int, sc: Scenario, reps: int) -> list[np.random.SeedSequence]:
    """Return one seed sequence per replication of ``sc`` (children of ``seed`` by its key)."""
    return np.random.SeedSequence(seed, spawn_key=(sc.key,)).spawn(reps)


# --------------------------------------------------------------------------- summary


def summarise(raw: pd.DataFrame, scenarios: dict[str, Scenario]) -> pd.DataFrame:
    """Summarise the raw rows: one row per scenario × method × draws."""
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
    """Format a summary as a Markdown table."""
    short = {
        "CR1": "CR1",
        "WCR bootstrap": "WCR (Webb)",
        "randomization inference": "RI",
        "randomization inference (t)": "RI-t",
    }
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


def markdown_wide(summary: pd.DataFrame) -> str:
    """One row per scenario × draws: rejection (MC SE), coverage and mean CI width by method."""
    short = {
        "CR1": "CR1",
        "WCR bootstrap": "WCR",
        "randomization inference": "RI",
        "randomization inference (t)": "RI-t",
    }
    head = "| scenario | reps | B = R |"
    for what in ("rejection", "coverage", "CI width"):
        head += "".join(f" {short[m]} {what} |" for m in METHODS)
    lines = [head, "|---|---:|---:|" + "---:|" * (3 * len(METHODS))]
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


# --------------------------------------------------------------------------- scattered runs

RUNS = ("main", "check")


_MC = section_defaults("monte_carlo")


@dataclass(frozen=True)
class MCSettings:
    """The study's size (the script's options; the workflow's ``monte_carlo`` config)."""

    # defaults: the config schema's monte_carlo section (the full study)
    seed: int = _MC["seed"]
    reps: int = _MC["reps"]  # replications of the 1,000-practice scenarios
    reps_small: int = _MC["reps_small"]  # replications of the 200-practice scenarios
    draws: int = _MC["draws"]  # bootstrap and RI draws
    check_reps: int = _MC["check_reps"]  # first replications of CHECK_SCENARIOS, check_draws
    check_draws: int = _MC["check_draws"]
    chunk_size: int = _MC["chunk_size"]  # replications per scattered job
    scenarios: tuple[str, ...] | None = _MC["scenarios"]  # names; None = all

    @classmethod
    def from_config(cls, cfg: dict) -> MCSettings:
        """Build the settings from the ``monte_carlo`` config."""
        names = cfg.get("scenarios")
        fields = {k: int(cfg[k]) for k in cls.__dataclass_fields__ if k in cfg and k != "scenarios"}
        return cls(**fields, scenarios=None if names is None else tuple(names))

    def chosen(self) -> list[Scenario]:
        """Return the scenarios to run, in SCENARIOS order (an unknown name is an error)."""
        if self.scenarios is not None:
            unknown = sorted(set(self.scenarios) - {s.name for s in SCENARIOS})
            if unknown:
                raise ConfigError(
                    f"monte_carlo.scenarios: unknown {unknown}; "
                    f"choose from {[s.name for s in SCENARIOS]}"
                )
        return [s for s in SCENARIOS if self.scenarios is None or s.name in self.scenarios]


@dataclass(frozen=True)
class Run:
    """One scenario at one number of draws: ``reps`` replications in ``n_chunks`` chunks."""

    scenario: Scenario
    run: str  # "main" or "check"
    reps: int
    draws: int
    n_chunks: int


def runs(s: MCSettings) -> list[Run]:
    """Return every run of the study.

    Every run of the study, in the order the script runs (and concatenates) them: the main
    run of each chosen scenario, then the check runs.
    """
    if s.chunk_size < 1:
        raise ConfigError("monte_carlo.chunk_size must be at least 1")
    out = []
    chosen = s.chosen()
    for sc in chosen:
        reps = s.reps_small if sc.small else s.reps
        out.append(Run(sc, "main", reps, s.draws, -(-reps // s.chunk_size)))
    if s.check_reps > 0:
        for sc in chosen:
            if sc.name in CHECK_SCENARIOS:
                n = -(-s.check_reps // s.chunk_size)
                out.append(Run(sc, "check", s.check_reps, s.check_draws, n))
    return out


def chunk_keys(s: MCSettings) -> list[tuple[str, str, int]]:
    """(scenario, run, chunk) of every chunk of the study, in gather order."""
    return [(r.scenario.name, r.run, k) for r in runs(s) for k in range(r.n_chunks)]


def find_run(s: MCSettings, scenario: str, run: str) -> Run:
    """Return the ``run`` run of ``scenario`` (none is a :class:`ConfigError`)."""
    for r in runs(s):
        if r.scenario.name == scenario and r.run == run:
            return r
    raise ConfigError(f"no {run!r} run of scenario {scenario!r} in this study")


def run_chunk(s: MCSettings, scenario: str, run: str, chunk: int) -> pd.DataFrame:
    """Run one chunk of replications of one run.

    Rows of replications ``chunk·chunk_size …`` of one run (one row per replication ×
    method; check runs without CR1), exactly as the single-process study makes them.
    """
    r = find_run(s, scenario, run)
    if not 0 <= chunk < r.n_chunks:
        raise ConfigError(f"{scenario}/{run}: chunk {chunk} out of range 0..{r.n_chunks - 1}")
    lo, hi = chunk * s.chunk_size, min((chunk + 1) * s.chunk_size, r.reps)
    seeds = replication_seeds(s.seed, r.scenario, r.reps)[lo:hi]
    rows = []
    for rep, ss in zip(range(lo, hi), seeds, strict=True):
        rows.extend(replication_rows((r.scenario, rep, ss, r.draws)))
    df = pd.DataFrame(rows)
    if run == "check":
        df = df[df["method"] != "CR1"]  # CR1 has no draws: unchanged from the main run
    return df.reset_index(drop=True)


def gather(
    s: MCSettings, chunks: dict[tuple[str, str, int], pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gather the rows of every chunk as (main rows, check rows).

    (main rows, check rows) from every chunk ``{(scenario, run, chunk): rows}``, in the
    script's order. A missing or unexpected chunk is an error.
    """
    want = chunk_keys(s)
    if sorted(chunks) != sorted(want):
        missing = sorted(set(want) - set(chunks))[:5]
        extra = sorted(set(chunks) - set(want))[:5]
        raise ConfigError(f"Monte Carlo gather: missing chunks {missing}, unexpected {extra}")
    main = [chunks[k] for k in want if k[1] == "main"]
    check = [chunks[k] for k in want if k[1] == "check"]
    raw = pd.concat(main, ignore_index=True)
    return raw, pd.concat(check, ignore_index=True) if check else raw.iloc[:0]


def tables(raw: pd.DataFrame, check: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Summarise the raw rows and compare B = 999 with 9,999.

    Summary (one row per scenario × method × draws), B = 999 vs 9,999 agreement and the
    Markdown tables (long and wide), from the raw rows.
    """
    scen = {s.name: s for s in SCENARIOS}
    summary = summarise(pd.concat([raw, check], ignore_index=True), scen)
    agree = check_agreement(raw[raw["draws"] != 0], check) if len(check) else pd.DataFrame()
    return summary, agree, markdown(summary) + "\n\n" + markdown_wide(summary) + "\n"


def write_tables(
    raw: pd.DataFrame,
    check: pd.DataFrame,
    *,
    summary: str,
    agreement: str,
    table: str,
    reps: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the summary, agreement and Markdown tables.

    The summary CSV, the agreement CSV, the Markdown tables and (``reps``) the raw rows are
    written atomically; returns (summary, agreement).
    """
    from linkseval.data.store import write_csv, write_text

    summ, agree, md = tables(raw, check)
    if reps is not None:
        both = pd.concat([raw, check], ignore_index=True)
        write_text(both.to_csv(index=False, lineterminator="\n"), reps)
    write_csv(summ, summary, float_format="%.6g")
    write_csv(agree, agreement, float_format="%.6g")
    write_text(md, table)
    return summ, agree
