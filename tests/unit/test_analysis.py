"""The study layer: comparison groups, tidy output, multiplicity, the generic command."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_did import simulate

from linkseval.analysis import (
    STATISTICS,
    TIDY_COLUMNS,
    Settings,
    adjust_family,
    comparison_frame,
    did_generic,
    estimate_outcome,
    matched_controls,
)
from linkseval.errors import ConfigError

FAST = Settings(bootstrap_draws=199, ri_draws=199)


def practice_panel(n=200, seed=0, effect=2.0, years=(2013, 2014, 2015), cohort_of=None):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a = rng.normal(0, 3)
        coh = (2014 if i < 7 else 0) if cohort_of is None else cohort_of(i)
        for t in years:
            k = int(rng.integers(3, 25))
            d = float(coh > 0 and t >= coh)
            rows.append(
                dict(
                    instrument="safequest",
                    outcome="workload",
                    practice_code=f"{i:05d}",
                    year=t,
                    n_respondents=k,
                    mean=np.nan,
                    percent=86
                    + a
                    + 0.5 * (t - years[0])
                    + effect * d
                    + rng.normal(0, 4 / np.sqrt(k)),
                    suppressed=k < 5,
                    health_board="b",
                    deep_end=i < 40,
                    cohort=coh,
                    list_size=int(rng.integers(1000, 12000)),
                    simd15_share=rng.random(),
                    clp_absent_months=0,
                )
            )
    return pd.DataFrame(rows)


def test_comparison_groups():
    df = practice_panel()
    df["baseline_outcome"] = df.groupby("practice_code")["percent"].transform("first")
    other = comparison_frame(df, {"rule": "never_treated"}, 2013)
    assert other["unit"].nunique() == 200
    de = comparison_frame(df, {"rule": "deep_end"}, 2013)
    assert de["unit"].nunique() == 40  # 7 Links (all Deep End here) + 33 others
    allsc = comparison_frame(df, {"rule": "all_including_treated"}, 2013)
    assert allsc["unit"].nunique() == 207 and allsc["cluster"].nunique() == 200
    codes = matched_controls(df, 2013, 3, ["baseline_outcome", "simd15_share", "list_size"])
    assert 3 <= len(codes) <= 21 and all(int(c) >= 7 for c in codes)


def test_estimate_outcome_is_tidy_and_recovers_the_effect():
    df = practice_panel(effect=2.0)
    s = Settings(
        bootstrap_draws=199, ri_draws=199, comparisons={"scotland_other": {"rule": "never_treated"}}
    )
    res = estimate_outcome(df, s, "safequest", "workload")
    assert list(res.columns) == TIDY_COLUMNS
    tw = res[(res.estimator == "twfe")].set_index("method")
    assert set(tw.index) == {
        "CR1", "WCR bootstrap", "randomization inference", "randomization inference (t)"
    }  # fmt: skip
    assert tw["estimate"].nunique() == 1
    est = tw.loc["CR1", "estimate"]
    assert tw.loc["CR1", "ci_low"] < 2.0 < tw.loc["CR1", "ci_high"], est
    assert {"did2x2", "event_study", "dose"} <= set(res.estimator)
    two = res[res.estimator == "did2x2"]
    assert set(two.variant) == {"2013-2014", "2013-2015"} and set(two.base_period) == {2013}
    assert set(two.period) == {2014, 2015}
    assert set(res.loc[res.estimator == "dose", "variant"]) == {"clp_presence"}
    assert (res.estimator == "leave_out").sum() == 7 * 4  # CR1, WCR, RI and RI-t each
    assert set(res.loc[res.estimator == "event_study", "term"]) == {"event", "pretrend_joint"}
    ev = res[res.term == "event"]
    assert set(ev.event_time) == {0, 1} and str(ev.event_time.dtype) == "Int64"
    pre = res[res.term == "pretrend_joint"]
    assert pre["note"].str.contains("fewer than 2 pre-programme years").all()


def test_family_wise_intervals_on_the_static_twfe_of_family_outcomes_only():
    """Bonferroni over the modelled family: α/k with k = the family's modelled outcomes; the
    interval is the same method's interval at that level, on static TWFE rows only."""
    df = practice_panel(effect=2.0)
    cfg = {
        "outcomes": {"safequest": ["workload", "teamwork", "overall"], "care": ["care_total"]},
        "family": ["workload", "teamwork", "leadership", "workload"],  # leadership not modelled
        "bootstrap": {"draws": 199},
        "randomization": {"draws": 199},
        "comparisons": {"scotland_other": {"rule": "never_treated"}},
    }
    s = Settings.from_config(cfg)
    assert s.family == ["workload", "teamwork"]
    assert s.family_alpha("workload") == pytest.approx(0.025)
    assert s.family_alpha("overall") is None
    res = estimate_outcome(df, s, "safequest", "workload")
    tw = res[res.estimator == "twfe"].set_index("method")
    assert (tw["ci_low_fw"] < tw["ci_low"]).all() and (tw["ci_high"] < tw["ci_high_fw"]).all()
    assert res.loc[res.estimator != "twfe", ["ci_low_fw", "ci_high_fw"]].isna().all().all()
    # the same method at level 1 - α/k gives the family-wise interval as its ordinary CI
    at_k = estimate_outcome(
        df, Settings.from_config({**cfg, "alpha": 0.025}), "safequest", "workload"
    )
    at_k = at_k[at_k.estimator == "twfe"].set_index("method")
    np.testing.assert_allclose(tw["ci_low_fw"], at_k["ci_low"], rtol=1e-12)
    np.testing.assert_allclose(tw["ci_high_fw"], at_k["ci_high"], rtol=1e-12)
    other = estimate_outcome(df.assign(outcome="overall"), s, "safequest", "overall")
    assert other[["ci_low_fw", "ci_high_fw"]].isna().all().all()


