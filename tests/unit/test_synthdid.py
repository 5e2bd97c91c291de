"""Synthetic DiD, SC and DID (linkseval.estimators.synthdid) against independent computations:
R synthdid's published Prop 99 numbers, a line-by-line transcription of R's Frank-Wolfe solver,
the closed-form block DiD and TWFE, an exact convex combination, a brute-force leave-one-out
loop for the jackknife, the exact placebo distribution for R's published placebo SEs, and the
diff-diff package (a Python SDID following R) where it is installed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.errors import ConfigError
from linkseval.estimators import ESTIMATORS, infer
from linkseval.estimators.synthdid import (
    block_matrix,
    collapsed_form,
    frank_wolfe,
    jackknife_estimates,
    jackknife_se,
    placebo_draws,
    placebo_estimates,
    placebo_se,
    sparsify,
    sum_normalize,
    synthdid_estimate,
    synthdid_panel,
)
from linkseval.study import Settings

PROP99 = Path(__file__).parents[1] / "data" / "california_prop99.csv"
PROP99_SHA256 = "550d24c2f743507d097692d181bdbbf36c6168a39a0b6fc831cc89d98082f7de"
# R synthdid 0.0.9 on california_prop99 (its vignettes; Arkhangelsky et al. 2021, Table 1:
# -15.6, -19.6, -27.3), as R prints them
R_ESTIMATES = {"sdid": -15.60383, "sc": -19.61966, "did": -27.34911}
# R's placebo SEs with set.seed(12345), 200 replications: Table 1 of the paper (vignette
# paper-results.Rmd, rounded to 0.1); the introduction vignette's "95% CI (-32.01, 0.80)" is
# -15.60383 +- 1.96 * 8.37
R_PLACEBO_SE = {"sdid": 8.4, "sc": 9.9, "did": 17.7}
BASE = {"instrument": "", "outcome": "y", "comparison": "never_treated"}


def prop99_panel():
    df = pd.read_csv(PROP99, sep=";")
    df["cohort"] = np.where(df["State"] == "California", 1989, 0)
    return panel_from_frame(
        df, unit="State", time="Year", cohort="cohort", outcome="PacksPerCapita"
    )


@pytest.fixture(scope="module")
def prop99():
    return block_matrix(prop99_panel())


@pytest.fixture(scope="module")
def prop99_fits(prop99):
    return {k: synthdid_estimate(prop99.Y, prop99.n0, prop99.t0, k) for k in R_ESTIMATES}


def block_frame(n0=30, n1=4, t0=6, t1=3, effect=2.0, seed=0, start=2010):
    """A balanced block design with unit and period effects and a rank-2 factor term."""
    rng = np.random.default_rng(seed)
    n, t = n0 + n1, t0 + t1
    y = (
        rng.normal(60, 5, (n, 1))
        + np.cumsum(rng.normal(0, 1, t))[None]
        + rng.normal(size=(n, 2)) @ rng.normal(size=(2, t))
        + rng.normal(0, 1, (n, t))
    )
    y[n0:, t0:] += effect
    units = [f"u{i:03d}" for i in range(n)]
    return pd.DataFrame(
        {
            "unit": np.repeat(units, t),
            "year": np.tile(np.arange(start, start + t), n),
            "cohort": np.repeat([0] * n0 + [start + t0] * n1, t),
            "y": y.ravel(),
        }
    )


def block_panel(**kw):
    return panel_from_frame(
        block_frame(**kw), unit="unit", time="year", cohort="cohort", outcome="y"
    )


# --------------------------------------------------------------------------- R's solver, verbatim


def r_fw_step(A, x, b, eta):
    """R synthdid's fw.step (R/solver.R), line by line."""
    Ax = A @ x
    half_grad = (Ax - b) @ A + eta * x
    i = int(np.argmin(half_grad))
    d_x = -x.copy()
    d_x[i] = 1 - x[i]
    if np.all(d_x == 0):
        return x
    d_err = A[:, i] - Ax
    step = -(half_grad @ d_x) / (np.sum(d_err**2) + eta * np.sum(d_x**2))
    return x + min(1.0, max(0.0, step)) * d_x


