"""Score clean responses: reverse-scoring, respondent theme scores, the practice-year panel.

Rules come from the codebook (items, themes, reverse items, scale, CARE total) and the
``scoring`` config (minimum items per theme, minimum respondents, percentage formula).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from linkseval.data.codebook import Instrument
from linkseval.data.register import absence_long
from linkseval.errors import ConfigError
from linkseval.study import schema_enum, section_defaults

_SCORING = section_defaults("scoring")  # keyword defaults: the config schema's

PERCENT_FORMULAS = tuple(schema_enum("scoring", "percent_formula"))
PANEL_COLUMNS = [
    "instrument",
    "outcome",
    "practice_code",
    "year",
    "n_respondents",
    "mean",
    "sd",
    "percent",
    "suppressed",
    "health_board",
    "deep_end",
    "cohort",
    "list_size",
    "simd15_share",
    "clp_absent_months",
]


def reverse_score(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Invert a scale: ``lo + hi - x`` (8 - x on a 1-7 scale); NaN stays NaN."""
    return (lo + hi) - values


def to_percent(mean: pd.Series | np.ndarray, lo: float, hi: float, formula: str):
    """Safequest-style % score.

    ``mean_over_max``: 100·mean/max (the report's "% score"); ``pomp``: 100·(mean−min)/(max−min).
    """
    if formula == "mean_over_max":
        return 100.0 * mean / hi
    if formula == "pomp":
        return 100.0 * (mean - lo) / (hi - lo)
    raise ConfigError(f"scoring.percent_formula must be one of {PERCENT_FORMULAS}, not {formula!r}")


def outcome_scale(instrument: Instrument, outcome: str) -> tuple[float, float]:
    """(min, max) of an outcome's score: the item scale, or the summed scale for a total."""
    if instrument.total and outcome == instrument.total["theme"]:
        k = len(instrument.theme_items(outcome))
        return k * instrument.scale_min, k * instrument.scale_max
    return instrument.scale_min, instrument.scale_max


def scored_items(clean: pd.DataFrame, instrument: Instrument) -> np.ndarray:
    """Item codes as floats (NaN = missing) with reverse-scored items inverted."""
    x = clean[instrument.item_ids].to_numpy(dtype=float, na_value=np.nan)
    rev = [j for j, item in enumerate(instrument.items) if item.reverse]
    if rev:
        x[:, rev] = reverse_score(x[:, rev], instrument.scale_min, instrument.scale_max)
    return x


def score_respondents(
    clean: pd.DataFrame,
    instrument: Instrument,
    *,
    min_items_per_theme: float = _SCORING["min_items_per_theme"],
) -> pd.DataFrame:
    """Score each kept respondent on every outcome of the instrument.

    Theme score: mean of the answered items of the theme, if at least
    ``ceil(min_items_per_theme × items in theme)`` are answered. Overall (``mean_of_items``):
    mean of all answered items. A codebook ``total`` (CARE): the mean of the answered items times
    the number of items, if no more than ``max_imputed`` are missing; else excluded (NaN).

    Parameters
    ----------
    clean : DataFrame
        Kept rows of the cleaned extracts.
    instrument : Instrument
        The instrument (items, themes, outcomes).
    min_items_per_theme : float
        Share of a theme's items that must be answered, in (0, 1].

    Returns
    -------
    DataFrame
        One row per kept respondent with a score per outcome (NaN where the rules give none).
    """
    if not 0 < min_items_per_theme <= 1:
        raise ConfigError("scoring.min_items_per_theme must be a share in (0, 1]")
    x = scored_items(clean, instrument)
    answered = ~np.isnan(x)
    out = clean[["year", "source_file", "line", "practice_code", "staff_group"]].copy()
    if "staff_group" not in clean:
        out["staff_group"] = ""
    with np.errstate(invalid="ignore", divide="ignore"):
        for theme in instrument.themes:
            cols = [j for j, i in enumerate(instrument.items) if i.theme == theme]
            k = len(cols)
            n_ans = answered[:, cols].sum(axis=1)
            mean = np.nansum(x[:, cols], axis=1) / n_ans
            if instrument.total and theme == instrument.total["theme"]:
                ok = (k - n_ans) <= int(instrument.total["max_imputed"])
                out[theme] = np.where(ok & (n_ans > 0), mean * k, np.nan)
                out["n_items_imputed"] = k - n_ans
                out["scored"] = ok & (n_ans > 0)
            else:
                need = max(1, math.ceil(min_items_per_theme * k - 1e-9))
                out[theme] = np.where(n_ans >= need, mean, np.nan)
        if instrument.overall:
            rule = instrument.overall.get("rule", "mean_of_items")
            if rule != "mean_of_items":
                raise ConfigError(f"{instrument.name}: unknown overall rule {rule!r}")
            n_all = answered.sum(axis=1)
            out[instrument.overall["id"]] = np.where(
                n_all > 0, np.nansum(x, axis=1) / n_all, np.nan
            )
    return out.reset_index(drop=True)


def practice_year_panel(
    scores: pd.DataFrame,
    instrument: Instrument,
    register: pd.DataFrame,
    *,
    min_respondents: int = _SCORING["min_respondents"],
    percent_formula: str = _SCORING["percent_formula"],
) -> pd.DataFrame:
    """Build the long practice-year panel: one row per outcome × practice × year with respondents.

    ``n_respondents`` counts respondents with a score for that outcome; ``suppressed`` flags
    practice-years with fewer than ``min_respondents`` (kept for modelling decisions, never
    shown at practice level). Register attributes and CLP absence months are attached.

    Parameters
    ----------
    scores : DataFrame
        Respondent scores (:func:`score_respondents`).
    instrument : Instrument
        The instrument.
    register : DataFrame
        The practice register (:func:`linkseval.data.register.read_register`).
    min_respondents : int
        Practice-years with fewer respondents are flagged ``suppressed``.
    percent_formula : {"mean_over_max", "pomp"}
        How the mean becomes a % score (:func:`to_percent`).

    Returns
    -------
    DataFrame
        The panel's columns (``PANEL_COLUMNS``), sorted by outcome, practice and year.
    """
    long = scores.melt(
        id_vars=["practice_code", "year"],
        value_vars=instrument.outcomes,
        var_name="outcome",
        value_name="score",
    ).dropna(subset=["score"])
    g = long.groupby(["outcome", "practice_code", "year"], sort=True)["score"]
    panel = g.agg(n_respondents="count", mean="mean", sd="std").reset_index()
    panel["instrument"] = instrument.name
    percent = np.empty(len(panel))
    for outcome, idx in panel.groupby("outcome").groups.items():
        lo, hi = outcome_scale(instrument, outcome)
        percent[panel.index.get_indexer(idx)] = to_percent(
            panel.loc[idx, "mean"].to_numpy(), lo, hi, percent_formula
        )
    panel["percent"] = percent
    panel["suppressed"] = panel["n_respondents"] < min_respondents
    attrs = register[
        ["practice_code", "health_board", "deep_end", "cohort", "list_size", "simd15_share"]
    ]
    panel = panel.merge(attrs, on="practice_code", how="left", validate="many_to_one")
    absence = absence_long(register)
    panel = panel.merge(absence, on=["practice_code", "year"], how="left")
    panel["clp_absent_months"] = panel["clp_absent_months"].fillna(0).astype(int)
    order = {o: i for i, o in enumerate(instrument.outcomes)}
    panel = panel.sort_values(
        ["outcome", "practice_code", "year"],
        key=lambda s: s.map(order) if s.name == "outcome" else s,
    )
    return panel[PANEL_COLUMNS].reset_index(drop=True)
