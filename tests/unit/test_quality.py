import pandas as pd
import pytest

from linkseval.data.clean import REASONS
from linkseval.data.quality import file_summary, panel_summary, reject_reasons
from linkseval.errors import AccountingError


def _acc(read, kept, quar, **reasons):
    by = dict.fromkeys(REASONS, 0) | reasons
    return {
        "instrument": "safequest",
        "year": 2013,
        "source_file": "safequest_2013.csv",
        "sha256": "0" * 64,
        "encoding": "utf-8",
        "rows_read": read,
        "rows_kept": kept,
        "rows_quarantined": quar,
        "quarantined_by_reason": by,
        "blank_lines_skipped": 0,
        "repairs": {
            "practice_code_whitespace_stripped": 1,
            "practice_code_zero_padded": 0,
            "text_labels_mapped": 0,
            "missing_item_cells": 3,
        },
    }


def test_file_summary_rows_and_reasons():
    s = file_summary([_acc(10, 7, 3, out_of_range=2, exact_duplicate=1)])
    row = s.iloc[0]
    assert (row.rows_read, row.rows_kept, row.rows_quarantined) == (10, 7, 3)
    assert (row.out_of_range, row.exact_duplicate, row.unknown_practice) == (2, 1, 0)
    assert row.accounting_ok


def test_file_summary_refuses_broken_accounting():
    with pytest.raises(AccountingError):
        file_summary([_acc(10, 7, 2, out_of_range=2)])


def test_panel_summary_counts_suppressed():
    panel = pd.DataFrame(
        {
            "instrument": "safequest",
            "outcome": "workload",
            "year": 2013,
            "practice_code": ["a", "b", "c"],
            "n_respondents": [3, 10, 12],
            "suppressed": [True, False, False],
        }
    )
    s = panel_summary(panel).iloc[0]
    assert (s.practices, s.respondents, s.practice_years_suppressed) == (3, 25, 1)


def test_reject_reasons_holds_no_values():
    rej = pd.DataFrame(
        {
            "instrument": "safequest",
            "year": 2013,
            "source_file": "f",
            "line": [2, 3, 4],
            "column": ["Q01", "Q01", "practice_code"],
            "reason": ["out_of_range", "out_of_range", "unknown_practice"],
            "value": ["9", "0", "99999"],
        }
    )
    r = reject_reasons(rej)
    assert "value" not in r.columns and "line" not in r.columns
    assert r["n"].tolist() == [2, 1]