def r_sc_weight_fw(Y, zeta, intercept, lam, min_decrease, max_iter):
    """R synthdid's sc.weight.fw (R/solver.R), line by line."""
    t0, n0 = Y.shape[1] - 1, Y.shape[0]
    lam = np.full(t0, 1 / t0) if lam is None else lam
    if intercept:
        Y = Y - Y.mean(axis=0)
    A, b, eta = Y[:, :t0], Y[:, t0], n0 * zeta**2
    vals, t = [], 0
    while t < max_iter and (t < 2 or vals[t - 2] - vals[t - 1] > min_decrease**2):
        t += 1
        lam = r_fw_step(A, lam, b, eta)
        err = Y @ np.append(lam, -1)
        vals.append(zeta**2 * np.sum(lam**2) + np.sum(err**2) / n0)
    return lam


def r_synthdid_weights(Y, n0, t0, est):
    """R's synthdid_estimate weight fits (two rounds around sparsify) with est's options."""
    o = est.options
    Yc = collapsed_form(Y, n0, t0)
    lam = est.lam
    if o.update_lambda:
        lam = r_sc_weight_fw(Yc[:n0], o.zeta_lambda, True, None, o.min_decrease, 100)
        lam = r_sc_weight_fw(Yc[:n0], o.zeta_lambda, True, sparsify(lam), o.min_decrease, 10_000)
    Yo = Yc[:, :t0].T
    om = r_sc_weight_fw(Yo, o.zeta_omega, o.omega_intercept, None, o.min_decrease, 100)
    om = r_sc_weight_fw(Yo, o.zeta_omega, o.omega_intercept, sparsify(om), o.min_decrease, 10_000)
    return om, lam


# --------------------------------------------------------------------------- Prop 99


def test_the_vendored_prop99_file_is_the_cited_one():
    assert hashlib.sha256(PROP99.read_bytes()).hexdigest() == PROP99_SHA256


def test_prop99_reproduces_table_1_to_the_digits_r_prints(prop99, prop99_fits):
    assert (prop99.n0, prop99.n1, prop99.t0, prop99.t1) == (38, 1, 19, 12)
    for kind, want in R_ESTIMATES.items():
        assert round(prop99_fits[kind].estimate, 5) == want, kind
    # R's summary(tau.hat) in the introduction vignette: weights and effective sizes
    sdid = prop99_fits["sdid"]
    omega = pd.Series(sdid.omega, index=prop99.units[: prop99.n0]).sort_values(ascending=False)
    top = {"Nevada": 0.124, "New Hampshire": 0.105, "Connecticut": 0.078, "Delaware": 0.070}
    assert omega.round(3).head(4).to_dict() == top
    lam = pd.Series(sdid.lam, index=prop99.periods[: prop99.t0]).round(3)
    assert lam[lam > 0].to_dict() == {1986: 0.366, 1987: 0.206, 1988: 0.427}
    assert round(sdid.effective_n0, 3) == 16.388 and round(sdid.effective_t0, 3) == 2.783


def test_the_batched_solver_follows_r_sc_weight_fw(prop99, prop99_fits):
    for kind in ("sdid", "sc"):
        est = prop99_fits[kind]
        om, lam = r_synthdid_weights(prop99.Y, prop99.n0, prop99.t0, est)
        assert np.abs(est.omega - om).max() < 1e-10, kind
        assert np.abs(est.lam - lam).max() < 1e-10, kind


@pytest.mark.parametrize("seed", [1, 2])
def test_the_solver_follows_r_on_random_panels(seed):
    blk = block_matrix(block_panel(n0=25, n1=3, t0=7, t1=3, seed=seed))
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, "sdid")
    om, lam = r_synthdid_weights(blk.Y, blk.n0, blk.t0, est)
    assert np.abs(est.omega - om).max() < 1e-9 and np.abs(est.lam - lam).max() < 1e-9


