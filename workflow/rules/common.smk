# Configuration checks, paths and input functions shared by every rule.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from linkseval.configuration import coerce_to_schema, input_problems
from linkseval.errors import LinksevalError
from linkseval.report import site
from linkseval.report.labels import is_synthetic_folder, resolve_data_label
from linkseval.study import load_study, schema


# `--config years='[2013,2014]'` or `scoring='{min_respondents: 6}'` arrive as strings from the
# command line: type them as the schema asks (only where it allows no string), then validate
# (which fills in the schema's defaults; the package reads the same file: linkseval.study).
config.update(coerce_to_schema(dict(config), schema()))
validate(config, schema="../schemas/config.schema.yaml")

# Jobs run `python -m linkseval` with the interpreter that runs Snakemake (the project's
# environment), even when Snakemake was started as .venv/bin/snakemake without activation.
# One BLAS/OpenMP thread per job: sums do not depend on the thread count (same bytes anywhere),
# and Snakemake's own parallelism fills the cores.
shell.prefix(
    f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\" OMP_NUM_THREADS=1 "
    "OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1; set -euo pipefail; "
)

SYNTH_DIR = "results/synthetic/raw"
PAGES = "results/pages"  # staged report pages (publish_report copies them to results/report)


def workflow_rule_files():
    """The workflow's rule files (the pipeline diagram is redrawn when one changes)."""
    rules_dir = Path(workflow.basedir) / "workflow" / "rules"
    return sorted(repo_file(f"workflow/rules/{p.name}") for p in rules_dir.glob("*.smk"))


def repo_file(relative):
    """A file shipped with the workflow (notebook, lock, validation table), relative to the
    working directory, so the workflow also runs with --directory elsewhere."""
    return os.path.relpath(Path(workflow.basedir) / relative)


# The study, typed and loaded once with its codebook (linkseval.study): rules read it, not raw
# config keys (only the provenance record keeps the effective config, STUDY.config).
try:
    STUDY = load_study(config)
except LinksevalError as exc:
    sys.exit(f"linkseval: error: {exc}")
for _note in STUDY.notes:  # e.g. outcomes narrowed on the command line
    print(f"note: {_note}", file=sys.stderr)
SYNTHETIC = STUDY.synthetic_data
RAW_DIR = SYNTH_DIR if SYNTHETIC else STUDY.raw_dir
REGISTER = STUDY.register if STUDY.register is not None else f"{RAW_DIR}/practices.csv"
CODEBOOK = STUDY.codebook
YEARS = list(STUDY.years)
INSTRUMENTS = list(STUDY.instruments)
FILE_STEM = {name: ins.file_stem for name, ins in STUDY.instrument_specs.items()}
# rows per practice-year in an instrument's panel: one per theme, plus the overall score
PANEL_OUTCOMES = {name: len(ins.outcomes) for name, ins in STUDY.instrument_specs.items()}
# The label every output carries, decided in one place (linkseval.report.labels): SYNTHETIC DATA
# for the embedded set or a folder with its marker, else the config's data_label (or none). The
# papermill rules take it as YAML (-y), so that an empty label still passes one argument.
try:
    DATA_LABEL = resolve_data_label(
        STUDY.data_label, is_synthetic_folder(None if SYNTHETIC else RAW_DIR)
    )
except ValueError as exc:
    sys.exit(f"linkseval: error: {exc}")
DATA_LABEL_YAML = json.dumps({"data_label": DATA_LABEL})


wildcard_constraints:
    instrument="|".join(INSTRUMENTS),
    outcome="|".join(sorted({o.name for o in STUDY.outcomes})),
    year=r"\d{4}",
    comparison="|".join(STUDY.comparisons),


# comparison key -> the label the report shows (config analysis.comparisons.*.label)
COMPARISON_LABELS = json.dumps(STUDY.comparison_labels, sort_keys=True)
# outcome id -> its codebook label, for the pages (linkseval.report.outcomes.set_outcome_labels)
OUTCOME_LABELS = json.dumps(STUDY.labels, sort_keys=True)


MODELS = [(o.instrument, o.name) for o in STUDY.outcomes]


def get_synthetic_extracts():
    """Files the synthetic generator writes (Excel for the configured years, Safequest only)."""
    xlsx = set(STUDY.synthetic["xlsx_years"])
    out = []
    for instrument in INSTRUMENTS:
        for year in YEARS:
            ext = "xlsx" if instrument == "safequest" and year in xlsx else "csv"
            out.append(f"{SYNTH_DIR}/{FILE_STEM[instrument]}_{year}.{ext}")
    return out


