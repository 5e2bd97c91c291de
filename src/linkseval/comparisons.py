"""Comparison-group rules, in one place: which practices a rule compares the Links practices with.

The practice-level estimation (:func:`linkseval.analysis.comparison_frame`), the
respondent-level multilevel check (:func:`linkseval.multilevel.comparison_practices`) and the
descriptive figures (:func:`linkseval.report.descriptive.group_masks`) all take their practices from
:func:`members`.

Rules (config ``analysis.comparisons.<name>.rule``):

``never_treated``
    every practice that never had the programme;
``deep_end``
    the never-treated Deep End practices;
``all_including_treated``
    every practice, the Links practices included (the programme report's all-Scotland
    baseline; in a DiD the Links practices appear a second time as comparison units);
``matched``
    the ``neighbours`` never-treated practices nearest to each Links practice on their
    baseline-year values of ``match_on`` (needs practice-level outcome data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkseval.errors import ConfigError
from linkseval.study import Comparison

RULES = ("never_treated", "all_including_treated", "deep_end", "matched")
# rules a respondent-level model cannot take: matching needs a practice-level outcome, and a
# respondent cannot be both a Links and a comparison unit
PRACTICE_LEVEL_ONLY = ("matched", "all_including_treated")


def as_comparison(rule: Comparison | dict, name: str = "") -> Comparison:
    """Return a :class:`Comparison` from one, or from a config mapping (``{"rule": ...}``)."""
    return Comparison.from_config(name, rule)


def treated(frame: pd.DataFrame) -> pd.Series:
    """Rows of Links practices (a start year, ``cohort`` > 0)."""
    return frame["cohort"] > 0


def matched_controls(
    frame: pd.DataFrame, baseline: int, neighbours: int, on: list[str]
) -> list[str]:
    """Match treated practices to never-treated neighbours.

    Nearest never-treated neighbours (standardised Euclidean distance, with replacement)
    of each treated practice on its baseline-year values of ``on``; returns unique codes.
    """
    base = frame[frame["year"] == baseline].set_index("practice_code")
    base = base[on].astype(float).dropna()
    z = (base - base.mean()) / base.std(ddof=0).replace(0, 1)
    links = frame.loc[frame["cohort"] > 0, "practice_code"].unique()
    pool = frame.loc[frame["cohort"] == 0, "practice_code"].unique()
    zt = z.loc[z.index.intersection(links)]
    zp = z.loc[z.index.intersection(pool)].sort_index()
    chosen: set[str] = set()
    for _, row in zt.iterrows():
        d = np.sqrt(((zp - row) ** 2).sum(axis=1)).to_numpy()
        order = np.lexsort((zp.index.to_numpy(), d))[:neighbours]  # ties: by code
        chosen.update(zp.index[order])
    return sorted(chosen)


def members(frame: pd.DataFrame, rule: Comparison | dict, baseline: int | None = None) -> pd.Series:
    """Select the rows of ``frame`` in the comparison group of ``rule``.

    Only ``all_including_treated`` includes Links practices; the other rules take never-treated
    practices (``deep_end``: the Deep End ones; ``matched``: the nearest neighbours of the treated
    practices, :func:`matched_controls`).

    Parameters
    ----------
    frame : DataFrame
        Rows with ``practice_code``, ``cohort`` and ``deep_end``; for ``matched`` also ``year``
        and the ``match_on`` columns.
    rule : Comparison or dict
        The comparison group, or its config mapping.
    baseline : int, optional
        The baseline year (``matched`` needs it).

    Returns
    -------
    Series
        A boolean mask over the rows of ``frame``.
    """
    c = as_comparison(rule)
    never = frame["cohort"] == 0
    if c.rule == "never_treated":
        return never
    if c.rule == "deep_end":
        return never & frame["deep_end"].astype(bool)
    if c.rule == "all_including_treated":
        return pd.Series(True, index=frame.index)
    if c.rule == "matched":
        if baseline is None:
            raise ConfigError(f"comparison rule 'matched' ({c.name}) needs a baseline year")
        codes = matched_controls(frame, baseline, c.neighbours, list(c.match_on))
        return never & frame["practice_code"].isin(codes)
    raise ConfigError(f"analysis.comparisons: unknown rule {c.rule!r}")
