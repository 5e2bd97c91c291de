"""The ``linkseval`` subcommands' file adapters: read the inputs, call a stage, write the outputs.

Each ``cmd_*`` takes the parsed arguments of one subcommand (:mod:`linkseval.cli` holds the
parser), reads its files, calls the matching function of :mod:`linkseval.stages` (where the work
is) and writes every output atomically, only after all work succeeded. Heavy imports are inside
the functions so that ``linkseval --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from linkseval import SYNTHETIC_LABEL
from linkseval.errors import LinksevalError
from linkseval.report.labels import banner_text

if TYPE_CHECKING:
    from linkseval.montecarlo import MCSettings
    from linkseval.report.notebook import NotebookJob
    from linkseval.study import Settings


DISK_FULL = {errno.ENOSPC, errno.EDQUOT}  # a full disk or quota: one line, no traceback


def run(args: argparse.Namespace) -> int:
    """Run a parsed subcommand (its ``func``); an expected error is one line on stderr.

    Parameters
    ----------
    args
        The parsed arguments of :func:`linkseval.cli.build_parser`.

    Returns
    -------
    int
        The exit status: 0 on success, 1 on a :class:`~linkseval.errors.LinksevalError` or a
        full disk (``linkseval: error: ...``, no traceback); other errors propagate.
    """
    try:
        args.func(args)
    except LinksevalError as exc:
        print(f"linkseval: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno not in DISK_FULL and "No space left on device" not in str(exc):
            raise
        print(disk_full_message(exc, args.command), file=sys.stderr)
        return 1
    return 0


def disk_full_message(exc: OSError, command: str) -> str:
    """Return the one line a full disk during ``command`` prints (the file named if known)."""
    where = f"{exc.filename}: " if exc.filename else ""
    return (
        f"linkseval: error: {where}no space left on device ({command}); free space and "
        "run again (no partial output is kept)"
    )


def _settings(args: argparse.Namespace) -> Settings:
    """Return the typed study settings of a job's ``--settings`` JSON, parsed once here.

    The JSON is the job's part of the effective ``analysis`` config
    (:meth:`linkseval.study.Study.job_settings`; Snakemake reruns a job when it changes);
    missing keys take the schema's defaults.
    """
    from linkseval.study import Settings

    return Settings.from_config(json.loads(args.settings))


def _mc_settings(args: argparse.Namespace) -> MCSettings:
    """Return the Monte Carlo settings of a job's ``--settings`` JSON (config ``monte_carlo``)."""
    from linkseval.montecarlo import MCSettings

    return MCSettings.from_config(json.loads(args.settings))


def _banner(label: str) -> None:
    if label:
        print(f"*** {banner_text(label)} ***", file=sys.stderr)


def cmd_synth(args: argparse.Namespace) -> None:
    """Write the deterministic synthetic extracts (``linkseval synth``)."""
    from linkseval.data.codebook import load_codebook
    from linkseval.study import load_study_file

    settings = json.loads(args.settings) if args.settings else None
    years = args.years
    if settings is None or not years:  # what the flags do not give comes from the study
        study = load_study_file(args.config, args.codebook)
        settings = study.synthetic if settings is None else settings
        years = years or list(study.years)
    from linkseval.synthetic import write_synthetic

    _banner(SYNTHETIC_LABEL)
    paths = write_synthetic(Path(args.out_dir), settings, years, load_codebook(args.codebook))
    print(f"wrote {len(paths)} synthetic files to {args.out_dir}", file=sys.stderr)


def cmd_clean(args: argparse.Namespace) -> None:
    """Validate one extract and quarantine bad rows (``linkseval clean``)."""
    from linkseval import stages
    from linkseval.data.codebook import load_codebook
    from linkseval.data.register import read_register
    from linkseval.data.store import write_json, write_parquet

    instrument = load_codebook(args.codebook)[args.instrument]
    register = read_register(
        args.register,
        code_width=args.code_width,
        code_pattern=args.code_pattern,
        survey_years=args.survey_years,
    )
    out = stages.clean(
        args.extract,
        instrument,
        register,
        year=args.year,
        code_width=args.code_width,
        max_missing_items=args.max_missing_items,
        data_label=args.data_label,
    )
    acc = out.accounting
    write_parquet(out.result.kept, args.out_clean, out.meta)
    write_parquet(out.result.rejects, args.out_rejects, out.meta)
    write_json(acc, args.out_accounting)
    _banner(args.data_label)
    print(
        f"{out.source.name}: read {acc['rows_read']}, kept {acc['rows_kept']}, "
        f"quarantined {acc['rows_quarantined']} "
        + json.dumps({k: v for k, v in acc["quarantined_by_reason"].items() if v}),
        file=sys.stderr,
    )


