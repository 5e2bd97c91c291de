"""The lock, environment.yml and the Snakemake conda env must pin the same packages."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def lock_pins():
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if m := PIN.match(line.strip()):
            pins[m.group(1).lower()] = m.group(2)
    return pins


def env_pins(path):
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    out = {}
    for spec in pip:
        name, ver = spec.split("==")
        out[name.lower()] = ver
    return out, env


def test_environment_yml_mirrors_the_lock():
    pins, env = env_pins(ROOT / "environment.yml")
    assert pins == lock_pins()
    assert "python=3.11" in env["dependencies"]


def test_workflow_conda_env_mirrors_environment_yml():
    assert (
        env_pins(ROOT / "workflow/envs/linkseval.yaml")[0] == env_pins(ROOT / "environment.yml")[0]
    )


def test_lock_pins_the_core_packages():
    pins = lock_pins()
    for pkg in ["snakemake", "pandas", "statsmodels", "scipy", "papermill", "pytest", "jupyter"]:
        assert pkg in pins, pkg


def test_clean_results_keeps_the_tracked_files(tmp_path):
    """Was: `rm -rf results/*` deleted the tracked results/README.md (issue 15 item 13). Every
    file .gitignore keeps tracked under results/ must survive; everything else goes."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    tracked = [line[1:] for line in ignore if line.startswith("!results/")]
    assert tracked == ["results/README.md"]
    for rel in [*tracked, "results/quality/files.csv", "results/.hidden", ".snakemake/log/x"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    proc = subprocess.run(["make", "clean-results"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == sorted(["Makefile", *tracked])