@pytest.mark.parametrize("shape", [(4, 60), (9, 30), (60, 9)])
def test_one_problem_takes_the_same_steps_as_a_batch(shape):
    """A study's fits solve one problem at a time (a 1-D path); a batch (jackknife, placebo)
    takes the batch path: on the same problems both give the same weights to rounding, with
    the stopping rule hit at the same iteration (or both at max_iter)."""
    rng = np.random.default_rng(sum(shape))
    n, k = shape
    A = rng.normal(size=(3, n, k))
    b = A[:, :, :2].mean(axis=2) + rng.normal(scale=0.3, size=(3, n))
    x0 = np.full((3, k), 1.0 / k)
    for min_decrease, max_iter in [(1e-6, 5), (1e-6, 10_000), (1e-3, 10_000)]:
        kw = {"min_decrease": min_decrease, "max_iter": max_iter}
        batch = frank_wolfe(A, b, x0, 0.2, **kw)
        for j in range(3):
            one = frank_wolfe(A[j : j + 1], b[j : j + 1], x0[j : j + 1], 0.2, **kw)
            assert np.abs(one[0] - batch[j]).max() < 1e-12, (shape, max_iter, j)
            assert abs(one.sum() - 1) < 1e-12 and (one >= 0).all()
    # with min_decrease 1e-3 the stopping rule ends every problem well before max_iter (the
    # batch path drops finished problems): both paths stop at the same iteration t, i.e. the
    # weights at max_iter = t - 1 differ and those at a larger max_iter do not
    for j in range(3):
        args = (A[j : j + 1], b[j : j + 1], x0[j : j + 1], 0.2)
        stop = frank_wolfe(*args, min_decrease=1e-3, max_iter=10_000)
        lo, hi = 1, 10_000  # the first max_iter giving the final weights: the stopping iteration
        while lo < hi:
            mid = (lo + hi) // 2
            done = np.array_equal(frank_wolfe(*args, min_decrease=1e-3, max_iter=mid), stop)
            lo, hi = (lo, mid) if done else (mid + 1, hi)
        t = lo
        assert 2 <= t < 2_000
        batch_t = frank_wolfe(A, b, x0, 0.2, min_decrease=1e-3, max_iter=t)[j]
        batch_before = frank_wolfe(A, b, x0, 0.2, min_decrease=1e-3, max_iter=t - 1)[j]
        assert np.abs(batch_t - stop[0]).max() < 1e-12
        assert np.abs(batch_before - stop[0]).max() > 0


def test_placebo_se_agrees_with_r_published_within_monte_carlo_error(prop99, prop99_fits):
    """R's placebo SEs came from R's own draws; ours from numpy's. Compare in distribution.

    With one treated unit a placebo estimate depends only on which control is pseudo-treated,
    so the placebo SE is the SD of 200 draws from the 38 leave-one-control-treated estimates.
    R's published SE must lie in the central 99% of that SD's distribution.
    """
    n0 = prop99.n0
    perms = np.array([[*np.delete(np.arange(n0), j), j] for j in range(n0)])
    rng = np.random.default_rng(2021)
    for kind, est in prop99_fits.items():
        values = placebo_estimates(est, perms)
        sims = np.std(rng.choice(values, size=(4000, 200)), axis=1)
        lo, hi = np.quantile(sims, [0.005, 0.995])
        assert lo < R_PLACEBO_SE[kind] < hi, (kind, lo, hi)
        # and our own seeded SE is one such draw
        ours = placebo_se(est, 200, seed=0)
        assert lo < ours < hi, (kind, ours)


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("kind", ["sdid", "sc", "did"])
@pytest.mark.parametrize("seed", [0, 3])
def test_weights_lie_on_the_simplex(kind, seed):
    blk = block_matrix(block_panel(seed=seed))
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, kind)
    assert (est.omega >= 0).all() and est.omega.sum() == pytest.approx(1, abs=1e-12)
    if kind == "sc":
        assert (est.lam == 0).all()  # SC: no time weights
    else:
        assert (est.lam >= 0).all() and est.lam.sum() == pytest.approx(1, abs=1e-12)


