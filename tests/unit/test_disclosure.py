"""Disclosure checks: identifiers, free text and small cells are found wherever they appear."""

import subprocess
import sys

import pandas as pd

from linkseval.report.disclosure import id_cells, identifiers_in, scan, small_cells, tables_in

IDS = {"Rf8c1a8fa", "CANARY-0a1b2c3d"}


def test_identifiers_are_found_as_whole_tokens_only():
    text = "<td>CANARY-0a1b2c3d</td> xRf8c1a8fax Rf8c1a8fa, Rf8c1a8f"
    assert identifiers_in(text, IDS) == ["CANARY-0a1b2c3d", "Rf8c1a8fa"]
    assert identifiers_in("nothing here: Rf8c1a8fab", IDS) == []


def test_small_cells_show_no_numbers():
    t = pd.DataFrame(
        {
            "practice_code": ["00001", "00002", "00003"],
            "year": ["2014", "2014", "2014"],
            "n_respondents": ["4", "<5", "12"],
            "percent": ["81.2", "suppressed", "77.0"],
        }
    )
    assert small_cells(t, 5) == ["row 0, column percent (n = 4)"]
    assert small_cells(t.drop(index=0), 5) == []
    assert small_cells(t, 3) == []  # 4 respondents are enough when the minimum is 3


def test_tables_are_read_from_html_csv_and_json(tmp_path):
    html = tmp_path / "p.html"
    html.write_text(
        "<p>x</p><table><tr><th>year</th><th>respondents</th><th>percent</th></tr>"
        "<tr><td>2014</td><td>3</td><td>90.1</td></tr></table>"
    )
    js = tmp_path / "h.json"
    js.write_text('{"data_label": "", "headline": [{"outcome": "x", "respondents": 2, "p": 0.5}]}')
    csv = tmp_path / "t.csv"
    csv.write_text("outcome,respondents,percent\nx,40,71.0\n")
    assert [len(t) for p in (html, js, csv) for t in tables_in(p, p.read_text())] == [1, 1, 1]
    found = scan([html, js, csv], identifiers=IDS, min_respondents=5)
    assert [(v.file.rsplit("/", 1)[1], v.kind) for v in found] == [
        ("p.html", "small_cell"),
        ("h.json", "small_cell"),
    ]


def test_free_text_is_found(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<p>Staff said: CANARY-COMMENT 2: do not publish</p>")
    found = scan(
        [page],
        identifiers=IDS,
        free_text=["CANARY-COMMENT 2: do not publish", "short"],
        min_respondents=5,
    )
    assert [v.kind for v in found] == ["free_text"]


def test_the_command_fails_naming_the_file_but_not_the_identifier(tmp_path):
    ids = tmp_path / "clean.parquet"
    pd.DataFrame({"respondent_id": sorted(IDS)}).to_parquet(ids)
    page = tmp_path / "leak.html"
    page.write_text("<p>CANARY-0a1b2c3d</p>")
    out = tmp_path / "disclosure.json"
    cmd = [sys.executable, "-m", "linkseval", "disclosure", "--files", str(page)]
    cmd += ["--identifiers-from", str(ids), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "leak.html: identifier" in proc.stderr and "CANARY-0a1b2c3d" not in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    page.write_text("<p>nothing to see</p>")
    assert subprocess.run(cmd, capture_output=True).returncode == 0 and out.exists()


def test_numeric_ids_are_looked_for_in_id_columns_not_among_years_and_counts(tmp_path):
    """Was: respondent ids 1, 2, 3, ... were matched as tokens, so years, counts and the digits
    of estimates (2013, 100, '0.2013') failed every run (issue 15 item 6). Pure-digit ids are
    now looked for in identifier columns of published tables; other ids still everywhere."""
    ids = {str(i) for i in range(1, 3000)} | {"CANARY-0a1b2c3d"}
    page = tmp_path / "page.html"
    page.write_text(
        "<p>2013 to 2015: 2541 respondents, effect 0.1234</p><table><tr><th>year</th>"
        "<th>respondents</th><th>percent</th></tr><tr><td>2014</td><td>120</td><td>81.2</td>"
        "</tr></table>"
    )
    csv = tmp_path / "t.csv"
    csv.write_text("outcome,year,respondents,estimate\nx,2013,100,0.2013\n")
    assert scan([page, csv], identifiers=ids, min_respondents=5) == []
    leak = tmp_path / "leak.csv"
    leak.write_text("practice_code,Respondent ID,respondents\n01234,17,40\n01234,4000,40\n")
    found = scan([leak], identifiers=ids, min_respondents=5)
    assert [(v.kind, v.location) for v in found] == [
        ("identifier", "table 1, row 0, column Respondent ID")
    ]
    js = tmp_path / "h.json"
    js.write_text('{"rows": [{"respondent_id": 12.0, "respondents": 40}]}')
    assert [v.kind for v in scan([js], identifiers=ids, min_respondents=5)] == ["identifier"]
    canary = tmp_path / "c.html"
    canary.write_text("<p>CANARY-0a1b2c3d</p>")
    assert [v.kind for v in scan([canary], identifiers=ids, min_respondents=5)] == ["identifier"]


def test_id_cells_match_whole_cells_only():
    t = pd.DataFrame({"id": ["12", " 7 ", "127", "x"], "n_respondents": ["12", "7", "7", "7"]})
    assert id_cells(t, {"12", "7"}) == ["row 0, column id", "row 1, column id"]
