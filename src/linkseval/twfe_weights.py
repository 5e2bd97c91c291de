"""The weights of the static TWFE coefficient (de Chaisemartin & D'Haultfœuille 2020).

Under parallel trends the TWFE coefficient is a weighted sum of the treated unit-periods'
effects, β = Σ w_it Δ_it, with w_it = ε_it D_it ω_it / Σ ε D ω: ε is the residual of the
treatment D on unit and period effects (weights ω, the regression's analytic weights). With
staggered starts some weights are negative (early cohorts in late periods serve as controls),
so β can have the sign opposite to every unit-period's effect. The summary measures are those
of R ``TwoWayFEWeights::twowayfeweights(type = "feTR")``: the number and sum of positive and
negative weights, σ_fe = |β| / sd(W) (their Corollary 1(i): the smallest standard deviation of
the effects across treated unit-periods compatible with the observed β and an average effect
on the treated of 0) and, with negative weights, σ_sign (Corollary 1(ii): the smallest standard
deviation compatible with β having the opposite sign to every treated unit-period's effect).
σ_fe ≤ σ_sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkseval.did import Panel, demean_by_unit, period_dummies

# |weight| below this counts as 0 (as R's limit_sensitivity)
LIMIT = 1e-10


@dataclass(frozen=True)
class TWFEWeights:
    """The TWFE coefficient's weights on the treated unit-periods and their summary measures."""

    beta: float  # the static TWFE coefficient
    cells: pd.DataFrame  # treated unit-periods: unit, cohort, period, weight
    n_positive: int
    n_negative: int
    sum_positive: float
    sum_negative: float
    sigma_fe: float  # |β| / sd(W): the least SD of effects with β as observed and an ATT of 0
    sigma_sign: float  # the least SD of effects with β of the opposite sign to every effect
    # (NaN without negative weights)

    @property
    def n_treated_cells(self) -> int:
        """Return the number of treated unit-periods."""
        return len(self.cells)

    def by_cohort_period(self) -> pd.DataFrame:
        """Return the weights summed per cohort and period (with the number of units)."""
        return (
            self.cells.groupby(["cohort", "period"], sort=True)
            .agg(weight=("weight", "sum"), n_units=("unit", "size"))
            .reset_index()
        )


def twfe_weights(p: Panel, treatment: np.ndarray | None = None) -> TWFEWeights:
    """Compute the weights of the static TWFE coefficient on the treated unit-periods.

    ``treatment``: the treatment per row (default: the panel's, 1[t ≥ cohort]; any binary
    treatment, switching on and off too, as in R).

    ``feTR`` of de Chaisemartin & D'Haultfœuille (2020), with the panel's analytic weights as
    R's ``weights``: P_it = ω_it / Σω, the natural weights P_it D_it / E[D], W_it = ε_it E[D] /
    E[ε D] and the weight W_it · P_it D_it / E[D]; sd(W) about its natural-weight mean with the
    M/(M − 1) correction (M treated unit-periods).
    """
    D = p.treatment() if treatment is None else np.asarray(treatment, dtype=float)
    if not (D > 0).any():
        raise ValueError("no treated unit-period: the TWFE coefficient has no weights")
    w = p.w / p.w.sum()  # P_it
    T, _ = period_dummies(p)
    Dt = demean_by_unit(p, D[:, None])[:, 0]
    if T.size:  # residual of D on unit and period effects (weighted, within unit)
        Tt = demean_by_unit(p, T)
        sw = np.sqrt(p.w)
        coef, *_ = np.linalg.lstsq(Tt * sw[:, None], Dt * sw, rcond=None)
        eps = Dt - Tt @ coef
    else:
        eps = Dt
    mean_d = float(np.sum(w * D))
    denom = float(np.sum(w * eps * D))
    W = eps * mean_d / denom
    nat = w * D / mean_d
    weight = W * nat
    weight = np.where(np.abs(weight) < LIMIT, 0.0, weight)
    # β by Frisch–Waugh–Lovell: y on the residualised treatment (ε ⟂ unit and period effects)
    beta = float(np.sum(p.w * eps * p.y) / np.sum(p.w * eps * D))
    treated = nat != 0
    M = int(treated.sum())
    W_mean = float(np.sum(nat * W))
    sd = np.sqrt(np.sum(nat * (W - W_mean) ** 2)) * np.sqrt(M / (M - 1)) if M > 1 else np.nan
    pos, neg = weight > 0, weight < 0
    sum_neg = float(weight[neg].sum())
    cells = pd.DataFrame(
        {
            "unit": p.unit_labels[p.unit[treated]],
            "cohort": p.cohort[p.unit[treated]],
            "period": p.time[treated],
            "weight": weight[treated],
        }
    )
    return TWFEWeights(
        beta=beta,
        cells=cells.sort_values(["cohort", "unit", "period"], kind="stable", ignore_index=True),
        n_positive=int(pos.sum()),
        n_negative=int(neg.sum()),
        sum_positive=float(weight[pos].sum()),
        sum_negative=sum_neg,
        sigma_fe=abs(beta) / sd if sd > 0 else np.nan,
        sigma_sign=_sigma_sign(beta, W, nat, weight, p) if sum_neg < 0 else np.nan,
    )


