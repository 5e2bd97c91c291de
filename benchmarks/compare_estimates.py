"""Check that the structured result vocabulary changed names only, not numbers.

Maps every row of a new ``estimates.csv`` (structured columns: ``estimator``, ``variant``,
``term``, ``event_time``, ``cohort``, ``period``, ``bound``, ...) back to the encoded names of the
tables written before issue 16 (``leave_out[05283]``, ``did2x2[2013-2014]``, ``event[-1]``,
``att[2014,2015]``, ``smoothness[0.5]``, ``Wald F (CR1)``, ...) by *formatting* the old names from
the columns, and asserts that the two tables agree row for row: the same identity in the same
order, every number exactly equal (NaN = NaN, ±inf = ±inf), no row lost or added. A baseline that
already has the structured columns (``variant``) is compared name for name, the structured
columns included. A column the
baseline does not have is not compared, except ``applicable`` (issue 16): where the new table has
it, it must be False exactly on the rows whose baseline ``note`` says ``not applicable``.

    .venv/bin/python benchmarks/compare_estimates.py results/models/estimates.csv \\
        /work/baseline/default_estimates.csv
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

NUMBERS = ["estimate", "std_error", "ci_low", "ci_high", "ci_low_fw", "ci_high_fw"]
NUMBERS += ["p_value", "statistic", "p_holm", "p_bh"]
COUNTS = ["n_obs", "n_units", "n_treated", "n_clusters", "n_draws"]
TEXT = ["data_label", "instrument", "outcome", "comparison", "estimator", "term", "method", "note"]


def _int(v) -> int:
    return int(float(v))


def legacy_estimator(r) -> str:
    if r.estimator in ("did2x2", "leave_out", "dose", "multilevel"):
        return f"{r.estimator}[{r.variant}]"
    return r.estimator


def legacy_term(r) -> str:
    if r.term == "event":
        return f"event[{_int(r.event_time)}]"
    if r.term == "dynamic":
        return f"dynamic[{_int(r.event_time)}]"
    if r.term == "att":
        return f"att[{_int(r.cohort)},{_int(r.period)}]"
    if r.term == "mean_post":  # HonestDiD
        return "original" if r.variant == "original" else f"{r.variant}[{float(r.bound):g}]"
    return r.term


def legacy_method(r) -> str:
    return "Wald F (CR1)" if (r.term, r.method) == ("pretrend_joint", "CR1") else r.method


def to_legacy(new: pd.DataFrame) -> pd.DataFrame:
    """The new table with the old encoded estimator, term and method names."""
    out = new.copy()
    rows = list(new.itertuples(index=False))
    out["estimator"] = [legacy_estimator(r) for r in rows]
    out["term"] = [legacy_term(r) for r in rows]
    out["method"] = [legacy_method(r) for r in rows]
    return out


def _read(path: str) -> pd.DataFrame:
    text = {c: str for c in TEXT + ["variant"]}
    return pd.read_csv(
        path, dtype=text, keep_default_na=False, na_values={c: [""] for c in NUMBERS + COUNTS}
    )


KEY = ["instrument", "outcome", "comparison", "estimator", "term", "method"]
# the structured identity columns of a table written after issue 16 (compared as text)
STRUCTURED = ["variant", "event_time", "cohort", "period", "base_period", "bound"]


def compare(new_path: str, old_path: str, by_key: bool = False) -> list[str]:
    """Differences between the tables (empty: identical). ``by_key``: pair the rows by their
    (legacy) identity instead of by position — for a baseline whose outcomes were gathered in
    another order; every row must still pair with exactly one."""
    new, old = _read(new_path), _read(old_path)
    problems = []
    if len(new) != len(old):
        problems.append(f"row count: new {len(new)}, baseline {len(old)}")
    structured = "variant" in old.columns  # a baseline written after issue 16: same names
    legacy = new.copy() if structured else to_legacy(new)
    key = KEY + STRUCTURED if structured else KEY
    if legacy[key].duplicated().any() or old[key].duplicated().any():
        problems.append("duplicate row identities")
    if by_key:
        old_keys = list(map(tuple, old[key].to_numpy()))
        position = {k: i for i, k in enumerate(map(tuple, legacy[key].to_numpy()))}
        lost = [k for k in old_keys if k not in position]
        problems += [f"baseline row not in the new table: {k}" for k in lost[:10]]
        added = set(position) - set(old_keys)
        problems += [f"new row not in the baseline: {k}" for k in sorted(added)[:10]]
        if lost or added:
            return problems
        order = [position[k] for k in old_keys]
        new, legacy = new.iloc[order].reset_index(drop=True), legacy.iloc[order]
        legacy = legacy.reset_index(drop=True)
    n = min(len(new), len(old))
    for col in TEXT + (STRUCTURED if structured else []):
        a, b = legacy[col].astype(str).to_numpy()[:n], old[col].astype(str).to_numpy()[:n]
        for i in np.flatnonzero(a != b)[:10]:
            problems.append(f"row {i}: {col} {a[i]!r} != baseline {b[i]!r}")
    if "applicable" in new.columns:
        flag = new["applicable"].astype(str).str.lower().to_numpy()[:n] == "true"
        said = ~old["note"].str.startswith("not applicable").to_numpy()[:n]
        for i in np.flatnonzero(flag != said)[:10]:
            problems.append(f"row {i}: applicable {flag[i]} but baseline note {old['note'][i]!r}")
    for col in NUMBERS + COUNTS:
        a = new[col].to_numpy(dtype=float)[:n]
        b = old[col].to_numpy(dtype=float)[:n]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        for i in np.flatnonzero(~same)[:10]:
            problems.append(f"row {i}: {col} {a[i]!r} != baseline {b[i]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("new", help="estimates.csv with the structured columns")
    ap.add_argument("baseline", help="estimates.csv from before (encoded names)")
    ap.add_argument(
        "--by-key",
        action="store_true",
        help="pair rows by their identity, not their position (baseline gathered in another order)",
    )
    args = ap.parse_args(argv)
    problems = compare(args.new, args.baseline, args.by_key)
    n = len(pd.read_csv(args.baseline, usecols=["estimator"]))
    if problems:
        print(f"{len(problems)} difference(s) against {args.baseline}:")
        for p in problems[:50]:
            print(f"  {p}")
        return 1
    cols = len(NUMBERS + COUNTS)
    how = "paired by identity" if args.by_key else "row for row, same order"
    print(f"identical ({how}): {n} rows x {cols} numeric and {len(TEXT)} text columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