def test_staggered_adoption_end_to_end():
    """Cohorts 2014 and 2016 over 2011-2016: TWFE, event study with a pre-trend test and
    HonestDiD bounds (with the staggered caveat), Callaway-Sant'Anna next to TWFE, no 2x2; CS
    not on the comparison that includes the treated practices."""
    df = practice_panel(
        n=150,
        seed=3,
        effect=2.0,
        years=(2011, 2012, 2013, 2014, 2015, 2016),
        cohort_of=lambda i: 2014 if i < 7 else (2016 if i < 13 else 0),
    )
    s = Settings(
        bootstrap_draws=199,
        ri_draws=199,
        comparisons={
            "scotland_other": {"rule": "never_treated"},
            "scotland_all": {"rule": "all_including_treated"},
        },
        honest={"smoothness_m": [0.5], "relative_mbar": [1.0], "grid_points": 20},
    )
    res = estimate_outcome(df, s, "safequest", "workload")
    main = res[res.comparison == "scotland_other"]
    assert {"twfe", "event_study", "callaway_santanna", "honestdid"} <= set(main.estimator)
    assert "did2x2" not in set(res.estimator)
    cs = main[(main.estimator == "callaway_santanna") & (main.term == "simple")]
    assert set(cs.method) == {
        "influence function (analytic)",
        "WCR bootstrap",
        "randomization inference",
        "randomization inference (t)",
    }
    for m in ("WCR bootstrap", "randomization inference", "randomization inference (t)"):
        r = cs[cs.method == m].iloc[0]
        assert r["ci_low"] < 2.0 < r["ci_high"] and 0 <= r["p_value"] < 0.05, m
    every = main[main.estimator == "callaway_santanna"]
    by_term = ["term", "cohort", "period", "event_time"]
    assert every.groupby(by_term, dropna=False)["method"].nunique().eq(4).all()  # side by side
    att = every[every.term == "att"]
    assert (att.event_time == att.period - att.cohort).all() and set(att.cohort) == {2014, 2016}
    analytic = cs[cs.method == "influence function (analytic)"].iloc[0]
    assert analytic["ci_low"] < 2.0 < analytic["ci_high"]
    assert "Goodman-Bacon" in analytic["note"]
    pre = main[main.term == "pretrend_joint"].iloc[0]
    # event times -5..-2 for the 2016 cohort (reference -1): 4 pre-programme coefficients
    assert 0 < pre["p_value"] <= 1 and pre["note"].startswith("H0: all 4")
    es = main[main.estimator == "event_study"]
    ri = es[es.method == "randomization inference"]
    assert set(ri.term) == set(es.term)  # every event time and the joint pre-trend test
    assert ri["p_value"].between(0, 1, inclusive="right").all() and ri["ci_low"].isna().all()
    honest = main[main.estimator == "honestdid"]
    assert set(honest.term) == {"mean_post"}
    assert {("original", None), ("smoothness", 0.5), ("relative_magnitude", 1.0)} <= {
        (v, None if pd.isna(b) else b) for v, b in zip(honest.variant, honest.bound, strict=True)
    }
    assert honest["note"].str.contains("Callaway-Sant'Anna dynamic effects on a universal").all()
    assert (honest["ci_low"] <= honest["ci_high"]).all()
    # its input is CS (post dynamic effects are the same on either base), not the TWFE event study
    dyn = every[(every.term == "dynamic") & (every.method == "WCR bootstrap")]
    post = dyn[dyn.event_time >= 0]
    orig = honest[honest.variant == "original"].iloc[0]
    assert orig["estimate"] == pytest.approx(post["estimate"].mean(), abs=1e-10)
    assert (orig["ci_low"] + orig["ci_high"]) / 2 == pytest.approx(orig["estimate"], abs=1e-8)
    twfe_post = es[(es.term == "event") & (es.event_time >= 0) & (es.method == "CR1")]
    assert abs(twfe_post["estimate"].mean() - orig["estimate"]) > 1e-6
    other = res[res.comparison == "scotland_all"]
    assert "callaway_santanna" not in set(other.estimator) and "twfe" in set(other.estimator)


