"""Bad input gets a clear error naming the parameter, what was expected and what was given.

Each case matches the message (the module constants of ``auditkit.exceptions``)
with ``pytest.raises(..., match=...)``; ``re.escape`` is used where the whole
sentence is known, so a changed word fails the test.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from auditkit import (
    AuditData,
    AuditkitError,
    Policy,
    audit,
    get_check,
    list_presets,
    preset_checks,
    wrap_model,
)
from auditkit.checks import PerformanceCalibration, PerformanceMetrics
from auditkit.cli import main
from auditkit.exceptions import (
    CheckError,
    DataValidationError,
    ModelError,
    PolicyError,
)
from auditkit.results import Status

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 4))
Y = np.array([0, 1] * 5)


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    out = array.copy()
    out[index] = value
    return out


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


# -- AuditData ----------------------------------------------------------------------------

DATA_CASES = {
    "X_y_length_mismatch": (
        lambda: AuditData(X, Y[:9]),
        exact("The 'y' parameter must have the same number of samples as 'X' (10). "
              "Got 9 instead.")),
    "nan_in_X": (
        lambda: AuditData(_with(X, (3, 1), np.nan), Y),
        exact("The 'X' parameter must contain only finite values. Got 1 NaN or infinite "
              "value(s) instead (first at index 3).")),
    "inf_in_X": (
        lambda: AuditData(_with(_with(X, (5, 0), np.inf), (7, 2), -np.inf), Y),
        exact("The 'X' parameter must contain only finite values. Got 2 NaN or infinite "
              "value(s) instead (first at index 5).")),
    "nan_in_y": (
        lambda: AuditData(X, _with(Y.astype(float), (2,), np.nan)),
        exact("The 'y' parameter must contain only finite values. Got 1 NaN or infinite "
              "value(s) instead (first at index 2).")),
    "none_in_y": (
        lambda: AuditData(X, ["a", "b", None, "a", "b", "a", "b", "a", "b", "a"]),
        exact("The 'y' parameter must contain only finite values. Got 1 NaN or infinite "
              "value(s) instead (first at index 2).")),
    "tabular_3d": (
        lambda: AuditData(X.reshape(10, 2, 2), Y),
        exact("The 'X' parameter must be a 2-D array of shape (n_samples, n_features) for "
              "modality 'tabular'. Got an array of shape (10, 2, 2) instead.")),
    "image_2d": (
        lambda: AuditData(X, Y, modality="image"),
        exact("The 'X' parameter must be an array of shape (n_samples, height, width) or "
              "(n_samples, channels, height, width) for modality 'image'. Got an array of "
              "shape (10, 4) instead.")),
    "empty_X": (
        lambda: AuditData(np.empty((0, 4)), []),
        exact("The 'X' parameter must contain at least one sample. Got an empty array "
              "instead.")),
    "empty_y": (
        lambda: AuditData(X, []),
        exact("The 'y' parameter must contain at least one sample. Got an empty array "
              "instead.")),
    "y_2d": (
        lambda: AuditData(X, np.zeros((10, 2))),
        exact("The 'y' parameter must be a 1-D array of labels. Got an array of shape (10, 2) "
              "instead.")),
    "single_class": (
        lambda: AuditData(X, np.ones(10, dtype=int)),
        exact("The 'y' parameter must contain at least two classes to audit a classifier. "
              "Got only the class 1 instead.")),
    "sensitive_missing_value": (
        lambda: AuditData(X, Y, sensitive=pd.DataFrame(
            {"sex": ["f", "m", None, "f", "m", "f", "m", "f", "m", "f"]})),
        exact("The 'sensitive' parameter must not contain missing values. Got 1 missing "
              "value(s) in column 'sex' instead.")),
    "sensitive_nan_in_array": (
        lambda: AuditData(X, Y, sensitive=_with(np.arange(10.0), (4,), np.nan)),
        exact("The 'sensitive' parameter must not contain missing values. Got 1 missing "
              "value(s) in column 'sensitive' instead.")),
    "sensitive_dataframe_wrong_length": (
        lambda: AuditData(X, Y, sensitive=pd.DataFrame({"sex": ["f", "m"] * 4 + ["f"]})),
        exact("The 'sensitive' parameter must have the same number of samples as 'X' (10). "
              "Got 9 instead.")),
    "sensitive_mapping_wrong_length": (
        lambda: AuditData(X, Y, sensitive={"sex": ["f", "m"] * 6}),
        exact("The 'sensitive['sex']' parameter must have the same number of samples as "
              "'X' (10). Got 12 instead.")),
    "unknown_modality": (
        lambda: AuditData(X, Y, modality="audio"),
        exact("The 'modality' parameter must be one of ['tabular', 'image', 'text', "
              "'sequence']. Got 'audio' instead.")),
    "feature_names_wrong_length": (
        lambda: AuditData(X, Y, feature_names=["a", "b", "c"]),
        exact("The 'feature_names' parameter must be 4 names, one per column of 'X'. "
              "Got 3 names instead.")),
    "train_wrong_trailing_shape": (
        lambda: AuditData(X, Y, train=(np.zeros((6, 5)), [0, 1] * 3)),
        exact("The 'train[0]' parameter must be samples of shape (4,), like 'X'. "
              "Got samples of shape (5,) instead.")),
    "train_labels_wrong_length": (
        lambda: AuditData(X, Y, train=(np.zeros((6, 4)), [0, 1] * 2)),
        exact("The 'train[1]' parameter must have the same number of samples as 'train[0]' "
              "(6). Got 4 instead.")),
    "train_not_a_pair": (
        lambda: AuditData(X, Y, train=np.zeros((6, 4))),
        exact("The 'train' parameter must be a tuple (X_train, y_train) or (X_train, y_train, "
              "sensitive_train). Got ndarray instead.")),
    "ood_wrong_trailing_shape": (
        lambda: AuditData(X, Y, ood={"noise": np.zeros((3, 2))}),
        exact("The 'ood['noise']' parameter must be samples of shape (4,), like 'X'. "
              "Got samples of shape (2,) instead.")),
    "ood_not_a_mapping": (
        lambda: AuditData(X, Y, ood=[np.zeros((3, 4))]),
        exact("The 'ood' parameter must be a mapping of name to array-like. Got list "
              "instead.")),
    "reference_nan": (
        lambda: AuditData(X, Y, reference=_with(X, (0, 0), np.nan)),
        r"^The 'reference' parameter must contain only finite values\. Got 1 NaN"),
    "non_numeric_column": (
        lambda: AuditData(pd.DataFrame({"age": np.arange(10), "city": list("abcdefghij")}), Y),
        exact("The 'X' parameter must be numeric columns (encode categorical features first, "
              "and list them in 'categorical_features'). Got non-numeric columns ['city'] "
              "instead.")),
    "X_is_a_string": (
        lambda: AuditData("data.csv", Y),
        exact("The 'X' parameter must be an array-like of samples. Got str instead.")),
    "X_ragged": (
        lambda: AuditData([[1.0, 2.0], [3.0]], [0, 1]),
        r"^The 'X' parameter must be an array-like of equal-length samples\. Got list \("),
    "X_strings": (
        lambda: AuditData(np.array([["a", "b"], ["c", "d"]]), [0, 1]),
        exact("The 'X' parameter must be numeric values. Got dtype <U1 instead.")),
    "feature_group_out_of_range": (
        lambda: AuditData(X, Y, feature_groups={"colour": [2, 9]}),
        exact("The 'feature_groups['colour']' parameter must be a non-empty list of column "
              "indices in [0, 4). Got [2, 9] instead.")),
    "texts_wrong_length": (
        lambda: AuditData(np.zeros((10, 3), dtype=int), Y, modality="text",
                          texts=["a"] * 9),
        exact("The 'texts' parameter must have the same number of samples as 'X' (10). "
              "Got 9 instead.")),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_audit_data_rejects(case):
    build, pattern = DATA_CASES[case]
    with pytest.raises(DataValidationError, match=pattern):
        build()


def test_data_validation_error_is_a_value_error():
    with pytest.raises(ValueError):
        AuditData(X, Y[:3])


# -- the model meets the data (through audit) ---------------------------------------------


def _fn(output):
    return lambda batch: output(np.asarray(batch))


def _raising_model(batch):
    raise RuntimeError("feature store offline")


MODEL_CASES = {
    "labels_the_model_cannot_output": (
        "logreg", AuditData(X, np.array([0, 1, 5] * 3 + [0])), DataValidationError,
        exact("The 'y' parameter must only contain labels the model can output ([0, 1]). "
              "Got labels [5] instead.")),
    "train_labels_the_model_cannot_output": (
        "logreg", AuditData(X, Y, train=(X, np.array([0, 1, 2, 3] * 2 + [0, 1]))),
        DataValidationError,
        exact("The 'train[1]' parameter must only contain labels the model can output "
              "([0, 1]). Got labels [2, 3] instead.")),
    "class_names_wrong_length": (
        "logreg", AuditData(X, Y, class_names=["no", "yes", "maybe"]), DataValidationError,
        exact("The 'class_names' parameter must be 2 names, one per model output. "
              "Got 3 names instead.")),
    "unnormalised_probabilities": (
        _fn(lambda b: np.column_stack([np.full(len(b), 2.0), np.full(len(b), 3.0)])),
        AuditData(X, Y), ModelError,
        exact("The model '<lambda>' must return probabilities in [0, 1] that sum to one for "
              "every sample. Got values from 2 to 3 summing to 5 for sample 0 (of 10 in the "
              "call) instead; if the model returns scores or logits, apply a softmax in the "
              "function you audit, or pass the torch module itself.")),
    "negative_probabilities": (
        _fn(lambda b: np.column_stack([np.full(len(b), -0.5), np.full(len(b), 1.5)])),
        AuditData(X, Y), ModelError,
        r"must return probabilities in \[0, 1\] that sum to one for every sample\. Got values "
        r"from -0\.5 to 1\.5 summing to 1 for sample 0 \(of 10 in the call\) instead"),
    "model_raises": (
        _raising_model,
        AuditData(X, Y), ModelError,
        exact("The model raised RuntimeError when called on a batch of 10 sample(s) of 'X' "
              "(shape (10, 4)): feature store offline")),
    "model_returns_1d": (
        _fn(lambda b: np.full(len(b), 0.5)), AuditData(X, Y), ModelError,
        exact("The model '<lambda>' must return an array of shape (n_samples, n_classes) with "
              "n_samples=10 and n_classes >= 2. Got an array of shape (10,) instead.")),
    "model_returns_wrong_rows": (
        _fn(lambda b: np.full((len(b) - 1, 2), 0.5)), AuditData(X, Y), ModelError,
        exact("The model '<lambda>' must return an array of shape (n_samples, n_classes) with "
              "n_samples=10 and n_classes >= 2. Got an array of shape (9, 2) instead.")),
    "model_returns_one_column": (
        _fn(lambda b: np.ones((len(b), 1))), AuditData(X, Y), ModelError,
        exact("The model '<lambda>' must return an array of shape (n_samples, n_classes) with "
              "n_samples=10 and n_classes >= 2. Got an array of shape (10, 1) instead.")),
    "model_returns_nan": (
        _fn(lambda b: np.full((len(b), 2), np.nan)), AuditData(X, Y), ModelError,
        exact("The model '<lambda>' must return finite probabilities for every sample. Got NaN "
              "or an infinite value for sample 0 (of 10 in the call) instead.")),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_audit_rejects_model_and_data_that_do_not_fit(case, logreg):
    model, data, error, pattern = MODEL_CASES[case]
    model = logreg if model == "logreg" else model
    with pytest.raises(error, match=pattern):
        audit(model, data, preset="quick", progress=False)


def test_torch_module_returning_3d_output():
    class ThreeD(nn.Module):
        def forward(self, x):
            return x[:, :2, None]

    with pytest.raises(ModelError, match=exact(
            "The 'model' parameter must be a module returning logits of shape "
            "(batch, n_classes) or (batch,). Got an output of shape (10, 2, 1) instead.")):
        audit(ThreeD(), AuditData(X.astype(np.float32), Y), device="cpu", progress=False)


def test_advice_of_the_unnormalised_message_works():
    def scores(batch):
        return np.asarray(batch)[:, :2] * 3.0

    with pytest.raises(ModelError, match="apply a softmax in the function you audit"):
        audit(scores, AuditData(X, Y), preset="quick", progress=False)

    def softmaxed(batch):  # the advice, followed
        z = scores(batch)
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    result = audit(softmaxed, AuditData(X, Y), preset="quick", progress=False)
    assert result["performance_metrics"].status is not Status.ERROR


# -- audit's own parameters -----------------------------------------------------------------

DATA = AuditData(X, Y)


@pytest.mark.parametrize("random_state", [-1, "a", 1.5, True, None])
def test_bad_random_state(random_state, logreg):
    with pytest.raises(AuditkitError, match=exact(
            f"The 'random_state' parameter must be a non-negative integer at most 2**32 - 1 "
            f"(4294967295). Got {random_state!r} instead.")):
        audit(logreg, DATA, random_state=random_state, progress=False)


def test_numpy_integer_random_state_is_accepted(logreg):
    result = audit(logreg, DATA, preset="quick", random_state=np.int64(3), progress=False)
    assert result.provenance["random_state"] == 3


def test_unknown_preset(logreg):
    with pytest.raises(CheckError, match=r"^The 'preset' parameter must be one of \['quick', "
                                         r"'standard', 'full', 'performance', .*\]\. "
                                         r"Got 'thorough' instead\.$"):
        audit(logreg, DATA, preset="thorough", progress=False)


def test_family_preset_without_checks(logreg):
    empty = [p for p in list_presets() if not preset_checks(p)]
    if not empty:
        pytest.skip("every family has registered checks: no empty preset is left to try")
    with pytest.raises(CheckError, match=exact(
            "The 'preset' parameter must be a preset with at least one check registered in "
            f"this version. Got {empty[-1]!r}, which has none yet instead.")):
        audit(logreg, DATA, preset=empty[-1], progress=False)


def test_unknown_check_name(logreg):
    with pytest.raises(CheckError, match=r"^The 'checks' parameter must be one of \[.*"
                                         r"'performance_metrics'.*\]\. Got 'accuracy' instead\.$"):
        audit(logreg, DATA, checks=["accuracy"], progress=False)


def test_empty_checks_list(logreg):
    with pytest.raises(CheckError, match=exact(
            "The 'checks' parameter must be at least one check. Got an empty list instead.")):
        audit(logreg, DATA, checks=[], progress=False)


def test_checks_of_the_wrong_type(logreg):
    with pytest.raises(CheckError, match=exact(
            "The 'checks' parameter must be check names or Check instances. Got int "
            "instead.")):
        audit(logreg, DATA, checks=["performance_metrics", 3], progress=False)


def test_unknown_check_option():
    with pytest.raises(CheckError, match=exact(
            "The options of check 'performance_metrics' must be among ['n_resamples', "
            "'confidence']. Got ['n_bins'] instead.")):
        get_check("performance_metrics", n_bins=3)


def test_bad_n_bins():
    with pytest.raises(CheckError, match=exact(
            "The 'n_bins' option of check 'performance_calibration' must be an int in the "
            "range [2, inf). Got 1 instead.")):
        PerformanceCalibration(n_bins=1)


@pytest.mark.parametrize("options", [{"n_resamples": -1}, {"confidence": 1.5}], ids=str)
def test_bad_bootstrap_options_raise_when_the_check_is_made(options):
    with pytest.raises(AuditkitError, match=f"'{next(iter(options))}' option of check "
                       "'performance_metrics' must be"):
        PerformanceMetrics(**options)


def test_policy_of_the_wrong_type(logreg):
    with pytest.raises(AuditkitError, match=exact(
            "The 'policy' parameter must be a Policy or a YAML path. Got int instead.")):
        audit(logreg, DATA, policy=3, progress=False)


def test_policy_file_missing(logreg, tmp_path):
    missing = tmp_path / "absent.yaml"
    with pytest.raises(PolicyError, match=exact(
            f"The 'policy' parameter must be a path to a YAML file. Got {str(missing)!r} "
            "instead.")):
        audit(logreg, DATA, policy=str(missing), progress=False)


POLICY_CASES = {
    "bad_direction": (
        "rules:\n  performance_metrics:\n    accuracy: {direction: up, warn: 0.8}\n",
        exact("The 'rules.performance_metrics.accuracy.direction' parameter must be one of "
              "['higher_is_better', 'lower_is_better']. Got 'up' instead.")),
    "fail_looser_than_warn": (
        "rules:\n  performance_metrics:\n"
        "    accuracy: {direction: higher_is_better, warn: 0.7, fail: 0.8}\n",
        exact("The 'rules.performance_metrics.accuracy.fail' parameter must be a level at or "
              "past warn (0.7) in the higher_is_better direction. Got 0.8 instead.")),
    "fail_looser_than_warn_lower_is_better": (
        "rules:\n  performance_calibration:\n    expected_calibration_error: "
        "{direction: lower_is_better, warn: 0.1, fail: 0.05}\n",
        r"'rules\.performance_calibration\.expected_calibration_error\.fail' parameter must be "
        r"a level at or past warn \(0\.1\) in the lower_is_better direction\. Got 0\.05"),
    "level_not_a_number": (
        "rules:\n  performance_metrics:\n    accuracy: {direction: higher_is_better, "
        "warn: high}\n",
        exact("The 'rules.performance_metrics.accuracy.warn' parameter must be a number. "
              "Got 'high' instead.")),
    "no_level": (
        "rules:\n  performance_metrics:\n    accuracy: {direction: higher_is_better}\n",
        exact("The 'rules.performance_metrics.accuracy' parameter must be a 'warn' or 'fail' "
              "level. Got neither instead.")),
    "unknown_key": (
        "name: x\nthresholds: {}\n",
        exact("The 'policy' parameter must be keys among ['clauses', 'description', "
              "'diagnostics_affect_verdict', 'evidence', 'extends', 'name', 'rules']. Got "
              "['thresholds'] instead.")),
    "evidence_of_an_undefined_clause": (
        "evidence:\n  performance_metrics: [GDPR-Art-22]\n",
        exact("The 'evidence.performance_metrics' parameter must be clause identifiers "
              "defined under 'clauses'. Got ['GDPR-Art-22'] instead.")),
    "not_a_mapping": (
        "- just\n- a list\n",
        exact("The 'policy' parameter must be a mapping. Got list instead.")),
    "rule_not_a_mapping": (
        "rules:\n  performance_metrics:\n    accuracy: 0.8\n",
        exact("The 'rules.performance_metrics.accuracy' parameter must be a mapping with "
              "direction, warn, fail. Got 0.8 instead.")),
    "invalid_yaml": (
        "rules: [unclosed\n",
        r"^The 'policy' parameter must be valid YAML\. Got a parse error: "),
}


@pytest.mark.parametrize("case", list(POLICY_CASES))
def test_bad_policy_yaml(case, tmp_path):
    text, pattern = POLICY_CASES[case]
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=pattern):
        Policy.from_yaml(path)


def test_policy_extends_an_unknown_base():
    with pytest.raises(PolicyError, match=r"'extends' parameter must be"):
        Policy.from_dict({"extends": "defualt"})


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True])
def test_bad_batch_size(batch_size, logreg):
    message = exact(f"The 'batch_size' parameter must be a positive integer. "
                    f"Got {batch_size!r} instead.")
    with pytest.raises(ModelError, match=message):
        wrap_model(logreg, batch_size=batch_size)
    with pytest.raises(ModelError, match=message):
        audit(logreg, DATA, batch_size=batch_size, progress=False)


def test_bad_n_jobs(logreg):
    with pytest.raises(AuditkitError, match=exact(
            "The 'n_jobs' parameter must be a positive integer. Got 0 instead.")):
        audit(logreg, DATA, n_jobs=0, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_device_without_cuda(torch_model):
    with pytest.raises(AuditkitError, match=exact(
            "The 'device' parameter must be a device present on this machine (CUDA is not "
            "available here). Got 'cuda' instead.")):
        audit(torch_model, DATA, device="cuda", progress=False)


def test_unknown_device_name(torch_model):
    with pytest.raises(AuditkitError, match=exact(
            "The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'. "
            "Got 'gpu' instead.")):
        wrap_model(torch_model, device="gpu")


@pytest.mark.parametrize("data", [(X, Y), {"X": X, "y": Y}, X], ids=["tuple", "dict", "array"])
def test_data_not_an_audit_data(data, logreg):
    with pytest.raises(AuditkitError, match=exact(
            f"The 'data' parameter must be an auditkit.AuditData or StreamingData. Got "
            f"{type(data).__name__} instead.")):
        audit(logreg, data, progress=False)


# -- the command line ---------------------------------------------------------------------


def _user_file(tmp_path, body: str) -> str:
    path = tmp_path / "bad_audit.py"
    path.write_text(
        "import numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from auditkit import AuditData\n\n"
        "def build():\n"
        "    rng = np.random.default_rng(0)\n"
        "    X = rng.normal(size=(40, 3))\n"
        "    y = np.arange(40) % 2\n"
        "    model = LogisticRegression().fit(X, y)\n"
        f"{body}\n")
    return f"{path}:build"


CLI_CASES = {
    "labels_the_model_cannot_output": (
        lambda tmp: ["audit", _user_file(tmp, "    return model, AuditData(X, np.arange(40) % 3)"),
                     "--quiet"],
        "The 'y' parameter must only contain labels the model can output ([0, 1]). "
        "Got labels [2] instead."),
    "nan_in_X": (
        lambda tmp: ["audit", _user_file(tmp, "    X[4, 1] = np.nan\n"
                                              "    return model, AuditData(X, y)"), "--quiet"],
        "The 'X' parameter must contain only finite values. Got 1 NaN or infinite value(s) "
        "instead (first at index 4)."),
    "negative_seed": (
        lambda tmp: ["audit", _user_file(tmp, "    return model, AuditData(X, y)"), "--seed",
                     "-1", "--quiet"],
        "The 'random_state' parameter must be a non-negative integer at most 2**32 - 1 "
        "(4294967295). Got -1 instead."),
    "unknown_check": (
        lambda tmp: ["audit", _user_file(tmp, "    return model, AuditData(X, y)"), "--checks",
                     "performance_metrics,accuracy", "--quiet"],
        "Got 'accuracy' instead."),
    "build_returns_one_thing": (
        lambda tmp: ["audit", _user_file(tmp, "    return model"), "--quiet"],
        "The function 'build' must return (model, data) or a dict with 'model' and 'data'. "
        "Got LogisticRegression instead."),
    "bad_policy_direction": (
        lambda tmp: ["audit", _user_file(tmp, "    return model, AuditData(X, y)"), "--policy",
                     str(_write(tmp / "p.yaml", "rules:\n  performance_metrics:\n    "
                                "accuracy: {direction: up, warn: 0.8}\n")), "--quiet"],
        "The 'rules.performance_metrics.accuracy.direction' parameter must be one of "
        "['higher_is_better', 'lower_is_better']. Got 'up' instead."),
    "report_of_a_file_that_is_not_json": (
        lambda tmp: ["report", str(_write(tmp / "r.json", "<html>not json</html>"))],
        "is not an auditkit JSON result"),
    "report_of_another_json": (
        lambda tmp: ["report", str(_write(tmp / "r.json", '{"format_version": 99}'))],
        "The 'format_version' parameter must be 1. Got 99 instead."),
}


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    argv, fragment = CLI_CASES[case]
    code = main(argv(tmp_path))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("auditkit: error: ")
    assert captured.err.endswith("\n") and captured.err.count("\n") == 1, captured.err
    assert fragment in captured.err
    assert "Traceback" not in captured.err


def test_cli_malformed_policy_yaml_is_one_line(tmp_path, capsys):
    policy = _write(tmp_path / "p.yaml", "rules: [unclosed\n  b: c\n")
    code = main(["audit", _user_file(tmp_path, "    return model, AuditData(X, y)"), "--policy",
                 str(policy), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err


def test_cli_target_with_syntax_error_exits_2(tmp_path, capsys):
    path = _write(tmp_path / "broken.py", "def build(:\n    pass\n")
    code = main(["audit", f"{path}:build", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "SyntaxError" in err


def test_cli_report_of_json_that_is_not_an_object_exits_2(tmp_path, capsys):
    path = _write(tmp_path / "list.json", "[1, 2]")
    code = main(["report", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "is not an auditkit JSON result" in err
