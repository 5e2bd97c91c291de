"""Randomization inference with many draws (and the placebo study), scattered over jobs.

The draws of :func:`linkseval.inference.randomization_inference` come in seed chunks of
:data:`~linkseval.inference.CHUNK` draws, chunk ``k`` drawn from child ``k`` of
``SeedSequence(seed)``. A scattered run splits the seed chunks into *jobs* of ``chunk_draws``
draws (a multiple of CHUNK): job ``j`` computes seed chunks ``j·m … (j+1)·m − 1``
(``m = chunk_draws / CHUNK``) with :func:`~linkseval.inference.ri_chunk` and writes their
per-draw sums; the gather reads every job's file and calls
:func:`~linkseval.inference.ri_gather`, the same code that ends every single-process run. The
result is therefore identical, bit for bit, to ``randomization_inference(panel, n_draws=draws,
seed=seed)`` whatever the number of jobs, their order or the machines they ran on.

The panel is the static TWFE panel of the main comparison, built as
:func:`linkseval.analysis.estimate_outcome` builds it (:func:`main_comparison_panel`).

The placebo study (:mod:`linkseval.placebo`) scatters its assignments the same way: job ``j``
computes assignments ``j·n … (j+1)·n − 1`` (:func:`placebo_job_assignments`; every job draws
the same seeded assignments and RI reference), and the gather's table equals the
single-process one exactly.

Only the standard library is imported at module level: the workflow reads :func:`ri_n_jobs`
while it parses, and heavy imports would slow every Snakemake start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkseval.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from linkseval.analysis import Settings
    from linkseval.did import Panel
    from linkseval.inference import TestResult

# parquet schema metadata of a job file: checked by the gather against its own settings
JOB_META = ("instrument", "outcome", "seed", "n_draws", "chunk_draws", "job")


def ri_n_jobs(n_draws: int, chunk_draws: int) -> int:
    """Return the number of scattered jobs: ``n_draws`` draws in jobs of ``chunk_draws`` draws."""
    if n_draws < 1 or chunk_draws < 1:
        raise ConfigError(f"RI scatter: draws ({n_draws}) and chunk draws must be positive")
    return -(-n_draws // chunk_draws)


def placebo_n_jobs(assignments: int, per_job: int) -> int:
    """Return the number of scattered placebo jobs: ``assignments`` in jobs of ``per_job``."""
    if assignments < 1 or per_job < 1:
        raise ConfigError(f"placebo scatter: assignments ({assignments}) and per job must be > 0")
    return -(-assignments // per_job)


def placebo_job_assignments(assignments: int, per_job: int, job: int) -> range:
    """Return the placebo assignments of scattered job ``job`` (``per_job`` a multiple of 100)."""
    from linkseval.placebo import WILD_BLOCK

    if per_job % WILD_BLOCK:
        raise ConfigError(
            f"placebo scatter: assignments per job ({per_job}) must be a multiple of "
            f"{WILD_BLOCK}, the placebo WCR's block"
        )
    n_jobs = placebo_n_jobs(assignments, per_job)
    if not 0 <= job < n_jobs:
        raise ConfigError(f"placebo scatter: job {job} out of range 0..{n_jobs - 1}")
    return range(job * per_job, min((job + 1) * per_job, assignments))


def ri_job_chunks(n_draws: int, chunk_draws: int, job: int) -> range:
    """Return the seed chunks (the ``k`` of :func:`~linkseval.inference.ri_chunk`) of ``job``."""
    from linkseval.inference import CHUNK, n_chunks

    if chunk_draws % CHUNK:
        raise ConfigError(
            f"RI scatter: draws per chunk job ({chunk_draws}) must be a multiple of {CHUNK}, "
            "the size of a seed chunk"
        )
    n_jobs = ri_n_jobs(n_draws, chunk_draws)
    if not 0 <= job < n_jobs:
        raise ConfigError(f"RI scatter: chunk job {job} out of range 0..{n_jobs - 1}")
    per_job = chunk_draws // CHUNK
    return range(job * per_job, min((job + 1) * per_job, n_chunks(n_draws)))


def main_comparison_panel(frame: pd.DataFrame, s: Settings, instrument: str, outcome: str) -> Panel:
    """Build the panel whose static TWFE coefficient the headline reports.

    The panel whose static TWFE coefficient the headline reports: ``outcome`` of
    ``instrument`` against the main comparison, built step by step as
    :func:`linkseval.analysis.estimate_outcome` builds it (``linkseval estimate`` input).
    """
    from linkseval.analysis import comparison_frame, comparison_panel, outcome_frame

    if s.main_comparison not in s.comparisons:
        raise ConfigError(
            f"analysis.main_comparison {s.main_comparison!r} is not one of analysis.comparisons "
            f"({', '.join(s.comparisons)})"
        )
    frame = frame[(frame["instrument"] == instrument) & (frame["outcome"] == outcome)]
    if frame.empty:
        raise ConfigError(f"panel has no rows for {instrument}/{outcome}")
    frame, base_year = outcome_frame(frame, s, outcome)
    df = comparison_frame(frame, s.comparisons[s.main_comparison], base_year)
    return comparison_panel(df, s)


def ri_job_frame(p: Panel, seed: int, n_draws: int, chunk_draws: int, job: int) -> pd.DataFrame:
    """Build one job's frame of RI draws.

    One job's draws: columns ``chunk`` (seed chunk index) and the per-draw sums
    (:data:`~linkseval.inference.RI_ARRAYS`), seed chunks in order.
    """
    import numpy as np
    import pandas as pd

    from linkseval.inference import RI_ARRAYS, _ri_pieces, ri_chunk

    pieces = _ri_pieces(p)
    parts = []
    for k in ri_job_chunks(n_draws, chunk_draws, job):
        arrays = ri_chunk(p, seed, n_draws, k, pieces=pieces)
        size = len(arrays[RI_ARRAYS[0]])
        parts.append(pd.DataFrame({"chunk": np.full(size, k, dtype=np.int64), **arrays}))
    return pd.concat(parts, ignore_index=True)


def ri_from_jobs(
    p: Panel,
    jobs: list[tuple[dict, pd.DataFrame]],
    *,
    seed: int,
    n_draws: int,
    chunk_draws: int,
    alpha: float,
    family_alpha: float | None = None,
) -> TestResult:
    """Gather job frames into the RI result.

    The frames carry their metadata. Every job of the run must be there exactly once and carry
    this run's seed and draws; order does not matter.
    """
    import numpy as np

    from linkseval.inference import CHUNK, RI_ARRAYS, n_chunks, ri_gather

    n_jobs = ri_n_jobs(n_draws, chunk_draws)
    seen = sorted(int(meta["job"]) for meta, _ in jobs)
    if seen != list(range(n_jobs)):
        raise ConfigError(f"RI gather: expected chunk jobs 0..{n_jobs - 1} once each, got {seen}")
    want = {"seed": seed, "n_draws": n_draws, "chunk_draws": chunk_draws}
    chunks: dict[int, dict[str, np.ndarray]] = {}
    for meta, df in jobs:
        got = {k: int(meta[k]) for k in want}
        if got != want:
            raise ConfigError(f"RI gather: chunk job {meta['job']} was made with {got}, not {want}")
        expected = ri_job_chunks(n_draws, chunk_draws, int(meta["job"]))
        for k, g in df.groupby("chunk", sort=True):
            if int(k) not in expected or len(g) != min(CHUNK, n_draws - int(k) * CHUNK):
                raise ConfigError(f"RI gather: chunk job {meta['job']} holds a wrong seed chunk")
            chunks[int(k)] = {name: g[name].to_numpy(dtype=float) for name in RI_ARRAYS}
    if sorted(chunks) != list(range(n_chunks(n_draws))):
        raise ConfigError("RI gather: the chunk jobs do not hold every seed chunk exactly once")
    return ri_gather(p, chunks, alpha=alpha, n_draws=n_draws, family_alpha=family_alpha)
