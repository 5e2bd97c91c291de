"""Self-contained HTML pages and executed-notebook housekeeping (render, scrub).

Kept apart from ``linkseval.report`` (figures and tables) so that the per-notebook jobs that
render or scrub do not import matplotlib and pandas."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from linkseval.labels import banner_text

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
img{max-width:100%}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem 1rem}
"""


def page(title: str, body: str, data_label: str, nav: list[tuple[str, str]] | None = None) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external requests)."""
    banner = (
        f"<div class='banner' role='alert'>{html.escape(banner_text(data_label))}</div>"
        if data_label
        else ""
    )
    links = "".join(f"<a href='{html.escape(h)}'>{html.escape(t)}</a>" for t, h in (nav or []))
    nav_html = f"<nav>{links}</nav>" if links else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"{banner}{nav_html}<main>{body}</main>{banner}</body></html>\n"
    )


def render_notebook(
    notebook: str | NotebookNode, title: str, data_label: str, nav: list[tuple[str, str]]
) -> str:
    """An executed notebook (a path, or a notebook node, which is changed) as a self-contained
    page: outputs only (no code), no scripts, figures embedded as PNG data URIs, warnings
    (stderr) left in the notebook for reviewers."""
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
    return page(title, body, data_label, nav)


def scrub_notebook(path: str, to: str | None = None) -> NotebookNode:
    """Make an executed notebook byte-stable: drop papermill/nbclient timestamps and durations,
    give the injected-parameters cell a fixed id, and rewrite with sorted keys.

    With ``to``, the scrubbed notebook is written there atomically (papermill's output path in
    its metadata becomes ``to``) and ``path`` is removed: papermill writes to a partial file
    that only this step moves into place. Returns the scrubbed notebook node (what was written).
    """
    import os

    import nbformat

    from linkseval.store import write_text

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
