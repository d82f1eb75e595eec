"""Calibrated fairness verdicts: hand values of the bounds and false alarms on equal groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from auditkit import AuditData, CheckContext, Policy, Status, get_check, wrap_model
from auditkit._stats import difference_lower_bound, holm_adjusted, ratio_upper_bound
from auditkit.checks.fairness._common import (
    DISPARITIES,
    bound_comparisons,
    disparity_bounds,
    sensitive_group_sets,
)

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
#: The judged metrics of fairness_disparities -> (the disparity bounded, worst over group sets).
JUDGED = {"demographic_parity_difference_lower_bound": ("demographic_parity_difference", np.max),
          "equalized_odds_difference_lower_bound": ("equalized_odds_difference", np.max),
          "disparate_impact_ratio_upper_bound": ("disparate_impact_ratio", np.min)}
#: Simulated audits per size mix of the fast test: 400 put the standard error of a 5% rate
#: at 1.1%, so a policy flagging twice the nominal share would fail it by four errors.
N_SIMULATIONS = 400


def _groups(rng, sizes):
    """Sensitive features of these group sizes; the later ones shuffled across the first."""
    groups = {"f0": np.repeat([f"g{i}" for i in range(len(sizes[0]))], sizes[0])}
    for i, other in enumerate(sizes[1:], start=1):
        groups[f"f{i}"] = rng.permutation(np.repeat([f"h{j}" for j in range(len(other))],
                                                    other))
    return groups


def _equal_treatment(rng, shape):
    """Labels and predictions drawn alike in every group: every true disparity is 0."""
    y = rng.random(shape) < 0.3
    selected = np.where(y, rng.random(shape) < 0.75, rng.random(shape) < 0.15)
    return y, selected


def _judged_bounds(groups, y, selected, *, confidence=0.95, min_group_size=30):
    """fairness_disparities' judged bounds of many samples, through the check's own functions.

    ``y`` and ``selected`` are boolean, of shape (n_simulations, n_samples), one row per
    simulated audit of the same groups. The group sets (features and intersections), the
    per-group cell counts, the Bonferroni size of each family and the simultaneous bounds
    are the check's; only fairlearn's point metrics (not judged) are left out.
    """
    group_sets, _ = sensitive_group_sets(pd.DataFrame(groups))
    n_simulations = len(y)
    z = {name: norm.isf((1 - confidence) / sum(
        bound_comparisons(name, int((g.counts >= min_group_size).sum())) for g in group_sets))
        for name in DISPARITIES}
    cells = 2 * y.astype(np.int64) + selected  # the check's order: tn, fp, fn, tp
    per_set = {metric: [] for metric in JUDGED}
    for group_set in group_sets:
        width = 5 * len(group_set.groups)  # four cells and the right predictions per group
        start = np.arange(n_simulations)[:, None] * width + 5 * group_set.codes
        sums = (np.bincount((start + cells).ravel(), minlength=n_simulations * width)
                + np.bincount((start + 4).ravel(), weights=(y == selected).ravel(),
                              minlength=n_simulations * width)).reshape(n_simulations, width)
        judged = group_set.counts >= min_group_size
        bounds = [disparity_bounds(row[None], len(group_set.groups), 1, judged, z)
                  for row in sums]
        for metric, (name, _) in JUDGED.items():
            per_set[metric].append([b[name][0] for b in bounds])
    return {metric: worst(np.array(per_set[metric]), axis=0)
            for metric, (_, worst) in JUDGED.items()}


def test_equal_groups_are_flagged_at_most_at_the_nominal_rate():
    """1,200 simulated audits of equal groups: WARN or FAIL at most 5% (the level is 95%).

    Each is judged by the default policy's rules on the bounds the check computes
    (``_judged_bounds``; the next test shows that the check gives the same numbers), 400 per
    size mix. The raw demographic parity difference reaches the WARN level (0.1) in a large
    share of the same samples, so the test would catch a policy that judged it.
    """
    rng = np.random.default_rng(11)
    policy = Policy.default()
    assert set(JUDGED) == set(get_check(NAME).verdict_metrics)
    raw_warn = []
    for label, sizes in SIZE_MIXES.items():
        groups = _groups(rng, sizes)
        y, selected = _equal_treatment(rng, (N_SIMULATIONS, sum(sizes[0])))
        flagged = np.zeros(N_SIMULATIONS, dtype=bool)
        for metric, values in _judged_bounds(groups, y, selected).items():
            rule = policy.rule(NAME, metric)
            flagged |= [rule.judge(v) in (Status.WARN, Status.FAIL) for v in values]
        assert flagged.mean() <= 0.05, (label, flagged.mean())
        first = np.unique(groups["f0"], return_inverse=True)[1]
        rates = (selected @ np.eye(first.max() + 1)[first]) / np.bincount(first)
        raw_warn.append(np.ptp(rates, axis=1) >= 0.1)
    assert np.mean(raw_warn) >= 0.1


@pytest.mark.parametrize("label", SIZE_MIXES)
def test_the_check_passes_equal_groups_with_the_simulated_bounds(label):
    """The check itself and Policy.default().judge on equal groups: PASS, and the same bounds."""
    rng = np.random.default_rng(5)
    check, policy = get_check(NAME, n_resamples=0), Policy.default()
    groups = _groups(rng, SIZE_MIXES[label])
    y, selected = _equal_treatment(rng, (2, len(groups["f0"])))
    expected = _judged_bounds(groups, y, selected)
    for i in range(2):
        result = policy.judge(check.run(wrap_model(_selected), _data(groups, selected[i], y[i]),
                                        context=CheckContext(random_state=i)))
        assert result.status is Status.PASS, result.headline
        for metric, values in expected.items():
            assert result.metrics[metric].value == pytest.approx(values[i], abs=1e-12), metric


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
