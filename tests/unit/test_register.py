import pandas as pd
import pytest

from linkseval.data.register import absence_long, normalise_code, read_register
from linkseval.errors import ExtractError


def test_register_is_typed_and_sorted(register_file):
    reg = read_register(register_file)
    assert reg["practice_code"].tolist() == ["01234", "20001", "30002"]
    assert reg["cohort"].tolist() == [2014, 0, 0]
    assert reg["deep_end"].tolist() == [True, False, False]
    assert reg["clp_absent_months_2015"].tolist() == [7, 0, 0]
    long = absence_long(reg)
    assert long.loc[long.practice_code == "01234", "clp_absent_months"].item() == 7


def test_normalise_code_restores_leading_zeros_and_strips():
    s = pd.Series([" 01234", "1234", "1234.0", "ABC12", ""])
    assert normalise_code(s, 5).tolist() == ["01234", "01234", "01234", "ABC12", ""]


def test_duplicate_codes_stop_with_lines(tmp_path):
    p = tmp_path / "practices.csv"
    p.write_text(
        "practice_code,health_board,list_size,simd15_share,deep_end_rank,links_start_year\n"
        "11111,A,1,0.1,,\n22222,A,1,0.1,,\n 11111,A,1,0.1,,\n"
    )
    with pytest.raises(
        ExtractError,
        match=r"practices.csv, line 4, column practice_code: "
        r"practice code 11111 appears more than once \(lines 2, 4\)",
    ):
        read_register(p)


def test_bad_rank_names_line_and_column(tmp_path):
    p = tmp_path / "practices.csv"
    p.write_text(
        "practice_code,health_board,list_size,simd15_share,deep_end_rank,links_start_year\n"
        "11111,A,1,0.1,101,\n"
    )
    with pytest.raises(ExtractError, match="line 2, column deep_end_rank"):
        read_register(p)


HEAD = "practice_code,health_board,list_size,simd15_share,deep_end_rank,links_start_year\n"


def test_register_lines_are_physical_lines(tmp_path):
    """A blank line does not shift the line numbers in messages."""
    p = tmp_path / "practices.csv"
    p.write_text(HEAD + "11111,A,1,0.1,,\n\n22222,A,1,0.1,,2014x\n")
    with pytest.raises(ExtractError, match="line 4, column links_start_year: '2014x' is not"):
        read_register(p)


@pytest.mark.parametrize(
    "text, message",
    [
        (HEAD, "line 1: register has a header but no practices"),
        (HEAD.replace("list_size", "practice_code"), "column practice_code appears more than once"),
        (HEAD + "11111,A,1,0.1,,,extra\n", "line 2, column 7: 7 fields but the header"),
        (HEAD + '11111,"A,1,0.1,,\n', "line 2: a quoted field starting on this line is never"),
        (",,,\n\n", "register is empty"),
    ],
)
def test_register_structural_errors(tmp_path, text, message):
    p = tmp_path / "practices.csv"
    p.write_text(text)
    with pytest.raises(ExtractError, match=message):
        read_register(p)


HEADER = "practice_code,health_board,list_size,simd15_share,deep_end_rank,links_start_year\n"


@pytest.mark.parametrize(
    ("start", "ok"),
    [(2013, False), (2014, True), (2016, True), (2017, False), (2009, False)],
)
def test_links_starts_must_leave_a_survey_year_before_and_one_from_the_start(tmp_path, start, ok):
    p = tmp_path / "practices.csv"
    p.write_text(HEADER + f"11111,A,1,0.1,,\n22222,A,1,0.1,3,2015\n33333,A,1,0.1,4,{start}\n")
    years = [2013, 2014, 2015, 2016]
    if ok:
        assert read_register(p, survey_years=years)["cohort"].tolist() == [0, 2015, start]
        return
    with pytest.raises(
        ExtractError,
        match=rf"practices.csv, line 4, column links_start_year: Links start year {start} is "
        r"outside the survey years 2013-2016",
    ):
        read_register(p, survey_years=years)
    assert read_register(p)["cohort"].tolist() == [0, 2015, start]  # no years: not checked
