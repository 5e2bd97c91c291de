"""Respondent-level multilevel cross-check of the practice-level DiD (statsmodels MixedLM).

Model, on the % scale: y_ipt = β·D_pt + γ·Links_p + year_t + u_p + v_pt + e_ipt, with a practice
random intercept u_p and a practice-year variance component v_pt, fitted by REML. β should be
close to the practice-level TWFE estimate; its model-based SE assumes the random-effects
structure is right (it is not robust to few treated clusters).

The model is statsmodels' ``MixedLM``; two things make it fast and reliable at national size:
the variance-component design is built directly (one indicator matrix per practice) instead of
``vc_formula``, which runs patsy once per practice; and the optimiser starts from ANOVA moment
estimates of the three variances instead of statsmodels' default (all ones), from which L-BFGS
stopped early at a lower REML likelihood on the default data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from linkseval.comparisons import PRACTICE_LEVEL_ONLY, as_comparison, members
from linkseval.data.codebook import Instrument
from linkseval.data.score import outcome_scale, to_percent
from linkseval.study import Comparison, section_defaults

# keyword defaults: the config schema's
_ANALYSIS, _SCORING = section_defaults("analysis"), section_defaults("scoring")


def comparison_practices(
    register: pd.DataFrame, rule: Comparison | dict
) -> tuple[pd.DataFrame, str]:
    """Return the register rows for the respondent-level model.

    Register rows (practice_code, cohort) for the respondent-level model under comparison
    ``rule`` (:mod:`linkseval.comparisons`): the Links practices plus that rule's practices
    (``never_treated``: all never-treated; ``deep_end``: the Deep End ones). ``matched`` needs
    practice-level outcome data and ``all_including_treated`` duplicates the Links practices,
    neither of which a respondent model can take: they use all never-treated practices and the
    returned note says so.
    """
    c = as_comparison(rule)
    if c.rule in PRACTICE_LEVEL_ONLY:
        c = as_comparison({"rule": "never_treated"})
        note = (
            f"comparison rule {as_comparison(rule).rule!r} cannot be applied to respondents: "
            "Links practices vs all other practices"
        )
    else:
        note = ""
    keep = (register["cohort"] > 0) | members(register, c)
    return register.loc[keep, ["practice_code", "cohort"]].reset_index(drop=True), note


def multilevel_frame(
    scores: pd.DataFrame,
    cohorts: pd.DataFrame,
    instrument: Instrument,
    outcome: str,
    *,
    scale: str = _ANALYSIS["scale"],
    percent_formula: str = _SCORING["percent_formula"],
) -> pd.DataFrame:
    """Respondent rows with ``y``, ``D`` (treated and post), ``links`` and ``cohort``, sorted."""
    d = scores[["practice_code", "year", outcome]].dropna()
    d = d.merge(cohorts[["practice_code", "cohort"]], on="practice_code", how="inner")
    lo, hi = outcome_scale(instrument, outcome)
    y = d[outcome].to_numpy(dtype=float)
    d = d.assign(
        y=to_percent(y, lo, hi, percent_formula) if scale == "percent" else y,
        links=(d["cohort"] > 0).astype(float),
        D=((d["cohort"] > 0) & (d["year"] >= d["cohort"])).astype(float),
    )
    return d.sort_values(["practice_code", "year"], kind="stable").reset_index(drop=True)


def moment_start(d: pd.DataFrame) -> tuple[float, float, float]:
    """ANOVA moment estimates (practice, practice-year, residual variance) from cell means.

    Residual: pooled within-cell variance. Practice-year: variance of cell means around their
    practice mean (after year means), less the residual's share. Practice: variance of practice
    means less the practice-year share. Floors at 1% of the residual keep the start interior.
    """
    cell = d.groupby(["practice_code", "year"], sort=True)["y"].agg(["mean", "var", "count"])
    cell = cell.reset_index()
    df_w = (cell["count"] - 1).sum()
    s2e = float(np.nansum(cell["var"] * (cell["count"] - 1)) / df_w) if df_w > 0 else 1.0
    r = cell["mean"] - cell.groupby("year")["mean"].transform("mean")
    by_p = r.groupby(cell["practice_code"])
    n_p = cell["practice_code"].nunique()
    within = float(((r - by_p.transform("mean")) ** 2).sum() / max(len(cell) - n_p, 1))
    s2v = max(within - s2e / float(cell["count"].mean()), 0.01 * s2e)
    t_bar = len(cell) / n_p
    s2u = max(float(by_p.mean().var()) - within / t_bar, 0.01 * s2e)
    return s2u, s2v, s2e


def mixedlm_model(d: pd.DataFrame):
    """Statsmodels MixedLM for the model above; fixed effects: const, D, links, year dummies."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    years = np.sort(d["year"].unique())
    year = d["year"].to_numpy()
    names = ["const", "D", "links", *(f"year[{y}]" for y in years[1:])]
    X = np.column_stack(
        [np.ones(len(d)), d["D"], d["links"], *((year == y).astype(float) for y in years[1:])]
    )
    groups = d["practice_code"].to_numpy()
    cuts = np.flatnonzero(groups[1:] != groups[:-1]) + 1  # d is sorted by practice
    mats = [(year[s:e, None] == years[None, :]).astype(float) for s, e in _spans(cuts, len(d))]
    cols = [f"year[{y}]" for y in years]
    vc = VCSpec(["practice_year"], [[cols] * len(mats)], [mats])
    exog = pd.DataFrame(X, columns=names)
    return MixedLM(d["y"].to_numpy(), exog, groups, exog_re=np.ones((len(d), 1)), exog_vc=vc)


