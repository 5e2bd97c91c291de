"""Fisher randomization inference (RI): the programme reassigned to random sets of units.

:func:`randomization_inference` — the cohorts are permuted among all units of the estimation
sample (or whole clusters, :func:`ri_units`); for each draw the TWFE coefficient is a closed form
in per-unit sums, so 10⁵ draws take seconds. CI by inverting sharp nulls of a constant effect.
For RI, :func:`ri_chunk` computes one chunk's per-draw sums and :func:`ri_gather` the p-value and
CI from all of them (:func:`randomization_inference` is exactly these two steps). Every
estimator's RI ends in :func:`ri_test`, from the reassigned statistics its hook gives
(:class:`RIStatistics`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from linkseval.did import Panel, demean_by_unit, period_dummies
from linkseval.inference.base import CHUNK, TestResult, _invert, _unbounded, chunk_seed, n_chunks
from linkseval.inference.wild import _rowquad


@dataclass
class RIUnits:
    """Describe what randomization inference reassigns.

    What randomization inference reassigns: units, or whole clusters when the programme was
    assigned by cluster (clusters coarser than units, each unit in one cluster, one cohort per
    cluster).
    """

    n: int  # units or clusters that can be drawn
    cohort: np.ndarray  # per drawable unit/cluster: first treated period, 0 = never
    group: np.ndarray | None  # per unit its cluster code when clusters are reassigned
    why_units: str = ""  # why units are reassigned although clusters are coarser

    @property
    def treated(self) -> np.ndarray:
        """Return the indices of the treated units (or clusters) among those drawn."""
        return np.flatnonzero(self.cohort > 0)

    @property
    def kind(self) -> str:
        """Return ``"units"`` or ``"clusters"``: what is reassigned."""
        return "units" if self.group is None else "clusters"

    def describe(self) -> str:
        """Return a one-line description of the reassignment."""
        text = f"programme reassigned to {len(self.treated)} of {self.n} {self.kind} per draw"
        return f"{text} ({self.why_units})" if self.why_units else text


def ri_units(p: Panel) -> RIUnits:
    """Reassign whole clusters where the programme was assigned by cluster, else units."""
    G = int(p.cluster.max()) + 1 if p.n_obs else 0
    as_units = RIUnits(p.n_units, p.cohort, None)
    if p.n_units <= G:  # one unit per cluster (or finer): nothing coarser to reassign
        return as_units
    group = np.full(p.n_units, -1)
    group[p.unit] = p.cluster
    if (group[p.unit] != p.cluster).any():
        as_units.why_units = "units, not clusters: a unit spans clusters"
        return as_units
    lo = np.full(G, np.inf)
    hi = np.full(G, -np.inf)
    np.minimum.at(lo, group, p.cohort)
    np.maximum.at(hi, group, p.cohort)
    if (lo != hi).any():
        as_units.why_units = "units, not clusters: the programme start varies within a cluster"
        return as_units
    return RIUnits(G, hi.astype(p.cohort.dtype), group)


def group_sum(values: np.ndarray, group: np.ndarray | None, n: int, axis: int = 0) -> np.ndarray:
    """Sum ``values`` over units of the same group along ``axis`` (unchanged if no groups)."""
    if group is None:
        return values
    v = np.moveaxis(values, axis, 0)
    out = np.zeros((n,) + v.shape[1:])
    np.add.at(out, group, v)
    return np.moveaxis(out, 0, axis)


@dataclass
class _RIPieces:
    """Hold per-unit, per-cohort sums for K treatment columns.

    Per-unit, per-cohort sums for K treatment columns: the TWFE coefficients for any
    assignment are a closed form in sums of these over the treated units.
    """

    a: np.ndarray  # units × cohorts × K: r_ik(g)'e (e = two-way residual of y)
    b: np.ndarray  # units × cohorts × K: r_ik(g)'(M D_obs)
    q: np.ndarray  # units × cohorts × K × K: d_ik(g)'d_il(g) (d = r demeaned within unit)
    P: np.ndarray  # units × cohorts × (T-1) × K: Ytilde_i'd_ik(g)
    Ginv: np.ndarray  # (Ytilde'Ytilde)^-1
    cohorts: np.ndarray  # treated cohort values (columns)


def _ri_pieces(p: Panel, event_times: list[int] | None = None) -> _RIPieces:
    """Compute the RI pieces of the static or event-study coefficients.

    Pieces for the static coefficient (one column, 1[t ≥ g]) or, with ``event_times``, for
    the event-study coefficients (one column per event time e, 1[t − g = e]).
    """
    sw = np.sqrt(p.w)
    T, _ = period_dummies(p)
    Yt = demean_by_unit(p, T) * sw[:, None] if T.size else np.zeros((p.n_obs, 0))
    Ginv = np.linalg.pinv(Yt.T @ Yt) if Yt.shape[1] else np.zeros((0, 0))

    def two_way_resid(v: np.ndarray) -> np.ndarray:
        vt = demean_by_unit(p, v) * sw
        return vt - Yt @ (Ginv @ (Yt.T @ vt)) if Yt.shape[1] else vt

    def columns(g: float) -> np.ndarray:
        if event_times is None:
            return (p.time >= g)[:, None].astype(float)
        return np.column_stack([p.time - g == e for e in event_times]).astype(float)

    e = two_way_resid(p.y)
    md = two_way_resid(p.treatment())
    cohorts = np.unique(p.cohort[p.cohort > 0])
    n, k, tk = p.n_units, len(cohorts), Yt.shape[1]
    K = 1 if event_times is None else len(event_times)
    a, b = np.zeros((n, k, K)), np.zeros((n, k, K))
    q, P = np.zeros((n, k, K, K)), np.zeros((n, k, tk, K))

    def per_unit(v: np.ndarray) -> np.ndarray:
        return np.bincount(p.unit, weights=v, minlength=n)

    for ci, g in enumerate(cohorts):
        r = columns(g) * sw[:, None]
        d = demean_by_unit(p, r / sw[:, None]) * sw[:, None]  # within-unit weighted demeaning
        for c in range(K):
            a[:, ci, c] = per_unit(r[:, c] * e)
            b[:, ci, c] = per_unit(r[:, c] * md)
            for c2 in range(c, K):
                q[:, ci, c, c2] = q[:, ci, c2, c] = per_unit(d[:, c] * d[:, c2])
            for m in range(tk):
                P[:, ci, m, c] = per_unit(Yt[:, m] * d[:, c])
    u = ri_units(p)
    a, b, q, P = (group_sum(x, u.group, u.n) for x in (a, b, q, P))
    return _RIPieces(a=a, b=b, q=q, P=P, Ginv=Ginv, cohorts=cohorts)


def sample_units(rng: np.random.Generator, n: int, k: int, size: int) -> np.ndarray:
    """``size`` random k-subsets of range(n) (rows, in random order), without replacement."""
    if k * k <= n:  # draw with replacement, redraw the (rare) rows with a repeat
        idx = rng.integers(0, n, size=(size, k))
        while True:
            srt = np.sort(idx, axis=1)
            bad = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
            if not bad.size:
                return idx
            idx[bad] = rng.integers(0, n, size=(bad.size, k))
    keys = rng.random((size, n))
    pick = np.argpartition(keys, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(keys, pick, 1), axis=1, kind="stable")
    return np.take_along_axis(pick, order, 1)


def _ri_assignment(p: Panel, u: RIUnits | None = None) -> np.ndarray:
    """Return the cohort column each drawn unit (or cluster) receives (the observed ones')."""
    u = u if u is not None else ri_units(p)
    cohorts = np.unique(u.cohort[u.treated])
    return np.searchsorted(cohorts, u.cohort[u.treated])


@functools.lru_cache(maxsize=64)
def ri_sample(seed: int, n_draws: int, k: int, n: int, n_treated: int) -> np.ndarray:
    """Return chunk ``k`` of the RI reassignments.

    Chunk ``k`` of the RI reassignments: ``sample_units`` with chunk k's generator (read-only).
    Kept for a run: every leave-one-out panel (same units and treated counts) and the TWFE,
    event-study and CS RI of a comparison draw the same sets, so they are drawn once.
    """
    size, rng = chunk_seed(seed, n_draws, k)
    idx = sample_units(rng, n, n_treated, size)
    idx.flags.writeable = False
    return idx


def ri_draws(p: Panel, seed: int, n_draws: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Draw random reassignments of the programme.

    Random reassignments of the programme: per chunk a (draws × k) array of unit indices,
    and the cohort column each position receives (the observed treated cohorts). Units are
    drawn from all units of the estimation sample.
    """
    u = ri_units(p)
    col, n = _ri_assignment(p, u), u.n
    draws = [ri_sample(seed, n_draws, k, n, len(col)) for k in range(n_chunks(n_draws))]
    return draws, col


def _ri_stats(
    pc: _RIPieces, idx: np.ndarray, col: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numerator parts and denominator of the TWFE coefficient for each row of ``idx``."""
    num_y = pc.a[idx, col, 0].sum(axis=1)
    num_d = pc.b[idx, col, 0].sum(axis=1)
    q = pc.q[idx, col, 0, 0].sum(axis=1)
    P = pc.P[idx, col, :, 0].sum(axis=1)
    den = q - _rowquad(P, pc.Ginv, P) if P.shape[1] else q
    return num_y, num_d, den


def ri_coefficients(p: Panel, idx: np.ndarray, col: np.ndarray) -> np.ndarray:
    """TWFE coefficient for each reassignment (rows of ``idx``) — for checks and plots."""
    num_y, _, den = _ri_stats(_ri_pieces(p), idx, col)
    return num_y / den


RI_ARRAYS = ("num_y", "num_d", "den")


def _ri_not_applicable(p: Panel) -> TestResult | None:
    if len(p.treated_units) == 0:
        return TestResult.not_applicable("randomization inference", "no treated unit")
    if p.dose is not None:
        return TestResult.not_applicable(
            "randomization inference", "a dose is specific to the units that were treated"
        )
    return None


def ri_chunk(
    p: Panel, seed: int, n_draws: int, k: int, *, pieces: _RIPieces | None = None
) -> dict[str, np.ndarray]:
    """Compute chunk ``k`` of the RI draws.

    Chunk ``k`` of the RI draws of ``randomization_inference(p, n_draws=n_draws, seed=seed)``:
    per draw the numerator parts and the denominator of the reassigned TWFE coefficient
    (:data:`RI_ARRAYS`). Depends on ``(seed, n_draws, k)`` only, so chunks can be computed
    anywhere, in any order, and gathered with :func:`ri_gather`.
    """
    chunk_seed(seed, n_draws, k)  # checks k
    u = ri_units(p)
    col = _ri_assignment(p, u)
    idx = ri_sample(seed, n_draws, k, u.n, len(col))
    stats_ = _ri_stats(pieces if pieces is not None else _ri_pieces(p), idx, col)
    return dict(zip(RI_ARRAYS, stats_, strict=True))


@dataclass
class RIStatistics:
    """The reassigned statistics of an estimator's terms: the hook randomization inference needs.

    For reassignment r and term j, under the sharp null of a constant effect τ the term's value
    is ``(a[r, j] − τ·b[r, j]) / den[r, j]`` and its observed value ``observed[j] − τ·slope[j]``
    (every estimator here is linear in the outcome, so a is its value on the outcome and b on the
    observed treatment). ``b`` None: only the null of no effect (τ = 0) can be tested, so there is
    no CI; ``den`` None: 1. ``ok`` marks the draws that give a value (draws × terms); ``note``
    describes the reassignment, and with ``note_skipped`` the number of skipped draws is added.
    """

    a: np.ndarray
    b: np.ndarray | None
    den: np.ndarray | None
    ok: np.ndarray
    observed: np.ndarray
    slope: np.ndarray
    note: str
    note_skipped: bool = True

    @property
    def n_terms(self) -> int:
        """Return the number of terms."""
        return self.a.shape[1]


def ri_test(
    stats: RIStatistics,
    j: int,
    *,
    alpha: float = 0.05,
    ci: bool = True,
    family_alpha: float | None = None,
) -> TestResult:
    """Compute the two-sided Fisher RI p-value and CI of term ``j`` from its reassigned values.

    p(τ) = (1 + #|β_r(τ)| ≥ |β − τ·slope|) / (1 + R) over the R usable draws; the CI is
    {τ: p(τ) > α}, found by bracketing and bisection (:func:`~linkseval.inference.base._invert`),
    and, with ``family_alpha``, also the 1 − family_alpha interval. Every estimator's RI ends
    here, whatever computed its draws.

    Parameters
    ----------
    stats : RIStatistics
        The estimator's reassigned statistics.
    j : int
        The term.
    alpha : float
        Level of the confidence interval (1 − ``alpha``).
    ci : bool
        Whether to give a CI (never without ``stats.b``).
    family_alpha : float, optional
        Also give the 1 − ``family_alpha`` interval.

    Returns
    -------
    TestResult
        Method ``"randomization inference"``, the observed value as its statistic.
    """
    ok = stats.ok[:, j]
    a = stats.a[ok, j]
    b = stats.b[ok, j] if stats.b is not None else None
    den = stats.den[ok, j] if stats.den is not None else None
    beta, slope = float(stats.observed[j]), float(stats.slope[j])
    buf = np.empty_like(a)

    def p_of(tau: float) -> float:
        """(1 + #|β_r(τ)| ≥ |β − τ·slope|) / (1 + R), computed in place."""
        if b is None:
            np.copyto(buf, a)
        else:
            np.multiply(b, tau, out=buf)
            np.subtract(a, buf, out=buf)
        if den is not None:
            np.divide(buf, den, out=buf)
        np.abs(buf, out=buf)
        obs = abs(beta - tau * slope)
        return float((1 + np.count_nonzero(buf >= obs - 1e-12 * max(1.0, obs))) / (1 + len(a)))

    pval = p_of(0.0)
    lo = hi = lo_fw = hi_fw = np.nan
    if ci and b is not None:
        scale = float(np.std(a / den if den is not None else a)) or 1.0
        lo, hi = _invert(p_of, beta, scale, alpha)
        if family_alpha is not None:
            lo_fw, hi_fw = _invert(p_of, beta, scale, family_alpha)
    note = stats.note
    if stats.note_skipped and (~ok).any():
        note += f"; {int((~ok).sum())} degenerate draws skipped"
    note = _unbounded(note, lo, hi, lo_fw, hi_fw)
    return TestResult(
        "randomization inference",
        pval,
        lo,
        hi,
        statistic=beta,
        n_draws=int(ok.sum()),
        note=note,
        ci_low_fw=lo_fw,
        ci_high_fw=hi_fw,
    )


def twfe_ri_statistics(
    p: Panel,
    chunks: dict[int, dict[str, np.ndarray]],
    *,
    observed: float | None = None,
    n_draws: int | None = None,
    pieces: _RIPieces | None = None,
) -> RIStatistics:
    """Gather the static TWFE coefficient's reassigned statistics from the chunks of draws.

    The chunks (``{k: ri_chunk(...)}``, 0..n-1, in any order) are concatenated in chunk order,
    so a scattered run gives exactly the single-process statistics. With ``n_draws``, checks that
    the chunks are all of that run's (right number and sizes). The coefficient under
    reassignment r is (num_y − τ num_d) / den; draws with a vanishing denominator are skipped.
    """
    if sorted(chunks) != list(range(len(chunks))):
        raise ValueError(f"RI chunks must be 0..n-1 without gaps, got {sorted(chunks)}")
    if n_draws is not None:
        sizes = [len(chunks[k][RI_ARRAYS[0]]) for k in range(len(chunks))]
        want = [min(CHUNK, n_draws - k * CHUNK) for k in range(n_chunks(n_draws))]
        if sizes != want:
            raise ValueError(f"RI chunks do not make {n_draws} draws in chunks of {CHUNK}")
    pc = pieces if pieces is not None else _ri_pieces(p)
    u = ri_units(p)
    ny, _, den = _ri_stats(pc, u.treated[None, :], _ri_assignment(p, u))
    beta = float(ny[0] / den[0]) if observed is None else observed
    num_y, num_d, den_r = (
        np.concatenate([chunks[k][name] for k in range(len(chunks))]) for name in RI_ARRAYS
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = den_r > 1e-12 * den[0]
    return RIStatistics(
        a=num_y[:, None],
        b=num_d[:, None],
        den=den_r[:, None],
        ok=ok[:, None],
        observed=np.array([beta]),
        slope=np.ones(1),
        note=u.describe(),
    )


def ri_gather(
    p: Panel,
    chunks: dict[int, dict[str, np.ndarray]],
    *,
    alpha: float = 0.05,
    ci: bool = True,
    observed: float | None = None,
    n_draws: int | None = None,
    pieces: _RIPieces | None = None,
    family_alpha: float | None = None,
) -> TestResult:
    """Compute the Fisher RI p-value and CI from the draws of every chunk.

    Two-sided Fisher RI p-value and CI from the draws of every chunk (``{k: ri_chunk(...)}``,
    chunks 0..n-1, in any order): :func:`twfe_ri_statistics` then :func:`ri_test`, so the result
    is exactly that of :func:`randomization_inference` with the same seed and draws. With
    ``n_draws``, checks that the chunks are all of that run's (right number and sizes). With
    ``family_alpha`` (and ``ci``), also the 1 − family_alpha interval.
    """
    na = _ri_not_applicable(p)
    if na is not None:
        return na
    stats = twfe_ri_statistics(p, chunks, observed=observed, n_draws=n_draws, pieces=pieces)
    return ri_test(stats, 0, alpha=alpha, ci=ci, family_alpha=family_alpha)


def randomization_inference(
    p: Panel,
    *,
    n_draws: int = 9999,
    seed: int = 2,
    alpha: float = 0.05,
    ci: bool = True,
    observed: float | None = None,
    family_alpha: float | None = None,
) -> TestResult:
    """Compute the two-sided Fisher RI p-value of the static TWFE coefficient.

    The p-value is (1 + #|β_r| ≥ |β|) / (1 + R) over R reassignments of the programme (to units,
    or to whole clusters where it was assigned by cluster: :func:`ri_units`). The same code path
    as a scattered run: :func:`ri_chunk` for each chunk of :data:`CHUNK` draws, then
    :func:`ri_gather`.

    Parameters
    ----------
    p : Panel
        The estimation panel.
    n_draws : int
        Reassignments R.
    seed : int
        Seed of the reassignments.
    alpha : float
        Level of the confidence interval (1 − ``alpha``).
    ci : bool
        Whether to give a CI.
    observed : float, optional
        The observed coefficient (default: computed from the panel).
    family_alpha : float, optional
        Also give the 1 − ``family_alpha`` interval.

    Returns
    -------
    TestResult
        The p-value and CI, or a not-applicable result saying why.
    """
    na = _ri_not_applicable(p)
    if na is not None:
        return na
    pc = _ri_pieces(p)
    chunks = {k: ri_chunk(p, seed, n_draws, k, pieces=pc) for k in range(n_chunks(n_draws))}
    return ri_gather(
        p,
        chunks,
        alpha=alpha,
        ci=ci,
        observed=observed,
        n_draws=n_draws,
        pieces=pc,
        family_alpha=family_alpha,
    )


def _assigned_sum(x: np.ndarray, idx: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Sum ``x[idx, col]`` over positions without a large temporary.

    ``x[idx, col].sum(axis=1)`` for x of units × cohorts × (≥ 1 more axes), added position by
    position: the same additions in the same order, without the draws × positions × ...
    temporary (2-3× faster).
    """
    out = x[idx[:, 0], col[0]].copy()
    for j in range(1, len(col)):
        out += x[idx[:, j], col[j]]
    return out


def _es_stats(pc: _RIPieces, idx: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(draws × K × K) X'MX and (draws × K) X'My of the event-study columns per row of ``idx``."""
    num = _assigned_sum(pc.a, idx, col)
    den = _assigned_sum(pc.q, idx, col)
    if pc.P.shape[2]:
        P = _assigned_sum(pc.P, idx, col)  # draws × (T-1) × K
        den = den - np.swapaxes(P, 1, 2) @ (pc.Ginv @ P)  # batched GEMM, not an einsum loop
    return den, num


def ri_event_coefficients(
    p: Panel, event_times: list[int], idx: np.ndarray, col: np.ndarray
) -> np.ndarray:
    """Event-study coefficients (draws × K) for each reassignment (rows of ``idx``)."""
    den, num = _es_stats(_ri_pieces(p, event_times), idx, col)
    return np.linalg.solve(den, num[..., None])[..., 0]


def ri_event_statistics(
    p: Panel, event_times: list[int], *, n_draws: int, seed: int
) -> RIStatistics:
    """Compute the event-study coefficients under every reassignment (the event study's RI hook).

    The programme is reassigned as for the static coefficient (:func:`ri_sample`, same seed →
    same draws) and every event-study coefficient recomputed in closed form. Under the sharp null
    of no effect in any period only τ = 0 is tested (``b`` None: a CI would need a hypothesised
    effect for every event time at once). Draws whose design is singular are skipped.
    """
    pc = _ri_pieces(p, event_times)
    u = ri_units(p)
    col = _ri_assignment(p, u)
    den0, num0 = _es_stats(pc, u.treated[None, :], col)
    beta = np.linalg.solve(den0, num0[..., None])[0, :, 0]
    floor = 1e-10 * float(np.linalg.eigvalsh(den0[0]).min())
    draws, oks = [], []
    for k in range(n_chunks(n_draws)):
        idx = ri_sample(seed, n_draws, k, u.n, len(col))
        den, num = _es_stats(pc, idx, col)
        ok = np.linalg.eigvalsh(den).min(axis=1) > floor
        B = np.full((len(ok), len(event_times)), np.nan)
        B[ok] = np.linalg.solve(den[ok], num[ok][..., None])[..., 0]
        draws.append(B)
        oks.append(ok)
    ok = np.concatenate(oks)
    note = (
        f"sharp null: no effect in any year; {u.describe()}; "
        "p-value only (a CI would need every year's effect)"
    )
    return RIStatistics(
        a=np.concatenate(draws),
        b=None,
        den=None,
        ok=np.repeat(ok[:, None], len(event_times), axis=1),
        observed=beta,
        slope=np.zeros(len(event_times)),
        note=note,
    )


def ri_joint_pretrend(stats: RIStatistics, event_times: list[int]) -> TestResult | None:
    """Randomization Wald test that every pre-programme event-study coefficient is 0.

    W = b' S⁻¹ b with S the covariance of the pre-programme coefficients (besides the
    reference) over the draws; p = (1 + #W_r ≥ W) / (1 + R). None with fewer than 1 such
    coefficient.
    """
    pre = [j for j, e in enumerate(event_times) if e < -1]
    if not pre:
        return None
    B = stats.a[stats.ok[:, 0]]
    beta = stats.observed
    S = np.atleast_2d(np.cov(B[:, pre], rowvar=False))
    Sinv = np.linalg.pinv(S)
    W = np.einsum("ij,jk,ik->i", B[:, pre], Sinv, B[:, pre])
    w0 = float(beta[pre] @ Sinv @ beta[pre])
    return TestResult(
        "randomization inference",
        float((1 + np.sum(w0 - 1e-12 * max(1.0, w0) <= W)) / (1 + len(W))),
        np.nan,
        np.nan,
        statistic=w0,
        n_draws=int(B.shape[0]),
        note=(
            f"H0: no effect in any year; randomization Wald test of the {len(pre)} "
            "pre-programme coefficients (weight: their covariance over the draws)"
        ),
    )


def ri_event_study(
    p: Panel, event_times: list[int], *, n_draws: int = 9999, seed: int = 2
) -> tuple[list[TestResult], TestResult | None]:
    """Fisher RI for each event-study coefficient and a joint test of the pre-programme ones.

    Per coefficient (:func:`ri_event_statistics`, then :func:`ri_test`): two-sided
    p = (1 + #|β_r| ≥ |β|) / (1 + R); no CI. The joint pre-trend test (where there are ≥ 2
    pre-programme coefficients besides the reference) is :func:`ri_joint_pretrend`. Returns
    (one result per event time, joint result or None).
    """
    na = _ri_not_applicable(p)
    pre = [j for j, e in enumerate(event_times) if e < -1]
    if na is not None:
        return [na] * len(event_times), (na if pre else None)
    stats = ri_event_statistics(p, event_times, n_draws=n_draws, seed=seed)
    per = [ri_test(stats, j) for j in range(len(event_times))]
    return per, ri_joint_pretrend(stats, event_times)


# --------------------------------------------------------------------------- studentised RI


@dataclass
class RITStatistics:
    """Reassigned cluster-robust t statistics of one coefficient (the RI-t hook).

    Under the sharp null of a constant effect τ, draw r's t statistic is
    (a[r] − τ·b[r]) / √(q0[r] − 2τ·q1[r] + τ²·q2[r]) and the observed one
    (observed − τ·slope) / √(oq[0] − 2τ·oq[1] + τ²·oq[2]): the coefficient's numerator is linear
    in the outcome and its CR1 variance a quadratic in τ. ``center`` and ``scale`` (the observed
    coefficient and its CR1 SE) start the CI search; ``ok`` marks usable draws. ``ci`` False:
    p-value only (a pre-programme term, whose value under the constant-effect null is 0 whatever
    τ, so inverting its test would not give an interval for the term).
    """

    a: np.ndarray
    b: np.ndarray
    q: tuple[np.ndarray, np.ndarray, np.ndarray]
    ok: np.ndarray
    observed: float
    slope: float
    observed_q: tuple[float, float, float]
    center: float
    scale: float
    note: str
    ci: bool = True


def twfe_t_engine(p: Panel):
    """Return the closed form of the static TWFE coefficient's CR1 t for any assignment.

    ``(stats, units, col)``: ``stats(idx)`` gives, for each row of ``idx`` (drawn units or
    clusters of :func:`ri_units`; position j gets cohort ``col[j]``, the observed cohorts'
    pattern), the coefficient's numerator on y and on the observed treatment, the three
    coefficients of its CR1 variance as a quadratic in a null effect τ, and its denominator.
    The residualised treatment is x̃ = d − Ỹ(Ỹ'Ỹ)⁻¹Ỹ'd with d the drawn units' within-unit
    demeaned columns, so each cluster's score sums (x̃'ẽ and x̃'x̃) follow from per-unit pieces
    and per-cluster sums of the period dummies (Ỹ'ẽ, Ỹ'Ỹ): no refit. None where a unit spans
    clusters (its score belongs to no single cluster). ``stats.clusters(idx)`` gives the
    per-cluster sums the placebo study's wild bootstrap needs (:mod:`linkseval.placebo`).

    The sums over clusters of the scores' squares and products are, for the clusters without a
    drawn unit, quadratic to quartic forms in h (tensors Σ_c Q_c Q_c', Σ_c Q_c ⊗ H_c,
    Σ_c H_c ⊗ H_c fixed once): a draw costs O(tk⁴ + positions · tk²), not O(G · tk²); the drawn
    units' clusters are then replaced by their full scores.
    """
    u = ri_units(p)
    G = int(p.cluster.max()) + 1
    if u.group is None:
        cl_of = np.full(p.n_units, -1)
        cl_of[p.unit] = p.cluster
        if (cl_of[p.unit] != p.cluster).any():
            return None
    else:
        cl_of = np.arange(u.n)
    pc = _ri_pieces(p)
    sw = np.sqrt(p.w)
    T, _ = period_dummies(p)
    Yt = demean_by_unit(p, T) * sw[:, None] if T.size else np.zeros((p.n_obs, 0))

    def two_way_resid(v: np.ndarray) -> np.ndarray:
        vt = demean_by_unit(p, v) * sw
        return vt - Yt @ (pc.Ginv @ (Yt.T @ vt)) if Yt.shape[1] else vt

    e, md = two_way_resid(p.y), two_way_resid(p.treatment())
    tk = Yt.shape[1]
    Qe = np.zeros((G, tk))
    Qd = np.zeros((G, tk))
    H = np.zeros((G, tk, tk))
    np.add.at(Qe, p.cluster, Yt * e[:, None])
    np.add.at(Qd, p.cluster, Yt * md[:, None])
    np.add.at(H, p.cluster, Yt[:, :, None] * Yt[:, None, :])
    col = _ri_assignment(p, u)
    n = p.n_obs
    ssc = G / (G - 1) * (n - 1) / (n - 1 - tk)  # the CR1 factor of the TWFE design (K = 1 + tk)

    # Sums over clusters of products of the undrawn clusters' scores are quadratic, cubic and
    # quartic forms in h: their tk-sized tensors replace a pass over the G clusters per draw
    Hf = H.reshape(G, tk * tk)
    forms = {
        "ee": Qe.T @ Qe,
        "ed": Qe.T @ Qd,
        "dd": Qd.T @ Qd,
        "e2": Qe.T @ Hf,  # tk × tk²: Σ_c Qe_c ⊗ H_c
        "d2": Qd.T @ Hf,
        "22": Hf.T @ Hf,  # tk² × tk²: Σ_c H_c ⊗ H_c
    }
    tot_e, tot_d, tot_h = Qe.sum(0), Qd.sum(0), Hf.sum(0)

    def cluster_sums(idx: np.ndarray):
        """ny, nd, den and the sums over clusters of S1y², S1y·S1d, S1d², S1·S2 and S2²."""
        a_pos, b_pos = pc.a[idx, col, 0], pc.b[idx, col, 0]
        q_pos, P_pos = pc.q[idx, col, 0, 0], pc.P[idx, col, :, 0]
        h = P_pos.sum(axis=1) @ pc.Ginv  # R × tk
        hh = (h[:, :, None] * h[:, None, :]).reshape(len(idx), tk * tk)
        add2 = q_pos - 2 * (P_pos @ h[:, :, None])[..., 0]
        ny = a_pos.sum(1) - h @ tot_e
        nd = b_pos.sum(1) - h @ tot_d
        den = add2.sum(1) + hh @ tot_h
        sums = {
            "ee": ((h @ forms["ee"]) * h).sum(1),
            "ed": ((h @ forms["ed"]) * h).sum(1),
            "dd": ((h @ forms["dd"]) * h).sum(1),
            "e2": -((h @ forms["e2"]) * hh).sum(1),
            "d2": -((h @ forms["d2"]) * hh).sum(1),
            "22": ((hh @ forms["22"]) * hh).sum(1),
        }
        # the drawn units' clusters: their undrawn scores replaced by the full ones
        c_pos = cl_of[idx]
        base = {
            "e": -(Qe[c_pos] @ h[:, :, None])[..., 0],
            "d": -(Qd[c_pos] @ h[:, :, None])[..., 0],
            "2": (Hf[c_pos] @ hh[:, :, None])[..., 0],
        }
        same = c_pos[:, :, None] == c_pos[:, None, :]  # R × k × k: positions sharing a cluster
        first = ~np.tril(same, -1).any(axis=2)  # one position per drawn cluster
        sf = same.astype(float)
        full = {
            "e": base["e"] + (sf @ a_pos[:, :, None])[..., 0],
            "d": base["d"] + (sf @ b_pos[:, :, None])[..., 0],
            "2": base["2"] + (sf @ add2[:, :, None])[..., 0],
        }
        for key in sums:
            x, y = key
            sums[key] += np.where(first, full[x] * full[y] - base[x] * base[y], 0.0).sum(1)
        return ny, nd, den, sums

    def stats(idx: np.ndarray):
        ny, nd, den, m = cluster_sums(idx)
        with np.errstate(divide="ignore", invalid="ignore"):
            by, bd = ny / den, nd / den
        # U = S1y − β_y S2, V = S1d − β_d S2 summed over clusters: Σ U², Σ UV, Σ V²
        q = (
            ssc * (m["ee"] - 2 * by * m["e2"] + by * by * m["22"]),
            ssc * (m["ed"] - bd * m["e2"] - by * m["d2"] + by * bd * m["22"]),
            ssc * (m["dd"] - 2 * bd * m["d2"] + bd * bd * m["22"]),
        )
        return ny, nd, q, den

    def cluster_stats(idx: np.ndarray):
        """Return the numerator on y, the denominator and the placebo WCR's per-cluster sums.

        The sums: x̃_g'e_g, x̃_g'x̃_g and Ỹ_g'x̃_g (R × G, R × G, R × G × tk).
        """
        R = len(idx)
        a_pos, q_pos, P_pos = pc.a[idx, col, 0], pc.q[idx, col, 0, 0], pc.P[idx, col, :, 0]
        h = P_pos.sum(axis=1) @ pc.Ginv  # R × tk
        S1y = -h @ Qe.T  # R × G
        S2 = np.einsum("rk,ckl,rl->rc", h, H, h)
        rows = np.broadcast_to(np.arange(R)[:, None], idx.shape)
        c_pos = cl_of[idx]
        np.add.at(S1y, (rows, c_pos), a_pos)
        np.add.at(S2, (rows, c_pos), q_pos - 2 * np.einsum("rjk,rk->rj", P_pos, h))
        W = -np.einsum("rk,ckl->rcl", h, H)
        np.add.at(W, (rows, c_pos), P_pos)
        return S1y.sum(axis=1), S2.sum(axis=1), (S1y, S2, W)

    # for the placebo WCR: the per-cluster sums, and the restricted (β = 0) model's pieces that
    # every assignment shares, Ỹ_g'ẽ_g and (Ỹ'Ỹ)⁻¹
    stats.clusters, stats.Qe, stats.Ginv = cluster_stats, Qe, pc.Ginv
    return stats, u, col


def twfe_ri_t_statistics(p: Panel, *, seed: int, n_draws: int) -> RITStatistics | None:
    """Compute the static TWFE coefficient's CR1 t statistic under every reassignment.

    MacKinnon & Webb (2020): randomization inference on cluster-robust t statistics rather than
    coefficients holds its size when the treated clusters are atypical (their sizes or noise).
    The same reassignments as :func:`randomization_inference` (same seed → same draws), each in
    closed form (:func:`twfe_t_engine`). None where a unit spans clusters.
    """
    engine = twfe_t_engine(p)
    if engine is None:
        return None
    stats, u, col = engine
    ny0, nd0, q_obs, den0 = stats(u.treated[None, :])
    parts = [stats(ri_sample(seed, n_draws, k, u.n, len(col))) for k in range(n_chunks(n_draws))]
    a = np.concatenate([x[0] for x in parts])
    b = np.concatenate([x[1] for x in parts])
    q = tuple(np.concatenate([x[2][i] for x in parts]) for i in range(3))
    den = np.concatenate([x[3] for x in parts])
    with np.errstate(invalid="ignore"):
        ok = (den > 1e-12 * den0[0]) & (q[0] > 0) & np.isfinite(q[0])
    beta = float(ny0[0] / den0[0])
    return RITStatistics(
        a=a,
        b=b,
        q=q,
        ok=ok,
        observed=float(ny0[0]),
        slope=float(nd0[0]),
        observed_q=(float(q_obs[0][0]), float(q_obs[1][0]), float(q_obs[2][0])),
        center=beta,
        scale=float(np.sqrt(q_obs[0][0]) / den0[0]),
        note=f"studentised (MacKinnon & Webb 2020): CR1 t statistics; {u.describe()}",
    )


def score_clusters(p: Panel, u: RIUnits) -> np.ndarray | None:
    """Return the cluster of each drawable unit (or cluster) of ``u``.

    None where a unit spans clusters (its score belongs to no single cluster).
    """
    if u.group is not None:
        return np.arange(u.n)
    cl_of = np.full(p.n_units, -1)
    cl_of[p.unit] = p.cluster
    return None if (cl_of[p.unit] != p.cluster).any() else cl_of


def event_t_engine(p: Panel, event_times: list[int]):
    """Return the closed form of the event-study coefficients' CR1 t for any assignment.

    ``(stats, units, col)`` as :func:`twfe_t_engine`; ``stats(idx)`` gives, per row of ``idx``
    (draws) and event time, the coefficient on y and on the observed treatment (β_y, β_d: the
    coefficient on y − τD is β_y − τβ_d), the three coefficients of its CR1 variance as a
    quadratic in τ, and whether the draw's design is regular. With the event-time columns
    residualised on both fixed effects, x̃ = d − Ỹh (h = (Ỹ'Ỹ)⁻¹Ỹ'd), each cluster's score
    x̃_c'ẽ_c = Σ_i [a_i − q_i β + P_i'(hβ) + h'P_i β] − h'(Ỹ_c'ẽ_c + Ỹ_c'Ỹ_c hβ) (sums over the
    cluster's drawn units of per-unit pieces, :func:`_ri_pieces`) and the CR1 variance of
    coefficient j is ssc · Σ_c (e_j'(X̃'X̃)⁻¹ x̃_c'ẽ_c)², with the event study's factor
    G/(G−1)·(N−1)/(N−K), K = event times + period dummies. The event times stay the observed
    ones (as for RI on the coefficients). None where a unit spans clusters.

    Σ_c S_c S_c' over the clusters without a drawn unit is h'[Σ_c (Q_c + H_c v)(Q_c + H_c v)']h
    (v = hβ), whose sums over clusters are fixed tensors of size tk² to tk⁴: a draw costs
    O(tk⁴ + positions · tk²) whatever the number of clusters G; the drawn units' clusters are
    then replaced by their full scores.
    """
    u = ri_units(p)
    cl_of = score_clusters(p, u)
    if cl_of is None:
        return None
    G = int(p.cluster.max()) + 1
    pc = _ri_pieces(p, event_times)
    sw = np.sqrt(p.w)
    T, _ = period_dummies(p)
    Yt = demean_by_unit(p, T) * sw[:, None] if T.size else np.zeros((p.n_obs, 0))

    def two_way_resid(v: np.ndarray) -> np.ndarray:
        vt = demean_by_unit(p, v) * sw
        return vt - Yt @ (pc.Ginv @ (Yt.T @ vt)) if Yt.shape[1] else vt

    e, md = two_way_resid(p.y), two_way_resid(p.treatment())
    tk, K = Yt.shape[1], len(event_times)
    Qe, Qd, H = np.zeros((G, tk)), np.zeros((G, tk)), np.zeros((G, tk, tk))
    np.add.at(Qe, p.cluster, Yt * e[:, None])
    np.add.at(Qd, p.cluster, Yt * md[:, None])
    np.add.at(H, p.cluster, Yt[:, :, None] * Yt[:, None, :])
    col = _ri_assignment(p, u)
    n = p.n_obs
    ssc = G / (G - 1) * (n - 1) / (n - K - tk)
    den0, _ = _es_stats(pc, u.treated[None, :], col)
    floor = 1e-10 * float(np.linalg.eigvalsh(den0[0]).min())

    # Σ over clusters of S_c S_c' for the undrawn clusters (S_c = −h'(Q_c + H_c v)) expands into
    # tensors of size tk² … tk⁴ contracted with h and v = hβ: no pass over the G clusters per draw
    Hf = H.reshape(G, tk * tk)
    QQ = {("y", "y"): Qe.T @ Qe, ("y", "d"): Qe.T @ Qd, ("d", "d"): Qd.T @ Qd}
    QH = {"y": (Qe.T @ Hf).reshape(tk, tk, tk), "d": (Qd.T @ Hf).reshape(tk, tk, tk)}
    HH = (Hf.T @ Hf).reshape(tk, tk, tk, tk)  # [k,m,l,n] = Σ_c H_ckm H_cln

    def block(idx: np.ndarray):
        R = len(idx)
        A, num_y = _es_stats(pc, idx, col)
        num_d = _assigned_sum(pc.b, idx, col)
        h = pc.Ginv @ _assigned_sum(pc.P, idx, col) if tk else np.zeros((R, 0, K))
        ok = np.linalg.eigvalsh(A).min(axis=1) > floor
        A = np.where(ok[:, None, None], A, np.eye(K))
        Ainv = np.linalg.inv(A)
        c_pos = cl_of[idx]  # R × k
        same = c_pos[:, :, None] == c_pos[:, None, :]  # positions sharing a cluster
        first = ~np.tril(same, -1).any(axis=2)  # one position per drawn cluster
        sf = same.astype(float)
        beta, v, base, full = {}, {}, {}, {}
        for key, num, pieces, Q in (("y", num_y, pc.a, Qe), ("d", num_d, pc.b, Qd)):
            beta[key] = (Ainv @ num[..., None])[..., 0]  # R × K
            v[key] = (h @ beta[key][..., None])[..., 0]  # R × tk: hβ
            contrib = np.empty((R, len(col), K))
            for j, c in enumerate(col):
                i = idx[:, j]
                Pi = pc.P[i, c]  # R × tk × K
                contrib[:, j] = (
                    pieces[i, c]
                    - (pc.q[i, c] @ beta[key][..., None])[..., 0]
                    + (np.swapaxes(Pi, 1, 2) @ v[key][..., None])[..., 0]
                    + (np.swapaxes(h, 1, 2) @ (Pi @ beta[key][..., None]))[..., 0]
                )
            # the drawn clusters' scores without (base) and with (full) their drawn units
            g = Q[c_pos] + (H[c_pos] @ v[key][:, None, :, None])[..., 0]  # R × k × tk
            base[key] = -(g @ h)
            full[key] = base[key] + sf @ contrib
        out = {}
        for x, y in QQ:  # Σ_c S^x_c S^y_c' (R × K × K), then the drawn clusters' correction
            vx, vy = v[x], v[y]
            Hvx = (vx @ HH.transpose(1, 0, 2, 3).reshape(tk, -1)).reshape(R, tk, tk, tk)
            inner = (
                QQ[x, y][None]
                + (vy @ QH[x].transpose(2, 0, 1).reshape(tk, -1)).reshape(R, tk, tk)
                + np.swapaxes(
                    (vx @ QH[y].transpose(2, 0, 1).reshape(tk, -1)).reshape(R, tk, tk), 1, 2
                )
                + (Hvx @ vy[:, None, :, None])[..., 0]
            )
            M = np.swapaxes(h, 1, 2) @ inner @ h
            f, b = full[x] * first[..., None], base[x] * first[..., None]
            M += np.swapaxes(f, 1, 2) @ full[y] - np.swapaxes(b, 1, 2) @ base[y]
            out[x, y] = ((Ainv @ M) * Ainv).sum(2)  # diag(A⁻¹MA⁻¹), A symmetric
        q = (ssc * out["y", "y"], ssc * out["y", "d"], ssc * out["d", "d"])
        return beta["y"], beta["d"], q, ok

    def stats(idx: np.ndarray):
        # bounds the R × positions × tk × max(K, tk) and R × tk³ temporaries
        step = max(1, int(4e6 // max(1, len(col) * tk * max(K, tk), tk**3)))
        parts = [block(idx[s : s + step]) for s in range(0, len(idx), step)]
        cat = np.concatenate
        q = tuple(cat([x[2][i] for x in parts]) for i in range(3))
        return cat([x[0] for x in parts]), cat([x[1] for x in parts]), q, cat([x[3] for x in parts])

    return stats, u, col


def event_ri_t_statistics(
    p: Panel, event_times: list[int], *, seed: int, n_draws: int
) -> list[RITStatistics] | None:
    """Compute every event-study coefficient's CR1 t statistic under every reassignment.

    The same reassignments as :func:`ri_event_statistics` (same seed → same draws), each in
    closed form (:func:`event_t_engine`); one :class:`RITStatistics` per event time. The
    sharp null of a constant effect τ shifts the outcome of the observed treated practice-years
    by τ (y − τD); its CI is for that constant effect, so pre-programme coefficients (0 under
    it) get a p-value only. Draws whose design is singular are skipped. None where a unit spans
    clusters.
    """
    engine = event_t_engine(p, event_times)
    if engine is None:
        return None
    stats, u, col = engine
    by0, bd0, q_obs, _ = stats(u.treated[None, :])
    parts = [stats(ri_sample(seed, n_draws, k, u.n, len(col))) for k in range(n_chunks(n_draws))]
    by = np.concatenate([x[0] for x in parts])
    bd = np.concatenate([x[1] for x in parts])
    q = tuple(np.concatenate([x[2][i] for x in parts]) for i in range(3))
    ok = np.concatenate([x[3] for x in parts])
    note = f"studentised (MacKinnon & Webb 2020): CR1 t statistics; {u.describe()}"
    out = []
    for j, ev in enumerate(event_times):
        with np.errstate(invalid="ignore"):
            ok_j = ok & (q[0][:, j] > 0) & np.isfinite(q[0][:, j])
        pre = ev < 0
        out.append(
            RITStatistics(
                a=by[:, j],
                b=bd[:, j],
                q=(q[0][:, j], q[1][:, j], q[2][:, j]),
                ok=ok_j,
                observed=float(by0[0, j]),
                slope=float(bd0[0, j]),
                observed_q=(float(q_obs[0][0, j]), float(q_obs[1][0, j]), float(q_obs[2][0, j])),
                center=float(by0[0, j]),
                scale=float(np.sqrt(max(q_obs[0][0, j], 0.0))),
                note=note + (PRE_NOTE if pre else CONSTANT_NOTE),
                ci=not pre,
            )
        )
    return out


CONSTANT_NOTE = "; CI: sharp null of a constant effect in every programme year"
PRE_NOTE = "; p-value only (pre-programme term: sharp null of no effect in any year)"


def ri_t_test(
    stats: RITStatistics, *, alpha: float = 0.05, family_alpha: float | None = None
) -> TestResult:
    """Compute the two-sided RI-t p-value and CI (test inversion) from reassigned t statistics.

    p(τ) = (1 + #|t_r(τ)| ≥ |t(τ)|) / (1 + R); the CI is {τ: p(τ) > α} (none where
    ``stats.ci`` is False). The result's statistic is the observed t (estimate / analytic SE).
    """
    ok = stats.ok
    a, b = stats.a[ok], stats.b[ok]
    q0, q1, q2 = (x[ok] for x in stats.q)
    o0, o1, o2 = stats.observed_q
    buf = np.empty_like(a)
    var = np.empty_like(a)

    def p_of(tau: float) -> float:
        np.multiply(b, tau, out=buf)
        np.subtract(a, buf, out=buf)
        np.abs(buf, out=buf)
        np.multiply(q2, tau * tau, out=var)
        np.add(var, q0, out=var)
        np.subtract(var, (2 * tau) * q1, out=var)
        np.maximum(var, 0.0, out=var)
        np.sqrt(var, out=var)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(buf, var, out=buf)
        s_obs = np.sqrt(max(o0 - 2 * tau * o1 + tau * tau * o2, 0.0))
        obs = abs(stats.observed - tau * stats.slope) / s_obs if s_obs > 0 else np.inf
        count = np.count_nonzero(buf >= obs - 1e-12 * max(1.0, obs))
        return float((1 + count) / (1 + len(a)))

    pval = p_of(0.0)
    lo = hi = lo_fw = hi_fw = np.nan
    if stats.ci:
        lo, hi = _invert(p_of, stats.center, stats.scale, alpha)
        if family_alpha is not None:
            lo_fw, hi_fw = _invert(p_of, stats.center, stats.scale, family_alpha)
    note = stats.note
    if (~ok).any():
        note += f"; {int((~ok).sum())} degenerate draws skipped"
    t0 = stats.observed / np.sqrt(o0) if o0 > 0 else np.nan
    return TestResult(
        "randomization inference (t)",
        pval,
        lo,
        hi,
        statistic=float(t0),
        n_draws=int(ok.sum()),
        note=_unbounded(note, lo, hi, lo_fw, hi_fw),
        ci_low_fw=lo_fw,
        ci_high_fw=hi_fw,
    )
