"""Heterogeneity-robust DiD for staggered adoption: Callaway & Sant'Anna (2021) group-time ATTs.

ATT(g, t) compares the change of cohort g (first treated in g) with the change of its
controls between a base period and t: base g−1 for t ≥ g (post), t−1 for t < g
(pre-programme placebo cells, the "varying" base). R ``did``'s options, with its defaults:

- ``control_group``: the never-treated units (``"never"``) or those and the units not yet
  treated in either period of the cell (``"not_yet"``, :func:`control_units`);
- ``anticipation`` = k periods: post cells compare with g−1−k, not-yet-treated controls must
  start after both periods plus k;
- ``sampling_weights``: one weight per unit (R's ``weightsname``): weighted cells, cohort sizes
  as sums of weights;
- ``covariates``: each cell the doubly robust DiD of Sant'Anna & Zhao (2020) (R's ``xformla``
  with ``est_method = "dr"``, :func:`_dr_att_and_if`); analytic inference only.

Only units observed in both periods enter a cell. Aggregations (``aggregations``, R's ``aggte``
types, :func:`aggregates`): ``simple`` (post cells, cohort-size weighted) and ``dynamic``
(θ(e), the cohort-size weighted mean of ATT(g, g+e) per event time e) by default; on request
``dynamic_overall`` (the mean of θ(e) over e ≥ 0), ``group`` (per cohort, the mean of its post
cells), ``group_overall`` (their cohort-size weighted mean), ``calendar`` (per period, the
cohort-size weighted mean of its post cells) and ``calendar_overall`` (their mean).

Standard errors from the influence function, clustered by the panel's clusters; an aggregate's
influence function includes that of its estimated cohort-share weights (R ``did``'s ``wif``,
:func:`weights_influence`), so the SEs equal R did / moderndid's analytic ones up to the
G/(G−1) cluster factor (tested to 1e-6 on mpdta, with every option). A uniform band over the
dynamic effects uses R's multiplier-bootstrap sup-t critical value
(:func:`sup_t_critical_value`). Without covariates every term is also a linear combination of
a stacked regression (WCR bootstrap) and randomization inference permutes the cohorts among
all units, as for TWFE. Unlike TWFE, already-treated units never serve as controls, so the
estimate is a proper average of cohort-time effects even when effects change over time (TWFE
can weight some negatively). Unlike R ``did``, a cohort first treated after the last period
stays a treated cohort (R counts it as never treated) and panels need not be balanced.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
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
    (:func:`control_units`); ``weights`` are the units' sampling weights (None: each unit
    counts once); ``x`` the covariates of each cell's doubly robust estimator (None: none).
    """

    keys: list[tuple[int, int, int]]  # (g, t, base)
    delta: np.ndarray  # cells × units
    control_group: str = "never"
    anticipation: int = 0
    weights: np.ndarray | None = None
    x: list[np.ndarray] | None = None  # per cell: covariates at its earlier period (units × k)

    def size(self, cohort: np.ndarray, g) -> float:
        """Return the (weighted) number of units of cohort ``g``."""
        if self.weights is None:
            return (cohort == g).sum()
        return float(self.weights[cohort == g].sum())

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


def check_weights(p: Panel, weights: np.ndarray | None) -> np.ndarray | None:
    """Return unit sampling weights as floats (None: unweighted).

    Raises a ConfigError unless there is one positive, finite weight per unit.
    """
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    if w.shape != (p.n_units,) or not np.isfinite(w).all() or (w <= 0).any():
        raise ConfigError(
            f"sampling weights must be one positive, finite number per unit ({p.n_units})"
        )
    return w


