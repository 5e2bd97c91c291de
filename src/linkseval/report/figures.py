"""The report's figures (matplotlib, Agg backend, deterministic SVG/PNG output).

Every figure calls :func:`style` first, labels outcomes by their codebook labels and colours the
Links practices, Scotland and the Deep End alike on every page.
"""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from linkseval.report.outcomes import label  # noqa: E402
from linkseval.report.tables import _ALPHA, level, methods_in  # noqa: E402

LINKS_COLOR, SCOT_COLOR, DE_COLOR = "#b2182b", "#2166ac", "#7f7f7f"
#: the inference methods' colours in one event-study figure, in method order
METHOD_COLORS = ("#000000", LINKS_COLOR, SCOT_COLOR, DE_COLOR)
# a descriptive group's colour by its rule (linkseval.report.descriptive: ``rule`` column)
RULE_COLORS = {
    "treated": LINKS_COLOR,
    "all_including_treated": SCOT_COLOR,
    "never_treated": SCOT_COLOR,
    "deep_end": DE_COLOR,
}


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


def fig_theme_means(means: pd.DataFrame, groups=("links", "scotland_all"), title: str = ""):
    """Figure 1: mean % score by year per theme, one panel per outcome."""
    style()
    outcomes = list(dict.fromkeys(means["outcome"]))
    n = len(outcomes)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        for gname in groups:
            g = means[(means["outcome"] == outcome) & (means["group"] == gname)]
            if g.empty:
                continue
            ax.plot(
                g["year"],
                g["percent"],
                marker="o",
                color=RULE_COLORS.get(g["rule"].iloc[0], "k") if "rule" in g else "k",
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


def interval_methods(rows: pd.DataFrame) -> list[str]:
    """Return the methods of ``rows`` that give intervals, in the registry's order."""
    has_ci = rows.dropna(subset=["ci_low", "ci_high"], how="all")
    return methods_in(has_ci)


def _event_axes(ax, title: str, xlabel: str) -> None:
    """Finish an event-study plot: zero line, start marker, labels, title and legend."""
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(-0.5, color=DE_COLOR, ls="--", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("effect, % points")
    ax.set_title(title)
    ax.legend(fontsize=8)


def fig_event_study(est: pd.DataFrame, outcome: str, comparison: str, alpha: float = _ALPHA):
    """Draw the event-study coefficients with each method's interval at ``alpha``.

    One marker per method that gives event-time intervals (RI on coefficients gives p-values
    only), in the registry's order; reference: the year before start.
    """
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
    methods = interval_methods(e)
    for k, m in enumerate(methods):
        color = METHOD_COLORS[k % len(METHOD_COLORS)]
        off = 0.16 * (k - (len(methods) - 1) / 2)
        g = e[e["method"] == m].sort_values("et")
        ax.errorbar(
            g["et"] + off,
            g["estimate"],
            yerr=[g["estimate"] - g["ci_low"], g["ci_high"] - g["estimate"]],
            fmt="o",
            color=color,
            capsize=3,
            label=f"{level(alpha)} CI: {m}",
        )
        if k == 0:
            ax.scatter([-1], [0], color="k", marker="D", zorder=3, label="reference year (0)")
    _event_axes(
        ax,
        f"{label(outcome)}: event study vs {comparison}",
        "years since the Links programme started",
    )
    fig.tight_layout()
    return fig


def fig_forest(
    est: pd.DataFrame,
    outcome: str,
    kind: str,
    main_comparison: str,
    method="CR1",
    labels: dict[str, str] | None = None,
    alpha: float = _ALPHA,
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
    ax.set_xlabel(f"effect, % points ({level(alpha)} CI, {method})")
    ax.set_title(
        f"{label(outcome)}: "
        + ("by comparison group" if kind == "comparison" else "leaving out one Links practice")
    )
    fig.tight_layout()
    return fig


def _cohort_period_grid(rows: pd.DataFrame, value: str) -> tuple[np.ndarray, list, list]:
    """Pivot ``rows`` (cohort, period, ``value``) to a cohorts × periods array (NaN: no cell)."""
    grid = rows.pivot_table(index="cohort", columns="period", values=value, aggfunc="first")
    grid = grid.sort_index().sort_index(axis=1)
    return grid.to_numpy(dtype=float), [int(g) for g in grid.index], [int(t) for t in grid.columns]


def _annotated_heatmap(ax, grid: np.ndarray, cohorts: list, periods: list, fmt: str):
    """Draw ``grid`` with a diverging colour scale centred on 0 and each cell's value written."""
    vmax = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    # pcolormesh, not imshow: vector cells in the SVG (imshow embeds a raster image)
    im = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="PuOr_r", vmin=-vmax, vmax=vmax,
                       edgecolors="white", linewidth=0.5)  # fmt: skip
    ax.set_xlim(0, len(periods))
    ax.set_ylim(len(cohorts), 0)  # the first cohort at the top
    for i in range(len(cohorts)):
        for j in range(len(periods)):
            v = grid[i, j]
            if np.isfinite(v):
                dark = abs(v) > 0.6 * vmax
                ax.text(j + 0.5, i + 0.5, format(v, fmt), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(np.arange(len(periods)) + 0.5, [str(t) for t in periods])
    ax.set_yticks(np.arange(len(cohorts)) + 0.5, [str(g) for g in cohorts])
    ax.set_xlabel("year")
    ax.set_ylabel("cohort (first Links year)")
    ax.grid(False)
    vals = grid[np.isfinite(grid)]
    if vals.size:  # for the alt text (describe): what the colours encode
        ax.linkseval_summary = (
            f"heat map of {vals.size} cohort-year cells, values from {format(vals.min(), fmt)} "
            f"to {format(vals.max(), fmt)}, each written in its cell"
        )
    return im


def _colorbar(fig, im, ax, text: str) -> None:
    """Add a colour bar drawn as vector cells (matplotlib rasterises long ones by default)."""
    cb = fig.colorbar(im, ax=ax, label=text, shrink=0.8)
    cb.solids.set_rasterized(False)


def fig_cohort_time(est: pd.DataFrame, outcome: str, comparison: str):
    """Draw the Callaway–Sant'Anna group-time effects ATT(g, t) as a cohort × year heat map.

    Cells before a cohort's start are its pre-programme placebo effects (outlined); the
    estimates are those of the analytic rows (every method gives the same estimate).
    """
    style()
    att = est[
        (est["outcome"] == outcome)
        & (est["comparison"] == comparison)
        & (est["estimator"] == "callaway_santanna")
        & (est["term"] == "att")
        & (est["variant"].fillna("") == "")  # not the doubly robust / weighted variant
    ].drop_duplicates(["cohort", "period"])
    grid, cohorts, periods = _cohort_period_grid(att, "estimate")
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(periods) + 2), 0.5 * len(cohorts) + 1.6))
    im = _annotated_heatmap(ax, grid, cohorts, periods, "+.1f")
    for i, g in enumerate(cohorts):
        pre = [j for j, t in enumerate(periods) if t < g and np.isfinite(grid[i, j])]
        for j in pre:
            ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, ls=":", lw=0.8))
    _colorbar(fig, im, ax, "effect, % points")
    ax.set_title(f"{label(outcome)}: effect by cohort and year (dotted: before the start)")
    fig.tight_layout()
    return fig


