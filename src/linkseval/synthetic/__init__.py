"""Deterministic synthetic Safequest and CARE extracts shaped like the real, messy ones.

``generate`` builds everything in memory; ``write_synthetic`` writes the input contract
(``practices.csv``, ``safequest_<year>.csv|.xlsx``, ``care_<year>.csv``, ``truth.json``,
``truth_practice_year.csv`` and the ``SYNTHETIC_DATA.txt`` marker). The same settings and years
always give byte-identical files: every random component draws from its own
``numpy.random.SeedSequence(seed, spawn_key=(component, year, ...))``, so adding a year changes no
draw for the other years, and no file carries a timestamp.

Latent model (Safequest)
------------------------
Item k of theme h answered by respondent i of staff group g in practice p, year t::

    y* = b[h,t] + c * (off[k] + a[p,h] + board[p] + deep_end_pct * DE[p]
                       + list_coef * log2(list_size[p] / list_size_median)
                       + links_level_pct * LINKS[p] + v[p,h,t]
                       + tau[h](t - start[p]) * (1 - absent_months[p,t] / 12))
         + c * staff[g] + u[i] + e[i,k]

with ``c = 7 / 100`` (1 percentage point of the % score 100*mean/7 is 0.07 on the 7-point
scale); every ``*_pct`` parameter is in those percentage points. ``a[p,h]`` is a practice random
intercept with SD ``practice_sd_pct`` and correlation ``theme_correlation`` between themes,
``v[p,h,t]`` the same for practice-years (``practice_year_sd_pct``), ``board`` a health-board
effect (SD ``board_sd_pct``), ``off[k]`` an item offset centred within its theme (SD
``item_offset_sd_pct``), ``staff[g]`` a staff-group effect centred on the population shares
(practice managers and GPs higher), ``tau`` the treatment effect by event time (0 before the Links
start, the last listed value carried on; its CLP-absence dose ``1 - months/12``),
``u[i] ~ N(0, respondent_sd)`` and ``e ~ N(0, item_sd)`` (both on the 7-point scale).
The scored answer is ``s = clip(round(y*), 1, 7)``; the raw file stores ``s`` for positive items
and ``8 - s`` for reverse-scored items (codebook ``reverse: true``).

The intercept ``b[h,t]``: with ``calibrate_to_observed: true`` (default) it is solved so that the
expected observed all-Scotland level (mean over all practices, untreated, of the expected
practice-year theme mean) equals ``theme_level_pct[h] + year_effects_pct[h][t]`` exactly; this
undoes the ceiling compression of the clipped 7-point scale, so the config's levels and changes
are what the % scores show. With ``false`` it is the literal conversion
``(theme_level_pct[h] + year_effects_pct[h][t]) * 7 / 100``. Both are stored in ``truth.json``.

Exact expectation: given the latent mean ``m`` (everything except ``u`` and ``e``),
``P(s = k) = Phi((k + .5 - m) / sigma) - Phi((k - .5 - m) / sigma)`` with open ends, where
``sigma**2 = respondent_sd**2 + item_sd**2``, hence ``E[s] = 1 + sum_{j=1..6} Phi((m-j-.5)/sigma)``.
``expected_mean`` averages this over the theme's items and the staff-group mixture (population
shares). Item missingness is MCAR, so the practice-year mean of respondent theme means (mean of the
answered items) is unbiased for it. The ATT is the mean over treated practices of the expected
score minus its untreated counterfactual.

Participation: each practice has ``3 + list_size / patients_per_staff`` staff (with noise);
respondents per practice-year are Binomial(staff, rate), rate ~ Beta with mean ``response_rate``;
a share ``absent_rate`` of practice-years has no rows at all. Links practices always take part,
with at least ``links_min_respondents``. Staff groups are drawn from ``staff_shares``.
Messiness (``messiness`` settings) is planted after sampling; the exact counts per file, as
written, are in ``truth.json["messiness"]``.

CARE: the same construction on the 1-5 scale with one latent per patient for all 10 items
(``care_practice_sd``, ``care_practice_year_sd`` in total points, i.e. /10 per item;
``care_respondent_sd``, ``care_item_sd`` per item); ``care_level`` (+ ``care_year_effects``) is
the calibrated all-Scotland expected total (10-50), ``care_treatment_effect`` a latent shift of
the total by event time. "Does not apply" and blanks are MCAR; the expected total is 10 times the
expected item score.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from linkseval import SYNTHETIC_LABEL, SYNTHETIC_MARKER
from linkseval.codebook import Codebook, Instrument, normalise_header
from linkseval.errors import CodebookError, ConfigError

GENERATOR_VERSION = 1
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1, 0, 0, 0)  # xlsx created/modified; keeps bytes stable
CANARY_ID_PREFIX = "CANARY-"
CANARY_COMMENT = "CANARY-COMMENT"

GGC = "NHS Greater Glasgow & Clyde"
# health board -> (share of practices in %, mean share of patients in the 15% most deprived areas)
BOARDS: dict[str, tuple[float, float]] = {
    "NHS Ayrshire & Arran": (5.5, 0.16),
    "NHS Borders": (2.3, 0.03),
    "NHS Dumfries & Galloway": (3.3, 0.05),
    "NHS Fife": (5.5, 0.11),
    "NHS Forth Valley": (5.5, 0.10),
    "NHS Grampian": (7.0, 0.04),
    GGC: (23.0, 0.36),
    "NHS Highland": (10.0, 0.03),
    "NHS Lanarkshire": (10.0, 0.15),
    "NHS Lothian": (12.0, 0.10),
    "NHS Orkney": (1.4, 0.01),
    "NHS Shetland": (1.0, 0.01),
    "NHS Tayside": (6.5, 0.13),
    "NHS Western Isles": (1.2, 0.01),
}
STAFF_GROUPS = ("GP", "Practice Manager", "Practice Nurse", "Admin/Reception", "Other")

# header styles, cycled by the year's position in the sorted year list
SAFEQUEST_STYLES: tuple[dict[str, str], ...] = (
    {
        "practice_code": "Practice Code",
        "respondent_id": "Respondent ID",
        "staff_group": "Staff Group",
        "item": "Q{n}",
        "comments": "Comments",
    },
    {
        "practice_code": "practice_code",
        "respondent_id": "respondent_id",
        "staff_group": "staff_group",
        "item": "Q{n:02d}",
        "comments": "comments",
    },
    {
        "practice_code": "PracticeCode",
        "respondent_id": "RespID",
        "staff_group": "Role",
        "item": "Item {n}",
        "comments": "Free Text",
    },
)
CARE_STYLES: tuple[dict[str, str], ...] = (
    {"practice_code": "Practice Code", "respondent_id": "Patient ID", "item": "C{n}"},
    {"practice_code": "practice_code", "respondent_id": "patient_id", "item": "C{n:02d}"},
    {"practice_code": "Prac Code", "respondent_id": "Patient", "item": "CARE{n:02d}"},
)
COMMENT_POOL = (
    "Great team – very supportive",
    "Staff’s workload is too high at times",
    "Café-style team meetings have helped",
    "Reception is under a lot of pressure",
    "Good communication, but meetings are rushed",
    'The manager said "we will fix the rota"',
    "More time for significant event reviews please",
    "No comment",
)
_NON_ASCII_COMMENTS = (0, 1)  # pool entries forced into cp1252 years
_PLACES = (
    "Abbey", "Ardgowan", "Balmore", "Barrhead", "Bellshill", "Braeside", "Broomhill", "Calder",
    "Castlemilk", "Clydeside", "Cowglen", "Craigton", "Dalmarnock", "Denny", "Drumchapel",
    "Eastfield", "Firhill", "Gorbals", "Govanhill", "Hillhead", "Kelvin", "Kinning Park",
    "Lochside", "Maryhill", "Merchiston", "Millburn", "Parkhead", "Pollok", "Riverside",
    "Rosemount", "Shettleston", "Springburn", "Thornliebank", "Townhead", "Whinhill", "Woodside",
)  # fmt: skip
_SUFFIXES = ("Medical Practice", "Health Centre", "Surgery", "Group Practice", "Medical Centre")
_CSV_ONLY_STEMS = frozenset({"care"})

# token codes in the raw item matrices (valid answers and out-of-range codes are >= 0)
_BLANK, _NA, _DNA = -1, -2, -3
_TOKEN_OFFSET = 3
_MAX_TOKEN = 99

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
_STREAMS = {
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
_INSTRUMENT_KEYS = {"safequest": 1, "care": 2}


@dataclass(frozen=True)
class Extract:
    """One raw extract as it will be written: object columns under the raw (alias) headers."""

    name: str
    instrument: str
    year: int
    fmt: str  # "csv" or "xlsx"
    encoding: str  # csv text encoding ("utf-8" or "cp1252"); "binary" for xlsx
    frame: pd.DataFrame  # object dtype; csv: str cells, xlsx: int / str / None cells

    def to_bytes(self) -> bytes:
        """Serialise deterministically (csv text, or an xlsx with fixed timestamps)."""
        if self.fmt == "csv":
            return _csv_bytes(self.frame, self.encoding)
        return _xlsx_bytes(self.frame, sheet="Responses")


@dataclass
class SyntheticData:
    """Everything ``write_synthetic`` writes, in memory."""

    practices: pd.DataFrame
    extracts: dict[str, Extract]
    truth: dict
    truth_practice_year: pd.DataFrame
    responses: dict[str, pd.DataFrame] = field(repr=False)  # genuine rows, scored, canonical names
    marker: str = ""

    def iter_files(self) -> Iterator[tuple[str, bytes]]:
        """(file name, bytes) of every output file, serialised one at a time."""
        yield SYNTHETIC_MARKER, self.marker.encode("utf-8")
        yield "practices.csv", _csv_bytes(self.practices.astype(str), "utf-8")
        for name, ext in self.extracts.items():
            yield name, ext.to_bytes()
        yield "truth.json", (json.dumps(self.truth, indent=1) + "\n").encode("utf-8")
        tpy = self.truth_practice_year.to_csv(
            index=False, lineterminator="\n", float_format="%.10f"
        )
        yield "truth_practice_year.csv", tpy.encode("utf-8")

    def files(self) -> dict[str, bytes]:
        """File name -> bytes of every output file."""
        return dict(self.iter_files())


# --------------------------------------------------------------------------------------------
# public API


def extract_filename(instrument_stem: str, year: int, settings: dict) -> str:
    """File name of an extract: ``<stem>_<year>.xlsx`` in xlsx years (never for CARE), else csv."""
    xlsx = int(year) in {int(y) for y in settings.get("xlsx_years") or []}
    ext = "xlsx" if xlsx and instrument_stem not in _CSV_ONLY_STEMS else "csv"
    return f"{instrument_stem}_{int(year)}.{ext}"


def generate(settings: dict, years: list[int], codebook: Codebook) -> SyntheticData:
    """Generate the synthetic data set in memory (pure: same inputs, same output)."""
    cfg = effective_settings(settings)
    years = sorted({int(y) for y in years})
    if not years:
        raise ConfigError("synthetic: at least one survey year is needed")
    sq, care = codebook["safequest"], codebook["care"]
    _check(cfg, years, sq)
    practices = _make_practices(cfg, years)
    model = _Model(cfg, years, sq, care, practices)
    extracts: dict[str, Extract] = {}
    responses: dict[str, pd.DataFrame] = {}
    messiness: dict[str, dict] = {}
    files: dict[str, dict] = {}
    sampled: dict[tuple[str, int], np.ndarray] = {}
    for idx, year in enumerate(years):
        for inst in (sq, care):
            built = _build_extract(model, inst, year, idx)
            extracts[built.extract.name] = built.extract
            responses[built.extract.name] = built.responses
            messiness[built.extract.name] = built.counts
            files[built.extract.name] = built.meta
            sampled[(inst.name, year)] = built.sampled_means
    truth_py = model.truth_practice_year()
    truth = model.truth_json(messiness, files, sampled)
    marker = (
        f"{SYNTHETIC_LABEL} — generated by linkseval.synth, not real survey responses\n"
        f"seed: {cfg['seed']}\nyears: {', '.join(map(str, years))}\n"
        f"generator_version: {GENERATOR_VERSION}\n"
    )
    return SyntheticData(
        practices=practices.public,
        extracts=extracts,
        truth=truth,
        truth_practice_year=truth_py,
        responses=responses,
        marker=marker,
    )


def write_synthetic(
    out_dir: Path, settings: dict, years: list[int], codebook: Codebook
) -> list[Path]:
    """Generate and write the synthetic input folder; return the written paths (sorted)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = generate(settings, years, codebook)
    paths = []
    for name, payload in data.iter_files():
        path = out_dir / name
        path.write_bytes(payload)
        paths.append(path)
    return sorted(paths)


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
        cfg["care_year_effects"] = _year_map(cfg["care_year_effects"])
        cfg["year_effects_pct"] = {
            h: _year_map(v) for h, v in (cfg["year_effects_pct"] or {}).items()
        }
        for key in ("xlsx_years", "text_label_years", "cp1252_years"):
            cfg[key] = [int(y) for y in cfg[key] or []]
        for key in ("leading_zero_years", "comments_years"):
            if cfg["messiness"][key] is not None:
                cfg["messiness"][key] = [int(y) for y in cfg["messiness"][key]]
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"synthetic: a year key or year list is malformed ({exc})") from exc
    return cfg


