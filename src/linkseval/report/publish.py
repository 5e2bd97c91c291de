"""Publish the checked report pages as one folder: all of them or none.

The notebook rules write their pages to ``results/pages/`` (staging); only when every page is
rendered, the disclosure check has passed and the index is written does ``publish_report`` copy
them into ``results/report/``. The copy goes into a hidden sibling folder first and is moved into
place with one rename, so a run that fails or is killed never leaves a half-filled report folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def publish(pages: list[str | Path], out_dir: str | Path) -> list[Path]:
    """Copy ``pages`` (byte for byte) into ``out_dir``, which is replaced as a whole.

    Parameters
    ----------
    pages : list of path
        The staged pages; their file names must be distinct.
    out_dir : path
        The published folder, e.g. ``results/report``.

    Returns
    -------
    list of Path
        The published files, sorted.
    """
    out = Path(out_dir)
    names = [Path(p).name for p in pages]
    if len(set(names)) != len(names):
        raise ValueError(
            f"two pages with one name: {sorted(n for n in names if names.count(n) > 1)}"
        )
    partial, old = out.with_name(f".{out.name}.partial"), out.with_name(f".{out.name}.old")
    for leftover in (partial, old):  # from a killed earlier publish
        shutil.rmtree(leftover, ignore_errors=True)
    partial.mkdir(parents=True)
    for page in pages:
        shutil.copyfile(page, partial / Path(page).name)
    if out.exists():
        out.rename(old)
    os.replace(partial, out)
    shutil.rmtree(old, ignore_errors=True)
    return sorted(out / n for n in names)