def test_one_job_per_comparison_gives_the_same_rows():
    """The scattered grid (one job per comparison group) row-binds to exactly the table of the
    all-comparisons job: same seeds, same order."""
    df = practice_panel(effect=1.0)
    s = Settings(
        bootstrap_draws=199,
        ri_draws=199,
        comparisons={
            "scotland_other": {"rule": "never_treated"},
            "deep_end_other": {"rule": "deep_end"},
            "scotland_all": {"rule": "all_including_treated"},
        },
    )
    whole = estimate_outcome(df, s, "safequest", "workload")
    parts = [estimate_outcome(df, s, "safequest", "workload", [c]) for c in s.comparisons]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    assert whole["comparison"].nunique() == 3
    with pytest.raises(ConfigError, match="unknown comparison"):
        estimate_outcome(df, s, "safequest", "workload", ["nowhere"])


def test_adjust_family_only_within_family():
    """Holm/BH across the family's outcomes, separately for every estimate (variants apart)."""
    from linkseval.results import frame, make_row

    rows = []
    for variant, scale in (("", 1.0), ("00001", 2.0)):
        for o, p in [("a", 0.01), ("b", 0.02), ("c", 0.04), ("overall", 0.01)]:
            estimator = "leave_out" if variant else "twfe"
            meta = dict(instrument="s", outcome=o, comparison="x", estimator=estimator)
            rows.append(
                make_row(
                    **meta, variant=variant, term="treated_post", method="CR1", p_value=p * scale
                )
            )
    out = adjust_family(frame(rows), ["a", "b", "c"])
    tw = out[out.estimator == "twfe"].set_index("outcome")
    assert tw.loc["a", "p_holm"] == pytest.approx(0.03)
    assert tw.loc["b", "p_holm"] == pytest.approx(0.04)
    assert tw.loc["c", "p_bh"] == pytest.approx(0.04)
    assert np.isnan(tw.loc["overall", "p_holm"])
    lo = out[out.estimator == "leave_out"].set_index("outcome")
    assert lo.loc["a", "p_holm"] == pytest.approx(0.06)  # its own family of three


