"""Figures, tables and HTML pages for the evaluation report.

Notebooks call these; no logic lives in the notebooks. Figures are matplotlib (Agg); tables are
plain HTML (no random ids).

Estimates are selected by the columns of :mod:`linkseval.results` (``estimator``, ``variant``,
``term``, ``event_time``, ``method``, ...), never by decoding names.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from linkseval.report.pages import fragment, label_note, page  # noqa: E402, F401
from linkseval.study import section_defaults  # noqa: E402

_ALPHA = section_defaults("analysis", "alpha")  # keyword defaults: the config schema's

LINKS_COLOR, SCOT_COLOR, DE_COLOR = "#b2182b", "#2166ac", "#7f7f7f"
METHODS = ["CR1", "WCR bootstrap", "randomization inference"]
# the cross-checks of the static effect (did_outcome's last table): estimator -> its term
CROSS_CHECKS = {
    "multilevel": "treated_post",
    "dose": "treated_post",
    "callaway_santanna": "simple",
    "imputation": "simple",
}
# Outcome labels are the codebook's (linkseval.study.outcome_labels): a page sets them once from
# the study (the rules pass them to the notebooks as the parameter `outcome_labels`).
_outcome_labels: dict[str, str] = {}


def set_outcome_labels(labels: dict[str, str] | str) -> None:
    """Use ``labels`` (outcome id -> label, or its JSON) for every figure and table."""
    import json

    _outcome_labels.clear()
    _outcome_labels.update(json.loads(labels) if isinstance(labels, str) else labels)


def label(outcome: str) -> str:
    """Return the outcome's codebook label (as set by :func:`set_outcome_labels`), else its id."""
    return _outcome_labels.get(outcome, outcome.replace("_", " ").title())


def style() -> None:
    """Deterministic, readable defaults for every figure."""
    plt.rcParams.update(
        {
            "figure.dpi": 96,
            "savefig.dpi": 96,
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "svg.hashsalt": "linkseval",
            "figure.max_open_warning": 0,
        }
    )


# --------------------------------------------------------------------------- disclosure control


def suppress_small(df: pd.DataFrame, n_col: str, min_n: int, value_cols: list[str]) -> pd.DataFrame:
    """Blank ``value_cols`` where ``n_col`` < ``min_n`` and show the count as '<min_n'."""
    out = df.copy()
    small = out[n_col] < min_n
    for c in value_cols:
        out[c] = out[c].astype(object).where(~small, "suppressed")
    out[n_col] = out[n_col].astype(object).where(~small, f"<{min_n}")
    return out


# --------------------------------------------------------------------------- tables


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


def table_html(df: pd.DataFrame, caption: str = "") -> str:
    """Return a plain, deterministic HTML table; cells, headers and caption escaped."""
    body = df.to_html(index=False, escape=True, border=0, classes="tbl", na_rep="–")
    cap = fragment("<p class='caption'>{}</p>", caption) if caption else ""
    return cap + body


def headline_table(head: pd.DataFrame) -> pd.DataFrame:
    """Effect per outcome with 95% CI and p (adjusted) under each inference method, wide."""
    rows = []
    for outcome, g in head.groupby("outcome", sort=False):
        g = g.set_index("method")
        row = {"Outcome": label(outcome), "Effect (% points)": f"{g['estimate'].iloc[0]:+.2f}"}
        for m in METHODS:
            if m not in g.index:
                continue
            r = g.loc[m]
            row[f"{m}: 95% CI"] = fmt_ci(r["ci_low"], r["ci_high"])
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
        for m in METHODS:
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


def family_caption(n_family: int, alpha: float = _ALPHA) -> str:
    """Say in words what the family-wise intervals promise."""
    level = 100 * (1 - alpha / n_family)
    return (
        f"Simultaneous {100 * (1 - alpha):.0f}% CIs across the {_count(n_family)} themes "
        f"(Bonferroni: "
        f"each at {level:.4g}%): with probability at least {100 * (1 - alpha):.0f}%, all "
        f"{_count(n_family)} intervals cover their true effects at once. An interval that "
        "excludes 0 here is also significant after the Bonferroni (and so the Holm) adjustment."
    )


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
        if str(r["note"]).startswith("not applicable"):
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
                if str(r.note).startswith("not applicable")
                else f"{'F' if r.method == 'CR1' else 'W'}={r.statistic:.2f}, p={fmt_p(r.p_value)}"
            )
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def honest_table(est: pd.DataFrame) -> pd.DataFrame:
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
            "95% CI": [fmt_ci(lo, hi) for lo, hi in zip(h["ci_low"], h["ci_high"], strict=True)],
            "Note": h["note"].fillna(""),
        }
    ).reset_index(drop=True)