def expected_score(m: np.ndarray | float, sigma: float, lo: int, hi: int) -> np.ndarray:
    """E[clip(round(m + N(0, sigma)), lo, hi)], exactly: lo + sum_j Phi((m - j - 1/2) / sigma)."""
    m = np.asarray(m, dtype=np.float64)
    out = np.full(m.shape, float(lo))
    for j in range(lo, hi):
        out += ndtr((m - (j + 0.5)) / sigma)
    return out


# --------------------------------------------------------------------------------------------
# settings, practices


def _rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence(int(seed), spawn_key=(_STREAMS[stream], *keys))
    )


def _year_map(mapping: dict | None) -> dict[int, float]:
    return {int(k): float(v) for k, v in (mapping or {}).items()}


def _clp_list(value: Any) -> list[dict]:
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


def _check(cfg: dict, years: list[int], sq: Instrument) -> None:
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
    for clp in _clp_list(cfg["clp_absence"]):
        if not 0 <= clp["months"] <= 12:
            raise ConfigError("synthetic.clp_absence.months must be within 0-12")


def _code_width(cfg: dict) -> int:
    n = int(cfg["n_practices"])
    width = cfg.get("code_width")
    if width is None:
        width = 5
        while n > 0.5 * 10**width:
            width += 1
    width = int(width)
    if n > 0.5 * 10**width:
        raise ConfigError(f"synthetic.code_width {width} leaves too few codes for {n} practices")
    return width


def _largest_remainder(shares: np.ndarray, n: int) -> np.ndarray:
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return counts


@dataclass
class _Practices:
    codes: np.ndarray  # object, sorted
    board: np.ndarray  # int index into BOARDS
    list_size: np.ndarray
    simd: np.ndarray
    deep_rank: np.ndarray  # 0 = not Deep End
    start: np.ndarray  # 0 = not Links
    staff: np.ndarray
    absent_months: dict[int, np.ndarray]
    clp: list[dict]
    width: int
    public: pd.DataFrame


