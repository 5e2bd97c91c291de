"""linkseval.report.practice: a Links practice's own page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkseval.report import practice

NEVER = {"rule": "never_treated"}
DEEP = {"rule": "deep_end"}


def _panel() -> pd.DataFrame:
    rows = []
    spec = {  # code: (cohort, deep_end, percent by year, n by year)
        "11111": (2014, True, [80.0, 82.0, 84.0], [10, 3, 12]),
        "22222": (0, True, [70.0, 71.0, 75.0], [8, 8, 8]),
        "33333": (0, False, [90.0, 88.0, 89.0], [20, 20, 20]),
        "44444": (2014, False, [60.0, 60.0, 60.0], [9, 9, 9]),  # another Links practice
    }
    for outcome in ["workload", "overall"]:
        for code, (cohort, deep, pct, ns) in spec.items():
            for year, p, n in zip([2013, 2014, 2015], pct, ns, strict=True):
                rows.append(
                    dict(instrument="safequest", outcome=outcome, practice_code=code, year=year,
                         n_respondents=n, percent=p, cohort=cohort, deep_end=deep,
                         suppressed=n < 5)
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_practice_table_suppresses_small_years_and_sets_the_comparisons_beside():
    labels = {"workload": "Workload", "overall": "Overall"}
    comps = {"All other practices": NEVER, "Other Deep End": DEEP}
    t = practice.practice_table(_panel(), "11111", comps, labels, 5)
    assert list(t.columns) == [
        "Outcome", "Year", "respondents", "This practice (%)",
        "All other practices (mean %)", "Other Deep End (mean %)",
    ]  # fmt: skip
    assert t["Outcome"].tolist() == ["Workload"] * 3 + ["Overall"] * 3  # codebook, then year
    row14 = t.iloc[1]
    assert row14["This practice (%)"] == "suppressed" and row14["respondents"] == "<5"
    assert "82" not in " ".join(row14.astype(str))  # the suppressed value is nowhere
    row13 = t.iloc[0]
    assert row13["This practice (%)"] == "80.0" and row13["respondents"] == "10"
    assert row13["All other practices (mean %)"] == "80.0"  # (70 + 90) / 2: never-treated only
    assert row13["Other Deep End (mean %)"] == "70.0"  # 22222 alone
    # a comparison practice's suppressed year is left out of the mean, as in theme_means
    p = _panel()
    p.loc[(p.practice_code == "33333") & (p.year == 2013), "suppressed"] = True
    t2 = practice.practice_table(p, "11111", comps, labels, 5)
    assert t2.iloc[0]["All other practices (mean %)"] == "70.0"


def test_page_comparisons_are_the_outcome_free_never_treated_groups_main_first():
    from linkseval.study import Settings

    s = Settings(
        main_comparison="m",
        comparisons={
            "m": {"label": "Matched", "rule": "matched"},  # depends on the outcome: left out
            "all": {"label": "All incl. Links", "rule": "all_including_treated"},
            "de": {"label": "Deep End", "rule": "deep_end"},
            "other": {"label": "All other", "rule": "never_treated"},
        },
    )
    assert list(practice.page_comparisons(s)) == ["Deep End", "All other"]
    s2 = Settings(
        main_comparison="other",
        comparisons={
            "de": {"label": "Deep End", "rule": "deep_end"},
            "other": {"label": "All other", "rule": "never_treated"},
        },
    )
    assert list(practice.page_comparisons(s2)) == ["All other", "Deep End"]  # main first


def test_year_to_year_change_is_the_90th_percentile_of_absolute_changes():
    got = practice.year_to_year_change(_panel(), NEVER, "workload")
    # never-treated changes: 22222 +1, +4; 33333 -2, +1 -> |.| = 1, 4, 2, 1
    assert got == pytest.approx(np.quantile([1, 4, 2, 1], 0.9))
    # a change across a suppressed year is not a change between consecutive surveys
    p = _panel()
    p.loc[(p.practice_code == "22222") & (p.year == 2014), "suppressed"] = True
    assert practice.year_to_year_change(p, NEVER, "workload") == pytest.approx(
        np.quantile([2, 1], 0.9)
    )


def _estimates() -> pd.DataFrame:
    base = dict(comparison="scotland_other", term="treated_post", method="CR1")
    return pd.DataFrame(
        [
            dict(base, outcome="workload", estimator="twfe", variant="", estimate=1.25),
            dict(base, outcome="overall", estimator="twfe", variant="", estimate=-0.5),
            dict(base, outcome="workload", estimator="leave_out", variant="11111", estimate=0.75),
            dict(base, outcome="workload", estimator="leave_out", variant="44444", estimate=9.0),
            dict(base, outcome="workload", estimator="twfe", variant="", estimate=7.0,
                 method="WCR bootstrap"),
        ]
    )  # fmt: skip


def test_leave_out_table_reads_this_practices_rows_and_says_what_is_not_shown():
    t = practice.leave_out_table(_estimates(), "11111", "scotland_other", {"workload": "Workload"})
    assert t.to_dict("records") == [
        {"Outcome": "Workload", "All Links practices (points)": "+1.2",
         "Without this practice (points)": "+0.8"},
        {"Outcome": "overall", "All Links practices (points)": "-0.5",
         "Without this practice (points)": "not shown"},
    ]  # fmt: skip


def test_practice_statement_escapes_the_code_and_states_the_pooled_design():
    html = practice.practice_statement("<b>1</b>", 7, 3.25, "Overall safety climate", 5)
    assert "&lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html
    assert "the 7 Links practices together" in html and "more than 3.2 points" in html
    assert "fewer than 5 respondents" in html
    assert "more than" not in practice.practice_statement("1", 7, float("nan"), "Overall", 5)
