# Resource models of the rules (mem_mb and runtime from the size of a job's inputs), kept apart
# from common.smk's validation and input functions. Slopes and the measurements behind them:
# docs/slurm.md, "Memory at national scale".
import os


def _files(input, key):
    """The job's input files (``key``: that named input only) that exist."""
    files = input if key is None else input[key]
    files = [files] if isinstance(files, str) else list(files)
    return [f for f in files if os.path.exists(f)]


def _input_mb(input, key):
    return sum(os.path.getsize(f) for f in _files(input, key)) / 1e6


def _input_rows(input, key, rows_per_unit, wildcards):
    """Rows of the Parquet input(s) (footer only), divided by ``rows_per_unit(wildcards)``."""
    import pyarrow.parquet as pq  # imported only when a job is scheduled

    rows = sum(pq.read_metadata(f).num_rows for f in _files(input, key))
    return rows / (rows_per_unit(wildcards) if rows_per_unit else 1)


def _retry_factor(attempt):
    return 1 + 0.5 * (attempt - 1)  # a retried job (e.g. killed for memory) asks for 1.5x


def mem_by_input(base_mb, mb_per_input_mb, key=None, xlsx_factor=1):
    """mem_mb resource: base + slope x size of the input (MB; ``key``: that named input only).

    Slopes are the peak RSS per MB of input measured at 10x and 100x the national volume
    (benchmarks/README.md, "Scale"); an .xlsx input counts ``xlsx_factor`` times its size (read
    into Python cells it took ~66 MB of RSS per workbook MB at 1x, a CSV of the same rows ~14). A
    retried job (the SLURM profile's ``retries: 1``, e.g. after an out-of-memory kill) asks for
    1.5x. Snakemake evaluates this again when it schedules the job, once the inputs exist (a dry
    run before they exist shows the base value).
    """

    def mem_mb(wildcards, input, attempt):
        mb = _input_mb(input, key)
        if xlsx_factor != 1 and str(input[key] if key else input[0]).endswith(".xlsx"):
            mb *= xlsx_factor
        return int((base_mb + mb_per_input_mb * mb) * _retry_factor(attempt))

    return mem_mb


def mem_by_rows(base_mb, mb_per_1000_rows, key, rows_per_unit=None):
    """mem_mb resource: base + slope x rows of the named Parquet input (thousands), divided by
    ``rows_per_unit(wildcards)`` if given (e.g. a panel's outcomes: practice-years).

    For jobs whose memory follows rows, not bytes: an estimate job's practice-years (its
    wild-bootstrap chunks hold draws x practices; at 100x the CARE and Safequest panels have the
    same practice-years but 7 vs 34 MB) or a multilevel job's respondents. 1.5x on a retried job.
    """

    def mem_mb(wildcards, input, attempt):
        rows = _input_rows(input, key, rows_per_unit, wildcards)
        return int((base_mb + mb_per_1000_rows * rows / 1000) * _retry_factor(attempt))

    return mem_mb


def runtime_by_input(base_min, min_per_input_mb, key=None, times=None):
    """runtime resource (minutes): base + slope x input size (MB), like ``mem_by_input``;
    the slope term multiplied by ``times(wildcards)`` if given (a job doing several fits)."""

    def runtime(wildcards, input):
        k = times(wildcards) if times else 1
        return int(base_min + k * min_per_input_mb * _input_mb(input, key))

    return runtime


def runtime_by_rows(base_min, min_per_1000_rows, key, rows_per_unit=None):
    """runtime resource (minutes): base + slope x rows (thousands), like ``mem_by_rows``."""

    def runtime(wildcards, input):
        rows = _input_rows(input, key, rows_per_unit, wildcards)
        return int(base_min + min_per_1000_rows * rows / 1000)

    return runtime
