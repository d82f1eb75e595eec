"""Policies: the numbers never change, the verdict follows the thresholds."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from auditkit import CheckResult, Metric, Policy, Status, audit
from auditkit.checks import PerformanceMetrics
from auditkit.exceptions import PolicyError
from auditkit.policy import Rule

DEFAULT_CLAUSES = ("EU-AI-Act-Art-13", "EU-AI-Act-Art-15", "NIST-AI-RMF-MEASURE-2.3")


def _metrics_result(**values: float) -> CheckResult:
    return CheckResult(name="performance_metrics", family="performance", status=Status.INFO,
                       headline="h", metrics={k: Metric(v) for k, v in values.items()})


def test_default_policy_loads():
    policy = Policy.default()
    assert policy.name == "auditkit-default"
    accuracy = policy.rule("performance_metrics", "accuracy")
    assert accuracy == Rule("performance_metrics", "accuracy", "higher_is_better", 0.8, 0.7)
    ece = policy.rule("performance_calibration", "expected_calibration_error")
    assert (ece.direction, ece.warn, ece.fail) == ("lower_is_better", 0.05, 0.10)
    assert policy.evidence["performance_metrics"] == DEFAULT_CLAUSES
    assert all(clause in policy.clauses for ids in policy.evidence.values() for clause in ids)
    assert policy.rule("performance_metrics", "no_such_metric") is None


@pytest.mark.parametrize("value, expected", [
    (0.95, Status.PASS), (0.80, Status.PASS), (0.7999, Status.WARN), (0.70, Status.WARN),
    (0.6999, Status.FAIL), (float("nan"), Status.WARN)])
def test_higher_is_better_levels(value, expected):
    rule = Rule("performance_metrics", "accuracy", "higher_is_better", warn=0.8, fail=0.7)
    assert rule.judge(value) is expected


@pytest.mark.parametrize("value, expected", [
    (0.01, Status.PASS), (0.05, Status.PASS), (0.0501, Status.WARN), (0.10, Status.WARN),
    (0.1001, Status.FAIL), (math.inf, Status.FAIL), (float("nan"), Status.WARN)])
def test_lower_is_better_levels(value, expected):
    rule = Rule("performance_calibration", "expected_calibration_error", "lower_is_better",
                warn=0.05, fail=0.10)
    assert rule.judge(value) is expected


def test_stricter_policy_worse_verdict_same_metrics(logreg, binary_data):
    checks = [PerformanceMetrics(n_resamples=50)]
    lenient = audit(logreg, binary_data, checks=checks, progress=False)
    accuracy = lenient["performance_metrics"].metric_value("accuracy")
    assert lenient["performance_metrics"].status is Status.PASS
    strict_policy = Policy.default().with_rule("performance_metrics", "accuracy",
                                               direction="higher_is_better",
                                               warn=accuracy + 0.05, fail=accuracy + 0.01)
    strict = audit(logreg, binary_data, checks=checks, policy=strict_policy, progress=False)
    assert strict["performance_metrics"].status is Status.FAIL
    assert strict.status is Status.FAIL
    assert strict["performance_metrics"].metrics == lenient["performance_metrics"].metrics
    pd.testing.assert_frame_equal(strict["performance_metrics"].tables["per_class"],
                                  lenient["performance_metrics"].tables["per_class"])
    # judging again under the default policy gives back the lenient verdict
    assert Policy.default().judge(strict["performance_metrics"]).status is Status.PASS


def test_judge_records_thresholds_with_clauses():
    judged = Policy.default().judge(_metrics_result(accuracy=0.75, balanced_accuracy=0.9,
                                                    roc_auc=0.65, log_loss=0.3))
    assert judged.status is Status.FAIL
    by_metric = {t.metric: t for t in judged.thresholds}
    assert set(by_metric) == {"accuracy", "balanced_accuracy", "roc_auc"}  # log_loss: no rule
    accuracy = by_metric["accuracy"]
    assert (accuracy.direction, accuracy.warn, accuracy.fail, accuracy.observed,
            accuracy.status) == ("higher_is_better", 0.8, 0.7, 0.75, Status.WARN)
    assert accuracy.clauses == DEFAULT_CLAUSES
    assert by_metric["balanced_accuracy"].status is Status.PASS
    assert by_metric["roc_auc"].status is Status.FAIL
    assert judged.metrics == _metrics_result(accuracy=0.75, balanced_accuracy=0.9, roc_auc=0.65,
                                             log_loss=0.3).metrics


def test_nan_metric_is_warn():
    judged = Policy.default().judge(_metrics_result(accuracy=float("nan")))
    assert judged.status is Status.WARN
    assert judged.thresholds[0].status is Status.WARN
    assert math.isnan(judged.thresholds[0].observed)


def test_result_without_rules_is_info_and_skip_error_untouched():
    policy = Policy.default()
    info = CheckResult("performance_confusion_matrix", "performance", Status.PASS, "h",
                       metrics={"error_rate": Metric(0.9)})
    assert policy.judge(info).status is Status.INFO
    assert policy.judge(info).thresholds == ()
    for status in (Status.SKIP, Status.ERROR):
        result = _metrics_result(accuracy=0.1).with_changes(status=status)
        assert policy.judge(result) is result


def test_yaml_extends_default_overrides_one_rule(tmp_path):
    path = tmp_path / "strict.yaml"
    path.write_text("name: strict\nextends: default\nrules:\n  performance_metrics:\n"
                    "    accuracy: {direction: higher_is_better, warn: 0.95, fail: 0.9}\n")
    policy = Policy.from_yaml(path)
    default = Policy.default()
    assert policy.name == "strict"
    assert policy.rule("performance_metrics", "accuracy") == Rule(
        "performance_metrics", "accuracy", "higher_is_better", 0.95, 0.9)
    for rule in default.rules:
        if rule.metric != "accuracy":
            assert policy.rule(rule.check, rule.metric) == rule
    assert len(policy.rules) == len(default.rules)
    assert dict(policy.evidence) == dict(default.evidence)
    assert dict(policy.clauses) == dict(default.clauses)
    assert policy.judge(_metrics_result(accuracy=0.92)).status is Status.WARN
    assert default.judge(_metrics_result(accuracy=0.92)).status is Status.PASS


def test_yaml_extends_default_changes_only_the_named_level(tmp_path):
    path = tmp_path / "warn_only.yaml"
    path.write_text("extends: default\nrules:\n  performance_metrics:\n"
                    "    accuracy: {warn: 0.9}\n")
    rule = Policy.from_yaml(path).rule("performance_metrics", "accuracy")
    assert (rule.direction, rule.warn, rule.fail) == ("higher_is_better", 0.9, 0.7)


def test_yaml_null_removes_a_rule(tmp_path):
    path = tmp_path / "relaxed.yaml"
    path.write_text("extends: default\nrules:\n  performance_metrics:\n    roc_auc: null\n")
    policy = Policy.from_yaml(path)
    assert policy.rule("performance_metrics", "roc_auc") is None
    assert policy.rule("performance_metrics", "accuracy") is not None
    assert len(policy.rules) == len(Policy.default().rules) - 1
    judged = policy.judge(_metrics_result(accuracy=0.9, roc_auc=0.1))
    assert judged.status is Status.PASS
    assert [t.metric for t in judged.thresholds] == ["accuracy"]


def test_yaml_without_extends_starts_empty(tmp_path):
    path = tmp_path / "own.yaml"
    path.write_text("name: own\nclauses:\n  internal-1: Our model-risk standard\nevidence:\n"
                    "  performance_metrics: [internal-1]\nrules:\n  performance_metrics:\n"
                    "    f1_macro: {direction: higher_is_better, fail: 0.5}\n")
    policy = Policy.from_yaml(path)
    assert [(r.check, r.metric) for r in policy.rules] == [("performance_metrics", "f1_macro")]
    judged = policy.judge(_metrics_result(f1_macro=0.4, accuracy=0.1))
    assert judged.status is Status.FAIL
    assert judged.thresholds[0].clauses == ("internal-1",)


def test_policy_from_a_path_in_audit(logreg, binary_data, tmp_path):
    path = tmp_path / "warn.yaml"
    path.write_text("extends: default\nrules:\n  performance_metrics:\n"
                    "    accuracy: {direction: higher_is_better, warn: 0.999}\n")
    result = audit(logreg, binary_data, checks=[PerformanceMetrics(n_resamples=0)],
                   policy=str(path), progress=False)
    assert result["performance_metrics"].status is Status.WARN
    assert result.provenance["policy"]["name"] == "auditkit-default"
    assert {"check": "performance_metrics", "metric": "accuracy", "direction": "higher_is_better",
            "warn": 0.999, "fail": 0.7,  # fail inherited
            "judge_on": "estimate"} in result.provenance["policy"]["rules"]


def test_with_rule_does_not_change_the_original():
    default = Policy.default()
    stricter = default.with_rule("performance_metrics", "accuracy", direction="higher_is_better",
                                 warn=0.99)
    assert default.rule("performance_metrics", "accuracy").warn == 0.8
    assert stricter.rule("performance_metrics", "accuracy").warn == 0.99
    assert stricter.rule("performance_metrics", "accuracy").fail is None


def _gain_result(value, lower, upper):
    from auditkit.results import CheckResult, Metric
    return CheckResult(name="explanations_saliency", family="explanations", status=Status.INFO,
                       headline="", metrics={"faithfulness_gain": Metric(value, lower, upper,
                                                                         0.95, 100)})


@pytest.mark.parametrize("value, lower, upper, expected", [
    (-0.023, -0.069, 0.021, Status.PASS),   # the interval reaches the warning level
    (-0.023, -0.069, 0.015, Status.WARN),   # the whole interval is under 0.02
    (-0.050, -0.089, -0.014, Status.FAIL),  # the whole interval is under 0
    (0.300, 0.250, 0.350, Status.PASS),
])
def test_a_rule_on_the_interval_needs_the_whole_interval_past_a_level(value, lower, upper,
                                                                      expected):
    judged = Policy.default().judge(_gain_result(value, lower, upper))
    (threshold,) = [t for t in judged.thresholds if t.metric == "faithfulness_gain"]
    assert judged.status is expected
    assert threshold.judged_on == "interval"
    assert threshold.judged_value == upper and threshold.observed == value
    assert threshold.confidence == 0.95
    # the same numbers judged on the estimate: a negative gain FAILs whatever its interval
    on_estimate = Policy.default().with_rule("explanations_saliency", "faithfulness_gain",
                                             direction="higher_is_better", warn=0.02, fail=0.0)
    assert on_estimate.judge(_gain_result(value, lower, upper)).status is (
        Status.FAIL if value < 0 else Status.PASS)


def test_a_rule_on_the_interval_judges_the_lower_end_when_lower_is_better():
    from auditkit.results import CheckResult, Metric
    result = CheckResult(name="fairness_counterfactual_text", family="fairness",
                         status=Status.INFO, headline="",
                         metrics={"counterfactual_flip_rate": Metric(0.027, 0.009, 0.049, 0.95)})
    judged = Policy.default().judge(result)
    assert judged.status is Status.PASS
    assert judged.thresholds[0].judged_value == 0.009
    # a metric without an interval falls back to its estimate
    bare = result.with_changes(metrics={"counterfactual_flip_rate": Metric(0.027)})
    judged = Policy.default().judge(bare)
    assert judged.status is Status.WARN and judged.thresholds[0].judged_on == "estimate"


def test_judge_on_is_validated_and_round_trips(tmp_path):
    with pytest.raises(PolicyError, match=r"judge_on.*one of \['estimate', 'interval'\].*'bound'"):
        Rule("a", "b", "higher_is_better", 0.1, judge_on="bound")
    path = tmp_path / "p.yaml"
    path.write_text("extends: default\nrules:\n  performance_metrics:\n"
                    "    accuracy: {judge_on: interval, mystery: 1}\n")
    with pytest.raises(PolicyError, match=r"keys among.*mystery"):
        Policy.from_yaml(path)
    path.write_text("extends: default\nrules:\n  performance_metrics:\n"
                    "    accuracy: {judge_on: interval}\n")
    rule = Policy.from_yaml(path).rule("performance_metrics", "accuracy")
    assert (rule.judge_on, rule.warn, rule.fail) == ("interval", 0.8, 0.7)
    judged = Policy.default().judge(_gain_result(-0.05, -0.09, -0.01))
    import json
    assert CheckResult.from_dict(json.loads(json.dumps(judged.to_dict()))).thresholds == \
        judged.thresholds
