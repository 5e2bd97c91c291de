"""Synthetic difference-in-differences and synthetic control (Arkhangelsky et al. 2021, AER).

A port of the R package ``synthdid`` 0.0.9 (R/solver.R, R/synthdid.R, R/vcov.R), step for step,
so that its numbers are R's: on California's Proposition 99 (tests/data/california_prop99.csv)
SDID −15.60383, SC −19.61966 and DID −27.34911, as R prints them.

On a balanced block design (N_co control units, then N_tr treated units that all start after
T_pre periods; T_post periods from the start on) each estimate is

    τ̂ = (−ω, 1/N_tr)′ Y (−λ, 1/T_post)

with unit weights ω and time weights λ on the unit simplex:

- ``sdid``: ω with an intercept and ridge ζ_ω = (N_tr·T_post)^{1/4}·σ̂; λ with an intercept and
  ridge ζ_λ = 1e-6·σ̂; σ̂ is the SD of the controls' first differences before the start
  (R's ``synthdid_estimate``);
- ``sc``: ω without an intercept, ζ_ω = 1e-6·σ̂, and no time weights, λ = 0 (R's ``sc_estimate``);
- ``did``: uniform ω and λ (R's ``did_estimate``): the block DiD of the means.

Weights are fitted on the collapsed (N_co + 1) × (T_pre + 1) matrix by Frank–Wolfe with exact
line search (R's ``sc.weight.fw``): 100 iterations from uniform weights, then the weights at most
a quarter of their maximum are set to 0 (R's ``sparsify_function``) and Frank–Wolfe goes on for
up to 10,000 iterations, stopping after one that lowers the penalised objective by at most
(1e-5·σ̂)². The solver runs on a batch of problems at once (each stops on its own), so the 200
placebo replications are one array computation.

Standard errors (R's ``vcov``):

- ``placebo`` (Algorithm 4): the treated units left out, N_tr randomly chosen controls are
  pseudo-treated and the estimator refitted (ζ kept, weights re-estimated from the fit's weights);
  SE = the SD (divisor R) of the R placebo estimates. Needs more controls than treated units.
  Replications are drawn with ``numpy.random.default_rng(seed)``: the same seed gives the same
  bytes, but not R's draws, so a placebo SE agrees with R's within Monte Carlo error only.
- ``jackknife`` (Algorithm 3, fixed weights): each unit left out in turn, ω renormalised over the
  remaining controls and λ kept; closed form. Undefined (NaN, with the reason) with one treated
  unit or when a single control has a non-zero weight, as in R; not recommended for SC (§5).

Block design only, as R ``synthdid``: a panel whose treated units start in different periods is
refused with :class:`~linkseval.errors.ConfigError` (no cohort is silently chosen). Units not
observed in every period are left out, and the note says how many. Analytic weights, doses and
clusters other than the unit are not used (the note says so): the weights are SDID's own and
both SEs resample units.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from linkseval.did import Panel
from linkseval.errors import ConfigError
from linkseval.estimators.base import Fitted, Term
from linkseval.inference.base import wald_test
from linkseval.study import Settings

KINDS = ("sdid", "sc", "did")
SE_METHODS = ("placebo", "jackknife")
SE_ROWS = {"placebo": "placebo SE", "jackknife": "jackknife SE"}  # the result rows' method
LABELS = {
    "sdid": "synthetic difference-in-differences (Arkhangelsky et al. 2021)",
    "sc": "synthetic control (Abadie et al. 2010; as R synthdid's sc_estimate)",
    "did": "difference-in-differences (uniform weights)",
}
MAX_ITER = 10_000  # R: max.iter
MAX_ITER_PRE_SPARSIFY = 100  # R: max.iter.pre.sparsify
REPLICATIONS = 200  # R: vcov(replications = 200)
ETA_LAMBDA = 1e-6  # R: eta.lambda
ETA_OMEGA_SC = 1e-6  # R: sc_estimate(eta.omega = 1e-6)
MIN_DECREASE = 1e-5  # R: min.decrease = 1e-5 * noise.level
BATCH_ELEMENTS = 4_000_000  # placebo replications per batch: at most this many outcome cells


# --------------------------------------------------------------------------- the block matrix


@dataclass(frozen=True)
class Block:
    """A balanced block-design panel as R's ``panel.matrices`` lays it out.

    ``Y`` is units × periods: the ``n0`` controls first, then the treated units (each group in
    label order), periods sorted, the first ``t0`` before the start. ``kept`` are the panel's
    unit codes in row order; ``dropped`` counts the (control, treated) units left out because
    they miss a period.
    """

    Y: np.ndarray
    n0: int
    t0: int
    units: np.ndarray
    periods: np.ndarray
    kept: np.ndarray
    dropped: tuple[int, int] = (0, 0)

    @property
    def n1(self) -> int:
        """Return the number of treated units."""
        return self.Y.shape[0] - self.n0

    @property
    def t1(self) -> int:
        """Return the number of periods from the start on."""
        return self.Y.shape[1] - self.t0


def block_matrix(p: Panel) -> Block:
    """Lay a panel out as R synthdid's block matrix (controls, then treated; pre, then post).

    Parameters
    ----------
    p : Panel
        Never-treated units (cohort 0) and treated units that all start in one period.

    Returns
    -------
    Block
        The outcome matrix of the units observed in every period.

    Raises
    ------
    ConfigError
        For a staggered panel, no never-treated or no treated unit, no period before or from
        the start, or no control or treated unit observed in every period.
    """
    cohorts = np.unique(p.cohort[p.cohort > 0])
    if len(cohorts) == 0:
        raise ConfigError("synthetic DiD needs a treated unit (cohort > 0)")
    if len(cohorts) > 1:
        starts = ", ".join(str(int(c)) for c in cohorts)
        raise ConfigError(
            "synthetic DiD and synthetic control need every treated unit to start in the same "
            f"period (a block design, as R synthdid); the treated units start in {starts}. "
            "Estimate each cohort against the never-treated units on its own (leave the other "
            "cohorts out of the panel), or use callaway_santanna or imputation"
        )
    if not (p.cohort == 0).any():
        raise ConfigError("synthetic DiD needs never-treated units (cohort 0 or blank) as controls")
    start = cohorts[0]
    t0 = int((p.periods < start).sum())
    if t0 == 0 or t0 == len(p.periods):
        raise ConfigError(
            f"synthetic DiD needs periods before and from the start ({int(start)}); "
            f"the panel has {', '.join(str(t) for t in p.periods)}"
        )
    per = np.searchsorted(p.periods, p.time)
    Y = np.full((p.n_units, len(p.periods)), np.nan)
    Y[p.unit, per] = p.y
    full = np.isfinite(Y).all(axis=1)
    treated = p.cohort > 0
    controls, tr = np.flatnonzero(full & ~treated), np.flatnonzero(full & treated)
    for rows, what in ((controls, "never-treated"), (tr, "treated")):
        if rows.size == 0:
            raise ConfigError(
                f"synthetic DiD needs a balanced panel: no {what} unit is observed in every period"
            )
    kept = np.concatenate([controls, tr])
    dropped = (int((~full & ~treated).sum()), int((~full & treated).sum()))
    return Block(Y[kept], len(controls), t0, p.unit_labels[kept], p.periods, kept, dropped)


# --------------------------------------------------------------------------- the solver


def noise_level(Y: np.ndarray, n0: int, t0: int) -> float:
    """Return σ̂: the SD of the controls' first differences before the start (R's noise.level)."""
    d = np.diff(Y[:n0, :t0], axis=1)
    return float(np.std(d, ddof=1)) if d.size > 1 else np.nan


def collapsed_form(Y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """Return R's collapsed.form: post periods and treated units averaged, (…, n0+1, t0+1)."""
    top = np.concatenate([Y[..., :n0, :t0], Y[..., :n0, t0:].mean(axis=-1)[..., None]], axis=-1)
    treated_pre = Y[..., n0:, :t0].mean(axis=-2)
    treated_post = Y[..., n0:, t0:].mean(axis=(-2, -1))
    bottom = np.concatenate([treated_pre, treated_post[..., None]], axis=-1)
    return np.concatenate([top, bottom[..., None, :]], axis=-2)


