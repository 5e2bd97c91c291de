"""Report helpers: disclosure control, tables, plain-language summary, rendering."""

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from linkseval.data.codebook import load_codebook
from linkseval.report import figures, narrative, outcomes, pages, tables
from linkseval.results import frame, make_row
from linkseval.study import outcome_labels

CODEBOOK = Path(__file__).resolve().parents[2] / "config" / "codebook.yaml"


@pytest.fixture(autouse=True)
def _codebook_labels():
    """Pages get the study's outcome labels (the codebook's), as the notebooks set them."""
    outcomes.set_outcome_labels(outcome_labels(load_codebook(CODEBOOK)))
    yield
    outcomes.set_outcome_labels({})


def _head(p_holm_wcr=0.5, p_cr1=0.03):
    """A headline table; ``p_holm_wcr`` is the p-value of the robust methods WCR and RI-t (the
    default primary method), ``p_cr1`` CR1's; RI's is 0.6."""
    rows = []
    for o in ["communication", "workload", "leadership", "teamwork", "safety_systems", "overall"]:
        for m, p in [
            ("CR1", p_cr1),
            ("WCR bootstrap", p_holm_wcr),
            ("randomization inference", 0.6),
            ("randomization inference (t)", p_holm_wcr),
        ]:
            rows.append(
                dict(
                    instrument="safequest",
                    outcome=o,
                    method=m,
                    estimate=1.0,
                    std_error=0.5,
                    ci_low=-0.5,
                    ci_high=2.5,
                    p_value=p,
                    p_holm=p if o != "overall" else np.nan,
                    p_bh=p,
                    n_units=1000,
                    n_treated=7,
                    n_draws=9999,
                    note="",
                )
            )
    return pd.DataFrame(rows)


def test_suppress_small_hides_values_and_counts():
    df = pd.DataFrame({"year": [2013, 2014], "n_respondents": [3, 12], "percent": [88.1, 87.5]})
    out = tables.suppress_small(df, "n_respondents", 5, ["percent"])
    assert out["percent"].tolist() == ["suppressed", 87.5]
    assert out["n_respondents"].tolist() == ["<5", 12]


def test_headline_table_has_every_method_and_adjusted_p():
    t = tables.headline_table(_head())
    assert len(t) == 6 and t["Outcome"].iloc[0] == "Communication"
    assert t["CR1: 95% CI"].iloc[0] == "[-0.50, 2.50]"
    assert t["WCR bootstrap: p"].iloc[0] == "0.500 (Holm 0.500)"
    assert t["CR1: p"].iloc[-1] == "0.030"  # overall: not in the family, no Holm


def test_family_table_shows_the_family_wise_intervals_of_family_outcomes():
    head = _head()
    assert tables.family_table(head).empty  # a headline without them: no table
    fam = head["outcome"] != "overall"
    head["ci_low_fw"] = np.where(fam, -1.25, np.nan)
    head["ci_high_fw"] = np.where(fam, 3.5, np.nan)
    t = tables.family_table(head)
    assert t["Outcome"].tolist() == [
        "Communication",
        "Workload",
        "Leadership",
        "Teamwork",
        "Safety Systems & Learning",
    ]
    assert (t["WCR bootstrap"] == "[-1.25, 3.50]").all()
    assert "each at 99%" in narrative.family_caption(5, 0.05)
    est = head.assign(comparison="main", estimator="twfe", term="treated_post")
    est = pd.concat([est, est.assign(estimator="did2x2", variant="2013-2015")], ignore_index=True)
    assert tables.family_wise_rows(est, "main")["outcome"].nunique() == 5
    assert tables.family_wise_rows(est, "other").empty
    page = narrative.index_page(head, [], "SYNTHETIC DATA", list(head.outcome.unique()[:5]))
    assert "Simultaneous 95% CIs across the five themes" in page and "[-1.25, 3.50]" in page


