"""Heterogeneity-robust DiD for staggered adoption: Callaway & Sant'Anna (2021) group-time ATTs.

ATT(g, t) compares the change of cohort g (first treated in g) with the change of its
controls between a base period and t: base g−1 for t ≥ g (post), t−1 for t < g
(pre-programme placebo cells, the "varying" base); with ``anticipation`` = k periods (R
``did``'s), post cells compare with g−1−k instead. The controls are the never-treated units
(``control_group="never"``, R ``did``'s default) or those and the units not yet treated in
either period (plus k; ``"not_yet"``, :func:`control_units`). Only units observed in both periods enter
a cell; no covariates; unweighted (each unit counts once, as in CS). Aggregations:

- ``simple``: post cells averaged with weights proportional to cohort size;
- ``dynamic``: θ(e) = cohort-size weighted mean of ATT(g, g+e) for each event time e.

Standard errors from the influence function, clustered by the panel's clusters; an aggregate's
influence function includes that of its estimated cohort-share weights (R ``did``'s ``wif``,
:func:`weights_influence`), so the SEs equal R did / moderndid's analytic ones up to the
G/(G−1) cluster factor (tested to 1e-6 on mpdta). Randomization inference permutes the cohorts
among all units, as for TWFE.
Unlike TWFE, already-treated units never serve as controls, so the estimate is a proper average
of cohort-time effects even when effects change over time (TWFE can weight some negatively).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from linkseval.did import Design, Panel
from linkseval.errors import ConfigError
from linkseval.inference import (
    RIStatistics,
    TestResult,
    group_sum,
    n_chunks,
    ri_sample,
    ri_test,
    ri_units,
    wild_cluster_bootstrap_terms,
)
from linkseval.inference.randomization import CONSTANT_NOTE, PRE_NOTE, RITStatistics

CONTROL_GROUPS = ("never", "not_yet")


@dataclass
class Cells:
    """Per cell (g, t): the per-unit change y_t − y_base (NaN where not observed).

    ``control_group`` and ``anticipation`` say who the controls of each cell are
    (:func:`control_units`).
    """

    keys: list[tuple[int, int, int]]  # (g, t, base)
    delta: np.ndarray  # cells × units
    control_group: str = "never"
    anticipation: int = 0

    def controls(self, cohort: np.ndarray, k: int) -> np.ndarray:
        """Return which units (of cohort vector ``cohort``) are the controls of cell ``k``."""
        return control_units(cohort, self.keys[k], self.control_group, self.anticipation)


def wide_outcome(p: Panel) -> np.ndarray:
    """Units × periods matrix of the outcome (NaN where missing)."""
    Y = np.full((p.n_units, len(p.periods)), np.nan)
    Y[p.unit, np.searchsorted(p.periods, p.time)] = p.y
    return Y


def check_options(control_group: str, anticipation: int) -> None:
    """Raise a ConfigError for an unknown control group or a negative anticipation."""
    if control_group not in CONTROL_GROUPS:
        raise ConfigError(
            f"unknown control group {control_group!r}; choose from {', '.join(CONTROL_GROUPS)}"
        )
    if isinstance(anticipation, bool) or int(anticipation) != anticipation or anticipation < 0:
        raise ConfigError(
            f"anticipation must be a whole number of periods >= 0, not {anticipation!r}"
        )


def group_time_cells(
    p: Panel,
    base_period: str = "varying",
    *,
    control_group: str = "never",
    anticipation: int = 0,
) -> Cells:
    """Return the (g, t) cells and their base periods.

    Cells (g, t) with base g−1−``anticipation`` after the start; before it t−1 ("varying") or
    g−1−``anticipation`` ("universal", so every cell is relative to the last period before
    the start and its anticipation). As in R ``did``, a cohort with no period before
    g − ``anticipation`` has no cells.
    """
    check_options(control_group, anticipation)
    k = int(anticipation)
    Y = wide_outcome(p)
    per = list(p.periods)
    keys, rows = [], []
    for g in np.unique(p.cohort[p.cohort > 0]):
        if k and g - k <= per[0]:
            continue
        for t in per:
            base = g - 1 - k if t >= g or base_period == "universal" else t - 1
            if base not in per or t == base:
                continue
            keys.append((int(g), int(t), int(base)))
            rows.append(Y[:, per.index(t)] - Y[:, per.index(base)])
    return Cells(keys=keys, delta=np.array(rows), control_group=control_group, anticipation=k)


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


def control_units(
    cohort: np.ndarray,
    key: tuple[int, int, int],
    control_group: str = "never",
    anticipation: int = 0,
) -> np.ndarray:
    """Return which units are the controls of cell ``key`` = (g, t, base).

    ``"never"``: the never-treated units (cohort 0). ``"not_yet"`` (R ``did``'s
    ``"notyettreated"``): those plus the units first treated after both periods of the cell and
    their anticipation, cohort > max(t, base) + ``anticipation``, other than cohort g itself.
    """
    never = cohort == 0
    if control_group == "never":
        return never
    g, t, base = key
    return never | ((cohort > max(t, base) + anticipation) & (cohort != g))


def term_name(kind: str, cohort: int | None = None, period: int | None = None, e=None) -> str:
    """Return the key of a term in this module.

    This module's key of a term: ``att[g,t]``, ``simple`` or ``dynamic[e]`` (result rows
    carry ``kind`` and the numbers in columns of their own, :mod:`linkseval.results`).
    """
    if kind == "att":
        return f"att[{cohort},{period}]"
    return "simple" if kind == "simple" else f"dynamic[{e}]"


def _aggregations(p: Panel, cells: Cells) -> dict[tuple, list[tuple[tuple, float]]]:
    """Weights of each cell in each aggregate, keyed ("simple", None) and ("dynamic", e)."""
    sizes = {g: int((p.cohort == g).sum()) for g in np.unique(p.cohort[p.cohort > 0])}
    agg: dict[tuple, list] = {("simple", None): []}
    for k, (g, t, _) in enumerate(cells.keys):
        if t >= g:
            agg[("simple", None)].append((k, sizes[g]))
        agg.setdefault(("dynamic", int(t - g)), []).append((k, sizes[g]))
    return agg


def _cells_atts(p: Panel, cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """Compute the ATT of every cell and its per-unit influence function.

    ATT of every cell (NaN without members or controls) and its per-unit influence function
    (cells × units; zeros where the ATT is NaN); the controls are :func:`control_units`.
    """
    atts, psis = [], []
    for k, (g, _, _) in enumerate(cells.keys):
        a, psi = _att_and_if(cells.delta[k], p.cohort == g, cells.controls(p.cohort, k))
        atts.append(a)
        psis.append(psi if psi is not None else np.zeros(p.n_units))
    return np.array(atts), np.array(psis).reshape(len(atts), p.n_units)


def _estimated_weights(
    parts: list[tuple[int, int]], atts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return an aggregate's cells with an estimated ATT and their normalised cohort weights."""
    parts = [(k, w) for k, w in parts if not np.isnan(atts[k])]
    ks = np.array([k for k, _ in parts], dtype=int)
    w = np.array([w for _, w in parts], dtype=float)
    return ks, w / w.sum() if len(w) else w


