"""Callaway-Sant'Anna against a direct pandas computation and TWFE special cases."""

import numpy as np
import pandas as pd
import pytest
from test_did import simulate

from linkseval.did import ols, panel_from_frame, twfe_design
from linkseval.staggered import (
    AGGREGATIONS,
    callaway_santanna,
    combination_design,
    cs_randomization,
    cs_wild_bootstrap,
    stacked_design,
)


def _by_hand(df: pd.DataFrame, g: int, t: int) -> float:
    base = g - 1 if t >= g else t - 1
    wide = df.pivot(index="unit", columns="year", values="y")
    coh = df.groupby("unit")["cohort"].first()
    d = (wide[t] - wide[base]).dropna()
    return d[coh[d.index] == g].mean() - d[coh[d.index] == 0].mean()


def test_group_time_atts_match_a_pandas_computation():
    df = simulate(
        n=80,
        years=tuple(range(2012, 2020)),
        cohorts=((2014, 6), (2018, 5), (2019, 5)),
        seed=3,
        missing=0.1,
    )
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    res = callaway_santanna(p).set_index("term")
    sub = df[df.unit.isin(p.unit_labels)]
    for g in (2014, 2018, 2019):
        for t in range(2013, 2020):
            term = f"att[{g},{t}]"
            assert res.loc[term, "estimate"] == pytest.approx(_by_hand(sub, g, t), abs=1e-10)
    # simple aggregate: cohort-size weighted mean of the post cells
    sizes = {2014: 6, 2018: 5, 2019: 5}
    post = [(g, t) for g in sizes for t in range(g, 2020)]
    w = np.array([sizes[g] for g, _ in post], dtype=float)
    atts = np.array([res.loc[f"att[{g},{t}]", "estimate"] for g, t in post])
    assert res.loc["simple", "estimate"] == pytest.approx(w @ atts / w.sum())


def test_one_cohort_one_pre_period_balanced_equals_twfe():
    df = simulate(n=60, seed=8, missing=0.0)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    cs = callaway_santanna(p).set_index("term")
    assert cs.loc["simple", "estimate"] == pytest.approx(ols(twfe_design(p)).beta[0], abs=1e-10)


def test_cell_standard_error_is_the_two_sample_formula():
    df = simulate(n=50, seed=2, missing=0.0)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    res = callaway_santanna(p).set_index("term")
    wide = df.pivot(index="unit", columns="year", values="y")
    coh = df.groupby("unit")["cohort"].first()
    d = wide[2015] - wide[2013]
    d1, d0 = d[coh == 2014], d[coh == 0]
    var = ((d1 - d1.mean()) ** 2).sum() / len(d1) ** 2 + ((d0 - d0.mean()) ** 2).sum() / len(
        d0
    ) ** 2
    G = len(d)
    assert res.loc["att[2014,2015]", "std_error"] == pytest.approx(np.sqrt(G / (G - 1) * var))


def test_ri_for_the_simple_aggregate_is_calibrated_under_the_null():
    """Under no effect, RI p-values are ~uniform: share below 0.1 close to 0.1 over datasets."""
    ps = []
    for seed in range(40):
        df = simulate(
            n=40,
            years=(2012, 2013, 2014, 2015),
            cohorts=((2014, 4), (2015, 3)),
            effect=0.0,
            seed=100 + seed,
            missing=0.0,
        )
        p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
        ps.append(cs_randomization(p, n_draws=199, seed=seed)["simple"].p_value)
    assert 0.0 <= np.mean(np.array(ps) < 0.1) <= 0.3
    assert 0.3 < np.mean(ps) < 0.7


def _staggered(seed=3, n=60, missing=0.1, effect=0.5):
    df = simulate(
        n=n,
        years=tuple(range(2012, 2018)),
        cohorts=((2014, 4), (2016, 3)),
        effect=effect,
        seed=seed,
        missing=missing,
    )
    return df, panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")


def test_stacked_regression_reproduces_every_cs_term():
    """OLS on the stacked cell regression gives ATT(g,t); the reparametrised design's first
    coefficient is the simple and each dynamic aggregate (unbalanced panel)."""
    from linkseval.did import ols

    _, p = _staggered()
    cs = callaway_santanna(p).set_index("term")
    design, _ = stacked_design(p)
    beta = ols(design).beta
    for name, b in zip(design.names, beta, strict=True):
        assert b == pytest.approx(cs.loc[name, "estimate"], abs=1e-10)
    atts = dict(zip(design.names, beta, strict=True))
    for term in ("simple", "dynamic[0]", "dynamic[-3]", "dynamic[2]"):
        w = np.zeros(design.k)
        for c, name in enumerate(design.names):
            g, t = (int(x) for x in name[4:-1].split(","))
            if (term == "simple" and t >= g) or term == f"dynamic[{t - g}]":
                w[c] = {2014: 4, 2016: 3}[g]
        assert ols(combination_design(design, w)).beta[0] == pytest.approx(
            cs.loc[term, "estimate"], abs=1e-10
        )
    assert len(atts) == design.k  # one column per cell, names unique


def _brute_wild_linear(design, R, theta0, seed, B):
    """WCR p-value of H0: R'β = θ0 on the un-reparametrised design, refitting per draw with the
    textbook restricted least squares β_r = β̂ − (X'X)⁻¹R (R'(X'X)⁻¹R)⁻¹ (R'β̂ − θ0)."""
    from linkseval.inference import WEBB, chunk_seeds

    X, y, cl, G = design.Z, design.y, design.cluster, design.n_clusters
    XtXi = np.linalg.inv(X.T @ X)
    c = X @ (XtXi @ R)  # R'β = c'y

    def t_stat(yy):
        b = XtXi @ (X.T @ yy)
        u = yy - X @ b
        s = np.bincount(cl, weights=c * u, minlength=G)
        return (R @ b - theta0) / np.sqrt(np.sum(s**2))

    b = XtXi @ (X.T @ y)
    b_r = b - XtXi @ R * (R @ b - theta0) / (R @ XtXi @ R)
    fitted, u_r = X @ b_r, y - X @ b_r
    t_obs = t_stat(y)
    stats = np.array(
        [
            t_stat(fitted + v[cl] * u_r)
            for size, rng in chunk_seeds(seed, B)
            for v in WEBB[rng.integers(0, 6, size=(size, G))]
        ]
    )
    return np.mean(np.abs(stats) >= abs(t_obs) - 1e-12 * max(1.0, abs(t_obs)))


