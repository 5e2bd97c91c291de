"""Write the input files of the bad-input corpus (tests/data/bad/<case>/).

The inputs are committed; this script documents how each was made (several are binary or
byte-exact: cp1252, BOM, CRLF, UTF-16, Excel) and rewrites them identically. Each case's
expected outcome is hand-written in its ``expected.yaml`` and is not touched here.

    .venv/bin/python tests/data/bad/make_corpus.py
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
ITEMS = [f"Q{i:02d}" for i in range(1, 31)]
HEADER = ["practice_code", "respondent_id", "staff_group", *ITEMS]
REGISTER = (
    "practice_code,practice_name,health_board,list_size,simd15_share,deep_end_rank,"
    "links_start_year\n"
    "01234,Alpha,NHS Greater Glasgow & Clyde,5000,0.61,3,2014\n"
    "20001,Beta,NHS Lothian,8000,0.10,,\n"
    "30002,Gamma,NHS Fife,3000,0.05,,\n"
)


def row(code="01234", rid="R1", staff="GP", items=None, **changes) -> list[str]:
    """A respondent row; ``changes`` set single items, e.g. Q05="0"."""
    values = list(items) if items is not None else ["5"] * 30
    for k, v in changes.items():
        values[ITEMS.index(k)] = v
    return [code, rid, staff, *values]


def csv_text(rows, header=HEADER, eol="\n") -> str:
    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v

    return "".join(",".join(field(v) for v in r) + eol for r in [header, *rows])


def write(case: str, name: str, content: str | bytes, encoding="utf-8") -> None:
    path = HERE / case / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))


def register(case: str, text: str = REGISTER, name: str = "practices.csv") -> None:
    write(case, name, text)


def xlsx(rows, merges=()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_times(buf.getvalue())


def xlsx_sheets(sheets: list[tuple[str, list, str | None]]) -> bytes:
    """A workbook of several worksheets: (title, rows, sheet_state or None for visible)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows, state in sheets:
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
        if state:
            ws.sheet_state = state
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_times(buf.getvalue())