def test_summary_leads_with_the_primary_analysis_one_sentence_per_outcome():
    fam = ["communication", "workload", "leadership", "teamwork", "safety_systems"]
    text = narrative.summary_text(_head(), fam)
    assert "<b>7</b> practices" in text and "<b>Primary analysis</b>" in text
    assert "randomization inference on t statistics" in text and "at the 5% level" in text
    assert text.count("<li>") == 6  # the five themes and the overall score
    assert "<b>Workload</b>: +1.0 points (95% CI -0.5 to 2.5); p = 0.500, Holm-adjusted" in text
    assert "not in the adjusted family" in text  # the overall score
    assert "No theme shows an effect distinguishable from zero" in text
    assert "reject too often" in text  # CR1 p < 0.05 flagged as not to be trusted
    assert "at least one of" not in text


def test_only_the_primary_method_decides():
    """A method other than the primary one rejecting changes nothing; the primary rejecting does."""
    fam = ["workload", "teamwork"]
    head = _head(p_holm_wcr=0.5, p_cr1=0.001)  # only CR1 rejects
    assert "distinguishable from zero.</li>" not in narrative.summary_text(head, fam)
    text = narrative.summary_text(_head(p_holm_wcr=0.01, p_cr1=0.5), fam)
    assert text.count("distinguishable from zero.</li>") == 6
    assert "No theme shows" not in text and "reject too often" not in text


def test_primary_analysis_follows_the_config():
    """analysis.primary picks comparison, estimator, method and adjustment; RI as primary."""
    from linkseval.analysis import primary_analysis
    from linkseval.study import Settings

    est = _head().assign(comparison="scotland_other", estimator="twfe", term="treated_post")
    est = pd.concat([est, est.assign(comparison="deep_end_other", p_value=0.001, p_holm=0.002)])
    s = Settings(
        family=["workload"],
        primary={"method": "randomization", "adjustment": "none", "comparison": "deep_end_other"},
    )
    pr = primary_analysis(est, s).set_index("outcome")
    assert (pr.method == "randomization inference").all()
    assert (pr.comparison == "deep_end_other").all() and pr.loc["workload", "p_adjusted"] == 0.001
    assert pr.loc["workload", "adjustment"] == "none" and pr.reject.all()
    assert primary_analysis(est, Settings(family=["workload"])).p_adjusted.iloc[1] == 0.5
    bad = Settings(
        methods=["analytic", "wild_bootstrap"], primary={"method": "randomization_t"}
    ).primary_problems()
    assert bad == ["analysis.primary.method 'randomization_t' is not in analysis.methods"]
    assert Settings(alpha=0.1).primary["alpha"] == 0.1  # null: analysis.alpha
    assert primary_analysis(est, Settings(alpha=0.1, family=["workload"])).alpha.eq(0.1).all()
    (bad,) = Settings(alpha=0.05, primary={"alpha": 0.01}).primary_problems()
    assert bad.startswith("analysis.primary.alpha 0.01 differs from analysis.alpha 0.05")


def test_a_primary_alpha_unlike_analysis_alpha_stops_the_study_with_one_line():
    import yaml

    from linkseval.data.codebook import load_codebook
    from linkseval.errors import ConfigError
    from linkseval.study import load_study

    cfg = yaml.safe_load((CODEBOOK.parents[0] / "config.yaml").read_text())
    cfg["analysis"]["primary"] = {"alpha": 0.1}
    with pytest.raises(ConfigError, match=r"analysis\.primary\.alpha 0\.1 differs"):
        load_study(cfg, load_codebook(CODEBOOK))


