"""Hardening of the Python API (issue 17, classes 1-4): each malformed input gets one sentence.

1. Fairness on ordinary data with small groups: a sensitive feature or an
   intersection without two groups of ``min_group_size`` rows is skipped
   with its reason, the rest analysed; no fairness check ends in ERROR.
2. Model outputs are validated on every batch: a model that goes wrong
   after the first rows fails with one sentence naming the model and the
   first bad sample (its index in the whole call).
3. A custom check returning something other than a CheckResult is ERROR,
   and the rest of the audit completes.
4. Values accepted before and failing deep inside: seeds out of range,
   booleans for integers, duplicate or colliding names, mixed labels, a
   model card that is not a mapping, unknown devices, sparse matrices.

Every error is an :class:`~auditkit.AuditkitError` whose message names the
parameter (or option), what was expected and what was given; each case
matches its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from torch import nn

from auditkit import AuditData, AuditkitError, audit, get_check, wrap_model
from auditkit.checks import Check, CheckContext
from auditkit.checks._base import iter_registry
from auditkit.checks._params import Interval, satisfies
from auditkit.exceptions import CheckError, DataValidationError, ModelError
from auditkit.inputs import FeatureExtractor, check_model_outputs
from auditkit.results import Status

RNG = np.random.default_rng(7)
X = RNG.normal(size=(200, 4))
Y = (X[:, 0] + RNG.normal(size=200) > 0).astype(np.int64)
SEX = np.where(RNG.random(200) < 0.5, "f", "m")


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


# -- 1. fairness on data with small groups ---------------------------------------------------

def _small_groups_case(name: str) -> tuple[LogisticRegression, AuditData]:
    rng = np.random.default_rng(11)
    n = 150 if name == "sex_race_age_150" else 300
    features = rng.normal(size=(n, 4))
    labels = (features[:, 0] + rng.normal(size=n) > 0).astype(np.int64)
    if name == "sex_race_age_150":
        sensitive = pd.DataFrame({"sex": rng.choice(["f", "m"], n),
                                  "race": rng.choice(list("abcde"), n),
                                  "age_group": rng.choice(["<25", "25-45", "45-65", ">65"], n)})
    else:
        sensitive = pd.DataFrame({"sex": rng.choice(["f", "m"], n),
                                  "region": rng.choice([f"r{i}" for i in range(15)], n)})
    return LogisticRegression().fit(features, labels), AuditData(features, labels,
                                                                  sensitive=sensitive)


_FAIRNESS_CASES = ("sex_race_age_150", "sex_region15_300")


@pytest.fixture(scope="module")
def small_group_audits():
    """The fairness preset's checks (fewer resamples) on both datasets of the issue."""
    from auditkit import preset_options

    audits = {}
    for case in _FAIRNESS_CASES:
        estimator, data = _small_groups_case(case)
        checks = []
        for name, options in preset_options("fairness").items():
            options = dict(options)
            if "n_resamples" in options or name in ("fairness_disparities",
                                                    "fairness_group_metrics"):
                options["n_resamples"] = 50
            checks.append(get_check(name, **options))
        audits[case] = audit(estimator, data, checks=checks, progress=False)
    return audits


def _fairness_check_names() -> list:
    from auditkit import preset_checks

    return [pytest.param(case, name, id=f"{case}-{name}")
            for case in _FAIRNESS_CASES for name in preset_checks("fairness")]


@pytest.mark.parametrize(("case", "check"), _fairness_check_names())
def test_no_fairness_check_errors_on_small_groups(small_group_audits, case, check):
    result = small_group_audits[case][check]
    assert result.status is not Status.ERROR, result.headline


