"""The pipeline's stages as functions: one per ``linkseval`` subcommand that computes something.

Each stage takes what its subcommand reads (DataFrames, parsed settings, at most the path of
the one file it must hash or parse itself) and returns what the subcommand writes (DataFrames,
dicts, text), without writing anything: :mod:`linkseval.cli` parses the arguments, reads the
files, calls one stage and writes its outputs atomically. Recovery checks, benchmarks and
validation scripts can call the same functions in process and get the same numbers.

Heavy modules are imported inside the functions, as in the CLI: importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from linkseval.errors import DisclosureError, LinksevalError

if TYPE_CHECKING:
    import pandas as pd

    from linkseval.data.clean import CleanResult
    from linkseval.data.codebook import Codebook, Instrument
    from linkseval.did import Panel
    from linkseval.inference import TestResult
    from linkseval.montecarlo import MCSettings
    from linkseval.study import Settings


# --------------------------------------------------------------------------- data preparation


@dataclass(frozen=True)
class CleanOutput:
    """What :func:`clean` returns.

    Attributes
    ----------
    result
        The cleaned extract: ``result.kept`` and ``result.rejects`` (quarantined rows).
    accounting
        The row accounting of the extract, with its SHA-256 and the data label.
    meta
        The Parquet metadata of the kept and rejected rows.
    source
        The extract's path as read.
    """

    result: CleanResult
    accounting: dict
    meta: dict
    source: Path


def clean(
    extract: str | Path,
    instrument: Instrument,
    register: pd.DataFrame,
    *,
    year: int | None,
    code_width: int,
    max_missing_items: int | None,
    data_label: str,
) -> CleanOutput:
    """Validate one extract and quarantine bad rows (``linkseval clean``).

    Parameters
    ----------
    extract
        The extract file (read and hashed here).
    instrument
        Its codebook instrument.
    register
        The practice register (:func:`linkseval.data.register.read_register`).
    year
        The expected survey year, or None.
    code_width
        Practice codes are zero-padded to this many digits.
    max_missing_items
        Quarantine respondents with more missing items than this (None: no limit).
    data_label
        Label carried into the outputs.

    Returns
    -------
    CleanOutput
        Kept and quarantined rows, the accounting and the outputs' metadata.
    """
    from linkseval.data.clean import clean_extract
    from linkseval.data.ingest import read_extract
    from linkseval.data.store import sha256

    raw = read_extract(extract, instrument, year)
    result = clean_extract(
        raw,
        instrument,
        register["practice_code"],
        code_width=code_width,
        max_missing_items=max_missing_items,
    )
    acc = {**result.accounting, "sha256": sha256(extract), "data_label": data_label}
    meta = {"data_label": data_label, "source_sha256": acc["sha256"]}
    return CleanOutput(result=result, accounting=acc, meta=meta, source=raw.path)


@dataclass(frozen=True)
class ScoreOutput:
    """What :func:`score` returns.

    Attributes
    ----------
    scores
        Respondent theme scores.
    panel
        The practice-year panel (first column ``data_label``).
    meta
        The Parquet metadata of both.
    """

    scores: pd.DataFrame
    panel: pd.DataFrame
    meta: dict


def score(
    clean: pd.DataFrame,
    instrument: Instrument,
    register: pd.DataFrame,
    *,
    min_respondents: int,
    min_items_per_theme: float,
    percent_formula: str,
    data_label: str,
) -> ScoreOutput:
    """Score respondents and build the practice-year panel (``linkseval score``).

    Parameters
    ----------
    clean
        The kept rows of every year's :func:`clean`, concatenated.
    instrument
        Their codebook instrument.
    register
        The practice register.
    min_respondents
        Practice-years with fewer respondents are suppressed.
    min_items_per_theme
        Share of a theme's items a respondent must answer to be scored on it.
    percent_formula
        How theme scores become percentages (``scoring.percent_formula``).
    data_label
        Label carried into the outputs.

    Returns
    -------
    ScoreOutput
        Scores, panel and their metadata.
    """
    from linkseval.data.score import practice_year_panel, score_respondents

    scores = score_respondents(clean, instrument, min_items_per_theme=min_items_per_theme)
    panel = practice_year_panel(
        scores,
        instrument,
        register,
        min_respondents=min_respondents,
        percent_formula=percent_formula,
    )
    panel.insert(0, "data_label", data_label)
    meta = {
        "data_label": data_label,
        "min_respondents": min_respondents,
        "min_items_per_theme": min_items_per_theme,
        "percent_formula": percent_formula,
    }
    return ScoreOutput(scores=scores, panel=panel, meta=meta)


@dataclass(frozen=True)
class QualityOutput:
    """What :func:`quality` returns.

    Attributes
    ----------
    files
        Rows read, kept and quarantined per file.
    practice_years
        Practice-years per instrument and year, and how many are suppressed.
    reasons
        Quarantined rows per reason.
    summary
        Totals, whether every row is accounted for, and every file's accounting.
    """

    files: pd.DataFrame
    practice_years: pd.DataFrame
    reasons: pd.DataFrame
    summary: dict


def quality(
    accountings: Sequence[dict],
    panels: pd.DataFrame,
    rejects: pd.DataFrame,
    *,
    data_label: str,
) -> QualityOutput:
    """Summarise data quality (``linkseval quality``).

    Parameters
    ----------
    accountings
        Every extract's accounting (:attr:`CleanOutput.accounting`).
    panels
        Every instrument's panel, concatenated.
    rejects
        Every extract's quarantined rows, concatenated.
    data_label
        Label carried into the outputs.

    Returns
    -------
    QualityOutput
        The three tables (first column ``data_label``) and the summary.
    """
    from linkseval.data.quality import file_summary, panel_summary, reject_reasons

    accountings = list(accountings)
    files = file_summary(accountings)
    practice_years = panel_summary(panels)
    reasons = reject_reasons(rejects)
    for df in (files, practice_years, reasons):
        df.insert(0, "data_label", data_label)
    totals = {k: int(files[k].sum()) for k in ("rows_read", "rows_kept", "rows_quarantined")}
    summary = {
        "data_label": data_label,
        "totals": totals,
        "accounting_ok": bool(files["accounting_ok"].all())
        and totals["rows_read"] == totals["rows_kept"] + totals["rows_quarantined"],
        "files": accountings,
    }
    return QualityOutput(
        files=files, practice_years=practice_years, reasons=reasons, summary=summary
    )


# --------------------------------------------------------------------------- estimation


def placebo(
    panel: pd.DataFrame,
    s: Settings,
    instrument: str,
    outcomes: Sequence[str],
    *,
    data_label: str = "",
) -> pd.DataFrame:
    """Run the placebo study of each outcome (``linkseval placebo``).

    Parameters
    ----------
    panel
        A practice-year panel (rows of other instruments are ignored).
    s
        The study's settings (``placebo`` settings, main comparison, inference settings).
    instrument, outcomes
        The outcomes to study, in this order.
    data_label
        Label put in the first column.

    Returns
    -------
    pandas.DataFrame
        :func:`linkseval.placebo.placebo_study`'s rows for every outcome, ``data_label`` first.
    """
    import pandas as pd

    from linkseval.placebo import placebo_study

    panel = panel[panel["instrument"] == instrument]
    out = pd.concat([placebo_study(panel, s, instrument, o) for o in outcomes], ignore_index=True)
    out.insert(0, "data_label", data_label)
    return out


@dataclass(frozen=True)
class TWFEWeightsOutput:
    """What :func:`twfe_weights` returns."""

    cells: pd.DataFrame  # per outcome, cohort and period: the summed weight and practices
    summary: pd.DataFrame  # per outcome: β, counts and sums of weights, sensitivity measures


def twfe_weights(
    panel: pd.DataFrame,
    s: Settings,
    instrument: str,
    outcomes: Sequence[str],
    *,
    data_label: str = "",
) -> TWFEWeightsOutput:
    """Compute the static TWFE coefficient's weights for each outcome (``linkseval twfe-weights``).

    de Chaisemartin & D'Haultfœuille (2020) on the main comparison's panel
    (:func:`linkseval.twfe_weights.weights_tables`), ``data_label`` first.
    """
    import pandas as pd

    from linkseval.twfe_weights import weights_tables

    panel = panel[panel["instrument"] == instrument]
    parts = [weights_tables(panel, s, instrument, o) for o in outcomes]
    cells = pd.concat([c for c, _ in parts], ignore_index=True)
    summary = pd.concat([m for _, m in parts], ignore_index=True)
    cells.insert(0, "data_label", data_label)
    summary.insert(0, "data_label", data_label)
    return TWFEWeightsOutput(cells=cells, summary=summary)


def placebo_chunk(
    panel: pd.DataFrame,
    s: Settings,
    instrument: str,
    outcome: str,
    *,
    job: int,
    data_label: str = "",
) -> pd.DataFrame:
    """Compute one scattered job's placebo p-values of one outcome (``linkseval placebo-chunk``).

    Job ``job`` of the opt-in scattered placebo study: assignments
    :func:`linkseval.scatter.placebo_job_assignments` of ``s.placebo`` (``assignments``,
    ``scatter_assignments``), both pools; rows of :func:`linkseval.placebo.placebo_chunk`,
    ``data_label`` first.
    """
    from linkseval.placebo import placebo_chunk as chunk
    from linkseval.scatter import placebo_job_assignments

    cfg = s.placebo
    share = placebo_job_assignments(int(cfg["assignments"]), int(cfg["scatter_assignments"]), job)
    out = chunk(panel[panel["instrument"] == instrument], s, instrument, outcome, share)
    out.insert(0, "data_label", data_label)
    return out


def placebo_gather(
    chunks: Sequence[pd.DataFrame],
    s: Settings,
    instrument: str,
    outcomes: Sequence[str],
    *,
    data_label: str = "",
) -> pd.DataFrame:
    """Gather scattered placebo jobs into the study's table (``linkseval placebo-gather``).

    Every outcome's assignments must all be there exactly once (any order of jobs); the table
    equals :func:`placebo`'s for the same settings, row for row and bit for bit.
    """
    import pandas as pd

    from linkseval.placebo import POOLS, placebo_summary

    frame = pd.concat(list(chunks), ignore_index=True)
    other = sorted(set(frame["instrument"]) - {instrument})
    if other:
        raise ValueError(f"placebo gather for {instrument}: jobs of {other} given")
    missing = sorted(set(outcomes) - set(frame["outcome"]))
    extra = sorted(set(frame["outcome"]) - set(outcomes))
    if missing or extra:
        raise ValueError(f"placebo gather: outcomes missing {missing}, unexpected {extra}")
    rank = {o: i for i, o in enumerate(outcomes)}
    order = frame["outcome"].map(rank) * len(POOLS) + frame["pool"].map(POOLS.index)
    frame = frame.assign(_order=order).sort_values(["_order", "assignment"], kind="stable")
    out = placebo_summary(frame.drop(columns=["_order", "data_label"], errors="ignore"), s)
    out.insert(0, "data_label", data_label)
    return out


def estimate(
    panel: pd.DataFrame,
    settings: Settings,
    instrument: str,
    outcome: str,
    *,
    comparisons: Sequence[str] | None = None,
    data_label: str = "",
) -> pd.DataFrame:
    """Estimate the DiD result rows of one outcome (``linkseval estimate``).

    Parameters
    ----------
    panel
        A practice-year panel (rows of other instruments are ignored).
    settings
        The study's settings.
    instrument, outcome
        What to estimate.
    comparisons
        Only these comparison groups (None: all of the settings).
    data_label
        Label put in the first column.

    Returns
    -------
    pandas.DataFrame
        The result rows of :func:`linkseval.analysis.estimate_outcome`, ``data_label`` first.
    """
    from linkseval.analysis import estimate_outcome

    panel = panel[panel["instrument"] == instrument]
    comparison = list(comparisons) if comparisons is not None else None
    res = estimate_outcome(panel, settings, instrument, outcome, comparison)
    res.insert(0, "data_label", data_label)
    return res


@dataclass(frozen=True)
class MultilevelOutput:
    """What :func:`multilevel` returns.

    Attributes
    ----------
    table
        One result row per outcome (:func:`linkseval.multilevel.multilevel_row`).
    messages
        One progress line per outcome, for the log.
    """

    table: pd.DataFrame
    messages: list[str]


def multilevel(
    scores: pd.DataFrame,
    register: pd.DataFrame,
    instrument: Instrument,
    outcomes: Sequence[str],
    s: Settings,
    *,
    percent_formula: str,
    data_label: str = "",
) -> MultilevelOutput:
    """Fit the respondent-level MixedLM cross-check (``linkseval multilevel``).

    Parameters
    ----------
    scores
        Respondent scores of :func:`score`.
    register
        The practice register.
    instrument
        The scores' codebook instrument.
    outcomes
        Outcomes to fit, one row each, in this order (data and imports once for all).
    s
        The study's settings: scale, alpha and the main comparison are used.
    percent_formula
        As in :func:`score`.
    data_label
        Label put in the first column.

    Returns
    -------
    MultilevelOutput
        The rows (a model that cannot be fitted is a row saying so, not an error) and one
        progress line per outcome.
    """
    from linkseval.multilevel import (
        comparison_practices,
        multilevel_did,
        multilevel_note,
        multilevel_row,
    )
    from linkseval.results import frame

    practices, caveat = comparison_practices(register, s.main)
    rows, messages = [], []
    for outcome in outcomes:
        r = multilevel_did(
            scores,
            practices,
            instrument,
            outcome,
            scale=s.scale,
            percent_formula=percent_formula,
            alpha=s.alpha,
        )
        note = multilevel_note(r, caveat)
        rows.append(multilevel_row(instrument.name, outcome, s.main_comparison, note, r))
        if "error" in r:
            messages.append(f"{instrument.name}/{outcome}: multilevel {note}")
        else:
            messages.append(f"{instrument.name}/{outcome}: multilevel estimate {r['estimate']:.3f}")
    res = frame(rows)
    res.insert(0, "data_label", data_label)
    return MultilevelOutput(table=res, messages=messages)


@dataclass(frozen=True)
class CombineOutput:
    """What :func:`combine` returns.

    Attributes
    ----------
    table
        Every result row, with the family-wise adjustments.
    headline
        The headline table (``data_label`` first).
    headline_doc
        The headline as JSON: ``{"data_label": ..., "headline": [records]}``.
    primary
        The pre-specified primary analysis (:func:`linkseval.analysis.primary_analysis`).
    """

    table: pd.DataFrame
    headline: pd.DataFrame
    headline_doc: dict
    primary: pd.DataFrame


def combine(tables: Sequence[pd.DataFrame], s: Settings, *, data_label: str = "") -> CombineOutput:
    """Gather the outcomes' result rows, adjust them and pick the headline (``linkseval combine``).

    Parameters
    ----------
    tables
        The result tables of :func:`estimate` and :func:`multilevel` (each checked on the
        result schema).
    s
        The study's settings (the family and the main comparison are used).
    data_label
        Label put in the headline's first column.

    Returns
    -------
    CombineOutput
        The combined table, the headline and its JSON document.
    """
    import json

    from linkseval.analysis import adjust_family, headline, primary_analysis
    from linkseval.results import combine as combine_tables
    from linkseval.results import validate

    res = combine_tables(list(tables))
    res = validate(adjust_family(res, s.family))
    head = headline(res, s.main_comparison)
    head.insert(0, "data_label", data_label)
    records = json.loads(head.to_json(orient="records", double_precision=10))
    primary = primary_analysis(res, s)
    primary.insert(0, "data_label", data_label)
    return CombineOutput(
        table=res,
        headline=head,
        headline_doc={"data_label": data_label, "headline": records},
        primary=primary,
    )


def describe(
    panel: pd.DataFrame,
    *,
    baseline_year: int | None = None,
    data_label: str = "",
    s: Settings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute the report's descriptive figures' data (``linkseval describe``).

    Parameters
    ----------
    panel
        Every instrument's panel, concatenated.
    baseline_year
        ``analysis.baseline_year``; None: the baseline the estimates use
        (:func:`linkseval.analysis.baseline_year`: the last year before a Links start).
    data_label
        Label put in the first column.
    s
        The study settings (their ``comparisons`` are the groups); None: the schema's.

    Returns
    -------
    tuple of pandas.DataFrame
        Theme means by year, and their percent change from the baseline year.
    """
    from linkseval.analysis import Settings
    from linkseval.analysis import baseline_year as base_year
    from linkseval.report.descriptive import percent_change, theme_means

    means = theme_means(panel, (s or Settings.from_config({})).comparisons)
    change = percent_change(means, base_year(panel, Settings(baseline_year=baseline_year)))
    for df in (means, change):
        df.insert(0, "data_label", data_label)
    return means, change


