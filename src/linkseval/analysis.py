"""The Links evaluation: comparison groups, estimators and inference per outcome, as tidy rows.

Everything the study does is named in the ``analysis`` config section; this module wires
:mod:`linkseval.did` and :mod:`linkseval.inference` to the practice-year panel. Output: one row per
outcome × comparison × estimator (variant) × term × inference method, as
:func:`linkseval.results.make_row` records (schema: :data:`linkseval.results.COLUMNS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from linkseval.comparisons import as_comparison, matched_controls, members
from linkseval.did import (
    Panel,
    event_study_design,
    ols,
    panel_from_frame,
    twfe_design,
    two_by_two,
)
from linkseval.errors import ConfigError
from linkseval.inference import (
    TestResult,
    cr1,
    randomization_inference,
    ri_event_study,
    wild_cluster_bootstrap,
    wild_cluster_bootstrap_terms,
)
from linkseval.results import COLUMNS, KEY, make_row
from linkseval.results import STATISTICS as RESULT_STATISTICS
from linkseval.results import frame as result_frame
from linkseval.study import Comparison, Settings

TIDY_COLUMNS = list(COLUMNS)  # the schema lives in linkseval.results


# The analysis settings are the study spec's (defaults: the config schema's); comparison rules
# are linkseval.comparisons'. Both names stay importable from here.
__all__ = ["Settings", "comparison_frame", "estimate_outcome", "matched_controls"]


# --------------------------------------------------------------------------- comparison groups


def comparison_frame(frame: pd.DataFrame, rule: Comparison | dict, baseline: int) -> pd.DataFrame:
    """Return the outcome panel rows of the treated practices and one comparison group.

    Rows of the outcome panel for the treated practices plus one comparison group
    (:func:`linkseval.comparisons.members`).

    ``unit`` is the practice code; for ``all_including_treated`` (the seed report's baseline) the
    Links practices appear a second time as comparison units (``<code>#comparison``), clustered
    with their treated copy, so the estimate is Links' change minus all-Scotland's change.
    """
    c = as_comparison(rule)
    links = frame["cohort"] > 0
    treated = frame[links]
    group = members(frame, c, baseline)
    if c.rule == "all_including_treated":
        copies = frame[group & links].assign(cohort=0)
        copies = copies.assign(unit=copies["practice_code"] + "#comparison")
        never = frame[group & ~links]
        out = pd.concat(
            [
                treated.assign(unit=treated["practice_code"]),
                never.assign(unit=never["practice_code"]),
                copies,
            ]
        )
        return out.assign(cluster=out["practice_code"]).reset_index(drop=True)
    out = pd.concat([treated, frame[group]])
    return out.assign(unit=out["practice_code"], cluster=out["practice_code"]).reset_index(
        drop=True
    )


# --------------------------------------------------------------------------- estimation


def result_row(
    base: dict, term: str, method: TestResult, estimate: float, se: float, **where
) -> dict:
    """Build one result record.

    One result record (:func:`linkseval.results.make_row`): ``base`` names the outcome,
    comparison, estimator (and variant) and counts, ``where`` the term's structured columns
    (``event_time``, ``cohort``, ``period``, ``bound``).
    """
    return make_row(
        **base,
        **where,
        term=term,
        method=method.method,
        estimate=estimate,
        std_error=se,
        ci_low=method.ci_low,
        ci_high=method.ci_high,
        ci_low_fw=method.ci_low_fw,
        ci_high_fw=method.ci_high_fw,
        p_value=method.p_value,
        statistic=method.statistic,
        n_draws=method.n_draws,
        note=method.note,
    )


def panel_counts(p: Panel) -> dict:
    """Return the counts of a result record: observations, units, treated units, clusters."""
    return {
        "n_obs": p.n_obs,
        "n_units": p.n_units,
        "n_treated": int((p.cohort > 0).sum()),
        "n_clusters": int(p.cluster.max()) + 1,
    }


def n_treated_clusters(p: Panel) -> int:
    return len(np.unique(p.cluster[np.isin(p.unit, p.treated_units)]))


def _cr1_se(p: Panel, fit, j: int) -> float:
    """Return the CR1 SE of coefficient ``j``, NaN with fewer than 2 treated clusters.

    CR1 SE of coefficient ``j``; NaN with fewer than 2 treated clusters, where a cluster-
    robust variance cannot be estimated (the ``std_error`` column says so with CR1's row).
    """
    return float(fit.se()[j]) if n_treated_clusters(p) >= 2 else np.nan


def _cr1_method(p: Panel, fit, j: int, s: Settings, family_alpha: float | None) -> TestResult:
    """CR1 for coefficient ``j``, or why it cannot apply (fewer than 2 treated clusters)."""
    if n_treated_clusters(p) < 2:
        return TestResult.not_applicable("CR1", "fewer than 2 treated clusters")
    return cr1(fit, j, s.alpha, family_alpha)


def cluster_methods(
    p: Panel, design, fit, j: int, s: Settings, family_alpha: float | None = None
) -> list[TestResult]:
    """Test coefficient ``j`` with CR1 and the WCR bootstrap.

    CR1 and the WCR bootstrap for coefficient ``j`` (each says when it cannot apply); with
    ``family_alpha`` each also gives its 1 − family_alpha interval.
    """
    wcr = wild_cluster_bootstrap(
        design,
        j,
        n_draws=s.bootstrap_draws,
        seed=s.bootstrap_seed,
        alpha=s.alpha,
        weights=s.bootstrap_weights,
        n_treated_clusters=n_treated_clusters(p),
        family_alpha=family_alpha,
    )
    return [_cr1_method(p, fit, j, s, family_alpha), wcr]


def infer_twfe(
    p: Panel,
    s: Settings,
    base: dict,
    term: str = "treated_post",
    ri: bool = True,
    family_alpha: float | None = None,
) -> list[dict]:
    """Estimate the static TWFE coefficient with every inference method.

    Static TWFE coefficient with CR1, WCR bootstrap and (optionally) RI side by side; with
    ``family_alpha`` every method also gives its 1 − family_alpha interval.
    """
    design = twfe_design(p)
    fit = ols(design)
    est, se = float(fit.beta[0]), _cr1_se(p, fit, 0)
    base = {**base, **panel_counts(p)}
    methods = cluster_methods(p, design, fit, 0, s, family_alpha)
    if ri:
        methods.append(
            randomization_inference(
                p,
                n_draws=s.ri_draws,
                seed=s.ri_seed,
                alpha=s.alpha,
                family_alpha=family_alpha,
            )
        )
    return [result_row(base, term, m, est, se) for m in methods]


def infer_honest(
    beta: np.ndarray, vcov: np.ndarray, es: list[int], s: Settings, base: dict, source: str
) -> list[dict]:
    """Compute HonestDiD robust CIs for the mean post-programme effect.

    HonestDiD robust CIs for the mean post-programme effect of the event study ``beta``
    (event times ``es``, reference −1 omitted) with covariance ``vcov`` (main comparison only);
    ``source`` says which event study it is.
    """
    from linkseval.honest import honest_sensitivity, rm_unavailable

    h = s.honest
    relative_mbar = h["relative_mbar"]
    res = honest_sensitivity(
        beta,
        vcov,
        es,
        smoothness_m=h["smoothness_m"],
        relative_mbar=relative_mbar,
        alpha=s.alpha,
        grid_points=int(h["grid_points"]),
    )
    post = [j for j, e in enumerate(es) if e >= 0]
    mean_post = float(np.mean(np.asarray(beta)[post]))
    note = f"robust CI for the mean post-programme effect ({source})"
    rows = []
    for r in res.itertuples():
        where = {"estimator": "honestdid", "variant": r.restriction}
        t = TestResult(f"HonestDiD {r.method}", np.nan, r.ci_low, r.ci_high, note=note)
        bound = None if r.restriction == "original" else float(r.bound)
        rows.append(result_row({**base, **where}, "mean_post", t, mean_post, np.nan, bound=bound))
    why = rm_unavailable(sum(e < 0 for e in es), sum(e >= 0 for e in es))
    if why is not None:  # honest_sensitivity leaves relative magnitudes out: say so
        where = {"estimator": "honestdid", "variant": "relative_magnitude"}
        for mbar in relative_mbar:
            t = TestResult.not_applicable("HonestDiD C-LF", f"{why} ({source})")
            rows.append(
                result_row({**base, **where}, "mean_post", t, mean_post, np.nan, bound=float(mbar))
            )
    return rows


HONEST_STAGGERED = (
    "Callaway-Sant'Anna dynamic effects on a universal base period (the year before each "
    "cohort's start), never-treated controls, influence-function covariance clustered by "
    "practice: with staggered starts the TWFE event study also uses already-treated practices "
    "as controls, so its coefficients are not clean inputs"
)


def honest_rows(p: Panel, fit, es: list[int], s: Settings, base: dict) -> list[dict]:
    """Run HonestDiD on the event study of a panel.

    HonestDiD on the TWFE event study (one cohort) or, with staggered starts, on the
    Callaway-Sant'Anna universal-base dynamic effects.
    """
    if len(np.unique(p.cohort[p.cohort > 0])) > 1:
        from linkseval.staggered import cs_event_study

        es_cs, theta, V = cs_event_study(p)
        if not any(e < -1 for e in es_cs) or not any(e >= 0 for e in es_cs):
            return []
        return infer_honest(theta, V, es_cs, s, base, HONEST_STAGGERED)
    k = len(es)
    return infer_honest(fit.beta[:k], fit.vcov[:k, :k], es, s, base, "event study, CR1 vcov")


def infer_event_study(p: Panel, s: Settings, base: dict, honest: bool = False) -> list[dict]:
    """Estimate the event study with every inference method and its pre-trend tests.

    Event-study coefficients (reference: the year before the start) with CR1, WCR and RI
    (p-value); joint tests of the pre-programme coefficients where there are ≥ 2 pre years:
    CR1 Wald F and a randomization Wald test.
    """
    design, es = event_study_design(p)
    if not es:
        return []
    fit = ols(design)
    base = {**base, **panel_counts(p)}
    rows = []
    ri_per, ri_joint = ri_event_study(p, es, n_draws=s.ri_draws, seed=s.ri_seed)
    wcr = wild_cluster_bootstrap_terms(  # every event time from one set of draws
        design,
        np.eye(design.k)[: len(es)],
        n_draws=s.bootstrap_draws,
        seed=s.bootstrap_seed,
        alpha=s.alpha,
        weights=s.bootstrap_weights,
        n_treated_clusters=n_treated_clusters(p),
    )
    for j, e in enumerate(es):
        est, se = float(fit.beta[j]), _cr1_se(p, fit, j)
        for m in [_cr1_method(p, fit, j, s, None), wcr[j], ri_per[j]]:
            rows.append(result_row(base, "event", m, est, se, event_time=e))
    pre = [j for j, e in enumerate(es) if e < -1]
    if pre and n_treated_clusters(p) < 2:
        rows.append(
            result_row(
                base,
                "pretrend_joint",
                TestResult.not_applicable(
                    "CR1", f"{n_treated_clusters(p)} treated cluster(s); CR1 needs 2"
                ),
                np.nan,
                np.nan,
            )
        )
        if ri_joint is not None:
            rows.append(result_row(base, "pretrend_joint", ri_joint, np.nan, np.nan))
    elif pre:
        b = fit.beta[pre]
        V = fit.vcov[np.ix_(pre, pre)]
        q = len(pre)
        F = float(b @ np.linalg.solve(V, b)) / q
        df2 = design.n_clusters - 1
        pv = float(special.fdtrc(q, df2, max(F, 0.0)))  # F survival function (1 at F <= 0)
        res = TestResult(
            "CR1",
            pv,
            np.nan,
            np.nan,
            statistic=F,
            note=f"H0: all {q} pre-programme coefficients = 0; F({q}, {df2})",
        )
        rows.append(result_row(base, "pretrend_joint", res, np.nan, np.nan))
        if ri_joint is not None:
            rows.append(result_row(base, "pretrend_joint", ri_joint, np.nan, np.nan))
        if honest and s.honest["enabled"]:
            rows += honest_rows(p, fit, es, s, base)
    else:
        rows.append(
            result_row(
                base,
                "pretrend_joint",
                TestResult.not_applicable("CR1", "fewer than 2 pre-programme years"),
                np.nan,
                np.nan,
            )
        )
    return rows


STAGGERED_NOTE = (
    "Callaway-Sant'Anna: each cohort compared with never-treated practices only; unlike TWFE, "
    "already-treated practices never act as controls, so changing effects cannot get negative "
    "weights (Goodman-Bacon 2021). Unweighted; influence-function SEs clustered by practice; "
    "WCR bootstrap on the stacked cell regression; RI permutes the cohorts."
)


def infer_staggered(p: Panel, s: Settings, base: dict) -> list[dict]:
    """Estimate Callaway-Sant'Anna effects with every inference method.

    Callaway-Sant'Anna ATT(g,t) and aggregations, each with the analytic influence-function
    inference, the WCR bootstrap (on the stacked regression) and RI side by side.
    """
    from linkseval.staggered import callaway_santanna, cs_randomization, cs_wild_bootstrap

    cs = callaway_santanna(p, alpha=s.alpha)
    base = {**base, **panel_counts(p)}
    n_tc = n_treated_clusters(p)
    wcr = cs_wild_bootstrap(
        p,
        n_draws=s.bootstrap_draws,
        seed=s.bootstrap_seed,
        alpha=s.alpha,
        weights=s.bootstrap_weights,
        n_treated_clusters=n_tc,
    )
    ri = cs_randomization(p, n_draws=s.ri_draws, seed=s.ri_seed, alpha=s.alpha)
    rows = []
    for r in cs.itertuples():
        se = r.std_error if n_tc >= 2 else np.nan
        if n_tc < 2:  # the influence-function variance of one treated cluster's mean is 0
            res = TestResult.not_applicable(r.method, f"{n_tc} treated cluster(s); needs 2")
        else:
            res = TestResult(
                r.method,
                r.p_value,
                r.ci_low,
                r.ci_high,
                statistic=r.statistic,
                note=STAGGERED_NOTE if r.term == "simple" else "",
            )
        where = {c: getattr(r, c) for c in ("event_time", "cohort", "period")}
        rows.append(result_row(base, r.kind, res, r.estimate, se, **where))
        for other in (wcr.get(r.term), ri.get(r.term)):  # keyed by staggered's term name
            if other is not None:
                rows.append(result_row(base, r.kind, other, r.estimate, se, **where))
    return rows


def baseline_year(frame: pd.DataFrame, s: Settings) -> int:
    """Return the configured baseline year, else the last year before the first Links start."""
    if s.baseline_year is not None:
        return int(s.baseline_year)
    first = frame.loc[frame["cohort"] > 0, "cohort"].min()
    years = sorted(frame["year"].unique())
    pre = [y for y in years if y < first]
    if not pre:
        raise ConfigError("no survey year before the first Links start: set analysis.baseline_year")
    return int(pre[-1])


def outcome_frame(frame: pd.DataFrame, s: Settings, outcome: str) -> tuple[pd.DataFrame, int]:
    """Prepare one outcome's rows for estimation.

    One outcome's rows with the modelled score ``y`` (``analysis.scale``) and each practice's
    ``baseline_outcome`` (matching uses it), and the baseline year.
    """
    frame = frame[frame["outcome"] == outcome].copy()
    frame["y"] = frame[s.scale]
    base_year = baseline_year(frame, s)
    b = frame[frame["year"] == base_year][["practice_code", "y"]]
    frame = frame.merge(b.rename(columns={"y": "baseline_outcome"}), on="practice_code", how="left")
    return frame, base_year


def comparison_panel(df: pd.DataFrame, s: Settings, dose: str | None = None) -> Panel:
    """Return the :class:`Panel` of a comparison frame (units, clusters, weights as configured)."""
    return panel_from_frame(
        df,
        unit="unit",
        time="year",
        cohort="cohort",
        outcome="y",
        weights=s.weights,
        cluster="cluster",
        dose=dose,
    )


def leave_out_panel(df: pd.DataFrame, p: Panel, s: Settings, i: int) -> Panel:
    """Return the comparison panel without treated unit ``i``.

    The comparison panel without treated unit ``i``: where units are practices (one row per
    practice-year), :meth:`Panel.subset` of ``p`` (the same arrays and codes as rebuilding it from
    the frame, without pandas), else rebuilt from ``df``.
    """
    code = p.unit_labels[i]
    if (df["unit"] == df["practice_code"]).all():
        return p.subset(p.unit != i)
    return comparison_panel(df[df["practice_code"] != code], s)


def estimate_outcome(
    frame: pd.DataFrame,
    s: Settings,
    instrument: str,
    outcome: str,
    comparisons: list[str] | None = None,
) -> pd.DataFrame:
    """Estimate one outcome against every comparison group, with every estimator and method.

    Every comparison group (or those named in ``comparisons``, in config order) gets the static
    TWFE estimate, the 2×2 DiDs (a single cohort) or Callaway-Sant'Anna (staggered starts, not for
    ``all_including_treated``) and the event study. The main comparison also gets, where the
    settings ask for them, HonestDiD, leave-one-out rows (more than 2 treated practices) and dose
    rows (with CLP absence data). Row-binding the results for each comparison on its own gives
    exactly the all-comparisons table.

    Parameters
    ----------
    frame : DataFrame
        The instrument's practice-year panel (:func:`linkseval.score.practice_year_panel`).
    s : Settings
        The analysis and inference settings.
    instrument : str
        The instrument, carried into every row.
    outcome : str
        The outcome to estimate.
    comparisons : list of str, optional
        Only these comparison groups (default: all of ``s.comparisons``); an unknown name is a
        :class:`~linkseval.errors.ConfigError`.

    Returns
    -------
    DataFrame
        The result rows (:mod:`linkseval.results`), leave-one-out rows withheld where the left-out
        practice has a suppressed practice-year.
    """
    if comparisons is not None:
        unknown = sorted(set(comparisons) - set(s.comparisons))
        if unknown:
            known = list(s.comparisons)
            raise ConfigError(f"unknown comparison group(s) {unknown}; known: {known}")
    frame, base_year = outcome_frame(frame, s, outcome)
    rows: list[dict] = []
    cohorts = sorted(frame.loc[frame["cohort"] > 0, "cohort"].unique())
    for name, rule in s.comparisons.items():
        if comparisons is not None and name not in comparisons:
            continue
        df = comparison_frame(frame, rule, base_year)
        p = comparison_panel(df, s)
        meta = {"instrument": instrument, "outcome": outcome, "comparison": name}
        staggered = len(cohorts) > 1
        rows += infer_twfe(
            p, s, {**meta, "estimator": "twfe"}, family_alpha=s.family_alpha(outcome)
        )
        if not staggered:
            for post in [y for y in p.periods if y >= cohorts[0]]:
                sub = two_by_two(p, base_year, int(post))
                rows += infer_twfe(sub, s, {**meta, **did2x2_variant(base_year, int(post))})
        rows += infer_event_study(
            p, s, {**meta, "estimator": "event_study"}, honest=name == s.main_comparison
        )
        if staggered and rule.rule != "all_including_treated":
            rows += infer_staggered(p, s, {**meta, "estimator": "callaway_santanna"})
        if name == s.main_comparison and s.leave_one_out and len(p.treated_units) > 2:
            for i in p.treated_units:
                code = p.unit_labels[i]
                q = leave_out_panel(df, p, s, i)
                rows += infer_twfe(q, s, {**meta, "estimator": "leave_out", "variant": code})
        if name == s.main_comparison and s.dose and "clp_absent_months" in df:
            d = df.assign(dose=1 - df["clp_absent_months"].clip(0, 12) / 12)
            q = comparison_panel(d, s, dose="dose")
            dose = {"estimator": "dose", "variant": "clp_presence"}
            rows += infer_twfe(q, s, {**meta, **dose}, ri=False)
    return withhold_leave_out(result_frame(rows), frame)


def did2x2_variant(base: int, post: int) -> dict:
    """Return the record fields of the 2×2 DiD of ``base`` against ``post``."""
    return {"estimator": "did2x2", "variant": f"{base}-{post}", "base_period": base, "period": post}


STATISTICS = RESULT_STATISTICS


def withhold_leave_out(out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Blank leave-one-out rows whose left-out practice has a suppressed practice-year.

    A practice-year is suppressed with fewer respondents than ``scoring.min_respondents``. The
    full estimate minus such a row would reveal that practice's own change, small cells
    included; the row stays, with its counts and a note saying why it shows no numbers.

    Parameters
    ----------
    out : DataFrame
        Estimate rows (``TIDY_COLUMNS``).
    frame : DataFrame
        The outcome's practice-year panel rows, with ``practice_code`` and ``suppressed``.

    Returns
    -------
    DataFrame
        ``out`` with those rows' statistics set to NaN.
    """
    if "suppressed" not in frame or not frame["suppressed"].any():
        return out
    small = set(frame.loc[frame["suppressed"].astype(bool), "practice_code"])
    hide = ((out["estimator"] == "leave_out") & out["variant"].isin(small)).to_numpy()
    if not hide.any():
        return out
    out = out.copy()
    out.loc[hide, STATISTICS] = np.nan
    out.loc[hide, "note"] = (
        "not shown: the left-out practice has a practice-year below the disclosure minimum, "
        "which the difference from the full estimate would reveal"
    )
    return out


# --------------------------------------------------------------------------- gather, adjust


def adjust_family(results: pd.DataFrame, family: list[str]) -> pd.DataFrame:
    """Add Holm and Benjamini–Hochberg p-values across the family of outcomes.

    The p-values are adjusted across the outcomes in ``family`` (the themes), separately for each
    estimate of the outcomes (:data:`linkseval.results.KEY` but the outcome: instrument ×
    comparison × estimator × variant × term × ... × method).

    Parameters
    ----------
    results : DataFrame
        Result rows of all outcomes.
    family : list of str
        The outcomes adjusted together.

    Returns
    -------
    DataFrame
        A copy of ``results`` with ``p_holm`` and ``p_bh`` (NaN outside the family).
    """
    from linkseval.inference import adjust_pvalues

    out = results.copy()
    out["p_holm"] = np.nan
    out["p_bh"] = np.nan
    fam = out["outcome"].isin(family)
    keys = [k for k in KEY if k != "outcome"]
    for _, idx in out[fam].groupby(keys, sort=False, dropna=False).groups.items():
        p = out.loc[idx, "p_value"].to_numpy(dtype=float)
        out.loc[idx, "p_holm"] = adjust_pvalues(p, "holm")
        out.loc[idx, "p_bh"] = adjust_pvalues(p, "fdr_bh")
    return out


def headline(results: pd.DataFrame, main_comparison: str) -> pd.DataFrame:
    """Return the headline: static TWFE vs the main comparison, one row per outcome × method.

    Parameters
    ----------
    results : DataFrame
        Result rows of all outcomes.
    main_comparison : str
        The config key of the main comparison group.

    Returns
    -------
    DataFrame
        The ``twfe`` rows of term ``treated_post`` against ``main_comparison``.
    """
    h = results[
        (results["comparison"] == main_comparison)
        & (results["estimator"] == "twfe")
        & (results["term"] == "treated_post")
    ]
    cols = [
        "instrument",
        "outcome",
        "method",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "ci_low_fw",
        "ci_high_fw",
        "p_value",
        "p_holm",
        "p_bh",
        "n_units",
        "n_treated",
        "n_draws",
        "note",
    ]
    return h[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- generic command

GENERIC_ESTIMATORS = ("twfe", "event_study", "did2x2", "cs")


def did_generic(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    outcome: str,
    weights: str | None = None,
    cluster: str | None = None,
    estimator: str = "twfe",
    settings: Settings | None = None,
    base: int | None = None,
) -> pd.DataFrame:
    """Any unit × period panel: estimates with CR1, WCR bootstrap and RI side by side.

    Methods that cannot apply (e.g. one treated unit: no cluster-robust or bootstrap inference)
    are reported as such in ``note`` with NaN numbers.
    """
    s = settings or Settings()
    p = panel_from_frame(
        df, unit=unit, time=time, cohort=cohort, outcome=outcome, weights=weights, cluster=cluster
    )
    meta = {"instrument": "", "outcome": outcome, "comparison": "never_treated"}
    if len(p.treated_units) == 0:
        raise ConfigError(f"no treated unit: column {cohort!r} is 0 or blank everywhere")
    if estimator == "twfe":
        rows = infer_twfe(p, s, {**meta, "estimator": "twfe"})
    elif estimator == "event_study":
        rows = infer_event_study(p, s, {**meta, "estimator": "event_study"})
    elif estimator == "cs":
        if not (p.cohort == 0).any():
            raise ConfigError("cs needs never-treated units (cohort 0 or blank) as controls")
        rows = infer_staggered(p, s, {**meta, "estimator": "callaway_santanna"})
    elif estimator == "did2x2":
        first = int(p.cohort[p.cohort > 0].min())
        if len(np.unique(p.cohort[p.cohort > 0])) > 1:
            raise ConfigError("did2x2 needs a single treated cohort; use twfe or event_study")
        pre = [t for t in p.periods if t < first]
        b = base if base is not None else (int(pre[-1]) if pre else None)
        if b is None:
            raise ConfigError("no period before the first treated period for the 2x2 baseline")
        rows = []
        for post in [int(t) for t in p.periods if t >= first]:
            rows += infer_twfe(two_by_two(p, b, post), s, {**meta, **did2x2_variant(b, post)})
    else:
        raise ConfigError(f"unknown estimator {estimator!r}; choose from {GENERIC_ESTIMATORS}")
    return result_frame(rows)
