"""The estimator protocol and the inference registry: the study runs
comparisons × analysis.estimators × analysis.methods, and a new estimator is one registry line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_analysis import practice_panel

from linkseval.analysis import estimate_outcome
from linkseval.estimators import ESTIMATORS, Fitted, Term, infer
from linkseval.inference import cr1
from linkseval.inference.registry import METHODS, analytic
from linkseval.study import Settings


def small_settings(**kw) -> Settings:
    return Settings(bootstrap_draws=199, ri_draws=199, **kw)


def test_the_study_runs_exactly_the_configured_estimators_and_methods():
    frame = practice_panel()
    s = small_settings(estimators=["twfe", "imputation"], methods=["analytic", "randomization"])
    res = estimate_outcome(frame, s, "safequest", "workload")
    core = res[~res.estimator.isin(["leave_out", "dose"])]
    assert set(core.estimator) == {"twfe", "imputation"}
    assert set(res.method) <= {"CR1", "imputation (BJS analytic)", "randomization inference"}
    assert "WCR bootstrap" not in set(res.method)
    full = estimate_outcome(frame, small_settings(), "safequest", "workload")
    # the same twfe rows as the default study's, method for method
    key = ["comparison", "estimator", "term", "method"]
    a = core[core.estimator == "twfe"].set_index(key)[["estimate", "p_value", "ci_low"]]
    b = full[full.estimator == "twfe"].set_index(key)[["estimate", "p_value", "ci_low"]]
    pd.testing.assert_frame_equal(a, b.loc[a.index])


def test_an_unknown_estimator_or_method_is_one_config_error():
    from linkseval.errors import ConfigError

    frame = practice_panel()
    with pytest.raises(ConfigError, match="unknown estimator 'synth'"):
        estimate_outcome(frame, small_settings(estimators=["synth"]), "safequest", "workload")
    with pytest.raises(ConfigError, match="unknown inference method 'bayes'"):
        estimate_outcome(frame, small_settings(methods=["bayes"]), "safequest", "workload")


class _MeanGap:
    """A toy estimator with no hooks: post-minus-pre mean gap of treated vs control units."""

    name = "mean_gap"

    def applies(self, p, rule):
        return True

    def variants(self, p, s, base_year):
        return [({}, p)]

    def fit(self, p, s, **options):
        g = p.cohort[p.unit]
        tr, post = g > 0, p.time >= np.where(g > 0, g, p.periods[-1])
        gap = (p.y[tr & post].mean() - p.y[tr & ~post].mean()) - (
            p.y[~tr & post].mean() - p.y[~tr & ~post].mean()
        )
        return Fitted(
            "mean_gap", p, [Term("treated_post")], np.array([gap]), np.array([0.5]), "CR1", df=10
        )


def test_a_new_estimator_is_one_registry_line_and_gets_every_method(monkeypatch):
    """Registered, it runs in the study; methods whose hook it lacks say why, the others work."""
    import linkseval.estimators as est
    from linkseval import results

    monkeypatch.setitem(est.ESTIMATORS, "mean_gap", _MeanGap())
    monkeypatch.setitem(results.ESTIMATORS, "mean_gap", "")
    s = small_settings(estimators=["mean_gap"])
    res = estimate_outcome(practice_panel(), s, "safequest", "workload")
    rows = res[res.estimator == "mean_gap"]
    assert len(rows) == len(s.methods) * len(s.comparisons)
    one = rows[rows.comparison == rows.comparison.iloc[0]].set_index("method")
    assert one.loc["CR1", "p_value"] == pytest.approx(
        2 * __import__("scipy").stats.t.sf(abs(one.loc["CR1", "estimate"]) / 0.5, 10)
    )
    for m in ("WCR bootstrap", "randomization inference"):
        assert one.loc[m, "note"].startswith("not applicable: mean_gap has no ")


def test_the_analytic_method_is_cr1_for_the_twfe_fit():
    """The registry's analytic method on TWFE's Fitted equals inference.cr1 on the same OLS fit."""
    from test_did import simulate

    from linkseval.did import panel_from_frame

    p = panel_from_frame(simulate(), unit="unit", time="year", cohort="cohort", outcome="y")
    f = ESTIMATORS["twfe"].fit(p, Settings())
    got = analytic(f, Settings(), family_alpha=0.01)[0]
    want = cr1(f.fit, 0, 0.05, 0.01)
    for a in ("p_value", "ci_low", "ci_high", "ci_low_fw", "ci_high_fw", "statistic"):
        assert getattr(got, a) == pytest.approx(getattr(want, a), rel=1e-12), a
    assert list(METHODS) == ["analytic", "wild_bootstrap", "randomization", "randomization_t"]


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_registered_estimator_gives_a_row_per_term_and_method(name):
    from test_imputation import BASE, panel, staggered

    p = panel(
        staggered(
            n=60,
            seed=1,
            cohorts=((2013, 8),) if name in ("did2x2", "sdid", "sc") else ((2013, 6), (2015, 5)),
        )
    )
    est = ESTIMATORS[name]
    s = small_settings()
    for fields, q in est.variants(p, s, 2012):
        rows = pd.DataFrame(infer(name, q, s, {**BASE, "estimator": name, **fields}))
        terms = rows[rows.term != "pretrend_joint"]
        per_term = terms.groupby(["term", "event_time", "cohort"], dropna=False).method.apply(list)
        assert (per_term.str.len() >= 2).all(), per_term
        assert terms.method.isin(
            [
                "CR1",
                "WCR bootstrap",
                "randomization inference",
                "influence function (analytic)",
                "imputation (BJS analytic)",
                "placebo SE",
            ]
        ).all()


def test_ri_t_is_one_more_registry_method_for_twfe_and_says_why_elsewhere():
    frame = practice_panel()
    s = small_settings(
        estimators=["twfe", "event_study", "imputation"], methods=["analytic", "randomization_t"]
    )
    res = estimate_outcome(frame, s, "safequest", "workload")
    t = res[(res.estimator == "twfe") & (res.method == "randomization inference (t)")]
    assert len(t) == len(s.comparisons) and t.p_value.between(0, 1).all()
    assert (t.ci_low < t.estimate).all() and (t.estimate < t.ci_high).all()
    # the statistic is the CR1 t of the same row
    cr = res[(res.estimator == "twfe") & (res.method == "CR1")].set_index("comparison")
    for r in t.itertuples():
        assert r.statistic == pytest.approx(cr.loc[r.comparison, "statistic"], rel=1e-10)
    es = res[(res.estimator == "event_study") & (res.method == "randomization inference (t)")]
    assert len(es) and es.p_value.between(0, 1).all()  # real rows since the event-study hook
    imp = res[(res.estimator == "imputation") & (res.method == "randomization inference (t)")]
    assert len(imp) and imp.note.str.contains("no studentised reassignment statistic yet").all()