def fig_twfe_weights(cells: pd.DataFrame, outcome: str):
    """Draw the static TWFE coefficient's weights per cohort × year (heat map).

    de Chaisemartin & D'Haultfœuille (2020): negative cells are practice-years TWFE uses as if
    they were controls.
    """
    style()
    rows = cells[cells["outcome"] == outcome]
    grid, cohorts, periods = _cohort_period_grid(rows, "weight")
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(periods) + 2), 0.5 * len(cohorts) + 1.6))
    im = _annotated_heatmap(ax, grid, cohorts, periods, "+.3f")
    _colorbar(fig, im, ax, "weight in the TWFE estimate")
    ax.set_title(f"{label(outcome)}: TWFE weights by cohort and year (they sum to 1)")
    fig.tight_layout()
    return fig


# the staggered-robust aggregates shown beside static TWFE, in order: (estimator, term)
AGGREGATES = (
    ("twfe", "treated_post", "TWFE (static)"),
    ("callaway_santanna", "simple", "Callaway–Sant'Anna, simple"),
    ("callaway_santanna", "group_overall", "Callaway–Sant'Anna, by cohort (overall)"),
    ("callaway_santanna", "calendar_overall", "Callaway–Sant'Anna, by year (overall)"),
    ("callaway_santanna", "dynamic_overall", "Callaway–Sant'Anna, dynamic (overall)"),
    ("imputation", "simple", "imputation (BJS), simple"),
    ("sdid", "treated_post", "synthetic DiD"),
    ("sc", "treated_post", "synthetic control"),
)


