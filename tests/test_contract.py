"""The contract every registered check keeps, run over each of them and each kind of model.

``run`` returns a CheckResult named after the check; the result round-trips
through strict JSON exactly; the same seed gives the same result; a model that
lacks a capability the check needs gives SKIP with a reason; ``params()`` are
the dataclass fields. Adding a check file adds it to these tests.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from auditkit import (
    AuditData,
    CheckContext,
    CheckResult,
    Figure,
    Metric,
    ModelAdapter,
    Status,
    get_check,
    list_checks,
    wrap_model,
)
from auditkit.checks import FAMILIES, LocalExecutor, check_class
from auditkit.inputs import CAPABILITIES

CHECKS = list_checks()
MODELS = ["torch", "sklearn", "black_box"]


@pytest.fixture
def adapter(request, torch_model, logreg, black_box):
    models = {"torch": torch_model, "sklearn": logreg, "black_box": black_box}
    return wrap_model(models[request.param], device="cpu") if request.param == "torch" \
        else wrap_model(models[request.param])


def _run(name, adapter, data, *, seed=0, n_workers=1):
    check = get_check(name)
    context = CheckContext(random_state=seed, device=adapter.device,
                           executor=LocalExecutor(n_workers))
    return check, check.run(adapter, data, context=context)


def test_registry_is_not_empty():
    assert {"performance_metrics", "performance_confusion_matrix",
            "performance_calibration"} <= set(CHECKS)


@pytest.mark.parametrize("name", CHECKS)
def test_registered_class_declares_its_identity(name):
    cls = check_class(name)
    assert cls.name == name
    assert cls.family in FAMILIES
    assert isinstance(cls.description, str) and cls.description
    assert dataclasses.is_dataclass(cls)
    assert cls.requires <= CAPABILITIES
    assert name in list_checks(cls.family)


@pytest.mark.parametrize("adapter", MODELS, indirect=True)
@pytest.mark.parametrize("name", CHECKS)
def test_run_returns_a_check_result(name, adapter, binary_data):
    check, result = _run(name, adapter, binary_data)
    assert isinstance(result, CheckResult)
    assert (result.name, result.family) == (check.name, check.family) == (
        name, check_class(name).family)
    assert isinstance(result.status, Status)
    assert result.status in (Status.INFO, Status.SKIP)  # the policy gives PASS/WARN/FAIL later
    assert isinstance(result.headline, str) and result.headline.strip()
    assert result.error is None
    assert dict(result.params) == check.params()
    if result.status is Status.SKIP:  # e.g. a capability this model lacks
        assert not result.metrics and not result.tables and not result.figures
        return
    assert result.metrics or result.tables or result.figures
    assert all(isinstance(m, Metric) for m in result.metrics.values())
    assert all(isinstance(t, pd.DataFrame) for t in result.tables.values())
    assert all(isinstance(f, Figure) for f in result.figures.values())
    for metric_name, metric in result.metrics.items():
        assert isinstance(metric.value, float), metric_name
        assert metric.n is None or 0 < metric.n <= binary_data.n_samples, metric_name


@pytest.mark.parametrize("adapter", MODELS, indirect=True)
@pytest.mark.parametrize("name", CHECKS)
def test_result_round_trips_through_strict_json(name, adapter, binary_data):
    _, result = _run(name, adapter, binary_data)
    assert CheckResult.from_dict(result.to_dict()) == result
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = CheckResult.from_dict(json.loads(text))
    assert back == result
    assert json.dumps(back.to_dict(), allow_nan=False, sort_keys=True) == json.dumps(
        result.to_dict(), allow_nan=False, sort_keys=True)


def _determinism_cases():
    for name in CHECKS:
        for model in MODELS:
            yield pytest.param(name, model, id=f"{name}-{model}")


@pytest.mark.parametrize("name, adapter", list(_determinism_cases()), indirect=["adapter"])
def test_deterministic_under_a_seed(name, adapter, binary_data):
    _, first = _run(name, adapter, binary_data, seed=11)
    # the second run also spreads work over two workers: neither may change the numbers
    _, second = _run(name, adapter, binary_data, seed=11, n_workers=2)
    first, second = (r.with_changes(duration_s=0.0) for r in (first, second))
    assert first == second
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(),
                                                                     sort_keys=True)


class DeclaredAdapter(ModelAdapter):
    """A black box declaring exactly the capabilities a test gives it."""

    framework = "test"

    def __init__(self, capabilities, function):
        super().__init__(batch_size=64)
        self.capabilities = frozenset(capabilities)
        self.function = function

    def predict_proba(self, X):
        proba = self.function(X)
        self._set_n_outputs(proba.shape[1])
        return proba


NEEDS = [(name, capability) for name in CHECKS for capability in sorted(
    check_class(name).requires)]


@pytest.mark.parametrize("name, capability", NEEDS)
def test_skips_when_a_needed_capability_is_missing(name, capability, black_box, binary_data):
    adapter = DeclaredAdapter(CAPABILITIES - {capability}, black_box)
    check, result = _run(name, adapter, binary_data)
    assert result.status is Status.SKIP
    assert result.headline.strip()
    assert (result.name, result.family) == (check.name, check.family)
    assert not result.metrics and not result.tables and not result.figures
    assert CheckResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize("name", [n for n in CHECKS if check_class(n).modalities is not None])
def test_skips_on_a_modality_it_does_not_cover(name, black_box):
    cls = check_class(name)
    other = next(m for m in ("tabular", "image", "text", "sequence") if m not in cls.modalities)
    shape = {"tabular": (8, 4), "image": (8, 2, 2), "text": (8, 4), "sequence": (8, 4)}[other]
    data = AuditData(np.arange(np.prod(shape)).reshape(shape) % 3, [0, 1] * 4, modality=other)
    adapter = DeclaredAdapter(CAPABILITIES, lambda X: np.full((len(X), 2), 0.5))
    _, result = _run(name, adapter, data)
    assert result.status is Status.SKIP
    assert other in result.headline


def test_calibration_skips_on_linear_svc_with_a_reason(make_binary):
    from sklearn.svm import LinearSVC

    X, y, _ = make_binary(n=80)
    _, result = _run("performance_calibration", wrap_model(LinearSVC().fit(X, y)),
                     AuditData(X, y))
    assert result.status is Status.SKIP
    assert "probabilities" in result.headline
    assert "sklearn" in result.headline


@pytest.mark.parametrize("name", CHECKS)
def test_params_are_the_dataclass_fields(name):
    check = get_check(name)
    fields = dataclasses.fields(check)
    assert check.params() == {f.name: getattr(check, f.name) for f in fields}
    assert get_check(name, **check.params()) == check
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(check, fields[0].name, getattr(check, fields[0].name))
