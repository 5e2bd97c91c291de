"""The report's descriptive comparison (Figures 1-2) against hand-computed numbers and a
plain-Python recomputation."""

from __future__ import annotations

import math
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings

from linkseval.data.register import read_register
from linkseval.data.score import practice_year_panel
from linkseval.report.descriptive import (
    comparison_groups,
    group_labels,
    group_masks,
    groups,
    percent_change,
    report_groups,
    theme_means,
)
from linkseval.study import Settings

# the groups are the study's comparisons (the project config's; "matched" has no one group)
CONFIG = yaml.safe_load((Path(__file__).parents[2] / "config/config.yaml").read_text())
COMPARISONS = Settings.from_config(CONFIG["analysis"]).comparisons
GROUPS = group_labels(COMPARISONS)
RULE = {"links": "treated", **{k: c.rule for k, c in groups(COMPARISONS).items()}}

MEANS_COLUMNS = [
    "instrument",
    "outcome",
    "year",
    "percent",
    "practices",
    "respondents",
    "group",
    "group_label",
    "rule",
]
CHANGE_COLUMNS = MEANS_COLUMNS + ["percent_baseline", "change_points", "change_percent"]

PANEL_COLUMNS = [
    "instrument",
    "outcome",
    "practice_code",
    "year",
    "n_respondents",
    "percent",
    "suppressed",
    "deep_end",
    "cohort",
]
PANEL_TYPES = {
    "year": int,
    "n_respondents": int,
    "percent": float,
    "suppressed": bool,
    "deep_end": bool,
    "cohort": int,
}

# practice -> (cohort, deep_end): two Links practices (one Deep End), two non-Links Deep End
# practices, one other practice, and a non-Links Deep End practice that is always too small
PRACTICES = {
    "L1": (2014, True),
    "L2": (2015, False),
    "D1": (0, True),
    "D2": (0, True),
    "O1": (0, False),
    "S1": (0, True),
}


def _panel(rows, practices=PRACTICES, min_respondents=5) -> pd.DataFrame:
    """A practice-year panel from (instrument, outcome, practice, year, n_respondents, percent)."""
    recs = []
    for inst, outcome, code, year, n, pct in rows:
        cohort, deep_end = practices[code]
        recs.append(
            {
                "instrument": inst,
                "outcome": outcome,
                "practice_code": code,
                "year": year,
                "n_respondents": n,
                "percent": pct,
                "suppressed": n < min_respondents,
                "deep_end": deep_end,
                "cohort": cohort,
            }
        )
    # typed as practice_year_panel types them, so an empty panel still has a bool mask
    return pd.DataFrame(recs, columns=PANEL_COLUMNS).astype(PANEL_TYPES)


def _cells(means: pd.DataFrame) -> dict[tuple, tuple[float, int, int]]:
    """{(instrument, outcome, group, year): (percent, practices, respondents)}."""
    return {
        (r.instrument, r.outcome, r.group, int(r.year)): (
            float(r.percent),
            int(r.practices),
            int(r.respondents),
        )
        for r in means.itertuples()
    }