def test_disparities_skip_the_feature_without_two_large_groups_and_keep_the_rest():
    estimator, data = _small_groups_case("sex_region15_300")
    result = audit(estimator, data, checks=[get_check("fairness_disparities", n_resamples=20)],
                   progress=False)["fairness_disparities"]
    assert result.status is not Status.ERROR
    skipped = result.tables["skipped_group_sets"]
    assert list(skipped.index) == ["region", "sex & region"]
    assert skipped.loc["region", "groups"] == 15
    assert skipped.loc["region", "groups_judged"] == 0
    assert re.match(r"^'region' is skipped: 0 of its 15 groups have at least 30 samples \(the "
                    r"largest has \d+\), and a disparity needs two$", skipped.loc["region",
                                                                                "reason"])
    assert set(result.tables["disparities"].index.get_level_values("sensitive_feature")) == \
        {"sex"}
    assert "intersection_disparities" not in result.tables
    assert np.isfinite(result.metrics["demographic_parity_difference"].value)
    assert result.headline.startswith("By sex, the model predicts")
    assert ("2 feature(s) or intersection(s) with fewer than two groups of at least 30 samples "
            "are skipped (see the table of skipped group sets): region, sex & region.") \
        in result.headline


def test_disparities_skip_with_the_reason_when_no_feature_has_two_large_groups():
    estimator, data = _small_groups_case("sex_race_age_150")
    result = audit(estimator, data, checks=[get_check("fairness_disparities", n_resamples=0,
                                                      min_group_size=100)],
                   progress=False)["fairness_disparities"]
    assert result.status is Status.SKIP
    assert result.headline.startswith(
        "No sensitive feature or intersection has two groups of at least 100 samples, so no "
        "disparity can be computed (lower 'min_group_size', or audit more samples): 'sex' is "
        "skipped: ")
    assert len(result.tables["skipped_group_sets"]) == 7  # 3 features and 4 intersections


def test_disparities_keep_a_feature_when_only_its_intersections_are_small():
    estimator, data = _small_groups_case("sex_race_age_150")
    result = audit(estimator, data, checks=[get_check("fairness_disparities", n_resamples=0)],
                   progress=False)["fairness_disparities"]
    skipped = result.tables["skipped_group_sets"]
    assert "sex & race & age_group" in skipped.index
    judged = set(result.tables["disparities"].index.get_level_values("sensitive_feature"))
    assert "sex" in judged and not judged & set(skipped.index)


# -- 2. model outputs validated on every batch ---------------------------------------------


#: Samples from row 100 on carry a marker the models below go wrong on, wherever the
#: batches cut (the probe of the first 64 rows sees none of them).
MARKED = X.copy()
MARKED[100:, 3] = 99.0
_PROBA_MODEL = LogisticRegression().fit(X, Y)


class _BadAfter:
    """A black box returning valid probabilities except for the marked samples."""

    def __init__(self, value: float | str) -> None:
        self.value = value

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        proba = _PROBA_MODEL.predict_proba(batch).copy()
        rows = batch[:, 3] == 99.0
        if self.value == "unnormalised":
            proba[rows] *= 3.0
        elif self.value == "negative":
            proba[rows] = [-0.25, 1.25]
        elif self.value == "above_one":
            proba[rows] = [1.5, 0.5]
        else:
            proba[rows, 0] = float(self.value)
        return proba

_BAD_VALUES = {
    "nan": ("finite probabilities", "NaN or an infinite value"),
    "inf": ("finite probabilities", "NaN or an infinite value"),
    "-inf": ("finite probabilities", "NaN or an infinite value"),
    "unnormalised": ("probabilities in [0, 1] that sum to one", "values from "),
    "negative": ("probabilities in [0, 1] that sum to one",
                 "values from -0.25 to 1.25 summing to 1"),
    "above_one": ("probabilities in [0, 1] that sum to one",
                  "values from 0.5 to 1.5 summing to 2"),
}