def test_wild_bootstrap_of_the_aggregate_equals_a_restricted_refit_loop():
    """The reparametrised single-coefficient WCR = a brute-force WCR of the linear restriction
    w'β = θ0 with the same draws: same p at 0 and the CI ends are where the brute p crosses α."""
    _, p = _staggered(seed=5)
    cells_design, _ = stacked_design(p)
    res = cs_wild_bootstrap(p, n_draws=499, seed=7)
    w = np.array(
        [
            (4.0 if n.startswith("att[2014") else 3.0) if int(n[-5:-1]) >= int(n[4:8]) else 0.0
            for n in cells_design.names
        ]
    )
    R = w / w.sum()
    r = res["simple"]
    assert r.p_value == pytest.approx(_brute_wild_linear(cells_design, R, 0.0, 7, 499), abs=1e-12)
    eps = 1e-4 * (r.ci_high - r.ci_low)
    for end, out in ((r.ci_low, -1.0), (r.ci_high, 1.0)):
        assert _brute_wild_linear(cells_design, R, end + out * eps, 7, 499) <= 0.05
        assert _brute_wild_linear(cells_design, R, end - out * eps, 7, 499) > 0.05
    single = res["att[2016,2017]"]
    R1 = np.array([n == "att[2016,2017]" for n in cells_design.names], dtype=float)
    assert single.p_value == pytest.approx(
        _brute_wild_linear(cells_design, R1, 0.0, 7, 499), abs=1e-12
    )


def test_cs_randomization_agrees_with_a_brute_force_loop():
    """Independent: Python's random reassigns the cohorts, callaway_santanna refits."""
    import random

    df, p = _staggered(seed=11, n=40, missing=0.0, effect=0.8)
    fast = cs_randomization(p, n_draws=4999, seed=2)
    obs = callaway_santanna(p).set_index("term")["estimate"]
    rnd = random.Random(4)
    units = list(p.unit_labels)
    R, terms = 300, ["simple", "dynamic[1]", "att[2014,2013]"]
    hits = dict.fromkeys(terms, 0)
    for _ in range(R):
        pick = rnd.sample(units, 7)
        coh = (
            dict.fromkeys(units, 0) | dict.fromkeys(pick[:4], 2014) | dict.fromkeys(pick[4:], 2016)
        )
        q = panel_from_frame(
            df.assign(cohort=df.unit.map(coh)),
            unit="unit",
            time="year",
            cohort="cohort",
            outcome="y",
        )
        est = callaway_santanna(q).set_index("term")["estimate"]
        for t in terms:
            hits[t] += abs(est[t]) >= abs(obs[t]) - 1e-12
    for t in terms:
        p_brute = (1 + hits[t]) / (1 + R)
        se = np.sqrt(p_brute * (1 - p_brute) / R)
        assert abs(fast[t].p_value - p_brute) < 4 * se + 0.01, (t, fast[t].p_value, p_brute)
        assert fast[t].statistic == pytest.approx(obs[t], abs=1e-10)


def test_cs_randomization_ci_covers_a_constant_effect_at_about_95_percent():
    """Simulation with a known constant effect 0.5 (where the sharp-null inversion is exact):
    coverage of the simple aggregate's RI CI over 200 panels within 3.5 MC SE of 0.95; every
    CI contains its estimate."""
    reps, covered = 200, 0
    for seed in range(reps):
        _, p = _staggered(seed=2000 + seed, n=40, missing=0.0, effect=0.5)
        r = cs_randomization(p, n_draws=399, seed=seed)["simple"]
        assert r.ci_low < r.statistic < r.ci_high
        covered += r.ci_low <= 0.5 <= r.ci_high
    rate = covered / reps
    assert abs(rate - 0.95) < 3.5 * np.sqrt(0.95 * 0.05 / reps), rate