def _assert_cells(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key, (pct, n_prac, n_resp) in want.items():
        g_pct, g_prac, g_resp = got[key]
        assert (g_prac, g_resp) == (n_prac, n_resp), key
        assert g_pct == pytest.approx(pct, abs=1e-12), key


# --- group_masks -------------------------------------------------------------------------


def test_group_masks_select_the_report_groups_and_keep_the_index():
    panel = pd.DataFrame(
        {
            "cohort": [2014, 2015, 0, 0, 0],
            # 0/1 as read back from a CSV: still means Deep End / not Deep End
            "deep_end": [1, 0, 1, 0, 1],
        },
        index=[10, 20, 30, 40, 50],
    )
    masks = group_masks(panel, COMPARISONS)
    assert list(masks) == list(GROUPS)
    want = {
        "links": [True, True, False, False, False],
        "scotland_all": [True] * 5,
        "scotland_other": [False, False, True, True, True],
        "deep_end_other": [False, False, True, False, True],
    }
    for key, rows in want.items():
        m = masks[key]
        assert m.dtype == bool, key
        assert list(m.index) == [10, 20, 30, 40, 50], key
        assert m.tolist() == rows, key
    # Links and other practices partition Scotland
    assert (masks["links"] ^ masks["scotland_other"]).all()
    # a Links practice that is in the Deep End is not a "non-Links Deep End" practice
    assert not masks["deep_end_other"][10]


# --- theme_means -------------------------------------------------------------------------


def test_theme_means_hand_computed_one_year():
    panel = _panel(
        [
            ("safequest", "teamwork", "L1", 2013, 10, 60.0),
            ("safequest", "teamwork", "L2", 2013, 30, 80.0),
            ("safequest", "teamwork", "D1", 2013, 5, 40.0),
            ("safequest", "teamwork", "D2", 2013, 100, 50.0),
            ("safequest", "teamwork", "O1", 2013, 8, 90.0),
            ("safequest", "teamwork", "S1", 2013, 2, 0.0),  # suppressed: never in a mean
        ]
    )
    got = _cells(theme_means(panel, COMPARISONS))
    # unweighted means over practices (a respondent-weighted Links mean would be 75, not 70)
    want = {
        ("safequest", "teamwork", "links", 2013): (70.0, 2, 40),
        ("safequest", "teamwork", "scotland_all", 2013): (64.0, 5, 153),
        ("safequest", "teamwork", "scotland_other", 2013): (60.0, 3, 113),
        ("safequest", "teamwork", "deep_end_other", 2013): (45.0, 2, 105),
    }
    _assert_cells(got, want)


def test_theme_means_missing_years_and_empty_groups():
    panel = _panel(
        [
            # 2013: everyone
            ("safequest", "workload", "L1", 2013, 6, 50.0),
            ("safequest", "workload", "L2", 2013, 6, 70.0),
            ("safequest", "workload", "D1", 2013, 6, 30.0),
            ("safequest", "workload", "O1", 2013, 6, 40.0),
            # 2014: L2 did not take part; D1 too few respondents
            ("safequest", "workload", "L1", 2014, 9, 55.0),
            ("safequest", "workload", "D1", 2014, 4, 99.0),
            ("safequest", "workload", "O1", 2014, 7, 45.0),
            # 2015: Links practices only
            ("safequest", "workload", "L1", 2015, 5, 62.0),
            ("safequest", "workload", "L2", 2015, 5, 68.0),
        ]
    )
    got = _cells(theme_means(panel, COMPARISONS))
    w = ("safequest", "workload")
    want = {
        (*w, "links", 2013): (60.0, 2, 12),
        (*w, "scotland_all", 2013): (47.5, 4, 24),
        (*w, "scotland_other", 2013): (35.0, 2, 12),
        (*w, "deep_end_other", 2013): (30.0, 1, 6),
        (*w, "links", 2014): (55.0, 1, 9),
        (*w, "scotland_all", 2014): (50.0, 2, 16),
        (*w, "scotland_other", 2014): (45.0, 1, 7),
        # no deep_end_other row in 2014 (its only practice-year is suppressed)
        (*w, "links", 2015): (65.0, 2, 10),
        (*w, "scotland_all", 2015): (65.0, 2, 10),
        # no scotland_other / deep_end_other rows in 2015 (no such practices surveyed)
    }
    _assert_cells(got, want)


def test_theme_means_keep_instruments_and_outcomes_apart():
    panel = _panel(
        [
            ("safequest", "teamwork", "L1", 2013, 5, 10.0),
            ("safequest", "teamwork", "O1", 2013, 5, 20.0),
            ("safequest", "overall", "L1", 2013, 5, 30.0),
            ("safequest", "overall", "O1", 2013, 5, 50.0),
            # same outcome name under another instrument must not be pooled with Safequest
            ("care", "overall", "L1", 2013, 5, 90.0),
            ("care", "overall", "O1", 2013, 5, 70.0),
        ]
    )
    got = _cells(theme_means(panel, COMPARISONS))
    assert got[("safequest", "teamwork", "scotland_all", 2013)] == (15.0, 2, 10)
    assert got[("safequest", "overall", "scotland_all", 2013)] == (40.0, 2, 10)
    assert got[("care", "overall", "scotland_all", 2013)] == (80.0, 2, 10)
    assert got[("care", "overall", "links", 2013)] == (90.0, 1, 5)
    assert got[("care", "overall", "scotland_other", 2013)] == (70.0, 1, 5)
    assert len(got) == 3 * 3  # 3 cells x (links, scotland_all, scotland_other)


def test_theme_means_columns_labels_and_order():
    rows = []
    for year in (2015, 2013, 2014):  # deliberately unsorted
        for outcome in ("workload", "communication"):
            for code in ("O1", "L1", "D1"):
                rows.append(("safequest", outcome, code, year, 5, 50.0))
    means = theme_means(_panel(rows), COMPARISONS)
    assert list(means.columns) == MEANS_COLUMNS
    assert list(means.index) == list(range(len(means)))
    keys = list(means[["instrument", "outcome", "group", "year"]].itertuples(index=False))
    assert keys == sorted(keys)
    assert len(keys) == 2 * 4 * 3
    for r in means.itertuples():
        assert r.group_label == GROUPS[r.group]


@pytest.mark.parametrize(
    ("min_group", "kept"),
    [
        (1, {"links", "scotland_all", "scotland_other", "deep_end_other"}),
        (2, {"scotland_all", "scotland_other"}),  # a cell with exactly min_group is kept
        (3, {"scotland_all"}),
        (4, set()),
    ],
)
def test_theme_means_min_group(min_group, kept):
    panel = _panel(
        [
            ("safequest", "teamwork", "L1", 2013, 5, 60.0),
            ("safequest", "teamwork", "D1", 2013, 5, 40.0),
            ("safequest", "teamwork", "O1", 2013, 5, 80.0),
            ("safequest", "teamwork", "S1", 2013, 1, 0.0),  # suppressed: does not count
        ]
    )
    means = theme_means(panel, COMPARISONS, min_group=min_group)
    assert set(means["group"]) == kept
    assert list(means.columns) == MEANS_COLUMNS
    want = {"links": 60.0, "scotland_all": 60.0, "scotland_other": 60.0, "deep_end_other": 40.0}
    for r in means.itertuples():
        assert r.percent == pytest.approx(want[r.group])


def test_theme_means_skip_a_missing_percent():
    panel = _panel(
        [
            ("safequest", "teamwork", "L1", 2013, 5, 60.0),
            ("safequest", "teamwork", "D1", 2013, 5, np.nan),
            ("safequest", "teamwork", "O1", 2013, 5, 80.0),
        ]
    )
    got = _cells(theme_means(panel, COMPARISONS))
    assert got[("safequest", "teamwork", "scotland_all", 2013)][0] == pytest.approx(70.0)
    assert got[("safequest", "teamwork", "scotland_other", 2013)][0] == pytest.approx(80.0)
    assert got[("safequest", "teamwork", "links", 2013)][0] == pytest.approx(60.0)


@pytest.mark.parametrize(
    "rows",
    [
        [
            ("safequest", "teamwork", "L1", 2013, 4, 60.0),
            ("safequest", "teamwork", "O1", 2013, 1, 80.0),
        ],
        [],
    ],
    ids=["all-suppressed", "no-rows"],
)
def test_theme_means_nothing_to_show_gives_an_empty_table(rows):
    means = theme_means(_panel(rows), COMPARISONS)
    assert means.empty
    assert list(means.columns) == MEANS_COLUMNS
    assert percent_change(means, 2013).empty


def test_theme_means_does_not_change_its_input():
    panel = _panel(
        [
            ("safequest", "teamwork", "L1", 2013, 5, 60.0),
            ("safequest", "teamwork", "O1", 2013, 2, 80.0),
        ]
    )
    before = panel.copy()
    theme_means(panel, COMPARISONS)
    pd.testing.assert_frame_equal(panel, before)


def test_theme_means_on_a_real_panel(safequest, register_file):
    # register: 01234 Links from 2014 and Deep End; 20001 and 30002 never Links, not Deep End
    reg = read_register(register_file)
    nan = np.nan
    scored = [  # (practice, year, teamwork score on 1-7)
        ("01234", 2013, 7.0),
        ("01234", 2013, 7.0),
        ("01234", 2013, 7.0),
        ("20001", 2013, 3.5),
        ("20001", 2013, 3.5),
        ("30002", 2013, 1.0),  # one respondent: suppressed at min_respondents=2
        ("01234", 2014, 3.5),
        ("01234", 2014, 7.0),
        ("20001", 2014, 7.0),
        ("20001", 2014, 7.0),
        ("20001", 2014, nan),  # no teamwork score: not a respondent for this outcome
    ]
    scores = pd.DataFrame(
        {
            "practice_code": [s[0] for s in scored],
            "year": [s[1] for s in scored],
            **{o: nan for o in safequest.outcomes},
        }
    )
    scores["teamwork"] = [s[2] for s in scored]
    panel = practice_year_panel(scores, safequest, reg, min_respondents=2)
    means = theme_means(panel, COMPARISONS)
    assert set(means["outcome"]) == {"teamwork"}
    t = ("safequest", "teamwork")
    want = {  # % = 100 * mean / 7
        (*t, "links", 2013): (100.0, 1, 3),
        (*t, "scotland_all", 2013): (75.0, 2, 5),
        (*t, "scotland_other", 2013): (50.0, 1, 2),
        (*t, "links", 2014): (75.0, 1, 2),
        (*t, "scotland_all", 2014): (87.5, 2, 4),
        (*t, "scotland_other", 2014): (100.0, 1, 2),
    }
    _assert_cells(_cells(means), want)
    change = percent_change(means, 2013).set_index("group")
    assert change.loc["links", "change_points"] == pytest.approx(-25.0)
    assert change.loc["links", "change_percent"] == pytest.approx(-25.0)
    assert change.loc["scotland_all", "change_points"] == pytest.approx(12.5)
    assert change.loc["scotland_all", "change_percent"] == pytest.approx(100 * 12.5 / 75)
    assert change.loc["scotland_other", "change_percent"] == pytest.approx(100.0)


# --- percent_change ----------------------------------------------------------------------


def _means(rows) -> pd.DataFrame:
    """A Figure 1 table from (instrument, outcome, group, year, percent)."""
    return pd.DataFrame(
        [
            {
                "instrument": inst,
                "outcome": outcome,
                "year": year,
                "percent": pct,
                "practices": 3,
                "respondents": 30,
                "group": group,
                "group_label": GROUPS[group],
                "rule": RULE[group],
            }
            for inst, outcome, group, year, pct in rows
        ]
    )


def _changes(change: pd.DataFrame) -> dict[tuple, tuple[float, float, float]]:
    return {
        (r.instrument, r.outcome, r.group, int(r.year)): (
            r.percent_baseline,
            r.change_points,
            r.change_percent,
        )
        for r in change.itertuples()
    }


def test_percent_change_hand_computed():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2013, 50.0),
            ("safequest", "teamwork", "links", 2014, 55.0),
            ("safequest", "teamwork", "links", 2015, 45.0),
            ("safequest", "teamwork", "scotland_all", 2013, 80.0),
            ("safequest", "teamwork", "scotland_all", 2014, 60.0),
            ("safequest", "teamwork", "scotland_all", 2015, 100.0),
        ]
    )
    change = percent_change(means, 2013)
    assert list(change.columns) == CHANGE_COLUMNS
    assert list(change.index) == list(range(len(change)))
    got = _changes(change)
    t = ("safequest", "teamwork")
    want = {
        (*t, "links", 2014): (50.0, 5.0, 10.0),
        (*t, "links", 2015): (50.0, -5.0, -10.0),
        (*t, "scotland_all", 2014): (80.0, -20.0, -25.0),
        (*t, "scotland_all", 2015): (80.0, 20.0, 25.0),
    }
    assert set(got) == set(want)  # the baseline year itself is not a row
    for key, vals in want.items():
        assert got[key] == pytest.approx(vals), key
    # the Figure 1 columns ride along unchanged
    assert (change["practices"] == 3).all() and (change["respondents"] == 30).all()
    assert (change["group_label"] == change["group"].map(GROUPS)).all()