def did(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    outcome: str,
    weights: str | None = None,
    cluster: str | None = None,
    estimator: str = "twfe",
    draws: int,
    seed: int,
    alpha: float,
    se: str = "placebo",
    replications: int = 200,
    cs_options: dict | None = None,
) -> list[dict]:
    """Estimate a DiD on any unit × period panel (``linkseval did``).

    Parameters
    ----------
    df
        The long panel.
    unit, time, cohort, outcome
        Its columns (cohort: first treated period; 0 or missing = never treated).
    weights, cluster
        Analytic weights and cluster columns (None: unweighted, clustered on the unit).
    estimator
        ``twfe``, ``event_study``, ``did2x2``, ``cs``, ``imputation``, ``sdid`` or ``sc``.
    draws
        Bootstrap and RI draws.
    seed
        Bootstrap and SDID placebo seed (RI: ``seed + 1``).
    alpha
        Significance level.
    se, replications
        ``sdid`` and ``sc`` only: their standard error (``placebo`` or ``jackknife``) and the
        placebo replications.
    cs_options
        ``cs`` only: R ``did``'s options (:func:`linkseval.analysis.did_generic`).

    Returns
    -------
    list of dict
        The result records of :func:`linkseval.analysis.did_generic` as JSON would hold them
        (NaN as None, ten significant digits), without instrument and comparison.
    """
    import json

    from linkseval.analysis import Settings, did_generic

    s = Settings(
        weights=weights,
        bootstrap_draws=draws,
        ri_draws=draws,
        bootstrap_seed=seed,
        ri_seed=seed + 1,
        alpha=alpha,
    )
    res = did_generic(
        df,
        unit=unit,
        time=time,
        cohort=cohort,
        outcome=outcome,
        weights=weights,
        cluster=cluster,
        estimator=estimator,
        settings=s,
        options={"se": se, "replications": replications} if estimator in ("sdid", "sc") else None,
        cs_options=cs_options,
    )
    return json.loads(
        res.drop(columns=["instrument", "comparison"]).to_json(
            orient="records", double_precision=10
        )
    )