@pytest.mark.parametrize("cohorts", [((2014, 6),), ((2014, 4), (2016, 3))])
def test_universal_base_event_study_matches_moderndid(cohorts):
    """Second library: moderndid's att_gt (never-treated controls, universal base, no
    covariates) + aggte(dynamic). Estimates equal; SEs equal up to our G/(G−1) cluster factor,
    with one cohort and with two (both count the estimated cohort shares in the influence
    function)."""
    import warnings

    from moderndid import aggte, att_gt

    from linkseval.staggered import cs_event_study

    df = simulate(n=60, years=tuple(range(2012, 2018)), cohorts=cohorts, seed=3, missing=0.0)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    es, theta, V = cs_event_study(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = att_gt(
            df.assign(id=df.unit.str[1:].astype(int)),
            yname="y",
            tname="year",
            idname="id",
            gname="cohort",
            control_group="nevertreated",
            base_period="universal",
            est_method="reg",
            boot=False,
            cband=False,
        )
        dyn = aggte(gt, type="dynamic", boot=False, cband=False)
    ref = {
        int(e): (a, s)
        for e, a, s in zip(dyn.event_times, dyn.att_by_event, dyn.se_by_event, strict=True)
    }
    assert -1 not in es and set(es) == set(ref) - {-1}
    G = p.n_units
    for j, e in enumerate(es):
        assert theta[j] == pytest.approx(ref[e][0], abs=1e-8)
        se = np.sqrt(V[j, j] * (G - 1) / G)
        assert se == pytest.approx(ref[e][1], rel=1e-6)  # cohort shares estimated, as theirs
    assert np.allclose(V, V.T) and np.all(np.linalg.eigvalsh(V) > -1e-12)


def _moderndid_aggregates(df, base_period: str):
    import warnings

    from moderndid import aggte, att_gt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = att_gt(
            df,
            yname="y",
            tname="year",
            idname="id",
            gname="cohort",
            control_group="nevertreated",
            base_period=base_period,
            est_method="reg",
            boot=False,
            cband=False,
        )
        simple = aggte(gt, type="simple", boot=False, cband=False)
        dyn = aggte(gt, type="dynamic", boot=False, cband=False)
    by_e = {
        int(e): (a, s)
        for e, a, s in zip(dyn.event_times, dyn.att_by_event, dyn.se_by_event, strict=True)
    }
    return (simple.overall_att, simple.overall_se), by_e


def _mpdta():
    from moderndid import load_mpdta

    d = load_mpdta().to_pandas()
    return d.rename(columns={"countyreal": "id", "first.treat": "cohort", "lemp": "y"}).assign(
        unit=lambda x: "c" + x.id.astype(str)
    )


@pytest.mark.slow
@pytest.mark.parametrize("data", ["mpdta", "staggered"])
def test_aggregate_ses_include_the_weights_influence_function_as_moderndid(data):
    """Simple and dynamic aggregates: estimates and analytic SEs equal moderndid's (R did's
    aggte, which counts the estimated cohort shares in the influence function) to 1e-6, after
    removing our documented G/(G−1) cluster factor; mpdta and a 3-cohort project panel."""
    from linkseval.staggered import callaway_santanna, cs_event_study

    if data == "mpdta":
        df = _mpdta()
    else:
        df = simulate(
            n=90,
            years=tuple(range(2010, 2018)),
            cohorts=((2013, 6), (2015, 5), (2016, 7)),
            seed=5,
            missing=0.0,
        )
        df = df.assign(id=df.unit.str[1:].astype(int))
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    G = p.n_units
    factor = np.sqrt((G - 1) / G)
    (s_att, s_se), by_e = _moderndid_aggregates(df, "varying")
    cs = callaway_santanna(p).set_index("term")
    assert cs.loc["simple", "estimate"] == pytest.approx(s_att, abs=1e-8)
    assert cs.loc["simple", "std_error"] * factor == pytest.approx(s_se, rel=1e-6)
    for e, (a, s) in by_e.items():
        row = cs.loc[f"dynamic[{e}]"]
        assert row["estimate"] == pytest.approx(a, abs=1e-8)
        assert row["std_error"] * factor == pytest.approx(s, rel=1e-6), e
    # the universal-base event study HonestDiD reads
    _, by_e = _moderndid_aggregates(df, "universal")
    es, theta, V = cs_event_study(p)
    for j, e in enumerate(es):
        assert theta[j] == pytest.approx(by_e[e][0], abs=1e-8)
        assert np.sqrt(V[j, j]) * factor == pytest.approx(by_e[e][1], rel=1e-6), e


# --------------------------------------------------------------------------- R did's options


def _project_panel(seed=5):
    """A 3-cohort project panel (balanced, as moderndid's panel estimator needs), with ids."""
    df = simulate(
        n=90,
        years=tuple(range(2010, 2018)),
        cohorts=((2013, 6), (2015, 5), (2016, 7)),
        seed=seed,
        missing=0.0,
    )
    return df.assign(id=df.unit.str[1:].astype(int))


def _data(name: str):
    return {"mpdta": _mpdta, "staggered": _project_panel}[name]()


def _moderndid(df, types=("simple", "dynamic"), **kw):
    """moderndid's att_gt (analytic SEs; est_method "reg" unless given) and aggte by type:
    {term: (estimate, SE)} in our term names."""
    import warnings

    from moderndid import aggte, att_gt

    kw = {"est_method": "reg", **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = att_gt(
            df, yname="y", tname="year", idname="id", gname="cohort", boot=False, cband=False, **kw
        )
        out = {
            f"att[{int(g)},{int(t)}]": (a, s)
            for g, t, a, s in zip(gt.groups, gt.times, gt.att_gt, gt.se_gt, strict=True)
        }
        for kind in types:
            if kind == "dynamic_overall":  # the overall of type "dynamic"
                continue
            agg = aggte(gt, type=kind, boot=False, cband=False)
            if kind == "simple":
                out["simple"] = (agg.overall_att, agg.overall_se)
                continue
            name = {"dynamic": "dynamic[{}]", "group": "group[{}]", "calendar": "calendar[{}]"}
            for x, a, s in zip(agg.event_times, agg.att_by_event, agg.se_by_event, strict=True):
                out[name[kind].format(int(x))] = (a, s)
            if kind != "dynamic" or "dynamic_overall" in types:
                out[f"{kind}_overall"] = (agg.overall_att, agg.overall_se)
    return out


def _max_delta(ours: pd.DataFrame, ref: dict, G: int) -> tuple[float, float]:
    """Assert every moderndid term is ours (estimate to 1e-8, SE without our G/(G−1) factor
    to 1e-6 relative) and that we report no term moderndid has not; return the max |Δ|s."""
    cs = ours.set_index("term")
    assert set(cs.index) == set(ref), set(cs.index) ^ set(ref)
    factor = np.sqrt((G - 1) / G)
    d_est = d_se = 0.0
    for term, (a, s) in ref.items():
        est, se = cs.loc[term, "estimate"], cs.loc[term, "std_error"] * factor
        assert est == pytest.approx(a, abs=1e-8), term
        assert se == pytest.approx(s, rel=1e-6), term
        d_est, d_se = max(d_est, abs(est - a)), max(d_se, abs(se - s))
    return d_est, d_se


@pytest.mark.slow
@pytest.mark.parametrize("data", ["mpdta", "staggered", "mpdta without never-treated"])
def test_not_yet_treated_controls_match_moderndid(data):
    """control_group="not_yet" is R did's "notyettreated": every ATT(g,t), the simple and the
    dynamic aggregates and their analytic SEs equal moderndid's (without a never-treated
    group too: the cells after the last start have no controls in either)."""
    df = _data(data.split()[0])
    if "without" in data:
        df = df[df.cohort > 0]
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    ours = callaway_santanna(p, control_group="not_yet")
    _max_delta(ours, _moderndid(df, control_group="notyettreated"), p.n_units)
    never = callaway_santanna(p).set_index("term")["estimate"] if "without" not in data else None
    if never is not None:  # the option changes the estimates
        assert not np.allclose(ours.set_index("term")["estimate"], never[ours.term])


@pytest.mark.slow
@pytest.mark.parametrize("control_group", ["never", "not_yet"])
@pytest.mark.parametrize("data,anticipation", [("mpdta", 1), ("staggered", 1), ("staggered", 2)])
def test_anticipation_matches_moderndid(data, anticipation, control_group):
    """anticipation = k is R did's: post cells against g−1−k, not-yet-treated controls start
    after both periods plus k, and a cohort with no period before g − k is left out (mpdta's
    2004 cohort with k = 1); cells, aggregates and SEs equal moderndid's, and so does the
    universal-base event study (its reference is e = −1 − k)."""
    from linkseval.staggered import cs_event_study

    df = _data(data)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    md = {"nevertreated": "never", "notyettreated": "not_yet"}
    md_group = {v: k for k, v in md.items()}[control_group]
    ours = callaway_santanna(p, control_group=control_group, anticipation=anticipation)
    ref = _moderndid(df, control_group=md_group, anticipation=anticipation)
    _max_delta(ours, ref, p.n_units)
    if data == "mpdta":
        assert not any(t.startswith("att[2004,") for t in ours.term)
    ref = _moderndid(
        df,
        types=("dynamic",),
        control_group=md_group,
        anticipation=anticipation,
        base_period="universal",
    )
    es, theta, V = cs_event_study(p, control_group=control_group, anticipation=anticipation)
    by_e = {int(t[8:-1]): v for t, v in ref.items() if t.startswith("dynamic[")}
    assert set(es) == set(by_e) - {-1 - anticipation}
    assert by_e[-1 - anticipation][0] == 0.0
    G = p.n_units
    for j, e in enumerate(es):
        assert theta[j] == pytest.approx(by_e[e][0], abs=1e-8)
        assert np.sqrt(V[j, j] * (G - 1) / G) == pytest.approx(by_e[e][1], rel=1e-6), e


def test_unknown_options_are_config_errors():
    from linkseval.errors import ConfigError

    _, p = _staggered()
    with pytest.raises(ConfigError, match="unknown control group 'nope'"):
        callaway_santanna(p, control_group="nope")
    for bad in (-1, 0.5, True):
        with pytest.raises(ConfigError, match="anticipation must be a whole number"):
            callaway_santanna(p, anticipation=bad)


def _reassigned(p, R: int, seed: int):
    """The RI draws as cohort vectors (the same reassignments cs_ri_statistics uses)."""
    from linkseval.inference import ri_sample, ri_units
    from linkseval.inference.randomization import _ri_assignment

    u = ri_units(p)
    col = _ri_assignment(p, u)
    idx = ri_sample(seed, R, 0, u.n, len(col))
    cohorts = np.unique(u.cohort[u.cohort > 0])
    for r in range(R):
        drawn = np.zeros(u.n, dtype=p.cohort.dtype)
        drawn[idx[r]] = cohorts[col]
        yield drawn if u.group is None else drawn[u.group]


def _brute_ri(p, R: int, seed: int, **options):
    """Refit callaway_santanna on every reassignment, on y and on y − τD (τ = 0.7): per draw
    {term: (estimate, SE, estimate on y − τD, SE on y − τD)}."""
    from dataclasses import replace

    tau, D = 0.7, p.treatment()
    out = []
    for cohort in _reassigned(p, R, seed):
        q = replace(p, cohort=cohort)
        a = callaway_santanna(q, **options).set_index("term")
        b = callaway_santanna(replace(q, y=p.y - tau * D), **options).set_index("term")
        cols = ["estimate", "std_error"]
        out.append({t: (*a.loc[t, cols], *b.loc[t, cols]) for t in a.index})
    return tau, out


def _aggregate_by_hand(att: dict, size: dict) -> dict:
    """R did's aggregations of cell estimates {(g, t): ATT} with cohort sizes {g: size}."""

    def ratio(keys) -> float:  # cohort-size weighted mean
        keys = [k for k in keys if np.isfinite(att[k])]
        if not keys:
            return np.nan
        w = np.array([size[g] for g, _ in keys])
        return float(w @ np.array([att[k] for k in keys]) / w.sum())

    def mean(values) -> float:
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else np.nan

    post = [(g, t) for g, t in att if t >= g]
    out = {"simple": ratio(post)}
    for e in {t - g for g, t in att}:
        out[f"dynamic[{e}]"] = ratio([(g, t) for g, t in att if t - g == e])
    out["dynamic_overall"] = mean(out[f"dynamic[{e}]"] for e in {t - g for g, t in post})
    for g in {g for g, _ in post}:
        out[f"group[{g}]"] = mean(att[k] for k in post if k[0] == g)
    groups = [g for g in {g for g, _ in post} if np.isfinite(out[f"group[{g}]"])]
    w = np.array([size[g] for g in groups])
    out["group_overall"] = float(w @ np.array([out[f"group[{g}]"] for g in groups]) / w.sum())
    for t in {t for _, t in post}:
        out[f"calendar[{t}]"] = ratio([k for k in post if k[1] == t])
    out["calendar_overall"] = mean(out[f"calendar[{t}]"] for t in {t for _, t in post})
    return out


def _check_ri_against_refits(p, options: dict, R: int = 25, seed: int = 6):
    """RI-t statistics of every term equal a refit of the public estimator on every draw; RI
    statistics equal the refit's cells and, for aggregates, R did's aggregations of those at the
    observed cohort sizes (RI keeps them; by hand)."""
    from linkseval.staggered import cs_ri_statistics, cs_ri_t_statistics

    tau, brute = _brute_ri(p, R, seed, **options)
    obs = callaway_santanna(p, **options).set_index("term")
    rit, names_t = cs_ri_t_statistics(p, n_draws=R, seed=seed, **options)
    assert set(names_t) == set(obs.index)
    checked = 0
    for st, term in zip(rit, names_t, strict=True):
        assert st.observed == pytest.approx(obs.loc[term, "estimate"], rel=1e-10, abs=1e-12)
        assert np.sqrt(st.observed_q[0]) == pytest.approx(obs.loc[term, "std_error"], rel=1e-9)
        for r, want in enumerate(brute):
            if term not in want or not np.isfinite(want[term][1]) or want[term][1] == 0:
                assert not st.ok[r], (term, r)
                continue
            assert st.ok[r], (term, r)
            a0, s0, a1, s1 = want[term]
            q0, q1, q2 = (x[r] for x in st.q)
            assert st.a[r] == pytest.approx(a0, rel=1e-9, abs=1e-12), (term, r)
            assert st.a[r] - tau * st.b[r] == pytest.approx(a1, rel=1e-9, abs=1e-12)
            assert np.sqrt(q0) == pytest.approx(s0, rel=1e-8), (term, r)
            assert np.sqrt(q0 - 2 * tau * q1 + tau**2 * q2) == pytest.approx(s1, rel=1e-8)
            checked += 1
    assert checked > R * len(names_t) // 2
    stats, names = cs_ri_statistics(p, n_draws=R, seed=seed, **options)
    assert names == names_t
    w = options.get("sampling_weights")
    w = np.ones(p.n_units) if w is None else w
    size = {g: w[p.cohort == g].sum() for g in np.unique(p.cohort[p.cohort > 0])}
    for r, want in enumerate(brute):
        cells = [t for t in want if t.startswith("att[")]
        by_hand = []
        for v in (0, 2):  # on y and on y − τD
            att = {tuple(int(x) for x in t[4:-1].split(",")): want[t][v] for t in cells}
            by_hand.append(_aggregate_by_hand(att, size))
        for j, term in enumerate(names):
            if term.startswith("att["):
                a0, a1 = (want[term][0], want[term][2]) if term in want else (np.nan, np.nan)
            else:
                a0, a1 = by_hand[0].get(term, np.nan), by_hand[1].get(term, np.nan)
            if not np.isfinite(a0):
                assert not stats.ok[r, j]
                continue
            assert stats.ok[r, j]
            assert stats.a[r, j] == pytest.approx(a0, rel=1e-9, abs=1e-12), (term, r)
            assert stats.b[r, j] == pytest.approx((a0 - a1) / tau, rel=1e-8, abs=1e-10)


def _check_stacked_regression(p, options: dict):
    """OLS on the stacked regression gives every ATT(g,t); each aggregate's contrast
    (combination_design) gives the aggregate: the WCR bootstrap tests the right numbers."""
    from linkseval.did import ols
    from linkseval.staggered import cs_wild_problem

    cs = callaway_santanna(p, **options).set_index("term")
    design, contrasts, names = cs_wild_problem(p, **options)
    assert set(names) == set(cs.index)
    beta = ols(design).beta
    for name, b in zip(design.names, beta, strict=True):
        assert b == pytest.approx(cs.loc[name, "estimate"], abs=1e-10)
    for c, term in zip(contrasts, names, strict=True):
        got = ols(combination_design(design, c)).beta[0]
        assert got == pytest.approx(cs.loc[term, "estimate"], abs=1e-10), term


ALL = AGGREGATIONS  # every aggregation of linkseval.staggered


@pytest.mark.parametrize(
    "options",
    [
        {"control_group": "not_yet"},
        {"anticipation": 1},
        {"aggregations": ALL},
        {"control_group": "not_yet", "anticipation": 1, "aggregations": ALL},
        {"sampling_weights": "w", "aggregations": ALL},
        {"sampling_weights": "w", "control_group": "not_yet", "aggregations": ALL},
    ],
)
@pytest.mark.parametrize("by_cluster", [False, True])
def test_wcr_ri_and_ri_t_equal_refits_with_r_did_options(by_cluster, options):
    """The stacked regression (weighted least squares with sampling weights) reproduces every
    term; the RI and RI-t statistics of every term equal refits of the public estimator on every
    draw (RI-t also when whole boards, so different cohort sizes, are drawn)."""
    df = simulate(
        n=48,
        years=tuple(range(2011, 2017)),
        cohorts=((2013, 5), (2014, 5), (2016, 6)),
        seed=9,
        missing=0.08,
    )
    if by_cluster:  # one start per board: whole boards are reassigned
        df["cohort"] = df.board.map({"b0": 2013, "b3": 2014, "b5": 2016}).fillna(0).astype(int)
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", cluster="board"
    )
    if "sampling_weights" in options:  # one weight per unit, from 0.5 to 2
        w = np.random.default_rng(2).uniform(0.5, 2.0, p.n_units)
        options = {**options, "sampling_weights": w}
    _check_stacked_regression(p, options)
    _check_ri_against_refits(p, options)


@pytest.mark.slow
@pytest.mark.parametrize("control_group", ["never", "not_yet"])
@pytest.mark.parametrize("data", ["mpdta", "staggered"])
def test_every_aggregation_matches_moderndid_aggte(data, control_group):
    """group (per cohort and the cohort-share weighted overall), calendar (per period and
    their plain mean), dynamic with its overall mean over e ≥ 0, beside simple: estimates and
    SEs (weights' influence functions included where R has them) equal moderndid's aggte."""
    from linkseval.staggered import AGGREGATIONS

    df = _data(data)
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    md = {"never": "nevertreated", "not_yet": "notyettreated"}[control_group]
    ours = callaway_santanna(p, control_group=control_group, aggregations=AGGREGATIONS)
    types = ("simple", "dynamic", "dynamic_overall", "group", "calendar")
    _max_delta(ours, _moderndid(df, types=types, control_group=md), p.n_units)
    kinds = set(ours.kind)
    assert kinds == {"att", *AGGREGATIONS}
    cs = ours.set_index("term")
    g = int(df.cohort[df.cohort > 0].min())
    assert cs.loc[f"group[{g}]", "cohort"] == g and cs.loc[f"calendar[{g}]", "period"] == g


def test_default_aggregations_are_simple_and_dynamic_and_unknown_ones_are_errors():
    from linkseval.errors import ConfigError

    _, p = _staggered()
    assert set(callaway_santanna(p).kind) == {"att", "simple", "dynamic"}
    with pytest.raises(ConfigError, match="unknown aggregation 'event'"):
        callaway_santanna(p, aggregations=["simple", "event"])


def _by_hand_weights(names: list[str], term: str) -> np.ndarray:
    """An aggregate's weights on the stacked design's cells, from R did's definitions (cohort
    sizes 4 and 3 of ``_staggered``)."""
    size = {2014: 4.0, 2016: 3.0}
    cells = [tuple(int(x) for x in n[4:-1].split(",")) for n in names]
    post = [(g, t) for g, t in cells if t >= g]

    def ratio(keep) -> np.ndarray:  # cohort-share weighted mean of the kept cells
        w = np.array([size[g] if (g, t) in keep else 0.0 for g, t in cells])
        return w / w.sum()

    if term == "group_overall":  # cohort-share weighted mean of each cohort's plain mean
        n_post = {g: sum(1 for h, _ in post if h == g) for g in size}
        w = np.array([size[g] / n_post[g] if t >= g else 0.0 for g, t in cells])
        return w / w.sum()
    if term.startswith("group["):
        g0 = int(term[6:-1])
        w = np.array([float(g == g0 and t >= g) for g, t in cells])
        return w / w.sum()
    if term.startswith("calendar["):
        return ratio({(g, t) for g, t in post if t == int(term[9:-1])})
    if term == "calendar_overall":
        periods = sorted({t for _, t in post})
        return sum(ratio({(g, t) for g, t in post if t == s}) for s in periods) / len(periods)
    if term == "dynamic_overall":
        es = sorted({t - g for g, t in post})
        return sum(ratio({(g, t) for g, t in post if t - g == e}) for e in es) / len(es)
    raise AssertionError(term)


@pytest.mark.parametrize(
    "term",
    ["group[2016]", "group_overall", "calendar[2016]", "calendar_overall", "dynamic_overall"],
)
def test_wild_bootstrap_of_new_aggregates_equals_a_restricted_refit_loop(term):
    """Each new aggregate is a linear combination of the stacked regression's cells (weights by
    hand from R did's definitions): its WCR p-value equals a brute-force restricted least
    squares loop with the same draws, and its CI ends are where the brute p crosses α."""
    from linkseval.did import ols
    from linkseval.staggered import AGGREGATIONS

    _, p = _staggered(seed=5)
    design, _ = stacked_design(p)
    R = _by_hand_weights(design.names, term)
    cs = callaway_santanna(p, aggregations=AGGREGATIONS).set_index("term")
    assert R @ ols(design).beta == pytest.approx(cs.loc[term, "estimate"], abs=1e-10)
    r = cs_wild_bootstrap(p, n_draws=399, seed=7, aggregations=AGGREGATIONS)[term]
    assert r.p_value == pytest.approx(_brute_wild_linear(design, R, 0.0, 7, 399), abs=1e-12)
    eps = 1e-4 * (r.ci_high - r.ci_low)
    for end, out in ((r.ci_low, -1.0), (r.ci_high, 1.0)):
        assert _brute_wild_linear(design, R, end + out * eps, 7, 399) <= 0.05
        assert _brute_wild_linear(design, R, end - out * eps, 7, 399) > 0.05


def _moderndid_band(df, seed: int, clustervars=None) -> float:
    """moderndid's sup-t critical value of aggte(type="dynamic", cband=True), 1000 draws."""
    import warnings

    from moderndid import aggte, att_gt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"clustervars": clustervars} if clustervars else {}
        gt = att_gt(
            df, yname="y", tname="year", idname="id", gname="cohort", est_method="reg", **kw
        )
        dyn = aggte(gt, type="dynamic", boot=True, cband=True, biters=1000, random_state=seed)
    return float(dyn.critical_values[0])