def test_percent_change_years_before_the_baseline_are_kept():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2012, 40.0),
            ("safequest", "teamwork", "links", 2013, 50.0),
            ("safequest", "teamwork", "links", 2014, 60.0),
        ]
    )
    got = _changes(percent_change(means, 2013))
    assert got == {
        ("safequest", "teamwork", "links", 2012): pytest.approx((50.0, -10.0, -20.0)),
        ("safequest", "teamwork", "links", 2014): pytest.approx((50.0, 10.0, 20.0)),
    }


def test_percent_change_baseline_is_per_instrument_outcome_and_group():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2013, 50.0),
            ("safequest", "teamwork", "links", 2014, 60.0),
            ("safequest", "teamwork", "scotland_all", 2013, 40.0),
            ("safequest", "teamwork", "scotland_all", 2014, 60.0),
            ("safequest", "workload", "links", 2013, 20.0),
            ("safequest", "workload", "links", 2014, 60.0),
            ("care", "teamwork", "links", 2013, 80.0),
            ("care", "teamwork", "links", 2014, 60.0),
        ]
    )
    got = _changes(percent_change(means, 2013))
    assert got == {
        ("safequest", "teamwork", "links", 2014): pytest.approx((50.0, 10.0, 20.0)),
        ("safequest", "teamwork", "scotland_all", 2014): pytest.approx((40.0, 20.0, 50.0)),
        ("safequest", "workload", "links", 2014): pytest.approx((20.0, 40.0, 200.0)),
        ("care", "teamwork", "links", 2014): pytest.approx((80.0, -20.0, -25.0)),
    }