def _spans(cuts: np.ndarray, n: int) -> zip:
    return zip(np.r_[0, cuts], np.r_[cuts, n], strict=True)


def fit_mixedlm(d: pd.DataFrame):
    """REML fit from moment start values (L-BFGS, then BFGS if it did not converge)."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    model = mixedlm_model(d)
    s2u, s2v, s2e = moment_start(d)
    start = MixedLMParams.from_components(
        fe_params=np.zeros(model.k_fe),
        cov_re=np.array([[s2u / s2e]]),  # statsmodels' covariance parameters are scaled by σ²_e
        vcomp=np.array([s2v / s2e]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(start_params=start, reml=True, method=["lbfgs", "bfgs"])


# what a fit that cannot be estimated reports (its row says why in ``error``)
NOT_ESTIMABLE = {
    k: np.nan
    for k in (
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
        "statistic",
        "reml_loglike",
        "var_practice",
        "var_practice_year",
        "var_residual",
    )
} | {"converged": False}


def multilevel_did(
    scores: pd.DataFrame,
    cohorts: pd.DataFrame,
    instrument: Instrument,
    outcome: str,
    *,
    scale: str = _ANALYSIS["scale"],
    percent_formula: str = _SCORING["percent_formula"],
    alpha: float = _ANALYSIS["alpha"],
) -> dict:
    """Fit the model for one outcome; ``cohorts`` maps practice_code -> cohort (0 = never).

    A model statsmodels cannot fit (a singular design or Hessian) is not an error of the run:
    the result holds NaN numbers and the reason in ``error``, for the row and the page to say so.
    """
    d = multilevel_frame(
        scores, cohorts, instrument, outcome, scale=scale, percent_formula=percent_formula
    )
    counts = {
        "n_obs": int(len(d)),
        "n_units": int(d["practice_code"].nunique()),
        "n_treated": int(d.loc[d["cohort"] > 0, "practice_code"].nunique()),
        "n_clusters": int(d["practice_code"].nunique()),
    }
    try:
        fit = fit_mixedlm(d)
        est, se = float(fit.params["D"]), float(fit.bse["D"])
        if not (np.isfinite(est) and np.isfinite(se) and se > 0):
            raise ValueError(f"estimate {est} with standard error {se}")
    except (np.linalg.LinAlgError, ValueError) as exc:  # e.g. a singular design or Hessian
        return {**NOT_ESTIMABLE, **counts, "error": f"{type(exc).__name__}: {exc}"}
    z = stats.norm.ppf(1 - alpha / 2)
    return {
        "estimate": est,
        "std_error": se,
        "ci_low": est - z * se,
        "ci_high": est + z * se,
        "p_value": float(2 * stats.norm.sf(abs(est / se))),
        "statistic": est / se,
        **counts,
        "converged": bool(fit.converged),
        "reml_loglike": float(fit.llf),
        "var_practice": float(np.asarray(fit.cov_re)[0, 0]),
        "var_practice_year": float(np.asarray(fit.vcomp)[0]),
        "var_residual": float(fit.scale),
    }


def multilevel_note(r: dict, caveat: str = "") -> str:
    """Return the result row's note for one :func:`multilevel_did` result.

    Parameters
    ----------
    r
        The result of :func:`multilevel_did`.
    caveat
        The note of :func:`comparison_practices` (empty if the comparison rule applied as is).

    Returns
    -------
    str
        ``not estimable: ...`` with the reason if the model could not be fitted; otherwise the
        model, the three variances, a convergence warning if the optimiser did not converge
        and the caveat.
    """
    if "error" in r:
        return f"not estimable: the respondent-level MixedLM could not be fitted ({r['error']})"
    return (
        "respondent-level MixedLM (REML): practice random intercept + practice-year variance "
        f"component; model-based SE; variances practice {r['var_practice']:.3g}, "
        f"practice-year {r['var_practice_year']:.3g}, residual {r['var_residual']:.3g}"
        + ("" if r["converged"] else "; WARNING: optimiser did not converge")
        + (f"; {caveat}" if caveat else "")
    )


def multilevel_row(instrument: str, outcome: str, comparison: str, note: str, r: dict) -> dict:
    """Return one result record (:func:`linkseval.results.make_row`) of the cross-check.

    Parameters
    ----------
    instrument, outcome
        What was estimated.
    comparison
        The comparison group's name (the main comparison).
    note
        The row's note (:func:`multilevel_note`).
    r
        The result of :func:`multilevel_did`: its statistics and counts go into the row.

    Returns
    -------
    dict
        A result record with estimator ``multilevel``, variant ``respondent``, term
        ``treated_post`` and method ``MixedLM (model-based)``.
    """
    from linkseval.results import COUNTS, STATISTICS, make_row

    return make_row(
        instrument=instrument,
        outcome=outcome,
        comparison=comparison,
        estimator="multilevel",
        variant="respondent",
        term="treated_post",
        method="MixedLM (model-based)",
        note=note,
        **{k: r[k] for k in STATISTICS + COUNTS if k in r},
    )
