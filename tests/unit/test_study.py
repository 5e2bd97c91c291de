"""The typed study spec (linkseval.study): defaults from the schema only, labels from the
codebook, comparison rules in one place (linkseval.comparisons)."""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from linkseval import comparisons
from linkseval.analysis import comparison_frame
from linkseval.data.codebook import load_codebook
from linkseval.errors import ConfigError
from linkseval.montecarlo import MCSettings
from linkseval.multilevel import comparison_practices
from linkseval.report.descriptive import group_masks
from linkseval.study import (
    Cleaning,
    Comparison,
    Scatter,
    Scoring,
    Settings,
    load_study,
    load_study_file,
    schema,
    section_defaults,
    with_defaults,
)
from linkseval.synthetic import effective_settings

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
CODEBOOK = load_codebook(ROOT / "config/codebook.yaml")


def _props(*path):
    node = SCHEMA
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return node


def test_the_package_reads_the_workflow_schema():
    assert schema() == SCHEMA


def test_settings_defaults_are_the_schema_defaults():
    s = Settings()
    a = _props("analysis")["properties"]
    assert s.baseline_year == a["baseline_year"]["default"]
    assert s.scale == a["scale"]["default"]
    assert s.weights == a["weights"]["default"]
    assert s.alpha == a["alpha"]["default"]
    boot, ri = a["bootstrap"]["properties"], a["randomization"]["properties"]
    assert (s.bootstrap_draws, s.bootstrap_seed, s.bootstrap_weights) == (
        boot["draws"]["default"],
        boot["seed"]["default"],
        boot["weights"]["default"],
    )
    assert (s.ri_draws, s.ri_seed) == (ri["draws"]["default"], ri["seed"]["default"])
    assert s.main_comparison == a["main_comparison"]["default"]
    assert list(s.comparisons) == list(a["comparisons"]["default"])
    sens = a["sensitivity"]["properties"]
    assert (s.leave_one_out, s.dose) == (
        sens["leave_one_out"]["default"],
        sens["dose"]["default"],
    )
    honest = a["honestdid"]["properties"]
    assert s.honest == {k: v["default"] for k, v in honest.items()}
    assert Settings.from_config({}) == s


def test_a_config_missing_optional_keys_gets_the_schema_defaults():
    s = Settings.from_config({"bootstrap": {"draws": 199}, "honestdid": {"grid_points": 20}})
    assert s.bootstrap_draws == 199
    assert s.bootstrap_seed == _props("analysis", "bootstrap")["properties"]["seed"]["default"]
    assert s.honest["grid_points"] == 20
    assert s.honest["relative_mbar"] == section_defaults("analysis", "honestdid", "relative_mbar")
    study = load_study({"years": [2013, 2014]}, CODEBOOK)
    assert study.instruments == tuple(_props("instruments")["default"])
    assert asdict(study.scoring) == {
        k: v["default"] for k, v in _props("scoring")["properties"].items()
    }
    clean = _props("cleaning")["properties"]
    assert study.cleaning == Cleaning() == Cleaning.from_config({})
    assert study.cleaning.practice_code_width == clean["practice_code_width"]["default"]
    assert study.cleaning.max_missing_items == clean["max_missing_items"]["default"]
    ri = _props("analysis", "randomization")["properties"]
    assert study.scatter == Scatter()
    assert (study.scatter.ri_draws, study.scatter.ri_chunk_draws) == (
        ri["scatter_draws"]["default"],
        ri["scatter_chunk_draws"]["default"],
    )
    assert study.scatter.comparisons is _props("analysis", "scatter_comparisons")["default"]
    mc = _props("monte_carlo")["properties"]
    assert study.monte_carlo == MCSettings.from_config({})
    assert study.monte_carlo.reps == mc["reps"]["default"]
    assert study.synthetic_data and study.raw_dir is None and study.register is None
    assert study.codebook == _props("codebook")["default"]
    default_outcomes = _props("analysis", "outcomes")["default"]["safequest"]
    assert [o.name for o in study.outcomes] == default_outcomes
    assert study.settings == Settings()


