"""ood_drift: two-sample drift tests, their false-alarm rates, and the planted Adult drift.

The statistics are checked against scipy, scikit-learn or their formula (KS,
chi-square, Wasserstein, PSI, Holm, MMD, DeLong); the false-alarm rate of each
test on two random halves of the same data is simulated over 200 seeds and must
sit at the nominal level; on Adult the check must stay quiet on adult-mlp's own
test split and flag adult-mlp-drift, whose audited rows over-represent older
people and managers and professionals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import pdist
from sklearn.metrics import roc_auc_score

from auditkit import AuditData, CheckContext, Policy, Status, get_check, wrap_model, zoo
from auditkit._stats import delong_interval
from auditkit.checks import OODDrift
from auditkit.checks.ood import _drift as drift
from auditkit.exceptions import CheckError

ALPHA = 0.05
N_SEEDS = 200
#: Proposed policy levels (see the module docstring of auditkit.checks.ood.drift).
RULES = {"max_psi_significant": (0.1, 0.25), "classifier_auroc_lower_bound": (0.6, 0.7)}
FAST = {"n_resamples": 200, "n_permutations": 200}


def _tolerance(n: int = N_SEEDS, alpha: float = ALPHA) -> float:
    """The largest false-alarm share a level-alpha test shows in n runs 99% of the time."""
    return stats.binom.ppf(0.99, n, alpha) / n


def _policy() -> Policy:
    policy = Policy.default()
    for metric, (warn, fail) in RULES.items():
        policy = policy.with_rule("ood_drift", metric, direction="lower_is_better", warn=warn,
                                  fail=fail)
    return policy


@pytest.fixture(scope="module")
def adult():
    return zoo.load("adult-mlp")


@pytest.fixture(scope="module")
def adult_units(adult):
    _, data = adult
    return drift.feature_units(data.X.shape[1], feature_names=data.feature_names,
                               feature_groups=data.feature_groups,
                               categorical_features=data.categorical_features)


# --- each statistic against its reference -------------------------------------------------


def test_psi_matches_its_formula_by_hand():
    reference, audited = np.array([50, 30, 20]), np.array([20, 30, 50])
    r, a = reference / 100, audited / 100
    expected = ((a - r) * np.log(a / r)).sum()
    assert drift.psi(reference, audited) == pytest.approx(expected)
    assert expected == pytest.approx(2 * 0.3 * np.log(2.5))
    # an empty bin is floored at 1e-4, not infinite
    assert drift.psi([10, 0], [5, 5]) == pytest.approx(
        (0.5 - 1.0) * np.log(0.5 / 1.0) + (0.5 - 1e-4) * np.log(0.5 / 1e-4))
    assert drift.psi([[1, 1], [1, 1]], [[1, 1], [2, 0]]).shape == (2,)


def test_psi_bins_are_reference_quantiles_right_closed_with_point_masses_merged():
    reference = np.array([0.0] * 8 + [1.0, 2.0])  # 80% at zero: one bin holds the mass
    ref_counts, aud_counts, labels = drift.psi_bins(reference, np.array([0.0, 3.0, 1.5]),
                                                    kind="numeric", n_bins=10)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    assert len(ref_counts) == len(edges) + 1 == len(labels)
    assert ref_counts.sum() == 10 and aud_counts.sum() == 3
    assert ref_counts[0] == 8 and aud_counts[0] == 1  # (-inf, 0]
    assert labels[0].startswith("(-inf, 0]")
    counts, _, cats = drift.psi_bins(np.array([0.0, 0, 1]), np.array([2.0]),
                                     kind="categorical", n_bins=10)
    assert counts.tolist() == [2, 1, 0] and cats == ["0", "1", "2"]


def test_univariate_tests_match_scipy():
    rng = np.random.default_rng(0)
    reference = np.column_stack([rng.normal(size=300), rng.integers(0, 3, 300)])
    audited = np.column_stack([rng.normal(0.3, 1.2, size=200), rng.integers(0, 3, 200)])
    units = [drift.FeatureUnit("x", (0,), "numeric"), drift.FeatureUnit("c", (1,), "categorical")]
    table, bins = drift.univariate_table(reference, audited, units, alpha=0.05,
                                         correction="holm", n_bins=10, n_resamples=0,
                                         confidence=0.95, rng=rng)
    ks = stats.ks_2samp(reference[:, 0], audited[:, 0])
    assert table.loc[0, "statistic"] == pytest.approx(ks.statistic)
    assert table.loc[0, "p_value"] == pytest.approx(ks.pvalue)
    assert table.loc[0, "wasserstein_sd"] == pytest.approx(
        stats.wasserstein_distance(reference[:, 0], audited[:, 0]) / reference[:, 0].std(ddof=1))
    contingency = np.array([np.bincount(reference[:, 1].astype(int)),
                            np.bincount(audited[:, 1].astype(int))])
    chi2 = stats.chi2_contingency(contingency)
    assert table.loc[1, "statistic"] == pytest.approx(chi2.statistic)
    assert table.loc[1, "p_value"] == pytest.approx(chi2.pvalue)
    assert np.isnan(table.loc[1, "wasserstein_sd"])
    p = table["p_value"].to_numpy()
    assert table["p_corrected"].tolist() == pytest.approx(
        [min(1, max(2 * p.min(), p.max())) if v == p.max() else min(1, 2 * v) for v in p])
    assert table["drifted"].tolist() == (table["p_corrected"] < 0.05).tolist()
    r, a = bins[1]["reference"], bins[1]["audited"]
    assert table.loc[1, "psi"] == pytest.approx(((a - r) * np.log(a / r)).sum())


def test_rare_categories_are_pooled_before_the_chi_square():
    reference = np.array([0] * 50 + [1] * 50 + [2] * 2 + [3] * 1, dtype=float)
    audited = np.array([0] * 40 + [1] * 60 + [3] * 1, dtype=float)
    statistic, p_value = drift._chi_square(reference, audited)
    pooled = stats.chi2_contingency(np.array([[50, 50, 3], [40, 60, 1]]))
    assert (statistic, p_value) == pytest.approx((pooled.statistic, pooled.pvalue))


def test_holm_and_bonferroni_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    assert drift.adjusted_p_values(p, "holm").tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert drift.adjusted_p_values(p, "bonferroni").tolist() == pytest.approx([0.04, 0.16,
                                                                               0.12, 0.8])


def test_one_hot_groups_are_one_categorical_feature_and_unseen_rows_their_own_code():
    units = drift.feature_units(5, feature_names=["age", "job=a", "job=b", "job=c", "flag"],
                                feature_groups={"age": [0], "job": [1, 2, 3]},
                                categorical_features=["job", "flag"])
    assert [(u.name, u.columns, u.kind) for u in units] == [
        ("age", (0,), "numeric"), ("job", (1, 2, 3), "categorical"),
        ("flag", (4,), "categorical")]
    assert units[1].labels == ("a", "b", "c")
    X = np.array([[0, 0, 1, 0, 1], [0, 0, 0, 0, 0], [0, 1, 0, 0, 1]], dtype=float)
    assert drift.categorical_codes(X, units[1]).tolist() == [1, 3, 0]


def _direct_mmd2(X: np.ndarray, Y: np.ndarray, bandwidth: float) -> float:
    def k(A, B):
        return np.exp(-((A[:, None, :] - B[None, :, :]) ** 2).sum(-1) / (2 * bandwidth ** 2))

    m, n = len(X), len(Y)
    kxx, kyy = k(X, X), k(Y, Y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy))
            / (n * (n - 1)) - 2 * k(X, Y).mean())


def test_mmd_matches_the_direct_quadratic_formula_and_the_median_heuristic():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(23, 3)), rng.normal(0.4, 1.0, size=(17, 3))
    Z = np.vstack([X, Y])
    bandwidth = drift.median_bandwidth(Z)
    assert bandwidth == pytest.approx(np.median(pdist(Z)))
    K = drift.gaussian_kernel(Z, bandwidth)
    assert drift.mmd_squared(K, np.arange(40) < 23)[0] == pytest.approx(
        _direct_mmd2(X, Y, bandwidth))
    # every relabelling in a block, against the direct formula
    splits = rng.permuted(np.tile(np.arange(40) < 23, (5, 1)), axis=1)
    direct = [_direct_mmd2(Z[s], Z[~s], bandwidth) for s in splits]
    assert drift.mmd_squared(K, splits) == pytest.approx(direct)


def test_permutation_p_value_is_one_plus_k_over_one_plus_b_and_never_zero():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(30, 2)), rng.normal(3.0, 1.0, size=(30, 2))
    result = drift.mmd_permutation_test(X, Y, n_permutations=99, rng=rng)
    k = int((result.null >= result.statistic).sum())
    assert k == 0 and result.p_value == pytest.approx(1 / 100)
    same = drift.mmd_permutation_test(X, X[::-1] + 0.0, n_permutations=49, rng=rng)
    assert same.p_value == pytest.approx((1 + (same.null >= same.statistic - 1e-15).sum()) / 50)
    assert 0 < same.p_value <= 1


def test_delong_matches_sklearn_and_the_placement_formula():
    rng = np.random.default_rng(3)
    positive = rng.random(120) < 0.4
    scores = np.round(rng.normal(size=120) + 0.8 * positive, 1)  # with ties
    auc, lower, upper, p_value = delong_interval(scores, positive, 0.95)
    assert auc == pytest.approx(roc_auc_score(positive, scores))
    pos, neg = scores[positive], scores[~positive]
    psi_ = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi_.mean(axis=1), psi_.mean(axis=0)
    se = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    assert (lower, upper) == pytest.approx((auc - 1.959964 * se, auc + 1.959964 * se))
    assert p_value == pytest.approx(stats.norm.sf((auc - 0.5) / se))


def test_bias_corrected_interval_moves_below_biased_resamples():
    resampled = np.linspace(0.1, 0.2, 1001)
    low, high = drift.bias_corrected_interval(resampled, 0.15, 0.95)
    assert (low, high) == pytest.approx(np.quantile(resampled, [0.025, 0.975]), rel=1e-3)
    low, high = drift.bias_corrected_interval(resampled, 0.11, 0.95)  # resamples mostly above
    assert high < np.quantile(resampled, 0.975) and low == pytest.approx(resampled.min(),
                                                                          abs=1e-3)


# --- false alarms on two halves of the same data (the size of each test) -------------------


def test_per_feature_holm_family_wise_false_alarm_rate_is_at_most_alpha(adult, adult_units):
    _, data = adult
    X = np.asarray(data.X, dtype=np.float64)
    alarms = 0
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        rows = rng.choice(len(X), 300, replace=False)
        table, _ = drift.univariate_table(X[rows[:150]], X[rows[150:]], adult_units,
                                          alpha=ALPHA, correction="holm", n_bins=10,
                                          n_resamples=0, confidence=0.95, rng=rng)
        alarms += bool(table["drifted"].any())
    assert alarms / N_SEEDS <= _tolerance()


def test_mmd_permutation_false_alarm_rate_is_at_most_alpha():
    alarms = 0
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        Z = rng.standard_t(df=5, size=(60, 4))
        result = drift.mmd_permutation_test(Z[:30], Z[30:], n_permutations=99, rng=rng)
        alarms += result.p_value <= ALPHA
    assert alarms / N_SEEDS <= _tolerance()


def test_classifier_two_sample_false_alarm_rate_is_at_most_alpha():
    alarms = flagged = 0
    for seed in range(N_SEEDS):
        rng = np.random.default_rng(seed)
        Z = rng.normal(size=(120, 3))
        result = drift.classifier_two_sample_test(Z[:60], Z[60:], [], classifier="logistic",
                                                  test_fraction=0.5, confidence=0.95, rng=rng)
        alarms += result.p_value <= ALPHA
        flagged += result.lower >= RULES["classifier_auroc_lower_bound"][0]
    assert alarms / N_SEEDS <= _tolerance()
    assert flagged == 0


# --- the check ------------------------------------------------------------------------------


def test_quiet_on_adult_mlps_own_test_split(adult):
    model, data = adult
    result = OODDrift(**FAST).run(wrap_model(model, device="cpu"), data, context=CheckContext())
    metrics = result.metrics
    assert metrics["max_psi_significant"].value < RULES["max_psi_significant"][0]
    assert metrics["classifier_auroc_lower_bound"].value < RULES["classifier_auroc_lower_bound"][0]
    assert metrics["drifted_share"].value == 0.0  # no feature below Holm's alpha
    assert metrics["classifier_p_value"].value > ALPHA
    assert metrics["max_psi"].value < 0.02
    assert _policy().judge(result).status is Status.PASS


def test_flags_the_planted_drift_of_adult_mlp_drift():
    model, data, card = zoo.load_with_card("adult-mlp-drift")
    result = OODDrift(**FAST).run(wrap_model(model, device="cpu"), data, context=CheckContext())
    features = result.tables["features"].set_index("feature")
    assert features.loc["age", "drifted"] and features.loc["occupation", "drifted"]
    assert features.loc["age", "psi"] > 0.3
    assert result.metrics["max_psi_significant"].value == pytest.approx(features.loc["age", "psi"])
    assert result.metrics["max_psi_significant"].lower > RULES["max_psi_significant"][1]
    assert result.metrics["classifier_auroc_lower_bound"].value > 0.6
    assert result.metrics["mmd_p_value"].value == pytest.approx(1 / 201)
    assert result.tables["separating_features"]["feature"].iloc[0] == "age"
    assert "occupation" in result.tables["separating_features"]["feature"].iloc[:3].tolist()
    assert _policy().judge(result).status is Status.FAIL
    assert card["planted_defect"]["measured"]["drifted_split"]["aged_50_or_older"] > 0.5


def test_adult_mlp_drift_reuses_adult_mlps_weights_and_reference(adult):
    model, data, card = zoo.load_with_card("adult-mlp-drift")
    base_model, base = adult
    assert card["checkpoint"] == base_model.model_card["checkpoint"]
    assert data.n_samples == card["planted_defect"]["rows"] == 5000
    np.testing.assert_array_equal(data.reference, base.reference)
    for ours, theirs in zip(model.state_dict().values(), base_model.state_dict().values(),
                            strict=True):
        assert (ours == theirs).all()
    from auditkit.zoo.adult_drift import drifted_rows

    rows = drifted_rows(zoo.load_adult()[1])
    np.testing.assert_array_equal(data.X, base.X[rows])
    assert zoo.info("adult-mlp-drift")["planted_defect"]["seed"] == 0


def test_runs_on_learned_features_of_images(image_case):
    model, data = image_case
    result = OODDrift(**FAST).run(wrap_model(model, device="cpu"), data, context=CheckContext())
    assert result.status is Status.INFO
    assert "principal components" in result.headline
    assert result.tables["features"]["feature"].iloc[0] == "PC1"
    assert set(result.metrics) >= set(OODDrift.verdict_metrics)


def test_falls_back_to_probabilities_and_says_so(image_case):
    model, data = image_case

    def proba(X):
        return wrap_model(model, device="cpu").predict_proba(X)

    result = OODDrift(**FAST).run(wrap_model(proba), data, context=CheckContext())
    assert "predicted probabilities" in result.headline
    assert "no penultimate features" in result.headline


def test_finds_a_shift_of_learned_features():
    rng = np.random.default_rng(5)
    from conftest import TinyCNN, _centre_and_label

    model = TinyCNN()
    reference = rng.uniform(0, 0.5, size=(200, 1, 8, 8)).astype(np.float32)
    shifted = rng.uniform(0.3, 0.8, size=(200, 1, 8, 8)).astype(np.float32)
    y = _centre_and_label(model, shifted, 3, 0)
    data = AuditData(shifted, y, reference=reference, modality="image")
    result = OODDrift(**FAST).run(wrap_model(model, device="cpu"), data, context=CheckContext())
    assert result.metrics["classifier_auroc_lower_bound"].value > 0.9
    assert result.metrics["max_psi_significant"].value > 0.25


def test_skips_without_reference_data(make_binary):
    X, y, _ = make_binary(n=50)
    _, result = OODDrift(), OODDrift().run(wrap_model(lambda Z: np.full((len(Z), 2), 0.5)),
                                           AuditData(X, y), context=CheckContext())
    assert result.status is Status.SKIP
    assert "reference" in result.headline


def test_bad_options_are_named():
    with pytest.raises(CheckError, match=r"The 'correction' option of check 'ood_drift' must be "
                                         r"one of \{'holm', 'bonferroni'\}\. Got 'fdr' instead"):
        get_check("ood_drift", correction="fdr")
    with pytest.raises(CheckError, match=r"'alpha' option of check 'ood_drift'.*Got 1.5"):
        OODDrift(alpha=1.5)


def test_result_is_deterministic_and_every_figure_draws(binary_data, torch_model, tmp_path):
    from auditkit.report._plots import draw

    adapter = wrap_model(torch_model, device="cpu")
    first = OODDrift(**FAST).run(adapter, binary_data, context=CheckContext(random_state=3))
    second = OODDrift(**FAST).run(adapter, binary_data, context=CheckContext(random_state=3))
    assert first.with_changes(duration_s=0.0) == second.with_changes(duration_s=0.0)
    assert set(first.figures) == {"effect_sizes", "distributions", "mmd_null"}
    for name, figure in first.figures.items():
        drawn = draw(figure)
        drawn.savefig(tmp_path / f"{name}.png")
    assert isinstance(first.tables["features"], pd.DataFrame)


def test_gradient_boosting_finds_a_change_of_spread_that_logistic_regression_misses():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(400, 2)), rng.normal(scale=2.0, size=(400, 2))
    units = [drift.FeatureUnit(f"x{i}", (i,), "numeric") for i in range(2)]
    common = {"test_fraction": 0.5, "confidence": 0.95}
    linear = drift.classifier_two_sample_test(X, Y, units, classifier="logistic",
                                              rng=np.random.default_rng(0), **common)
    boosted = drift.classifier_two_sample_test(X, Y, units, classifier="gradient_boosting",
                                               rng=np.random.default_rng(0), **common)
    assert linear.lower < 0.5 < 0.65 < boosted.lower
    assert set(boosted.importance["feature"]) == {"x0", "x1"}
    assert (boosted.importance["auroc_drop"] > 0.05).all()


def test_audit_report_shows_the_drift_check(tmp_path):
    from auditkit import audit

    model, data = zoo.load("adult-mlp-drift")
    result = audit(model, data, checks=[OODDrift(**FAST)], policy=_policy(), device="cpu")
    (check,) = list(result)
    assert check.status is Status.FAIL
    html = result.save_html(tmp_path / "drift.html").read_text("utf-8")
    assert "ood_drift" in html and "<svg" in html


def test_says_when_learned_features_compare_training_inputs(image_case):
    model, data = image_case
    X, y = np.asarray(data.X), np.asarray(data.y)
    adapter = wrap_model(model, device="cpu")
    with_train = AuditData(X[45:], y[45:], train=(X[:45], y[:45]), modality="image")
    held_out = AuditData(X[45:], y[45:], reference=X[:45], modality="image")
    said = OODDrift(**FAST).run(adapter, with_train, context=CheckContext()).headline
    assert "training inputs as reference" in said and "overfitting" in said
    assert "training inputs" not in OODDrift(**FAST).run(adapter, held_out,
                                                         context=CheckContext()).headline


def test_a_trivial_shift_of_a_huge_sample_is_significant_but_passes(adult):
    _, data = adult
    train = np.asarray(data.train.X, dtype=np.float64)
    rng = np.random.default_rng(8)
    rows = rng.choice(len(train), 40_000, replace=True)
    reference, audited = train[rows[:20_000]], train[rows[20_000:]].copy()
    age = data.feature_names.index("age")
    audited[:, age] += 0.05  # standardised: a twentieth of a standard deviation
    shifted = AuditData(audited, np.arange(20_000) % 2, reference=reference,
                        feature_names=data.feature_names, feature_groups=data.feature_groups,
                        categorical_features=data.categorical_features)
    result = OODDrift(**FAST).run(wrap_model(lambda Z: np.full((len(Z), 2), 0.5)), shifted,
                                  context=CheckContext())
    features = result.tables["features"].set_index("feature")
    assert features.loc["age", "drifted"] and features.loc["age", "p_corrected"] < 1e-6
    assert 0.04 < features.loc["age", "wasserstein_sd"] < 0.1  # the shift, plus noise
    assert 0 < result.metrics["max_psi_significant"].value < 0.02
    assert _policy().judge(result).status is Status.PASS