def _dynamic_influence(p):
    """Our dynamic terms' per-unit influence functions (terms × units)."""
    from linkseval import staggered as st

    cells = st.group_time_cells(p)
    atts, psis = st._cells_atts(p, cells)
    return np.array(
        [st._evaluate(a, cells, atts, psis, p.cohort)[1] for a in st.aggregates(cells, ["dynamic"])]
    )


@pytest.mark.slow
@pytest.mark.parametrize("data", ["mpdta", "staggered by board"])
def test_uniform_band_critical_value_is_moderndids_with_the_same_draws(data):
    """Same seed, same order of the bootstrapped units (moderndid's: by cohort, never-treated
    last, then id; boards: sorted, each of 10 units, so its cluster means are our sums / 10):
    the sup-t critical value equals moderndid's (to its rounded normal IQR constant)."""
    from linkseval.staggered import sup_t_critical_value

    df = _data(data.split()[0])
    cluster = "board" if "board" in data else None
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", cluster=cluster
    )
    psi = _dynamic_influence(p)
    if cluster:
        codes = np.zeros(p.n_units, dtype=int)
        codes[p.unit] = p.cluster
    else:  # moderndid's unit order
        ids = df.groupby("unit")[["id", "cohort"]].first().loc[p.unit_labels]
        key = np.where(ids.cohort == 0, np.inf, ids.cohort)
        codes = np.empty(p.n_units, dtype=int)
        codes[np.lexsort((ids.id.to_numpy(), key))] = np.arange(p.n_units)
    for seed in (3, 11):
        ref = _moderndid_band(df, seed, [cluster] if cluster else None)
        assert sup_t_critical_value(psi, codes, seed=seed) == pytest.approx(ref, rel=1e-8)