def test_the_study_types_the_sections_the_rules_read():
    config = {
        "years": [2013, 2014],
        "raw_dir": "extracts",
        "register": "reg.csv",
        "data_label": "OFFICIAL",
        "cleaning": {"practice_code_width": 6, "max_missing_items": {"safequest": 3, "care": 2}},
        "scoring": {"min_respondents": 8, "percent_formula": "pomp"},
        "synthetic": {"n_practices": 200},
        "monte_carlo": {"reps": 40, "chunk_size": 10, "scenarios": ["baseline"]},
        "analysis": {
            "scatter_comparisons": True,
            "randomization": {"scatter_draws": 30000, "scatter_chunk_draws": 10000},
            "sensitivity": {"multilevel": False},
        },
    }
    study = load_study(config, CODEBOOK)
    assert study.cleaning == Cleaning(6, "^[0-9]{5}$", {"safequest": 3, "care": 2})
    assert study.scoring == Scoring(8, 0.5, "pomp")
    assert study.scatter == Scatter(True, False, 30000, 10000)
    assert not study.settings.multilevel and not study.synthetic_data
    assert (study.raw_dir, study.register, study.data_label) == ("extracts", "reg.csv", "OFFICIAL")
    assert study.synthetic["n_practices"] == 200
    mc = study.monte_carlo
    assert (mc.reps, mc.chunk_size, mc.scenarios) == (40, 10, ("baseline",))
    # the scattered Monte Carlo jobs' JSON gives the same settings back
    assert MCSettings.from_config(json.loads(study.monte_carlo_settings())) == mc
    # the synth job's JSON (year keys as strings) gives the generator the same settings
    want = effective_settings(study.synthetic)
    assert effective_settings(json.loads(study.synthetic_settings())) == want
    assert want["n_practices"] == 200 and want["links_cohorts"] == {2014: 7}
    assert study.instrument_specs["care"] is CODEBOOK["care"]


def test_the_family_note_comes_with_the_study():
    family = ["communication", "workload", "teamwork"]
    a = {"outcomes": {"safequest": ["workload"]}, "family": family}
    study = load_study({"years": [2013, 2014], "analysis": a}, CODEBOOK)
    (note,) = study.notes
    assert note.startswith("analysis.family ['communication', 'teamwork'] not modelled")
    assert study.settings.family == ["workload"]  # the family is what is modelled
    assert load_study({"years": [2013, 2014]}, CODEBOOK).notes == ()


def test_an_instrument_the_codebook_does_not_define_is_a_config_error():
    with pytest.raises(ConfigError, match=r"config 'instruments': \['nope'\] not defined in"):
        load_study({"years": [2013], "instruments": ["safequest", "nope"]}, CODEBOOK)


def test_load_study_file_reads_the_config_and_its_codebook(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the config's codebook path is relative to the working directory
    study = load_study_file("config/config.yaml")
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    assert study == load_study(config, CODEBOOK)
    book = ROOT / "config/codebook.yaml"
    short = load_study_file(ROOT / "config/config.yaml", book, years=[2013])
    assert short.years == (2013,) and short.settings == study.settings
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**config, "scoring": {"min_respondents": 0}}))
    with pytest.raises(ConfigError, match=r"bad.yaml: scoring.min_respondents: 0 is less than"):
        load_study_file(bad, book)


def test_comparison_options_default_from_the_schema():
    c = Comparison.from_config("m", {"rule": "matched"})
    node = _props("analysis", "comparisons", "*")["properties"]
    assert c.label == "m"  # a group without a label shows its name
    assert c.neighbours == node["neighbours"]["default"]
    assert list(c.match_on) == node["match_on"]["default"]
    assert Comparison.from_config("m", {"rule": "matched", "neighbours": 2}).neighbours == 2


def test_with_defaults_keeps_given_values_and_fills_nested_ones():
    cfg = with_defaults({"years": [2013], "scoring": {"min_respondents": 7}}, SCHEMA)
    assert cfg["scoring"]["min_respondents"] == 7
    assert cfg["scoring"]["percent_formula"] == "mean_over_max"
    assert cfg["analysis"]["randomization"]["scatter_chunk_draws"] == 10000
    assert cfg["codebook"] == "config/codebook.yaml"


