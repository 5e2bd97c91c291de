"""Callaway & Sant'Anna (2021) group-time ATTs and their aggregations (:mod:`linkseval.staggered`).

Hooks: the influence-function SE (normal reference), the stacked cell regression for the WCR
bootstrap, the cohorts permuted among all units for RI, and the same draws' t statistics
(estimate / influence-function SE) for RI-t. Applies with staggered starts and a
comparison group of never-treated practices (not ``all_including_treated``).
"""

from __future__ import annotations

import numpy as np

from linkseval.did import Panel
from linkseval.estimators.base import Fitted, RIProblem, Term, WildProblem, n_treated_clusters
from linkseval.inference.randomization import RITStatistics
from linkseval.study import Settings

STAGGERED_NOTE = (
    "Callaway-Sant'Anna: each cohort compared with never-treated practices only; unlike TWFE, "
    "already-treated practices never act as controls, so changing effects cannot get negative "
    "weights (Goodman-Bacon 2021). Unweighted; influence-function SEs clustered by practice; "
    "WCR bootstrap on the stacked cell regression; RI permutes the cohorts."
)


BAND_OPTIONS = ("cband", "biters", "seed")
COVARIATES_NOTE = (
    "with covariates each cell is the doubly robust estimator (a logit propensity score and an "
    "outcome regression), not linear in the outcome: no stacked regression or closed-form "
    "reassignment; use the influence-function SE (and its uniform band)"
)


def _note(options: dict) -> str:
    """Return the simple aggregate's note: what was compared with what, and how."""
    if (
        options.get("control_group", "never") == "never"
        and not options.get("anticipation", 0)
        and options.get("sampling_weights") is None
        and options.get("covariates") is None
    ):
        return STAGGERED_NOTE
    controls = {"never": "never-treated", "not_yet": "never- and not-yet-treated"}
    k = options.get("anticipation", 0)
    parts = [
        f"Callaway-Sant'Anna: each cohort compared with "
        f"{controls[options.get('control_group', 'never')]} practices"
        + (f", allowing {k} period(s) of anticipation" if k else ""),
        "already-treated practices never act as controls",
        "sampling-weighted" if options.get("sampling_weights") is not None else "unweighted",
    ]
    if options.get("covariates") is not None:
        parts.append("doubly robust cells (Sant'Anna & Zhao 2020) with covariates")
    return "; ".join(parts) + "; influence-function SEs clustered by practice."


def _band_note(band: np.ndarray | None, j: int, options: dict) -> str:
    """Return the analytic row's note on its uniform band (empty without one)."""
    if band is None or not np.isfinite(band[j]):
        return ""
    return (
        f"ci_low_fw/ci_high_fw: uniform band over every event time, sup-t critical value "
        f"{band[j]:.4f} (multiplier bootstrap, {options.get('biters', 1000)} Mammen draws by "
        "cluster; R did's cband)"
    )


