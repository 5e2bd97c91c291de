import numpy as np
import pandas as pd
import pytest
from scipy import stats

from linkseval.honest import honest_sensitivity


def test_original_ci_is_the_closed_form_and_bounds_widen():
    et = [-4, -3, -2, 0, 1, 2]
    b = np.array([0.1, -0.2, 0.05, 1.0, 1.2, 1.1])
    S = np.diag([0.3, 0.3, 0.3, 0.4, 0.4, 0.5]) ** 2
    res = honest_sensitivity(
        b, S, et, smoothness_m=[0.0, 0.5, 1.0], relative_mbar=[0.5, 1.0, 2.0], grid_points=30
    )
    orig = res[res.restriction == "original"].iloc[0]
    w = np.ones(3) / 3
    se = np.sqrt(w @ S[3:, 3:] @ w)
    z = stats.norm.ppf(0.975)
    assert orig.ci_low == pytest.approx(w @ b[3:] - z * se)
    assert orig.ci_high == pytest.approx(w @ b[3:] + z * se)
    for kind in ("smoothness", "relative_magnitude"):
        r = res[res.restriction == kind].sort_values("bound")
        width = (r.ci_high - r.ci_low).to_numpy()
        assert len(r) == 3 and np.all(np.diff(width) > 0), kind


def test_event_time_order_does_not_matter():
    et = [0, -2, 1, -3]
    b = np.array([1.0, 0.1, 1.2, -0.1])
    S = np.diag([0.4, 0.3, 0.4, 0.3]) ** 2
    a = honest_sensitivity(b, S, et, smoothness_m=[0.5], relative_mbar=[], grid_points=20)
    o = np.array([1, 3, 0, 2])  # sorted event times: -3, -2, 0, 1
    c = honest_sensitivity(
        b[o],
        S[np.ix_(o, o)],
        [et[i] for i in o],
        smoothness_m=[0.5],
        relative_mbar=[],
        grid_points=20,
    )
    assert np.allclose(a[["ci_low", "ci_high"]], c[["ci_low", "ci_high"]])


# --- the fast bounds against moderndid's own (default) call on the same inputs ---------------
#
# Reference: exactly the call linkseval made before (moderndid's port of R HonestDiD):
# create_sensitivity_results_sm (FLCI) and create_sensitivity_results_rm (C-LF, grid_points=100).
# Tolerances. Relative magnitudes: both report points of moderndid's 100-point θ grid (identified
# set ± 20 se), so the bounds must be the same grid point: |Δ| < half a grid step. FLCI: both run
# the same golden-section search over h to moderndid's tolerance (1e-6 · h_max); moderndid solves
# each inner SOCP with Clarabel (accuracy ~1e-8), we solve it in closed form, so the ends agree
# to ~1e-6 of the CI's half-length; we allow 1e-4 of it.

M_VEC = [0.0, 0.5, 1.0]


