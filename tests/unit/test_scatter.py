"""Scattered work (RI draws, Monte Carlo replications) equals the single-process results exactly."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_analysis import practice_panel
from test_did import simulate

from linkseval import stages
from linkseval.analysis import Settings, estimate_outcome
from linkseval.data.store import write_parquet
from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.errors import ConfigError
from linkseval.inference import (
    CHUNK,
    chunk_seed,
    n_chunks,
    randomization_inference,
    ri_chunk,
    ri_gather,
)
from linkseval.montecarlo import MCSettings, chunk_keys, gather, run_chunk, write_tables
from linkseval.scatter import (
    main_comparison_panel,
    ri_from_jobs,
    ri_job_chunks,
    ri_job_frame,
    ri_n_jobs,
)

ROOT = Path(__file__).resolve().parents[2]
DRAWS = 2 * CHUNK + 500  # not a multiple of CHUNK: the last seed chunk is short

PANELS = {
    "one cohort, weighted": (dict(n=60, seed=3), "n"),
    "two cohorts, unbalanced": (
        dict(n=120, years=(2012, 2013, 2014, 2015), cohorts=((2014, 4), (2015, 3)), seed=21),
        None,
    ),
    "one treated unit (degenerate draws)": (dict(n=30, cohorts=((2014, 1),), seed=4), None),
}


def _panel(kw, weights):
    return panel_from_frame(
        simulate(**kw), unit="unit", time="year", cohort="cohort", outcome="y", weights=weights
    )


def _same(got, ref):
    """Exactly equal (NaN only where the reference is NaN: no CI asked for)."""
    assert got.p_value == ref.p_value and got.n_draws == ref.n_draws
    assert got.statistic == ref.statistic and got.note == ref.note
    for field in ("ci_low", "ci_high"):
        a, b = getattr(got, field), getattr(ref, field)
        assert a == b or (np.isnan(a) and np.isnan(b)), field


def test_a_chunk_is_seeded_on_its_own():
    """Chunk k's generator is child k of SeedSequence(seed), whatever the other chunks."""
    for k in range(n_chunks(DRAWS)):
        size, rng = chunk_seed(5, DRAWS, k)
        ref = np.random.default_rng(np.random.SeedSequence(5).spawn(n_chunks(DRAWS))[k])
        assert size == (500 if k == 2 else CHUNK)
        assert (rng.integers(0, 2**62, 8) == ref.integers(0, 2**62, 8)).all()
    with pytest.raises(ValueError, match="out of range"):
        chunk_seed(5, DRAWS, 3)


@pytest.mark.parametrize("name", PANELS)
def test_ri_gathered_from_shuffled_chunks_equals_single_process(name):
    p = _panel(*PANELS[name])
    ref = randomization_inference(p, n_draws=DRAWS, seed=11)
    order = list(range(n_chunks(DRAWS)))
    random.Random(1).shuffle(order)
    assert order != sorted(order)
    chunks = {k: ri_chunk(p, 11, DRAWS, k) for k in order}  # each computed on its own
    _same(ri_gather(p, chunks, n_draws=DRAWS), ref)
    ref90 = randomization_inference(p, n_draws=DRAWS, seed=11, alpha=0.1, ci=False)
    _same(ri_gather(p, chunks, alpha=0.1, ci=False), ref90)
    with pytest.raises(ValueError, match="do not make 3500 draws"):
        ri_gather(p, chunks, n_draws=DRAWS + CHUNK)
    del chunks[1]
    with pytest.raises(ValueError, match="without gaps"):
        ri_gather(p, chunks)


def test_ri_jobs_through_parquet_in_any_order_equal_single_process(tmp_path):
    """The workflow's path: jobs of several seed chunks, written and read back, gathered."""
    p = _panel(*PANELS["two cohorts, unbalanced"])
    chunk_draws = 2 * CHUNK
    n_jobs = ri_n_jobs(DRAWS, chunk_draws)
    assert n_jobs == 2 and list(ri_job_chunks(DRAWS, chunk_draws, 1)) == [2]
    jobs = []
    for job in reversed(range(n_jobs)):
        meta = {"seed": 11, "n_draws": DRAWS, "chunk_draws": chunk_draws, "job": job}
        path = write_parquet(ri_job_frame(p, 11, DRAWS, chunk_draws, job), tmp_path / f"{job}.pq")
        jobs.append((meta, pd.read_parquet(path)))
    ref = randomization_inference(p, n_draws=DRAWS, seed=11)
    kw = dict(seed=11, n_draws=DRAWS, chunk_draws=chunk_draws, alpha=0.05)
    _same(ri_from_jobs(p, jobs, **kw), ref)
    with pytest.raises(ConfigError, match="expected chunk jobs 0..1"):
        ri_from_jobs(p, jobs[:1], **kw)
    with pytest.raises(ConfigError, match="was made with"):
        ri_from_jobs(p, jobs, **{**kw, "seed": 12})
    with pytest.raises(ConfigError, match="multiple of 1000"):
        ri_job_chunks(DRAWS, 1500, 0)


