"""Placebo study on the study's own data: the size of every inference method on this panel.

The programme is reassigned to random sets of never-treated practices with the real cohort
sizes — drawn from all comparison practices, or from a pool such as the Deep End practices —
on the comparison panel without the real Links practices, where the true effect is 0 by
construction. Each method's rejection rate of those placebo "effects" at level α is its size on
this data (MC SE √(r(1 − r)/n)). The static TWFE coefficient's CR1 t, randomization inference
on coefficients (RI-β) and on CR1 t statistics (RI-t) come in closed form for every assignment
at once (:func:`linkseval.inference.randomization.twfe_t_engine`), and so does the WCR bootstrap
(:func:`wild_pvalues`: under β = 0 every assignment shares the restricted model and the draws;
on the first ``wild_assignments`` assignments, by default all).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import special

from linkseval.comparisons import members
from linkseval.did import Panel
from linkseval.inference import n_chunks, ri_sample, sample_units
from linkseval.inference.randomization import twfe_t_engine
from linkseval.inference.wild import wild_weights
from linkseval.study import Comparison, Settings

# the placebo's Deep End pool: the practices of the ``deep_end`` comparison rule
DEEP_END = Comparison(name="deep_end", label="Deep End", rule="deep_end")

# the placebo study's pools, in the order of its tables
POOLS = ("comparison", "deep_end")

# assignments per block of the placebo WCR (memory: block × clusters × periods); a scattered
# job's assignments start at a multiple of it, so its blocks are those of a single run
WILD_BLOCK = 100

METHOD_NAMES = {
    "CR1": "CR1",
    "wild_bootstrap": "WCR bootstrap",
    "randomization": "randomization inference",
    "randomization_t": "randomization inference (t)",
}


def placebo_assignments(
    pool: np.ndarray, cohort_sizes: dict[int, int], n_assign: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_assign`` placebo assignments: rows of units from ``pool``, each position's cohort.

    Seeded (``numpy.random.default_rng(seed)``); positions follow ``cohort_sizes`` in sorted
    cohort order, so the cohorts keep their real sizes.
    """
    cohorts = np.repeat(sorted(cohort_sizes), [cohort_sizes[g] for g in sorted(cohort_sizes)])
    k = len(cohorts)
    if k > len(pool):
        raise ValueError(f"{k} placebo practices needed, the pool has {len(pool)}")
    rng = np.random.default_rng(seed)
    return np.asarray(pool)[sample_units(rng, len(pool), k, n_assign)], cohorts


