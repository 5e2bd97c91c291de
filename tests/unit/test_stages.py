"""linkseval.stages: each stage returns exactly what its subcommand writes, with the documented
columns and values (the CLI only parses, reads and writes)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_analysis import practice_panel
from test_multilevel import simulate

from linkseval import stages
from linkseval.analysis import baseline_year
from linkseval.cli import main
from linkseval.data.register import read_register
from linkseval.data.store import write_parquet
from linkseval.did import ols, twfe_design
from linkseval.errors import DisclosureError, LinksevalError
from linkseval.inference import CHUNK, randomization_inference
from linkseval.multilevel import multilevel_did, multilevel_note, multilevel_row
from linkseval.study import Settings, section_defaults

FAST = {
    "bootstrap": {"draws": 99},
    "randomization": {"draws": 199},
    "sensitivity": {"leave_one_out": False, "dose": False},
    "honestdid": {"enabled": False},
}
MAIN = section_defaults("analysis", "main_comparison")
WIDTH = section_defaults("cleaning", "practice_code_width")
PATTERN = section_defaults("cleaning", "practice_code_pattern")
FORMULA = section_defaults("scoring", "percent_formula")


# --------------------------------------------------------------------------- multilevel


@pytest.fixture
def multilevel_study(tmp_path):
    """40 practices, 6 Links: teamwork estimable, workload singular (Links seen only after)."""
    scores, cohorts = simulate(n=40, treated=6)
    codes = {c: f"{10000 + i}" for i, c in enumerate(cohorts["practice_code"])}
    scores["practice_code"] = scores["practice_code"].map(codes)
    scores["teamwork"] = scores["workload"] + 1.0
    links = [codes[c] for c in cohorts.loc[cohorts["cohort"] > 0, "practice_code"]]
    early = scores["practice_code"].isin(links) & (scores["year"] < 2014)
    scores.loc[early, "workload"] = np.nan
    scores.to_parquet(tmp_path / "scores.parquet")
    reg = tmp_path / "practices.csv"
    reg.write_text(
        "practice_code,health_board,list_size,simd15_share,deep_end_rank,links_start_year\n"
        + "".join(f"{codes[c]},A,1000,0.1,,{y or ''}\n" for c, y in cohorts.itertuples(index=False))
    )
    return tmp_path, scores, reg


def test_multilevel_stage_rows_are_what_the_cli_writes(multilevel_study, safequest, capsys):
    tmp_path, scores, reg = multilevel_study
    register = read_register(reg, code_width=WIDTH, code_pattern=PATTERN)
    out = stages.multilevel(
        scores,
        register,
        safequest,
        ["workload", "teamwork"],
        Settings(scale="mean"),
        percent_formula=FORMULA,
        data_label="TEST",
    )
    argv = ["multilevel", "--scores", str(tmp_path / "scores.parquet"), "--register", str(reg)]
    argv += ["--instrument", "safequest", "--outcome", "workload", "teamwork"]
    argv += ["--settings", '{"scale": "mean"}', "--data-label", "TEST"]
    argv += ["--out", str(tmp_path / "ml.parquet")]
    assert main(argv) == 0
    written = pd.read_parquet(tmp_path / "ml.parquet")
    pd.testing.assert_frame_equal(out.table, written)
    err = capsys.readouterr().err
    assert all(line in err for line in out.messages)
    # the documented columns and values
    t = out.table.set_index("outcome")
    assert list(t.index) == ["workload", "teamwork"]
    assert (t["data_label"] == "TEST").all() and (t["instrument"] == "safequest").all()
    assert (t["comparison"] == MAIN).all() and (t["estimator"] == "multilevel").all()
    assert (t["variant"] == "respondent").all() and (t["term"] == "treated_post").all()
    assert (t["method"] == "MixedLM (model-based)").all()
    assert np.isnan(t.loc["workload", "estimate"])
    assert t.loc["workload", "note"].startswith("not estimable: ")
    practices = register.loc[:, ["practice_code", "cohort"]]  # never_treated: every practice
    r = multilevel_did(
        scores, practices, safequest, "teamwork", scale="mean", percent_formula=FORMULA
    )
    assert t.loc["teamwork", "estimate"] == r["estimate"]
    assert t.loc["teamwork", "std_error"] == r["std_error"]
    assert t.loc["teamwork", "n_treated"] == 6
    assert out.messages == [
        f"safequest/workload: multilevel {t.loc['workload', 'note']}",
        f"safequest/teamwork: multilevel estimate {r['estimate']:.3f}",
    ]


def test_multilevel_note_and_row():
    fitted = {"var_practice": 4.0, "var_practice_year": 1.0, "var_residual": 9.0}
    note = multilevel_note({**fitted, "converged": True}, "")
    assert note.endswith("variances practice 4, practice-year 1, residual 9")
    note = multilevel_note({**fitted, "converged": False}, "a caveat")
    assert note.endswith("; WARNING: optimiser did not converge; a caveat")
    assert multilevel_note({"error": "LinAlgError: x"}, "a caveat") == (
        "not estimable: the respondent-level MixedLM could not be fitted (LinAlgError: x)"
    )
    r = {"estimate": 1.5, "std_error": 0.5, "n_obs": 10, "var_practice": 4.0, "converged": True}
    row = multilevel_row("care", "empathy", "deep_end", "n", r)
    assert (row["instrument"], row["outcome"], row["comparison"]) == ("care", "empathy", "deep_end")
    assert (row["estimate"], row["std_error"], row["n_obs"]) == (1.5, 0.5, 10)
    assert "var_practice" not in row and "converged" not in row  # statistics and counts only


# --------------------------------------------------------------------------- estimation


def test_estimate_stage_is_what_the_cli_writes_and_ignores_other_instruments(tmp_path):
    panel = practice_panel(n=60, seed=5)
    other = panel.assign(instrument="care", percent=panel["percent"] + 50)
    both = pd.concat([panel, other], ignore_index=True)
    write_parquet(both, tmp_path / "panel.parquet", {})
    cfg = json.dumps(FAST)
    settings = Settings.from_config(FAST)
    assert (settings.bootstrap_draws, settings.ri_draws, settings.dose) == (99, 199, False)
    res = stages.estimate(both, settings, "safequest", "workload", data_label="X")
    alone = stages.estimate(panel, settings, "safequest", "workload", data_label="X")
    pd.testing.assert_frame_equal(res, alone)
    argv = ["estimate", "--panel", str(tmp_path / "panel.parquet"), "--instrument", "safequest"]
    argv += ["--outcome", "workload", "--settings", cfg, "--data-label", "X"]
    assert main([*argv, "--out", str(tmp_path / "est.parquet")]) == 0
    pd.testing.assert_frame_equal(res, pd.read_parquet(tmp_path / "est.parquet"))
    assert res.columns[0] == "data_label" and (res["data_label"] == "X").all()
    assert set(res["instrument"]) == {"safequest"}
    one = stages.estimate(panel, settings, "safequest", "workload", comparisons=[MAIN])
    assert set(one["comparison"]) == {MAIN}


def test_describe_uses_the_estimates_baseline_year():
    panel = practice_panel(n=30, seed=1)  # Links start 2014: baseline 2013
    assert baseline_year(panel, Settings()) == 2013
    means, change = stages.describe(panel, data_label="D")
    _, change_2013 = stages.describe(panel, baseline_year=2013, data_label="D")
    _, change_2015 = stages.describe(panel, baseline_year=2015, data_label="D")
    pd.testing.assert_frame_equal(change, change_2013)
    assert not change.equals(change_2015)
    assert (means["data_label"] == "D").all() and means.columns[0] == "data_label"


def test_ri_gather_stage_is_what_the_cli_writes(tmp_path):
    """ri-chunk jobs via the CLI; the stage's gather = the CLI's JSON = one-process RI, with the
    headline's OLS estimate."""
    frame = practice_panel(n=60, seed=7)
    write_parquet(frame, tmp_path / "panel.parquet", {})
    draws, chunk_draws, seed = 2 * CHUNK + 300, CHUNK, 11
    common = ["--panel", str(tmp_path / "panel.parquet"), "--instrument", "safequest"]
    common += ["--outcome", "workload", "--settings", "{}", "--seed", str(seed)]
    common += ["--draws", str(draws), "--chunk-draws", str(chunk_draws)]
    paths = []
    for job in range(3):
        paths.append(str(tmp_path / f"c{job}.parquet"))
        assert main(["ri-chunk", *common, "--chunk", str(job), "--out", paths[-1]]) == 0
    assert main(["ri-gather", *common, "--chunks", *paths, "--out", str(tmp_path / "ri.json")]) == 0
    written = json.loads((tmp_path / "ri.json").read_text())
    jobs = [(p, *_meta_and_frame(p)) for p in reversed(paths)]
    kw = dict(seed=seed, draws=draws, chunk_draws=chunk_draws)
    out = stages.ri_gather(frame, Settings(), "safequest", "workload", jobs, **kw)
    assert out.doc == written
    p = stages.ri_panel(frame, Settings(), "safequest", "workload")
    ref = randomization_inference(p, n_draws=draws, seed=seed)
    assert (out.doc["p_value"], out.doc["ci_low"], out.doc["ci_high"]) == (
        ref.p_value,
        ref.ci_low,
        ref.ci_high,
    )
    assert out.doc["estimate"] == float(ols(twfe_design(p)).beta[0])
    assert out.doc["std_error"] is None and out.doc["chunk_jobs"] == 3
    # a job of another outcome is named
    name, meta, df = jobs[0]
    bad = [(name, {**meta, "outcome": "teamwork"}, df), *jobs[1:]]
    with pytest.raises(LinksevalError, match=f"{name}: an RI chunk of another outcome"):
        stages.ri_gather(frame, Settings(), "safequest", "workload", bad, **kw)
    # ri_chunk: the draws and metadata the CLI wrote
    chunk = stages.ri_chunk(frame, Settings(), "safequest", "workload", chunk=2, **kw)
    meta2, df2 = _meta_and_frame(paths[2])
    assert chunk.meta == meta2 and list(chunk.seed_chunks) == [2]
    pd.testing.assert_frame_equal(chunk.draws, df2)


def _meta_and_frame(path):
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata
    meta = {k.decode(): json.loads(v) for k, v in meta.items() if not k.startswith(b"pandas")}
    return meta, pd.read_parquet(path)


# --------------------------------------------------------------------------- checks


def test_links_stage_is_what_the_cli_writes(tmp_path, register_file):
    reg = read_register(register_file, code_width=5, code_pattern=r"\d{5}")
    assert stages.links(reg) == ["01234"]
    out = tmp_path / "links.json"
    argv = ["links", "--register", str(register_file), "--code-width", "5"]
    assert main([*argv, "--code-pattern", r"\d{5}", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == stages.links(reg)


def test_disclosure_stage_names_the_file_not_the_identifier(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<p>respondent R-777123 said</p>")
    clean = tmp_path / "clean.csv"
    clean.write_text("<p>nothing here</p>")
    with pytest.raises(DisclosureError) as exc:
        stages.disclosure([str(page), str(clean)], {"R-777123"}, min_respondents=5)
    assert str(page) in str(exc.value) and "R-777123" not in str(exc.value)
    rep = stages.disclosure([str(clean)], {"R-777123"}, min_respondents=5)
    assert isinstance(rep, dict)
