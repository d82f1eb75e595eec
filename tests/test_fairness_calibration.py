"""Calibrated fairness verdicts: hand values of the bounds and false alarms on equal groups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from auditkit import AuditData, CheckContext, Policy, Status, get_check, wrap_model
from auditkit._stats import difference_lower_bound, holm_adjusted, ratio_upper_bound

NAME = "fairness_disparities"
Z_975 = 1.959963984540054


def test_newcombe_bound_matches_the_published_examples():
    # Newcombe (1998), Table II, method 10: 56/70 - 48/80 and 9/10 - 3/10.
    assert difference_lower_bound(56, 70, 48, 80, z=Z_975) == pytest.approx(0.0524, abs=1e-4)
    assert -difference_lower_bound(48, 80, 56, 70, z=Z_975) == pytest.approx(0.3339, abs=1e-4)
    assert difference_lower_bound(9, 10, 3, 10, z=Z_975) == pytest.approx(0.1705, abs=1e-4)
    assert -difference_lower_bound(3, 10, 9, 10, z=Z_975) == pytest.approx(0.8090, abs=1e-4)


def test_katz_ratio_bound_and_holm_by_hand():
    # log(0.5 / 0.25) + z * sqrt(1/50.5 - 1/100.5 + 1/25.5 - 1/100.5), with half counts added
    expected = np.exp(np.log((50.5 / 100.5) / (25.5 / 100.5))
                      + Z_975 * np.sqrt(1 / 50.5 - 1 / 100.5 + 1 / 25.5 - 1 / 100.5))
    assert ratio_upper_bound(50, 100, 25, 100, z=Z_975) == pytest.approx(expected)
    adjusted = holm_adjusted(np.array([0.01, 0.04, 0.03, 0.005, np.nan]))
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(adjusted[4])


def _selected(X):
    # The simulated prediction travels in the only column of X.
    return np.hstack([1.0 - X, X])


def _data(groups, selected, y):
    X = np.where(selected, 0.9, 0.1)[:, None]
    return AuditData(X, y.astype(np.int64), sensitive=groups)


def test_the_judged_bound_of_two_groups_is_newcombes():
    # 56 of 70 selected against 48 of 80; two ordered pairs, so each one-sided comparison
    # runs at 2.5%: the two-sided 95% Newcombe interval's lower end.
    group = np.array(["a"] * 70 + ["b"] * 80)
    selected = np.r_[np.arange(70) < 56, np.arange(80) < 48]
    y = np.arange(150) % 2
    result = get_check(NAME, n_resamples=0).run(
        wrap_model(_selected), _data({"g": group}, selected, y),
        context=CheckContext(random_state=0))
    bound = result.metrics["demographic_parity_difference_lower_bound"]
    assert bound.value == pytest.approx(0.0524, abs=1e-4)
    assert "2 one-sided comparisons" in bound.method
    assert result.metrics["demographic_parity_difference"].value == pytest.approx(0.2)
    row = result.tables["disparities"].loc[("g", "demographic_parity_difference")]
    assert row["p_value_holm"] == pytest.approx(row["p_value"])  # one test: no adjustment


SIZE_MIXES = {"1000/300/60/40": [(1000, 300, 60, 40)], "5 x 200": [(200,) * 5],
              "two features and their intersection": [(700, 300), (600, 250, 150)]}


def _equal_groups(rng, sizes):
    """Labels and predictions drawn alike in every group: every true disparity is 0."""
    n = sum(sizes[0])
    groups = {"f0": np.repeat([f"g{i}" for i in range(len(sizes[0]))], sizes[0])}
    for i, other in enumerate(sizes[1:], start=1):
        groups[f"f{i}"] = rng.permutation(np.repeat([f"h{j}" for j in range(len(other))],
                                                    other))
    y = rng.random(n) < 0.3
    selected = np.where(y, rng.random(n) < 0.75, rng.random(n) < 0.15)
    return _data(groups, selected, y)


def test_equal_groups_are_flagged_at_most_at_the_nominal_rate():
    """Equal groups of several size mixes: WARN and FAIL at most 5% (the level is 95%).

    The raw demographic parity difference reaches the WARN level (0.1) in a large share
    of the same samples, so the test would catch a policy that judged it.
    """
    rng = np.random.default_rng(11)
    check, policy, model = get_check(NAME, n_resamples=0), Policy.default(), wrap_model(_selected)
    flagged = raw_warn = runs = 0
    for sizes in SIZE_MIXES.values():
        for rep in range(7):
            result = check.run(model, _equal_groups(rng, sizes),
                               context=CheckContext(random_state=rep))
            flagged += policy.judge(result).status in (Status.WARN, Status.FAIL)
            raw_warn += result.metrics["demographic_parity_difference"].value >= 0.1
            runs += 1
    assert flagged / runs <= 0.05
    assert raw_warn / runs >= 0.1


def _ordered_pairs(k):
    a, b = (i.ravel() for i in np.meshgrid(np.arange(k), np.arange(k), indexing="ij"))
    return a[a != b], b[a != b]


@pytest.mark.parametrize("sizes", [(1000, 300, 60, 40), (300, 60), (2000, 100, 35, 35)])
@pytest.mark.parametrize("rate", [0.33, 0.05])
def test_the_bounds_hold_their_level_on_equal_groups(sizes, rate):
    """20,000 samples of equal groups: a gap or ratio flagged at most 5% of the time."""
    rng = np.random.default_rng(3)
    sizes = np.asarray(sizes)
    a, b = _ordered_pairs(len(sizes))
    z = norm.isf(0.05 / len(a))  # Bonferroni over the ordered pairs, as the check does
    s = rng.binomial(sizes, rate, size=(20_000, len(sizes)))
    lower = difference_lower_bound(s[:, a], sizes[a], s[:, b], sizes[b], z=z).max(axis=1)
    upper = ratio_upper_bound(s[:, a], sizes[a], s[:, b], sizes[b], z=z).min(axis=1)
    assert (lower > 0).mean() <= 0.05  # any gap at all, not only one at the WARN level
    assert (upper < 0.8).mean() <= 0.05  # the four-fifths rule


@pytest.mark.parametrize("sizes", [(300, 60), (2000, 2000), (60, 40)])
def test_a_gap_exactly_at_the_warn_level_is_flagged_at_most_5_percent(sizes):
    rng = np.random.default_rng(4)
    n1, n2 = sizes
    s1, s2 = rng.binomial(n1, 0.4, 20_000), rng.binomial(n2, 0.3, 20_000)
    z = norm.isf(0.05 / 2)
    lower = np.maximum(difference_lower_bound(s1, n1, s2, n2, z=z),
                       difference_lower_bound(s2, n2, s1, n1, z=z))
    assert (lower >= 0.1).mean() <= 0.05
    # and a selection-rate ratio exactly at the four-fifths level
    s1, s2 = rng.binomial(n1, 0.5, 20_000), rng.binomial(n2, 0.4, 20_000)
    upper = np.minimum(ratio_upper_bound(s1, n1, s2, n2, z=z),
                       ratio_upper_bound(s2, n2, s1, n1, z=z))
    assert (upper < 0.8).mean() <= 0.05
