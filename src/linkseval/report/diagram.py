"""A picture of the pipeline: Snakemake's graph of rules, drawn with graphviz.

``snakemake --rulegraph`` (run on the same Snakefile and effective config) gives the rules and
which feeds which; :func:`parse_rulegraph` reads its nodes and edges, :func:`diagram_dot` writes
them again in a fixed order and one accessible style (dark text on light boxes, no colour
coding), and :func:`render_png` draws that with graphviz's ``dot``. Both programs run as
argument lists, never through a shell; the config reaches Snakemake as a file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from linkseval.errors import LinksevalError

_NODE = re.compile(r'^\s*(\d+)\[label = "([^"]+)"', re.M)
_EDGE = re.compile(r"^\s*(\d+) -> (\d+)\s*$", re.M)


class DiagramError(LinksevalError):
    """The rule graph could not be made or drawn."""


@dataclass(frozen=True)
class RuleGraph:
    """The workflow's rules and the edges ``(from, to)`` between them (by rule name)."""

    rules: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]

    def order(self) -> list[str]:
        """Return the rules in a stable topological order (ties by name)."""
        pending = {r: {a for a, b in self.edges if b == r} for r in self.rules}
        out: list[str] = []
        while pending:
            ready = sorted(r for r, deps in pending.items() if not deps - set(out))
            if not ready:  # a cycle cannot come from Snakemake; keep the rest by name
                ready = sorted(pending)
            out.append(ready[0])
            del pending[ready[0]]
        return out


def parse_rulegraph(dot_text: str, drop: tuple[str, ...] = ("all",)) -> RuleGraph:
    """Read the rules and edges of Snakemake's ``--rulegraph`` output.

    The target rules in ``drop`` (``all`` collects outputs; it is not a step) are left out.
    """
    names = {i: n for i, n in _NODE.findall(dot_text) if n not in drop}
    if not names:
        raise DiagramError("snakemake --rulegraph printed no rules")
    pairs = {(a, b) for a, b in _EDGE.findall(dot_text) if a in names and b in names}
    edges = sorted({(names[a], names[b]) for a, b in pairs})
    return RuleGraph(tuple(sorted(set(names.values()))), tuple(edges))


def reduce(graph: RuleGraph) -> RuleGraph:
    """Return the transitive reduction of the graph.

    An arrow a -> b is left out when a longer path a -> … -> b exists (what b needs from a
    still flows, through the steps between).
    """
    succ: dict[str, set[str]] = {r: set() for r in graph.rules}
    for a, b in graph.edges:
        succ[a].add(b)

    def reaches(src: str, dst: str, skip: tuple[str, str]) -> bool:
        seen, todo = set(), [src]
        while todo:
            node = todo.pop()
            for nxt in succ[node]:
                if (node, nxt) == skip or nxt in seen:
                    continue
                if nxt == dst:
                    return True
                seen.add(nxt)
                todo.append(nxt)
        return False

    kept = tuple(e for e in graph.edges if not reaches(e[0], e[1], e))
    return RuleGraph(graph.rules, kept)


def label(rule: str) -> str:
    """Return a rule's name as a reader sees it: 'clean_extract' -> 'clean extract'."""
    return rule.replace("_", " ")


def diagram_dot(graph: RuleGraph) -> str:
    """Return the graph as graphviz source: top to bottom, fixed order, one neutral style."""
    ids = {r: f"r{i}" for i, r in enumerate(graph.order())}
    lines = [
        "digraph pipeline {",
        '  graph [rankdir=TB, bgcolor="white", margin=0.1, nodesep=0.25, ranksep=0.35];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f0f0f0", color="#555555", '
        'fontname="DejaVu Sans", fontsize=11, fontcolor="#111111"];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    for rule, node in ids.items():
        lines.append(f'  {node} [label="{label(rule)}"];')
    for a, b in graph.edges:
        lines.append(f"  {ids[a]} -> {ids[b]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def alt_text(graph: RuleGraph) -> str:
    """Return the diagram's alt text: how many steps and which, in the order they can run."""
    steps = [label(r) for r in graph.order()]
    return (
        f"Pipeline diagram: {len(steps)} Snakemake rules, each box a step and each arrow "
        f"outputs one step hands to the next; in an order they can run: {', '.join(steps)}."
    )


def caption(info: dict) -> str:
    """Return the diagram's caption from its JSON (``linkseval diagram --out-json``)."""
    return (
        f"The pipeline: {len(info['rules'])} steps (Snakemake rules), each arrow the files one "
        "step hands to the next (arrows implied by a longer path are left out). Each step's log "
        "and timing are under results/logs and results/benchmarks."
    )


def rulegraph(snakefile: str | Path, workdir: str | Path, config: dict) -> str:
    """Return ``snakemake --rulegraph`` of ``snakefile`` in ``workdir`` with ``config``."""
    with tempfile.TemporaryDirectory(prefix="linkseval-diagram-") as tmp:
        cfg = Path(tmp, "config.json")
        cfg.write_text(json.dumps(config, sort_keys=True), encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(snakefile),
            "--directory",
            str(workdir),
            "--configfile",
            str(cfg),
            "--replace-workflow-config",  # this run's effective config, not merged with the file's
            "--rulegraph",
            "--nolock",
            "all",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()][-1:] or ["no message"]
        raise DiagramError(f"snakemake --rulegraph failed (exit {proc.returncode}): {tail[0]}")
    return proc.stdout


# the diagram is drawn at SCALE × 110 dpi and shown at 1/SCALE of its pixel width: sharp in the
# PDF and on high-density screens
SCALE = 2
DPI = 110 * SCALE


def render_png(dot_source: str, dpi: int = DPI) -> bytes:
    """Draw graphviz source as PNG with ``dot`` (a missing graphviz is a DiagramError)."""
    exe = shutil.which("dot")
    if exe is None:
        raise DiagramError(
            "the pipeline diagram is drawn with graphviz, which is not installed: install "
            "Debian's 'graphviz' package (`make browser` does, as root)"
        )
    proc = subprocess.run(
        [exe, "-Tpng", f"-Gdpi={dpi}"], input=dot_source.encode(), capture_output=True, timeout=120
    )
    if proc.returncode != 0 or not proc.stdout.startswith(b"\x89PNG"):
        msg = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise DiagramError(f"graphviz could not draw the pipeline diagram: {msg[0]}")
    return proc.stdout