# --------------------------------------------------------------------------- checks and report


def links(register: pd.DataFrame) -> list[str]:
    """Return the Links practices of a register, sorted (``linkseval links``).

    Parameters
    ----------
    register
        The practice register.

    Returns
    -------
    list of str
        Practice codes with a Links cohort (``cohort > 0``).
    """
    return sorted(register.loc[register["cohort"] > 0, "practice_code"].tolist())


@dataclass(frozen=True)
class RecoveryOutput:
    """What :func:`recovery` returns.

    Attributes
    ----------
    coverage
        Every headline interval against the true effect (:func:`linkseval.recovery.coverage`).
    text
        That table as text.
    misses
        One line per interval of the checked methods that misses the truth (empty: recovered).
    n_checked
        How many intervals of the checked methods there are.
    """

    coverage: pd.DataFrame
    text: str
    misses: list[str]
    n_checked: int


def recovery(head: pd.DataFrame, truth: dict, methods: Sequence[str]) -> RecoveryOutput:
    """Check that the headline intervals cover the true effects (``linkseval recovery``).

    Parameters
    ----------
    head
        The headline records (``headline.json``'s ``headline``).
    truth
        The synthetic generator's ``truth.json``.
    methods
        The methods held to the check.

    Returns
    -------
    RecoveryOutput
        Coverage table, its text and the misses.
    """
    from linkseval.recovery import coverage, coverage_text, misses

    cov = coverage(head, truth)
    return RecoveryOutput(
        coverage=cov,
        text=coverage_text(cov),
        misses=misses(cov, tuple(methods)),
        n_checked=len(cov[cov.method.isin(list(methods))]),
    )


