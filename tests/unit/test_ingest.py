from pathlib import Path

import openpyxl
import pytest
from conftest import sq_header, write_csv

from linkseval.data.ingest import LINE, read_extract
from linkseval.errors import ExtractError


def _rows(n=3, code="01234"):
    return [[code, f"R{i}", "GP"] + ["5"] * 30 for i in range(n)]


def _sheet(n=3):
    """A workbook whose active sheet holds the Safequest header and ``n`` valid rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(sq_header())
    for r in _rows(n):
        ws.append(r)
    return wb, ws


def test_aliases_cp1252_and_line_numbers(tmp_path, safequest):
    rows = _rows(2)
    rows[1][2] = "Admin – reception"  # en dash: 0x96 in cp1252, invalid as UTF-8
    p = write_csv(
        tmp_path / "safequest_2013.csv",
        sq_header("alias") + ["Comments", "Extra"],
        [r + ["free text", "x"] for r in rows],
        encoding="cp1252",
    )
    with pytest.raises(UnicodeDecodeError):
        p.read_bytes().decode("utf-8")
    raw = read_extract(p, safequest)
    assert raw.year == 2013 and raw.encoding == "cp1252"
    assert list(raw.data.columns[:4]) == ["practice_code", "respondent_id", "staff_group", "Q01"]
    assert raw.data[LINE].tolist() == [2, 3]
    assert raw.data["staff_group"].iloc[1] == "Admin – reception"
    assert raw.dropped_free_text == ["Comments"] and raw.ignored_columns == ["Extra"]
    assert "Comments" not in raw.data.columns


def test_utf8_bom_and_blank_lines(tmp_path, safequest):
    p = tmp_path / "safequest_2014.csv"
    text = (
        ",".join(sq_header())
        + "\n"
        + ",".join(_rows(1)[0])
        + "\n\n"
        + ",".join(_rows(1, "20001")[0])
    )
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    raw = read_extract(p, safequest)
    assert raw.encoding == "utf-8-sig"
    assert raw.data[LINE].tolist() == [2, 4] and raw.blank_lines == 1


def test_title_rows_above_the_header_in_excel(tmp_path, safequest):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Safequest extract 2015"])
    ws.append([])
    ws.append(sq_header())
    for r in _rows(2):
        ws.append([int(r[0])] + r[1:3] + [int(v) for v in r[3:]])  # numbers, leading zero lost
    p = tmp_path / "safequest_2015.xlsx"
    wb.save(p)
    raw = read_extract(p, safequest)
    assert raw.header_line == 3 and raw.data[LINE].tolist() == [4, 5]
    assert raw.data["practice_code"].tolist() == ["1234", "1234"]  # padded later, by clean
    assert raw.data["Q01"].tolist() == ["5", "5"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("safequest_2013.csv", b"", "safequest_2013.csv: file is empty"),
        ("safequest_13.csv", b"x", "file name must be safequest_<year>.csv or .xlsx"),
        ("safequest_2013.xlsx", b"PK\x03\x04 truncated", "not a readable Excel workbook"),
        ("safequest_2013.csv", b"a,b\n1,2\n", "line 1: no header row found"),
        ("safequest_2013.csv", b"x\x81\x8d,y\n", "line 1: byte 0x81 is neither UTF-8 nor"),
    ],
)
def test_structural_errors_name_the_file(tmp_path, safequest, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ExtractError, match=message.replace("(", r"\(")) as err:
        read_extract(p, safequest)
    assert str(tmp_path) in str(err.value)


def test_missing_required_column_names_line_and_column(tmp_path, safequest):
    header = [h for h in sq_header() if h != "Q17"]
    p = write_csv(tmp_path / "safequest_2013.csv", header, [r[:19] + r[20:] for r in _rows(1)])
    with pytest.raises(
        ExtractError,
        match=r"safequest_2013.csv, line 1, column Q17: required "
        r"column Q17 is missing",
    ):
        read_extract(p, safequest)


def test_year_column_must_agree_with_file_name(tmp_path, safequest):
    p = write_csv(
        tmp_path / "safequest_2013.csv",
        sq_header() + ["Survey Year"],
        [r + ["2013"] for r in _rows(2)] + [_rows(1)[0] + ["2014"]],
    )
    with pytest.raises(
        ExtractError,
        match=r"line 4, column Survey Year: survey year '2014' "
        r"disagrees with the year 2013",
    ):
        read_extract(p, safequest)


def test_two_columns_for_one_item_is_an_error(tmp_path, safequest):
    p = write_csv(
        tmp_path / "safequest_2013.csv", sq_header() + ["Q1"], [r + ["5"] for r in _rows(1)]
    )
    with pytest.raises(ExtractError, match="columns 'Q01' and 'Q1' both map to Q01"):
        read_extract(p, safequest)


def test_path_with_spaces(tmp_path: Path, safequest):
    d = tmp_path / "extracts from board"
    d.mkdir()
    p = write_csv(d / "safequest_2013.csv", sq_header(), _rows(1))
    assert read_extract(p, safequest).n_rows == 1


def test_excel_rows_keep_sheet_numbers_when_the_sheet_starts_lower(tmp_path, safequest):
    """A sheet whose first cells are on row 3 (rows 1-2 never written): lines are sheet rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for j, h in enumerate(sq_header(), start=2):  # also starts in column B
        ws.cell(row=3, column=j, value=h)
    for i, r in enumerate(_rows(2), start=5):  # a gap: row 4 is empty
        for j, v in enumerate(r, start=2):
            ws.cell(row=i, column=j, value=v)
    p = tmp_path / "safequest_2015.xlsx"
    wb.save(p)
    raw = read_extract(p, safequest)
    assert raw.header_line == 3 and raw.data[LINE].tolist() == [5, 6] and raw.blank_lines == 1


