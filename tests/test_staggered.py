"""Callaway-Sant'Anna against a direct pandas computation and TWFE special cases."""

import numpy as np
import pandas as pd
import pytest
from test_did import simulate

from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.staggered import callaway_santanna, cs_simple_ri


def _by_hand(df: pd.DataFrame, g: int, t: int) -> float:
    base = g - 1 if t >= g else t - 1
    wide = df.pivot(index="unit", columns="year", values="y")
    coh = df.groupby("unit")["cohort"].first()
    d = (wide[t] - wide[base]).dropna()
    return d[coh[d.index] == g].mean() - d[coh[d.index] == 0].mean()


def test_group_time_atts_match_a_pandas_computation():
    df = simulate(
        n=80,
        years=tuple(range(2012, 2020)),
        cohorts=((2014, 6), (2018, 5), (2019, 5)),
        seed=3,
        missing=0.1,
    )
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    res = callaway_santanna(p).set_index("term")
    sub = df[df.unit.isin(p.unit_labels)]
    for g in (2014, 2018, 2019):
        for t in range(2013, 2020):
            term = f"att[{g},{t}]"
            assert res.loc[term, "estimate"] == pytest.approx(_by_hand(sub, g, t), abs=1e-10)
    # simple aggregate: cohort-size weighted mean of the post cells
    sizes = {2014: 6, 2018: 5, 2019: 5}
    post = [(g, t) for g in sizes for t in range(g, 2020)]
    w = np.array([sizes[g] for g, _ in post], dtype=float)
    atts = np.array([res.loc[f"att[{g},{t}]", "estimate"] for g, t in post])
    assert res.loc["simple", "estimate"] == pytest.approx(w @ atts / w.sum())


def test_one_cohort_one_pre_period_balanced_equals_twfe():
    df = simulate(n=60, seed=8, missing=0.0)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    cs = callaway_santanna(p).set_index("term")
    assert cs.loc["simple", "estimate"] == pytest.approx(ols(twfe_design(p)).beta[0], abs=1e-10)


def test_cell_standard_error_is_the_two_sample_formula():
    df = simulate(n=50, seed=2, missing=0.0)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    res = callaway_santanna(p).set_index("term")
    wide = df.pivot(index="unit", columns="year", values="y")
    coh = df.groupby("unit")["cohort"].first()
    d = wide[2015] - wide[2013]
    d1, d0 = d[coh == 2014], d[coh == 0]
    var = ((d1 - d1.mean()) ** 2).sum() / len(d1) ** 2 + ((d0 - d0.mean()) ** 2).sum() / len(
        d0
    ) ** 2
    G = len(d)
    assert res.loc["att[2014,2015]", "std_error"] == pytest.approx(np.sqrt(G / (G - 1) * var))


def test_ri_for_the_simple_aggregate_is_calibrated_under_the_null():
    """Under no effect, RI p-values are ~uniform: share below 0.1 close to 0.1 over datasets."""
    ps = []
    for seed in range(40):
        df = simulate(
            n=40,
            years=(2012, 2013, 2014, 2015),
            cohorts=((2014, 4), (2015, 3)),
            effect=0.0,
            seed=100 + seed,
            missing=0.0,
        )
        p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
        ps.append(cs_simple_ri(p, n_draws=199, seed=seed).p_value)
    assert 0.0 <= np.mean(np.array(ps) < 0.1) <= 0.3
    assert 0.3 < np.mean(ps) < 0.7