def _make_practices(cfg: dict, years: list[int]) -> _Practices:
    seed, n = int(cfg["seed"]), int(cfg["n_practices"])
    width = _code_width(cfg)
    rng = _rng(seed, "practices")
    codes_int = np.sort(rng.choice(10**width - 100, size=n, replace=False) + 100)
    codes = np.array([f"{c:0{width}d}" for c in codes_int.tolist()], dtype=object)
    board_names = list(BOARDS)
    shares = np.array([BOARDS[b][0] for b in board_names])
    board = rng.permutation(np.repeat(np.arange(len(board_names)), _largest_remainder(shares, n)))
    mean = np.array([BOARDS[b][1] for b in board_names])[board]
    conc = 2.5
    simd = np.round(rng.beta(mean * conc, (1 - mean) * conc), 4)
    lo, hi = (int(v) for v in cfg["list_size_range"])
    list_size = np.clip(
        np.round(np.exp(rng.normal(math.log(cfg["list_size_median"]), cfg["list_size_sdlog"], n))),
        lo,
        hi,
    ).astype(np.int64)
    staff = np.clip(
        np.round(3 + list_size / cfg["patients_per_staff"] * rng.lognormal(0.0, 0.15, n)), 3, 80
    ).astype(np.int64)
    n_deep = int(cfg["n_deep_end"])
    order = np.lexsort((codes_int, -simd))  # most deprived first, ties by code
    deep_rank = np.zeros(n, dtype=np.int64)
    deep_rank[order[:n_deep]] = np.arange(1, n_deep + 1)

    # Links practices: drawn from NHS GGC Deep End practices, cohort by cohort
    ggc = board_names.index(GGC)
    candidates = np.flatnonzero((board == ggc) & (deep_rank > 0))
    cohorts = sorted((int(y), int(k)) for y, k in (cfg["links_cohorts"] or {}).items())
    need = sum(k for _, k in cohorts)
    if need > len(candidates):
        raise ConfigError(
            f"synthetic.links_cohorts needs {need} Links practices but only {len(candidates)} "
            f"NHS GGC Deep End practices exist (raise n_deep_end or n_practices)"
        )
    pool = _rng(seed, "links").permutation(candidates)
    start = np.zeros(n, dtype=np.int64)
    pos = 0
    for year, k in cohorts:
        start[pool[pos : pos + k]] = year
        pos += k

    links_sorted = np.flatnonzero(start > 0)  # practice order == code order
    clp = []
    for item in _clp_list(cfg["clp_absence"]):
        if not 0 <= item["practice_index"] < len(links_sorted):
            raise ConfigError(
                f"synthetic.clp_absence.practice_index {item['practice_index']} is outside the "
                f"{len(links_sorted)} Links practices"
            )
        p = int(links_sorted[item["practice_index"]])
        clp.append({**item, "practice": p, "practice_code": codes[p]})
    absent_months = {}
    for year in years:
        months = np.zeros(n)
        for item in clp:
            if item["year"] == year:
                months[item["practice"]] = item["months"]
        absent_months[year] = months

    rng_names = _rng(seed, "names")
    names = np.array(
        [
            f"{_PLACES[a]} {_SUFFIXES[b]}"
            for a, b in zip(
                rng_names.integers(0, len(_PLACES), n).tolist(),
                rng_names.integers(0, len(_SUFFIXES), n).tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    public = pd.DataFrame(
        {
            "practice_code": codes,
            "practice_name": names,
            "health_board": np.array(board_names, dtype=object)[board],
            "list_size": list_size,
            "simd15_share": [f"{v:.4f}" for v in simd.tolist()],
            "deep_end_rank": [str(r) if r else "" for r in deep_rank.tolist()],
            "links_start_year": [str(s) if s else "" for s in start.tolist()],
        }
    )
    for year in years:
        col = []
        for s, m in zip(start.tolist(), absent_months[year].tolist(), strict=True):
            col.append(f"{m:g}" if s and year >= s else "")
        public[f"clp_absent_months_{year}"] = col
    public = public.astype(object)
    return _Practices(
        codes=codes,
        board=board,
        list_size=list_size,
        simd=simd,
        deep_rank=deep_rank,
        start=start,
        staff=staff,
        absent_months=absent_months,
        clp=clp,
        width=width,
        public=public,
    )


# --------------------------------------------------------------------------------------------
# latent model


def _correlated(rng: np.random.Generator, n: int, k: int, sd: float, rho: float) -> np.ndarray:
    common = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, k))
    return sd * (math.sqrt(rho) * common + math.sqrt(1.0 - rho) * own)


def _effect_at(effects: list[float], event_time: np.ndarray) -> np.ndarray:
    """Treatment effect by event time: 0 before the start, last value carried on."""
    if not effects:
        return np.zeros(event_time.shape)
    table = np.asarray(effects, dtype=np.float64)
    idx = np.clip(event_time, 0, len(table) - 1)
    return np.where(event_time >= 0, table[idx], 0.0)


def _solve_intercept(
    target: float, x: np.ndarray, w: np.ndarray, sigma: float, lo: int, hi: int
) -> float:
    """b such that sum(w * E[s | b + x]) == target (safeguarded Newton)."""
    if not lo < target < hi:
        raise ConfigError(f"synthetic: target level {target:.3f} is outside the scale {lo}-{hi}")
    a, c = lo - 20.0 - float(x.max()), hi + 20.0 - float(x.min())
    b = target - float(np.dot(w, x))
    for _ in range(100):
        z = b + x
        value = np.full(z.shape, float(lo))
        slope = np.zeros(z.shape)
        for j in range(lo, hi):
            t = (z - (j + 0.5)) / sigma
            value += ndtr(t)
            slope += np.exp(-0.5 * t * t)
        f = float(np.dot(w, value)) - target
        d = float(np.dot(w, slope)) / (sigma * math.sqrt(2 * math.pi))
        if abs(f) < 1e-13:
            return b
        if f > 0:
            c = b
        else:
            a = b
        nb = b - f / d if d > 0 else (a + c) / 2
        nb = nb if a < nb < c else (a + c) / 2
        if abs(nb - b) < 1e-14:
            return nb
        b = nb
    return b


def _compress(x: np.ndarray, q: int = 1000) -> np.ndarray:
    """Quantile summary of a large sample for calibration (exact values when small)."""
    if len(x) <= 2 * q:
        return x
    return np.quantile(x, (np.arange(q) + 0.5) / q)


class _Model:
    """Practice-level effects, calibrated intercepts and exact expectations."""

    def __init__(self, cfg, years, sq: Instrument, care: Instrument, pr: _Practices) -> None:
        self.cfg, self.years, self.sq, self.care, self.pr = cfg, years, sq, care, pr
        seed, n = int(cfg["seed"]), len(pr.codes)
        self.seed, self.n = seed, n
        self.themes = list(sq.themes)
        self.item_theme = np.array([self.themes.index(i.theme) for i in sq.items])
        self.reverse = np.array([i.reverse for i in sq.items])
        self.pts = sq.scale_max / 100.0
        self.sigma = math.hypot(cfg["respondent_sd"], cfg["item_sd"])
        self.care_sigma = math.hypot(cfg["care_respondent_sd"], cfg["care_item_sd"])
        shares = np.array([cfg["staff_shares"][g] for g in STAFF_GROUPS], dtype=np.float64)
        if shares.min() < 0 or shares.sum() <= 0:
            raise ConfigError("synthetic.staff_shares must be non-negative with a positive sum")
        self.staff_shares = shares / shares.sum()
        eff = np.array([cfg["staff_effects_pct"][g] for g in STAFF_GROUPS], dtype=np.float64)
        self.staff_pct = eff - float(np.dot(self.staff_shares, eff))  # centred
        self.staff_delta = self.staff_pct * self.pts

        rng = _rng(seed, "effects")
        board_fx = rng.normal(0.0, cfg["board_sd_pct"], len(BOARDS))
        self.board_fx = board_fx
        self.practice_fx = _correlated(
            rng, n, len(self.themes), cfg["practice_sd_pct"], cfg["theme_correlation"]
        )
        self.care_fx = rng.normal(0.0, cfg["care_practice_sd"], n)
        rng_items = _rng(seed, "items")
        off = rng_items.normal(0.0, cfg["item_offset_sd_pct"], len(sq.items))
        for h in range(len(self.themes)):
            sel = self.item_theme == h
            off[sel] -= off[sel].mean()
        self.item_offset_pct = off
        self.links = pr.start > 0
        self.static_pct = (
            self.practice_fx
            + board_fx[pr.board][:, None]
            + cfg["deep_end_pct"] * (pr.deep_rank > 0)[:, None]
            + cfg["list_size_pct_per_doubling"]
            * np.log2(pr.list_size / cfg["list_size_median"])[:, None]
            + cfg["links_level_pct"] * self.links[:, None]
        )
        self.year_fx = {h: _year_map(cfg["year_effects_pct"].get(h)) for h in self.themes}
        self.treat = {
            h: [float(v) for v in cfg["treatment_effect_pct"].get(h, [])] for h in self.themes
        }
        self.care_year_fx = _year_map(cfg["care_year_effects"])
        self.care_treat = [float(v) for v in cfg["care_treatment_effect"] or []]
        self.py_pct: dict[int, np.ndarray] = {}
        self.care_py: dict[int, np.ndarray] = {}
        self.intercept: dict[int, np.ndarray] = {}
        self.care_intercept: dict[int, float] = {}
        self.expected: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        for year in years:
            self._year(year)

    # -- per year --------------------------------------------------------------------------
    def dose(self, year: int) -> np.ndarray:
        return 1.0 - self.pr.absent_months[year] / 12.0

    def event_time(self, year: int) -> np.ndarray:
        return np.where(self.links, year - self.pr.start, -1)

    def _year(self, year: int) -> None:
        cfg, n = self.cfg, self.n
        rng = _rng(self.seed, "practice_year", year)
        self.py_pct[year] = _correlated(
            rng, n, len(self.themes), cfg["practice_year_sd_pct"], cfg["theme_correlation"]
        )
        self.care_py[year] = rng.normal(0.0, cfg["care_practice_year_sd"], n)
        calibrate = bool(cfg["calibrate_to_observed"])
        lo, hi = self.sq.scale_min, self.sq.scale_max
        b = np.zeros(len(self.themes))
        for h, theme in enumerate(self.themes):
            target_pct = float(cfg["theme_level_pct"][theme]) + self.year_fx[theme].get(year, 0.0)
            target = target_pct * self.pts
            if not calibrate:
                b[h] = target
                continue
            x_p = _compress(self.pts * (self.static_pct[:, h] + self.py_pct[year][:, h]))
            offs = self.pts * self.item_offset_pct[self.item_theme == h]
            x = x_p[:, None, None] + offs[None, :, None] + self.staff_delta[None, None, :]
            w = np.broadcast_to(
                self.staff_shares[None, None, :] / (len(x_p) * len(offs)), x.shape
            ).ravel()
            b[h] = _solve_intercept(target, x.ravel(), w, self.sigma, lo, hi)
        self.intercept[year] = b
        care_target = (float(cfg["care_level"]) + self.care_year_fx.get(year, 0.0)) / 10.0
        care_x = (self.care_fx + self.care_py[year]) / 10.0
        if calibrate:
            xc = _compress(care_x)
            self.care_intercept[year] = _solve_intercept(
                care_target,
                xc,
                np.full(len(xc), 1.0 / len(xc)),
                self.care_sigma,
                self.care.scale_min,
                self.care.scale_max,
            )
        else:
            self.care_intercept[year] = care_target
        # exact expectations (counterfactual for all; treated only differs for Links)
        m_cf = self.sq_latent(year, treated=False)
        e_cf = self._expect_items(m_cf)
        e_tr = e_cf.copy()
        if self.links.any():
            m_tr = self.sq_latent(year, treated=True)
            e_tr[self.links] = self._expect_items(m_tr[self.links])
        self.expected[("safequest", year)] = (self._outcomes(e_tr), self._outcomes(e_cf))
        c_cf = self.care_latent(year, treated=False)
        c_tr = self.care_latent(year, treated=True)
        lo_c, hi_c = self.care.scale_min, self.care.scale_max
        ncare = len(self.care.items)
        self.expected[("care", year)] = (
            ncare * expected_score(c_tr, self.care_sigma, lo_c, hi_c)[:, None],
            ncare * expected_score(c_cf, self.care_sigma, lo_c, hi_c)[:, None],
        )

    def treatment_pct(self, year: int) -> np.ndarray:
        """Latent treatment shift (pct) per practice and theme in a year, dose included."""
        e = self.event_time(year)
        out = np.zeros((self.n, len(self.themes)))
        for h, theme in enumerate(self.themes):
            out[:, h] = _effect_at(self.treat[theme], e)
        return out * self.dose(year)[:, None] * self.links[:, None]

    def sq_latent(self, year: int, treated: bool) -> np.ndarray:
        """Latent item means (points) without staff effect, shape (practices, items)."""
        pct = self.static_pct + self.py_pct[year]
        if treated:
            pct = pct + self.treatment_pct(year)
        it = self.item_theme
        return self.intercept[year][it][None, :] + self.pts * (
            pct[:, it] + self.item_offset_pct[None, :]
        )

    def care_shift(self, year: int) -> np.ndarray:
        e = self.event_time(year)
        return _effect_at(self.care_treat, e) * self.dose(year) * self.links

    def care_latent(self, year: int, treated: bool) -> np.ndarray:
        total = self.care_fx + self.care_py[year]
        if treated:
            total = total + self.care_shift(year)
        return self.care_intercept[year] + total / 10.0

    def _expect_items(self, m: np.ndarray) -> np.ndarray:
        lo, hi = self.sq.scale_min, self.sq.scale_max
        out = np.zeros(m.shape)
        for g, share in enumerate(self.staff_shares):
            out += share * expected_score(m + self.staff_delta[g], self.sigma, lo, hi)
        return out

    def _outcomes(self, e_items: np.ndarray) -> np.ndarray:
        cols = [e_items[:, self.item_theme == h].mean(axis=1) for h in range(len(self.themes))]
        cols.append(e_items.mean(axis=1))
        return np.column_stack(cols)

    @property
    def sq_outcomes(self) -> list[str]:
        return self.sq.outcomes

    # -- truth -----------------------------------------------------------------------------
    def truth_practice_year(self) -> pd.DataFrame:
        parts = []
        for (inst, year), (tr, cf) in self.expected.items():
            outcomes = self.sq_outcomes if inst == "safequest" else ["care_total"]
            treated = self.links & (year >= self.pr.start)
            for j, outcome in enumerate(outcomes):
                parts.append(
                    pd.DataFrame(
                        {
                            "practice_code": self.pr.codes,
                            "year": year,
                            "instrument": inst,
                            "outcome": outcome,
                            "expected_mean": tr[:, j],
                            "expected_counterfactual_mean": cf[:, j],
                            "treated": treated,
                        }
                    )
                )
        out = pd.concat(parts, ignore_index=True)
        out = out.sort_values(
            ["practice_code", "year", "instrument", "outcome"], kind="stable"
        ).reset_index(drop=True)
        return out

    def att(self) -> tuple[dict, dict]:
        by_year: dict[str, dict] = {}
        by_event: dict[str, dict] = {}
        for (inst, year), (tr, cf) in self.expected.items():
            outcomes = self.sq_outcomes if inst == "safequest" else ["care_total"]
            treated = self.links & (year >= self.pr.start)
            if not treated.any():
                continue
            e = self.event_time(year)
            for j, outcome in enumerate(outcomes):
                diff = tr[:, j] - cf[:, j]
                by_year.setdefault(outcome, {})[str(year)] = self._att_entry(inst, diff[treated])
                for ev in np.unique(e[treated]).tolist():
                    sel = treated & (e == ev)
                    acc = by_event.setdefault(outcome, {}).setdefault(str(ev), [])
                    acc.extend(diff[sel].tolist())
        for outcome, events in by_event.items():
            inst = "care" if outcome == "care_total" else "safequest"
            by_event[outcome] = {
                ev: self._att_entry(inst, np.array(vals))
                for ev, vals in sorted(events.items(), key=lambda kv: int(kv[0]))
            }
        return by_year, by_event

    def _att_entry(self, inst: str, diff: np.ndarray) -> dict:
        """ATT on the scored scale (Safequest 1-7 mean, CARE 10-50 total) and as % points."""
        if inst == "safequest":
            lo, hi = self.sq.scale_min, self.sq.scale_max
        else:
            k = len(self.care.items)
            lo, hi = k * self.care.scale_min, k * self.care.scale_max
        scored = float(diff.mean())
        return {
            "scored": _r(scored),
            "pct": _r(100.0 * scored / hi),
            "pct_pomp": _r(100.0 * scored / (hi - lo)),
            "n_treated": len(diff),
        }

    def descriptive(self, sampled: dict[tuple[str, int], np.ndarray]) -> dict:
        """All-Scotland vs Links % scores by year and change vs the first year."""
        out: dict[str, Any] = {
            "definition": (
                "pct = 100*mean/7 (Safequest), CARE on its total scale. expected: mean over "
                "practices of expected_mean (scotland = all practices, links = all Links "
                "practices). sampled: mean over practice-years with >= 5 genuine respondents of "
                "the practice mean of respondent scores (theme score needs >= half the theme's "
                "items; respondents with more than half the items missing excluded). change: "
                "points = pct(year) - pct(first year); relative_pct = 100*(pct(year)/pct(first) "
                "- 1)."
            ),
            "expected": {},
            "sampled": {},
        }
        for source in ("expected", "sampled"):
            for inst, outcomes in (("safequest", self.sq_outcomes), ("care", ["care_total"])):
                for j, outcome in enumerate(outcomes):
                    levels: dict[str, dict[str, float]] = {"scotland": {}, "links": {}}
                    for year in self.years:
                        if source == "expected":
                            vals = self.expected[(inst, year)][0][:, j]
                            ok = np.ones(self.n, dtype=bool)
                        else:
                            vals = sampled[(inst, year)][:, j]
                            ok = ~np.isnan(vals)
                        scale = 100.0 / 7.0 if inst == "safequest" else 1.0
                        for grp, sel in (("scotland", ok), ("links", ok & self.links)):
                            if sel.any():
                                levels[grp][str(year)] = _r(scale * float(vals[sel].mean()), 4)
                    change: dict[str, dict] = {}
                    first = str(self.years[0])
                    for grp, series in levels.items():
                        change[grp] = {}
                        for year, value in series.items():
                            if year == first or first not in series:
                                continue
                            base = series[first]
                            change[grp][year] = {
                                "points": _r(value - base, 4),
                                "relative_pct": _r(100.0 * (value / base - 1.0), 4),
                            }
                    out[source][outcome] = {"level": levels, "change_vs_first_year": change}
        return out

    def truth_json(self, messiness: dict, files: dict, sampled: dict) -> dict:
        att_year, att_event = self.att()
        pr = self.pr
        links = [
            {
                "practice_code": pr.codes[p],
                "start_year": int(pr.start[p]),
                "health_board": list(BOARDS)[pr.board[p]],
                "deep_end_rank": int(pr.deep_rank[p]),
            }
            for p in np.flatnonzero(self.links).tolist()
        ]
        clp = [
            {
                "practice_index": c["practice_index"],
                "practice_code": c["practice_code"],
                "year": c["year"],
                "months": c["months"],
                "dose": _r(1.0 - c["months"] / 12.0),
            }
            for c in pr.clp
        ]
        labels = {
            inst.name: {str(k): v for k, v in _label_names(inst).items()}
            for inst in (self.sq, self.care)
        }
        return {
            "synthetic": True,
            "label": SYNTHETIC_LABEL,
            "generator": "linkseval.synth",
            "generator_version": GENERATOR_VERSION,
            "seed": int(self.cfg["seed"]),
            "years": self.years,
            "settings": _jsonable(self.cfg),
            "code_width": pr.width,
            "n_practices": self.n,
            "links": links,
            "clp_absence": clp,
            "att": att_year,
            "att_by_event_time": att_event,
            "att_definition": (
                "mean over practices treated in that year (year >= start) of E[score | treated] "
                "- E[score | untreated], CLP-absence dose included; scored: Safequest 1-7 mean "
                "(after reverse scoring), CARE total 10-50; pct: 100*scored/max (7 or 50); "
                "pct_pomp: 100*scored/(max-min)."
            ),
            "latent": {
                "points_per_pct": self.pts,
                "sigma": _r(self.sigma),
                "care_sigma": _r(self.care_sigma),
                "calibrated": bool(self.cfg["calibrate_to_observed"]),
                "intercept_points": {
                    t: {str(y): _r(float(self.intercept[y][h])) for y in self.years}
                    for h, t in enumerate(self.themes)
                },
                "care_intercept_points": {str(y): _r(self.care_intercept[y]) for y in self.years},
                "item_offset_pct": {
                    i.id: _r(float(v))
                    for i, v in zip(self.sq.items, self.item_offset_pct, strict=True)
                },
                "board_effect_pct": {
                    b: _r(float(v)) for b, v in zip(BOARDS, self.board_fx, strict=True)
                },
                "staff_effect_pct_centred": {
                    g: _r(float(v)) for g, v in zip(STAFF_GROUPS, self.staff_pct, strict=True)
                },
                "staff_shares": {
                    g: _r(float(v)) for g, v in zip(STAFF_GROUPS, self.staff_shares, strict=True)
                },
            },
            "descriptive": self.descriptive(sampled),
            "labels": labels,
            "files": files,
            "messiness": messiness,
        }


# --------------------------------------------------------------------------------------------
# extracts


def _label_names(inst: Instrument) -> dict[int, str]:
    """Code -> text label as written (first codebook label per code, first letter upper)."""
    out: dict[int, str] = {}
    for label, code in inst.labels.items():
        out.setdefault(code, label[:1].upper() + label[1:])
    return out


def _count(rate: float, n: int) -> int:
    rate = float(rate)
    if rate <= 0 or n == 0:
        return 0
    return min(n, max(1, round(rate * n)))


def _ids(prefix: str, seed: int, inst_key: int, year: int, rows: np.ndarray) -> np.ndarray:
    """Unique pseudo-random ``<prefix><8 hex>`` ids: a seeded bijection of (year, row)."""
    if len(rows) and int(rows.max()) >= 2**23:
        raise ConfigError("synthetic: more than 8.3 million rows in one extract")
    k = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAMS["ids"], inst_key)))
    salt, a, b = (int(v) for v in k.integers(0, 2**32, 3, dtype=np.uint64))
    a, b = a | 1, b | 1
    mask = np.uint64(0xFFFFFFFF)
    x = (np.uint64((year - 1900) & 0x1FF) << np.uint64(23)) | rows.astype(np.uint64)
    x = (x ^ np.uint64(salt)) & mask
    x = (x * np.uint64(a)) & mask
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(b)) & mask
    x ^= x >> np.uint64(13)
    return _hex_strings(prefix, x)


