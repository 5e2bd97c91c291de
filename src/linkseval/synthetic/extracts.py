"""The messy synthetic extracts.

Respondents and answers sampled from the model, planted messiness,
raw headers and cells in each year's style (participation and messiness: see ``model``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from linkseval.data.codebook import Instrument, normalise_header
from linkseval.errors import CodebookError, ConfigError
from linkseval.synthetic.model import Model
from linkseval.synthetic.serialise import csv_bytes, label_names, xlsx_bytes
from linkseval.synthetic.settings import STAFF_GROUPS, STREAMS, stream_rng

CANARY_ID_PREFIX = "CANARY-"
CANARY_COMMENT = "CANARY-COMMENT"

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
_CSV_ONLY_STEMS = frozenset({"care"})

# token codes in the raw item matrices (valid answers and out-of-range codes are >= 0)
_BLANK, _NA, _DNA = -1, -2, -3
_TOKEN_OFFSET = 3
_MAX_TOKEN = 99
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
            return csv_bytes(self.frame, self.encoding)
        return xlsx_bytes(self.frame, sheet="Responses")


def extract_filename(instrument_stem: str, year: int, settings: dict) -> str:
    """File name of an extract: ``<stem>_<year>.xlsx`` in xlsx years (never for CARE), else csv."""
    xlsx = int(year) in {int(y) for y in settings.get("xlsx_years") or []}
    ext = "xlsx" if xlsx and instrument_stem not in _CSV_ONLY_STEMS else "csv"
    return f"{instrument_stem}_{int(year)}.{ext}"


def _count(rate: float, n: int) -> int:
    rate = float(rate)
    if rate <= 0 or n == 0:
        return 0
    return min(n, max(1, round(rate * n)))


def _ids(prefix: str, seed: int, inst_key: int, year: int, rows: np.ndarray) -> np.ndarray:
    """Return unique pseudo-random ``<prefix><8 hex>`` ids: a seeded bijection of (year, row)."""
    if len(rows) and int(rows.max()) >= 2**23:
        raise ConfigError("synthetic: more than 8.3 million rows in one extract")
    k = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAMS["ids"], inst_key)))
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


def _participation(model: Model, inst: Instrument, year: int) -> np.ndarray:
    cfg, pr = model.cfg, model.pr
    rng = stream_rng(model.seed, "participation", _INSTRUMENT_KEYS[inst.name], year)
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
    model: Model, inst: Instrument, year: int, prac: np.ndarray, rng: np.random.Generator
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
    model: Model, inst: Instrument, prac: np.ndarray, scored: np.ndarray, mask: np.ndarray
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


def build_extract(model: Model, inst: Instrument, year: int, year_index: int) -> _Built:
    """Build one instrument's extract for ``year``: sampled respondents, messiness, raw cells."""
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
    staff, scored, mask = _sample(model, inst, year, prac, stream_rng(seed, "rows", ikey, year))
    n0 = len(prac)
    rng = stream_rng(seed, "mess", ikey, year)

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
        for code, label in label_names(inst).items():
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
    model: Model,
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