# the registry's resampling methods (the others are an estimator's own analytic SE)
RESAMPLING = ("wild_bootstrap", "randomization", "randomization_t")

VARIANT_SUFFIX = {"dr": " (covariates, doubly robust)", "weighted": " (sampling weights)"}


def fig_cs_event_study(est: pd.DataFrame, outcome: str, comparison: str, alpha: float = _ALPHA):
    """Draw Callaway–Sant'Anna's event study with pointwise intervals and the uniform band.

    The dynamic aggregation θ(e) under the analytic influence-function SE; the shaded band is
    the simultaneous (sup-t) band (R ``did``'s ``cband``), which covers all the event times
    together with probability 1 − α (``ci_low_fw``, ``ci_high_fw`` of the analytic rows).
    """
    from linkseval.estimators import method_row

    style()
    m = method_row("analytic", "callaway_santanna")
    e = est[
        (est["outcome"] == outcome)
        & (est["comparison"] == comparison)
        & (est["estimator"] == "callaway_santanna")
        & (est["term"] == "dynamic")
        & (est["method"] == m)
        & (est["variant"].fillna("") == "")
    ]
    e = e.assign(et=e["event_time"].astype(int)).sort_values("et")
    fig, ax = plt.subplots(figsize=(6.5, 3.3))
    if e["ci_low_fw"].notna().any():
        ax.fill_between(e["et"], e["ci_low_fw"], e["ci_high_fw"], color=SCOT_COLOR, alpha=0.18,
                        step="mid", label=f"uniform {level(alpha)} band")  # fmt: skip
    ax.errorbar(e["et"], e["estimate"], yerr=[e["estimate"] - e["ci_low"], e["ci_high"] -
                e["estimate"]], fmt="o", color="k", capsize=3,
                label=f"pointwise {level(alpha)} CI")  # fmt: skip
    title = f"{label(outcome)}: Callaway–Sant'Anna event study vs {comparison}"
    _event_axes(ax, title, "years since the cohort's start")
    fig.tight_layout()
    return fig


def aggregate_rows(est: pd.DataFrame, outcome: str, comparison: str) -> pd.DataFrame:
    """Return the overall effects of every estimator that ran, each under its analytic method.

    One row per :data:`AGGREGATES` entry present (SDID and SC: one per cohort), with ``name``.
    """
    from linkseval.estimators import method_row

    e = est[(est["outcome"] == outcome) & (est["comparison"] == comparison)]
    out = []
    for estimator, term, name in AGGREGATES:
        # the estimator's own SE (CR1, influence function, SDID's jackknife or placebo SE...):
        # every row but the resampling methods'
        resampled = {method_row(m, estimator) for m in RESAMPLING}
        rows = e[
            (e["estimator"] == estimator)
            & (e["term"] == term)
            & ~e["method"].isin(resampled)
            & e["event_time"].isna()
        ]
        for _, r in rows.iterrows():
            variant = r["variant"] if isinstance(r["variant"], str) else ""
            suffix = VARIANT_SUFFIX.get(variant, f", cohort {variant.removeprefix('cohort_')}")
            out.append({**r.to_dict(), "name": name + (suffix if variant else "")})
    return pd.DataFrame(out)


def fig_aggregates(est: pd.DataFrame, outcome: str, comparison: str, alpha: float = _ALPHA):
    """Draw static TWFE beside the heterogeneity-robust estimators' overall effects (forest)."""
    style()
    e = aggregate_rows(est, outcome, comparison)
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(3, len(e)) + 1.2))
    y = np.arange(len(e))[::-1]
    twfe = (e["estimator"] == "twfe").to_numpy() if len(e) else np.zeros(0, bool)
    for mask, color in ((twfe, LINKS_COLOR), (~twfe, "k")):
        if mask.any():
            r = e[mask]
            ax.errorbar(r["estimate"], y[mask], xerr=[r["estimate"] - r["ci_low"],
                        r["ci_high"] - r["estimate"]], fmt="o", color=color, capsize=3)  # fmt: skip
    ax.axvline(0, color=DE_COLOR, lw=0.8)
    ax.set_yticks(y, list(e["name"]) if len(e) else [])
    ax.set_xlabel(f"effect, % points ({level(alpha)} CI, each estimator's analytic SE)")
    ax.set_title(f"{label(outcome)}: TWFE and the heterogeneity-robust estimators")
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


