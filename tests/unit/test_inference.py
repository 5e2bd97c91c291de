"""Bootstrap and randomization inference against independent implementations."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from test_did import simulate

from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.inference import (
    CHUNK,
    adjust_pvalues,
    cr1,
    randomization_inference,
    ri_coefficients,
    ri_draws,
    wild_cluster_bootstrap,
)


def _panel(**kw):
    df = simulate(**kw)
    return df, panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")


def test_cr1_ci_uses_t_with_g_minus_1_df():
    _, p = _panel()
    fit = ols(twfe_design(p))
    r = cr1(fit, 0)
    from scipy import stats

    crit = stats.t.ppf(0.975, p.n_units - 1)
    assert r.ci_high - fit.beta[0] == pytest.approx(crit * fit.se()[0])


def test_wild_bootstrap_agrees_with_wildboottest():
    """Same algorithm, independent code (wildboottest on the unit-demeaned panel)."""
    from wildboottest.wildboottest import wildboottest

    _, p = _panel(n=120, missing=0.0, effect=0.3, seed=5)
    design = twfe_design(p)
    B = 9999
    mine = wild_cluster_bootstrap(design, 0, n_draws=B, seed=1, ci=False)
    model = sm.OLS(design.y, pd.DataFrame(design.Z, columns=design.names))
    theirs = wildboottest(
        model,
        param="treated_post",
        cluster=design.cluster,
        B=B,
        weights_type="webb",
        impose_null=True,
        bootstrap_type="11",
        seed=3,
        show=False,
    )
    p_theirs = float(theirs["p-value"].iloc[0])
    mc_se = np.sqrt(2 * p_theirs * (1 - p_theirs) / B)  # two independent MC estimates
    assert abs(mine.p_value - p_theirs) < 4 * mc_se + 1e-3


def test_wild_bootstrap_brute_force_loop():
    """The closed form equals refitting OLS on each bootstrap sample (same weights)."""
    from linkseval.inference import WEBB, chunk_seeds

    _, p = _panel(n=40, seed=9)
    d = twfe_design(p)
    B = 300
    fast = wild_cluster_bootstrap(d, 0, n_draws=B, seed=4, ci=False)
    Z, y, cl, G = d.Z, d.y, d.cluster, d.n_clusters
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    restricted = np.linalg.lstsq(Z[:, 1:], y, rcond=None)[0]
    fitted_r = Z[:, 1:] @ restricted
    u_r = y - fitted_r

    def t_stat(yy):
        b = np.linalg.lstsq(Z, yy, rcond=None)[0]
        u = yy - Z @ b
        bread = np.linalg.inv(Z.T @ Z)
        s = np.array([np.sum((Z[cl == g] @ bread[0]) * u[cl == g]) for g in range(G)])
        return b[0] / np.sqrt(d.ssc * np.sum(s**2))

    t_obs = t_stat(y)
    assert t_obs == pytest.approx(beta[0] / np.sqrt(ols(d).vcov[0, 0]))
    stats = []
    for size, rng in chunk_seeds(4, B):
        V = WEBB[rng.integers(0, 6, size=(size, G))]
        for v in V:
            stats.append(t_stat(fitted_r + v[cl] * u_r))
    p_brute = np.mean(np.abs(stats) >= abs(t_obs))
    assert fast.p_value == pytest.approx(p_brute, abs=1e-12)


def test_wild_ci_inverts_the_test():
    _, p = _panel(n=80, seed=12)
    d = twfe_design(p)
    r = wild_cluster_bootstrap(d, 0, n_draws=1999, seed=1)
    assert r.ci_low < ols(d).beta[0] < r.ci_high
    # shifting the outcome by the lower bound puts the estimate at the edge of the test
    from linkseval.inference import _wild_p, _wild_pieces

    pc = _wild_pieces(d, 0, 1, 1999, "webb")
    assert _wild_p(pc, r.ci_low - 1e-4) <= 0.05 < _wild_p(pc, r.ci_low + 1e-4)


def test_one_treated_cluster_is_not_applicable():
    _, p = _panel(cohorts=((2014, 1),))
    r = wild_cluster_bootstrap(twfe_design(p), 0, n_draws=99, n_treated_clusters=1)
    assert np.isnan(r.p_value) and r.note.startswith("not applicable")


def test_ri_coefficients_equal_brute_force_refits():
    df, p = _panel(
        years=(2012, 2013, 2014, 2015), cohorts=((2014, 4), (2015, 3)), seed=21, missing=0.2
    )
    draws, col = ri_draws(p, seed=3, n_draws=CHUNK)
    idx = draws[0][:6]
    fast = ri_coefficients(p, idx, col)
    cohorts = np.unique(p.cohort[p.cohort > 0])
    sub = df[df.unit.isin(p.unit_labels)].copy()
    for k in range(len(idx)):
        coh = np.zeros(p.n_units, dtype=int)
        coh[idx[k]] = cohorts[col]
        c = sub.unit.map(dict(zip(p.unit_labels, coh, strict=True)))
        sub["D"] = ((c > 0) & (sub.year >= c)).astype(float)
        ref = smf.ols("y ~ D + C(year) + C(unit)", sub).fit().params["D"]
        assert fast[k] == pytest.approx(ref, abs=1e-10)
    # every draw treats as many distinct units per cohort as observed
    assert np.bincount(col).tolist() == [4, 3]
    assert all(len(set(row)) == len(row) for row in draws[0])


def test_ri_p_value_agrees_with_a_brute_force_loop():
    """Independent: permute labels with Python's random, refit by dummy OLS, count."""
    import random

    df, p = _panel(n=40, effect=0.6, seed=13, missing=0.0)
    fast = randomization_inference(p, n_draws=4999, seed=5, ci=False)
    rnd = random.Random(8)
    units = list(p.unit_labels)
    obs = ols(twfe_design(p)).beta[0]
    hits, R = 0, 400
    for _ in range(R):
        treated = df.unit.isin(set(rnd.sample(units, 7)))
        d = df.assign(D=(treated & (df.year >= 2014)).astype(float))
        b = smf.ols("y ~ D + C(year) + C(unit)", d).fit().params["D"]
        hits += abs(b) >= abs(obs) - 1e-12
    p_brute = (1 + hits) / (1 + R)
    se = np.sqrt(p_brute * (1 - p_brute) / R)
    assert abs(fast.p_value - p_brute) < 4 * se + 0.01


