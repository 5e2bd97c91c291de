"""The multilevel cross-check against statsmodels' formula interface and a known truth."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from linkseval.multilevel import fit_mixedlm, moment_start, multilevel_did, multilevel_frame

TRUTH = {"beta": 2.0, "s2u": 4.0, "s2v": 1.0, "s2e": 9.0}


def simulate(n=150, treated=15, years=(2013, 2014, 2015), seed=1) -> tuple[pd.DataFrame, ...]:
    """Respondent rows from the model itself, with known variances and effect."""
    rng = np.random.default_rng(seed)
    codes = [f"P{i:03d}" for i in range(n)]
    cohort = np.r_[np.full(treated, 2014), np.zeros(n - treated, dtype=int)]
    rows = []
    for p, c in zip(codes, cohort, strict=True):
        u = rng.normal(0, TRUTH["s2u"] ** 0.5)
        for t in years:
            v = rng.normal(0, TRUTH["s2v"] ** 0.5)
            d = TRUTH["beta"] * (c > 0 and t >= c)
            for _ in range(int(rng.integers(3, 15))):
                e = rng.normal(0, TRUTH["s2e"] ** 0.5)
                rows.append((p, t, 40 + 0.5 * (t - years[0]) + u + v + d + e))
    scores = pd.DataFrame(rows, columns=["practice_code", "year", "workload"])
    return scores, pd.DataFrame({"practice_code": codes, "cohort": cohort})


@pytest.fixture(scope="module")
def data(safequest):
    scores, cohorts = simulate()
    return multilevel_frame(scores, cohorts, safequest, "workload", scale="raw")


def test_same_fit_as_the_formula_interface_with_another_optimiser(data):
    ours = fit_mixedlm(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.mixedlm(
            "y ~ D + links + C(year)",
            data,
            groups=data["practice_code"],
            re_formula="1",
            vc_formula={"practice_year": "0 + C(year)"},
        ).fit(reml=True, method=["nm", "bfgs"], maxiter=5000)
    assert ours.converged
    assert ours.llf >= ref.llf - 1e-6
    assert ours.params["D"] == pytest.approx(ref.params["D"], abs=1e-4)
    assert ours.bse["D"] == pytest.approx(ref.bse["D"], rel=1e-3)
    assert ours.scale == pytest.approx(ref.scale, rel=1e-4)
    assert float(np.asarray(ours.vcomp)[0]) == pytest.approx(float(ref.vcomp[0]), rel=1e-2)


def test_moment_start_is_near_the_truth(data):
    s2u, s2v, s2e = moment_start(data)
    assert s2e == pytest.approx(TRUTH["s2e"], rel=0.1)
    assert s2u == pytest.approx(TRUTH["s2u"], rel=0.5)
    assert 0 < s2v < 3 * TRUTH["s2v"]


def test_recovers_the_known_effect_and_variances(safequest):
    scores, cohorts = simulate(n=400, treated=40, seed=7)
    r = multilevel_did(scores, cohorts, safequest, "workload", scale="raw")
    assert abs(r["estimate"] - TRUTH["beta"]) < 3 * r["std_error"]
    assert r["ci_low"] < TRUTH["beta"] < r["ci_high"]
    assert r["var_residual"] == pytest.approx(TRUTH["s2e"], rel=0.05)
    assert r["var_practice"] == pytest.approx(TRUTH["s2u"], rel=0.3)
    assert r["var_practice_year"] == pytest.approx(TRUTH["s2v"], rel=0.5)
    assert r["n_treated"] == 40 and r["converged"]


def test_comparison_practices_follow_the_main_comparison_rule():
    from linkseval.multilevel import comparison_practices

    reg = pd.DataFrame(
        {
            "practice_code": ["a", "b", "c", "d", "e"],
            "cohort": [2014, 0, 0, 0, 2014],
            "deep_end": [True, True, False, False, False],
        }
    )
    codes = lambda df: df["practice_code"].tolist()  # noqa: E731
    allp, note = comparison_practices(reg, {"rule": "never_treated"})
    assert codes(allp) == ["a", "b", "c", "d", "e"] and note == ""
    de, note = comparison_practices(reg, {"rule": "deep_end"})
    assert codes(de) == ["a", "b", "e"] and note == ""  # Links practices stay, Deep End or not
    assert list(de.columns) == ["practice_code", "cohort"]
    for kind in ("matched", "all_including_treated"):
        other, note = comparison_practices(reg, {"rule": kind})
        assert codes(other) == codes(allp) and kind in note and "cannot be applied" in note


def test_the_deep_end_comparison_fits_on_fewer_practices(safequest):
    from linkseval.multilevel import comparison_practices

    scores, cohorts = simulate(n=150, treated=15, seed=3)
    reg = cohorts.assign(deep_end=np.arange(len(cohorts)) % 3 == 0)
    sub, _ = comparison_practices(reg, {"rule": "deep_end"})
    r = multilevel_did(scores, sub, safequest, "workload", scale="raw")
    want = int(((reg.cohort > 0) | reg.deep_end).sum())
    assert r["n_units"] == want < len(reg) and r["n_treated"] == 15


def test_a_model_that_cannot_be_fitted_is_reported_not_raised(safequest):
    """Links practices observed only from their start: D equals links, the design is singular.
    The cross-check must return NaN numbers and the reason, not stop the run."""
    scores, cohorts = simulate()
    links = cohorts.loc[cohorts["cohort"] > 0, "practice_code"]
    scores = scores[~(scores["practice_code"].isin(links) & (scores["year"] < 2014))]
    r = multilevel_did(scores, cohorts, safequest, "workload", scale="raw")
    assert "error" in r and r["error"]
    assert np.isnan(r["estimate"]) and np.isnan(r["std_error"]) and not r["converged"]
    assert r["n_treated"] == 15 and r["n_obs"] == len(scores)


def test_an_estimable_model_has_no_error(safequest):
    scores, cohorts = simulate()
    r = multilevel_did(scores, cohorts, safequest, "workload", scale="raw")
    assert "error" not in r and np.isfinite(r["estimate"])


def test_the_cli_writes_a_failed_fit_as_a_row_and_exits_zero(tmp_path, safequest):
    """`linkseval multilevel` (the pipeline's multilevel_instrument job) on a study whose
    respondent model is singular: exit 0, one row per outcome, the failed one says why."""
    from linkseval.cli import main

    scores, cohorts = simulate(n=40, treated=6)
    codes = {c: f"{10000 + i}" for i, c in enumerate(cohorts["practice_code"])}
    scores["practice_code"] = scores["practice_code"].map(codes)
    scores["teamwork"] = scores["workload"] + 1.0
    links = [codes[c] for c in cohorts.loc[cohorts["cohort"] > 0, "practice_code"]]
    early = scores["practice_code"].isin(links) & (scores["year"] < 2014)
    scores.loc[early, "workload"] = np.nan  # workload: Links practices seen only from the start
    scores.to_parquet(tmp_path / "scores.parquet")
    reg = tmp_path / "practices.csv"
    reg.write_text(
        "practice_code,health_board,list_size,simd15_share,deep_end_rank,links_start_year\n"
        + "".join(f"{codes[c]},A,1000,0.1,,{y or ''}\n" for c, y in cohorts.itertuples(index=False))
    )
    out = tmp_path / "ml.parquet"
    argv = ["multilevel", "--scores", str(tmp_path / "scores.parquet"), "--register", str(reg)]
    argv += ["--instrument", "safequest", "--outcome", "workload", "teamwork"]
    argv += ["--settings", '{"scale": "mean"}', "--out", str(out)]
    assert main(argv) == 0
    res = pd.read_parquet(out).set_index("outcome")
    assert list(res.index) == ["workload", "teamwork"]
    assert np.isnan(res.loc["workload", "estimate"])
    assert res.loc["workload", "note"].startswith("not estimable: ")
    assert "Singular matrix" in res.loc["workload", "note"]
    assert np.isfinite(res.loc["teamwork", "estimate"])