@pytest.mark.parametrize("batch_size", [None, 50, 64, 1])
@pytest.mark.parametrize("value", list(_BAD_VALUES))
def test_a_black_box_failing_after_row_64_names_itself_and_the_first_bad_row(value, batch_size):
    sizes = {} if batch_size is None else {"batch_size": batch_size}
    adapter = wrap_model(_BadAfter(value), **sizes)
    expected, got = _BAD_VALUES[value]
    pattern = (r"^The model '_BadAfter' must return " + re.escape(expected) + r" for every "
               r"sample\. Got " + re.escape(got) + r".* for sample 100 \(of 200 in the call\) "
               r"instead")
    with pytest.raises(ModelError, match=pattern):
        audit(adapter, AuditData(MARKED, Y), checks=["performance_metrics",
                                                     "performance_calibration"], progress=False)


def test_nan_after_row_64_never_reaches_a_metric(model):
    class NanAfter64:
        def __call__(self, batch):
            proba = model.predict_proba(batch).copy()
            proba[64:] = np.nan
            return proba

    with pytest.raises(ModelError, match=exact(
            "The model 'NanAfter64' must return finite probabilities for every sample. Got NaN "
            "or an infinite value for sample 64 (of 200 in the call) instead.")):
        audit(NanAfter64(), AuditData(X, Y), checks=["performance_metrics"], progress=False)


class _NanEstimator(LogisticRegression):
    """A scikit-learn classifier whose probabilities are NaN for the marked samples."""

    def predict_proba(self, X):
        proba = super().predict_proba(X)
        proba[np.asarray(X)[:, 3] == 99.0] = np.nan
        return proba


@pytest.mark.parametrize("batch_size", [None, 64, 7])
def test_a_scikit_learn_model_returning_nan_is_named(batch_size):
    estimator = _NanEstimator().fit(X, Y)
    sizes = {} if batch_size is None else {"batch_size": batch_size}
    with pytest.raises(ModelError, match=exact(  # the index in the call, whatever the batch
            "The model '_NanEstimator' must return finite probabilities for every sample. Got "
            "NaN or an infinite value for sample 100 (of 200 in the call) instead.")):
        wrap_model(estimator, **sizes).predict_proba(MARKED)


class _NanModule(nn.Module):
    def __init__(self, bad: float) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.bad = bad

    def forward(self, x):
        out = self.linear(x)
        mask = torch.zeros_like(out, dtype=torch.bool)
        mask[x[:, 0] > 1.5] = True  # some rows, wherever they fall in the batches
        return torch.where(mask, torch.full_like(out, self.bad), out)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_a_torch_module_with_non_finite_logits_is_named(bad, batch_size):
    inputs = X.astype(np.float32)
    first = int(np.flatnonzero(inputs[:, 0] > 1.5)[0])
    adapter = wrap_model(_NanModule(bad), device="cpu", batch_size=batch_size)
    with pytest.raises(ModelError, match=exact(
            "The model '_NanModule' must return finite logits for every sample. Got NaN or an "
            f"infinite value for sample {first} (of 200 in the call) instead.")):
        adapter.predict_proba(inputs)


def test_a_model_failing_only_on_the_training_set_turns_that_check_into_error(model):
    train_X = RNG.normal(size=(80, 4)) + 10.0

    def fails_far_away(batch):
        proba = model.predict_proba(batch).copy()
        proba[np.asarray(batch)[:, 0] > 5] = np.nan
        return proba

    data = AuditData(X, Y, train=(train_X, (train_X[:, 0] > 10).astype(np.int64)))
    result = audit(fails_far_away, data, checks=["performance_metrics",
                                                 "performance_generalisation"], progress=False)
    assert result["performance_metrics"].status is not Status.ERROR
    generalisation = result["performance_generalisation"]
    assert generalisation.status is Status.ERROR
    assert re.match(r"^The check raised ModelError: The model 'fails_far_away' must return "
                    r"finite probabilities for every sample\. Got NaN or an infinite value for "
                    r"sample 0 \(of 80 in the call\) instead\.$", generalisation.headline)