def cross_checks(est: pd.DataFrame) -> pd.DataFrame:
    """Tabulate the static effect by the cross-check estimators (:data:`CROSS_CHECKS`), rounded."""
    pick = np.zeros(len(est), dtype=bool)
    for estimator, term in CROSS_CHECKS.items():
        pick |= ((est["estimator"] == estimator) & (est["term"] == term)).to_numpy()
    cols = ["estimator", "variant", "term", "method", "estimate", "ci_low", "ci_high"]
    return est.loc[pick, cols + ["p_value", "note"]].round(3).reset_index(drop=True)


# --------------------------------------------------------------------------- figures


def fig_theme_means(means: pd.DataFrame, groups=("links", "scotland_all"), title: str = ""):
    """Figure 1: mean % score by year per theme, one panel per outcome."""
    style()
    outcomes = list(dict.fromkeys(means["outcome"]))
    n = len(outcomes)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    colors = {
        "links": LINKS_COLOR,
        "scotland_all": SCOT_COLOR,
        "scotland_other": SCOT_COLOR,
        "deep_end_other": DE_COLOR,
    }
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        for gname in groups:
            g = means[(means["outcome"] == outcome) & (means["group"] == gname)]
            if g.empty:
                continue
            ax.plot(
                g["year"],
                g["percent"],
                marker="o",
                color=colors.get(gname, "k"),
                label=g["group_label"].iloc[0],
            )
        ax.set_title(label(outcome))
        ax.set_xticks(sorted(means["year"].unique()))
        ax.set_ylabel("mean % score")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def fig_percent_change(change: pd.DataFrame, year: int, groups=("links", "scotland_all")):
    """Figure 2: % change from baseline per theme, groups side by side."""
    style()
    c = change[change["year"] == year]
    outcomes = list(dict.fromkeys(c["outcome"]))
    x = np.arange(len(outcomes))
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(outcomes)), 3.5))
    colors = [LINKS_COLOR, SCOT_COLOR, DE_COLOR]
    for k, gname in enumerate(groups):
        g = c[c["group"] == gname].set_index("outcome").reindex(outcomes)
        ax.bar(
            x + k * width - 0.4 + width / 2,
            g["change_percent"],
            width,
            color=colors[k],
            label=g["group_label"].dropna().iloc[0] if g["group_label"].notna().any() else gname,
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, [label(o) for o in outcomes], rotation=20, ha="right")
    ax.set_ylabel(f"% change, {year} vs baseline")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_event_study(est: pd.DataFrame, outcome: str, comparison: str):
    """Event-study coefficients with CR1 and WCR 95% CIs (reference: the year before start)."""
    style()
    e = est[
        (est["outcome"] == outcome)
        & (est["comparison"] == comparison)
        & (est["estimator"] == "event_study")
        & (est["term"] == "event")
    ]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if e.empty:
        ax.text(0.5, 0.5, "no event-study terms", ha="center", transform=ax.transAxes)
        return fig
    e = e.assign(et=e["event_time"].astype(int))
    for k, (m, color, off) in enumerate(
        [("CR1", "k", -0.08), ("WCR bootstrap", LINKS_COLOR, 0.08)]
    ):
        g = e[e["method"] == m].sort_values("et")
        ax.errorbar(
            g["et"] + off,
            g["estimate"],
            yerr=[g["estimate"] - g["ci_low"], g["ci_high"] - g["estimate"]],
            fmt="o",
            color=color,
            capsize=3,
            label=f"95% CI: {m}",
        )
        if k == 0:
            ax.scatter([-1], [0], color="k", marker="D", zorder=3, label="reference year (0)")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(-0.5, color=DE_COLOR, ls="--", lw=0.8)
    ax.set_xlabel("years since the Links programme started")
    ax.set_ylabel("effect, % points")
    ax.set_title(f"{label(outcome)}: event study vs {comparison}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig_forest(
    est: pd.DataFrame,
    outcome: str,
    kind: str,
    main_comparison: str,
    method="CR1",
    labels: dict[str, str] | None = None,
):
    """Draw a forest plot of the static TWFE estimates.

    Forest plot: ``kind='comparison'`` (TWFE per comparison group, by ``labels`` where
    given) or ``'leave_out'``.
    """
    style()
    e = est[
        (est["outcome"] == outcome) & (est["term"] == "treated_post") & (est["method"] == method)
    ]
    if kind == "comparison":
        e = e[e["estimator"] == "twfe"]
        names = [textwrap.fill((labels or {}).get(c, c), 40) for c in e["comparison"]]
    else:
        e = e[(e["comparison"] == main_comparison) & e["estimator"].isin(["leave_out", "twfe"])]
        names = [
            f"without {v}" if s == "leave_out" else "all Links"
            for s, v in zip(e["estimator"], e["variant"], strict=True)
        ]
    fig, ax = plt.subplots(figsize=(6, 0.45 * max(3, len(e)) + 1))
    y = np.arange(len(e))[::-1]
    ax.errorbar(
        e["estimate"],
        y,
        xerr=[e["estimate"] - e["ci_low"], e["ci_high"] - e["estimate"]],
        fmt="o",
        color="k",
        capsize=3,
    )
    ax.axvline(0, color=DE_COLOR, lw=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel(f"effect, % points (95% CI, {method})")
    ax.set_title(
        f"{label(outcome)}: "
        + ("by comparison group" if kind == "comparison" else "leaving out one Links practice")
    )
    fig.tight_layout()
    return fig


def fig_practice_trajectory(panel: pd.DataFrame, practice_code: str, min_respondents: int):
    """Plot one practice's theme % over time against Deep End and Scotland bands.

    One practice's theme % over time against Deep End and Scotland 10–90% bands.
    Practice-years below ``min_respondents`` are not drawn (disclosure control).
    """
    style()
    outcomes = list(dict.fromkeys(panel["outcome"]))
    cols = min(3, len(outcomes))
    rows = int(np.ceil(len(outcomes) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.7 * rows), squeeze=False)
    ok = panel[panel["n_respondents"] >= min_respondents]
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        o = ok[ok["outcome"] == outcome]
        for mask, color, name in [
            (o["cohort"] == 0, SCOT_COLOR, "Scotland (non-Links) 10–90%"),
            (
                o["deep_end"].astype(bool) & (o["cohort"] == 0),
                DE_COLOR,
                "Deep End (non-Links) 10–90%",
            ),
        ]:
            q = o[mask].groupby("year")["percent"].quantile([0.1, 0.9]).unstack()
            ax.fill_between(q.index, q[0.1], q[0.9], color=color, alpha=0.15, label=name)
        mine = o[o["practice_code"] == practice_code].sort_values("year")
        ax.plot(mine["year"], mine["percent"], marker="o", color=LINKS_COLOR, label="this practice")
        ax.set_title(label(outcome))
        ax.set_xticks(sorted(panel["year"].unique()))
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- pages

# --------------------------------------------------------------------------- data quality


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


def respondents_histogram(panel: pd.DataFrame, min_respondents: int):
    """Histogram of respondents per practice-year, with the disclosure minimum marked."""
    style()
    p = panel.drop_duplicates(["instrument", "practice_code", "year"])
    fig, axes = plt.subplots(1, p["instrument"].nunique(), figsize=(10, 3), squeeze=False)
    for ax, (inst, g) in zip(axes.flat, p.groupby("instrument"), strict=True):
        ax.hist(
            g["n_respondents"], bins=range(0, int(g["n_respondents"].max()) + 2), color=SCOT_COLOR
        )
        ax.axvline(
            min_respondents - 0.5,
            color=LINKS_COLOR,
            ls="--",
            label=f"disclosure minimum ({min_respondents})",
        )
        ax.set_title(f"{inst}: respondents per practice-year")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- plain language


def n_family(head: pd.DataFrame, family: list[str]) -> int:
    """How many of the family's outcomes the headline holds (those modelled)."""
    return int(head.loc[head["outcome"].isin(family), "outcome"].nunique())


def _count(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if 0 <= n < len(words) else str(n)


PRIMARY_ESTIMATORS = {
    "twfe": "static two-way fixed effects",
    "callaway_santanna": "Callaway–Sant'Anna (simple aggregate)",
    "imputation": "the imputation estimator (overall effect)",
}
ADJUSTMENTS = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


def primary_sentences(primary: pd.DataFrame, n_family: int) -> str:
    """Write one plain sentence per outcome of the primary analysis (HTML list)."""
    items = []
    for r in primary.itertuples():
        if r.in_family and r.adjustment != "none":
            adj = fragment(
                ", {}-adjusted across the {} themes", ADJUSTMENTS[r.adjustment], _count(n_family)
            )
        else:
            adj = "" if r.in_family else " (not in the adjusted family)"
        verdict = (
            "distinguishable from zero"
            if r.reject
            else "not distinguishable from zero: the data are consistent with no effect and with "
            "any effect in the interval"
        )
        items.append(
            fragment(
                "<li><b>{}</b>: {} points (95% CI {} to {}); p = {}{}: {}.</li>",
                label(r.outcome),
                f"{r.estimate:+.1f}",
                f"{r.ci_low:.1f}",
                f"{r.ci_high:.1f}",
                f"{r.p_adjusted:.3f}",
                adj,
                verdict,
            )
        )
    return "<ul>" + "".join(items) + "</ul>"


def summary_text(
    head: pd.DataFrame,
    family: list[str],
    alpha: float = _ALPHA,
    primary: pd.DataFrame | None = None,
) -> str:
    """Write what can and cannot be concluded (HTML), led by the pre-specified primary analysis.

    ``primary``: :func:`linkseval.analysis.primary_analysis`'s rows; None: the default primary
    analysis computed from the headline (static TWFE, main comparison, WCR bootstrap, Holm). Only
    the primary method decides; the other methods are sensitivity analyses.
    """
    from linkseval.analysis import primary_analysis
    from linkseval.study import Settings

    if primary is None:
        primary = primary_analysis(head, Settings(alpha=alpha, family=list(family)))
    n_treated = int(head["n_treated"].max())
    n_units = int(head["n_units"].max())
    widths = (head["ci_high"] - head["ci_low"]).dropna()
    first = primary.iloc[0] if len(primary) else None
    parts = [
        fragment(
            "<p>The Links programme ran in <b>{}</b> practices; they are compared with {} others. "
            "With so few treated practices, each estimate rests on a handful of practices' "
            "year-to-year changes, and the 95% confidence intervals are wide: typically {:.1f} "
            "percentage points from end to end.</p>",
            n_treated,
            n_units - n_treated,
            widths.median(),
        )
    ]
    if first is not None:
        parts.append(
            fragment(
                "<p><b>Primary analysis</b> (stated in advance, <code>analysis.primary</code>): "
                "{} against <i>{}</i>, tested with the {} at the {:g}% level. In plain words:</p>",
                PRIMARY_ESTIMATORS.get(first.estimator, first.estimator),
                first.comparison_label,
                first.method,
                100 * alpha,
            )
        )
        parts.append(primary_sentences(primary, n_family(head, family)))
        fam = primary[primary["in_family"]]
        if len(fam) and not fam["reject"].any():
            parts.append(
                "<p>No theme shows an effect distinguishable from zero in the primary analysis; "
                'the data cannot confirm the "links effect" that the descriptive comparison '
                "suggested.</p>"
            )
        parts.append(
            "<p>Every other estimate and method (the table above, the DiD pages) is a "
            "sensitivity analysis: it shows how robust the primary result is, it does not "
            "replace it.</p>"
        )
    cr1 = head[head["outcome"].isin(family) & (head["method"] == "CR1") & (head["p_value"] < alpha)]
    if not cr1.empty:
        parts.append(
            "<p class='note'>Conventional cluster-robust (CR1) p-values are shown for comparison "
            "only: with few treated clusters they reject too often (see the Monte Carlo table on "
            "the methods page).</p>"
        )
    parts.append(
        "<p>A difference-in-differences estimate is causal only if, without the programme, the "
        "Links practices would have changed like the comparison practices; the event-study and "
        "comparison-group pages show how far the data can check that.</p>"
    )
    return "\n".join(parts)


def primary_statement(analysis: dict, monte_carlo: pd.DataFrame | None = None) -> str:
    """State the pre-specified primary analysis and the Monte Carlo evidence for it (HTML).

    ``analysis``: the run's ``analysis`` config (defaults: the schema's, through
    :class:`~linkseval.study.Settings`); ``monte_carlo``: the Monte Carlo summary table, whose
    null scenarios (true effect 0, the fewest draws) give the method's rejection range.
    """
    from linkseval.analysis import primary_method
    from linkseval.study import Settings

    pr = Settings.from_config(analysis).primary
    name = primary_method(pr)
    why = ""
    if monte_carlo is not None:
        m = monte_carlo[monte_carlo["method"] == name]
        null = m[(m["true_effect"] == 0) & (m["draws"] == m["draws"].min())]
        if len(null):
            why = fragment(
                " In the Monte Carlo study of this design it rejected {}–{}% of true nulls at 5% "
                "across {} null scenarios.",
                f"{100 * null['rejection_rate'].min():.1f}",
                f"{100 * null['rejection_rate'].max():.1f}",
                len(null),
            )
    head = fragment(
        "<h2>The primary analysis</h2><p>Stated before the results "
        "(<code>analysis.primary</code>): estimator <code>{}</code> against <code>{}</code>, "
        "method <i>{}</i>, adjustment across the family: {}. The index leads with it, one sentence "
        "per outcome; every other estimate and method is a sensitivity analysis, and no decision "
        "takes the best of several methods.",
        pr["estimator"],
        pr["comparison"],
        name,
        pr["adjustment"],
    )
    return head + why + " The placebo study below shows how the same methods behave on this "
    "study's own data.</p>"


# --------------------------------------------------------------------------- placebo study

PLACEBO_POOLS = {"comparison": "all comparison practices", "deep_end": "Deep End practices"}
_SHORT = {
    "CR1": "CR1",
    "WCR bootstrap": "WCR",
    "randomization inference": "RI",
    "randomization inference (t)": "RI-t",
}


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
        Method=placebo["method"].map(_SHORT).fillna(placebo["method"]),
    )
    order = [m for m in _SHORT.values() if m in set(p["Method"])]
    t = p.pivot_table(
        index=["Pool", "Outcome"], columns="Method", values="cell", aggfunc="first", sort=False
    )
    return t[order].reset_index()


def placebo_verdict(placebo: pd.DataFrame, alpha: float = _ALPHA) -> str:
    """Say in one sentence (HTML) how often each method rejected placebo effects on this data."""
    parts = []
    for pool, g in placebo.groupby("pool", sort=False):
        rates = []
        n = int(g["n_assignments"].max())
        for m in _SHORT:
            sel = g["method"] == m
            r = g.loc[sel, "rate"].dropna()
            if len(r):
                lo, hi = 100 * r.min(), 100 * r.max()
                span = f"{lo:.0f}%" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}%"
                n_m = int(g.loc[sel, "n_assignments"].max())
                on = f" on the first {n_m:,}" if n_m != n else ""
                rates.append(f"{_SHORT[m]} {span}{on}")
        parts.append(
            fragment(
                "{} ({} reassignments to {}; range over {} outcomes)",
                ", ".join(rates),
                f"{n:,}",
                PLACEBO_POOLS.get(pool, pool),
                _count(g["outcome"].nunique()),
            )
        )
    return fragment(
        "<p><b>Placebo study on this data:</b> with the programme reassigned at random to "
        "never-treated practices with the real cohort sizes (no true effect), the methods "
        "rejected at the {:g}% level this often: {}. A method whose rate is near {:g}% holds its "
        "size on these data (methods page).</p>",
        100 * alpha,
        "; ".join(parts),
        100 * alpha,
    )