def test_ri_ci_contains_the_estimate_and_covers_the_truth_at_about_95_percent():
    """Simulation with a known effect: 200 panels, coverage of the true 0.5 within 3.5 MC SE
    of 0.95 (homogeneous normal errors: the sharp-null inversion is exact here)."""
    covered = 0
    reps = 200
    for seed in range(reps):
        _, p = _panel(n=60, effect=0.5, seed=1000 + seed, missing=0.0)
        r = randomization_inference(p, n_draws=499, seed=seed)
        assert r.ci_low < r.statistic < r.ci_high
        covered += r.ci_low <= 0.5 <= r.ci_high
    rate = covered / reps
    assert abs(rate - 0.95) < 3.5 * np.sqrt(0.95 * 0.05 / reps), rate


def test_same_seed_same_draws_regardless_of_total():
    _, p = _panel()
    a, _ = ri_draws(p, seed=7, n_draws=2 * CHUNK)
    b, _ = ri_draws(p, seed=7, n_draws=3 * CHUNK)
    assert all((x == y).all() for x, y in zip(a, b[:2], strict=True))


@pytest.mark.parametrize("n, k", [(1000, 7), (20, 7), (8, 7)])
def test_sampled_sets_are_uniform_subsets(n, k):
    """Each unit is chosen with probability k/n (chi-square over 20,000 draws)."""
    from scipy import stats

    from linkseval.inference import sample_units

    rng = np.random.default_rng(0)
    idx = sample_units(rng, n, k, 20000)
    assert all(len(set(r)) == k for r in idx[:2000])
    counts = np.bincount(idx.ravel(), minlength=n)
    expected = 20000 * k / n
    if k < n:
        assert stats.chisquare(counts, np.full(n, expected)).pvalue > 1e-4


