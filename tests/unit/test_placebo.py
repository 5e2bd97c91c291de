"""The placebo study against a plain loop: each placebo assignment's p-values equal running the
pipeline's own tests on the placebo-treated panel, one assignment at a time."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from test_did import simulate

from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.inference import cr1, randomization_inference, wild_cluster_bootstrap
from linkseval.inference.randomization import ri_t_test, twfe_ri_t_statistics
from linkseval.placebo import placebo_assignments, placebo_pvalues, placebo_size
from linkseval.study import Settings


def never_treated_panel(n=60, seed=3):
    df = simulate(n=n, seed=seed, cohorts=())
    return panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y", weights="n")


@pytest.mark.parametrize("cohorts", [{2014: 5}, {2014: 3, 2015: 2}])
def test_placebo_pvalues_equal_a_plain_loop(cohorts):
    """One cohort: RI p-values exactly the pipeline's on each placebo panel. Several: the RI
    reference is drawn once for the nominal cohort pattern (each panel's own RI maps the same
    random draws to cohorts in its own order: the same distribution, other draws), so RI
    p-values agree within Monte Carlo error; the rest exactly."""
    p0 = never_treated_panel()
    one = len(cohorts) == 1
    R = 199 if one else 1999
    s = Settings(ri_draws=R, ri_seed=5, bootstrap_seed=7)
    pool = np.arange(p0.n_units)[::2]  # a sub-pool, e.g. the Deep End practices
    got = placebo_pvalues(
        p0, pool, cohorts, s, n_assign=12, seed=9, wild_assignments=4, wild_draws=99
    )
    idx, coh = placebo_assignments(pool, cohorts, 12, 9)
    assert np.isin(idx, pool).all()
    for j in range(12):
        c = np.zeros(p0.n_units, dtype=p0.cohort.dtype)
        c[idx[j]] = coh
        pj = replace(p0, cohort=c)
        fit = ols(twfe_design(pj))
        assert got.estimate[j] == pytest.approx(fit.beta[0], rel=1e-9)
        assert got.CR1[j] == pytest.approx(cr1(fit, 0).p_value, rel=1e-9)
        ri = randomization_inference(pj, n_draws=R, seed=5, ci=False).p_value
        rit = ri_t_test(twfe_ri_t_statistics(pj, seed=5, n_draws=R)).p_value
        for got_p, want in ((got.randomization[j], ri), (got.randomization_t[j], rit)):
            tol = 1e-12 if one else 4 * np.sqrt(max(want * (1 - want), 0.01) / R)
            assert got_p == pytest.approx(want, abs=tol)
        if j < 4:
            w = wild_cluster_bootstrap(twfe_design(pj), 0, n_draws=99, seed=7, ci=False)
            assert got.wild_bootstrap[j] == pytest.approx(w.p_value, abs=1e-12)
        else:
            assert np.isnan(got.wild_bootstrap[j])


@pytest.mark.parametrize(
    ("weights", "cohorts"), [("webb", {2014: 5}), ("rademacher", {2014: 2, 2015: 3})]
)
def test_placebo_wild_pvalues_equal_a_bootstrap_per_assignment(weights, cohorts):
    """The all-assignments-at-once WCR (one set of draws, per-cluster sums) gives exactly the
    p-value of the pipeline's WCR run on each placebo-treated panel, across the 100-assignment
    blocks, on an unbalanced, weighted panel."""
    p0 = never_treated_panel(n=50, seed=11)
    keep = np.random.default_rng(2).random(p0.n_obs) > 0.1  # unbalanced: some years missing
    p0 = p0.subset(keep)
    s = Settings(ri_draws=99, bootstrap_seed=3, bootstrap_weights=weights)
    n = 130
    got = placebo_pvalues(
        p0, np.arange(p0.n_units), cohorts, s, n_assign=n, seed=4, wild_assignments=n,
        wild_draws=199,
    )  # fmt: skip
    idx, coh = placebo_assignments(np.arange(p0.n_units), cohorts, n, 4)
    want = []
    for j in range(n):
        c = np.zeros(p0.n_units, dtype=p0.cohort.dtype)
        c[idx[j]] = coh
        d = twfe_design(replace(p0, cohort=c))
        want.append(
            wild_cluster_bootstrap(d, 0, n_draws=199, seed=3, weights=weights, ci=False).p_value
        )
    np.testing.assert_allclose(got.wild_bootstrap.to_numpy(), want, rtol=0, atol=1e-12)
    assert 0 < np.mean(np.array(want) <= 0.1) < 1  # p-values that vary: the check has teeth


def test_placebo_size_counts_rejections_with_mc_se():
    import pandas as pd

    pv = pd.DataFrame(
        {
            "CR1": [0.01, 0.2, 0.04, 0.5],
            "randomization": [0.3, 0.3, 0.3, 0.05],
            "randomization_t": [0.9] * 4,
            "wild_bootstrap": [0.01, np.nan, np.nan, np.nan],
        }
    )
    out = placebo_size(pv, 0.05).set_index("method")
    assert out.loc["CR1", "rejections"] == 2 and out.loc["CR1", "rate"] == 0.5
    assert out.loc["CR1", "mc_se"] == pytest.approx(np.sqrt(0.25 / 4))
    assert out.loc["randomization inference", "rejections"] == 1  # p = α rejects
    assert out.loc["WCR bootstrap", "n_assignments"] == 1


def test_placebo_ri_size_is_nominal_when_drawn_like_ri():
    """Drawn from the same pool as RI's reassignments, RI-β's placebo size is α by construction
    (exchangeability) — a check that can fail if draws or ranks are wrong."""
    p0 = never_treated_panel(n=80, seed=1)
    s = Settings(ri_draws=999, ri_seed=2)
    pv = placebo_pvalues(
        p0, np.arange(p0.n_units), {2014: 6}, s, n_assign=1000, seed=4, wild_assignments=0
    )
    rate = placebo_size(pv, 0.05).set_index("method").loc["randomization inference", "rate"]
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 1000)


def test_placebo_study_of_an_outcome_uses_the_real_cohort_sizes_and_both_pools():
    from test_analysis import practice_panel

    from linkseval import comparisons
    from linkseval.placebo import placebo_study

    frame = practice_panel(n=150)
    s = Settings(ri_draws=199, placebo={"assignments": 60, "wild_assignments": 5, "wild_draws": 99})
    out = placebo_study(frame, s, "safequest", "workload")
    assert set(out.pool) == {"comparison", "deep_end"}
    assert (out.n_placebo == 7).all()
    links = set(frame.loc[frame.cohort > 0, "practice_code"])
    assert out.loc[out.pool == "comparison", "pool_size"].iloc[
        0
    ] == frame.practice_code.nunique() - len(links)
    # the Deep End pool: the deep_end comparison rule's practices (linkseval.comparisons)
    rule = comparisons.members(frame, {"rule": "deep_end"})
    deep_end = set(frame.loc[rule, "practice_code"])
    assert deep_end and not deep_end & links
    assert out.loc[out.pool == "deep_end", "pool_size"].iloc[0] == len(deep_end)
    cr1 = out[out.method == "CR1"]
    assert (cr1.n_assignments == 60).all() and cr1.rate.between(0, 1).all()
    assert (out.loc[out.method == "WCR bootstrap", "n_assignments"] == 5).all()


def test_scattered_placebo_jobs_gathered_in_any_order_equal_the_single_run(tmp_path):
    """The opt-in scattered placebo study (placebo-chunk / placebo-gather): jobs of 100
    assignments, written to Parquet, gathered in shuffled order, give the single run's table
    bit for bit, with the WCR on the first 150 assignments spanning two jobs."""
    import argparse
    import random

    import pandas as pd
    from test_analysis import practice_panel

    from linkseval import commands, stages
    from linkseval.errors import ConfigError
    from linkseval.scatter import placebo_job_assignments, placebo_n_jobs

    frame = practice_panel(n=150)
    frame = pd.concat([frame, frame.assign(outcome="teamwork", percent=frame.percent * 0.9 + 1)])
    placebo = {"assignments": 250, "wild_assignments": 150, "wild_draws": 99}
    cfg = {"randomization": {"draws": 199}, "placebo": {**placebo, "scatter_assignments": 100}}
    s = Settings.from_config(cfg)
    outcomes = ["teamwork", "workload"]  # table order differs from the frame's
    single = stages.placebo(frame, s, "safequest", outcomes, data_label="SYN")
    n_jobs = placebo_n_jobs(250, 100)
    assert n_jobs == 3 and placebo_job_assignments(250, 100, 2) == range(200, 250)
    settings = json.dumps(cfg)
    panel = tmp_path / "panel.parquet"
    frame.to_parquet(panel)
    paths = []
    for outcome in outcomes:
        for job in range(n_jobs):
            out = tmp_path / f"{outcome}_{job}.parquet"
            ns = dict(panel=str(panel), instrument="safequest", outcome=outcome, chunk=job)
            args = argparse.Namespace(**ns, settings=settings, data_label="SYN", out=str(out))
            commands.cmd_placebo_chunk(args)
            paths.append(str(out))
    random.Random(5).shuffle(paths)
    gathered = tmp_path / "placebo.parquet"
    args = argparse.Namespace(
        chunks=paths,
        instrument="safequest",
        outcome=outcomes,
        settings=settings,
        data_label="SYN",
        out=str(gathered),
        out_csv=None,
    )
    commands.cmd_placebo_gather(args)
    pd.testing.assert_frame_equal(pd.read_parquet(gathered), single, check_exact=True)
    assert list(single.outcome.unique()) == outcomes
    wcr = single[single.method == "WCR bootstrap"]
    assert (wcr.n_assignments == 150).all()
    # a job missing, or made with other settings, is an error naming it
    with pytest.raises(ValueError, match="not all once"):
        stages.placebo_gather(
            [pd.read_parquet(p) for p in paths[1:]], s, "safequest", outcomes, data_label="SYN"
        )
    args.settings = json.dumps({**cfg, "placebo": {**cfg["placebo"], "seed": 7}})
    with pytest.raises(ConfigError, match="placebo job made with"):
        commands.cmd_placebo_gather(args)
    with pytest.raises(ConfigError, match="multiple of 100"):
        placebo_job_assignments(250, 150, 0)
    with pytest.raises(ValueError, match="multiple of 100"):
        placebo_pvalues(
            never_treated_panel(),
            np.arange(60),
            {2014: 3},
            s,
            n_assign=250,
            assignments=range(50, 150),
        )