def test_percent_change_drops_a_group_without_a_baseline():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2013, 50.0),
            ("safequest", "teamwork", "links", 2014, 75.0),
            # deep_end_other had no (shown) cell in the baseline year
            ("safequest", "teamwork", "deep_end_other", 2014, 70.0),
            ("safequest", "teamwork", "deep_end_other", 2015, 80.0),
        ]
    )
    got = _changes(percent_change(means, 2013))
    assert got == {("safequest", "teamwork", "links", 2014): pytest.approx((50.0, 25.0, 50.0))}


def test_percent_change_baseline_year_absent_gives_an_empty_table():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2013, 50.0),
            ("safequest", "teamwork", "links", 2014, 75.0),
        ]
    )
    change = percent_change(means, 2010)
    assert change.empty
    assert list(change.columns) == CHANGE_COLUMNS


def test_percent_change_missing_percent_gives_a_missing_change():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2013, np.nan),
            ("safequest", "teamwork", "links", 2014, 60.0),
            ("safequest", "teamwork", "scotland_all", 2013, 50.0),
            ("safequest", "teamwork", "scotland_all", 2014, np.nan),
        ]
    )
    change = percent_change(means, 2013).set_index("group")
    assert np.isnan(change.loc["links", "change_points"])
    assert np.isnan(change.loc["links", "change_percent"])
    assert change.loc["scotland_all", "percent_baseline"] == 50.0
    assert np.isnan(change.loc["scotland_all", "change_points"])
    assert np.isnan(change.loc["scotland_all", "change_percent"])


