"""Self-contained HTML pages and executed-notebook housekeeping (render, scrub).

Kept apart from the figures and tables (:mod:`linkseval.report.figures`, ``.tables``) so that
the per-notebook jobs that render or scrub do not import matplotlib and pandas.
"""

from __future__ import annotations

import html
import re
import string
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from linkseval.errors import PageError
from linkseval.report.labels import banner_text, is_synthetic_label

if TYPE_CHECKING:
    from nbformat import NotebookNode

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;
line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1rem 1.5rem 3rem}
.banner{background:#b2182b;color:#fff;font-weight:700;text-align:center;padding:.5rem;
letter-spacing:.05em}
nav{background:#f3f3f3;padding:.5rem 1.5rem;font-size:.9rem}
nav a{margin-right:1rem}
table.tbl{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem}
table.tbl th,table.tbl td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;
vertical-align:top}
table.tbl th{background:#fafafa}
.caption{font-size:.85rem;color:#555;margin-bottom:0}
a.csv{font-size:.8rem;margin-left:.25rem}
img{max-width:100%;height:auto}
figure{margin:1rem 0}
table.tbl caption{caption-side:top;text-align:left;font-size:.85rem;color:#555;padding:.25rem 0}
table.tbl td.num,table.tbl th.num{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
.tbl-wrap{overflow-x:auto;max-width:100%}
pre{overflow-x:auto;max-width:100%}
@media (max-width:600px){main{padding:.75rem}nav{padding:.5rem .75rem}}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem 1rem}
"""


# ---------------------------------------------------------------- the one way values become HTML


def escape(value: object) -> str:
    """``value`` as HTML text: ``&``, ``<``, ``>`` and both quotes escaped."""
    return html.escape(str(value), quote=True)


class _EscapingFormatter(string.Formatter):
    def format_field(self, value: object, format_spec: str) -> str:
        return escape(format(value, format_spec))


_FORMATTER = _EscapingFormatter()


def fragment(template: str, /, *args: object, **kwargs: object) -> str:
    """Format ``template`` with every substituted value HTML-escaped.

    ``template.format(*args, **kwargs)`` with every substituted value HTML-escaped (after its
    format spec: ``{:.1f}`` works). The template is trusted markup written in the code; every
    value from data, config or a file enters a page through here (or through
    :func:`linkseval.report.tables.table_html`, pandas' escaping ``to_html``), never by
    concatenation.
    """
    return _FORMATTER.format(template, *args, **kwargs)


def _figure_html(uri: str, alt: str, caption: str, width: int | None = None) -> str:
    """Return an embedded image as a ``<figure>`` with its alt text and caption (escaped)."""
    cap = fragment("<figcaption class='caption'>{}</figcaption>", caption) if caption else ""
    size = fragment(" width='{}'", width) if width else ""
    return (
        fragment("<figure><img src='{}'", uri)
        + size
        + fragment(" alt='{}'>", alt)
        + cap
        + ("</figure>")
    )


def png_figure_html(png: bytes, alt: str, caption: str = "", *, scale: float = 1.0) -> str:
    """Return a PNG as an embedded ``<figure>`` with its alt text and caption (escaped).

    ``scale`` > 1: a high-resolution PNG shown at 1/scale of its pixel width (sharp in print
    and on high-density screens).
    """
    import base64

    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    width = None
    if scale != 1.0 and png[12:16] == b"IHDR":
        width = round(int.from_bytes(png[16:20], "big") / scale)
    return _figure_html(uri, alt, caption, width)


def svg_figure_html(svg: bytes, alt: str, caption: str = "") -> str:
    """Return an SVG as an embedded ``<figure>`` with its alt text and caption (escaped).

    Vector graphics: sharp at any size, on screen and in the PDF. In an ``<img>`` an SVG runs
    no script.
    """
    import base64

    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    return _figure_html(uri, alt, caption)


def label_note(data_label: str) -> str:
    """Return the note a report page opens with.

    The note a report page opens with: generated data for synthetic data, the marking for
    real extracts ('' without a label).
    """
    if not data_label:
        return ""
    if is_synthetic_label(data_label):
        return fragment(
            "<p class='note'><b>{}</b>: every number on this page comes from the embedded "
            "synthetic data set, not from real survey responses.</p>",
            data_label,
        )
    return fragment(
        "<p class='note'><b>{}</b>: handle this page according to its marking.</p>", data_label
    )


_ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "applet", "base", "form"}
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data"}
# images, and tables as CSV (report.tables.csv_link): data that cannot run script
_SAFE_DATA_URL = re.compile(r"data:(image/(png|jpeg|gif);base64|text/csv;charset=utf-8),", re.I)
# SVG only as an <img>'s source, where browsers run none of its script (elsewhere it could)
_SVG_IMG_URL = re.compile(r"data:image/svg\+xml;base64,", re.I)


class _ActiveContent(HTMLParser):
    """Collect what could run in a browser.

    Collects what could run in a browser: script-like tags, event-handler attributes,
    ``javascript:`` and non-image ``data:`` URLs, and ``http-equiv`` refreshes.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_TAGS:
            self.found.append(f"<{tag}> element")
        for name, value in attrs:
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name.startswith("on"):
                self.found.append(f"event handler {name}= on <{tag}>")
            elif name in _URL_ATTRS and (
                url.startswith(("javascript:", "vbscript:"))
                or (
                    url.startswith("data:")
                    and not _SAFE_DATA_URL.match(url)
                    and not (tag == "img" and name == "src" and _SVG_IMG_URL.match(url))
                )
            ):
                self.found.append(f"{name}={url[:30]!r} on <{tag}>")
            elif tag == "meta" and name == "http-equiv":
                self.found.append("<meta http-equiv>")

    handle_startendtag = handle_starttag


def active_content(page_html: str) -> list[str]:
    """Return what in ``page_html`` could run script (empty for a script-free page)."""
    parser = _ActiveContent()
    parser.feed(page_html)
    parser.close()
    return parser.found


def page(title: str, body: str, data_label: str, nav: list[tuple[str, str]] | None = None) -> str:
    """Build a self-contained HTML page (inline CSS, no scripts, no external requests).

    ``body`` is markup built with :func:`fragment`; the page is checked: anything that could run
    script (:func:`active_content`) raises :class:`PageError` instead of being published.
    """
    banner = (
        fragment("<div class='banner' role='alert'>{}</div>", banner_text(data_label))
        if data_label
        else ""
    )
    links = "".join(fragment("<a href='{}'>{}</a>", h, t) for t, h in (nav or []))
    nav_html = f"<nav>{links}</nav>" if links else ""
    out = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        + fragment("<title>{}</title>", title)
        + f"<style>{CSS}</style></head><body>{banner}{nav_html}<main>{body}</main>{banner}"
        "</body></html>\n"
    )
    found = active_content(out)
    if found:
        raise PageError(
            f"page {title[:60]!r} would carry active content ({'; '.join(found[:3])}): "
            "a value reached its markup unescaped"
        )
    return out


def render_notebook(
    notebook: str | NotebookNode, title: str, data_label: str, nav: list[tuple[str, str]]
) -> str:
    """Render an executed notebook as a self-contained page.

    An executed notebook (a path, or a notebook node, which is changed) as a self-contained
    page: outputs only (no code), no scripts, figures embedded as data URIs (SVG), warnings
    (stderr) left in the notebook for reviewers.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, str) else notebook
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("name") != "stderr"]
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.anchor_link_text = ""
    body, _ = exporter.from_notebook_node(nb)
    body = re.sub(r"<script\b.*?</script>", "", body, flags=re.S)  # belt and braces: no JS
    body = re.sub(r"<a class=\"anchor-link\" href=\"[^\"]*\"></a>", "", body)  # empty links
    return page(title, body, data_label, nav)


def finish_notebook(
    partial: str, notebook: str, html: str, title: str, data_label: str, nav: list[tuple[str, str]]
) -> None:
    """Scrub papermill's output ``partial`` into place as ``notebook`` and render its page ``html``.

    What ``linkseval finish`` does; the page is rendered from what was written (no re-read).
    """
    from linkseval.data.store import write_text

    nb = scrub_notebook(partial, to=notebook)
    write_text(render_notebook(nb, title, data_label, nav), html)


def scrub_notebook(path: str, to: str | None = None) -> NotebookNode:
    """Make an executed notebook byte-stable.

    Drop papermill/nbclient timestamps and durations, give the injected-parameters cell a fixed
    id, and rewrite with sorted keys.

    With ``to``, the scrubbed notebook is written there atomically (papermill's output path in
    its metadata becomes ``to``) and ``path`` is removed: papermill writes to a partial file
    that only this step moves into place. Returns the scrubbed notebook node (what was written).
    """
    import os

    import nbformat

    from linkseval.data.store import write_text

    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "exception"):
        pm.pop(key, None)
    if to is not None and "output_path" in pm:
        pm["output_path"] = to
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cpm = cell.metadata.get("papermill", {})
        for key in ("start_time", "end_time", "duration", "exception", "status"):
            cpm.pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
        elif not cell.get("id"):
            cell["id"] = f"cell-{i:02d}"
    write_text(nbformat.writes(nb), to or path)
    if to is not None and os.path.abspath(to) != os.path.abspath(path):
        os.remove(path)
    return nb
