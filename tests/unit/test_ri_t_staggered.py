"""RI-t (MacKinnon & Webb 2020) for the event study and Callaway–Sant'Anna against brute force.

Every reassigned t statistic, at τ = 0 and under a shifted sharp null (y − τD), equals the
estimate / analytic SE of the estimator's public fit on the reassigned panel; the p-value and
the CI ends equal those of a plain loop over the same draws.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest
from test_did import simulate

from linkseval.did import panel_from_frame
from linkseval.estimators import ESTIMATORS
from linkseval.inference import ri_sample, ri_units
from linkseval.inference.randomization import _ri_assignment, ri_t_test
from linkseval.study import Settings

R = 49
SEED = 3
SETTINGS = Settings()  # built once (it reads the schema defaults)
YEARS = (2012, 2013, 2014, 2015, 2016)
PANELS = {
    "one cohort": ((2014, 9),),
    "three cohorts": ((2013, 6), (2014, 6), (2015, 5)),
}


def _panel(kind: str, by_cluster: bool):
    df = simulate(n=54, years=YEARS, cohorts=PANELS[kind], seed=7, missing=0.08)
    if by_cluster:  # one start per board: whole boards are reassigned
        starts = {"one cohort": {"b0": 2014, "b3": 2014}, "three cohorts": {}}[kind] or {
            "b0": 2013,
            "b3": 2014,
            "b4": 2014,
            "b6": 2015,
        }
        df["cohort"] = df.board.map(starts).fillna(0).astype(int)
    return panel_from_frame(
        df, unit="unit", time="year", cohort="cohort", outcome="y", weights="n", cluster="board"
    )


def _keys(f) -> list:
    """The fit's term keys (event times; CS term names)."""
    if f.estimator == "event_study":
        return [t.where["event_time"] for t in f.terms]
    return list(f.keys)


class Brute:
    """The estimator's public fit on each reassigned panel, with y − τD (D observed)."""

    def __init__(self, name: str, p, keys: list):
        self.name, self.p, self.keys = name, p, keys
        self.u = ri_units(p)
        self.col = _ri_assignment(p, self.u)
        self.idx = ri_sample(SEED, R, 0, self.u.n, len(self.col))
        self.cohorts = np.unique(self.u.cohort[self.u.cohort > 0])
        self.D = p.treatment()
        self.t = functools.lru_cache(maxsize=None)(self._t)

    def cohort(self, r: int | None) -> np.ndarray:
        if r is None:
            return self.p.cohort
        drawn = np.zeros(self.u.n, dtype=self.p.cohort.dtype)
        drawn[self.idx[r]] = self.cohorts[self.col]
        return drawn if self.u.group is None else drawn[self.u.group]

    def _t(self, r: int | None, tau: float) -> np.ndarray:
        """Every term's estimate / SE on draw r (None: observed); NaN where not estimated."""
        q = replace(self.p, cohort=self.cohort(r), y=self.p.y - tau * self.D)
        f = ESTIMATORS[self.name].fit(q, SETTINGS)
        t = dict(zip(_keys(f), f.estimate / f.std_error, strict=True))
        return np.array([t.get(k, np.nan) for k in self.keys])

    def p_value(self, tau: float, j: int) -> float:
        obs = abs(self.t(None, tau)[j])
        ts = np.array([self.t(r, tau)[j] for r in range(R)])
        ts = np.abs(ts[np.isfinite(ts)])
        return (1 + np.sum(ts >= obs - 1e-12 * max(1.0, obs))) / (1 + len(ts))


@pytest.mark.parametrize("by_cluster", [False, True])
@pytest.mark.parametrize("kind", list(PANELS))
@pytest.mark.parametrize("name", ["event_study", "callaway_santanna"])
def test_ri_t_equals_a_refit_per_reassignment(name, kind, by_cluster):
    p = _panel(kind, by_cluster)
    f = ESTIMATORS[name].fit(p, SETTINGS)
    stats = f.ri_t_statistics(seed=SEED, n_draws=R)
    assert len(stats) == len(f.terms) and all(st is not None for st in stats)
    brute = Brute(name, p, _keys(f))
    assert brute.u.kind == ("clusters" if by_cluster else "units")
    post = []
    for j, (term, st) in enumerate(zip(f.terms, stats, strict=True)):
        e = term.where.get("event_time")
        pre = (e is not None and e < 0) or (
            term.term == "att" and term.where["period"] < term.where["cohort"]
        )
        assert st.ci is not pre, term
        if not pre:
            post.append(j)
    for tau in (0.0, 0.7):
        obs = brute.t(None, tau)
        for j, st in enumerate(stats):
            o0, o1, o2 = st.observed_q
            got = (st.observed - tau * st.slope) / np.sqrt(o0 - 2 * tau * o1 + tau**2 * o2)
            assert got == pytest.approx(obs[j], rel=1e-8)
        for r in range(R):
            want = brute.t(r, tau)
            for j, st in enumerate(stats):
                if not np.isfinite(want[j]):  # the refit cannot estimate the term
                    assert not st.ok[r]
                    continue
                assert st.ok[r]
                q0, q1, q2 = (x[r] for x in st.q)
                got = (st.a[r] - tau * st.b[r]) / np.sqrt(q0 - 2 * tau * q1 + tau**2 * q2)
                assert got == pytest.approx(want[j], rel=1e-8), (j, r, tau)
    # p-values of every term and the CI ends of a few post-programme terms: a plain loop
    for j, st in enumerate(stats):
        res = ri_t_test(st)
        assert res.statistic == pytest.approx(brute.t(None, 0.0)[j], rel=1e-10)
        assert res.p_value == pytest.approx(brute.p_value(0.0, j), abs=1e-12)
        assert res.n_draws == int(st.ok.sum())
        if j not in post:
            assert np.isnan(res.ci_low) and np.isnan(res.ci_high)
            assert "p-value only" in res.note
    for j in post[:1] + post[-1:]:  # a cell or the first event time, and the last aggregate
        res = ri_t_test(stats[j])
        assert np.isfinite(res.ci_low) and np.isfinite(res.ci_high)
        width = res.ci_high - res.ci_low
        for end, inside in ((res.ci_low, 1), (res.ci_high, -1)):
            assert brute.p_value(end + inside * 1e-3 * width, j) > 0.05
            assert brute.p_value(end - inside * 1e-3 * width, j) <= 0.05