def test_adjusted_pvalues_against_hand_computation():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.20])
    holm = adjust_pvalues(p, "holm")
    # Holm by hand: sorted 0.01, 0.03, 0.04, 0.20 times 4, 3, 2, 1, cumulative max
    assert holm[[0, 2, 1, 4]].tolist() == pytest.approx([0.04, 0.09, 0.09, 0.20])
    assert np.isnan(holm[3])
    bh = adjust_pvalues(p, "fdr_bh")
    # BH: p_(i) * m / i, cumulative min from the top: 0.04, 0.0533, 0.0533, 0.20
    assert bh[[0, 2, 1, 4]].tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])


# --------------------------------------------------------------------------- family-wise intervals


def test_family_wise_cr1_interval_is_the_t_interval_at_alpha_over_k():
    """Bonferroni: t(G−1) quantile at 1 − α/(2k) (scipy.stats here, scipy.special in the code)."""
    from scipy import stats

    _, p = _panel()
    fit = ols(twfe_design(p))
    r = cr1(fit, 0, alpha=0.05, family_alpha=0.01)
    crit = stats.t.ppf(1 - 0.01 / 2, p.n_units - 1)
    assert r.ci_low_fw == pytest.approx(fit.beta[0] - crit * fit.se()[0], rel=1e-12)
    assert r.ci_high_fw == pytest.approx(fit.beta[0] + crit * fit.se()[0], rel=1e-12)
    assert r.ci_low_fw < r.ci_low and r.ci_high < r.ci_high_fw
    assert np.isnan(cr1(fit, 0).ci_low_fw)  # none asked, none given


def _brute_wild_p(d, y, x, seed, B):
    """WCR p-value of H0: β = 0 on outcome ``y`` by refitting OLS per draw (as the loop above)."""
    from linkseval.inference import WEBB, chunk_seeds

    Z, cl, G = d.Z, d.cluster, d.n_clusters
    bread = np.linalg.inv(Z.T @ Z)

    def t_stat(yy):
        b = bread @ (Z.T @ yy)
        u = yy - Z @ b
        s = np.bincount(cl, weights=(Z @ bread[0]) * u, minlength=G)
        return b[0] / np.sqrt(d.ssc * np.sum(s**2))

    restricted = np.linalg.lstsq(Z[:, 1:], y, rcond=None)[0]
    fitted_r = Z[:, 1:] @ restricted
    u_r = y - fitted_r
    t_obs = t_stat(y)
    stats = [
        t_stat(fitted_r + v[cl] * u_r)
        for size, rng in chunk_seeds(seed, B)
        for v in WEBB[rng.integers(0, 6, size=(size, G))]
    ]
    return np.mean(np.abs(stats) >= abs(t_obs) - 1e-12 * max(1.0, abs(t_obs)))


def test_family_wise_wild_interval_inverts_the_brute_force_test_at_alpha_over_k():
    """Each end of the 1 − α/k interval is where an independent refit-per-draw bootstrap of
    H0: β = b0 (i.e. β = 0 on y − b0·D), with the same draws, crosses α/k."""
    _, p = _panel(n=40, seed=9)
    d = twfe_design(p)
    B, fa = 999, 0.05 / 5
    r = wild_cluster_bootstrap(d, 0, n_draws=B, seed=4, family_alpha=fa)
    assert r.ci_low_fw < r.ci_low < r.ci_high < r.ci_high_fw
    x = d.Z[:, 0]
    eps = 1e-4 * (r.ci_high_fw - r.ci_low_fw)
    for end, outward in ((r.ci_low_fw, -1.0), (r.ci_high_fw, 1.0)):
        inside = _brute_wild_p(d, d.y - (end - outward * eps) * x, x, 4, B)
        outside = _brute_wild_p(d, d.y - (end + outward * eps) * x, x, 4, B)
        assert outside <= fa < inside, (end, outside, inside)


