"""Inference methods by name: each applies to any fitted estimator through its hooks.

A method is a function ``(fitted, settings, family_alpha) -> one result per term`` (None where
the term has no row for that method); it reads only the hooks of
:class:`~linkseval.estimators.base.Fitted`, never the estimator's internals:

- ``analytic`` — the estimator's own analytic SE (CR1 for regressions, the influence function
  for Callaway–Sant'Anna, ...): a t test with its degrees of freedom, or a z test;
- ``wild_bootstrap`` — the WCR bootstrap on :meth:`~linkseval.estimators.base.Fitted.wild_problem`;
- ``randomization`` — Fisher RI on :meth:`~linkseval.estimators.base.Fitted.ri_statistics`;
- ``randomization_t`` — RI on t statistics (estimate / analytic SE: CR1, or the influence
  function for Callaway–Sant'Anna; MacKinnon & Webb 2020), on
  :meth:`~linkseval.estimators.base.Fitted.ri_t_statistics` (TWFE and its 2×2 and leave-one-out
  forms, the event study and Callaway–Sant'Anna; not the imputation estimator).

The study runs the methods of ``analysis.methods`` in that order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from linkseval.inference.base import TestResult, wald_test
from linkseval.inference.randomization import _ri_not_applicable, ri_t_test, ri_test
from linkseval.inference.wild import wild_cluster_bootstrap_terms

if TYPE_CHECKING:
    from linkseval.estimators.base import Fitted
    from linkseval.study import Settings

Method = Callable[["Fitted", "Settings", "float | None"], "list[TestResult | None]"]


def analytic(f: Fitted, s: Settings, family_alpha: float | None = None) -> list[TestResult | None]:
    """Test every term with the estimator's analytic standard error."""
    if f.analytic_unavailable is not None:
        return [TestResult.not_applicable(f.vcov_name, f.analytic_unavailable)] * len(f.terms)
    out: list[TestResult | None] = []
    for j, t in enumerate(f.terms):
        r = wald_test(
            f.estimate[j],
            f.std_error[j],
            df=f.df,
            alpha=s.alpha,
            family_alpha=family_alpha,
            method=f.vcov_name,
        )
        r.note = t.note
        r.n_draws = f.analytic_draws
        if family_alpha is None and f.band is not None and np.isfinite(f.band[j]):
            r.ci_low_fw = f.estimate[j] - f.band[j] * f.std_error[j]
            r.ci_high_fw = f.estimate[j] + f.band[j] * f.std_error[j]
        out.append(r)
    return out


def wild_bootstrap(
    f: Fitted, s: Settings, family_alpha: float | None = None
) -> list[TestResult | None]:
    """Test every term with the WCR bootstrap on the estimator's regression form."""
    from linkseval.estimators.base import n_treated_clusters

    problem = f.wild_problem()
    if problem is None:
        return [TestResult.not_applicable("WCR bootstrap", f.wild_unavailable())] * len(f.terms)
    res = wild_cluster_bootstrap_terms(
        problem.design,
        problem.contrasts,
        n_draws=s.bootstrap_draws,
        seed=s.bootstrap_seed,
        alpha=s.alpha,
        weights=s.bootstrap_weights,
        n_treated_clusters=n_treated_clusters(f.panel),
        family_alpha=family_alpha,
    )
    out: list[TestResult | None] = [None] * len(f.terms)
    for j, r in zip(problem.rows, res, strict=True):
        out[j] = r
    return out


def randomization(
    f: Fitted, s: Settings, family_alpha: float | None = None
) -> list[TestResult | None]:
    """Test every term by Fisher RI on the estimator's reassigned statistics."""
    na = _ri_not_applicable(f.panel)
    if na is not None:
        return [na] * len(f.terms)
    problem = f.ri_statistics(seed=s.ri_seed, n_draws=s.ri_draws)
    if problem is None:
        why = f.ri_unavailable()
        return [TestResult.not_applicable("randomization inference", why)] * len(f.terms)
    out: list[TestResult | None] = [None] * len(f.terms)
    for k, j in enumerate(problem.rows):
        out[j] = ri_test(problem.statistics, k, alpha=s.alpha, family_alpha=family_alpha)
    return out


def randomization_t(
    f: Fitted, s: Settings, family_alpha: float | None = None
) -> list[TestResult | None]:
    """Test every term by RI on its t statistic (estimate / analytic SE; MacKinnon & Webb 2020)."""
    name = "randomization inference (t)"
    na = _ri_not_applicable(f.panel)
    if na is not None:
        return [TestResult.not_applicable(name, na.note.removeprefix("not applicable: "))] * len(
            f.terms
        )
    per_term = f.ri_t_statistics(seed=s.ri_seed, n_draws=s.ri_draws)
    if per_term is None:
        return [TestResult.not_applicable(name, f.ri_t_unavailable())] * len(f.terms)
    return [
        TestResult.not_applicable(name, "a unit spans clusters")
        if st is None
        else ri_t_test(st, alpha=s.alpha, family_alpha=family_alpha)
        for st in per_term
    ]


METHODS: dict[str, Method] = {
    "analytic": analytic,
    "wild_bootstrap": wild_bootstrap,
    "randomization": randomization,
    "randomization_t": randomization_t,
}


@dataclass(frozen=True)
class MethodLabel:
    """How the results and the report name an inference method.

    ``row`` is the result rows' ``method`` (None for ``analytic``: the estimator's own, e.g.
    ``CR1``; :attr:`~linkseval.estimators.base.Estimator.analytic_method`); ``short`` its name in
    a narrow table column (None: the row name); ``description`` a plain phrase for a sentence.
    """

    row: str | None
    short: str | None
    description: str


METHOD_LABELS: dict[str, MethodLabel] = {
    "analytic": MethodLabel(
        None,
        None,
        "CR1 cluster-robust (conventional; over-rejects with few treated practices)",
    ),
    "wild_bootstrap": MethodLabel(
        "WCR bootstrap", "WCR", "the wild cluster restricted bootstrap ({weights} weights)"
    ),
    "randomization": MethodLabel(
        "randomization inference",
        "RI",
        "randomization inference (the programme reassigned to random sets of practices)",
    ),
    "randomization_t": MethodLabel(
        "randomization inference (t)",
        "RI-t",
        "randomization inference on t statistics (MacKinnon & Webb 2020)",
    ),
}
WEIGHT_LABELS = {"webb": "Webb", "rademacher": "Rademacher"}


def method_description(name: str, bootstrap_weights: str = "webb") -> str:
    """Return the plain description of registry method ``name`` for a sentence."""
    weights = WEIGHT_LABELS.get(bootstrap_weights, bootstrap_weights)
    return METHOD_LABELS[name].description.format(weights=weights)


def get_method(name: str) -> Method:
    """Return the inference method registered as ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        from linkseval.errors import ConfigError

        raise ConfigError(f"unknown inference method {name!r}; known: {list(METHODS)}") from None