@pytest.mark.slow
def test_uniform_band_critical_value_agrees_with_moderndid_within_monte_carlo_error():
    """Independent draws (our unit order, 40 seeds each): the mean critical values differ by
    less than 4 Monte Carlo SEs, and both exceed the pointwise 1.96."""
    df = _mpdta()
    p = panel_from_frame(df, unit="unit", time="year", cohort="cohort", outcome="y")
    ours = np.array(
        [callaway_santanna(p, cband=True, seed=s)["band_critical_value"].max() for s in range(40)]
    )
    ref = np.array([_moderndid_band(df, 1000 + s) for s in range(40)])
    mc_se = np.sqrt(ours.var(ddof=1) / 40 + ref.var(ddof=1) / 40)
    assert abs(ours.mean() - ref.mean()) < 4 * mc_se, (ours.mean(), ref.mean(), mc_se)
    assert ours.min() > 1.96 and ref.min() > 1.96


def test_uniform_band_on_the_dynamic_rows_and_in_the_registry_rows():
    """cband: the dynamic rows get one critical value c ≥ 1.96 and the band estimate ± c·SE
    (NaN elsewhere), the same seed gives the same c; the registry's analytic rows carry the band
    as ci_low_fw/ci_high_fw with c in the note, seeded by the bootstrap seed."""
    from test_imputation import BASE

    from linkseval.estimators import infer
    from linkseval.study import Settings

    _, p = _staggered(seed=4, missing=0.0)
    cs = callaway_santanna(p, cband=True, seed=5, biters=500)
    dyn = cs.kind == "dynamic"
    crit = cs.loc[dyn, "band_critical_value"].unique()
    assert len(crit) == 1 and crit[0] > 1.96 and cs.loc[~dyn, "band_critical_value"].isna().all()
    half = (cs.band_high - cs.band_low) / 2
    assert np.allclose(half[dyn], crit[0] * cs.std_error[dyn])
    again = callaway_santanna(p, cband=True, seed=5, biters=500)["band_critical_value"]
    assert again[dyn].tolist() == cs.loc[dyn, "band_critical_value"].tolist()
    assert "band_critical_value" not in callaway_santanna(p)
    s = Settings(bootstrap_seed=5)
    base = {**BASE, "estimator": "callaway_santanna"}
    rows = infer("callaway_santanna", p, s, base, ["analytic"], cband=True, biters=500)
    for r in rows:
        if r["term"] == "dynamic":
            want = cs.set_index("term").loc[f"dynamic[{r['event_time']}]"]
            assert r["ci_low_fw"] == pytest.approx(want.band_low, rel=1e-12)
            assert r["ci_high_fw"] == pytest.approx(want.band_high, rel=1e-12)
            assert f"{crit[0]:.4f}" in r["note"]
        else:
            assert np.isnan(r["ci_low_fw"])


