"""Estimators by name, and the runner that applies the inference methods to any of them.

Every estimator implements :class:`~linkseval.estimators.base.Estimator` (``applies``,
``variants``, ``fit`` → :class:`~linkseval.estimators.base.Fitted`); every inference method of
:data:`linkseval.inference.registry.METHODS` applies to any fitted estimator through its hooks.
The study (:func:`linkseval.analysis.estimate_outcome`) runs
``comparisons × analysis.estimators × analysis.methods``; :func:`infer` is one cell of that.
"""

from __future__ import annotations

from linkseval.did import Panel
from linkseval.errors import ConfigError
from linkseval.estimators.base import (
    Estimator,
    Fitted,
    RIProblem,
    Term,
    WildProblem,
    n_treated_clusters,
    panel_counts,
    result_row,
)
from linkseval.estimators.callaway_santanna import CallawaySantAnna
from linkseval.estimators.event_study import EventStudy
from linkseval.estimators.imputation import Imputation
from linkseval.estimators.twfe import TWFE, DiD2x2
from linkseval.study import Settings

ESTIMATORS: dict[str, Estimator] = {
    "twfe": TWFE(),
    "did2x2": DiD2x2(),
    "event_study": EventStudy(),
    "callaway_santanna": CallawaySantAnna(),
    "imputation": Imputation(),
}

METHOD_ORDER = ("analytic", "wild_bootstrap", "randomization")

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "Fitted",
    "RIProblem",
    "Term",
    "WildProblem",
    "get_estimator",
    "infer",
    "infer_fitted",
    "n_treated_clusters",
    "panel_counts",
    "result_row",
]


def get_estimator(name: str) -> Estimator:
    """Return the estimator registered as ``name``."""
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ConfigError(f"unknown estimator {name!r}; known: {list(ESTIMATORS)}") from None


def infer_fitted(
    f: Fitted,
    s: Settings,
    base: dict,
    methods: list[str] | tuple[str, ...] = METHOD_ORDER,
    family_alpha: float | None = None,
) -> list[dict]:
    """Return a fitted estimator's rows: every term × every method, then its joint tests.

    Parameters
    ----------
    f : Fitted
        The fitted estimator.
    s : Settings
        The inference settings (draws, seeds, level).
    base : dict
        The record fields that name the estimate (outcome, comparison, estimator, variant).
    methods : sequence of str
        Inference methods by registry name, in row order.
    family_alpha : float, optional
        Also give each method's 1 − family_alpha interval.

    Returns
    -------
    list of dict
        Result records (:mod:`linkseval.results`), per term one per method.
    """
    from linkseval.inference.registry import get_method

    base = {**base, **panel_counts(f.panel)}
    results = [get_method(m)(f, s, family_alpha) for m in methods]
    rows = []
    for j, t in enumerate(f.terms):
        for res in results:
            if res[j] is not None:
                rows.append(
                    result_row(base, t.term, res[j], f.estimate[j], f.std_error[j], **t.where)
                )
    return rows + f.joint_rows(s, base, list(methods))


def infer(
    name: str,
    p: Panel,
    s: Settings,
    base: dict,
    methods: list[str] | tuple[str, ...] = METHOD_ORDER,
    family_alpha: float | None = None,
    **options,
) -> list[dict]:
    """Fit estimator ``name`` on ``p`` and return its rows with every method (none if no fit)."""
    f = get_estimator(name).fit(p, s, **options)
    return [] if f is None else infer_fitted(f, s, base, methods, family_alpha)
