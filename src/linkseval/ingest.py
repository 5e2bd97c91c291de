"""Read one raw survey extract (CSV or Excel) into canonical columns, with source line numbers.

Structural problems (unreadable file, wrong name, missing required column, year mismatch) raise
:class:`~linkseval.errors.ExtractError` naming the file, line and column. Row-level problems are
left for :mod:`linkseval.clean`. Every value is kept as text here; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from linkseval.codebook import Instrument, normalise_header
from linkseval.errors import ExtractError

HEADER_SEARCH_ROWS = 20
LINE = "_line"  # column holding the 1-based line (CSV) or sheet row (Excel) of each record


@dataclass
class RawExtract:
    """A raw extract mapped to canonical column names; all values are strings."""

    path: Path
    instrument: str
    year: int
    data: pd.DataFrame  # canonical columns + LINE
    encoding: str
    header_line: int
    ignored_columns: list[str] = field(default_factory=list)  # unknown headers, reported
    dropped_free_text: list[str] = field(default_factory=list)  # never carried downstream
    blank_lines: int = 0  # empty lines/rows skipped (no record in them), reported

    @property
    def n_rows(self) -> int:
        return len(self.data)


def year_from_name(path: Path, instrument: Instrument) -> int:
    """The survey year in ``<stem>_<year>.csv|xlsx``; anything else is a structural error."""
    m = re.fullmatch(rf"{re.escape(instrument.file_stem)}_(\d{{4}})\.(csv|xlsx)", path.name)
    if not m:
        raise ExtractError(
            path, f"file name must be {instrument.file_stem}_<year>.csv or .xlsx to give its year"
        )
    return int(m.group(1))


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM allowed), else Windows-1252; report undecodable bytes."""
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data[:3] == b"\xef\xbb\xbf" else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ExtractError(
            path,
            f"byte 0x{data[exc.start]:02x} is neither UTF-8 nor Windows-1252 text",
            line=line,
        ) from None


def _find_header(rows: list[list[str]], instrument: Instrument, path: Path) -> int:
    """Index of the first row (of the first few) that names the practice-code column."""
    hmap = instrument.header_map()
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if any(hmap.get(normalise_header(c)) == "practice_code" for c in row if c is not None):
            return i
    raise ExtractError(
        path,
        f"no header row found in the first {HEADER_SEARCH_ROWS} rows "
        "(looked for a practice code column: practice_code or one of its codebook aliases)",
        line=1,
    )


def _drop_blank(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop records whose every field is empty; return them counted."""
    blank = df.drop(columns=LINE).apply(lambda s: s.str.strip() == "").all(axis=1)
    return df.loc[~blank].reset_index(drop=True), int(blank.sum())


def _parse_csv(path: Path, text: str, header_idx: int) -> pd.DataFrame:
    # skip_blank_lines=False keeps the row index aligned with physical lines
    try:
        df = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            header=0,
            skiprows=header_idx,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) + header_idx if m else None
        raise ExtractError(path, f"malformed CSV: {exc}", line=line) from None
    df = df.fillna("")
    df[LINE] = range(header_idx + 2, header_idx + 2 + len(df))
    return df


def _read_xlsx(path: Path) -> pd.DataFrame:
    try:
        sheet = pd.read_excel(path, header=None, dtype=object, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        msg = f"not a readable Excel workbook ({type(exc).__name__}: {exc})"
        raise ExtractError(path, msg) from None
    return sheet


def _excel_text(v: object) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_extract(path: str | Path, instrument: Instrument, year: int | None = None) -> RawExtract:
    """Read ``path`` for ``instrument``; ``year`` (if given) must match the file name."""
    path = Path(path)
    name_year = year_from_name(path, instrument)
    if year is not None and year != name_year:
        raise ExtractError(path, f"expected the {year} extract but the file name says {name_year}")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExtractError(path, f"cannot read file: {exc.strerror}") from None
    if not raw.strip():
        raise ExtractError(path, "file is empty (no header, no rows)")

    if path.suffix == ".xlsx":
        sheet = _read_xlsx(path)
        rows = [[_excel_text(v) for v in r] for r in sheet.head(HEADER_SEARCH_ROWS).to_numpy()]
        header_idx = _find_header(rows, instrument, path)
        header = rows[header_idx]
        body = sheet.iloc[header_idx + 1 :]
        df = pd.DataFrame(
            {f"__c{j}": body[c].map(_excel_text).astype(str) for j, c in enumerate(sheet.columns)}
        )
        df.columns = header
        df[LINE] = (body.index + 1).to_numpy()
        encoding = "xlsx"
    else:
        text, encoding = decode(raw, path)
        del raw
        head = list(csv.reader(io.StringIO("\n".join(text.splitlines()[:HEADER_SEARCH_ROWS]))))
        header_idx = _find_header(head, instrument, path)
        df = _parse_csv(path, text, header_idx)
    df, n_blank = _drop_blank(df)
    extract = _canonicalise(path, instrument, name_year, df, encoding, header_idx + 1)
    extract.blank_lines = n_blank
    return extract


def _canonicalise(
    path: Path, instrument: Instrument, year: int, df: pd.DataFrame, encoding: str, header_line: int
) -> RawExtract:
    hmap = instrument.header_map()
    free = {normalise_header(f) for f in instrument.free_text}
    rename: dict[str, str] = {}
    seen: dict[str, str] = {}
    ignored, dropped = [], []
    for col in df.columns:
        if col == LINE:
            continue
        key = normalise_header(col)
        if not key:
            if (df[col].str.strip() != "").any():
                ignored.append(str(col))
            continue
        target = hmap.get(key)
        if target is None:
            (dropped if key in free else ignored).append(str(col))
            continue
        if target in seen:
            raise ExtractError(
                path,
                f"columns {seen[target]!r} and {col!r} both map to {target}",
                line=header_line,
                column=str(col),
            )
        seen[target] = str(col)
        rename[col] = target
    required = [c.name for c in instrument.columns if c.required] + instrument.item_ids
    missing = [c for c in required if c not in seen]
    if missing:
        aliases = {c.name: c.aliases for c in instrument.columns}
        first = missing[0]
        hint = f" (or an alias: {', '.join(aliases[first])})" if aliases.get(first) else ""
        more = f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else ""
        raise ExtractError(
            path,
            f"required column {first}{hint} is missing{more}",
            line=header_line,
            column=first,
        )
    out = df[list(rename) + [LINE]].rename(columns=rename)
    if "survey_year" in out.columns:
        given = out["survey_year"].str.strip()
        bad = (given != "") & (given.str.replace(r"\.0$", "", regex=True) != str(year))
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise ExtractError(
                path,
                f"survey year {given.iloc[i]!r} disagrees with the year {year} in the file name",
                line=int(out[LINE].iloc[i]),
                column=seen["survey_year"],
            )
        out = out.drop(columns="survey_year")
    for c in [c.name for c in instrument.columns if c.name != "survey_year"]:
        if c not in out.columns:
            out[c] = ""
    order = [c.name for c in instrument.columns if c.name != "survey_year"]
    out = out[order + instrument.item_ids + [LINE]]
    return RawExtract(
        path=path,
        instrument=instrument.name,
        year=year,
        data=out.reset_index(drop=True),
        encoding=encoding,
        header_line=header_line,
        ignored_columns=ignored,
        dropped_free_text=dropped,
    )
