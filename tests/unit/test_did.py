"""Point estimates and CR1 against independent computations (closed form, statsmodels, pyfixest)."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from linkseval.did import event_study_design, ols, panel_from_frame, twfe_design, two_by_two
from linkseval.errors import ConfigError


def simulate(n=60, years=(2013, 2014, 2015), cohorts=((2014, 7),), effect=0.5, seed=0, missing=0.1):
    rng = np.random.default_rng(seed)
    coh = np.zeros(n, dtype=int)
    start = 0
    for g, k in cohorts:
        coh[start : start + k] = g
        start += k
    rows = []
    for i in range(n):
        a = rng.normal()
        for t in years:
            if rng.random() < missing:
                continue
            d = float(coh[i] > 0 and t >= coh[i])
            y = a + 0.3 * (t - years[0]) + effect * d + rng.normal()
            rows.append((f"u{i:03d}", t, coh[i], y, int(rng.integers(3, 20)), f"b{i % 9}"))
    return pd.DataFrame(rows, columns=["unit", "year", "cohort", "y", "n", "board"])


@pytest.mark.parametrize("weights", [None, "n"])
def test_twfe_matches_statsmodels_dummy_ols(weights):
    df = simulate()
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", weights=weights
    )
    fit = ols(twfe_design(p))
    sub = df[df.unit.isin(p.unit_labels)].assign(
        D=lambda d: ((d.cohort > 0) & (d.year >= d.cohort)).astype(float)
    )
    w = sub[weights] if weights else np.ones(len(sub))
    sm = smf.wls("y ~ D + C(year) + C(unit)", sub, weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(sub.unit)[0]}
    )
    assert fit.beta[0] == pytest.approx(sm.params["D"], abs=1e-8)
    # statsmodels counts every unit dummy in K; convert its (N-1)/(N-K) factor to ours
    n, k, k_full = len(sub), fit.design.k, len(sm.params)
    assert fit.se()[0] == pytest.approx(sm.bse["D"] * np.sqrt((n - k_full) / (n - k)), abs=1e-8)


@pytest.mark.parametrize("weights", [None, "n"])
def test_twfe_and_cr1_match_pyfixest(weights):
    import pyfixest as pf

    df = simulate(seed=3)
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", weights=weights
    )
    fit = ols(twfe_design(p))
    sub = df[df.unit.isin(p.unit_labels)].assign(
        D=lambda d: ((d.cohort > 0) & (d.year >= d.cohort)).astype(float)
    )
    fx = pf.feols(
        "y ~ D + C(year) | unit",
        data=sub,
        vcov={"CRV1": "unit"},
        weights=weights,
        ssc=pf.ssc(k_fixef="none"),
    )
    assert fit.beta[0] == pytest.approx(fx.coef()["D"], abs=1e-8)
    assert fit.se()[0] == pytest.approx(fx.se()["D"], abs=1e-8)


def test_clustering_on_another_column_matches_pyfixest():
    import pyfixest as pf

    df = simulate(seed=4)
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", cluster="board"
    )
    fit = ols(twfe_design(p))
    sub = df[df.unit.isin(p.unit_labels)].assign(
        D=lambda d: ((d.cohort > 0) & (d.year >= d.cohort)).astype(float)
    )
    fx = pf.feols(
        "y ~ D + C(year) | unit", data=sub, vcov={"CRV1": "board"}, ssc=pf.ssc(k_fixef="none")
    )
    assert fit.se()[0] == pytest.approx(fx.se()["D"], abs=1e-8)


def test_two_by_two_equals_the_closed_form():
    df = simulate(missing=0.15, seed=7)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    fit = ols(twfe_design(two_by_two(p, 2013, 2015)))
    wide = df.pivot(index="unit", columns="year", values="y").dropna(subset=[2013, 2015])
    treated = wide.index.isin(df.loc[df.cohort > 0, "unit"])
    change = wide[2015] - wide[2013]
    closed = change[treated].mean() - change[~treated].mean()
    assert fit.beta[0] == pytest.approx(closed, abs=1e-10)
    # one observation per unit: CR1 = HC1 on the differences, closed form
    n1, n0 = treated.sum(), (~treated).sum()
    resid = np.where(treated, change - change[treated].mean(), change - change[~treated].mean())
    g = len(change)
    meat1 = np.sum(resid[treated] ** 2) / n1**2
    meat0 = np.sum(resid[~treated] ** 2) / n0**2
    # In the 2-period TWFE each unit contributes 2 rows: N = 2g, K = 2 (D and the period dummy)
    factor = g / (g - 1) * (2 * g - 1) / (2 * g - 2)
    assert fit.se()[0] == pytest.approx(np.sqrt(factor * (meat1 + meat0)), rel=1e-10)


def test_event_study_matches_statsmodels_and_has_no_reference_term():
    df = simulate(years=tuple(range(2010, 2016)), cohorts=((2013, 5), (2014, 5)), seed=11)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    design, es = event_study_design(p)
    assert -1 not in es and es == [-4, -3, -2, 0, 1, 2]
    fit = ols(design)
    sub = df[df.unit.isin(p.unit_labels)].copy()
    rel = np.where(sub.cohort > 0, sub.year - sub.cohort, -99)
    terms = []
    for e in es:
        name = f"e{'m' if e < 0 else 'p'}{abs(e)}"
        sub[name] = (rel == e).astype(float)
        terms.append(name)
    sm = smf.ols(f"y ~ {' + '.join(terms)} + C(year) + C(unit)", sub).fit()
    assert np.allclose(fit.beta[: len(es)], sm.params[terms].to_numpy(), atol=1e-8)


def test_singletons_are_dropped_and_counted():
    df = simulate(n=30, seed=2)
    df = pd.concat([df, pd.DataFrame([("lonely", 2014, 0, 1.0, 5, "b0")], columns=df.columns)])
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    assert "lonely" not in p.unit_labels and p.n_singletons >= 1


def test_bad_panels_are_named():
    df = simulate(n=10)
    with pytest.raises(ConfigError, match="no column 'treat'"):
        panel_from_frame(df, unit="unit", time="year", cohort="treat", outcome="y")
    dup = pd.concat([df, df.iloc[[0]]])
    with pytest.raises(ConfigError, match="more than one row for unit=u000"):
        panel_from_frame(dup, unit="unit", time="year", cohort="cohort", outcome="y")
