"""One printable PDF of the whole report, made with Chromium's print-to-PDF.

The published pages are joined into one print document (each page's ``<main>`` in site order,
each starting a new sheet, links between pages turned into links inside the PDF) and printed by
headless Chromium, the engine the browser tests check the pages with. CSS page-margin boxes put
the data label at the top and "Page n of N" at the bottom of every sheet; text and tables stay
text (vector), figures are embedded at the resolution they were drawn. Chromium stamps the
current time into the PDF's ``/CreationDate`` and ``/ModDate``, and names the tagged PDF's
structure elements after its DOM node ids (which vary with when images finish decoding);
:func:`normalise_pdf` replaces the dates with a fixed one of the same length and the node ids by
their ranks, so the same pages give the same bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from linkseval.errors import LinksevalError, PageError
from linkseval.report.labels import banner_text
from linkseval.report.pages import CSS, active_content, fragment

#: Chromium's command names, tried in this order (``LINKSEVAL_CHROMIUM`` overrides them)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: flags for a headless print with no network, no profile left behind and no first-run work
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--hide-scrollbars",
)
_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:[0-9]{14}[^)]{0,10}\)")
# the tagged PDF's structure-element ids (Chromium: node + its DOM node id, zero-padded)
_NODE = re.compile(rb"\(node([0-9]{8})\)")
_MAIN = re.compile(r"<main>(.*)</main>", re.S)
_PAGE_LINK = re.compile(r"""href=(['"])([A-Za-z0-9_.-]+)\.html\1""")
# any other link to a file beside the pages: no target inside the PDF, and Chromium would write
# the temporary print folder's path into the PDF (different bytes every run)
_FILE_LINK = re.compile(r"""\shref=(['"])(?!#|https?:)[^'"]*\1""")


class PrintError(LinksevalError):
    """Chromium is missing or could not print the report."""


def css_string(text: str) -> str:
    """Return ``text`` as a quoted CSS string.

    Every character but ASCII letters and digits is written as a six-digit CSS hex escape
    (spaces too: CSS would swallow a space after an escape), so no value can end the string or
    the style sheet.
    """
    out = []
    for ch in text:
        out.append(ch if ch.isascii() and ch.isalnum() else f"\\{ord(ch):06x}")
    return '"' + "".join(out) + '"'


def print_css(data_label: str) -> str:
    """Return the print style: A4 sheets, the label atop and the page number below each one."""
    top = (
        f"@top-center{{content:{css_string(banner_text(data_label))};font:600 8pt sans-serif;"
        "color:#b2182b}"
        if data_label
        else ""
    )
    return (
        "@page{size:A4;margin:18mm 14mm 16mm;" + top + '@bottom-center{content:"Page " '
        'counter(page) " of " counter(pages);font:8pt sans-serif;color:#444}}'
        "nav,.banner,a.csv{display:none}main{max-width:none;padding:0}"  # CSV: no use on paper
        ".tbl-wrap{overflow:visible}table.tbl{font-size:7.5pt}table.tbl td.num{white-space:normal}"
        "section.sheet+section.sheet{break-before:page}"
        "img{max-width:100%;break-inside:avoid}h1,h2,h3{break-after:avoid}tr{break-inside:avoid}"
    )


def print_document(pages: Sequence[tuple[str, str]], title: str, data_label: str) -> str:
    """Join published pages into one print document.

    Parameters
    ----------
    pages : sequence of (name, html)
        Each page's file name without ``.html`` and its HTML, in the order to print them.
    title : str
        The document's title.
    data_label : str
        The data label printed atop every sheet ('' for none).

    Returns
    -------
    str
        A self-contained HTML document: each page's ``<main>`` in a ``<section id=name>``,
        links to another printed page turned into ``#name``. Active content is an error.
    """
    names = {name for name, _ in pages}
    sections = []
    for name, page_html in pages:
        found = _MAIN.search(page_html)
        if found is None:
            raise PageError(f"{name}.html: not a report page (no <main>)")
        body = _PAGE_LINK.sub(
            lambda m: f"href='#{m.group(2)}'" if m.group(2) in names else m.group(0),
            found.group(1),
        )
        body = _FILE_LINK.sub("", body)  # the link's text stays, as plain text
        sections.append(fragment("<section class='sheet' id='{}'>", name) + body + "</section>")
    doc = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        + fragment("<title>{}</title>", title)
        + f"<style>{CSS}{print_css(data_label)}</style></head><body>"
        + "".join(sections)
        + "</body></html>\n"
    )
    found = active_content(doc)
    if found:
        raise PageError(f"the print document would carry active content ({'; '.join(found[:3])})")
    return doc


def normalise_pdf(data: bytes, date: bytes = b"20000101000000") -> bytes:
    """Return ``data`` with its creation and modification dates set to ``date``.

    The replacement keeps every date field's length (Chromium writes ``D:YYYYMMDDHHMMSS`` plus a
    zone), so the cross-reference offsets stay valid.
    """

    def fixed(m: re.Match[bytes]) -> bytes:
        old = m.group(0)
        head = b"/" + m.group(1) + b" (D:"
        new = head + date + old[len(head) + len(date) :]
        return new

    return _renumber_nodes(_DATE.sub(fixed, data))


def _renumber_nodes(data: bytes) -> bytes:
    """Renumber the tagged PDF's structure-element ids ``nodeNNNNNNNN`` 1, 2, … in order.

    Chromium names them after its DOM node ids, which depend on when images finished decoding;
    replaced by their ranks (same width, so offsets stay valid, and in the same order, so a
    sorted id tree stays sorted), the same pages give the same bytes.
    """
    ids = sorted({int(m) for m in _NODE.findall(data)})
    rank = {n: i for i, n in enumerate(ids, 1)}  # at most 10⁸ ids: 8 digits always suffice
    return _NODE.sub(lambda m: b"(node%08d)" % rank[int(m.group(1))], data)


def find_chromium() -> str:
    """Return the Chromium command (``LINKSEVAL_CHROMIUM`` or the first on ``PATH``).

    A missing browser is a :class:`PrintError` saying how to install one.
    """
    configured = os.environ.get("LINKSEVAL_CHROMIUM")
    if configured:
        return configured
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise PrintError(
        "the report's PDF is printed with Chromium, which is not installed: install Debian's "
        "'chromium' package (`make browser` does, as root) or set LINKSEVAL_CHROMIUM"
    )


def print_pdf(document: str, *, chromium: str | None = None, timeout: float = 300) -> bytes:
    """Print an HTML document to PDF with headless Chromium; return normalised PDF bytes."""
    exe = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="linkseval-print-") as tmp:
        src, out = Path(tmp, "report.html"), Path(tmp, "report.pdf")
        src.write_text(document, encoding="utf-8")
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(tmp, 'profile')}",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            env = {**os.environ, "TZ": "UTC"}  # the PDF's date fields' zone
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except FileNotFoundError as err:
            raise PrintError(f"Chromium ({exe}) could not be started: {err.strerror}") from None
        except subprocess.TimeoutExpired:
            raise PrintError(f"Chromium did not print the report within {timeout:.0f} s") from None
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no message"]
            raise PrintError(
                f"Chromium could not print the report (exit {proc.returncode}): {tail[0]}"
            )
        return normalise_pdf(out.read_bytes())