def get_extract(wildcards):
    """The raw extract for an instrument-year: <stem>_<year>.xlsx if present, else .csv."""
    return extract_path(wildcards.instrument, wildcards.year)


def extract_path(instrument, year):
    stem = f"{RAW_DIR}/{FILE_STEM[instrument]}_{year}"
    if SYNTHETIC:
        return next(p for p in get_synthetic_extracts() if p.startswith(f"{stem}."))
    return f"{stem}.xlsx" if Path(f"{stem}.xlsx").exists() else f"{stem}.csv"


def stop(message):
    """End the run before any job with one line, no traceback (a Snakefile's SystemExit)."""
    sys.exit(f"linkseval: error: {message}")


if not SYNTHETIC:  # real extracts: every instrument-year and the register must be there
    for _problem in input_problems(
        RAW_DIR, REGISTER, {i: FILE_STEM[i] for i in INSTRUMENTS}, YEARS
    ):
        stop(_problem)


def get_clean_files(wildcards):
    """The cleaned extracts of the job's instrument, one per survey year."""
    return expand(rules.clean_extract.output.clean, instrument=wildcards.instrument, year=YEARS)


def get_quality_inputs(kind):
    """Every instrument-year's clean_extract output ``kind`` (accounting or rejects)."""
    return expand(getattr(rules.clean_extract.output, kind), instrument=INSTRUMENTS, year=YEARS)


COMPARISONS = list(STUDY.comparisons)


def _per_model(pattern, **wildcards):
    """``pattern`` for every modelled (instrument, outcome), in config order."""
    return [f for i, o in MODELS for f in expand(pattern, instrument=i, outcome=o, **wildcards)]


def get_model_outputs():
    """The tables combine_estimates gathers (the jobs depend on analysis.scatter_*)."""
    if STUDY.scatter.comparisons:  # the grid: outcome x comparison group
        out = _per_model(rules.estimate_comparison.output[0], comparison=COMPARISONS)
    else:
        out = _per_model(rules.estimate_outcome.output[0])
    if STUDY.settings.multilevel:
        if STUDY.scatter.multilevel:  # one job per outcome
            out += _per_model(rules.multilevel_outcome.output[0])
        else:  # one per instrument: statsmodels and the respondents loaded once
            out += expand(rules.multilevel_instrument.output[0], instrument=list(dict(MODELS)))
    return out


def get_placebo_tables(wildcards):
    """The placebo study's tables, one per instrument (none with analysis.placebo.enabled false)."""
    if not STUDY.settings.placebo["enabled"]:
        return []
    return expand(rules.placebo_instrument.output.parquet, instrument=list(dict(MODELS)))


def get_placebo_chunks(wildcards):
    """The scattered placebo jobs of the instrument's modelled outcomes, in table order."""
    return [
        PLACEBO_CHUNK.format(instrument=wildcards.instrument, outcome=o, chunk=k)
        for o in get_modelled_outcomes(wildcards)
        for k in range(PLACEBO_JOBS)
    ]


def get_baseline_arg(wildcards):
    """The optional flag as a list of words (each one quoted in the shell command)."""
    year = STUDY.settings.baseline_year
    return ["--baseline-year", str(year)] if year is not None else []


def get_monte_carlo_table(wildcards):
    """The committed Monte Carlo summary, if present (the methods page says when it is not)."""
    path = repo_file("validation/monte_carlo_summary.csv")
    return [path] if Path(path).exists() else []


def get_provenance_inputs():
    """The files the provenance record hashes: codebook, register and every extract."""
    files = [CODEBOOK, REGISTER]
    for instrument in INSTRUMENTS:
        for year in YEARS:
            files.append(extract_path(instrument, year))
    return files


def yaml_params(*names):
    """Papermill -y value for list parameters taken from the rule's input of the same names."""

    def inner(wildcards, input):
        return json.dumps({n: list(input[n]) for n in names})

    return inner


def links_codes():
    """The Links practices' codes (checkpoint links_practices), each checked safe to name files."""
    with checkpoints.links_practices.get().output[0].open() as fh:
        return site.checked_codes(json.load(fh))


def get_links_register(wildcards):
    """The Links practices' list, as an input that waits for the checkpoint (so that the rule's
    params may ask links_codes())."""
    links_codes()
    return rules.links_practices.output[0]


# The site's pages, their titles and the navigation bar: linkseval.report.site.
# TITLE=HREF words: a list, so that the shell command quotes each one ({params.nav:q})
NAV = site.navigation(STUDY)
REPORT_TITLE = site.REPORT_TITLE


def page_title(page):
    """Params function: the report page title of ``page`` (a name or a function of wildcards)."""

    def inner(wildcards):
        return site.page_title(STUDY, page(wildcards) if callable(page) else page)

    return inner