def test_a_user_defined_adapter_is_validated_on_every_row(model):
    from auditkit.inputs import ModelAdapter

    class MyAdapter(ModelAdapter):
        capabilities = frozenset({"predict", "probabilities"})

        def __init__(self):
            super().__init__(classes=[0, 1])

        def predict_proba(self, X):
            proba = model.predict_proba(np.asarray(X)).copy()
            proba[120:] = [0.7, 0.7]
            return proba

    with pytest.raises(ModelError, match=exact(
            "The model 'MyAdapter' must return probabilities in [0, 1] that sum to one for every "
            "sample. Got values from 0.7 to 0.7 summing to 1.4 for sample 120 (of 200 in the "
            "call) instead; if the model returns scores or logits, apply a softmax in the "
            "function you audit, or pass the torch module itself.")):
        audit(MyAdapter(), AuditData(X, Y), checks=["performance_metrics"], progress=False)


def test_check_model_outputs_accepts_valid_probabilities_and_logits():
    check_model_outputs(np.array([[0.2, 0.8], [1.0, 0.0]]), model="m")
    check_model_outputs(np.array([[-50.0, 80.0]]), model="m", kind="logits")
    with pytest.raises(ModelError, match=r"for sample 12 \(of 40 in the call\)"):
        check_model_outputs(np.array([[0.2, 0.8], [np.nan, 0.5]]), model="m", start=11, n=40)


# -- 3. a custom check that returns something other than a CheckResult ----------------------


@dataclass(frozen=True)
class _Returns(Check):
    name = "custom_returns"
    family = "performance"
    parameter_constraints = {}

    def run(self, model, data, *, context: CheckContext):
        return _RETURNED[0]


_RETURNED: list = [None]


@pytest.mark.parametrize(("value", "described"), [
    (None, "None"),
    (42, "int 42"),
    ("PASS", "str 'PASS'"),
    ({"status": "PASS"}, "dict {'status': 'PASS'}"),
    ([1, 2], "list [1, 2]"),
    (Status.PASS, "Status <Status.PASS: 'PASS'>"),
])
def test_a_check_returning_no_check_result_is_error_and_the_audit_completes(model, value,
                                                                          described):
    _RETURNED[0] = value
    result = audit(model, AuditData(X, Y), checks=[_Returns(), "performance_confusion_matrix"],
                   progress=False)
    custom = result["custom_returns"]
    assert custom.status is Status.ERROR
    assert custom.headline == ("The check raised CheckError: The check 'custom_returns' must "
                               f"return a CheckResult from run(). Got {described} instead.")
    assert custom.duration_s >= 0
    assert result["performance_confusion_matrix"].status is not Status.ERROR


def test_a_check_whose_params_raise_is_still_error(model):
    @dataclass(frozen=True)
    class Broken(Check):
        name = "custom_broken"
        family = "performance"
        parameter_constraints = {}

        def run(self, model, data, *, context):
            raise RuntimeError("boom")

        def params(self):
            raise RuntimeError("params too")

    result = audit(model, AuditData(X, Y), checks=[Broken(), "performance_confusion_matrix"],
                   progress=False)
    assert result["custom_broken"].status is Status.ERROR
    assert result["custom_broken"].headline == "The check raised RuntimeError: boom"
    assert result["custom_broken"].params == {}


# -- 4. values: seeds ----------------------------------------------------------------------

_SEED_MESSAGE = ("The 'random_state' parameter must be a non-negative integer at most 2**32 - 1 "
                 "(4294967295). Got {got} instead.")


@pytest.mark.parametrize("random_state", [2**32, 2**64, -1, np.int64(-3), True, np.bool_(False),
                                          1.0, "7", None, [1]])
def test_random_state_out_of_range_or_not_an_integer(model, random_state):
    with pytest.raises(AuditkitError, match=exact(_SEED_MESSAGE.format(got=repr(random_state)))):
        audit(model, AuditData(X, Y), checks=["performance_metrics"], random_state=random_state,
              progress=False)