# --------------------------------------------------------------------------- rendering


def index_page(
    head: pd.DataFrame,
    pages: list[tuple[str, str]],
    data_label: str,
    family: list[str],
    alpha: float = _ALPHA,
    placebo: pd.DataFrame | None = None,
    primary: pd.DataFrame | None = None,
) -> str:
    """Build the entry page: headline table, plain-language summary, links to every page."""
    table = table_html(
        headline_table(head),
        "Links effect (percentage points of the % score; TWFE vs all other Scottish practices): "
        "95% CI and p under each inference method; Holm-adjusted across the "
        f"{_count(n_family(head, family))} themes",
    )
    fam = family_table(head)
    if len(fam):
        table += table_html(fam, family_caption(len(fam), alpha))
    items = "".join(fragment("<li><a href='{}'>{}</a></li>", h, t) for t, h in pages)
    body = (
        "<h1>Links Worker Programme: safety-climate evaluation</h1>"
        "<h2>Headline</h2>"
        + table
        + "<h2>What can and cannot be concluded</h2>"
        + summary_text(head, family, alpha, primary)
        + (placebo_verdict(placebo, alpha) if placebo is not None and len(placebo) else "")
        + f"<h2>Pages</h2><ul>{items}</ul>"
    )
    return page(
        "Links Worker Programme evaluation", body, data_label, [("Home", "index.html")] + pages
    )


def show(fig) -> None:
    """Display a figure in a notebook as an embedded PNG (deterministic bytes) and close it."""
    import io

    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    display(Image(buf.getvalue()))
