"""The TWFE event study: one coefficient per event time (reference: the year before the start).

Hooks: CR1, the regression for the WCR bootstrap (all event times from one set of draws), the
closed-form reassigned coefficients for RI (p-values only) and their reassigned CR1 t statistics
for RI-t (the same draws; CIs for the programme years under a constant effect). Joint tests: the
pre-programme coefficients (CR1 Wald F and a randomization Wald test) and, on the main
comparison, HonestDiD's robust intervals for the mean post-programme effect.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from linkseval.did import Panel, event_study_design, ols
from linkseval.estimators.base import (
    Fitted,
    RIProblem,
    Term,
    WildProblem,
    n_treated_clusters,
    result_row,
)
from linkseval.inference import RIStatistics, TestResult, ri_event_statistics
from linkseval.inference.randomization import (
    RITStatistics,
    _ri_not_applicable,
    event_ri_t_statistics,
    ri_joint_pretrend,
)
from linkseval.study import Settings


class EventStudyFit(Fitted):
    """A fitted TWFE event study."""

    def __init__(self, p: Panel, design, es: list[int], honest: bool = False) -> None:
        fit = ols(design)
        few = n_treated_clusters(p) < 2
        se = np.full(len(es), np.nan) if few else fit.se()[: len(es)].astype(float)
        super().__init__(
            estimator="event_study",
            panel=p,
            terms=[Term("event", {"event_time": e}) for e in es],
            estimate=fit.beta[: len(es)].astype(float),
            std_error=se,
            vcov_name="CR1",
            df=design.n_clusters - 1,
            analytic_unavailable="fewer than 2 treated clusters" if few else None,
        )
        self.design, self.fit, self.es, self.honest = design, fit, es, honest
        self._ri: dict[tuple[int, int], RIStatistics] = {}

    def wild_problem(self) -> WildProblem:
        """Return every event-time coefficient of the regression."""
        k = len(self.es)
        return WildProblem(self.design, np.eye(self.design.k)[:k], list(range(k)))

    def _statistics(self, seed: int, n_draws: int) -> RIStatistics:
        key = (seed, n_draws)
        if key not in self._ri:
            self._ri[key] = ri_event_statistics(self.panel, self.es, n_draws=n_draws, seed=seed)
        return self._ri[key]

    def ri_statistics(self, *, seed: int, n_draws: int) -> RIProblem:
        """Return every event-time coefficient under every reassignment (computed once)."""
        return RIProblem(self._statistics(seed, n_draws), list(range(len(self.es))))

    def ri_t_statistics(self, *, seed: int, n_draws: int) -> list[RITStatistics | None]:
        """Return each event time's CR1 t under the RI draws (None where a unit spans clusters)."""
        stats = event_ri_t_statistics(self.panel, self.es, seed=seed, n_draws=n_draws)
        return list(stats) if stats is not None else [None] * len(self.es)

    def joint_rows(self, s: Settings, base: dict, methods: list[str]) -> list[dict]:
        """Return the joint pre-trend tests and (``honest``) the HonestDiD rows."""
        p, es, fit = self.panel, self.es, self.fit
        pre = [j for j, e in enumerate(es) if e < -1]
        ri_joint = None
        if pre and "randomization" in methods:
            na = _ri_not_applicable(p)
            ri_joint = (
                na
                if na is not None
                else ri_joint_pretrend(self._statistics(s.ri_seed, s.ri_draws), es)
            )
        rows = []

        def joint(res: TestResult) -> None:
            rows.append(result_row(base, "pretrend_joint", res, np.nan, np.nan))

        n_tc = n_treated_clusters(p)
        if pre and n_tc < 2:
            joint(TestResult.not_applicable("CR1", f"{n_tc} treated cluster(s); CR1 needs 2"))
            if ri_joint is not None:
                joint(ri_joint)
        elif pre:
            b = fit.beta[pre]
            V = fit.vcov[np.ix_(pre, pre)]
            q = len(pre)
            F = float(b @ np.linalg.solve(V, b)) / q
            df2 = self.design.n_clusters - 1
            pv = float(special.fdtrc(q, df2, max(F, 0.0)))  # F survival function (1 at F <= 0)
            note = f"H0: all {q} pre-programme coefficients = 0; F({q}, {df2})"
            joint(TestResult("CR1", pv, np.nan, np.nan, statistic=F, note=note))
            if ri_joint is not None:
                joint(ri_joint)
            if self.honest and s.honest["enabled"]:
                rows += honest_rows(p, fit, es, s, base)
        else:
            joint(TestResult.not_applicable("CR1", "fewer than 2 pre-programme years"))
        return rows