def test_the_shipped_config_loads_with_labels_from_the_codebook():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    study = load_study(config, CODEBOOK)
    assert len(study.outcomes) == 7
    for o in study.outcomes:
        ins = CODEBOOK[o.instrument]
        want = ins.themes.get(o.name) or ins.overall["label"]
        assert o.label == want == study.labels[o.name] == study.label(o.name)
    assert study.label("care_total") == CODEBOOK["care"].themes["care_total"]
    assert study.main_comparison.name == config["analysis"]["main_comparison"]
    assert study.comparison_labels["deep_end_other"] == "Non-Links Deep End practices"
    assert study.settings.family == config["analysis"]["family"]


@pytest.mark.parametrize("path", ["config/config.yaml", "config/examples/extended.yaml"])
def test_each_job_gets_the_study_settings_it_reads(path):
    """The fit jobs' JSON gives the study's settings exactly; every other job's gives the same
    value of each field its stage reads (and the multilevel job the main comparison only)."""
    import json

    study = load_study(yaml.safe_load((ROOT / path).read_text()), CODEBOOK)
    s = study.settings
    assert Settings.from_config(json.loads(study.job_settings("estimate"))) == s
    fields = {
        "placebo": ("scale", "weights", "baseline_year", "comparisons", "main_comparison",
                    "alpha", "ri_draws", "ri_seed", "placebo", "bootstrap_seed",
                    "bootstrap_weights"),
        "combine": ("family", "main_comparison", "alpha", "comparisons", "estimators",
                    "methods", "primary"),
        "ri_gather": ("scale", "weights", "baseline_year", "comparisons", "main_comparison",
                      "alpha", "family"),
    }  # fmt: skip
    for job, names in fields.items():
        got = Settings.from_config(json.loads(study.job_settings(job)))
        assert {n: getattr(got, n) for n in names} == {n: getattr(s, n) for n in names}, job
    ml = Settings.from_config(json.loads(study.job_settings("multilevel")))
    assert list(ml.comparisons) == [s.main_comparison]
    assert ml.comparisons[s.main_comparison] == s.main


def test_a_job_reruns_only_when_a_setting_it_reads_changes():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    before = load_study(config, CODEBOOK)
    config["analysis"].setdefault("bootstrap", {})["draws"] = 4999
    after = load_study(config, CODEBOOK)
    changed = {j for j in ("estimate", "placebo", "combine", "index", "ri_chunk", "multilevel")
               if before.job_settings(j) != after.job_settings(j)}  # fmt: skip
    assert changed == {"estimate"}


def test_report_labels_are_the_codebook_labels():
    from linkseval.report import outcomes
    from linkseval.study import outcome_labels

    outcomes.set_outcome_labels(outcome_labels(CODEBOOK))
    try:
        assert outcomes.label("care_total") == CODEBOOK["care"].themes["care_total"]
        assert outcomes.label("overall") == CODEBOOK["safequest"].overall["label"]
    finally:
        outcomes.set_outcome_labels({})
    assert outcomes.label("care_total") == "Care Total"  # no study: the id, readable


# ----------------------------------------------------------------------- comparison rules


def _frame():
    """Two Links practices (one Deep End), four never-treated (two Deep End), two years."""
    codes = [f"P{i}" for i in range(6)]
    cohort = [2014, 2014, 0, 0, 0, 0]
    deep = [True, False, True, True, False, False]
    rows = []
    for y in (2013, 2014):
        for c, g, d in zip(codes, cohort, deep, strict=True):
            rows.append(
                {
                    "practice_code": c,
                    "year": y,
                    "cohort": g,
                    "deep_end": d,
                    "y": float(len(rows)),
                    "baseline_outcome": float(int(c[1:])),
                    "simd15_share": 0.1 * int(c[1:]),
                    "list_size": 1000 + int(c[1:]),
                }
            )
    return pd.DataFrame(rows)


# the practice sets of each rule before the rules moved into linkseval.comparisons
BEFORE = {
    "never_treated": {"P0", "P1", "P2", "P3", "P4", "P5"},
    "deep_end": {"P0", "P1", "P2", "P3"},
    "all_including_treated": {"P0", "P1", "P2", "P3", "P4", "P5"},
}


