"""The result vocabulary (linkseval.results): schema, record constructor, validator."""

import numpy as np
import pandas as pd
import pytest

from linkseval import results
from linkseval.results import ResultSchemaError, combine, conform, frame, make_row, read, validate

META = dict(instrument="safequest", outcome="workload", comparison="scotland_other")


def _rows():
    return [
        make_row(**META, estimator="twfe", term="treated_post", method="CR1", estimate=1.5),
        make_row(**META, estimator="leave_out", variant="05283", term="treated_post", method="CR1"),
        make_row(
            **META, estimator="event_study", term="event", event_time=-2, method="WCR bootstrap"
        ),
        make_row(
            **META,
            estimator="callaway_santanna",
            term="att",
            cohort=2014,
            period=2013,
            event_time=-1,
            method="randomization inference",
            n_draws=9999,
        ),
        make_row(
            **META,
            estimator="honestdid",
            variant="smoothness",
            term="mean_post",
            bound=0.5,
            method="HonestDiD FLCI",
        ),
    ]


def test_make_row_gives_every_column_in_schema_order():
    row = _rows()[0]
    assert list(row) == list(results.COLUMNS)
    assert row["variant"] == "" and row["event_time"] is None and np.isnan(row["bound"])
    assert row["n_draws"] == 0 and row["note"] == "" and np.isnan(row["p_value"])
    # integers given as floats (pandas rows) are accepted when integral
    r = make_row(**META, estimator="event_study", term="event", event_time=2.0, method="CR1")
    assert r["event_time"] == 2 and isinstance(r["event_time"], int)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(estimator="leave_out[05283]", term="treated_post", method="CR1"), "estimator"),
        (dict(estimator="event_study", term="event[0]", method="CR1"), "term"),
        (dict(estimator="event_study", term="event", method="CR1"), "needs event_time"),
        (dict(estimator="twfe", term="treated_post", method="Wald F (CR1)"), "method"),
        (dict(estimator="honestdid", term="mean_post", method="HonestDiD FLCI"), "restriction"),
        (
            dict(estimator="event_study", term="event", event_time=0.5, method="CR1"),
            "integer",
        ),
    ],
)
def test_make_row_rejects_names_outside_the_vocabulary(kw, message):
    with pytest.raises(ResultSchemaError, match=message):
        make_row(**META, **kw)


def test_frame_types_every_column():
    df = frame(_rows())
    assert list(df.columns) == list(results.COLUMNS)
    for col, dtype in results.COLUMNS.items():
        assert str(df[col].dtype) == dtype, col
    assert df["event_time"].tolist()[2:4] == [-2, -1]
    assert df["event_time"].isna().tolist() == [True, True, False, False, True]
    assert list(frame([]).columns) == list(results.COLUMNS)


def test_validator_rejects_an_unknown_column_a_missing_one_and_a_bad_dtype():
    df = frame(_rows())
    with pytest.raises(ResultSchemaError, match="unknown \\['extra'\\]"):
        validate(df.assign(extra=1))
    with pytest.raises(ResultSchemaError, match="missing \\['variant'\\]"):
        validate(df.drop(columns="variant"))
    with pytest.raises(ResultSchemaError, match="column event_time has dtype float64"):
        validate(df.assign(event_time=df["event_time"].astype("float64")))
    with pytest.raises(ResultSchemaError, match="column estimate has dtype"):
        validate(df.assign(estimate=df["estimate"].astype(str)))
    with pytest.raises(ResultSchemaError, match="unknown estimator value"):
        validate(df.assign(estimator="did2x2[2013-2014]"))
    with pytest.raises(ResultSchemaError, match="unknown column"):
        conform(df.assign(extra=1))
    # the label and the adjusted p-values are part of the gathered table's schema
    gathered = df.copy()
    gathered.insert(0, "data_label", "SYNTHETIC DATA")
    gathered["p_holm"], gathered["p_bh"] = 0.5, 0.5
    assert validate(gathered) is gathered


def test_combine_and_read_back_keep_the_schema(tmp_path):
    from linkseval.data.store import write_csv, write_parquet

    a, b = frame(_rows()[:2]), frame(_rows()[2:])
    for t in (a, b):
        t.insert(0, "data_label", "SYNTHETIC DATA")
    both = combine([a, b])
    assert len(both) == 5 and list(both.columns) == ["data_label", *results.COLUMNS]
    with pytest.raises(ResultSchemaError):
        combine([a, b.assign(term="event[0]")])
    write_parquet(both, tmp_path / "e.parquet", {})
    write_csv(both, tmp_path / "e.csv")
    for path in ("e.parquet", "e.csv"):
        back = read(tmp_path / path)
        assert back["variant"].tolist()[1] == "05283"  # a practice code keeps its leading zero
        pd.testing.assert_frame_equal(back, both, check_dtype=True)