def test_percent_change_does_not_change_its_input():
    means = _means(
        [
            ("safequest", "teamwork", "links", 2013, 50.0),
            ("safequest", "teamwork", "links", 2014, 75.0),
        ]
    )
    before = means.copy()
    percent_change(means, 2013)
    pd.testing.assert_frame_equal(means, before)


# --- both, against a plain-Python recomputation ------------------------------------------

YEARS = (2013, 2014, 2015)
OUTCOMES = (("safequest", "teamwork"), ("safequest", "overall"), ("care", "care_total"))


@st.composite
def panels(draw):
    n = draw(st.integers(1, 7))
    practices = {
        f"P{i}": (draw(st.sampled_from([0, 0, 2014, 2015])), draw(st.booleans())) for i in range(n)
    }
    rows = []
    for code in practices:
        for inst, outcome in OUTCOMES:
            for year in YEARS:
                if draw(st.booleans()):
                    n_resp = draw(st.integers(1, 12))
                    pct = draw(st.floats(0, 100, allow_nan=False))
                    rows.append((inst, outcome, code, year, n_resp, pct))
    return practices, rows


def _by_hand(practices, rows, min_group):
    """{(instrument, outcome, group, year): (percent, practices, respondents)} by plain Python."""
    members = {
        "links": lambda cohort, de: cohort != 0,
        "scotland_all": lambda cohort, de: True,
        "scotland_other": lambda cohort, de: cohort == 0,
        "deep_end_other": lambda cohort, de: de and cohort == 0,
    }
    cells: dict[tuple, list[tuple[str, float, int]]] = {}
    for inst, outcome, code, year, n_resp, pct in rows:
        if n_resp < 5:
            continue
        for group, is_member in members.items():
            if is_member(*practices[code]):
                cells.setdefault((inst, outcome, group, year), []).append((code, pct, n_resp))
    out = {}
    for key, recs in cells.items():
        if len(recs) >= min_group:
            out[key] = (
                math.fsum(p for _, p, _ in recs) / len(recs),
                len({c for c, _, _ in recs}),
                sum(n for _, _, n in recs),
            )
    return out


