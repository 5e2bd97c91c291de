"""The imputation estimator (Borusyak, Jaravel & Spiess 2024) against independent computations:
explicit dummy regressions, pyfixest's Gardner two-stage DiD (numerically the same point
estimates), a known truth, and TWFE where effects are homogeneous."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkseval.did import build_design, ols, panel_from_frame, twfe_design
from linkseval.estimators import ESTIMATORS, infer
from linkseval.estimators.imputation import ImputationFit, untreated_effects, untreated_weights
from linkseval.study import Settings

BASE = {"instrument": "", "outcome": "y", "comparison": "never_treated", "estimator": "imputation"}


def staggered(
    n=80,
    years=range(2010, 2017),
    cohorts=((2013, 6), (2015, 5)),
    seed=0,
    missing=0.1,
    effect=lambda e: 1.0 + 0.5 * e,
    noise=1.0,
):
    """Staggered panel; effect(e) at event time e >= 0; returns the frame and the true effects."""
    rng = np.random.default_rng(seed)
    coh = np.zeros(n, dtype=int)
    start = 0
    for g, k in cohorts:
        coh[start : start + k] = g
        start += k
    rows = []
    for i in range(n):
        a = rng.normal(scale=2)
        for t in years:
            if rng.random() < missing:
                continue
            e = t - coh[i]
            tau = effect(e) if coh[i] > 0 and e >= 0 else 0.0
            y = a + 0.4 * (t - 2010) + np.sin(t) + tau + noise * rng.normal()
            rows.append((f"u{i:03d}", t, coh[i], y, tau, int(rng.integers(3, 20)), f"c{i % 13}"))
    return pd.DataFrame(rows, columns=["unit", "year", "cohort", "y", "tau", "n", "cl"])


def panel(df, weights=None, cluster=None):
    return panel_from_frame(
        df,
        unit="unit",
        time="year",
        cohort="cohort",
        outcome="y",
        weights=weights,
        cluster=cluster,
    )


def direct(df: pd.DataFrame, weights: str | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """The imputation estimate by an explicit dummy regression on the untreated rows."""
    d = df.copy()
    d["treated"] = (d.cohort > 0) & (d.year >= d.cohort)
    X = (
        pd.get_dummies(d[["unit"]].astype(str))
        .join(pd.get_dummies(d["year"].astype(str), prefix="t", drop_first=True))
        .astype(float)
    )
    w = d[weights].to_numpy(float) if weights else np.ones(len(d))
    u = ~d.treated.to_numpy()
    sw = np.sqrt(w[u])
    coef, *_ = np.linalg.lstsq(X[u].to_numpy() * sw[:, None], d.y[u].to_numpy() * sw, rcond=None)
    d["tau_hat"] = d.y - X.to_numpy() @ coef
    t = d[d.treated].assign(e=lambda x: x.year - x.cohort, w=w[d.treated.to_numpy()])
    out = {"simple": np.average(t.tau_hat, weights=t.w)}
    for e, g in t.groupby("e"):
        out[f"dynamic[{e}]"] = np.average(g.tau_hat, weights=g.w)
    return pd.Series(out), d


@pytest.mark.parametrize("weights", [None, "n"])
def test_estimates_equal_an_explicit_dummy_regression_on_untreated_rows(weights):
    df = staggered()
    want, _ = direct(df, weights)
    f = ImputationFit(panel(df, weights))
    got = {
        (t.term if t.term == "simple" else f"dynamic[{t.where['event_time']}]"): est
        for t, est in zip(f.terms, f.estimate, strict=True)
    }
    assert set(got) == set(want.index)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-9), k


def test_untreated_effects_fit_the_untreated_rows():
    df = staggered(seed=3)
    p = panel(df, "n")
    alpha, lam = untreated_effects(p)
    _, d = direct(df, "n")
    per = np.searchsorted(p.periods, p.time)
    tau = p.y - alpha[p.unit] - lam[per]
    g = p.cohort[p.unit]
    tr = (g > 0) & (p.time >= g)
    # the same τ̂_it as the dummy regression (same rows: no singletons in this panel)
    assert np.allclose(np.sort(tau[tr]), np.sort(d.loc[d.treated, "tau_hat"]), atol=1e-9)


def test_the_estimate_is_linear_in_y_with_the_documented_weights():
    """Σ_1 ω y + Σ_0 v y reproduces the estimate; v equals −W₀X₀(X₀'W₀X₀)⁺X₁'ω (dense)."""
    df = staggered(seed=5)
    p = panel(df, "n")
    f = ImputationFit(p)
    om = f.omegas[0]
    v = untreated_weights(p, om)
    assert float((om + v) @ p.y) == pytest.approx(f.estimate[0], abs=1e-9)
    U = np.eye(p.n_units)[p.unit]
    T = (p.time[:, None] == p.periods[None, 1:]).astype(float)
    X = np.column_stack([U, T])
    tr = f.treated
    W0 = p.w * ~tr
    dense = -W0 * (X @ (np.linalg.pinv(X.T @ (W0[:, None] * X)) @ (X.T @ om)))
    assert np.allclose(v, dense, atol=1e-10)


def test_bjs_standard_error_equals_a_direct_computation():
    df = staggered(seed=7)
    p = panel(df, cluster="cl")
    f = ImputationFit(p)
    _, d = direct(df)
    d = d.set_index(["unit", "year"]).loc[list(zip(p.unit_labels[p.unit], p.time, strict=True))]
    tr = d.treated.to_numpy()
    for k, om in enumerate(f.omegas):
        v = om + untreated_weights(p, om)
        # ε̃: untreated residual; treated: τ̂_it minus its cohort × year mean (ω-weighted)
        eps = d.tau_hat.to_numpy().copy()
        cell = pd.Series(list(zip(d.cohort, d.index.get_level_values("year"), strict=True)))
        for c in cell[tr & (om > 0)].unique():
            m = (cell == c).to_numpy() & tr
            eps[m] -= np.average(d.tau_hat.to_numpy()[m], weights=om[m])
        sums = pd.Series(v * eps).groupby(d.cl.to_numpy()).sum()
        assert f.std_error[k] == pytest.approx(np.sqrt((sums**2).sum()), rel=1e-9)


def test_matches_pyfixest_two_stage_did():
    """Gardner's two-stage DiD (pyfixest.did2s) has the same point estimates."""
    pf = pytest.importorskip("pyfixest")
    df = staggered(seed=11, missing=0.0)
    df["D"] = ((df.cohort > 0) & (df.year >= df.cohort)).astype(int)
    fit = pf.did2s(
        df,
        yname="y",
        first_stage="~ 0 | unit + year",
        second_stage="~ D",
        treatment="D",
        cluster="unit",
    )
    f = ImputationFit(panel(df))
    assert f.estimate[0] == pytest.approx(float(fit.coef()["D"]), abs=1e-8)
    for e in (0, 2):
        df[f"d{e}"] = (df.D.astype(bool) & (df.year - df.cohort == e)).astype(int)
    fit = pf.did2s(
        df,
        yname="y",
        first_stage="~ 0 | unit + year",
        second_stage="~ d0 + d2",
        treatment="D",
        cluster="unit",
    )
    got = {t.where.get("event_time"): est for t, est in zip(f.terms, f.estimate, strict=True)}
    # with only d0 and d2 in the second stage their coefficients are those event times' means
    assert got[0] == pytest.approx(float(fit.coef()["d0"]), abs=1e-8)
    assert got[2] == pytest.approx(float(fit.coef()["d2"]), abs=1e-8)


def test_recovers_changing_effects_where_twfe_does_not():
    """Known truth: effects growing with time since the start; TWFE is biased, imputation not."""
    df = staggered(
        n=40, seed=2, noise=0.0, cohorts=((2012, 15), (2015, 15)), effect=lambda e: 2.0 * e
    )
    p = panel(df)
    f = ImputationFit(p)
    truth = df.loc[(df.cohort > 0) & (df.year >= df.cohort), "tau"].mean()
    assert f.estimate[0] == pytest.approx(truth, abs=1e-8)
    twfe = ols(twfe_design(p)).beta[0]
    assert abs(twfe - truth) > 0.2 * truth  # already-treated practices as controls


def test_equals_twfe_and_the_truth_when_effects_are_homogeneous_and_noise_free():
    df = staggered(n=60, seed=4, noise=0.0, effect=lambda e: 1.7)
    p = panel(df, "n")
    f = ImputationFit(p)
    assert f.estimate[0] == pytest.approx(1.7, abs=1e-9)
    assert ols(twfe_design(p)).beta[0] == pytest.approx(f.estimate[0], abs=1e-9)


def test_saturated_regression_reproduces_the_estimate_but_has_zero_treated_residuals():
    """Why there is no WCR hook: the saturated regression's coefficients are the imputed effects
    (a check of the estimator) but its treated residuals are exactly 0."""
    df = staggered(seed=9)
    f = ImputationFit(panel(df, "n"))
    q = f.panel
    rows = np.flatnonzero(f.treated)
    X = np.zeros((q.n_obs, len(rows)))
    X[rows, np.arange(len(rows))] = 1.0
    fit = ols(build_design(q, X, [str(i) for i in rows]))
    assert np.allclose([om[rows] @ fit.beta[: len(rows)] for om in f.omegas], f.estimate, atol=1e-9)
    assert np.abs(fit.resid[rows]).max() < 1e-9
    assert f.wild_problem() is None and "treated residuals are 0" in f.wild_unavailable()


def test_pretrend_test_detects_a_planted_pre_trend_and_holds_its_size_with_many_treated():
    """Power against a planted pre-trend; size near 5% with 100 treated practices (with a handful,
    CR1 over-rejects, as every CR1 test does with few treated clusters)."""
    s = Settings()
    cohorts = ((2013, 50), (2015, 50))

    def p_value(df):
        return ESTIMATORS["imputation"].fit(panel(df), s).joint_rows(s, BASE, [])[0]["p_value"]

    sizes = [p_value(staggered(n=300, cohorts=cohorts, seed=k)) for k in range(30)]
    assert np.mean(np.array(sizes) < 0.05) <= 0.15
    bent = staggered(n=300, cohorts=cohorts, seed=1)
    pre = (bent.cohort > 0) & (bent.year < bent.cohort)
    bent.loc[pre, "y"] += 0.5 * (bent.loc[pre, "year"] - bent.loc[pre, "cohort"])  # a trend
    assert p_value(bent) < 1e-6


def test_runs_through_the_registry_with_every_method():
    df = staggered(n=60, seed=6)
    s = Settings(bootstrap_draws=199, ri_draws=199)
    rows = pd.DataFrame(infer("imputation", panel(df), s, BASE))
    main = rows[rows.term == "simple"]
    assert list(main.method) == [
        "imputation (BJS analytic)",
        "WCR bootstrap",
        "randomization inference",
    ]
    analytic, wcr, ri = main.itertuples()
    assert analytic.ci_low < analytic.estimate < analytic.ci_high
    assert np.isnan(wcr.p_value) and wcr.note.startswith("not applicable: no valid regression")
    assert ri.ci_low < ri.estimate < ri.ci_high and 0 < ri.p_value <= 1
    assert "pretrend_joint" in set(rows.term)


def test_treated_years_without_an_untreated_year_are_left_out_and_counted():
    df = staggered(n=40, seed=8, cohorts=((2010, 3), (2014, 4)), missing=0.0)
    f = ImputationFit(panel(df))
    n_left = int((df.cohort == 2010).sum())  # first treated in the first year: no untreated year
    assert f.panel.n_obs == len(df) - n_left
    assert f"{n_left} treated practice-year(s)" in f.terms[0].note


@pytest.mark.parametrize("cluster", [None, "cl"])
def test_ri_draws_equal_a_brute_force_refit_per_reassignment(cluster):
    """Each draw's statistic equals ImputationFit refitted on the reassigned panel (on y and on
    the observed treatment), and the observed value equals the fit's estimate."""
    from dataclasses import replace

    from linkseval.estimators.imputation import imputation_ri_statistics
    from linkseval.inference import ri_sample, ri_units
    from linkseval.inference.randomization import _ri_assignment

    df = staggered(n=60, seed=12)
    if cluster:  # the programme assigned by cluster: whole clusters are reassigned
        df["cl"] = "k" + (df.unit.str[1:].astype(int) // 3).astype(str)
        first = df.groupby("cl").cohort.transform("max")
        df["cohort"] = first
    f = ImputationFit(panel(df, "n", cluster))
    p = f.panel
    es = [t.where["event_time"] for t in f.terms[1:]]
    stats, rows = imputation_ri_statistics(p, es, seed=4, n_draws=300)
    assert rows == list(range(len(f.terms)))
    assert np.allclose(stats.observed, f.estimate, atol=1e-9)
    assert np.allclose(stats.slope[0], 1.0)
    u = ri_units(p)
    assert (u.group is not None) == bool(cluster)
    cohorts = np.unique(u.cohort[u.cohort > 0])
    col = _ri_assignment(p, u)
    idx = ri_sample(4, 300, 0, u.n, len(col))
    D = p.treatment()
    for r in range(8):
        drawn = np.zeros(u.n, dtype=p.cohort.dtype)
        drawn[idx[r]] = cohorts[col]
        coh = drawn if u.group is None else drawn[u.group]
        for v, got in ((p.y, stats.a[r]), (D, stats.b[r])):
            refit = ImputationFit(replace(p, cohort=coh, y=v))
            want = {
                t.where.get("event_time", "simple"): e
                for t, e in zip(refit.terms, refit.estimate, strict=True)
            }
            assert got[0] == pytest.approx(want["simple"], abs=1e-8)
            for j, e in enumerate(es, start=1):
                if e in want:
                    assert got[j] == pytest.approx(want[e], abs=1e-8)
                else:
                    assert np.isnan(got[j])
