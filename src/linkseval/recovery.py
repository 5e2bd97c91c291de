"""Recovery of the synthetic generator's true effects by the headline estimates.

The embedded synthetic data come with their truth (``truth.json``: the generator's effect on
each outcome, per post year, in % points). Two uses:

- :func:`coverage` / :func:`misses` — which headline intervals cover the true effect. The check
  (``linkseval recovery``, run by CI after the default pipeline) holds the few-cluster-robust
  methods (WCR bootstrap, randomization inference on the coefficient and on t) to the
  interval the report states for each outcome: the family-wise interval for the outcomes
  tested as a family (``analysis.family``, the themes: Bonferroni, all cover together with
  probability ≥ 1 − α) and the outcome's own 1 − α interval for the others. CR1 is shown, not
  held to it: with 7 treated clusters it under-covers (validation/README.md, Monte Carlo
  study).
- :func:`study_panels` and :func:`headline_rows` — the pipeline's chain from raw extracts to the
  headline rows in one process (synth → clean → score → static TWFE of the main comparison),
  calling the same functions as the Snakemake rules, for validation studies over generator
  seeds (validation/seed_recovery.py) and the recovery test on the default data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from linkseval.analysis import Settings, infer_twfe
from linkseval.estimators import method_rows
from linkseval.study import Study

# the few-cluster-robust methods (registry names), as the headline rows name them
ROBUST_METHODS = tuple(method_rows(("wild_bootstrap", "randomization", "randomization_t")))


def true_effect(truth: dict, outcome: str) -> float:
    """Return the generator's ATT on ``outcome``.

    The generator's ATT on ``outcome``: the mean over the post years of truth.json
    ``att[outcome][year]["pct"]`` (the effect the static TWFE estimates, % points).
    """
    return float(np.mean([v["pct"] for v in truth["att"][outcome].values()]))


def coverage(head: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """Check each headline row's intervals against the truth.

    Per headline row: the truth, whether the 1 − α interval covers it (``covered``), whether
    the family-wise interval does (``covered_fw``; NaN outside the family), and which of the two
    the report states for that outcome (``interval``) with its verdict (``covers``).
    """
    out = head[["instrument", "outcome", "method", "estimate"]].copy()
    out["truth"] = [true_effect(truth, o) for o in head["outcome"]]
    lo, hi = head["ci_low"].to_numpy(float), head["ci_high"].to_numpy(float)
    out["ci_low"], out["ci_high"] = lo, hi
    out["covered"] = (lo <= out["truth"]) & (out["truth"] <= hi)
    if "ci_low_fw" in head:
        flo, fhi = head["ci_low_fw"].to_numpy(float), head["ci_high_fw"].to_numpy(float)
    else:
        flo = fhi = np.full(len(head), np.nan)
    has_fw = ~np.isnan(flo) & ~np.isnan(fhi)
    out["ci_low_fw"], out["ci_high_fw"] = flo, fhi
    truth_values = out["truth"].to_numpy(float)
    out["covered_fw"] = pd.array(
        [
            bool(a <= t <= b) if f else pd.NA
            for a, b, t, f in zip(flo, fhi, truth_values, has_fw, strict=True)
        ],
        dtype="boolean",
    )
    out["interval"] = np.where(has_fw, "family-wise", "per outcome")
    out["covers"] = np.where(has_fw, out["covered_fw"].fillna(False), out["covered"])
    return out.reset_index(drop=True)


def misses(cov: pd.DataFrame, methods: tuple[str, ...] = ROBUST_METHODS) -> list[str]:
    """One line per headline interval of ``methods`` that does not cover the truth."""
    bad = cov[cov["method"].isin(methods) & ~cov["covers"].astype(bool)]
    return [
        f"{r.instrument}/{r.outcome}/{r.method}: {r.interval} interval "
        f"[{(r.ci_low_fw if r.interval == 'family-wise' else r.ci_low):.3f}, "
        f"{(r.ci_high_fw if r.interval == 'family-wise' else r.ci_high):.3f}] "
        f"misses the true effect {r.truth:.3f}"
        for r in bad.itertuples()
    ]


def coverage_text(cov: pd.DataFrame) -> str:
    """Format :func:`coverage` as a plain-text table for the terminal."""
    lines = [
        f"{'outcome':16} {'method':24} {'estimate':>8} {'truth':>7}  "
        f"{'1-α interval':>19} {'':4} {'family-wise':>19}",
    ]
    for r in cov.itertuples():
        fw = (
            f"[{r.ci_low_fw:7.2f}, {r.ci_high_fw:7.2f}] {'ok' if r.covered_fw else 'MISS'}"
            if r.interval == "family-wise"
            else ""
        )
        lines.append(
            f"{r.outcome:16} {r.method:24} {r.estimate:8.2f} {r.truth:7.2f}  "
            f"[{r.ci_low:7.2f}, {r.ci_high:7.2f}] {'ok' if r.covered else 'MISS':4} {fw}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- in-process chain


def study_panels(
    study: Study, seed: int, work: Path
) -> tuple[dict[str, pd.DataFrame], dict, pd.DataFrame]:
    """Build the synthetic study's panels as the pipeline does.

    Parameters
    ----------
    study : Study
        The study (:func:`linkseval.study.load_study_file`): its years, instruments, codebook,
        generator, cleaning and scoring settings.
    seed : int
        The generator seed (replaces ``synthetic.seed``).
    work : Path
        Folder for the extracts, cleaned files and panels.

    Returns
    -------
    tuple
        The panel per instrument, truth.json and truth_practice_year.csv: synth → clean →
        score by the rules' own stages (:func:`linkseval.stages.clean`,
        :func:`linkseval.stages.score`; Parquet written and read back).
    """
    from linkseval import stages
    from linkseval.data.register import read_register
    from linkseval.data.store import write_parquet
    from linkseval.synthetic import extract_filename, write_synthetic

    codebook = study.book
    years = list(study.years)
    synth = {**study.synthetic, "seed": int(seed)}
    raw = work / "raw"
    write_synthetic(raw, synth, years, codebook)  # rule synthetic_data / `linkseval synth`
    truth = json.loads((raw / "truth.json").read_text(encoding="utf-8"))
    truth_py = pd.read_csv(raw / "truth_practice_year.csv", dtype={"practice_code": str})
    cl, sc = study.cleaning, study.scoring
    width = cl.practice_code_width
    register = read_register(
        raw / "practices.csv", code_width=width, code_pattern=cl.practice_code_pattern
    )
    panels = {}
    for name in study.instruments:
        instrument = codebook[name]
        clean_paths = []
        for year in years:  # rule clean_extract / `linkseval clean`: the same stage
            extract = raw / extract_filename(instrument.file_stem, year, synth)
            res = stages.clean(
                extract,
                instrument,
                register,
                year=year,
                code_width=width,
                max_missing_items=cl.max_missing_items[name],
                data_label="SYNTHETIC DATA",
            )
            path = work / "clean" / f"{name}_{year}.parquet"
            write_parquet(res.result.kept, path, res.meta)
            clean_paths.append(path)
        # rule score_panel / `linkseval score`: the same stage
        clean = pd.concat([pd.read_parquet(p) for p in clean_paths], ignore_index=True)
        scored = stages.score(
            clean,
            instrument,
            register,
            min_respondents=sc.min_respondents,
            min_items_per_theme=sc.min_items_per_theme,
            percent_formula=sc.percent_formula,
            data_label="SYNTHETIC DATA",
        )
        panel = scored.panel
        ppath = work / "panel" / f"{name}.parquet"
        write_parquet(panel, ppath, {"data_label": "SYNTHETIC DATA"})
        panels[name] = pd.read_parquet(ppath)
    return panels, truth, truth_py


def headline_rows(panel: pd.DataFrame, s: Settings, instrument: str, outcome: str) -> list[dict]:
    """Estimate the headline rows of one outcome.

    The headline rows of ``estimate_outcome`` (static TWFE vs the main comparison, with the
    family-wise intervals of family outcomes), on the same panel
    (:func:`linkseval.scatter.main_comparison_panel`) by the same call.
    """
    from linkseval.scatter import main_comparison_panel

    p = main_comparison_panel(panel, s, instrument, outcome)
    meta = {"instrument": instrument, "outcome": outcome, "comparison": s.main_comparison}
    return infer_twfe(p, s, {**meta, "estimator": "twfe"}, family_alpha=s.family_alpha(outcome))