def index(
    head: pd.DataFrame,
    s: Settings,
    codebook: Codebook,
    pages: Sequence[tuple[str, str]],
    *,
    data_label: str = "",
    placebo: pd.DataFrame | None = None,
    primary: pd.DataFrame | None = None,
    quality: dict | None = None,
) -> str:
    """Return the report's entry page as HTML (``linkseval index``).

    Parameters
    ----------
    head
        The headline table (``headline.csv``).
    s
        The study's settings (family and alpha are used).
    codebook
        The codebook (outcome labels).
    pages
        The report pages as (title, href).
    data_label
        The data label shown on the page.
    placebo
        The placebo study's rows (:func:`placebo`), for its one-line verdict.
    primary
        The primary analysis (``primary.csv`` of :func:`combine`); None: the default one.
    quality
        The quality summary (``summary.json`` of :func:`quality`), for the study's size and
        the data-quality line; None: neither line.

    Returns
    -------
    str
        The page.
    """
    from linkseval.report.narrative import index_page
    from linkseval.report.outcomes import set_outcome_labels
    from linkseval.study import outcome_labels

    set_outcome_labels(outcome_labels(codebook))
    names = {k: ins.label.split(" (")[0] for k, ins in codebook.instruments.items()}
    return index_page(
        head,
        list(pages),
        data_label,
        s.family,
        s.alpha,
        placebo,
        primary,
        quality,
        names,
        s.main.label,
    )