def sparsify(v: np.ndarray) -> np.ndarray:
    """Set weights at most a quarter of the largest to 0 and renormalise (R's sparsify_function)."""
    v = np.where(v <= v.max(axis=-1, keepdims=True) / 4, 0.0, v)
    return v / v.sum(axis=-1, keepdims=True)


def sum_normalize(x: np.ndarray) -> np.ndarray:
    """Return x / sum(x), or uniform weights where the sum is 0 (R's sum_normalize)."""
    s = x.sum(axis=-1, keepdims=True)
    uniform = np.full_like(x, 1.0 / x.shape[-1])
    return np.where(s != 0, x / np.where(s != 0, s, 1.0), uniform)


def frank_wolfe(
    A: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    zeta: float,
    *,
    min_decrease: float,
    max_iter: int,
) -> np.ndarray:
    """Minimise ζ²‖x‖² + ‖Ax − b‖²/n over the unit simplex, for a batch of problems.

    R's ``sc.weight.fw`` loop with ``fw.step``: a Frank–Wolfe step with exact line search on
    ‖Ax − b‖² + nζ²‖x‖² per iteration; a problem stops after ``max_iter`` iterations or, from
    the second, after one that lowers its objective by at most ``min_decrease``².

    Parameters
    ----------
    A : ndarray, shape (B, n, k)
    b : ndarray, shape (B, n)
    x : ndarray, shape (B, k)
        Starting weights (on the simplex).
    zeta : float
        The ridge ζ.
    min_decrease, max_iter
        The stopping rule.

    Returns
    -------
    ndarray, shape (B, k)
        The weights.
    """
    if A.shape[0] == 1:  # one problem (every fit of a study): the same steps on 1-D arrays
        one = _frank_wolfe_one(A[0], b[0], x[0], zeta, min_decrease=min_decrease, max_iter=max_iter)
        return one[None, :]
    n = A.shape[1]
    zeta2 = zeta**2
    eta = n * zeta2
    out = np.array(x, dtype=float)
    live = np.arange(len(out))
    x = out.copy()
    Ax = np.matmul(A, x[..., None])[..., 0]
    xx = np.einsum("bk,bk->b", x, x)
    prev = np.full(len(x), np.inf)
    tol = min_decrease**2
    rows = np.arange(live.size)
    t = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        while t < max_iter and live.size:
            t += 1
            err = Ax - b
            grad = np.matmul(err[:, None, :], A)[:, 0]  # R's half.grad = (Ax − b)′A + ηx
            grad += eta * x
            i = np.argmin(grad, axis=1)
            xi = x[rows, i]
            # the step towards vertex i, d = e_i − x, in O(n): g′x = (Ax − b)′Ax + η‖x‖²,
            # ‖d‖² = 1 − 2xᵢ + ‖x‖², and ‖A d‖² from the column Aᵢ − Ax
            derr = A[rows, :, i] - Ax
            num = np.einsum("bn,bn->b", err, Ax) + eta * xx - grad[rows, i]  # −g′d
            den = np.einsum("bn,bn->b", derr, derr) + eta * (1.0 - 2.0 * xi + xx)
            step = np.minimum(np.maximum(num / den, 0.0), 1.0)  # R: min(1, max(0, step))
            vertex = xi == 1.0  # d = 0 exactly: x is already vertex i (R returns x unchanged)
            if vertex.any():
                vertex[vertex] = np.count_nonzero(x[vertex], axis=1) == 1
                step[vertex] = 0.0
            x *= (1.0 - step)[:, None]
            x[rows, i] += step
            Ax += step[:, None] * derr  # = A x for the new x (R recomputes it; same to rounding)
            xx = np.einsum("bk,bk->b", x, x)
            err = Ax - b
            val = zeta2 * xx + np.einsum("bn,bn->b", err, err) / n
            if t >= 2:
                done = ~(prev - val > tol)
                if done.any():
                    out[live[done]] = x[done]
                    keep = ~done
                    live, A, b, x = live[keep], A[keep], b[keep], x[keep]
                    Ax, xx, val = Ax[keep], xx[keep], val[keep]
                    rows = np.arange(live.size)
            prev = val
    out[live] = x
    return out