def test_family_wise_ri_interval_inverts_the_brute_force_test_at_alpha_over_k():
    """Each end of RI's 1 − α/k interval is where the sharp null β = b0, tested by refitting
    dummy-variable OLS on y − b0·D for each of the same reassignments, crosses α/k."""
    df, p = _panel(n=40, effect=0.6, seed=13, missing=0.0)
    R, fa = 999, 0.05 / 5
    r = randomization_inference(p, n_draws=R, seed=5, alpha=0.05, family_alpha=fa)
    assert r.ci_low_fw < r.ci_low < r.ci_high < r.ci_high_fw
    draws, col = ri_draws(p, seed=5, n_draws=R)
    idx = np.concatenate(draws)
    cohorts = np.unique(p.cohort[p.cohort > 0])
    # dummy-variable design: unit and year dummies (first year dropped)
    units = pd.get_dummies(df["unit"]).to_numpy(float)
    years = pd.get_dummies(df["year"], drop_first=True).to_numpy(float)
    unit_pos = df["unit"].map({u: i for i, u in enumerate(p.unit_labels)}).to_numpy()
    d_obs = ((df["cohort"] > 0) & (df["year"] >= df["cohort"])).to_numpy(float)

    def coef(y, dcol):
        X = np.column_stack([dcol, units, years])
        return np.linalg.lstsq(X, y, rcond=None)[0][0]

    def brute_p(b0):
        y0 = df["y"].to_numpy() - b0 * d_obs
        obs = abs(coef(df["y"].to_numpy(), d_obs) - b0)
        hits = 0
        for row in idx:
            coh = np.zeros(p.n_units, dtype=int)
            coh[row] = cohorts[col]
            c = coh[unit_pos]
            stat = abs(coef(y0, ((c > 0) & (df["year"].to_numpy() >= c)).astype(float)))
            hits += stat >= obs - 1e-12 * max(1.0, obs)
        return (1 + hits) / (1 + len(idx))

    eps = 1e-4 * (r.ci_high_fw - r.ci_low_fw)
    for end, outward in ((r.ci_low_fw, -1.0), (r.ci_high_fw, 1.0)):
        assert brute_p(end + outward * eps) <= fa < brute_p(end - outward * eps), end


@pytest.mark.parametrize("weights", [None, "n"])
def test_ri_event_coefficients_equal_brute_force_refits(weights):
    """Closed-form event-study coefficients per reassignment = a dummy-variable WLS refit
    (staggered cohorts, unbalanced, weighted): the observed assignment gives the OLS fit."""
    from linkseval.did import event_study_design
    from linkseval.inference import ri_event_coefficients

    years = (2010, 2011, 2012, 2013, 2014, 2015)
    df = simulate(n=50, years=years, cohorts=((2013, 4), (2014, 3)), seed=23, missing=0.15)
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", weights=weights
    )
    design, es = event_study_design(p)
    draws, col = ri_draws(p, seed=4, n_draws=CHUNK)
    obs = ri_event_coefficients(p, es, p.treated_units[None, :], col)[0]
    assert obs == pytest.approx(ols(design).beta[: len(es)], abs=1e-10)
    cohorts = np.unique(p.cohort[p.cohort > 0])
    sub = df[df.unit.isin(p.unit_labels)].copy()
    w = sub[weights] if weights else np.ones(len(sub))
    idx = draws[0][:4]
    fast = ri_event_coefficients(p, es, idx, col)
    for k in range(len(idx)):
        coh = np.zeros(p.n_units, dtype=int)
        coh[idx[k]] = cohorts[col]
        c = sub.unit.map(dict(zip(p.unit_labels, coh, strict=True)))
        terms = []
        for e in es:
            name = f"e{e + 10}"
            sub[name] = ((c > 0) & (sub.year - c == e)).astype(float)
            terms.append(name)
        ref = smf.wls(f"y ~ {' + '.join(terms)} + C(year) + C(unit)", sub, weights=w).fit()
        assert fast[k] == pytest.approx(ref.params[terms].to_numpy(), abs=1e-9)