def _hex_strings(prefix: str, x: np.ndarray) -> np.ndarray:
    """``prefix`` + 8 lower-case hex digits of each 32-bit value, as an object array of str."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = np.arange(28, -4, -4, dtype=np.uint64)
    nib = ((x.astype(np.uint64)[:, None] >> shifts[None, :]) & np.uint64(0xF)).astype(np.intp)
    pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    buf = np.empty((len(x), len(pre) + 8), dtype=np.uint8)
    buf[:, : len(pre)] = pre
    buf[:, len(pre) :] = digits[nib]
    fixed = np.ascontiguousarray(buf).view(f"S{len(pre) + 8}").ravel()
    return fixed.astype(f"U{len(pre) + 8}").astype(object)


@dataclass
class _Built:
    extract: Extract
    responses: pd.DataFrame
    counts: dict
    meta: dict
    sampled_means: np.ndarray


def _participation(model: _Model, inst: Instrument, year: int) -> np.ndarray:
    cfg, pr = model.cfg, model.pr
    rng = _rng(model.seed, "participation", _INSTRUMENT_KEYS[inst.name], year)
    absent = rng.random(model.n) < float(cfg["absent_rate"])
    if inst.name == "safequest":
        rr = float(cfg["response_rate"])
        conc = 10.0
        rate = rng.beta(rr * conc, (1 - rr) * conc, model.n)
        n = rng.binomial(pr.staff, rate)
        n = np.where(model.links, np.maximum(n, int(cfg["links_min_respondents"])), n)
    else:
        lo, hi = (int(v) for v in cfg["care_respondents"])
        n = rng.integers(lo, hi + 1, model.n)
    n[absent & ~model.links] = 0
    return n.astype(np.int64)


def _sample(
    model: _Model, inst: Instrument, year: int, prac: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Staff group, scored answers (int8) and MCAR missing mask for respondents in ``prac``."""
    cfg, n_rows = model.cfg, len(prac)
    mess = cfg["messiness"]
    if inst.name == "safequest":
        m = model.sq_latent(year, treated=True).astype(np.float32)
        staff = rng.choice(len(STAFF_GROUPS), size=n_rows, p=model.staff_shares).astype(np.int8)
        shift = model.staff_delta.astype(np.float32)[staff]
        sd_r, sd_e, k = cfg["respondent_sd"], cfg["item_sd"], len(inst.items)
        miss = float(mess["item_missing_rate"])
    else:
        m = model.care_latent(year, treated=True).astype(np.float32)[:, None]
        staff, shift = None, np.zeros(n_rows, dtype=np.float32)
        sd_r, sd_e, k = cfg["care_respondent_sd"], cfg["care_item_sd"], len(inst.items)
        miss = float(mess["care_dna_rate"]) + float(mess["care_blank_rate"])
    u = rng.standard_normal(n_rows, dtype=np.float32) * np.float32(sd_r)
    y = rng.standard_normal((n_rows, k), dtype=np.float32)
    y *= np.float32(sd_e)
    y += m[prac]
    y += (shift + u)[:, None]
    np.rint(y, out=y)
    np.clip(y, inst.scale_min, inst.scale_max, out=y)
    scored = y.astype(np.int8)
    mask = rng.random((n_rows, k), dtype=np.float32) < np.float32(miss)
    return staff, scored, mask


