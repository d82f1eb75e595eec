"""audit(): the same audit on any kind of model, a failing check never stops it, presets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

import auditkit
from auditkit import AuditData, AuditResult, Check, Status, audit, preset_checks, wrap_model
from auditkit.checks import PerformanceMetrics
from auditkit.checks import _base as checks_base

VERDICTS = {Status.PASS, Status.WARN, Status.FAIL, Status.INFO, Status.SKIP}


@pytest.fixture
def failing_check():
    """A registered check that always raises; removed from the registry afterwards."""

    @auditkit.register_check
    @dataclasses.dataclass(frozen=True)
    class AlwaysFails(Check):
        name = "test_audit_always_fails"
        family = "performance"
        description = "Raises, to show that the audit goes on."

        def compute(self, model, data, *, context):
            raise RuntimeError("planted failure in a check")

    yield AlwaysFails
    checks_base._REGISTRY.pop(AlwaysFails.name)


def test_same_checks_on_zoo_mlp_sklearn_and_black_box(zoo_adult, logreg, black_box,
                                                      binary_data):
    # The performance preset keeps this under a few seconds on the 16,281 Adult rows; every
    # registered check runs on each kind of model in test_contract.py.
    model, data = zoo_adult
    results = {
        "zoo": audit(model, data, preset="performance", progress=False),
        "sklearn": audit(logreg, binary_data, preset="performance", progress=False),
        "black_box": audit(black_box, binary_data, preset="performance", progress=False),
    }
    expected = preset_checks("performance")
    assert expected == auditkit.list_checks("performance")
    for kind, result in results.items():
        assert isinstance(result, AuditResult)
        assert result.check_names == expected, kind
        assert {r.status for r in result} <= VERDICTS, kind
        assert all(r.error is None for r in result), kind
        assert result.provenance["preset"] == "performance"
    zoo_result = results["zoo"]
    assert zoo_result.provenance["model"]["framework"] == "torch"
    assert zoo_result.provenance["model"]["type"] == "AdultMLP"
    assert zoo_result.title == "Audit of UCI Adult (test split)"
    assert zoo_result.model_card["name"] == "adult-mlp"
    assert zoo_result["performance_metrics"].status is Status.PASS
    assert zoo_result["performance_metrics"].metric_value("accuracy") >= 0.84
    assert results["sklearn"].provenance["model"]["framework"] == "sklearn"
    assert results["black_box"].provenance["model"]["framework"] == "callable"
    assert results["black_box"].provenance["model"]["weights_sha256"] is None


def test_a_check_that_raises_is_error_and_the_others_run(failing_check, logreg, binary_data):
    result = audit(logreg, binary_data, checks=["performance_metrics", failing_check.name,
                                                "performance_calibration"], progress=False)
    assert result.check_names == ["performance_metrics", failing_check.name,
                                  "performance_calibration"]
    failed = result[failing_check.name]
    assert failed.status is Status.ERROR
    assert failed.family == "performance"
    assert failed.headline == "The check raised RuntimeError: planted failure in a check"
    assert failed.error.startswith("Traceback (most recent call last):")
    assert "planted failure in a check" in failed.error and "compute" in failed.error
    assert result["performance_metrics"].status is Status.PASS
    assert result["performance_calibration"].status in (Status.PASS, Status.WARN, Status.FAIL)
    assert result.status is Status.ERROR
    assert result.family_status()["performance"] is Status.ERROR
    assert AuditResult.from_json(result.to_json()) == result


def test_a_single_check_instance_is_accepted(failing_check, logreg, binary_data):
    result = audit(logreg, binary_data, checks=failing_check(), progress=False)
    assert result.check_names == [failing_check.name]
    assert result.status is Status.ERROR


def test_skip_with_reason(make_binary):
    X, y, _ = make_binary(n=120)
    svm = LinearSVC().fit(X, y)
    result = audit(svm, AuditData(X, y), preset="quick", progress=False)
    assert result.check_names == ["performance_metrics", "performance_calibration"]
    skipped = result["performance_calibration"]
    assert skipped.status is Status.SKIP
    assert "probabilities" in skipped.headline
    assert skipped.thresholds == () and not skipped.metrics
    assert result["performance_metrics"].status is not Status.SKIP
    assert result.family_status()["performance"] is result["performance_metrics"].status


@pytest.fixture
def image_only_check():
    """A registered check that applies to images only; removed afterwards."""

    @auditkit.register_check
    @dataclasses.dataclass(frozen=True)
    class ImageOnly(Check):
        name = "test_audit_image_only"
        family = "performance"
        modalities = ("image",)

        def compute(self, model, data, *, context):
            raise AssertionError("must not run on tabular data")

    yield ImageOnly
    checks_base._REGISTRY.pop(ImageOnly.name)


def test_skip_on_another_modality(image_only_check, logreg, binary_data):
    result = audit(logreg, binary_data, checks=[image_only_check.name, "performance_metrics"],
                   progress=False)
    skipped = result[image_only_check.name]
    assert skipped.status is Status.SKIP
    assert skipped.headline == ("This check applies to image data; the audited data is "
                                "tabular.")
    assert result.status is Status.PASS  # a SKIP never makes the verdict worse


def test_checks_with_instances_and_options(logreg, binary_data):
    result = audit(logreg, binary_data, checks=[PerformanceMetrics(n_resamples=50,
                                                                   confidence=0.9)],
                   progress=False)
    metrics = result["performance_metrics"]
    assert metrics.params == {"n_resamples": 50, "confidence": 0.9}
    assert metrics.metrics["accuracy"].method == "percentile bootstrap, 50 resamples"
    assert metrics.metrics["accuracy"].confidence == 0.9
    assert result.provenance["preset"] is None


def test_a_single_check_name_is_accepted(logreg, binary_data):
    result = audit(logreg, binary_data, checks="performance_confusion_matrix", progress=False)
    assert result.check_names == ["performance_confusion_matrix"]
    assert result["performance_confusion_matrix"].status is Status.INFO


@pytest.mark.parametrize("preset", ["quick", "standard", "full", "performance"])
def test_presets(preset, logreg, binary_data):
    result = audit(logreg, binary_data, preset=preset, progress=False)
    assert result.check_names == preset_checks(preset)
    assert result.provenance["preset"] == preset


def test_preset_contents():
    assert preset_checks("quick") == ["performance_metrics", "performance_calibration"]
    assert preset_checks("performance") == auditkit.list_checks("performance")
    assert set(preset_checks("standard")) <= set(preset_checks("full"))
    assert auditkit.list_presets()[:3] == ["quick", "standard", "full"]


def test_a_family_preset_with_no_checks_raises(logreg, binary_data):
    empty = [p for p in auditkit.list_presets() if not preset_checks(p)]
    if not empty:
        pytest.skip("every family has registered checks: no empty preset is left to try")
    with pytest.raises(auditkit.AuditkitError, match=f"'preset' parameter must be a preset with "
                                                     f"at least one check.*Got '{empty[0]}'"):
        audit(logreg, binary_data, preset=empty[0], progress=False)


def test_progress_false_prints_nothing(logreg, binary_data, capsys):
    audit(logreg, binary_data, preset="quick", progress=False)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_torch_model_audit_restores_mode(torch_model, binary_data):
    torch_model.train()
    try:
        result = audit(torch_model, binary_data, preset="quick", device="cpu", progress=False)
        assert torch_model.training
    finally:
        torch_model.eval()
    assert result.provenance["device"] == "cpu"
    assert result.provenance["model"]["capabilities"] == sorted(
        wrap_model(torch_model, device="cpu").capabilities)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_cpu_verdicts_and_leaves_the_model_where_it_was(torch_model,
                                                                        binary_data):
    on_cpu = audit(torch_model, binary_data, preset="quick", device="cpu", progress=False)
    on_cuda = audit(torch_model, binary_data, preset="quick", device="cuda", progress=False)
    assert on_cuda.provenance["device"].startswith("cuda")
    assert all(p.device.type == "cpu" for p in torch_model.parameters())
    assert [r.status for r in on_cuda] == [r.status for r in on_cpu]
    for cpu_result, cuda_result in zip(on_cpu, on_cuda, strict=True):
        for name, metric in cpu_result.metrics.items():
            assert cuda_result.metrics[name].value == pytest.approx(metric.value, abs=1e-5)


def test_an_adapter_is_accepted(logreg, binary_data):
    adapter = wrap_model(logreg, batch_size=17)
    direct = audit(logreg, binary_data, preset="quick", progress=False)
    wrapped = audit(adapter, binary_data, preset="quick", progress=False)
    assert [r.metrics for r in direct] == [r.metrics for r in wrapped]


def test_n_jobs_do_not_change_the_numbers(logreg, binary_data):
    one = audit(logreg, binary_data, preset="quick", n_jobs=1, progress=False)
    two = audit(logreg, binary_data, preset="quick", n_jobs=2, progress=False)
    assert [r.metrics for r in one] == [r.metrics for r in two]


def test_title_and_model_card(logreg, binary_data):
    named = audit(logreg, binary_data, preset="quick", progress=False, title="Credit v2",
                  model_card={"owner": "risk team"})
    assert named.title == "Credit v2"
    assert named.model_card == {"owner": "risk team"}
    unnamed = audit(logreg, AuditData(binary_data.X, binary_data.y), preset="quick",
                    progress=False)
    assert unnamed.title == "Model audit"
    assert unnamed.model_card is None


def test_string_labels_and_class_names(logreg, binary_arrays):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = binary_arrays
    labels = np.where(y == 1, "approved", "rejected")
    model = LogisticRegression().fit(X, labels)
    result = audit(model, AuditData(X, labels), preset="quick", progress=False)
    assert result.provenance["model"]["classes"] == ["approved", "rejected"]
    assert list(result["performance_metrics"].tables["per_class"].index) == ["approved",
                                                                              "rejected"]