def test_the_largest_seed_works_end_to_end_including_shap_kmeans(model):
    data = AuditData(X[:60], Y[:60], sensitive={"sex": SEX[:60]}, train=(X[60:], Y[60:]))
    checks = [get_check("performance_metrics", n_resamples=10),
              get_check("explanations_shap", n_samples=4, background_size=5, sanity_check=False,
                        n_resamples=0),
              get_check("fairness_disparities", n_resamples=10, min_group_size=5)]
    result = audit(model, data, checks=checks, random_state=2**32 - 1, progress=False)
    assert [r.status for r in result.results if r.status is Status.ERROR] == []
    assert result.provenance["random_state"] == 2**32 - 1


# -- 4. values: booleans where integers are meant, and strings where numbers are --------------


def _options_of(kind: str) -> list:
    params = []
    for name, cls in iter_registry():
        for option, constraints in cls.parameter_constraints.items():
            integral = any(isinstance(c, Interval) and c.kind is Integral for c in constraints)
            if kind == "int" and integral and not satisfies(True, constraints):
                params.append(pytest.param(name, option, id=f"{name}.{option}"))
            if kind == "confidence" and option == "confidence":
                params.append(pytest.param(name, option, id=f"{name}.{option}"))
    return params


@pytest.mark.parametrize(("check", "option"), _options_of("int"))
def test_every_integer_option_refuses_a_boolean(check, option):
    with pytest.raises(CheckError, match=rf"^The '{option}' option of check '{check}' must be "
                                         r".*\. Got True instead\.$"):
        get_check(check, **{option: True})


@pytest.mark.parametrize(("check", "option"), _options_of("confidence"))
def test_every_confidence_option_refuses_a_word(check, option):
    with pytest.raises(CheckError, match=exact(
            f"The 'confidence' option of check '{check}' must be a float in the range (0, 1). "
            "Got 'high' instead.")):
        get_check(check, confidence="high")


@pytest.mark.parametrize(("param", "value", "expected"), [
    ("n_jobs", True, "The 'n_jobs' parameter must be a positive integer. Got True instead."),
    ("batch_size", True, "The 'batch_size' parameter must be a positive integer. Got True "
                         "instead."),
    ("batch_size", np.bool_(True), "The 'batch_size' parameter must be a positive integer. Got "
                                   "np.True_ instead."),
    ("progress", 1, "The 'progress' parameter must be True, False or None. Got 1 instead."),
    ("progress", "yes", "The 'progress' parameter must be True, False or None. Got 'yes' "
                        "instead."),
    ("title", 3, "The 'title' parameter must be a str or None. Got int instead."),
    ("title", b"t", "The 'title' parameter must be a str or None. Got bytes instead."),
])
def test_audit_parameters_of_the_wrong_type(model, param, value, expected):
    with pytest.raises(AuditkitError, match=exact(expected)):
        audit(model, AuditData(X, Y), checks=["performance_metrics"], **{param: value})


def test_wrap_model_and_feature_extractor_refuse_a_boolean_batch_size(model):
    message = "The 'batch_size' parameter must be a positive integer. Got True instead."
    with pytest.raises(ModelError, match=exact(message)):
        wrap_model(model, batch_size=True)
    with pytest.raises(DataValidationError, match=exact(message)):
        FeatureExtractor(lambda a: a, batch_size=True)


# -- 4. values: names that collide ---------------------------------------------------------

_AS_TEXT = " (names are compared as text, so 1 and '1' are the same name)"


def _frame(columns: list, n: int = 200) -> pd.DataFrame:
    frame = pd.DataFrame({i: SEX[:n] for i in range(len(columns))})
    frame.columns = columns
    return frame


