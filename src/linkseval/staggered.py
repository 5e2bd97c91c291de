"""Heterogeneity-robust DiD for staggered adoption: Callaway & Sant'Anna (2021) group-time ATTs.

ATT(g, t) compares the change of cohort g (first treated in g) with the change of the
never-treated units between a base period and t: base g−1 for t ≥ g (post), t−1 for t < g
(pre-programme placebo cells, the "varying" base). Only units observed in both periods enter a
cell; no covariates; unweighted (each unit counts once, as in CS). Aggregations:

- ``simple``: post cells averaged with weights proportional to cohort size;
- ``dynamic``: θ(e) = cohort-size weighted mean of ATT(g, g+e) for each event time e.

Standard errors from the influence function, clustered by unit (the cohort-size weights are
treated as known). Randomization inference permutes the cohorts among all units, as for TWFE.
Unlike TWFE, already-treated units never serve as controls, so the estimate is a proper average
of cohort-time effects even when effects change over time (TWFE can weight some negatively).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from linkseval.did import Panel
from linkseval.inference import TestResult, chunk_seeds, sample_units


@dataclass
class Cells:
    """Per cell (g, t): the per-unit change y_t − y_base (NaN where not observed)."""

    keys: list[tuple[int, int, int]]  # (g, t, base)
    delta: np.ndarray  # cells × units


def wide_outcome(p: Panel) -> np.ndarray:
    """units × periods matrix of the outcome (NaN where missing)."""
    Y = np.full((p.n_units, len(p.periods)), np.nan)
    Y[p.unit, np.searchsorted(p.periods, p.time)] = p.y
    return Y


def group_time_cells(p: Panel) -> Cells:
    Y = wide_outcome(p)
    per = list(p.periods)
    keys, rows = [], []
    for g in np.unique(p.cohort[p.cohort > 0]):
        for t in per:
            base = g - 1 if t >= g else t - 1
            if base not in per or t == base:
                continue
            keys.append((int(g), int(t), int(base)))
            rows.append(Y[:, per.index(t)] - Y[:, per.index(base)])
    return Cells(keys=keys, delta=np.array(rows))


def _att_and_if(delta: np.ndarray, member: np.ndarray, control: np.ndarray):
    """ATT of one cell and its per-unit influence function."""
    ok = ~np.isnan(delta)
    tr, co = member & ok, control & ok
    n1, n0 = tr.sum(), co.sum()
    if n1 == 0 or n0 == 0:
        return np.nan, None
    m1, m0 = delta[tr].mean(), delta[co].mean()
    psi = np.zeros(len(delta))
    psi[tr] = (delta[tr] - m1) / n1
    psi[co] = -(delta[co] - m0) / n0
    return m1 - m0, psi


def _aggregations(p: Panel, cells: Cells) -> dict[str, list[tuple[tuple, float]]]:
    """Weights of each cell in each aggregate: simple and dynamic[e]."""
    sizes = {g: int((p.cohort == g).sum()) for g in np.unique(p.cohort[p.cohort > 0])}
    agg: dict[str, list] = {"simple": []}
    for k, (g, t, _) in enumerate(cells.keys):
        if t >= g:
            agg["simple"].append((k, sizes[g]))
        agg.setdefault(f"dynamic[{t - g}]", []).append((k, sizes[g]))
    return agg


def callaway_santanna(p: Panel, *, alpha: float = 0.05) -> pd.DataFrame:
    """Group-time ATTs and their aggregations with influence-function SEs (clustered by unit)."""
    cells = group_time_cells(p)
    never = p.cohort == 0
    atts, psis = [], []
    for k, (g, _, _) in enumerate(cells.keys):
        a, psi = _att_and_if(cells.delta[k], p.cohort == g, never)
        atts.append(a)
        psis.append(psi if psi is not None else np.zeros(p.n_units))
    atts = np.array(atts)
    psis = np.array(psis)
    unit_cluster = np.zeros(p.n_units, dtype=int)
    unit_cluster[p.unit] = p.cluster
    G = int(unit_cluster.max()) + 1
    rows = []

    def emit(term: str, est: float, psi: np.ndarray, n_cells: int) -> None:
        cl = np.bincount(unit_cluster, weights=psi, minlength=G)
        se = float(np.sqrt(G / (G - 1) * np.sum(cl**2)))
        crit = special.ndtri(1 - alpha / 2)
        z = est / se if se > 0 else np.nan
        rows.append(
            {
                "term": term,
                "estimate": est,
                "std_error": se,
                "ci_low": est - crit * se,
                "ci_high": est + crit * se,
                "p_value": float(2 * special.ndtr(-abs(z))),
                "statistic": z,
                "n_cells": n_cells,
            }
        )

    for k, (g, t, _) in enumerate(cells.keys):
        if not np.isnan(atts[k]):
            emit(f"att[{g},{t}]", float(atts[k]), psis[k], 1)
    for name, parts in _aggregations(p, cells).items():
        parts = [(k, w) for k, w in parts if not np.isnan(atts[k])]
        if not parts:
            continue
        ks = np.array([k for k, _ in parts])
        w = np.array([w for _, w in parts], dtype=float)
        w /= w.sum()
        emit(name, float(w @ atts[ks]), w @ psis[ks], len(ks))
    out = pd.DataFrame(rows)
    out["method"] = "influence function (analytic)"
    return out


def cs_simple_ri(
    p: Panel, *, n_draws: int = 9999, seed: int = 3, alpha: float = 0.05
) -> TestResult:
    """Randomization inference for the simple aggregate: cohorts permuted among all units."""
    cells = group_time_cells(p)
    post = [k for k, (g, t, _) in enumerate(cells.keys) if t >= g]
    cohorts = np.unique(p.cohort[p.cohort > 0])
    treated = p.treated_units
    col = np.searchsorted(cohorts, p.cohort[treated])
    sizes = np.bincount(col, minlength=len(cohorts)).astype(float)
    D = np.nan_to_num(cells.delta)  # cells × units
    obs_ = (~np.isnan(cells.delta)).astype(float)
    tot_s, tot_n = D.sum(axis=1), obs_.sum(axis=1)
    cell_g = np.array([np.searchsorted(cohorts, g) for g, _, _ in cells.keys])

    def stat(idx: np.ndarray) -> np.ndarray:
        """Simple ATT for each row of ``idx`` (draws × k units, in ``col`` order)."""
        out = np.zeros(idx.shape[0])
        wsum = np.zeros(idx.shape[0])
        all_s = D[:, idx].sum(axis=2)  # cells × draws
        all_n = obs_[:, idx].sum(axis=2)
        for k in post:
            mine = col == cell_g[k]
            s1 = D[k][idx[:, mine]].sum(axis=1)
            n1 = obs_[k][idx[:, mine]].sum(axis=1)
            s0 = tot_s[k] - all_s[k]
            n0 = tot_n[k] - all_n[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                att = s1 / n1 - s0 / n0
            w = sizes[cell_g[k]]
            good = np.isfinite(att)
            out[good] += w * att[good]
            wsum[good] += w
        with np.errstate(invalid="ignore", divide="ignore"):
            return out / wsum

    obs = float(stat(treated[None, :])[0])
    draws = np.concatenate(
        [
            stat(sample_units(rng, p.n_units, len(col), size))
            for size, rng in chunk_seeds(seed, n_draws)
        ]
    )
    draws = draws[np.isfinite(draws)]
    pval = float((1 + np.sum(np.abs(draws) >= abs(obs) - 1e-12)) / (1 + len(draws)))
    return TestResult(
        "randomization inference",
        pval,
        np.nan,
        np.nan,
        statistic=obs,
        n_draws=len(draws),
        note="CI not computed for the CS aggregate",
    )
