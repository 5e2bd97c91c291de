"""linkseval.montecarlo: the simulation study's cells against closed forms where they exist."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkseval import montecarlo as mc


def _run(sc: mc.Scenario, reps: int, draws: int) -> pd.DataFrame:
    seeds = mc.replication_seeds(20261207, sc, reps)
    rows = [r for rep, ss in enumerate(seeds) for r in mc.replication_rows((sc, rep, ss, draws))]
    return mc.summarise(pd.DataFrame(rows), {sc.name: sc}).set_index("method")


def test_rejection_rates_match_their_closed_forms_in_an_exchangeable_design():
    """Balanced panel, no missing years, every practice alike, treated drawn at random: the
    programme assignment is exchangeable, so randomization inference with R draws rejects with
    probability exactly floor(alpha (R + 1)) / (R + 1) (= 5% for R = 99), for the coefficient and
    for the t statistic alike; with 40 of 120 practices treated CR1's t(G - 1) test is close to
    exact too. Each rate must lie within 3.5 Monte Carlo SEs of its closed form, and under H0
    coverage is 1 - rejection (the CI is the set of nulls not rejected)."""
    sc = mc.Scenario(
        99, "exchangeable", "H0, exchangeable", n_practices=120, n_treated=40, missing=0.0
    )
    reps, draws = 400, 99
    s = _run(sc, reps, draws)
    exact = np.floor(mc.ALPHA * (draws + 1)) / (draws + 1)
    se = np.sqrt(exact * (1 - exact) / reps)
    for method in ("randomization inference", "randomization inference (t)", "CR1"):
        assert abs(s.loc[method, "rejection_rate"] - exact) < 3.5 * se, method
    for method in s.index:
        assert s.loc[method, "coverage"] == pytest.approx(1 - s.loc[method, "rejection_rate"])


def test_the_estimator_is_unbiased_with_the_closed_form_spread_of_a_two_period_design():
    """No trend, no practice-year shock, every practice with the same respondents and years: the
    static TWFE estimate is then the 2x2 difference of mean changes, whose variance has a closed
    form; the simulated SD must match it within Monte Carlo error, and its mean must be 0."""
    sc = mc.Scenario(
        98, "closed_form", "H0, fixed sizes", n_practices=100, n_treated=10, missing=0.0,
        trend_sd=0.0, n_min=10, n_max=10, year_effects=(0.0, 1.0, 1.5),
    )  # fmt: skip
    reps = 300
    s = _run(sc, reps, 19)
    # y_it = a_i + g_t + e_it, e ~ N(0, resp_sd^2 / n) iid, 3 years, treated in years 2-3:
    # beta = mean over treated of (mean(e_i2, e_i3) - e_i1) minus the same over controls
    var_unit = (sc.resp_sd**2 / 10) * (1 / 2 + 1)  # Var(mean of two) + Var(one)
    sd = np.sqrt(var_unit / sc.n_treated + var_unit / (sc.n_practices - sc.n_treated))
    got = s.loc["CR1", "sd_estimate"]
    # the SD of a sample SD of R normal draws is about sd / sqrt(2 (R - 1))
    assert abs(got - sd) < 3.5 * sd / np.sqrt(2 * (reps - 1))
    assert abs(s.loc["CR1", "mean_estimate"]) < 3.5 * sd / np.sqrt(reps)


def test_the_deep_end_scenario_draws_the_treated_from_a_smaller_lower_noisier_pool():
    """Scenario 11: the treated practices are drawn from practices 0..pool-1, whose respondent
    counts lie in pool_n; the pool's level is lower."""
    sc = next(s for s in mc.SCENARIOS if s.name == "no_effect_deep_end")
    df, _ = mc.simulate(sc, np.random.default_rng(5))
    unit = df["practice"].str[1:].astype(int)
    treated = set(unit[df["cohort"] > 0])
    assert len(treated) == sc.n_treated and max(treated) < sc.pool
    deep = unit < sc.pool
    assert df.loc[deep, "n"].between(*sc.pool_n).all()
    assert not df.loc[~deep, "n"].between(*sc.pool_n).all()  # the rest are not confined
    # level -4 and extra noise: the pool's mean is clearly lower (SE of the difference ~0.3)
    gap = df.loc[deep, "y"].mean() - df.loc[~deep, "y"].mean()
    assert -5.5 < gap < -2.5
