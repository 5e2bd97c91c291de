"""The lock, environment.yml and the Snakemake conda env must pin the same packages."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
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