@pytest.mark.parametrize(("make", "param", "duplicates"), [
    (lambda: AuditData(X, Y, sensitive=_frame(["sex", "sex"])), "sensitive", "'sex'"),
    (lambda: AuditData(X, Y, sensitive=_frame([1, "1"])), "sensitive", "'1'"),
    (lambda: AuditData(X, Y, sensitive=_frame([1, 1])), "sensitive", "'1'"),
    (lambda: AuditData(X, Y, sensitive=_frame(["a", "b", "a", "b"])), "sensitive", "'a', 'b'"),
    (lambda: AuditData(X, Y, sensitive={1: SEX, "1": SEX}), "sensitive", "'1'"),
    (lambda: AuditData(X, Y, sensitive={"sex": SEX}, train=(X, Y, _frame(["sex", "sex"]))),
     "train[2]", "'sex'"),
    (lambda: AuditData(X, Y, feature_names=["a", "b", "a", "c"]), "feature_names", "'a'"),
    (lambda: AuditData(X, Y, feature_names=[0, "0", 1, 2]), "feature_names", "'0'"),
    (lambda: AuditData(X, Y, class_names=["yes", "yes"]), "class_names", "'yes'"),
    (lambda: AuditData(X, Y, class_names=[1, "1"]), "class_names", "'1'"),
    (lambda: AuditData(X, Y, feature_groups={1: [0], "1": [1]}), "feature_groups", "'1'"),
])
def test_duplicate_names_are_refused(make, param, duplicates):
    with pytest.raises(DataValidationError, match=exact(
            f"The '{param}' parameter must hold distinct names{_AS_TEXT}. Got {duplicates} more "
            "than once instead.")):
        make()


def test_duplicate_dataframe_columns_name_X():
    frame = pd.DataFrame(X, columns=["a", "b", "a", "c"])
    with pytest.raises(DataValidationError, match=exact(
            "The 'X' parameter must hold distinct names (the column names of the DataFrame, "
            "compared as text). Got 'a' more than once instead.")):
        AuditData(frame, Y)


def test_mutable_features_can_no_longer_pick_the_first_of_two_columns():
    with pytest.raises(DataValidationError, match="'feature_names' parameter must hold distinct"):
        AuditData(X, Y, feature_names=["age", "age", "b", "c"], mutable_features=["age"])


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"feature_names": "abcd"}, "The 'feature_names' parameter must be a sequence of str. Got "
                                "str instead."),
    ({"class_names": "ab"}, "The 'class_names' parameter must be a sequence of str. Got str "
                            "instead."),
    ({"class_names": 2}, "The 'class_names' parameter must be a sequence of str. Got int "
                         "instead."),
    ({"name": 5}, "The 'name' parameter must be a str or None. Got int instead."),
    ({"feature_groups": [[0, 1]]}, "The 'feature_groups' parameter must be a mapping of feature "
                                   "name to column indices. Got list instead."),
    ({"feature_groups": {"g": [True, 1]}}, "The 'feature_groups['g']' parameter must be a "
                                           "non-empty list of column indices in [0, 4). Got "
                                           "[True, 1] instead."),
    ({"feature_groups": {"g": ["a"]}}, "The 'feature_groups['g']' parameter must be a non-empty "
                                       "list of column indices in [0, 4). Got ['a'] instead."),
    ({"feature_groups": {"g": 3}}, "The 'feature_groups['g']' parameter must be a non-empty "
                                   "list of column indices in [0, 4). Got 3 instead."),
])
def test_names_and_groups_of_the_wrong_type(kwargs, expected):
    with pytest.raises(DataValidationError, match=exact(expected)):
        AuditData(X, Y, **kwargs)


# -- 4. values: labels ------------------------------------------------------------------------

_MIXED = "labels of one type (all numbers or all strings)"


