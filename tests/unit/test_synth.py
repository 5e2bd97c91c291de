"""The synthetic-data generator: determinism, the input contract, exact truth, planted messiness."""

from __future__ import annotations

import copy
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

from linkseval import SYNTHETIC_MARKER
from linkseval.data.codebook import normalise_header, normalise_label
from linkseval.errors import ConfigError
from linkseval.synthetic import (
    BOARDS,
    CANARY_COMMENT,
    FIXED_TIMESTAMP,
    GGC,
    expected_score,
    extract_filename,
    generate,
    write_synthetic,
)

ROOT = Path(__file__).resolve().parents[2]
YEARS = [2013, 2014, 2015]


def _config(name: str = "config.yaml") -> dict:
    path = ROOT / "config" / name if name == "config.yaml" else ROOT / "config" / "examples" / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def settings() -> dict:
    s = copy.deepcopy(_config()["synthetic"])
    s["n_practices"] = 150
    s["n_deep_end"] = 20
    return s


@pytest.fixture(scope="module")
def written(tmp_path_factory, settings, codebook) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("synth_a")
    return out, write_synthetic(out, settings, YEARS, codebook)


@pytest.fixture(scope="module")
def data(settings, codebook):
    return generate(settings, YEARS, codebook)


@pytest.fixture(scope="module")
def truth(written) -> dict:
    return json.loads((written[0] / "truth.json").read_text(encoding="utf-8"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_raw(path: Path, meta: dict) -> pd.DataFrame:
    """An extract as strings under its raw headers, read independently of the generator."""
    if meta["format"] == "xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        wb.close()
        width = len(rows[0])  # trailing empty cells are not stored in the sheet
        body = [
            ["" if v is None else str(v) for v in r] + [""] * (width - len(r)) for r in rows[1:]
        ]
        return pd.DataFrame(body, columns=[str(h) for h in rows[0]], dtype=object)
    return pd.read_csv(
        path, dtype=str, keep_default_na=False, na_filter=False, encoding=meta["encoding"]
    )


def canonical(frame: pd.DataFrame, inst) -> pd.DataFrame:
    hmap = inst.header_map()
    free = {normalise_header(f) for f in inst.free_text}
    names = {}
    for col in frame.columns:
        key = normalise_header(col)
        names[col] = "comments" if key in free else hmap[key]
    return frame.rename(columns=names)


def parse_items(frame: pd.DataFrame, inst) -> tuple[np.ndarray, np.ndarray]:
    """Raw item codes (NaN if missing) and an out-of-range flag, via the codebook only."""
    items = frame[inst.item_ids].to_numpy(dtype=object)
    codes = np.full(items.shape, np.nan)
    oor = np.zeros(items.shape, dtype=bool)
    for idx, tok in np.ndenumerate(items):
        key = normalise_label(str(tok))
        if key in inst.missing_tokens:
            continue
        if key in inst.labels:
            codes[idx] = inst.labels[key]
            continue
        value = int(tok)
        if inst.scale_min <= value <= inst.scale_max:
            codes[idx] = value
        else:
            oor[idx] = True
    return codes, oor


def _row_mean(x: np.ndarray) -> np.ndarray:
    """Mean of the non-missing values per row (NaN when none)."""
    n = (~np.isnan(x)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.nansum(x, axis=1) / n, np.nan)


# ---------------------------------------------------------------------------------------------
# determinism


def test_two_writes_are_byte_identical(written, tmp_path, settings, codebook):
    out_a, paths_a = written
    paths_b = write_synthetic(tmp_path, settings, YEARS, codebook)
    assert [p.name for p in paths_a] == [p.name for p in paths_b]
    for a, b in zip(paths_a, paths_b, strict=True):
        assert _sha(a) == _sha(b), a.name


def test_xlsx_carries_no_clock_time(written):
    out, _ = written
    path = out / "safequest_2014.xlsx"
    with zipfile.ZipFile(path) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.properties.created == FIXED_TIMESTAMP
    assert wb.properties.modified == FIXED_TIMESTAMP
    wb.close()


def test_adding_a_year_leaves_other_years_unchanged(settings, codebook, data):
    two = generate(settings, [2013, 2014], codebook)
    for name in ("safequest_2013.csv", "care_2013.csv", "care_2014.csv", "safequest_2014.xlsx"):
        assert two.extracts[name].to_bytes() == data.extracts[name].to_bytes(), name
    tpy = data.truth_practice_year
    pd.testing.assert_frame_equal(
        two.truth_practice_year, tpy[tpy.year < 2015].reset_index(drop=True)
    )


# ---------------------------------------------------------------------------------------------
# the input contract


def test_file_names(written):
    names = {p.name for p in written[1]}
    assert names == {
        "practices.csv",
        "safequest_2013.csv",
        "safequest_2014.xlsx",
        "safequest_2015.csv",
        "care_2013.csv",
        "care_2014.csv",
        "care_2015.csv",
        "truth.json",
        "truth_practice_year.csv",
        SYNTHETIC_MARKER,
    }
    marker = (written[0] / SYNTHETIC_MARKER).read_text(encoding="utf-8")
    assert "SYNTHETIC DATA — generated by linkseval.synth, not real survey responses" in marker
    assert "20140401" in marker


def test_extract_filename():
    s = {"xlsx_years": [2014]}
    assert extract_filename("safequest", 2014, s) == "safequest_2014.xlsx"
    assert extract_filename("safequest", 2013, s) == "safequest_2013.csv"
    assert extract_filename("care", 2014, s) == "care_2014.csv"


def test_practice_register(written, settings):
    reg = pd.read_csv(written[0] / "practices.csv", dtype=str, keep_default_na=False)
    assert list(reg.columns) == [
        "practice_code",
        "practice_name",
        "health_board",
        "list_size",
        "simd15_share",
        "deep_end_rank",
        "links_start_year",
        *[f"clp_absent_months_{y}" for y in YEARS],
    ]
    assert len(reg) == settings["n_practices"] and reg.practice_code.is_unique
    assert reg.practice_code.str.fullmatch(r"\d{5}").all()
    assert reg.practice_code.str.startswith("0").any()
    assert set(reg.health_board) == set(BOARDS) and len(BOARDS) == 14
    assert reg.health_board.value_counts().index[0] == GGC
    size = reg.list_size.astype(int)
    assert size.between(1000, 20000).all() and 4000 < size.median() < 8000
    simd = reg.simd15_share.astype(float)
    assert simd.between(0, 1).all()
    assert simd[reg.health_board == GGC].mean() > simd[reg.health_board != GGC].mean()
    deep = reg[reg.deep_end_rank != ""]
    assert len(deep) == settings["n_deep_end"]
    assert sorted(deep.deep_end_rank.astype(int)) == list(range(1, settings["n_deep_end"] + 1))
    assert simd[deep.index].min() >= simd.drop(deep.index).max()  # the most deprived
    top = deep.loc[deep.deep_end_rank.astype(int).idxmin()]
    assert float(top.simd15_share) == simd.max()
    links = reg[reg.links_start_year != ""]
    assert (links.health_board == GGC).all() and (links.deep_end_rank != "").all()
    want = {int(y): int(n) for y, n in settings["links_cohorts"].items()}
    assert links.links_start_year.astype(int).value_counts().to_dict() == want
    # the CLP-absence practice: index 3 of the Links practices sorted by code
    clp = settings["clp_absence"]
    col = f"clp_absent_months_{clp['year']}"
    links = links.sort_values("practice_code")
    assert links.iloc[clp["practice_index"]][col] == str(clp["months"])
    assert (links.drop(links.index[clp["practice_index"]])[col] == "0").all()
    assert (reg.loc[reg.links_start_year == "", col] == "").all()


def test_headers_map_to_canonical_names(written, truth, codebook):
    out = written[0]
    styles = set()
    for name, meta in truth["files"].items():
        inst = codebook[meta["instrument"]]
        frame = canonical(read_raw(out / name, meta), inst)
        want = ["practice_code", "respondent_id", *inst.item_ids]
        if inst.name == "safequest":
            want.insert(2, "staff_group")
        assert [c for c in frame.columns if c != "comments"] == want, name
        assert ("comments" in frame.columns) == (meta["comments_column"] is not None)
        styles.add((inst.name, tuple(meta["header"][:2])))
    assert len(styles) == 6  # three header styles per instrument over three years


def test_respondents_and_staff_groups(written, truth, codebook):
    out = written[0]
    meta = truth["files"]["safequest_2013.csv"]
    frame = canonical(read_raw(out / "safequest_2013.csv", meta), codebook["safequest"])
    ids = frame.respondent_id
    normal = ids[~ids.str.startswith("CANARY-")]
    assert normal.str.fullmatch(r"R[0-9a-f]{8}").all()
    assert set(frame.staff_group) == {
        "GP",
        "Practice Manager",
        "Practice Nurse",
        "Admin/Reception",
        "Other",
    }
    codes = frame.practice_code.str.strip().str.zfill(5)
    per_practice = codes.value_counts()
    assert 5 <= per_practice.median() <= 25
    register = pd.read_csv(out / "practices.csv", dtype=str)
    assert codes.nunique() / len(register) > 0.9  # > 90 % of practices take part
    assert codes.nunique() < len(register) + 3  # ... but not all of them


def test_care_values(written, truth, codebook, settings):
    care = codebook["care"]
    meta = truth["files"]["care_2014.csv"]
    frame = canonical(read_raw(written[0] / "care_2014.csv", meta), care)
    tokens = frame[care.item_ids].to_numpy().ravel()
    assert 0.01 < np.mean(tokens == "Does not apply") < 0.06
    assert frame.respondent_id.str.fullmatch(r"P[0-9a-f]{8}").all()
    per = frame.practice_code.str.strip().value_counts()
    lo, hi = settings["care_respondents"]
    assert per.median() >= lo and per.max() <= hi + 5


def test_text_labels_use_codebook_spellings(written, truth, codebook):
    sq = codebook["safequest"]
    meta = truth["files"]["safequest_2015.csv"]
    assert meta["text_labels"]
    frame = canonical(read_raw(written[0] / "safequest_2015.csv", meta), sq)
    values = set(frame[sq.item_ids].to_numpy().ravel())
    labels = {
        "Strongly disagree",
        "Disagree",
        "Slightly disagree",
        "Neither agree nor disagree",
        "Slightly agree",
        "Agree",
        "Strongly agree",
    }
    assert labels <= values
    assert values - labels <= {"", "N/A", "0", "8", "9", "99"}


def test_cp1252_file_is_not_utf8(written, truth):
    meta = truth["files"]["safequest_2013.csv"]
    assert meta["encoding"] == "cp1252"
    raw = (written[0] / "safequest_2013.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "’" in text and "–" in text
    for name, m in truth["files"].items():
        if m["encoding"] == "utf-8":
            (written[0] / name).read_bytes().decode("utf-8")


def test_reverse_items_are_stored_reversed(written, truth, codebook, data):
    sq = codebook["safequest"]
    meta = truth["files"]["safequest_2014.xlsx"]
    frame = canonical(read_raw(written[0] / "safequest_2014.xlsx", meta), sq)
    raw, _ = parse_items(frame, sq)
    positive = [i for i, item in enumerate(sq.items) if not item.reverse]
    pos_mean = _row_mean(raw[:, positive])
    for i, item in enumerate(sq.items):
        others = pos_mean if item.reverse else _row_mean(np.delete(raw, i, 1)[:, positive[:-1]])
        ok = ~np.isnan(raw[:, i]) & ~np.isnan(others)
        r = np.corrcoef(raw[ok, i], others[ok])[0, 1]
        assert (r < -0.1) if item.reverse else (r > 0.1), (item.id, r)
    # and exactly: raw = 8 - scored for reverse items, raw = scored otherwise
    genuine = data.responses["safequest_2014.xlsx"]
    merged = frame.drop_duplicates("respondent_id", keep=False).merge(
        genuine[["respondent_id", *sq.item_ids]], on="respondent_id", suffixes=("", "_scored")
    )
    raw_m, oor = parse_items(merged, sq)
    for i, item in enumerate(sq.items):
        scored = merged[f"{item.id}_scored"].to_numpy(dtype=float, na_value=np.nan)
        ok = ~np.isnan(raw_m[:, i])
        want = 8 - scored[ok] if item.reverse else scored[ok]
        assert np.array_equal(raw_m[ok, i], want), item.id
        assert np.isnan(scored[oor[:, i]]).all()


# ---------------------------------------------------------------------------------------------
# planted messiness


def test_planted_messiness_counts(written, truth, codebook, settings):
    out = written[0]
    register = set(pd.read_csv(out / "practices.csv", dtype=str).practice_code)
    assert set(truth["messiness"]) == set(truth["files"])
    for name, meta in truth["files"].items():
        inst = codebook[meta["instrument"]]
        planted = truth["messiness"][name]
        frame = canonical(read_raw(out / name, meta), inst)
        assert len(frame) == planted["n_rows"], name
        code = frame.practice_code
        assert (code != code.str.strip()).sum() == planted["whitespace_codes"], name
        short = code.str.strip().str.len() < 5
        assert short.sum() == planted["leading_zero_lost"], name
        assert (short.sum() > 0) == meta["leading_zero_loss"] == (meta["year"] == 2015)
        norm = code.str.strip().str.zfill(5)
        unknown = ~norm.isin(register)
        assert unknown.sum() == planted["unknown_practice_rows"] == 3, name
        assert sorted(set(norm[unknown])) == planted["unknown_practice_codes"]
        body = frame.assign(practice_code=norm)
        assert body.duplicated().sum() == planted["exact_duplicates"] > 0, name
        distinct = body.drop_duplicates()
        extra = distinct.duplicated(["practice_code", "respondent_id"]).sum()
        assert extra == planted["conflicting_duplicates"] == 2, name
        ids = distinct[distinct.duplicated(["practice_code", "respondent_id"], keep=False)]
        pairs = sorted({(c, r) for c, r in zip(ids.practice_code, ids.respondent_id, strict=True)})
        assert [list(p) for p in pairs] == planted["conflicting_ids"]
        codes, oor = parse_items(frame, inst)
        assert oor.sum() == planted["out_of_range_cells"] > 0, name
        oor_values = pd.Series(frame[inst.item_ids].to_numpy()[oor]).astype(int)
        assert {str(k): v for k, v in oor_values.value_counts().items()} == planted[
            "out_of_range_by_value"
        ]
        items = frame[inst.item_ids].to_numpy()
        assert (items == "").sum() == planted["missing_blank_cells"]
        assert (items == "N/A").sum() == planted["missing_na_cells"]
        assert (items == "Does not apply").sum() == planted["does_not_apply_cells"]
        n_missing = (np.isnan(codes) | oor).sum(axis=1)
        if inst.name == "safequest":
            assert (n_missing > 15).sum() == planted["partial_completions"] > 0, name
            assert planted["partial_completions"] == planted["partial_completions_planted"]
            canary = frame.respondent_id.str.startswith("CANARY-")
            assert canary.sum() == planted["canary_ids"] == settings["messiness"]["canary_ids"]
            share = np.isnan(codes[n_missing <= 15]).mean()
            assert 0.015 < share < 0.05  # MCAR item missingness of ~3 %
        else:
            assert (n_missing > 2).sum() == planted["rows_over_max_imputed"]
        if meta["comments_column"]:
            comments = frame["comments"]
            assert comments.str.contains(CANARY_COMMENT).sum() == planted["canary_comments"] == 3
            assert (~comments.map(str.isascii)).sum() == planted["non_ascii_cells"] > 0


# ---------------------------------------------------------------------------------------------
# the truth


@pytest.mark.parametrize("m", [2.3, 4.0, 5.6, 6.2, 6.8, 7.5])
def test_expected_score_matches_monte_carlo(m):
    """Independent check of the exact formula: simulate the latent model, round, clip, average."""
    sd_r, sd_e, n = 0.6, 0.8, 400_000
    rng = np.random.default_rng(12345)
    y = m + rng.normal(0, sd_r, n) + rng.normal(0, sd_e, n)
    s = np.clip(np.round(y), 1, 7)
    se = s.std() / np.sqrt(n)
    assert abs(expected_score(m, np.hypot(sd_r, sd_e), 1, 7) - s.mean()) < 4 * se
    c = np.clip(np.round(m - 2 + rng.normal(0, 0.7, n)), 1, 5)  # the CARE 1-5 scale
    assert abs(expected_score(m - 2, 0.7, 1, 5) - c.mean()) < 4 * c.std() / np.sqrt(n)


def test_sampled_practice_means_are_unbiased_for_the_truth(data, codebook):
    """Mean of answered items per respondent, averaged per practice-year == expected_mean."""
    tpy = data.truth_practice_year
    for name, resp in data.responses.items():
        inst = codebook["safequest" if name.startswith("safequest") else "care"]
        year = int(name.split("_")[1].split(".")[0])
        items = resp[inst.item_ids].astype("float64").to_numpy(na_value=np.nan)
        if inst.name == "safequest":
            keep = np.isnan(items).sum(axis=1) <= 15
            groups = {t: inst.theme_items(t) for t in inst.themes}
            groups["overall"] = inst.item_ids
        else:
            keep = np.isnan(items).sum(axis=1) <= 2
            groups = {"care_total": inst.item_ids}
        for outcome, cols in groups.items():
            idx = [inst.item_ids.index(c) for c in cols]
            score = _row_mean(items[:, idx]) * (10 if inst.name == "care" else 1)
            df = pd.DataFrame({"practice_code": resp.practice_code.astype(str), "s": score})
            df = df[keep & ~np.isnan(score)]
            g = df.groupby("practice_code").s.agg(["mean", "var", "count"])
            g = g[g["count"] >= 2]
            t = tpy[(tpy.year == year) & (tpy.outcome == outcome)].set_index("practice_code")
            diff = g["mean"] - t.loc[g.index, "expected_mean"]
            se = np.sqrt((g["var"] / g["count"]).sum()) / len(g)
            assert abs(diff.mean()) < 4 * se, (name, outcome, diff.mean(), se)
            assert np.corrcoef(g["mean"], t.loc[g.index, "expected_mean"])[0, 1] > 0.3


def test_truth_files(written, truth, settings):
    tpy = pd.read_csv(written[0] / "truth_practice_year.csv", dtype={"practice_code": str})
    assert list(tpy.columns) == [
        "practice_code",
        "year",
        "instrument",
        "outcome",
        "expected_mean",
        "expected_counterfactual_mean",
        "treated",
    ]
    key = ["practice_code", "year", "instrument", "outcome"]
    assert tpy.equals(tpy.sort_values(key).reset_index(drop=True))
    assert len(tpy) == settings["n_practices"] * len(YEARS) * 7
    sq = tpy[tpy.instrument == "safequest"]
    assert sq.expected_mean.between(1, 7).all()
    assert tpy[tpy.instrument == "care"].expected_mean.between(10, 50).all()
    links = {d["practice_code"]: d["start_year"] for d in truth["links"]}
    assert len(links) == 7 and set(links.values()) == {2014}
    want = tpy.practice_code.map(links).fillna(9999) <= tpy.year
    assert (tpy.treated == want).all()
    untreated = tpy[~tpy.treated]
    assert (untreated.expected_mean == untreated.expected_counterfactual_mean).all()
    for outcome, by_year in truth["att"].items():
        assert set(by_year) == {"2014", "2015"}
        for year, att in by_year.items():
            t = tpy[(tpy.outcome == outcome) & (tpy.year == int(year)) & tpy.treated]
            diff = (t.expected_mean - t.expected_counterfactual_mean).mean()
            assert att["scored"] == pytest.approx(diff, abs=1e-8)
            scale = 50 if outcome == "care_total" else 7
            assert att["pct"] == pytest.approx(100 * att["scored"] / scale)
            assert att["n_treated"] == 7
    assert truth["att"]["communication"]["2015"]["scored"] == 0.0  # no effect configured
    assert truth["att"]["safety_systems"]["2015"]["scored"] > 0
    assert truth["seed"] == settings["seed"] and truth["years"] == YEARS
    assert truth["clp_absence"][0]["dose"] == pytest.approx(5 / 12)


def test_default_calibration_resembles_the_report(codebook):
    """Figure 1/2 of the report: Scotland levels and changes hit; Links start higher."""
    cfg = _config()
    d = generate(cfg["synthetic"], cfg["years"], codebook)
    tpy = d.truth_practice_year
    syn = cfg["synthetic"]
    first = cfg["years"][0]
    for theme, level in syn["theme_level_pct"].items():
        t = tpy[tpy.outcome == theme]
        for year in cfg["years"]:
            cf = t[t.year == year].expected_counterfactual_mean.mean() * 100 / 7
            target = level + syn["year_effects_pct"][theme].get(year, 0.0)
            assert cf == pytest.approx(target, abs=1e-6), (theme, year)
        base = t[t.year == first]
        assert 84 <= base.expected_mean.mean() * 100 / 7 <= 90
        links = base[base.practice_code.isin(_links(d))]
        assert links.expected_mean.mean() > base.expected_mean.mean(), theme
    fig = d.truth["descriptive"]["expected"]
    links_safety = fig["safety_systems"]["change_vs_first_year"]["links"]["2015"]
    scot_safety = fig["safety_systems"]["change_vs_first_year"]["scotland"]["2015"]
    assert scot_safety["relative_pct"] == pytest.approx(-1.87, abs=0.1)
    assert links_safety["relative_pct"] > scot_safety["relative_pct"] + 2


def _links(d) -> list[str]:
    return [x["practice_code"] for x in d.truth["links"]]


def test_uncalibrated_mode_uses_the_literal_conversion(settings, codebook):
    s = {**settings, "calibrate_to_observed": False, "n_practices": 60, "n_deep_end": 15}
    d = generate(s, [2013], codebook)
    b = d.truth["latent"]["intercept_points"]["workload"]["2013"]
    assert b == pytest.approx(settings["theme_level_pct"]["workload"] * 7 / 100)


# ---------------------------------------------------------------------------------------------
# configuration


def test_bad_settings_are_named(settings, codebook):
    with pytest.raises(ConfigError, match="links_cohorts"):
        generate({**settings, "links_cohorts": {2014: 500}}, YEARS, codebook)
    with pytest.raises(ConfigError, match="bogus"):
        generate({**settings, "bogus": 1}, YEARS, codebook)
    with pytest.raises(ConfigError, match="practice_index"):
        generate({**settings, "clp_absence": {"practice_index": 9, "year": 2015, "months": 3}},
                 YEARS, codebook)  # fmt: skip


def test_every_generator_default_is_the_schemas(settings, codebook, data):
    """The generator's defaults are the config schema's synthetic defaults (no second copy), and
    the config's synthetic section with the schema's defaults filled in (what a run's
    synthetic_data rule passes) generates the same bytes as the section alone."""
    from linkseval.study import schema, section_defaults, with_defaults
    from linkseval.synthetic import DEFAULTS, effective_settings

    node = schema()["properties"]["synthetic"]
    assert all("default" in sub for sub in node["properties"].values())
    assert section_defaults("synthetic") == DEFAULTS
    assert list(effective_settings({})) == list(node["properties"])
    assert effective_settings({})["messiness"] == {
        k: sub["default"] for k, sub in node["properties"]["messiness"]["properties"].items()
    }
    filled = with_defaults(settings, node)
    assert set(filled) == set(DEFAULTS) and len(filled) > len(settings)
    again = generate(json.loads(json.dumps(filled)), YEARS, codebook)
    for name in ("safequest_2015.csv", "care_2013.csv"):
        assert again.extracts[name].to_bytes() == data.extracts[name].to_bytes()


def test_json_style_settings_work(settings, codebook, data):
    """Settings passed as JSON (string year keys) give the same data."""
    as_json = json.loads(json.dumps(settings))
    again = generate(as_json, YEARS, codebook)
    assert again.extracts["safequest_2015.csv"].to_bytes() == (
        data.extracts["safequest_2015.csv"].to_bytes()
    )


def test_extended_example_config(codebook):
    cfg = _config("extended.yaml")
    assert set(cfg) == set(_config())
    assert cfg["years"] == list(range(2010, 2020))
    s = cfg["synthetic"]
    assert {int(k): v for k, v in s["links_cohorts"].items()} == {2014: 7, 2018: 6, 2019: 6}
    for theme in s["theme_level_pct"]:
        assert set(s["year_effects_pct"][theme]) == set(cfg["years"])
    s = {**s, "n_practices": 300, "n_deep_end": 60}
    d = generate(s, cfg["years"], codebook)
    assert len(d.extracts) == 20
    starts = sorted(x["start_year"] for x in d.truth["links"])
    assert starts == [2014] * 7 + [2018] * 6 + [2019] * 6
    att = d.truth["att_by_event_time"]["safety_systems"]
    assert att["0"]["n_treated"] == 19 and att["5"]["n_treated"] == 7
