"""The report's sentences and its entry page: the primary analysis, the summary, the verdicts.

Every count and design fact in a sentence is derived from the results or the spec; values reach
the HTML only through :func:`linkseval.report.pages.fragment`, which escapes them.
"""

from __future__ import annotations

import pandas as pd

from linkseval.estimators import get_estimator, method_short
from linkseval.report.outcomes import label
from linkseval.report.pages import fragment, page
from linkseval.report.site import PDF_NAME, REPORT_TITLE
from linkseval.report.tables import (
    PLACEBO_POOLS,
    family_table,
    headline_table,
    level,
    methods_in,
    n_family,
    table_html,
)
from linkseval.study import section_defaults

_ALPHA = section_defaults("analysis", "alpha")  # keyword defaults: the config schema's


def join_words(items: list[str]) -> str:
    """Join phrases as a sentence lists them: ``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def inference_sentence(methods: list[str], bootstrap_weights: str = "webb") -> str:
    """Say which inference the DiD page shows side by side (HTML paragraph).

    ``methods``: the spec's ``analysis.methods`` (registry names), described by the registry
    (:data:`linkseval.inference.registry.METHOD_LABELS`).
    """
    from linkseval.inference.registry import method_description

    kinds = [method_description(m, bootstrap_weights) for m in methods]
    return fragment(
        "<p>The Links effect on this outcome, in percentage points of the % score, with {} "
        "kind{} of inference side by side: {}.</p>",
        _count(len(kinds)),
        "" if len(kinds) == 1 else "s",
        join_words(kinds),
    )


# the study's checks besides its estimators, by config switch (analysis.sensitivity, honestdid)
SENSITIVITY_PHRASES = {
    "multilevel": "a respondent-level multilevel model",
    "leave_one_out": "leave-one-out",
    "dose": "a dose by practitioner presence",
}


def design_complements(analysis: dict) -> str:
    """List what completes the static TWFE effect in this run, from the ``analysis`` config.

    The other estimators of ``analysis.estimators`` by their registry labels, then the
    sensitivity analyses that are switched on and HonestDiD bounds if enabled.
    """
    from linkseval.analysis import HEADLINE_ESTIMATOR
    from linkseval.study import analysis_config

    a = analysis_config(analysis)
    parts = [estimator_label(e) for e in a["estimators"] if e != HEADLINE_ESTIMATOR]
    sens = a["sensitivity"]
    parts += [p for key, p in SENSITIVITY_PHRASES.items() if sens.get(key)]
    if a["honestdid"].get("enabled") and "event_study" in a["estimators"]:
        parts.append("HonestDiD bounds")
    return join_words(parts)


def _count(n: int) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if 0 <= n < len(words) else str(n)


def method_phrase(row_name: str) -> str:
    """Return how a sentence names a method row: its registry description, no parentheses.

    'WCR bootstrap' -> 'the wild cluster restricted bootstrap'; 'randomization inference (t)'
    -> 'randomization inference on t statistics'; a name the registry lacks is kept.
    """
    import re

    from linkseval.inference.registry import METHOD_LABELS

    for lab in METHOD_LABELS.values():
        if lab.row == row_name:
            return re.sub(r" \(.*\)$", "", lab.description)
    return row_name


def estimator_label(estimator: str) -> str:
    """Return what the report calls a registered estimator (its registry ``label``)."""
    try:
        return get_estimator(estimator).label
    except Exception:  # not a registry estimator (e.g. a cross-check): its name
        return estimator


ADJUSTMENTS = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


def family_caption(n_family: int, alpha: float = _ALPHA) -> str:
    """Say in words what the family-wise intervals promise."""
    level = 100 * (1 - alpha / n_family)
    return (
        f"Simultaneous {100 * (1 - alpha):.0f}% CIs across the {_count(n_family)} themes "
        f"(Bonferroni: "
        f"each at {level:.4g}%): with probability at least {100 * (1 - alpha):.0f}%, all "
        f"{_count(n_family)} intervals cover their true effects at once. An interval that "
        "excludes 0 here is also significant after the Bonferroni (and so the Holm) adjustment."
    )


def primary_sentences(primary: pd.DataFrame, n_family: int) -> str:
    """Write one plain sentence per outcome of the primary analysis (HTML list)."""
    items = []
    for r in primary.itertuples():
        if r.in_family and r.adjustment != "none":
            adj = fragment(
                ", {}-adjusted across the {} themes", ADJUSTMENTS[r.adjustment], _count(n_family)
            )
        else:
            adj = "" if r.in_family else " (not in the adjusted family)"
        verdict = (
            "distinguishable from zero"
            if r.reject
            else "not distinguishable from zero: the data are consistent with no effect and with "
            "any effect in the interval"
        )
        items.append(
            fragment(
                "<li><b>{}</b>: {} points ({:g}% CI {} to {}); p = {}{}: {}.</li>",
                label(r.outcome),
                f"{r.estimate:+.1f}",
                100 * (1 - r.alpha),
                f"{r.ci_low:.1f}",
                f"{r.ci_high:.1f}",
                f"{r.p_adjusted:.3f}",
                adj,
                verdict,
            )
        )
    return "<ul>" + "".join(items) + "</ul>"


def summary_text(
    head: pd.DataFrame,
    family: list[str],
    alpha: float = _ALPHA,
    primary: pd.DataFrame | None = None,
) -> str:
    """Write what can and cannot be concluded (HTML), led by the pre-specified primary analysis.

    ``primary``: :func:`linkseval.analysis.primary_analysis`'s rows; None: the default primary
    analysis computed from the headline (static TWFE, main comparison, WCR bootstrap, Holm). Only
    the primary method decides; the other methods are sensitivity analyses.
    """
    from linkseval.analysis import primary_analysis
    from linkseval.study import Settings

    if primary is None:
        primary = primary_analysis(head, Settings(alpha=alpha, family=list(family)))
    n_treated = int(head["n_treated"].max())
    n_units = int(head["n_units"].max())
    widths = (head["ci_high"] - head["ci_low"]).dropna()
    first = primary.iloc[0] if len(primary) else None
    parts = [
        fragment(
            "<p>The Links programme ran in <b>{}</b> practices; they are compared with {} others. "
            "With so few treated practices, each estimate rests on a handful of practices' "
            "year-to-year changes, and the {} confidence intervals are wide: typically {:.1f} "
            "percentage points from end to end.</p>",
            n_treated,
            n_units - n_treated,
            level(alpha),
            widths.median(),
        )
    ]
    if first is not None:
        parts.append(
            fragment(
                "<p><b>Primary analysis</b> (stated in advance, <code>analysis.primary</code>): "
                "{} against <i>{}</i>, tested with {} at the {:g}% level. In plain words:</p>",
                estimator_label(first.estimator),
                first.comparison_label,
                method_phrase(first.method),
                100 * alpha,
            )
        )
        parts.append(primary_sentences(primary, n_family(head, family)))
        fam = primary[primary["in_family"]]
        if len(fam) and not fam["reject"].any():
            parts.append(
                "<p>No theme shows an effect distinguishable from zero in the primary analysis; "
                'the data cannot confirm the "links effect" that the descriptive comparison '
                "suggested.</p>"
            )
        parts.append(
            "<p>Every other estimate and method (the tables below, the DiD pages) is a "
            "sensitivity analysis: it shows how robust the primary result is, it does not "
            "replace it.</p>"
        )
    cr1 = head[head["outcome"].isin(family) & (head["method"] == "CR1") & (head["p_value"] < alpha)]
    if not cr1.empty:
        parts.append(
            "<p class='note'>Conventional cluster-robust (CR1) p-values are shown for comparison "
            "only: with few treated clusters they reject too often (see the Monte Carlo table on "
            "the methods page).</p>"
        )
    parts.append(
        "<p>A difference-in-differences estimate is causal only if, without the programme, the "
        "Links practices would have changed like the comparison practices; the event-study and "
        "comparison-group pages show how far the data can check that.</p>"
    )
    return "\n".join(parts)


def null_rejection_ranges(monte_carlo: pd.DataFrame) -> dict[str, tuple[float, float, int]]:
    """Return each method's rejection range (%) over the Monte Carlo study's null scenarios.

    Method name -> (lowest %, highest %, number of null scenarios), from the main runs (the
    fewest draws), in the table's order.
    """
    m = monte_carlo[monte_carlo["true_effect"] == 0]
    out = {}
    for method, g in m.groupby("method", sort=False):
        g = g[g["draws"] == g["draws"].min()]
        rate = 100 * g["rejection_rate"]
        out[method] = (float(rate.min()), float(rate.max()), len(g))
    return out


def primary_statement(analysis: dict, monte_carlo: pd.DataFrame | None = None) -> str:
    """State the pre-specified primary analysis and the Monte Carlo evidence for it (HTML).

    ``analysis``: the run's ``analysis`` config (defaults: the schema's, through
    :class:`~linkseval.study.Settings`); ``monte_carlo``: the Monte Carlo summary table, whose
    null scenarios (true effect 0, the fewest draws) give the method's rejection range.
    """
    from linkseval.analysis import primary_method
    from linkseval.study import Settings

    pr = Settings.from_config(analysis).primary
    name = primary_method(pr)
    why = ""
    if monte_carlo is not None:
        ranges = null_rejection_ranges(monte_carlo)
        if name in ranges:
            off = {m: max(abs(a - 5), abs(b - 5)) for m, (a, b, _) in ranges.items()}
            nearest = min(off, key=off.get) == name
            lo, hi, n = ranges.pop(name)
            others = ", ".join(f"{m} {a:.1f}–{b:.1f}%" for m, (a, b, _) in ranges.items())
            why = fragment(
                " In the Monte Carlo study of this design it rejected {:.1f}–{:.1f}% of true "
                "nulls at 5% across {} null scenarios (the others: {}){}.",
                lo,
                hi,
                n,
                others or "none",
                ": of the methods run, the one whose worst scenario is nearest 5%"
                if nearest
                else "; another method stays nearer 5% (validation/README.md)",
            )
    head = fragment(
        "<h2>The primary analysis</h2><p>Stated before the results "
        "(<code>analysis.primary</code>): estimator <code>{}</code> against <code>{}</code>, "
        "method <i>{}</i>, adjustment across the family: {}. The index leads with it, one sentence "
        "per outcome; every other estimate and method is a sensitivity analysis, and no decision "
        "takes the best of several methods.",
        pr["estimator"],
        pr["comparison"],
        name,
        pr["adjustment"],
    )
    return head + why + " The placebo study below shows how the same methods behave on this "
    "study's own data.</p>"


def placebo_verdict(placebo: pd.DataFrame, alpha: float = _ALPHA) -> str:
    """Say in one sentence (HTML) how often each method rejected placebo effects on this data."""
    parts = []
    for pool, g in placebo.groupby("pool", sort=False):
        rates = []
        n = int(g["n_assignments"].max())
        for m in methods_in(g):
            sel = g["method"] == m
            r = g.loc[sel, "rate"].dropna()
            if len(r):
                lo, hi = 100 * r.min(), 100 * r.max()
                span = f"{lo:.0f}%" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}%"
                n_m = int(g.loc[sel, "n_assignments"].max())
                on = f" on the first {n_m:,}" if n_m != n else ""
                rates.append(f"{method_short(m)} {span}{on}")
        parts.append(
            fragment(
                "{} ({} reassignments to {}; range over {} outcomes)",
                ", ".join(rates),
                f"{n:,}",
                PLACEBO_POOLS.get(pool, pool),
                _count(g["outcome"].nunique()),
            )
        )
    return fragment(
        "<p><b>Placebo study on this data:</b> with the programme reassigned at random to "
        "never-treated practices with the real cohort sizes (no true effect), the methods "
        "rejected at the {:g}% level this often: {}. A method whose rate is near {:g}% holds its "
        "size on these data (methods page).</p>",
        100 * alpha,
        "; ".join(parts),
        100 * alpha,
    )


def staggered_view(
    outcome: str, cells: pd.DataFrame | None, summary: pd.DataFrame | None
) -> tuple[bool, pd.Series | None]:
    """Return what a DiD page's staggered section shows for one outcome.

    ``(staggered, weights_row)``: whether the Links practices of the main comparison started
    in more than one year (from the TWFE weights' cohort × year cells), and the outcome's TWFE
    weights summary where the study is staggered or TWFE weighs a practice-year negatively
    (else None).
    """
    staggered = False
    if cells is not None:
        staggered = cells.loc[cells["outcome"] == outcome, "cohort"].nunique() > 1
    row = None
    if summary is not None:
        sel = summary[summary["outcome"] == outcome]
        if len(sel) and (staggered or int(sel["n_negative"].iloc[0]) > 0):
            row = sel.iloc[0]
    return staggered, row


def twfe_weights_text(summary: pd.Series) -> str:
    """Say (HTML) whether the static TWFE estimate's weights can mislead, in plain words.

    de Chaisemartin & D'Haultfœuille (2020): the number and sum of negative weights; σ_fe, the
    least spread of the practice-years' effects under which the average effect could be 0
    with this TWFE estimate (Corollary 1(i)), and σ_sign, the least spread under which TWFE
    could have the opposite sign to every practice-year's effect (1(ii)).
    """
    n_neg, n = int(summary["n_negative"]), int(summary["n_treated_cells"])
    fe = fragment(
        "the average effect on the Links practice-years could be 0 despite this estimate only if "
        "their effects varied with a standard deviation of at least {:.2f} points",
        float(summary["sigma_fe"]),
    )
    if n_neg == 0:
        return (
            fragment(
                "<p><b>TWFE weights:</b> the static TWFE estimate ({:+.2f}) is a weighted "
                "average of the {} Links practice-years' effects with no negative weight, so it "
                "lies within their range; ",
                float(summary["beta"]),
                f"{n:,}",
            )
            + fe
            + ".</p>"
        )
    return (
        fragment(
            "<p><b>TWFE weights:</b> the static TWFE estimate ({:+.2f}) weighs {} of the {} "
            "Links practice-years negatively (sum {:+.3f}): with staggered starts, early "
            "cohorts' later years serve as controls for later cohorts, so effects that grow "
            "over time bias it. ",
            float(summary["beta"]),
            f"{n_neg:,}",
            f"{n:,}",
            float(summary["sum_negative"]),
        )
        + fe[0].upper()
        + fe[1:]
        + fragment(
            "; TWFE could even have the opposite sign to every practice-year's effect if they "
            "varied with a standard deviation of {:.2f} points or more. The heterogeneity-robust "
            "estimators above do not weigh any practice-year negatively.</p>",
            float(summary["sigma_sign"]),
        )
    )


def single_start_text() -> str:
    """Say (HTML) why a DiD page has no staggered section."""
    return (
        "<p>The Links practices started in one year and static TWFE weighs no practice-year "
        "negatively: its estimate is an average of the practice-years' effects.</p>"
    )


def forest_alt(primary: pd.DataFrame) -> str:
    """Return the headline figure's alt text: what it shows, with every outcome's numbers."""
    if not len(primary):
        return "Forest plot: no primary analysis rows."
    level = 100 * (1 - float(primary["alpha"].iloc[0]))
    each = "; ".join(
        f"{label(r.outcome)} {r.estimate:+.1f} ({r.ci_low:.1f} to {r.ci_high:.1f})"
        for r in primary.itertuples()
    )
    return (
        f"Forest plot: the Links effect on each outcome in percentage points with its {level:g}% "
        f"interval under the primary analysis ({primary['method'].iloc[0]}), other methods as "
        f"lighter marks, zero dashed. {each}."
    )


def study_size(
    head: pd.DataFrame, quality: dict | None, instruments: dict[str, str] | None = None
) -> str:
    """Write the study's size in one line: practices, Links practices, years, respondents.

    Practices from the headline (the primary comparison's panel); survey years and respondents
    kept per instrument from the quality summary; ``instruments``: id -> name to show.
    """
    n_units = int(head["n_units"].max()) if len(head) else 0
    n_treated = int(head["n_treated"].max()) if len(head) else 0
    text = fragment(
        "<p class='size'><b>The study:</b> {} practices in the primary comparison, {} of them "
        "Links practices",
        f"{n_units:,}",
        n_treated,
    )
    files = (quality or {}).get("files", [])
    for ins in dict.fromkeys(f["instrument"] for f in files):  # the study's order
        mine = [f for f in files if f["instrument"] == ins]
        years = sorted({int(f["year"]) for f in mine if f.get("year") is not None})
        span = f"{years[0]}–{years[-1]}" if len(years) > 1 else (str(years[0]) if years else "")
        text += fragment(
            "; {}: {} survey year{} ({}), {} respondents",
            (instruments or {}).get(ins, ins),
            len(years),
            "" if len(years) == 1 else "s",
            span,
            f"{sum(int(f['rows_kept']) for f in mine):,}",
        )
    return text + ".</p>"


def quality_line(quality: dict | None, href: str = "data_quality.html") -> str:
    """Write the data-quality line: rows read, kept and quarantined, linked to the reasons."""
    if not quality:
        return ""
    t = quality["totals"]
    read = int(t["rows_read"])
    share = 100 * int(t["rows_quarantined"]) / read if read else 0.0
    return fragment(
        "<p class='size'><b>Data quality:</b> {} rows read, {} kept, {} quarantined ({:.1f}%), "
        "each with its reason: <a href='{}'>data quality</a>.</p>",
        f"{read:,}",
        f"{int(t['rows_kept']):,}",
        f"{int(t['rows_quarantined']):,}",
        share,
        href,
    )


def headline_caption(
    head: pd.DataFrame, family: list[str], alpha: float = _ALPHA, comparison_label: str = ""
) -> str:
    """Say what the headline table holds: its estimator and comparison, level and adjustment."""
    from linkseval.analysis import HEADLINE_ESTIMATOR

    return (
        f"Links effect (percentage points of the % score; "
        f"{estimator_label(HEADLINE_ESTIMATOR)} vs {comparison_label[:1].lower()}"
        f"{comparison_label[1:]}): "
        f"{level(alpha)} CI and p under each inference method; Holm-adjusted across the "
        f"{_count(n_family(head, family))} themes"
    )


def index_page(
    head: pd.DataFrame,
    pages: list[tuple[str, str]],
    data_label: str,
    family: list[str],
    alpha: float = _ALPHA,
    placebo: pd.DataFrame | None = None,
    primary: pd.DataFrame | None = None,
    quality: dict | None = None,
    instruments: dict[str, str] | None = None,
    comparison_label: str | None = None,
) -> str:
    """Build the entry page.

    First screen: the primary analysis in one sentence per outcome, the headline forest plot,
    the study's size and one data-quality line; then the full headline tables, the placebo
    verdict and links to every page. ``comparison_label``: the main comparison's label (the
    headline's design: :func:`linkseval.analysis.headline`); None: the primary analysis'.
    """
    from linkseval.analysis import primary_analysis
    from linkseval.report.figures import figure_html, headline_forest
    from linkseval.study import Settings

    if primary is None:
        primary = primary_analysis(head, Settings(alpha=alpha, family=list(family)))
    against = comparison_label
    if against is None:
        against = str(primary["comparison_label"].iloc[0]) if len(primary) else ""
    table = table_html(headline_table(head, alpha), headline_caption(head, family, alpha, against))
    fam = family_table(head)
    if len(fam):
        table += table_html(fam, family_caption(len(fam), alpha))
    items = "".join(fragment("<li><a href='{}'>{}</a></li>", h, t) for t, h in pages)
    dq = next((h for t, h in pages if t == "Data quality"), "data_quality.html")
    forest = figure_html(
        headline_forest(primary, head),
        forest_alt(primary),
        "Figure 1. The Links effect on each outcome: the primary analysis (black) and the other "
        "inference methods (grey).",
    )
    pdf = fragment(
        "<p class='caption'>To print or pass round: <a href='{}'>the whole report as one PDF</a>"
        " (every page, numbered, with the data label on each).</p>",
        PDF_NAME,
    )
    body = (
        "<h1>Links Worker Programme: safety-climate evaluation</h1>"
        + pdf
        + "<h2>What can and cannot be concluded</h2>"
        + summary_text(head, family, alpha, primary)
        + forest
        + study_size(head, quality, instruments)
        + quality_line(quality, dq)
        + (placebo_verdict(placebo, alpha) if placebo is not None and len(placebo) else "")
        + "<h2>Headline tables</h2>"
        + table
        + f"<h2>Pages</h2><ul>{items}</ul>"
    )
    return page(REPORT_TITLE, body, data_label, [("Home", "index.html")] + pages)


PERCENT_FORMULAS = {
    "mean_over_max": "100·mean/max of the scale",
    "pomp": "100·(mean − min)/(max − min)",
}


def design_section(config: dict, n_links: int) -> str:
    """Return the methods page's design: in plain words first, then technically (HTML).

    Parameters
    ----------
    config : dict
        The run's effective config (``years``, ``scoring``, ``analysis``; the provenance record).
    n_links : int
        How many Links practices the register names.
    """
    from linkseval.inference.registry import method_description
    from linkseval.study import analysis_config

    a = analysis_config(config.get("analysis", {}))
    scoring = {**section_defaults("scoring"), **config.get("scoring", {})}
    years = sorted(int(y) for y in config.get("years", []))
    span = f"{years[0]}–{years[-1]}" if years else "the survey years"
    main = a["comparisons"][a["main_comparison"]]
    formula = PERCENT_FORMULAS.get(scoring.get("percent_formula", ""), "the scale's score")
    score = (
        f"% scores (mean of respondents' theme scores, {formula})"
        if a["scale"] == "percent"
        else "mean scores (mean of respondents' theme scores)"
    )
    weighted = "weighted by respondents" if a["weights"] == "n_respondents" else "unweighted"
    methods = [m for m in a["methods"] if m != "analytic"]
    robust = join_words([method_description(m, a["bootstrap"]["weights"]) for m in methods])
    plain = fragment(
        "<h2>Design</h2><p><b>In plain words.</b> In every survey year of {}, staff in every "
        "practice answered the survey. For each of the {} Links practices we compare how its "
        "scores changed after its Links practitioner started with how the scores of the "
        "comparison practices ({}) changed over the same years. If the Links practices improved "
        "by more than the comparison practices, the difference is the estimated effect of the "
        "programme; it is an effect only if, without the programme, the Links practices would "
        "have changed like the others. With {} Links practices an estimate rests on few "
        "practices' year-to-year changes, so the report says how sure it can be with methods "
        "that hold for so few, and checks that those methods do not find effects where there "
        "are none.</p>",
        span,
        n_links,
        main.get("label", a["main_comparison"]),
        n_links,
    )
    technical = fragment(
        "<p><b>Technically.</b> Practice-year {} for the Links practices and comparison "
        "practices, before and after each programme start. The static effect is the coefficient "
        "on <em>Links × after start</em> in a two-way fixed-effects regression (practice and year "
        "effects), {}; {} complete it.</p>"
        "<h2>Inference with few treated practices</h2><p>Cluster-robust (CR1) standard errors "
        "rely on many treated clusters. With few (the Links programme has {}), they reject a "
        "true null too often. This run also reports {}; the table below is a Monte Carlo study "
        "of a design like this one (its size in the caption).</p>",
        score,
        weighted,
        design_complements(a),
        n_links,
        robust or "no other inference method",
    )
    return plain + technical