@settings(max_examples=60, deadline=None)
@given(data=panels(), min_group=st.integers(1, 3), baseline=st.sampled_from(YEARS))
def test_means_and_changes_match_a_plain_python_recomputation(data, min_group, baseline):
    practices, rows = data
    panel = _panel(rows, practices)
    want = _by_hand(practices, rows, min_group)
    means = theme_means(panel, COMPARISONS, min_group=min_group)
    assert list(means.columns) == MEANS_COLUMNS
    got = _cells(means)
    assert set(got) == set(want)
    for key, (pct, n_prac, n_resp) in want.items():
        assert got[key][1:] == (n_prac, n_resp), key
        assert got[key][0] == pytest.approx(pct, rel=1e-9, abs=1e-9), key

    change = percent_change(means, baseline)
    assert list(change.columns) == CHANGE_COLUMNS
    want_change = {}
    for (inst, outcome, group, year), (pct, _, _) in want.items():
        base = want.get((inst, outcome, group, baseline))
        if year == baseline or base is None:
            continue
        want_change[(inst, outcome, group, year)] = (
            base[0],
            pct - base[0],
            (pct / base[0] - 1) * 100 if base[0] != 0 else None,
        )
    got_change = _changes(change)
    assert set(got_change) == set(want_change)
    for key, (b, pts, rel) in want_change.items():
        g_b, g_pts, g_rel = got_change[key]
        assert g_b == pytest.approx(b, rel=1e-9, abs=1e-9), key
        assert g_pts == pytest.approx(pts, rel=1e-9, abs=1e-9), key
        if rel is not None:
            assert g_rel == pytest.approx(rel, rel=1e-7, abs=1e-7), key


# --- the groups are the spec's comparisons --------------------------------------------------


def test_descriptive_groups_equal_the_specs_comparisons():
    # every comparison of the spec with one practice set, by its key, label and rule
    assert list(GROUPS) == ["links", *(k for k, c in COMPARISONS.items() if c.rule != "matched")]
    for key, c in groups(COMPARISONS).items():
        assert GROUPS[key] == c.label == COMPARISONS[key].label
    # a study with other comparison groups gets those groups, not a fixed list
    other = Settings(
        comparisons={"everyone": {"label": "Everyone", "rule": "all_including_treated"}},
        main_comparison="everyone",
    ).comparisons
    assert group_labels(other) == {"links": "Links practices", "everyone": "Everyone"}
    rows = [("safequest", "teamwork", c, 2013, 5, 50.0) for c in ("L1", "O1", "D1")]
    means = theme_means(_panel(rows), other)
    assert set(means["group"]) == {"links", "everyone"}
    assert report_groups(means) == ["links", "everyone"]
    assert comparison_groups(means) == ["links"]


def test_report_and_comparison_groups_by_rule():
    rows = [("safequest", "teamwork", c, 2013, 5, 50.0) for c in ("L1", "O1", "D1")]
    means = theme_means(_panel(rows), COMPARISONS)
    assert report_groups(means) == ["links", "scotland_all"]
    assert comparison_groups(means) == ["links", "scotland_other", "deep_end_other"]
