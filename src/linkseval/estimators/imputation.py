"""The imputation estimator of Borusyak, Jaravel & Spiess (2024, "Revisiting event-study designs").

1. Fit unit and period effects on the untreated observations only (never-treated units, and the
   years before each Links practice's start): y_it = α_i + λ_t + ε_it, weighted by the panel's
   analytic weights.
2. Impute each treated observation's untreated outcome α_i + λ_t; its effect is
   τ_it = y_it − α_i − λ_t.
3. Average: ``simple`` over every treated observation, ``dynamic`` per event time e ≥ 0, with
   weights proportional to the panel weights.

Treated observations whose practice has no untreated year, or whose year has no untreated
practice, cannot be imputed and are left out (the note counts them). Unlike TWFE, treated
observations never serve as controls, so effects that change over time or differ by cohort get
no negative weights.

Hooks: the analytic SE is BJS's Theorem 3 variance — the estimate is linear in the outcome,
τ̂ = Σ v_it y_it, and V = Σ_clusters (Σ v_it ε̃_it)², with ε̃ the untreated residuals and, for
treated observations, τ̂_it minus its cohort × period mean (conservative under heterogeneity; no
leave-out correction). No WCR bootstrap: the equivalent saturated regression (one dummy per treated
observation, whose coefficients are exactly the τ̂_it) has zero residuals on the treated
observations, so its bootstrap t would ignore their variance. The joint pre-trend test is
BJS's: event-time dummies for the pre-programme years (the earliest as reference) added to the
untreated-only regression, CR1 Wald F. RI: the programme reassigned as for TWFE; per draw only
the drawn units' pieces of the period system change, so the refit is a small solve per draw
(:func:`imputation_ri_statistics`).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from linkseval.did import Panel, event_study_design, ols
from linkseval.estimators.base import (
    Fitted,
    RIProblem,
    Term,
    n_treated_clusters,
    result_row,
)
from linkseval.inference import RIStatistics, TestResult
from linkseval.study import Settings

METHOD = "imputation (BJS analytic)"


def _treated_obs(p: Panel) -> np.ndarray:
    g = p.cohort[p.unit]
    return (g > 0) & (p.time >= g)


def _imputable(p: Panel) -> np.ndarray:
    """Per observation: untreated, or treated with an untreated year of its unit and period."""
    tr = _treated_obs(p)
    unit_ok = np.bincount(p.unit[~tr], minlength=p.n_units) > 0
    per_idx = np.searchsorted(p.periods, p.time)
    period_ok = np.bincount(per_idx[~tr], minlength=len(p.periods)) > 0
    return ~tr | (unit_ok[p.unit] & period_ok[per_idx])


def _untreated_system(p: Panel):
    """Return the untreated observations' weights (units × periods) and the period system.

    ``(tr, per, W, has, Wn, M)``: treated rows, period index per row, the untreated weights,
    units with an untreated observation, their weights over their total, and the Schur
    complement M = diag(Σ_i W) − Σ_i W_i W_i'/W_i of the unit effects (λ of period 0 fixed).
    """
    tr = _treated_obs(p)
    per = np.searchsorted(p.periods, p.time)
    W = np.zeros((p.n_units, len(p.periods)))
    W[p.unit[~tr], per[~tr]] = p.w[~tr]
    Wi = W.sum(axis=1)
    has = Wi > 0
    Wn = W[has] / Wi[has, None]
    M = np.diag(W.sum(axis=0)) - W[has].T @ Wn
    return tr, per, W, has, Wn, M


def untreated_effects(p: Panel, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fit y = α_i + λ_t on the untreated observations (weighted): α per unit, λ per period.

    Solved exactly by eliminating the unit effects (the period system's Schur complement,
    λ of the first period = 0). Units without an untreated observation get α = NaN.
    """
    y = p.y if y is None else y
    tr, per, W, has, Wn, M = _untreated_system(p)
    Y = np.zeros_like(W)
    Y[p.unit[~tr], per[~tr]] = y[~tr]
    ybar = (Wn * Y[has]).sum(axis=1)
    r = (W[has] * (Y[has] - ybar[:, None])).sum(axis=0)
    lam = np.zeros(len(p.periods))
    if len(lam) > 1:
        lam[1:] = np.linalg.solve(M[1:, 1:], r[1:])
    alpha = np.full(p.n_units, np.nan)
    alpha[has] = ybar - Wn @ lam
    return alpha, lam


