"""Recovery of the synthetic generator's true effects: the coverage check, and the default data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkseval.expected import TOLERANCE, load, summarise
from linkseval.recovery import coverage, headline_rows, misses, study_panels, true_effect
from linkseval.study import load_study_file

ROOT = Path(__file__).resolve().parents[2]
TRUTH = {"att": {"a": {"2014": {"pct": 1.0}, "2015": {"pct": 3.0}}, "b": {"2015": {"pct": -1.0}}}}


def _head(rows):
    cols = ["instrument", "outcome", "method", "estimate", "ci_low", "ci_high"]
    cols += ["ci_low_fw", "ci_high_fw"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def test_true_effect_is_the_mean_over_post_years():
    assert true_effect(TRUTH, "a") == 2.0 and true_effect(TRUTH, "b") == -1.0


def test_family_outcomes_are_held_to_their_family_wise_interval_the_others_to_their_own():
    nan = math.nan
    head = _head(
        [
            ("s", "a", "WCR bootstrap", 4.0, 2.5, 5.5, 1.5, 6.5),  # 95% misses, family-wise covers
            ("s", "a", "CR1", 4.0, 3.0, 5.0, 2.5, 5.5),  # both miss: CR1 is shown, not held
            ("s", "b", "WCR bootstrap", 0.0, -0.5, 0.5, nan, nan),  # not in the family: misses
            ("s", "b", "randomization inference", 0.0, -2.0, 2.0, nan, nan),
        ]
    )
    cov = coverage(head, TRUTH).set_index(["outcome", "method"])
    assert cov.loc[("a", "WCR bootstrap"), "interval"] == "family-wise"
    assert not cov.loc[("a", "WCR bootstrap"), "covered"]
    assert cov.loc[("a", "WCR bootstrap"), "covers"]
    assert cov.loc[("b", "WCR bootstrap"), "interval"] == "per outcome"
    assert pd.isna(cov.loc[("b", "WCR bootstrap"), "covered_fw"])
    assert cov.loc[("b", "randomization inference"), "covers"]
    bad = misses(coverage(head, TRUTH))
    assert bad == [
        "s/b/WCR bootstrap: per outcome interval [-0.500, 0.500] misses the true effect -1.000"
    ]
    assert len(misses(coverage(head, TRUTH), ("CR1",))) == 1


def test_the_recovery_command_fails_on_a_miss(tmp_path, capsys):
    from linkseval.cli import main

    head = _head([("s", "b", "WCR bootstrap", 0.0, -0.5, 0.5, None, None)])
    hp, tp = tmp_path / "headline.json", tmp_path / "truth.json"
    hp.write_text(json.dumps({"headline": head.to_dict("records")}))
    tp.write_text(json.dumps(TRUTH))
    with pytest.raises(SystemExit) as e:
        main(["recovery", "--headline", str(hp), "--truth", str(tp)])
    assert e.value.code == 1
    assert "misses the true effect -1.000" in capsys.readouterr().out
    head.loc[0, "ci_low"] = -1.5
    hp.write_text(json.dumps({"headline": head.to_dict("records")}))
    main(["recovery", "--headline", str(hp), "--truth", str(tp)])
    assert "recovered" in capsys.readouterr().out


@pytest.mark.integration
def test_the_default_synthetic_study_recovers_the_true_effects(tmp_path):
    """The embedded default, end to end in one process with the config's settings (9,999
    draws): the headline equals the committed expectation (so this is the report's data and
    chain), and every WCR, RI and RI-t interval the report states covers the generator's truth."""
    study = load_study_file(ROOT / "config/config.yaml", ROOT / "config/codebook.yaml")
    panels, truth, _ = study_panels(study, study.synthetic["seed"], tmp_path)
    s = study.settings
    rows = [
        r
        for o in study.outcomes
        for r in headline_rows(panels[o.instrument], s, o.instrument, o.name)
    ]
    head = pd.DataFrame(rows)
    mine = summarise({"headline": head.to_dict("records")})["rows"]
    expected = load(ROOT / "tests/expected/headline.json")["rows"]
    assert set(mine) == set(expected)
    for key, want in expected.items():
        for field, tol in TOLERANCE.items():
            got, exp = mine[key][field], want[field]
            if exp is None:
                assert got is None or np.isnan(got), (key, field)
            else:
                assert got == pytest.approx(exp, abs=tol), (key, field)
    cov = coverage(head, truth)
    assert misses(cov) == []
    # the family-wise intervals are wider than the 95% ones and come with the five themes only
    fam = cov[cov["interval"] == "family-wise"]
    assert set(fam["outcome"]) == set(study.family)
    assert (fam["ci_low_fw"] < fam["ci_low"]).all() and (fam["ci_high"] < fam["ci_high_fw"]).all()


def test_the_cli_checks_the_robust_methods_by_default():
    from linkseval.cli import build_parser
    from linkseval.recovery import ROBUST_METHODS

    args = build_parser().parse_args(["recovery"])
    assert tuple(args.methods) == ROBUST_METHODS
    assert "randomization inference (t)" in ROBUST_METHODS  # the primary method is held to it