@pytest.mark.parametrize(("labels", "got"), [
    (np.array([0, "one"] * 100, dtype=object), "a mix of numbers and strings (0, 'one')"),
    (np.array(["a", 1.5] * 100, dtype=object), "a mix of numbers and strings ('a', 1.5)"),
    ([True, "yes"] * 100, None),
    (pd.Series(["x", 2] * 100), "a mix of numbers and strings ('x', 2)"),
])
def test_mixed_label_types_are_refused(labels, got):
    if got is None:  # a list of bool and str: numpy makes them all strings; that is one type
        data = AuditData(X, labels)
        assert data.labels.tolist() == ["True", "yes"]
        return
    with pytest.raises(DataValidationError, match=exact(
            f"The 'y' parameter must be {_MIXED}. Got {got} instead.")):
        AuditData(X, labels)


def test_mixed_training_and_canary_labels_are_refused():
    mixed = np.array([0, "one"] * 10, dtype=object)
    with pytest.raises(DataValidationError, match=exact(
            f"The 'train[1]' parameter must be {_MIXED}. Got a mix of numbers and strings "
            "(0, 'one') instead.")):
        AuditData(X, Y, train=(X[:20], mixed))
    with pytest.raises(DataValidationError, match=exact(
            f"The 'canaries[1]' parameter must be {_MIXED}. Got a mix of numbers and strings "
            "(0, 'one') instead.")):
        AuditData(X, Y, canaries=(X[:20], mixed, np.arange(20) % 2 == 0))


@pytest.mark.parametrize(("labels", "got"), [
    (np.array([(0, 1), (1, 0)] * 100, dtype=object), None),
    (np.array([{"a": 1}, {"b": 2}] * 100, dtype=object),
     "a label of type dict ({'a': 1})"),
    (np.array([b"a", b"b"] * 100, dtype=object), "a label of type bytes (b'a')"),
])
def test_labels_that_are_not_numbers_or_strings(labels, got):
    if got is None:  # tuples become a 2-D array: refused for its shape
        with pytest.raises(DataValidationError, match=r"^The 'y' parameter must be a 1-D array"):
            AuditData(X, labels)
        return
    with pytest.raises(DataValidationError, match=exact(
            f"The 'y' parameter must be labels that are numbers or strings. Got {got} instead.")):
        AuditData(X, labels)


@pytest.mark.parametrize(("labels", "dtype"), [
    (Y + 0j, "complex128"), (Y.astype("S1"), "|S1"), (Y.astype("datetime64[s]"), "datetime64[s]"),
    (Y.astype("timedelta64[s]"), "timedelta64[s]")])
def test_labels_of_a_dtype_that_is_not_numbers_or_strings_are_refused(labels, dtype):
    with pytest.raises(DataValidationError, match=exact(
            "The 'y' parameter must be labels that are numbers or strings. Got dtype "
            f"{np.dtype(dtype)} instead.")):
        AuditData(X, labels)


def test_string_labels_against_an_integer_model(model):
    with pytest.raises(DataValidationError, match=exact(
            "The 'y' parameter must only contain labels the model can output ([0, 1]). Got "
            "labels ['no', 'yes'] instead.")):
        audit(model, AuditData(X, np.where(Y == 1, "yes", "no")), checks=["performance_metrics"],
              progress=False)


# -- 4. values: model card, device, sparse matrices --------------------------------------------


@pytest.mark.parametrize(("card", "expected"), [
    ([("intended use", "x")], "The 'model_card' parameter must be a mapping (a dict of section "
                              "to text) or None. Got list instead."),
    ("card.md", "The 'model_card' parameter must be a mapping (a dict of section to text) or "
                "None. Got str instead."),
    (3, "The 'model_card' parameter must be a mapping (a dict of section to text) or None. Got "
        "int instead."),
    ({1: "x"}, "The 'model_card' parameter must be a mapping with str keys. Got keys [1] "
               "instead."),
])
def test_model_card_must_be_a_mapping(model, card, expected):
    with pytest.raises(AuditkitError, match=exact(expected)):
        audit(model, AuditData(X, Y), checks=["performance_metrics"], model_card=card,
              progress=False)