def _frank_wolfe_one(
    A: np.ndarray, b: np.ndarray, x: np.ndarray, zeta: float, *, min_decrease: float, max_iter: int
) -> np.ndarray:
    """:func:`frank_wolfe` for one problem, ``A`` (n, k): the same iteration on 1-D arrays.

    A fit of a study solves one problem at a time, thousands of iterations on small arrays, so
    the batch version's per-iteration overhead (3-D products, fancy indexing) was most of its
    cost; this is about 3x faster. Equal to the batch version to rounding (tested).
    """
    n = A.shape[0]
    zeta2 = zeta**2
    eta = n * zeta2
    x = np.array(x, dtype=float)
    At = np.ascontiguousarray(A.T)  # row i = column i of A
    Ax = A @ x
    xx = float(x @ x)
    prev = np.inf
    tol = min_decrease**2
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in range(1, max_iter + 1):
            err = Ax - b
            grad = At @ err + eta * x
            i = int(np.argmin(grad))
            xi = x[i]
            derr = At[i] - Ax
            num = float(err @ Ax) + eta * xx - grad[i]
            den = float(derr @ derr) + eta * (1.0 - 2.0 * xi + xx)
            step = min(max(num / den, 0.0), 1.0)  # R: min(1, max(0, step)); NaN stays
            if xi == 1.0 and np.count_nonzero(x) == 1:
                step = 0.0  # x is already vertex i
            x *= 1.0 - step
            x[i] += step
            Ax += step * derr
            xx = float(x @ x)
            err = Ax - b
            val = zeta2 * xx + float(err @ err) / n
            if t >= 2 and not (prev - val > tol):
                break
            prev = val
    return x


