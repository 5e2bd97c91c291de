"""Latent model: practice effects, calibrated intercepts, exact expectations and the truth.

Latent model (Safequest)
------------------------
Item k of theme h answered by respondent i of staff group g in practice p, year t::

    y* = b[h,t] + c * (off[k] + a[p,h] + board[p] + deep_end_pct * DE[p]
                       + list_coef * log2(list_size[p] / list_size_median)
                       + links_level_pct * LINKS[p] + v[p,h,t]
                       + tau[h](t - start[p]) * (1 - absent_months[p,t] / 12))
         + c * staff[g] + u[i] + e[i,k]

with ``c = 7 / 100`` (1 percentage point of the % score 100*mean/7 is 0.07 on the 7-point
scale); every ``*_pct`` parameter is in those percentage points. ``a[p,h]`` is a practice random
intercept with SD ``practice_sd_pct`` and correlation ``theme_correlation`` between themes,
``v[p,h,t]`` the same for practice-years (``practice_year_sd_pct``), ``board`` a health-board
effect (SD ``board_sd_pct``), ``off[k]`` an item offset centred within its theme (SD
``item_offset_sd_pct``), ``staff[g]`` a staff-group effect centred on the population shares
(practice managers and GPs higher), ``tau`` the treatment effect by event time (0 before the Links
start, the last listed value carried on; its CLP-absence dose ``1 - months/12``),
``u[i] ~ N(0, respondent_sd)`` and ``e ~ N(0, item_sd)`` (both on the 7-point scale).
The scored answer is ``s = clip(round(y*), 1, 7)``; the raw file stores ``s`` for positive items
and ``8 - s`` for reverse-scored items (codebook ``reverse: true``).

The intercept ``b[h,t]``: with ``calibrate_to_observed: true`` (default) it is solved so that the
expected observed all-Scotland level (mean over all practices, untreated, of the expected
practice-year theme mean) equals ``theme_level_pct[h] + year_effects_pct[h][t]`` exactly; this
undoes the ceiling compression of the clipped 7-point scale, so the config's levels and changes
are what the % scores show. With ``false`` it is the literal conversion
``(theme_level_pct[h] + year_effects_pct[h][t]) * 7 / 100``. Both are stored in ``truth.json``.

Exact expectation: given the latent mean ``m`` (everything except ``u`` and ``e``),
``P(s = k) = Phi((k + .5 - m) / sigma) - Phi((k - .5 - m) / sigma)`` with open ends, where
``sigma**2 = respondent_sd**2 + item_sd**2``, hence ``E[s] = 1 + sum_{j=1..6} Phi((m-j-.5)/sigma)``.
``expected_mean`` averages this over the theme's items and the staff-group mixture (population
shares). Item missingness is MCAR, so the practice-year mean of respondent theme means (mean of the
answered items) is unbiased for it. The ATT is the mean over treated practices of the expected
score minus its untreated counterfactual.

Participation: each practice has ``3 + list_size / patients_per_staff`` staff (with noise);
respondents per practice-year are Binomial(staff, rate), rate ~ Beta with mean ``response_rate``;
a share ``absent_rate`` of practice-years has no rows at all. Links practices always take part,
with at least ``links_min_respondents``. Staff groups are drawn from ``staff_shares``.
Messiness (``messiness`` settings) is planted after sampling; the exact counts per file, as
written, are in ``truth.json["messiness"]``.

CARE: the same construction on the 1-5 scale with one latent per patient for all 10 items
(``care_practice_sd``, ``care_practice_year_sd`` in total points, i.e. /10 per item;
``care_respondent_sd``, ``care_item_sd`` per item); ``care_level`` (+ ``care_year_effects``) is
the calibrated all-Scotland expected total (10-50), ``care_treatment_effect`` a latent shift of
the total by event time. "Does not apply" and blanks are MCAR; the expected total is 10 times the
expected item score.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from linkseval import SYNTHETIC_LABEL
from linkseval.data.codebook import Instrument
from linkseval.errors import ConfigError
from linkseval.synthetic.practices import BOARDS, Practices
from linkseval.synthetic.serialise import jsonable, label_names, rounded
from linkseval.synthetic.settings import GENERATOR_VERSION, STAFF_GROUPS, stream_rng, year_map


def expected_score(m: np.ndarray | float, sigma: float, lo: int, hi: int) -> np.ndarray:
    """E[clip(round(m + N(0, sigma)), lo, hi)], exactly: lo + sum_j Phi((m - j - 1/2) / sigma)."""
    m = np.asarray(m, dtype=np.float64)
    out = np.full(m.shape, float(lo))
    for j in range(lo, hi):
        out += ndtr((m - (j + 0.5)) / sigma)
    return out


def _correlated(rng: np.random.Generator, n: int, k: int, sd: float, rho: float) -> np.ndarray:
    common = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, k))
    return sd * (math.sqrt(rho) * common + math.sqrt(1.0 - rho) * own)


def _effect_at(effects: list[float], event_time: np.ndarray) -> np.ndarray:
    """Treatment effect by event time: 0 before the start, last value carried on."""
    if not effects:
        return np.zeros(event_time.shape)
    table = np.asarray(effects, dtype=np.float64)
    idx = np.clip(event_time, 0, len(table) - 1)
    return np.where(event_time >= 0, table[idx], 0.0)


def _solve_intercept(
    target: float, x: np.ndarray, w: np.ndarray, sigma: float, lo: int, hi: int
) -> float:
    """B such that sum(w * E[s | b + x]) == target (safeguarded Newton)."""
    if not lo < target < hi:
        raise ConfigError(f"synthetic: target level {target:.3f} is outside the scale {lo}-{hi}")
    a, c = lo - 20.0 - float(x.max()), hi + 20.0 - float(x.min())
    b = target - float(np.dot(w, x))
    for _ in range(100):
        z = b + x
        value = np.full(z.shape, float(lo))
        slope = np.zeros(z.shape)
        for j in range(lo, hi):
            t = (z - (j + 0.5)) / sigma
            value += ndtr(t)
            slope += np.exp(-0.5 * t * t)
        f = float(np.dot(w, value)) - target
        d = float(np.dot(w, slope)) / (sigma * math.sqrt(2 * math.pi))
        if abs(f) < 1e-13:
            return b
        if f > 0:
            c = b
        else:
            a = b
        nb = b - f / d if d > 0 else (a + c) / 2
        nb = nb if a < nb < c else (a + c) / 2
        if abs(nb - b) < 1e-14:
            return nb
        b = nb
    return b


def _compress(x: np.ndarray, q: int = 1000) -> np.ndarray:
    """Quantile summary of a large sample for calibration (exact values when small)."""
    if len(x) <= 2 * q:
        return x
    return np.quantile(x, (np.arange(q) + 0.5) / q)


class Model:
    """Practice-level effects, calibrated intercepts and exact expectations."""

    def __init__(self, cfg, years, sq: Instrument, care: Instrument, pr: Practices) -> None:
        self.cfg, self.years, self.sq, self.care, self.pr = cfg, years, sq, care, pr
        seed, n = int(cfg["seed"]), len(pr.codes)
        self.seed, self.n = seed, n
        self.themes = list(sq.themes)
        self.item_theme = np.array([self.themes.index(i.theme) for i in sq.items])
        self.reverse = np.array([i.reverse for i in sq.items])
        self.pts = sq.scale_max / 100.0
        self.sigma = math.hypot(cfg["respondent_sd"], cfg["item_sd"])
        self.care_sigma = math.hypot(cfg["care_respondent_sd"], cfg["care_item_sd"])
        shares = np.array([cfg["staff_shares"][g] for g in STAFF_GROUPS], dtype=np.float64)
        if shares.min() < 0 or shares.sum() <= 0:
            raise ConfigError("synthetic.staff_shares must be non-negative with a positive sum")
        self.staff_shares = shares / shares.sum()
        eff = np.array([cfg["staff_effects_pct"][g] for g in STAFF_GROUPS], dtype=np.float64)
        self.staff_pct = eff - float(np.dot(self.staff_shares, eff))  # centred
        self.staff_delta = self.staff_pct * self.pts

        rng = stream_rng(seed, "effects")
        board_fx = rng.normal(0.0, cfg["board_sd_pct"], len(BOARDS))
        self.board_fx = board_fx
        self.practice_fx = _correlated(
            rng, n, len(self.themes), cfg["practice_sd_pct"], cfg["theme_correlation"]
        )
        self.care_fx = rng.normal(0.0, cfg["care_practice_sd"], n)
        rng_items = stream_rng(seed, "items")
        off = rng_items.normal(0.0, cfg["item_offset_sd_pct"], len(sq.items))
        for h in range(len(self.themes)):
            sel = self.item_theme == h
            off[sel] -= off[sel].mean()
        self.item_offset_pct = off
        self.links = pr.start > 0
        self.static_pct = (
            self.practice_fx
            + board_fx[pr.board][:, None]
            + cfg["deep_end_pct"] * (pr.deep_rank > 0)[:, None]
            + cfg["list_size_pct_per_doubling"]
            * np.log2(pr.list_size / cfg["list_size_median"])[:, None]
            + cfg["links_level_pct"] * self.links[:, None]
        )
        self.year_fx = {h: year_map(cfg["year_effects_pct"].get(h)) for h in self.themes}
        self.treat = {
            h: [float(v) for v in cfg["treatment_effect_pct"].get(h, [])] for h in self.themes
        }
        self.care_year_fx = year_map(cfg["care_year_effects"])
        self.care_treat = [float(v) for v in cfg["care_treatment_effect"] or []]
        self.py_pct: dict[int, np.ndarray] = {}
        self.care_py: dict[int, np.ndarray] = {}
        self.intercept: dict[int, np.ndarray] = {}
        self.care_intercept: dict[int, float] = {}
        self.expected: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        for year in years:
            self._year(year)

    # -- per year --------------------------------------------------------------------------
    def dose(self, year: int) -> np.ndarray:
        """Return each practice's dose in ``year``: 1 − absent months / 12."""
        return 1.0 - self.pr.absent_months[year] / 12.0

    def event_time(self, year: int) -> np.ndarray:
        """Return each practice's years since its Links start in ``year`` (−1 if not Links)."""
        return np.where(self.links, year - self.pr.start, -1)

    def _year(self, year: int) -> None:
        cfg, n = self.cfg, self.n
        rng = stream_rng(self.seed, "practice_year", year)
        self.py_pct[year] = _correlated(
            rng, n, len(self.themes), cfg["practice_year_sd_pct"], cfg["theme_correlation"]
        )
        self.care_py[year] = rng.normal(0.0, cfg["care_practice_year_sd"], n)
        calibrate = bool(cfg["calibrate_to_observed"])
        lo, hi = self.sq.scale_min, self.sq.scale_max
        b = np.zeros(len(self.themes))
        for h, theme in enumerate(self.themes):
            target_pct = float(cfg["theme_level_pct"][theme]) + self.year_fx[theme].get(year, 0.0)
            target = target_pct * self.pts
            if not calibrate:
                b[h] = target
                continue
            x_p = _compress(self.pts * (self.static_pct[:, h] + self.py_pct[year][:, h]))
            offs = self.pts * self.item_offset_pct[self.item_theme == h]
            x = x_p[:, None, None] + offs[None, :, None] + self.staff_delta[None, None, :]
            w = np.broadcast_to(
                self.staff_shares[None, None, :] / (len(x_p) * len(offs)), x.shape
            ).ravel()
            b[h] = _solve_intercept(target, x.ravel(), w, self.sigma, lo, hi)
        self.intercept[year] = b
        care_target = (float(cfg["care_level"]) + self.care_year_fx.get(year, 0.0)) / 10.0
        care_x = (self.care_fx + self.care_py[year]) / 10.0
        if calibrate:
            xc = _compress(care_x)
            self.care_intercept[year] = _solve_intercept(
                care_target,
                xc,
                np.full(len(xc), 1.0 / len(xc)),
                self.care_sigma,
                self.care.scale_min,
                self.care.scale_max,
            )
        else:
            self.care_intercept[year] = care_target
        # exact expectations (counterfactual for all; treated only differs for Links)
        m_cf = self.sq_latent(year, treated=False)
        e_cf = self._expect_items(m_cf)
        e_tr = e_cf.copy()
        if self.links.any():
            m_tr = self.sq_latent(year, treated=True)
            e_tr[self.links] = self._expect_items(m_tr[self.links])
        self.expected[("safequest", year)] = (self._outcomes(e_tr), self._outcomes(e_cf))
        c_cf = self.care_latent(year, treated=False)
        c_tr = self.care_latent(year, treated=True)
        lo_c, hi_c = self.care.scale_min, self.care.scale_max
        ncare = len(self.care.items)
        self.expected[("care", year)] = (
            ncare * expected_score(c_tr, self.care_sigma, lo_c, hi_c)[:, None],
            ncare * expected_score(c_cf, self.care_sigma, lo_c, hi_c)[:, None],
        )

    def treatment_pct(self, year: int) -> np.ndarray:
        """Latent treatment shift (pct) per practice and theme in a year, dose included."""
        e = self.event_time(year)
        out = np.zeros((self.n, len(self.themes)))
        for h, theme in enumerate(self.themes):
            out[:, h] = _effect_at(self.treat[theme], e)
        return out * self.dose(year)[:, None] * self.links[:, None]

    def sq_latent(self, year: int, treated: bool) -> np.ndarray:
        """Latent item means (points) without staff effect, shape (practices, items)."""
        pct = self.static_pct + self.py_pct[year]
        if treated:
            pct = pct + self.treatment_pct(year)
        it = self.item_theme
        return self.intercept[year][it][None, :] + self.pts * (
            pct[:, it] + self.item_offset_pct[None, :]
        )

    def care_shift(self, year: int) -> np.ndarray:
        """Return the latent CARE shift per practice in ``year`` (dose included, 0 if not Links)."""
        e = self.event_time(year)
        return _effect_at(self.care_treat, e) * self.dose(year) * self.links

    def care_latent(self, year: int, treated: bool) -> np.ndarray:
        """Return the latent CARE mean per practice in ``year``, with or without the treatment."""
        total = self.care_fx + self.care_py[year]
        if treated:
            total = total + self.care_shift(year)
        return self.care_intercept[year] + total / 10.0

    def _expect_items(self, m: np.ndarray) -> np.ndarray:
        lo, hi = self.sq.scale_min, self.sq.scale_max
        out = np.zeros(m.shape)
        for g, share in enumerate(self.staff_shares):
            out += share * expected_score(m + self.staff_delta[g], self.sigma, lo, hi)
        return out

    def _outcomes(self, e_items: np.ndarray) -> np.ndarray:
        cols = [e_items[:, self.item_theme == h].mean(axis=1) for h in range(len(self.themes))]
        cols.append(e_items.mean(axis=1))
        return np.column_stack(cols)

    @property
    def sq_outcomes(self) -> list[str]:
        """Return the SafeQuest outcome names."""
        return self.sq.outcomes

    # -- truth -----------------------------------------------------------------------------
    def truth_practice_year(self) -> pd.DataFrame:
        """Tabulate expected means, treated and counterfactual, per practice, year and outcome."""
        parts = []
        for (inst, year), (tr, cf) in self.expected.items():
            outcomes = self.sq_outcomes if inst == "safequest" else ["care_total"]
            treated = self.links & (year >= self.pr.start)
            for j, outcome in enumerate(outcomes):
                parts.append(
                    pd.DataFrame(
                        {
                            "practice_code": self.pr.codes,
                            "year": year,
                            "instrument": inst,
                            "outcome": outcome,
                            "expected_mean": tr[:, j],
                            "expected_counterfactual_mean": cf[:, j],
                            "treated": treated,
                        }
                    )
                )
        out = pd.concat(parts, ignore_index=True)
        out = out.sort_values(
            ["practice_code", "year", "instrument", "outcome"], kind="stable"
        ).reset_index(drop=True)
        return out

    def att(self) -> tuple[dict, dict]:
        """Return the true ATT of each outcome by year and by event time."""
        by_year: dict[str, dict] = {}
        by_event: dict[str, dict] = {}
        for (inst, year), (tr, cf) in self.expected.items():
            outcomes = self.sq_outcomes if inst == "safequest" else ["care_total"]
            treated = self.links & (year >= self.pr.start)
            if not treated.any():
                continue
            e = self.event_time(year)
            for j, outcome in enumerate(outcomes):
                diff = tr[:, j] - cf[:, j]
                by_year.setdefault(outcome, {})[str(year)] = self._att_entry(inst, diff[treated])
                for ev in np.unique(e[treated]).tolist():
                    sel = treated & (e == ev)
                    acc = by_event.setdefault(outcome, {}).setdefault(str(ev), [])
                    acc.extend(diff[sel].tolist())
        for outcome, events in by_event.items():
            inst = "care" if outcome == "care_total" else "safequest"
            by_event[outcome] = {
                ev: self._att_entry(inst, np.array(vals))
                for ev, vals in sorted(events.items(), key=lambda kv: int(kv[0]))
            }
        return by_year, by_event

    def _att_entry(self, inst: str, diff: np.ndarray) -> dict:
        """ATT on the scored scale (Safequest 1-7 mean, CARE 10-50 total) and as % points."""
        if inst == "safequest":
            lo, hi = self.sq.scale_min, self.sq.scale_max
        else:
            k = len(self.care.items)
            lo, hi = k * self.care.scale_min, k * self.care.scale_max
        scored = float(diff.mean())
        return {
            "scored": rounded(scored),
            "pct": rounded(100.0 * scored / hi),
            "pct_pomp": rounded(100.0 * scored / (hi - lo)),
            "n_treated": len(diff),
        }

    def descriptive(self, sampled: dict[tuple[str, int], np.ndarray]) -> dict:
        """All-Scotland vs Links % scores by year and change vs the first year."""
        out: dict[str, Any] = {
            "definition": (
                "pct = 100*mean/7 (Safequest), CARE on its total scale. expected: mean over "
                "practices of expected_mean (scotland = all practices, links = all Links "
                "practices). sampled: mean over practice-years with >= 5 genuine respondents of "
                "the practice mean of respondent scores (theme score needs >= half the theme's "
                "items; respondents with more than half the items missing excluded). change: "
                "points = pct(year) - pct(first year); relative_pct = 100*(pct(year)/pct(first) "
                "- 1)."
            ),
            "expected": {},
            "sampled": {},
        }
        for source in ("expected", "sampled"):
            for inst, outcomes in (("safequest", self.sq_outcomes), ("care", ["care_total"])):
                for j, outcome in enumerate(outcomes):
                    levels: dict[str, dict[str, float]] = {"scotland": {}, "links": {}}
                    for year in self.years:
                        if source == "expected":
                            vals = self.expected[(inst, year)][0][:, j]
                            ok = np.ones(self.n, dtype=bool)
                        else:
                            vals = sampled[(inst, year)][:, j]
                            ok = ~np.isnan(vals)
                        scale = 100.0 / 7.0 if inst == "safequest" else 1.0
                        for grp, sel in (("scotland", ok), ("links", ok & self.links)):
                            if sel.any():
                                levels[grp][str(year)] = rounded(scale * float(vals[sel].mean()), 4)
                    change: dict[str, dict] = {}
                    first = str(self.years[0])
                    for grp, series in levels.items():
                        change[grp] = {}
                        for year, value in series.items():
                            if year == first or first not in series:
                                continue
                            base = series[first]
                            change[grp][year] = {
                                "points": rounded(value - base, 4),
                                "relative_pct": rounded(100.0 * (value / base - 1.0), 4),
                            }
                    out[source][outcome] = {"level": levels, "change_vs_first_year": change}
        return out

    def truth_json(self, messiness: dict, files: dict, sampled: dict) -> dict:
        """Build the truth.json record: generator settings, Links practices and true effects."""
        att_year, att_event = self.att()
        pr = self.pr
        links = [
            {
                "practice_code": pr.codes[p],
                "start_year": int(pr.start[p]),
                "health_board": list(BOARDS)[pr.board[p]],
                "deep_end_rank": int(pr.deep_rank[p]),
            }
            for p in np.flatnonzero(self.links).tolist()
        ]
        clp = [
            {
                "practice_index": c["practice_index"],
                "practice_code": c["practice_code"],
                "year": c["year"],
                "months": c["months"],
                "dose": rounded(1.0 - c["months"] / 12.0),
            }
            for c in pr.clp
        ]
        labels = {
            inst.name: {str(k): v for k, v in label_names(inst).items()}
            for inst in (self.sq, self.care)
        }
        return {
            "synthetic": True,
            "label": SYNTHETIC_LABEL,
            "generator": "linkseval.synth",  # the old module name, kept: see generate
            "generator_version": GENERATOR_VERSION,
            "seed": int(self.cfg["seed"]),
            "years": self.years,
            "settings": jsonable(self.cfg),
            "code_width": pr.width,
            "n_practices": self.n,
            "links": links,
            "clp_absence": clp,
            "att": att_year,
            "att_by_event_time": att_event,
            "att_definition": (
                "mean over practices treated in that year (year >= start) of E[score | treated] "
                "- E[score | untreated], CLP-absence dose included; scored: Safequest 1-7 mean "
                "(after reverse scoring), CARE total 10-50; pct: 100*scored/max (7 or 50); "
                "pct_pomp: 100*scored/(max-min)."
            ),
            "latent": {
                "points_per_pct": self.pts,
                "sigma": rounded(self.sigma),
                "care_sigma": rounded(self.care_sigma),
                "calibrated": bool(self.cfg["calibrate_to_observed"]),
                "intercept_points": {
                    t: {str(y): rounded(float(self.intercept[y][h])) for y in self.years}
                    for h, t in enumerate(self.themes)
                },
                "care_intercept_points": {
                    str(y): rounded(self.care_intercept[y]) for y in self.years
                },
                "item_offset_pct": {
                    i.id: rounded(float(v))
                    for i, v in zip(self.sq.items, self.item_offset_pct, strict=True)
                },
                "board_effect_pct": {
                    b: rounded(float(v)) for b, v in zip(BOARDS, self.board_fx, strict=True)
                },
                "staff_effect_pct_centred": {
                    g: rounded(float(v)) for g, v in zip(STAFF_GROUPS, self.staff_pct, strict=True)
                },
                "staff_shares": {
                    g: rounded(float(v))
                    for g, v in zip(STAFF_GROUPS, self.staff_shares, strict=True)
                },
            },
            "descriptive": self.descriptive(sampled),
            "labels": labels,
            "files": files,
            "messiness": messiness,
        }
