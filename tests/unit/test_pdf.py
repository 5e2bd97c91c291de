"""linkseval.report.pdf: the whole report as one printable PDF."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from linkseval.errors import PageError
from linkseval.report import pdf
from linkseval.report.labels import banner_text
from linkseval.report.pages import page

LABEL = "SYNTHETIC DATA"


def _page(title: str, body: str) -> str:
    return page(title, body, LABEL, [("Home", "index.html")])


def test_css_string_cannot_end_the_string_or_the_style_sheet():
    s = pdf.css_string('a"b\\c</style><x> — é')
    assert s.startswith('"') and s.endswith('"') and '"' not in s[1:-1]
    assert "<" not in s and " " not in s  # a space after an escape would be swallowed
    assert "\\00003c" in s and "\\000022" in s and "\\00005c" in s and "\\000020" in s


def test_print_css_puts_the_label_and_page_numbers_on_every_sheet():
    css = pdf.print_css(LABEL)
    assert "@top-center" in css and pdf.css_string(banner_text(LABEL)) in css
    assert 'counter(page) " of " counter(pages)' in css
    assert "@top-center" not in pdf.print_css("")  # no label, no header


def test_print_document_joins_pages_and_links_them_inside_the_pdf():
    pages = [
        ("index", _page("Home", "<h1>Home</h1><a href='methods.html'>methods</a>")),
        ("methods", _page("Methods", '<h1>Methods</h1><a href="other.html">x</a>')),
    ]
    doc = pdf.print_document(pages, "Report", LABEL)
    assert doc.count("<section class='sheet'") == 2
    assert "href='#methods'" in doc  # a printed page: a link inside the PDF
    assert "other.html" not in doc and ">x</a>" in doc  # not printed: text without its link
    assert "<nav>" not in doc and doc.index("id='index'") < doc.index("id='methods'")


def test_print_document_refuses_what_is_not_a_clean_report_page():
    with pytest.raises(PageError, match="no <main>"):
        pdf.print_document([("x", "<html><body>hi</body></html>")], "R", LABEL)
    bad = "<html><main><img src=x onerror='alert(1)'></main></html>"
    with pytest.raises(PageError, match="active content"):
        pdf.print_document([("x", bad)], "R", LABEL)


def test_normalise_pdf_fixes_both_dates_and_keeps_every_offset():
    raw = b"%PDF-1.4\n/CreationDate (D:20261206231204+00'00')\n/ModDate (D:20261206231205Z)>>"
    other = raw.replace(b"231204", b"101010").replace(b"231205", b"090909")
    out = pdf.normalise_pdf(raw)
    assert len(out) == len(raw) and out == pdf.normalise_pdf(other)
    assert b"(D:20000101000000+00'00')" in out and b"(D:20000101000000Z)" in out


def test_a_missing_chromium_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("LINKSEVAL_CHROMIUM", raising=False)
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)
    with pytest.raises(pdf.PrintError, match="Chromium, which is not installed"):
        pdf.find_chromium()


@pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("pdftotext") is None,
    reason="needs Debian's chromium and poppler-utils",
)
def test_chromium_prints_numbered_labelled_sheets_with_the_same_bytes_twice(tmp_path):
    pages = [
        ("index", _page("Home", "<h1>First page</h1><p><a href='report.pdf'>one</a></p>")),
        ("methods", _page("Methods", "<h1>Second page</h1><p>two</p>")),
    ]
    doc = pdf.print_document(pages, "Report", LABEL)
    first, second = pdf.print_pdf(doc), pdf.print_pdf(doc)
    assert first.startswith(b"%PDF") and first == second
    assert b"file:" not in first  # no temporary path inside
    out = tmp_path / "r.pdf"
    out.write_bytes(first)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True)
    sheets = text.stdout.split("\f")[:-1]
    assert len(sheets) == 2  # each page starts a sheet
    for n, sheet in enumerate(sheets, 1):
        assert f"{LABEL} — generated data" in sheet and f"Page {n} of 2" in sheet
    assert "First page" in sheets[0] and "Second page" in sheets[1]


def test_normalise_pdf_numbers_the_structure_ids_by_rank():
    """Chromium's tagged-PDF ids follow its DOM node ids, which shift between runs when images
    decode at other times: two prints differing only by such a shift normalise to the same
    bytes, of the same length, with the ids in their original order."""
    run = b"<</S /P /ID (node00000088)>> <</S /Figure /ID (node00000120)>> /Names [(node00000088)"
    shifted = run.replace(b"00000088", b"00000079").replace(b"00000120", b"00000111")
    out = pdf.normalise_pdf(run)
    assert out == pdf.normalise_pdf(shifted) and len(out) == len(run)
    assert out.count(b"(node00000001)") == 2 and b"(node00000002)" in out
    assert pdf.normalise_pdf(b"no ids here") == b"no ids here"
