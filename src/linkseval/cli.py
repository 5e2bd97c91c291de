"""The ``linkseval`` command's parser: one subcommand per pipeline stage (Snakemake calls these).

This module is argparse only. Each subcommand's ``func`` is a file adapter in
:mod:`linkseval.commands`, which reads the inputs and calls :mod:`linkseval.stages`.

Expected errors (bad input, bad config) print one line naming file, line and column and exit 1,
without a traceback. Every output is written atomically and only after all work succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys

from linkseval import GENERIC_ESTIMATORS, __version__
from linkseval.commands import (
    cmd_clean,
    cmd_combine,
    cmd_describe,
    cmd_diagram,
    cmd_did,
    cmd_disclosure,
    cmd_estimate,
    cmd_expected,
    cmd_finish,
    cmd_index,
    cmd_links,
    cmd_mc_chunk,
    cmd_mc_gather,
    cmd_multilevel,
    cmd_notebook,
    cmd_notebooks,
    cmd_pdf,
    cmd_placebo,
    cmd_placebo_chunk,
    cmd_placebo_gather,
    cmd_provenance,
    cmd_publish,
    cmd_quality,
    cmd_recovery,
    cmd_render,
    cmd_ri_chunk,
    cmd_ri_gather,
    cmd_score,
    cmd_synth,
    cmd_twfe_weights,
    run,
)
from linkseval.study import CONFIG_FILE, schema_enum, section_defaults

EPILOG = """\
typical use (Snakemake runs these for you: `make report`):
  linkseval synth --out-dir results/synthetic/raw
  linkseval clean --instrument safequest --extract raw/safequest_2013.csv \\
      --register raw/practices.csv --out-clean c.parquet --out-rejects r.parquet \\
      --out-accounting a.json
  linkseval score --instrument safequest --clean c2013.parquet c2014.parquet \\
      --register raw/practices.csv --out-scores s.parquet --out-panel panel.parquet
  linkseval quality --accounting a*.json --panel panel*.parquet --rejects r*.parquet \\
      --out-files files.csv --out-practice-years py.csv --out-reasons reasons.csv \\
      --out-summary summary.json
"""


def _link(text: str) -> tuple[str, str]:
    """Parse TITLE=HREF (an argparse type)."""
    title, sep, href = text.partition("=")
    if not sep or not title or not href:
        raise argparse.ArgumentTypeError(f"expected TITLE=HREF, got {text!r}")
    return title, href


def _columns(text: str) -> tuple[str, ...]:
    """Parse COL[,COL...] (an argparse type)."""
    cols = tuple(c.strip() for c in text.split(","))
    if not all(cols):
        raise argparse.ArgumentTypeError(f"expected COL[,COL...], got {text!r}")
    return cols


def _aggregations(text: str) -> tuple[str, ...]:
    """Parse KIND[,KIND...] or 'all' into Callaway-Sant'Anna aggregations (an argparse type)."""
    from linkseval.staggered import AGGREGATIONS

    kinds = AGGREGATIONS if text == "all" else _columns(text)
    bad = [k for k in kinds if k not in AGGREGATIONS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown aggregation {bad[0]!r}; choose from {', '.join(AGGREGATIONS)} or all"
        )
    return kinds


def _paths(p: argparse.ArgumentParser, *names: str, nargs: str | None = None) -> None:
    for name in names:
        p.add_argument(f"--{name}", required=True, nargs=nargs, metavar="FILE")


def _common_options() -> argparse.ArgumentParser:
    """Return the parent parser of the options most subcommands share."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--codebook",
        default=section_defaults("codebook"),
        metavar="FILE",
        help="codebook YAML (default: %(default)s)",
    )
    common.add_argument(
        "--data-label",
        default="",
        metavar="TEXT",
        help="label carried into every output, e.g. 'SYNTHETIC DATA'",
    )
    common.add_argument(
        "--code-width",
        type=int,
        default=section_defaults("cleaning", "practice_code_width"),
        metavar="N",
        help="practice codes are zero-padded to N digits (default: %(default)s)",
    )
    common.add_argument(
        "--code-pattern",
        default=section_defaults("cleaning", "practice_code_pattern"),
        metavar="REGEX",
        help="register practice codes must match this, after padding (default: %(default)s)",
    )
    common.add_argument(
        "--survey-years",
        type=int,
        nargs="+",
        metavar="YEAR",
        help="the study's survey years: every Links start in the register must lie after the "
        "first and not after the last",
    )
    return common


def _add_synth(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval synth``."""
    p = sub.add_parser(
        "synth",
        parents=[common],
        help="write the deterministic synthetic extracts",
        description="Write synthetic Safequest/CARE extracts, a register and the "
        "true generating parameters (truth.json) in the real extracts' shape.",
    )
    p.add_argument(
        "--config",
        default=CONFIG_FILE,
        metavar="FILE",
        help="config whose 'synthetic' and 'years' keys are used (default: %(default)s)",
    )
    p.add_argument(
        "--settings", metavar="JSON", help="synthetic settings as JSON (overrides --config)"
    )
    p.add_argument("--years", type=int, nargs="+", metavar="YEAR", help="survey years")
    p.add_argument("--out-dir", required=True, metavar="DIR")
    p.set_defaults(func=cmd_synth)


