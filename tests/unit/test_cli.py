import subprocess
import sys

import pytest

from linkseval.cli import build_parser, main
from linkseval.errors import ConfigError


def test_help_lists_every_stage(capsys):
    text = build_parser().format_help()
    for cmd in ["synth", "clean", "score", "quality"]:
        assert cmd in text


def test_expected_errors_print_one_line_without_traceback(tmp_path, register_file):
    bad = tmp_path / "safequest_2013.csv"
    bad.write_text("practice_code,respondent_id\n01234,R1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "linkseval",
            "clean",
            "--instrument",
            "safequest",
            "--extract",
            str(bad),
            "--register",
            str(register_file),
            "--out-clean",
            str(tmp_path / "c.parquet"),
            "--out-rejects",
            str(tmp_path / "r.parquet"),
            "--out-accounting",
            str(tmp_path / "a.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "safequest_2013.csv, line 1, column staff_group" not in proc.stderr  # optional column
    assert "line 1, column Q01: required column Q01" in proc.stderr
    assert not any(tmp_path.glob("*.parquet")) and not (tmp_path / "a.json").exists()


def test_main_returns_zero_on_help_exit(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert "linkseval" in capsys.readouterr().out


def test_links_parse_as_title_href_pairs_and_bad_ones_get_a_usage_error(capsys):
    parser = build_parser()
    args = parser.parse_args(
        ["index", "--headline", "h.csv", "--out", "o.html", "--settings", "{}"]
        + ["--page", "Data quality=data_quality.html", "a=b=c.html"]
    )
    assert args.page == [("Data quality", "data_quality.html"), ("a", "b=c.html")]
    for bad in ["", "no-equals", "=x.html", "Title="]:
        try:
            parser.parse_args(
                ["render", "--notebook", "n", "--out", "o", "--title", "T"] + ["--nav", bad]
            )
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError(f"--nav {bad!r} was accepted")
        assert "expected TITLE=HREF" in capsys.readouterr().err


def test_a_full_disk_is_one_error_line_without_traceback(monkeypatch, capsys, register_file):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    import linkseval.cli as cli

    def write_to_full_disk(args):
        with open("/dev/full", "w") as fh:
            fh.write("x" * 100_000)

    monkeypatch.setattr(cli, "cmd_links", write_to_full_disk)
    assert main(["links", "--register", str(register_file), "--out", "x.json"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "linkseval: error: no space left on device (links); free space and run again "
        "(no partial output is kept)"
    ]


def test_did_command_offers_every_generic_estimator_and_runs_imputation(tmp_path):
    """The command's choices are the analysis' generic estimators; imputation runs end to end."""
    import json

    from test_imputation import staggered

    from linkseval import GENERIC_ESTIMATORS
    from linkseval.analysis import GENERIC_NAMES, did_generic
    from linkseval.cli import build_parser, main

    did = build_parser()._subparsers._group_actions[0].choices["did"]
    (estimator,) = [a for a in did._actions if a.dest == "estimator"]
    assert estimator.choices == list(GENERIC_ESTIMATORS)
    assert set(GENERIC_NAMES) <= set(GENERIC_ESTIMATORS)
    df = staggered(n=50, seed=3)
    with pytest.raises(ConfigError, match="unknown estimator 'nope'; choose from"):
        did_generic(df, unit="unit", time="year", cohort="cohort", outcome="y", estimator="nope")
    src = tmp_path / "panel.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "res.json"
    argv = ["did", "--panel", str(src), "--unit", "unit", "--time", "year", "--cohort", "cohort"]
    argv += ["--outcome", "y", "--estimator", "imputation", "--draws", "199", "--out", str(out)]
    assert main(argv) == 0
    rows = json.loads(out.read_text())["results"]
    simple = [r for r in rows if r["term"] == "simple"]
    assert [r["method"] for r in simple] == [
        "imputation (BJS analytic)",
        "WCR bootstrap",
        "randomization inference",
        "randomization inference (t)",
    ]
    assert simple[0]["ci_low"] < simple[0]["estimate"] < simple[0]["ci_high"]


def test_did_command_runs_sdid_and_sc_with_their_own_standard_errors(tmp_path, capsys):
    """sdid and sc report their placebo or jackknife SE; WCR and RI say why they do not apply;
    a staggered panel is one error line."""
    import json

    import numpy as np
    from test_synthdid import block_frame

    from linkseval.did import panel_from_frame
    from linkseval.estimators.synthdid import synthdid_panel

    df = block_frame(n0=15, n1=3, seed=1)
    src = tmp_path / "panel.csv"
    df.to_csv(src, index=False)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    argv = ["did", "--panel", str(src), "--unit", "unit", "--time", "year", "--cohort", "cohort"]
    argv += ["--outcome", "y", "--seed", "7"]

    out = tmp_path / "sdid.json"
    assert main([*argv, "--estimator", "sdid", "--replications", "50", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [r["method"] for r in rows] == [
        "placebo SE",
        "WCR bootstrap",
        "randomization inference",
        "randomization inference (t)",
    ]
    want = synthdid_panel(p, "sdid", "placebo", replications=50, seed=7)
    first = rows[0]
    assert first["applicable"] and first["n_draws"] == 50 and first["estimator"] == "sdid"
    assert first["estimate"] == pytest.approx(want.estimate, rel=1e-9)
    assert first["std_error"] == pytest.approx(want.std_error, rel=1e-9)
    assert first["ci_low"] < first["estimate"] < first["ci_high"]
    assert all(not r["applicable"] and r["note"].startswith("not applicable") for r in rows[1:])

    out = tmp_path / "sc.json"
    assert main([*argv, "--estimator", "sc", "--se", "jackknife", "--out", str(out)]) == 0
    first = json.loads(out.read_text())["results"][0]
    want = synthdid_panel(p, "sc", "jackknife")
    assert first["method"] == "jackknife SE" and first["n_draws"] == 0
    assert first["std_error"] == pytest.approx(want.std_error, rel=1e-9)

    one = df[(df.cohort == 0) | (df.unit == "u015")]
    one.to_csv(src, index=False)
    assert main([*argv, "--estimator", "sdid", "--se", "jackknife", "--out", str(out)]) == 0
    first = json.loads(out.read_text())["results"][0]
    assert not first["applicable"] and "undefined with one treated unit" in first["note"]

    df.assign(cohort=np.where(df.unit == "u017", 2017, df.cohort)).to_csv(src, index=False)
    capsys.readouterr()
    assert main([*argv, "--estimator", "sdid", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "start in 2016, 2017" in err[0]


def _mpdta_csv(tmp_path):
    """mpdta as a CSV with R's column names, a unit weight and a blank-for-never cohort."""
    import numpy as np
    from moderndid import load_mpdta

    df = load_mpdta().to_pandas()
    units = sorted(df.countyreal.unique())
    w = dict(zip(units, np.linspace(0.5, 2.0, len(units)), strict=True))
    df = df.assign(w=df.countyreal.map(w))
    src = tmp_path / "mpdta.csv"
    df.to_csv(src, index=False)
    return df, src


def test_did_command_passes_r_did_options_to_callaway_santanna(tmp_path):
    """--control-group, --anticipation, --sampling-weights, --covariates, --aggregations and
    --uniform-band reach the estimator: the analytic rows are callaway_santanna's on the same
    panel (itself checked against moderndid), the JSON holds the band's critical value, and with
    covariates WCR, RI and RI-t rows say they do not apply."""
    import json

    import numpy as np

    from linkseval.did import panel_from_frame
    from linkseval.staggered import AGGREGATIONS, callaway_santanna

    df, src = _mpdta_csv(tmp_path)
    out = tmp_path / "res.json"
    argv = ["did", "--panel", str(src), "--unit", "countyreal", "--time", "year"]
    argv += ["--cohort", "first.treat", "--outcome", "lemp", "--estimator", "cs"]
    argv += ["--control-group", "not_yet", "--anticipation", "1", "--sampling-weights", "w"]
    argv += ["--covariates", "lpop", "--aggregations", "all", "--uniform-band"]
    argv += ["--draws", "99", "--seed", "4", "--out", str(out)]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    p = panel_from_frame(
        df,
        unit="countyreal",
        time="year",
        cohort="first.treat",
        outcome="lemp",
        sampling_weights="w",
        covariates=["lpop"],
    )
    want = callaway_santanna(
        p,
        control_group="not_yet",
        anticipation=1,
        sampling_weights=p.sampling_weights,
        covariates=p.covariates,
        aggregations=AGGREGATIONS,
        cband=True,
        seed=4,
    )
    rows = doc["results"]
    analytic = [r for r in rows if r["method"] == "influence function (analytic)"]
    assert len(analytic) == len(want)
    for r, (_, w) in zip(analytic, want.iterrows(), strict=True):
        assert r["term"] == w.kind
        assert r["estimate"] == pytest.approx(w.estimate, rel=1e-8)  # JSON: 10 digits
        assert r["std_error"] == pytest.approx(w.std_error, rel=1e-8)
    crit = want.band_critical_value.dropna().unique()
    band = doc["uniform_band"]
    assert band["critical_value"] == pytest.approx(crit[0], rel=1e-6) and band["draws"] == 1000
    assert [b["event_time"] for b in band["band"]] == sorted(
        want.event_time[want.kind == "dynamic"]
    )
    others = [r for r in rows if r["method"] != "influence function (analytic)"]
    assert others and all(not r["applicable"] for r in others)
    assert {r["term"] for r in analytic} == {"att", *AGGREGATIONS}
    assert np.isfinite(band["critical_value"])


def test_did_command_cs_options_without_covariates_keep_wcr_and_ri(tmp_path, capsys):
    """Not-yet-treated controls and the group aggregates: WCR, RI and RI-t rows for every
    term; a cs option with another estimator is one error line."""
    import json

    df, src = _mpdta_csv(tmp_path)
    out = tmp_path / "res.json"
    argv = ["did", "--panel", str(src), "--unit", "countyreal", "--time", "year"]
    argv += ["--cohort", "first.treat", "--outcome", "lemp"]
    cs = [
        "--estimator",
        "cs",
        "--control-group",
        "not_yet",
        "--aggregations",
        "group,group_overall",
    ]
    assert main(argv + cs + ["--draws", "99", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    group = [r for r in rows if r["term"] in ("group", "group_overall")]
    assert {r["method"] for r in group} == {
        "influence function (analytic)",
        "WCR bootstrap",
        "randomization inference",
        "randomization inference (t)",
    }
    assert all(r["applicable"] and 0 <= r["p_value"] <= 1 for r in group)
    assert not any(r["term"] == "dynamic" for r in rows)
    assert main(argv + ["--estimator", "twfe", "--control-group", "not_yet"]) == 1
    assert "control_group: options of the cs estimator only" in capsys.readouterr().err
