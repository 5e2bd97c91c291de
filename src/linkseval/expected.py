"""Compare the headline estimates of a run with the committed expectation (tests/expected/).

CI runs the full default pipeline and calls :func:`compare`; when numbers move it prints one
readable line per change and fails. Updating the expectation is deliberate: ``make expected``.
Tolerances (absolute): estimates and CIs (also the family-wise ones) 1e-6 and 1e-4 % points
(same seeds and lock give the same numbers; the slack absorbs floating-point summation order on
another CPU), p-values 2e-3 (a few of 9,999 draws may fall on the other side of a threshold).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

TOLERANCE = {
    "estimate": 1e-6,
    "std_error": 1e-6,
    "ci_low": 1e-4,
    "ci_high": 1e-4,
    "ci_low_fw": 1e-4,
    "ci_high_fw": 1e-4,
    "p_value": 2e-3,
}
KEYS = ("instrument", "outcome", "method")


def summarise(headline: dict) -> dict:
    """Return the compared part of headline.json, keyed by instrument/outcome/method."""
    out = {}
    for r in headline["headline"]:
        key = "/".join(str(r[k]) for k in KEYS)
        out[key] = {k: r.get(k) for k in TOLERANCE}
    return {"data_label": headline.get("data_label", ""), "rows": dict(sorted(out.items()))}


def _num(v) -> float:
    return math.nan if v is None else float(v)


def compare(actual: dict, expected: dict) -> list[str]:
    """Human-readable differences beyond tolerance (empty list: all within tolerance)."""
    a, e = actual["rows"], expected["rows"]
    diffs = [f"missing in this run: {k}" for k in sorted(set(e) - set(a))]
    diffs += [f"new in this run (not expected): {k}" for k in sorted(set(a) - set(e))]
    for k in sorted(set(a) & set(e)):
        for field, tol in TOLERANCE.items():
            x, y = _num(a[k].get(field)), _num(e[k].get(field))
            if math.isnan(x) and math.isnan(y):
                continue
            if math.isnan(x) != math.isnan(y) or abs(x - y) > tol:
                diffs.append(
                    f"{k}: {field} {y:.6g} -> {x:.6g} (moved {x - y:+.3g}, tolerance {tol:g})"
                )
    return diffs


def load(path: str | Path) -> dict:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