def all_pages():
    return site.all_pages(STUDY, links_codes())


# The staged pages (results/pages/), which publish_report copies to results/report/, in site
# order: the static pages, the practice profiles (in the folder of checkpoint notebook_practices,
# known once it has run) and the methods page. Three inputs, so that the static pages are asked
# for from the start and not only once the practice profiles exist.
STATIC_PAGES = [f"{PAGES}/{href}" for _, href in site.static_pages(STUDY)]
METHODS_PAGE = f"{PAGES}/{site.METHODS_PAGE[1]}"


def get_practice_pages(wildcards):
    """The practice profiles' pages (checkpoint notebook_practices), in register order."""
    pages = site.practice_pages(links_codes())
    folder = checkpoints.notebook_practices.get().output.html
    return [f"{folder}/{href}" for _, href in pages]


# The DiD pages, one per modelled outcome, as <instrument>_<outcome>: their pages are
# did_<instrument>_<outcome>.html (site.static_pages)
DID_PAGES = [f"{o.instrument}_{o.name}" for o in STUDY.outcomes]


def notebook_job(stem, parameters, notebook_dir, page_dir):
    """One page of a `linkseval notebooks` batch (its JSON object)."""
    return {
        "parameters": parameters,
        "notebook": f"{notebook_dir}/{stem}.ipynb",
        "html": f"{page_dir}/{stem}.html",
        "title": site.page_title(STUDY, stem),
    }


def did_jobs(wildcards, output):
    """Params function: rule notebook_did's pages as `linkseval notebooks --jobs` JSON."""
    jobs = []
    for o in STUDY.outcomes:
        parameters = {
            "instrument": o.instrument,
            "outcome": o.name,  # the TWFE weights of the outcome's instrument
            "twfe_weights": expand(rules.twfe_weights.output.cells, instrument=o.instrument)[0],
            "twfe_weights_summary": expand(rules.twfe_weights.output.summary, instrument=o.instrument)[0],
        }
        jobs.append(notebook_job(f"did_{o.instrument}_{o.name}", parameters, "results/notebooks", PAGES))
    assert [j["notebook"] for j in jobs] == list(output.notebooks)  # the rule's own outputs
    assert [j["html"] for j in jobs] == list(output.html)
    return json.dumps(jobs)


def practice_jobs(wildcards, output):
    """Params function: one practice profile per Links practice as `--jobs` JSON."""
    jobs = []
    for code in links_codes():
        parameters = {"practice_code": code}
        jobs.append(notebook_job(f"practice_{code}", parameters, output.notebooks, output.html))
    return json.dumps(jobs)


def notebook_parameters(inputs, **values):
    """Params function: the parameters every page of a batch shares, as JSON.

    ``inputs`` maps a notebook parameter to the rule's input that is its value (a list stays a
    list); ``values`` are the other parameters. Every notebook also gets data_label.
    """

    def inner(wildcards, input):
        out = {}
        for param, name in inputs.items():
            value = input[name]
            out[param] = value if isinstance(value, str) else list(value)
        out.update(values, data_label=DATA_LABEL)
        return json.dumps(out, sort_keys=True)

    return inner


def get_page_args(wildcards):
    """The report pages as TITLE=HREF words (the index page's navigation)."""
    return [f"{t}={h}" for t, h in all_pages()]


def get_final_outputs():
    """The default target's files (rule all, after every rule is defined)."""
    return [
        *expand(rules.score_panel.output.panel, instrument=INSTRUMENTS),
        rules.quality_summary.output.summary,
        rules.combine_estimates.output.json,
        rules.provenance.output[0],
        rules.publish_report.output[0],
    ]


def get_max_missing_items(wildcards):
    """Params function: cleaning.max_missing_items of the job's instrument."""
    return STUDY.cleaning.max_missing_items[wildcards.instrument]


def get_output_dir(wildcards, output):
    """Folder of a rule's first output (for commands that write a set of files)."""
    return str(Path(output[0]).parent)


def get_modelled_outcomes(wildcards):
    """The modelled outcomes of the job's instrument (analysis.outcomes), in config order."""
    return [o.name for o in STUDY.outcomes if o.instrument == wildcards.instrument]


def get_n_outcomes(wildcards):
    """How many outcomes of the job's instrument are modelled."""
    return len(get_modelled_outcomes(wildcards))


def get_code_pattern(wildcards):
    """Params function: cleaning.practice_code_pattern (a plain value would have its braces,
    e.g. '{5}', read as a wildcard)."""
    return STUDY.cleaning.practice_code_pattern

