"""Difference-in-differences on a unit × period panel: TWFE, 2×2 and event-study designs.

All estimators work on a :class:`Panel` built from any long data frame (unit, time, cohort,
outcome, optional weights and cluster), so the same code serves the Links evaluation and other
programmes. Estimation uses the within transformation: unit effects are removed by (weighted)
demeaning within unit, period effects enter as dummies. That is exact for unbalanced panels
(Frisch–Waugh–Lovell). Units observed in a single period carry no information once unit effects
are removed and are dropped (counted in ``n_singletons``).

Cluster-robust variance (CR1): ``V = G/(G−1) · (N−1)/(N−K) · (X'WX)⁻¹ (Σ_g X_g'W_g u_g u_g'W_g X_g)
(X'WX)⁻¹`` where K counts the treatment and period regressors but not the unit effects, which
are nested within the unit (practice) clusters. This is fixest's default ``fixef.K="nested"``
and equals pyfixest's ``ssc(k_fixef="none")`` with period effects entered as dummies
(tests/unit/test_did.py checks it against pyfixest to 1e-8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from linkseval.errors import ConfigError


@dataclass
class Panel:
    """Numeric arrays for one outcome; rows are unit-periods with a non-missing outcome."""

    unit: np.ndarray  # int codes 0..n_units-1
    time: np.ndarray  # period values (e.g. years)
    y: np.ndarray
    w: np.ndarray  # analytic weights (ones if unweighted)
    cluster: np.ndarray  # int codes 0..G-1
    cohort: np.ndarray  # per unit: first treated period, 0 = never treated
    unit_labels: np.ndarray
    periods: np.ndarray  # sorted unique periods
    dose: np.ndarray | None = None  # per row treatment intensity in [0, 1] (None = 1)
    n_singletons: int = 0
    outcome: str = ""
    sampling_weights: np.ndarray | None = None  # per unit (Callaway-Sant'Anna); None: none
    covariates: np.ndarray | None = None  # per row × covariate (Callaway-Sant'Anna); None: none
    covariate_names: tuple[str, ...] = ()

    @property
    def n_obs(self) -> int:
        """Return the number of observations."""
        return len(self.y)

    @property
    def n_units(self) -> int:
        """Return the number of units."""
        return len(self.unit_labels)

    @property
    def treated_units(self) -> np.ndarray:
        """Return the indices of the treated units (cohort > 0)."""
        return np.flatnonzero(self.cohort > 0)

    def treatment(self) -> np.ndarray:
        """D_it = 1[t ≥ cohort_i] for treated units (times the dose if given)."""
        g = self.cohort[self.unit]
        d = ((g > 0) & (self.time >= g)).astype(float)
        return d * self.dose if self.dose is not None else d

    def subset(self, rows: np.ndarray) -> Panel:
        """Rows ``rows`` (boolean or index), re-coded; singletons dropped again."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        used, unit = np.unique(self.unit[rows], return_inverse=True)
        _, cluster = np.unique(self.cluster[rows], return_inverse=True)
        p = Panel(
            unit=unit,
            time=self.time[rows],
            y=self.y[rows],
            w=self.w[rows],
            cluster=cluster,
            cohort=self.cohort[used],
            unit_labels=self.unit_labels[used],
            periods=np.unique(self.time[rows]),
            dose=None if self.dose is None else self.dose[rows],
            outcome=self.outcome,
            sampling_weights=None if self.sampling_weights is None else self.sampling_weights[used],
            covariates=None if self.covariates is None else self.covariates[rows],
            covariate_names=self.covariate_names,
        )
        return drop_singletons(p, already=self.n_singletons)


def drop_singletons(p: Panel, already: int = 0) -> Panel:
    """Drop units observed only once, adding their number to ``n_singletons``."""
    counts = np.bincount(p.unit, minlength=p.n_units)
    single = counts[p.unit] < 2
    if not single.any():
        p.n_singletons = already
        return p
    keep = np.flatnonzero(~single)
    out = p.subset(keep) if keep.size else p
    out.n_singletons = already + int(single.sum())
    return out