def disclosure(files: Sequence[str | Path], identifiers: set[str], *, min_respondents: int) -> dict:
    """Check published outputs for disclosure risks (``linkseval disclosure``).

    Parameters
    ----------
    files
        The published files (scanned in sorted order).
    identifiers
        Respondent identifiers that must not appear.
    min_respondents
        Numbers shown for fewer respondents are small cells.

    Returns
    -------
    dict
        The disclosure report (:func:`linkseval.report.disclosure.report`).

    Raises
    ------
    DisclosureError
        If anything is found: the first 50 problems by file and place, never the identifier.
    """
    from linkseval.report.disclosure import report, scan

    files = sorted(files)
    found = scan(files, identifiers=identifiers, min_respondents=min_respondents)
    if found:
        lines = [f"  {v.file}: {v.kind} at {v.location}" for v in found[:50]]
        raise DisclosureError(
            f"{len(found)} disclosure problem(s) in published outputs (identifiers not shown):\n"
            + "\n".join(lines)
        )
    return report(found, [Path(f) for f in files], min_respondents)


# --------------------------------------------------------------------------- scattered work


def ri_panel(frame: pd.DataFrame, settings: Settings, instrument: str, outcome: str) -> Panel:
    """Return the main comparison's TWFE panel of one outcome.

    Parameters
    ----------
    frame
        The practice-year panel of ``score``.
    settings
        The study's settings.
    instrument, outcome
        Which outcome.

    Returns
    -------
    Panel
        The panel of :func:`linkseval.scatter.main_comparison_panel`.
    """
    from linkseval.scatter import main_comparison_panel

    return main_comparison_panel(frame, settings, instrument, outcome)


