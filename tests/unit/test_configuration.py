"""Command-line config strings are typed by the schema, and only there."""

from pathlib import Path

import pytest
import yaml

from linkseval.configuration import coerce_to_schema

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "workflow/schemas/config.schema.yaml").read_text()
)


def test_strings_become_the_types_the_schema_asks_for():
    cfg = {
        "years": ["2013", "2014", 2015],
        "scoring": {"min_respondents": "6", "percent_formula": "pomp"},
        "analysis": {"alpha": "0.1", "baseline_year": "null", "bootstrap": {"draws": "199"}},
    }
    out = coerce_to_schema(cfg, SCHEMA)
    assert out["years"] == [2013, 2014, 2015]
    assert out["scoring"] == {"min_respondents": 6, "percent_formula": "pomp"}
    assert out["analysis"]["alpha"] == 0.1
    assert out["analysis"]["baseline_year"] is None
    assert out["analysis"]["bootstrap"]["draws"] == 199


def test_strings_stay_strings_where_strings_are_allowed():
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string"}, "n": {"type": "integer"}},
        "additionalProperties": {"type": "boolean"},
    }
    out = coerce_to_schema({"code": "01234", "n": "x7", "flag": "TRUE", "other": "maybe"}, schema)
    assert out == {"code": "01234", "n": "x7", "flag": True, "other": "maybe"}
    assert coerce_to_schema("2.5", {"type": "integer"}) == "2.5"  # left for the schema to reject


def test_input_problems_name_the_missing_file_and_how_to_leave_it_out(tmp_path):
    from linkseval.configuration import input_problems

    reg = tmp_path / "practices.csv"
    reg.write_text("x\n")
    for y in (2013, 2014):
        (tmp_path / f"safequest_{y}.csv").write_text("x\n")
    (tmp_path / "care_2013.xlsx").write_bytes(b"")
    stems = {"safequest": "safequest", "care": "care"}
    assert input_problems(tmp_path, reg, {"safequest": "safequest"}, [2013, 2014]) == []
    (msg,) = input_problems(tmp_path, reg, stems, [2013, 2014])
    assert msg.startswith(f"{tmp_path / 'care_2014.csv'}: no care extract for 2014 ")
    assert "--config instruments='[safequest]'" in msg
    (msg,) = input_problems(tmp_path, tmp_path / "nope.csv", {"safequest": "safequest"}, [2013])
    assert msg == f"{tmp_path / 'nope.csv'}: practice register not found (config 'register')"
    assert input_problems(tmp_path / "nowhere", reg, stems, [2013]) == [
        f"{tmp_path / 'nowhere'}: config 'raw_dir' is not a folder"
    ]


@pytest.mark.parametrize("name", ["in <b>", "x{year}", "a}b", "tab\there", "new\nline"])
def test_a_path_snakemake_would_interpret_is_named_before_any_job(tmp_path, name):
    """'<b>' in a path is a Snakemake 9 path variable and '{x}' a wildcard: such a raw_dir
    used to stop with UndefinedPathvarException; now it is one line naming the config key."""
    from linkseval.configuration import input_problems

    raw = tmp_path / name
    raw.mkdir()
    (msg,) = input_problems(raw, raw / "practices.csv", {"safequest": "safequest"}, [2013])
    assert msg.startswith(repr(str(raw))) and "config 'raw_dir'" in msg and "\n" not in msg
    (msg,) = input_problems(tmp_path, raw / "r.csv", {"safequest": "safequest"}, [2013])
    assert "config 'register'" in msg