def weights_influence(p: Panel, cells: Cells, ks: np.ndarray, atts: np.ndarray) -> np.ndarray:
    """Return the per-unit influence of estimating an aggregate's cohort-share weights.

    An aggregate Σ_k w_k ATT_k has weights w_k = π_g(k) / Σ π over its cells, with π_g the
    share of units in cohort g — estimated from the sample. As in R ``did``'s ``wif`` (Callaway &
    Sant'Anna 2021, the aggregations' influence functions), the influence of unit i on the
    weights is (1[G_i = g_k] − π_k)/Σπ − Σ_l (1[G_i = g_l] − π_l) · π_k/(Σπ)², and on the
    aggregate that times ATT_k, summed over k; scaled like the cells' influence functions
    (1/n), so it adds to ``w @ psis[ks]``.
    """
    n = p.n_units
    g = np.array([cells.keys[k][0] for k in ks])
    pi = np.array([(p.cohort == c).sum() for c in g], dtype=float) / n
    ind = (p.cohort[:, None] == g[None, :]).astype(float)
    tot = pi.sum()
    if1 = (ind - pi) / tot
    if2 = (ind - pi).sum(axis=1)[:, None] * (pi / tot**2)[None, :]
    return (if1 - if2) @ atts[ks] / n


def callaway_santanna(
    p: Panel, *, alpha: float = 0.05, control_group: str = "never", anticipation: int = 0
) -> pd.DataFrame:
    """Estimate Callaway-Sant'Anna group-time ATTs and their aggregations.

    Standard errors are from the influence functions, clustered by the panel's clusters (each
    unit's cluster).

    Parameters
    ----------
    p : Panel
        The estimation panel.
    alpha : float
        Level of the normal confidence intervals (1 − ``alpha``).
    control_group : {"never", "not_yet"}
        The controls of each cell (:func:`control_units`): the never-treated units (R ``did``'s
        ``"nevertreated"``, the default) or those and the units not yet treated
        (``"notyettreated"``).
    anticipation : int
        Periods before the start in which the programme may already act (R ``did``'s
        ``anticipation``): post cells compare with g−1−``anticipation``, and not-yet-treated
        controls must start after both periods plus ``anticipation``.

    Returns
    -------
    DataFrame
        One row per term (``att[g,t]``, ``simple``, ``dynamic[e]``) with ``kind``, ``cohort``,
        ``period``, ``event_time``, ``estimate``, ``std_error``, ``ci_low``, ``ci_high``,
        ``p_value``, ``statistic`` and ``n_cells``.
    """
    cells = group_time_cells(p, control_group=control_group, anticipation=anticipation)
    atts, psis = _cells_atts(p, cells)
    unit_cluster = _unit_cluster(p)
    G = int(unit_cluster.max()) + 1
    rows = []

    def emit(kind: str, est: float, psi: np.ndarray, n_cells: int, g=None, t=None, e=None):
        cl = np.bincount(unit_cluster, weights=psi, minlength=G)
        se = float(np.sqrt(G / (G - 1) * np.sum(cl**2)))
        crit = special.ndtri(1 - alpha / 2)
        z = est / se if se > 0 else np.nan
        rows.append(
            {
                "term": term_name(kind, g, t, e),
                "kind": kind,
                "cohort": g,
                "period": t,
                "event_time": e,
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
            emit("att", float(atts[k]), psis[k], 1, int(g), int(t), int(t - g))
    for (kind, e), parts in _aggregations(p, cells).items():
        ks, w = _estimated_weights(parts, atts)
        if len(ks):
            psi = w @ psis[ks] + weights_influence(p, cells, ks, atts)
            emit(kind, float(w @ atts[ks]), psi, len(ks), e=e)
    out = pd.DataFrame(rows)
    out["method"] = "influence function (analytic)"
    return out


def cs_event_study(
    p: Panel, *, control_group: str = "never", anticipation: int = 0
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Compute dynamic effects on a universal base period and their covariance.

    Dynamic effects θ(e) on a universal base period (every cell relative to g−1, so θ(−1) = 0
    is the reference) and their influence-function covariance, clustered as the panel: the
    event study HonestDiD needs under staggered adoption (Rambachan & Roth recommend the
    universal base with Callaway-Sant'Anna). ``control_group`` and ``anticipation`` as in
    :func:`callaway_santanna` (the reference is then e = −1 − ``anticipation``). Returns (event
    times, θ, covariance).
    """
    cells = group_time_cells(p, "universal", control_group=control_group, anticipation=anticipation)
    atts_, psis_ = _cells_atts(p, cells)
    uc = _unit_cluster(p)
    G = int(uc.max()) + 1
    es, theta, infl = [], [], []
    for (kind, e), parts in _aggregations(p, cells).items():
        ks, w = _estimated_weights(parts, atts_)
        if kind != "dynamic" or not len(ks):
            continue
        es.append(e)
        theta.append(float(w @ atts_[ks]))
        psi = w @ psis_[ks] + weights_influence(p, cells, ks, atts_)
        infl.append(np.bincount(uc, weights=psi, minlength=G))
    order = np.argsort(es, kind="stable")
    C = np.array(infl)[order]
    return [es[i] for i in order], np.array(theta)[order], G / (G - 1) * C @ C.T


def _terms(p: Panel, cells: Cells) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return every reported term as (cell indices, cohort-size weights).

    Every reported term as (cell indices, cohort-size weights): att[g,t] (one cell),
    ``simple`` and ``dynamic[e]``.
    """
    out = {}
    for k, (g, t, _) in enumerate(cells.keys):
        out[term_name("att", g, t)] = (np.array([k]), np.ones(1))
    for (kind, e), parts in _aggregations(p, cells).items():
        ks = np.array([k for k, _ in parts])
        out[term_name(kind, e=e)] = (ks, np.array([w for _, w in parts], float))
    return out


def _unit_cluster(p: Panel) -> np.ndarray:
    uc = np.zeros(p.n_units, dtype=int)
    uc[p.unit] = p.cluster
    return uc


def stacked_design(p: Panel, cells: Cells | None = None) -> tuple[Design, list[int]]:
    """Build the group-time ATTs as one regression.

    The group-time ATTs as one regression: for every cell (g, t) the units of cohort g and
    its controls (:func:`control_units`) observed in both of its periods, y = the change
    y_t − y_base, regressed on cell effects (absorbed) and one member dummy per cell. Its
    coefficients are exactly the ATT(g, t) and its residuals are clustered like the panel, so
    the wild cluster bootstrap applies. Returns the design and the cell index of each column
    (cells without a member or a control are left out).
    """
    cells = cells if cells is not None else group_time_cells(p)
    uc = _unit_cluster(p)
    ys, xs, cl, cell_id, cols = [], [], [], [], []
    for k, (g, _, _) in enumerate(cells.keys):
        d = cells.delta[k]
        member = (p.cohort == g) & ~np.isnan(d)
        control = cells.controls(p.cohort, k) & ~np.isnan(d)
        if not member.any() or not control.any():
            continue
        rows = np.flatnonzero(member | control)
        ys.append(d[rows] - d[rows].mean())
        m = member[rows].astype(float)
        xs.append((len(cols), m - m.mean()))
        cl.append(uc[rows])
        cell_id.append(np.full(len(rows), len(cols)))
        cols.append(k)
    n = sum(len(v) for v in ys)
    Z = np.zeros((n, len(cols)))
    start = 0
    for (c, x), yv in zip(xs, ys, strict=True):
        Z[start : start + len(yv), c] = x
        start += len(yv)
    cluster = np.concatenate(cl) if cl else np.zeros(0, dtype=int)
    _, cluster = np.unique(cluster, return_inverse=True)
    names = [term_name("att", cells.keys[k][0], cells.keys[k][1]) for k in cols]
    design = Design(
        Z=Z,
        y=np.concatenate(ys) if ys else np.zeros(0),
        names=names,
        cluster=cluster,
        n_clusters=int(cluster.max()) + 1 if n else 0,
    )
    return design, cols


def combination_design(design: Design, weights: np.ndarray) -> Design:
    """Reparametrise the stacked regression so that coefficient 0 is the aggregate.

    The same regression reparametrised so that coefficient 0 is ``weights'β / Σweights``
    (exact: X β = x_j θ / w_j + Σ_{l≠j} (x_l − x_j w_l / w_j) β_l with θ = w'β, w normalised),
    so a single-coefficient test of column 0 tests the aggregate.
    """
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    j = int(np.argmax(np.abs(w)))
    Z = design.Z - np.outer(design.Z[:, j], w / w[j])
    Z[:, j] = design.Z[:, j] / w[j]
    order = [j] + [c for c in range(design.k) if c != j]
    return Design(
        Z=Z[:, order],
        y=design.y,
        names=["aggregate"] + [design.names[c] for c in order[1:]],
        cluster=design.cluster,
        n_clusters=design.n_clusters,
    )


def cs_wild_problem(
    p: Panel, *, control_group: str = "never", anticipation: int = 0
) -> tuple[Design, np.ndarray, list[str]]:
    """Return every CS term as a linear combination of :func:`stacked_design` (the WCR hook).

    An aggregate is w'β/Σw over the cells it averages (tested as the first coefficient of
    :func:`combination_design` would be); a cell is its own coefficient. Returns the design, the
    contrasts (terms × cells) and the names of their terms (terms without an estimable cell are
    left out).
    """
    cells = group_time_cells(p, control_group=control_group, anticipation=anticipation)
    design, cols = stacked_design(p, cells)
    pos = {k: c for c, k in enumerate(cols)}
    names, contrasts = [], []
    for term, (ks, w) in _terms(p, cells).items():
        keep = [i for i, k in enumerate(ks) if k in pos]
        if not keep:
            continue
        wfull = np.zeros(design.k)
        for i in keep:
            wfull[pos[ks[i]]] = w[i]
        names.append(term)
        contrasts.append(wfull / wfull.sum())
    return design, np.array(contrasts).reshape(len(names), design.k), names


def cs_wild_bootstrap(
    p: Panel,
    *,
    n_draws: int = 9999,
    seed: int = 1,
    alpha: float = 0.05,
    weights: str = "webb",
    n_treated_clusters: int | None = None,
    control_group: str = "never",
    anticipation: int = 0,
) -> dict[str, TestResult]:
    """Compute WCR bootstrap p-values and CIs for every CS term.

    WCR bootstrap p-value and CI for every CS term (:func:`cs_wild_problem`): the null is
    imposed on the term itself, all terms from one set of draws.
    """
    design, contrasts, names = cs_wild_problem(
        p, control_group=control_group, anticipation=anticipation
    )
    if not names:
        return {}
    res = wild_cluster_bootstrap_terms(
        design,
        contrasts,
        n_draws=n_draws,
        seed=seed,
        alpha=alpha,
        weights=weights,
        n_treated_clusters=n_treated_clusters,
    )
    return dict(zip(names, res, strict=True))


def _excluded(cells: Cells, cohorts: np.ndarray) -> np.ndarray:
    """Return (cells × cohorts) whether units drawn into each cohort leave a cell's controls.

    Under a reassignment the controls of a cell are the units not drawn plus, with
    ``"not_yet"``, the units drawn into a cohort that is not g and starts after both periods
    (:func:`control_units`); drawn units of the other cohorts are excluded.
    """
    if cells.control_group == "never" or not cells.keys:
        return np.ones((len(cells.keys), len(cohorts)), dtype=bool)
    return np.array([~cells.controls(cohorts, k) for k in range(len(cells.keys))])


def cs_ri_statistics(
    p: Panel, *, n_draws: int, seed: int, control_group: str = "never", anticipation: int = 0
) -> tuple[RIStatistics, list[str]]:
    """Compute every CS term under every reassignment of the cohorts (the CS estimator's RI hook).

    The cohorts are permuted among all units, or whole clusters
    (:func:`~linkseval.inference.ri_units`; the same draws as the TWFE RI with the same seed;
    aggregation weights stay the observed cohort sizes). Each term is linear in the outcome, so
    under the sharp null of a constant effect τ its reassigned value is a_r − τ b_r (a on y, b on
    the observed treatment). Returns the statistics and the names of their terms (terms whose
    observed value cannot be computed are left out); draws that leave a cell without members or
    controls are not usable for the terms that need it.
    """
    cells = group_time_cells(p, control_group=control_group, anticipation=anticipation)
    u = ri_units(p)
    cohorts = np.unique(u.cohort[u.cohort > 0])
    treated = u.treated
    col = np.searchsorted(cohorts, u.cohort[treated])
    missing = np.isnan(cells.delta)
    obs_ = (~missing).astype(float)
    Dy = np.where(missing, 0.0, cells.delta)
    dwide = np.zeros((p.n_units, len(p.periods)))
    dwide[p.unit, np.searchsorted(p.periods, p.time)] = p.treatment()
    per = list(p.periods)
    Dd = np.array([dwide[:, per.index(t)] - dwide[:, per.index(b)] for _, t, b in cells.keys])
    Dd = np.where(missing, 0.0, Dd) if len(cells.keys) else Dd
    obs_, Dy, Dd = (group_sum(x, u.group, u.n, axis=1) for x in (obs_, Dy, Dd))
    cell_g = np.array([np.searchsorted(cohorts, g) for g, _, _ in cells.keys])
    terms = _terms(p, cells)
    excl = _excluded(cells, cohorts)

    def drawn(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """(draws × cells) sums of X over the drawn units that leave each cell's controls."""
        if excl.all():  # never-treated controls: every drawn unit
            return X[:, idx].sum(axis=2).T
        return np.stack([X[k][idx[:, excl[k][col]]].sum(1) for k in range(len(cell_g))], 1)

    def cell_atts(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(draws × cells) ATTs on y and on the observed treatment for each row of ``idx``."""
        n1 = np.stack([obs_[k][idx[:, col == cell_g[k]]].sum(1) for k in range(len(cell_g))], 1)
        n0 = obs_.sum(1)[None, :] - drawn(obs_, idx)
        res = []
        for D in (Dy, Dd):
            s1 = np.stack([D[k][idx[:, col == cell_g[k]]].sum(1) for k in range(len(cell_g))], 1)
            s0 = D.sum(1)[None, :] - drawn(D, idx)
            with np.errstate(invalid="ignore", divide="ignore"):
                res.append(s1 / n1 - s0 / n0)
        return res[0], res[1]

    def aggregate(A: np.ndarray, ks: np.ndarray, w: np.ndarray) -> np.ndarray:
        sub = A[:, ks]
        good = np.isfinite(sub)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(good, sub, 0.0) @ w / (good @ w)

    obs_y, obs_d = cell_atts(treated[None, :])
    draws = [
        cell_atts(ri_sample(seed, n_draws, k, u.n, len(col))) for k in range(n_chunks(n_draws))
    ]
    Ay = np.concatenate([a for a, _ in draws])
    Ad = np.concatenate([b for _, b in draws])
    names, a_cols, b_cols, a0s, b0s = [], [], [], [], []
    for term, (ks, w) in terms.items():
        a0, b0_ = float(aggregate(obs_y, ks, w)[0]), float(aggregate(obs_d, ks, w)[0])
        if not np.isfinite(a0):
            continue
        names.append(term)
        a_cols.append(aggregate(Ay, ks, w))
        b_cols.append(aggregate(Ad, ks, w))
        a0s.append(a0)
        b0s.append(b0_)
    R = Ay.shape[0]
    A = np.column_stack(a_cols) if names else np.zeros((R, 0))
    B = np.column_stack(b_cols) if names else np.zeros((R, 0))
    stats = RIStatistics(
        a=A,
        b=B,
        den=None,
        ok=np.isfinite(A) & np.isfinite(B),
        observed=np.array(a0s),
        slope=np.array(b0s),
        note=u.describe().replace("programme", "cohorts"),
        note_skipped=False,
    )
    return stats, names


def cs_randomization(
    p: Panel,
    *,
    n_draws: int = 9999,
    seed: int = 3,
    alpha: float = 0.05,
    control_group: str = "never",
    anticipation: int = 0,
) -> dict[str, TestResult]:
    """Compute Fisher RI for every CS term.

    :func:`cs_ri_statistics`, then :func:`~linkseval.inference.ri_test` for each term:
    p(τ) = (1 + #|a_r − τ b_r| ≥ |a − τ b|) / (1 + R), CI by inverting it.
    """
    stats, names = cs_ri_statistics(
        p, n_draws=n_draws, seed=seed, control_group=control_group, anticipation=anticipation
    )
    return {t: ri_test(stats, j, alpha=alpha) for j, t in enumerate(names)}


def cs_ri_t_statistics(
    p: Panel, *, n_draws: int, seed: int, control_group: str = "never", anticipation: int = 0
) -> tuple[list[RITStatistics], list[str]]:
    """Compute every CS term's t statistic (estimate / influence-function SE) under every draw.

    The RI-t hook of Callaway–Sant'Anna (MacKinnon & Webb 2020's studentised RI): the same
    reassignments as :func:`cs_ri_statistics` (same seed → same draws), and for each the t of
    :func:`callaway_santanna` refitted on the reassigned panel, in closed form. Under a draw, a
    cell's influence function summed over cluster c is
    Σ_{members in c} (Δ − m₁)/n₁ − Σ_{controls in c} (Δ − m₀)/n₀, the controls being all units
    not drawn (so all clusters share one closed-form part and the drawn units' clusters get
    corrections); an aggregate Σ_k w_k ATT_k adds its weights' influence function, which summed
    over cluster c is Σ_k (ATT_k − θ)·M_{g_k,c} / Σ_k n_{g_k} (M_{g,c}: the cluster's units drawn
    into cohort g; the −π_k N_c part of :func:`weights_influence` sums to 0 over k). With the
    draw's cohort sizes and estimable cells, as the refit uses (the sizes change only when
    whole clusters are reassigned). Every piece is linear in the outcome for a given draw, so
    under the sharp null of a constant effect τ (y − τD, D the observed treatment) the estimate
    is a − τb and the variance G/(G−1)·Σ_c (U_c − τV_c)², an exact quadratic in τ. Terms whose
    observed value cannot be computed are left out; pre-programme terms (placebo cells and
    dynamic effects before the start) get a p-value only. Returns one :class:`RITStatistics`
    per term and the names of the terms.
    """
    cells = group_time_cells(p, control_group=control_group, anticipation=anticipation)
    u = ri_units(p)
    cohorts = np.unique(u.cohort[u.cohort > 0])
    col = np.searchsorted(cohorts, u.cohort[u.treated])
    uc = _unit_cluster(p)
    G = int(uc.max()) + 1
    cl_of = uc if u.group is None else np.arange(u.n)
    missing = np.isnan(cells.delta)
    dwide = np.zeros((p.n_units, len(p.periods)))
    dwide[p.unit, np.searchsorted(p.periods, p.time)] = p.treatment()
    per = list(p.periods)
    Dd = np.array([dwide[:, per.index(t)] - dwide[:, per.index(b)] for _, t, b in cells.keys])
    C = len(cells.keys)
    unit_sums = [(~missing).astype(float)] + [
        np.where(missing, 0.0, D).reshape(C, p.n_units) for D in (cells.delta, Dd)
    ]  # observed count, Σ Δy, Σ ΔD per cell and unit
    per_cluster = [np.array([np.bincount(uc, x, G) for x in X]).reshape(C, G) for X in unit_sums]
    per_drawn = [group_sum(X, u.group, u.n, axis=1) for X in unit_sums]
    size = group_sum(np.ones(p.n_units), u.group, u.n)
    cell_g = np.array([np.searchsorted(cohorts, g) for g, _, _ in cells.keys], dtype=int)
    excl = _excluded(cells, cohorts)
    factor = G / (G - 1)
    terms = [
        (term, ks, all(cells.keys[k][1] >= cells.keys[k][0] for k in ks))
        for term, (ks, _) in _terms(p, cells).items()
    ]

    def block(idx: np.ndarray) -> list[tuple]:
        """Per term (a, b, (q0, q1, q2), ok) for each row of ``idx``."""
        R = len(idx)
        rows = np.broadcast_to(np.arange(R)[:, None], idx.shape)
        where = cl_of[idx]

        def scatter(v: np.ndarray) -> np.ndarray:  # R × positions → R × G cluster sums
            return np.bincount((rows * G + where).ravel(), v.ravel(), R * G).reshape(R, G)

        sz = np.stack([size[idx[:, col == g]].sum(1) for g in range(len(cohorts))], 1)
        N, Nc = per_drawn[0], per_cluster[0]
        atts = np.zeros((2, R, C))
        CL = np.zeros((2, C, R, G))
        good = np.zeros((R, C), dtype=bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            for k in range(C):
                mem = col == cell_g[k]
                out_ = excl[k][col]  # drawn positions that are not controls of the cell
                every = out_.all()
                Ni = N[k][idx]
                n1 = Ni[:, mem].sum(1)
                n0 = N[k].sum() - (Ni.sum(1) if every else Ni[:, out_].sum(1))
                good[:, k] = (n1 > 0) & (n0 > 0)
                for v in (0, 1):
                    S, Sc = per_drawn[1 + v][k], per_cluster[1 + v][k]
                    Si = S[idx]
                    m1 = Si[:, mem].sum(1) / n1
                    m0 = (S.sum() - (Si.sum(1) if every else Si[:, out_].sum(1))) / n0
                    atts[v, :, k] = m1 - m0
                    pos = (Si - m0[:, None] * Ni) / n0[:, None]
                    if not every:
                        pos[:, ~out_] = 0.0
                    pos[:, mem] += (Si[:, mem] - m1[:, None] * Ni[:, mem]) / n1[:, None]
                    base = (m0[:, None] * Nc[k][None, :] - Sc[None, :]) / n0[:, None]
                    CL[v, k] = np.where(good[:, k, None], base + scatter(pos), 0.0)
        atts = np.where(good[None], atts, 0.0)
        out = []
        for _, ks, _ in terms:
            if len(ks) == 1:  # a cell: its own influence function
                est, U, ok = atts[:, :, ks[0]], CL[:, ks[0]], good[:, ks[0]]
            else:
                s = sz[:, cell_g[ks]] * good[:, ks]
                tot = s.sum(1)
                ok = tot > 0
                with np.errstate(invalid="ignore", divide="ignore"):
                    w = s / tot[:, None]
                w = np.where(ok[:, None], w, 0.0)
                est = np.einsum("rk,vrk->vr", w, atts[:, :, ks])
                U = np.einsum("rk,vkrg->vrg", w, CL[:, ks])
                for v in (0, 1):  # the weights' influence function, at the drawn clusters
                    dev = (atts[v][:, ks] - est[v][:, None]) * good[:, ks]
                    by_g = np.zeros((R, len(cohorts)))
                    np.add.at(by_g.T, cell_g[ks], dev.T)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        wif = size[idx] * by_g[:, col] / tot[:, None]
                    U[v] += scatter(np.where(ok[:, None], wif, 0.0))
            Uy, Ud = U
            q = (
                factor * (Uy * Uy).sum(1),
                factor * (Uy * Ud).sum(1),
                factor * (Ud * Ud).sum(1),
            )
            out.append((est[0], est[1], q, ok))
        return out

    def stats(idx: np.ndarray) -> list[tuple]:
        step = max(1, int(2e6 // max(1, G * C)))  # bounds the cells × draws × clusters arrays
        parts = [block(idx[s : s + step]) for s in range(0, len(idx), step)]
        cat = np.concatenate
        return [
            (
                cat([x[j][0] for x in parts]),
                cat([x[j][1] for x in parts]),
                tuple(cat([x[j][2][i] for x in parts]) for i in range(3)),
                cat([x[j][3] for x in parts]),
            )
            for j in range(len(terms))
        ]

    observed = stats(u.treated[None, :])
    draws = [stats(ri_sample(seed, n_draws, k, u.n, len(col))) for k in range(n_chunks(n_draws))]
    note = (
        "studentised (MacKinnon & Webb 2020): estimate / influence-function SE; "
        + u.describe().replace("programme", "cohorts")
    )
    out, names = [], []
    for j, (term, _, post) in enumerate(terms):
        a0, b0, q0, ok0 = observed[j]
        if not ok0[0]:
            continue
        a = np.concatenate([d[j][0] for d in draws])
        b = np.concatenate([d[j][1] for d in draws])
        q = tuple(np.concatenate([d[j][2][i] for d in draws]) for i in range(3))
        ok = np.concatenate([d[j][3] for d in draws])
        with np.errstate(invalid="ignore"):
            ok = ok & (q[0] > 0) & np.isfinite(q[0])
        names.append(term)
        out.append(
            RITStatistics(
                a=a,
                b=b,
                q=q,
                ok=ok,
                observed=float(a0[0]),
                slope=float(b0[0]),
                observed_q=(float(q0[0][0]), float(q0[1][0]), float(q0[2][0])),
                center=float(a0[0]),
                scale=float(np.sqrt(max(q0[0][0], 0.0))),
                note=note + (CONSTANT_NOTE if post else PRE_NOTE),
                ci=post,
            )
        )
    return out, names
