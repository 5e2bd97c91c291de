"""The wild cluster restricted (WCR) bootstrap for linear combinations of one regression.

:func:`wild_cluster_bootstrap` — WCR t-test with Webb 6-point weights; CI by test inversion.
Vectorised: after one pass over the data every bootstrap t-statistic is a closed form in the
cluster scores, so B = 9,999 over 1,000 clusters costs a few matrix products (the algorithm of
Roodman et al. 2019, "fast and wild"). :func:`wild_cluster_bootstrap_terms` does many linear
combinations w'β of one design at once (event-study coefficients, Callaway–Sant'Anna cells and
aggregates): one set of draws, one GEMM per chunk over every term's cluster-level columns, from
the cluster sums Z_g'û_g and Z_g'Z_g (no refit per term); the weights are drawn once per run
(:func:`wild_weights`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from linkseval.did import Design
from linkseval.inference.base import CHUNK, TestResult, _invert, _unbounded, chunk_seeds

WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
RADEMACHER = np.array([-1.0, 1.0])


@dataclass
class _WildPieces:
    """Per-draw sums that make every bootstrap t-statistic a quadratic in the null value β0."""

    n0: np.ndarray
    nm: np.ndarray
    s00: np.ndarray
    s0m: np.ndarray
    smm: np.ndarray
    beta: float
    se_sq_over_f: float  # Σ_g (c_g'û_g)² (CR1 variance without its factor)


_DRAWS: dict[tuple, tuple[int, list[tuple[np.ndarray, np.ndarray]]]] = {}
DRAW_CACHE_BYTES = 256 * 2**20  # keep one run's wild weights (and squares) up to this size


def wild_weights(
    seed: int, n_draws: int, weights: str, G: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Return the wild weights and their squares, per chunk.

    Per chunk the (size × G) wild weights ``support[rng.integers(0, len(support), (size, G))]``
    and their squares.

    numpy fills an integer array from the stream in order, so the draws for G clusters are the
    first size·G of those for any larger G: one generation at the largest G seen serves every
    design of a run (same seed) as a view. Kept for the last (seed, draws, weights) while it fits
    in :data:`DRAW_CACHE_BYTES` (else drawn chunk by chunk, one chunk in memory at a time); the
    values are those of a fresh draw either way.
    """
    support = WEBB if weights == "webb" else RADEMACHER
    key = (seed, n_draws, weights)
    have = _DRAWS.get(key)
    if have is None or have[0] < G:
        if 2 * n_draws * G * 8 > DRAW_CACHE_BYTES:
            for size, rng in chunk_seeds(seed, n_draws):
                idx = rng.integers(0, len(support), size=(size, G))
                yield support[idx], (support * support)[idx]
            return
        flat = []
        for size, rng in chunk_seeds(seed, n_draws):
            idx = rng.integers(0, len(support), size=(size, G)).ravel()
            flat.append((support[idx], (support * support)[idx]))
        _DRAWS.clear()
        _DRAWS[key] = have = (G, flat)
    for k, (v, v2) in enumerate(have[1]):
        s = min(CHUNK, n_draws - k * CHUNK)
        yield v[: s * G].reshape(s, G), v2[: s * G].reshape(s, G)


def _cluster_block_sums(values: np.ndarray, cl: np.ndarray, G: int) -> np.ndarray:
    """Sum rows of ``values`` (rows × k) within clusters -> (G × k), one bincount."""
    k = values.shape[1]
    idx = (cl[:, None] * k + np.arange(k)[None, :]).ravel()
    return np.bincount(idx, weights=values.ravel(), minlength=G * k).reshape(G, k)


def _cluster_grams(Z: np.ndarray, cl: np.ndarray, G: int) -> np.ndarray:
    """Compute H_g = Z_g'Z_g for every cluster.

    H_g = Z_g'Z_g for every cluster (G × K × K), column by column over its non-zero rows
    (so sparse designs such as the stacked cell regression stay cheap).
    """
    K = Z.shape[1]
    H = np.zeros((G, K, K))
    for k in range(K):
        rows = np.flatnonzero(Z[:, k])
        if rows.size:
            H[:, k, :] = _cluster_block_sums(Z[rows] * Z[rows, k, None], cl[rows], G)
    return H


@dataclass
class _TermCols:
    """Hold one contrast's cluster-level pieces.

    One contrast's cluster-level pieces: the restricted-model sums s0, sm (G), the non-zero
    columns J of Q = (Z_g'c_g)_g, Q[:, J], and the K-space maps of R0 and Rm.
    """

    beta: float
    se_sq: float
    gamma: float  # β / c'c: R0 = (S + γ Q) bread
    cc: float
    s0: np.ndarray
    sm: np.ndarray
    J: np.ndarray
    QJ: np.ndarray
    breadJ: np.ndarray