def sc_weights(
    Y: np.ndarray,
    zeta: float,
    *,
    intercept: bool,
    init: np.ndarray | None,
    min_decrease: float,
    max_iter: int,
) -> np.ndarray:
    """Fit weights on the columns of ``Y[..., :-1]`` to its last column (R's sc.weight.fw).

    ``Y`` is (B, n, k + 1); with ``intercept`` every column is centred first. ``init`` (B, k)
    defaults to uniform weights.
    """
    if intercept:
        Y = Y - Y.mean(axis=1, keepdims=True)
    k = Y.shape[2] - 1
    x0 = np.full((Y.shape[0], k), 1.0 / k) if init is None else init
    return frank_wolfe(
        Y[..., :k], Y[..., k], x0, zeta, min_decrease=min_decrease, max_iter=max_iter
    )


@dataclass(frozen=True)
class Options:
    """How weights are fitted (R's ``opts``); the placebo and jackknife reuse them unchanged."""

    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int = MAX_ITER


def default_options(kind: str, Y: np.ndarray, n0: int, t0: int) -> Options:
    """Return R's default options of ``synthdid_estimate``, ``sc_estimate`` or ``did_estimate``."""
    if kind not in KINDS:
        raise ConfigError(f"unknown synthetic DiD estimator {kind!r}; choose from {KINDS}")
    sigma = noise_level(Y, n0, t0)
    if kind != "did" and not np.isfinite(sigma):
        raise ConfigError(
            f"{kind} needs at least 2 periods before the start (σ̂ is the SD of the controls' "
            f"first differences); the panel has {t0}"
        )
    n1, t1 = Y.shape[0] - n0, Y.shape[1] - t0
    eta_omega = ETA_OMEGA_SC if kind == "sc" else (n1 * t1) ** 0.25
    return Options(
        zeta_omega=eta_omega * sigma,
        zeta_lambda=ETA_LAMBDA * sigma,
        omega_intercept=kind != "sc",
        lambda_intercept=True,
        update_omega=kind != "did",
        update_lambda=kind == "sdid",
        min_decrease=MIN_DECREASE * sigma,
    )