def test_did_is_the_block_diff_in_diff_and_twfe():
    p = block_panel(n0=20, n1=5, t0=5, t1=4, seed=7)
    blk = block_matrix(p)
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, "did")
    Y, n0, t0 = blk.Y, blk.n0, blk.t0
    closed = (Y[n0:, t0:].mean() - Y[n0:, :t0].mean()) - (Y[:n0, t0:].mean() - Y[:n0, :t0].mean())
    assert est.estimate == pytest.approx(closed, abs=1e-12)
    twfe = ols(twfe_design(p)).beta[0]
    assert est.estimate == pytest.approx(twfe, abs=1e-10)


def test_sc_recovers_a_unit_that_is_a_convex_combination_of_controls():
    """Treated = 0.3 control 2 + 0.7 control 5 (+ effect 2.5 after the start): SC finds it.

    Frank-Wolfe converges sublinearly and R's rule stops it at 10,000 iterations or a decrease
    below (1e-5 sigma)^2, so the weights are found to about 0.02 and the effect to about 0.05.
    """
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n0, t0, t1 = 10, 12, 4
        Yc = np.cumsum(rng.normal(size=(n0, t0 + t1)), axis=1) + rng.normal(50, 5, (n0, 1))
        treated = 0.3 * Yc[2] + 0.7 * Yc[5]
        treated[t0:] += 2.5
        est = synthdid_estimate(np.vstack([Yc, treated]), n0, t0, "sc")
        want = np.zeros(n0)
        want[[2, 5]] = [0.3, 0.7]
        assert np.abs(est.omega - want).max() < 0.03, seed
        assert est.estimate == pytest.approx(2.5, abs=0.05), seed


def test_invariances_of_r_synthdid_hold():
    """R's test_synthdid.R: time effects change no estimate; unit effects change all but SC;
    scaling Y scales the estimate and keeps the weights. (As in R, the time effect is a linear
    trend: it shifts every first difference alike, so the noise level σ̂ stays the same.)"""
    blk = block_matrix(block_panel(seed=11))
    Y, n0, t0 = blk.Y, blk.n0, blk.t0
    col = 2.0 * np.arange(Y.shape[1])[None]
    row = np.random.default_rng(0).normal(0, 5, Y.shape[0])[:, None]
    for kind in ("sdid", "sc", "did"):
        base = synthdid_estimate(Y, n0, t0, kind)
        assert synthdid_estimate(Y + col, n0, t0, kind).estimate == pytest.approx(base.estimate)
        scaled = synthdid_estimate(1e3 * Y, n0, t0, kind)
        assert scaled.estimate == pytest.approx(1e3 * base.estimate)
        assert np.allclose(scaled.omega, base.omega, atol=1e-8)
        if kind != "sc":
            assert synthdid_estimate(Y + row, n0, t0, kind).estimate == pytest.approx(base.estimate)


# --------------------------------------------------------------------------- standard errors


@pytest.mark.parametrize("kind", ["sdid", "sc", "did"])
def test_jackknife_se_equals_a_brute_force_leave_one_out_loop(kind):
    """R's jackknife_se: refit without each unit, weights fixed (ω renormalised), then
    sqrt((n-1)/n * (n-1) * var(u))."""
    blk = block_matrix(block_panel(n0=15, n1=4, seed=5))
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, kind)
    u = []
    for i in range(blk.Y.shape[0]):
        keep = np.delete(np.arange(blk.Y.shape[0]), i)
        n0 = blk.n0 - (i < blk.n0)
        omega = sum_normalize(np.delete(est.omega, i)) if i < blk.n0 else est.omega
        loo = synthdid_estimate(
            blk.Y[keep], n0, blk.t0, kind, omega=omega, lam=est.lam, options=est.options
        )
        u.append(loo.estimate)
    u = np.array(u)
    n = len(u)
    assert np.allclose(jackknife_estimates(est), u, atol=1e-10)
    assert jackknife_se(est) == pytest.approx(np.sqrt((n - 1) / n * (n - 1) * np.var(u, ddof=1)))


def test_jackknife_is_undefined_with_one_treated_unit(prop99_fits):
    assert np.isnan(jackknife_se(prop99_fits["sdid"]))
    res = synthdid_panel(prop99_panel(), "sdid", "jackknife")
    assert np.isnan([res.std_error, res.ci_low, res.ci_high, res.p_value]).all()
    assert "undefined with one treated unit" in res.unavailable