def untreated_weights(p: Panel, omega: np.ndarray) -> np.ndarray:
    """Return v on the untreated observations such that Σ ω τ̂ = Σ_1 ω y + Σ_0 v y.

    v = −W₀X₀(X₀'W₀X₀)⁻¹X₁'ω for the unit and period dummies X, computed with the same
    elimination of the unit effects as :func:`untreated_effects` (``omega``: weights of the
    treated observations, zero elsewhere).
    """
    tr, per, W, has, Wn, M = _untreated_system(p)
    c_unit = np.bincount(p.unit, weights=omega, minlength=p.n_units)
    c_per = np.bincount(per, weights=omega, minlength=len(p.periods))
    h_per = np.zeros(len(p.periods))
    if len(h_per) > 1:
        rhs = c_per - Wn.T @ c_unit[has]
        h_per[1:] = np.linalg.solve(M[1:, 1:], rhs[1:])
    h_unit = np.zeros(p.n_units)
    h_unit[has] = (c_unit[has] - W[has] @ h_per) / W[has].sum(axis=1)
    v = np.zeros(p.n_obs)
    v[~tr] = -p.w[~tr] * (h_unit[p.unit[~tr]] + h_per[per[~tr]])
    return v


def _unit_pieces(p: Panel, v: np.ndarray, cohorts: np.ndarray, events: np.ndarray):
    """Per unit and cohort: what treating the unit from that cohort changes (additive pieces).

    For outcome ``v``: ``dC``, ``dr`` — the change of the period system (T × T) and its right
    side (T) when the unit's years from the start on leave the untreated sample; ``A``, ``B``, ``S``
    — per event time the unit's imputed-effect sum is A − B·λ over S weight. All are sums over
    the unit's observations, so they add up over the units (or clusters) a draw treats.
    Also returns the period system of every observation untreated (M₀, r₀).
    """
    N, T = p.n_units, len(p.periods)
    per = np.searchsorted(p.periods, p.time)
    W = np.zeros((N, T))
    V = np.zeros((N, T))
    W[p.unit, per] = p.w
    V[p.unit, per] = v

    def system(Wm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tot = Wm.sum(axis=1)
        has = tot > 0
        safe = np.where(has, tot, 1.0)
        vbar = (Wm * V).sum(axis=1) / safe
        C = (
            np.einsum("it,ts->its", Wm, np.eye(T))
            - np.einsum("it,is->its", Wm, Wm) / safe[:, None, None]
        )
        r = Wm * (V - vbar[:, None])
        return np.where(has[:, None, None], C, 0.0), np.where(has[:, None], r, 0.0)

    C_all, r_all = system(W)
    K, E = len(cohorts), len(events)
    dC, dr = np.zeros((N, K, T, T)), np.zeros((N, K, T))
    A, B, S = np.zeros((N, K, E)), np.zeros((N, K, E, T)), np.zeros((N, K, E))
    for k, g in enumerate(cohorts):
        pre = W * (p.periods < g)[None, :]
        C_pre, r_pre = system(pre)
        tot = pre.sum(axis=1)
        ok = tot > 0  # a unit without a year before g cannot be imputed: it stays out
        dC[:, k] = np.where(ok[:, None, None], C_all - C_pre, 0.0)
        dr[:, k] = np.where(ok[:, None], r_all - r_pre, 0.0)
        share = np.where(ok, 1.0 / np.where(ok, tot, 1.0), 0.0)
        for j, e in enumerate(events):
            t = np.searchsorted(p.periods, g + e)
            if t >= T or p.periods[t] != g + e:
                continue
            w_t = np.where(ok, W[:, t], 0.0)
            S[:, k, j] = w_t
            A[:, k, j] = w_t * V[:, t] - w_t * share * (pre * V).sum(axis=1)
            B[:, k, j, t] = w_t
            B[:, k, j] -= (w_t * share)[:, None] * pre
    return dC, dr, A, B, S, C_all.sum(axis=0), r_all.sum(axis=0)


def imputation_ri_statistics(
    p: Panel, event_times: list[int], *, seed: int, n_draws: int
) -> tuple[RIStatistics, list[int]]:
    """Compute the imputation estimates under every reassignment of the programme (RI hook).

    The programme is reassigned as for TWFE (:func:`~linkseval.inference.ri_sample`, same seed
    → same draws; units, or whole clusters). For each draw, the untreated sample changes only
    in the drawn units' years from their start on, so the period system is the all-untreated
    one minus the drawn units' pieces (:func:`_unit_pieces`), solved per draw; the estimate is
    linear in the outcome, so the statistic under a constant effect τ is a − τ b with b the
    estimate on the observed treatment. Terms: ``simple`` then ``dynamic`` at ``event_times``.
    Returns the statistics and their term indices (0..).
    """
    from linkseval.inference import group_sum, n_chunks, ri_sample, ri_units
    from linkseval.inference.randomization import _assigned_sum, _ri_assignment

    u = ri_units(p)
    cohorts = np.unique(u.cohort[u.cohort > 0])
    col = _ri_assignment(p, u)
    events = np.arange(0, int(p.periods.max() - cohorts.min()) + 1)
    where = [int(np.flatnonzero(events == e)[0]) for e in event_times]
    T = len(p.periods)
    out = []
    for v in (p.y, p.treatment()):
        dC, dr, A, B, S, M0, r0 = _unit_pieces(p, v, cohorts, events)
        dC, dr, A, B, S = (group_sum(x, u.group, u.n) for x in (dC, dr, A, B, S))

        def stats(idx: np.ndarray, dC=dC, dr=dr, A=A, B=B, S=S, M0=M0, r0=r0) -> tuple:
            M = M0[None] - _assigned_sum(dC, idx, col)
            r = r0[None] - _assigned_sum(dr, idx, col)
            Mr = M[:, 1:, 1:]
            lam = np.zeros((len(idx), T))
            good = np.linalg.eigvalsh(Mr).min(axis=1) > 1e-10 * max(1.0, float(M0.max()))
            lam[good, 1:] = np.linalg.solve(Mr[good], r[good, 1:, None])[..., 0]
            num = _assigned_sum(A, idx, col) - np.einsum(
                "ret,rt->re", _assigned_sum(B, idx, col), lam
            )
            den = _assigned_sum(S, idx, col)
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = [num.sum(1) / den.sum(1)] + [num[:, j] / den[:, j] for j in where]
            vals = np.column_stack(vals)
            vals[~good] = np.nan
            return vals

        obs = stats(u.treated[None, :])[0]
        draws = np.concatenate(
            [stats(ri_sample(seed, n_draws, k, u.n, len(col))) for k in range(n_chunks(n_draws))]
        )
        out.append((obs, draws))
    (a0, a), (b0, b) = out
    statistics = RIStatistics(
        a=a,
        b=b,
        den=None,
        ok=np.isfinite(a) & np.isfinite(b),
        observed=a0,
        slope=b0,
        note=u.describe(),
    )
    return statistics, list(range(1 + len(event_times)))


class ImputationFit(Fitted):
    """A fitted imputation estimator: overall and per-event-time ATTs."""

    def __init__(self, p: Panel) -> None:
        keep = _imputable(p)
        dropped = int((~keep).sum())
        q = p.subset(keep) if dropped else p
        tr = _treated_obs(q)
        alpha, lam = untreated_effects(q)
        per_idx = np.searchsorted(q.periods, q.time)
        tau = np.where(tr, q.y - alpha[q.unit] - lam[per_idx], 0.0)
        resid = np.where(tr, 0.0, q.y - alpha[q.unit] - lam[per_idx])
        e = np.where(tr, q.time - q.cohort[q.unit], np.iinfo(np.int64).min)
        groups = [("simple", None, tr)] + [
            ("dynamic", int(k), tr & (e == k)) for k in np.unique(e[tr]).astype(int)
        ]
        omegas = [np.where(m, q.w, 0.0) / q.w[m].sum() for _, _, m in groups]
        # τ̄ per cohort × period cell (BJS's heterogeneity-robust residual of treated cells)
        cell = q.cohort[q.unit] * 10_000 + q.time
        G = int(q.cluster.max()) + 1
        n_tc = n_treated_clusters(q)
        est, se = [], []
        for om in omegas:
            est.append(float(om @ tau))
            tbar = np.zeros(q.n_obs)
            for c in np.unique(cell[om > 0]):
                m = (cell == c) & tr
                tbar[m] = (om[m] @ tau[m]) / om[m].sum() if om[m].sum() > 0 else 0.0
            eps = np.where(tr, tau - tbar, resid)
            v = om + untreated_weights(q, om)
            s = np.bincount(q.cluster, weights=v * eps, minlength=G)
            se.append(float(np.sqrt(np.sum(s**2))) if n_tc >= 2 else np.nan)
        note = "BJS (2024) imputation: unit and year effects from untreated practice-years only"
        if dropped:
            note += f"; {dropped} treated practice-year(s) without an untreated year left out"
        terms = [
            Term(kind, {} if k is None else {"event_time": k}, note if kind == "simple" else "")
            for kind, k, _ in groups
        ]
        super().__init__(
            estimator="imputation",
            panel=q,
            terms=terms,
            estimate=np.array(est),
            std_error=np.array(se),
            vcov_name=METHOD,
            df=None,
            analytic_unavailable=None if n_tc >= 2 else f"{n_tc} treated cluster(s); needs 2",
        )
        self.omegas, self.treated = omegas, tr

    def wild_unavailable(self) -> str:
        """Return why the imputation estimator has no WCR bootstrap."""
        return (
            "no valid regression form: in the saturated regression (one dummy per treated "
            "practice-year) the treated residuals are 0, so its bootstrap t would ignore their "
            "variance (its intervals were 18-72% as wide as the analytic ones on the default study)"
        )

    def ri_statistics(self, *, seed: int, n_draws: int) -> RIProblem:
        """Return every term under every reassignment of the programme."""
        es = [t.where["event_time"] for t in self.terms[1:]]
        stats, rows = imputation_ri_statistics(self.panel, es, seed=seed, n_draws=n_draws)
        return RIProblem(stats, rows)

    def joint_rows(self, s: Settings, base: dict, methods: list[str]) -> list[dict]:
        """Return BJS's pre-trend test: pre-programme event-time dummies on untreated data."""
        q = self.panel
        untreated = q.subset(~self.treated)
        g = untreated.cohort[untreated.unit]
        pre = np.unique((untreated.time - g)[g > 0]).astype(int)
        if len(pre) < 2 or n_treated_clusters(untreated) < 2:
            why = (
                "fewer than 2 pre-programme years"
                if len(pre) < 2
                else "fewer than 2 treated clusters"
            )
            res = TestResult.not_applicable("CR1", why)
            return [result_row(base, "pretrend_joint", res, np.nan, np.nan)]
        design, es = event_study_design(untreated, reference=int(pre.min()))
        fit = ols(design)
        k = len(es)
        b, V = fit.beta[:k], fit.vcov[:k, :k]
        F = float(b @ np.linalg.solve(V, b)) / k
        df2 = design.n_clusters - 1
        note = (
            f"BJS pre-trend test: H0: all {k} pre-programme event-time effects = 0 in the "
            f"untreated-only regression (reference: event time {int(pre.min())}); F({k}, {df2})"
        )
        res = TestResult(
            "CR1", float(special.fdtrc(k, df2, max(F, 0.0))), np.nan, np.nan, statistic=F, note=note
        )
        return [result_row(base, "pretrend_joint", res, np.nan, np.nan)]


class Imputation:
    """The imputation estimator (registered as ``imputation``)."""

    name = "imputation"
    label = "the imputation estimator (overall effect)"
    overall_term: str | None = "simple"
    analytic_method = METHOD

    def applies(self, p: Panel, rule: str) -> bool:
        """Return True unless the comparison includes the treated (``all_including_treated``)."""
        return rule != "all_including_treated"

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return the panel itself."""
        return [({}, p)]

    def fit(self, p: Panel, s: Settings, **options) -> ImputationFit:
        """Fit the imputation estimator."""
        return ImputationFit(p)
