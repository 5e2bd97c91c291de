"""The synthetic practice register: codes, boards, list sizes, deprivation, Deep End, Links."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkseval.errors import ConfigError
from linkseval.synthetic.settings import clp_list, stream_rng

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
_PLACES = (
    "Abbey", "Ardgowan", "Balmore", "Barrhead", "Bellshill", "Braeside", "Broomhill", "Calder",
    "Castlemilk", "Clydeside", "Cowglen", "Craigton", "Dalmarnock", "Denny", "Drumchapel",
    "Eastfield", "Firhill", "Gorbals", "Govanhill", "Hillhead", "Kelvin", "Kinning Park",
    "Lochside", "Maryhill", "Merchiston", "Millburn", "Parkhead", "Pollok", "Riverside",
    "Rosemount", "Shettleston", "Springburn", "Thornliebank", "Townhead", "Whinhill", "Woodside",
)  # fmt: skip
_SUFFIXES = ("Medical Practice", "Health Centre", "Surgery", "Group Practice", "Medical Centre")


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
class Practices:
    """Hold the synthetic practices: codes, board, size, deprivation, Deep End rank, Links start."""

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


def make_practices(cfg: dict, years: list[int]) -> Practices:
    """Draw the synthetic practices from the ``synthetic`` settings ``cfg``."""
    seed, n = int(cfg["seed"]), int(cfg["n_practices"])
    width = _code_width(cfg)
    rng = stream_rng(seed, "practices")
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
    pool = stream_rng(seed, "links").permutation(candidates)
    start = np.zeros(n, dtype=np.int64)
    pos = 0
    for year, k in cohorts:
        start[pool[pos : pos + k]] = year
        pos += k

    links_sorted = np.flatnonzero(start > 0)  # practice order == code order
    clp = []
    for item in clp_list(cfg["clp_absence"]):
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

    rng_names = stream_rng(seed, "names")
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
    return Practices(
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