def test_placebo_is_seeded_and_batches_do_not_change_it():
    blk = block_matrix(block_panel(n0=20, n1=2, seed=4))
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, "sdid")
    perms = placebo_draws(blk.n0, 8, seed=9)
    a = placebo_estimates(est, perms)
    assert a.tobytes() == placebo_estimates(est, placebo_draws(blk.n0, 8, seed=9)).tobytes()
    assert not np.array_equal(perms, placebo_draws(blk.n0, 8, seed=10))
    one_by_one = np.concatenate([placebo_estimates(est, perms[j : j + 1]) for j in range(8)])
    assert np.allclose(a, one_by_one, atol=1e-10)
    assert placebo_se(est, 8, seed=9) == pytest.approx(np.std(a), abs=1e-12)


def test_a_staggered_panel_is_refused_and_incomplete_units_are_left_out():
    df = block_frame(n0=12, n1=4, seed=2)
    stag = df.assign(cohort=np.where(df.unit == "u015", 2017, df.cohort))
    p = panel_from_frame(stag, unit="unit", time="year", cohort="cohort", outcome="y")
    with pytest.raises(ConfigError, match="same period .* start in 2016, 2017"):
        synthdid_panel(p)
    # the pipeline fits each cohort with >= 2 pre periods against the never-treated on its own
    est = ESTIMATORS["sdid"]
    assert est.applies(p, "never_treated") and not est.applies(p, "all_including_treated")
    (fields, q), (fields2, q2) = est.variants(p, Settings(), 2015)
    assert fields == {"variant": "cohort_2016", "cohort": 2016}
    assert fields2 == {"variant": "cohort_2017", "cohort": 2017}
    assert set(q2.unit_labels) == {f"u{i:03d}" for i in range(12)} | {"u015"}
    assert set(np.unique(q.cohort)) == {0, 2016} and 2017 not in q.cohort
    gap = df.drop(df.index[(df.unit == "u003") & (df.year == 2012)])
    p = panel_from_frame(gap, unit="unit", time="year", cohort="cohort", outcome="y")
    res = synthdid_panel(p, "sc", "jackknife")
    assert res.n_units == 15 and "1 never-treated and 0 treated unit(s)" in res.note


def test_the_registry_reports_the_se_and_says_why_wcr_and_ri_do_not_apply():
    p = block_panel(n0=20, n1=3, seed=8)
    s = Settings(bootstrap_seed=3)
    base = {**BASE, "estimator": "sdid"}
    rows = pd.DataFrame(infer("sdid", p, s, base, s.methods, replications=60))
    first = rows.iloc[0]
    assert first.method == "placebo SE" and first.n_draws == 60 and first.applicable
    res = synthdid_panel(p, "sdid", "placebo", replications=60, seed=3)
    assert first.estimate == res.estimate and first.std_error == res.std_error
    assert (first.ci_low, first.ci_high) == pytest.approx((res.ci_low, res.ci_high))
    assert res.ci_low == pytest.approx(res.estimate - 1.959963984540054 * res.std_error)
    tidy = res.tidy().iloc[0]
    assert (tidy.term, tidy.method, tidy.n_draws) == ("treated_post", "placebo SE", 60)
    assert tidy.p_value == pytest.approx(first.p_value)
    others = rows.iloc[1:]
    assert not others.applicable.any() and others.note.str.startswith("not applicable").all()
    jk = pd.DataFrame(infer("sc", p, s, {**BASE, "estimator": "sc"}, ["analytic"], se="jackknife"))
    assert jk.method.tolist() == ["jackknife SE"] and jk.std_error.iloc[0] > 0


# --------------------------------------------------------------------------- reference library