def _add_clean(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval clean``."""
    p = sub.add_parser(
        "clean",
        parents=[common],
        help="validate one extract; quarantine bad rows",
        description="Read one extract, map headers and labels via the codebook, "
        "quarantine bad rows with file/line/column/reason, and account for every row.",
    )
    p.add_argument("--instrument", required=True, help="codebook instrument, e.g. safequest")
    _paths(p, "extract", "register")
    p.add_argument("--year", type=int, help="expected survey year (must match the file name)")
    p.add_argument(
        "--max-missing-items",
        type=int,
        default=None,
        metavar="N",
        help="quarantine respondents with more than N missing items",
    )
    _paths(p, "out-clean", "out-rejects", "out-accounting")
    p.set_defaults(func=cmd_clean)


def _add_score(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval score``."""
    scoring = section_defaults("scoring")
    formulas = schema_enum("scoring", "percent_formula")
    p = sub.add_parser(
        "score",
        parents=[common],
        help="score respondents; build the panel",
        description="Reverse-score, compute respondent theme scores and the "
        "practice-year panel with respondent counts and suppression flags.",
    )
    p.add_argument("--instrument", required=True)
    _paths(p, "clean", nargs="+")
    _paths(p, "register")
    p.add_argument("--min-respondents", type=int, default=scoring["min_respondents"], metavar="N")
    p.add_argument(
        "--min-items-per-theme",
        type=float,
        default=scoring["min_items_per_theme"],
        metavar="SHARE",
    )
    p.add_argument("--percent-formula", default=scoring["percent_formula"], choices=formulas)
    _paths(p, "out-scores", "out-panel")
    p.set_defaults(func=cmd_score)


def _add_quality(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval quality``."""
    p = sub.add_parser(
        "quality",
        parents=[common],
        help="summarise data quality",
        description="Rows read/kept/quarantined per file and reason, repairs, and "
        "practice-years below the disclosure minimum.",
    )
    _paths(p, "accounting", "panel", "rejects", nargs="+")
    _paths(p, "out-files", "out-practice-years", "out-reasons", "out-summary")
    p.set_defaults(func=cmd_quality)


def _add_estimate(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval estimate``."""
    p = sub.add_parser(
        "estimate",
        parents=[common],
        help="DiD estimates for one outcome (all comparisons, CR1/WCR/RI)",
        description="Run the configured difference-in-differences estimators for one outcome "
        "of the practice-year panel, with CR1, wild cluster restricted bootstrap and "
        "randomization inference side by side.",
    )
    _paths(p, "panel")
    p.add_argument("--instrument", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument("--settings", required=True, metavar="JSON", help="the 'analysis' config")
    p.add_argument(
        "--comparison",
        nargs="+",
        metavar="NAME",
        help="only these comparison groups (default: all in the settings); the scattered "
        "grid runs one job per comparison",
    )
    _paths(p, "out")
    p.set_defaults(func=cmd_estimate)


def _add_multilevel(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval multilevel``."""
    scoring = section_defaults("scoring")
    formulas = schema_enum("scoring", "percent_formula")
    p = sub.add_parser(
        "multilevel",
        parents=[common],
        help="respondent-level MixedLM cross-check for one or more outcomes",
    )
    _paths(p, "scores", "register")
    p.add_argument("--instrument", required=True)
    p.add_argument("--outcome", required=True, nargs="+", help="one row per outcome, in this order")
    p.add_argument("--percent-formula", default=scoring["percent_formula"], choices=formulas)
    p.add_argument("--settings", required=True, metavar="JSON", help="the 'analysis' config")
    _paths(p, "out")
    p.set_defaults(func=cmd_multilevel)


def _instrument_job(p: argparse.ArgumentParser, *, panel: bool = True, many: bool = True) -> None:
    """Add a job's options on one instrument: panel, instrument, outcome(s), analysis settings."""
    if panel:
        _paths(p, "panel")
    p.add_argument("--instrument", required=True)
    if many:
        p.add_argument("--outcome", required=True, nargs="+", help="the outcomes, in table order")
    else:
        p.add_argument("--outcome", required=True)
    p.add_argument("--settings", required=True, metavar="JSON", help="the 'analysis' config")


def _add_placebo(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval placebo``."""
    p = sub.add_parser(
        "placebo",
        parents=[common],
        help="placebo study: each inference method's size on this panel",
        description="Reassign the programme to random sets of never-treated practices with the "
        "real cohort sizes (from all comparison practices of the main comparison, and from the "
        "Deep End ones) and report how often each method rejects at alpha: its size on this "
        "data, with Monte Carlo SE (analysis.placebo).",
    )
    _instrument_job(p)
    _paths(p, "out")
    p.add_argument("--out-csv", metavar="FILE", help="also write the table as CSV")
    p.set_defaults(func=cmd_placebo)

    p = sub.add_parser(
        "twfe-weights",
        parents=[common],
        help="the static TWFE coefficient's weights (de Chaisemartin & D'Haultfoeuille 2020)",
        description="Compute, for each outcome on the main comparison's panel, the weights "
        "the static TWFE coefficient puts on the treated practice-years (summed per cohort "
        "and period) and their summary: how many are negative, their sum, and the smallest "
        "spread of effects under which TWFE could be misleading (R TwoWayFEWeights, feTR).",
    )
    _instrument_job(p)
    _paths(p, "out-cells", "out-summary")
    p.set_defaults(func=cmd_twfe_weights)

    p = sub.add_parser(
        "placebo-chunk",
        parents=[common],
        help="scattered placebo study: one job's assignments (p-values per method)",
        description="The placebo study scattered over jobs: compute the p-values of every "
        "inference method for job --chunk's share of the placebo assignments "
        "(analysis.placebo.scatter_assignments of them) of one outcome, both pools. Every job "
        "draws the same seeded assignments and RI reference, so 'placebo-gather' gives the "
        "table of 'placebo' exactly.",
        epilog="example (job 2 of 5): linkseval placebo-chunk --panel "
        "results/panel/safequest.parquet --instrument safequest --outcome workload "
        '--settings "$(cat analysis.json)" --chunk 2 --out chunk_2.parquet',
    )
    _instrument_job(p, many=False)
    p.add_argument("--chunk", type=int, required=True, metavar="K", help="job, 0 .. jobs - 1")
    _paths(p, "out")
    p.set_defaults(func=cmd_placebo_chunk)

    p = sub.add_parser(
        "placebo-gather",
        parents=[common],
        help="scattered placebo study: the size table from all jobs",
        description="Gather the jobs of 'placebo-chunk' (every outcome's assignments once, any "
        "order; their placebo settings are checked against --settings) into the placebo "
        "study's table: the same rows as 'placebo' in one process.",
    )
    p.add_argument(
        "--chunks", required=True, nargs="+", metavar="FILE", help="every 'placebo-chunk' output"
    )
    _instrument_job(p, panel=False)
    _paths(p, "out")
    p.add_argument("--out-csv", metavar="FILE", help="also write the table as CSV")
    p.set_defaults(func=cmd_placebo_gather)


def _add_combine(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval combine``."""
    p = sub.add_parser(
        "combine",
        parents=[common],
        help="gather outcome estimates; Holm/BH adjust; headline table",
    )
    _paths(p, "estimates", nargs="+")
    p.add_argument("--settings", required=True, metavar="JSON", help="the 'analysis' config")
    _paths(p, "out-parquet", "out-csv", "out-headline", "out-json")
    p.add_argument("--out-primary", metavar="FILE", help="the primary analysis (analysis.primary)")
    p.set_defaults(func=cmd_combine)


def _add_describe(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval describe``."""
    p = sub.add_parser(
        "describe",
        parents=[common],
        help="the report's descriptive Figures 1-2 (theme %% by year; %% change)",
    )
    _paths(p, "panel", nargs="+")
    p.add_argument("--baseline-year", type=int, default=None)
    p.add_argument("--settings", metavar="JSON", help="the 'analysis' config (its comparisons)")
    _paths(p, "out-means", "out-change")
    p.set_defaults(func=cmd_describe)


def _add_links(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval links``."""
    p = sub.add_parser("links", parents=[common], help="list the Links practices of a register")
    _paths(p, "register", "out")
    p.set_defaults(func=cmd_links)


def _add_expected(sub: argparse._SubParsersAction) -> None:
    """Add ``linkseval expected``."""
    p = sub.add_parser("expected", help="compare headline estimates with the committed expectation")
    p.add_argument("--headline", default="results/models/headline.json", metavar="FILE")
    p.add_argument("--expected", default="tests/expected/headline.json", metavar="FILE")
    p.add_argument("--update", action="store_true", help="overwrite the expectation (deliberate)")
    p.set_defaults(func=cmd_expected)


def _add_recovery(sub: argparse._SubParsersAction) -> None:
    """Add ``linkseval recovery``."""
    p = sub.add_parser(
        "recovery",
        help="check that the headline intervals cover the synthetic generator's true effects",
        description="Synthetic data only (truth.json). Prints every headline interval against "
        "the truth and fails if an interval of --methods that the report states misses it: the "
        "family-wise interval for analysis.family outcomes, the 1-alpha interval for the others.",
    )
    p.add_argument("--headline", default="results/models/headline.json", metavar="FILE")
    p.add_argument("--truth", default="results/synthetic/raw/truth.json", metavar="FILE")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["WCR bootstrap", "randomization inference", "randomization inference (t)"],
        choices=["CR1", "WCR bootstrap", "randomization inference", "randomization inference (t)"],
        help="methods held to the check (default: the three few-cluster-robust ones; "
        "recovery.ROBUST_METHODS, tested equal)",
    )
    p.set_defaults(func=cmd_recovery)


def _add_render(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval render``."""
    p = sub.add_parser("render", parents=[common], help="executed notebook -> report page")
    _paths(p, "notebook", "out")
    p.add_argument("--title", required=True)
    p.add_argument("--nav", nargs="*", type=_link, metavar="TITLE=HREF", help="navigation links")
    p.set_defaults(func=cmd_render)


def _add_finish(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval finish``."""
    p = sub.add_parser(
        "finish",
        parents=[common],
        help="scrub a papermill output into place and render its report page (one step)",
        description="Scrub PARTIAL (papermill's output notebook) of run times, "
        "write it atomically to --notebook, remove PARTIAL, and render the report page.",
    )
    p.add_argument("partial", metavar="PARTIAL")
    _paths(p, "notebook", "html")
    p.add_argument("--title", required=True)
    p.add_argument("--nav", nargs="*", type=_link, metavar="TITLE=HREF", help="navigation links")
    p.set_defaults(func=cmd_finish)


def _add_notebook(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval notebook``."""
    p = sub.add_parser(
        "notebook",
        parents=[common],
        help="execute a notebook with papermill and render its report page (one step)",
        description="Execute NOTEBOOK with papermill into PARTIAL (papermill's parameters after "
        "--papermill, e.g. --papermill -p theme_means FILE -y YAML), then do what 'linkseval "
        "finish' does. A "
        "failing cell is one error line naming notebook, cell and exception.",
    )
    p.add_argument("input", metavar="NOTEBOOK")
    p.add_argument("--partial", required=True, help="where papermill writes the executed notebook")
    _paths(p, "notebook", "html")
    p.add_argument("--title", required=True)
    p.add_argument("--nav", nargs="*", type=_link, metavar="TITLE=HREF", help="navigation links")
    p.add_argument(
        "--papermill",
        dest="papermill_args",
        nargs=argparse.REMAINDER,
        default=[],
        metavar="ARG",
        help="the rest of the line goes to papermill (last option), e.g. -p NAME VALUE -y YAML",
    )
    p.set_defaults(func=cmd_notebook)


def _add_notebooks(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval notebooks``."""
    p = sub.add_parser(
        "notebooks",
        parents=[common],
        help="execute one notebook for a batch of pages in one kernel, rendering each page",
        description="Execute NOTEBOOK once per page of --jobs, in one kernel (papermill, the "
        "kernel's start and the notebook's imports paid once; a new IPython session between "
        "pages, so each page is as from a kernel of its own), and do for each what 'linkseval "
        "finish' does. A failing cell is one error line naming notebook, cell and exception.",
        epilog="example: linkseval notebooks notebooks/did_outcome.ipynb --parameters "
        '\'{"estimates": "results/models/estimates.csv"}\' --jobs \'[{"parameters": '
        '{"outcome": "workload"}, "notebook": "out/did_workload.ipynb", "html": '
        '"out/did_workload.html", "title": "DiD: workload"}]\'',
    )
    p.add_argument("input", metavar="NOTEBOOK")
    p.add_argument(
        "--jobs",
        required=True,
        metavar="JSON",
        help='the pages: a JSON list of {"parameters": {...}, "notebook": executed notebook, '
        '"html": page, "title": page title}',
    )
    p.add_argument(
        "--parameters",
        default="{}",
        metavar="JSON",
        help="parameters every page shares (a JSON object; a page's own win)",
    )
    p.add_argument("--nav", nargs="*", type=_link, metavar="TITLE=HREF", help="navigation links")
    p.set_defaults(func=cmd_notebooks)


def _add_index(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval index``."""
    p = sub.add_parser("index", parents=[common], help="the report's entry page")
    _paths(p, "headline", "out")
    p.add_argument("--page", nargs="+", type=_link, required=True, metavar="TITLE=HREF")
    p.add_argument("--settings", required=True, metavar="JSON", help="the 'analysis' config")
    p.add_argument(
        "--placebo", nargs="*", default=[], metavar="FILE", help="placebo study tables (parquet)"
    )
    p.add_argument("--primary", metavar="FILE", help="the primary analysis (primary.csv)")
    p.add_argument(
        "--quality", metavar="FILE", help="the quality summary (summary.json): size, data quality"
    )
    p.set_defaults(func=cmd_index)


def _add_publish(sub: argparse._SubParsersAction) -> None:
    """Add ``linkseval publish``."""
    p = sub.add_parser(
        "publish",
        help="copy the checked report pages into the published folder (all or none)",
        description="Copy the staged pages (results/pages/) into OUT (results/report/) through a "
        "hidden sibling folder and one rename: OUT never holds part of a run's pages.",
    )
    _paths(p, "pages", nargs="+")
    _paths(p, "out")
    p.set_defaults(func=cmd_publish)


def _add_pdf(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval pdf``."""
    p = sub.add_parser(
        "pdf",
        parents=[common],
        help="the whole report as one printable PDF (Chromium's print-to-PDF)",
        description="Join the checked report pages, in the order given, into one print document "
        "(each page starts a new A4 sheet; links between them become links inside the PDF) and "
        "print it with headless Chromium: the data label atop and 'Page n of N' below every "
        "sheet. Same pages, same bytes. Needs Debian's chromium (or LINKSEVAL_CHROMIUM).",
        epilog="example: linkseval pdf --pages results/pages/index.html "
        "results/pages/methods.html --title 'Evaluation report' --out report.pdf",
    )
    _paths(p, "pages", nargs="+")
    _paths(p, "out")
    p.add_argument("--title", required=True, help="the document's title")
    p.set_defaults(func=cmd_pdf)


def _add_diagram(sub: argparse._SubParsersAction) -> None:
    """Add ``linkseval diagram``."""
    p = sub.add_parser(
        "diagram",
        help="a picture of the pipeline: Snakemake's rule graph drawn with graphviz",
        description="Run `snakemake --rulegraph` on SNAKEFILE in DIR with the given config, "
        "redraw the graph in one neutral style (arrows implied by a longer path left out) with "
        "graphviz's dot, and write the PNG and a JSON with its alt text and rules.",
    )
    _paths(p, "snakefile", "directory", "out-png", "out-json")
    p.add_argument(
        "--config-json", required=True, metavar="JSON", help="the run's effective config"
    )
    p.set_defaults(func=cmd_diagram)


def _add_disclosure(sub: argparse._SubParsersAction) -> None:
    """Add ``linkseval disclosure``."""
    scoring = section_defaults("scoring")
    p = sub.add_parser(
        "disclosure",
        help="check published outputs for respondent ids, free text and small cells",
        description="Scan published files (report pages, summary tables) for respondent "
        "identifiers (taken from the cleaned extracts), and for numbers shown for fewer than "
        "--min-respondents respondents. Fails, naming file and place, if anything is found.",
    )
    _paths(p, "files", "identifiers-from", nargs="+")
    _paths(p, "out")
    p.add_argument("--min-respondents", type=int, default=scoring["min_respondents"], metavar="N")
    p.set_defaults(func=cmd_disclosure)


def _add_provenance(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``linkseval provenance``."""
    p = sub.add_parser("provenance", parents=[common], help="record inputs, config, code, packages")
    _paths(p, "inputs", nargs="+")
    _paths(p, "lock", "out")
    p.add_argument("--config-json", required=True, metavar="JSON")
    p.add_argument("--root", default=".", metavar="DIR", help="the project's git work tree")
    p.set_defaults(func=cmd_provenance)


def _add_did(sub: argparse._SubParsersAction) -> None:
    """Add ``linkseval did``."""
    p = sub.add_parser(
        "did",
        help="difference-in-differences on any unit x period panel (CSV/Parquet/Stata)",
        description="Estimate a DiD on any long panel file and write tidy results (estimate, "
        "SE, CI and p-value under CR1, wild cluster restricted bootstrap and randomization "
        "inference; sdid and sc: their placebo or jackknife SE) as JSON. The cohort column "
        "holds the first treated period; 0 or blank = "
        "never treated. Methods that cannot apply say so instead of inventing a number.",
        epilog="example: linkseval did --panel mpdta.csv --unit countyreal --time year "
        "--cohort first.treat --outcome lemp --estimator event_study --out res.json",
    )
    p.add_argument("--panel", required=True, metavar="FILE")
    p.add_argument("--unit", required=True, metavar="COL")
    p.add_argument("--time", required=True, metavar="COL")
    p.add_argument(
        "--cohort", required=True, metavar="COL", help="first treated period; 0/blank = never"
    )
    p.add_argument("--outcome", required=True, metavar="COL")
    p.add_argument("--weights", metavar="COL", help="analytic weights (e.g. respondents)")
    p.add_argument("--cluster", metavar="COL", help="cluster variable (default: the unit)")
    p.add_argument(
        "--estimator",
        default="twfe",
        choices=list(GENERIC_ESTIMATORS),
        help="twfe: static two-way FE; event_study: effects by period since the start (joint "
        "pre-trend test with >= 2 pre periods); did2x2: last pre period vs each post period "
        "(one cohort); cs: Callaway-Sant'Anna group-time ATTs with simple and dynamic "
        "aggregation (never-treated controls by default; R did's options below); "
        "imputation: Borusyak-Jaravel-Spiess imputation estimator, simple and per event time, "
        "with its pre-trend test (never-treated controls); sdid: synthetic "
        "difference-in-differences and sc: synthetic control (Arkhangelsky et al. 2021, as R "
        "synthdid; one treated cohort, never-treated controls, balanced units; inference by "
        "--se). Default: %(default)s",
    )
    p.add_argument(
        "--draws",
        type=int,
        default=section_defaults("analysis", "bootstrap", "draws"),
        help="bootstrap and RI draws (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument(
        "--se",
        choices=["placebo", "jackknife"],
        default="placebo",
        help="sdid and sc: their standard error (normal CI and p-value): placebo (Algorithm 4 "
        "of Arkhangelsky et al. 2021; --replications draws seeded by --seed) or jackknife "
        "(Algorithm 3; undefined with one treated unit). WCR and RI do not apply to them. "
        "Default: %(default)s",
    )
    p.add_argument(
        "--replications",
        type=int,
        default=200,
        metavar="N",
        help="sdid and sc: placebo replications (default: %(default)s, as R synthdid)",
    )
    p.add_argument("--alpha", type=float, default=section_defaults("analysis", "alpha"))
    cs = p.add_argument_group(
        "Callaway-Sant'Anna (--estimator cs): R did's options, its defaults by default"
    )
    cs.add_argument(
        "--control-group",
        choices=["never", "not_yet"],
        default="never",
        help="each cell's controls: never-treated units (R: nevertreated) or also those not yet "
        "treated in either period (notyettreated). Default: %(default)s",
    )
    cs.add_argument(
        "--anticipation",
        type=int,
        default=0,
        metavar="K",
        help="periods before the start the programme may already act in (R: anticipation); "
        "post cells compare with period g-1-K. Default: %(default)s",
    )
    cs.add_argument(
        "--covariates",
        type=_columns,
        default=(),
        metavar="COL[,COL]",
        help="doubly robust cells (R: xformla, est_method dr) with these covariates at each "
        "cell's earlier period; WCR, RI and RI-t then do not apply",
    )
    cs.add_argument(
        "--sampling-weights",
        metavar="COL",
        help="one weight per unit, constant over periods (R: weightsname). Not --weights: "
        "those are each unit-period's analytic weights (e.g. respondents, varying by year) "
        "for the regression estimators, which CS does not use",
    )
    cs.add_argument(
        "--aggregations",
        type=_aggregations,
        metavar="KIND[,KIND]",
        help="aggregates after the cells (R: aggte types): simple, dynamic, dynamic_overall, "
        "group, group_overall, calendar, calendar_overall, or all. Default: simple,dynamic",
    )
    cs.add_argument(
        "--uniform-band",
        action="store_true",
        help="a uniform 1-alpha band over the dynamic effects (R: cband): sup-t critical value "
        "by a multiplier bootstrap (Mammen weights by cluster, --band-draws draws, seeded by "
        "--seed); rows' ci_low_fw/ci_high_fw and 'uniform_band' in the JSON",
    )
    cs.add_argument(
        "--band-draws",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap draws of the uniform band (R: biters). Default: %(default)s",
    )
    p.add_argument("--out", metavar="FILE.json", help="write JSON here (default: stdout)")
    p.set_defaults(func=cmd_did)


def _add_ri(sub: argparse._SubParsersAction) -> None:
    """Add ``ri-chunk`` and ``ri-gather`` (scattered randomization inference)."""
    analysis = section_defaults("analysis")
    main = analysis["main_comparison"]
    main_only = {
        "main_comparison": main,
        "comparisons": {main: {"rule": analysis["comparisons"][main]["rule"]}},
    }
    ri_common = argparse.ArgumentParser(add_help=False)
    ri_common.add_argument(
        "--panel",
        required=True,
        metavar="FILE",
        help="practice-year panel of 'score' (results/panel/{instrument}.parquet)",
    )
    ri_common.add_argument("--instrument", required=True, help="e.g. safequest")
    ri_common.add_argument("--outcome", required=True, help="e.g. workload")
    ri_common.add_argument(
        "--settings",
        required=True,
        metavar="JSON",
        help="the 'analysis' config (scale, weights, baseline_year, comparisons, "
        "main_comparison, alpha): the panel is the main comparison's, as in 'estimate'",
    )
    ri_common.add_argument("--seed", type=int, required=True, metavar="N", help="RI seed")
    ri_common.add_argument(
        "--draws", type=int, required=True, metavar="N", help="RI draws of all chunk jobs together"
    )
    ri_common.add_argument(
        "--chunk-draws",
        type=int,
        required=True,
        metavar="N",
        help="draws per chunk job: a multiple of 1000, the seed chunk (jobs: draws / N, "
        "rounded up)",
    )
    ri_common.add_argument(
        "--data-label",
        default="",
        metavar="TEXT",
        help="label carried into the output, e.g. 'SYNTHETIC DATA'",
    )
    p = sub.add_parser(
        "ri-chunk",
        parents=[ri_common],
        help="scattered RI: the draws of one chunk job (static TWFE, main comparison)",
        description="Randomization inference scattered over jobs: compute the draws of chunk "
        "job --chunk for the static TWFE coefficient of one outcome against the main "
        "comparison, and write their per-draw sums (Parquet). Draws come in seed chunks of "
        "1000, each seeded from --seed alone, so a job can run anywhere, in any order. "
        "'ri-gather' turns all jobs into the result, identical to a single-process run with the "
        "same seed and draws.",
        epilog="example (job 3 of 10): linkseval ri-chunk --panel "
        "results/panel/safequest.parquet --instrument safequest --outcome workload --settings "
        f"'{json.dumps(main_only)}' "
        f"--seed {analysis['randomization']['seed']} --draws 100000 --chunk-draws 10000 "
        "--chunk 3 --out chunk_3.parquet",
    )
    p.add_argument("--chunk", type=int, required=True, metavar="K", help="chunk job, 0 .. jobs - 1")
    p.add_argument("--out", required=True, metavar="FILE", help="the job's draws (.parquet)")
    p.set_defaults(func=cmd_ri_chunk)

    p = sub.add_parser(
        "ri-gather",
        parents=[ri_common],
        help="scattered RI: p-value and CI from all chunk jobs",
        description="Gather the chunk jobs of 'ri-chunk' (every job once, in any order; their "
        "seed and draws are checked against these options) and write the RI estimate, "
        "p-value, CI (inverting constant-effect sharp nulls) and number of draws as JSON: the "
        "same numbers as randomization inference in one process with the same seed and draws.",
    )
    p.add_argument(
        "--chunks", required=True, nargs="+", metavar="FILE", help="every job's 'ri-chunk' output"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the result (.json)")
    p.set_defaults(func=cmd_ri_gather)


def _add_monte_carlo(sub: argparse._SubParsersAction) -> None:
    """Add ``monte-carlo-chunk`` and ``monte-carlo-gather``."""
    mc_common = argparse.ArgumentParser(add_help=False)
    mc_common.add_argument(
        "--settings",
        required=True,
        metavar="JSON",
        help="the 'monte_carlo' config: seed, reps, reps_small, draws, check_reps, "
        "check_draws, chunk_size, scenarios (missing keys: validation/monte_carlo.py defaults)",
    )
    p = sub.add_parser(
        "monte-carlo-chunk",
        parents=[mc_common],
        help="scattered Monte Carlo: one chunk of replications of one scenario",
        description="Run replications chunk*chunk_size ... of one run of one scenario of the "
        "Monte Carlo study (validation/monte_carlo.py; replication r is seeded on its own, so "
        "chunks are independent) and write their rows.",
        epilog='example: linkseval monte-carlo-chunk --settings \'{"reps": 10000, '
        '"chunk_size": 1000}\' --scenario no_effect --run main --chunk 0 --out chunk_0.parquet',
    )
    p.add_argument(
        "--scenario", required=True, help="scenario name (linkseval.montecarlo.SCENARIOS)"
    )
    p.add_argument(
        "--run",
        required=True,
        choices=["main", "check"],
        help="main: 'draws' draws; check: the first 'check_reps' with 'check_draws'",
    )
    p.add_argument(
        "--chunk", type=int, required=True, metavar="K", help="chunk, 0 .. reps / chunk_size - 1"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the chunk's rows (.parquet)")
    p.set_defaults(func=cmd_mc_chunk)

    p = sub.add_parser(
        "monte-carlo-gather",
        parents=[mc_common],
        help="scattered Monte Carlo: gather every chunk into the summary tables",
        description="Gather every chunk of 'monte-carlo-chunk' (all must be there, made with "
        "the same settings) and write the tables validation/monte_carlo.py writes in one "
        "process, byte for byte: the summary (monte_carlo_summary.csv), the raw rows, the "
        "B = 999 vs 9,999 agreement and the Markdown tables.",
    )
    p.add_argument(
        "--chunks",
        required=True,
        nargs="+",
        metavar="FILE",
        help="every chunk's 'monte-carlo-chunk' output",
    )
    p.add_argument("--out-summary", required=True, metavar="FILE", help="summary table (.csv)")
    p.add_argument(
        "--out-reps", required=True, metavar="FILE", help="raw rows, one per replication × method"
    )
    p.add_argument(
        "--out-agreement", required=True, metavar="FILE", help="B = 999 vs 9,999 agreement (.csv)"
    )
    p.add_argument("--out-table", required=True, metavar="FILE", help="Markdown tables (.md)")
    p.set_defaults(func=cmd_mc_gather)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``linkseval`` argument parser, one subcommand per pipeline stage."""
    parser = argparse.ArgumentParser(
        prog="linkseval",
        description="Reproducible evaluation of the Links Worker Programme: Safequest extracts "
        "-> clean, scored practice-year panel -> difference-in-differences -> report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"linkseval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # option defaults are the config schema's (linkseval.study), as in a Snakemake run
    common = _common_options()
    _add_synth(sub, common)
    _add_clean(sub, common)
    _add_score(sub, common)
    _add_quality(sub, common)
    _add_estimate(sub, common)
    _add_multilevel(sub, common)
    _add_placebo(sub, common)
    _add_combine(sub, common)
    _add_describe(sub, common)
    _add_links(sub, common)
    _add_expected(sub)
    _add_recovery(sub)
    _add_render(sub, common)
    _add_finish(sub, common)
    _add_notebook(sub, common)
    _add_notebooks(sub, common)
    _add_index(sub, common)
    _add_publish(sub)
    _add_pdf(sub, common)
    _add_diagram(sub)
    _add_disclosure(sub)
    _add_provenance(sub, common)
    _add_did(sub)
    _add_ri(sub)
    _add_monte_carlo(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``linkseval`` command.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 on an expected error (one line on stderr).
    """
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