def group_time_cells(
    p: Panel,
    base_period: str = "varying",
    *,
    control_group: str = "never",
    anticipation: int = 0,
    weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> Cells:
    """Return the (g, t) cells and their base periods.

    Cells (g, t) with base g−1−``anticipation`` after the start; before it t−1 ("varying") or
    g−1−``anticipation`` ("universal", so every cell is relative to the last period before
    the start and its anticipation). As in R ``did``, a cohort with no period before
    g − ``anticipation`` has no cells. ``weights``: the units' sampling weights;
    ``covariates``: observations × covariates (rows of ``p``), taken at the earlier of each
    cell's two periods, as R ``did`` does for panel data.
    """
    check_options(control_group, anticipation)
    w = check_weights(p, weights)
    X = _wide_covariates(p, covariates)
    k = int(anticipation)
    Y = wide_outcome(p)
    per = list(p.periods)
    keys, rows, xs = [], [], []
    for g in np.unique(p.cohort[p.cohort > 0]):
        if k and g - k <= per[0]:
            continue
        for t in per:
            base = g - 1 - k if t >= g or base_period == "universal" else t - 1
            if base not in per or t == base:
                continue
            keys.append((int(g), int(t), int(base)))
            rows.append(Y[:, per.index(t)] - Y[:, per.index(base)])
            if X is not None:
                xs.append(X[:, per.index(min(t, base))])
    return Cells(keys, np.array(rows), control_group, k, w, xs if X is not None else None)


def _wide_covariates(p: Panel, covariates: np.ndarray | None) -> np.ndarray | None:
    """Return units × periods × (1 + k): an intercept and the covariates (None: none).

    Raises a ConfigError unless ``covariates`` has one finite row per observation of ``p``.
    """
    if covariates is None:
        return None
    x = np.asarray(covariates, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] != p.n_obs or not np.isfinite(x).all():
        raise ConfigError(
            f"covariates must be one finite row per observation of the panel ({p.n_obs})"
        )
    X = np.full((p.n_units, len(p.periods), 1 + x.shape[1]), np.nan)
    X[p.unit, np.searchsorted(p.periods, p.time)] = np.column_stack([np.ones(len(x)), x])
    return X


def _att_and_if(
    delta: np.ndarray, member: np.ndarray, control: np.ndarray, w: np.ndarray | None = None
):
    """ATT of one cell and its per-unit influence function (``w``: sampling weights)."""
    ok = ~np.isnan(delta)
    tr, co = member & ok, control & ok
    n1, n0 = tr.sum(), co.sum()
    if n1 == 0 or n0 == 0:
        return np.nan, None
    if w is not None:  # weighted means; unit i's influence w_i (Δ_i − m) / Σ w
        s1, s0 = w[tr].sum(), w[co].sum()
        m1, m0 = w[tr] @ delta[tr] / s1, w[co] @ delta[co] / s0
        psi = np.zeros(len(delta))
        psi[tr] = w[tr] * (delta[tr] - m1) / s1
        psi[co] = -w[co] * (delta[co] - m0) / s0
        return m1 - m0, psi
    m1, m0 = delta[tr].mean(), delta[co].mean()
    psi = np.zeros(len(delta))
    psi[tr] = (delta[tr] - m1) / n1
    psi[co] = -(delta[co] - m0) / n0
    return m1 - m0, psi


def _dr_att_and_if(
    delta: np.ndarray,
    member: np.ndarray,
    control: np.ndarray,
    X: np.ndarray,
    w: np.ndarray | None = None,
):
    """Doubly robust ATT of one cell and its per-unit influence function (Sant'Anna & Zhao 2020).

    The locally efficient DR DiD for panel data with a logit propensity score and a linear
    regression of the change on the controls (R ``did``'s ``est_method = "dr"``), computed by
    moderndid's ``drdid_panel`` (the port of R ``DRDID::drdid_panel``) on the cell's members and
    controls observed in both periods; its influence function is rescaled to this module's
    (1/n_cell). As R ``did``, the cell gets no estimate (NaN) when a preliminary unweighted logit
    puts a propensity score at or above 0.999, when the controls' covariates are collinear or
    when the estimator fails.
    """
    import statsmodels.api as sm
    from moderndid.drdid.estimators.drdid_panel import drdid_panel
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    ok = ~np.isnan(delta) & (member | control)
    tr, co = member & ok, control & ok
    if not tr.any() or not co.any():
        return np.nan, None
    x, d = X[ok], member[ok].astype(float)
    Xc = x[d == 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ps = sm.GLM(d, x, family=sm.families.Binomial()).fit(maxiter=100, disp=False)
            if np.max(ps.fittedvalues) >= 0.999:
                return np.nan, None
        except (np.linalg.LinAlgError, PerfectSeparationError):
            pass  # as moderndid: no overlap check
        try:
            if np.linalg.cond(Xc.T @ Xc) > 1 / np.finfo(float).eps:
                return np.nan, None
            wi = None if w is None else w[ok].copy()  # drdid_panel normalises it in place
            res = drdid_panel(
                delta[ok], np.zeros(ok.sum()), d, x, i_weights=wi, influence_func=True
            )
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            return np.nan, None
    if not np.isfinite(res.att):
        return np.nan, None
    psi = np.zeros(len(delta))
    psi[ok] = res.att_inf_func / ok.sum()
    return float(res.att), psi


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


AGGREGATIONS = (
    "simple",
    "dynamic",
    "dynamic_overall",
    "group",
    "group_overall",
    "calendar",
    "calendar_overall",
)
DEFAULT_AGGREGATIONS = ("simple", "dynamic")


def term_name(
    kind: str, cohort: int | None = None, period: int | None = None, e: int | None = None
) -> str:
    """Return the key of a term in this module.

    This module's key of a term: ``att[g,t]``, ``simple``, ``dynamic[e]``, ``group[g]``,
    ``calendar[t]`` or an overall average (``dynamic_overall``, ``group_overall``,
    ``calendar_overall``); result rows carry ``kind`` and the numbers in columns of their own
    (:mod:`linkseval.results`).
    """
    if kind == "att":
        return f"att[{cohort},{period}]"
    index = {"dynamic": e, "group": cohort, "calendar": period}
    return f"{kind}[{index[kind]}]" if kind in index else kind


def check_aggregations(kinds: Sequence[str]) -> None:
    """Raise a ConfigError for an aggregation outside :data:`AGGREGATIONS`."""
    bad = [k for k in kinds if k not in AGGREGATIONS]
    if bad:
        raise ConfigError(f"unknown aggregation {bad[0]!r}; choose from {', '.join(AGGREGATIONS)}")


@dataclass(frozen=True)
class Aggregate:
    """A reported term as an average of cells.

    The term is the plain mean of its components with an estimate; a component the
    cohort-share weighted mean Σ π_g θ_i / Σ π_g of its items with an estimate; an item i the
    plain mean θ_i of its cells with an estimate (all of one cohort g). R ``did``'s
    aggregations are all of this form: ``simple``, ``dynamic[e]`` and ``calendar[t]`` (one
    component, one cell per item), ``group[g]`` (one item: g's post cells),
    ``group_overall`` (one item per cohort), ``dynamic_overall`` and ``calendar_overall`` (one
    component per event time e ≥ 0 or period, averaged). A cell ATT(g, t) is a term of one cell.
    """

    name: str
    kind: str
    components: tuple[tuple[tuple[int, ...], ...], ...]
    cohort: int | None = None
    period: int | None = None
    event_time: int | None = None

    @property
    def cells(self) -> np.ndarray:
        """Return the cells the term averages (sorted)."""
        return np.unique([k for comp in self.components for item in comp for k in item])


def aggregates(cells: Cells, kinds: Sequence[str] = DEFAULT_AGGREGATIONS) -> list[Aggregate]:
    """Return the cells' aggregates of kinds ``kinds`` (R ``did``'s ``aggte`` types).

    In this order: ``simple`` (post cells, cohort-share weighted), ``dynamic[e]`` (cells at
    event time e, cohort-share weighted), ``dynamic_overall`` (the mean of ``dynamic[e]`` over
    e ≥ 0), ``group[g]`` (the mean of g's post cells), ``group_overall`` (the cohort-share
    weighted mean of ``group[g]``), ``calendar[t]`` (post cells in period t, cohort-share
    weighted) and ``calendar_overall`` (the mean of ``calendar[t]`` over periods). Empty
    aggregates are returned too; they get no estimate.
    """
    check_aggregations(kinds)
    by_e: dict[int, list[int]] = {}
    by_g: dict[int, list[int]] = {}
    by_t: dict[int, list[int]] = {}
    post = []
    for k, (g, t, _) in enumerate(cells.keys):
        by_e.setdefault(int(t - g), []).append(k)
        if t >= g:
            post.append(k)
            by_g.setdefault(int(g), []).append(k)
            by_t.setdefault(int(t), []).append(k)

    def singles(ks: list[int]) -> tuple[tuple[int, ...], ...]:
        return tuple((k,) for k in ks)

    out = []
    if "simple" in kinds:
        out.append(Aggregate("simple", "simple", (singles(post),)))
    if "dynamic" in kinds:
        for e, ks in by_e.items():
            out.append(
                Aggregate(term_name("dynamic", e=e), "dynamic", (singles(ks),), event_time=e)
            )
    if "dynamic_overall" in kinds:
        comps = tuple(singles(by_e[e]) for e in sorted(by_e) if e >= 0)
        out.append(Aggregate("dynamic_overall", "dynamic_overall", comps))
    if "group" in kinds:
        for g in sorted(by_g):
            out.append(Aggregate(term_name("group", g), "group", ((tuple(by_g[g]),),), cohort=g))
    if "group_overall" in kinds:
        items = tuple(tuple(by_g[g]) for g in sorted(by_g))
        out.append(Aggregate("group_overall", "group_overall", (items,)))
    if "calendar" in kinds:
        for t in sorted(by_t):
            name = term_name("calendar", period=t)
            out.append(Aggregate(name, "calendar", (singles(by_t[t]),), period=t))
    if "calendar_overall" in kinds:
        comps = tuple(singles(by_t[t]) for t in sorted(by_t))
        out.append(Aggregate("calendar_overall", "calendar_overall", comps))
    return out


def cell_terms(cells: Cells) -> list[Aggregate]:
    """Return every cell ATT(g, t) as a term of one cell."""
    return [
        Aggregate(term_name("att", g, t), "att", (((k,),),), cohort=g, period=t, event_time=t - g)
        for k, (g, t, _) in enumerate(cells.keys)
    ]


def _cells_atts(p: Panel, cells: Cells) -> tuple[np.ndarray, np.ndarray]:
    """Compute the ATT of every cell and its per-unit influence function.

    ATT of every cell (NaN without members or controls) and its per-unit influence function
    (cells × units; zeros where the ATT is NaN); the controls are :func:`control_units`.
    """
    atts, psis = [], []
    for k, (g, _, _) in enumerate(cells.keys):
        member, control = p.cohort == g, cells.controls(p.cohort, k)
        if cells.x is None:
            a, psi = _att_and_if(cells.delta[k], member, control, cells.weights)
        else:
            a, psi = _dr_att_and_if(cells.delta[k], member, control, cells.x[k], cells.weights)
        atts.append(a)
        psis.append(psi if psi is not None else np.zeros(p.n_units))
    return np.array(atts), np.array(psis).reshape(len(atts), p.n_units)


def _share_influence(
    cohort: np.ndarray, g: np.ndarray, atts: np.ndarray, w: np.ndarray | None = None
) -> np.ndarray:
    """Return the per-unit influence of estimating cohort-share weights.

    That of items of cohorts ``g`` with estimates ``atts`` (:func:`weights_influence`); with
    sampling weights ``w``, π_g = Σ w_i 1[G_i = g] / n and 1[G_i = g] becomes w_i 1[G_i = g].
    """
    n = len(cohort)
    if w is None:
        pi = np.array([(cohort == c).sum() for c in g], dtype=float) / n
        ind = (cohort[:, None] == g[None, :]).astype(float)
    else:
        ind = w[:, None] * (cohort[:, None] == g[None, :])
        pi = ind.sum(axis=0) / n
    tot = pi.sum()
    if1 = (ind - pi) / tot
    if2 = (ind - pi).sum(axis=1)[:, None] * (pi / tot**2)[None, :]
    return (if1 - if2) @ atts / n


def weights_influence(p: Panel, cells: Cells, ks: np.ndarray, atts: np.ndarray) -> np.ndarray:
    """Return the per-unit influence of estimating an aggregate's cohort-share weights.

    An aggregate Σ_k w_k ATT_k has weights w_k = π_g(k) / Σ π over its cells, with π_g the
    share of units in cohort g — estimated from the sample. As in R ``did``'s ``wif`` (Callaway &
    Sant'Anna 2021, the aggregations' influence functions), the influence of unit i on the
    weights is (1[G_i = g_k] − π_k)/Σπ − Σ_l (1[G_i = g_l] − π_l) · π_k/(Σπ)², and on the
    aggregate that times ATT_k, summed over k; scaled like the cells' influence functions
    (1/n), so it adds to ``w @ psis[ks]``.
    """
    g = np.array([cells.keys[k][0] for k in ks])
    return _share_influence(p.cohort, g, atts[ks], cells.weights)


def _evaluate(
    agg: Aggregate, cells: Cells, atts: np.ndarray, psis: np.ndarray, cohort: np.ndarray
) -> tuple[float, np.ndarray, int] | None:
    """Return a term's estimate, per-unit influence function and number of cells.

    None: no estimate. Cells without an estimate are left out, and items and components without
    one; each component's influence function includes that of its cohort-share weights.
    """
    comps, used = [], set()
    for comp in agg.components:
        items = [[k for k in item if not np.isnan(atts[k])] for item in comp]
        items = [item for item in items if item]
        if not items:
            continue
        used.update(k for item in items for k in item)
        g = np.array([cells.keys[item[0]][0] for item in items])
        if all(len(item) == 1 for item in items):
            ks = np.array([item[0] for item in items], dtype=int)
            a, ps = atts[ks], psis[ks]
        else:
            a = np.array([atts[item].mean() for item in items])
            ps = np.array([psis[item].mean(axis=0) for item in items])
        size = np.array([cells.size(cohort, c) for c in g], dtype=float)
        w = size / size.sum()
        comps.append((float(w @ a), w @ ps + _share_influence(cohort, g, a, cells.weights)))
    if not comps:
        return None
    if len(comps) == 1:
        return comps[0][0], comps[0][1], len(used)
    est = float(np.mean([c[0] for c in comps]))
    return est, np.mean([c[1] for c in comps], axis=0), len(used)


def sup_t_critical_value(
    psi: np.ndarray,
    cluster: np.ndarray,
    *,
    biters: int = 1000,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> float:
    """Return the sup-t critical value of a uniform confidence band (R ``did``'s ``mboot``).

    The multiplier bootstrap of Callaway & Sant'Anna (2021, §4.1): ``biters`` draws of Mammen
    weights v_c, one per cluster, P(v = (1 − √5)/2) = (1 + √5)/(2√5), else (1 + √5)/2; per draw
    b_j = Σ_c v_c S_cj with S_cj the cluster sums of term j's influence function; each term
    scaled by its bootstrap SE, (q₇₅ − q₂₅)/(z₇₅ − z₂₅) of its b_j; the critical value is the
    1 − ``alpha`` quantile of max_j |b_j| / SE_j (quantiles of R's type 1), or the pointwise
    normal one if that is larger (as R ``did`` falls back to it). Terms whose influence
    function is 0 everywhere are left out. Drawn with ``numpy.random.default_rng(seed)`` as
    moderndid does (the same seed and cluster order give its draws). R ``did`` bootstraps the
    clusters' *mean* influence functions; here their sums, as the analytic clustered SE uses
    (the same with one unit per cluster or equal cluster sizes).

    Parameters
    ----------
    psi : ndarray
        Terms × units influence functions (any common scale).
    cluster : ndarray
        Each unit's cluster code, 0 .. G − 1.
    biters : int
        Bootstrap draws.
    alpha : float
        The band covers all terms with probability 1 − ``alpha``.
    seed : int or Generator, optional
        Seed of the draws.

    Returns
    -------
    float
        The critical value c: θ_j ± c·SE_j for every j is the uniform band (NaN: no term).
    """
    G = int(cluster.max()) + 1
    S = np.array([np.bincount(cluster, weights=row, minlength=G) for row in psi]).T
    S = S[:, np.abs(S).sum(0) > 0]
    if not S.shape[1]:
        return np.nan
    rng = np.random.default_rng(seed)
    k1, k2 = (1 - np.sqrt(5)) / 2, (1 + np.sqrt(5)) / 2
    v = np.where(rng.binomial(1, k2 / np.sqrt(5), size=(biters, G)) == 1, k1, k2)
    b = v @ S
    q75, q25 = np.percentile(b, [75, 25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / (special.ndtri(0.75) - special.ndtri(0.25))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.max(np.abs(b / se), axis=1)
    t = t[np.isfinite(t)]
    if not len(t):
        return np.nan
    crit = float(np.percentile(t, 100 * (1 - alpha), method="inverted_cdf"))
    return max(crit, float(special.ndtri(1 - alpha / 2)))  # R: never below the pointwise one


def callaway_santanna(
    p: Panel,
    *,
    alpha: float = 0.05,
    control_group: str = "never",
    anticipation: int = 0,
    sampling_weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
    aggregations: Sequence[str] = DEFAULT_AGGREGATIONS,
    cband: bool = False,
    biters: int = 1000,
    seed: int | np.random.Generator | None = None,
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
    sampling_weights : ndarray, optional
        One sampling weight per unit (R ``did``'s ``weightsname``; None: each unit counts
        once): weighted cell means and influence functions, cohort sizes as sums of weights.
    covariates : ndarray, optional
        Observations × covariates, one row per row of ``p`` (R ``did``'s ``xformla``; None:
        none): each cell is then the doubly robust DiD of Sant'Anna & Zhao (2020) with a logit
        propensity score and a linear outcome regression on the controls, both on an intercept
        and the covariates at the cell's earlier period (:func:`_dr_att_and_if`).
    aggregations : sequence of str
        The aggregates reported after the cells (:func:`aggregates`, R ``did``'s ``aggte``
        types): ``simple``, ``dynamic`` (θ(e) per event time), ``dynamic_overall`` (their mean
        over e ≥ 0), ``group`` (per cohort), ``group_overall``, ``calendar`` (per period),
        ``calendar_overall``. Default: ``simple`` and ``dynamic``.
    cband : bool
        Also give a uniform (simultaneous) 1 − ``alpha`` band over the ``dynamic`` terms (R
        ``did``'s ``cband = TRUE``): :func:`sup_t_critical_value` with ``biters`` draws seeded
        by ``seed``, times each term's analytic SE.
    biters, seed
        The band's bootstrap draws and their seed.

    Returns
    -------
    DataFrame
        One row per term (``att[g,t]``, then the aggregates, :func:`term_name`) with ``kind``,
        ``cohort``, ``period``, ``event_time``, ``estimate``, ``std_error``, ``ci_low``,
        ``ci_high``, ``p_value``, ``statistic`` and ``n_cells``; with ``cband`` also
        ``band_critical_value``, ``band_low`` and ``band_high`` (the ``dynamic`` rows; NaN on
        the others).
    """
    check_aggregations(aggregations)
    cells = group_time_cells(
        p,
        control_group=control_group,
        anticipation=anticipation,
        weights=sampling_weights,
        covariates=covariates,
    )
    atts, psis = _cells_atts(p, cells)
    unit_cluster = _unit_cluster(p)
    G = int(unit_cluster.max()) + 1
    rows, psis_out = [], []

    def emit(kind: str, est: float, psi: np.ndarray, n_cells: int, g=None, t=None, e=None):
        cl = np.bincount(unit_cluster, weights=psi, minlength=G)
        se = float(np.sqrt(G / (G - 1) * np.sum(cl**2)))
        crit = special.ndtri(1 - alpha / 2)
        z = est / se if se > 0 else np.nan
        psis_out.append(psi)
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
    for agg in aggregates(cells, aggregations):
        res = _evaluate(agg, cells, atts, psis, p.cohort)
        if res is not None:
            emit(agg.kind, res[0], res[1], res[2], agg.cohort, agg.period, agg.event_time)
    out = pd.DataFrame(rows)
    out["method"] = "influence function (analytic)"
    if cband:
        dyn = (out["kind"] == "dynamic").to_numpy()
        psi = np.array(psis_out).reshape(len(out), p.n_units)[dyn]
        crit = sup_t_critical_value(psi, unit_cluster, biters=biters, alpha=alpha, seed=seed)
        out["band_critical_value"] = np.where(dyn, crit, np.nan)
        out["band_low"] = out["estimate"] - out["band_critical_value"] * out["std_error"]
        out["band_high"] = out["estimate"] + out["band_critical_value"] * out["std_error"]
    return out


def cs_event_study(
    p: Panel,
    *,
    control_group: str = "never",
    anticipation: int = 0,
    sampling_weights: np.ndarray | None = None,
    covariates: np.ndarray | None = None,
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Compute dynamic effects on a universal base period and their covariance.

    Dynamic effects θ(e) on a universal base period (every cell relative to g−1, so θ(−1) = 0
    is the reference) and their influence-function covariance, clustered as the panel: the
    event study HonestDiD needs under staggered adoption (Rambachan & Roth recommend the
    universal base with Callaway-Sant'Anna). ``control_group``, ``anticipation``,
    ``sampling_weights`` and ``covariates`` as in :func:`callaway_santanna` (the reference is
    then e = −1 − ``anticipation``). Returns (event times, θ, covariance).
    """
    cells = group_time_cells(
        p,
        "universal",
        control_group=control_group,
        anticipation=anticipation,
        weights=sampling_weights,
        covariates=covariates,
    )
    atts_, psis_ = _cells_atts(p, cells)
    uc = _unit_cluster(p)
    G = int(uc.max()) + 1
    es, theta, infl = [], [], []
    for agg in aggregates(cells, ("dynamic",)):
        res = _evaluate(agg, cells, atts_, psis_, p.cohort)
        if res is None:
            continue
        es.append(agg.event_time)
        theta.append(res[0])
        infl.append(np.bincount(uc, weights=res[1], minlength=G))
    order = np.argsort(es, kind="stable")
    C = np.array(infl)[order]
    return [es[i] for i in order], np.array(theta)[order], G / (G - 1) * C @ C.T


def _terms(cells: Cells, aggregations: Sequence[str]) -> list[Aggregate]:
    """Return every reported term: the cells ATT(g, t), then the aggregates."""
    return cell_terms(cells) + aggregates(cells, aggregations)


def _cell_weights(agg: Aggregate, cell_size: np.ndarray, ok: np.ndarray) -> dict[int, float]:
    """Return a term's weight on each of its cells that ``ok`` keeps.

    R ``did``'s weights at the cohort sizes ``cell_size`` (up to a factor when the term has one
    component).
    """
    comps = []
    for comp in agg.components:
        wc: dict[int, float] = {}
        for item in comp:
            keep = [k for k in item if ok[k]]
            for k in keep:
                wc[k] = wc.get(k, 0.0) + cell_size[k] / len(keep)
        if wc:
            comps.append(wc)
    if len(comps) <= 1:
        return comps[0] if comps else {}
    out: dict[int, float] = {}
    for wc in comps:
        tot = sum(wc.values())
        for k, v in wc.items():
            out[k] = out.get(k, 0.0) + v / tot / len(comps)
    return out


def _draw_values(A: np.ndarray, agg: Aggregate, cell_size: np.ndarray) -> np.ndarray:
    """Return a term on every row of ``A`` (draws × cells ATTs, NaN: none).

    Its items, weights and components as :func:`_evaluate` has them, at the fixed cohort sizes
    ``cell_size``.
    """
    comps = []
    for comp in agg.components:
        if all(len(item) == 1 for item in comp):
            sub = A[:, [item[0] for item in comp]]
            w = np.ones(1) if agg.kind == "att" else cell_size[[item[0] for item in comp]]
        else:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                sub = np.column_stack([np.nanmean(A[:, list(item)], axis=1) for item in comp])
            w = cell_size[[item[0] for item in comp]]
        good = np.isfinite(sub)
        with np.errstate(invalid="ignore", divide="ignore"):
            comps.append(np.where(good, sub, 0.0) @ w / (good @ w))
    if len(comps) == 1:
        return comps[0]
    C = np.column_stack(comps)
    good = np.isfinite(C)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(good, C, 0.0).sum(1) / good.sum(1)


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
    the wild cluster bootstrap applies; with sampling weights it is weighted least squares (in
    √w space, as :class:`~linkseval.did.Design` is). Returns the design and the cell index of
    each column (cells without a member or a control are left out).
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
        m = member[rows].astype(float)
        if cells.weights is None:
            ys.append(d[rows] - d[rows].mean())
            xs.append((len(cols), m - m.mean()))
        else:  # weighted least squares: weighted demeaning, then rows times √w
            w = cells.weights[rows]
            sw = np.sqrt(w)
            ys.append(sw * (d[rows] - w @ d[rows] / w.sum()))
            xs.append((len(cols), sw * (m - w @ m / w.sum())))
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


def _cell_sizes(p: Panel, cells: Cells) -> np.ndarray:
    """Return the size of each cell's cohort (its units, weighted)."""
    return np.array([cells.size(p.cohort, g) for g, _, _ in cells.keys], dtype=float)


def cs_wild_problem(
    p: Panel,
    *,
    control_group: str = "never",
    anticipation: int = 0,
    sampling_weights: np.ndarray | None = None,
    aggregations: Sequence[str] = DEFAULT_AGGREGATIONS,
) -> tuple[Design, np.ndarray, list[str]]:
    """Return every CS term as a linear combination of :func:`stacked_design` (the WCR hook).

    An aggregate is w'β/Σw over the cells it averages, w its weights at the observed cohort
    sizes (every aggregate of :func:`aggregates` is linear in the cells given those; tested as
    the first coefficient of :func:`combination_design` would be); a cell is its own
    coefficient. Returns the design, the contrasts (terms × cells) and the names of their terms
    (terms without an estimable cell are left out). Options as in :func:`callaway_santanna`.
    """
    check_aggregations(aggregations)
    cells = group_time_cells(
        p, control_group=control_group, anticipation=anticipation, weights=sampling_weights
    )
    design, cols = stacked_design(p, cells)
    pos = {k: c for c, k in enumerate(cols)}
    ok = np.zeros(len(cells.keys), dtype=bool)
    ok[cols] = True
    size = _cell_sizes(p, cells)
    names, contrasts = [], []
    for agg in _terms(cells, aggregations):
        wc = _cell_weights(agg, size, ok)
        if not wc:
            continue
        wfull = np.zeros(design.k)
        for k, v in wc.items():
            wfull[pos[k]] = v
        names.append(agg.name)
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
    sampling_weights: np.ndarray | None = None,
    aggregations: Sequence[str] = DEFAULT_AGGREGATIONS,
) -> dict[str, TestResult]:
    """Compute WCR bootstrap p-values and CIs for every CS term.

    WCR bootstrap p-value and CI for every CS term (:func:`cs_wild_problem`): the null is
    imposed on the term itself, all terms from one set of draws.
    """
    design, contrasts, names = cs_wild_problem(
        p,
        control_group=control_group,
        anticipation=anticipation,
        sampling_weights=sampling_weights,
        aggregations=aggregations,
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
    and the anticipation (:func:`control_units`); drawn units of the other cohorts are
    excluded.
    """
    if cells.control_group == "never" or not cells.keys:
        return np.ones((len(cells.keys), len(cohorts)), dtype=bool)
    return np.array([~cells.controls(cohorts, k) for k in range(len(cells.keys))])


def cs_ri_statistics(
    p: Panel,
    *,
    n_draws: int,
    seed: int,
    control_group: str = "never",
    anticipation: int = 0,
    sampling_weights: np.ndarray | None = None,
    aggregations: Sequence[str] = DEFAULT_AGGREGATIONS,
) -> tuple[RIStatistics, list[str]]:
    """Compute every CS term under every reassignment of the cohorts (the CS estimator's RI hook).

    The cohorts are permuted among all units, or whole clusters
    (:func:`~linkseval.inference.ri_units`; the same draws as the TWFE RI with the same seed;
    aggregation weights stay the observed cohort sizes, weighted with sampling weights, which
    stay with their units). Each term is linear in the outcome, so
    under the sharp null of a constant effect τ its reassigned value is a_r − τ b_r (a on y, b on
    the observed treatment). Returns the statistics and the names of their terms (terms whose
    observed value cannot be computed are left out); draws that leave a cell without members or
    controls are not usable for the terms that need it. Options as in
    :func:`callaway_santanna`.
    """
    check_aggregations(aggregations)
    cells = group_time_cells(
        p, control_group=control_group, anticipation=anticipation, weights=sampling_weights
    )
    u = ri_units(p)
    cohorts = np.unique(u.cohort[u.cohort > 0])
    treated = u.treated
    col = np.searchsorted(cohorts, u.cohort[treated])
    missing = np.isnan(cells.delta)
    obs_ = (~missing).astype(float)
    Dy = np.where(missing, 0.0, cells.delta)
    if cells.weights is not None:  # weighted counts and sums
        obs_, Dy = obs_ * cells.weights, Dy * cells.weights
    dwide = np.zeros((p.n_units, len(p.periods)))
    dwide[p.unit, np.searchsorted(p.periods, p.time)] = p.treatment()
    per = list(p.periods)
    Dd = np.array([dwide[:, per.index(t)] - dwide[:, per.index(b)] for _, t, b in cells.keys])
    Dd = np.where(missing, 0.0, Dd) if len(cells.keys) else Dd
    if cells.weights is not None and len(cells.keys):
        Dd = Dd * cells.weights
    obs_, Dy, Dd = (group_sum(x, u.group, u.n, axis=1) for x in (obs_, Dy, Dd))
    cell_g = np.array([np.searchsorted(cohorts, g) for g, _, _ in cells.keys])
    terms = _terms(cells, aggregations)
    size = _cell_sizes(p, cells)
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

    obs_y, obs_d = cell_atts(treated[None, :])
    draws = [
        cell_atts(ri_sample(seed, n_draws, k, u.n, len(col))) for k in range(n_chunks(n_draws))
    ]
    Ay = np.concatenate([a for a, _ in draws])
    Ad = np.concatenate([b for _, b in draws])
    names, a_cols, b_cols, a0s, b0s = [], [], [], [], []
    for agg in terms:
        a0 = float(_draw_values(obs_y, agg, size)[0])
        b0_ = float(_draw_values(obs_d, agg, size)[0])
        if not np.isfinite(a0):
            continue
        names.append(agg.name)
        a_cols.append(_draw_values(Ay, agg, size))
        b_cols.append(_draw_values(Ad, agg, size))
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
    sampling_weights: np.ndarray | None = None,
    aggregations: Sequence[str] = DEFAULT_AGGREGATIONS,
) -> dict[str, TestResult]:
    """Compute Fisher RI for every CS term.

    :func:`cs_ri_statistics`, then :func:`~linkseval.inference.ri_test` for each term:
    p(τ) = (1 + #|a_r − τ b_r| ≥ |a − τ b|) / (1 + R), CI by inverting it.
    """
    stats, names = cs_ri_statistics(
        p,
        n_draws=n_draws,
        seed=seed,
        control_group=control_group,
        anticipation=anticipation,
        sampling_weights=sampling_weights,
        aggregations=aggregations,
    )
    return {t: ri_test(stats, j, alpha=alpha) for j, t in enumerate(names)}


def cluster_products(gram: dict, lin: tuple, x: int, y: int) -> np.ndarray:
    """Return Σ_c U_xc U_yc per draw for influence sums linear in the cells' cluster sums.

    ``lin`` = (α, β, base, full, first): U_vc = Σ_k α_vk N_kc + β_vk S_vkc off the drawn units'
    clusters (``gram``: Σ_c over all clusters of the products of N and S, cells × cells); at
    the drawn positions ``base`` is that value and ``full`` the cluster's whole sum, counted
    once per cluster (``first``).
    """
    alpha, beta, base, full, first = lin
    quad = (
        ((alpha[x] @ gram["N", "N"]) * alpha[y]).sum(1)
        + ((alpha[x] @ gram["N", y]) * beta[y]).sum(1)
        + ((beta[x] @ gram["N", x].T) * alpha[y]).sum(1)
        + ((beta[x] @ gram[x, y]) * beta[y]).sum(1)
    )
    return quad + np.where(first, full[x] * full[y] - base[x] * base[y], 0.0).sum(1)


def cs_ri_t_statistics(
    p: Panel,
    *,
    n_draws: int,
    seed: int,
    control_group: str = "never",
    anticipation: int = 0,
    sampling_weights: np.ndarray | None = None,
    aggregations: Sequence[str] = DEFAULT_AGGREGATIONS,
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
    check_aggregations(aggregations)
    cells = group_time_cells(
        p, control_group=control_group, anticipation=anticipation, weights=sampling_weights
    )
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
    wu = np.ones(p.n_units) if cells.weights is None else cells.weights
    if cells.weights is not None:  # weighted counts and sums
        unit_sums = [X * wu for X in unit_sums]
    # centre each cell's Δy and ΔD on their (weighted) mean over all units: a cell's ATT and
    # influence function do not change, and the quadratic forms below (Gram matrices of
    # per-cluster sums) do not lose digits to a large common change (a strong trend)
    count = unit_sums[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        for v in (1, 2):
            mu = np.where(count.sum(1) > 0, unit_sums[v].sum(1) / count.sum(1), 0.0)
            unit_sums[v] = unit_sums[v] - mu[:, None] * count
    per_cluster = [np.array([np.bincount(uc, x, G) for x in X]).reshape(C, G) for X in unit_sums]
    per_drawn = [group_sum(X, u.group, u.n, axis=1) for X in unit_sums]
    size = group_sum(wu, u.group, u.n)
    cell_g = np.array([np.searchsorted(cohorts, g) for g, _, _ in cells.keys], dtype=int)
    excl = _excluded(cells, cohorts)
    factor = G / (G - 1)
    terms = [
        (agg, agg.cells, all(cells.keys[k][1] >= cells.keys[k][0] for k in agg.cells))
        for agg in _terms(cells, aggregations)
    ]

    # Σ over clusters of products of the undrawn clusters' influence sums: Gram matrices of the
    # per-cell, per-cluster counts and sums (cells × cells), fixed once (see block)
    Nc = per_cluster[0]
    Sv = (per_cluster[1], per_cluster[2])
    gram = {
        ("N", "N"): Nc @ Nc.T,
        **{("N", v): Nc @ Sv[v].T for v in (0, 1)},
        **{(x, y): Sv[x] @ Sv[y].T for x in (0, 1) for y in (0, 1)},
    }

    def block(idx: np.ndarray) -> list[tuple]:
        """Per term (a, b, (q0, q1, q2), ok) for each row of ``idx``.

        A cell's influence function summed over cluster c is, for a cluster without a drawn
        unit, a_k N_kc + b_k S_kc (N, S: the cell's per-cluster count and sum; a = m₀/n₀,
        b = −1/n₀ for the draw), plus, at the drawn units' clusters, the positions' own terms.
        Every term is a linear combination of cells (weights Wt per draw) plus its weights'
        influence function at the drawn positions, so Σ_c U_c² over all clusters is a quadratic
        form in the cells' coefficients (Gram matrices fixed once) with the drawn clusters
        replaced by their full sums: no pass over the clusters per draw.
        """
        R = len(idx)
        where = cl_of[idx]  # R × positions: the clusters of the drawn units
        same = where[:, :, None] == where[:, None, :]
        first = ~np.tril(same, -1).any(axis=2)  # one position per drawn cluster
        sf = same.astype(float)
        # the cells' per-cluster counts and sums at the drawn units' clusters: R × positions × C
        N_at = np.moveaxis(Nc[:, where], 0, -1)
        S_at = [np.moveaxis(Sv[v][:, where], 0, -1) for v in (0, 1)]
        sz = np.stack([size[idx[:, col == g]].sum(1) for g in range(len(cohorts))], 1)
        N = per_drawn[0]
        atts = np.zeros((2, R, C))
        ca = np.zeros((2, R, C))  # coefficient of the cell's per-cluster count N_kc
        cb = np.zeros((2, R, C))  # coefficient of the cell's per-cluster sum S_kc
        pos_all = np.zeros((2, R, C, idx.shape[1]))  # the drawn positions' own terms
        good = np.zeros((R, C), dtype=bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            for k in range(C):
                mem = col == cell_g[k]
                out_ = excl[k][col]  # drawn positions that are not controls of the cell
                every = out_.all()
                Ni = N[k][idx]
                n1 = Ni[:, mem].sum(1)
                n0 = N[k].sum() - (Ni.sum(1) if every else Ni[:, out_].sum(1))
                g_k = (n1 > 0) & (n0 > 0)
                good[:, k] = g_k
                for v in (0, 1):
                    S = per_drawn[1 + v][k]
                    Si = S[idx]
                    m1 = Si[:, mem].sum(1) / n1
                    m0 = (S.sum() - (Si.sum(1) if every else Si[:, out_].sum(1))) / n0
                    atts[v, :, k] = np.where(g_k, m1 - m0, 0.0)
                    pos = (Si - m0[:, None] * Ni) / n0[:, None]
                    if not every:
                        pos[:, ~out_] = 0.0
                    pos[:, mem] += (Si[:, mem] - m1[:, None] * Ni[:, mem]) / n1[:, None]
                    ca[v, :, k] = np.where(g_k, m0 / n0, 0.0)
                    cb[v, :, k] = np.where(g_k, -1.0 / n0, 0.0)
                    pos_all[v, :, k] = np.where(g_k[:, None], pos, 0.0)

        def component(comp: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            """(estimate, cell weights Wt, extra at the positions, ok) of one component."""
            Wi = np.zeros((R, len(comp), C))  # each item as a combination of cells
            ig = np.zeros((R, len(comp)), dtype=bool)
            for i, item in enumerate(comp):
                it = np.array(item, dtype=int)
                if len(it) == 1:
                    Wi[:, i, it[0]] = 1.0
                    ig[:, i] = good[:, it[0]]
                else:  # items: the plain means of their estimable cells
                    cnt = good[:, it].sum(1)
                    ig[:, i] = cnt > 0
                    Wi[:, i, it] = np.where(cnt > 0, 1.0 / np.maximum(cnt, 1), 0.0)[:, None]
            ia = np.einsum("rik,vrk->vri", Wi, atts)
            gi = cell_g[[item[0] for item in comp]]
            s = sz[:, gi] * ig
            tot = s.sum(1)
            ok = tot > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                w = s / tot[:, None]
            w = np.where(ok[:, None], w, 0.0)
            est = np.einsum("rk,vrk->vr", w, ia)
            Wt = np.einsum("ri,rik->rk", w, Wi)
            extra = np.zeros((2, R, idx.shape[1]))
            for v in (0, 1):  # the weights' influence function, at the drawn positions
                dev = (ia[v] - est[v][:, None]) * ig
                by_g = np.zeros((R, len(cohorts)))
                np.add.at(by_g.T, gi, dev.T)
                with np.errstate(invalid="ignore", divide="ignore"):
                    wif = size[idx] * by_g[:, col] / tot[:, None]
                extra[v] = np.where(ok[:, None], wif, 0.0)
            return est, Wt, extra, ok

        out = []
        for agg, ks, _ in terms:
            if len(ks) == 1:  # one cell: its own influence function
                est, ok = atts[:, :, ks[0]], good[:, ks[0]]
                Wt = np.zeros((R, C))
                Wt[:, ks[0]] = 1.0
                extra = np.zeros((2, R, idx.shape[1]))
            elif len(agg.components) == 1:
                est, Wt, extra, ok = component(agg.components[0])
            else:  # the plain mean of the components with an estimate
                parts = [component(comp) for comp in agg.components]
                oks = np.array([part[3] for part in parts], dtype=float)
                n_ok = oks.sum(0)
                ok = n_ok > 0
                share = oks * np.where(ok, 1.0 / np.maximum(n_ok, 1), 0.0)
                est = sum(part[0] * sh[None, :] for part, sh in zip(parts, share, strict=True))
                Wt = sum(part[1] * sh[:, None] for part, sh in zip(parts, share, strict=True))
                extra = sum(
                    part[2] * sh[None, :, None] for part, sh in zip(parts, share, strict=True)
                )
            # U_v at cluster c: Σ_k α_vk N_kc + β_vk S_vkc (+ the positions' terms π_v at theirs)
            alpha = Wt[None] * ca
            beta = Wt[None] * cb
            pi = (Wt[None, :, None, :] @ pos_all)[:, :, 0, :] + extra
            base = [
                (N_at @ alpha[v][:, :, None])[..., 0] + (S_at[v] @ beta[v][:, :, None])[..., 0]
                for v in (0, 1)
            ]
            full = [base[v] + (sf @ pi[v][:, :, None])[..., 0] for v in (0, 1)]

            lin = (alpha, beta, base, full, first)
            q = tuple(
                factor * cluster_products(gram, lin, x, y) for x, y in ((0, 0), (0, 1), (1, 1))
            )
            out.append((est[0], est[1], q, ok))
        return out

    def stats(idx: np.ndarray) -> list[tuple]:
        # bounds the draws × cells × positions arrays
        step = max(1, int(4e6 // max(1, C * idx.shape[1])))
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
    for j, (agg, _, post) in enumerate(terms):
        a0, b0, q0, ok0 = observed[j]
        if not ok0[0]:
            continue
        a = np.concatenate([d[j][0] for d in draws])
        b = np.concatenate([d[j][1] for d in draws])
        q = tuple(np.concatenate([d[j][2][i] for d in draws]) for i in range(3))
        ok = np.concatenate([d[j][3] for d in draws])
        with np.errstate(invalid="ignore"):
            ok = ok & (q[0] > 0) & np.isfinite(q[0])
        names.append(agg.name)
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
