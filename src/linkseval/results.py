"""The result vocabulary: one schema for every estimate row the study writes.

Every estimate table (``results/models/{instrument}/{outcome}.estimates.parquet``, the
multilevel cross-check, the gathered ``results/models/estimates.{parquet,csv}``, the scattered
RI summary and ``linkseval did``'s JSON) is made of :func:`make_row` records and checked by
:func:`validate`. A row says *what* was estimated in separate columns — the estimator's base
name, its ``variant`` (the left-out practice, the 2×2 years, the HonestDiD restriction, ...), the
``term`` and, where they apply, ``event_time``, ``cohort``, ``period``, ``base_period`` and
``bound`` — so readers select rows by column values and never decode names. The columns and
every value are documented in ``docs/results.md``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from linkseval.errors import LinksevalError

# column -> dtype, in table order ("str": text, missing allowed; "Int64": nullable integer)
COLUMNS: dict[str, str] = {
    "instrument": "str",
    "outcome": "str",
    "comparison": "str",
    "estimator": "str",
    "variant": "str",
    "term": "str",
    "event_time": "Int64",
    "cohort": "Int64",
    "period": "Int64",
    "base_period": "Int64",
    "bound": "float64",
    "method": "str",
    "estimate": "float64",
    "std_error": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "ci_low_fw": "float64",
    "ci_high_fw": "float64",
    "p_value": "float64",
    "statistic": "float64",
    "n_obs": "Int64",
    "n_units": "Int64",
    "n_treated": "Int64",
    "n_clusters": "Int64",
    "n_draws": "Int64",
    "applicable": "bool",
    "note": "str",
}
# written by the stages around the estimators: the label first, the adjusted p-values last
LABEL_COLUMN = {"data_label": "str"}
ADJUSTED_COLUMNS = {"p_holm": "float64", "p_bh": "float64"}

# what identifies an estimate (one row per KEY): every column that is not a number
KEY = [
    "instrument",
    "outcome",
    "comparison",
    "estimator",
    "variant",
    "term",
    "event_time",
    "cohort",
    "period",
    "base_period",
    "bound",
    "method",
]
STATISTICS = ["estimate", "std_error", "ci_low", "ci_high", "ci_low_fw", "ci_high_fw"]
STATISTICS += ["p_value", "statistic"]
COUNTS = ["n_obs", "n_units", "n_treated", "n_clusters", "n_draws"]

# estimator -> what its ``variant`` holds ("" = no variant)
ESTIMATORS: dict[str, str] = {
    "twfe": "",
    "did2x2": "<base_period>-<period>",
    "event_study": "",
    "callaway_santanna": "'' | dr (covariates, doubly robust) | weighted (sampling weights)",
    "imputation": "",
    "sdid": "'' | cohort_<g> (staggered starts: one fit per cohort)",
    "sc": "'' | cohort_<g> (staggered starts: one fit per cohort)",
    "leave_out": "<practice code left out>",
    "dose": "clp_presence",
    "multilevel": "respondent",
    "honestdid": "original | smoothness | relative_magnitude",
}
# term -> the structured columns it fills besides the key
TERMS: dict[str, tuple[str, ...]] = {
    "treated_post": (),
    "event": ("event_time",),
    "pretrend_joint": (),
    "att": ("cohort", "period", "event_time"),
    "simple": (),
    "dynamic": ("event_time",),
    "dynamic_overall": (),
    "group": ("cohort",),
    "group_overall": (),
    "calendar": ("period",),
    "calendar_overall": (),
    "mean_post": ("bound",),
}
HONEST_RESTRICTIONS = ("original", "smoothness", "relative_magnitude")
METHODS = (
    "CR1",
    "WCR bootstrap",
    "randomization inference",
    "randomization inference (t)",
    "influence function (analytic)",
    "imputation (BJS analytic)",
    "placebo SE",
    "jackknife SE",
    "MixedLM (model-based)",
    "HonestDiD normal",
    "HonestDiD FLCI",
    "HonestDiD C-LF",
)


class ResultSchemaError(LinksevalError):
    """A result table or record that does not follow :data:`COLUMNS`."""


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _int_or_none(name: str, v) -> int | None:
    if _missing(v):
        return None
    if isinstance(v, bool) or float(v) != int(v):
        raise ResultSchemaError(f"result record: {name} must be an integer, got {v!r}")
    return int(v)


def make_row(
    *,
    instrument: str,
    outcome: str,
    comparison: str,
    estimator: str,
    term: str,
    method: str,
    variant: str = "",
    event_time: int | None = None,
    cohort: int | None = None,
    period: int | None = None,
    base_period: int | None = None,
    bound: float | None = None,
    estimate: float = np.nan,
    std_error: float = np.nan,
    ci_low: float = np.nan,
    ci_high: float = np.nan,
    ci_low_fw: float = np.nan,
    ci_high_fw: float = np.nan,
    p_value: float = np.nan,
    statistic: float = np.nan,
    n_obs: int | None = None,
    n_units: int | None = None,
    n_treated: int | None = None,
    n_clusters: int | None = None,
    n_draws: int | None = 0,
    applicable: bool = True,
    note: str = "",
) -> dict:
    """Build one result record.

    One result record: every column of :data:`COLUMNS`, in order, checked against the
    vocabulary (estimator, term, method and the structured columns the term needs).
    ``applicable`` is False where the method cannot test the term (its numbers are empty and
    ``note`` says why).
    """
    if estimator not in ESTIMATORS:
        raise ResultSchemaError(f"result record: unknown estimator {estimator!r}")
    if term not in TERMS:
        raise ResultSchemaError(f"result record: unknown term {term!r}")
    if method not in METHODS:
        raise ResultSchemaError(f"result record: unknown method {method!r}")
    if estimator == "honestdid" and variant not in HONEST_RESTRICTIONS:
        raise ResultSchemaError(f"result record: unknown HonestDiD restriction {variant!r}")
    ints = {
        "event_time": _int_or_none("event_time", event_time),
        "cohort": _int_or_none("cohort", cohort),
        "period": _int_or_none("period", period),
        "base_period": _int_or_none("base_period", base_period),
    }
    for col in TERMS[term]:
        if col != "bound" and ints[col] is None:
            raise ResultSchemaError(f"result record: term {term!r} needs {col}")
    return {
        "instrument": instrument,
        "outcome": outcome,
        "comparison": comparison,
        "estimator": estimator,
        "variant": variant,
        "term": term,
        **ints,
        "bound": np.nan if _missing(bound) else float(bound),
        "method": method,
        "estimate": float(estimate),
        "std_error": float(std_error),
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "ci_low_fw": float(ci_low_fw),
        "ci_high_fw": float(ci_high_fw),
        "p_value": float(p_value),
        "statistic": float(statistic),
        "n_obs": _int_or_none("n_obs", n_obs),
        "n_units": _int_or_none("n_units", n_units),
        "n_treated": _int_or_none("n_treated", n_treated),
        "n_clusters": _int_or_none("n_clusters", n_clusters),
        "n_draws": _int_or_none("n_draws", n_draws),
        "applicable": bool(applicable),
        "note": "" if _missing(note) else str(note),
    }


def _booleans(col: str, v: pd.Series) -> pd.Series:
    """Type a boolean column: missing cells are True, text ``True``/``False`` (CSV) is parsed."""
    words = {"true": True, "false": False}
    out = []
    for x in v.tolist():
        if _missing(x):
            out.append(True)
        elif isinstance(x, bool | np.bool_):
            out.append(bool(x))
        elif str(x).strip().lower() in words:
            out.append(words[str(x).strip().lower()])
        else:
            raise ResultSchemaError(f"result table: column {col} holds {x!r}, not a boolean")
    return pd.Series(out, index=v.index, dtype="bool")


def _schema(df: pd.DataFrame) -> dict[str, str]:
    """Return the expected columns of ``df`` and their dtypes.

    The expected columns of ``df``: :data:`COLUMNS`, with the label and the adjusted
    p-values where the table carries them.
    """
    out = dict(LABEL_COLUMN) if "data_label" in df.columns else {}
    out.update(COLUMNS)
    if any(c in df.columns for c in ADJUSTED_COLUMNS):
        out.update(ADJUSTED_COLUMNS)
    return out


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Type ``df`` as the result schema says.

    ``df`` (records, a table read back from CSV or Parquet) with every schema column in
    order and its dtype; missing columns are added empty (``applicable``: True, what a table
    written before the column existed means by a row). Values are not changed, only typed.
    """
    schema = _schema(df)
    unknown = [c for c in df.columns if c not in schema]
    if unknown:
        raise ResultSchemaError(f"result table: unknown column(s) {unknown}")
    out = pd.DataFrame(index=df.index)
    for col, dtype in schema.items():
        v = df[col] if col in df.columns else pd.Series(pd.NA, index=df.index, dtype="object")
        if dtype == "str":
            out[col] = v.astype("object").where(v.notna(), None).astype("str")
            if col in ("variant", "note"):
                out[col] = out[col].fillna("")
        elif dtype == "Int64":
            out[col] = pd.to_numeric(v, errors="raise").astype("Int64")
        elif dtype == "bool":
            out[col] = _booleans(col, v)
        else:
            out[col] = pd.to_numeric(v, errors="raise").astype(dtype)
    return out