@dataclass(frozen=True)
class RIChunkOutput:
    """What :func:`ri_chunk` returns.

    Attributes
    ----------
    draws
        The job's per-draw sums (:func:`linkseval.scatter.ri_job_frame`).
    meta
        The Parquet metadata the gather checks.
    seed_chunks
        The seed chunks the job computed.
    """

    draws: pd.DataFrame
    meta: dict
    seed_chunks: range


def ri_chunk(
    frame: pd.DataFrame,
    settings: Settings,
    instrument: str,
    outcome: str,
    *,
    seed: int,
    draws: int,
    chunk_draws: int,
    chunk: int,
    data_label: str = "",
) -> RIChunkOutput:
    """Compute the RI draws of one scattered job (``linkseval ri-chunk``).

    Parameters
    ----------
    frame
        The practice-year panel of ``score``.
    settings
        The study's settings.
    instrument, outcome
        Which outcome.
    seed
        The RI seed.
    draws
        Draws of all jobs together.
    chunk_draws
        Draws per job (a multiple of the seed chunk).
    chunk
        This job, ``0 .. jobs - 1``.
    data_label
        Label carried into the metadata.

    Returns
    -------
    RIChunkOutput
        The draws, their metadata and the seed chunks.
    """
    from linkseval.scatter import ri_job_chunks, ri_job_frame

    p = ri_panel(frame, settings, instrument, outcome)
    seed_chunks = ri_job_chunks(draws, chunk_draws, chunk)
    df = ri_job_frame(p, seed, draws, chunk_draws, chunk)
    meta = {
        "data_label": data_label,
        "instrument": instrument,
        "outcome": outcome,
        "seed": seed,
        "n_draws": draws,
        "chunk_draws": chunk_draws,
        "job": chunk,
    }
    return RIChunkOutput(draws=df, meta=meta, seed_chunks=seed_chunks)


