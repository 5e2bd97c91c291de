"""linkseval.report.diagram: the pipeline picture from Snakemake's rule graph."""

from __future__ import annotations

import shutil

import pytest

from linkseval.report import diagram

RULEGRAPH = """digraph snakemake_dag {
    graph[bgcolor=white, margin=0];
	0[label = "all", color = "0.00 0.6 0.85", style="rounded"];
	1[label = "score_panel", color = "0.62 0.6 0.85", style="rounded"];
	2[label = "clean_extract", color = "0.02 0.6 0.85", style="rounded"];
	3[label = "synthetic_data", color = "0.64 0.6 0.85", style="rounded"];
	4[label = "quality_summary", color = "0.50 0.6 0.85", style="rounded"];
	1 -> 0
	4 -> 0
	3 -> 1
	2 -> 1
	3 -> 2
	2 -> 4
	1 -> 4
}
"""


def test_rules_and_edges_are_read_without_the_all_target():
    g = diagram.parse_rulegraph(RULEGRAPH)
    assert g.rules == ("clean_extract", "quality_summary", "score_panel", "synthetic_data")
    assert ("synthetic_data", "clean_extract") in g.edges and len(g.edges) == 5
    assert all("all" not in e for e in g.edges)


def test_order_puts_every_rule_after_the_rules_it_needs():
    g = diagram.parse_rulegraph(RULEGRAPH)
    order = g.order()
    assert order[0] == "synthetic_data" and sorted(order) == sorted(g.rules)
    assert all(order.index(a) < order.index(b) for a, b in g.edges)


def test_reduce_drops_exactly_the_arrows_a_longer_path_implies():
    g = diagram.reduce(diagram.parse_rulegraph(RULEGRAPH))
    # synthetic -> score is implied by synthetic -> clean -> score; clean -> quality by
    # clean -> score -> quality; the rest stay
    assert set(g.edges) == {
        ("synthetic_data", "clean_extract"),
        ("clean_extract", "score_panel"),
        ("score_panel", "quality_summary"),
    }
    square = diagram.RuleGraph(
        ("a", "b", "c", "d"), (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"))
    )
    assert diagram.reduce(square) == square  # no arrow is implied by another path


def test_no_rule_name_reaches_graphviz_or_the_alt_text_unreadable():
    g = diagram.parse_rulegraph(RULEGRAPH)
    src = diagram.diagram_dot(g)
    assert 'label="clean extract"' in src and "color =" not in src  # one neutral style
    alt = diagram.alt_text(g)
    assert alt.startswith("Pipeline diagram: 4 Snakemake rules")
    assert alt.index("synthetic data") < alt.index("clean extract") < alt.index("score panel")


def test_parse_rejects_output_without_rules():
    with pytest.raises(diagram.DiagramError, match="no rules"):
        diagram.parse_rulegraph("digraph snakemake_dag {}")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
def test_render_png_is_a_png_with_the_same_bytes_every_time():
    src = diagram.diagram_dot(diagram.reduce(diagram.parse_rulegraph(RULEGRAPH)))
    first, second = diagram.render_png(src), diagram.render_png(src)
    assert first.startswith(b"\x89PNG") and first == second


def test_a_missing_graphviz_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    with pytest.raises(diagram.DiagramError, match="graphviz.*not installed"):
        diagram.render_png("digraph x {}")


def test_the_caption_counts_the_steps():
    assert diagram.caption({"rules": ["a", "b", "c"]}).startswith("The pipeline: 3 steps")