def cmd_score(args: argparse.Namespace) -> None:
    """Score respondents and build the panel (``linkseval score``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.codebook import load_codebook
    from linkseval.data.register import read_register
    from linkseval.data.store import write_parquet

    instrument = load_codebook(args.codebook)[args.instrument]
    register = read_register(
        args.register,
        code_width=args.code_width,
        code_pattern=args.code_pattern,
        survey_years=args.survey_years,
    )
    clean = pd.concat([pd.read_parquet(p) for p in args.clean], ignore_index=True)
    out = stages.score(
        clean,
        instrument,
        register,
        min_respondents=args.min_respondents,
        min_items_per_theme=args.min_items_per_theme,
        percent_formula=args.percent_formula,
        data_label=args.data_label,
    )
    write_parquet(out.scores, args.out_scores, out.meta)
    write_parquet(out.panel, args.out_panel, out.meta)
    _banner(args.data_label)
    print(
        f"{instrument.name}: {len(out.scores)} respondents scored, {len(out.panel)} "
        f"practice-year-outcome rows, {int(out.panel['suppressed'].sum())} suppressed "
        f"(< {args.min_respondents})",
        file=sys.stderr,
    )


def cmd_quality(args: argparse.Namespace) -> None:
    """Summarise data quality (``linkseval quality``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_csv, write_json

    accountings = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.accounting]
    panels = pd.concat([pd.read_parquet(p) for p in args.panel], ignore_index=True)
    rejects = pd.concat([pd.read_parquet(p) for p in args.rejects], ignore_index=True)
    out = stages.quality(accountings, panels, rejects, data_label=args.data_label)
    write_csv(out.files, args.out_files)
    write_csv(out.practice_years, args.out_practice_years)
    write_csv(out.reasons, args.out_reasons)
    write_json(out.summary, args.out_summary)
    _banner(args.data_label)
    print(f"data quality: {json.dumps(out.summary['totals'])}", file=sys.stderr)