def test_ri_event_study_p_values_agree_with_a_brute_force_loop():
    """Independent: Python's random picks the treated units, statsmodels refits the event
    study; per-coefficient and joint pre-trend p-values within Monte Carlo error."""
    import random

    from linkseval.did import event_study_design
    from linkseval.inference import ri_event_study

    years = (2011, 2012, 2013, 2014, 2015)
    df = simulate(n=40, years=years, effect=2.5, seed=31, missing=0.0)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    design, es = event_study_design(p)
    per, joint = ri_event_study(p, es, n_draws=4999, seed=6)
    rnd = random.Random(9)
    units = list(p.unit_labels)
    names = [f"e{e + 10}" for e in es]
    pre = [j for j, e in enumerate(es) if e < -1]

    def fit(treated: set) -> np.ndarray:
        d = df.assign(c=np.where(df.unit.isin(treated), 2014, 0))
        for e, name in zip(es, names, strict=True):
            d[name] = ((d.c > 0) & (d.year - d.c == e)).astype(float)
        r = smf.ols(f"y ~ {' + '.join(names)} + C(year) + C(unit)", d).fit()
        return r.params[names].to_numpy()

    obs = fit(set(df.unit[df.cohort > 0]))
    R = 300
    B = np.array([fit(set(rnd.sample(units, 7))) for _ in range(R)])
    for j in range(len(es)):
        p_brute = (1 + np.sum(np.abs(B[:, j]) >= abs(obs[j]) - 1e-12)) / (1 + R)
        se = np.sqrt(p_brute * (1 - p_brute) / R)
        assert abs(per[j].p_value - p_brute) < 4 * se + 0.01, (es[j], per[j].p_value, p_brute)
        assert per[j].statistic == pytest.approx(obs[j], abs=1e-9)
    Sinv = np.linalg.inv(np.cov(B[:, pre], rowvar=False))
    w_draws = np.einsum("ij,jk,ik->i", B[:, pre], Sinv, B[:, pre])
    w_obs = obs[pre] @ Sinv @ obs[pre]
    p_brute = (1 + np.sum(w_draws >= w_obs)) / (1 + R)
    se = np.sqrt(p_brute * (1 - p_brute) / R)
    assert abs(joint.p_value - p_brute) < 4 * se + 0.02, (joint.p_value, p_brute)
    # a real effect after the start shows in the post coefficients, not before
    post = [j for j, e in enumerate(es) if e >= 0]
    assert max(per[j].p_value for j in post) < 0.05


def test_ri_event_study_pretrend_test_has_its_size_under_no_effect():
    """Simulation with no effect anywhere: the randomization Wald pre-trend test rejects at
    5% in about 5% of 300 panels (within 3.5 MC SE)."""
    from linkseval.did import event_study_design
    from linkseval.inference import ri_event_study

    reps, rej = 300, 0
    for seed in range(reps):
        df = simulate(n=60, years=(2011, 2012, 2013, 2014, 2015), effect=0.0, seed=500 + seed)
        p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
        _, es = event_study_design(p)
        _, joint = ri_event_study(p, es, n_draws=199, seed=seed)
        rej += joint.p_value <= 0.05
    rate = rej / reps
    assert abs(rate - 0.05) < 3.5 * np.sqrt(0.05 * 0.95 / reps), rate


def test_a_wild_p_value_of_zero_says_it_is_below_one_over_b():
    _, p = _panel(effect=25.0, seed=4)
    r = wild_cluster_bootstrap(twfe_design(p), 0, n_draws=99, seed=1)
    assert r.p_value == 0.0 and "p < 1/99" in r.note
    r = wild_cluster_bootstrap(twfe_design(_panel(effect=0.0, seed=4)[1]), 0, n_draws=99, seed=1)
    assert r.p_value > 0 and "p < 1/" not in r.note


