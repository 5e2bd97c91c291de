"""TWFE weights (de Chaisemartin & D'Haultfœuille 2020) against R TwoWayFEWeights and the
decomposition β = Σ w Δ they define."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_did import simulate

from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.twfe_weights import twfe_weights

# Vella & Verbeek (1998) wage panel, as shipped by R TwoWayFEWeights for its own test:
# github.com/chaisemartinPackages/twowayfeweights @ 74fb0157, wagepan_twfeweights.csv (MIT
# licence), columns nr, year, lwage, union, educ kept
WAGEPAN = Path(__file__).resolve().parents[1] / "data" / "wagepan_twfeweights.csv"
WAGEPAN_SHA256 = "ef3fe64234bc266c3bf42296c3dbe9ab44a9e5e85769f4238e61d44bd8f4fc86"


def test_wagepan_equals_r_twowayfeweights_fetr():
    """R/inst/tinytest/test_wagepan.R's known feTR values (R's tolerance 1e-4)."""
    assert hashlib.sha256(WAGEPAN.read_bytes()).hexdigest() == WAGEPAN_SHA256
    df = pd.read_csv(WAGEPAN).assign(cohort=0)
    p = panel_from_frame(df, unit="nr", time="year", cohort="cohort", outcome="lwage")
    res = twfe_weights(p, treatment=df.sort_values(["nr", "year"])["union"].to_numpy())
    assert res.n_positive == 820 and res.n_negative == 147
    assert res.n_treated_cells == 1016
    assert res.sum_positive == pytest.approx(1.010529, abs=1e-6)
    assert res.sum_negative == pytest.approx(-0.01052899, abs=1e-8)
    # R read the .dta (full doubles); the CSV's lwage has 15 significant digits
    assert res.beta == pytest.approx(0.10662746641838491, rel=1e-7)
    assert res.sigma_fe == pytest.approx(0.0968691, abs=1e-6)
    assert res.sigma_sign == pytest.approx(3.175859, abs=1e-5)


@pytest.mark.parametrize("weighted", [False, True])
def test_beta_is_the_weighted_sum_of_heterogeneous_effects(weighted):
    """Theorem 1: with no noise and parallel trends, TWFE's β equals Σ w_it Δ_it exactly for
    any effects Δ; staggered cohorts give negative weights to early cohorts' late years."""
    df = simulate(n=60, years=(2012, 2013, 2014, 2015, 2016), cohorts=((2013, 8), (2015, 8)))
    rng = np.random.default_rng(4)
    unit_fe = {u: rng.normal() for u in df.unit.unique()}
    year_fe = {t: rng.normal() for t in df.year.unique()}
    d = (df.cohort > 0) & (df.year >= df.cohort)
    delta = np.where(d, 1 + 2 * (df.year - df.cohort) + rng.normal(0, 0.5, len(df)), 0.0)
    df["y"] = df.unit.map(unit_fe) + df.year.map(year_fe) + delta
    df["delta"] = delta
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y",
                         weights="n" if weighted else None)  # fmt: skip
    res = twfe_weights(p)
    assert res.beta == pytest.approx(ols(twfe_design(p)).beta[0], rel=1e-10)
    cells = res.cells.merge(
        df.rename(columns={"year": "period"})[["unit", "period", "delta"]], on=["unit", "period"]
    )
    assert len(cells) == d.sum() and cells.weight.sum() == pytest.approx(1.0, abs=1e-12)
    assert (cells.weight * cells.delta).sum() == pytest.approx(res.beta, rel=1e-10)
    assert res.n_negative > 0 and res.sum_negative < 0  # early cohort, late years
    assert cells.loc[cells.weight < 0, "cohort"].eq(2013).all()
    by = res.by_cohort_period()
    assert by.weight.sum() == pytest.approx(1.0) and by.n_units.sum() == len(cells)


def test_one_cohort_balanced_has_equal_positive_weights():
    """One start date, a balanced panel and no weights: every treated practice-year weighs
    1/M (no negative weight, so no sign-reversal measure)."""
    df = simulate(n=30, years=(2013, 2014, 2015), cohorts=((2014, 5),))
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    res = twfe_weights(p)
    assert res.n_negative == 0 and np.isnan(res.sigma_sign)
    assert np.allclose(res.cells.weight, 1 / len(res.cells), atol=1e-12)
