"""Performance checks against scikit-learn, and hand-computed calibration error.

Every point estimate of ``performance_metrics`` must equal scikit-learn's on the
same inputs; the Poisson bootstrap must give the intervals a naive loop of
scikit-learn calls with the same weights gives.
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from sklearn import metrics as skm

import auditkit._stats as stats
from auditkit import AuditData, CheckContext, wrap_model
from auditkit._stats import expected_calibration_error
from auditkit.checks import (
    PerformanceCalibration,
    PerformanceConfusionMatrix,
    PerformanceGeneralisation,
    PerformanceMetrics,
)

#: Metrics with a closed-form interval, and its method.
CLOSED_FORM = {"accuracy": "Wilson score interval",
               "balanced_accuracy": "MOVER-Wilson interval of a mean of proportions "
                                    "(Zou & Donner 2008)"}
METRIC_NAMES = ["accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
                "roc_auc", "log_loss", "brier_score"]


def run(check, model, data, seed=0):
    return check.run(wrap_model(model), data, context=CheckContext(random_state=seed))


def sklearn_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """The reference values, straight from scikit-learn."""
    k = proba.shape[1]
    labels = np.arange(k)
    guess = np.argmax(proba, axis=1)
    binary = k == 2
    return {
        "accuracy": skm.accuracy_score(y, guess),
        "balanced_accuracy": skm.balanced_accuracy_score(y, guess),
        "precision_macro": skm.precision_score(y, guess, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, guess, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, guess, average="macro", zero_division=0),
        "roc_auc": (skm.roc_auc_score(y, proba[:, 1]) if binary else
                    skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")),
        "log_loss": skm.log_loss(y, proba, labels=labels),
        "brier_score": (skm.brier_score_loss(y, proba[:, 1]) if binary else
                        skm.brier_score_loss(y, proba, labels=labels)),
    }


def three_class_black_box(X):
    z = np.asarray(X)[:, :3] * np.array([1.0, 0.7, -0.4])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(params=["sklearn_binary", "sklearn_4_class", "black_box_binary",
                        "black_box_3_class"])
def case(request, logreg, logreg_multiclass, black_box, binary_data, multiclass_data):
    """(model, data, probabilities the model gives on data.X)."""
    if request.param == "sklearn_binary":
        return logreg, binary_data, logreg.predict_proba(binary_data.X)
    if request.param == "sklearn_4_class":
        return logreg_multiclass, multiclass_data, logreg_multiclass.predict_proba(
            multiclass_data.X)
    if request.param == "black_box_binary":
        return black_box, binary_data, black_box(binary_data.X)
    y3 = (multiclass_data.y % 3).astype(np.int64)
    data = AuditData(multiclass_data.X, y3)
    return three_class_black_box, data, three_class_black_box(data.X)


def test_metrics_equal_scikit_learn(case):
    model, data, proba = case
    result = run(PerformanceMetrics(n_resamples=0), model, data)
    expected = sklearn_metrics(data.y, proba)
    assert list(result.metrics) == METRIC_NAMES
    for name in METRIC_NAMES:
        assert result.metrics[name].value == pytest.approx(expected[name], rel=1e-12,
                                                           abs=1e-15), name
        assert result.metrics[name].n == data.n_samples
    assert result.metrics["log_loss"].higher_is_better is False
    assert result.metrics["accuracy"].higher_is_better is True


def test_multiclass_brier_score_is_mean_squared_distance_to_onehot(logreg_multiclass,
                                                                   multiclass_data):
    proba = logreg_multiclass.predict_proba(multiclass_data.X)
    by_hand = ((proba - np.eye(4)[multiclass_data.y]) ** 2).sum(axis=1).mean()
    result = run(PerformanceMetrics(n_resamples=0), logreg_multiclass, multiclass_data)
    assert result.metrics["brier_score"].value == pytest.approx(by_hand, rel=1e-12)


def test_per_class_table_equals_precision_recall_fscore_support(case):
    model, data, proba = case
    result = run(PerformanceMetrics(n_resamples=0), model, data)
    table = result.tables["per_class"]
    k = proba.shape[1]
    guess = np.argmax(proba, axis=1)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        data.y, guess, labels=np.arange(k), zero_division=0)
    assert list(table.columns) == ["precision", "recall", "f1", "roc_auc_one_vs_rest", "support"]
    assert table.index.name == "class"
    assert list(table.index) == [str(c) for c in range(k)]
    np.testing.assert_allclose(table["precision"], precision, rtol=1e-12)
    np.testing.assert_allclose(table["recall"], recall, rtol=1e-12)
    np.testing.assert_allclose(table["f1"], f1, rtol=1e-12)
    np.testing.assert_array_equal(table["support"], support)
    auc = [skm.roc_auc_score(data.y == c, proba[:, c]) for c in range(k)]
    np.testing.assert_allclose(table["roc_auc_one_vs_rest"], auc, rtol=1e-12)


def test_per_class_table_uses_class_names(logreg, binary_arrays):
    X, y, _ = binary_arrays
    data = AuditData(X, y, class_names=["rejected", "approved"])
    table = run(PerformanceMetrics(n_resamples=0), logreg, data).tables["per_class"]
    assert list(table.index) == ["rejected", "approved"]


def test_confusion_matrix_equals_scikit_learn(case):
    model, data, proba = case
    result = run(PerformanceConfusionMatrix(), model, data)
    guess = np.argmax(proba, axis=1)
    k = proba.shape[1]
    expected = skm.confusion_matrix(data.y, guess, labels=np.arange(k))
    matrix = result.tables["confusion_matrix"]
    np.testing.assert_array_equal(matrix.to_numpy(), expected)
    assert (matrix.index.name, matrix.columns.name) == ("true", "predicted")
    np.testing.assert_array_equal(result.figures["confusion_matrix"].data["counts"], expected)
    errors = expected.sum() - np.trace(expected)
    assert result.metrics["error_rate"].value == pytest.approx(errors / data.n_samples)
    top = result.tables["top_confusions"]
    off = expected.copy()
    np.fill_diagonal(off, 0)
    first = np.unravel_index(np.argmax(off), off.shape)
    assert (top["true_class"].iloc[0], top["predicted_class"].iloc[0]) == tuple(
        str(c) for c in first)
    assert top["count"].iloc[0] == off.max()
    assert result.headline.startswith(f"{errors:,} of {data.n_samples:,} samples misclassified")


def test_top_confusions_are_only_off_diagonal(logreg, binary_data):
    result = run(PerformanceConfusionMatrix(top_k=5), logreg, binary_data)
    top = result.tables["top_confusions"]
    counts = result.tables["confusion_matrix"].to_numpy()
    assert (top["true_class"] != top["predicted_class"]).all()
    assert len(top) == 2  # a binary model has two kinds of error
    assert list(top["count"]) == sorted([counts[0, 1], counts[1, 0]], reverse=True)


# -- calibration, by hand ------------------------------------------------------------------

# Four samples, two classes. Top probability (confidence) and whether argmax is right:
#   sample 0: [0.95, 0.05], y=0 -> confidence 0.95, correct
#   sample 1: [0.15, 0.85], y=0 -> confidence 0.85, wrong
#   sample 2: [0.35, 0.65], y=1 -> confidence 0.65, correct
#   sample 3: [0.75, 0.25], y=1 -> confidence 0.75, wrong
# With 5 equal-width bins (lower, upper]:
#   bin (0.8, 1.0]: samples 0, 1 -> accuracy 0.5, mean confidence 0.9, gap 0.4
#   bin (0.6, 0.8]: samples 2, 3 -> accuracy 0.5, mean confidence 0.7, gap 0.2
# ECE = 2/4 * 0.4 + 2/4 * 0.2 = 0.3; MCE = 0.4; mean confidence 0.8; accuracy 0.5.
TABLE = np.array([[0.95, 0.05], [0.15, 0.85], [0.35, 0.65], [0.75, 0.25]])
TINY = AuditData(np.arange(4.0)[:, None], [0, 0, 1, 1])


def lookup_model(X):
    return TABLE[np.asarray(X)[:, 0].astype(int)]


def test_ece_by_hand_through_the_check():
    result = run(PerformanceCalibration(n_bins=5, n_resamples=0), lookup_model, TINY)
    metrics = result.metrics
    assert metrics["expected_calibration_error"].value == pytest.approx(0.3, abs=1e-12)
    assert metrics["maximum_calibration_error"].value == pytest.approx(0.4, abs=1e-12)
    assert metrics["mean_confidence"].value == pytest.approx(0.8, abs=1e-12)
    assert metrics["accuracy"].value == pytest.approx(0.5, abs=1e-12)
    assert not metrics["expected_calibration_error"].has_interval
    bins = result.tables["bins"]
    np.testing.assert_array_equal(bins["count"], [0, 0, 0, 2, 2])
    np.testing.assert_allclose(bins["lower"], [0.0, 0.2, 0.4, 0.6, 0.8])
    np.testing.assert_allclose(bins["accuracy"].iloc[3:], [0.5, 0.5])
    np.testing.assert_allclose(bins["mean_confidence"].iloc[3:], [0.7, 0.9])
    np.testing.assert_allclose(bins["gap"].iloc[3:], [-0.2, -0.4])
    assert bins["accuracy"].iloc[:3].isna().all()
    assert "confidence minus accuracy +30.0 points" in result.headline


def test_ece_by_hand_through_the_function():
    confidence = TABLE.max(axis=1)
    correct = np.array([1.0, 0.0, 1.0, 0.0])
    ece, bins = expected_calibration_error(confidence, correct, n_bins=5)
    assert ece == pytest.approx(0.3, abs=1e-12)
    assert bins["count"].sum() == 4


def test_ece_is_zero_when_confidence_matches_accuracy():
    # Four samples at confidence 0.75, three of them right: one bin, no gap.
    confidence = np.full(4, 0.75)
    ece, _ = expected_calibration_error(confidence, np.array([1.0, 1.0, 1.0, 0.0]), n_bins=10)
    assert ece == pytest.approx(0.0, abs=1e-12)


def test_ece_bin_edges_are_closed_on_the_right():
    # 0.5 belongs to (0.4, 0.5] with 5 bins, and 1.0 to the last bin; 0.0 joins the first.
    _, bins = expected_calibration_error(np.array([0.5, 1.0, 0.0]), np.ones(3), n_bins=5)
    np.testing.assert_array_equal(bins["count"], [1, 0, 1, 0, 1])


def test_calibration_skips_without_probabilities(make_multiclass):
    from sklearn.svm import LinearSVC

    X, y = make_multiclass(n=60, n_classes=2, seed=3)
    result = run(PerformanceCalibration(), LinearSVC().fit(X, y), AuditData(X, y))
    assert result.status.value == "SKIP"
    assert "probabilities" in result.headline


# -- bootstrap intervals ----------------------------------------------------------------------


def test_intervals_contain_the_point_estimate(case):
    model, data, _ = case
    result = run(PerformanceMetrics(n_resamples=300), model, data)
    for name, metric in result.metrics.items():
        assert metric.has_interval, name
        assert metric.lower <= metric.value <= metric.upper, name
        assert metric.lower < metric.upper, name
        assert metric.confidence == 0.95
        assert metric.method == CLOSED_FORM.get(name, "Poisson bootstrap, 300 resamples"), name


def test_intervals_are_deterministic_for_a_seed_and_change_with_it(logreg, binary_data):
    check = PerformanceMetrics(n_resamples=200)
    first = run(check, logreg, binary_data, seed=1)
    again = run(check, logreg, binary_data, seed=1)
    other = run(check, logreg, binary_data, seed=2)
    assert first.metrics == again.metrics
    assert [m.value for m in first.metrics.values()] == [m.value for m in other.metrics.values()]
    assert any((first.metrics[k].lower, first.metrics[k].upper)
               != (other.metrics[k].lower, other.metrics[k].upper) for k in first.metrics)
    calibration = PerformanceCalibration(n_resamples=200)
    ece_1 = run(calibration, logreg, binary_data, seed=1).metrics["expected_calibration_error"]
    assert ece_1 == run(calibration, logreg, binary_data, seed=1).metrics[
        "expected_calibration_error"]
    assert ece_1 != run(calibration, logreg, binary_data, seed=2).metrics[
        "expected_calibration_error"]


def test_intervals_narrow_with_more_samples(logreg, make_binary):
    X, y, _ = make_binary(n=2000, seed=21)
    check = PerformanceMetrics(n_resamples=300)
    small = run(check, logreg, AuditData(X[:100], y[:100])).metrics
    large = run(check, logreg, AuditData(X, y)).metrics
    for name in ("accuracy", "roc_auc", "log_loss", "brier_score"):
        width_small = small[name].upper - small[name].lower
        width_large = large[name].upper - large[name].lower
        assert width_large < width_small / 2, name  # about sqrt(20) narrower


def test_no_resamples_gives_no_bootstrap_interval_but_closed_forms_stay(logreg, binary_data):
    result = run(PerformanceMetrics(n_resamples=0), logreg, binary_data)
    for name, metric in result.metrics.items():
        assert metric.n == binary_data.n_samples
        if name in CLOSED_FORM:  # a closed form costs nothing: always there
            assert metric.has_interval and metric.method == CLOSED_FORM[name]
            continue
        assert (metric.lower, metric.upper, metric.confidence, metric.method) == (
            None, None, None, None)
        assert not metric.has_interval
    assert "Wilson CI" in result.headline


def test_interval_level_follows_confidence(logreg, binary_data):
    wide = run(PerformanceMetrics(n_resamples=300, confidence=0.99), logreg, binary_data)
    narrow = run(PerformanceMetrics(n_resamples=300, confidence=0.5), logreg, binary_data)
    assert wide.metrics["accuracy"].confidence == 0.99
    assert (wide.metrics["accuracy"].upper - wide.metrics["accuracy"].lower) > \
        (narrow.metrics["accuracy"].upper - narrow.metrics["accuracy"].lower)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_roc_auc_interval_when_a_model_class_is_absent_from_y(logreg_multiclass,
                                                              multiclass_data):
    keep = multiclass_data.y != 3
    data = AuditData(multiclass_data.X[keep], multiclass_data.y[keep])
    metric = run(PerformanceMetrics(n_resamples=100), logreg_multiclass, data).metrics["roc_auc"]
    assert np.isfinite(metric.value)
    assert metric.lower <= metric.value <= metric.upper


# -- the vectorised bootstrap against a naive loop ---------------------------------------------


def test_resample_counts_are_counts_of_drawn_rows():
    n, b = 37, 25
    counts = stats.resample_counts(n, b, np.random.default_rng(5))
    draws = np.random.default_rng(5).integers(0, n, size=(b, n))
    assert counts.shape == (b, n)
    np.testing.assert_array_equal(counts.sum(axis=1), n)
    for row, drawn in zip(counts, draws, strict=True):
        np.testing.assert_array_equal(row, np.bincount(drawn, minlength=n))


def test_weighted_auc_equals_scikit_learn_per_resample_with_ties():
    rng = np.random.default_rng(9)
    n = 60
    scores = np.round(rng.random(n), 1)  # ten distinct values: many ties
    positive = rng.random(n) < scores
    counts = stats.resample_counts(n, 50, np.random.default_rng(1))
    vectorised = stats.weighted_auc(scores, positive, counts)
    for value, row in zip(vectorised, counts, strict=True):
        index = np.repeat(np.arange(n), row.astype(int))
        if positive[index].all() or not positive[index].any():
            assert np.isnan(value)
        else:
            assert value == pytest.approx(skm.roc_auc_score(positive[index], scores[index]),
                                          rel=1e-12)


@pytest.mark.parametrize("which", ["binary", "4_class"])
def test_check_intervals_equal_a_naive_loop_over_the_same_weights(
        which, logreg, binary_data, logreg_multiclass, multiclass_data):
    model, data = (logreg, binary_data) if which == "binary" else (logreg_multiclass,
                                                                   multiclass_data)
    result = run(PerformanceMetrics(n_resamples=40), model, data, seed=4)
    # the resamples the check drew: one key per resample from the spawned block seed
    context = CheckContext(random_state=4)
    (seed,) = context.rng("performance_metrics").bit_generator.seed_seq.spawn(1)
    weights = stats.poisson_weights(seed.generate_state(40, np.uint64),
                                    slice(0, data.n_samples))

    proba = model.predict_proba(data.X)
    naive = {name: [] for name in METRIC_NAMES}
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):  # speed
        for row in weights:
            index = np.repeat(np.arange(data.n_samples), row.astype(int))
            for name, value in sklearn_metrics(data.y[index], proba[index]).items():
                naive[name].append(value)
    for name in METRIC_NAMES:
        if name in CLOSED_FORM:  # not the bootstrap
            continue
        lower, upper = np.quantile(naive[name], [0.025, 0.975])
        metric = result.metrics[name]
        assert metric.lower == pytest.approx(lower, rel=1e-9, abs=1e-12), name
        assert metric.upper == pytest.approx(upper, rel=1e-9, abs=1e-12), name


def test_percentile_interval_ignores_undefined_resamples():
    samples = np.array([np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, np.nan])
    assert stats.percentile_interval(samples, 0.5) == (2.0, 4.0)
    assert all(np.isnan(stats.percentile_interval(np.array([np.nan]), 0.9)))


# -- options, and the bootstrap's unit of work ------------------------------------------------


@pytest.mark.parametrize("check, options, message", [
    (PerformanceConfusionMatrix, {"top_k": "3"},
     "The 'top_k' option of check 'performance_confusion_matrix' must be an int in the range "
     "[1, inf). Got '3' instead."),
    (PerformanceMetrics, {"n_resamples": True},
     "The 'n_resamples' option of check 'performance_metrics' must be an int in the range "
     "[0, inf). Got True instead."),
    (PerformanceMetrics, {"confidence": "x"},
     "The 'confidence' option of check 'performance_metrics' must be a float in the range "
     "(0, 1). Got 'x' instead."),
    (PerformanceCalibration, {"n_bins": 2.0},
     "The 'n_bins' option of check 'performance_calibration' must be an int in the range "
     "[2, inf). Got 2.0 instead."),
], ids=["top_k", "n_resamples", "confidence", "n_bins"])
def test_bad_options_raise_the_standard_sentence_at_construction(check, options, message):
    import re

    from auditkit.exceptions import CheckError

    with pytest.raises(CheckError, match=f"^{re.escape(message)}$"):
        check(**options)


class _SendingExecutor:
    """Runs units as another process would get them: function, shared and units pickled."""

    n_workers = 1

    def __init__(self):
        self.units = []

    def map(self, function, units, *, shared=None, on_done=None):
        import pickle

        assert "<" not in function.__qualname__ and "." not in function.__qualname__
        function = pickle.loads(pickle.dumps(function))
        shared = pickle.loads(pickle.dumps(shared))
        units = [pickle.loads(pickle.dumps(unit)) for unit in units]
        self.units.extend(units)
        return [function(shared, unit) for unit in units]


@pytest.mark.parametrize("check", [PerformanceMetrics(n_resamples=250),
                                   PerformanceCalibration(n_resamples=250)], ids=str)
def test_bootstrap_blocks_can_be_sent_to_another_process(check, logreg, binary_data):
    model = wrap_model(logreg)
    executor = _SendingExecutor()
    sent = check.run(model, binary_data, context=CheckContext(random_state=3, executor=executor))
    local = check.run(model, binary_data, context=CheckContext(random_state=3))
    assert sent.metrics == local.metrics
    assert [(unit.index, unit.size) for unit in executor.units] == [(0, 100), (1, 100), (2, 50)]
    assert all(isinstance(unit.seed, np.random.SeedSequence) for unit in executor.units)


def _mean(shared, counts):
    return {"mean": counts @ shared / len(shared)}


def test_bootstrap_gives_the_resamples_of_spawned_generators():
    values = np.random.default_rng(3).random(57)
    samples = stats.bootstrap(_mean, 57, spec=stats.BootstrapSpec(250), shared=values,
                              rng=np.random.default_rng([7, 9]))["mean"]
    generators = np.random.default_rng([7, 9]).spawn(3)
    expected = np.concatenate([stats.resample_counts(57, size, g) @ values / 57
                               for size, g in zip((100, 100, 50), generators, strict=True)])
    np.testing.assert_array_equal(samples, expected)


def test_verdict_metrics_are_emitted_and_judged_by_the_default_policy(logreg, binary_data):
    from auditkit import Policy

    policy = Policy.default()
    for check in (PerformanceMetrics(n_resamples=0), PerformanceCalibration(n_resamples=0),
                  PerformanceConfusionMatrix()):
        result = run(check, logreg, binary_data)
        for metric in check.verdict_metrics:
            assert metric in result.metrics, (check.name, metric)
            assert policy.rule(check.name, metric) is not None, (check.name, metric)


def test_bootstrap_refuses_a_statistic_another_process_cannot_import():
    spec, rng = stats.BootstrapSpec(10), np.random.default_rng(0)
    with pytest.raises(TypeError, match="module-level function"):
        stats.bootstrap(lambda shared, counts: {"mean": counts.mean(axis=1)}, 5, spec=spec,
                        rng=rng)


# -- closed-form intervals of proportions ------------------------------------------------------


@pytest.mark.parametrize("k, n", [(0, 30), (1, 30), (15, 30), (29, 30), (30, 30), (412, 517)])
def test_wilson_and_clopper_pearson_equal_scipy(k, n):
    from scipy.stats import binomtest

    for method, function in (("wilson", stats.wilson_interval),
                             ("exact", stats.clopper_pearson_interval)):
        expected = binomtest(k, n).proportion_ci(0.9, method=method)
        lower, upper = function(k, n, 0.9)
        assert float(lower) == pytest.approx(expected.low, abs=1e-12), method
        assert float(upper) == pytest.approx(expected.high, abs=1e-12), method


def test_proportion_intervals_are_nan_without_trials():
    for function in (stats.wilson_interval, stats.clopper_pearson_interval):
        assert all(np.isnan(function(0, 0)))


def test_newcombe_interval_by_hand():
    # Newcombe (1998), method 10: d -/+ sqrt of the squared distances to the Wilson bounds.
    (l1, u1), (l2, u2) = stats.wilson_interval(56, 70), stats.wilson_interval(48, 80)
    d = 56 / 70 - 48 / 80
    lower, upper = stats.newcombe_interval(56, 70, 48, 80)
    assert lower == pytest.approx(d - np.sqrt((0.8 - l1) ** 2 + (u2 - 0.6) ** 2), abs=1e-15)
    assert upper == pytest.approx(d + np.sqrt((u1 - 0.8) ** 2 + (0.6 - l2) ** 2), abs=1e-15)
    # Newcombe's worked example 56/70 - 48/80: 0.0524 to 0.3339 (his table II, method 10)
    assert (round(lower, 4), round(upper, 4)) == (0.0524, 0.3339)


def test_balanced_accuracy_interval_is_mover_over_class_recalls_and_covers(logreg,
                                                                          binary_data):
    result = run(PerformanceMetrics(n_resamples=0), logreg, binary_data)
    guess = logreg.predict_proba(binary_data.X).argmax(axis=1)
    hits = [int(((guess == k) & (binary_data.y == k)).sum()) for k in (0, 1)]
    support = [int((binary_data.y == k).sum()) for k in (0, 1)]
    metric = result.metrics["balanced_accuracy"]
    assert (metric.lower, metric.upper) == stats.mover_mean_interval(hits, support)
    # Zou & Donner's form by hand: each recall's distance to its Wilson bound, in quadrature.
    recall = np.array(hits) / np.array(support)
    lower, _ = stats.wilson_interval(hits, support)
    assert metric.lower == pytest.approx(recall.mean() - np.sqrt(np.sum(((recall - lower) / 2)
                                                                        ** 2)))
    # Exact coverage, over every outcome, with classes of 15 and 10 rows (recalls 0.95, 0.9):
    # 92.1%, near the nominal 95% where a bootstrap of a perfect sample gives [1, 1].
    from scipy.stats import binom

    truth, coverage = (0.95 + 0.9) / 2, 0.0
    for k1 in range(16):
        for k2 in range(11):
            low, high = stats.mover_mean_interval([k1, k2], [15, 10])
            coverage += binom.pmf(k1, 15, 0.95) * binom.pmf(k2, 10, 0.9) * (low <= truth <= high)
    assert 0.91 <= coverage <= 0.98, coverage


def _lookup_black_box(X):
    """P(class 1) is column 0 of X: the test data decides which predictions are right."""
    p = np.asarray(X, dtype=np.float64)[:, 0]
    return np.column_stack([1.0 - p, p])


@pytest.mark.parametrize("true_accuracy", [0.95, 1.0])
def test_accuracy_interval_covers_the_truth_at_n_30_by_simulation(true_accuracy):
    """At n = 30, the accuracy interval covers the true accuracy at about 95%, never [1, 1]."""
    rng = np.random.default_rng(2024)
    n = 30
    y = np.arange(n) % 2
    # Through the check, on a few simulated samples: its interval is the Wilson interval.
    for _ in range(20):
        right = rng.random(n) < true_accuracy
        score = np.where(right == (y == 1), 0.9, 0.1)  # argmax right exactly where `right`
        data = AuditData(np.column_stack([score, np.zeros(n)]), y)
        metric = run(PerformanceMetrics(n_resamples=0), _lookup_black_box, data).metrics[
            "accuracy"]
        assert metric.value == pytest.approx(right.mean())
        lower, upper = stats.wilson_interval(int(right.sum()), n)
        assert (metric.lower, metric.upper) == (float(lower), float(upper))
        assert metric.lower < 1.0  # never the degenerate [1, 1] of a bootstrap
    # Coverage over many simulated samples (the count of right answers is all that matters).
    hits = rng.binomial(n, true_accuracy, size=20_000)
    lower, upper = stats.wilson_interval(hits, n)
    coverage = float(np.mean((lower <= true_accuracy) & (true_accuracy <= upper)))
    assert (upper - lower).min() > 0.1
    if true_accuracy == 1.0:
        assert coverage == 1.0
    else:  # the exact Wilson coverage at n = 30, p = 0.95 is 93.9%
        assert 0.925 <= coverage <= 0.97, coverage


def test_perfect_accuracy_at_n_30_has_an_honest_interval():
    y = np.arange(30) % 2
    data = AuditData(np.column_stack([np.where(y == 1, 0.9, 0.1), np.zeros(30)]), y)
    result = run(PerformanceMetrics(n_resamples=200), _lookup_black_box, data)
    accuracy = result.metrics["accuracy"]
    assert (accuracy.value, accuracy.upper) == (1.0, 1.0)
    assert accuracy.lower == pytest.approx(0.8865, abs=1e-4)  # Wilson, 30 of 30
    assert accuracy.method == "Wilson score interval"
    balanced = result.metrics["balanced_accuracy"]
    assert (balanced.value, balanced.upper) == (1.0, 1.0) and balanced.lower < 0.9
    intervals = result.tables["per_class_intervals"]
    assert (intervals["recall_lower"] < 1.0).all() and (intervals["recall_upper"] == 1.0).all()


def test_per_class_intervals_are_wilson_intervals_of_precision_and_recall(case):
    model, data, proba = case
    table = run(PerformanceMetrics(n_resamples=0), model, data).tables["per_class_intervals"]
    guess = np.argmax(proba, axis=1)
    for k in range(proba.shape[1]):
        hits = int(((guess == k) & (data.y == k)).sum())
        for kind, total in (("recall", int((data.y == k).sum())),
                            ("precision", int((guess == k).sum()))):
            lower, upper = stats.wilson_interval(hits, total)
            np.testing.assert_allclose(table.iloc[k][[f"{kind}_lower", f"{kind}_upper"]]
                                       .to_numpy(dtype=float), [lower, upper], rtol=1e-12)


def test_error_rate_and_calibration_accuracy_have_wilson_intervals(logreg, binary_data):
    error = run(PerformanceConfusionMatrix(), logreg, binary_data).metrics["error_rate"]
    accuracy = run(PerformanceCalibration(n_resamples=0), logreg, binary_data).metrics[
        "accuracy"]
    n = binary_data.n_samples
    errors = round(error.value * n)
    np.testing.assert_allclose([error.lower, error.upper], stats.wilson_interval(errors, n))
    np.testing.assert_allclose([accuracy.lower, accuracy.upper],
                               stats.wilson_interval(n - errors, n))
    assert error.method == accuracy.method == "Wilson score interval"


# -- the generalisation gap --------------------------------------------------------------------


def _split(rng, n, accuracy):
    y = np.arange(n) % 2
    right = rng.random(n) < accuracy
    score = np.where(right == (y == 1), 0.8, 0.2)
    return np.column_stack([score, np.zeros(n)]), y


def test_generalisation_skips_without_a_training_split(logreg, binary_arrays):
    from auditkit.checks.performance.generalisation import NO_TRAIN

    X, y, _ = binary_arrays
    result = run(PerformanceGeneralisation(), logreg, AuditData(X, y))
    assert result.status.value == "SKIP"
    assert result.headline == NO_TRAIN
    assert "no training split" in result.headline


def test_generalisation_by_hand():
    # train: 40 of 40 right at confidence 0.8; test: 30 of 50 right.
    X_train = np.column_stack([np.where(np.arange(40) % 2 == 1, 0.8, 0.2), np.zeros(40)])
    y_train = np.arange(40) % 2
    y_test = np.arange(50) % 2
    right = np.arange(50) < 30
    X_test = np.column_stack([np.where(right == (y_test == 1), 0.8, 0.2), np.zeros(50)])
    data = AuditData(X_test, y_test, train=(X_train, y_train))
    result = run(PerformanceGeneralisation(), _lookup_black_box, data)
    metrics = result.metrics
    assert metrics["train_accuracy"].value == 1.0 and metrics["test_accuracy"].value == 0.6
    assert metrics["accuracy_gap"].value == pytest.approx(0.4)
    lower, upper = stats.newcombe_interval(40, 40, 30, 50)
    assert (metrics["accuracy_gap"].lower, metrics["accuracy_gap"].upper) == (lower, upper)
    assert metrics["accuracy_gap_lower_bound"].value == lower
    # log loss: -log 0.8 on every right row, -log 0.2 on every wrong one
    assert metrics["train_log_loss"].value == pytest.approx(-np.log(0.8))
    test_loss = (30 * -np.log(0.8) + 20 * -np.log(0.2)) / 50
    assert metrics["test_log_loss"].value == pytest.approx(test_loss)
    assert metrics["log_loss_gap"].value == pytest.approx(test_loss + np.log(0.8))
    assert list(result.tables["splits"].index) == ["train", "test"]
    assert "gap of +40.0 points" in result.headline


def test_generalisation_draws_at_most_max_train_samples(logreg, binary_data):
    full = run(PerformanceGeneralisation(), logreg, binary_data)
    drawn = run(PerformanceGeneralisation(max_train_samples=50), logreg, binary_data)
    assert full.metrics["train_accuracy"].n == len(binary_data.train.y)
    assert drawn.metrics["train_accuracy"].n == 50
    assert "drawn from" in drawn.headline and "drawn from" not in full.headline
    assert drawn.metrics == run(PerformanceGeneralisation(max_train_samples=50), logreg,
                                binary_data).metrics


def test_generalisation_false_alarm_rate_on_equal_accuracy_by_simulation():
    """Train and test with the same true accuracy: WARN or FAIL at most at the one-sided 2.5%."""
    from auditkit import Policy

    policy, rng = Policy.default(), np.random.default_rng(11)
    alarms, n_simulations = 0, 300
    for i in range(n_simulations):
        n_train = (30, 100, 400)[i % 3]  # small training splits are where noise is loud
        accuracy = (0.7, 0.9, 0.97)[(i // 3) % 3]
        X_train, y_train = _split(rng, n_train, accuracy)
        X_test, y_test = _split(rng, 200, accuracy)
        data = AuditData(X_test, y_test, train=(X_train, y_train))
        result = policy.judge(run(PerformanceGeneralisation(), _lookup_black_box, data))
        alarms += result.status.value in ("WARN", "FAIL")
    assert alarms / n_simulations <= 0.025, alarms


def test_generalisation_verdict_is_on_the_lower_bound():
    from auditkit import Policy

    rule = Policy.default().rule("performance_generalisation", "accuracy_gap_lower_bound")
    assert rule is not None and rule.direction == "lower_is_better"
    assert PerformanceGeneralisation.verdict_metrics == ("accuracy_gap_lower_bound",)


def test_adult_mlp_overfit_fails_and_adult_mlp_does_not():
    from auditkit import Policy, audit, zoo

    outcomes = {}
    for name in ("adult-mlp", "adult-mlp-overfit"):
        model, data = zoo.load(name)
        result = audit(model, data, checks=["performance_generalisation"], policy=Policy.default(),
                       progress=False, device="cpu")["performance_generalisation"]
        outcomes[name] = result
    overfit, clean = outcomes["adult-mlp-overfit"], outcomes["adult-mlp"]
    assert overfit.status.value == "FAIL"
    assert overfit.metrics["train_accuracy"].value == pytest.approx(0.9975)
    assert overfit.metrics["accuracy_gap"].value > 0.15
    assert overfit.metrics["accuracy_gap_lower_bound"].value > 0.10
    assert clean.status.value == "PASS"
    assert abs(clean.metrics["accuracy_gap"].value) < 0.02
