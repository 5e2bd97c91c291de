"""Respondent-level multilevel cross-check of the practice-level DiD (statsmodels MixedLM).

Model, on the % scale: y_ipt = β·D_pt + γ·Links_p + year_t + u_p + v_pt + e_ipt, with a practice
random intercept u_p and a practice-year variance component v_pt, fitted by REML. β should be
close to the practice-level TWFE estimate; its model-based SE assumes the random-effects
structure is right (it is not robust to few treated clusters).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from linkseval.codebook import Instrument
from linkseval.score import outcome_scale, to_percent


def multilevel_did(
    scores: pd.DataFrame,
    cohorts: pd.DataFrame,
    instrument: Instrument,
    outcome: str,
    *,
    scale: str = "percent",
    percent_formula: str = "mean_over_max",
    alpha: float = 0.05,
) -> dict:
    """Fit the model for one outcome; ``cohorts`` maps practice_code -> cohort (0 = never)."""
    import statsmodels.formula.api as smf

    d = scores[["practice_code", "year", outcome]].dropna()
    d = d.merge(cohorts[["practice_code", "cohort"]], on="practice_code", how="inner")
    lo, hi = outcome_scale(instrument, outcome)
    y = d[outcome].to_numpy(dtype=float)
    d = d.assign(
        y=to_percent(y, lo, hi, percent_formula) if scale == "percent" else y,
        links=(d["cohort"] > 0).astype(float),
        D=((d["cohort"] > 0) & (d["year"] >= d["cohort"])).astype(float),
    ).sort_values(["practice_code", "year"], kind="stable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm(
            "y ~ D + links + C(year)",
            d,
            groups=d["practice_code"],
            re_formula="1",
            vc_formula={"practice_year": "0 + C(year)"},
        )
        fit = model.fit(reml=True, method="lbfgs")
    est, se = float(fit.params["D"]), float(fit.bse["D"])
    z = stats.norm.ppf(1 - alpha / 2)
    return {
        "estimate": est,
        "std_error": se,
        "ci_low": est - z * se,
        "ci_high": est + z * se,
        "p_value": float(2 * stats.norm.sf(abs(est / se))),
        "statistic": est / se,
        "n_obs": int(len(d)),
        "n_units": int(d["practice_code"].nunique()),
        "n_treated": int(d.loc[d["cohort"] > 0, "practice_code"].nunique()),
        "n_clusters": int(d["practice_code"].nunique()),
        "converged": bool(fit.converged),
        "var_practice": float(np.asarray(fit.cov_re)[0, 0]),
        "var_practice_year": float(np.asarray(fit.vcomp)[0]),
        "var_residual": float(fit.scale),
    }