def fit_weights(
    Y: np.ndarray, n0: int, t0: int, opts: Options, omega: np.ndarray, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ω and λ for a batch of block matrices ``Y`` (B, N, T) (R's synthdid_estimate).

    ``omega`` (B, n0) and ``lam`` (B, t0) are the starting weights, or the weights themselves
    where ``opts`` does not update them. Each fit: 100 iterations, sparsify, then up to
    ``opts.max_iter``.
    """
    Yc = collapsed_form(Y, n0, t0)
    rounds = ((MAX_ITER_PRE_SPARSIFY, None), (opts.max_iter, sparsify))
    if opts.update_lambda:
        for max_iter, prep in rounds:
            lam = sc_weights(
                Yc[:, :n0, :],
                opts.zeta_lambda,
                intercept=opts.lambda_intercept,
                init=lam if prep is None else prep(lam),
                min_decrease=opts.min_decrease,
                max_iter=max_iter,
            )
    if opts.update_omega:
        Yo = np.swapaxes(Yc[:, :, :t0], 1, 2)
        for max_iter, prep in rounds:
            omega = sc_weights(
                Yo,
                opts.zeta_omega,
                intercept=opts.omega_intercept,
                init=omega if prep is None else prep(omega),
                min_decrease=opts.min_decrease,
                max_iter=max_iter,
            )
    return omega, lam


def weighted_effect(Y: np.ndarray, n0: int, omega: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Return τ̂ = (−ω, 1/N_tr)′ Y (−λ, 1/T_post) for a batch (B, N, T) of block matrices."""
    B, N, T = Y.shape
    n1, t1 = N - n0, T - lam.shape[1]
    row = np.concatenate([-omega, np.full((B, n1), 1.0 / n1)], axis=1)
    col = np.concatenate([-lam, np.full((B, t1), 1.0 / t1)], axis=1)
    return np.einsum("bt,bt->b", np.einsum("bi,bit->bt", row, Y), col)


# --------------------------------------------------------------------------- estimates


@dataclass(frozen=True)
class SynthDIDEstimate:
    """One fit (R's synthdid_estimate object): the estimate, its weights, what made them."""

    estimator: str
    estimate: float
    omega: np.ndarray
    lam: np.ndarray
    Y: np.ndarray = field(repr=False)
    n0: int
    t0: int
    options: Options

    @property
    def n1(self) -> int:
        """Return the number of treated units."""
        return self.Y.shape[0] - self.n0

    @property
    def t1(self) -> int:
        """Return the number of periods from the start on."""
        return self.Y.shape[1] - self.t0

    @property
    def effective_n0(self) -> float:
        """Return 1/Σω², the effective number of controls (R's summary: N0.effective)."""
        return float(1.0 / np.sum(self.omega**2))

    @property
    def effective_t0(self) -> float:
        """Return 1/Σλ², the effective number of pre periods (R's summary: T0.effective)."""
        return float(1.0 / np.sum(self.lam**2)) if self.lam.any() else 0.0


def synthdid_estimate(
    Y: np.ndarray,
    n0: int,
    t0: int,
    estimator: str = "sdid",
    *,
    omega: np.ndarray | None = None,
    lam: np.ndarray | None = None,
    options: Options | None = None,
) -> SynthDIDEstimate:
    """Estimate the effect on a treated block (R's synthdid_estimate, sc_estimate, did_estimate).

    Parameters
    ----------
    Y : ndarray, shape (N, T)
        Outcomes: rows ``0..n0-1`` controls, the rest treated; columns ``0..t0-1`` before
        the start.
    n0, t0 : int
        Number of controls and of periods before the start.
    estimator : {"sdid", "sc", "did"}
        Which estimator.
    omega, lam : ndarray, optional
        Fixed unit (length ``n0``) or time (length ``t0``) weights: given, they are used as they
        are (as R's ``weights`` with ``update.* = FALSE``).
    options : Options, optional
        Override R's defaults (:func:`default_options`).

    Returns
    -------
    SynthDIDEstimate
        The estimate with its weights.
    """
    Y = np.asarray(Y, dtype=float)
    if not 0 < n0 < Y.shape[0] or not 0 < t0 < Y.shape[1]:
        raise ConfigError(f"need 0 < n0 < {Y.shape[0]} and 0 < t0 < {Y.shape[1]}")
    if not np.isfinite(Y).all():
        raise ConfigError("synthetic DiD needs a balanced panel without missing outcomes")
    opts = options or default_options(estimator, Y, n0, t0)
    if estimator == "did":
        omega = np.full(n0, 1.0 / n0) if omega is None else omega
        lam = np.full(t0, 1.0 / t0) if lam is None else lam
    elif estimator == "sc" and lam is None:
        lam = np.zeros(t0)
    opts = replace(
        opts,
        update_omega=opts.update_omega and omega is None,
        update_lambda=opts.update_lambda and lam is None,
    )
    w0 = np.full(n0, 1.0 / n0) if omega is None else np.asarray(omega, dtype=float)
    l0 = np.full(t0, 1.0 / t0) if lam is None else np.asarray(lam, dtype=float)
    om, la = fit_weights(Y[None], n0, t0, opts, w0[None], l0[None])
    tau = weighted_effect(Y[None], n0, om, la)[0]
    return SynthDIDEstimate(estimator, float(tau), om[0], la[0], Y, n0, t0, opts)


# --------------------------------------------------------------------------- standard errors


def se_unavailable(est: SynthDIDEstimate, method: str) -> str | None:
    """Return why standard error ``method`` is undefined for ``est`` (None: it is defined)."""
    if method not in SE_METHODS:
        raise ConfigError(
            f"unknown synthetic DiD standard error {method!r}; choose from {SE_METHODS}"
        )
    if method == "placebo" and est.n0 <= est.n1:
        return (
            f"the placebo SE needs more control units than treated units ({est.n0} controls, "
            f"{est.n1} treated)"
        )
    if method == "jackknife" and est.n1 == 1:
        return (
            "the jackknife SE is undefined with one treated unit (Arkhangelsky et al. 2021, "
            "Algorithm 3; R synthdid returns NA): use the placebo SE"
        )
    if method == "jackknife" and np.count_nonzero(est.omega) == 1:
        return "the jackknife SE is undefined when a single control unit has a non-zero weight"
    return None


def placebo_draws(n0: int, replications: int, seed: int) -> np.ndarray:
    """Return the placebo permutations of the controls, one row per replication (seeded)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n0) for _ in range(replications)])


def placebo_estimates(est: SynthDIDEstimate, perms: np.ndarray) -> np.ndarray:
    """Return the placebo estimates: per row of ``perms``, its last N_tr controls treated.

    R's ``placebo_se`` theta: the controls in the permuted order, the fit's options (ζ, stopping
    rule), ω started from the fit's weights of the remaining controls (renormalised) and λ from
    the fit's λ.
    """
    n0p = est.n0 - est.n1
    per_batch = max(1, BATCH_ELEMENTS // est.Y[: est.n0].size)
    out = []
    for lo in range(0, len(perms), per_batch):
        idx = perms[lo : lo + per_batch]
        Yb = est.Y[idx]
        omega0 = sum_normalize(est.omega[idx[:, :n0p]])
        lam0 = np.repeat(est.lam[None], len(idx), axis=0)
        om, la = fit_weights(Yb, n0p, est.t0, est.options, omega0, lam0)
        out.append(weighted_effect(Yb, n0p, om, la))
    return np.concatenate(out)


def placebo_se(est: SynthDIDEstimate, replications: int = REPLICATIONS, seed: int = 0) -> float:
    """Return the placebo SE (Algorithm 4; R's ``vcov(method = "placebo")``), NaN if undefined.

    SE = √((R − 1)/R) · sd of the ``replications`` placebo estimates; the permutations come
    from ``numpy.random.default_rng(seed)``.
    """
    if se_unavailable(est, "placebo") is not None:
        return np.nan
    taus = placebo_estimates(est, placebo_draws(est.n0, replications, seed))
    return float(np.std(taus))


def jackknife_estimates(est: SynthDIDEstimate) -> np.ndarray:
    """Return the leave-one-unit-out estimates with fixed weights (R's jackknife_se theta).

    Leaving control j out renormalises ω over the others; leaving a treated unit out averages
    the remaining treated units; λ is kept. In closed form: with z = Y (−λ, 1/T_post),
    τ̂₋ⱼ = z̄_tr − Σ_{i≠j} ωᵢzᵢ / Σ_{i≠j} ωᵢ and τ̂₋ₖ = (Σ z_tr − z_k)/(N_tr − 1) − ω′z_co.
    """
    col = np.concatenate([-est.lam, np.full(est.t1, 1.0 / est.t1)])
    z = est.Y @ col
    z0, z1 = z[: est.n0], z[est.n0 :]
    w = est.omega
    rest = w.sum() - w
    with np.errstate(invalid="ignore", divide="ignore"):
        controls = z1.mean() - (w @ z0 - w * z0) / rest
    treated = (z1.sum() - z1) / (est.n1 - 1) - w @ z0 if est.n1 > 1 else np.full(1, np.nan)
    return np.concatenate([controls, treated])


def jackknife_se(est: SynthDIDEstimate) -> float:
    """Return the fixed-weights jackknife SE (Algorithm 3; R's ``method = "jackknife"``).

    √((n − 1)/n · Σ(τ̂₋ᵢ − τ̄)²) over the n units; NaN where :func:`se_unavailable` says why.
    """
    if se_unavailable(est, "jackknife") is not None:
        return np.nan
    u = jackknife_estimates(est)
    n = len(u)
    return float(np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2)))


# --------------------------------------------------------------------------- on a Panel


@dataclass(frozen=True)
class SynthDIDResult:
    """An estimate on a panel with its standard error, normal CI and p-value.

    ``unavailable`` says why the SE is undefined (numbers NaN); ``omega`` and ``lam`` are the
    weights by control unit and by pre period.
    """

    estimator: str
    se_method: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    alpha: float
    replications: int
    seed: int | None
    n_obs: int
    n_units: int
    n_treated: int
    n_pre: int
    n_post: int
    omega: pd.Series
    lam: pd.Series
    note: str
    unavailable: str | None
    fit: SynthDIDEstimate = field(repr=False)
    kept: np.ndarray = field(repr=False)

    @property
    def method(self) -> str:
        """Return the result rows' method (``placebo SE`` or ``jackknife SE``)."""
        return SE_ROWS[self.se_method]

    def tidy(self) -> pd.DataFrame:
        """Return one row: the effect on the treated block with its SE, CI and p-value."""
        return pd.DataFrame(
            [
                {
                    "estimator": self.estimator,
                    "term": "treated_post",
                    "method": self.method,
                    "estimate": self.estimate,
                    "std_error": self.std_error,
                    "statistic": self.statistic,
                    "p_value": self.p_value,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "n_units": self.n_units,
                    "n_treated": self.n_treated,
                    "n_draws": self.replications,
                    "note": self.note,
                }
            ]
        )


def _note(p: Panel, blk: Block, kind: str, se: str, replications: int, seed: int) -> str:
    parts = [
        f"{kind.upper()} (R synthdid): {blk.n0} never-treated and {blk.n1} treated units, "
        f"{blk.t0} periods before the start and {blk.t1} from it"
    ]
    if se == "placebo":
        parts.append(f"placebo SE: {replications} replications, seed {seed}")
    else:
        parts.append("jackknife SE with fixed weights")
        if kind == "sc":
            parts.append("the jackknife is not recommended for SC (Arkhangelsky et al. 2021, §5)")
    c, t = blk.dropped
    if c or t:
        parts.append(
            f"{c} never-treated and {t} treated unit(s) not observed in every period left out "
            "(a balanced panel is needed)"
        )
    if not np.all(p.w == p.w[0]):
        parts.append("analytic weights not used")
    if p.dose is not None:
        parts.append("dose not used")
    if len(np.unique(p.cluster)) != p.n_units:
        parts.append("SE resamples units, not the panel's clusters")
    return "; ".join(parts)


def synthdid_panel(
    p: Panel,
    estimator: str = "sdid",
    se: str = "placebo",
    *,
    replications: int = REPLICATIONS,
    seed: int = 0,
    alpha: float = 0.05,
) -> SynthDIDResult:
    """Estimate SDID, SC or DID on a block-design panel with a placebo or jackknife SE.

    Parameters
    ----------
    p : Panel
        Never-treated units and treated units that all start in one period (block design);
        units not observed in every period are left out (the note counts them).
    estimator : {"sdid", "sc", "did"}
        Which estimator (R's synthdid_estimate, sc_estimate, did_estimate).
    se : {"placebo", "jackknife"}
        Standard error (Algorithm 4 or 3 of Arkhangelsky et al. 2021).
    replications : int
        Placebo replications (R's default 200); ignored by the jackknife.
    seed : int
        Seed of the placebo permutations (``numpy.random.default_rng``).
    alpha : float
        The CI is estimate ± z_{1−α/2}·SE; the p-value is two-sided normal.

    Returns
    -------
    SynthDIDResult
        The estimate, SE, CI, p-value and weights; NaN numbers and ``unavailable`` where the SE
        is undefined (one treated unit for the jackknife; no more controls than treated units
        for the placebo).

    Raises
    ------
    ConfigError
        For a staggered panel or one SDID cannot use (:func:`block_matrix`).
    """
    if se not in SE_METHODS:
        raise ConfigError(f"unknown synthetic DiD standard error {se!r}; choose from {SE_METHODS}")
    blk = block_matrix(p)
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, estimator)
    why = se_unavailable(est, se)
    if se == "placebo":
        sd = placebo_se(est, replications, seed)
    else:
        sd, replications = jackknife_se(est), 0
    test = wald_test(est.estimate, sd, df=None, alpha=alpha, method=SE_ROWS[se])
    nan = why is not None or not np.isfinite(sd)
    return SynthDIDResult(
        estimator=estimator,
        se_method=se,
        estimate=est.estimate,
        std_error=np.nan if nan else sd,
        statistic=np.nan if nan else test.statistic,
        p_value=np.nan if nan else test.p_value,
        ci_low=np.nan if nan else test.ci_low,
        ci_high=np.nan if nan else test.ci_high,
        alpha=alpha,
        replications=replications,
        seed=seed if se == "placebo" else None,
        n_obs=blk.Y.size,
        n_units=blk.Y.shape[0],
        n_treated=blk.n1,
        n_pre=blk.t0,
        n_post=blk.t1,
        omega=pd.Series(est.omega, index=blk.units[: blk.n0], name="omega"),
        lam=pd.Series(est.lam, index=blk.periods[: blk.t0], name="lambda"),
        note=_note(p, blk, estimator, se, replications, seed),
        unavailable=why,
        fit=est,
        kept=blk.kept,
    )


# --------------------------------------------------------------------------- the registry


class SynthDIDFit(Fitted):
    """A fitted SDID or SC estimate: one term, its placebo or jackknife SE (normal reference)."""

    def __init__(self, p: Panel, res: SynthDIDResult) -> None:
        used = p if len(res.kept) == p.n_units else p.subset(np.isin(p.unit, res.kept))
        super().__init__(
            estimator=res.estimator,
            panel=used,
            terms=[Term("treated_post", note=res.note)],
            estimate=np.array([res.estimate]),
            std_error=np.array([res.std_error]),
            vcov_name=res.method,
            df=None,
            analytic_unavailable=res.unavailable,
            analytic_draws=res.replications,
        )
        self.result = res

    def wild_unavailable(self) -> str:
        """Return why the WCR bootstrap does not apply."""
        return (
            f"{self.estimator} has no regression form for the wild bootstrap (its unit and time "
            "weights are estimated); its own placebo or jackknife SE is the inference"
        )

    def ri_unavailable(self) -> str:
        """Return why randomization inference does not apply."""
        return (
            f"{self.estimator} uses its placebo SE instead (Arkhangelsky et al. 2021, Algorithm "
            "4: the programme reassigned among the never-treated units, weights refitted)"
        )


# the pipeline fits SDID and SC to a cohort only with this many pre-programme periods
MIN_PRE = 2


def cohort_panels(p: Panel, min_pre: int = MIN_PRE) -> list[tuple[int, Panel]]:
    """Return each cohort's panel (its units and never-treated ones) SDID can fit.

    Cohorts with at least ``min_pre`` periods before the start and, among the units observed
    in every period (the ones SDID uses), a treated unit and a never-treated one.
    """
    out = []
    for g in np.unique(p.cohort[p.cohort > 0]):
        if int(np.sum(p.periods < g)) < min_pre:
            continue
        keep = np.isin(p.cohort[p.unit], [0, g])
        q = p if keep.all() else p.subset(keep)
        # SDID fits the units observed in every period: a treated one and a control at least
        full = np.bincount(q.unit, minlength=q.n_units) == len(q.periods)
        if not (full & (q.cohort > 0)).any() or not (full & (q.cohort == 0)).any():
            continue
        out.append((int(g), q))
    return out


class _SynthDIDEstimator:
    """Shared registry behaviour of ``sdid`` and ``sc``."""

    name = "sdid"
    overall_term: str | None = "treated_post"
    analytic_method = SE_ROWS["placebo"]  # the default SE; ``se="jackknife"`` gives its own

    @property
    def label(self) -> str:
        """Return what the report calls the estimator."""
        return LABELS[self.name]

    def applies(self, p: Panel, rule: str) -> bool:
        """Return True against never-treated comparison units with a cohort SDID can fit.

        A cohort needs at least :data:`MIN_PRE` periods before its start (the unit weights are
        fitted on the pre-programme periods); a staggered panel is fitted cohort by cohort.
        """
        if rule == "all_including_treated" or not (p.cohort == 0).any():
            return False
        return bool(cohort_panels(p))

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return the panel (one cohort) or one panel per cohort against the never-treated.

        Staggered starts: cohort g's treated units and the never-treated ones (the other
        cohorts left out), as Stata ``sdid`` fits each adoption date; variant ``cohort_g``.
        """
        panels = cohort_panels(p)
        if len(np.unique(p.cohort[p.cohort > 0])) == 1:
            return [({}, p)] if panels else []
        return [({"variant": f"cohort_{g}", "cohort": g}, q) for g, q in panels]

    def fit(self, p: Panel, s: Settings, **options) -> SynthDIDFit:
        """Fit on the panel; options ``se`` (placebo or jackknife) and ``replications``.

        The placebo permutations are seeded with ``s.bootstrap_seed``.
        """
        res = synthdid_panel(
            p,
            self.name,
            options.get("se", "placebo"),
            replications=int(options.get("replications", REPLICATIONS)),
            seed=s.bootstrap_seed,
            alpha=s.alpha,
        )
        return SynthDIDFit(p, res)


class SyntheticDiD(_SynthDIDEstimator):
    """Synthetic difference-in-differences (registered as ``sdid``)."""

    name = "sdid"


class SyntheticControl(_SynthDIDEstimator):
    """Synthetic control as R synthdid's ``sc_estimate`` (registered as ``sc``)."""

    name = "sc"