def random_event_study(n_pre: int, n_post: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """β (pre near 0, post near 1) and a positive definite Σ with correlated coefficients."""
    rng = np.random.default_rng([seed, n_pre, n_post])
    k = n_pre + n_post
    L = rng.normal(size=(k, k)) * 0.1
    S = L @ L.T + np.eye(k) * 0.02
    b = np.concatenate([rng.normal(0, 0.1, n_pre), 1 + rng.normal(0, 0.1, n_post)])
    return b, S


def links_event_study() -> tuple[np.ndarray, np.ndarray, list[int]]:
    """A realistic input: the TWFE event study with CR1 vcov of a Links-like panel (200
    practices, 7 treated from 2014, 2010-2016: event times -4..-2 and 0..2)."""
    from test_did import simulate

    from linkseval.did import event_study_design, ols, panel_from_frame

    df = simulate(n=200, years=tuple(range(2010, 2017)), effect=1.5, seed=5)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y", weights="n")
    design, es = event_study_design(p)
    fit = ols(design)
    k = len(es)
    return fit.beta[:k], fit.vcov[:k, :k], es


def moderndid_bounds(b, S, n_pre, m_vec, mbar_vec, grid_points=100):
    """moderndid's default call (as linkseval made it): {(restriction, bound): (lb, ub)}."""
    import warnings

    from moderndid.didhonest import create_sensitivity_results_rm, create_sensitivity_results_sm

    n_post = len(b) - n_pre
    l_vec = np.ones(n_post) / n_post
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if m_vec:
            sm = create_sensitivity_results_sm(
                b, S, n_pre, n_post, m_vec=m_vec, l_vec=l_vec, grid_points=grid_points
            )
            for r in sm.iter_rows(named=True):
                out[("smoothness", r["m"])] = (r["lb"], r["ub"])
        if mbar_vec:
            rm = create_sensitivity_results_rm(
                b, S, n_pre, n_post, m_bar_vec=mbar_vec, l_vec=l_vec, grid_points=grid_points
            )
            for r in rm.iter_rows(named=True):
                out[("relative_magnitude", r["Mbar"])] = (r["lb"], r["ub"])
    return out


def rm_grid_step(b, S, n_pre, mbar, grid_points=100):
    from linkseval.honest import rm_grid

    n_post = len(b) - n_pre
    g = rm_grid(b, S, n_pre, np.ones(n_post) / n_post, mbar, grid_points)
    return g[1] - g[0]


def assert_matches_moderndid(b, S, et, m_vec, mbar_vec):
    n_pre = int((np.asarray(et) < 0).sum())
    ours = honest_sensitivity(b, S, et, smoothness_m=m_vec, relative_mbar=mbar_vec)
    ref = moderndid_bounds(b, S, n_pre, m_vec, mbar_vec)
    got = {(r.restriction, r.bound): (r.ci_low, r.ci_high) for r in ours.itertuples()}
    assert set(ref) <= set(got)
    for key, (lb, ub) in ref.items():
        kind, bound = key
        if kind == "smoothness":
            tol = 1e-4 * (ub - lb) / 2
        else:
            tol = rm_grid_step(b, S, n_pre, bound) / 2
        assert abs(got[key][0] - lb) < tol and abs(got[key][1] - ub) < tol, (key, got[key], lb, ub)
    return ours


@pytest.mark.slow
@pytest.mark.parametrize(
    "n_pre, n_post, mbar",
    [(2, 2, [0.5, 2.0]), (4, 2, [1.0]), (2, 6, [2.0]), (4, 6, [1.0])],
)
def test_bounds_equal_moderndid_on_random_event_studies(n_pre, n_post, mbar):
    b, S = random_event_study(n_pre, n_post, seed=7)
    et = list(range(-n_pre - 1, -1)) + list(range(n_post))
    assert_matches_moderndid(b, S, et, M_VEC, mbar)


@pytest.mark.slow
def test_bounds_equal_moderndid_on_a_links_like_event_study():
    b, S, et = links_event_study()
    assert sum(e < 0 for e in et) == 3 and sum(e >= 0 for e in et) == 3
    assert_matches_moderndid(b, S, et, M_VEC, [0.5])


def test_one_pre_coefficient_smoothness_only():
    """With one pre coefficient moderndid cannot compute relative magnitudes (it raises; the
    previous code crashed): those rows are left out. Its FLCI call can hang here (Clarabel's
    h_min exceeds h_max by ~1e-15, so its golden-section tolerance is negative and the loop never
    ends), so the FLCI is checked against moderndid's pieces at the only feasible sd, h_max."""
    from moderndid.didhonest import create_sensitivity_results_rm
    from moderndid.didhonest.fixed_length_ci import (
        folded_normal_quantile,
        get_min_bias_h,
        maximize_bias,
    )

    b, S = random_event_study(1, 2, seed=7)
    lv = np.ones(2) / 2
    res = honest_sensitivity(b, S, [-2, 0, 1], smoothness_m=M_VEC, relative_mbar=[0.5, 1.0])
    assert set(res.restriction) == {"original", "smoothness"}
    h = get_min_bias_h(S, 1, 2, lv)
    for m in M_VEC:
        mb = maximize_bias(h, S, 1, 2, lv, smoothness_bound=m)
        est = mb["optimal_l"] @ b[:1] + lv @ b[1:]
        half = folded_normal_quantile(0.95, mu=mb["value"] / h) * h
        r = res[(res.restriction == "smoothness") & (res.bound == m)].iloc[0]
        assert r.ci_low == pytest.approx(est - half, rel=1e-6)
        assert r.ci_high == pytest.approx(est + half, rel=1e-6)
    with pytest.raises(ValueError, match="2 pre-periods"):
        create_sensitivity_results_rm(b, S, 1, 2, m_bar_vec=[1.0], l_vec=lv)


def test_closed_form_worst_case_bias_equals_moderndid_socp():
    """The inner step of the FLCI: our closed-form bias at sd h equals moderndid's cvxpy SOCP
    (``maximize_bias``) along the whole trade-off, and its variance is h² where it binds."""
    from moderndid.didhonest.fixed_length_ci import maximize_bias

    from linkseval.honest import flci_min_bias, flci_problem

    b, S = random_event_study(4, 6, seed=7)
    lv = np.ones(6) / 6
    P = flci_problem(S, 4, lv)
    for h in np.linspace(P.h_min, P.h_max, 7)[1:-1]:
        ours, x = flci_min_bias(P, h)
        ref = maximize_bias(h, S, 4, 6, lv, smoothness_bound=1.0)
        assert ours == pytest.approx(ref["value"], rel=1e-6, abs=1e-8)
        l_pre = P.G @ x + P.g0
        var = l_pre @ S[:4, :4] @ l_pre + 2 * l_pre @ S[:4, 4:] @ lv + lv @ S[4:, 4:] @ lv
        assert var == pytest.approx(h * h, rel=1e-8)


def test_vertex_least_favourable_cv_equals_moderndid_lps():
    """The least-favourable critical value from the dual vertices equals moderndid's (1,000
    LPs on the same draws) for every (period, sign) piece of a 4-pre / 6-post event study."""
    from moderndid.didhonest.arp_nuisance import _construct_gamma, compute_least_favorable_cv

    from linkseval.honest import arp_piece, rm_constraints, rm_pieces

    b, S = random_event_study(4, 6, seed=7)
    lv = np.ones(6) / 6
    for s, pos in rm_pieces(4)[:2]:
        A = rm_constraints(4, 6, 1.0, s, pos)
        P = arp_piece(b, S, A, 4, lv, 0.005)
        x = A[:, 4:10] @ np.linalg.inv(_construct_gamma(lv))
        rows = np.flatnonzero(np.any(A[:, 4:10] != 0, axis=1))
        ref = compute_least_favorable_cv(x[:, 1:], A @ S @ A.T, 0.005, rows_for_arp=rows)
        assert P.lf_cv == pytest.approx(ref, rel=1e-6), (s, pos)


def test_deterministic_bytes():
    b, S = random_event_study(4, 6, seed=8)
    et = list(range(-5, -1)) + list(range(6))
    kw = dict(smoothness_m=M_VEC, relative_mbar=[0.5, 1.0, 2.0])
    a = honest_sensitivity(b, S, et, **kw)
    c = honest_sensitivity(b.copy(), S.copy(), et, **kw)
    assert pd.util.hash_pandas_object(a).to_numpy().tobytes() == (
        pd.util.hash_pandas_object(c).to_numpy().tobytes()
    )


def test_infer_honest_says_why_relative_magnitudes_are_missing():
    from linkseval.estimators.event_study import infer_honest
    from linkseval.study import Settings

    b, S = random_event_study(1, 2, seed=7)
    s = Settings(honest={"smoothness_m": [0.5], "relative_mbar": [0.5, 1.0]})
    base = {"instrument": "", "outcome": "y", "comparison": "main"}
    rows = pd.DataFrame(infer_honest(b, S, [-2, 0, 1], s, base, "event study"))
    assert set(rows.estimator) == {"honestdid"} and set(rows.term) == {"mean_post"}
    rm = rows[rows.variant == "relative_magnitude"]
    assert list(rm.bound) == [0.5, 1.0]
    assert rm.ci_low.isna().all() and rm.note.str.startswith("not applicable").all()
    sm = rows[(rows.variant == "smoothness") & (rows.bound == 0.5)]
    assert len(sm) == 1 and sm.ci_low.notna().all()
    assert rows.loc[rows.variant == "original", "bound"].isna().all()


def test_one_post_coefficient_smoothness_only():
    """moderndid 0.2's C-LF call fails with one post coefficient (IndexError in its
    no-nuisance branch): relative magnitudes are left out; the FLCI still equals moderndid's."""
    from moderndid.didhonest import create_sensitivity_results_rm

    b, S = random_event_study(2, 1, seed=7)
    res = assert_matches_moderndid(b, S, [-3, -2, 0], M_VEC, [])
    res = honest_sensitivity(b, S, [-3, -2, 0], smoothness_m=M_VEC, relative_mbar=[1.0])
    assert set(res.restriction) == {"original", "smoothness"}
    with pytest.raises(IndexError):
        create_sensitivity_results_rm(b, S, 2, 1, m_bar_vec=[1.0], l_vec=np.ones(1))
