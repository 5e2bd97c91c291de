"""Shared pieces of inference: the result record, seeded draws, analytic tests, adjustment.

The result record (:class:`TestResult`), seeded chunks of draws, the analytic Wald/CR1 tests,
test inversion and multiple-testing adjustment.

Random draws come in fixed chunks of :data:`CHUNK` draws, chunk ``k`` seeded by
``SeedSequence(seed).spawn`` — the same draws whatever the machine, and chunks can be computed
apart (e.g. on a cluster) and gathered to identical results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from linkseval.did import OLSFit

CHUNK = 1000


@dataclass
class TestResult:
    """One inference method's answer for one coefficient."""

    method: str
    p_value: float
    ci_low: float
    ci_high: float
    statistic: float = np.nan
    n_draws: int = 0
    note: str = ""  # why a method does not apply, or a caveat
    ci_low_fw: float = np.nan  # the CI at level 1 - family_alpha (a family-wise interval)
    ci_high_fw: float = np.nan
    applicable: bool = True  # False: the method cannot test this term (numbers NaN, note: why)

    @classmethod
    def not_applicable(cls, method: str, why: str) -> TestResult:
        """Return a result with NaN numbers and the note ``not applicable: <why>``."""
        return cls(method, np.nan, np.nan, np.nan, note=f"not applicable: {why}", applicable=False)


def n_chunks(n_draws: int) -> int:
    """Return the number of chunks of (at most) CHUNK draws that make ``n_draws``."""
    return -(-n_draws // CHUNK)


def chunk_seed(seed: int, n_draws: int, k: int) -> tuple[int, np.random.Generator]:
    """Return the size and generator of chunk ``k``.

    (size, generator) of chunk ``k``: child ``k`` of ``SeedSequence(seed)`` (the same stream
    as ``SeedSequence(seed).spawn(n)[k]``), so any chunk can be drawn on its own.
    """
    if not 0 <= k < n_chunks(n_draws):
        raise ValueError(f"chunk {k} out of range: {n_draws} draws make {n_chunks(n_draws)}")
    child = np.random.SeedSequence(seed, spawn_key=(k,))
    return min(CHUNK, n_draws - k * CHUNK), np.random.default_rng(child)


def chunk_seeds(seed: int, n_draws: int) -> list[tuple[int, np.random.Generator]]:
    """(size, generator) for each chunk of CHUNK draws."""
    return [chunk_seed(seed, n_draws, k) for k in range(n_chunks(n_draws))]


def wald_test(
    estimate: float,
    se: float,
    *,
    df: int | None,
    alpha: float = 0.05,
    family_alpha: float | None = None,
    method: str = "CR1",
) -> TestResult:
    """Test a coefficient = 0 with its analytic standard error (t with ``df`` dof, else normal).

    Parameters
    ----------
    estimate, se : float
        The coefficient and its standard error.
    df : int or None
        Degrees of freedom of the t reference distribution; None: the standard normal.
    alpha : float
        Level of the confidence interval (1 − ``alpha``).
    family_alpha : float, optional
        Also give the 1 − ``family_alpha`` interval (``ci_low_fw``, ``ci_high_fw``).
    method : str
        The result's method name (e.g. ``"CR1"``, the covariance it used).

    Returns
    -------
    TestResult
        The p-value, CI and t (or z) statistic; NaN statistic and p-value where ``se`` is 0.
    """
    b = estimate
    stat = b / se if se > 0 else np.nan
    if df is None:
        crit = special.ndtri(1 - alpha / 2)
        p = float(2 * special.ndtr(-abs(stat)))
    else:
        crit = special.stdtrit(df, 1 - alpha / 2)  # Student t quantile (scipy.stats.t.ppf's)
        p = float(2 * special.stdtr(df, -abs(stat)))
    res = TestResult(method, p, b - crit * se, b + crit * se, statistic=float(stat))
    if family_alpha is not None:
        crit_fw = (
            special.ndtri(1 - family_alpha / 2)
            if df is None
            else special.stdtrit(df, 1 - family_alpha / 2)
        )
        res.ci_low_fw, res.ci_high_fw = b - crit_fw * se, b + crit_fw * se
    return res


def cr1(fit: OLSFit, j: int, alpha: float = 0.05, family_alpha: float | None = None) -> TestResult:
    """Test coefficient ``j`` = 0 with the CR1 t-test (G − 1 degrees of freedom).

    Parameters
    ----------
    fit : OLSFit
        The fitted regression.
    j : int
        Index of the coefficient.
    alpha : float
        Level of the confidence interval (1 − ``alpha``).
    family_alpha : float, optional
        Also give the 1 − ``family_alpha`` interval (``ci_low_fw``, ``ci_high_fw``).

    Returns
    -------
    TestResult
        The p-value, CI and t-statistic.
    """
    se = np.sqrt(fit.vcov[j, j])
    return wald_test(
        fit.beta[j], se, df=fit.design.n_clusters - 1, alpha=alpha, family_alpha=family_alpha
    )


def _invert(p_of, estimate: float, scale: float, alpha: float) -> tuple[float, float]:
    """Confidence set endpoints {b0: p(b0) > alpha} by bracketing and bisection on each side."""
    ends = []
    for sign in (-1.0, 1.0):
        inner, step = estimate, max(scale, 1e-12)
        outer = estimate + sign * step
        k = 0
        while p_of(outer) > alpha:
            inner, step = outer, step * 2
            outer = estimate + sign * step
            k += 1
            if k > 60:
                ends.append(sign * np.inf)
                break
        else:
            for _ in range(60):
                mid = 0.5 * (inner + outer)
                if p_of(mid) > alpha:
                    inner = mid
                else:
                    outer = mid
                if abs(outer - inner) <= 1e-7 * max(scale, 1e-12):
                    break
            ends.append(0.5 * (inner + outer))
    return ends[0], ends[1]


def _unbounded(note: str, *ends: float) -> str:
    """``note`` plus a caveat when a test-inverted CI is unbounded (JSON writes ±inf as null)."""
    if any(np.isinf(e) for e in ends):
        extra = (
            "CI unbounded: the test does not reject any effect size far enough from the "
            "estimate at this level (too few treated units or draws)"
        )
        return f"{note}; {extra}" if note else extra
    return note


# --------------------------------------------------------------------------- multiplicity


def adjust_pvalues(pvalues: np.ndarray, method: str) -> np.ndarray:
    """Adjust p-values for multiple testing; NaN stays NaN.

    Parameters
    ----------
    pvalues : array_like
        The p-values of one family.
    method : {"holm", "fdr_bh"}
        Holm or Benjamini–Hochberg (statsmodels' ``multipletests``).

    Returns
    -------
    ndarray
        The adjusted p-values, NaN where the input is NaN.
    """
    import gc

    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        # statsmodels' Holm branch calls gc.collect(): ~70 ms a call once pandas is loaded (5 s
        # for the default study's 69 families). Freezing the existing objects makes it cheap.
        gc.freeze()
        try:
            out[ok] = multipletests(p[ok], method=method)[1]
        finally:
            gc.unfreeze()
    return out