class CallawaySantAnnaFit(Fitted):
    """Fitted Callaway–Sant'Anna ATT(g,t) cells, simple and dynamic aggregations."""

    def __init__(self, p: Panel, alpha: float, **options) -> None:
        from linkseval.staggered import callaway_santanna

        # the estimator's options are every hook's too; the band's are the analytic fit's only
        self.options = {k: v for k, v in options.items() if k not in BAND_OPTIONS}
        self.covariates = self.options.pop("covariates", None) is not None
        cs = callaway_santanna(p, alpha=alpha, **options)
        n_tc = n_treated_clusters(p)
        band = (
            cs["band_critical_value"].to_numpy(dtype=float) if "band_critical_value" in cs else None
        )
        terms = [
            Term(
                r.kind,
                {c: getattr(r, c) for c in ("event_time", "cohort", "period")},
                _note(options) if r.term == "simple" else _band_note(band, j, options),
            )
            for j, r in enumerate(cs.itertuples())
        ]
        few = n_tc < 2  # the influence-function variance of one treated cluster's mean is 0
        se = cs["std_error"].to_numpy(dtype=float)
        super().__init__(
            estimator="callaway_santanna",
            panel=p,
            terms=terms,
            estimate=cs["estimate"].to_numpy(dtype=float),
            std_error=np.full(len(cs), np.nan) if few else se,
            vcov_name="influence function (analytic)",
            df=None,
            analytic_unavailable=f"{n_tc} treated cluster(s); needs 2" if few else None,
            band=None if few else band,
        )
        self.keys = list(cs["term"])  # linkseval.staggered's term keys, in row order

    def _rows(self, names: list[str]) -> list[int]:
        pos = {k: j for j, k in enumerate(self.keys)}
        return [pos[n] for n in names]

    def wild_problem(self) -> WildProblem | None:
        """Return every term as a combination of the stacked cell regression (None: covariates)."""
        from linkseval.staggered import cs_wild_problem

        if self.covariates:
            return None
        design, contrasts, names = cs_wild_problem(self.panel, **self.options)
        return WildProblem(design, contrasts, self._rows(names))

    def wild_unavailable(self) -> str:
        """Return why the WCR bootstrap does not apply (covariates)."""
        return COVARIATES_NOTE

    def ri_unavailable(self) -> str:
        """Return why RI does not apply (covariates)."""
        return COVARIATES_NOTE

    def ri_t_unavailable(self) -> str:
        """Return why RI-t does not apply (covariates)."""
        return COVARIATES_NOTE

    def ri_statistics(self, *, seed: int, n_draws: int) -> RIProblem | None:
        """Return every term with the cohorts permuted among all units (None: covariates)."""
        from linkseval.staggered import cs_ri_statistics

        if self.covariates:
            return None
        stats, names = cs_ri_statistics(self.panel, n_draws=n_draws, seed=seed, **self.options)
        return RIProblem(stats, self._rows(names))

    def ri_t_statistics(self, *, seed: int, n_draws: int) -> list[RITStatistics | None] | None:
        """Return every term's t (estimate / influence-function SE) under the RI draws."""
        from linkseval.staggered import cs_ri_t_statistics

        if self.covariates:
            return None
        stats, names = cs_ri_t_statistics(self.panel, n_draws=n_draws, seed=seed, **self.options)
        out: list[RITStatistics | None] = [None] * len(self.terms)
        for j, st in zip(self._rows(names), stats, strict=True):
            out[j] = st
        return out


class CallawaySantAnna:
    """Callaway–Sant'Anna (registered as ``callaway_santanna``)."""

    name = "callaway_santanna"
    label = "Callaway–Sant'Anna (simple aggregate)"
    overall_term: str | None = "simple"
    analytic_method = "influence function (analytic)"

    def applies(self, p: Panel, rule: str) -> bool:
        """Return True with staggered starts against never-treated comparison practices."""
        staggered = len(np.unique(p.cohort[p.cohort > 0])) > 1
        return staggered and rule != "all_including_treated"

    def variants(self, p: Panel, s: Settings, base_year: int) -> list[tuple[dict, Panel]]:
        """Return the panel itself."""
        return [({}, p)]

    def fit(self, p: Panel, s: Settings, **options) -> CallawaySantAnnaFit:
        """Fit the group-time ATTs and their aggregations.

        ``options`` are keyword arguments of :func:`linkseval.staggered.callaway_santanna`
        (``control_group``, ``anticipation``, ``aggregations``, ``cband``, ...); none gives R
        ``did``'s defaults. The band's draws are seeded by ``s.bootstrap_seed`` unless
        ``seed`` is given; the panel's sampling weights (``Panel.sampling_weights``) are used
        unless ``sampling_weights`` is given, and so are its covariates
        (``Panel.covariates``) unless ``covariates`` is given.
        """
        if options.get("cband") and options.get("seed") is None:
            options = {**options, "seed": s.bootstrap_seed}
        if "sampling_weights" not in options and p.sampling_weights is not None:
            options = {**options, "sampling_weights": p.sampling_weights}
        if "covariates" not in options and p.covariates is not None:
            options = {**options, "covariates": p.covariates}
        return CallawaySantAnnaFit(p, s.alpha, **options)
