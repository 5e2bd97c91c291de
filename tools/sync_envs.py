"""Regenerate environment.yml and workflow/envs/linkseval.yaml from requirements.lock.

The lock (uv pip compile) is the single source of pinned versions; conda users get the same
packages at the same versions through conda's pip section. Run via `make lock`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def read_lock(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def render(name: str, pins: dict[str, str], header: str) -> str:
    lines = [
        header,
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {pkg}=={ver}" for pkg, ver in sorted(pins.items())]
    return "\n".join(lines) + "\n"


def main() -> int:
    pins = read_lock(ROOT / "requirements.lock")
    note = "# GENERATED from requirements.lock by tools/sync_envs.py (make lock). Do not edit."
    (ROOT / "environment.yml").write_text(render("linkseval", pins, note), encoding="utf-8")
    (ROOT / "workflow/envs/linkseval.yaml").write_text(
        render("linkseval", pins, note + "\n# Snakemake --sdm conda env; mirrors environment.yml"),
        encoding="utf-8",
    )
    print(
        f"{len(pins)} pinned packages written to environment.yml and workflow/envs/linkseval.yaml"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
