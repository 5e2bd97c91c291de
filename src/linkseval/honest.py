"""Sensitivity of the event-study estimate to violations of parallel trends (HonestDiD).

Rambachan & Roth (2023) bound how far post-programme trend differences may depart from the
pre-programme ones — smoothness (Δ^SD(M): the slope may change by at most M per period) and
relative magnitudes (Δ^RM(M̄): post violations at most M̄ times the largest pre violation) — and
give confidence sets valid under each bound. The input is an event study and its covariance (the
caller chooses: TWFE with CR1 for one cohort, Callaway-Sant'Anna universal-base dynamic effects
for staggered starts); the target is the average post-programme effect.

The numbers are those of moderndid's port of the R package (``create_sensitivity_results_sm``,
method FLCI; ``create_sensitivity_results_rm``, method C-LF on the same θ grid), computed without
its per-point Python overhead (moderndid's call took 14–80 s here and its import 4–9 s):

* FLCI (smoothness): moderndid runs a golden-section search over the estimator's standard
  deviation h and, at every step, builds and solves a cvxpy second-order cone program for the
  worst-case bias. That inner problem — minimise a sum of absolute values over an ellipsoid — has
  a closed form once the sign pattern of the solution is fixed, so we enumerate the 3^(pre−1)
  patterns (the same golden-section search, same tolerance; the bias curve is shared across M).
* C-LF hybrid test (relative magnitudes): moderndid solves one LP per θ tested and 1,000 LPs per
  (period, sign) piece for the least-favourable critical value. Each LP is the maximum of γ'y over
  the dual polytope {γ ≥ 0, γ'[σ, X] = e₁}, which does not depend on θ or on the draw; we
  enumerate its vertices once per piece, so all 1,000 draws and all grid points are one matrix
  product. The conditional second stage then uses the same formulas as moderndid (its dual
  branch's bisections replaced by the exact vertex bound), and the CI ends are found on
  moderndid's own grid with its own binary search.

Relative magnitudes need at least two pre-programme coefficients (besides the reference year)
and, here, two post-programme ones; otherwise those rows are left out (moderndid raises with one
pre coefficient and fails with one post coefficient). For a dual polytope too large to enumerate
(ten or more post coefficients) we call moderndid itself.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numpy as np
import pandas as pd
from scipy import optimize, special

KAPPA_DIVISOR = 10  # moderndid/R: first-stage (least-favourable) size κ = α/10
LF_SIMS = 1000  # moderndid: least-favourable critical value from 1,000 draws, seed 0
MAX_DUAL_BASES = 50_000  # beyond this many candidate bases, fall back to moderndid's LPs
TOL_LAMBDA = 1e-6  # moderndid: binding moments are those with multiplier > 1e-6
TOL_DUAL = 1e-6  # moderndid: tolerance of its dual-branch solution check


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
    """Compute robust CIs for the mean post effect under each bound, plus the original CI.

    The target is the mean of the post-programme coefficients. Relative-magnitude rows are omitted
    where :func:`rm_unavailable` gives a reason.

    Parameters
    ----------
    beta : ndarray
        Event-study coefficients (reference −1 omitted), ordered as ``event_times``.
    sigma : ndarray
        Their covariance.
    event_times : list of int
        The event time of each coefficient; at least one pre (< 0) and one post (≥ 0).
    smoothness_m : list of float
        Smoothness bounds M (Δ^SD, FLCI).
    relative_mbar : list of float
        Relative-magnitude bounds M̄ (Δ^RM, C-LF).
    alpha : float
        Level of the intervals (1 − ``alpha``).
    grid_points : int
        Points of the θ grid the C-LF intervals are inverted on.

    Returns
    -------
    DataFrame
        Columns ``restriction``, ``bound``, ``ci_low``, ``ci_high``, ``method``; the first row is
        the original (parallel-trends, normal) CI.
    """
    order = np.argsort(event_times)
    et = np.asarray(event_times)[order]
    b = np.asarray(beta, dtype=float)[order]
    S = np.asarray(sigma, dtype=float)[np.ix_(order, order)]
    n_pre, n_post = int((et < 0).sum()), int((et >= 0).sum())
    if n_pre < 1 or n_post < 1:
        raise ValueError("HonestDiD needs at least one pre and one post coefficient")
    l_vec = np.ones(n_post) / n_post
    lo, hi = original_ci(b, S, n_pre, l_vec, alpha)
    rows = [("original", 0.0, lo, hi, "normal")]  # parallel trends (no bound)
    if smoothness_m:
        for m, (lo, hi) in zip(
            smoothness_m, flci(b, S, n_pre, l_vec, smoothness_m, alpha), strict=True
        ):
            rows.append(("smoothness", float(m), lo, hi, "FLCI"))
    if relative_mbar and rm_unavailable(n_pre, n_post) is None:
        for mbar in relative_mbar:
            lo, hi = rm_hybrid_ci(b, S, n_pre, l_vec, float(mbar), alpha, grid_points)
            rows.append(("relative_magnitude", float(mbar), lo, hi, "C-LF"))
    return pd.DataFrame(rows, columns=["restriction", "bound", "ci_low", "ci_high", "method"])


def rm_unavailable(n_pre: int, n_post: int) -> str | None:
    """Why relative-magnitude bounds are not computed for this event study (None: they are).

    Δ^RM compares post violations with pre ones, so it needs two pre coefficients (moderndid
    raises with one); with one post coefficient moderndid 0.2's C-LF call fails (IndexError in
    its no-nuisance branch), so there is no reference to reproduce.
    """
    if n_pre < 2:
        return f"relative magnitudes need >= 2 pre-programme coefficients (here {n_pre})"
    if n_post < 2:
        return "relative magnitudes with one post-programme coefficient are not implemented"
    return None


def original_ci(
    b: np.ndarray, S: np.ndarray, n_pre: int, l_vec: np.ndarray, alpha: float
) -> tuple[float, float]:
    """Compute the normal CI for ``l'β_post`` assuming exact parallel trends.

    Returns
    -------
    (low, high)
    """
    se = float(np.sqrt(l_vec @ S[n_pre:, n_pre:] @ l_vec))
    est = float(l_vec @ b[n_pre:])
    z = float(special.ndtri(1 - alpha / 2))
    return est - z * se, est + z * se


# --------------------------------------------------------------------------------------------
# Smoothness Δ^SD(M): fixed-length CI (Armstrong-Kolesár as in Rambachan-Roth / moderndid)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlciProblem:
    """The FLCI's affine estimators in terms of the free cumulative weights x (pre − 1 of them).

    The pre-period weights are ``l_pre = G x + g0``; the estimator's variance is
    ``(x − x_mv)'Q(x − x_mv) + h_min²``; its worst-case bias per unit M is
    ``bias0 + Σ|x_s|`` (moderndid's ``maximize_bias`` objective).
    """

    G: np.ndarray
    g0: np.ndarray
    Q: np.ndarray
    x_mv: np.ndarray
    h_min: float
    h_max: float
    bias0: float
    patterns: list[tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray, float]]


def _diff_matrix(n: int) -> np.ndarray:
    """First-difference matrix (1 on the diagonal, −1 below it)."""
    return np.eye(n) - np.eye(n, k=-1)


def flci_problem(S: np.ndarray, n_pre: int, l_vec: np.ndarray) -> FlciProblem:
    """Set up the bias/variance trade-off of moderndid's FLCI for ``l'β_post``.

    Returns
    -------
    FlciProblem
        With one precomputed entry per sign pattern of x (support, signs, feasibility offset,
        ellipsoid centre and direction) for the closed-form worst-case bias.
    """
    n_post = len(l_vec)
    t = np.arange(1, n_post + 1)
    target = float(t @ l_vec)
    bias0 = sum(abs(float(np.arange(1, s + 1) @ l_vec[n_post - s :])) for s in t) - target
    D2 = _diff_matrix(n_pre) @ _diff_matrix(n_pre)
    G, g0 = D2[:, : n_pre - 1], target * D2[:, n_pre - 1]
    s_pre, s_pp = S[:n_pre, :n_pre], S[:n_pre, n_pre:] @ l_vec
    r0 = float(g0 @ s_pre @ g0 + 2 * g0 @ s_pp + l_vec @ S[n_pre:, n_pre:] @ l_vec)
    Q = G.T @ s_pre @ G
    p = G.T @ (s_pre @ g0 + s_pp)
    x_mv = -np.linalg.solve(Q, p) if n_pre > 1 else np.zeros(0)
    h_min2 = r0 + float(p @ x_mv)
    patterns = []
    for signs in itertools.product((-1.0, 0.0, 1.0), repeat=n_pre - 1):
        sg = np.asarray(signs)
        sup = sg != 0
        if not sup.any():
            continue
        Qs = Q[np.ix_(sup, sup)]
        zc = np.linalg.solve(Qs, Q[sup] @ x_mv)
        kappa = float(x_mv @ Q @ x_mv - zc @ Qs @ zc)
        d = np.linalg.solve(Qs, sg[sup])
        patterns.append((sup, sg[sup], kappa, zc, d, float(np.sqrt(sg[sup] @ d))))
    return FlciProblem(
        G,
        g0,
        Q,
        x_mv,
        float(np.sqrt(max(h_min2, 0.0))),
        float(np.sqrt(r0)),
        bias0 + abs(target),
        patterns,
    )


def flci_min_bias(P: FlciProblem, h: float) -> tuple[float, np.ndarray]:
    """Worst-case bias per unit M of the best affine estimator with sd ≤ h, and its x.

    Minimises ``Σ|x_s|`` over the ellipsoid ``(x − x_mv)'Q(x − x_mv) ≤ h² − h_min²``: for each
    sign pattern the minimum of a linear function over the ellipsoid cut by the pattern's zeros
    is closed-form; the optimum is the best candidate whose signs agree with its pattern.

    Returns
    -------
    (bias, x)
    """
    rho2 = h * h - P.h_min**2
    best, best_x = np.inf, np.zeros(len(P.x_mv))
    if h >= P.h_max:  # x = 0 (all weight on the last pre period) is feasible
        best = 0.0
    for sup, sg, kappa, zc, d, nd in P.patterns:
        r2 = rho2 - kappa
        if r2 < 0:
            continue
        z = zc - np.sqrt(r2) * d / nd
        if np.any(sg * z < -1e-12 * (1 + np.abs(z).max())):
            continue
        val = float(np.abs(z).sum())
        if val < best:
            best, best_x = val, np.zeros(len(P.x_mv))
            best_x[sup] = z
    return P.bias0 + best, best_x


def folded_normal_quantile(p: float, mu: float) -> float:
    """``p`` quantile of |N(mu, 1)| (as moderndid: Brent's method on the cdf)."""
    mu = abs(mu)
    if mu == 0:
        return float(special.ndtri((1 + p) / 2))

    def cdf(x: float) -> float:
        return float(special.ndtr(x - mu) - special.ndtr(-x - mu) - p)

    upper = mu + 8.0
    while cdf(upper) < 0:
        upper *= 2
    return float(optimize.brentq(cdf, 0, upper))


def golden_section(f, lo: float, hi: float, tol: float) -> float:
    """Minimiser of a unimodal ``f`` on [lo, hi] (moderndid's ``_optimize_h_bisection``)."""
    phi = (1 + np.sqrt(5)) / 2
    ml, mh = hi - (hi - lo) / phi, lo + (hi - lo) / phi
    fl, fh = f(ml), f(mh)
    while abs(hi - lo) > tol:
        if fl < fh:
            hi, mh, fh = mh, ml, fl
            ml = hi - (hi - lo) / phi
            fl = f(ml)
        else:
            lo, ml, fl = ml, mh, fh
            mh = lo + (hi - lo) / phi
            fh = f(mh)
    return (lo + hi) / 2


def flci(
    b: np.ndarray,
    S: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    m_values: list[float],
    alpha: float,
    num_points: int = 100,
) -> list[tuple[float, float]]:
    """FLCIs for ``l'τ_post`` under Δ^SD(M), one per M (moderndid's ``compute_flci``).

    Returns
    -------
    list of (low, high)
    """
    P = flci_problem(S, n_pre, l_vec)
    cache: dict[float, tuple[float, np.ndarray]] = {}

    def bias(h: float) -> tuple[float, np.ndarray]:
        if h not in cache:
            cache[h] = flci_min_bias(P, h)
        return cache[h]

    tol = min((P.h_max - P.h_min) / num_points, abs(P.h_max) * 1e-6)
    out = []
    for m in m_values:

        def half_length(h: float, m: float = float(m)) -> float:
            return folded_normal_quantile(1 - alpha, m * bias(h)[0] / h) * h

        h = golden_section(half_length, P.h_min, P.h_max, tol) if n_pre > 1 else P.h_max
        x = bias(h)[1]
        l_pre = P.G @ x + P.g0
        est = float(l_pre @ b[:n_pre] + l_vec @ b[n_pre:])
        half = half_length(h)
        out.append((est - half, est + half))
    return out


# --------------------------------------------------------------------------------------------
# Relative magnitudes Δ^RM(M̄): conditional least-favourable hybrid (ARP) on moderndid's grid
# --------------------------------------------------------------------------------------------


def rm_constraints(n_pre: int, n_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """Build A with Δ^RM_{s,sign}(M̄) = {δ : Aδ ≤ 0} (moderndid's matrix, period 0 dropped)."""
    total = n_pre + n_post + 1
    a_tilde = np.eye(n_pre + n_post, total, k=1) - np.eye(n_pre + n_post, total)
    v = np.zeros(total)
    v[n_pre + s : n_pre + s + 2] = [-1, 1]
    if not positive:
        v = -v
    a_ub = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
    A = np.vstack([a_tilde - a_ub, -a_tilde - a_ub])
    A = A[~np.all(np.abs(A) <= 1e-10, axis=1)]
    return np.delete(A, n_pre, axis=1)


def rm_pieces(n_pre: int) -> list[tuple[int, bool]]:
    """Return the (period s, sign) pieces whose union is Δ^RM (moderndid's order)."""
    return [(s, pos) for s in range(-(n_pre - 1), 0) for pos in (True, False)]


def rm_identified_set(
    b: np.ndarray, n_pre: int, l_vec: np.ndarray, mbar: float
) -> tuple[float, float]:
    """Compute the identified set of ``l'τ_post`` under Δ^RM(M̄) at δ_pre = β_pre.

    Returns
    -------
    (low, high)
    """
    n_post = len(l_vec)
    f = np.concatenate([np.zeros(n_pre), l_vec])
    a_eq = np.hstack([np.eye(n_pre), np.zeros((n_pre, n_post))])
    est = float(l_vec @ b[n_pre:])
    lows, highs = [], []
    for s, pos in rm_pieces(n_pre):
        A = rm_constraints(n_pre, n_post, mbar, s, pos)
        kw = dict(A_ub=A, b_ub=np.zeros(len(A)), A_eq=a_eq, b_eq=b[:n_pre], bounds=(None, None))
        mx = optimize.linprog(-f, method="highs", **kw)
        mn = optimize.linprog(f, method="highs", **kw)
        if mx.success and mn.success:
            lows.append(est + mx.fun)
            highs.append(est - mn.fun)
        else:
            lows.append(est)
            highs.append(est)
    return min(lows), max(highs)


def dual_vertices(W: np.ndarray) -> np.ndarray | None:
    """Vertices of {γ ≥ 0 : W'γ = e₁} (rows of the result), by enumerating bases.

    ``max_γ γ'y`` over this polytope is ARP's test statistic η(y) (the dual of
    ``min η s.t. y − Xξ ≤ ση``). Returns None when W is rank deficient or has too many bases.
    """
    m, k1 = W.shape
    if np.linalg.matrix_rank(W) < k1 or comb(m, k1) > MAX_DUAL_BASES:
        return None
    C = np.array(list(itertools.combinations(range(m), k1)))
    WB = np.transpose(W[C], (0, 2, 1))
    ok = np.linalg.cond(WB) < 1e12
    C, WB = C[ok], WB[ok]
    e1 = np.zeros((len(C), k1, 1))
    e1[:, 0] = 1.0
    g = np.linalg.solve(WB, e1)[..., 0]
    feas = np.all(g >= -1e-10, axis=1)
    V = np.zeros((int(feas.sum()), m))
    np.put_along_axis(V, C[feas], np.clip(g[feas], 0, None), axis=1)
    return V if len(V) else None


def norminvp_truncated(p: float, lower: float, upper: float) -> float:
    """``p`` quantile of N(0, 1) truncated to [lower, upper] (moderndid's generalised inverse)."""
    p_l = float(special.ndtr(lower)) if np.isfinite(lower) else 0.0
    p_u = float(special.ndtr(upper)) if np.isfinite(upper) else 1.0
    if not (np.isfinite(lower) or np.isfinite(upper)):
        return float(special.ndtri(p))
    q = p_l + p * (p_u - p_l)
    if q <= p_l:
        return lower
    if q >= p_u:
        return upper
    return float(special.ndtri(q))


@dataclass(frozen=True)
class ArpPiece:
    """One (s, sign) piece in ARP's θ-space: moments ``y − a1 θ − Xξ ≤ 0`` with covariance Σ."""

    y: np.ndarray
    a1: np.ndarray
    X: np.ndarray
    sigma: np.ndarray
    V: np.ndarray
    lf_cv: float


def arp_piece(
    b: np.ndarray, S: np.ndarray, A: np.ndarray, n_pre: int, l_vec: np.ndarray, kappa: float
) -> ArpPiece | None:
    """Reparametrise a piece by θ = l'τ_post and compute its least-favourable critical value.

    As moderndid's ``compute_arp_nuisance_ci`` (Γ with l' as first row; only the moments that
    involve post periods) and ``compute_least_favorable_cv`` (the same 1,000 draws, seed 0).
    Returns None if the dual polytope cannot be enumerated.
    """
    n_post = len(l_vec)
    gamma = np.zeros((n_post, n_post))
    gamma[0] = l_vec
    rest = [i for i in range(n_post) if i != int(np.argmax(np.abs(l_vec)))]
    gamma[np.arange(1, n_post), rest] = 1.0
    a_gi = A[:, n_pre : n_pre + n_post] @ np.linalg.inv(gamma)
    rows = np.flatnonzero(np.any(A[:, n_pre : n_pre + n_post] != 0, axis=1))
    sigma_y = A @ S @ A.T
    sig = sigma_y[np.ix_(rows, rows)]
    X = a_gi[rows, 1:]
    V = dual_vertices(np.column_stack([np.sqrt(np.diag(sig)), X]))
    if V is None:
        return None
    rng = np.random.default_rng(0)
    xi = rng.multivariate_normal(mean=np.zeros(len(rows)), cov=sig, size=LF_SIMS)
    lf_cv = float(np.quantile((xi @ V.T).max(axis=1), 1 - kappa))
    return ArpPiece((A @ b)[rows], a_gi[rows, 0], X, sig, V, lf_cv)


def _dual_truncation(P: ArpPiece, y: np.ndarray, g: np.ndarray, eta: float, sb: float):
    """Support [vlo, vup] of γ'y given γ stays optimal (moderndid's dual branch, exact).

    moderndid bisects on LPs to 1e-6 between ±max(100, η ± 20σ); the vertices give the same
    interval exactly, with its conventions (±∞ beyond those brackets; (η, ∞) if η fails).
    """
    sg = P.sigma @ g
    bvec = sg / float(g @ sg)
    s = y - bvec * float(g @ y)
    vb, vs = P.V @ bvec - 1.0, P.V @ s
    up, down = vb > 1e-12, vb < -1e-12
    flat = ~(up | down)
    vup = float(np.min((TOL_DUAL - vs[up]) / vb[up])) if up.any() else np.inf
    vlo = float(np.max((TOL_DUAL - vs[down]) / vb[down])) if down.any() else -np.inf
    if np.any(vs[flat] > TOL_DUAL) or not vlo <= eta <= vup:
        return eta, np.inf
    if vup >= max(100.0, eta + 20 * sb):
        vup = np.inf
    if vlo <= min(-100.0, eta - 20 * sb):
        vlo = -np.inf
    return vlo, vup


def arp_accepts(P: ArpPiece, y: np.ndarray, eta: float, g: np.ndarray, alpha: float) -> bool:
    """Second stage of the LF hybrid test at one θ (moderndid's ``lp_conditional_test``).

    ``y``: moments at θ; ``eta``/``g``: the test statistic and its optimal dual vertex.
    """
    kappa = alpha / KAPPA_DIVISOR
    mod_size = (alpha - kappa) / (1 - kappa)
    k = P.X.shape[1]
    bind = g > TOL_LAMBDA
    xb = P.X[bind]
    full_rank = xb.size > 0 and np.linalg.matrix_rank(xb) == min(xb.shape)
    if not full_rank or bind.sum() != k + 1:
        s2 = float(g @ P.sigma @ g)
        if abs(s2) < np.finfo(float).eps:
            return not eta > 0
        sb = np.sqrt(s2)
        vlo, vup = _dual_truncation(P, y, g, eta, sb)
    else:
        sd = np.sqrt(np.diag(P.sigma))
        w_b = np.column_stack([sd[bind], xb])
        w_bc = np.column_stack([sd[~bind], P.X[~bind]])
        w_inv = np.linalg.inv(w_b)
        s_b = np.eye(len(y))[bind]
        gamma_b = w_bc @ w_inv @ s_b - np.eye(len(y))[~bind]
        v_b = s_b.T @ w_inv.T[:, 0]
        s2 = float(v_b @ P.sigma @ v_b)
        sb = np.sqrt(s2)
        rho = gamma_b @ P.sigma @ v_b / s2
        with np.errstate(divide="ignore", invalid="ignore"):  # rho = 0: neither bound
            mm = -(gamma_b @ y) / rho + float(v_b @ y)
        vlo = float(np.max(mm[rho > 0])) if np.any(rho > 0) else -np.inf
        vup = float(np.min(mm[rho < 0])) if np.any(rho < 0) else np.inf
    zlo, zup, stat = vlo / sb, min(vup, P.lf_cv) / sb, eta / sb
    if not zlo <= stat <= zup:
        return True
    return not stat > max(0.0, norminvp_truncated(1 - mod_size, zlo, zup))


def piece_test(P: ArpPiece, grid: np.ndarray, alpha: float) -> Callable[[int], bool]:
    """Whether the hybrid test accepts ``grid[i]`` for this piece, as a memoised ``test(i)``.

    The first stage (η(θ) > LF critical value ⇒ reject) is one matrix product over the grid;
    the conditional second stage runs only at the points the binary search asks about.
    """
    Y = P.y[None, :] - grid[:, None] * P.a1[None, :]
    E = Y @ P.V.T
    eta, best = E.max(axis=1), E.argmax(axis=1)
    memo: dict[int, bool] = {}

    def test(i: int) -> bool:
        if i not in memo:
            memo[i] = not eta[i] > P.lf_cv and arp_accepts(
                P, Y[i], float(eta[i]), P.V[best[i]], alpha
            )
        return memo[i]

    return test


def binary_search_bounds(test: Callable[[int], bool], n: int) -> tuple[int, int] | None:
    """First and last accepted index as moderndid's ``_binary_search_ci_bounds`` finds them.

    Seeds at the accepted point nearest the middle and bisects each side assuming the accepted
    set is contiguous (kept so that results equal moderndid's on the same grid).
    """
    mid = n // 2
    order = [mid] + [i for o in range(1, n) for i in (mid - o, mid + o) if 0 <= i < n]
    seed = next((i for i in order if test(i)), None)
    if seed is None:
        return None
    lo, hi = 0, seed
    if seed != 0 and test(0):
        lo = hi = 0
    while lo < hi:
        m = (lo + hi) // 2
        lo, hi = (lo, m) if test(m) else (m + 1, hi)
    lb = lo
    lo, hi = seed, n - 1
    if seed != n - 1 and test(n - 1):
        lo = hi = n - 1
    while lo < hi:
        m = (lo + hi + 1) // 2
        lo, hi = (m, hi) if test(m) else (lo, m - 1)
    return lb, lo


def rm_grid(
    b: np.ndarray, S: np.ndarray, n_pre: int, l_vec: np.ndarray, mbar: float, grid_points: int
) -> np.ndarray:
    """Return moderndid's θ grid: the identified set ± 20 standard errors of ``l'β_post``."""
    id_lb, id_ub = rm_identified_set(b, n_pre, l_vec, mbar)
    sd = float(np.sqrt(l_vec @ S[n_pre:, n_pre:] @ l_vec))
    return np.linspace(id_lb - 20 * sd, id_ub + 20 * sd, grid_points)


def rm_hybrid_ci(
    b: np.ndarray,
    S: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    alpha: float,
    grid_points: int,
) -> tuple[float, float]:
    """C-LF confidence set for ``l'τ_post`` under Δ^RM(M̄) on moderndid's grid.

    Returns
    -------
    (low, high)
        The first and last grid point accepted by any (s, sign) piece (NaN if none).
    """
    n_post = len(l_vec)
    grid = rm_grid(b, S, n_pre, l_vec, mbar, grid_points)
    ends = []
    for s, pos in rm_pieces(n_pre):
        A = rm_constraints(n_pre, n_post, mbar, s, pos)
        P = arp_piece(b, S, A, n_pre, l_vec, alpha / KAPPA_DIVISOR)
        if P is None:
            return _rm_moderndid(b, S, n_pre, l_vec, mbar, alpha, grid_points)
        found = binary_search_bounds(piece_test(P, grid, alpha), grid_points)
        if found is not None:
            ends.append(found)
    if not ends:
        return np.nan, np.nan
    return float(grid[min(e[0] for e in ends)]), float(grid[max(e[1] for e in ends)])


def _rm_moderndid(
    b: np.ndarray,
    S: np.ndarray,
    n_pre: int,
    l_vec: np.ndarray,
    mbar: float,
    alpha: float,
    grid_points: int,
) -> tuple[float, float]:
    """Call moderndid's own C-LF (for a dual polytope too large or degenerate to enumerate)."""
    from moderndid.didhonest import create_sensitivity_results_rm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = create_sensitivity_results_rm(
            b,
            S,
            n_pre,
            len(l_vec),
            m_bar_vec=[mbar],
            l_vec=l_vec,
            alpha=alpha,
            grid_points=grid_points,
        ).row(0, named=True)
    return float(r["lb"]), float(r["ub"])
