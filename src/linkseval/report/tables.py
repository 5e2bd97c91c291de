"""The report's tables: formatting, disclosure control and the estimate tables as DataFrames.

Estimates are selected by the columns of :mod:`linkseval.results` (``estimator``, ``variant``,
``term``, ``event_time``, ``method``, ...), never by decoding names. Tables become plain HTML
(no random ids) through :func:`table_html`, which escapes every cell.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from linkseval.estimators import method_order, method_short, overall_term
from linkseval.report.outcomes import label
from linkseval.report.pages import fragment
from linkseval.study import section_defaults

_ALPHA = section_defaults("analysis", "alpha")  # keyword defaults: the config schema's

# the cross-checks of the static effect (did_outcome's last table), each at its overall term
# (linkseval.estimators.overall_term); only those the run estimated have rows
CROSS_CHECKS = ("multilevel", "dose", "callaway_santanna", "imputation")


PLACEBO_POOLS = {"comparison": "all comparison practices", "deep_end": "Deep End practices"}


def level(alpha: float = _ALPHA) -> str:
    """Return the confidence level of intervals at ``alpha`` in words: ``95%`` for 0.05."""
    return f"{100 * (1 - alpha):g}%"


def methods_in(rows: pd.DataFrame) -> list[str]:
    """Return the result rows' methods in the registry's order (analytic first, then as run)."""
    return sorted(dict.fromkeys(rows["method"]), key=method_order) if len(rows) else []


def suppress_small(df: pd.DataFrame, n_col: str, min_n: int, value_cols: list[str]) -> pd.DataFrame:
    """Blank ``value_cols`` where ``n_col`` < ``min_n`` and show the count as '<min_n'."""
    out = df.copy()
    small = out[n_col] < min_n
    for c in value_cols:
        out[c] = out[c].astype(object).where(~small, "suppressed")
    out[n_col] = out[n_col].astype(object).where(~small, f"<{min_n}")
    return out


def fmt_p(p: float) -> str:
    """Format a p-value for a table: three decimals, ``<0.001`` below 0.001, ``–`` if missing."""
    if p is None or (isinstance(p, float) and np.isnan(p)):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_estimate(x: float) -> str:
    """Format a signed estimate, or '–' where it is not shown (e.g. a withheld leave-one-out)."""
    return "–" if x is None or np.isnan(x) else f"{x:+.2f}"


def fmt_ci(lo: float, hi: float) -> str:
    """Format a confidence interval as ``[lo, hi]`` (two decimals), ``–`` if an end is missing."""
    if any(x is None or (isinstance(x, float) and np.isnan(x)) for x in (lo, hi)):
        return "–"
    return f"[{lo:.2f}, {hi:.2f}]"


# a cell that reads as a number, an interval or a percentage (right-aligned in its column)
_NUMERIC = re.compile(r"^[\s(\[]*[-+−–]?[0-9.,]+%?(?:[\s,;–−-]+[-+−–]?[0-9.,]+%?)*[)\]]*\s*$|^–$")


def _numeric_columns(df: pd.DataFrame) -> list[bool]:
    """Return, per column, whether every non-empty cell reads as a number (or an interval)."""
    out = []
    for col in df.columns:
        cells = [str(v) for v in df[col] if not (isinstance(v, float) and np.isnan(v))]
        out.append(bool(cells) and all(_NUMERIC.match(c) for c in cells if c != ""))
    return out


CSV_DATA_URL = "data:text/csv;charset=utf-8,"


def csv_name(caption: str) -> str:
    """Return a download file name made from a table's caption: 'Rows per extract' -> ..."""
    words = re.findall(r"[A-Za-z0-9]+", caption.lower())[:8]
    return ("_".join(words) or "table") + ".csv"


def csv_link(df: pd.DataFrame, caption: str = "") -> str:
    """Return a link that downloads ``df`` as CSV (percent-encoded in a ``data:`` URL).

    The CSV holds the cells as the table shows them (missing as empty), UTF-8, newline line
    ends: the same table, the same bytes.
    """
    from urllib.parse import quote

    text = df.to_csv(index=False, lineterminator="\n")
    return fragment(
        "<a class='csv' download='{}' href='{}' aria-label='{}'>CSV</a>",
        csv_name(caption),
        CSV_DATA_URL + quote(text, safe=""),
        f"Download this table as CSV: {caption}" if caption else "Download this table as CSV",
    )


