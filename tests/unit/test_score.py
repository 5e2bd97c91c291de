import math

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from linkseval.data.register import read_register
from linkseval.data.score import practice_year_panel, reverse_score, score_respondents, to_percent


@given(st.integers(1, 7))
def test_reverse_scoring_is_an_involution_that_swaps_the_ends(x):
    r = reverse_score(np.array([float(x)]), 1, 7)[0]
    assert r == 8 - x and 1 <= r <= 7
    assert reverse_score(np.array([r]), 1, 7)[0] == x


def _clean(rows: list[list[float | None]], item_ids, codes=None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=item_ids).astype("Int8")
    n = len(rows)
    meta = pd.DataFrame(
        {
            "year": 2013,
            "source_file": "f",
            "line": range(2, n + 2),
            "practice_code": codes or ["01234"] * n,
            "staff_group": "GP",
        }
    )
    return pd.concat([meta, df], axis=1)


def _by_hand(row, instrument, theme, share):
    """Independent scalar computation of one respondent's theme score."""
    vals = []
    for item, v in zip(instrument.items, row, strict=True):
        if item.theme == theme and v is not None:
            vals.append(8 - v if item.reverse else v)
    k = len(instrument.theme_items(theme))
    return sum(vals) / len(vals) if len(vals) >= max(1, math.ceil(share * k)) else None


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.one_of(st.none(), st.integers(1, 7)), min_size=30, max_size=30),
        min_size=1,
        max_size=8,
    ),
    share=st.sampled_from([0.25, 0.5, 1.0]),
)
def test_theme_scores_match_a_hand_computation(safequest, rows, share):
    scores = score_respondents(
        _clean(rows, safequest.item_ids), safequest, min_items_per_theme=share
    )
    for i, row in enumerate(rows):
        for theme in safequest.themes:
            want = _by_hand(row, safequest, theme, share)
            got = scores[theme].iloc[i]
            assert (want is None and np.isnan(got)) or got == pytest.approx(want, abs=1e-12)
        answered = [
            (8 - v if it.reverse else v)
            for it, v in zip(safequest.items, row, strict=True)
            if v is not None
        ]
        want = sum(answered) / len(answered) if answered else None
        got = scores["overall"].iloc[i]
        assert (want is None and np.isnan(got)) or got == pytest.approx(want)


def test_reverse_items_are_inverted_in_the_theme_score(safequest):
    # everyone "strongly agrees" with everything: the 6 negative leadership items -> 1
    s = score_respondents(_clean([[7] * 30], safequest.item_ids), safequest)
    assert s["leadership"].item() == 1.0
    assert s["workload"].item() == 4.0  # Q06, Q09 reversed: (1 + 7 + 7 + 1) / 4
    assert s["communication"].item() == 7.0


@pytest.mark.parametrize(
    "answers, total",
    [
        ([5] * 10, 50.0),
        ([4] * 8 + [None] * 2, 40.0),
        ([1, 2, 3, 4, 5, 1, 2, 3, 4, None], 500 / 18),
        ([4] * 7 + [None] * 3, None),
        ([1] * 10, 10.0),
    ],
)
def test_care_total_with_mean_imputation(care, answers, total):
    s = score_respondents(_clean([answers], care.item_ids), care)
    if total is None:
        assert np.isnan(s["care_total"].item()) and not s["scored"].item()
    else:
        assert s["care_total"].item() == pytest.approx(total) and s["scored"].item()


def test_percent_formulas():
    assert to_percent(6.0, 1, 7, "mean_over_max") == pytest.approx(600 / 7)
    assert to_percent(6.0, 1, 7, "pomp") == pytest.approx(500 / 6)


def test_panel_counts_means_and_suppression(safequest, register_file):
    reg = read_register(register_file)
    rows = [[6] * 30] * 5 + [[4] * 30] * 4
    clean = _clean(rows, safequest.item_ids, codes=["01234"] * 5 + ["20001"] * 4)
    scores = score_respondents(clean, safequest)
    panel = practice_year_panel(scores, safequest, reg, min_respondents=5)
    comm = panel[panel.outcome == "communication"].set_index("practice_code")
    assert comm.loc["01234", "n_respondents"] == 5 and not comm.loc["01234", "suppressed"]
    assert comm.loc["20001", "n_respondents"] == 4 and comm.loc["20001", "suppressed"]
    assert comm.loc["01234", "mean"] == 6.0
    assert comm.loc["01234", "percent"] == pytest.approx(600 / 7)
    assert comm.loc["01234", "cohort"] == 2014 and comm.loc["20001", "cohort"] == 0
    assert list(panel["outcome"].unique()) == safequest.outcomes