def test_rendered_page_has_no_code_no_scripts_no_stderr(tmp_path):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("secret_code = 1")
    code.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("display_data", data={"text/html": "<p>shown</p>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), code]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    html = pages.render_notebook(str(path), "T", "SYNTHETIC DATA", [("Home", "index.html")])
    assert "shown" in html and "Title" in html
    assert "secret_code" not in html and "a warning" not in html
    assert "<script" not in html and "http" not in html
    assert html.count("SYNTHETIC DATA") == 2


def test_scrub_removes_run_times_and_moves_a_partial_notebook_into_place(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "start_time": "2026-11-22T10:00:00",
        "duration": 3.2,
        "output_path": str(tmp_path / "x.ipynb.partial.ipynb"),
        "parameters": {"outcome": "workload"},
    }
    params = nbformat.v4.new_code_cell("outcome = 'workload'", id="a1b2c3d4")
    params.metadata = {"tags": ["injected-parameters"], "papermill": {"duration": 0.1}}
    params.metadata["execution"] = {"iopub.execute_input": "2026-11-22T10:00:01"}
    nb.cells = [params]
    partial, final = tmp_path / "x.ipynb.partial.ipynb", tmp_path / "x.ipynb"
    nbformat.write(nb, partial)
    written = pages.scrub_notebook(str(partial), to=str(final))
    assert not partial.exists()
    # linkseval finish renders the returned node instead of reading the file again: same page
    page_args = ("T", "SYNTHETIC DATA", [("Home", "index.html")])
    assert written == nbformat.read(final, as_version=4)
    assert pages.render_notebook(written, *page_args) == pages.render_notebook(
        str(final), *page_args
    )
    out = nbformat.read(final, as_version=4)
    assert out.metadata["papermill"] == {
        "output_path": str(final),
        "parameters": {"outcome": "workload"},
    }
    cell = out.cells[0]
    assert cell["id"] == "injected-parameters" and "execution" not in cell.metadata
    assert cell.metadata["papermill"] == {}


def _rec(**kw):
    """A result record of the schema (linkseval.results), defaults for one outcome."""
    base = dict(instrument="safequest", outcome="workload", comparison="scotland_other")
    base.update(estimator="twfe", term="treated_post", method="CR1")
    return make_row(**{**base, **kw})


def test_comparison_groups_show_their_config_labels():
    rows = []
    for comp in ("scotland_other", "scotland_all"):
        for m in ("CR1", "WCR bootstrap"):
            rows.append(
                _rec(comparison=comp, method=m, estimate=1.0, ci_low=0.0, ci_high=2.0, p_value=0.04)
            )
    est = frame(rows)
    labels = {"scotland_all": "All Scottish practices incl. Links (descriptive baseline)"}
    t = tables.estimate_table(est, "workload", labels)
    assert t["Comparison"].tolist() == ["scotland_other", labels["scotland_all"]]
    fig = figures.fig_forest(est, "workload", "comparison", "scotland_other", labels=labels)
    ticks = [x.get_text().replace("\n", " ") for x in fig.axes[0].get_yticklabels()]
    assert labels["scotland_all"] in ticks and "scotland_other" in ticks


def test_estimate_table_and_leave_out_forest_read_estimator_and_variant_columns():
    """Variants are told apart by the ``variant`` column (no name decoding): one table row per
    estimator × variant; the leave-one-out forest names the left-out practice from it."""
    rows = [_rec(estimate=1.0, ci_low=0.0, ci_high=2.0, p_value=0.04)]
    for code, est in (("05283", 0.5), ("21420", 1.5)):
        rows.append(_rec(estimator="leave_out", variant=code, estimate=est, ci_low=0, ci_high=3))
    two = dict(estimator="did2x2", base_period=2013, period=2014, variant="2013-2014")
    rows.append(_rec(**two, estimate=0.7, ci_low=-1, ci_high=2))
    rows.append(_rec(term="event", event_time=0, estimator="event_study", estimate=9.0))
    est = frame(rows)
    t = tables.estimate_table(est, "workload")
    assert t["Estimator"].tolist() == [
        "twfe",
        "leave_out (05283)",
        "leave_out (21420)",
        "did2x2 (2013-2014)",
    ]
    fig = figures.fig_forest(est, "workload", "leave_out", "scotland_other")
    ticks = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    assert ticks == ["all Links", "without 05283", "without 21420"]  # top down


def test_honest_table_and_cross_checks_select_by_columns():
    note = "robust CI for the mean post-programme effect (event study, CR1 vcov)"
    hon = dict(estimator="honestdid", term="mean_post", note=note, estimate=1.0)
    rows = [
        _rec(**hon, variant="original", method="HonestDiD normal", ci_low=0.1, ci_high=1.9),
        _rec(**hon, variant="smoothness", bound=0.5, method="HonestDiD FLCI", ci_low=-1, ci_high=3),
        _rec(**hon, variant="relative_magnitude", bound=1, method="HonestDiD C-LF"),
        _rec(estimator="multilevel", variant="respondent", method="MixedLM (model-based)"),
        _rec(estimator="dose", variant="clp_presence", estimate=2.0),
        _rec(estimator="callaway_santanna", term="simple", method="WCR bootstrap"),
        _rec(estimator="callaway_santanna", term="dynamic", event_time=0, method="WCR bootstrap"),
        _rec(estimate=5.0),  # twfe: not a cross-check
    ]
    est = frame(rows)
    h = tables.honest_table(est)
    assert h["Restriction"].tolist() == ["original", "smoothness", "relative magnitude"]
    assert h["Bound (M, M̄)"].tolist() == ["–", "0.5", "1"]
    assert h["95% CI"].tolist() == ["[0.10, 1.90]", "[-1.00, 3.00]", "–"]
    assert tables.honest_table(est[est.estimator != "honestdid"]).empty
    c = tables.cross_checks(est)
    assert c["estimator"].tolist() == ["multilevel", "dose", "callaway_santanna"]
    assert c["term"].tolist() == ["treated_post", "treated_post", "simple"]


def test_event_table_puts_methods_side_by_side_and_the_joint_tests_last():
    base = dict(estimator="event_study")
    rows = []
    for e, est in ((1, 2.0), (-2, 0.1), (0, 1.5)):
        for m, lo, hi, p in (
            ("CR1", est - 1, est + 1, 0.01),
            ("WCR bootstrap", est - 1.5, est + 1.5, 0.04),
            ("randomization inference", np.nan, np.nan, 0.0004),
        ):
            rows.append(
                _rec(
                    **base,
                    term="event",
                    event_time=e,
                    method=m,
                    estimate=est,
                    ci_low=lo,
                    ci_high=hi,
                    p_value=p,
                )
            )
    for m, stat, p in (("CR1", 3.25, 0.07), ("randomization inference", 1.5, 0.2)):
        rows.append(_rec(**base, term="pretrend_joint", method=m, p_value=p, statistic=stat))
    rows.append(dict(rows[0], comparison="scotland_all", estimate=99.0))  # another comparison
    est = frame(rows)
    t = tables.event_table(est, "workload", "scotland_other")
    assert t["Event time"].tolist() == ["-2", "0", "1", "joint pre-trend test"]
    first = t.iloc[0]
    assert first["Estimate"] == "+0.10"
    assert first["CR1"] == "[-0.90, 1.10], p=0.010"
    assert first["WCR bootstrap"] == "[-1.40, 1.60], p=0.040"
    assert first["randomization inference"] == "p=<0.001"
    last = t.iloc[-1]
    assert last["CR1"] == "F=3.25, p=0.070" and last["randomization inference"] == "W=1.50, p=0.200"
    assert last["WCR bootstrap"] == "–"
    # the figure places each coefficient at its event_time
    fig = figures.fig_event_study(est, "workload", "scotland_other")
    xs = sorted({round(x) for line in fig.axes[0].lines for x in line.get_xdata()})
    assert {-2, 0, 1} <= set(xs)


def test_a_withheld_leave_out_row_shows_a_dash_not_nan():
    rows = [
        _rec(estimate=1.0, ci_low=0.0, ci_high=2.0, p_value=0.04),
        _rec(estimator="leave_out", variant="00002", note="not shown: the left-out practice"),
    ]
    t = tables.estimate_table(frame(rows), "workload")
    assert t["Estimate"].tolist() == ["+1.00", "–"]


def _placebo_rows():
    rows = []
    for pool in ("comparison", "deep_end"):
        for outcome, base in (("workload", 0.13), ("teamwork", 0.15)):
            for m, r in (
                ("CR1", base),
                ("WCR bootstrap", 0.05),
                ("randomization inference", 0.04),
                ("randomization inference (t)", 0.052),
            ):
                n = 200 if m == "WCR bootstrap" else 1000
                rows.append(
                    dict(
                        instrument="safequest",
                        outcome=outcome,
                        comparison="scotland_other",
                        pool=pool,
                        pool_size=90,
                        n_placebo=7,
                        method=m,
                        n_assignments=n,
                        rejections=int(r * n),
                        rate=r,
                        mc_se=(r * (1 - r) / n) ** 0.5,
                        alpha=0.05,
                    )
                )
    return pd.DataFrame(rows)


def test_placebo_table_and_verdict_state_each_methods_rates():
    pl = _placebo_rows()
    t = tables.placebo_table(pl)
    assert list(t.columns) == ["Pool", "Outcome", "CR1", "WCR", "RI", "RI-t"]
    assert len(t) == 4
    row = t[(t.Pool == "Deep End practices") & (t.Outcome == outcomes.label("teamwork"))].iloc[0]
    assert row["CR1"] == "15.0% (1.1)" and row["RI-t"] == "5.2% (0.7)"
    text = narrative.placebo_verdict(pl, 0.05)
    assert "CR1 13–15%" in text and "RI-t 5%" in text and "WCR 5% on the first 200" in text
    assert "1,000 reassignments to Deep End practices" in text
    assert text.count("range over two outcomes") == 2


def test_primary_statement_reads_the_spec_and_the_monte_carlo_range():
    mc = pd.DataFrame(
        {
            "method": ["WCR bootstrap"] * 3 + ["randomization inference"]
            + ["randomization inference (t)"] * 2,
            "true_effect": [0, 0, 2, 0, 0, 0],
            "draws": [999] * 6,
            "rejection_rate": [0.0498, 0.0626, 0.99, 0.149, 0.0396, 0.0516],
        }
    )  # fmt: skip
    text = narrative.primary_statement({}, mc)  # the schema's default primary analysis: RI-t
    assert "method <i>randomization inference (t)</i>" in text
    assert "<code>scotland_other</code>" in text
    assert "rejected 4.0–5.2% of true nulls at 5% across 2 null scenarios" in text
    assert "WCR bootstrap 5.0–6.3%, randomization inference 14.9–14.9%" in text
    assert "the one whose worst scenario is nearest 5%" in text
    ri = narrative.primary_statement({"primary": {"method": "randomization"}}, mc)
    assert "14.9–14.9%" in ri and "<i>randomization inference</i>" in ri
    assert "another method stays nearer 5%" in ri and "nearest 5%" not in ri


def _quality():
    files = [
        dict(instrument="safequest", year=2013, rows_kept=100, rows_read=104),
        dict(instrument="safequest", year=2014, rows_kept=120, rows_read=121),
        dict(instrument="safequest", year=2015, rows_kept=130, rows_read=130),
        dict(instrument="care", year=2015, rows_kept=40, rows_read=41),
    ]
    read = sum(f["rows_read"] for f in files)
    kept = sum(f["rows_kept"] for f in files)
    totals = dict(rows_read=read, rows_kept=kept, rows_quarantined=read - kept)
    return {"files": files, "totals": totals}


def test_the_index_first_screen_answers_then_shows_figure_size_and_quality():
    head = _head()
    fam = ["communication", "workload", "leadership", "teamwork", "safety_systems"]
    names = {"safequest": "Safequest", "care": "CARE"}
    html = narrative.index_page(head, [("Data quality", "dq.html")], "SYNTHETIC DATA", fam,
                                quality=_quality(), instruments=names)  # fmt: skip
    order = [
        html.index("<b>Primary analysis</b>"),
        html.index("<figure><img src='data:image/svg+xml;base64,"),  # vector
        html.index("<b>The study:</b> 1,000 practices in the primary comparison, 7 of them"),
        html.index("Safequest: 3 survey years (2013–2015), 350 respondents; CARE: 1 survey year"),
        html.index("<b>Data quality:</b> 396 rows read, 390 kept, 6 quarantined (1.5%)"),
        html.index("<h2>Headline tables</h2>"),
    ]
    assert order == sorted(order)
    assert "<a href='dq.html'>data quality</a>" in html
    assert "alt='Forest plot: the Links effect on each outcome" in html
    assert "Teamwork +1.0 (-0.5 to 2.5)" in html  # every outcome's numbers in the alt text
    again = narrative.index_page(head, [("Data quality", "dq.html")], "SYNTHETIC DATA", fam,
                                 quality=_quality(), instruments=names)  # fmt: skip
    assert again == html  # the embedded figure's bytes are deterministic


def test_the_primary_sentence_states_the_configured_level():
    from linkseval.analysis import primary_analysis
    from linkseval.study import Settings

    pr = primary_analysis(_head(), Settings(alpha=0.1, family=["workload"]))
    text = narrative.primary_sentences(pr, 1)
    assert text.count("(90% CI ") == len(pr) and "95%" not in text


def test_figure_html_escapes_alt_text_and_caption():
    from linkseval.report.pages import active_content, page

    hostile = "<img src=x onerror=alert(1)>'"
    primary = _primary_rows()
    out = figures.figure_html(figures.headline_forest(primary, _head()), hostile, hostile)
    assert "<img src=x" not in out and "&lt;img src=x onerror=alert(1)&gt;&#x27;" in out
    assert active_content(page("t", out, "")) == []
    assert len(primary) == 6


def _primary_rows():
    from linkseval.analysis import primary_analysis
    from linkseval.study import Settings

    return primary_analysis(_head(), Settings(family=["workload"]))


def test_table_html_has_caption_scoped_headers_right_aligned_numbers_and_its_own_scroll_box():
    df = pd.DataFrame({"Outcome": ["Teamwork", "Workload"], "Effect": ["+1.90", "–"],
                       "95% CI": ["[-0.7, 3.6]", "[1.0, 2.0]"], "p": [0.263, 0.04]})  # fmt: skip
    html = tables.table_html(df, "Caption <b>")
    assert html.startswith("<div class='tbl-wrap' tabindex='0' role='region' aria-label=")
    assert "<caption>Caption &lt;b&gt; <a class='csv' download='caption_b.csv'" in html
    assert html.count("scope='col'") == 4
    assert "<th scope='col'>Outcome</th>" in html  # text column: left
    assert html.count("<td class='num'>") == 6 and "<td>Teamwork</td>" in html


def test_every_table_links_its_own_csv_with_the_cells_as_shown():
    from io import StringIO
    from urllib.parse import unquote

    from linkseval.report.pages import active_content, page

    df = pd.DataFrame({"Outcome": ["Safety <Systems>", "A, B"], "p": ["0.040", "<0.001"]})
    html = tables.table_html(df, "Effects 'quoted'")
    href = re.search(r"href='data:text/csv;charset=utf-8,([^']*)'", html).group(1)
    assert "<" not in href and "," not in href and "'" not in href  # percent-encoded
    back = pd.read_csv(StringIO(unquote(href)), dtype=str)
    assert back.equals(df)  # the same cells, in the same order
    assert "download='effects_quoted.csv'" in html
    assert active_content(page("T", html, "")) == []  # a CSV data URL cannot run script
    bad = "<a href='data:text/html;charset=utf-8,<script>x</script>'>x</a>"
    assert active_content(bad) != []  # only CSV (and images) are allowed as data URLs


def test_figures_get_alt_text_from_their_titles_and_axes():
    from linkseval.report.figures import describe

    fig = figures.headline_forest(_primary_rows(), _head())
    fig.axes[0].set_title("Headline")
    alt = describe(fig)
    assert alt.startswith("Chart: Headline; horizontal axis: Links effect, percentage points")


# --- issue 16: names from the registries, design text from the spec -------------------------


def _head_with(method: str, p: float = 0.2) -> pd.DataFrame:
    """The headline of :func:`_head` with one more method's rows (its intervals family-wise)."""
    head = _head()
    head = head[head["method"] != method]
    extra = head[head["method"] == "CR1"].assign(method=method, p_value=p, p_holm=p)
    return pd.concat([head, extra], ignore_index=True)


def test_headline_and_family_tables_show_every_method_run_including_ri_t():
    head = _head_with("randomization inference (t)")
    head = head.assign(ci_low_fw=-1.0, ci_high_fw=3.0)
    t = tables.headline_table(head)
    assert "randomization inference (t): 95% CI" in t.columns  # old: three fixed methods only
    assert t["randomization inference (t): p"].iloc[0] == "0.200 (Holm 0.200)"
    methods = [c.removesuffix(": p") for c in t.columns if c.endswith(": p")]
    assert methods == [
        "CR1",
        "WCR bootstrap",
        "randomization inference",
        "randomization inference (t)",
    ]  # the registry's order
    assert "randomization inference (t)" in tables.family_table(head).columns


def test_texts_state_the_level_of_the_spec_alpha():
    head = _head()
    fam = ["communication", "workload", "leadership", "teamwork", "safety_systems"]
    t = tables.headline_table(head, alpha=0.10)
    assert "CR1: 90% CI" in t.columns and not any("95%" in c for c in t.columns)
    summary = narrative.summary_text(head, fam, alpha=0.10)
    assert "the 90% confidence intervals are wide" in summary and "95%" not in summary
    caption = narrative.headline_caption(head, fam, 0.10, "All other Scottish practices")
    assert "90% CI and p" in caption and "vs all other Scottish practices" in caption
    html = narrative.index_page(head, [], "", fam, alpha=0.10)
    assert "95%" not in html.split("<h2>Headline tables</h2>")[1]
    est = frame(
        [
            _rec(estimator="honestdid", variant="original", term="mean_post",
                 method="HonestDiD normal", ci_low=-1.0, ci_high=1.0)
        ]
    )  # fmt: skip
    assert "90% CI" in tables.honest_table(est, alpha=0.10).columns
    assert tables.level(0.05) == "95%" and tables.level(0.1) == "90%"


def test_the_headline_caption_names_the_main_comparison_of_the_spec():
    head = _head()
    fam = ["communication", "workload", "leadership", "teamwork", "safety_systems"]
    html = narrative.index_page(head, [], "", fam, comparison_label="Non-Links Deep End practices")
    assert "static two-way fixed effects vs non-Links Deep End practices" in html
    assert "TWFE vs all other Scottish practices" not in html


def test_not_applicable_is_read_from_the_applicable_column_not_the_note():
    rows = [
        _rec(method="CR1", estimate=1.0, ci_low=0.0, ci_high=2.0, p_value=0.04,
             note="not applicable would be a misleading caveat here"),
        _rec(method="WCR bootstrap", estimate=1.0, applicable=False, note="one treated cluster"),
    ]  # fmt: skip
    t = tables.estimate_table(frame(rows), "workload")
    assert t["CR1"].iloc[0] == "[0.00, 2.00], p=0.040"
    assert t["WCR bootstrap"].iloc[0] == "not applicable"


def test_placebo_verdict_and_table_name_methods_by_the_registry():
    from linkseval.estimators import method_short

    assert [method_short(m) for m in ("CR1", "WCR bootstrap", "randomization inference")] == [
        "CR1",
        "WCR",
        "RI",
    ]
    assert method_short("randomization inference (t)") == "RI-t"


def test_inference_paragraph_and_design_follow_the_spec():
    text = narrative.inference_sentence(["analytic", "wild_bootstrap"], "rademacher")
    assert "two kinds of inference" in text and "(Rademacher weights)" in text
    assert "randomization" not in text
    four = narrative.inference_sentence(
        ["analytic", "wild_bootstrap", "randomization", "randomization_t"]
    )
    assert "four kinds" in four and "t statistics" in four
    design = narrative.design_complements(
        {"estimators": ["twfe", "imputation"], "sensitivity": {"dose": False}}
    )
    assert "imputation estimator" in design and "event study" not in design
    assert "dose" not in design and "HonestDiD" not in design  # no event study, no bounds


def test_the_design_section_is_derived_from_the_config_and_the_register():
    cfg = {
        "years": [2015, 2012, 2013, 2014, 2016],
        "scoring": {"percent_formula": "pomp"},
        "analysis": {"methods": ["analytic", "randomization_t"], "estimators": ["twfe"]},
    }
    html = narrative.design_section(cfg, 19)
    assert "In every survey year of 2012–2016" in html and "each of the 19 Links practices" in html
    assert "(All other Scottish practices)" in html and "(the Links programme has 19)" in html
    assert "randomization inference on t statistics" in html and "bootstrap" not in html
    assert "100·(mean − min)/(max − min)" in html
    default = narrative.design_section({"analysis": {}}, 3)  # no scoring key: the schema's formula
    assert "100·mean/max of the scale" in default
    assert "7" not in re.sub(r"&#x[0-9a-f]+;", "", html)  # no count written into the text


def test_figures_are_vector_svg_with_the_same_bytes_every_run():
    """Figures are embedded as SVG (sharp in print, issue 19): real vector paths, no date, and
    identical bytes when drawn again (svg.hashsalt fixes the ids)."""
    import base64
    import re

    primary = _primary_rows()
    first = figures.figure_html(figures.headline_forest(primary, _head()), "alt")
    second = figures.figure_html(figures.headline_forest(primary, _head()), "alt")
    assert first == second
    uri = re.search(r"src='data:image/svg\+xml;base64,([^']+)'", first)
    svg = base64.b64decode(uri.group(1)).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<path" in svg
    assert "<dc:date>" not in svg and "<image" not in svg  # no date, no embedded raster


def test_staggered_section_shows_every_robust_estimator_in_vector_figures():
    """A staggered study's DiD page: the aggregate forest has TWFE, every CS overall term, the
    imputation estimate and SDID/SC per cohort under their own (jackknife) SE; the heat maps
    and the event study are vector SVG (no embedded raster); the weights statement uses the
    dCDH measures as defined; a one-start study shows no staggered section."""
    import base64
    import re

    from test_analysis import practice_panel

    from linkseval.analysis import estimate_outcome
    from linkseval.study import Settings
    from linkseval.twfe_weights import weights_tables

    years = (2011, 2012, 2013, 2014, 2015, 2016)
    df = practice_panel(n=80, seed=2, years=years,
                        cohort_of=lambda i: 2014 if i < 7 else (2016 if i < 13 else 0))  # fmt: skip
    s = Settings(methods=["analytic", "randomization"], ri_draws=99, leave_one_out=False,
                 estimators=["twfe", "callaway_santanna", "imputation", "sdid", "sc"])  # fmt: skip
    est = estimate_outcome(df, s, "safequest", "workload")
    rows = figures.aggregate_rows(est, "workload", s.main_comparison)
    names = list(rows["name"])
    assert names[0] == "TWFE (static)" and "Callaway–Sant'Anna, by cohort (overall)" in names
    assert "imputation (BJS), simple" in names
    assert {"synthetic DiD, cohort 2014", "synthetic control, cohort 2016"} <= set(names)
    assert set(rows.loc[rows.estimator == "sdid", "method"]) == {"jackknife SE"}
    assert "randomization inference" not in set(rows["method"])
    cells, summary = weights_tables(df, s, "safequest", "workload")
    staggered, row = narrative.staggered_view("workload", cells, summary)
    assert staggered and row is not None and row["n_treated_cells"] == cells["n_units"].sum()
    text = narrative.twfe_weights_text(row)
    assert f"{row['sigma_fe']:.2f} points" in text and "could be 0 despite this estimate" in text
    for fig in (
        figures.fig_cohort_time(est, "workload", s.main_comparison),
        figures.fig_twfe_weights(cells, "workload"),
        figures.fig_cs_event_study(est, "workload", s.main_comparison),
        figures.fig_aggregates(est, "workload", s.main_comparison),
    ):
        svg = figures.figure_svg(fig).decode()
        assert "<path" in svg and "<image" not in svg  # vector, no embedded raster
    alt = figures.describe(figures.fig_twfe_weights(cells, "workload"))
    assert "heat map of" in alt and "values from" in alt  # the alt text gives the range
    one = practice_panel(n=60)
    c1, m1 = weights_tables(one, s, "safequest", "workload")
    assert narrative.staggered_view("workload", c1, m1) == (False, None)
    html = figures.figure_html(figures.fig_cohort_time(est, "workload", s.main_comparison), "a")
    b64 = re.search(r"base64,([^']+)'", html).group(1)
    assert b"<image" not in base64.b64decode(b64)
