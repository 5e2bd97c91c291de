"""Disclosure control checks on everything meant for publication.

Published outputs are the rendered report pages and the summary tables listed in
:data:`PUBLISHED`; the cleaned extracts, quarantine files, scored respondents and practice-year
panels under ``results/`` are working files that hold respondent-level or small-cell data and
are never published. Two checks, both on the published files as written:

- no respondent identifier occurs anywhere in them (the text is split into word-like tokens
  and matched against the set of identifiers), and no given free-text string occurs in them.
  Identifiers that are pure digits (``1``, ``2``, ``2013``: real extracts often number their
  respondents) are indistinguishable, as tokens, from years, counts and the digits of
  estimates, so they are looked for where an identifier would be shown: every cell of an
  identifier column (:data:`ID_COLUMNS`) of every published table. Identifiers with any other
  character (the synthetic ``R…`` and ``CANARY-…`` ids) are still matched everywhere;
- in every table (CSV, JSON records, HTML ``<table>``) with a respondent-count column, a row
  with fewer respondents than the minimum shows no number other than identifiers.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from linkseval.results import KEY as RESULT_KEY

PUBLISHED = (
    "report/*.html",  # copies of pages/*.html, which the check reads before they are published
    "models/estimates.csv",
    "models/headline.csv",
    "models/headline.json",
    "descriptive/*.csv",
    "quality/files.csv",
    "quality/reject_reasons.csv",
    "quality/practice_years.csv",
    "quality/summary.json",
)
COUNT_COLUMNS = ("n_respondents", "respondents")
# columns that identify a row rather than report a statistic about its respondents
KEY_COLUMNS = frozenset(
    {"data_label", "instrument", "outcome", "year", "practice_code", "group", "group_label"}
    | {"practices", "source_file", "note"}
    | set(RESULT_KEY)  # an estimate's identity (linkseval.results)
)
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{2,}")
# table columns that would hold respondent identifiers (names lower-cased, only letters and
# digits kept): the codebook's respondent_id aliases and the obvious variants
ID_COLUMNS = frozenset(
    {"respondentid", "respondent", "respid", "responseid", "id", "identifier"}
    | {"patientid", "patient", "recordid", "caseid"}
)


@dataclass(frozen=True)
class Violation:
    """One disclosure problem: where it is and what it is."""

    file: str
    location: str
    kind: str  # "identifier", "free_text" or "small_cell"
    detail: str


def published_files(results_dir: str | Path) -> list[Path]:
    """Return the published files under ``results_dir``, sorted."""
    root = Path(results_dir)
    return sorted({p for pattern in PUBLISHED for p in root.glob(pattern) if p.is_file()})


def identifiers_in(text: str, identifiers: set[str]) -> list[str]:
    """Return the identifiers that occur in ``text`` as whole tokens, sorted."""
    return sorted(set(TOKEN.findall(text)) & identifiers)


def is_numeric_id(ident: str) -> bool:
    """Tell whether an identifier is ASCII digits only (never matched as a token of free text)."""
    return ident.isascii() and ident.isdigit()


def _cell_text(v: object) -> str:
    """Format a table cell as an identifier would be written (JSON 12.0 -> '12')."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def id_cells(table: pd.DataFrame, identifiers: set[str]) -> list[str]:
    """Row/column locations of identifiers in the identifier columns of a table."""
    out = []
    for col in table.columns:
        if re.sub(r"[^a-z0-9]", "", str(col).lower()) not in ID_COLUMNS:
            continue
        hits = table[col].map(_cell_text).isin(identifiers).to_numpy()
        out += [f"row {i}, column {col}" for i, hit in zip(table.index, hits, strict=True) if hit]
    return out


def _is_number(v: object) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, int | float):
        return v == v  # NaN is a blank
    try:
        float(str(v).replace(",", "").rstrip("%"))
    except ValueError:
        return False
    return True


def small_cells(table: pd.DataFrame, min_respondents: int) -> list[str]:
    """Row/column locations of numbers shown for fewer than ``min_respondents`` respondents."""
    out = []
    for col in (c for c in table.columns if str(c) in COUNT_COLUMNS):
        n = pd.to_numeric(table[col], errors="coerce")
        for i in table.index[(n < min_respondents).fillna(False)]:
            for other in table.columns:
                if other == col or str(other) in KEY_COLUMNS or str(other) in COUNT_COLUMNS:
                    continue
                if _is_number(table.at[i, other]):
                    out.append(f"row {i}, column {other} (n = {int(n[i])})")
    return out


def tables_in(path: Path, text: str) -> list[pd.DataFrame]:
    """Return the tables in a published file: the CSV, JSON record lists, HTML ``<table>``s."""
    if path.suffix == ".csv":
        return [pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)]
    if path.suffix == ".json":
        doc = json.loads(text)
        lists = [v for v in (doc.values() if isinstance(doc, dict) else [doc])]
        return [
            pd.DataFrame(v) for v in lists if isinstance(v, list) and v and isinstance(v[0], dict)
        ]
    if path.suffix not in (".html", ".htm") or "<table" not in text:
        return []
    return pd.read_html(io.StringIO(text), flavor="lxml", keep_default_na=False)


def scan(
    files: Iterable[str | Path],
    *,
    identifiers: set[str],
    free_text: Iterable[str] = (),
    min_respondents: int,
) -> list[Violation]:
    """All violations in ``files`` (see the module docstring), in file order."""
    texts = [t for t in dict.fromkeys(s.strip() for s in free_text) if len(t) >= 8]
    numeric = {i for i in identifiers if is_numeric_id(i)}
    words = set(identifiers) - numeric
    found: list[Violation] = []
    for f in map(Path, files):
        text = f.read_text(encoding="utf-8")
        for ident in identifiers_in(text, words):
            found.append(Violation(str(f), "text", "identifier", ident))
        for t in texts:
            if t in text:
                found.append(Violation(str(f), "text", "free_text", t[:60]))
        for k, table in enumerate(tables_in(f, text)):
            for where in id_cells(table, numeric) if numeric else ():
                found.append(Violation(str(f), f"table {k + 1}, {where}", "identifier", ""))
            for where in small_cells(table, min_respondents):
                found.append(Violation(str(f), f"table {k + 1}, {where}", "small_cell", ""))
    return found


def report(violations: list[Violation], files: list[Path], min_respondents: int) -> dict:
    """Build a JSON-ready summary (no identifiers are echoed: only counts and locations)."""
    return {
        "files_scanned": [str(f) for f in files],
        "min_respondents": min_respondents,
        "violations": len(violations),
        "by_kind": {
            k: sum(v.kind == k for v in violations) for k in sorted({v.kind for v in violations})
        },
        "where": [
            {**asdict(v), "detail": "" if v.kind != "small_cell" else v.detail} for v in violations
        ],
    }
