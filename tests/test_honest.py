import numpy as np
import pytest
from scipy import stats

from linkseval.honest import honest_sensitivity


def test_original_ci_is_the_closed_form_and_bounds_widen():
    et = [-4, -3, -2, 0, 1, 2]
    b = np.array([0.1, -0.2, 0.05, 1.0, 1.2, 1.1])
    S = np.diag([0.3, 0.3, 0.3, 0.4, 0.4, 0.5]) ** 2
    res = honest_sensitivity(
        b, S, et, smoothness_m=[0.0, 0.5, 1.0], relative_mbar=[0.5, 1.0, 2.0], grid_points=30
    )
    orig = res[res.restriction.str.startswith("original")].iloc[0]
    w = np.ones(3) / 3
    se = np.sqrt(w @ S[3:, 3:] @ w)
    z = stats.norm.ppf(0.975)
    assert orig.ci_low == pytest.approx(w @ b[3:] - z * se)
    assert orig.ci_high == pytest.approx(w @ b[3:] + z * se)
    for kind in ("smoothness", "relative_magnitude"):
        r = res[res.restriction == kind].sort_values("bound")
        width = (r.ci_high - r.ci_low).to_numpy()
        assert len(r) == 3 and np.all(np.diff(width) > 0), kind


def test_event_time_order_does_not_matter():
    et = [0, -2, 1, -3]
    b = np.array([1.0, 0.1, 1.2, -0.1])
    S = np.diag([0.4, 0.3, 0.4, 0.3]) ** 2
    a = honest_sensitivity(b, S, et, smoothness_m=[0.5], relative_mbar=[], grid_points=20)
    o = np.array([1, 3, 0, 2])  # sorted event times: -3, -2, 0, 1
    c = honest_sensitivity(
        b[o],
        S[np.ix_(o, o)],
        [et[i] for i in o],
        smoothness_m=[0.5],
        relative_mbar=[],
        grid_points=20,
    )
    assert np.allclose(a[["ci_low", "ci_high"]], c[["ci_low", "ci_high"]])