def test_diff_diff_gives_the_same_estimates_and_standard_errors(prop99):
    """diff-diff's SyntheticDiD follows R synthdid and draws placebo permutations with
    numpy's default_rng as we do: same seed, same placebo SE."""
    dd = pytest.importorskip("diff_diff")
    df = pd.read_csv(PROP99, sep=";").assign(ever=lambda d: (d.State == "California") * 1)
    fit = dd.SyntheticDiD(variance_method="placebo", n_bootstrap=50, seed=4).fit(
        df, outcome="PacksPerCapita", treatment="ever", unit="State", time="Year",
        post_periods=list(range(1989, 2001)),
    )  # fmt: skip
    est = synthdid_estimate(prop99.Y, prop99.n0, prop99.t0, "sdid")
    assert fit.att == pytest.approx(est.estimate, abs=1e-9)
    assert fit.se == pytest.approx(placebo_se(est, 50, seed=4), abs=1e-9)
    panel = block_frame(n0=25, n1=4, seed=6)
    panel["ever"] = (panel.cohort > 0) * 1
    jk = dd.SyntheticDiD(variance_method="jackknife").fit(
        panel, outcome="y", treatment="ever", unit="unit", time="year",
        post_periods=[2016, 2017, 2018],
    )  # fmt: skip
    blk = block_matrix(block_panel(n0=25, n1=4, seed=6))
    est = synthdid_estimate(blk.Y, blk.n0, blk.t0, "sdid")
    assert jk.att == pytest.approx(est.estimate, abs=1e-9)
    assert jk.se == pytest.approx(jackknife_se(est), abs=1e-9)


def test_the_pipeline_fits_each_cohort_with_two_pre_years_and_the_configured_se():
    """estimate_outcome with sdid and sc: staggered cohorts each against the never-treated
    practices, only those with >= 2 pre-programme years, with analysis.synthdid's SE; a
    1-pre-year study gets no SDID rows."""
    from test_analysis import practice_panel

    from linkseval.analysis import estimate_outcome
    from linkseval.estimators.synthdid import cohort_panels

    years = (2012, 2013, 2014, 2015)
    cohorts = {i: 2014 if i < 5 else 2015 if i < 9 else 2013 if i < 12 else 0 for i in range(60)}
    frame = practice_panel(n=60, years=years, cohort_of=cohorts.get)
    s = Settings(estimators=["twfe", "sdid", "sc"], methods=["analytic"], leave_one_out=False,
                 dose=False, synthdid={"se": "jackknife"})  # fmt: skip
    res = estimate_outcome(frame, s, "safequest", "workload")
    syn = res[res.estimator.isin(["sdid", "sc"]) & (res.comparison == s.main_comparison)]
    assert sorted(set(syn.variant)) == ["cohort_2014", "cohort_2015"]  # 2013: 1 pre year
    assert (syn.method == "jackknife SE").all() and syn.std_error.gt(0).all()
    from linkseval.analysis import comparison_frame, comparison_panel, outcome_frame

    f, base = outcome_frame(frame, s, "workload")
    p = comparison_panel(comparison_frame(f, s.main, base), s)
    for g, q in cohort_panels(p):
        for kind in ("sdid", "sc"):
            want = synthdid_panel(q, kind, "jackknife", alpha=s.alpha)
            row = syn[(syn.estimator == kind) & (syn.cohort == g)].iloc[0]
            assert (row.estimate, row.std_error) == (want.estimate, want.std_error)
    one_pre = practice_panel(n=60)  # 2013-2015, cohort 2014
    res = estimate_outcome(one_pre, s, "safequest", "workload")
    assert not res.estimator.isin(["sdid", "sc"]).any()


def test_a_cohort_without_a_fully_observed_practice_is_left_out_not_a_crash():
    """Real extracts have gaps: when no practice of a cohort answered in every year, SDID/SC
    leave that cohort out (they fit fully observed units only) and the job goes on."""
    from test_analysis import practice_panel

    from linkseval.analysis import estimate_outcome

    years = (2012, 2013, 2014, 2015)
    cohorts = {i: 2014 if i < 5 else 2015 if i < 9 else 0 for i in range(60)}
    frame = practice_panel(n=60, years=years, cohort_of=cohorts.get)
    gap = (frame.cohort == 2015) & (frame.year == 2013)  # every 2015 practice misses 2013
    s = Settings(estimators=["sdid", "sc"], methods=["analytic"], leave_one_out=False,
                 dose=False)  # fmt: skip
    res = estimate_outcome(frame[~gap], s, "safequest", "workload")
    assert set(res.variant) == {"cohort_2014"}
