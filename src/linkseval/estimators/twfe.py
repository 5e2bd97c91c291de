"""Static two-way fixed effects: y = unit + period + β·D + e (and its 2×2 DiD form).

Hooks: CR1 (t with G − 1 dof), the regression itself for the WCR bootstrap, and the
closed-form reassigned coefficient of :mod:`linkseval.inference.randomization` for RI.
"""

from __future__ import annotations

import numpy as np

from linkseval.did import Panel, ols, twfe_design, two_by_two
from linkseval.estimators.base import Fitted, RIProblem, Term, WildProblem, n_treated_clusters
from linkseval.inference import n_chunks, ri_chunk, twfe_ri_statistics
from linkseval.inference.randomization import RITStatistics, _ri_pieces, twfe_ri_t_statistics
from linkseval.study import Settings


class TWFEFit(Fitted):
    """A fitted static TWFE regression."""

    def __init__(self, p: Panel, estimator: str = "twfe") -> None:
        design = twfe_design(p)
        fit = ols(design)
        few = n_treated_clusters(p) < 2
        super().__init__(
            estimator=estimator,
            panel=p,
            terms=[Term("treated_post")],
            estimate=np.array([float(fit.beta[0])]),
            std_error=np.array([np.nan if few else float(fit.se()[0])]),
            vcov_name="CR1",
            df=design.n_clusters - 1,
            analytic_unavailable="fewer than 2 treated clusters" if few else None,
        )
        self.design, self.fit = design, fit

    def wild_problem(self) -> WildProblem:
        """Return the coefficient of D in the TWFE regression."""
        return WildProblem(self.design, np.eye(self.design.k)[[0]], [0])

    def ri_statistics(self, *, seed: int, n_draws: int) -> RIProblem:
        """Return the TWFE coefficient under every reassignment (closed form per chunk)."""
        p = self.panel
        pc = _ri_pieces(p)
        chunks = {k: ri_chunk(p, seed, n_draws, k, pieces=pc) for k in range(n_chunks(n_draws))}
        return RIProblem(twfe_ri_statistics(p, chunks, n_draws=n_draws, pieces=pc), [0])

    def ri_t_statistics(self, *, seed: int, n_draws: int) -> list[RITStatistics | None]:
        """Return the CR1 t of D under every reassignment (None where a unit spans clusters)."""
        return [twfe_ri_t_statistics(self.panel, seed=seed, n_draws=n_draws)]


class TWFE:
    """The static TWFE estimator (registered as ``twfe``)."""

    name = "twfe"
    label = "static two-way fixed effects"
    overall_term: str | None = "treated_post"  # the term that is the overall effect
    analytic_method = "CR1"  # the result rows' method of its analytic standard error

    def applies(self, p: Panel, rule: str) -> bool:
        """Return True: TWFE applies to every panel."""
        return True

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return the panel itself."""
        return [({}, p)]

    def fit(self, p: Panel, s: Settings, **options) -> TWFEFit:
        """Fit the static TWFE regression."""
        return TWFEFit(p, self.name)


def did2x2_variant(base: int, post: int) -> dict:
    """Return the record fields of the 2×2 DiD of ``base`` against ``post``."""
    return {"estimator": "did2x2", "variant": f"{base}-{post}", "base_period": base, "period": post}


class DiD2x2(TWFE):
    """2×2 DiDs of the baseline year against each post year (registered as ``did2x2``).

    Each is the TWFE coefficient on the two years' panel (units observed in both); with a
    single Links cohort only.
    """

    name = "did2x2"
    label = "2×2 difference-in-differences (baseline vs each post year)"

    def applies(self, p: Panel, rule: str) -> bool:
        """Return True with a single treated cohort."""
        return len(np.unique(p.cohort[p.cohort > 0])) == 1

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return one 2×2 panel per period from the cohort's start on."""
        first = int(p.cohort[p.cohort > 0].min())
        return [
            (did2x2_variant(base_year, int(post)), two_by_two(p, base_year, int(post)))
            for post in p.periods
            if post >= first
        ]