def _board_panel(seed=0, n_boards=20, per=3, treated=(0, 1, 2), cohort_of=None, effect=1.0):
    """Units nested in boards; the programme assigned by board (all units of a board alike)."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(n_boards):
        shock = rng.normal()
        g = (cohort_of or (lambda b: 2014 if b in treated else 0))(b)
        for k in range(per):
            a = rng.normal()
            for t in (2012, 2013, 2014, 2015):
                d = float(g > 0 and t >= g)
                y = a + shock * (t - 2012) * 0.3 + effect * d + rng.normal()
                rows.append((f"u{b:02d}{k}", t, g, y, f"b{b:02d}"))
    df = pd.DataFrame(rows, columns=["unit", "year", "cohort", "y", "board"])
    kw = dict(unit="unit", time="year", cohort="cohort", outcome="y", cluster="board")
    return df, panel_from_frame(df, **kw)


def test_ri_reassigns_whole_clusters_when_the_programme_was_assigned_by_cluster():
    """Boards of 3 units, 3 treated boards: RI draws 3 of 20 boards. Closed-form coefficients
    equal refits with all units of the drawn boards treated, and the p-value agrees with a
    brute-force board permutation loop."""
    import random

    from linkseval.inference import ri_units

    df, p = _board_panel(seed=1)
    u = ri_units(p)
    assert (u.kind, u.n, len(u.treated)) == ("clusters", 20, 3)
    draws, col = ri_draws(p, seed=3, n_draws=CHUNK)
    boards = np.unique(df.board)  # cluster codes follow the sorted labels
    for row, b in zip(draws[0][:3], ri_coefficients(p, draws[0][:3], col), strict=True):
        d = df.assign(D=(df.board.isin(boards[row]) & (df.year >= 2014)).astype(float))
        assert b == pytest.approx(smf.ols("y ~ D + C(year) + C(unit)", d).fit().params["D"])
    fast = randomization_inference(p, n_draws=4999, seed=5, ci=False)
    assert "3 of 20 clusters" in fast.note
    rnd = random.Random(2)
    obs = ols(twfe_design(p)).beta[0]
    R, hits = 300, 0
    for _ in range(R):
        d = df.assign(D=(df.board.isin(rnd.sample(list(boards), 3)) & (df.year >= 2014)) * 1.0)
        b = smf.ols("y ~ D + C(year) + C(unit)", d).fit().params["D"]
        hits += abs(b) >= abs(obs) - 1e-12
    p_brute = (1 + hits) / (1 + R)
    se = np.sqrt(p_brute * (1 - p_brute) / R)
    assert abs(fast.p_value - p_brute) < 4 * se + 0.01, (fast.p_value, p_brute)


def test_ri_falls_back_to_units_when_the_start_varies_within_a_cluster():
    from linkseval.inference import ri_units

    _, p = _board_panel(seed=2)
    p.cohort[0] = 0  # one unit of a treated board untreated
    u = ri_units(p)
    assert u.kind == "units" and u.n == p.n_units and "varies within a cluster" in u.describe()
    r = randomization_inference(p, n_draws=199, seed=1, ci=False)
    assert "of 60 units" in r.note and "varies within a cluster" in r.note


def test_cs_randomization_reassigns_clusters_like_a_brute_force_loop():
    """Staggered boards (2014 and 2015): CS RI draws boards; p agrees with a loop that
    reassigns board cohorts and reruns callaway_santanna (cohort-size weights held fixed)."""
    import random

    from linkseval.staggered import callaway_santanna, cs_randomization

    coh = {0: 2014, 1: 2014, 2: 2015}
    df, p = _board_panel(seed=4, cohort_of=lambda b: coh.get(b, 0), effect=0.8)
    fast = cs_randomization(p, n_draws=2999, seed=2)["simple"]
    assert "cohorts reassigned to 3 of 20 clusters" in fast.note
    boards = sorted(df.board.unique())
    obs = callaway_santanna(p).set_index("term").loc["simple", "estimate"]
    rnd = random.Random(5)
    R, hits = 250, 0
    for _ in range(R):
        pick = rnd.sample(boards, 3)
        bc = dict.fromkeys(boards, 0) | {pick[0]: 2014, pick[1]: 2014, pick[2]: 2015}
        q = panel_from_frame(
            df.assign(cohort=df.board.map(bc)),
            unit="unit",
            time="year",
            cohort="cohort",
            outcome="y",
            cluster="board",
        )
        hits += abs(callaway_santanna(q).set_index("term").loc["simple", "estimate"]) >= abs(obs)
    p_brute = (1 + hits) / (1 + R)
    se = np.sqrt(p_brute * (1 - p_brute) / R)
    assert abs(fast.p_value - p_brute) < 4 * se + 0.01, (fast.p_value, p_brute)


def _reference_wild_pieces(design, j, seed, n_draws):
    """The per-coefficient WCR pieces as first written (lstsq restricted fit, a fresh draw of
    the Webb weights per call): the reference for the vectorised, many-term code."""
    from linkseval.did import cluster_sums
    from linkseval.inference import WEBB, chunk_seeds

    Z, y, G, cl = design.Z, design.y, design.n_clusters, design.cluster
    bread = np.linalg.inv(Z.T @ Z)
    c = Z @ bread[j]
    others = [k for k in range(design.k) if k != j]
    proj = np.linalg.lstsq(Z[:, others], np.column_stack([y, Z[:, j]]), rcond=None)[0]
    u0, m = y - Z[:, others] @ proj[:, 0], Z[:, j] - Z[:, others] @ proj[:, 1]
    s0, sm = cluster_sums(c * u0, cl, G), cluster_sums(c * m, cl, G)
    Q = cluster_sums(Z * c[:, None], cl, G)
    R0 = cluster_sums(Z * u0[:, None], cl, G) @ bread
    Rm = cluster_sums(Z * m[:, None], cl, G) @ bread
    out = {k: [] for k in ("n0", "nm", "s00", "s0m", "smm")}
    for size, rng in chunk_seeds(seed, n_draws):
        V = WEBB[rng.integers(0, 6, size=(size, G))]
        a0 = V * s0 - (V @ R0) @ Q.T  # per draw and cluster: c_g'û*_g at b0 = 0 ...
        am = V * sm - (V @ Rm) @ Q.T  # ... and its slope in b0
        out["n0"].append(V @ s0)
        out["nm"].append(V @ sm)
        out["s00"].append(np.sum(a0 * a0, 1))
        out["s0m"].append(np.sum(a0 * am, 1))
        out["smm"].append(np.sum(am * am, 1))
    return {k: np.concatenate(v) for k, v in out.items()}, float(c @ y)


@pytest.mark.parametrize("kind", ["twfe", "event_study"])
def test_many_term_wild_pieces_equal_the_one_coefficient_loop(kind):
    """The vectorised WCR (one set of draws for all terms, cluster-level sums, blocks of clusters
    by sparse regressors, cached draws) gives the per-draw sums of refitting each coefficient on
    its own, to 1e-10; the event study exercises the blocked GEMM (never-treated clusters have
    no event-time columns)."""
    from linkseval.did import event_study_design
    from linkseval.inference import _blocks, _cluster_grams, _wild_pieces_many

    df = simulate(n=50, years=tuple(range(2011, 2018)), cohorts=((2014, 4), (2016, 3)), seed=8)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y", weights="n")
    design, es = (twfe_design(p), [0]) if kind == "twfe" else event_study_design(p)
    terms = len(es)
    many = _wild_pieces_many(design, np.eye(design.k)[:terms], 5, 2500, "webb")
    if kind == "event_study":
        from linkseval.inference import _term_cols

        bread = np.linalg.inv(design.Z.T @ design.Z)
        H = _cluster_grams(design.Z, design.cluster, design.n_clusters)
        assert np.allclose(H.sum(0), design.Z.T @ design.Z)
        b = bread @ (design.Z.T @ design.y)
        S = np.zeros((design.n_clusters, design.k))
        np.add.at(S, design.cluster, design.Z * (design.y - design.Z @ b)[:, None])
        tc = [_term_cols(w, bread, b, S, H) for w in np.eye(design.k)[:terms]]
        assert len(_blocks(H, S @ bread, tc)) > 1
    for j in range(terms):
        ref, beta = _reference_wild_pieces(design, j, 5, 2500)
        assert many[j].beta == pytest.approx(beta, abs=1e-12)
        for name, want in ref.items():
            got = getattr(many[j], name)
            scale = np.abs(want).max()
            assert np.abs(got - want).max() <= 1e-10 * scale, (j, name)


@pytest.mark.parametrize("cache_bytes", [2**30, 1000])
def test_cached_wild_weights_are_fresh_draws_for_fewer_clusters(monkeypatch, cache_bytes):
    """Cached (a view of the draws for more clusters) or not (too big: chunk by chunk)."""
    from linkseval.inference import WEBB, chunk_seeds, wild_weights
    from linkseval.inference import wild as inference

    monkeypatch.setattr(inference, "DRAW_CACHE_BYTES", cache_bytes)
    list(wild_weights(11, 2100, "webb", 40))  # cache at 40 clusters
    for G in (40, 33):
        got = list(wild_weights(11, 2100, "webb", G))
        for (V, V2), (size, rng) in zip(got, chunk_seeds(11, 2100), strict=True):
            fresh = WEBB[rng.integers(0, 6, size=(size, G))]
            assert np.array_equal(V, fresh) and np.array_equal(V2, fresh * fresh)


def test_a_block_product_gathered_a_few_draws_at_a_time_is_the_same():
    from linkseval.inference import _Block, _block_product

    rng = np.random.default_rng(2)
    V, M1 = rng.standard_normal((37, 20)), rng.standard_normal((6, 5))
    b = _Block(rows=np.array([1, 4, 5, 9, 13, 19]), M1=M1, terms=np.zeros(0), pos=np.zeros(0))
    want = M1.T @ V[:, b.rows].T
    assert np.allclose(_block_product(b, V, max_bytes=8 * 6 * 4), want, rtol=0, atol=1e-13)
    assert np.array_equal(_block_product(b, V), want)


@pytest.mark.parametrize("assign_by_cluster", [False, True])
def test_ri_t_equals_a_brute_force_cr1_refit_per_reassignment(assign_by_cluster):
    """RI-t (MacKinnon & Webb 2020): every reassigned t, at τ = 0 and under a shifted null, is the
    CR1 t of a TWFE refit on the reassigned panel; p-value and CI ends agree with a plain loop."""
    from dataclasses import replace

    from test_did import simulate

    from linkseval.did import ols, panel_from_frame, twfe_design
    from linkseval.inference import cr1, ri_sample, ri_units
    from linkseval.inference.randomization import _ri_assignment, ri_t_test, twfe_ri_t_statistics

    df = simulate(n=48, seed=4)
    if assign_by_cluster:  # one start per board: whole boards are reassigned
        df["cohort"] = np.where(df.board.isin(["b0", "b3"]), 2014, 0)
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", weights="n", cluster="board"
    )
    R = 99
    st = twfe_ri_t_statistics(p, seed=3, n_draws=R)
    u = ri_units(p)
    assert u.kind == ("clusters" if assign_by_cluster else "units")
    col = _ri_assignment(p, u)
    idx = ri_sample(3, R, 0, u.n, len(col))
    cohorts = np.unique(u.cohort[u.cohort > 0])
    D = p.treatment()

    def t_of(cohort, tau):
        q = replace(p, cohort=cohort, y=p.y - tau * D)
        return cr1(ols(twfe_design(q)), 0).statistic

    def brute_p(tau):
        obs = abs(t_of(p.cohort, tau))
        ts = []
        for r in range(R):
            drawn = np.zeros(u.n, dtype=p.cohort.dtype)
            drawn[idx[r]] = cohorts[col]
            ts.append(abs(t_of(drawn if u.group is None else drawn[u.group], tau)))
        return (1 + np.sum(np.array(ts) >= obs - 1e-12 * max(1.0, obs))) / (1 + R)

    for tau in (0.0, 0.8):
        for r in range(3):
            drawn = np.zeros(u.n, dtype=p.cohort.dtype)
            drawn[idx[r]] = cohorts[col]
            want = t_of(drawn if u.group is None else drawn[u.group], tau)
            q0, q1, q2 = (x[r] for x in st.q)
            got = (st.a[r] - tau * st.b[r]) / np.sqrt(q0 - 2 * tau * q1 + tau**2 * q2)
            assert got == pytest.approx(want, rel=1e-9)
    res = ri_t_test(st)
    assert res.statistic == pytest.approx(t_of(p.cohort, 0.0), rel=1e-12)
    assert res.p_value == pytest.approx(brute_p(0.0), abs=1e-12)
    width = res.ci_high - res.ci_low
    for end, inside in ((res.ci_low, 1), (res.ci_high, -1)):
        assert brute_p(end + inside * 1e-3 * width) > 0.05
        assert brute_p(end - inside * 1e-3 * width) <= 0.05
