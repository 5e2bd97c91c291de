"""The estimator protocol: fit on a panel and the study settings, return a :class:`Fitted`.

A fitted estimator carries its terms, their estimates and analytic standard errors, and the
hooks the inference methods (:mod:`linkseval.inference.registry`) need:

- the analytic test reads ``estimate``, ``std_error``, ``df`` and ``vcov_name``;
- the wild cluster restricted bootstrap reads :meth:`Fitted.wild_problem` — the terms as linear
  combinations w'β of one clustered regression;
- randomization inference reads :meth:`Fitted.ri_statistics` — every term recomputed under
  random reassignments of the programme (:class:`~linkseval.inference.RIStatistics`);
- RI-t reads :meth:`Fitted.ri_t_statistics` — every term's t statistic (estimate / analytic SE)
  under the same reassignments (:class:`~linkseval.inference.RITStatistics`, one per term).

An estimator without a hook gets that method's row with "not applicable" and the reason, so a
new estimator is one module plus one line in :data:`linkseval.estimators.ESTIMATORS`, and a new
inference method one function plus one line in :data:`linkseval.inference.registry.METHODS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from linkseval.did import Design, Panel
from linkseval.inference import RIStatistics, TestResult
from linkseval.inference.randomization import RITStatistics
from linkseval.results import make_row
from linkseval.study import Settings


@dataclass(frozen=True)
class Term:
    """One reported term: its name in the result vocabulary and its structured columns.

    ``where`` holds ``event_time``, ``cohort`` and ``period`` where they apply; ``note`` is
    shown with the analytic test's row.
    """

    term: str
    where: dict = field(default_factory=dict)
    note: str = ""


@dataclass
class WildProblem:
    """Terms as linear combinations of one clustered regression (the WCR bootstrap's hook).

    Row k of ``contrasts`` (over the columns of ``design``) is term ``rows[k]``; terms not in
    ``rows`` have no contrast (no row is reported for them).
    """

    design: Design
    contrasts: np.ndarray
    rows: list[int]


@dataclass
class RIProblem:
    """Reassigned statistics (the RI hook) and the term index of each of their columns."""

    statistics: RIStatistics
    rows: list[int]


@dataclass
class Fitted:
    """A fitted estimator: terms, estimates, analytic SEs and the hooks inference needs.

    ``std_error`` is the analytic SE (NaN where it cannot be estimated); ``df`` the degrees of
    freedom of its t reference distribution (None: normal); ``vcov_name`` the analytic method's
    name in the results; ``analytic_unavailable`` why the analytic test does not apply;
    ``analytic_draws`` the random draws behind the SE (e.g. SDID's placebo replications; 0 for
    a closed form);
    ``band`` per term the critical value c of a simultaneous band estimate ± c·SE over a family
    of terms (NaN outside it; the analytic rows give it as ``ci_low_fw``, ``ci_high_fw``).
    """

    estimator: str
    panel: Panel
    terms: list[Term]
    estimate: np.ndarray
    std_error: np.ndarray
    vcov_name: str
    df: int | None = None
    analytic_unavailable: str | None = None
    extra_note: str = ""
    analytic_draws: int = 0
    band: np.ndarray | None = None  # per term a uniform band's critical value (NaN: none)

    def wild_problem(self) -> WildProblem | None:
        """Return the terms as one regression's linear combinations, or None (no WCR)."""
        return None

    def wild_unavailable(self) -> str:
        """Return why the WCR bootstrap cannot apply when :meth:`wild_problem` is None."""
        return f"{self.estimator} has no regression form for the wild bootstrap"

    def ri_statistics(self, *, seed: int, n_draws: int) -> RIProblem | None:
        """Return the terms under random reassignments of the programme, or None (no RI)."""
        return None

    def ri_t_statistics(self, *, seed: int, n_draws: int) -> list[RITStatistics | None] | None:
        """Return per term the reassigned t statistics (the RI-t hook), or None (no RI-t)."""
        return None

    def ri_unavailable(self) -> str:
        """Return why RI cannot apply when :meth:`ri_statistics` is None."""
        return f"{self.estimator} has no reassignment statistic"

    def ri_t_unavailable(self) -> str:
        """Return why RI-t cannot apply when :meth:`ri_t_statistics` is None."""
        return f"{self.estimator} has no studentised reassignment statistic yet"

    def joint_rows(self, s: Settings, base: dict, methods: list[str]) -> list[dict]:
        """Return the estimator's joint tests (e.g. pre-trends) as result rows; none by default."""
        return []


class Estimator(Protocol):
    """What every estimator provides (registered in :data:`~linkseval.estimators.ESTIMATORS`)."""

    name: str
    label: str  # what the report calls it
    overall_term: str | None  # the term that is its overall (static) effect; None: none
    analytic_method: str  # the result rows' ``method`` of its analytic standard error

    def applies(self, p: Panel, rule: str) -> bool:
        """Whether the estimator applies to a panel against a comparison of rule ``rule``."""
        ...

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return the panels to fit, each with the record fields that tell them apart."""
        ...

    def fit(self, p: Panel, s: Settings, **options) -> Fitted | None:
        """Fit on one panel (None: nothing to estimate, e.g. no event time)."""
        ...


# --------------------------------------------------------------------------- record helpers


def result_row(
    base: dict, term: str, method: TestResult, estimate: float, se: float, **where
) -> dict:
    """Build one result record.

    One result record (:func:`linkseval.results.make_row`): ``base`` names the outcome,
    comparison, estimator (and variant) and counts, ``where`` the term's structured columns
    (``event_time``, ``cohort``, ``period``, ``bound``).
    """
    return make_row(
        **base,
        **where,
        term=term,
        method=method.method,
        estimate=estimate,
        std_error=se,
        ci_low=method.ci_low,
        ci_high=method.ci_high,
        ci_low_fw=method.ci_low_fw,
        ci_high_fw=method.ci_high_fw,
        p_value=method.p_value,
        statistic=method.statistic,
        n_draws=method.n_draws,
        applicable=method.applicable,
        note=method.note,
    )


def panel_counts(p: Panel) -> dict:
    """Return the counts of a result record: observations, units, treated units, clusters."""
    return {
        "n_obs": p.n_obs,
        "n_units": p.n_units,
        "n_treated": int((p.cohort > 0).sum()),
        "n_clusters": int(p.cluster.max()) + 1,
    }


def n_treated_clusters(p: Panel) -> int:
    """Return the number of clusters that hold a treated unit."""
    return len(np.unique(p.cluster[np.isin(p.unit, p.treated_units)]))