def table_html(df: pd.DataFrame, caption: str = "") -> str:
    """Return a plain, deterministic HTML table; cells, headers and caption escaped.

    The caption is the table's ``<caption>``, with a link that downloads the table as CSV
    (:func:`csv_link`: the cells as shown, in the page itself, so it travels with the page);
    header cells carry ``scope='col'``; columns of numbers are right-aligned (class ``num``);
    the table scrolls inside its own box on a narrow screen, never the page.
    """
    body = df.to_html(index=False, escape=True, border=0, classes="tbl", na_rep="–")
    numeric = _numeric_columns(df)
    lines, col, in_head = [], 0, False
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("<thead"):
            in_head = True
        elif stripped.startswith("</thead"):
            in_head = False
        if stripped.startswith("<tr"):
            col = 0
        elif stripped.startswith(("<th", "<td")):
            cls = " class='num'" if col < len(numeric) and numeric[col] else ""
            scope = " scope='col'" if in_head else ""
            line = line.replace("<th>", f"<th{scope}{cls}>", 1).replace("<td>", f"<td{cls}>", 1)
            col += 1
        lines.append(line)
    body = "\n".join(lines)
    cap = fragment("<caption>{} ", caption) if caption else "<caption>"
    body = body.replace("<thead>", cap + csv_link(df, caption) + "</caption>\n  <thead>", 1)
    # a scrolling box must be reachable by keyboard: focusable, a named region
    box = fragment(
        "<div class='tbl-wrap' tabindex='0' role='region' aria-label='{}'>", caption or "table"
    )
    return box + body + "</div>"


def headline_table(head: pd.DataFrame, alpha: float = _ALPHA) -> pd.DataFrame:
    """Effect per outcome with its CI at ``alpha`` and p (adjusted) under each method, wide.

    One column pair per method the headline holds (every method of ``analysis.methods``), in
    the registry's order.
    """
    rows = []
    methods = methods_in(head)
    for outcome, g in head.groupby("outcome", sort=False):
        g = g.set_index("method")
        row = {"Outcome": label(outcome), "Effect (% points)": f"{g['estimate'].iloc[0]:+.2f}"}
        for m in methods:
            if m not in g.index:
                continue
            r = g.loc[m]
            row[f"{m}: {level(alpha)} CI"] = fmt_ci(r["ci_low"], r["ci_high"])
            adj = "" if pd.isna(r.get("p_holm")) else f" (Holm {fmt_p(r['p_holm'])})"
            row[f"{m}: p"] = fmt_p(r["p_value"]) + adj
        rows.append(row)
    return pd.DataFrame(rows)


def family_table(head: pd.DataFrame) -> pd.DataFrame:
    """Tabulate the family-wise (Bonferroni) CI per family outcome under each method.

    Family-wise (Bonferroni) CI per family outcome under each method, wide: the rows of
    ``head`` (one estimate per outcome × method) that carry ``ci_low_fw``/``ci_high_fw``.
    """
    if "ci_low_fw" not in head:
        return pd.DataFrame()
    fam = head.dropna(subset=["ci_low_fw", "ci_high_fw"], how="all")
    rows = []
    for outcome, g in fam.groupby("outcome", sort=False):
        g = g.set_index("method")
        row = {"Outcome": label(outcome), "Effect (% points)": f"{g['estimate'].iloc[0]:+.2f}"}
        for m in methods_in(fam):
            if m in g.index:
                row[m] = fmt_ci(g.loc[m, "ci_low_fw"], g.loc[m, "ci_high_fw"])
        rows.append(row)
    return pd.DataFrame(rows)


def family_wise_rows(est: pd.DataFrame, main_comparison: str) -> pd.DataFrame:
    """Return the static TWFE rows vs the main comparison that carry family-wise intervals."""
    e = est[
        (est["comparison"] == main_comparison)
        & (est["estimator"] == "twfe")
        & (est["term"] == "treated_post")
    ]
    return e.dropna(subset=["ci_low_fw", "ci_high_fw"], how="all")


def n_family(head: pd.DataFrame, family: list[str]) -> int:
    """How many of the family's outcomes the headline holds (those modelled)."""
    return int(head.loc[head["outcome"].isin(family), "outcome"].nunique())


def estimator_name(estimator: str, variant: str = "") -> str:
    """Format an estimator and its variant for a table cell: ``twfe``, ``leave_out (05283)``."""
    return f"{estimator} ({variant})" if variant else estimator