def test_excel_merges_outside_the_columns_read_are_fine(tmp_path, safequest):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(sq_header() + ["Notes", "More notes"])
    for r in _rows(3):
        ws.append(r + ["note", ""])
    ws.merge_cells("AH2:AI4")  # notes merged across rows: a column we ignore
    p = tmp_path / "safequest_2015.xlsx"
    wb.save(p)
    raw = read_extract(p, safequest)
    assert raw.n_rows == 3 and raw.ignored_columns == ["Notes", "More notes"]


def test_excel_merged_item_cells_are_an_error(tmp_path, safequest):
    wb, ws = _sheet(2)
    ws.merge_cells("D2:F2")  # Q01-Q03 of the first respondent
    p = tmp_path / "safequest_2015.xlsx"
    wb.save(p)
    with pytest.raises(ExtractError, match=r"line 2, column Q01: cells D2:F2 are merged"):
        read_extract(p, safequest)


def test_unnamed_columns_with_data_are_listed_by_position(tmp_path, safequest):
    p = tmp_path / "safequest_2013.csv"
    p.write_text(",".join(sq_header()) + ",\n" + ",".join(_rows(1)[0]) + ",stray\n")
    raw = read_extract(p, safequest)
    assert raw.ignored_columns == ["(no header: field 34)"]


def test_field_larger_than_the_default_csv_limit_is_read(tmp_path, safequest):
    """Was a structural error ('field larger than field limit (131072)', no column named);
    a field may now be as long as the file (issue 15 item 10)."""
    p = tmp_path / "safequest_2013.csv"
    row = _rows(1)[0]
    row[2] = '"' + "x" * 200_000 + '"'
    p.write_text(",".join(sq_header()) + "\n" + ",".join(_rows(1)[0]) + "\n" + ",".join(row) + "\n")
    raw = read_extract(p, safequest)
    assert raw.data["staff_group"].str.len().tolist()[1] == 200_000