@dataclass(frozen=True)
class RIGatherOutput:
    """What :func:`ri_gather` returns.

    Attributes
    ----------
    doc
        The result record (NaN as None) plus alpha, family alpha, draws requested, seed and
        the number of chunk jobs: the JSON ``ri-gather`` writes.
    result
        The RI test result.
    """

    doc: dict
    result: TestResult


def ri_gather(
    frame: pd.DataFrame,
    settings: Settings,
    instrument: str,
    outcome: str,
    jobs: Sequence[tuple[str, dict, pd.DataFrame]],
    *,
    seed: int,
    draws: int,
    chunk_draws: int,
    data_label: str = "",
) -> RIGatherOutput:
    """Turn every scattered job's draws into the RI result (``linkseval ri-gather``).

    Parameters
    ----------
    frame
        The practice-year panel of ``score``.
    settings
        The study's settings.
    instrument, outcome
        Which outcome.
    jobs
        Every job as (name for errors, Parquet metadata, draws), in any order.
    seed, draws, chunk_draws
        As given to every :func:`ri_chunk` (checked against each job's metadata).
    data_label
        Label carried into the result.

    Returns
    -------
    RIGatherOutput
        The result record with the estimate of the headline's static TWFE (OLS fit; RI has
        no standard error) and the RI p-value and CI.

    Raises
    ------
    LinksevalError
        If a job is of another outcome, missing, repeated or made with other settings.
    """
    from linkseval.did import ols, twfe_design
    from linkseval.estimators import panel_counts, result_row
    from linkseval.scatter import ri_from_jobs, ri_n_jobs

    p = ri_panel(frame, settings, instrument, outcome)
    for name, meta, _ in jobs:
        if (meta.get("instrument"), meta.get("outcome")) != (instrument, outcome):
            raise LinksevalError(f"{name}: an RI chunk of another outcome")
    res = ri_from_jobs(
        p,
        [(meta, df) for _, meta, df in jobs],
        seed=seed,
        n_draws=draws,
        chunk_draws=chunk_draws,
        alpha=settings.alpha,
        family_alpha=settings.family_alpha(outcome),
    )
    base = {
        "instrument": instrument,
        "outcome": outcome,
        "comparison": settings.main_comparison,
        "estimator": "twfe",
        **panel_counts(p),
    }
    # the estimate as in the headline (OLS fit); RI has no standard error
    estimate = float(ols(twfe_design(p)).beta[0])
    record = result_row(base, "treated_post", res, estimate, float("nan"))
    doc = {  # the result record, plus how the scattered draws were made
        "data_label": data_label,
        **{k: None if isinstance(v, float) and v != v else v for k, v in record.items()},
        "alpha": settings.alpha,
        "family_alpha": settings.family_alpha(outcome),
        "draws_requested": draws,
        "seed": seed,
        "chunk_jobs": ri_n_jobs(draws, chunk_draws),
    }
    return RIGatherOutput(doc=doc, result=res)