def _p_share(reference: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(1 + #|ref| ≥ |obs|) / (1 + R) for each observed value (the RI p-value, vectorised)."""
    ref = np.sort(np.abs(reference))
    obs = np.abs(observed)
    ge = len(ref) - np.searchsorted(ref, obs - 1e-12 * np.maximum(1.0, obs), side="left")
    return (1 + ge) / (1 + len(ref))


def placebo_pvalues(
    p0: Panel,
    pool: np.ndarray,
    cohort_sizes: dict[int, int],
    s: Settings,
    *,
    n_assign: int = 1000,
    seed: int = 1,
    wild_assignments: int = 1000,
    wild_draws: int = 999,
    assignments: range | None = None,
) -> pd.DataFrame:
    """Return each placebo assignment's p-value under each inference method.

    Parameters
    ----------
    p0 : Panel
        The comparison panel without the real treated practices (every cohort 0).
    pool : ndarray
        Unit indices of ``p0`` the placebo practices are drawn from.
    cohort_sizes : dict
        Cohort → number of treated practices (the real design's).
    s : Settings
        The inference settings: α, RI draws and seed, bootstrap seed and weights.
    n_assign, seed : int
        Placebo assignments and their seed.
    wild_assignments, wild_draws : int
        The WCR bootstrap runs on the first ``wild_assignments`` assignments with ``wild_draws``
        draws each (it needs a pass over the data per assignment).
    assignments : range, optional
        Only these of the ``n_assign`` assignments (a scattered job's share; it starts at a
        multiple of :data:`WILD_BLOCK`): the same rows as those of the whole run.

    Returns
    -------
    DataFrame
        One row per assignment: ``assignment`` (its number), ``estimate``, ``t`` and the
        p-value of ``CR1``,
        ``randomization``, ``randomization_t`` and (first ``wild_assignments``)
        ``wild_bootstrap`` (NaN beyond).
    """
    if (p0.cohort > 0).any():
        raise ValueError("the placebo panel must hold no treated practice")
    idx, cohorts = placebo_assignments(pool, cohort_sizes, n_assign, seed)
    share = range(n_assign) if assignments is None else assignments
    if share.step != 1 or share.start % WILD_BLOCK or not 0 <= share.start < share.stop <= n_assign:
        raise ValueError(
            f"placebo assignments {share.start}..{share.stop - 1}: a run of 0..{n_assign - 1} "
            f"starting at a multiple of {WILD_BLOCK}"
        )
    nominal = np.zeros(p0.n_units, dtype=p0.cohort.dtype)
    nominal[idx[0]] = cohorts
    pn = replace(p0, cohort=nominal)
    engine = twfe_t_engine(pn)
    if engine is None:
        raise ValueError("a unit spans clusters: no closed-form CR1 t")
    stats, u, col = engine
    if u.group is not None:  # clusters would be reassigned; placebo units are drawn
        raise ValueError("the placebo study draws practices; clusters coarser than practices")
    # idx's positions hold the cohorts in sorted order; the engine's positions follow col
    rows_all = np.empty_like(idx)
    rows_all[:, np.argsort(col, kind="stable")] = idx
    rows = rows_all[share.start : share.stop]
    ny, _, q, den = stats(rows)
    beta, t = ny / den, ny / np.sqrt(q[0])
    G = int(p0.cluster.max()) + 1
    out = pd.DataFrame({"assignment": np.asarray(share, dtype=np.int64), "estimate": beta, "t": t})
    out["CR1"] = 2 * special.stdtr(G - 1, -np.abs(t))
    # RI: the reference distribution over random reassignments is the same for every placebo
    # assignment (the outcome is fixed, the draws are the RI seed's): computed once. With one
    # cohort these are exactly each placebo panel's own RI draws; with several, a panel's own RI
    # maps the same random sets to cohorts in its own order — the same distribution.
    ref = [
        stats(ri_sample(s.ri_seed, s.ri_draws, k, u.n, len(col)))
        for k in range(n_chunks(s.ri_draws))
    ]
    ny_r = np.concatenate([r[0] for r in ref])
    den_r = np.concatenate([r[3] for r in ref])
    q0_r = np.concatenate([r[2][0] for r in ref])
    # the floor of a usable draw, the same in every scattered job: from all the assignments
    # (the whole run's: this job's own when it holds every assignment)
    den_all = den if len(rows) == len(rows_all) else stats(rows_all)[3]
    ok = den_r > 1e-12 * np.median(den_all)
    out["randomization"] = _p_share(ny_r[ok] / den_r[ok], beta)
    out["randomization_t"] = _p_share(ny_r[ok] / np.sqrt(q0_r[ok]), t)
    wild = np.full(len(share), np.nan)
    n_wild = max(0, min(wild_assignments, share.stop) - share.start)
    wild[:n_wild] = wild_pvalues(stats, rows[:n_wild], G, s, wild_draws)
    out["wild_bootstrap"] = wild
    return out


def wild_pvalues(stats, rows: np.ndarray, G: int, s: Settings, n_draws: int) -> np.ndarray:
    """Return the WCR bootstrap p-value of H0: β = 0 for every placebo assignment at once.

    Under β = 0 the restricted model (unit and period effects only) is the same for every
    assignment, so one set of wild draws v (the bootstrap seed's, as for
    :func:`~linkseval.inference.wild_cluster_bootstrap` on each assignment's own design) serves
    all of them. With x̃ the assignment's two-way residualised treatment and ẽ the restricted
    residuals, draw b's numerator is Σ_g v_bg S_g (S_g = x̃_g'ẽ_g) and its unrestricted cluster
    scores are v_bg S_g − W_g'z_b − K_g β*_b, with W_g = Ỹ_g'x̃_g, K_g = x̃_g'x̃_g and
    z_b = (Ỹ'Ỹ)⁻¹ Σ_g v_bg Ỹ_g'ẽ_g; the sum of their squares expands into a few matrix products
    over clusters for all assignments (no pass over the data per assignment). p = share of
    |t*| ≥ |t| (the CR1 factor cancels).
    """
    if not len(rows):
        return np.zeros(0)
    QG = stats.Qe @ stats.Ginv  # G × tk
    out = []
    for start in range(0, len(rows), WILD_BLOCK):  # assignments per block: memory A × G × tk
        ny, den, (S, K, W) = stats.clusters(rows[start : start + WILD_BLOCK])
        U = S - (ny / den)[:, None] * K
        t_obs = np.abs(ny) / np.sqrt((U * U).sum(1))
        SK, S2 = (S * K).T, (S * S).T
        SW = [(S * W[:, :, k]).T for k in range(W.shape[2])]
        MW = np.einsum("agk,agl->akl", W, W)
        WK = np.einsum("agk,ag->ak", W, K)
        K2 = (K * K).sum(1)
        count = np.zeros(len(ny))
        n_total = 0
        for V, V2 in wild_weights(s.bootstrap_seed, n_draws, s.bootstrap_weights, G):
            Z = V @ QG  # B × tk
            N = V @ S.T  # B × A
            bs = N / den
            ss = V2 @ S2 - 2 * bs * (V @ SK) + np.einsum("bk,akl,bl->ba", Z, MW, Z)
            ss += 2 * bs * (Z @ WK.T) + bs * bs * K2
            for k, SWk in enumerate(SW):
                ss -= 2 * Z[:, k, None] * (V @ SWk)
            with np.errstate(divide="ignore", invalid="ignore"):
                t_star = np.abs(N) / np.sqrt(np.maximum(ss, 0.0))
            count += np.count_nonzero(t_star >= t_obs - 1e-12 * np.maximum(1.0, t_obs), axis=0)
            n_total += len(V)
        out.append(count / n_total)
    return np.concatenate(out)


def placebo_size(pvalues: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Return each method's rejection rate at ``alpha`` with its Monte Carlo SE."""
    rows = []
    for key, name in METHOD_NAMES.items():
        p = pvalues[key].dropna().to_numpy()
        rate = float(np.mean(p <= alpha)) if len(p) else np.nan
        rows.append(
            {
                "method": name,
                "n_assignments": len(p),
                "rejections": int(np.sum(p <= alpha)),
                "rate": rate,
                "mc_se": float(np.sqrt(rate * (1 - rate) / len(p))) if len(p) else np.nan,
                "alpha": alpha,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PlaceboDesign:
    """The placebo study of one outcome: its never-treated panel, pools and cohort sizes."""

    panel: Panel  # the main comparison's never-treated practices, without the Links ones
    pools: dict[str, np.ndarray]  # pool name -> unit indices of ``panel``
    sizes: dict[int, int]  # cohort -> number of placebo practices (the real design's)


def placebo_design(frame: pd.DataFrame, s: Settings, outcome: str) -> PlaceboDesign:
    """Build the placebo study of one outcome on the main comparison's never-treated practices.

    Pools: every comparison practice, and the Deep End ones (where the panel says which
    practices are Deep End and there are more of them than placebo practices).
    """
    from linkseval.analysis import comparison_frame, comparison_panel, outcome_frame

    frame, base_year = outcome_frame(frame, s, outcome)
    links = frame[frame["cohort"] > 0].drop_duplicates("practice_code")
    sizes = {int(g): int(n) for g, n in links["cohort"].value_counts().sort_index().items()}
    df = comparison_frame(frame, s.main, base_year)
    df0 = df[~df["practice_code"].isin(set(links["practice_code"])) & (df["cohort"] == 0)]
    p0 = comparison_panel(df0, s)
    pools = {POOLS[0]: np.arange(p0.n_units)}
    if "deep_end" in df0:  # the deep_end comparison rule's practices among the never-treated
        de = set(df0.loc[members(df0, DEEP_END), "practice_code"])
        pool = np.flatnonzero(np.isin(p0.unit_labels, sorted(de)))
        if len(pool) > sum(sizes.values()):
            pools[POOLS[1]] = pool
    return PlaceboDesign(panel=p0, pools=pools, sizes=sizes)


def placebo_chunk(
    frame: pd.DataFrame,
    s: Settings,
    instrument: str,
    outcome: str,
    assignments: range | None = None,
) -> pd.DataFrame:
    """Return the p-values of some (default: all) placebo assignments of one outcome, per pool.

    A scattered job's share of the study (``linkseval placebo-chunk``): ``assignments`` of
    ``s.placebo["assignments"]``, starting at a multiple of :data:`WILD_BLOCK`; every job draws
    the same assignments and RI reference (seeded), so gathering the jobs' rows
    (:func:`placebo_summary`) gives the single run's table exactly.

    Returns
    -------
    DataFrame
        ``instrument``, ``outcome``, ``pool``, ``pool_size``, ``n_placebo`` and
        :func:`placebo_pvalues`'s columns, pools in order.
    """
    design = placebo_design(frame, s, outcome)
    cfg = s.placebo
    out = []
    for name, pool in design.pools.items():
        pv = placebo_pvalues(
            design.panel,
            pool,
            design.sizes,
            s,
            n_assign=int(cfg["assignments"]),
            seed=int(cfg["seed"]),
            wild_assignments=int(cfg["wild_assignments"]),
            wild_draws=int(cfg["wild_draws"]),
            assignments=assignments,
        )
        pv.insert(0, "n_placebo", sum(design.sizes.values()))
        pv.insert(0, "pool_size", len(pool))
        pv.insert(0, "pool", name)
        pv.insert(0, "outcome", outcome)
        pv.insert(0, "instrument", instrument)
        out.append(pv)
    return pd.concat(out, ignore_index=True)


def placebo_summary(pvalues: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """Gather placebo p-values (:func:`placebo_chunk`'s rows, any order) into the size table.

    Every (instrument, outcome, pool) must hold assignments 0 … n − 1 exactly once
    (n = ``s.placebo["assignments"]``); groups keep their order of first appearance.

    Returns
    -------
    DataFrame
        One row per outcome × pool × method: ``instrument``, ``outcome``, ``comparison``,
        ``pool``, ``pool_size``, ``n_placebo`` and :func:`placebo_size`'s columns.
    """
    n = int(s.placebo["assignments"])
    keys = ["instrument", "outcome", "pool"]
    out = []
    for key, g in pvalues.groupby(keys, sort=False):
        got = np.sort(g["assignment"].to_numpy())
        if not np.array_equal(got, np.arange(n)):
            raise ValueError(f"placebo {'/'.join(key)}: assignments 0..{n - 1} not all once")
        g = g.sort_values("assignment", kind="stable")
        size = placebo_size(g, s.alpha)
        for col in ("n_placebo", "pool_size"):
            size.insert(0, col, int(g[col].iloc[0]))
        size.insert(0, "pool", key[2])
        size.insert(0, "comparison", s.main_comparison)
        size.insert(0, "outcome", key[1])
        size.insert(0, "instrument", key[0])
        out.append(size)
    return pd.concat(out, ignore_index=True)


def placebo_study(frame: pd.DataFrame, s: Settings, instrument: str, outcome: str) -> pd.DataFrame:
    """Run the placebo study of one outcome on the main comparison's never-treated practices.

    All assignments in one process (:func:`placebo_chunk` then :func:`placebo_summary`);
    settings: ``s.placebo`` (assignments, seed, WCR assignments and draws).

    Parameters
    ----------
    frame : DataFrame
        The instrument's practice-year panel (:func:`linkseval.data.score.practice_year_panel`).
    s : Settings
        The analysis settings.
    instrument, outcome : str
        The outcome to study.

    Returns
    -------
    DataFrame
        One row per pool × method: ``instrument``, ``outcome``, ``comparison``, ``pool``,
        ``pool_size``, ``n_placebo`` and :func:`placebo_size`'s columns.
    """
    return placebo_summary(placebo_chunk(frame, s, instrument, outcome), s)