_DEVICE = "The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'. Got {} instead."


@pytest.mark.parametrize("kind", ["sklearn", "callable", "torch"])
@pytest.mark.parametrize("device", ["gpu-please", "", "cuda:x", "tpu", 3, "meta"])
def test_an_unknown_device_is_refused_for_every_model(model, kind, device):
    subject = {"sklearn": model, "callable": model.predict_proba,
               "torch": nn.Linear(4, 2)}[kind]
    with pytest.raises(AuditkitError, match=exact(_DEVICE.format(repr(device)))):
        audit(subject, AuditData(X.astype(np.float32), Y), checks=["performance_metrics"],
              device=device, progress=False)


def test_a_known_device_is_accepted_for_a_scikit_learn_model(model):
    result = audit(model, AuditData(X, Y), checks=["performance_confusion_matrix"], device="cpu",
                   progress=False)
    assert result["performance_confusion_matrix"].status is not Status.ERROR


_SPARSE = ("The '{param}' parameter must be a dense array (auditkit does not take sparse "
           "matrices; pass {param}.toarray()). Got a sparse {kind} instead.")


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_matrix", "csr_array"])
def test_a_sparse_X_is_refused_with_the_way_out(fmt):
    matrix = getattr(sparse, fmt)(X)
    with pytest.raises(DataValidationError, match=exact(_SPARSE.format(param="X", kind=fmt))):
        AuditData(matrix, Y)


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"train": (sparse.csr_matrix(X), Y)}, "train[0]"),
    ({"reference": sparse.csr_matrix(X)}, "reference"),
    ({"ood": {"far": sparse.csr_matrix(X)}}, "ood['far']"),
    ({"canaries": (sparse.csr_matrix(X[:10]), Y[:10], np.arange(10) % 2 == 0)}, "canaries[0]"),
    ({"sensitive": sparse.csr_matrix(np.ones((200, 1)))}, "sensitive"),
])
def test_every_sparse_input_is_refused(kwargs, param):
    with pytest.raises(DataValidationError, match=exact(_SPARSE.format(param=param,
                                                                       kind="csr_matrix"))):
        AuditData(X, Y, **kwargs)


def test_sparse_labels_a_torch_sparse_tensor_and_a_sparse_frame_are_refused():
    with pytest.raises(DataValidationError, match=r"^The 'y' parameter must be a dense array"):
        AuditData(X, sparse.csr_matrix(Y[:, None]))
    with pytest.raises(DataValidationError, match=r"^The 'X' parameter must be a dense array.*"
                                                  r"Got a sparse Tensor instead\.$"):
        AuditData(torch.tensor(X).to_sparse(), Y)
    frame = pd.DataFrame(X).astype(pd.SparseDtype("float", 0.0))
    with pytest.raises(DataValidationError, match=r"^The 'X' parameter must be a dense array.*"
                                                  r"Got a sparse DataFrame instead\.$"):
        AuditData(frame, Y)


@pytest.mark.parametrize(("checks", "got"), [(3, "int"), ({"performance_metrics": {}}, "dict"),
                                             (None.__class__, "type")])
def test_checks_must_be_a_sequence(model, checks, got):
    with pytest.raises(CheckError, match=exact(
            "The 'checks' parameter must be a sequence of check names or Check instances. Got "
            f"{got} instead.")):
        audit(model, AuditData(X, Y), checks=checks, progress=False)


@pytest.mark.parametrize("kind", ["sklearn", "callable"])
def test_wrap_model_validates_the_device_for_every_model(model, kind):
    subject = model if kind == "sklearn" else model.predict_proba
    with pytest.raises(AuditkitError, match=exact(_DEVICE.format("'gpu-please'"))):
        wrap_model(subject, device="gpu-please")
    assert wrap_model(subject, device="cpu").device == "cpu"
