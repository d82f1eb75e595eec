"""OOD covariate shift and selective prediction: AURC by hand, thresholds, shift at severity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from auditkit import AuditData, CheckContext, CheckResult, Status, get_check, wrap_model
from auditkit.checks.ood.selective import aurc, risk_coverage, threshold_table
from auditkit.checks.ood.shift import silent_failures
from auditkit.report._plots import draw


def _strict(result: CheckResult) -> CheckResult:
    return CheckResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))


# -- AURC, E-AURC and the threshold table, by hand ----------------------------------------


def test_aurc_and_excess_aurc_by_hand():
    # risks of the 1..4 most confident: 0/1, 1/2, 1/3, 2/4
    values = aurc(np.array([0.9, 0.8, 0.7, 0.6]), np.array([True, False, True, False]))
    assert values["aurc"] == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)
    # best ranking, both errors last: 0, 0, 1/3, 2/4
    assert values["optimal_aurc"] == pytest.approx((1 / 3 + 1 / 2) / 4)
    assert values["excess_aurc"] == pytest.approx(values["aurc"] - values["optimal_aurc"])
    assert values["error_rate"] == 0.5


def test_aurc_is_the_mean_error_rate_of_the_k_most_confident():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 300))
        confidence, correct = rng.random(n), rng.random(n) < 0.7
        order = np.argsort(-confidence)
        risk = np.cumsum(~correct[order]) / np.arange(1, n + 1)
        assert aurc(confidence, correct)["aurc"] == pytest.approx(risk.mean(), abs=1e-12)
        assert risk_coverage(confidence, correct)[1] == pytest.approx(risk, abs=1e-12)
        m = int((~correct).sum())
        best = np.maximum(0, np.arange(1, n + 1) - (n - m)) / np.arange(1, n + 1)
        assert aurc(confidence, correct)["optimal_aurc"] == pytest.approx(best.mean(), abs=1e-12)


def test_tied_scores_count_in_expectation_and_optimum_matches_closed_form():
    # one right and one wrong at the same score: 1/2 wrong whichever is taken first
    assert aurc(np.array([0.5, 0.5]), np.array([True, False]))["aurc"] == pytest.approx(0.5)
    assert risk_coverage(np.full(4, 0.3), np.array([1, 0, 0, 1]))[1] == pytest.approx(
        [0.5] * 4)
    # large n: optimal AURC tends to r + (1 - r) ln(1 - r) (Geifman et al. 2019)
    n, r = 100_000, 0.2
    correct = np.arange(n) >= r * n
    optimum = aurc(np.random.default_rng(1).random(n), correct)["optimal_aurc"]
    assert optimum == pytest.approx(r + (1 - r) * np.log(1 - r), abs=1e-4)


def test_threshold_table_by_hand():
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, False])
    table = threshold_table(confidence, correct, (1.0, 0.8, 0.5))
    assert table["threshold"].tolist() == [0.5, 0.6, 0.7]  # the 5th, 4th, 3rd most confident
    assert table["accepted"].tolist() == [5, 4, 3]
    assert table["rejected"].tolist() == pytest.approx([0.0, 0.2, 0.4])
    assert table["selective_accuracy"].tolist() == pytest.approx([3 / 5, 3 / 4, 2 / 3])
    for row, (k, n) in zip(table.itertuples(), [(3, 5), (3, 4), (2, 3)], strict=True):
        wilson = binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert (row.lower, row.upper) == pytest.approx((wilson.low, wilson.high))
    # ties: a threshold accepts every sample at that score, so coverage may exceed the target
    tied = threshold_table(np.array([0.9, 0.7, 0.7, 0.1]), np.ones(4, bool), (0.5,))
    assert tied["coverage"].tolist() == [0.75]


# -- silent failures: the statistic and its false-alarm rate ------------------------------


def test_silent_failure_needs_a_large_significant_drop_and_no_detection():
    kwargs = {"accuracy_drop": 0.1, "detection_auroc": 0.6, "confidence": 0.95}
    silent, low, high = silent_failures(90, np.array([88, 40, 40, 75]), 100,
                                        np.array([0.55, 0.55, 0.7, 0.5]), **kwargs)
    # small drop; large and unseen; large but seen; 15 points, significant, unseen
    assert silent.tolist() == [False, True, False, True]
    assert np.all(low < high)


def test_no_shift_gives_no_silent_failure_and_few_significant_drops():
    """Simulated shifts that leave accuracy as it was: the same samples, a tenth of them
    redrawn at the same accuracy (paired, as the check's shifted copies are)."""
    n, p, seeds = 200, 0.8, 400
    rng = np.random.default_rng(0)
    clean = rng.random((seeds, n)) < p
    redrawn = rng.random((seeds, n)) < 0.1
    shifted = np.where(redrawn, rng.random((seeds, n)) < p, clean)
    lower = np.array([0.45])  # indistinguishable sets: the AUROC bound sits under 0.6

    def rate(accuracy_drop: float) -> float:
        return float(np.mean([silent_failures(int(c.sum()), np.array([s.sum()]), n, lower,
                                              accuracy_drop=accuracy_drop, detection_auroc=0.6,
                                              confidence=0.95)[0][0]
                              for c, s in zip(clean, shifted, strict=True)]))

    assert rate(0.1) == 0.0
    # with no minimum drop only the drop's test stands: at most its one-sided 2.5%
    # (Newcombe's interval for independent samples is conservative for paired ones)
    assert rate(0.0) <= 0.025


# -- the shift check on small models ---------------------------------------------------------


@pytest.fixture(scope="module")
def image_shift(image_case):
    model, data = image_case
    adapter = wrap_model(model, device="cpu")
    context = CheckContext(random_state=0)
    check = get_check("ood_covariate_shift", n_resamples=200)
    return adapter, data, context, check.run(adapter, data, context=context)


def test_shift_on_tiny_images_gaussian_noise(image_shift):
    _, _, _, result = image_shift
    assert result.status is Status.INFO
    table = result.tables["shift"]
    noise = table[table["corruption"] == "gaussian_noise"]
    accuracy = noise["accuracy"].to_numpy()
    clean = result.metrics["clean_accuracy"].value
    assert np.all(np.diff(accuracy) <= 0) and accuracy[0] <= clean  # measured .78 .. .41
    detection = result.tables["detection"]
    auroc = detection[(detection["corruption"] == "gaussian_noise")
                      & (detection["detector"] == "energy")]["auroc"].to_numpy()
    assert np.all(np.diff(auroc) > 0)  # measured .504 .. .552
    # the 5 x 5 cells, and the rate is the share of flagged ones
    assert len(table) == 25
    assert result.metrics["silent_failure_rate"].value == pytest.approx(
        table["silent_failure"].mean())
    assert set(result.tables["detectors"]["detector"]) == {"msp", "energy"}


def test_shift_auroc_matches_scikit_learn(image_shift):
    adapter, data, context, result = image_shift
    from auditkit.checks.ood._common import model_outputs

    row = result.tables["detection"].query("corruption == 'contrast' and severity == 1 "
                                          "and detector == 'msp'").iloc[0]
    clean = model_outputs(adapter, data.X, context, key="test").proba.max(axis=1)
    shifted = context.peek("ood.logits", (id(adapter), "shift:contrast:1"))[1].max(axis=1)
    expected = roc_auc_score(np.repeat([0, 1], len(clean)), -np.concatenate([clean, shifted]))
    assert row["auroc"] == pytest.approx(expected)
    assert row["lower"] <= row["auroc"] <= row["upper"]


def test_shift_result_round_trips_and_draws(image_shift):
    _, _, _, result = image_shift
    assert _strict(result) == result
    for figure in result.figures.values():
        assert draw(figure) is not None


def test_shift_on_adult_tabular(zoo_adult):
    model, data = zoo_adult
    adapter = wrap_model(model, device="cpu")
    result = get_check("ood_covariate_shift", n_samples=300, n_resamples=200,
                       corruptions=("gaussian_noise",)).run(adapter, data,
                                                            context=CheckContext(random_state=0))
    table = result.tables["shift"]
    assert table["accuracy"].iloc[-1] <= result.metrics["clean_accuracy"].value
    auroc = result.tables["detection"].query("detector == 'msp'")["auroc"].to_numpy()
    assert np.all(np.diff(auroc) > 0) and auroc[-1] < 0.6  # measured .505 .. .512: noise hides
    assert result.metrics["silent_failure_rate"].value == 0.0  # accuracy barely moves
    assert "Gaussian noise" in result.headline


def test_a_model_that_ignores_its_inputs_never_fails_silently(binary_data):
    adapter = wrap_model(lambda X: np.tile([0.3, 0.7], (len(X), 1)))
    for seed in range(3):
        result = get_check("ood_covariate_shift", n_resamples=50).run(
            adapter, binary_data, context=CheckContext(random_state=seed))
        assert result.metrics["silent_failure_rate"].value == 0.0
        assert result.tables["shift"]["accuracy_drop"].abs().max() == 0.0
        assert result.tables["detection"]["auroc"].tolist() == pytest.approx(
            [0.5] * len(result.tables["detection"]))
        # a black box has no logits: Energy is left out, with the reason
        used = result.tables["detectors"].set_index("detector")
        assert not used.loc["energy", "used"] and "logits" in used.loc["energy", "reason"]


def test_shift_skips_with_reasons(black_box, binary_data, text_case):
    adapter = wrap_model(black_box)
    context = CheckContext()
    only_energy = get_check("ood_covariate_shift", detectors=("energy",))
    result = only_energy.run(adapter, binary_data, context=context)
    assert result.status is Status.SKIP and "Energy" in result.headline
    other = get_check("ood_covariate_shift", corruptions=("gaussian_blur",))
    result = other.run(adapter, binary_data, context=context)
    assert result.status is Status.SKIP and "gaussian_blur" in result.headline
    model, data = text_case
    no_texts = AuditData(data.X, data.y, modality="text")
    result = get_check("ood_covariate_shift").run(wrap_model(model, device="cpu"), no_texts,
                                                  context=context)
    assert result.status is Status.SKIP and "text" in result.headline.lower()
    assert _strict(result) == result


def test_bad_options_name_the_option():
    from auditkit.exceptions import CheckError

    with pytest.raises(CheckError, match="'detection_auroc'.*Got 0.3"):
        get_check("ood_covariate_shift", detection_auroc=0.3)
    with pytest.raises(CheckError, match="'coverages'"):
        get_check("ood_selective_prediction", coverages=(0.0,))


# -- selective prediction ----------------------------------------------------------------------


def test_selective_prediction_on_tiny_images_shares_the_shifted_sets(image_shift, image_case):
    adapter, data, context, _ = image_shift
    data = AuditData(data.X, data.y, modality="image", input_range=(0.0, 1.0),
                     reference=data.reference_inputs,
                     ood={"noise": np.random.default_rng(0).random((40, 1, 8, 8), np.float32)})
    check = get_check("ood_selective_prediction", n_resamples=200)
    shared = check.run(adapter, image_case[1], context=context)  # after the shift check
    alone = check.run(adapter, image_case[1], context=CheckContext(random_state=0))
    assert shared.with_changes(duration_s=0.0) == alone.with_changes(duration_s=0.0)

    confidence = adapter.predict_proba(data.X).max(axis=1)
    correct = adapter.predict_proba(data.X).argmax(axis=1) == adapter.label_indices(data.y)
    assert shared.metrics["aurc"].value == pytest.approx(aurc(confidence, correct)["aurc"])
    low, high = shared.metrics["aurc"].lower, shared.metrics["aurc"].upper
    assert low <= shared.metrics["aurc"].value <= high
    thresholds = shared.tables["thresholds"]
    assert thresholds["target_coverage"].tolist() == [1.0, 0.95, 0.9, 0.8, 0.7, 0.5]
    assert thresholds["selective_accuracy"].iloc[0] == pytest.approx(correct.mean())
    shift = shared.tables["under_shift"]
    assert shift["set"].iloc[0] == "clean" and (shift["severity"].iloc[1:] == 3).all()

    with_ood = check.run(adapter, data, context=CheckContext(random_state=0))
    accepted = with_ood.tables["thresholds"]["ood_accepted[noise]"].to_numpy()
    assert accepted[0] == 1.0 and np.all(np.diff(accepted) <= 0)  # fewer kept as coverage falls
    assert _strict(with_ood) == with_ood
    for figure in with_ood.figures.values():
        assert draw(figure) is not None


def test_selective_prediction_skips_a_score_the_model_cannot_feed(black_box, binary_data):
    result = get_check("ood_selective_prediction", score="energy").run(
        wrap_model(black_box), binary_data, context=CheckContext())
    assert result.status is Status.SKIP and "Energy" in result.headline
    assert not result.metrics


def test_fitted_detectors_never_score_the_samples_they_were_fitted_on(image_case):
    model, data = image_case
    adapter = wrap_model(model, device="cpu")
    bare = AuditData(data.X, data.y, modality="image", input_range=(0.0, 1.0))  # no reference
    check = get_check("ood_covariate_shift", detectors=("msp", "knn"), n_resamples=50,
                      corruptions=("gaussian_noise",), severities=(5,))
    every = check.run(adapter, bare, context=CheckContext()).tables["detectors"]
    knn = every.set_index("detector").loc["knn"]
    assert not knn["used"] and "apart from the audited samples" in knn["reason"]
    # a subsample leaves the other audited samples to fit on
    held = get_check("ood_covariate_shift", detectors=("msp", "knn"), n_resamples=50,
                     corruptions=("gaussian_noise",), severities=(5,), n_samples=45)
    result = held.run(adapter, bare, context=CheckContext())
    assert result.tables["detectors"]["used"].all()
    assert set(result.tables["detection"]["detector"]) == {"msp", "knn"}
