"""Validate an extract row by row against the codebook and register.

Each row is either kept (values parsed to codes) or quarantined with one reason, the column at
fault and the offending value. ``rows_read == rows_kept + rows_quarantined`` is checked on every
call and recorded in the accounting. Reasons, in the order they are checked:

1. ``missing_practice_code``  2. ``unknown_practice``  3. ``missing_respondent_id`` (blank, or a
placeholder such as ``-``, ``NULL``, ``N/A``: :data:`MISSING_IDS`)
4. ``invalid_value`` (not a code, label or missing token)  5. ``out_of_range`` (a number outside
the scale)  6. ``exact_duplicate`` (a later copy of an identical record; the first is kept)
7. ``conflicting_duplicate`` (same practice and respondent id, different answers: all copies)
8. ``too_many_missing`` (more missing items than ``max_missing_items``)

The accounting also lists register practices with no kept row in the file
(``register_practices_without_kept_rows``): a data-quality warning, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from linkseval.data.codebook import Instrument, normalise_label
from linkseval.data.ingest import LINE, RawExtract
from linkseval.data.register import normalise_code
from linkseval.errors import AccountingError
from linkseval.study import section_defaults

_CODE_WIDTH = section_defaults("cleaning", "practice_code_width")  # the config schema's

REASONS = (
    "missing_practice_code",
    "unknown_practice",
    "missing_respondent_id",
    "invalid_value",
    "out_of_range",
    "exact_duplicate",
    "conflicting_duplicate",
    "too_many_missing",
)
OK, MISSING, OUT_OF_RANGE, INVALID = 0, 1, 2, 3
# respondent ids that are placeholders for "no id" (compared lower-cased, after stripping):
# kept, every such row would share one id and be taken for duplicates of the others
MISSING_IDS = frozenset({"-", "--", ".", "?", "n/a", "na", "null", "none", "nan", "#n/a"})
REJECT_COLUMNS = ["instrument", "year", "source_file", "line", "column", "reason", "value"]


@dataclass
class CleanResult:
    """Kept rows, quarantined rows and the accounting that ties them to the rows read."""

    kept: pd.DataFrame
    rejects: pd.DataFrame
    accounting: dict = field(default_factory=dict)


# a code as the codebook writes it: ASCII digits only (no sign, decimal point, exponent,
# underscore or non-ASCII digits, all of which float() or int() would accept); a negative ASCII
# integer is a number outside every scale (out_of_range), never a code
_CODE = re.compile(r"(-?)([0-9]+)", re.ASCII)


def parse_code(key: str) -> float | None:
    """Return the integer a normalised token spells in ASCII digits (``-`` allowed), else None."""
    m = _CODE.fullmatch(key)
    if m is None:
        return None
    value = float(m.group(2))  # float, not int: a 5000-digit string is inf, not a ValueError
    return -value if m.group(1) else value


def classify_tokens(tokens: list[str], instrument: Instrument) -> tuple[np.ndarray, np.ndarray]:
    """Code (float, NaN if none) and status (OK/MISSING/OUT_OF_RANGE/INVALID) for each token.

    Numbers must be written as the codebook writes codes (:func:`parse_code`); ``5.0``,
    ``+5``, ``5e0``, ``0_5`` or ``٥`` are invalid values, kept in the rejects as written.
    """
    codes = np.full(len(tokens), np.nan)
    status = np.full(len(tokens), INVALID, dtype=np.int8)
    lo, hi = instrument.scale_min, instrument.scale_max
    for i, tok in enumerate(tokens):
        key = normalise_label(str(tok))
        if key in instrument.missing_tokens:
            status[i] = MISSING
        elif key in instrument.labels:
            codes[i], status[i] = instrument.labels[key], OK
        elif (v := parse_code(key)) is not None:
            codes[i], status[i] = v, OK if lo <= v <= hi else OUT_OF_RANGE
    return codes, status


def parse_items(data: pd.DataFrame, instrument: Instrument) -> tuple[np.ndarray, np.ndarray, int]:
    """Item codes (n × k float) and statuses (n × k int8); also the count of text labels read."""
    n, items = len(data), instrument.item_ids
    codes = np.empty((n, len(items)))
    status = np.empty((n, len(items)), dtype=np.int8)
    n_labels = 0
    for j, item in enumerate(items):
        idx, uniques = pd.factorize(data[item], use_na_sentinel=False)
        tok = [str(u) for u in uniques]
        u_codes, u_status = classify_tokens(tok, instrument)
        codes[:, j], status[:, j] = u_codes[idx], u_status[idx]
        is_label = np.array([normalise_label(t) in instrument.labels for t in tok], dtype=bool)
        if is_label.any():
            n_labels += int(is_label[idx].sum())
    return codes, status, n_labels


def clean_extract(
    raw: RawExtract,
    instrument: Instrument,
    practice_codes: set[str] | pd.Series,
    *,
    code_width: int = _CODE_WIDTH,
    max_missing_items: int | None = None,
) -> CleanResult:
    """Split ``raw`` into kept and quarantined rows. Pure: reads nothing, writes nothing.

    Parameters
    ----------
    raw : RawExtract
        The extract as read (:func:`linkseval.data.ingest.read_extract`).
    instrument : Instrument
        The extract's instrument (items, codes).
    practice_codes : set of str or Series
        The register's practice codes.
    code_width : int
        Width all-digit practice codes are zero-padded to.
    max_missing_items : int, optional
        Quarantine respondents with more missing items than this (default: no limit).

    Returns
    -------
    CleanResult
        Kept rows, quarantined rows (with reasons) and the accounting.
    """
    df = raw.data
    n = len(df)
    items = instrument.item_ids
    known = set(practice_codes)
    src = raw.path.name

    code_raw = df["practice_code"].astype(str)
    code = normalise_code(code_raw, code_width)
    stripped = code_raw.str.strip()
    whitespace_fixed = int((stripped != code_raw).sum())
    # lost leading zeros restored or a numeric ".0" dropped (all-digit codes only)
    zero_padded = int(((code != stripped) & (code != "")).sum())
    rid = df["respondent_id"].astype(str).str.strip()
    codes, status, n_labels = parse_items(df, instrument)

    reason = np.full(n, "", dtype=object)
    column = np.full(n, "", dtype=object)
    value = np.full(n, "", dtype=object)

    def assign(mask: np.ndarray, why: str, col, val) -> None:
        m = mask & (reason == "")
        reason[m] = why
        column[m] = col if isinstance(col, str) else np.asarray(col, dtype=object)[m]
        value[m] = val if isinstance(val, str) else np.asarray(val, dtype=object)[m]

    assign((code == "").to_numpy(), "missing_practice_code", "practice_code", "")
    assign((~code.isin(known)).to_numpy(), "unknown_practice", "practice_code", code_raw.to_numpy())
    no_id = ((rid == "") | rid.str.lower().isin(MISSING_IDS)).to_numpy()
    assign(no_id, "missing_respondent_id", "respondent_id", rid.to_numpy())
    bad = status >= OUT_OF_RANGE
    if bad.any():
        first = bad.argmax(axis=1)
        rows = np.arange(n)
        first_status = status[rows, first]
        item_names = np.asarray(items, dtype=object)[first]
        raw_vals = df[items].to_numpy(dtype=object)[rows, first]
        assign(bad.any(axis=1) & (first_status == INVALID), "invalid_value", item_names, raw_vals)
        assign(
            bad.any(axis=1) & (first_status == OUT_OF_RANGE), "out_of_range", item_names, raw_vals
        )

    # duplicates among rows still standing, on normalised content
    alive = reason == ""
    if alive.any():
        key = pd.DataFrame({"practice_code": code, "respondent_id": rid})
        # only valid codes matter here (rows with other values are already quarantined); this
        # keeps huge or non-finite numbers out of the integer cast
        valid = np.where(status == OK, codes, -1).astype(np.int16)
        content = pd.DataFrame(valid, columns=items)
        content["staff_group"] = df.get("staff_group", pd.Series("", index=df.index)).str.strip()
        h = pd.util.hash_pandas_object(content, index=False).to_numpy()
        sub = key[alive].assign(_h=h[alive], _pos=np.flatnonzero(alive))
        grp = sub.groupby(["practice_code", "respondent_id"], sort=False)["_h"]
        size = grp.transform("size").to_numpy()
        distinct = grp.transform("nunique").to_numpy()
        pos = sub["_pos"].to_numpy()
        first_pos = sub.groupby(["practice_code", "respondent_id"], sort=False)["_pos"].transform(
            "min"
        )
        exact = (size > 1) & (distinct == 1) & (pos != first_pos.to_numpy())
        conflict = (size > 1) & (distinct > 1)
        lines = df[LINE].to_numpy()
        m = np.zeros(n, dtype=bool)
        m[pos[exact]] = True
        first_line = np.zeros(n, dtype=object)
        first_line[pos] = ["line " + str(x) for x in lines[first_pos.to_numpy()]]
        assign(m, "exact_duplicate", "respondent_id", first_line)
        m = np.zeros(n, dtype=bool)
        m[pos[conflict]] = True
        assign(m, "conflicting_duplicate", "respondent_id", "")

    n_missing = (status == MISSING).sum(axis=1)
    if max_missing_items is not None:
        assign(
            n_missing > max_missing_items,
            "too_many_missing",
            "",
            np.char.add(n_missing.astype(str), f" of {len(items)} missing"),
        )

    quarantined = reason != ""
    rejects = pd.DataFrame(
        {
            "instrument": instrument.name,
            "year": raw.year,
            "source_file": src,
            "line": df[LINE].to_numpy()[quarantined].astype(int),
            "column": column[quarantined].astype(str),
            "reason": reason[quarantined].astype(str),
            "value": [str(v)[:50] for v in value[quarantined]],
        },
        columns=REJECT_COLUMNS,
    )
    keep = ~quarantined
    kept = pd.DataFrame(
        {
            "year": np.full(int(keep.sum()), raw.year, dtype=np.int64),
            "source_file": src,
            "line": df[LINE].to_numpy()[keep].astype(np.int64),
            "practice_code": code.to_numpy()[keep],
            "respondent_id": rid.to_numpy()[keep],
            "staff_group": (
                df["staff_group"].str.strip().to_numpy()[keep] if "staff_group" in df else ""
            ),
        }
    )
    item_frame = pd.DataFrame(codes[keep], columns=items).astype("Int8")
    kept = pd.concat([kept, item_frame], axis=1)
    kept["n_missing"] = n_missing[keep].astype(np.int64)

    by_reason = {r: int((reason == r).sum()) for r in REASONS}
    accounting = {
        "instrument": instrument.name,
        "year": raw.year,
        "source_file": src,
        "encoding": raw.encoding,
        "header_line": raw.header_line,
        "rows_read": n,
        "rows_kept": int(keep.sum()),
        "rows_quarantined": int(quarantined.sum()),
        "quarantined_by_reason": by_reason,
        "repairs": {
            "practice_code_whitespace_stripped": whitespace_fixed,
            "practice_code_zero_padded": zero_padded,
            "text_labels_mapped": n_labels,
            "missing_item_cells": int((status[keep] == MISSING).sum()),
        },
        "blank_lines_skipped": raw.blank_lines,
        # a data-quality warning, not an error: register practices with nothing in this file
        # (e.g. a Links practice that did not take part this year)
        "register_practices_without_kept_rows": sorted(known - set(kept["practice_code"])),
        "ignored_columns": list(raw.ignored_columns),
        "free_text_columns_dropped": list(raw.dropped_free_text),
    }
    check_accounting(accounting)
    return CleanResult(kept=kept, rejects=rejects, accounting=accounting)


def check_accounting(acc: dict) -> None:
    """Raise :class:`AccountingError` unless read = kept + quarantined (also per reason)."""
    read, kept, quar = acc["rows_read"], acc["rows_kept"], acc["rows_quarantined"]
    if read != kept + quar or quar != sum(acc["quarantined_by_reason"].values()):
        raise AccountingError(
            f"{acc['source_file']}: rows read {read} != kept {kept} + quarantined {quar} "
            f"(by reason: {acc['quarantined_by_reason']})"
        )
