"""The fairness checks: numbers equal fairlearn's, intervals, groups, and the zoo's planted bias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from auditkit import AuditData, CheckContext, CheckResult, Policy, Status, get_check, wrap_model
from auditkit.exceptions import CheckError

N = 600


def _binary(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 3))
    sex = np.where(rng.random(N) < 0.45, "f", "m")
    race = rng.choice(["a", "b", "c"], size=N, p=[0.5, 0.3, 0.2])
    shift = (sex == "m") * 0.8 + (race == "a") * 0.4
    y = (X[:, 0] + shift + rng.normal(size=N) > 0.6).astype(int)
    X[:, 2] = shift  # the model sees the groups, so its rates differ by group
    return X, y, sex, race


def _model(X, y):
    from sklearn.linear_model import LogisticRegression

    return wrap_model(LogisticRegression().fit(X, y))


def _run(name, model, data, seed=0, **options):
    options.setdefault("n_resamples", 200)
    check = get_check(name, **options)
    return check.run(model, data, context=CheckContext(random_state=seed))


@pytest.fixture(scope="module")
def binary():
    X, y, sex, race = _binary()
    model = _model(X, y)
    predicted = model.predict_proba(X).argmax(axis=1)
    return X, y, sex, race, model, predicted


SENSITIVE_FORMS = {
    "list": lambda sex, race: list(sex),
    "ndarray": lambda sex, race: np.asarray(sex),
    "series": lambda sex, race: pd.Series(sex, name="sensitive"),
    "dataframe": lambda sex, race: pd.DataFrame({"sensitive": sex}),
}


@pytest.mark.parametrize("form", SENSITIVE_FORMS)
def test_group_rates_and_disparities_equal_fairlearn(form, binary):
    X, y, sex, race, model, predicted = binary
    sensitive = SENSITIVE_FORMS[form](sex, race)
    data = AuditData(X, y, sensitive=sensitive)
    groups = _run("fairness_group_metrics", model, data, min_group_size=1)
    table = groups.tables["groups"].xs("sensitive", level="sensitive_feature")
    metrics = {"selection_rate": selection_rate, "accuracy": accuracy_score,
               "tpr": true_positive_rate, "fpr": false_positive_rate,
               "fnr": false_negative_rate,
               "precision": lambda t, p: precision_score(t, p, zero_division=0),
               "base_rate": lambda t, p: float(np.mean(t))}
    frame = MetricFrame(metrics=metrics, y_true=y, y_pred=predicted, sensitive_features=sensitive)
    for column in metrics:
        assert table[column].to_dict() == pytest.approx(frame.by_group[column].to_dict(),
                                                        abs=1e-12), column
    assert table["count"].to_dict() == pd.Series(np.asarray(sex)).value_counts().to_dict()

    result = _run("fairness_disparities", model, data, min_group_size=1)
    m = {k: v.value for k, v in result.metrics.items()}
    kw = {"sensitive_features": sensitive}
    assert m["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, predicted, **kw), abs=1e-12)
    assert m["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y, predicted, **kw), abs=1e-12)
    assert m["disparate_impact_ratio"] == m["demographic_parity_ratio"]
    assert m["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, predicted, **kw), abs=1e-12)
    assert m["equalized_odds_ratio"] == pytest.approx(
        equalized_odds_ratio(y, predicted, **kw), abs=1e-12)
    assert m["equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y, predicted, **kw), abs=1e-12)
    assert m["predictive_parity_difference"] == pytest.approx(
        frame.difference()["precision"], abs=1e-12)
    assert m["worst_group_accuracy"] == pytest.approx(frame.group_min()["accuracy"], abs=1e-12)


def test_intersections_equal_a_metric_frame_over_the_combined_features(binary):
    X, y, sex, race, model, predicted = binary
    data = AuditData(X, y, sensitive={"sex": sex, "race": race})
    groups = _run("fairness_group_metrics", model, data, min_group_size=1)
    table = groups.tables["intersections"].xs("sex & race", level="sensitive_feature")
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                 "fpr": false_positive_rate}, y_true=y, y_pred=predicted,
                        sensitive_features=pd.DataFrame({"sex": sex, "race": race}))
    for (s, r), row in frame.by_group.iterrows():
        for column in row.index:
            assert table.loc[f"{s} & {r}", column] == pytest.approx(row[column], abs=1e-12)
    result = _run("fairness_disparities", model, data, min_group_size=1)
    dp = result.tables["intersection_disparities"].loc[("sex & race",
                                                          "demographic_parity_difference"),
                                                         "value"]
    assert dp == pytest.approx(demographic_parity_difference(
        y, predicted, sensitive_features=pd.DataFrame({"sex": sex, "race": race})), abs=1e-12)


def test_multiclass_is_read_one_class_against_the_rest(logreg_multiclass, multiclass_arrays):
    X, y = multiclass_arrays
    group = np.where(np.arange(len(y)) % 3 == 0, "u", "v")
    model = wrap_model(logreg_multiclass)
    predicted = model.predict_proba(X).argmax(axis=1)
    data = AuditData(X, y, sensitive={"g": group})
    groups = _run("fairness_group_metrics", model, data)
    disparities = _run("fairness_disparities", model, data)
    worst = 0.0
    for k in range(4):
        truth, guess = (y == k).astype(int), (predicted == k).astype(int)
        frame = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate},
                            y_true=truth, y_pred=guess, sensitive_features=group)
        rows = groups.tables["groups"].xs(("g", str(k)), level=("sensitive_feature", "class"))
        assert rows["selection_rate"].to_dict() == pytest.approx(
            frame.by_group["selection_rate"].to_dict(), abs=1e-12)
        dp = demographic_parity_difference(truth, guess, sensitive_features=group)
        assert disparities.tables["disparities"].loc[
            ("g", str(k), "demographic_parity_difference"), "value"] == pytest.approx(dp)
        worst = max(worst, dp)
    assert disparities.metrics["demographic_parity_difference"].value == pytest.approx(worst)
    # accuracy per group is the multi-class accuracy, the same for every class
    accuracy = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=predicted,
                           sensitive_features=group).group_min()
    assert disparities.metrics["worst_group_accuracy"].value == pytest.approx(accuracy)


def test_small_groups_are_flagged_and_left_out_of_the_disparities(binary):
    X, y, sex, race, model, predicted = binary
    tiny = np.where(np.arange(N) < 10, "tiny", sex)
    data = AuditData(X, y, sensitive={"g": tiny})
    groups = _run("fairness_group_metrics", model, data, min_group_size=30)
    table = groups.tables["groups"].xs("g", level="sensitive_feature")
    assert bool(table.loc["tiny", "too_small"]) and table.loc["tiny", "count"] == 10
    assert not table.loc[["f", "m"], "too_small"].any()
    assert "g = tiny (n=10)" in groups.headline
    result = _run("fairness_disparities", model, data, min_group_size=30)
    judged = ~np.isin(tiny, ["tiny"])
    expected = demographic_parity_difference(y[judged], predicted[judged],
                                             sensitive_features=tiny[judged])
    assert result.metrics["demographic_parity_difference"].value == pytest.approx(expected)
    row = result.tables["disparities"].loc[("g", "demographic_parity_difference")]
    assert (row["groups_judged"], row["groups_too_small"]) == (2, 1)


def test_a_continuous_feature_is_binned_into_stated_bins(binary):
    X, y, sex, race, model, predicted = binary
    age = np.random.default_rng(3).integers(18, 80, size=N)
    data = AuditData(X, y, sensitive={"age": age})
    given = _run("fairness_group_metrics", model, data, bin_edges={"age": [30, 50]})
    table = given.tables["groups"].xs("age", level="sensitive_feature")
    assert list(table.index) == ["< 30", "30 to < 50", ">= 50"]
    assert table["count"].tolist() == [int((age < 30).sum()), int(((age >= 30) & (age < 50))
                                                                    .sum()), int((age >= 50).sum())]
    quantiles = _run("fairness_group_metrics", model, data, n_bins=4)
    assert len(quantiles.tables["groups"]) == 4
    assert quantiles.tables["bins"].loc["age", "how"] == "4 quantile bins"
    with pytest.raises(CheckError, match="bin_edges"):
        _run("fairness_group_metrics", model, data, bin_edges={"height": [1.0]})


def test_intervals_contain_the_estimate_and_are_deterministic_under_a_seed(binary):
    X, y, sex, race, model, predicted = binary
    data = AuditData(X, y, sensitive={"sex": sex, "race": race})
    first = _run("fairness_disparities", model, data, seed=5)
    second = _run("fairness_disparities", model, data, seed=5)
    assert first == second
    for name, metric in first.metrics.items():
        if name.endswith(("_lower_bound", "_upper_bound")):  # one-sided: no interval
            assert not metric.has_interval and metric.n > 0, name
            continue
        assert metric.lower <= metric.value <= metric.upper, name
    groups = _run("fairness_group_metrics", model, data, seed=5)
    points, intervals = groups.tables["groups"], groups.tables["groups_intervals"]
    for rate in ("selection_rate", "tpr", "fpr", "accuracy", "precision"):
        assert (intervals[f"{rate}_lower"] <= points[rate] + 1e-12).all(), rate
        assert (points[rate] <= intervals[f"{rate}_upper"] + 1e-12).all(), rate
    assert 0.0 <= first.tables["disparities"]["p_value"].min() <= 1.0


def test_results_round_trip_through_json(binary):
    X, y, sex, race, model, predicted = binary
    data = AuditData(X, y, sensitive={"sex": sex, "race": race})
    for name in ("fairness_group_metrics", "fairness_disparities"):
        result = _run(name, model, data)
        assert CheckResult.from_dict(result.to_dict()) == result


def test_skips_without_sensitive_features(binary):
    X, y, *_ = binary
    model = binary[4]
    for name in ("fairness_group_metrics", "fairness_disparities"):
        result = _run(name, model, AuditData(X, y))
        assert result.status is Status.SKIP
        assert "sensitive" in result.headline


def test_bad_options_raise_at_construction():
    with pytest.raises(CheckError, match="min_group_size"):
        get_check("fairness_disparities", min_group_size=0)
    with pytest.raises(CheckError, match="bin_edges"):
        get_check("fairness_group_metrics", bin_edges={"age": "young"})


@pytest.fixture(scope="module")
def zoo_fairness():
    import torch

    from auditkit import zoo

    torch.set_num_threads(1)
    out = {}
    for name in ("adult-mlp", "adult-mlp-biased"):
        model, data = zoo.load(name)
        result = _run("fairness_disparities", wrap_model(model), data, n_resamples=500,
                      intersections=False)
        out[name] = Policy.default().judge(result)
    return out


def test_adult_mlp_biased_fails_demographic_parity_by_sex(zoo_fairness):
    result = zoo_fairness["adult-mlp-biased"]
    rule = Policy.default().rule("fairness_disparities",
                                 "demographic_parity_difference_lower_bound")
    row = result.tables["disparities"].loc[("sex", "demographic_parity_difference")]
    assert row["value"] == pytest.approx(0.354, abs=1e-3)
    assert row["lower"] > rule.fail  # the interval excludes the failing level
    assert row["calibrated_bound"] > rule.fail  # and so does the simultaneous bound
    assert result.status is Status.FAIL
    judged = {t.metric: t.status for t in result.thresholds}
    assert judged["demographic_parity_difference_lower_bound"] is Status.FAIL
    assert "sex" in result.headline and "Female" in result.headline


def test_adult_mlp_is_judged_by_the_same_policy(zoo_fairness):
    result = zoo_fairness["adult-mlp"]
    rule = Policy.default().rule("fairness_disparities",
                                 "demographic_parity_difference_lower_bound")
    row = result.tables["disparities"].loc[("sex", "demographic_parity_difference")]
    assert row["value"] == pytest.approx(0.193, abs=1e-3)
    assert rule.warn < row["calibrated_bound"] < row["value"] < rule.fail  # by sex: a warning
    assert row["upper"] < zoo_fairness["adult-mlp-biased"].tables["disparities"].loc[
        ("sex", "demographic_parity_difference"), "lower"]
    assert {t.metric for t in result.thresholds} == {
        "demographic_parity_difference_lower_bound", "equalized_odds_difference_lower_bound",
        "disparate_impact_ratio_upper_bound"}


@pytest.mark.parametrize("name, options", [
    ("fairness_disparities", {"n_resamples": True}),
    ("fairness_disparities", {"confidence": "x"}),
    ("fairness_group_metrics", {"intersections": 1}),
    ("fairness_group_metrics", {"bin_edges": {"age": [30, float("nan")]}}),
    ("fairness_group_metrics", {"max_categories": 2.5}),
    ("fairness_thresholds", {"n_bins": 1}),
    ("fairness_mitigation", {"constraints": ("equalized_odds", "equalized_odds")}),
    ("fairness_mitigation", {"grid_size": 9}),
    ("fairness_mitigation", {"reduction_iterations": 0}),
], ids=str)
def test_every_option_is_validated_with_the_standard_sentence(name, options):
    option = next(iter(options))
    with pytest.raises(CheckError, match=f"^The '{option}' option of check '{name}' must be "
                                         r".*\. Got .* instead\.$"):
        get_check(name, **options)


class _SendingExecutor:
    """Runs units as another process would get them: function, shared and units pickled."""

    n_workers = 1

    def __init__(self):
        self.units = []

    def map(self, function, units, *, shared=None, on_done=None):
        import pickle

        assert "<" not in function.__qualname__ and "." not in function.__qualname__
        function, shared = pickle.loads(pickle.dumps((function, shared)))
        units = [pickle.loads(pickle.dumps(unit)) for unit in units]
        self.units.extend(units)
        return [function(shared, unit) for unit in units]


def test_bootstrap_blocks_can_be_sent_to_another_process_and_give_the_same_numbers(binary):
    X, y, sex, race, model, predicted = binary
    data = AuditData(X, y, sensitive={"sex": sex, "race": race})
    executor = _SendingExecutor()
    context = CheckContext(random_state=5, executor=executor)
    sent = get_check("fairness_disparities", n_resamples=150).run(model, data, context=context)
    assert [(unit.index, unit.size) for unit in executor.units] == [(0, 100), (1, 50)]
    local = _run("fairness_disparities", model, data, seed=5, n_resamples=150)
    assert sent.metrics == local.metrics


def test_verdict_metrics_are_emitted_and_have_rules(binary):
    X, y, sex, race, model, predicted = binary
    data = AuditData(X, y, sensitive={"sex": sex})
    policy = Policy.default()
    for name in ("fairness_group_metrics", "fairness_disparities", "fairness_thresholds",
                 "fairness_mitigation"):
        check = get_check(name)
        result = check.run(model, data, context=CheckContext(random_state=0))
        assert result.status is Status.INFO, name
        for metric in check.verdict_metrics:
            assert metric in result.metrics and policy.rule(name, metric) is not None
    assert get_check("fairness_disparities").verdict_metrics
