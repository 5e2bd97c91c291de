from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from linkseval.data.clean import REASONS, check_accounting, classify_tokens, clean_extract
from linkseval.data.ingest import LINE, RawExtract
from linkseval.errors import AccountingError

LABELS = [
    "Strongly disagree",
    "Disagree",
    "Slightly disagree",
    "Neither agree nor disagree",
    "Slightly agree",
    "Agree",
    "Strongly agree",
]


def raw_from_rows(rows, instrument, year=2013) -> RawExtract:
    cols = ["practice_code", "respondent_id", "staff_group", *instrument.item_ids]
    df = pd.DataFrame(rows, columns=cols).astype(str)
    df[LINE] = range(2, 2 + len(df))
    return RawExtract(Path(f"safequest_{year}.csv"), "safequest", year, df, "utf-8", 1)


@given(
    label=st.sampled_from(LABELS),
    pad=st.sampled_from(["", " ", "  "]),
    case=st.sampled_from([str.lower, str.upper, str.title, lambda s: s]),
)
def test_text_labels_map_to_their_codes(safequest, label, pad, case):
    codes, status = classify_tokens([pad + case(label) + pad], safequest)
    assert status[0] == 0 and codes[0] == LABELS.index(label) + 1


@given(st.integers(-1000, 1000))
def test_integer_codes(safequest, v):
    codes, status = classify_tokens([str(v)], safequest)
    assert (status[0] == 0) == (1 <= v <= 7)
    assert status[0] in (0, 2)  # OK or OUT_OF_RANGE, never INVALID
    assert codes[0] == v


@pytest.mark.parametrize("tok", ["", " ", "N/A", "n/a", "NA", "Don't know", "don\u2019t know"])
def test_missing_tokens(safequest, tok):
    assert classify_tokens([tok], safequest)[1][0] == 1


@pytest.mark.parametrize("tok", ["yes", "5.5", "nan", "inf", "Strongly", "7a"])
def test_invalid_tokens(safequest, tok):
    assert classify_tokens([tok], safequest)[1][0] == 3


def test_each_reason_is_caught_with_line_and_column(safequest):
    ok = ["01234", "R1", "GP"] + ["5"] * 30
    rows = [
        ok,
        ["", "R2", "GP"] + ["5"] * 30,  # missing practice code
        ["99999", "R3", "GP"] + ["5"] * 30,  # unknown practice
        ["01234", "", "GP"] + ["5"] * 30,  # missing respondent id
        ["01234", "R4", "GP"] + ["5"] * 4 + ["x"] + ["5"] * 25,  # invalid value in Q05
        ["01234", "R5", "GP"] + ["5"] * 10 + ["0"] + ["5"] * 19,  # out of range in Q11
        list(ok),  # exact duplicate of line 2
        ["01234", "R6", "GP"] + ["5"] * 30,
        ["01234", "R6", "GP"] + ["4"] * 30,  # conflicting duplicate: both go
        ["01234", "R7", "GP"] + ["N/A"] * 16 + ["5"] * 14,  # 16 > 15 missing
        ["1234 ", "R8", "GP"] + ["Agree"] * 30,  # repaired code, text labels: kept
    ]
    res = clean_extract(raw_from_rows(rows, safequest), safequest, {"01234"}, max_missing_items=15)
    got = res.rejects[["line", "column", "reason", "value"]].values.tolist()
    assert got == [
        [3, "practice_code", "missing_practice_code", ""],
        [4, "practice_code", "unknown_practice", "99999"],
        [5, "respondent_id", "missing_respondent_id", ""],
        [6, "Q05", "invalid_value", "x"],
        [7, "Q11", "out_of_range", "0"],
        [8, "respondent_id", "exact_duplicate", "line 2"],
        [9, "respondent_id", "conflicting_duplicate", ""],
        [10, "respondent_id", "conflicting_duplicate", ""],
        [11, "", "too_many_missing", "16 of 30 missing"],
    ]
    assert res.kept["line"].tolist() == [2, 12]
    assert res.kept["practice_code"].tolist() == ["01234", "01234"]
    assert res.kept["Q01"].tolist() == [5, 6]
    acc = res.accounting
    assert (acc["rows_read"], acc["rows_kept"], acc["rows_quarantined"]) == (11, 2, 9)
    assert acc["repairs"]["practice_code_zero_padded"] == 1
    assert acc["repairs"]["practice_code_whitespace_stripped"] == 1
    assert acc["repairs"]["text_labels_mapped"] == 30


def test_accounting_check_can_fail():
    acc = {
        "source_file": "f",
        "rows_read": 10,
        "rows_kept": 6,
        "rows_quarantined": 3,
        "quarantined_by_reason": {"x": 3},
    }
    with pytest.raises(AccountingError, match="rows read 10 != kept 6 \\+ quarantined 3"):
        check_accounting(acc)


TOKENS = st.sampled_from(["1", "4", "7", "9", "0", "", "N/A", "Agree", "junk", " 5 ", "5.0"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from(["01234", " 01234", "1234", "99999", "", "20001"]),
            st.sampled_from(["R1", "R2", "R3", "", "R4"]),
            st.lists(TOKENS, min_size=30, max_size=30),
        ),
        min_size=0,
        max_size=25,
    )
)
def test_row_accounting_never_breaks(safequest, data):
    rows = [[c, r, "GP", *items] for c, r, items in data]
    res = clean_extract(
        raw_from_rows(rows, safequest), safequest, {"01234", "20001"}, max_missing_items=15
    )
    acc = res.accounting
    assert acc["rows_read"] == len(rows) == len(res.kept) + len(res.rejects)
    assert set(res.rejects["reason"]) <= set(REASONS)
    # every line appears exactly once, kept or quarantined
    lines = sorted(res.kept["line"].tolist() + res.rejects["line"].tolist())
    assert lines == list(range(2, 2 + len(rows)))
    # kept rows satisfy the contract
    items = res.kept[safequest.item_ids].to_numpy(dtype=float, na_value=np.nan)
    assert np.all(np.isnan(items) | ((items >= 1) & (items <= 7)))
    assert res.kept["practice_code"].isin({"01234", "20001"}).all()
    assert (res.kept["n_missing"] <= 15).all()
    assert not res.kept.duplicated(["practice_code", "respondent_id"]).any()