def _fixed_times(data: bytes) -> bytes:
    """openpyxl stamps the save time into docProps and the zip entries: fix both, so the
    committed workbooks are rewritten byte for byte."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2020-01-01T00:00:00Z", content
                )
            z.writestr(
                zipfile.ZipInfo(info.filename, (2020, 1, 1, 0, 0, 0)), content, zipfile.ZIP_DEFLATED
            )
    return out.getvalue()


def _patch_sheet(data: bytes, edits: list[tuple[bytes, bytes]]) -> bytes:
    """The workbook with byte replacements in its first sheet's XML (each must apply once):
    e.g. cached formula values, which openpyxl cannot write."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                for old, new in edits:
                    assert content.count(old) == 1, old
                    content = content.replace(old, new)
            z.writestr(info, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def numeric(r: list[str]) -> list:
    """Cells as Excel would store them: numbers where the text is a number."""
    return [int(v) if v.isdigit() else v for v in r]


def main() -> None:
    ok3 = [row(rid="R1"), row("20001", "R2"), row("30002", "R3")]

    c = "missing_required_column"
    header = [h for h in HEADER if h != "Q17"]
    write(c, "safequest_2013.csv", csv_text([r[:19] + r[20:] for r in ok3], header))
    register(c)

    c = "extra_unknown_columns"
    write(
        c,
        "safequest_2013.csv",
        csv_text(
            [r + ["x", "", "free text about the practice"] for r in ok3],
            HEADER + ["Extra", "Notes 2", "Comments"],
        ),
    )
    register(c)

    c = "out_of_range_codes"
    rows = [row(rid="R1"), row(rid="R2", Q05="0"), row(rid="R3", Q10="8")]
    rows += [row(rid="R4", Q30="99"), row(rid="R5", Q01="-1")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "non_numeric_codes"
    rows = [row(rid="R1"), row(rid="R2", Q03="x"), row(rid="R3", Q07="5.5")]
    rows += [row(rid="R4", Q12="five"), row(rid="R5", Q20="#N/A")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "item_codes_not_ascii_integers"
    odd = ["0_5", "5e0", "+5", "5.", "\u0665", "\u096b", "\uff15", "1_0", "5.0"]
    rows = [row(rid="R1")] + [row(rid=f"R{i + 2}", Q04=v) for i, v in enumerate(odd)]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "unmapped_text_labels"
    labels = ["Strongly disagree", "Agree", "strongly AGREE", "Neutral", "Slightly  agree"] * 6
    rows = [row(rid="R1", items=labels)]
    rows += [row(rid="R2", items=labels, Q04="Somewhat agree")]
    rows += [row(rid="R3", items=labels, Q09="Agree strongly")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "exact_duplicate_rows"
    write(c, "safequest_2013.csv", csv_text([row(rid="R1"), row(rid="R2"), row(rid="R1")]))
    register(c)

    c = "conflicting_duplicate_ids"
    rows = [row(rid="R1"), row(rid="R2"), row(rid="R1", items=["4"] * 30)]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "unknown_practice_codes"
    rows = [row(rid="R1"), row("99999", "R2"), row("7777", "R3"), row("20001", "R4")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "practice_code_whitespace"
    rows = [row(" 01234", "R1"), row("20001 ", "R2"), row("\t30002", "R3"), row("01234", "R4")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "practice_code_leading_zeros"
    rows = [row("1234", "R1"), row("1234.0", "R2"), row("01234", "R3"), row("20001", "R4")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "survey_year_disagrees"
    rows = [r + ["2013"] for r in ok3[:2]] + [ok3[2] + ["2014"]]
    write(c, "safequest_2013.csv", csv_text(rows, HEADER + ["Survey Year"]))
    register(c)

    c = "empty_file"
    write(c, "safequest_2013.csv", b"")
    register(c)

    c = "header_only"
    write(c, "safequest_2013.csv", csv_text([]))
    register(c)

    c = "cp1252_encoding"
    rows = [row(rid="R1", staff="Admin – reception"), row("20001", "R2", "Practice nurse (café)")]
    write(c, "safequest_2013.csv", csv_text(rows), encoding="cp1252")
    register(c)

    c = "mixed_utf8_cp1252"  # UTF-8 with 20 "Don’t know" answers; one cp1252 ’ on line 30
    rows = [row(rid=f"R{i}", Q07="Don\u2019t know" if i <= 20 else "5") for i in range(1, 41)]
    rows[28] = row(rid="R29", staff="Nurse X")
    text = csv_text(rows).encode()
    write(c, "safequest_2013.csv", text.replace(b"Nurse X", b"Nurse\x92s aide"))
    register(c)

    c = "utf8_bom"
    write(c, "safequest_2013.csv", b"\xef\xbb\xbf" + csv_text(ok3[:2]).encode())
    register(c)

    c = "two_boms"  # "converted to UTF-8 with BOM" twice
    write(c, "safequest_2013.csv", b"\xef\xbb\xbf" * 2 + csv_text(ok3[:2]).encode())
    register(c)

    c = "excel_title_rows"
    rows = [["Safequest extract 2013 - NHS Scotland"], [], HEADER]
    rows += [numeric(row("01234", "R1")), numeric(row("20001", "R2"))]
    write(c, "safequest_2013.xlsx", xlsx(rows))
    register(c)

    c = "excel_merged_title"
    rows = [["Safequest extract 2013"], HEADER] + [numeric(r) for r in ok3]
    write(c, "safequest_2013.xlsx", xlsx(rows, merges=["A1:AG1"]))
    register(c)

    c = "excel_merged_data"
    rows = [["Safequest extract 2013"], HEADER]
    rows += [numeric(row(rid="R1")), [None] + numeric(row(rid="R2"))[1:]]
    rows += [[None] + numeric(row(rid="R3"))[1:], numeric(row("20001", "R4"))]
    write(c, "safequest_2013.xlsx", xlsx(rows, merges=["A1:AG1", "A3:A5"]))
    register(c)

    c = "excel_formula_without_value"  # saved by a program that does not calculate
    rows = [HEADER, numeric(row(rid="R1")), row(rid="R2", items=["=2+3"] * 30)]
    rows += [numeric(row("20001", "R3"))]
    write(c, "safequest_2013.xlsx", xlsx(rows))
    register(c)

    c = "excel_formula_cached"  # formulas with the values Excel calculated: read as shown
    rows = [HEADER, numeric(row(rid="R1")), row(rid="R2", staff='=""', Q01="=2+3", Q02="=1+3")]
    data = xlsx(rows)
    data = _patch_sheet(
        data,
        [
            (b"<f>2+3</f><v></v>", b"<f>2+3</f><v>5</v>"),
            (b"<f>1+3</f><v></v>", b"<f>1+3</f><v>4</v>"),
            (b'<c r="C3"><f>""</f><v></v>', b'<c r="C3" t="str"><f>""</f><v></v>'),
        ],
    )
    write(c, "safequest_2013.xlsx", data)
    register(c)

    c = "excel_hidden_first_sheet"  # a hidden copy of 2013 before the 2014 extract, and notes
    year_header = HEADER + ["Survey Year"]
    hidden = [year_header] + [numeric(row(rid=f"H{i}", staff="2013 copy")) + [2013] for i in (1, 2)]
    shown = [year_header] + [numeric(r) + [2014] for r in ok3]
    notes = [["Notes"], ["exported by the board"]]
    sheets = [("2013", hidden, "hidden"), ("Notes", notes, None), ("2014", shown, None)]
    write(c, "safequest_2014.xlsx", xlsx_sheets(sheets))
    register(c)

    c = "excel_two_visible_sheets"  # two extracts, both visible: which one?
    sheets = [("Notes", notes, None), ("2013 a", shown, None), ("2013 b", hidden, None)]
    write(c, "safequest_2013.xlsx", xlsx_sheets(sheets))
    register(c)

    c = "xlsx_truncated"
    whole = xlsx([HEADER] + [numeric(r) for r in ok3])
    write(c, "safequest_2013.xlsx", whole[: len(whole) // 2])
    register(c)

    c = "register_duplicate_codes"
    write(c, "safequest_2013.csv", csv_text(ok3))
    # a blank line, then the duplicate (with a stray space): line numbers must stay physical
    register(c, REGISTER + "\n 20001,Beta again,NHS Lothian,1,0.1,,\n")

    c = "register_missing_practice"
    rows = ok3 + [row("40003", "R4"), row("40003", "R5")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "links_practice_without_rows"
    write(c, "safequest_2013.csv", csv_text(ok3))
    register(c, REGISTER + "50005,Epsilon,NHS Greater Glasgow & Clyde,4000,0.70,5,2014\n")

    c = "too_few_respondents"
    rows = [row("01234", f"A{i}") for i in range(5)] + [row("20001", f"B{i}") for i in range(2)]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "path_with_spaces"
    write(c, "board extracts 2013/safequest_2013.csv", csv_text(ok3))
    register(c, name="register file/practices.csv")

    c = "ragged_rows"
    rows = [row(rid="R1"), row(rid="R2"), row(rid="R3") + ["stray"], row(rid="R4")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "blank_lines_in_middle"
    lines = [",".join(HEADER), ",".join(row(rid="R1")), "", ",,,,", ",".join(row(rid="R2"))]
    text = "\n".join(lines + ["   ", ",".join(row(rid="R3"))]) + "\n"
    write(c, "safequest_2013.csv", text)
    register(c)

    c = "crlf_line_endings"
    rows = [row(rid="R1"), row(rid="R2", Q02="9"), row(rid="R3")]
    write(c, "safequest_2013.csv", csv_text(rows, eol="\r\n"))
    register(c)

    c = "cr_line_endings_bad_byte"  # classic Mac line ends; byte 0x81 on line 6
    rows = [row(rid=f"R{i}") for i in range(1, 5)] + [row(rid="R5", staff="Admin X")]
    text = csv_text(rows, eol="\r").encode()
    write(c, "safequest_2013.csv", text.replace(b"Admin X", b"Admin \x81"))
    register(c)

    c = "short_row_truncated"
    text = csv_text(ok3)
    write(c, "safequest_2013.csv", text[: text.rindex(",5,5,5,5")])  # export cut off mid-row
    register(c)

    c = "unclosed_quote"
    rows = [row(rid="R1"), row(rid="R2", staff='"Nurse'), row(rid="R3")]
    text = csv_text(rows).replace('"""Nurse",', '"Nurse,')  # opening quote never closed
    write(c, "safequest_2013.csv", text)
    register(c)

    c = "quoted_newline_in_value"
    rows = [row(rid="R1"), row(rid="R2", staff="Practice\nnurse"), row(rid="R3", Q02="0")]
    rows += [row(rid="R4")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "utf16_export"
    write(c, "safequest_2013.csv", b"\xff\xfe" + csv_text(ok3).encode("utf-16-le"))
    register(c)

    c = "undecodable_bytes"
    text = csv_text([row(rid="R1"), row(rid="R2", staff="Admin X")]).encode()
    write(c, "safequest_2013.csv", text.replace(b"Admin X", b"Admin \x81"))
    register(c)

    c = "two_columns_one_item"
    write(c, "safequest_2013.csv", csv_text([r + ["5"] for r in ok3], HEADER + ["Q 1"]))
    register(c)

    c = "wrong_file_name"
    write(c, "safequest 2013 final.csv", csv_text(ok3))
    register(c)

    c = "missing_ids_and_codes"
    rows = [row(rid="R1"), row("", "R2"), row("20001", ""), row("  ", " ")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "placeholder_respondent_ids"  # placeholders for "no id", which would look like duplicates
    rows = [row(rid="R1"), row(rid="-"), row(rid="NULL"), row(rid=" N/A "), row(rid="null")]
    rows += [row(rid="R-1"), row(rid="NULLA")]
    write(c, "safequest_2013.csv", csv_text(rows))
    register(c)

    c = "too_many_missing"
    na15 = ["N/A"] * 15 + ["5"] * 15
    na16 = ["N/A"] * 8 + [""] * 8 + ["5"] * 14
    write(c, "safequest_2013.csv", csv_text([row(rid="R1", items=na15), row(rid="R2", items=na16)]))
    register(c)

    c = "register_bad_value"
    write(c, "safequest_2013.csv", csv_text(ok3))
    register(c, REGISTER.replace("8000,0.10", "8000,1.5"))

    # hostile practice codes (issue 15): a command, a path out of results/, markup
    hostile = {
        "register_code_command": "05283$(touch X)",
        "register_code_traversal": "x/../../../../T",
        "register_code_markup": "<img src=x onerror=alert(1)>",
    }
    for c, code in hostile.items():
        write(c, "safequest_2013.csv", csv_text(ok3))
        register(c, REGISTER + f"{code},Delta,NHS Fife,3000,0.05,,2014\n")

    c = "no_header_row"
    titles = "".join(f"Safequest export, page {i}\n" for i in range(1, 22))
    write(c, "safequest_2013.csv", titles + csv_text(ok3))
    register(c)

    c = "care_labels"
    care_header = ["Practice", "Patient ID", *[f"C{i}" for i in range(1, 11)]]
    rows = [
        ["01234", "P1", *["Very good"] * 8, "Does not apply", "excellent"],
        ["01234", "P2", *["5"] * 10],
        ["20001", "P3", *["Good"] * 9, "Brilliant"],
        ["20001", "P4", *["Does not apply"] * 10],
    ]
    write(c, "care_2013.csv", csv_text(rows, care_header))
    register(c)

    c = "missing_survey_year"
    write(c, "raw extracts/safequest_2013.csv", csv_text(ok3))
    register(c, name="raw extracts/practices.csv")

    c = "config_schema_error"
    write(c, "raw/safequest_2013.csv", csv_text(ok3))
    register(c, name="raw/practices.csv")


if __name__ == "__main__":
    main()
