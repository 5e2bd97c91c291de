"""The ``linkseval`` command: one subcommand per pipeline stage (Snakemake calls these).

Expected errors (bad input, bad config) print one line naming file, line and column and exit 1,
without a traceback. Every output is written atomically and only after all work succeeded.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path

from linkseval import SYNTHETIC_LABEL, __version__
from linkseval.errors import LinksevalError
from linkseval.report.labels import banner_text
from linkseval.study import schema_enum, section_defaults

# linkseval.analysis.GENERIC_ESTIMATORS, without importing pandas for --help (tested equal)
DID_ESTIMATORS = ("twfe", "event_study", "did2x2", "cs", "imputation")
DISK_FULL = {errno.ENOSPC, errno.EDQUOT}  # a full disk or quota: one line, no traceback

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


def _banner(label: str) -> None:
    if label:
        print(f"*** {banner_text(label)} ***", file=sys.stderr)


def cmd_synth(args: argparse.Namespace) -> None:
    """Write the deterministic synthetic extracts (``linkseval synth``)."""
    import yaml

    from linkseval.data.codebook import load_codebook
    from linkseval.synthetic import write_synthetic

    config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    settings = json.loads(args.settings) if args.settings else config["synthetic"]
    years = args.years or config["years"]
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
        json.loads(args.settings),
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
        json.loads(args.settings),
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
        json.loads(args.settings),
        args.instrument,
        args.outcome,
        data_label=args.data_label,
    )
    write_parquet(out, args.out, {"data_label": args.data_label})
    if args.out_csv:
        write_csv(out, args.out_csv)
    _banner(args.data_label)
    print(f"{args.instrument}: placebo study of {len(args.outcome)} outcome(s)", file=sys.stderr)


def cmd_combine(args: argparse.Namespace) -> None:
    """Gather outcome estimates, adjust them and write the headline (``linkseval combine``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.store import to_json_text, write_csv, write_parquet, write_text

    tables = [pd.read_parquet(p) for p in args.estimates]  # each checked on the schema
    out = stages.combine(tables, json.loads(args.settings), data_label=args.data_label)
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
        panel, baseline_year=args.baseline_year, data_label=args.data_label
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
    )
    doc = {
        "panel": str(path),
        "call": {k: v for k, v in vars(args).items() if k not in ("func", "command")},
        "results": records,
    }
    text = to_json_text(doc)
    if args.out:
        write_text(text, args.out)
    else:
        sys.stdout.write(text)


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
    from linkseval.data.store import write_text
    from linkseval.report.pages import render_notebook, scrub_notebook

    nb = scrub_notebook(args.partial, to=args.notebook)  # render what was written: no re-read
    nav = args.nav or []
    write_text(render_notebook(nb, args.title, args.data_label, nav), args.html)


def cmd_notebook(args: argparse.Namespace) -> None:
    """Execute a notebook with papermill, then finish it (scrub, move into place, render)."""
    from linkseval.report.notebook import execute

    execute(args.input, args.partial, args.papermill_args)
    cmd_finish(args)


def cmd_publish(args: argparse.Namespace) -> None:
    """Copy the staged, checked pages into the published folder, all at once."""
    from linkseval.report.publish import publish

    files = publish(args.pages, args.out)
    print(f"published {len(files)} pages to {args.out}", file=sys.stderr)


def cmd_index(args: argparse.Namespace) -> None:
    """Write the report's entry page (``linkseval index``)."""
    import pandas as pd

    from linkseval import stages
    from linkseval.data.codebook import load_codebook
    from linkseval.data.store import write_text

    text = stages.index(
        pd.read_csv(args.headline),
        json.loads(args.settings),
        load_codebook(args.codebook),
        args.page,
        data_label=args.data_label,
        placebo=pd.concat([pd.read_parquet(f) for f in args.placebo]) if args.placebo else None,
        primary=pd.read_csv(args.primary) if args.primary else None,
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
        json.loads(args.settings),
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
        json.loads(args.settings),
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

    rows, meta = stages.mc_chunk(json.loads(args.settings), args.scenario, args.run, args.chunk)
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

    out = stages.mc_gather(json.loads(args.settings), _read_jobs(args.chunks))
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


def _link(text: str) -> tuple[str, str]:
    """Parse TITLE=HREF (an argparse type)."""
    title, sep, href = text.partition("=")
    if not sep or not title or not href:
        raise argparse.ArgumentTypeError(f"expected TITLE=HREF, got {text!r}")
    return title, href


def _paths(p: argparse.ArgumentParser, *names: str, nargs: str | None = None) -> None:
    for name in names:
        p.add_argument(f"--{name}", required=True, nargs=nargs, metavar="FILE")


def _common_options() -> argparse.ArgumentParser:
    """Return the parent parser of the options most subcommands share."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--codebook",
        default="config/codebook.yaml",
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
        default="config/config.yaml",
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
    _paths(p, "panel")
    p.add_argument("--instrument", required=True)
    p.add_argument("--outcome", required=True, nargs="+", help="one block per outcome, in order")
    p.add_argument("--settings", required=True, metavar="JSON", help="the 'analysis' config")
    _paths(p, "out")
    p.add_argument("--out-csv", metavar="FILE", help="also write the table as CSV")
    p.set_defaults(func=cmd_placebo)


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
        default=["WCR bootstrap", "randomization inference"],
        choices=["CR1", "WCR bootstrap", "randomization inference"],
        help="methods held to the check (default: the two few-cluster-robust ones)",
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
        "inference) as JSON. The cohort column holds the first treated period; 0 or blank = "
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
        choices=list(DID_ESTIMATORS),
        help="twfe: static two-way FE; event_study: effects by period since the start (joint "
        "pre-trend test with >= 2 pre periods); did2x2: last pre period vs each post period "
        "(one cohort); cs: Callaway-Sant'Anna group-time ATTs with simple and dynamic "
        "aggregation (never-treated controls; staggered starts); imputation: Borusyak-"
        "Jaravel-Spiess imputation estimator, simple and per event time, with its pre-trend "
        "test (never-treated controls). Default: %(default)s",
    )
    p.add_argument(
        "--draws",
        type=int,
        default=section_defaults("analysis", "bootstrap", "draws"),
        help="bootstrap and RI draws (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument("--alpha", type=float, default=section_defaults("analysis", "alpha"))
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
    _add_index(sub, common)
    _add_publish(sub)
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
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except LinksevalError as exc:
        print(f"linkseval: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno not in DISK_FULL and "No space left on device" not in str(exc):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"linkseval: error: {where}no space left on device ({args.command}); free space and "
            "run again (no partial output is kept)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