def test_generic_one_treated_unit_says_not_applicable():
    """One treated unit: no cluster-robust, bootstrap or analytic CS inference and no CR1 SE or
    pre-trend F; RI (on the coefficient and on t: a Fisher test is exact with any statistic)
    still applies, and its CI is said to be unbounded rather than left blank."""
    df = simulate(n=12, years=(2011, 2012, 2013, 2014, 2015), cohorts=((2014, 1),), missing=0.0)
    kw = dict(unit="unit", time="year", cohort="cohort", outcome="y", settings=FAST)
    res = did_generic(df, **kw)
    assert res["std_error"].isna().all()
    by = res.set_index("method")
    for m in ("CR1", "WCR bootstrap"):
        assert np.isnan(by.loc[m, "p_value"]) and "not applicable" in by.loc[m, "note"]
    ri = by.loc["randomization inference"]
    assert 0 < ri["p_value"] <= 1 and not np.isnan(ri["estimate"])
    # 12 possible assignments: p >= 1/12 > 0.05 for every null value, so no finite bound
    assert np.isinf(ri["ci_low"]) and np.isinf(ri["ci_high"]) and "CI unbounded" in ri["note"]
    es = did_generic(df, estimator="event_study", **kw)
    pre = es[es.term == "pretrend_joint"].iloc[0]
    assert np.isnan(pre["p_value"]) and pre["note"].startswith("not applicable")
    ri_rows = es.method.isin(["randomization inference", "randomization inference (t)"])
    assert es["std_error"].isna().all() and es.loc[~ri_rows, "p_value"].isna().all()
    # RI needs no clusters: a p-value (>= 1/12) for every event time and the joint pre-trend test
    assert set(es.loc[ri_rows, "term"]) == set(es.term)
    assert (es.loc[ri_rows, "p_value"] >= 1 / 12 - 1e-9).all()
    cs = did_generic(df, estimator="cs", **kw)
    analytic = cs[cs.method == "influence function (analytic)"]
    assert analytic["note"].str.startswith("not applicable").all()
    assert analytic[["std_error", "p_value", "ci_low", "ci_high"]].isna().all().all()
    assert analytic["estimate"].notna().all()
    # every CS term: WCR not applicable with one treated cluster, RI a p-value >= 1/12
    wcr = cs[cs.method == "WCR bootstrap"]
    ri = cs[cs.method == "randomization inference"]
    assert set(wcr.term) == set(ri.term) == set(analytic.term)
    assert wcr["note"].str.startswith("not applicable").all() and wcr["p_value"].isna().all()
    assert (ri["p_value"] >= 1 / 12 - 1e-9).all()


