"""The data label every output carries: decided once, from the config and the extract folder.

Synthetic data (the embedded default, or a folder carrying the generator's marker) are always
labelled ``SYNTHETIC DATA``; a configured label cannot remove that. Real extracts carry the
configured ``data_label`` (e.g. ``OFFICIAL – SENSITIVE``) or, if it is null or empty, none.
"""

from __future__ import annotations

import re
from pathlib import Path

from linkseval import SYNTHETIC_LABEL, SYNTHETIC_MARKER

# one printable line: no control characters (a label is put in shell commands, file metadata
# and page headers), at most 200 characters; the config schema holds the same rule
LABEL_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{0,200}")


def is_synthetic_folder(raw_dir: str | Path | None) -> bool:
    """Tell whether data are synthetic: the embedded default (``raw_dir`` null) or marked."""
    return raw_dir is None or (Path(raw_dir) / SYNTHETIC_MARKER).exists()


def resolve_data_label(configured: str | None, synthetic: bool) -> str:
    """Return the label of a run: ``SYNTHETIC DATA`` when ``synthetic``, else ``configured`` or ''.

    Parameters
    ----------
    configured : str or None
        The config's ``data_label``.
    synthetic : bool
        Whether the extracts are synthetic (``is_synthetic_folder``).

    Returns
    -------
    str
        The label, '' for none.
    """
    label = (configured or "").strip()
    if not LABEL_PATTERN.fullmatch(label):  # the one rule for a label (the schema has none)
        raise ValueError(
            f"config 'data_label' {label[:40]!r}: one line of at most 200 printable characters"
        )
    return SYNTHETIC_LABEL if synthetic else label


def is_synthetic_label(label: str) -> bool:
    """Whether outputs with this label come from generated data."""
    return label == SYNTHETIC_LABEL


def banner_text(label: str) -> str:
    """Return the one-line banner of a label ('' for none); plain text, escape it for HTML."""
    if not label:
        return ""
    if is_synthetic_label(label):
        return f"{label} — generated data, not real survey responses"
    return label
