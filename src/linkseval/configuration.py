"""Command-line configuration: bring ``--config`` strings to the types the schema asks for.

Snakemake passes values given on the command line (``--config scoring='{min_respondents: 6}'``,
``years='[2013,2014]'``) as strings. Before schema validation, :func:`coerce_to_schema` converts
a string only where the schema allows an integer, number, boolean or null and no string, so
practice codes such as ``"01234"`` stay strings. Anything it cannot convert is left for the
schema to reject with its usual message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_INT = re.compile(r"[+-]?\d+")
EXTS = ("csv", "xlsx")  # an extract is <stem>_<year>.csv or .xlsx


def _types(schema: dict) -> set[str]:
    t = schema.get("type", [])
    return {t} if isinstance(t, str) else set(t)


def _convert(text: str, types: set[str]) -> Any:
    s = text.strip()
    if "null" in types and s.lower() in {"null", "none", "~", ""}:
        return None
    if "boolean" in types and s.lower() in {"true", "false"}:
        return s.lower() == "true"
    if ("integer" in types or "number" in types) and _INT.fullmatch(s):
        return int(s)
    if "number" in types:
        try:
            return float(s)
        except ValueError:
            return text
    return text


def coerce_to_schema(value: Any, schema: dict) -> Any:
    """Convert strings where a JSON schema wants non-string scalars.

    A copy of ``value`` with strings converted where ``schema`` (JSON Schema) wants a
    non-string scalar; dicts and lists are followed through properties/items.
    """
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            k: coerce_to_schema(v, props.get(k, extra if isinstance(extra, dict) else {}))
            for k, v in value.items()
        }
    if isinstance(value, list):
        items = schema.get("items", {})
        return [coerce_to_schema(v, items if isinstance(items, dict) else {}) for v in value]
    if isinstance(value, str):
        types = _types(schema)
        if types and "string" not in types:
            return _convert(value, types)
    return value


# characters Snakemake gives a meaning in a path: {wildcards} and <pathvars>
SNAKEMAKE_MARKS = frozenset("{}<>")


def input_problems(
    raw_dir: str | Path, register: str | Path, stems: dict[str, str], years: list[int]
) -> list[str]:
    """One-line messages for inputs a real study's run would miss, before any job starts.

    Parameters
    ----------
    raw_dir : str or Path
        The extract folder (config ``raw_dir``).
    register : str or Path
        The practice register (config ``register``).
    stems : dict
        Instrument -> file stem (codebook ``file_stem``) of the configured ``instruments``.
    years : list of int
        The configured survey years.

    Returns
    -------
    list of str
        Empty when every extract and the register exist; else the first problem per kind,
        naming the file and the config key that leaves it out. A path holding characters
        Snakemake interprets (``{ } < >``) or control characters is the only problem named.
    """
    for key, value in (("raw_dir", raw_dir), ("register", register)):
        marks = sorted({c for c in str(value) if c in SNAKEMAKE_MARKS or not c.isprintable()})
        if marks:
            return [
                f"{str(value)!r}: config '{key}' holds {' '.join(map(repr, marks))}, which "
                "Snakemake would read as wildcard or path-variable markup (or is not printable); "
                "move or link the files to a path without them"
            ]
    raw = Path(raw_dir)
    if not raw.is_dir():
        return [f"{raw}: config 'raw_dir' is not a folder"]
    problems = []
    if not Path(register).is_file():
        problems.append(f"{register}: practice register not found (config 'register')")
    for instrument, stem in stems.items():
        missing = [
            y for y in years if not any((raw / f"{stem}_{y}.{ext}").is_file() for ext in EXTS)
        ]
        if missing:
            others = [i for i in stems if i != instrument]
            leave_out = (
                f", or leave the instrument out with --config instruments='[{', '.join(others)}]'"
                if others
                else ""
            )
            problems.append(
                f"{raw / f'{stem}_{missing[0]}.csv'}: no {instrument} extract for "
                f"{', '.join(map(str, missing))} ({stem}_<year>.csv or .xlsx); add it, drop the "
                f"year from config 'years'{leave_out}"
            )
    return problems