def test_generic_cs_simple_att_equals_a_hand_computation():
    """--estimator cs: group-time ATTs (never-treated controls, base g-1) averaged over the
    post cells weighted by cohort size, computed here with pandas alone."""
    df = simulate(n=120, years=(2011, 2012, 2013, 2014, 2015), cohorts=((2013, 9), (2015, 6)))
    df = df.groupby("unit").filter(lambda g: len(g) == 5)  # balanced, as the hand formula needs
    res = did_generic(
        df, unit="unit", time="year", cohort="cohort", outcome="y", estimator="cs", settings=FAST
    )
    wide = df.pivot(index="unit", columns="year", values="y")
    coh = df.groupby("unit")["cohort"].first()
    atts, weights = [], []
    for g in (2013, 2015):
        for t in range(g, 2016):
            d = wide[t] - wide[g - 1]
            atts.append(d[coh == g].mean() - d[coh == 0].mean())
            weights.append((coh == g).sum())
    simple = np.average(atts, weights=weights)
    row = res[(res.term == "simple") & (res.method == "influence function (analytic)")].iloc[0]
    assert row["estimate"] == pytest.approx(simple, abs=1e-10)
    assert row["ci_low"] < row["estimate"] < row["ci_high"] and row["std_error"] > 0
    ri = res[(res.term == "simple") & (res.method == "randomization inference")].iloc[0]
    assert ri["estimate"] == pytest.approx(simple, abs=1e-10) and 0 < ri["p_value"] <= 1
    with pytest.raises(ConfigError, match="never-treated"):
        did_generic(
            df[df.cohort > 0],
            unit="unit",
            time="year",
            cohort="cohort",
            outcome="y",
            estimator="cs",
            settings=FAST,
        )


def test_generic_command_writes_json(tmp_path):
    df = simulate(n=40, years=(2011, 2012, 2013, 2014, 2015), seed=4)
    df.loc[df.cohort == 0, "cohort"] = np.nan  # blank = never treated
    panel = tmp_path / "my panel.csv"
    df.to_csv(panel, index=False)
    out = tmp_path / "res.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "linkseval",
            "did",
            "--panel",
            str(panel),
            "--unit",
            "unit",
            "--time",
            "year",
            "--cohort",
            "cohort",
            "--outcome",
            "y",
            "--estimator",
            "event_study",
            "--draws",
            "199",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert {r["term"] for r in doc["results"]} == {"event", "pretrend_joint"}
    events = {r["event_time"] for r in doc["results"] if r["term"] == "event"}
    assert events == {-3, -2, 0, 1}
    pre = next(r for r in doc["results"] if r["term"] == "pretrend_joint")
    assert 0 <= pre["p_value"] <= 1 and pre["note"].startswith("H0: all 2")
    # the interface's --estimator cs (Callaway-Sant'Anna), same file, in-process
    from linkseval.cli import main

    args = ["did", "--panel", str(panel), "--unit", "unit", "--time", "year"]
    args += ["--cohort", "cohort", "--outcome", "y", "--estimator", "cs", "--draws", "199"]
    main([*args, "--out", str(out)])
    doc = json.loads(out.read_text())
    assert {r["estimator"] for r in doc["results"]} == {"callaway_santanna"}
    terms = {(r["term"], r["cohort"], r["period"], r["event_time"]) for r in doc["results"]}
    assert {("simple", None, None, None), ("dynamic", None, None, 0)} <= terms
    assert ("att", 2014, 2014, 0) in terms