def test_docs_name_every_column_and_value():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs/results.md").read_text(encoding="utf-8")
    names = [*results.COLUMNS, *results.ESTIMATORS, *results.TERMS, *results.METHODS]
    names += list(results.HONEST_RESTRICTIONS)
    missing = [n for n in names if f"`{n}`" not in doc]
    assert not missing, missing


def test_compare_estimates_maps_the_old_names_and_finds_a_changed_number(tmp_path):
    import sys
    from pathlib import Path

    from linkseval.data.store import write_csv

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    import compare_estimates

    extra = [
        make_row(**META, estimator="event_study", term="pretrend_joint", method="CR1"),
        make_row(
            **META,
            estimator="did2x2",
            variant="2013-2014",
            base_period=2013,
            period=2014,
            term="treated_post",
            method="CR1",
        ),
    ]
    new = frame(_rows() + extra)
    new.insert(0, "data_label", "SYNTHETIC DATA")
    new["p_holm"], new["p_bh"] = np.nan, np.nan
    old = compare_estimates.to_legacy(new).drop(
        columns=["variant", "event_time", "cohort", "period", "base_period", "bound"]
    )
    assert old["estimator"].tolist() == [
        "twfe", "leave_out[05283]", "event_study", "callaway_santanna", "honestdid",
        "event_study", "did2x2[2013-2014]",
    ]  # fmt: skip
    assert old["term"].tolist()[2:5] == ["event[-2]", "att[2014,2013]", "smoothness[0.5]"]
    assert old["method"].tolist()[5] == "Wald F (CR1)"
    write_csv(new, tmp_path / "new.csv")
    write_csv(old, tmp_path / "old.csv")
    assert compare_estimates.compare(tmp_path / "new.csv", tmp_path / "old.csv") == []
    write_csv(old.iloc[::-1], tmp_path / "reversed.csv")
    assert compare_estimates.compare(tmp_path / "new.csv", tmp_path / "reversed.csv", True) == []
    write_csv(old.assign(estimate=old["estimate"].fillna(0) + 1e-9), tmp_path / "moved.csv")
    problems = compare_estimates.compare(tmp_path / "new.csv", tmp_path / "moved.csv")
    assert any("estimate" in p for p in problems)
    write_csv(old.iloc[:-1], tmp_path / "short.csv")
    assert "row count" in compare_estimates.compare(tmp_path / "new.csv", tmp_path / "short.csv")[0]


def test_applicable_is_a_column_set_by_the_inference_result_and_kept_in_csv(tmp_path):
    from linkseval.estimators import result_row
    from linkseval.inference.base import TestResult

    base = dict(instrument="safequest", outcome="workload", comparison="scotland_other")
    base.update(estimator="twfe")
    na = result_row(base, "treated_post", TestResult.not_applicable("CR1", "one cluster"), 1, 1)
    ok = result_row(base, "treated_post", TestResult("CR1", 0.5, -1.0, 1.0), 1, 1)
    assert (na["applicable"], ok["applicable"]) == (False, True)
    df = frame([na, ok])
    assert str(df["applicable"].dtype) == "bool"
    path = tmp_path / "estimates.csv"
    df.to_csv(path, index=False)
    assert results.read(path)["applicable"].tolist() == [False, True]
    # a table written before the column existed reads as applicable everywhere
    df.drop(columns="applicable").to_csv(path, index=False)
    assert results.read(path)["applicable"].tolist() == [True, True]


def test_method_rows_come_from_the_registries():
    from linkseval.analysis import primary_method
    from linkseval.estimators import ESTIMATORS, method_row, overall_term
    from linkseval.inference.registry import METHOD_LABELS, METHODS

    assert list(METHOD_LABELS) == list(METHODS)  # every method has its labels
    for name in METHODS:
        for est in ESTIMATORS:
            assert method_row(name, est) in results.METHODS
    assert method_row("analytic", "callaway_santanna") == "influence function (analytic)"
    assert method_row("randomization_t") == "randomization inference (t)"
    primary = {"method": "analytic", "estimator": "imputation"}
    assert primary_method(primary) == "imputation (BJS analytic)"
    assert overall_term("callaway_santanna") == "simple" and overall_term("dose") == "treated_post"