def _with_weights(df, seed=1):
    """The frame with a sampling weight per unit, from 0.5 to 2 (column ``w``)."""
    units = np.sort(df.unit.unique())
    w = dict(zip(units, np.random.default_rng(seed).uniform(0.5, 2.0, len(units)), strict=True))
    return df.assign(w=df.unit.map(w))


@pytest.mark.slow
@pytest.mark.parametrize("control_group", ["never", "not_yet"])
@pytest.mark.parametrize("data", ["mpdta", "staggered"])
def test_sampling_weights_match_moderndid(data, control_group):
    """sampling_weights are R did's weightsname: weighted cells and influence functions,
    cohort shares as sums of weights (also in the weights' influence function); every cell and
    aggregate and its SE equal moderndid's; the panel carries them (panel_from_frame's
    sampling_weights) and the registry fit uses them."""
    from test_imputation import BASE

    from linkseval.estimators import infer
    from linkseval.staggered import AGGREGATIONS
    from linkseval.study import Settings

    df = _with_weights(_data(data))
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", sampling_weights="w"
    )
    md = {"never": "nevertreated", "not_yet": "notyettreated"}[control_group]
    options = {"control_group": control_group, "aggregations": AGGREGATIONS}
    ours = callaway_santanna(p, sampling_weights=p.sampling_weights, **options)
    types = ("simple", "dynamic", "dynamic_overall", "group", "calendar")
    # moderndid 0.2.0 passes the unit weights on to aggte (R's weights.ind) only when their
    # column is called "weights" (otherwise it aggregates with unweighted cohort sizes)
    md_df = df.rename(columns={"w": "weights"})
    ref = _moderndid(md_df, types=types, control_group=md, weightsname="weights")
    _max_delta(ours, ref, p.n_units)
    unweighted = callaway_santanna(p, **options).set_index("term")["estimate"]
    assert not np.allclose(unweighted[ours.term], ours.estimate)
    base = {**BASE, "estimator": "callaway_santanna"}
    rows = infer("callaway_santanna", p, Settings(), base, ["analytic"], **options)
    assert [r["estimate"] for r in rows] == ours.estimate.tolist()


