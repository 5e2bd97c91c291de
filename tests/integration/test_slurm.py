"""The workflow through SLURM (workflow/profiles/slurm) on a single-node test cluster.

The module starts the cluster with ci/slurm-up.sh (needs root; installs slurm-wlm and munge if
missing) and always stops it with ci/slurm-down.sh. Set LINKSEVAL_SKIP_SLURM=1 to skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from studies import make_study, result_hashes, run_with_timeout

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
TARGET = "results/models/headline.json"
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")
# 150 practices (30 Deep End), 199 draws; jobs run the repository's Snakefile
STUDY = {"n_practices": 150, "n_deep_end": 30, "draws": 199, "copy_workflow": False}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("LINKSEVAL_SKIP_SLURM") == "1", reason="LINKSEVAL_SKIP_SLURM=1"
    ),
]


@dataclass
class Run:
    """One finished Snakemake run: its working directory, exit code, output and wall time."""

    workdir: Path
    returncode: int
    output: str
    seconds: float


def snakemake(workdir: Path, *args: str, env: dict[str, str], timeout: float) -> Run:
    """Run Snakemake on the project's Snakefile in `workdir`; its whole process group is
    killed after `timeout` seconds, so a hung run fails the test instead of hanging it."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    log = workdir / "snakemake.out"
    start = time.monotonic()
    code = run_with_timeout([*cmd, *args], log, env=env, timeout=timeout)
    if code is None:
        pytest.fail(
            f"snakemake {' '.join(args)} still running after {timeout}s:\n"
            + log.read_text()[-4000:]
        )
    return Run(workdir, code, log.read_text(), time.monotonic() - start)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A running single-node SLURM cluster; yields the environment that points at it."""
    run_dir = tmp_path_factory.mktemp("slurm-run")
    try:
        up = subprocess.run(
            [str(ROOT / "ci" / "slurm-up.sh"), str(run_dir)],
            capture_output=True,
            text=True,
            timeout=900,  # includes apt-get install on a fresh machine
        )
        assert up.returncode == 0, f"ci/slurm-up.sh failed:\n{up.stderr[-4000:]}"
        yield {**os.environ, "SLURM_CONF": str(run_dir / "slurm.conf")}
    finally:
        down = subprocess.run(
            [str(ROOT / "ci" / "slurm-down.sh"), str(run_dir)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert down.returncode == 0, f"ci/slurm-down.sh failed:\n{down.stderr[-4000:]}"


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Run:
    """The target run locally (default profile, 2 cores)."""
    work = make_study(tmp_path_factory.mktemp("study"), **STUDY)
    profile = ROOT / "workflow" / "profiles" / "default"
    run = snakemake(
        work,
        "--workflow-profile",
        str(profile),
        "--cores",
        "2",
        TARGET,
        env=dict(os.environ),
        timeout=900,
    )
    assert run.returncode == 0, run.output[-4000:]
    return run


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> Run:
    """The same target through SLURM (slurm profile); same directory depth as the local run."""
    work = make_study(tmp_path_factory.mktemp("study"), **STUDY)
    run = snakemake(work, "--workflow-profile", str(PROFILE), TARGET, env=cluster, timeout=900)
    assert run.returncode == 0, run.output[-4000:]
    return run


def slurm_states(job_ids: list[str], env: dict[str, str]) -> dict[str, str]:
    """Job id -> state, from squeue (finished jobs stay listed for MinJobAge seconds)."""
    out = subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%i|%T", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    return dict(line.split("|", 1) for line in out.split())


def test_every_job_goes_through_slurm(slurm_run, cluster, local_run):
    """Each Snakemake job of the run is a SLURM job, and SLURM saw it complete."""
    done = re.search(r"(\d+) of (\d+) steps \(100%\) done", slurm_run.output)
    assert done, slurm_run.output[-4000:]
    ids = SUBMITTED.findall(slurm_run.output)
    assert len(set(ids)) == len(ids) == int(done.group(2)) > 10
    assert "localrule" not in slurm_run.output
    states = slurm_states(ids, cluster)
    assert states and set(states.values()) == {"COMPLETED"}, states
    print(
        f"\n{len(ids)} jobs: SLURM {slurm_run.seconds:.0f} s, "
        f"local (2 cores) {local_run.seconds:.0f} s"
    )


def test_slurm_gives_the_same_bytes_as_a_local_run(slurm_run, local_run):
    """headline.json, the estimates and every other result file: identical bytes."""
    for name in (TARGET, "results/models/estimates.parquet"):
        assert (slurm_run.workdir / name).read_bytes() == (local_run.workdir / name).read_bytes()
    here, there = result_hashes(slurm_run.workdir), result_hashes(local_run.workdir)
    differ = sorted(k for k in here if here[k] != there.get(k))
    assert set(here) == set(there) and differ == [], differ


def raw_study(local_run: Run, work: Path) -> Path:
    """A study reading 'real' extracts: a copy of the local run's synthetic raw files."""
    make_study(work, **STUDY)
    shutil.copytree(local_run.workdir / "results" / "synthetic" / "raw", work / "raw")
    return work


RAW = ("--config", "raw_dir=raw", "register=raw/practices.csv")


def test_a_failing_job_fails_the_run(cluster, local_run, tmp_path):
    """A corrupt extract: the SLURM job fails, is retried as the profile says, and the run
    exits non-zero with the job's own error message."""
    work = raw_study(local_run, tmp_path / "study")
    (work / "raw" / "care_2014.csv").write_bytes(b"")
    run = snakemake(
        work,
        "--workflow-profile",
        str(PROFILE),
        *RAW,
        "--",
        "results/clean/care_2014.parquet",
        env=cluster,
        timeout=600,
    )
    assert run.returncode != 0
    retries = yaml.safe_load((PROFILE / "config.yaml").read_text())["retries"]
    ids = SUBMITTED.findall(run.output)
    assert len(ids) == 1 + retries, run.output[-4000:]
    assert set(slurm_states(ids, cluster).values()) == {"FAILED"}
    assert "Error in rule clean_extract" in run.output
    assert "care_2014.csv: file is empty" in run.output


def test_an_impossible_request_fails_at_submission(cluster, local_run, tmp_path):
    """More memory than the node has: sbatch refuses, and the run says so and exits non-zero."""
    work = raw_study(local_run, tmp_path / "study")
    run = snakemake(
        work,
        "--workflow-profile",
        str(PROFILE),
        *RAW,
        "--retries",
        "0",
        "--set-resources",
        "clean_extract:mem_mb=100000000",
        "--",
        "results/clean/care_2014.parquet",
        env=cluster,
        timeout=300,
    )
    assert run.returncode != 0
    assert "Error in rule clean_extract" in run.output
    assert "sbatch: error: Batch job submission failed" in run.output, run.output[-4000:]
    assert not SUBMITTED.search(run.output)