def test_generic_command_names_a_missing_column(tmp_path):
    panel = tmp_path / "p.csv"
    simulate(n=10).to_csv(panel, index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "linkseval",
            "did",
            "--panel",
            str(panel),
            "--unit",
            "unit",
            "--time",
            "year",
            "--cohort",
            "first_treat",
            "--outcome",
            "y",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "no column 'first_treat'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_leave_one_out_shows_no_numbers_for_a_practice_with_suppressed_cells():
    """Full minus leave-one-out would reveal the left-out practice's own change: rows for a
    Links practice with a practice-year below the minimum keep their counts but no numbers."""
    frame = practice_panel()
    frame["suppressed"] = False
    frame.loc[(frame["practice_code"] == "00002") & (frame["year"] == 2015), "suppressed"] = True
    frame.loc[frame["practice_code"] == "00150", "suppressed"] = True  # not Links: no effect
    s = Settings(
        bootstrap_draws=199,
        ri_draws=199,
        comparisons={"scotland_other": {"rule": "never_treated"}},
        dose=False,
    )
    out = estimate_outcome(frame, s, "safequest", "workload")
    lo = out[out["estimator"] == "leave_out"]
    assert set(lo["variant"]) == {f"{i:05d}" for i in range(7)}
    hidden = lo[lo["variant"] == "00002"]
    assert len(hidden) == len(s.methods) and hidden[STATISTICS].isna().all().all()
    assert hidden["note"].str.startswith("not shown: the left-out practice").all()
    assert (hidden["n_treated"] == 6).all()
    shown = lo[lo["variant"] != "00002"]
    assert shown["estimate"].notna().all() and shown["p_value"].notna().all()
    twfe = out[out["estimator"] == "twfe"]
    assert twfe["estimate"].notna().all()


def test_callaway_santanna_options_reach_the_pipeline_and_the_dr_variant():
    """analysis.callaway_santanna: control group, aggregations and the uniform band go to the
    CS fit; covariates add a doubly robust variant 'dr' (analytic SE only) on the panel with
    those columns; both equal linkseval.staggered.callaway_santanna called directly."""
    from linkseval.analysis import comparison_frame, comparison_panel, outcome_frame
    from linkseval.staggered import callaway_santanna

    df = practice_panel(n=120, seed=5, years=(2011, 2012, 2013, 2014, 2015, 2016),
                        cohort_of=lambda i: 2014 if i < 7 else (2016 if i < 13 else 0))  # fmt: skip
    cs = {"control_group": "not_yet", "aggregations": ["simple", "group", "group_overall"],
          "band_draws": 199, "covariates": ["simd15_share", "list_size"]}  # fmt: skip
    s = Settings(methods=["analytic", "wild_bootstrap"], bootstrap_draws=199,
                 estimators=["twfe", "callaway_santanna"], leave_one_out=False,
                 callaway_santanna=cs)  # fmt: skip
    res = estimate_outcome(df, s, "safequest", "workload")
    main = res[(res.comparison == s.main_comparison) & (res.estimator == "callaway_santanna")]
    frame, base = outcome_frame(df, s, "workload")
    cf = comparison_frame(frame, s.main, base)
    p = comparison_panel(cf, s)
    want = callaway_santanna(p, alpha=s.alpha, control_group="not_yet",
                             aggregations=("simple", "group", "group_overall"), cband=True,
                             biters=199, seed=s.bootstrap_seed)  # fmt: skip
    plain = main[(main.variant.fillna("") == "") & (main.method == "influence function (analytic)")]
    assert set(plain.term) == {"att", "simple", "group", "group_overall"}
    agg = want[want.kind != "att"].set_index(["kind", "cohort"], drop=False)
    for _, r in plain[plain.term != "att"].iterrows():
        w = agg.loc[(r.term, r.cohort if pd.notna(r.cohort) else np.nan)]
        w = w.iloc[0] if isinstance(w, pd.DataFrame) else w
        assert (r.estimate, r.std_error) == pytest.approx((w.estimate, w.std_error), rel=1e-12)
    assert main.loc[main.variant.fillna("") == "", "method"].nunique() == 2  # WCR applies
    q = comparison_panel(cf, s, adjusted=True)
    assert q.covariates is not None and q.covariates.shape[1] == 2
    dr = callaway_santanna(q, alpha=s.alpha, control_group="not_yet", covariates=q.covariates,
                           aggregations=("simple", "group", "group_overall"))  # fmt: skip
    got = main[(main.variant == "dr") & (main.term == "simple")]
    analytic = got[got.method == "influence function (analytic)"].iloc[0]
    ref = dr[dr.kind == "simple"].iloc[0]
    assert (analytic.estimate, analytic.std_error) == pytest.approx(
        (ref.estimate, ref.std_error), rel=1e-12
    )
    wcr = got[got.method == "WCR bootstrap"].iloc[0]
    assert not wcr.applicable and wcr.note.startswith("not applicable")
    assert analytic.estimate != plain[plain.term == "simple"].estimate.iloc[0]
