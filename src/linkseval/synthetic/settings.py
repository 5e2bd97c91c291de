"""Generator settings: the schema's defaults, overlay and checks, and the seeded random streams."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from linkseval.data.codebook import Instrument
from linkseval.errors import ConfigError
from linkseval.study import section_defaults

GENERATOR_VERSION = 1
STAFF_GROUPS = ("GP", "Practice Manager", "Practice Nurse", "Admin/Reception", "Other")

# every generator default, from the config schema's ``synthetic`` section (the one place
# defaults live, linkseval.study); the values of a config's ``synthetic`` section override them
DEFAULTS: dict[str, Any] = section_defaults("synthetic")
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