def describe(fig) -> str:
    """Return alt text for a figure from its titles and axis labels (what it shows)."""
    parts = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(fig._suptitle.get_text())
    for ax in fig.axes:
        bits = [ax.get_title()] if ax.get_title() else []
        if ax.get_xlabel():
            bits.append(f"horizontal axis: {ax.get_xlabel()}")
        if ax.get_ylabel():
            bits.append(f"vertical axis: {ax.get_ylabel()}")
        if getattr(ax, "linkseval_summary", ""):
            bits.append(ax.linkseval_summary)
        if bits:
            parts.append("; ".join(bits))
    text = ". ".join(p.replace("\n", " ") for p in parts)
    return f"Chart: {text}." if text else "Chart."


def show(fig, alt: str | None = None) -> None:
    """Display a figure in a notebook: an embedded SVG (deterministic bytes) with alt text.

    ``alt`` says what the figure shows; by default it is made from the figure's titles and axis
    labels (:func:`describe`).
    """
    from IPython.display import HTML, display

    display(HTML(figure_html(fig, alt or describe(fig))))


def headline_forest(primary: pd.DataFrame, head: pd.DataFrame):
    """Draw the index's headline figure: each outcome's primary effect and interval.

    The primary analysis (:func:`linkseval.analysis.primary_analysis`'s rows) as black points
    with their intervals; the headline's other methods for the same outcome as lighter, thinner
    marks just below; zero marked. Outcomes top to bottom in the primary table's order. Greys
    and black only (safe for colour-blind readers and in print).
    """
    style()
    outcomes = list(primary["outcome"])
    fig, ax = plt.subplots(figsize=(7, 0.55 * max(3, len(outcomes)) + 1.2))
    y = np.arange(len(outcomes))[::-1].astype(float)
    others = head[~head["method"].isin(primary["method"])] if len(head) else head
    methods = list(dict.fromkeys(others["method"])) if len(others) else []
    shades = ["#767676", "#a0a0a0", "#5a5a5a"]
    for k, m in enumerate(methods):
        e = others[others["method"] == m].set_index("outcome").reindex(outcomes)
        off = 0.24 * (k + 1) / max(1, len(methods))
        ax.errorbar(
            e["estimate"],
            y - off,
            xerr=[e["estimate"] - e["ci_low"], e["ci_high"] - e["estimate"]],
            fmt="s",
            ms=3,
            lw=0.8,
            color=shades[k % len(shades)],
            capsize=0,
            label=m,
        )
    ax.errorbar(
        primary["estimate"],
        y,
        xerr=[primary["estimate"] - primary["ci_low"], primary["ci_high"] - primary["estimate"]],
        fmt="o",
        ms=6,
        lw=2,
        color="k",
        capsize=4,
        label=f"primary: {primary['method'].iloc[0]}" if len(primary) else "primary",
    )
    ax.axvline(0, color="k", lw=0.8, ls="--")
    ax.set_yticks(y, [label(o) for o in outcomes])
    level = 100 * (1 - float(primary["alpha"].iloc[0])) if len(primary) else 95
    ax.set_xlabel(f"Links effect, percentage points ({level:g}% intervals)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def figure_svg(fig) -> bytes:
    """Return a figure as SVG: vector (sharp on screen and in the PDF), deterministic bytes.

    No date metadata, and ids from ``svg.hashsalt`` (:func:`style`): the same figure gives the
    same bytes on every run.
    """
    import io

    buf = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "linkseval", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buf.getvalue()


def figure_html(fig, alt: str, caption: str = "") -> str:
    """Return a figure as an HTML ``<figure>``: an embedded SVG with its alt text and caption.

    Vector graphics (sharp at any size, in print too) with deterministic bytes; ``alt`` and
    ``caption`` are escaped.
    """
    from linkseval.report.pages import svg_figure_html

    return svg_figure_html(figure_svg(fig), alt, caption)
