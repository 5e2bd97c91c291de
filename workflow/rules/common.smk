# Configuration checks, paths and input functions shared by every rule.
import json
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

# Jobs run `python -m linkseval` with the interpreter that runs Snakemake (the project's
# environment), even when Snakemake was started as .venv/bin/snakemake without activation.
shell.prefix(f"export PATH={Path(sys.executable).parent}:$PATH; set -euo pipefail; ")

SYNTH_DIR = "results/synthetic/raw"
SYNTHETIC = config["raw_dir"] is None
RAW_DIR = SYNTH_DIR if SYNTHETIC else config["raw_dir"]
if config["register"] is not None:
    REGISTER = config["register"]
else:
    REGISTER = f"{RAW_DIR}/practices.csv"
YEARS = [int(y) for y in config["years"]]
INSTRUMENTS = list(config["instruments"])
CODEBOOK = config["codebook"]
with open(CODEBOOK, encoding="utf-8") as fh:
    _codebook = yaml.safe_load(fh)["instruments"]
_unknown = [i for i in INSTRUMENTS if i not in _codebook]
if _unknown:
    raise ValueError(f"config 'instruments': {_unknown} not defined in {CODEBOOK}")
FILE_STEM = {name: spec.get("file_stem", name) for name, spec in _codebook.items()}
# Every output says so when the data are the embedded synthetic set (or carry its marker).
DATA_LABEL = (
    "SYNTHETIC DATA"
    if SYNTHETIC or Path(RAW_DIR, "SYNTHETIC_DATA.txt").exists()
    else ""
)


ANALYSIS = config["analysis"]
ANALYSIS_JSON = json.dumps(ANALYSIS, sort_keys=True)
MODELS = [
    (instrument, outcome)
    for instrument, outcomes in ANALYSIS["outcomes"].items()
    if instrument in INSTRUMENTS
    for outcome in outcomes
]


def synthetic_extracts():
    """Files the synthetic generator writes (Excel for the configured years, Safequest only)."""
    xlsx = set(config["synthetic"]["xlsx_years"])
    out = []
    for instrument in INSTRUMENTS:
        for year in YEARS:
            ext = "xlsx" if instrument == "safequest" and year in xlsx else "csv"
            out.append(f"{SYNTH_DIR}/{FILE_STEM[instrument]}_{year}.{ext}")
    return out


def extract_file(wildcards):
    """The raw extract for an instrument-year: <stem>_<year>.xlsx if present, else .csv."""
    stem = f"{RAW_DIR}/{FILE_STEM[wildcards.instrument]}_{wildcards.year}"
    if SYNTHETIC:
        return next(p for p in synthetic_extracts() if p.startswith(f"{stem}."))
    return f"{stem}.xlsx" if Path(f"{stem}.xlsx").exists() else f"{stem}.csv"


def clean_files(wildcards):
    return expand("results/clean/{{instrument}}_{year}.parquet", year=YEARS)


def quality_inputs(kind):
    pattern = {
        "accounting": "results/quality/accounting/{instrument}_{year}.json",
        "rejects": "results/quality/rejects/{instrument}_{year}.parquet",
    }[kind]
    return expand(pattern, instrument=INSTRUMENTS, year=YEARS)


def model_outputs():
    out = [f"results/models/{i}/{o}.estimates.parquet" for i, o in MODELS]
    if ANALYSIS["sensitivity"].get("multilevel", True):
        out += [f"results/models/{i}/{o}.multilevel.parquet" for i, o in MODELS]
    return out


def baseline_arg(wildcards):
    year = ANALYSIS.get("baseline_year")
    return f"--baseline-year {year}" if year is not None else ""


def final_outputs():
    return [
        *expand("results/panel/{instrument}.parquet", instrument=INSTRUMENTS),
        "results/quality/summary.json",
        "results/descriptive/theme_means.csv",
        "results/models/headline.json",
    ]


def max_missing_items(wildcards):
    return config["cleaning"]["max_missing_items"][wildcards.instrument]


def output_dir(wildcards, output):
    """Folder of a rule's first output (for commands that write a set of files)."""
    return str(Path(output[0]).parent)