class EventStudy:
    """The TWFE event study (registered as ``event_study``)."""

    name = "event_study"
    label = "event study"
    overall_term: str | None = None  # one coefficient per event time, no overall effect
    analytic_method = "CR1"

    def applies(self, p: Panel, rule: str) -> bool:
        """Return True: the event study applies to every panel."""
        return True

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return the panel itself."""
        return [({}, p)]

    def fit(
        self, p: Panel, s: Settings, *, honest: bool = False, **options
    ) -> EventStudyFit | None:
        """Fit the event study (None without an event time besides the reference)."""
        design, es = event_study_design(p)
        if not es:
            return None
        return EventStudyFit(p, design, es, honest=honest)


# --------------------------------------------------------------------------- HonestDiD


def infer_honest(
    beta: np.ndarray, vcov: np.ndarray, es: list[int], s: Settings, base: dict, source: str
) -> list[dict]:
    """Compute HonestDiD robust CIs for the mean post-programme effect.

    HonestDiD robust CIs for the mean post-programme effect of the event study ``beta``
    (event times ``es``, reference −1 omitted) with covariance ``vcov`` (main comparison only);
    ``source`` says which event study it is.
    """
    from linkseval.honest import honest_sensitivity, rm_unavailable

    h = s.honest
    relative_mbar = h["relative_mbar"]
    res = honest_sensitivity(
        beta,
        vcov,
        es,
        smoothness_m=h["smoothness_m"],
        relative_mbar=relative_mbar,
        alpha=s.alpha,
        grid_points=int(h["grid_points"]),
    )
    post = [j for j, e in enumerate(es) if e >= 0]
    mean_post = float(np.mean(np.asarray(beta)[post]))
    note = f"robust CI for the mean post-programme effect ({source})"
    rows = []
    for r in res.itertuples():
        where = {"estimator": "honestdid", "variant": r.restriction}
        t = TestResult(f"HonestDiD {r.method}", np.nan, r.ci_low, r.ci_high, note=note)
        bound = None if r.restriction == "original" else float(r.bound)
        rows.append(result_row({**base, **where}, "mean_post", t, mean_post, np.nan, bound=bound))
    why = rm_unavailable(sum(e < 0 for e in es), sum(e >= 0 for e in es))
    if why is not None:  # honest_sensitivity leaves relative magnitudes out: say so
        where = {"estimator": "honestdid", "variant": "relative_magnitude"}
        for mbar in relative_mbar:
            t = TestResult.not_applicable("HonestDiD C-LF", f"{why} ({source})")
            rows.append(
                result_row({**base, **where}, "mean_post", t, mean_post, np.nan, bound=float(mbar))
            )
    return rows


HONEST_STAGGERED = (
    "Callaway-Sant'Anna dynamic effects on a universal base period (the year before each "
    "cohort's start), never-treated controls, influence-function covariance clustered by "
    "practice: with staggered starts the TWFE event study also uses already-treated practices "
    "as controls, so its coefficients are not clean inputs"
)


def honest_rows(p: Panel, fit, es: list[int], s: Settings, base: dict) -> list[dict]:
    """Run HonestDiD on the event study of a panel.

    HonestDiD on the TWFE event study (one cohort) or, with staggered starts, on the
    Callaway-Sant'Anna universal-base dynamic effects.
    """
    if len(np.unique(p.cohort[p.cohort > 0])) > 1:
        from linkseval.staggered import cs_event_study

        es_cs, theta, V = cs_event_study(p)
        if not any(e < -1 for e in es_cs) or not any(e >= 0 for e in es_cs):
            return []
        return infer_honest(theta, V, es_cs, s, base, HONEST_STAGGERED)
    k = len(es)
    return infer_honest(fit.beta[:k], fit.vcov[:k, :k], es, s, base, "event study, CR1 vcov")
