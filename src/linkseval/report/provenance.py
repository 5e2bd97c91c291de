"""Provenance: which inputs, configuration, code and packages produced the results.

Deterministic (no timestamps): the same inputs, config, code and lock give the same bytes.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from linkseval.data.store import sha256
from linkseval.report.labels import is_synthetic_label

KEY_PACKAGES = [
    "linkseval",
    "snakemake",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pyfixest",
    "moderndid",
    "papermill",
    "nbconvert",
    "matplotlib",
    "pyarrow",
    "python-calamine",
    "xlsxwriter",
    "openpyxl",
]


def file_record(path: str | Path) -> dict:
    """Return a file's path, SHA-256 and size in bytes."""
    p = Path(path)
    return {"path": str(path), "sha256": sha256(p), "bytes": p.stat().st_size}


def code_version(root: str | Path) -> dict:
    """Git commit and whether the work tree differs from it (``unknown`` outside git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {"git_commit": commit, "dirty": bool(status.strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": "unknown", "dirty": None}


def locked_versions(lock: str | Path) -> dict[str, str]:
    """Return the ``name==version`` pins of a lock file, by lower-cased name."""
    pins = {}
    for line in Path(lock).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def installed_versions(names: list[str]) -> dict[str, str]:
    """Return the installed version of each package (``"not installed"`` if absent)."""
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "not installed"
    return out


def provenance(
    inputs: list[str | Path],
    *,
    config: dict,
    lock: str | Path,
    root: str | Path,
    data_label: str = "",
) -> dict:
    """Build the provenance record written to ``results/provenance.json``."""
    lock_pins = locked_versions(lock)
    installed = installed_versions(KEY_PACKAGES)
    mismatched = {k: v for k, v in installed.items() if k in lock_pins and lock_pins[k] != v}
    from linkseval.study import Settings

    s = Settings.from_config(config.get("analysis", {}))  # the seeds the run uses (defaults too)
    return {
        "data_label": data_label,
        "inputs": sorted((file_record(p) for p in inputs), key=lambda r: r["path"]),
        "config": config,
        "seeds": {
            "synthetic": (
                config.get("synthetic", {}).get("seed") if is_synthetic_label(data_label) else None
            ),
            "bootstrap": s.bootstrap_seed,
            "randomization": s.ri_seed,
        },
        "code": code_version(root),
        "packages": {
            "installed": installed,
            "lock": lock_pins,
            "lock_sha256": sha256(lock),
            "installed_differs_from_lock": mismatched,
        },
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
    }
