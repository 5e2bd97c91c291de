"""Small synthetic study directories for the integration tests (and benchmarks/bench_scale.py):
a config with fewer practices and draws, optionally beside a copy of the workflow, and the
SHA-256 of every stable result."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# What a user's clone holds besides config/: a study with its own copy can have a notebook
# edited without touching the repository.
WORKFLOW_FILES = (
    "Snakefile",
    "workflow",
    "notebooks",
    "requirements.lock",
    "validation/monte_carlo_summary.csv",
)
UNSTABLE = ("logs", "benchmarks")  # timings and job logs are not results


def copy_workflow_files(work: Path) -> None:
    """Copy the workflow (Snakefile, rules, notebooks, lock, Monte Carlo table) into ``work``."""
    for rel in WORKFLOW_FILES:
        src, dst = ROOT / rel, work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        else:
            shutil.copy2(src, dst)


def make_study(
    work: Path,
    *,
    n_practices: int = 250,
    n_deep_end: int = 40,
    draws: int = 199,
    copy_workflow: bool = True,
) -> Path:
    """A study directory with config/ (n_practices synthetic practices, 2013-2015, ``draws``
    bootstrap and RI draws) and, with ``copy_workflow``, a copy of the workflow beside it."""
    if copy_workflow:
        copy_workflow_files(work)
    (work / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "codebook.yaml", work / "config" / "codebook.yaml")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["synthetic"]["n_practices"] = n_practices
    cfg["synthetic"]["n_deep_end"] = n_deep_end
    cfg["analysis"]["bootstrap"]["draws"] = draws
    cfg["analysis"]["randomization"]["draws"] = draws
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    return work


def result_hashes(work: Path) -> dict[str, str]:
    """SHA-256 of every file under results/ except logs and benchmarks."""
    out = {}
    for f in sorted((work / "results").rglob("*")):
        rel = f.relative_to(work / "results")
        if f.is_file() and rel.parts[0] not in UNSTABLE:
            out[str(rel)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def run_with_timeout(
    cmd: list[str],
    log: Path,
    *,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float,
    grace: float = 20,
) -> int | None:
    """Run ``cmd`` in its own process group with stdout+stderr to ``log``; return its exit code,
    or None if it was still running after ``timeout`` s (then the whole group gets SIGTERM and,
    ``grace`` s later, SIGKILL: a hung Snakemake and everything it started are stopped)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return None