def _term_cols(
    w: np.ndarray, bread: np.ndarray, beta_hat: np.ndarray, S: np.ndarray, H: np.ndarray
) -> _TermCols:
    """Compute the pieces of the WCR test of w'β = b0.

    Pieces of the WCR test of w'β = b0, all from cluster sums: with ũ = (Z'Z)⁻¹w and
    c = Zũ (so w'β̂ = c'y), the restricted residual is û + (w'β̂ − b0) c / c'c, hence
    c_g'u_g = ũ'S_g + (w'β̂ − b0) ũ'H_g ũ / c'c and Z_g'u_g = S_g + (w'β̂ − b0) H_g ũ / c'c.
    """
    ut = bread @ w
    beta = float(w @ beta_hat)
    cc = float(w @ ut)
    e = S @ ut  # c_g'û_g
    Q = H @ ut  # Z_g'c_g
    f = Q @ ut  # c_g'c_g
    gamma = beta / cc
    J = np.flatnonzero(np.any(Q != 0, axis=0))
    return _TermCols(
        beta=beta,
        se_sq=float(np.sum(e**2)),
        gamma=gamma,
        cc=cc,
        s0=e + gamma * f,
        sm=f / cc,
        J=J,
        QJ=Q[:, J],
        breadJ=bread[np.ix_(J, J)],
    )


