"""The programme report's descriptive comparison (its Figures 1 and 2), reproduced from the panel.

Figure 1: mean % score per theme and year for the Links practices and for a comparison group.
Figure 2: % change of that mean from the baseline year (positive = improvement).
Group means are means over practices (each practice counts once), as in a practice-level
report. Suppressed practice-years (fewer respondents than the minimum) are excluded, so no
group mean rests on a practice-year that could not be shown on its own.
"""

from __future__ import annotations

import pandas as pd

from linkseval.comparisons import RULES, members, treated
from linkseval.study import Comparison

# the Links practices: the group every figure shows against the comparison groups
LINKS = "links"
LINKS_LABEL = "Links practices"
TREATED_RULE = "treated"  # the ``rule`` column of the Links practices' rows
# rules without a practice-level group of their own: matching is done per outcome at baseline
# (linkseval.comparisons.matched_controls), so it has no one set of practices to average
NOT_DESCRIBED = ("matched",)
# the programme report's own baseline: every practice, the Links practices included
REPORT_BASELINE_RULE = "all_including_treated"


def groups(comparisons: dict[str, Comparison]) -> dict[str, Comparison]:
    """Return the descriptive groups: the spec's comparison groups that have one practice set.

    Parameters
    ----------
    comparisons : dict of str to Comparison
        The study's comparison groups (:attr:`linkseval.study.Settings.comparisons`), by key.

    Returns
    -------
    dict of str to Comparison
        The comparisons in the spec's order, without the rules of :data:`NOT_DESCRIBED`.
    """
    return {k: c for k, c in comparisons.items() if c.rule not in NOT_DESCRIBED}


def group_labels(comparisons: dict[str, Comparison]) -> dict[str, str]:
    """Return key -> label of every descriptive group, the Links practices first."""
    return {LINKS: LINKS_LABEL, **{k: c.label for k, c in groups(comparisons).items()}}


def group_masks(panel: pd.DataFrame, comparisons: dict[str, Comparison]) -> dict[str, pd.Series]:
    """Boolean row masks of the descriptive groups on a panel with ``cohort`` and ``deep_end``.

    The Links practices, then each comparison group of the spec by its rule
    (:func:`linkseval.comparisons.members`, the one place the rules live).
    """
    out = {LINKS: treated(panel)}
    out.update({k: members(panel, c) for k, c in groups(comparisons).items()})
    return out


def theme_means(
    panel: pd.DataFrame, comparisons: dict[str, Comparison], *, min_group: int = 1
) -> pd.DataFrame:
    """Figure 1: mean % per outcome × year × group, with the practices and respondents behind it.

    Groups: the Links practices and the spec's ``comparisons`` (:func:`groups`), each row with
    its ``group`` key, ``group_label`` and ``rule``. Groups with fewer than ``min_group``
    practices in a cell are left out.
    """
    shown = panel[~panel["suppressed"]]
    labels = group_labels(comparisons)
    rules = {LINKS: TREATED_RULE, **{k: c.rule for k, c in groups(comparisons).items()}}
    rows = []
    for key, mask in group_masks(shown, comparisons).items():
        g = shown[mask].groupby(["instrument", "outcome", "year"], sort=False)
        agg = g.agg(
            percent=("percent", "mean"),
            practices=("practice_code", "nunique"),
            respondents=("n_respondents", "sum"),
        )
        agg = agg.reset_index().assign(group=key, group_label=labels[key], rule=rules[key])
        rows.append(agg[agg["practices"] >= min_group])
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(["instrument", "outcome", "group", "year"], kind="stable").reset_index(
        drop=True
    )


def percent_change(means: pd.DataFrame, baseline: int) -> pd.DataFrame:
    """Figure 2: % change of each group's mean % from ``baseline`` (100·(p_t − p_b)/p_b)."""
    base = means[means["year"] == baseline][["instrument", "outcome", "group", "percent"]]
    m = means.merge(base, on=["instrument", "outcome", "group"], suffixes=("", "_baseline"))
    m = m[m["year"] != baseline].copy()
    m["change_points"] = m["percent"] - m["percent_baseline"]
    m["change_percent"] = 100 * m["change_points"] / m["percent_baseline"]
    return m.reset_index(drop=True)


def report_groups(means: pd.DataFrame) -> list[str]:
    """Return the groups of the programme report's comparison: Links vs all practices."""
    keys = dict.fromkeys(means.loc[means["rule"] == REPORT_BASELINE_RULE, "group"])
    return [LINKS, *keys]


def comparison_groups(means: pd.DataFrame) -> list[str]:
    """Return the groups of the proper comparison: Links vs each group that excludes them.

    Broadest first: in the order of the rules (:data:`linkseval.comparisons.RULES`).
    """
    rest = means[~means["rule"].isin([TREATED_RULE, REPORT_BASELINE_RULE])]
    rest = rest.drop_duplicates("group")
    order = sorted(zip(rest["rule"], rest["group"], strict=True), key=lambda x: RULES.index(x[0]))
    return [LINKS, *(g for _, g in order)]
