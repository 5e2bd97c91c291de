"""Read and check the practice register (practices.csv)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from linkseval.data.ingest import csv_records, decode, rectangular
from linkseval.data.practice_code import DEFAULT_PATTERN, check_codes
from linkseval.errors import ExtractError
from linkseval.study import section_defaults

_CODE_WIDTH = section_defaults("cleaning", "practice_code_width")  # the config schema's

REQUIRED = [
    "practice_code",
    "health_board",
    "list_size",
    "simd15_share",
    "deep_end_rank",
    "links_start_year",
]
ABSENCE = re.compile(r"clp_absent_months_(\d{4})")
LINE = "_line"


def normalise_code(codes: pd.Series, width: int) -> pd.Series:
    """Clean all-digit practice codes.

    Strip whitespace and undo spreadsheet damage to all-digit codes: a trailing ``.0`` (a code
    stored as a number) and lost leading zeros (zero-padded to ``width``).
    """
    s = codes.astype(str).str.strip()
    s = s.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    short = s.str.fullmatch(r"\d+") & (s.str.len() < width)
    return s.mask(short, s.str.zfill(width))


def _int_column(df: pd.DataFrame, col: str, path: Path, lo: int, hi: int) -> pd.Series:
    s = df[col].str.strip()
    num = pd.to_numeric(s.where(s != ""), errors="coerce")
    bad = (s != "") & (num.isna() | (num % 1 != 0) | (num < lo) | (num > hi))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ExtractError(
            path,
            f"{s.iloc[i][:50]!r} is not a whole number in {lo}-{hi}",
            line=int(df[LINE].iloc[i]),
            column=col,
        )
    return num.astype("Int64")


def _table(path: Path) -> tuple[pd.DataFrame, int]:
    """Read the register as text columns.

    The register as text columns (header lower-cased), the physical line of each row, and
    the header's line.
    """
    try:
        text, _ = decode(path.read_bytes(), path)
    except OSError as exc:
        raise ExtractError(path, f"cannot read register: {exc.strerror}") from None
    if not text.strip():
        raise ExtractError(path, "register is empty")
    records, lines = csv_records(text, path)
    first = next((i for i, r in enumerate(records) if "".join(r).strip()), None)
    if first is None:
        raise ExtractError(path, "register is empty (only blank lines or fields)")
    header = [c.strip().lower() for c in records[first]]
    named = [c for c in header if c]
    dup = sorted({c for c in named if named.count(c) > 1})
    if dup:
        raise ExtractError(
            path, f"column {dup[0]} appears more than once", line=lines[first], column=dup[0]
        )
    body, body_lines, _ = rectangular(
        path, header, lines[first], records[first + 1 :], lines[first + 1 :]
    )
    keep = [j for j, c in enumerate(header) if c]
    df = pd.DataFrame(body[:, keep], columns=[header[j] for j in keep], dtype=object)
    df[LINE] = body_lines
    return df, lines[first]


def _check_starts(cohort: pd.Series, lines: pd.Series, years: list[int], path: Path) -> None:
    """Raise for the first Links start year not in (first survey year, last survey year]."""
    bad = (cohort > 0) & ((cohort <= years[0]) | (cohort > years[-1]))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ExtractError(
            path,
            f"Links start year {cohort.iloc[i]} is outside the survey years {years[0]}-"
            f"{years[-1]}: a start needs a survey year before it and one from it on (correct "
            "the register or config 'years')",
            line=int(lines.iloc[i]),
            column="links_start_year",
        )


def read_register(
    path: str | Path,
    *,
    code_width: int = _CODE_WIDTH,
    code_pattern: str = DEFAULT_PATTERN,
    survey_years: list[int] | None = None,
) -> pd.DataFrame:
    """Read the register, typed: one row per practice, sorted by practice code.

    Adds ``deep_end`` (bool) and ``cohort`` (Links start year, 0 = never treated).
    Codes are zero-padded to ``code_width``, then must match ``code_pattern`` (and be file-safe:
    :mod:`linkseval.data.practice_code`). With ``survey_years``, every Links start must leave at
    least one survey year before it and one from it on (else a DiD cannot estimate that
    practice's effect): an ``ExtractError`` names the first start outside, by line and column.

    Parameters
    ----------
    path : str or Path
        The register CSV.
    code_width : int
        Width all-digit practice codes are zero-padded to.
    code_pattern : str
        Regex every practice code must match.
    survey_years : list of int, optional
        The study's survey years, to check the Links starts against.

    Returns
    -------
    DataFrame
        The register, one row per practice.
    """
    path = Path(path)
    df, header_line = _table(path)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ExtractError(
            path, f"register lacks column {missing[0]}", line=header_line, column=missing[0]
        )
    if df.empty:
        raise ExtractError(path, "register has a header but no practices", line=header_line)
    df["practice_code"] = normalise_code(df["practice_code"], code_width)
    blank = df["practice_code"] == ""
    if blank.any():
        i = int(blank.to_numpy().argmax())
        raise ExtractError(
            path, "blank practice code", line=int(df[LINE].iloc[i]), column="practice_code"
        )
    check_codes(df["practice_code"], df[LINE], path, code_pattern)
    dup = df["practice_code"].duplicated(keep=False)
    if dup.any():
        lines = df.loc[dup, LINE].astype(int).tolist()
        code = df.loc[dup, "practice_code"].iloc[0]
        raise ExtractError(
            path,
            f"practice code {code} appears more than once (lines {', '.join(map(str, lines[:5]))})",
            line=lines[1],
            column="practice_code",
        )
    out = pd.DataFrame({"practice_code": df["practice_code"]})
    out["practice_name"] = df.get("practice_name", pd.Series("", index=df.index))
    out["health_board"] = df["health_board"].str.strip()
    out["list_size"] = _int_column(df, "list_size", path, 0, 10_000_000)
    share = pd.to_numeric(df["simd15_share"].str.strip().replace("", None), errors="coerce")
    bad = share.notna() & ((share < 0) | (share > 1))
    bad |= share.isna() & (df["simd15_share"].str.strip() != "")
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ExtractError(
            path,
            "simd15_share must be a share in 0-1",
            line=int(df[LINE].iloc[i]),
            column="simd15_share",
        )
    out["simd15_share"] = share.astype(float)
    out["deep_end_rank"] = _int_column(df, "deep_end_rank", path, 1, 100)
    out["deep_end"] = out["deep_end_rank"].notna()
    out["links_start_year"] = _int_column(df, "links_start_year", path, 1900, 2100)
    out["cohort"] = out["links_start_year"].fillna(0).astype(int)
    if survey_years:
        _check_starts(out["cohort"], df[LINE], sorted(survey_years), path)
    for col in sorted(c for c in df.columns if ABSENCE.fullmatch(c)):
        out[col] = _int_column(df, col, path, 0, 12).fillna(0).astype(int)
    return out.sort_values("practice_code", kind="stable").reset_index(drop=True)


def absence_long(register: pd.DataFrame) -> pd.DataFrame:
    """Months of Community Links Practitioner absence as (practice_code, year, months)."""
    cols = [c for c in register.columns if ABSENCE.fullmatch(c)]
    if not cols:
        return pd.DataFrame({"practice_code": [], "year": [], "clp_absent_months": []})
    long = register.melt("practice_code", cols, var_name="year", value_name="clp_absent_months")
    long["year"] = long["year"].str.extract(ABSENCE, expand=False).astype(int)
    return long.sort_values(["practice_code", "year"], kind="stable").reset_index(drop=True)
