"""Fairness across thresholds and mitigation: curves equal a direct count, fairlearn's numbers.

Threshold curves are checked against a per-threshold count and fairlearn's
``selection_rate``; per-group AUC against scikit-learn; on the zoo's biased
adult model, equalized-odds post-processing must close most of the gap.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from auditkit import AuditData, CheckContext, CheckResult, Status, get_check, wrap_model
from auditkit.exceptions import CheckError

N = 500


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, 3))
    sex = np.where(rng.random(N) < 0.4, "f", "m")
    X[:, 2] = (sex == "m") * 1.0
    y = (X[:, 0] + 0.8 * X[:, 2] + rng.normal(size=N) > 0.5).astype(int)
    model = wrap_model(LogisticRegression().fit(X, y))
    return X, y, sex, model


def _run(name, model, data, seed=0, **options):
    return get_check(name, **options).run(model, data, context=CheckContext(random_state=seed))


def test_threshold_curves_equal_a_direct_count(synthetic):
    X, y, sex, model = synthetic
    result = _run("fairness_thresholds", model, AuditData(X, y, sensitive={"sex": sex}),
                  n_thresholds=11)
    rates = result.tables["group_rates"].xs("sex", level="sensitive_feature")
    curves = result.tables["disparity_curves"].xs("sex", level="sensitive_feature")
    score = model.predict_proba(X)[:, 1]
    for threshold in np.linspace(0, 1, 11):
        predicted = (score > threshold).astype(int)
        frame = MetricFrame(metrics={"selection_rate": selection_rate,
                                     "tpr": true_positive_rate, "fpr": false_positive_rate},
                            y_true=y, y_pred=predicted, sensitive_features=sex)
        for group in ("f", "m"):
            row = rates.loc[(group, threshold)]
            for column in ("selection_rate", "tpr", "fpr"):
                assert row[column] == pytest.approx(frame.by_group.loc[group, column],
                                                    abs=1e-12)
        difference = frame.difference()
        assert curves.loc[threshold, "demographic_parity_difference"] == pytest.approx(
            difference["selection_rate"], abs=1e-12)
        assert curves.loc[threshold, "equalized_odds_difference"] == pytest.approx(
            max(difference["tpr"], difference["fpr"]), abs=1e-12)
    # the operating point is argmax, i.e. the curve at 0.5
    at_half = curves.loc[0.5]
    assert result.metrics["equalized_odds_difference_at_operating_point"].value == \
        pytest.approx(at_half["equalized_odds_difference"], abs=1e-12)


def test_group_auc_equals_scikit_learn(synthetic):
    X, y, sex, model = synthetic
    result = _run("fairness_thresholds", model, AuditData(X, y, sensitive={"sex": sex}))
    auc = result.tables["group_auc"].xs("sex", level="sensitive_feature")["auc"]
    score = model.predict_proba(X)[:, 1]
    for group in ("f", "m"):
        members = sex == group
        assert auc[group] == pytest.approx(roc_auc_score(y[members], score[members]), abs=1e-12)
    figure = result.figures["group_roc_curves_sex"]
    assert figure.kind == "group_roc_curves"
    assert result.figures["disparity_curves_sex"].kind == "disparity_curves"


def test_multiclass_thresholds_read_the_worst_class(make_multiclass, logreg_multiclass):
    X, y = make_multiclass()
    group = np.where(np.arange(len(y)) % 3 == 0, "a", "b")
    result = _run("fairness_thresholds", wrap_model(logreg_multiclass),
                  AuditData(X, y, sensitive={"group": group}))
    assert result.status is Status.INFO
    assert np.isnan(result.figures["disparity_curves_group"].data["operating_threshold"])


def test_results_round_trip_and_are_deterministic(synthetic):
    X, y, sex, model = synthetic
    data = AuditData(X, y, sensitive={"sex": sex})
    for name in ("fairness_thresholds", "fairness_mitigation"):
        first = _run(name, model, data, seed=5)
        assert first.status is Status.INFO
        assert CheckResult.from_dict(first.to_dict()) == first
        back = CheckResult.from_dict(json.loads(json.dumps(first.to_dict(), allow_nan=False)))
        assert back == first
        second = _run(name, model, data, seed=5)
        assert first.with_changes(duration_s=0.0) == second.with_changes(duration_s=0.0)


@pytest.mark.parametrize("name", ["fairness_thresholds", "fairness_mitigation"])
def test_skip_without_sensitive_features(name, synthetic):
    X, y, _, model = synthetic
    result = _run(name, model, AuditData(X, y))
    assert result.status is Status.SKIP
    assert "sensitive" in result.headline


def test_mitigation_skips_a_multiclass_model(make_multiclass, logreg_multiclass):
    X, y = make_multiclass()
    group = np.where(np.arange(len(y)) % 2 == 0, "a", "b")
    result = _run("fairness_mitigation", wrap_model(logreg_multiclass),
                  AuditData(X, y, sensitive={"group": group}))
    assert result.status is Status.SKIP
    assert "binary" in result.headline


@pytest.mark.parametrize("name, options, match", [
    ("fairness_thresholds", {"n_thresholds": 2}, "n_thresholds"),
    ("fairness_mitigation", {"constraints": ("true_positive_rate_parity",)}, "constraints"),
    ("fairness_mitigation", {"evaluation_fraction": 1.0}, "evaluation_fraction"),
])
def test_bad_options_raise(name, options, match):
    with pytest.raises(CheckError, match=match):
        get_check(name, **options)


@pytest.fixture(scope="module")
def biased_adult():
    from auditkit import zoo

    model, data = zoo.load("adult-mlp-biased")
    return wrap_model(model, device="cpu"), data


def test_equalized_odds_thresholds_close_the_planted_gap(biased_adult):
    model, data = biased_adult
    result = _run("fairness_mitigation", model, data)
    m = {k: v.value for k, v in result.metrics.items()}
    assert m["equalized_odds_difference_unmitigated"] > 0.5
    assert m["equalized_odds_difference_mitigated"] < 0.5 * m[
        "equalized_odds_difference_unmitigated"]
    assert m["demographic_parity_difference_mitigated"] < 0.5 * m[
        "demographic_parity_difference_unmitigated"]
    table = result.tables["mitigation"]
    assert set(table.index) >= {"unmitigated", "demographic_parity", "equalized_odds"}
    assert "not run" in table.loc["exponentiated_gradient", "note"]
    split = result.tables["split"]
    assert split["audit_split"].sum() == data.n_samples
    # stratified by group (and label): each group is cut in two halves
    assert ((split["fit_half"] - split["evaluation_half"]).abs() <= 2).all()
    assert "half of the audit split" in result.headline
    again = _run("fairness_mitigation", model, data)
    assert again.with_changes(duration_s=0.0) == result.with_changes(duration_s=0.0)


def test_exponentiated_gradient_refits_a_scikit_learn_estimator():
    from sklearn.linear_model import LogisticRegression

    from auditkit import AuditData, audit
    from auditkit.checks import FairnessMitigation

    rng = np.random.default_rng(5)
    n = 2000
    group = rng.integers(0, 2, n)
    skill = rng.normal(size=n)
    y = (skill + 0.3 * rng.normal(size=n) > 0).astype(int)
    # The label leaks through the group column far more for group 1: a biased model.
    X = np.column_stack([skill, group, group * skill * 2.0])
    model = LogisticRegression().fit(X, np.where(group == 1, (skill > 0.8).astype(int), y))
    data = AuditData(X, y, sensitive={"group": np.where(group == 1, "b", "a")})
    check = FairnessMitigation(grid_size=100, reduction_iterations=8)
    result = audit(model, data, checks=[check], progress=False)[check.name]
    table = result.tables["mitigation"]
    reduced = table.loc["exponentiated_gradient"]
    assert np.isfinite(reduced["accuracy"]), table["note"].to_dict()
    assert reduced["equalized_odds_difference"] < table.loc["unmitigated",
                                                            "equalized_odds_difference"]
    assert "ExponentiatedGradient" in result.headline


def test_exponentiated_gradient_is_not_run_for_torch_models():
    from auditkit import audit, zoo
    from auditkit.checks import FairnessMitigation

    model, data = zoo.load("adult-mlp-biased")
    result = audit(model, data, checks=[FairnessMitigation(grid_size=100)],
                   progress=False)["fairness_mitigation"]
    note = result.tables["mitigation"].loc["exponentiated_gradient", "note"]
    assert note.startswith("not run: ExponentiatedGradient refits a scikit-learn estimator")
