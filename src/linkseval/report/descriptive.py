"""The programme report's descriptive comparison (its Figures 1 and 2), reproduced from the panel.

Figure 1: mean % score per theme and year for the Links practices and for a comparison group.
Figure 2: % change of that mean from the baseline year (positive = improvement).
Group means are means over practices (each practice counts once), as in a practice-level
report. Suppressed practice-years (fewer respondents than the minimum) are excluded, so no
group mean rests on a practice-year that could not be shown on its own.
"""

from __future__ import annotations

import pandas as pd

from linkseval.comparisons import members, treated

# key -> label; each group but the Links practices is a comparison rule's
# (linkseval.comparisons), so the figures and the estimates compare the same practices
GROUPS = {
    "links": "Links practices",
    "scotland_all": "All Scottish practices (incl. Links)",
    "scotland_other": "All other Scottish practices",
    "deep_end_other": "Non-Links Deep End practices",
}
GROUP_RULES = {
    "scotland_all": "all_including_treated",
    "scotland_other": "never_treated",
    "deep_end_other": "deep_end",
}


def group_masks(panel: pd.DataFrame) -> dict[str, pd.Series]:
    """Boolean row masks of the descriptive groups on a panel with ``cohort`` and ``deep_end``."""
    return {
        key: treated(panel) if key == "links" else members(panel, {"rule": GROUP_RULES[key]})
        for key in GROUPS
    }


def theme_means(panel: pd.DataFrame, *, min_group: int = 1) -> pd.DataFrame:
    """Figure 1: mean % per outcome × year × group, with the practices and respondents behind it.

    Groups with fewer than ``min_group`` practices in a cell are left out.
    """
    shown = panel[~panel["suppressed"]]
    rows = []
    for key, mask in group_masks(shown).items():
        g = shown[mask].groupby(["instrument", "outcome", "year"], sort=False)
        agg = g.agg(
            percent=("percent", "mean"),
            practices=("practice_code", "nunique"),
            respondents=("n_respondents", "sum"),
        )
        agg = agg.reset_index().assign(group=key, group_label=GROUPS[key])
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
