"""The outcomes' labels on every figure, table and sentence of the report.

Labels are the codebook's (:func:`linkseval.study.outcome_labels`): a page sets them once from the
study (the rules pass them to the notebooks as the parameter ``outcome_labels``).
"""

from __future__ import annotations

# Outcome labels are the codebook's (linkseval.study.outcome_labels): a page sets them once from
# the study (the rules pass them to the notebooks as the parameter `outcome_labels`).
_outcome_labels: dict[str, str] = {}


def set_outcome_labels(labels: dict[str, str] | str) -> None:
    """Use ``labels`` (outcome id -> label, or its JSON) for every figure and table."""
    import json

    _outcome_labels.clear()
    _outcome_labels.update(json.loads(labels) if isinstance(labels, str) else labels)


def label(outcome: str) -> str:
    """Return the outcome's codebook label (as set by :func:`set_outcome_labels`), else its id."""
    return _outcome_labels.get(outcome, outcome.replace("_", " ").title())
