"""audit(): the same audit on any kind of model, a failing check never stops it, presets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

import auditkit
from auditkit import (
    AuditData,
    AuditResult,
    Check,
    Status,
    audit,
    preset_checks,
    preset_options,
    wrap_model,
)
from auditkit.checks import PerformanceMetrics
from auditkit.checks import _base as checks_base
from auditkit.presets import FULL_ONLY

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
    result = audit(svm, AuditData(X, y), preset="performance", progress=False)
    assert result.check_names == preset_checks("performance")
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
    assert metrics.metrics["roc_auc"].method == "Poisson bootstrap, 50 resamples"
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
    quick, standard, full = (preset_checks(p) for p in ("quick", "standard", "full"))
    assert preset_checks("performance") == auditkit.list_checks("performance")
    assert set(quick) <= set(standard) <= set(full)
    assert full == auditkit.list_checks()
    assert auditkit.list_presets()[:3] == ["quick", "standard", "full"]


def test_standard_differs_from_full():
    standard, full = preset_checks("standard"), preset_checks("full")
    expensive = set(full) - set(standard)
    assert expensive == FULL_ONLY & set(auditkit.list_checks())
    assert expensive, "full must add checks to standard"
    # full also raises budgets of checks that standard runs at their defaults
    raised = {name for name, options in preset_options("full").items()
              if name in standard and options}
    assert raised
    # standard runs every check at its defaults, but for fewer reference models of the
    # membership attacks (each a full training run)
    assert {name: options for name, options in preset_options("standard").items()
            if options} == {"privacy_membership_inference": {"n_reference_models": 2}}


def test_quick_leaves_out_the_expensive_methods():
    quick = set(preset_checks("quick"))
    assert not quick & FULL_ONLY
    assert not quick & {"explanations_lime", "explanations_shap", "robustness_pgd",
                        "robustness_gradient_masking", "fairness_mitigation"}


@pytest.mark.parametrize("preset", ["quick", "standard", "full"])
def test_every_preset_option_is_a_valid_option_of_its_check(preset):
    options = preset_options(preset)
    assert list(options) == preset_checks(preset)
    for name, values in options.items():
        fields = {f.name for f in dataclasses.fields(auditkit.checks.check_class(name))}
        assert set(values) <= fields, (preset, name, set(values) - fields)
        check = auditkit.get_check(name, **values)  # validated at construction
        assert {k: check.params()[k] for k in values} == values


def test_quick_covers_every_family_on_tabular_data_within_seconds(zoo_adult):
    model, data = zoo_adult
    result = audit(model, data, preset="quick", progress=False)
    assert result.check_names == preset_checks("quick")
    assert all(r.status is not Status.ERROR for r in result), [
        r.name for r in result if r.status is Status.ERROR]
    ran = {r.family for r in result if r.status is not Status.SKIP}
    families = {auditkit.checks.check_class(n).family for n in auditkit.list_checks()}
    # every family that applies to a tabular classifier with sensitive features
    assert ran == families - {"generative"}
    assert {r.status for r in result if r.family == "generative"} == {Status.SKIP}
    assert result.provenance["duration_s"] < 20
    # the preset's small budgets reach the checks
    assert result["performance_metrics"].params["n_resamples"] == 200
    assert result["explanations_saliency"].params["n_samples"] == 8


def test_quick_covers_every_family_by_modality():
    """Each family has a quick check for each modality it audits (not a SKIP by design)."""
    quick = preset_checks("quick")
    by_family: dict[str, set[str]] = {}
    for name in quick:
        by_family.setdefault(auditkit.checks.check_class(name).family, set()).add(name)
    assert by_family.keys() == {auditkit.checks.check_class(n).family
                                for n in auditkit.list_checks()}
    assert {"robustness_fgsm", "robustness_tabular", "robustness_text",
            "robustness_corruptions"} <= by_family["robustness"]
    assert {"fairness_group_metrics", "fairness_counterfactual_text"} <= by_family["fairness"]


def test_user_options_override_preset_options(tmp_path):
    from auditkit.cli import main

    out = tmp_path / "r.json"
    assert main(["audit", "--zoo", "adult-mlp", "--preset", "quick", "--quiet",
                 "--out", str(tmp_path / "r.html"), "--json", str(out),
                 "--option", "performance_metrics.n_resamples=300",
                 "--option", "n_samples=5"]) in (0, 1)
    result = AuditResult.load_json(out)
    assert result.check_names == preset_checks("quick")
    assert result["performance_metrics"].params["n_resamples"] == 300  # user, named check
    assert result["performance_calibration"].params["n_resamples"] == 200  # the preset's
    assert result["explanations_saliency"].params["n_samples"] == 5  # user, every check
    assert result["robustness_tabular"].params["n_samples"] == 5


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