@pytest.mark.parametrize("rule", ["never_treated", "deep_end", "all_including_treated"])
def test_the_rules_give_the_same_practices_everywhere(rule):
    df = _frame()
    est = comparison_frame(df, {"rule": rule}, 2013)
    assert set(est["practice_code"]) == BEFORE[rule]
    controls = set(est.loc[est["cohort"] == 0, "practice_code"])
    members = set(df.loc[comparisons.members(df, {"rule": rule}), "practice_code"])
    assert controls == members
    register = df[df["year"] == 2013]
    ml, note = comparison_practices(register, {"rule": rule})
    if rule in comparisons.PRACTICE_LEVEL_ONLY:
        assert note and set(ml["practice_code"]) == BEFORE["never_treated"]
    else:
        assert not note and set(ml["practice_code"]) == BEFORE[rule]
    if rule == "all_including_treated":  # the Links practices once more, as comparison units
        assert est["unit"].str.endswith("#comparison").sum() == 4
        assert (est.groupby("unit")["cluster"].nunique() == 1).all()


def test_descriptive_groups_are_the_comparison_rules():
    df = _frame()
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    masks = group_masks(df, Settings.from_config(config["analysis"]).comparisons)
    for key, rule in {
        "scotland_all": "all_including_treated",
        "scotland_other": "never_treated",
        "deep_end_other": "deep_end",
    }.items():
        assert masks[key].equals(comparisons.members(df, {"rule": rule}))
    assert set(df.loc[masks["links"], "practice_code"]) == {"P0", "P1"}


def test_matched_takes_the_nearest_never_treated_practices():
    df = _frame()
    c = Comparison.from_config("m", {"rule": "matched", "neighbours": 1})
    got = set(df.loc[comparisons.members(df, c, 2013), "practice_code"])
    assert got == {"P2"}  # nearest to both P0 and P1 on the three standardised columns
    est = comparison_frame(df, c, 2013)
    assert set(est["practice_code"]) == {"P0", "P1", "P2"}
    assert np.all(est["unit"] == est["practice_code"])


def test_an_unknown_rule_is_a_config_error():
    from linkseval.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown rule"):
        comparisons.members(_frame(), {"rule": "bogus"})


def test_library_keyword_defaults_are_the_schema_defaults():
    """Functions a study calls default to the schema's values, not to their own copies."""
    import inspect

    from linkseval import multilevel
    from linkseval.data import clean, register, score
    from linkseval.data.practice_code import DEFAULT_PATTERN
    from linkseval.montecarlo import MCSettings

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    sc = {k: v["default"] for k, v in _props("scoring")["properties"].items()}
    assert default(score.score_respondents, "min_items_per_theme") == sc["min_items_per_theme"]
    assert default(score.practice_year_panel, "min_respondents") == sc["min_respondents"]
    assert default(score.practice_year_panel, "percent_formula") == sc["percent_formula"]
    assert list(score.PERCENT_FORMULAS) == _props("scoring", "percent_formula")["enum"]
    width = _props("cleaning", "practice_code_width")["default"]
    assert default(clean.clean_extract, "code_width") == width
    assert default(register.read_register, "code_width") == width
    assert _props("cleaning", "practice_code_pattern")["default"] == DEFAULT_PATTERN
    assert default(multilevel.multilevel_did, "alpha") == _props("analysis", "alpha")["default"]
    mc = {k: v["default"] for k, v in _props("monte_carlo")["properties"].items()}
    got = MCSettings()
    assert {k: getattr(got, k) for k in mc} == mc


def test_a_main_comparison_that_is_not_a_group_stops_with_one_line():
    from linkseval.errors import ConfigError

    config = {"years": [2013, 2014], "analysis": {"main_comparison": "nope"}}
    with pytest.raises(ConfigError, match="main_comparison 'nope' is not a comparison group"):
        load_study(config, CODEBOOK)


def test_the_schema_is_parsed_once_and_each_caller_gets_its_own_copy():
    """schema() is cached per process (every command and page asks for it, often); a caller
    that changes its copy changes nothing for the next."""
    from linkseval.study import _parsed_schema, schema

    first = schema()
    first["properties"]["years"]["default"] = "changed"
    first.pop("required", None)
    again = schema()
    assert again["properties"]["years"].get("default") != "changed"
    assert again == schema() and again is not schema()
    assert _parsed_schema.cache_info().misses == 1  # parsed once in this process, however often