def panel_from_frame(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    outcome: str,
    weights: str | None = None,
    cluster: str | None = None,
    dose: str | None = None,
    sampling_weights: str | None = None,
    covariates: Sequence[str] = (),
) -> Panel:
    """Build a :class:`Panel` from a long unit × period frame.

    Rows with a missing outcome (or covariate) are dropped; units observed once are dropped too
    (:func:`drop_singletons`).

    Parameters
    ----------
    df : DataFrame
        One row per unit and period.
    unit, time, cohort, outcome : str
        Column names. ``cohort`` holds the first treated period (0 or blank = never treated) and
        must be constant within a unit.
    weights : str, optional
        Column of positive, finite observation weights (default: all 1).
    cluster : str, optional
        Column of clusters (default: the unit).
    dose : str, optional
        Column of treatment doses.
    sampling_weights : str, optional
        Column of unit sampling weights (R ``did``'s ``weightsname``; Callaway-Sant'Anna
        only): positive, finite and constant within a unit.
    covariates : sequence of str
        Numeric covariate columns (Callaway-Sant'Anna's doubly robust cells; R ``did``'s
        ``xformla``). Rows with a missing covariate are dropped, as rows with a missing outcome.

    Returns
    -------
    Panel
        The panel, sorted by unit and period.

    Raises
    ------
    ConfigError
        For a missing column, duplicate unit-period rows, a cohort varying within a unit or bad
        weights (or sampling weights varying within a unit).
    """
    covariates = list(covariates)
    for col in [unit, time, cohort, outcome, weights, cluster, dose, sampling_weights, *covariates]:
        if col is not None and col not in df.columns:
            raise ConfigError(f"panel has no column {col!r} (columns: {', '.join(df.columns)})")
    d = df[df[outcome].notna()]
    if covariates:
        x = d[covariates].apply(pd.to_numeric, errors="coerce")
        d = d[x.notna().all(axis=1).to_numpy()]
    if d.duplicated([unit, time]).any():
        dup = d.loc[d.duplicated([unit, time], keep=False), [unit, time]].iloc[0].tolist()
        raise ConfigError(f"panel has more than one row for {unit}={dup[0]}, {time}={dup[1]}")
    d = d.sort_values([unit, time], kind="stable")
    labels, ucode = np.unique(d[unit].astype(str).to_numpy(), return_inverse=True)
    coh = pd.to_numeric(d[cohort], errors="coerce").fillna(0).to_numpy()
    per_unit = np.zeros(len(labels))
    per_unit[ucode] = coh
    # a unit's cohort must be constant
    if (coh != per_unit[ucode]).any():
        raise ConfigError(
            f"column {cohort!r} varies within a unit; it must be the first treated period"
        )
    cl = d[cluster].astype(str).to_numpy() if cluster else d[unit].astype(str).to_numpy()
    _, ccode = np.unique(cl, return_inverse=True)
    w = d[weights].to_numpy(dtype=float) if weights else np.ones(len(d))
    if (w <= 0).any() or not np.isfinite(w).all():
        raise ConfigError(f"weights column {weights!r} must be positive and finite")
    sw = None
    if sampling_weights:
        v = pd.to_numeric(d[sampling_weights], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(v).all() or (v <= 0).any():
            raise ConfigError(
                f"sampling weights column {sampling_weights!r} must be positive and finite"
            )
        sw = np.zeros(len(labels))
        sw[ucode] = v
        if (v != sw[ucode]).any():
            raise ConfigError(
                f"sampling weights column {sampling_weights!r} varies within a unit; "
                "it must be one weight per unit"
            )
    p = Panel(
        unit=ucode,
        time=d[time].to_numpy(),
        y=d[outcome].to_numpy(dtype=float),
        w=w,
        cluster=ccode,
        cohort=per_unit.astype(int),
        unit_labels=labels,
        periods=np.unique(d[time].to_numpy()),
        dose=d[dose].to_numpy(dtype=float) if dose else None,
        outcome=outcome,
        sampling_weights=sw,
        covariates=(
            d[covariates].apply(pd.to_numeric).to_numpy(dtype=float) if covariates else None
        ),
        covariate_names=tuple(covariates),
    )
    return drop_singletons(p)


# --------------------------------------------------------------------------- within transform


def demean_by_unit(p: Panel, cols: np.ndarray) -> np.ndarray:
    """Weighted within-unit demeaning of each column of ``cols`` (n × k)."""
    cols = np.asarray(cols, dtype=float)
    one = cols.ndim == 1
    if one:
        cols = cols[:, None]
    sw = np.bincount(p.unit, weights=p.w, minlength=p.n_units)
    out = np.empty_like(cols)
    for j in range(cols.shape[1]):
        m = np.bincount(p.unit, weights=p.w * cols[:, j], minlength=p.n_units) / sw
        out[:, j] = cols[:, j] - m[p.unit]
    return out[:, 0] if one else out


def period_dummies(p: Panel) -> tuple[np.ndarray, list[str]]:
    """Dummies for every period but the first (the reference)."""
    per = p.periods[1:]
    return (p.time[:, None] == per[None, :]).astype(float), [f"period[{t}]" for t in per]


@dataclass
class Design:
    """The within-transformed regression, in sqrt-weight space: Z β ≈ y."""

    Z: np.ndarray  # n × K, demeaned regressors times sqrt(w)
    y: np.ndarray  # demeaned outcome times sqrt(w)
    names: list[str]
    cluster: np.ndarray
    n_clusters: int

    @property
    def n_obs(self) -> int:
        """Return the number of observations."""
        return len(self.y)

    @property
    def k(self) -> int:
        """Return the number of regressors."""
        return self.Z.shape[1]

    @property
    def ssc(self) -> float:
        """CR1 small-sample factor G/(G−1)·(N−1)/(N−K)."""
        g, n, k = self.n_clusters, self.n_obs, self.k
        return g / (g - 1) * (n - 1) / (n - k)


def build_design(p: Panel, X: np.ndarray, names: list[str]) -> Design:
    """Regressors ``X`` (treatment terms) plus period dummies, unit effects absorbed."""
    T, tnames = period_dummies(p)
    full = np.column_stack([X, T]) if T.size else np.asarray(X, dtype=float)
    sw = np.sqrt(p.w)
    Z = demean_by_unit(p, full) * sw[:, None]
    y = demean_by_unit(p, p.y) * sw
    return Design(
        Z=Z, y=y, names=list(names) + tnames, cluster=p.cluster, n_clusters=int(p.cluster.max()) + 1
    )


@dataclass
class OLSFit:
    """Hold an OLS fit: coefficients, CR1 covariance, residuals, (Z'Z)^-1 and the design."""

    beta: np.ndarray
    vcov: np.ndarray  # CR1
    resid: np.ndarray
    bread: np.ndarray  # (Z'Z)^-1
    design: Design = field(repr=False)

    def se(self) -> np.ndarray:
        """Return the CR1 standard errors."""
        return np.sqrt(np.diag(self.vcov))


def cluster_sums(values: np.ndarray, cluster: np.ndarray, n: int) -> np.ndarray:
    """Sum rows of ``values`` (n_obs × k) within clusters -> (n × k)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        return np.bincount(cluster, weights=values, minlength=n)
    out = np.empty((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(cluster, weights=values[:, j], minlength=n)
    return out


def ols(design: Design) -> OLSFit:
    """Fit least squares with the CR1 cluster-robust variance.

    Parameters
    ----------
    design : Design
        The (within-transformed, weighted) design.

    Returns
    -------
    OLSFit
        Coefficients, CR1 covariance, residuals and (Z'Z)⁻¹.

    Raises
    ------
    ConfigError
        If the design is rank deficient.
    """
    Z, y = design.Z, design.y
    rank = np.linalg.matrix_rank(Z)
    if rank < design.k:
        raise ConfigError(
            f"design is rank deficient ({rank} < {design.k} regressors: {design.names}); "
            "a treatment term is collinear with the period or unit effects"
        )
    bread = np.linalg.inv(Z.T @ Z)
    beta = bread @ (Z.T @ y)
    resid = y - Z @ beta
    scores = cluster_sums(Z * resid[:, None], design.cluster, design.n_clusters)
    meat = scores.T @ scores
    vcov = design.ssc * bread @ meat @ bread
    return OLSFit(beta=beta, vcov=vcov, resid=resid, bread=bread, design=design)


# --------------------------------------------------------------------------- designs


def twfe_design(p: Panel) -> Design:
    """Build the static two-way fixed effects design: y = unit + period + β·D + e."""
    return build_design(p, p.treatment()[:, None], ["treated_post"])


def event_times(p: Panel) -> np.ndarray:
    """Event times (period − cohort) observed among treated units."""
    g = p.cohort[p.unit]
    tr = g > 0
    return np.unique(p.time[tr] - g[tr]).astype(int)


def event_study_design(p: Panel, reference: int = -1) -> tuple[Design, list[int]]:
    """Dummies for each event time of treated units except ``reference`` (default −1)."""
    g = p.cohort[p.unit]
    tr = g > 0
    rel = np.where(tr, p.time - g, np.iinfo(np.int64).min)
    es = [int(e) for e in event_times(p) if e != reference]
    X = np.column_stack([(rel == e).astype(float) for e in es]) if es else np.empty((p.n_obs, 0))
    return build_design(p, X, [f"event[{e}]" for e in es]), es


def two_by_two(p: Panel, base: int, post: int) -> Panel:
    """Return the 2×2 subsample: periods ``base`` and ``post``, units observed in both."""
    rows = np.isin(p.time, [base, post])
    sub = p.subset(rows)
    return sub
