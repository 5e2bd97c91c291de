"""The data-quality summary.

Rows read / kept / quarantined per file and reason, repairs,
and practice-years below the disclosure minimum.
"""

from __future__ import annotations

import pandas as pd

from linkseval.data.clean import REASONS, check_accounting

FILE_COLUMNS = [
    "instrument",
    "year",
    "source_file",
    "sha256",
    "encoding",
    "rows_read",
    "rows_kept",
    "rows_quarantined",
    *REASONS,
    "blank_lines_skipped",
    "practice_code_whitespace_stripped",
    "practice_code_zero_padded",
    "text_labels_mapped",
    "missing_item_cells",
    "accounting_ok",
]


def file_summary(accountings: list[dict]) -> pd.DataFrame:
    """One row per extract file; ``accounting_ok`` re-checks read = kept + quarantined."""
    rows = []
    for acc in accountings:
        check_accounting(acc)
        rows.append(
            {
                **{k: acc.get(k, "") for k in FILE_COLUMNS[:8]},
                **acc["quarantined_by_reason"],
                "blank_lines_skipped": acc["blank_lines_skipped"],
                **acc["repairs"],
                "accounting_ok": acc["rows_read"] == acc["rows_kept"] + acc["rows_quarantined"],
            }
        )
    df = pd.DataFrame(rows, columns=FILE_COLUMNS)
    return df.sort_values(["instrument", "year"], kind="stable").reset_index(drop=True)


def panel_summary(panel: pd.DataFrame) -> pd.DataFrame:
    """Per instrument × outcome × year: practices, respondents, practice-years suppressed."""
    g = panel.groupby(["instrument", "outcome", "year"], sort=False)
    out = g.agg(
        practices=("practice_code", "nunique"),
        respondents=("n_respondents", "sum"),
        median_respondents=("n_respondents", "median"),
        practice_years_suppressed=("suppressed", "sum"),
    ).reset_index()
    return out


def reject_reasons(rejects: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows counted by file, reason and column (no values, no respondent detail)."""
    if rejects.empty:
        return pd.DataFrame(columns=["instrument", "year", "source_file", "reason", "column", "n"])
    g = rejects.groupby(["instrument", "year", "source_file", "reason", "column"], sort=True)
    return g.size().rename("n").reset_index()