def test_the_scattered_panel_is_the_one_estimate_outcome_uses():
    """RI on main_comparison_panel = the RI row `estimate` writes for the main comparison's
    static TWFE (matched comparison: uses the baseline-outcome merge too)."""
    frame = practice_panel(n=120, seed=2)
    s = Settings(
        bootstrap_draws=99,
        ri_draws=1500,
        main_comparison="matched",
        comparisons={
            "scotland_other": {"rule": "never_treated"},
            "matched": {"rule": "matched", "neighbours": 3},
        },
        leave_one_out=False,
        dose=False,
        honest={"enabled": False},
    )
    rows = estimate_outcome(frame, s, "safequest", "workload")
    row = rows[
        (rows.comparison == "matched")
        & (rows.estimator == "twfe")
        & (rows.method == "randomization inference")
    ].iloc[0]
    p = main_comparison_panel(frame, s, "safequest", "workload")
    ri = randomization_inference(p, n_draws=s.ri_draws, seed=s.ri_seed, alpha=s.alpha)
    assert (ri.p_value, ri.ci_low, ri.ci_high, ri.n_draws) == (
        row.p_value,
        row.ci_low,
        row.ci_high,
        row.n_draws,
    )
    assert (p.n_obs, p.n_units) == (row.n_obs, row.n_units)
    assert ols(twfe_design(p)).beta[0] == row.estimate


# --------------------------------------------------------------------------- Monte Carlo

MC_ARGS = {
    "seed": 7,
    "reps": 4,
    "reps_small": 3,
    "draws": 49,
    "check_reps": 3,
    "check_draws": 99,
    "scenarios": ["no_effect", "effect_het", "no_effect_200"],
}


def _script_args(cfg: dict) -> list[str]:
    out = []
    for k, v in cfg.items():
        if k == "chunk_size":
            continue
        out += [f"--{k.replace('_', '-')}", *(map(str, v) if isinstance(v, list) else [str(v)])]
    return out


MC_FILES = ("monte_carlo_summary.csv", "monte_carlo_reps.csv", "check_agreement.csv")


