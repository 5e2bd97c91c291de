"""The Links evaluation: comparison groups, estimators and inference per outcome, as tidy rows.

Everything the study does is named in the ``analysis`` config section; this module wires
:mod:`linkseval.did` and :mod:`linkseval.inference` to the practice-year panel. Output: one row per
outcome × comparison × estimator (variant) × term × inference method, as
:func:`linkseval.results.make_row` records (schema: :data:`linkseval.results.COLUMNS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkseval import GENERIC_ESTIMATORS
from linkseval.comparisons import as_comparison, matched_controls, members
from linkseval.did import Panel, panel_from_frame
from linkseval.errors import ConfigError
from linkseval.estimators import get_estimator, infer, method_row, overall_term
from linkseval.results import COLUMNS, KEY
from linkseval.results import STATISTICS as RESULT_STATISTICS
from linkseval.results import frame as result_frame
from linkseval.study import Comparison, Settings

TIDY_COLUMNS = list(COLUMNS)  # the schema lives in linkseval.results


# The analysis settings are the study spec's (defaults: the config schema's); comparison rules
# are linkseval.comparisons'. Both names stay importable from here.
__all__ = ["Settings", "comparison_frame", "estimate_outcome", "matched_controls"]


# --------------------------------------------------------------------------- comparison groups


def comparison_frame(frame: pd.DataFrame, rule: Comparison | dict, baseline: int) -> pd.DataFrame:
    """Return the outcome panel rows of the treated practices and one comparison group.

    Rows of the outcome panel for the treated practices plus one comparison group
    (:func:`linkseval.comparisons.members`).

    ``unit`` is the practice code; for ``all_including_treated`` (the seed report's baseline) the
    Links practices appear a second time as comparison units (``<code>#comparison``), clustered
    with their treated copy, so the estimate is Links' change minus all-Scotland's change.
    """
    c = as_comparison(rule)
    links = frame["cohort"] > 0
    treated = frame[links]
    group = members(frame, c, baseline)
    if c.rule == "all_including_treated":
        copies = frame[group & links].assign(cohort=0)
        copies = copies.assign(unit=copies["practice_code"] + "#comparison")
        never = frame[group & ~links]
        out = pd.concat(
            [
                treated.assign(unit=treated["practice_code"]),
                never.assign(unit=never["practice_code"]),
                copies,
            ]
        )
        return out.assign(cluster=out["practice_code"]).reset_index(drop=True)
    out = pd.concat([treated, frame[group]])
    return out.assign(unit=out["practice_code"], cluster=out["practice_code"]).reset_index(
        drop=True
    )


# --------------------------------------------------------------------------- estimation


def infer_twfe(
    p: Panel,
    s: Settings,
    base: dict,
    ri: bool = True,
    family_alpha: float | None = None,
) -> list[dict]:
    """Estimate the static TWFE coefficient with every inference method of ``s.methods``.

    ``ri=False`` leaves randomization inference out (e.g. for a dose, specific to the treated
    units); with ``family_alpha`` every method also gives its 1 − family_alpha interval.
    """
    methods = [m for m in s.methods if ri or m != "randomization"]
    return infer("twfe", p, s, base, methods, family_alpha)


def baseline_year(frame: pd.DataFrame, s: Settings) -> int:
    """Return the configured baseline year, else the last year before the first Links start."""
    if s.baseline_year is not None:
        return int(s.baseline_year)
    first = frame.loc[frame["cohort"] > 0, "cohort"].min()
    years = sorted(frame["year"].unique())
    pre = [y for y in years if y < first]
    if not pre:
        raise ConfigError("no survey year before the first Links start: set analysis.baseline_year")
    return int(pre[-1])


def outcome_frame(frame: pd.DataFrame, s: Settings, outcome: str) -> tuple[pd.DataFrame, int]:
    """Prepare one outcome's rows for estimation.

    One outcome's rows with the modelled score ``y`` (``analysis.scale``) and each practice's
    ``baseline_outcome`` (matching uses it), and the baseline year.
    """
    frame = frame[frame["outcome"] == outcome].copy()
    frame["y"] = frame[s.scale]
    base_year = baseline_year(frame, s)
    b = frame[frame["year"] == base_year][["practice_code", "y"]]
    frame = frame.merge(b.rename(columns={"y": "baseline_outcome"}), on="practice_code", how="left")
    return frame, base_year


def comparison_panel(
    df: pd.DataFrame, s: Settings, dose: str | None = None, *, adjusted: bool = False
) -> Panel:
    """Return the :class:`Panel` of a comparison frame (units, clusters, weights as configured).

    ``adjusted``: with Callaway–Sant'Anna's covariates and sampling weights
    (``analysis.callaway_santanna``); rows missing a covariate are left out.
    """
    cs = s.callaway_santanna if adjusted else {"covariates": [], "sampling_weights": None}
    return panel_from_frame(
        df,
        unit="unit",
        time="year",
        cohort="cohort",
        outcome="y",
        weights=s.weights,
        cluster="cluster",
        dose=dose,
        sampling_weights=cs["sampling_weights"],
        covariates=list(cs["covariates"]),
    )


def leave_out_panel(df: pd.DataFrame, p: Panel, s: Settings, i: int) -> Panel:
    """Return the comparison panel without treated unit ``i``.

    The comparison panel without treated unit ``i``: where units are practices (one row per
    practice-year), :meth:`Panel.subset` of ``p`` (the same arrays and codes as rebuilding it from
    the frame, without pandas), else rebuilt from ``df``.
    """
    code = p.unit_labels[i]
    if (df["unit"] == df["practice_code"]).all():
        return p.subset(p.unit != i)
    return comparison_panel(df[df["practice_code"] != code], s)


def estimate_outcome(
    frame: pd.DataFrame,
    s: Settings,
    instrument: str,
    outcome: str,
    comparisons: list[str] | None = None,
) -> pd.DataFrame:
    """Estimate one outcome against every comparison group, with every estimator and method.

    Every comparison group (or those named in ``comparisons``, in config order) gets the static
    TWFE estimate, the 2×2 DiDs (a single cohort) or Callaway-Sant'Anna (staggered starts, not for
    ``all_including_treated``) and the event study. The main comparison also gets, where the
    settings ask for them, HonestDiD, leave-one-out rows (more than 2 treated practices) and dose
    rows (with CLP absence data). Row-binding the results for each comparison on its own gives
    exactly the all-comparisons table.

    Parameters
    ----------
    frame : DataFrame
        The instrument's practice-year panel (:func:`linkseval.data.score.practice_year_panel`).
    s : Settings
        The analysis and inference settings.
    instrument : str
        The instrument, carried into every row.
    outcome : str
        The outcome to estimate.
    comparisons : list of str, optional
        Only these comparison groups (default: all of ``s.comparisons``); an unknown name is a
        :class:`~linkseval.errors.ConfigError`.

    Returns
    -------
    DataFrame
        The result rows (:mod:`linkseval.results`), leave-one-out rows withheld where the left-out
        practice has a suppressed practice-year.
    """
    if comparisons is not None:
        unknown = sorted(set(comparisons) - set(s.comparisons))
        if unknown:
            known = list(s.comparisons)
            raise ConfigError(f"unknown comparison group(s) {unknown}; known: {known}")
    frame, base_year = outcome_frame(frame, s, outcome)
    rows: list[dict] = []
    for name, rule in s.comparisons.items():
        if comparisons is not None and name not in comparisons:
            continue
        df = comparison_frame(frame, rule, base_year)
        p = comparison_panel(df, s)
        meta = {"instrument": instrument, "outcome": outcome, "comparison": name}
        main = name == s.main_comparison
        for est_name in s.estimators:
            est = get_estimator(est_name)
            if not est.applies(p, rule.rule):
                continue
            options = {"honest": main} if est_name == "event_study" else {}
            if est_name in ("sdid", "sc"):
                options = {"se": s.synthdid["se"], "replications": s.synthdid["replications"]}
            if est_name == "callaway_santanna":
                options = s.cs_options()
            # the static TWFE of a family outcome also gives the family-wise interval
            fa = s.family_alpha(outcome) if est_name == "twfe" else None
            for fields, q in est.variants(p, s, base_year):
                base = {**meta, "estimator": est_name, **fields}
                rows += infer(est_name, q, s, base, s.methods, fa, **options)
        cs = s.callaway_santanna
        if (
            "callaway_santanna" in s.estimators
            and (cs["covariates"] or cs["sampling_weights"])
            and get_estimator("callaway_santanna").applies(p, rule.rule)
        ):  # the doubly robust / weighted variant (analytic SE and band)
            q = comparison_panel(df, s, adjusted=True)
            variant = "dr" if cs["covariates"] else "weighted"
            base = {**meta, "estimator": "callaway_santanna", "variant": variant}
            rows += infer("callaway_santanna", q, s, base, s.methods, **s.cs_options())
        if main and s.leave_one_out and len(p.treated_units) > 2:
            for i in p.treated_units:
                code = p.unit_labels[i]
                q = leave_out_panel(df, p, s, i)
                rows += infer_twfe(q, s, {**meta, "estimator": "leave_out", "variant": code})
        if main and s.dose and "clp_absent_months" in df:
            d = df.assign(dose=1 - df["clp_absent_months"].clip(0, 12) / 12)
            q = comparison_panel(d, s, dose="dose")
            dose = {"estimator": "dose", "variant": "clp_presence"}
            rows += infer_twfe(q, s, {**meta, **dose}, ri=False)
    return withhold_leave_out(result_frame(rows), frame)


STATISTICS = RESULT_STATISTICS


def withhold_leave_out(out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Blank leave-one-out rows whose left-out practice has a suppressed practice-year.

    A practice-year is suppressed with fewer respondents than ``scoring.min_respondents``. The
    full estimate minus such a row would reveal that practice's own change, small cells
    included; the row stays, with its counts and a note saying why it shows no numbers.

    Parameters
    ----------
    out : DataFrame
        Estimate rows (``TIDY_COLUMNS``).
    frame : DataFrame
        The outcome's practice-year panel rows, with ``practice_code`` and ``suppressed``.

    Returns
    -------
    DataFrame
        ``out`` with those rows' statistics set to NaN.
    """
    if "suppressed" not in frame or not frame["suppressed"].any():
        return out
    small = set(frame.loc[frame["suppressed"].astype(bool), "practice_code"])
    hide = ((out["estimator"] == "leave_out") & out["variant"].isin(small)).to_numpy()
    if not hide.any():
        return out
    out = out.copy()
    out.loc[hide, STATISTICS] = np.nan
    out.loc[hide, "note"] = (
        "not shown: the left-out practice has a practice-year below the disclosure minimum, "
        "which the difference from the full estimate would reveal"
    )
    return out


# --------------------------------------------------------------------------- gather, adjust


def adjust_family(results: pd.DataFrame, family: list[str]) -> pd.DataFrame:
    """Add Holm and Benjamini–Hochberg p-values across the family of outcomes.

    The p-values are adjusted across the outcomes in ``family`` (the themes), separately for each
    estimate of the outcomes (:data:`linkseval.results.KEY` but the outcome: instrument ×
    comparison × estimator × variant × term × ... × method).

    Parameters
    ----------
    results : DataFrame
        Result rows of all outcomes.
    family : list of str
        The outcomes adjusted together.

    Returns
    -------
    DataFrame
        A copy of ``results`` with ``p_holm`` and ``p_bh`` (NaN outside the family).
    """
    from linkseval.inference import adjust_pvalues

    out = results.copy()
    out["p_holm"] = np.nan
    out["p_bh"] = np.nan
    fam = out["outcome"].isin(family)
    keys = [k for k in KEY if k != "outcome"]
    for _, idx in out[fam].groupby(keys, sort=False, dropna=False).groups.items():
        p = out.loc[idx, "p_value"].to_numpy(dtype=float)
        out.loc[idx, "p_holm"] = adjust_pvalues(p, "holm")
        out.loc[idx, "p_bh"] = adjust_pvalues(p, "fdr_bh")
    return out


HEADLINE_ESTIMATOR = "twfe"  # the headline: this estimator's overall term vs the main group


def headline(results: pd.DataFrame, main_comparison: str) -> pd.DataFrame:
    """Return the headline: static TWFE vs the main comparison, one row per outcome × method.

    Parameters
    ----------
    results : DataFrame
        Result rows of all outcomes.
    main_comparison : str
        The config key of the main comparison group.

    Returns
    -------
    DataFrame
        The ``twfe`` rows of term ``treated_post`` against ``main_comparison``.
    """
    h = results[
        (results["comparison"] == main_comparison)
        & (results["estimator"] == HEADLINE_ESTIMATOR)
        & (results["term"] == overall_term(HEADLINE_ESTIMATOR))
    ]
    cols = [
        "instrument",
        "outcome",
        "method",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "ci_low_fw",
        "ci_high_fw",
        "p_value",
        "p_holm",
        "p_bh",
        "n_units",
        "n_treated",
        "n_draws",
        "applicable",
        "note",
    ]
    return h[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- generic command

GENERIC_NAMES = {"cs": "callaway_santanna"}  # the command's short names


def did_generic(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    outcome: str,
    weights: str | None = None,
    cluster: str | None = None,
    estimator: str = "twfe",
    settings: Settings | None = None,
    base: int | None = None,
    options: dict | None = None,
    cs_options: dict | None = None,
) -> pd.DataFrame:
    """Any unit × period panel: estimates with every inference method side by side.

    The estimator comes from the registry (:data:`linkseval.estimators.ESTIMATORS`; ``cs`` is
    ``callaway_santanna``), the methods from ``settings.methods``. Methods that cannot apply
    (e.g. one treated unit: no cluster-robust or bootstrap inference) are reported as such in
    ``note`` with NaN numbers. ``options`` go to the estimator's ``fit`` (``sdid`` and ``sc``:
    ``se``, ``placebo`` or ``jackknife``, and ``replications``). ``cs_options`` (``cs`` only)
    are R ``did``'s options of :func:`linkseval.staggered.callaway_santanna`
    (``control_group``, ``anticipation``, ``aggregations``, ``cband``, ``biters``), plus
    ``sampling_weights`` (a column: one weight per unit) and ``covariates`` (columns).
    """
    s = settings or Settings()
    if estimator not in GENERIC_ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r}; choose from {GENERIC_ESTIMATORS}")
    name = GENERIC_NAMES.get(estimator, estimator)
    cs_opts = {k: v for k, v in (cs_options or {}).items() if v not in (None, (), [], False)}
    if cs_opts.get("control_group") == "never":
        del cs_opts["control_group"]
    if not cs_opts.get("anticipation"):
        cs_opts.pop("anticipation", None)
    if cs_opts and name != "callaway_santanna":
        raise ConfigError(f"{', '.join(cs_opts)}: options of the cs estimator only")
    p = panel_from_frame(
        df,
        unit=unit,
        time=time,
        cohort=cohort,
        outcome=outcome,
        weights=weights,
        cluster=cluster,
        sampling_weights=cs_opts.pop("sampling_weights", None),
        covariates=cs_opts.pop("covariates", ()),
    )
    meta = {"instrument": "", "outcome": outcome, "comparison": "never_treated"}
    if len(p.treated_units) == 0:
        raise ConfigError(f"no treated unit: column {cohort!r} is 0 or blank everywhere")
    needs_never = name in ("imputation", "sdid", "sc") or (
        name == "callaway_santanna" and cs_opts.get("control_group", "never") == "never"
    )
    if needs_never and not (p.cohort == 0).any():
        raise ConfigError(f"{estimator} needs never-treated units (cohort 0 or blank) as controls")
    if name == "did2x2":
        first = int(p.cohort[p.cohort > 0].min())
        if len(np.unique(p.cohort[p.cohort > 0])) > 1:
            raise ConfigError("did2x2 needs a single treated cohort; use twfe or event_study")
        pre = [t for t in p.periods if t < first]
        b = base if base is not None else (int(pre[-1]) if pre else None)
        if b is None:
            raise ConfigError("no period before the first treated period for the 2x2 baseline")
        variants = get_estimator(name).variants(p, s, b)
    else:
        variants = [({}, p)]
    opts = {**(options or {}), **cs_opts}
    rows = []
    for fields, q in variants:
        rows += infer(name, q, s, {**meta, "estimator": name, **fields}, s.methods, **opts)
    return result_frame(rows)


# --------------------------------------------------------------------------- primary analysis

PRIMARY_COLUMNS = [
    "instrument",
    "outcome",
    "comparison",
    "comparison_label",
    "estimator",
    "method",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "adjustment",
    "p_adjusted",
    "alpha",
    "in_family",
    "reject",
    "note",
]


def primary_method(primary: dict) -> str:
    """Return the result rows' method name of the primary analysis' registry method."""
    return method_row(primary["method"], primary["estimator"])


def primary_analysis(results: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """Return the pre-specified primary analysis (``analysis.primary``): one row per outcome.

    The rows of ``results`` (adjusted: :func:`adjust_family`) for the primary comparison,
    estimator, its overall term and method; ``p_adjusted`` is the Holm or BH p-value for the
    family outcomes (the raw p-value outside the family, or with ``adjustment: none``), and
    ``reject`` says whether it is at most α. No other method enters the decision.

    Parameters
    ----------
    results : DataFrame
        The combined, family-adjusted result rows (or the headline, for the default primary).
    s : Settings
        The settings (``primary``, ``alpha``, ``family``).

    Returns
    -------
    DataFrame
        :data:`PRIMARY_COLUMNS`, in the order of ``results``.
    """
    p = s.primary
    keep = results["method"] == primary_method(p)
    for col, want in (
        ("comparison", p["comparison"]),
        ("estimator", p["estimator"]),
        ("term", overall_term(p["estimator"])),
    ):
        if col in results:
            keep &= results[col] == want
    if "variant" in results:  # the estimator itself, not a variant (e.g. CS's 'dr')
        keep &= results["variant"].fillna("") == ""
    rows = results[keep].drop_duplicates(["instrument", "outcome"]).copy()
    fam = rows["outcome"].isin(s.family)
    col = {"holm": "p_holm", "bh": "p_bh"}.get(p["adjustment"])
    adjusted = rows[col] if col is not None and col in rows else rows["p_value"]
    rows["p_adjusted"] = np.where(fam & (col is not None), adjusted, rows["p_value"])
    rows["adjustment"] = np.where(fam, p["adjustment"], "none")
    rows["alpha"] = p["alpha"]
    rows["in_family"] = fam.to_numpy()
    rows["reject"] = (rows["p_adjusted"] <= p["alpha"]).to_numpy()
    rows["comparison"] = p["comparison"]
    c = s.comparisons.get(p["comparison"])
    rows["comparison_label"] = c.label if c is not None else p["comparison"]
    rows["estimator"] = p["estimator"]
    if "note" not in rows:
        rows["note"] = ""
    return rows[PRIMARY_COLUMNS].reset_index(drop=True)
