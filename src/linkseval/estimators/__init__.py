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
from linkseval.estimators.synthdid import SyntheticControl, SyntheticDiD
from linkseval.estimators.twfe import TWFE, DiD2x2
from linkseval.study import Settings

ESTIMATORS: dict[str, Estimator] = {
    "twfe": TWFE(),
    "did2x2": DiD2x2(),
    "event_study": EventStudy(),
    "callaway_santanna": CallawaySantAnna(),
    "imputation": Imputation(),
    "sdid": SyntheticDiD(),
    "sc": SyntheticControl(),
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
    "method_order",
    "method_row",
    "method_rows",
    "method_short",
    "overall_term",
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


def overall_term(estimator: str) -> str:
    """Return the term that is ``estimator``'s overall (static) effect.

    Registry estimators say it themselves (:attr:`Estimator.overall_term`); the study's other
    static estimates (``leave_out``, ``dose``, ``multilevel``) are TWFE-like: ``treated_post``.
    """
    est = ESTIMATORS.get(estimator)
    term = est.overall_term if est is not None else "treated_post"
    if term is None:
        raise ConfigError(f"estimator {estimator!r} has no overall effect")
    return term


def method_row(method: str, estimator: str = "twfe") -> str:
    """Return the result rows' ``method`` of registry method ``method`` applied to ``estimator``.

    ``analytic`` is the estimator's own standard error (``CR1``, ``influence function
    (analytic)``, ...); the others have one name whatever the estimator.
    """
    from linkseval.inference.registry import METHOD_LABELS

    if method not in METHOD_LABELS:
        raise ConfigError(f"unknown inference method {method!r}; known: {list(METHOD_LABELS)}")
    row = METHOD_LABELS[method].row
    return get_estimator(estimator).analytic_method if row is None else row


def method_rows(methods: list[str] | tuple[str, ...], estimator: str = "twfe") -> list[str]:
    """Return the result rows' ``method`` of each registry method, in the given order."""
    return [method_row(m, estimator) for m in methods]


def method_short(row: str) -> str:
    """Return a result row's method as a narrow column calls it (``WCR``, ``RI-t``; ``CR1``)."""
    from linkseval.inference.registry import METHOD_LABELS

    for lab in METHOD_LABELS.values():
        if lab.row == row:
            return lab.short or row
    return row


def method_order(row: str) -> int:
    """Return a result row's method's place in the registry (analytic first; unknown last)."""
    from linkseval.inference.registry import METHOD_LABELS

    rows = [lab.row for lab in METHOD_LABELS.values()]
    if row in rows:
        return rows.index(row)
    analytic = {e.analytic_method for e in ESTIMATORS.values()}
    return rows.index(None) if row in analytic else len(rows)


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