def _sampled_means(
    model: _Model, inst: Instrument, prac: np.ndarray, scored: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Practice-year means of respondent scores (NaN below 5 scored respondents)."""
    n, k = model.n, scored.shape[1]
    answered = ~mask
    val = scored * answered  # int8, 0 where missing
    if inst.name == "safequest":
        keep = mask.sum(axis=1) <= k // 2
        groups = [np.flatnonzero(model.item_theme == h) for h in range(len(model.themes))]
        groups.append(np.arange(k))
        scale = 1.0
    else:
        keep = mask.sum(axis=1) <= int((inst.total or {}).get("max_imputed", 2))
        groups = [np.arange(k)]
        scale = float(k)
    out = np.full((n, len(groups)), np.nan)
    for j, cols in enumerate(groups):
        cnt = answered[:, cols].sum(axis=1, dtype=np.int16)
        ok = keep & (cnt >= math.ceil(0.5 * len(cols))) & (cnt > 0)
        score = scale * val[:, cols].sum(axis=1, dtype=np.int16)[ok] / cnt[ok]
        num = np.bincount(prac[ok], weights=score, minlength=n)
        den = np.bincount(prac[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, j] = np.where(den >= 5, num / np.maximum(den, 1), np.nan)
    return out


def _leading_zero_years(cfg: dict, years: list[int]) -> set[int]:
    value = cfg["messiness"]["leading_zero_years"]
    if value is not None:
        return {int(y) for y in value}
    xlsx = {int(y) for y in cfg["xlsx_years"] or []}
    cp = {int(y) for y in cfg["cp1252_years"] or []}
    csv_years = [y for y in years if y not in xlsx and y not in cp] or [
        y for y in years if y not in xlsx
    ]
    return {csv_years[-1]} if csv_years else set()


def _comments_years(cfg: dict, years: list[int]) -> set[int]:
    value = cfg["messiness"]["comments_years"]
    cp = {int(y) for y in cfg["cp1252_years"] or []}
    default = cp & set(years) or {years[0]}
    chosen = default if value is None else {int(y) for y in value}
    return chosen | (cp & set(years))  # cp1252 files always carry the non-ASCII comments


def _build_extract(model: _Model, inst: Instrument, year: int, year_index: int) -> _Built:
    cfg, pr, seed = model.cfg, model.pr, model.seed
    mess = cfg["messiness"]
    ikey = _INSTRUMENT_KEYS[inst.name]
    is_sq = inst.name == "safequest"
    name = extract_filename(inst.file_stem, year, cfg)
    fmt = name.rsplit(".", 1)[1]
    cp1252 = year in {int(y) for y in cfg["cp1252_years"] or []}
    labels_year = year in {int(y) for y in cfg["text_label_years"] or []}
    zero_loss = fmt == "csv" and year in _leading_zero_years(cfg, model.years)
    with_comments = is_sq and year in _comments_years(cfg, model.years)
    k = len(inst.items)
    lo, hi = inst.scale_min, inst.scale_max
    prefix = "R" if is_sq else "P"

    # genuine respondents
    n_resp = _participation(model, inst, year)
    prac = np.repeat(np.arange(model.n), n_resp)
    staff, scored, mask = _sample(model, inst, year, prac, _rng(seed, "rows", ikey, year))
    n0 = len(prac)
    rng = _rng(seed, "mess", ikey, year)

    def tokens_for(s: np.ndarray, msk: np.ndarray) -> np.ndarray:
        raw = s.astype(np.int16)
        if is_sq and model.reverse.any():
            raw[:, model.reverse] = lo + hi - raw[:, model.reverse]
        cells = np.flatnonzero(msk)
        if is_sq:
            alt = rng.random(len(cells)) < float(mess["na_share"])
            raw.flat[cells] = np.where(alt, _NA, _BLANK)
        else:
            dna, blank = float(mess["care_dna_rate"]), float(mess["care_blank_rate"])
            alt = rng.random(len(cells)) < (dna / (dna + blank) if dna + blank > 0 else 0)
            raw.flat[cells] = np.where(alt, _DNA, _BLANK)
        return raw

    def pick(free: np.ndarray, n: int) -> np.ndarray:
        return np.sort(rng.choice(free, min(len(free), n), replace=False))

    # partial completions (Safequest): many more items missing, still MCAR over items
    taken = np.zeros(n0, dtype=bool)
    if is_sq:
        rows_p = pick(np.arange(n0), _count(mess["partial_completion_rate"], n0))
        lo_miss = min(int(mess["partial_min_missing"]), k - 1)
        for r in rows_p.tolist():
            mask[r, rng.permutation(k)[: int(rng.integers(lo_miss, k))]] = True
        taken[rows_p] = True
    n_partial = int(taken.sum())
    tokens = tokens_for(scored, mask)

    # out-of-range codes: one cell in a few rows
    oor_values = sorted({lo - 1, hi + 1, 9, _MAX_TOKEN})
    rows_o = pick(np.flatnonzero(~taken), _count(mess["out_of_range_rate"], n0))
    items_o = rng.integers(0, k, len(rows_o))
    tokens[rows_o, items_o] = rng.choice(oor_values, len(rows_o))
    taken[rows_o] = True
    answered_mask = mask.copy()  # what a perfect cleaner recovers: out-of-range -> missing
    answered_mask[rows_o, items_o] = True

    # respondent ids, a few canaries among them
    rid = _ids(prefix, seed, ikey, year, np.arange(n0))
    canary = np.zeros(n0, dtype=bool)
    if is_sq:
        rows_c = pick(np.flatnonzero(~taken), int(mess["canary_ids"]))
        hexes = rng.integers(0, 2**32, len(rows_c), dtype=np.uint64)
        rid[rows_c] = _hex_strings(CANARY_ID_PREFIX, hexes)
        canary[rows_c] = True
        taken[rows_c] = True
    sampled = _sampled_means(model, inst, prac, scored, answered_mask)
    responses = _responses(model, inst, prac, rid, staff, scored, answered_mask)

    # conflicting duplicates: same practice and respondent id, different answers
    rows_x = pick(np.flatnonzero(~taken), int(mess["conflicting_duplicates"]))
    taken[rows_x] = True
    _, s_x, m_x = _sample(model, inst, year, prac[rows_x], rng)
    tok_x = tokens_for(s_x, m_x)
    for j, r in enumerate(rows_x.tolist()):
        if np.array_equal(tok_x[j], tokens[r]):
            tok_x[j, 0] = lo if tokens[r, 0] != lo else hi

    # rows for practices missing from the register (answers drawn like a random practice's)
    n_unk = int(mess["unknown_practice_rows"])
    donors = rng.integers(0, model.n, n_unk)
    staff_u, s_u, m_u = _sample(model, inst, year, donors, rng)
    tok_u = tokens_for(s_u, m_u)
    known = set(pr.codes.tolist())
    unk_codes: list[str] = []
    while len(unk_codes) < n_unk:
        c = f"{int(rng.integers(10 ** (pr.width - 1), 10**pr.width)):0{pr.width}d}"
        if c not in known and c not in unk_codes:
            unk_codes.append(c)
    rid_u = _ids(prefix, seed, ikey, year, np.arange(n0, n0 + n_unk))

    # assemble: genuine, conflicting, unknown
    kind = np.concatenate(
        [np.zeros(n0, np.int8), np.ones(len(rows_x), np.int8), np.full(n_unk, 2, np.int8)]
    )
    total = len(kind)
    row_prac = np.concatenate([prac, prac[rows_x], donors])
    all_tokens = np.concatenate([tokens, tok_x, tok_u])
    all_rid = np.concatenate([rid, rid[rows_x], rid_u])
    all_canary = np.concatenate([canary, canary[rows_x], np.zeros(n_unk, bool)])
    all_staff = None
    if staff is not None and staff_u is not None:
        all_staff = np.concatenate([staff, staff[rows_x], staff_u])

    # practice codes: register code, lost leading zeros, stray whitespace, unknown codes
    code_ix = row_prac.copy()  # index into code table: practices, then unknown codes
    code_ix[kind == 2] = model.n + np.arange(n_unk)
    base_codes = np.concatenate([pr.codes, np.array(unk_codes, dtype=object)])
    stripped = np.zeros(total, dtype=bool)
    if zero_loss:
        zero = np.array([c.startswith("0") for c in pr.codes.tolist()] + [False] * n_unk)
        stripped = zero[code_ix]
        base_codes = np.array([c.lstrip("0") or "0" for c in base_codes.tolist()], dtype=object)
    ws_style = np.zeros(total, dtype=np.int8)  # 0 none, 1 leading, 2 trailing, 3 both
    rows_w = pick(
        np.flatnonzero((kind != 2) & ~stripped), _count(mess["whitespace_code_rate"], total)
    )
    ws_style[rows_w] = rng.integers(1, 4, len(rows_w))

    # free-text comments: index into COMMENT_POOL, -1 none, -2 canary
    comment_ix = None
    if with_comments:
        comment_ix = np.where(
            rng.random(total) < float(mess["comment_rate"]),
            rng.integers(0, len(COMMENT_POOL), total),
            -1,
        )
        rows_cc = pick(np.flatnonzero(kind == 0), int(mess["canary_comments"]))
        comment_ix[rows_cc] = -2
        if cp1252:  # make sure the file holds characters that differ between cp1252 and UTF-8
            rows_na = pick(np.flatnonzero((kind == 0) & (comment_ix != -2)), 2)
            comment_ix[rows_na] = np.array(_NON_ASCII_COMMENTS)[: len(rows_na)]

    # exact duplicates of ordinary genuine rows
    ordinary = np.zeros(total, dtype=bool)
    ordinary[:n0] = ~taken
    if comment_ix is not None:
        ordinary &= comment_ix != -2
    rows_d = pick(np.flatnonzero(ordinary), _count(mess["exact_duplicate_rate"], n0))
    src = np.concatenate([np.arange(total), rows_d])
    kind = np.concatenate([kind, np.full(len(rows_d), 3, dtype=np.int8)])

    # row order: practices in a random order, rows shuffled within a practice
    key = rng.permutation(model.n).astype(np.float64)[row_prac[src]]
    key += rng.random(len(src))
    unk_pos = np.flatnonzero(kind == 2)
    key[unk_pos] = rng.uniform(0, model.n, len(unk_pos))
    order = np.argsort(key, kind="stable")
    src, kind = src[order], kind[order]

    # render
    styles = SAFEQUEST_STYLES if is_sq else CARE_STYLES
    style_no = year_index % len(styles)
    style = styles[style_no]
    code_col = _render_codes(base_codes[code_ix[src]], ws_style[src])
    cols: dict[str, np.ndarray] = {
        style["practice_code"]: code_col,
        style["respondent_id"]: all_rid[src],
    }
    if all_staff is not None:
        cols[style["staff_group"]] = np.array(STAFF_GROUPS, dtype=object)[all_staff[src]]
    item_headers = [style["item"].format(n=i) for i in range(1, k + 1)]
    table = _token_table(inst, labels_year, fmt)
    final_tokens = all_tokens[src]
    for j, h in enumerate(item_headers):
        cols[h] = table[final_tokens[:, j].astype(np.intp) + _TOKEN_OFFSET]
    final_comments = None
    if comment_ix is not None:
        final_comments = comment_ix[src]
        cols[style["comments"]] = _render_comments(final_comments)
    _check_headers(inst, style, item_headers, list(cols))
    frame = pd.DataFrame(cols, dtype=object, copy=False)
    encoding = "binary" if fmt == "xlsx" else ("cp1252" if cp1252 else "utf-8")
    extract = Extract(name, inst.name, year, fmt, encoding, frame)

    counts = _counts(inst, kind, final_tokens, final_comments)
    counts["whitespace_codes"] = int((ws_style[src] > 0).sum())
    counts["leading_zero_lost"] = int(stripped[src].sum())
    if is_sq:
        counts["canary_ids"] = int(all_canary[src].sum())
    counts["partial_completions_planted"] = n_partial
    counts["conflicting_ids"] = sorted([pr.codes[prac[r]], str(rid[r])] for r in rows_x.tolist())
    counts["unknown_practice_codes"] = sorted(unk_codes)
    meta = {
        "instrument": inst.name,
        "year": year,
        "format": fmt,
        "encoding": encoding,
        "header_style": style_no,
        "header": list(cols),
        "text_labels": labels_year,
        "comments_column": style["comments"] if final_comments is not None else None,
        "leading_zero_loss": zero_loss,
    }
    return _Built(extract, responses, counts, meta, sampled)


def _render_codes(codes: np.ndarray, ws_style: np.ndarray) -> np.ndarray:
    out = codes.copy()
    for style, fmt in ((1, " {}"), (2, "{} "), (3, " {} ")):
        rows = np.flatnonzero(ws_style == style)
        out[rows] = [fmt.format(c) for c in codes[rows].tolist()]
    return out


def _render_comments(comment_ix: np.ndarray) -> np.ndarray:
    table = np.array(("",) + COMMENT_POOL, dtype=object)
    out = table[np.maximum(comment_ix, -1) + 1]
    canaries = np.flatnonzero(comment_ix == -2)
    out[canaries] = [f"{CANARY_COMMENT} {j + 1}: do not publish" for j in range(len(canaries))]
    return out


def _token_table(inst: Instrument, labels_year: bool, fmt: str) -> np.ndarray:
    """Token (offset by _TOKEN_OFFSET) -> cell value as written."""
    table = np.empty(_MAX_TOKEN + 1 + _TOKEN_OFFSET, dtype=object)
    for v in range(_MAX_TOKEN + 1):
        table[v + _TOKEN_OFFSET] = v if fmt == "xlsx" else str(v)
    if labels_year:
        for code, label in _label_names(inst).items():
            table[code + _TOKEN_OFFSET] = label
    table[_BLANK + _TOKEN_OFFSET] = None if fmt == "xlsx" else ""
    table[_NA + _TOKEN_OFFSET] = "N/A"
    table[_DNA + _TOKEN_OFFSET] = "Does not apply"
    return table


def _check_headers(inst: Instrument, style: dict, item_headers: list[str], header: list) -> None:
    hmap = inst.header_map()
    wanted = {style["practice_code"]: "practice_code", style["respondent_id"]: "respondent_id"}
    if "staff_group" in style and inst.name == "safequest":
        wanted[style["staff_group"]] = "staff_group"
    wanted.update(dict(zip(item_headers, inst.item_ids, strict=True)))
    for raw, canonical in wanted.items():
        if hmap.get(normalise_header(raw)) != canonical:
            raise CodebookError(f"{inst.name}: header {raw!r} does not map to {canonical}")
    if "comments" in style and style["comments"] in header:
        free = {normalise_header(f) for f in inst.free_text}
        if normalise_header(style["comments"]) not in free:
            raise CodebookError(f"{inst.name}: {style['comments']!r} is not a free-text column")


def _counts(
    inst: Instrument, kind: np.ndarray, tokens: np.ndarray, comment_ix: np.ndarray | None
) -> dict:
    """Planted messiness, counted over every row of the file as written."""
    lo, hi = inst.scale_min, inst.scale_max
    oor = (tokens >= 0) & ((tokens < lo) | (tokens > hi))
    values, freq = np.unique(tokens[oor], return_counts=True)
    n_missing = ((tokens < 0) | oor).sum(axis=1)
    out = {
        "n_rows": len(kind),
        "genuine_rows": int((kind == 0).sum()),
        "exact_duplicates": int((kind == 3).sum()),
        "conflicting_duplicates": int((kind == 1).sum()),
        "unknown_practice_rows": int((kind == 2).sum()),
        "out_of_range_cells": int(oor.sum()),
        "out_of_range_by_value": {str(int(v)): int(c) for v, c in zip(values, freq, strict=True)},
        "missing_blank_cells": int((tokens == _BLANK).sum()),
        "missing_na_cells": int((tokens == _NA).sum()),
        "does_not_apply_cells": int((tokens == _DNA).sum()),
    }
    if inst.name == "safequest":
        out["partial_threshold"] = 15
        out["partial_completions"] = int((n_missing > 15).sum())
    else:
        max_imp = int((inst.total or {}).get("max_imputed", 2))
        out["max_imputed"] = max_imp
        out["rows_over_max_imputed"] = int((n_missing > max_imp).sum())
    if comment_ix is not None:
        non_ascii = np.array([not c.isascii() for c in COMMENT_POOL])
        pooled = comment_ix[comment_ix >= 0]
        out["comment_cells"] = int((comment_ix != -1).sum())
        out["canary_comments"] = int((comment_ix == -2).sum())
        out["non_ascii_cells"] = int(non_ascii[pooled].sum())
    return out


def _responses(
    model: _Model,
    inst: Instrument,
    prac: np.ndarray,
    rid: np.ndarray,
    staff: np.ndarray | None,
    scored: np.ndarray,
    mask: np.ndarray,
) -> pd.DataFrame:
    """Genuine respondents' scored answers (reverse items re-scored; out-of-range -> NA)."""
    data: dict[str, Any] = {
        "practice_code": pd.Categorical.from_codes(prac, categories=list(model.pr.codes)),
        "respondent_id": rid,
    }
    if staff is not None:
        data["staff_group"] = pd.Categorical.from_codes(staff, categories=list(STAFF_GROUPS))
    for j, item in enumerate(inst.item_ids):
        data[item] = pd.arrays.IntegerArray(scored[:, j].copy(), mask[:, j].copy())
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------------------
# serialisation helpers


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_bytes(frame: pd.DataFrame, encoding: str) -> bytes:
    """Minimal-quoting CSV (as pandas/csv write it), faster than ``to_csv`` on object columns."""
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=object)
        distinct = set(values.tolist())
        quoted = {v: _csv_field(v) for v in distinct if _csv_field(v) != v}
        if quoted:
            values = np.array([quoted.get(v, v) for v in values.tolist()], dtype=object)
        columns.append(values.tolist())
    header = ",".join(_csv_field(str(c)) for c in frame.columns)
    lines = [header, *map(",".join, zip(*columns, strict=True))] if columns else [header]
    return ("\n".join(lines) + "\n").encode(encoding)


def _xlsx_bytes(frame: pd.DataFrame, sheet: str) -> bytes:
    """The frame as a one-sheet workbook with fixed properties and member timestamps.

    Written with XlsxWriter in memory: 1.4 s vs openpyxl's 2.5 s on the default data set, and
    this job is the first step of every cold run.
    """
    import xlsxwriter

    buf = io.BytesIO()
    options = {"in_memory": True}
    # cells are data, as typed: no text turned into formulas or hyperlinks
    options |= {"strings_to_formulas": False, "strings_to_urls": False}
    wb = xlsxwriter.Workbook(buf, options)
    wb.set_properties(
        {
            "created": FIXED_TIMESTAMP,
            "author": "linkseval.synth",
            "title": SYNTHETIC_LABEL,
        }
    )
    ws = wb.add_worksheet(sheet)
    ws.write_row(0, 0, list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=1):
        ws.write_row(i, 0, row)
    wb.close()
    return _stable_zip(buf.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed member timestamps and permissions."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


def _r(value: float, digits: int = 10) -> float:
    return round(float(value), digits)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
