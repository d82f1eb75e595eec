"""Empirical epsilon from canaries: the one-run and classic bounds against hand computations,
their false-alarm rate without signal, and the canary check on a tiny model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, binom
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, CheckContext, Status, wrap_model
from auditkit.checks import PrivacyCanaryAudit
from auditkit.checks.privacy._epsilon import (
    classic_epsilon,
    one_run_epsilon,
    one_run_epsilon_bound,
    one_run_p_value,
)


def _p_value_by_hand(m, r, v, eps, delta):
    """Steinke, Nasr & Jagielski (2023), Algorithm 2, written as their loop."""
    q = 1 / (1 + math.exp(-eps))
    tail = binom.sf(v - 1, r, q)
    alpha, total = 0.0, 0.0
    for i in range(1, v + 1):
        total += binom.pmf(v - i, r, q)
        if total > i * alpha:
            alpha = total / i
    return min(tail + alpha * delta * 2 * m, 1.0)


@pytest.mark.parametrize("m, r, v, eps, delta", [
    (1000, 100, 90, 1.0, 0.0), (1000, 100, 90, 1.0, 1e-5), (200, 60, 50, 2.0, 1e-3),
    (50, 10, 10, 0.5, 0.01),
])
def test_one_run_p_value_matches_the_papers_algorithm(m, r, v, eps, delta):
    assert one_run_p_value(m, r, v, eps, delta) == pytest.approx(
        _p_value_by_hand(m, r, v, eps, delta), rel=1e-9)


def test_all_guesses_right_has_a_closed_form():
    # P[Binomial(r, q) >= r] = q^r = beta  =>  q = beta^(1/r), eps = log(q / (1 - q))
    q = 0.05 ** (1 / 100)
    assert one_run_epsilon(1000, 100, 100, delta=0.0, significance=0.05) == pytest.approx(
        math.log(q / (1 - q)), abs=1e-5)
    # delta only weakens the bound
    assert one_run_epsilon(1000, 100, 100, delta=1e-4, significance=0.05) < math.log(q / (1 - q))


def test_half_right_gives_no_bound():
    assert one_run_epsilon(1000, 100, 50, delta=0.0, significance=0.05) == 0.0


def test_classic_bound_by_hand():
    # 20 included scored 1..20 (+100), 20 held out 1..20: at 0% FPR all 20 are found
    included = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    scores = np.r_[np.arange(20) + 100.0, np.arange(20.0)]
    bound = classic_epsilon(scores, included, delta=0.0, confidence=0.95, fprs=(0.0,))
    alpha = 0.05 / 2
    tpr_lower = beta.ppf(alpha, 20, 1)           # one-sided CP lower at 20 of 20
    fpr_upper = beta.ppf(1 - alpha, 1, 20)       # one-sided CP upper at 0 of 20
    assert bound.epsilon == pytest.approx(math.log(tpr_lower / fpr_upper))
    assert bound.detail["tpr"] == 1.0 and bound.detail["fpr"] == 0.0


def test_no_signal_gives_a_bound_of_zero_almost_always():
    crossed_one_run = crossed_classic = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        included = rng.random(400) < 0.5
        scores = rng.normal(size=400)
        crossed_one_run += one_run_epsilon_bound(scores, included, delta=1e-5,
                                                 confidence=0.95).epsilon > 0
        crossed_classic += classic_epsilon(scores, included, delta=1e-5,
                                           confidence=0.95).epsilon > 0
    assert crossed_one_run <= 5 and crossed_classic <= 5


def test_perfect_signal_gives_a_large_bound_and_more_canaries_a_larger_one():
    bounds = []
    for m in (100, 1000):
        rng = np.random.default_rng(m)
        included = rng.random(m) < 0.5
        scores = included + rng.random(m) * 0.5
        bounds.append(one_run_epsilon_bound(scores, included, delta=1e-5, confidence=0.95,
                                            rng=rng).epsilon)
    assert bounds[0] > 1.5 and bounds[1] > 4.0 and bounds[1] > bounds[0]


def _canary_case(planted: bool, seed: int = 0):
    """Logistic regression in 200 dimensions; 100 mislabelled canaries, half trained on."""
    rng = np.random.default_rng(seed)
    d = 200
    X, X_test = rng.normal(size=(300, d)), rng.normal(size=(300, d))
    w = rng.normal(size=d)
    y, y_test = (X @ w > 0).astype(int), (X_test @ w > 0).astype(int)
    X_c = rng.normal(size=(100, d))
    y_c = (X_c @ w <= 0).astype(int)  # the wrong label: only memorising fits it
    included = rng.permutation(np.r_[np.ones(50, bool), np.zeros(50, bool)])
    X_fit = np.r_[X, X_c[included]] if planted else X
    y_fit = np.r_[y, y_c[included]] if planted else y
    model = LogisticRegression(C=100.0, max_iter=5000).fit(X_fit, y_fit)
    data = AuditData(X_test, y_test, train=(X_fit, y_fit), canaries=(X_c, y_c, included))
    return wrap_model(model), data


def test_canary_check_finds_planted_canaries_and_not_absent_ones():
    context = CheckContext(random_state=0)
    model, data = _canary_case(planted=True)
    result = PrivacyCanaryAudit().run(model, data, context=context)
    epsilon = result.metrics["epsilon_lower_bound"].value
    assert epsilon > 1.0
    assert result.headline.startswith(f"This model behaves no better than epsilon >= "
                                      f"{epsilon:.2f} (95% confidence")
    assert set(result.tables["bounds"]["method"].str.split(" ").str[0]) == {"one-run", "classic"}
    model, data = _canary_case(planted=False)
    clean = PrivacyCanaryAudit().run(model, data, context=CheckContext(random_state=0))
    assert clean.metrics["epsilon_lower_bound"].value == 0.0
    assert "give no lower bound on epsilon above 0" in clean.headline


def test_canary_check_is_deterministic_and_skips_without_canaries():
    model, data = _canary_case(planted=True)
    first = PrivacyCanaryAudit().run(model, data, context=CheckContext(random_state=4))
    second = PrivacyCanaryAudit().run(model, data, context=CheckContext(random_state=4))
    assert first.metrics == second.metrics and first.tables["bounds"].equals(
        second.tables["bounds"])
    plain = AuditData(data.X, data.y, train=(data.train.X, data.train.y))
    skipped = PrivacyCanaryAudit().run(model, plain, context=CheckContext())
    assert skipped.status == Status.SKIP and "canaries=(X_canaries" in skipped.headline


def test_one_run_bound_valid_for_a_fair_coin_and_dropped_when_the_count_rules_it_out():
    model, data = _canary_case(planted=True)
    result = PrivacyCanaryAudit().run(model, data, context=CheckContext(random_state=0))
    notes = result.tables["notes"].set_index("item")["value"]
    assert notes["fair coin"].startswith("50 of 100 included: consistent with a fair coin")
    assert notes["fair coin"].endswith("the one-run bound is valid")
    assert result.tables["bounds"]["valid"].all()
    lopsided = np.zeros(100, bool)
    lopsided[np.flatnonzero(data.canaries.included)[:20]] = True  # 20 of 100: p ~ 1e-9
    tilted = AuditData(data.X, data.y, train=(data.train.X, data.train.y),
                       canaries=(data.canaries.X, data.canaries.y, lopsided))
    result = PrivacyCanaryAudit().run(model, tilted, context=CheckContext(random_state=0))
    notes = result.tables["notes"].set_index("item")["value"]
    assert "not a fair coin per canary" in notes["fair coin"]
    bounds = result.tables["bounds"].set_index("valid")["epsilon_lower_bound"]
    assert result.metrics["epsilon_lower_bound"].value == pytest.approx(bounds[True])