def frame(rows: list[dict]) -> pd.DataFrame:
    """Build a validated result table from :func:`make_row` records (empty: just the columns)."""
    df = pd.DataFrame(rows, columns=list(COLUMNS)) if not rows else pd.DataFrame(rows)
    out = conform(df)
    validate(out)
    return out


def _dtype_ok(s: pd.Series, dtype: str) -> bool:
    if dtype == "str":
        return pd.api.types.is_string_dtype(s) and all(
            isinstance(v, str) for v in s.dropna().tolist()
        )
    if dtype == "Int64":
        return str(s.dtype) == "Int64"
    if dtype == "bool":
        return str(s.dtype) == "bool"
    return str(s.dtype) == dtype


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the result schema.

    Parameters
    ----------
    df : DataFrame
        A result table.

    Returns
    -------
    DataFrame
        ``df`` itself.

    Raises
    ------
    ResultSchemaError
        Unless ``df`` has exactly the schema's columns, in order, with their dtypes, and only
        vocabulary values.
    """
    schema = _schema(df)
    if list(df.columns) != list(schema):
        unknown = [c for c in df.columns if c not in schema]
        missing = [c for c in schema if c not in df.columns]
        raise ResultSchemaError(
            f"result table: columns differ from the schema (unknown {unknown}, missing "
            f"{missing}; order: docs/results.md)"
        )
    for col, dtype in schema.items():
        if not _dtype_ok(df[col], dtype):
            raise ResultSchemaError(
                f"result table: column {col} has dtype {df[col].dtype}, expected {dtype}"
            )
    for col, vocab in (("estimator", ESTIMATORS), ("term", TERMS), ("method", METHODS)):
        bad = sorted(set(df[col].dropna()) - set(vocab))
        if bad:
            raise ResultSchemaError(f"result table: unknown {col} value(s) {bad}")
    return df


def read(path: str | Path) -> pd.DataFrame:
    """Read a result table from CSV or Parquet, typed and validated.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file, else CSV.

    Returns
    -------
    DataFrame
        The table typed as the schema says (CSV loses the integer and text dtypes of empty cells)
        and validated (:func:`validate`).
    """
    path = Path(path)
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, dtype={"variant": str}, keep_default_na=True)
    return validate(conform(df))


def combine(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-bind result tables, each validated first (the gathered table is validated too)."""
    for t in tables:
        validate(t)
    return validate(conform(pd.concat(tables, ignore_index=True)))