def _sigma_sign(beta: float, W, nat, weight, p: Panel) -> float:
    """Return the least SD of the effects under which β has the opposite sign to all of them.

    R ``twowayfeweights``' ``sensibility2``: cells with a non-zero weight sorted by W; with
    P_k, S_k and T_k the cumulative natural weights, weights and natural-weighted W² from the
    smallest W, the measure of cell k is |β| / √(T_k + S_k² / (1 − P_k)), taken at the first
    cell (from the largest W) from which W_k < −S_k / (1 − P_k) holds on.
    """
    keep = weight != 0
    W, nat, wt = W[keep], nat[keep], weight[keep]
    unit, time = p.unit[keep], p.time[keep]
    # ascending W (ties: unit, then period, descending) for the cumulative sums
    up = np.lexsort((-time, -unit, W))
    P = np.cumsum(nat[up])
    S = np.cumsum(wt[up])
    Tk = np.cumsum((nat * W * W)[up])
    # then descending W (ties ascending), as R reorders before its measure and indicator
    down = np.lexsort((time[up], unit[up], -W[up]))
    P, S, Tk, Wd = P[down], S[down], Tk[down], W[up][down]
    with np.errstate(divide="ignore", invalid="ignore"):
        measure = abs(beta) / np.sqrt(Tk + S * S / (1 - P))
        ind = (Wd < -S / (1 - P)).astype(int)
    ind[0] = 0
    lag = np.concatenate([[-1], ind[:-1]])
    total = int(np.maximum(ind, lag).sum())
    return float(measure[len(Wd) - total]) if total else np.nan


SUMMARY_COLUMNS = [
    "instrument",
    "outcome",
    "comparison",
    "beta",
    "n_treated_cells",
    "n_positive",
    "n_negative",
    "sum_positive",
    "sum_negative",
    "sigma_fe",
    "sigma_sign",
]


def weights_tables(
    frame: pd.DataFrame, s, instrument: str, outcome: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the main comparison's TWFE weights of one outcome: per cohort × period, and summary.

    The panel is the headline's static TWFE panel (:func:`linkseval.scatter.main_comparison_panel`);
    the cells are summed over the practices of a cohort and period (no practice's own weight is
    published), with the number of practices.
    """
    from linkseval.scatter import main_comparison_panel

    p = main_comparison_panel(frame, s, instrument, outcome)
    res = twfe_weights(p)
    key = {"instrument": instrument, "outcome": outcome, "comparison": s.main_comparison}
    cells = res.by_cohort_period()
    for i, (k, v) in enumerate(key.items()):
        cells.insert(i, k, v)
    summary = pd.DataFrame(
        [
            {
                **key,
                "beta": res.beta,
                "n_treated_cells": res.n_treated_cells,
                "n_positive": res.n_positive,
                "n_negative": res.n_negative,
                "sum_positive": res.sum_positive,
                "sum_negative": res.sum_negative,
                "sigma_fe": res.sigma_fe,
                "sigma_sign": res.sigma_sign,
            }
        ],
        columns=SUMMARY_COLUMNS,
    )
    return cells, summary