def test_xlsx_cells_read_as_openpyxl_shows_them(tmp_path):
    """python-calamine (the reader) against openpyxl (an independent reader): same text in every
    cell, blank rows and columns kept in place (row i = sheet row i + 1), merged ranges 1-based."""
    import datetime

    from linkseval.data.ingest import _excel_text, _read_xlsx

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C3"] = "title"
    ws.merge_cells("C3:E3")
    ws["B5"], ws["C5"], ws["D5"] = "practice_code", "x", "when"
    ws["B6"], ws["C6"], ws["D6"], ws["E6"] = 1234, 6.5, datetime.date(2015, 3, 1), True
    ws["B7"], ws["C7"], ws["E7"] = 12345678901234, " 7 ", 0.1
    ws["B9"] = 3.0
    ws["F10"] = "R-12"
    ws.merge_cells("C8:C9")
    p = tmp_path / "safequest_2015.xlsx"
    wb.save(p)
    rows, merged, _ = _read_xlsx(p)
    ref = openpyxl.load_workbook(p, data_only=True).active
    assert len(rows) == ref.max_row == 10
    for r in range(1, ref.max_row + 1):
        for c in range(1, ref.max_column + 1):
            want = ref.cell(r, c).value
            want = want.date() if isinstance(want, datetime.datetime) else want
            got = rows[r - 1][c - 1] if c <= len(rows[r - 1]) else ""
            assert got == _excel_text(want), (r, c)
    assert rows[5][3] == "2015-03-01" and rows[6][1] == "12345678901234" and rows[5][4] == "True"
    assert sorted(merged) == sorted(tuple(m.bounds) for m in ref.merged_cells.ranges)


def _with_error_cells(src: Path, dst: Path, cells: dict[str, str]) -> None:
    """Copy a workbook, turning the given cells (e.g. {"E3": "#N/A"}) into Excel error values
    (what Excel saves for a formula that failed: type "e", the error text as cached value)."""
    import re
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                for ref, err in cells.items():
                    data, n = re.subn(
                        rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)',
                        b'<c r="'
                        + ref.encode()
                        + b'" t="e"><f>1/0</f><v>'
                        + err.encode()
                        + b"</v></c>",
                        data,
                        flags=re.S,
                    )
                    assert n == 1, ref
            zout.writestr(item, data)


def test_excel_error_values_are_read_as_their_text(tmp_path, safequest):
    """python-calamine reads error cells as empty; the reader puts their text back, so a #N/A
    answer is an invalid value (quarantined by clean), not a missing answer."""
    from linkseval.data.ingest import _error_cells, _read_xlsx

    wb, ws = _sheet(3)
    src = tmp_path / "src.xlsx"
    wb.save(src)
    p = tmp_path / "safequest_2015.xlsx"
    _with_error_cells(src, p, {"E3": "#N/A", "A4": "#DIV/0!"})
    rows, _, _ = _read_xlsx(p)
    assert rows[2][4] == "#N/A" and rows[3][0] == "#DIV/0!"
    # the sheet XML is streamed in chunks cut after a cell's end: tiny chunks find the same
    want = {(2, 4): "#N/A", (3, 0): "#DIV/0!"}
    assert _error_cells(p, "Sheet") == _error_cells(p, "Sheet", chunk=37) == want
    raw = read_extract(p, safequest)
    assert raw.data["Q02"].tolist() == ["5", "#N/A", "5"]
    assert raw.data["practice_code"].tolist() == ["01234", "01234", "#DIV/0!"]


def test_the_first_worksheet_is_read_even_after_a_chart_sheet(tmp_path, safequest):
    wb, ws = _sheet(2)
    wb.create_chartsheet("Chart", 0)
    p = tmp_path / "safequest_2015.xlsx"
    wb.save(p)
    from python_calamine import CalamineWorkbook

    assert CalamineWorkbook.from_path(str(p)).sheet_names == ["Chart", "Sheet"]
    assert read_extract(p, safequest).n_rows == 2


def test_formulas_without_cached_values_are_found_in_any_chunking():
    """The XML pass finds the same uncached formula cells however the sheet is chunked, and
    not the formulas whose values Excel cached (issue 15 item 4)."""
    from linkseval.data.ingest import _xml_cells

    bad = Path(__file__).parents[1] / "data" / "bad"
    p = bad / "excel_formula_without_value" / "safequest_2013.xlsx"
    want = [(2, c) for c in range(3, 33)]
    assert _xml_cells(p, "Sheet")[1] == _xml_cells(p, "Sheet", chunk=37)[1] == want
    cached = bad / "excel_formula_cached" / "safequest_2013.xlsx"
    assert _xml_cells(cached, "Sheet", chunk=37) == ({}, [])
