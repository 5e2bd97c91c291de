"""A Links practice's own page: its scores beside the comparison's, and what one practice can show.

Written for the practice's team, not for statisticians: a table of the practice's % scores over the
survey years next to the comparison groups' means (cells below the disclosure minimum shown as
suppressed), how much a practice's score moves from year to year without any programme, and what
the evaluation says about this practice: only how the pooled estimate changes without it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from linkseval.comparisons import Comparison, members
from linkseval.report.pages import fragment
from linkseval.study import Settings

SUPPRESSED = "suppressed"


#: the comparison rules a practice page can show: groups of never-treated practices that do not
#: depend on the outcome (``matched`` does; ``all_including_treated`` holds the Links practices)
PAGE_RULES = ("never_treated", "deep_end")


def page_comparisons(s: Settings) -> dict[str, Comparison]:
    """Return the groups a practice page shows beside the practice, label -> comparison.

    The main comparison first where its rule is one of :data:`PAGE_RULES`, then the spec's
    other comparisons with such a rule.
    """
    main = s.comparisons[s.main_comparison]
    ordered = [main, *(c for c in s.comparisons.values() if c is not main)]
    out: dict[str, Comparison] = {}
    for c in ordered:
        if c.rule in PAGE_RULES:
            out.setdefault(c.label, c)
    return out


def practice_table(
    panel: pd.DataFrame,
    code: str,
    comparisons: Mapping[str, Comparison | dict],
    labels: Mapping[str, str],
    min_respondents: int,
) -> pd.DataFrame:
    """Return one practice's % scores by outcome and year beside the comparison groups' means.

    Parameters
    ----------
    panel : DataFrame
        The practice-year panel (``instrument``, ``outcome``, ``practice_code``, ``year``,
        ``n_respondents``, ``percent``, ``cohort``, ``deep_end``).
    code : str
        The practice.
    comparisons : mapping
        Column label -> comparison rule (:func:`linkseval.comparisons.members`); each column is
        the mean of its practices' shown (not suppressed) % scores in that year, as the
        descriptive figures' group means (:func:`linkseval.report.descriptive.theme_means`).
    labels : mapping
        Outcome id -> label.
    min_respondents : int
        The disclosure minimum: the practice's ``suppressed`` years show ``suppressed`` and
        ``<min``.

    Returns
    -------
    DataFrame
        Columns ``Outcome``, ``Year``, ``respondents``, ``This practice (%)`` and one per
        comparison, as display strings, in codebook-then-year order.
    """
    own = panel[panel["practice_code"] == code]
    rows = []
    order = list(dict.fromkeys(panel["outcome"]))
    # each comparison's mean per outcome and year, over its other practices' shown scores (the
    # page rules select row by row, so the whole panel is grouped once)
    others = panel[~panel["suppressed"].astype(bool) & (panel["practice_code"] != code)]
    means = {
        name: others[members(others, rule)].groupby(["outcome", "year"])["percent"].mean()
        for name, rule in comparisons.items()
    }
    for (outcome, year), g in own.groupby(["outcome", "year"], sort=False):
        n = int(g["n_respondents"].iloc[0])
        shown = not bool(g["suppressed"].iloc[0])
        row = {
            "Outcome": labels.get(outcome, outcome),
            "Year": str(int(year)),
            "respondents": str(n) if shown else f"<{min_respondents}",
            "This practice (%)": f"{g['percent'].iloc[0]:.1f}" if shown else SUPPRESSED,
        }
        for name, mean in means.items():
            m = mean.get((outcome, year))
            row[f"{name} (mean %)"] = "–" if m is None or pd.isna(m) else f"{m:.1f}"
        row["_order"] = (order.index(outcome), int(year))
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def year_to_year_change(panel: pd.DataFrame, rule: Comparison | dict, outcome: str) -> float:
    """Return the 90th percentile of |change| of comparison practices' % score between surveys.

    Consecutive survey years of the same practice, both shown (not ``suppressed``: fewer
    respondents than the disclosure minimum); NaN when there are none. 1 in 10 such changes is
    larger: a change of this size in one practice needs no programme to explain it.
    """
    sub = panel[(panel["outcome"] == outcome) & ~panel["suppressed"].astype(bool)]
    sub = sub[members(sub, rule)].sort_values(["practice_code", "year"], kind="stable")
    years = sorted(panel["year"].unique())
    nxt = dict(zip(years, years[1:], strict=False))
    by_practice = sub.groupby("practice_code", sort=False)
    later_year, later = by_practice["year"].shift(-1), by_practice["percent"].shift(-1)
    consecutive = later_year.to_numpy() == sub["year"].map(nxt).to_numpy()  # NaN: never equal
    changes = (later - sub["percent"]).to_numpy()[consecutive]
    return float(np.quantile(np.abs(changes), 0.9)) if len(changes) else float("nan")


def leave_out_table(
    estimates: pd.DataFrame,
    code: str,
    comparison: str,
    labels: Mapping[str, str],
    decimals: int = 1,
) -> pd.DataFrame:
    """Return the pooled static effect per outcome with and without this practice.

    From the estimates table: the headline estimator's overall term (all Links practices) and
    leave-one-out with ``variant`` = ``code``, main comparison, the analytic method's rows (the
    point estimate does not depend on the method). An outcome whose leave-one-out row is
    withheld or missing shows ``not shown``.
    """
    from linkseval.analysis import HEADLINE_ESTIMATOR
    from linkseval.estimators import method_row, overall_term

    analytic = method_row("analytic", HEADLINE_ESTIMATOR)
    est = estimates[(estimates["comparison"] == comparison) & (estimates["method"] == analytic)]
    full = est[
        (est["estimator"] == HEADLINE_ESTIMATOR) & (est["term"] == overall_term(HEADLINE_ESTIMATOR))
    ]
    out = est[(est["estimator"] == "leave_out") & (est["variant"].astype(str) == code)]
    rows = []
    for outcome in dict.fromkeys(full["outcome"]):
        with_all = full.loc[full["outcome"] == outcome, "estimate"]
        without = out.loc[out["outcome"] == outcome, "estimate"].dropna()
        rows.append(
            {
                "Outcome": labels.get(outcome, outcome),
                "All Links practices (points)": f"{with_all.iloc[0]:+.{decimals}f}",
                "Without this practice (points)": (
                    f"{without.iloc[0]:+.{decimals}f}" if len(without) else "not shown"
                ),
            }
        )
    return pd.DataFrame(rows)


def practice_statement(
    code: str,
    n_links: int,
    change_90: float,
    outcome_label: str,
    min_respondents: int,
) -> str:
    """Return the page's plain-language note on what one practice can and cannot show (HTML).

    Parameters
    ----------
    code : str
        The practice.
    n_links : int
        How many Links practices the evaluation pools.
    change_90 : float
        :func:`year_to_year_change` of the outcome named ``outcome_label``.
    outcome_label : str
        The outcome the change refers to (the overall score where there is one).
    min_respondents : int
        The disclosure minimum.
    """
    change = (
        fragment(
            "Among the comparison practices, the {} score moved by more than {:.1f} points "
            "between one survey and the next in 1 practice-year in 10, with no programme; a "
            "change of that size in one practice is not, on its own, a sign of anything. ",
            outcome_label.lower(),
            change_90,
        )
        if np.isfinite(change_90)
        else ""
    )
    return (
        fragment(
            "<h2>What this page can and cannot tell practice {}</h2><p>This page shows the "
            "practice's own survey results, for its team. It does not measure what the programme "
            "did in this practice: one practice's scores move from year to year for many reasons "
            "(who answered, staff changes, a hard winter). ",
            code,
        )
        + change
        + fragment(
            "The evaluation can only say something about the {} Links practices together (home "
            "page). The last table shows how much this practice moves that pooled estimate: the "
            "estimate with all Links practices, and without this one. Years with fewer than {} "
            "respondents are shown as suppressed, to protect the people who answered.</p>",
            n_links,
            min_respondents,
        )
    )


def practice_note(
    panel: pd.DataFrame,
    code: str,
    s: Settings,
    labels: Mapping[str, str],
    min_respondents: int,
    n_links: int,
    instrument: str,
) -> str:
    """Return :func:`practice_statement` for the instrument's overall score (or first outcome).

    The year-to-year change is that of the main comparison's practices.
    """
    outcomes = list(dict.fromkeys(panel.loc[panel["instrument"] == instrument, "outcome"]))
    if not outcomes:
        outcomes = list(dict.fromkeys(panel["outcome"]))
    key = "overall" if "overall" in outcomes else outcomes[0]
    groups = page_comparisons(s)
    rule = next(iter(groups.values())) if groups else {"rule": "never_treated"}
    change = year_to_year_change(panel, rule, key)
    return practice_statement(code, n_links, change, labels.get(key, key), min_respondents)