def test_event_study_ri_t_uses_the_ri_draws_and_leaves_twfe_unchanged():
    """Same seed → the same reassignments as the event study's RI on the coefficients."""
    from linkseval.inference import ri_event_statistics

    p = _panel("three cohorts", False)
    f = ESTIMATORS["event_study"].fit(p, SETTINGS)
    stats = f.ri_t_statistics(seed=SEED, n_draws=1500)  # two chunks
    beta = ri_event_statistics(p, f.es, n_draws=1500, seed=SEED)
    for j, st in enumerate(stats):
        ok = st.ok & beta.ok[:, j]
        assert ok.sum() > 1400
        assert np.allclose(st.a[ok], beta.a[ok, j], rtol=1e-9, atol=1e-12)
        assert st.observed == pytest.approx(f.estimate[j], rel=1e-12)
        assert np.sqrt(st.observed_q[0]) == pytest.approx(f.std_error[j], rel=1e-10)


def test_cs_ri_t_numerators_are_the_ri_statistics_when_units_are_reassigned():
    from linkseval.staggered import cs_ri_statistics

    p = _panel("three cohorts", False)
    f = ESTIMATORS["callaway_santanna"].fit(p, SETTINGS)
    stats = f.ri_t_statistics(seed=SEED, n_draws=R)
    beta = f.ri_statistics(seed=SEED, n_draws=R)
    assert beta.rows == list(range(len(f.terms)))
    _, names = cs_ri_statistics(p, n_draws=R, seed=SEED)
    for k, j in enumerate(beta.rows):
        ok = stats[j].ok & beta.statistics.ok[:, k]
        assert np.allclose(stats[j].a[ok], beta.statistics.a[ok, k], rtol=1e-10, atol=1e-12)
        assert np.allclose(stats[j].b[ok], beta.statistics.b[ok, k], rtol=1e-10, atol=1e-12)
        assert np.sqrt(stats[j].observed_q[0]) == pytest.approx(f.std_error[j], rel=1e-10)


def test_the_registry_gives_ri_t_rows_for_event_study_and_callaway_santanna():
    from test_imputation import BASE, panel, staggered

    from linkseval.estimators import infer

    p = panel(staggered(n=60, seed=1, cohorts=((2013, 6), (2015, 5))))
    s = Settings(ri_draws=199)
    for name in ("event_study", "callaway_santanna"):
        rows = infer(name, p, s, {**BASE, "estimator": name}, ["analytic", "randomization_t"])
        rows = [r for r in rows if r["term"] != "pretrend_joint"]
        analytic, rit = rows[0::2], rows[1::2]
        assert len(rit) == len(analytic) > 0
        for a, r in zip(analytic, rit, strict=True):
            assert r["method"] == "randomization inference (t)", r
            assert 0 < r["p_value"] <= 1 and "not applicable" not in r["note"]
            assert r["statistic"] == pytest.approx(a["statistic"], rel=1e-8)
            post = "p-value only" not in r["note"]
            assert np.isfinite(r["ci_low"]) == post
            if post:
                assert r["ci_low"] < r["estimate"] < r["ci_high"]


def test_ri_t_holds_its_size_under_the_null():
    """No effect: RI-t rejects the first post-programme term about 10% of the time at the 10%
    level (exact when units are reassigned and the design is exchangeable)."""
    from test_imputation import panel, staggered

    reps, rejections = 120, {"event_study": 0, "callaway_santanna": 0}
    for rep in range(reps):
        df = staggered(n=40, years=range(2011, 2016), seed=100 + rep, effect=lambda e: 0.0)
        p = panel(df)
        for name in rejections:
            f = ESTIMATORS[name].fit(p, SETTINGS)
            st = next(st for st in f.ri_t_statistics(seed=rep, n_draws=99) if st.ci)
            rejections[name] += ri_t_test(st, alpha=0.1).p_value <= 0.1
    for name, k in rejections.items():
        assert abs(k / reps - 0.1) < 3 * np.sqrt(0.09 / reps), (name, k)


@pytest.mark.parametrize("name", ["event_study", "callaway_santanna"])
def test_ri_t_survives_a_strong_common_trend(name):
    """A large common change (y + 10⁶·(year − 2012)) leaves every reassigned t statistic equal
    to the refit's: the closed forms' sums over clusters must not lose their digits to it."""
    p = _panel("three cohorts", False)
    p = replace(p, y=p.y + 1e6 * (p.time - 2012))
    f = ESTIMATORS[name].fit(p, SETTINGS)
    stats = f.ri_t_statistics(seed=SEED, n_draws=R)
    brute = Brute(name, p, _keys(f))
    checked = 0
    for r in range(12):
        want = brute.t(r, 0.0)
        for j, st in enumerate(stats):
            if np.isfinite(want[j]) and st.ok[r] and abs(want[j]) > 0.05:
                assert st.a[r] / np.sqrt(st.q[0][r]) == pytest.approx(want[j], rel=1e-5)
                checked += 1
    assert checked > 20
