"""Generator settings: defaults, overlay and checks, and the seeded random streams."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from linkseval.data.codebook import Instrument
from linkseval.errors import ConfigError

GENERATOR_VERSION = 1
STAFF_GROUPS = ("GP", "Practice Manager", "Practice Nurse", "Admin/Reception", "Other")

DEFAULTS: dict[str, Any] = {
    "seed": 20140401,
    "n_practices": 1000,
    "n_deep_end": 100,
    "code_width": None,  # None: 5, or wider when n_practices > half of the 10**width codes
    "links_cohorts": {2014: 7},
    "xlsx_years": [],
    "text_label_years": [],
    "cp1252_years": [],
    "care_respondents": [10, 40],
    "theme_level_pct": {
        "communication": 84.5,
        "workload": 84.0,
        "leadership": 88.5,
        "teamwork": 88.0,
        "safety_systems": 88.5,
    },
    "year_effects_pct": {},
    "treatment_effect_pct": {},
    "care_level": 40.0,
    "care_year_effects": {},
    "care_treatment_effect": [0.0],
    "links_level_pct": 2.5,
    "deep_end_pct": -1.0,
    "clp_absence": [],
    "calibrate_to_observed": True,
    "respondent_sd": 0.6,
    "item_sd": 0.8,
    "item_offset_sd_pct": 1.5,
    "practice_sd_pct": 3.0,
    "practice_year_sd_pct": 1.5,
    "theme_correlation": 0.7,
    "board_sd_pct": 1.0,
    "list_size_pct_per_doubling": -0.75,
    "list_size_median": 6000,
    "list_size_sdlog": 0.45,
    "list_size_range": [1000, 20000],
    "patients_per_staff": 550,
    "staff_shares": {
        "GP": 0.22,
        "Practice Manager": 0.08,
        "Practice Nurse": 0.15,
        "Admin/Reception": 0.45,
        "Other": 0.10,
    },
    "staff_effects_pct": {
        "GP": 2.5,
        "Practice Manager": 4.0,
        "Practice Nurse": 0.5,
        "Admin/Reception": -1.5,
        "Other": -2.0,
    },
    "response_rate": 0.75,
    "absent_rate": 0.05,
    "links_min_respondents": 5,
    "care_practice_sd": 1.0,
    "care_practice_year_sd": 0.5,
    "care_respondent_sd": 0.55,
    "care_item_sd": 0.45,
    "messiness": {
        "item_missing_rate": 0.03,
        "na_share": 0.5,
        "care_dna_rate": 0.03,
        "care_blank_rate": 0.01,
        "partial_completion_rate": 0.002,
        "partial_min_missing": 16,
        "out_of_range_rate": 0.001,
        "exact_duplicate_rate": 0.003,
        "conflicting_duplicates": 2,
        "whitespace_code_rate": 0.02,
        "unknown_practice_rows": 3,
        "leading_zero_years": None,  # None: the last CSV year that is not a cp1252 year
        "canary_ids": 3,
        "canary_comments": 3,
        "comments_years": None,  # None: the cp1252 years, else the first year
        "comment_rate": 0.08,
    },
}
STREAMS = {
    "practices": 1,
    "effects": 2,
    "links": 3,
    "items": 4,
    "names": 5,
    "practice_year": 6,
    "participation": 7,
    "rows": 8,
    "mess": 9,
    "ids": 10,
}


_MERGED = ("messiness", "theme_level_pct", "staff_shares", "staff_effects_pct")


def effective_settings(settings: dict | None) -> dict:
    """Defaults overlaid with ``settings``; year keys made ``int`` (YAML and JSON agree).

    Name-keyed mappings (``messiness``, ``theme_level_pct``, ``staff_*``) are merged with their
    defaults key by key; every other value replaces its default.
    """
    cfg: dict[str, Any] = {}
    settings = copy.deepcopy(dict(settings or {}))
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"synthetic: unknown setting(s) {sorted(unknown)}")
    for key, default in DEFAULTS.items():
        value = settings.get(key, copy.deepcopy(default))
        if key in _MERGED:
            if not isinstance(value, dict):
                raise ConfigError(f"synthetic.{key} must be a mapping")
            extra = set(value) - set(default)
            if key == "messiness" and extra:
                raise ConfigError(f"synthetic.messiness: unknown setting(s) {sorted(extra)}")
            value = {**default, **value}
        cfg[key] = value
    try:
        cfg["links_cohorts"] = {int(y): int(n) for y, n in (cfg["links_cohorts"] or {}).items()}
        cfg["care_year_effects"] = year_map(cfg["care_year_effects"])
        cfg["year_effects_pct"] = {
            h: year_map(v) for h, v in (cfg["year_effects_pct"] or {}).items()
        }
        for key in ("xlsx_years", "text_label_years", "cp1252_years"):
            cfg[key] = [int(y) for y in cfg[key] or []]
        for key in ("leading_zero_years", "comments_years"):
            if cfg["messiness"][key] is not None:
                cfg["messiness"][key] = [int(y) for y in cfg["messiness"][key]]
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"synthetic: a year key or year list is malformed ({exc})") from exc
    return cfg


def stream_rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    """Return the generator of random stream ``stream`` (with ``keys``) of ``seed``."""
    return np.random.default_rng(
        np.random.SeedSequence(int(seed), spawn_key=(STREAMS[stream], *keys))
    )


def year_map(mapping: dict | None) -> dict[int, float]:
    """Return a ``{year: value}`` mapping with int keys and float values (None: empty)."""
    return {int(k): float(v) for k, v in (mapping or {}).items()}


def clp_list(value: Any) -> list[dict]:
    """Return the ``clp_absence`` entries as a list of typed dicts (a malformed one is an error)."""
    if not value:
        return []
    items = [value] if isinstance(value, dict) else list(value)
    out = []
    for item in items:
        try:
            out.append(
                {
                    "practice_index": int(item["practice_index"]),
                    "year": int(item["year"]),
                    "months": float(item["months"]),
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"synthetic.clp_absence: malformed entry {item!r}") from exc
    return out


def check(cfg: dict, years: list[int], sq: Instrument) -> None:
    """Check the synthetic settings against the years and the SafeQuest instrument."""
    missing = set(sq.themes) - set(cfg["theme_level_pct"])
    if missing:
        raise ConfigError(f"synthetic.theme_level_pct: no level for theme(s) {sorted(missing)}")
    for key in ("year_effects_pct", "treatment_effect_pct"):
        extra = set(cfg[key]) - set(sq.themes)
        if extra:
            raise ConfigError(f"synthetic.{key}: unknown theme(s) {sorted(extra)}")
    if int(cfg["n_practices"]) < 30:
        raise ConfigError("synthetic.n_practices: at least 30 practices are needed")
    if not 0 < int(cfg["n_deep_end"]) <= int(cfg["n_practices"]):
        raise ConfigError("synthetic.n_deep_end must be between 1 and n_practices")
    lo, hi = (int(v) for v in cfg["care_respondents"])
    if not 1 <= lo <= hi:
        raise ConfigError("synthetic.care_respondents must be [min, max] with 1 <= min <= max")
    if set(cfg["staff_shares"]) != set(STAFF_GROUPS) or set(cfg["staff_effects_pct"]) != set(
        STAFF_GROUPS
    ):
        raise ConfigError(f"synthetic.staff_shares/staff_effects_pct need exactly {STAFF_GROUPS}")
    for clp in clp_list(cfg["clp_absence"]):
        if not 0 <= clp["months"] <= 12:
            raise ConfigError("synthetic.clp_absence.months must be within 0-12")
