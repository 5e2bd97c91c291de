"""Sensitivity of the event-study estimate to violations of parallel trends (HonestDiD).

Rambachan & Roth (2023) bound how far post-programme trend differences may depart from the
pre-programme ones — smoothness (Δ^SD(M): the slope may change by at most M per period) and
relative magnitudes (Δ^RM(M̄): post violations at most M̄ times the largest pre violation) — and
give confidence sets valid under each bound. We call moderndid's port of the R package on an
event study and its covariance (the caller chooses: TWFE with CR1 for one cohort, Callaway-
Sant'Anna universal-base dynamic effects for staggered starts); the target is the average
post-programme effect. Needs at least two pre-programme periods (one besides the reference year).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def honest_sensitivity(
    beta: np.ndarray,
    sigma: np.ndarray,
    event_times: list[int],
    *,
    smoothness_m: list[float],
    relative_mbar: list[float],
    alpha: float = 0.05,
    grid_points: int = 100,
) -> pd.DataFrame:
    """Robust CIs for the mean post effect under each bound, plus the original CI.

    ``beta``/``sigma``: event-study coefficients (reference −1 omitted) and covariance, ordered
    as ``event_times``. Returns rows: restriction, bound, ci_low, ci_high, method.
    """
    from moderndid.didhonest import (
        construct_original_cs,
        create_sensitivity_results_rm,
        create_sensitivity_results_sm,
    )

    order = np.argsort(event_times)
    et = np.asarray(event_times)[order]
    b, S = np.asarray(beta)[order], np.asarray(sigma)[np.ix_(order, order)]
    n_pre, n_post = int((et < 0).sum()), int((et >= 0).sum())
    if n_pre < 1 or n_post < 1:
        raise ValueError("HonestDiD needs at least one pre and one post coefficient")
    l_vec = np.ones(n_post) / n_post
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orig = construct_original_cs(b, S, n_pre, n_post, l_vec=l_vec, alpha=alpha)
        rows.append(("original (parallel trends)", 0.0, orig.lb, orig.ub, "normal"))
        if smoothness_m:
            sm = create_sensitivity_results_sm(
                b,
                S,
                n_pre,
                n_post,
                m_vec=list(smoothness_m),
                l_vec=l_vec,
                alpha=alpha,
                grid_points=grid_points,
            )
            for r in sm.iter_rows(named=True):
                rows.append(("smoothness", float(r["m"]), r["lb"], r["ub"], r["method"]))
        if relative_mbar and n_pre >= 1:
            rm = create_sensitivity_results_rm(
                b,
                S,
                n_pre,
                n_post,
                m_bar_vec=list(relative_mbar),
                l_vec=l_vec,
                alpha=alpha,
                grid_points=grid_points,
            )
            for r in rm.iter_rows(named=True):
                rows.append(("relative_magnitude", float(r["Mbar"]), r["lb"], r["ub"], r["method"]))
    return pd.DataFrame(rows, columns=["restriction", "bound", "ci_low", "ci_high", "method"])
