"""The contract every registered check keeps, run over each of them and each kind of model.

The models (see ``conftest.py``): a torch MLP, a scikit-learn logistic regression and
a black-box function on tabular data, and tiny fixed-weight torch models on 8x8
images, on token ids with a tokenizer, and on short multivariate sequences. Each
check runs once per model and session (``contract_result``).

``run`` returns a CheckResult named after the check, never ERROR; every check
gives a real (non-SKIP) result on at least one model; on that model the result
round-trips through strict JSON exactly and is the same with one and two workers;
a model that lacks a capability the check needs gives SKIP with a reason; every
option is declared in ``parameter_constraints`` and a bad value fails at
construction with a sentence naming the check and the option. Adding a check
file adds it to these tests.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from numbers import Integral

import numpy as np
import pandas as pd
import pytest
from conftest import CONTRACT_MODELS, contract_check, run_contract_check

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
from auditkit.exceptions import CheckError
from auditkit.inputs import CAPABILITIES

CHECKS = list_checks()


def _runs_on(name: str, contract_result) -> str:
    """The first model kind on which check ``name`` gives a real (non-SKIP) result."""
    reasons = {}
    for kind in CONTRACT_MODELS:
        _, result = contract_result(name, kind)
        if result.status is not Status.SKIP:
            return kind
        reasons[kind] = result.headline
    pytest.fail(f"Check {name!r} gives SKIP on every contract model: {reasons}")


def _strict_json(result: CheckResult) -> CheckResult:
    return CheckResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))


@pytest.mark.parametrize("name", CHECKS)
def test_registered_class_declares_its_identity(name):
    cls = check_class(name)
    assert cls.name == name
    assert cls.family in FAMILIES
    assert isinstance(cls.description, str) and cls.description
    assert dataclasses.is_dataclass(cls)
    assert cls.requires <= CAPABILITIES
    assert name in list_checks(cls.family)


@pytest.mark.parametrize("kind", CONTRACT_MODELS)
@pytest.mark.parametrize("name", CHECKS)
def test_run_returns_a_check_result(name, kind, contract_result, contract_cases):
    check, result = contract_result(name, kind)
    assert result.status is not Status.ERROR, result.error
    assert isinstance(result, CheckResult)
    assert (result.name, result.family) == (check.name, check.family) == (
        name, check_class(name).family)
    assert result.status in (Status.INFO, Status.SKIP)  # the policy gives PASS/WARN/FAIL later
    assert isinstance(result.headline, str) and result.headline.strip()
    assert result.error is None
    assert dict(result.params) == check.params()
    if result.status is Status.SKIP:  # e.g. a capability or a modality this model lacks
        assert not result.metrics and not result.tables and not result.figures
        return
    assert result.metrics or result.tables or result.figures
    assert all(isinstance(m, Metric) for m in result.metrics.values())
    assert all(isinstance(t, pd.DataFrame) for t in result.tables.values())
    assert all(isinstance(f, Figure) for f in result.figures.values())
    n_samples = contract_cases[kind][1].n_samples
    for metric_name, metric in result.metrics.items():
        assert isinstance(metric.value, float), metric_name
        assert metric.n is None or 0 < metric.n <= n_samples, metric_name


@pytest.mark.parametrize("name", CHECKS)
def test_every_check_runs_on_some_contract_model(name, contract_result):
    assert _runs_on(name, contract_result) in CONTRACT_MODELS


@pytest.mark.parametrize("kind", CONTRACT_MODELS)
@pytest.mark.parametrize("name", CHECKS)
def test_result_round_trips_through_strict_json(name, kind, contract_result):
    _, result = contract_result(name, kind)
    assert CheckResult.from_dict(result.to_dict()) == result
    back = _strict_json(result)
    assert back == result
    assert json.dumps(back.to_dict(), allow_nan=False, sort_keys=True) == json.dumps(
        result.to_dict(), allow_nan=False, sort_keys=True)


@pytest.mark.parametrize("name", CHECKS)
def test_real_result_round_trips_and_its_params_rebuild_the_check(name, contract_result):
    check, result = contract_result(name, _runs_on(name, contract_result))
    back = _strict_json(result)
    assert back == result
    # the options as the JSON report keeps them are valid options of the check
    rebuilt = get_check(name, **back.params)
    assert rebuilt.params().keys() == check.params().keys()


class SendingExecutor(LocalExecutor):
    """Two threads, noting every unit of work that could not be sent to another process.

    A function is sent by reference (pickled by its qualified name), so a lambda, a
    closure or a bound method cannot be; a unit must pickle on its own (arrays,
    numbers, names). ``shared`` is sent once per worker and is not checked here.
    """

    def __init__(self) -> None:
        super().__init__(2)
        self.n_maps = 0
        self.not_sendable: list[str] = []

    def map(self, function, units, *, shared=None, on_done=None):
        units = list(units)
        self.n_maps += 1
        name = getattr(function, "__qualname__", repr(function))
        try:
            pickle.dumps(function)
            if "<" in name or getattr(function, "__self__", None) is not None:
                raise pickle.PicklingError("not a module-level function")
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            self.not_sendable.append(f"function {name}: {error}")
        for unit in units[:1]:
            try:
                pickle.dumps(unit)
            except (pickle.PicklingError, AttributeError, TypeError) as error:
                self.not_sendable.append(f"a unit of {name}: {error}")
        return super().map(function, units, shared=shared, on_done=on_done)


@pytest.fixture(scope="session")
def two_worker_result(contract_result, contract_cases):
    """two_worker_result(name) -> (result, executor): seed 0 on two workers, on a real model."""
    cache = {}

    def get(name):
        if name not in cache:
            adapter, data = contract_cases[_runs_on(name, contract_result)]
            executor = SendingExecutor()
            check = contract_check(name)
            context = CheckContext(random_state=0, device=adapter.device, executor=executor)
            cache[name] = (check.run(adapter, data, context=context), executor)
        return cache[name]

    return get


@pytest.mark.parametrize("name", CHECKS)
def test_deterministic_with_one_and_two_workers(name, contract_result, two_worker_result):
    _, first = contract_result(name, _runs_on(name, contract_result))  # seed 0, one worker
    second, _ = two_worker_result(name)
    first, second = (r.with_changes(duration_s=0.0) for r in (first, second))
    assert first == second
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(),
                                                                     sort_keys=True)


@pytest.mark.parametrize("name", CHECKS)
def test_units_of_work_can_be_sent_to_another_process(name, two_worker_result):
    _, executor = two_worker_result(name)
    assert not executor.not_sendable, executor.not_sendable


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
    check, result = run_contract_check(name, adapter, binary_data)
    assert result.status is Status.SKIP
    assert result.headline.strip()
    assert (result.name, result.family) == (check.name, check.family)
    assert not result.metrics and not result.tables and not result.figures
    assert _strict_json(result) == result


@pytest.mark.parametrize("name", [n for n in CHECKS if check_class(n).modalities is not None])
def test_skips_on_a_modality_it_does_not_cover(name):
    cls = check_class(name)
    other = next(m for m in ("tabular", "image", "text", "sequence") if m not in cls.modalities)
    shape = {"tabular": (8, 4), "image": (8, 2, 2), "text": (8, 4), "sequence": (8, 4)}[other]
    data = AuditData(np.arange(np.prod(shape)).reshape(shape) % 3, [0, 1] * 4, modality=other)
    adapter = DeclaredAdapter(CAPABILITIES, lambda X: np.full((len(X), 2), 0.5))
    _, result = run_contract_check(name, adapter, data)
    assert result.status is Status.SKIP
    assert other in result.headline


def test_calibration_skips_on_linear_svc_with_a_reason(make_binary):
    from sklearn.svm import LinearSVC

    X, y, _ = make_binary(n=80)
    _, result = run_contract_check("performance_calibration", wrap_model(LinearSVC().fit(X, y)),
                                   AuditData(X, y))
    assert result.status is Status.SKIP
    assert "probabilities" in result.headline
    assert "sklearn" in result.headline


@pytest.mark.parametrize("name", CHECKS)
def test_params_rebuild_an_equal_frozen_check(name):
    check = get_check(name)
    fields = dataclasses.fields(check)
    assert get_check(name, **check.params()) == check
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(check, fields[0].name, getattr(check, fields[0].name))


# --- option validation --------------------------------------------------------------------


class _NotAValue:
    """A value no option accepts (not a number, string, sequence, mapping or callable)."""

    def __repr__(self) -> str:
        return "<not a value>"


_NAMED = {
    "boolean": lambda v: isinstance(v, (bool, np.bool_)),
    "callable": callable,
    "string": lambda v: isinstance(v, str),
    "real": lambda v: (isinstance(v, (int, float, np.integer, np.floating))
                       and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)),
}


def _accepted(value, constraints) -> bool:
    """Whether one of the declared constraints accepts ``value`` (as the validator reads them)."""
    for constraint in constraints:
        if constraint is None:
            ok = value is None
        elif isinstance(constraint, str):
            ok = _NAMED[constraint](value)
        elif isinstance(constraint, type):
            ok = isinstance(value, constraint) and not isinstance(value, bool)
        else:
            ok = constraint.accepts(value)
        if ok:
            return True
    return False


def _bad_values(constraints) -> list:
    """A value of the wrong type, and values just out of each declared interval."""
    wrong_type = next(v for v in ("3", _NotAValue()) if not _accepted(v, constraints))
    candidates = [wrong_type]
    for constraint in constraints:
        if not hasattr(constraint, "closed"):  # not an Interval
            continue
        step = 1 if constraint.kind is Integral else 0.5
        cast = int if constraint.kind is Integral else float
        if constraint.left is not None:
            candidates.append(cast(constraint.left) if constraint.closed in ("right", "neither")
                              else cast(constraint.left - step))
        if constraint.right is not None:
            candidates.append(cast(constraint.right) if constraint.closed in ("left", "neither")
                              else cast(constraint.right + step))
    return [v for v in candidates if not _accepted(v, constraints)]


OPTIONS = [(name, f.name) for name in CHECKS for f in dataclasses.fields(check_class(name))]


@pytest.mark.parametrize("name", CHECKS)
def test_every_option_declares_its_constraints(name):
    cls = check_class(name)
    options = {f.name for f in dataclasses.fields(cls)}
    declared = set(cls.parameter_constraints)
    assert not options - declared, f"{name}: options without constraints {options - declared}"
    assert not declared - options, f"{name}: constraints of no option {declared - options}"


@pytest.mark.parametrize("name, option", OPTIONS)
def test_a_bad_option_value_fails_at_construction(name, option):
    constraints = check_class(name).parameter_constraints.get(option)
    if constraints is None:
        pytest.fail(f"The {option!r} option of check {name!r} declares no constraints.")
    default = getattr(get_check(name), option)
    assert _accepted(default, constraints), f"{name}.{option}: default {default!r} is rejected"
    assert get_check(name, **{option: default}) == get_check(name)
    for bad in _bad_values(constraints):
        with pytest.raises(CheckError) as caught:
            get_check(name, **{option: bad})
        message = str(caught.value)
        assert repr(option) in message and repr(name) in message, message
        assert repr(bad) in message, message
        assert "must be among" not in message  # a bad value is not an unknown option


@pytest.mark.parametrize("name", CHECKS)
def test_an_unknown_option_is_named(name):
    with pytest.raises(CheckError, match=r"options of check .*must be among.*not_an_option"):
        get_check(name, not_an_option=1)