def estimate_table(
    est: pd.DataFrame, outcome: str, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """Tabulate all static estimates for one outcome.

    All static estimates for one outcome: comparison × estimator (variant), methods side by
    side; comparison groups by their config ``label`` where ``labels`` has one.
    """
    labels = labels or {}
    e = est[(est["outcome"] == outcome) & (est["term"] == "treated_post")]
    e = e.assign(variant=e["variant"].fillna(""))
    rows = []
    by = ["comparison", "estimator", "variant"]
    for (comp, estimator, variant), g in e.groupby(by, sort=False):
        g = g.set_index("method")
        row = {
            "Comparison": labels.get(comp, comp),
            "Estimator": estimator_name(estimator, variant),
            "Estimate": fmt_estimate(g["estimate"].iloc[0]),
        }
        row.update(_method_cells(g))
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def _method_cells(g: pd.DataFrame) -> dict[str, str]:
    """'[CI], p=…' per inference method (rows of ``g`` indexed by method)."""
    out = {}
    for m in g.index:
        r = g.loc[m]
        if not r["applicable"]:
            out[m] = "not applicable"
        elif np.isnan(r["ci_low"]) and np.isnan(r["ci_high"]):
            out[m] = f"p={fmt_p(r['p_value'])}"
        else:
            out[m] = f"{fmt_ci(r['ci_low'], r['ci_high'])}, p={fmt_p(r['p_value'])}"
    return out


def event_table(est: pd.DataFrame, outcome: str, comparison: str) -> pd.DataFrame:
    """Tabulate the event-study coefficients for one outcome and comparison.

    Event-study coefficients for one outcome and comparison: methods side by side (RI gives
    a p-value only), then the joint pre-trend tests, one row per method.
    """
    e = est[
        (est["outcome"] == outcome)
        & (est["comparison"] == comparison)
        & (est["estimator"] == "event_study")
    ]
    rows = []
    terms = e[e["term"] == "event"]
    for et in sorted(int(x) for x in terms["event_time"].unique()):
        g = terms[terms["event_time"] == et].set_index("method")
        row = {"Event time": str(et), "Estimate": f"{g['estimate'].iloc[0]:+.2f}"}
        row.update(_method_cells(g))
        rows.append(row)
    joint = e[e["term"] == "pretrend_joint"]
    if len(joint):
        row = {"Event time": "joint pre-trend test", "Estimate": ""}
        for r in joint.itertuples():  # CR1: Wald F; randomization inference: Wald W
            row[r.method] = (
                "not applicable"
                if not r.applicable
                else f"{'F' if r.method == 'CR1' else 'W'}={r.statistic:.2f}, p={fmt_p(r.p_value)}"
            )
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def honest_table(est: pd.DataFrame, alpha: float = _ALPHA) -> pd.DataFrame:
    """Tabulate HonestDiD's robust CIs for the mean post-programme effect.

    HonestDiD's robust CIs for the mean post-programme effect, one row per restriction ×
    bound (empty without HonestDiD rows).
    """
    h = est[est["estimator"] == "honestdid"]
    if h.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "Restriction": h["variant"].str.replace("_", " "),
            "Bound (M, M̄)": [("–" if pd.isna(b) else f"{b:g}") for b in h["bound"]],
            "Method": h["method"],
            f"{level(alpha)} CI": [
                fmt_ci(lo, hi) for lo, hi in zip(h["ci_low"], h["ci_high"], strict=True)
            ],
            "Note": h["note"].fillna(""),
        }
    ).reset_index(drop=True)


def cross_checks(est: pd.DataFrame) -> pd.DataFrame:
    """Tabulate the static effect by the cross-check estimators (:data:`CROSS_CHECKS`), rounded."""
    pick = np.zeros(len(est), dtype=bool)
    for estimator in CROSS_CHECKS:
        term = overall_term(estimator)
        pick |= ((est["estimator"] == estimator) & (est["term"] == term)).to_numpy()
    cols = ["estimator", "variant", "term", "method", "estimate", "ci_low", "ci_high"]
    return est.loc[pick, cols + ["p_value", "note"]].round(3).reset_index(drop=True)


def item_distribution(clean: pd.DataFrame, items: list[str], lo: int, hi: int) -> pd.DataFrame:
    """Share of each answer code (and missing) per item, over all kept respondents."""
    rows = []
    n = len(clean)
    for item in items:
        v = clean[item]
        counts = v.value_counts(dropna=True)
        row = {"item": item, "n": n, "missing %": round(100 * v.isna().mean(), 1)}
        for code in range(lo, hi + 1):
            row[str(code)] = round(100 * counts.get(code, 0) / max(n, 1), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def placebo_table(placebo: pd.DataFrame) -> pd.DataFrame:
    """Tabulate the placebo study: per outcome and pool, each method's rejection rate (MC SE)."""
    p = placebo.assign(
        cell=[
            f"{100 * r:.1f}% ({100 * se:.1f})" if n else "–"
            for r, se, n in zip(
                placebo["rate"], placebo["mc_se"], placebo["n_assignments"], strict=True
            )
        ],
        Pool=placebo["pool"].map(PLACEBO_POOLS).fillna(placebo["pool"]),
        Outcome=placebo["outcome"].map(label),
        Method=placebo["method"].map(method_short),
    )
    order = [method_short(m) for m in methods_in(placebo)]
    t = p.pivot_table(
        index=["Pool", "Outcome"], columns="Method", values="cell", aggfunc="first", sort=False
    )
    return t[order].reset_index()