def _colquad(A: np.ndarray, M: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Column-wise a_i' M b_i (M symmetric; one GEMM)."""
    return np.sum((M @ B) * A, axis=0)


def _rowquad(A: np.ndarray, M: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Row-wise a_i' M b_i (one GEMM, not an einsum loop)."""
    return np.sum((A @ M) * B, axis=1)


@dataclass
class _Block:
    """Hold a block of clusters and their GEMM columns.

    Clusters ``rows`` (None: all) and their GEMM columns, by kind: S bread (K), then s0 and
    sm of the ``terms`` non-zero on them, then Q, s0 Q and sm Q over ``pos``, the positions of
    their non-zero Q columns in the concatenation of every term's J.
    """

    rows: np.ndarray | None
    M1: np.ndarray
    terms: np.ndarray
    pos: np.ndarray


def _block(
    rows: np.ndarray | None, SB: np.ndarray, terms: list[_TermCols], offsets: np.ndarray
) -> _Block:
    """Return the :class:`_Block` of clusters ``rows``, dropping the Q columns zero on them."""
    sel = slice(None) if rows is None else rows
    act, pos, Qs = [], [], []
    for i, t in enumerate(terms):
        Q = t.QJ[sel]
        keep = np.arange(len(t.J)) if rows is None else np.flatnonzero(np.any(Q != 0, axis=0))
        if keep.size:
            act.append(i)
            pos.append(offsets[i] + keep)
            Qs.append(Q[:, keep])
    act_ = np.array(act, dtype=int)
    s0 = np.column_stack([terms[i].s0[sel] for i in act]) if act else np.zeros((len(SB[sel]), 0))
    sm = np.column_stack([terms[i].sm[sel] for i in act]) if act else s0
    reps = np.array([q.shape[1] for q in Qs], dtype=int)
    Q = np.column_stack(Qs) if Qs else np.zeros((len(s0), 0))
    M1 = np.column_stack(
        [SB[sel], s0, sm, Q, np.repeat(s0, reps, axis=1) * Q, np.repeat(sm, reps, axis=1) * Q]
    )
    return _Block(rows, M1, act_, np.concatenate(pos) if pos else np.zeros(0, dtype=int))


def _blocks(H: np.ndarray, SB: np.ndarray, terms: list[_TermCols]) -> list[_Block]:
    """Split the clusters into GEMM blocks.

    One block of all clusters, or, where that saves at least a fifth of the GEMM work, one
    per pattern of the regressors most clusters lack (e.g. an event study's never-treated
    clusters have no event-time columns, so their Q has only the period columns).
    """
    offsets = np.cumsum([0] + [len(t.J) for t in terms])[:-1]
    whole = [_block(None, SB, terms, offsets)]
    present = np.diagonal(H, axis1=1, axis2=2) != 0
    sparse = present.mean(axis=0) < 0.5  # columns most clusters lack (e.g. event times)
    _, group = np.unique(present[:, sparse], axis=0, return_inverse=True)
    if group.max(initial=0) == 0:
        return whole
    split = [_block(np.flatnonzero(group == r), SB, terms, offsets) for r in range(group.max() + 1)]
    cost = sum(len(b.rows) * (b.M1.shape[1] + 8) for b in split)
    return split if cost < 0.8 * len(group) * whole[0].M1.shape[1] else whole


def _block_product(b: _Block, V: np.ndarray, max_bytes: int = 2**25) -> np.ndarray:
    """Return M1' V_b' (columns × draws) for the block's clusters.

    M1' V_b' (columns × draws) for the block's clusters; the weights of a block of clusters are
    gathered a few draws at a time (at most ``max_bytes`` copied at once).
    """
    if b.rows is None:
        return b.M1.T @ V.T
    step = max(1, max_bytes // (8 * len(b.rows)))
    return np.hstack([b.M1.T @ V[r : r + step, b.rows].T for r in range(0, len(V), step)])


def _wild_pieces_many(
    design: Design, contrasts: np.ndarray, seed: int, n_draws: int, weights: str
) -> list[_WildPieces]:
    """Compute the WCR pieces of every contrast from one set of draws.

    :class:`_WildPieces` of the WCR test of each row w of ``contrasts`` (w'β = b0), with one
    set of draws: per chunk one GEMM of the weights with every term's cluster-level columns
    (the algorithm of Roodman et al. 2019 for a linear combination, which equals testing the
    first coefficient of a design reparametrised so that it is w'β).
    """
    Z, y, G, cl = design.Z, design.y, design.n_clusters, design.cluster
    bread = np.linalg.inv(Z.T @ Z)
    beta_hat = bread @ (Z.T @ y)
    S = _cluster_block_sums(Z * (y - Z @ beta_hat)[:, None], cl, G)  # Z_g'û_g
    H = _cluster_grams(Z, cl, G)
    terms = [_term_cols(np.asarray(w, float), bread, beta_hat, S, H) for w in contrasts]
    K, T = Z.shape[1], len(terms)
    ends = np.cumsum([len(t.J) for t in terms])
    L = int(ends[-1]) if T else 0
    blocks = _blocks(H, S @ bread, terms)
    M2 = np.column_stack([np.column_stack([t.s0 * t.s0, t.s0 * t.sm, t.sm * t.sm]) for t in terms])
    QtQ = [t.QJ.T @ t.QJ for t in terms]
    parts = [{k: [] for k in ("n0", "nm", "s00", "s0m", "smm")} for _ in terms]
    for V, V2 in wild_weights(seed, n_draws, weights, G):
        # transposed (columns × draws), so that adding a block into its rows is contiguous
        D2 = M2.T @ V2.T
        size = V.shape[0]
        VSB, N0, NM = np.zeros((K, size)), np.zeros((T, size)), np.zeros((T, size))
        VQ, VQ0, VQm = (np.zeros((L, size)) for _ in range(3))
        for b in blocks:
            A = _block_product(b, V)
            na, nq = len(b.terms), len(b.pos)
            VSB += A[:K]
            N0[b.terms] += A[K : K + na]
            NM[b.terms] += A[K + na : K + 2 * na]
            c = K + 2 * na
            VQ[b.pos] += A[c : c + nq]
            VQ0[b.pos] += A[c + nq : c + 2 * nq]
            VQm[b.pos] += A[c + 2 * nq : c + 3 * nq]
        for i, t in enumerate(terms):
            q = slice(int(ends[i]) - len(t.J), int(ends[i]))
            VQB = t.breadJ.T @ VQ[q]
            VR0 = VSB[t.J] + t.gamma * VQB
            VRm = VQB / t.cc
            tq0, tqm, W = VQ0[q], VQm[q], QtQ[i]
            pc = parts[i]
            pc["n0"].append(N0[i])
            pc["nm"].append(NM[i])
            pc["s00"].append(D2[3 * i] - 2 * np.sum(tq0 * VR0, 0) + _colquad(VR0, W, VR0))
            pc["s0m"].append(
                D2[3 * i + 1] - np.sum(tq0 * VRm, 0) - np.sum(tqm * VR0, 0) + _colquad(VR0, W, VRm)
            )
            pc["smm"].append(D2[3 * i + 2] - 2 * np.sum(tqm * VRm, 0) + _colquad(VRm, W, VRm))
    return [
        _WildPieces(
            **{k: np.concatenate(v) for k, v in pc.items()}, beta=t.beta, se_sq_over_f=t.se_sq
        )
        for pc, t in zip(parts, terms, strict=True)
    ]


def _wild_pieces(design: Design, j: int, seed: int, n_draws: int, weights: str) -> _WildPieces:
    """:class:`_WildPieces` of coefficient ``j``."""
    return _wild_pieces_many(design, np.eye(design.k)[[j]], seed, n_draws, weights)[0]


def _wild_p(pc: _WildPieces, b0: float) -> float:
    """Return the bootstrap p-value at the null β = b0.

    Bootstrap p-value at the null β = b0: share of |t*| ≥ |t| (in-place, the same operations
    as the textbook expression |n0 − b0 nm| / √(s00 − 2 b0 s0m + b0² smm), so the same bits).
    """
    t_obs = abs(pc.beta - b0) / np.sqrt(pc.se_sq_over_f)
    num = np.multiply(pc.nm, b0)
    np.subtract(pc.n0, num, out=num)
    den = np.multiply(pc.s0m, 2 * b0)
    np.subtract(pc.s00, den, out=den)
    den += np.multiply(pc.smm, b0 * b0)
    np.maximum(den, 0.0, out=den)
    np.sqrt(den, out=den)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(num, den, out=num)
    np.abs(num, out=num)
    return float(np.count_nonzero(num >= t_obs - 1e-12 * max(1.0, t_obs)) / len(num))


def wild_cluster_bootstrap(
    design: Design,
    j: int,
    *,
    n_draws: int = 9999,
    seed: int = 1,
    alpha: float = 0.05,
    weights: str = "webb",
    ci: bool = True,
    n_treated_clusters: int | None = None,
    family_alpha: float | None = None,
) -> TestResult:
    """Test coefficient ``j`` = 0 with the WCR bootstrap.

    Symmetric test with the CR1 t-statistic and the null imposed; the CI by test inversion. A unit
    row of :func:`wild_cluster_bootstrap_terms`.

    Parameters
    ----------
    design : Design
        The regression design.
    j : int
        Index of the coefficient.
    n_draws : int
        Bootstrap draws.
    seed : int
        Seed of the wild weights.
    alpha : float
        Level of the confidence interval (1 − ``alpha``).
    weights : {"webb", "rademacher"}
        Wild weight distribution.
    ci : bool
        Whether to invert the test for a CI.
    n_treated_clusters : int, optional
        Treated clusters; with fewer than 2 the method does not apply.
    family_alpha : float, optional
        With ``ci``, also the 1 − ``family_alpha`` interval from the same draws.

    Returns
    -------
    TestResult
        The p-value and CI, or a not-applicable result saying why.
    """
    return wild_cluster_bootstrap_terms(
        design,
        np.eye(design.k)[[j]],
        n_draws=n_draws,
        seed=seed,
        alpha=alpha,
        weights=weights,
        ci=ci,
        n_treated_clusters=n_treated_clusters,
        family_alpha=family_alpha,
    )[0]


def wild_cluster_bootstrap_terms(
    design: Design,
    contrasts: np.ndarray,
    *,
    n_draws: int = 9999,
    seed: int = 1,
    alpha: float = 0.05,
    weights: str = "webb",
    ci: bool = True,
    n_treated_clusters: int | None = None,
    family_alpha: float | None = None,
) -> list[TestResult]:
    """Test w'β = 0 with the WCR bootstrap for each row w of ``contrasts``.

    WCR bootstrap test of w'β = 0 for each row w of ``contrasts`` (terms × K), all from the
    same draws; a unit row e_j tests coefficient j exactly as :func:`wild_cluster_bootstrap`,
    a general w as that coefficient of a design reparametrised so that it is w'β.
    """
    if weights not in ("webb", "rademacher"):
        raise ValueError(f"bootstrap weights must be 'webb' or 'rademacher', not {weights!r}")
    if n_treated_clusters is not None and n_treated_clusters < 2:
        na = TestResult.not_applicable(
            "WCR bootstrap", f"{n_treated_clusters} treated cluster(s); at least 2 are needed"
        )
        return [na] * len(contrasts)
    if not len(contrasts):
        return []
    pieces = _wild_pieces_many(design, np.atleast_2d(contrasts), seed, n_draws, weights)
    return [
        _wild_result(pc, design.ssc, n_draws, weights, alpha, ci, family_alpha) for pc in pieces
    ]


def _wild_result(
    pc: _WildPieces,
    ssc: float,
    n_draws: int,
    weights: str,
    alpha: float,
    ci: bool,
    family_alpha: float | None,
) -> TestResult:
    """p-value at 0 and the CI(s) by test inversion from one term's pieces."""
    p = _wild_p(pc, 0.0)
    lo = hi = lo_fw = hi_fw = np.nan
    if ci:
        se = np.sqrt(ssc * pc.se_sq_over_f)
        lo, hi = _invert(lambda b0: _wild_p(pc, b0), pc.beta, se, alpha)
        if family_alpha is not None:
            lo_fw, hi_fw = _invert(lambda b0: _wild_p(pc, b0), pc.beta, se, family_alpha)
    note = "Webb 6-point weights" if weights == "webb" else "Rademacher weights"
    if p == 0:
        note += f"; p = 0: no bootstrap t as extreme as the observed one, i.e. p < 1/{n_draws}"
    note = _unbounded(note, lo, hi, lo_fw, hi_fw)
    return TestResult(
        "WCR bootstrap",
        p,
        lo,
        hi,
        statistic=pc.beta / np.sqrt(ssc * pc.se_sq_over_f),
        n_draws=n_draws,
        note=note,
        ci_low_fw=lo_fw,
        ci_high_fw=hi_fw,
    )