def mc_chunk(s: MCSettings, scenario: str, run: str, chunk: int) -> tuple[pd.DataFrame, dict]:
    """Run one chunk of Monte Carlo replications (``linkseval monte-carlo-chunk``).

    Parameters
    ----------
    s
        The Monte Carlo settings (config ``monte_carlo``).
    scenario
        Scenario name (:data:`linkseval.montecarlo.SCENARIOS`).
    run
        ``main`` or ``check``.
    chunk
        Which chunk of ``chunk_size`` replications.

    Returns
    -------
    tuple
        The chunk's rows and their Parquet metadata (scenario, run, chunk and settings, which
        the gather checks).
    """
    from dataclasses import asdict

    from linkseval.montecarlo import run_chunk

    rows = run_chunk(s, scenario, run, chunk)
    meta = {"scenario": scenario, "run": run, "chunk": chunk, "settings": asdict(s)}
    return rows, meta


@dataclass(frozen=True)
class MCGatherOutput:
    """What :func:`mc_gather` returns.

    Attributes
    ----------
    settings
        The Monte Carlo settings.
    raw, check
        The main and the check run's rows (:func:`linkseval.montecarlo.gather`), for
        :func:`linkseval.montecarlo.write_tables`.
    n_chunks
        How many distinct chunks were gathered.
    """

    settings: MCSettings
    raw: pd.DataFrame
    check: pd.DataFrame
    n_chunks: int


def mc_gather(s: MCSettings, chunks: Sequence[tuple[str, dict, pd.DataFrame]]) -> MCGatherOutput:
    """Gather every Monte Carlo chunk (``linkseval monte-carlo-gather``).

    Parameters
    ----------
    s
        The Monte Carlo settings (config ``monte_carlo``).
    chunks
        Every chunk as (name for errors, Parquet metadata, rows).

    Returns
    -------
    MCGatherOutput
        The settings and the gathered rows.

    Raises
    ------
    LinksevalError
        If a chunk was made with other settings (or one is missing: a ConfigError).
    """
    import json
    from dataclasses import asdict

    from linkseval.montecarlo import gather

    settings = json.loads(json.dumps(asdict(s)))
    by_key = {}
    for name, meta, df in chunks:
        if meta.get("settings") != settings:
            raise LinksevalError(f"{name}: a Monte Carlo chunk made with other settings")
        by_key[(meta["scenario"], meta["run"], int(meta["chunk"]))] = df
    raw, check = gather(s, by_key)
    return MCGatherOutput(settings=s, raw=raw, check=check, n_chunks=len(by_key))


__all__ = [
    "CleanOutput",
    "CombineOutput",
    "MCGatherOutput",
    "MultilevelOutput",
    "QualityOutput",
    "RIChunkOutput",
    "RIGatherOutput",
    "RecoveryOutput",
    "ScoreOutput",
    "clean",
    "combine",
    "describe",
    "did",
    "disclosure",
    "estimate",
    "index",
    "links",
    "mc_chunk",
    "mc_gather",
    "multilevel",
    "quality",
    "recovery",
    "ri_chunk",
    "ri_gather",
    "ri_panel",
    "score",
]