def _single_process(out: Path, cfg: dict) -> None:
    """validation/monte_carlo.py as documented, one process."""
    spec = importlib.util.spec_from_file_location("mc_script", ROOT / "validation/monte_carlo.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    args = [*_script_args(cfg), "--workers", "1", "--out", str(out)]
    script.main([*args, "--summary", str(out / "monte_carlo_summary.csv")])


def test_monte_carlo_chunks_gathered_equal_the_single_process_study(tmp_path, capsys):
    _single_process(tmp_path / "single", MC_ARGS)
    s = MCSettings.from_config({**MC_ARGS, "chunk_size": 2})
    keys = chunk_keys(s)
    # 2 + 2 + 2 main chunks (4, 4, 3 replications), then the check run of no_effect (3)
    assert [k[:2] for k in keys].count(("no_effect", "check")) == 2 and len(keys) == 8
    chunks = {}
    for key in random.Random(2).sample(keys, len(keys)):  # any order, through parquet
        path = write_parquet(run_chunk(s, *key), tmp_path / "chunks" / ("_".join(map(str, key))))
        chunks[key] = pd.read_parquet(path)
    raw, check = gather(s, chunks)
    out = tmp_path / "scattered"
    write_tables(
        raw,
        check,
        summary=out / MC_FILES[0],
        reps=out / MC_FILES[1],
        agreement=out / MC_FILES[2],
        table=out / "summary_table.md",
    )
    for name in (*MC_FILES, "summary_table.md"):
        assert (out / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    summary = pd.read_csv(out / MC_FILES[0])
    assert len(summary) == 3 * 4 + 3  # scenarios × methods, + the check run (WCR, RI, RI-t)
    with pytest.raises(ConfigError, match="missing chunks"):
        gather(s, {k: v for k, v in chunks.items() if k != keys[3]})
    with pytest.raises(ConfigError, match="unknown"):
        chunk_keys(MCSettings(scenarios=("bogus",)))


def test_monte_carlo_stages_take_the_typed_settings():
    """stages.mc_chunk / mc_gather take MCSettings (the command parses its JSON once): the
    chunk's rows are run_chunk's, its metadata carries the settings the gather checks."""
    from dataclasses import asdict, replace

    from linkseval import stages
    from linkseval.errors import LinksevalError

    s = MCSettings.from_config({**MC_ARGS, "chunk_size": 2, "scenarios": ["no_effect"]})
    assert MCSettings.from_config(json.loads(json.dumps(asdict(s)))) == s  # the job's JSON
    keys = chunk_keys(s)
    jobs = []
    for key in keys:
        rows, meta = stages.mc_chunk(s, *key)
        pd.testing.assert_frame_equal(rows, run_chunk(s, *key))
        assert meta == {"scenario": key[0], "run": key[1], "chunk": key[2], "settings": asdict(s)}
        jobs.append(("_".join(map(str, key)), json.loads(json.dumps(meta)), rows))
    out = stages.mc_gather(s, jobs)
    assert out.settings == s and out.n_chunks == len(keys)
    raw, check = gather(s, {k: rows for k, (_, _, rows) in zip(keys, jobs, strict=True)})
    pd.testing.assert_frame_equal(out.raw, raw)
    with pytest.raises(LinksevalError, match="made with other settings"):
        stages.mc_gather(replace(s, seed=s.seed + 1), jobs)


# --------------------------------------------------------------------------- the workflow

RI_SCATTER = {"scatter_draws": 2500, "scatter_chunk_draws": 1000}  # 3 jobs per outcome
MC_CONFIG = {
    "seed": 3,
    "reps": 3,
    "reps_small": 2,
    "draws": 49,
    "check_reps": 2,
    "check_draws": 99,
    "chunk_size": 2,
    "scenarios": ["no_effect", "no_effect_200"],
}  # chunks: no_effect 2, no_effect_200 1, no_effect check 1


# the scattered placebo study: 150 assignments in 2 jobs per outcome, the WCR on 120 of them
PLACEBO_SCATTER = {
    "assignments": 150,
    "scatter_assignments": 100,
    "wild_assignments": 120,
    "wild_draws": 99,
}


@pytest.mark.integration
def test_scattered_targets_through_snakemake_equal_single_process(tmp_path):
    from test_workflow import make_study, planned_jobs, snakemake

    from linkseval.montecarlo import runs

    study = tmp_path / "study"
    study.mkdir()
    make_study(study)
    config = [
        "--config",
        f"analysis={{'randomization': {RI_SCATTER!r}, 'placebo': {PLACEBO_SCATTER!r}, "
        "'outcomes': {'safequest': ['workload']}}",
        f"monte_carlo={MC_CONFIG!r}",
    ]
    proc = snakemake(study, "ri_scattered", "monte_carlo", "placebo_scattered", *config)
    jobs = planned_jobs(proc)
    assert jobs["placebo_chunk"] == 2 * 2 and jobs["placebo_gather"] == 2
    n_mc = sum(r.n_chunks for r in runs(MCSettings.from_config(MC_CONFIG)))
    assert n_mc == 4
    assert jobs["ri_chunk"] == 2 * 3 and jobs["ri_gather"] == 2  # workload, care_total
    assert jobs["monte_carlo_chunk"] == n_mc and jobs["monte_carlo_gather"] == 1
    assert "estimate_outcome" not in jobs  # nothing of the default target but the panels
    assert "placebo_instrument" not in jobs
    results = study / "results"
    assert len(list((results / "scatter/ri").rglob("chunk_*.parquet"))) == 2 * 3
    assert len(list((results / "scatter/monte_carlo/chunks").rglob("*.parquet"))) == n_mc

    cfg = yaml.safe_load((study / "config/config.yaml").read_text())
    s = Settings.from_config(cfg["analysis"])
    for instrument, outcome in [("safequest", "workload"), ("care", "care_total")]:
        doc = json.loads((results / f"scatter/ri/{instrument}/{outcome}.json").read_text())
        frame = pd.read_parquet(results / f"panel/{instrument}.parquet")
        p = main_comparison_panel(frame, s, instrument, outcome)
        ref = randomization_inference(
            p, n_draws=RI_SCATTER["scatter_draws"], seed=s.ri_seed, alpha=s.alpha
        )
        assert doc["chunk_jobs"] == 3 and doc["draws_requested"] == 2500
        assert doc["estimate"] == ols(twfe_design(p)).beta[0]  # the headline's estimate
        assert (doc["statistic"], doc["p_value"], doc["ci_low"], doc["ci_high"]) == (
            ref.statistic,
            ref.p_value,
            ref.ci_low,
            ref.ci_high,
        )
        assert doc["n_draws"] == ref.n_draws == 2500 and doc["data_label"] == "SYNTHETIC DATA"

    # the placebo study: the gathered table is the single-process one, bit for bit
    for instrument, outcome in [("safequest", "workload"), ("care", "care_total")]:
        frame = pd.read_parquet(results / f"panel/{instrument}.parquet")
        sp = Settings.from_config({**cfg["analysis"], "placebo": PLACEBO_SCATTER})
        want = stages.placebo(frame, sp, instrument, [outcome], data_label="SYNTHETIC DATA")
        got = pd.read_parquet(results / f"scatter/placebo/{instrument}/placebo.parquet")
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert (got.loc[got.method == "CR1", "n_assignments"] == 150).all()

    single = tmp_path / "single"
    cmd = [sys.executable, str(ROOT / "validation/monte_carlo.py"), *_script_args(MC_CONFIG)]
    cmd += ["--workers", "1", "--out", str(single), "--summary", str(single / MC_FILES[0])]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    for name in (*MC_FILES, "summary_table.md"):
        scattered = results / "scatter/monte_carlo" / name
        assert scattered.read_bytes() == (single / name).read_bytes(), name

    # a second run of the targets has nothing to do
    again = snakemake(study, "ri_scattered", "monte_carlo", "placebo_scattered", "-n", *config)
    assert planned_jobs(again) == {}