def cmd_estimate(args: argparse.Namespace) -> None:
    """Write the DiD estimates for one outcome (``linkseval estimate``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_parquet

    res = stages.estimate(
        pd.read_parquet(args.panel),
        _settings(args),
        args.instrument,
        args.outcome,
        comparisons=args.comparison,
        data_label=args.data_label,
    )
    write_parquet(res, args.out, {"data_label": args.data_label, "settings": args.settings})
    _banner(args.data_label)
    print(f"{args.instrument}/{args.outcome}: {len(res)} estimate rows", file=sys.stderr)


def cmd_multilevel(args: argparse.Namespace) -> None:
    """Run the respondent-level MixedLM cross-check (``linkseval multilevel``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.codebook import load_codebook
    from linkseval.data.register import read_register
    from linkseval.data.store import write_parquet

    instrument = load_codebook(args.codebook)[args.instrument]
    register = read_register(
        args.register, code_width=args.code_width, code_pattern=args.code_pattern
    )
    out = stages.multilevel(
        pd.read_parquet(args.scores),
        register,
        instrument,
        args.outcome,  # one process for several outcomes: imports and data once
        _settings(args),
        percent_formula=args.percent_formula,
        data_label=args.data_label,
    )
    for line in out.messages:
        print(line, file=sys.stderr)
    write_parquet(out.table, args.out, {"data_label": args.data_label})
    _banner(args.data_label)


def cmd_placebo(args: argparse.Namespace) -> None:
    """Write the placebo study's size per method (``linkseval placebo``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_csv, write_parquet

    out = stages.placebo(
        pd.read_parquet(args.panel),
        _settings(args),
        args.instrument,
        args.outcome,
        data_label=args.data_label,
    )
    write_parquet(out, args.out, {"data_label": args.data_label})
    if args.out_csv:
        write_csv(out, args.out_csv)
    _banner(args.data_label)
    print(f"{args.instrument}: placebo study of {len(args.outcome)} outcome(s)", file=sys.stderr)


def cmd_twfe_weights(args: argparse.Namespace) -> None:
    """Write the static TWFE coefficient's weights per outcome (``linkseval twfe-weights``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_parquet

    out = stages.twfe_weights(
        pd.read_parquet(args.panel),
        _settings(args),
        args.instrument,
        args.outcome,
        data_label=args.data_label,
    )
    write_parquet(out.cells, args.out_cells, {"data_label": args.data_label})
    write_parquet(out.summary, args.out_summary, {"data_label": args.data_label})
    _banner(args.data_label)
    neg = int(out.summary["n_negative"].sum())
    print(
        f"{args.instrument}: TWFE weights of {len(args.outcome)} outcome(s); "
        f"{neg} negative weight(s) in all",
        file=sys.stderr,
    )


def cmd_placebo_chunk(args: argparse.Namespace) -> None:
    """Write one scattered job's placebo p-values (``linkseval placebo-chunk``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_parquet

    s = _settings(args)
    out = stages.placebo_chunk(
        pd.read_parquet(args.panel),
        s,
        args.instrument,
        args.outcome,
        job=args.chunk,
        data_label=args.data_label,
    )
    meta = {"data_label": args.data_label, "job": args.chunk, **placebo_meta(s)}
    write_parquet(out, args.out, meta)
    _banner(args.data_label)
    first, last = int(out["assignment"].min()), int(out["assignment"].max())
    print(
        f"{args.instrument}/{args.outcome}: placebo job {args.chunk}: assignments {first}-{last}",
        file=sys.stderr,
    )


# the placebo settings a scattered job records and the gather checks
PLACEBO_META = ("assignments", "seed", "wild_assignments", "wild_draws", "scatter_assignments")


def placebo_meta(s: Settings) -> dict:
    """Return every setting a placebo job's p-values depend on (recorded, checked at gather)."""
    return {
        **{k: int(s.placebo[k]) for k in PLACEBO_META},
        "ri_seed": s.ri_seed,
        "ri_draws": s.ri_draws,
        "bootstrap_seed": s.bootstrap_seed,
        "bootstrap_weights": s.bootstrap_weights,
        "alpha": s.alpha,
        "main_comparison": s.main_comparison,
    }


def cmd_placebo_gather(args: argparse.Namespace) -> None:
    """Gather scattered placebo jobs into the study's table (``linkseval placebo-gather``)."""
    from linkseval import stages
    from linkseval.data.store import write_csv, write_parquet
    from linkseval.errors import ConfigError

    s = _settings(args)
    want = placebo_meta(s)
    chunks = []
    for path, meta, frame in _read_jobs(args.chunks):
        got = {k: meta.get(k) for k in want}
        if got != want or meta.get("data_label") != args.data_label:
            raise ConfigError(f"{path}: placebo job made with {got}, not {want}")
        chunks.append(frame)
    out = stages.placebo_gather(
        chunks, s, args.instrument, args.outcome, data_label=args.data_label
    )
    write_parquet(out, args.out, {"data_label": args.data_label})
    if args.out_csv:
        write_csv(out, args.out_csv)
    _banner(args.data_label)
    print(
        f"{args.instrument}: placebo study of {len(args.outcome)} outcome(s) from "
        f"{len(chunks)} job(s)",
        file=sys.stderr,
    )


def cmd_combine(args: argparse.Namespace) -> None:
    """Gather outcome estimates, adjust them and write the headline (``linkseval combine``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import to_json_text, write_csv, write_parquet, write_text

    tables = [pd.read_parquet(p) for p in args.estimates]  # each checked on the schema
    out = stages.combine(tables, _settings(args), data_label=args.data_label)
    write_parquet(out.table, args.out_parquet, {"data_label": args.data_label})
    write_csv(out.table, args.out_csv)
    write_csv(out.headline, args.out_headline)
    write_text(to_json_text(out.headline_doc), args.out_json)
    if args.out_primary:
        write_csv(out.primary, args.out_primary)
    _banner(args.data_label)
    print(f"{len(out.table)} estimate rows; headline: {len(out.headline)} rows", file=sys.stderr)


def cmd_describe(args: argparse.Namespace) -> None:
    """Write the report's descriptive figures' data (``linkseval describe``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_csv

    panel = pd.concat([pd.read_parquet(p) for p in args.panel], ignore_index=True)
    means, change = stages.describe(
        panel,
        baseline_year=args.baseline_year,
        data_label=args.data_label,
        s=_settings(args) if args.settings else None,
    )
    write_csv(means, args.out_means)
    write_csv(change, args.out_change)
    _banner(args.data_label)


def _read_panel_file(path: Path):
    """Read a long panel from .csv/.txt, .parquet or .dta (``linkseval did --panel``)."""
    import pandas as pd

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    if path.suffix == ".dta":
        return pd.read_stata(path)
    from linkseval.errors import ConfigError

    raise ConfigError(f"{path}: panel must be .csv, .parquet or .dta")


def cmd_did(args: argparse.Namespace) -> None:
    """Run DiD on any unit × period panel (``linkseval did``)."""
    from linkseval import stages
    from linkseval.data.store import to_json_text, write_text

    path = Path(args.panel)
    cs_options = {
        "control_group": args.control_group,
        "anticipation": args.anticipation,
        "covariates": args.covariates,
        "sampling_weights": args.sampling_weights,
        "aggregations": args.aggregations,
        "cband": args.uniform_band,
        "biters": args.band_draws if args.uniform_band else None,
    }
    records = stages.did(
        _read_panel_file(path),
        unit=args.unit,
        time=args.time,
        cohort=args.cohort,
        outcome=args.outcome,
        weights=args.weights,
        cluster=args.cluster,
        estimator=args.estimator,
        draws=args.draws,
        seed=args.seed,
        alpha=args.alpha,
        se=args.se,
        replications=args.replications,
        cs_options=cs_options,
    )
    doc = {
        "panel": str(path),
        "call": {k: v for k, v in vars(args).items() if k not in ("func", "command")},
        "results": records,
    }
    if args.uniform_band:
        doc["uniform_band"] = uniform_band_summary(records, args)
    text = to_json_text(doc)
    if args.out:
        write_text(text, args.out)
    else:
        sys.stdout.write(text)


def uniform_band_summary(records: list[dict], args: argparse.Namespace) -> dict:
    """Return the JSON's ``uniform_band``: the dynamic terms' sup-t critical value and band.

    The critical value c is read back from the analytic ``dynamic`` rows (their
    ``ci_high_fw`` = estimate + c·SE), so it carries the rows' ten significant digits.
    """
    rows = [
        r
        for r in records
        if r["term"] == "dynamic"
        and r["method"] == "influence function (analytic)"
        and r["ci_high_fw"] is not None
    ]
    crit = None
    if rows:
        r = max(rows, key=lambda r: r["std_error"])
        crit = round((r["ci_high_fw"] - r["estimate"]) / r["std_error"], 8)
    return {
        "terms": "dynamic",
        "critical_value": crit,
        "alpha": args.alpha,
        "draws": args.band_draws,
        "seed": args.seed,
        "method": "multiplier bootstrap, Mammen weights by cluster, sup-t (R did's cband)",
        "band": [
            {"event_time": r["event_time"], "low": r["ci_low_fw"], "high": r["ci_high_fw"]}
            for r in sorted(rows, key=lambda r: r["event_time"])
        ],
    }


def cmd_links(args: argparse.Namespace) -> None:
    """List the Links practices of a register (``linkseval links``)."""
    from linkseval import stages
    from linkseval.data.register import read_register
    from linkseval.data.store import write_json

    reg = read_register(
        args.register,
        code_width=args.code_width,
        code_pattern=args.code_pattern,
        survey_years=args.survey_years,
    )
    write_json(stages.links(reg), args.out)


def cmd_expected(args: argparse.Namespace) -> None:
    """Compare headline estimates with the committed expectation (``linkseval expected``)."""
    from linkseval.data.store import write_json
    from linkseval.expected import compare, load, summarise

    actual = summarise(load(args.headline))
    if args.update:
        write_json(actual, args.expected)
        print(f"updated {args.expected} ({len(actual['rows'])} rows)", file=sys.stderr)
        return
    diffs = compare(actual, load(args.expected))
    if diffs:
        print(f"headline estimates moved against {args.expected}:", file=sys.stderr)
        for d in diffs:
            print(f"  {d}", file=sys.stderr)
        print("if the change is intended: make expected (and commit the file)", file=sys.stderr)
        raise SystemExit(1)
    print(f"headline matches {args.expected} ({len(actual['rows'])} rows)", file=sys.stderr)


def cmd_recovery(args: argparse.Namespace) -> None:
    """Check that headline intervals cover the true effects (``linkseval recovery``)."""
    import pandas as pd

    from linkseval import stages

    truth = json.loads(Path(args.truth).read_text(encoding="utf-8"))
    head = pd.DataFrame(json.loads(Path(args.headline).read_text(encoding="utf-8"))["headline"])
    out = stages.recovery(head, truth, args.methods)
    print(out.text)
    if out.misses:
        print(f"the headline does not recover the generator's true effects ({args.truth}):")
        for line in out.misses:
            print(f"  {line}")
        raise SystemExit(1)
    print(
        f"recovered: every {' and '.join(args.methods)} interval the report states covers the "
        f"true effect ({out.n_checked} intervals)"
    )


def cmd_render(args: argparse.Namespace) -> None:
    """Render an executed notebook as a report page (``linkseval render``)."""
    from linkseval.data.store import write_text
    from linkseval.report.pages import render_notebook

    nav = args.nav or []
    write_text(render_notebook(args.notebook, args.title, args.data_label, nav), args.out)


def cmd_finish(args: argparse.Namespace) -> None:
    """Scrub a papermill output and render its report page (``linkseval finish``)."""
    from linkseval.report.pages import finish_notebook

    finish_notebook(
        args.partial, args.notebook, args.html, args.title, args.data_label, args.nav or []
    )


def cmd_notebook(args: argparse.Namespace) -> None:
    """Execute a notebook with papermill, then finish it (scrub, move into place, render)."""
    from linkseval.report.notebook import execute

    execute(args.input, args.partial, args.papermill_args)
    cmd_finish(args)


def cmd_notebooks(args: argparse.Namespace) -> None:
    """Execute one notebook for a batch of pages in one kernel, finishing each (``notebooks``)."""
    from linkseval.report.notebook import execute_batch, parse_jobs, parse_parameters
    from linkseval.report.pages import finish_notebook

    jobs = parse_jobs(args.jobs)
    shared = parse_parameters(args.parameters)
    nav = args.nav or []
    for job in jobs:
        for path in (job.notebook, job.html):
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def finish(job: NotebookJob) -> None:
        finish_notebook(job.partial, job.notebook, job.html, job.title, args.data_label, nav)

    execute_batch(args.input, jobs, shared, finish)
    print(f"executed {args.input} for {len(jobs)} pages", file=sys.stderr)


def cmd_publish(args: argparse.Namespace) -> None:
    """Copy the staged, checked pages into the published folder, all at once."""
    from linkseval.report.publish import publish

    files = publish(args.pages, args.out)
    print(f"published {len(files)} pages to {args.out}", file=sys.stderr)


def cmd_pdf(args: argparse.Namespace) -> None:
    """Print the checked pages as one PDF (``linkseval pdf``)."""
    from linkseval.data.store import atomic_path
    from linkseval.report.pdf import print_document, print_pdf

    pages = [(Path(p).stem, Path(p).read_text(encoding="utf-8")) for p in args.pages]
    data = print_pdf(print_document(pages, args.title, args.data_label))
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(data)
    print(f"printed {len(pages)} pages to {args.out} ({len(data):,} bytes)", file=sys.stderr)


def cmd_diagram(args: argparse.Namespace) -> None:
    """Draw the pipeline's rule graph (``linkseval diagram``)."""
    from linkseval.data.store import atomic_path, write_json
    from linkseval.report import diagram

    text = diagram.rulegraph(args.snakefile, args.directory, json.loads(args.config_json))
    graph = diagram.reduce(diagram.parse_rulegraph(text))
    png = diagram.render_png(diagram.diagram_dot(graph))
    with atomic_path(args.out_png) as tmp:
        tmp.write_bytes(png)
    info = {"alt": diagram.alt_text(graph), "rules": graph.order(), "edges": graph.edges}
    write_json(info, args.out_json)
    print(f"drew {len(graph.rules)} rules to {args.out_png}", file=sys.stderr)


def cmd_index(args: argparse.Namespace) -> None:
    """Write the report's entry page (``linkseval index``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.codebook import load_codebook
    from linkseval.data.store import write_text

    quality = json.loads(Path(args.quality).read_text(encoding="utf-8")) if args.quality else None
    text = stages.index(
        pd.read_csv(args.headline),
        _settings(args),
        load_codebook(args.codebook),
        args.page,
        data_label=args.data_label,
        placebo=pd.concat([pd.read_parquet(f) for f in args.placebo]) if args.placebo else None,
        primary=pd.read_csv(args.primary) if args.primary else None,
        quality=quality,
    )
    write_text(text, args.out)


def cmd_disclosure(args: argparse.Namespace) -> None:
    """Check published outputs for disclosure risks (``linkseval disclosure``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_json

    ids: set[str] = set()
    for path in args.identifiers_from:
        ids.update(pd.read_parquet(path, columns=["respondent_id"])["respondent_id"].astype(str))
    rep = stages.disclosure(args.files, ids, min_respondents=args.min_respondents)
    write_json(rep, args.out)
    print(f"disclosure check: {len(args.files)} published files, no problems", file=sys.stderr)


def cmd_provenance(args: argparse.Namespace) -> None:
    """Record inputs, config, code and packages (``linkseval provenance``)."""
    from linkseval.data.store import write_json
    from linkseval.report.provenance import provenance

    rec = provenance(
        args.inputs,
        config=json.loads(args.config_json),
        lock=args.lock,
        root=args.root,
        data_label=args.data_label,
    )
    write_json(rec, args.out)


# --------------------------------------------------------------------------- scattered work


def _parquet_meta(path: str | Path) -> dict:
    """Return the key/value metadata :func:`linkseval.data.store.write_parquet` stored in a file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): json.loads(v) for k, v in meta.items() if not k.startswith(b"pandas")}


def _read_jobs(paths: list[str]) -> list[tuple[str, dict, object]]:
    """Read scattered jobs' outputs as (path, metadata, frame)."""
    import pandas as pd

    return [(path, _parquet_meta(path), pd.read_parquet(path)) for path in paths]


def cmd_ri_chunk(args: argparse.Namespace) -> None:
    """Write the RI draws of one chunk job (``linkseval ri-chunk``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_parquet

    out = stages.ri_chunk(
        pd.read_parquet(args.panel),
        _settings(args),
        args.instrument,
        args.outcome,
        seed=args.seed,
        draws=args.draws,
        chunk_draws=args.chunk_draws,
        chunk=args.chunk,
        data_label=args.data_label,
    )
    write_parquet(out.draws, args.out, out.meta)
    _banner(args.data_label)
    chunks = out.seed_chunks
    print(
        f"{args.instrument}/{args.outcome}: RI chunk job {args.chunk}: seed chunks "
        f"{chunks.start}-{chunks.stop - 1}, {len(out.draws)} draws",
        file=sys.stderr,
    )


def cmd_ri_gather(args: argparse.Namespace) -> None:
    """Compute the RI p-value and CI from all chunk jobs (``linkseval ri-gather``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import write_json

    out = stages.ri_gather(
        pd.read_parquet(args.panel),
        _settings(args),
        args.instrument,
        args.outcome,
        _read_jobs(args.chunks),
        seed=args.seed,
        draws=args.draws,
        chunk_draws=args.chunk_draws,
        data_label=args.data_label,
    )
    write_json(out.doc, args.out)
    _banner(args.data_label)
    res = out.result
    print(
        f"{args.instrument}/{args.outcome}: RI from {len(args.chunks)} chunk jobs, "
        f"{res.n_draws} draws: p = {res.p_value:.4g}, CI [{res.ci_low:.4g}, {res.ci_high:.4g}]",
        file=sys.stderr,
    )


def cmd_mc_chunk(args: argparse.Namespace) -> None:
    """Run one chunk of Monte Carlo replications (``linkseval monte-carlo-chunk``)."""
    from linkseval import stages
    from linkseval.data.store import write_parquet

    rows, meta = stages.mc_chunk(_mc_settings(args), args.scenario, args.run, args.chunk)
    write_parquet(rows, args.out, meta)
    reps = rows["rep"].unique()
    print(
        f"Monte Carlo {args.scenario}/{args.run} chunk {args.chunk}: replications "
        f"{reps.min()}-{reps.max()}",
        file=sys.stderr,
    )


def cmd_mc_gather(args: argparse.Namespace) -> None:
    """Gather every Monte Carlo chunk into the summary tables (``linkseval monte-carlo-gather``)."""
    from linkseval import stages
    from linkseval.montecarlo import write_tables

    out = stages.mc_gather(_mc_settings(args), _read_jobs(args.chunks))
    write_tables(
        out.raw,
        out.check,
        summary=args.out_summary,
        agreement=args.out_agreement,
        table=args.out_table,
        reps=args.out_reps,
    )
    n_rows = len(out.raw) + len(out.check)
    print(f"Monte Carlo: {out.n_chunks} chunks, {n_rows} rows", file=sys.stderr)