def test_sampling_weights_must_be_one_positive_weight_per_unit():
    from linkseval.errors import ConfigError

    df, p = _staggered()
    with pytest.raises(ConfigError, match="one positive, finite number per unit"):
        callaway_santanna(p, sampling_weights=np.ones(p.n_units - 1))
    with pytest.raises(ConfigError, match="one positive, finite number per unit"):
        callaway_santanna(p, sampling_weights=np.zeros(p.n_units))
    bad = df.assign(w=np.arange(len(df)) + 1.0)
    with pytest.raises(ConfigError, match="varies within a unit"):
        panel_from_frame(
            bad, unit="unit", time="year", cohort="cohort", outcome="y", sampling_weights="w"
        )


def _with_covariate(df, seed=4):
    """The frame with a time-varying covariate ``x`` related to the cohort (so it matters)."""
    rng = np.random.default_rng(seed)
    units = np.sort(df.unit.unique())
    level = dict(zip(units, rng.normal(size=len(units)), strict=True))
    x = df.unit.map(level) + 0.3 * (df.cohort > 0) + 0.2 * rng.normal(size=len(df))
    return df.assign(x=x, y=df.y + 0.5 * x * (df.year - df.year.min()) / 4)


@pytest.mark.slow
@pytest.mark.parametrize("control_group", ["never", "not_yet"])
@pytest.mark.parametrize("data", ["mpdta", "staggered", "staggered weighted"])
def test_doubly_robust_covariates_match_moderndid(data, control_group):
    """covariates are R did's xformla with est_method "dr": every cell is Sant'Anna & Zhao's
    doubly robust DiD (logit propensity score, linear outcome regression on the controls,
    covariates at the cell's earlier period: a time-varying one on the project panel), and
    every cell, aggregate and SE equals moderndid's (mpdta with ~lpop; with sampling weights
    too); so does the universal-base event study."""
    from linkseval.staggered import AGGREGATIONS, cs_event_study

    df = _mpdta() if data == "mpdta" else _with_covariate(_project_panel())
    name = "lpop" if data == "mpdta" else "x"
    weighted = "weighted" in data
    if weighted:
        df = _with_weights(df).rename(columns={"w": "weights"})
    p = panel_from_frame(
        df,
        unit="unit",
        time="year",
        cohort="cohort",
        outcome="y",
        covariates=[name],
        sampling_weights="weights" if weighted else None,
    )
    assert p.covariate_names == (name,)
    options = {
        "control_group": control_group,
        "covariates": p.covariates,
        "sampling_weights": p.sampling_weights,
    }
    ours = callaway_santanna(p, aggregations=AGGREGATIONS, **options)
    md = {
        "control_group": {"never": "nevertreated", "not_yet": "notyettreated"}[control_group],
        "est_method": "dr",
        "xformla": f"~{name}",
        "weightsname": "weights" if weighted else None,
    }
    types = ("simple", "dynamic", "dynamic_overall", "group", "calendar")
    _max_delta(ours, _moderndid(df, types=types, **md), p.n_units)
    plain = callaway_santanna(p, control_group=control_group).set_index("term")["estimate"]
    assert not np.allclose(plain[ours.term[ours.kind == "att"]], ours.estimate[ours.kind == "att"])
    es, theta, V = cs_event_study(p, **options)
    ref = _moderndid(df, types=("dynamic",), base_period="universal", **md)
    G = p.n_units
    for j, e in enumerate(es):
        a, s = ref[f"dynamic[{e}]"]
        assert theta[j] == pytest.approx(a, abs=1e-8)
        assert np.sqrt(V[j, j] * (G - 1) / G) == pytest.approx(s, rel=1e-6), e


def test_with_covariates_the_registry_gives_analytic_rows_and_says_why_not_wcr_or_ri():
    """A panel with covariates: the registry fit uses them (its estimates are the DR ones);
    the analytic rows and the uniform band are there, WCR, RI and RI-t say why they do not
    apply; covariates of the wrong shape are a ConfigError."""
    from test_imputation import BASE

    from linkseval.errors import ConfigError
    from linkseval.estimators import infer
    from linkseval.study import Settings

    df = _with_covariate(
        simulate(
            n=80,
            years=tuple(range(2012, 2018)),
            cohorts=((2014, 10), (2016, 9)),
            seed=2,
            missing=0.0,
        )
    )
    p = panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", covariates=["x"]
    )
    dr = callaway_santanna(p, covariates=p.covariates)
    s = Settings(bootstrap_draws=99, ri_draws=99)
    methods = ["analytic", "wild_bootstrap", "randomization", "randomization_t"]
    base = {**BASE, "estimator": "callaway_santanna"}
    rows = infer("callaway_santanna", p, s, base, methods, cband=True)
    analytic = [r for r in rows if r["method"] == "influence function (analytic)"]
    assert [r["estimate"] for r in analytic] == dr.estimate.tolist()
    assert all(np.isfinite(r["ci_low_fw"]) for r in analytic if r["term"] == "dynamic")
    others = [r for r in rows if r["method"] != "influence function (analytic)"]
    assert len(others) == 3 * len(analytic)
    assert all(not r["applicable"] and "doubly robust" in r["note"] for r in others)
    assert "doubly robust" in next(r for r in analytic if r["term"] == "simple")["note"]
    with pytest.raises(ConfigError, match="one finite row per observation"):
        callaway_santanna(p, covariates=p.covariates[1:])
