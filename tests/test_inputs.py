"""Model adapters and AuditData: values worked out by hand on tiny models with fixed weights."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import LinearSVC
from torch import nn

from auditkit import AuditData, AuditkitError, ModelAdapter, wrap_model
from auditkit.exceptions import DataValidationError, ModelError
from auditkit.inputs import CallableClassifier, SklearnClassifier, TorchClassifier

W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-1.0, 1.0, 0.0], [0.0, -0.5, 1.0]])
B = np.array([0.1, -0.2, 0.3, 0.0])
X3 = np.random.default_rng(42).normal(size=(23, 3)).astype(np.float32)
Y3 = np.array([0, 1, 2, 3, 1, 2, 0, 3, 3, 2, 1, 0, 0, 1, 2, 3, 2, 2, 1, 0, 3, 1, 0])


def _linear(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _scores(X: np.ndarray) -> np.ndarray:
    """Hand computation of the logits of the fixed linear model, in float64."""
    return X.astype(np.float64) @ W.T + B


def _mlp() -> nn.Sequential:
    with torch.random.fork_rng():  # seeded weights without touching the global generator
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4))


# -- torch ------------------------------------------------------------------------------


def test_torch_multiclass_softmax_equals_hand_computation():
    adapter = wrap_model(_linear(W, B), device="cpu")
    assert isinstance(adapter, TorchClassifier)
    proba = adapter.predict_proba(X3)
    assert proba.shape == (23, 4)
    np.testing.assert_allclose(proba, _softmax(_scores(X3)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert adapter.n_classes == 4
    np.testing.assert_array_equal(adapter.classes_, [0, 1, 2, 3])
    np.testing.assert_array_equal(adapter.predict(X3), np.argmax(_scores(X3), axis=1))


@pytest.mark.parametrize("squeeze", [False, True], ids=["shape_n_1", "shape_n"])
def test_torch_single_logit_is_binary_through_sigmoid(squeeze):
    class OneLogit(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = _linear(W[:1], B[:1])

        def forward(self, x):
            out = self.linear(x)
            return out[:, 0] if squeeze else out

    adapter = wrap_model(OneLogit(), device="cpu")
    proba = adapter.predict_proba(X3)
    z = _scores(X3)[:, 0]
    assert proba.shape == (23, 2)
    np.testing.assert_allclose(proba[:, 1], 1.0 / (1.0 + np.exp(-z)), rtol=1e-6)
    np.testing.assert_allclose(proba[:, 0], 1.0 / (1.0 + np.exp(z)), rtol=1e-6)
    assert adapter.n_classes == 2
    # A single logit z reads as two logits whose difference is z (softmax = sigmoid).
    logits = adapter.logits(X3)
    assert logits.shape == (23, 2)
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], z, rtol=1e-6, atol=1e-6)


def test_torch_logits_equal_module_output():
    adapter = wrap_model(_linear(W, B), device="cpu")
    logits = adapter.logits(X3)
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, _scores(X3), rtol=1e-6, atol=1e-6)


def test_torch_features_default_to_input_of_last_linear():
    module = _mlp()
    adapter = wrap_model(module, device="cpu")
    first = module[0]
    W1, b1 = first.weight.detach().double().numpy(), first.bias.detach().double().numpy()
    expected = np.maximum(X3.astype(np.float64) @ W1.T + b1, 0.0)
    features = adapter.features(X3)
    assert features.shape == (23, 5)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_torch_features_of_a_named_layer_are_its_output():
    module = _mlp()
    adapter = wrap_model(module, device="cpu", feature_layer="0")
    first = module[0]
    W1, b1 = first.weight.detach().double().numpy(), first.bias.detach().double().numpy()
    expected = X3.astype(np.float64) @ W1.T + b1  # before the ReLU: negative values remain
    features = adapter.features(X3)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    assert (features < 0).any()


def test_torch_unknown_feature_layer_raises():
    with pytest.raises(ModelError, match=r"'feature_layer' parameter must be one of "
                                         r"\['0', '1', '2'\]\. Got 'head' instead"):
        wrap_model(_mlp(), device="cpu", feature_layer="head")


def test_torch_per_sample_loss_equals_cross_entropy():
    adapter = wrap_model(_linear(W, B), device="cpu")
    loss = adapter.loss(X3, Y3)
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(_scores(X3)), torch.tensor(Y3), reduction="none").numpy()
    assert loss.shape == (23,)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_torch_input_gradient_of_linear_softmax_is_w_transpose_p_minus_onehot():
    adapter = wrap_model(_linear(W, B), device="cpu")
    adapter.predict_proba(X3[:1])  # learns the output size, as audit() does first
    grad = adapter.input_gradient(X3, Y3)
    p = _softmax(_scores(X3))
    expected = (p - np.eye(4)[Y3]) @ W  # row i: W^T (p_i - e_{y_i})
    assert grad.shape == X3.shape
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def test_torch_input_gradient_equals_autograd():
    module = _mlp()
    adapter = wrap_model(module, device="cpu")
    adapter.predict_proba(X3[:1])  # learns the output size, as audit() does first
    inputs = torch.tensor(X3, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(module(inputs), torch.tensor(Y3), reduction="sum")
    (expected,) = torch.autograd.grad(loss, inputs)
    np.testing.assert_allclose(adapter.input_gradient(X3, Y3), expected.numpy(), rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("batch_size", [1, 7, 10_000])
def test_torch_batching_does_not_change_results(batch_size):
    module = _mlp()
    reference = wrap_model(module, device="cpu", batch_size=23)
    adapter = wrap_model(module, device="cpu", batch_size=batch_size)
    for wrapped in (reference, adapter):
        wrapped.predict_proba(X3[:1])  # learns the output size, as audit() does first
    assert adapter.batch_size == batch_size
    np.testing.assert_allclose(adapter.predict_proba(X3), reference.predict_proba(X3),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(adapter.logits(X3), reference.logits(X3), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(adapter.features(X3), reference.features(X3), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(adapter.loss(X3, Y3), reference.loss(X3, Y3), rtol=1e-6)
    np.testing.assert_allclose(adapter.input_gradient(X3, Y3),
                               reference.input_gradient(X3, Y3), rtol=1e-5, atol=1e-7)


def _dropout_net() -> nn.Sequential:
    with torch.random.fork_rng():
        torch.manual_seed(3)
        return nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 4))


@pytest.mark.parametrize("method", ["predict_proba", "logits", "features", "loss",
                                    "input_gradient"])
@pytest.mark.parametrize("training", [True, False], ids=["train_mode", "eval_mode"])
def test_torch_mode_restored_and_dropout_off_during_call(method, training):
    module = _dropout_net()
    module.train(training)
    adapter = wrap_model(module, device="cpu", classes=[0, 1, 2, 3])
    args = (X3, Y3) if method in ("loss", "input_gradient") else (X3,)
    first = getattr(adapter, method)(*args)
    second = getattr(adapter, method)(*args)
    np.testing.assert_array_equal(first, second)  # dropout is off: deterministic
    assert module.training is training
    assert all(m.training is training for m in module.modules())
    if method == "predict_proba":
        module.eval()
        with torch.no_grad():
            expected = torch.softmax(module(torch.tensor(X3)).double(), dim=1).numpy()
        np.testing.assert_allclose(first, expected, rtol=1e-6)


def test_torch_input_gradient_works_on_a_fresh_adapter():
    adapter = wrap_model(_linear(W, B), device="cpu")
    grad = adapter.input_gradient(X3, Y3)
    np.testing.assert_allclose(grad, (_softmax(_scores(X3)) - np.eye(4)[Y3]) @ W, rtol=1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("kind", ["torch", "callable"])
def test_predict_works_on_a_fresh_adapter(kind):
    model = _linear(W, B) if kind == "torch" else (lambda X: _softmax(_scores(X)))
    adapter = wrap_model(model, device="cpu") if kind == "torch" else wrap_model(model)
    np.testing.assert_array_equal(adapter.predict(X3), np.argmax(_scores(X3), axis=1))


def test_torch_mixed_submodule_modes_are_restored():
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    module.train()
    module[1].eval()  # frozen batch-norm statistics while fine-tuning: a common set-up
    wrap_model(module, device="cpu").predict_proba(X3)
    assert module.training is True
    assert module[1].training is False


def test_torch_classes_label_the_output_columns():
    names = ["cat", "dog", "fish", "bird"]
    adapter = wrap_model(_linear(W, B), device="cpu", classes=names)
    labels = np.array(names)[Y3]
    np.testing.assert_array_equal(adapter.classes_, names)
    np.testing.assert_array_equal(adapter.predict(X3), np.array(names)[np.argmax(_scores(X3), 1)])
    np.testing.assert_array_equal(adapter.label_indices(labels), Y3)
    plain = wrap_model(_linear(W, B), device="cpu")
    np.testing.assert_allclose(adapter.loss(X3, labels), plain.loss(X3, Y3), rtol=1e-12)
    with pytest.raises(ModelError, match=r"'y' parameter must be labels among \['cat', 'dog', "
                                         r"'fish', 'bird'\]\. Got labels \['cow'\] instead"):
        adapter.label_indices(["cat", "cow"])


def test_torch_classes_of_the_wrong_length_raise():
    adapter = wrap_model(_linear(W, B), device="cpu", classes=["a", "b"])
    with pytest.raises(ModelError, match=r"'classes' parameter must be 4 labels, one per output "
                                         r"column of the model\. Got 2 labels instead"):
        adapter.predict_proba(X3)


def test_torch_fingerprint_changes_with_a_weight_and_is_stable_otherwise():
    module = _mlp()
    adapter = wrap_model(module, device="cpu")
    before = adapter.fingerprint()
    assert len(before) == 64 and int(before, 16) >= 0
    adapter.predict_proba(X3)
    assert adapter.fingerprint() == before
    assert wrap_model(copy.deepcopy(module), device="cpu").fingerprint() == before
    with torch.no_grad():
        module[2].weight[0, 0] += 1e-3
    assert adapter.fingerprint() != before


def test_torch_device_auto_is_cpu_without_accelerator():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    adapter = wrap_model(_mlp())
    assert adapter.device in ("cpu", "mps")


# -- scikit-learn ------------------------------------------------------------------------


def test_sklearn_predict_proba_equals_sklearn(logreg, binary_arrays):
    X, _, _ = binary_arrays
    adapter = wrap_model(logreg)
    assert isinstance(adapter, SklearnClassifier)
    np.testing.assert_array_equal(adapter.predict_proba(X), logreg.predict_proba(X))
    np.testing.assert_array_equal(adapter.predict(X), logreg.predict(X))
    np.testing.assert_array_equal(adapter.classes_, logreg.classes_)


def test_sklearn_batched_equals_whole(logreg_multiclass, make_multiclass):
    X, _ = make_multiclass(n=50, seed=5)
    adapter = wrap_model(logreg_multiclass, batch_size=7)
    np.testing.assert_allclose(adapter.predict_proba(X), logreg_multiclass.predict_proba(X),
                               rtol=1e-12)


def test_sklearn_per_sample_loss_is_cross_entropy(logreg, binary_arrays):
    X, y, _ = binary_arrays
    proba = logreg.predict_proba(X)
    np.testing.assert_allclose(wrap_model(logreg).loss(X, y),
                               -np.log(proba[np.arange(len(y)), y]), rtol=1e-12)


def test_sklearn_fitted_on_dataframe_gets_named_columns(make_binary):
    X, y, _ = make_binary(n=80)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = LogisticRegression().fit(frame, y)
    adapter = wrap_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        proba = adapter.predict_proba(X)
    np.testing.assert_array_equal(proba, model.predict_proba(frame))


def test_sklearn_string_labels(binary_arrays):
    X, y, _ = binary_arrays
    labels = np.where(y == 1, "yes", "no")
    model = LogisticRegression().fit(X, labels)
    adapter = wrap_model(model)
    np.testing.assert_array_equal(adapter.classes_, ["no", "yes"])
    np.testing.assert_array_equal(adapter.label_indices(labels), y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_estimator_without_predict_proba_squashes_decision_function(n_classes, make_multiclass):
    X, y = make_multiclass(n=90, n_classes=n_classes, seed=2)
    svm = LinearSVC().fit(X, y)
    adapter = wrap_model(svm)
    scores = svm.decision_function(X)
    if n_classes == 2:
        expected = np.column_stack([1 / (1 + np.exp(scores)), 1 / (1 + np.exp(-scores))])
    else:
        expected = _softmax(scores)
    proba = adapter.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-12)
    np.testing.assert_array_equal(adapter.predict(X), svm.predict(X))
    assert "probabilities" not in adapter.capabilities
    assert adapter.capabilities == {"predict", "loss", "weights", "refit"}


def test_sklearn_fingerprint_changes_with_a_weight_and_is_stable_otherwise(logreg):
    model = copy.deepcopy(logreg)
    adapter = wrap_model(model)
    before = adapter.fingerprint()
    assert wrap_model(copy.deepcopy(logreg)).fingerprint() == before
    model.coef_[0, 0] += 1e-6
    assert adapter.fingerprint() != before


def test_sklearn_fingerprint_sees_list_valued_weights(make_binary):
    X, y, _ = make_binary(n=80)
    model = MLPClassifier(hidden_layer_sizes=(3,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    adapter = wrap_model(model)
    before = adapter.fingerprint()
    model.coefs_[0][0, 0] += 1.0
    assert adapter.fingerprint() != before


def test_sklearn_fingerprint_tells_different_trees_apart(make_binary):
    from sklearn.tree import DecisionTreeClassifier

    X, y, _ = make_binary(n=120)
    first = DecisionTreeClassifier(random_state=0).fit(X, y)
    second = DecisionTreeClassifier(random_state=0).fit(X[:60], y[:60])
    assert (first.predict(X) != second.predict(X)).any()
    assert wrap_model(first).fingerprint() != wrap_model(second).fingerprint()


# -- plain callables ------------------------------------------------------------------------


def test_callable_returns_its_probabilities(binary_arrays, black_box):
    X, _, _ = binary_arrays
    adapter = wrap_model(black_box, batch_size=13)
    assert isinstance(adapter, CallableClassifier)
    np.testing.assert_allclose(adapter.predict_proba(X), black_box(X), rtol=1e-12)
    np.testing.assert_array_equal(adapter.classes_, [0, 1])
    assert adapter.device == "cpu"
    assert adapter.fingerprint() is None


def test_callable_with_classes_and_torch_output():
    def function(X):
        return torch.softmax(torch.as_tensor(_scores(X)), dim=1)

    adapter = wrap_model(function, classes=["w", "x", "y", "z"])
    np.testing.assert_allclose(adapter.predict_proba(X3), _softmax(_scores(X3)), rtol=1e-12)
    np.testing.assert_array_equal(adapter.predict(X3),
                                  np.array(["w", "x", "y", "z"])[np.argmax(_scores(X3), 1)])


def test_callable_lacks_torch_only_methods(black_box):
    adapter = wrap_model(black_box)
    with pytest.raises(ModelError, match=r"does not provide 'gradients': it has capabilities "
                                         r"\['loss', 'predict', 'probabilities'\]"):
        adapter.input_gradient(X3, Y3)
    with pytest.raises(ModelError, match="does not provide 'logits'"):
        adapter.logits(X3)
    with pytest.raises(ModelError, match="does not provide 'features'"):
        adapter.features(X3)


def test_capabilities_of_each_adapter(logreg, torch_model, black_box):
    assert wrap_model(torch_model, device="cpu").capabilities == {
        "predict", "probabilities", "logits", "gradients", "features", "loss", "weights",
        "layers", "randomize"}
    assert wrap_model(logreg).capabilities == {"predict", "probabilities", "loss", "weights",
                                               "refit"}
    assert wrap_model(black_box).capabilities == {"predict", "probabilities", "loss"}


def test_wrap_model_passes_adapters_through(logreg):
    adapter = wrap_model(logreg)
    assert wrap_model(adapter) is adapter
    assert isinstance(adapter, ModelAdapter)


@pytest.mark.parametrize("model", [42, "model.pt", None, [1, 2]], ids=repr)
def test_wrap_model_rejects_unsupported_objects(model):
    with pytest.raises(ModelError, match=r"The 'model' parameter must be a torch\.nn\.Module, a "
                                         r"fitted scikit-learn classifier, a callable returning "
                                         r"probabilities, a ModelAdapter or a "
                                         r"GenerativeModel\. Got \w+ instead"):
        wrap_model(model)


def test_wrap_model_rejects_an_unfitted_estimator():
    with pytest.raises(ModelError, match=r"'model' parameter must be a fitted classifier with a "
                                         r"'classes_' attribute\. Got LogisticRegression"):
        wrap_model(LogisticRegression())


# -- AuditData ----------------------------------------------------------------------------

N = 12
_RNG = np.random.default_rng(7)
X_REF = _RNG.normal(size=(N, 3))
Y_REF = np.array([0, 1] * (N // 2))
S_REF = np.array(["f", "m", "m"] * (N // 3), dtype=object)


def _as(kind: str, value: np.ndarray, role: str):
    if kind == "list":
        return value.tolist()
    if kind == "ndarray":
        return value
    if kind == "pandas":
        if role == "X":
            return pd.DataFrame(value, columns=["a", "b", "c"], index=np.arange(100, 100 + N))
        return pd.Series(value, name="sex" if role == "sensitive" else "target",
                         index=np.arange(100, 100 + N))
    if kind == "torch":
        if role == "sensitive":  # tensors hold no strings: code the groups
            return torch.tensor((value == "m").astype(np.int64))
        return torch.tensor(value)
    raise AssertionError(kind)


KINDS = ["list", "ndarray", "pandas", "torch"]


@pytest.mark.parametrize("x_kind", KINDS)
@pytest.mark.parametrize("y_kind", KINDS)
@pytest.mark.parametrize("s_kind", KINDS)
def test_audit_data_accepts_every_input_type(x_kind, y_kind, s_kind):
    data = AuditData(_as(x_kind, X_REF, "X"), _as(y_kind, Y_REF, "y"),
                     sensitive=_as(s_kind, S_REF, "sensitive"))
    assert isinstance(data.X, np.ndarray) and data.X.shape == (N, 3)
    np.testing.assert_allclose(data.X, X_REF, rtol=1e-12)
    np.testing.assert_array_equal(data.y, Y_REF)
    assert isinstance(data.sensitive, pd.DataFrame)
    assert data.sensitive.shape == (N, 1)
    assert list(data.sensitive.index) == list(range(N))
    expected = (S_REF == "m").astype(np.int64) if s_kind == "torch" else S_REF
    np.testing.assert_array_equal(data.sensitive.iloc[:, 0].to_numpy(), expected)
    if s_kind == "pandas":
        assert list(data.sensitive.columns) == ["sex"]
    assert data.n_samples == N
    np.testing.assert_array_equal(data.labels, [0, 1])


def test_audit_data_sensitive_from_a_dataframe_and_a_mapping():
    frame = pd.DataFrame({"sex": S_REF, "age_group": ["young", "old"] * (N // 2)},
                         index=np.arange(50, 50 + N))
    from_frame = AuditData(X_REF, Y_REF, sensitive=frame)
    from_mapping = AuditData(X_REF, Y_REF, sensitive={"sex": list(S_REF),
                                                      "age_group": ["young", "old"] * (N // 2)})
    for data in (from_frame, from_mapping):
        assert list(data.sensitive.columns) == ["sex", "age_group"]
        assert data.sensitive["age_group"].tolist()[:2] == ["young", "old"]
    assert from_frame.fingerprint() == from_mapping.fingerprint()


def test_audit_data_arrays_are_read_only_copies():
    X, y = X_REF.copy(), Y_REF.copy()
    data = AuditData(X, y, train=(X.copy(), y.copy()), reference=X.copy(), ood={"noise": X * 3})
    arrays = [data.X, data.y, data.train.X, data.train.y, data.reference, data.ood["noise"]]
    for array in arrays:
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    X[0, 0] = 1e6  # the caller's arrays are copied, not aliased
    y[0] = 1
    assert data.X[0, 0] == X_REF[0, 0]
    assert data.y[0] == Y_REF[0]


def test_audit_data_fingerprint_is_stable_and_sensitive_to_labels():
    first = AuditData(X_REF, Y_REF, sensitive={"sex": S_REF})
    again = AuditData(X_REF.copy(), list(Y_REF), sensitive={"sex": S_REF.copy()})
    assert first.fingerprint() == first.fingerprint() == again.fingerprint()
    assert len(first.fingerprint()) == 64
    y_changed = Y_REF.copy()
    y_changed[3] = 1 - y_changed[3]
    assert AuditData(X_REF, y_changed, sensitive={"sex": S_REF}).fingerprint() != \
        first.fingerprint()
    s_changed = S_REF.copy()
    s_changed[0] = "m"
    assert AuditData(X_REF, Y_REF, sensitive={"sex": s_changed}).fingerprint() != \
        first.fingerprint()
    x_changed = X_REF.copy()
    x_changed[5, 1] += 1e-9
    assert AuditData(x_changed, Y_REF, sensitive={"sex": S_REF}).fingerprint() != \
        first.fingerprint()
    assert first.describe()["sha256"] == first.fingerprint()


_BASE = dict(X=X_REF, y=Y_REF, sensitive={"sex": S_REF}, train=(X_REF, Y_REF),
             reference=X_REF[:6], ood={"far": X_REF * 3}, feature_names=["a", "b", "c"],
             feature_groups={"ab": [0, 1], "c": [2]}, categorical_features=["ab"],
             class_names=["no", "yes"], mutable_features=["ab"],
             input_range=(-10.0, 10.0), texts=[f"t{i}" for i in range(N)], name="base")


@pytest.mark.parametrize("field, value", [
    ("X", X_REF + 1e-9), ("y", 1 - Y_REF), ("sensitive", {"sex": S_REF[::-1].copy()}),
    ("train", (X_REF[:6], Y_REF[:6])), ("train", None),
    ("reference", X_REF[6:]), ("reference", None),
    ("ood", {"far": X_REF * 4}), ("ood", {"near": X_REF * 3}), ("ood", None),
    ("mutable_features", ["c"]), ("mutable_features", None),
    ("input_range", (-10.0, 11.0)), ("input_range", None),
    ("feature_names", ["a", "b", "d"]), ("feature_groups", {"a": [0], "bc": [1, 2]}),
    ("categorical_features", ["c"]), ("class_names", ["yes", "no"]),
    ("texts", [f"u{i}" for i in range(N)]), ("texts", None),
    ("ood_kinds", {"far": "near"}), ("ood_texts", {"far": [f"o{i}" for i in range(N)]}),
    ("canaries", (X_REF[:4] * 2, Y_REF[:4], np.array([True, False, True, False]))),
    ("train", (X_REF, Y_REF, {"sex": S_REF})),
])
def test_audit_data_fingerprint_covers_every_field_that_changes_results(field, value):
    base = AuditData(**_BASE)
    changed = {**_BASE, field: value}
    if field == "feature_groups":
        changed["mutable_features"], changed["categorical_features"] = ["a"], ["a"]
        base = AuditData(**{**_BASE, "mutable_features": ["a"], "categorical_features": ["a"]})
    assert AuditData(**changed).fingerprint() != base.fingerprint()
    assert AuditData(**_BASE).fingerprint() == AuditData(**_BASE).fingerprint()


def test_audit_data_fingerprint_covers_the_modality():
    X = (np.arange(6 * 25).reshape(6, 5, 5) % 5).astype(np.float64)
    as_image = AuditData(X.reshape(6, 25), [0, 1] * 3, modality="tabular")
    as_sequence = AuditData(X.reshape(6, 25), [0, 1] * 3, modality="sequence")
    assert as_image.fingerprint() != as_sequence.fingerprint()


def test_audit_data_fingerprint_ignores_the_name():
    assert AuditData(**_BASE).fingerprint() == AuditData(**{**_BASE, "name": "x"}).fingerprint()


def test_valid_bounds_are_observed_in_x_and_the_reference_inputs():
    wide = X_REF * 5
    with_reference = AuditData(X_REF, Y_REF, train=(X_REF, Y_REF), reference=wide)
    with_train = AuditData(X_REF, Y_REF, train=(wide, Y_REF))
    alone = AuditData(X_REF, Y_REF)
    for data in (with_reference, with_train):
        assert data.reference_inputs is not data.X
        low, high = data.valid_bounds()
        np.testing.assert_allclose(low, np.minimum(X_REF, wide).min(axis=0))
        np.testing.assert_allclose(high, np.maximum(X_REF, wide).max(axis=0))
    low, high = alone.valid_bounds()
    np.testing.assert_allclose(low, X_REF.min(axis=0))
    np.testing.assert_allclose(high, X_REF.max(axis=0))


def test_audit_data_describe():
    data = AuditData(X_REF, Y_REF, sensitive={"sex": S_REF}, train=(X_REF, Y_REF),
                     ood={"b": X_REF, "a": X_REF}, name="tiny")
    description = data.describe()
    assert description == {"name": "tiny", "modality": "tabular", "n_samples": N,
                           "sample_shape": [3], "labels": [0, 1], "sensitive_features": ["sex"],
                           "n_train": N, "ood_sets": ["a", "b"], "sha256": data.fingerprint()}


@pytest.mark.parametrize("modality, shape", [("image", (6, 5, 5)), ("image", (6, 1, 5, 5)),
                                             ("sequence", (6, 9)), ("sequence", (6, 9, 2)),
                                             ("text", (6, 7))])
def test_audit_data_modalities_accept_their_shapes(modality, shape):
    X = np.arange(np.prod(shape)).reshape(shape) % 5
    data = AuditData(X, [0, 1, 0, 1, 0, 1], modality=modality)
    assert data.X.shape == shape
    assert data.modality == modality


def test_audit_data_mixed_bool_float_frame_is_numeric_and_checked():
    frame = pd.DataFrame({"income": [1.0, np.nan, 3.0, 4.0], "owner": [True, False, True, False]})
    with pytest.raises(AuditkitError, match=r"'X' parameter must contain only finite values"):
        AuditData(frame, [0, 1, 0, 1])


def test_audit_data_takes_feature_names_from_dataframe_columns():
    frame = pd.DataFrame(X_REF, columns=["age", "income", "tenure"])
    assert AuditData(frame, Y_REF).feature_names == ("age", "income", "tenure")


def test_audit_data_explicit_feature_names():
    data = AuditData(X_REF, Y_REF, feature_names=["age", "income", "tenure"])
    assert data.feature_names == ("age", "income", "tenure")


def test_audit_data_bool_frame_is_numeric():
    frame = pd.DataFrame({"a": [True, False, True, False], "b": [1.0, 2.0, 3.0, 4.0]})
    data = AuditData(frame[["a"]], [0, 1, 0, 1])
    assert data.X.dtype.kind in "bif"
    np.testing.assert_array_equal(data.X[:, 0], [1, 0, 1, 0])


def test_black_box_used_by_other_tests_is_binary(black_box, make_binary):
    proba = black_box(make_binary(n=5)[0])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_threads_share_eval_mode_and_the_last_one_restores_training():
    import threading

    import torch
    from torch import nn

    from auditkit import wrap_model

    seen = []
    barrier = threading.Barrier(2)

    class Recorder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 2)

        def forward(self, x):
            seen.append(self.training)
            return self.linear(x)

    module = Recorder().train()
    adapter = wrap_model(module, device="cpu", batch_size=1)
    X = torch.zeros((4, 3)).numpy()

    def work() -> None:
        barrier.wait()
        for _ in range(20):
            adapter.predict_proba(X)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen and not any(seen)  # every forward pass ran in eval mode
    assert module.training  # and the module is back in training mode


def test_ood_sets_are_far_unless_named_near():
    data = AuditData(X_REF, Y_REF, ood={"a": X_REF * 3, "b": X_REF * 4}, ood_kinds={"b": "near"})
    assert data.ood_kinds == {"a": "far", "b": "near"}
    assert AuditData(X_REF, Y_REF).ood_kinds is None


@pytest.mark.parametrize("options, match", [
    ({"ood_kinds": {"a": "close"}}, r"ood_kinds\['a'\].*one of \['far', 'near'\].*'close'"),
    ({"ood_kinds": {"zzz": "near"}}, r"ood_kinds.*keys among the OOD sets \['a'\].*zzz"),
    ({"ood_kinds": ["near"]}, r"ood_kinds.*a mapping"),
    ({"ood_texts": {"a": ["x"]}}, r"ood_texts\['a'\]"),
    ({"ood_texts": {"a": [1] * N}}, r"ood_texts\['a'\].*str"),
])
def test_ood_metadata_is_validated(options, match):
    with pytest.raises(DataValidationError, match=match):
        AuditData(X_REF, Y_REF, ood={"a": X_REF * 3}, **options)


def test_canaries_are_validated():
    ok = AuditData(X_REF, Y_REF, canaries=(X_REF[:4], Y_REF[:4], np.array([1, 0, 1, 0]) == 1))
    assert len(ok.canaries) == 4 and ok.canaries.included.sum() == 2
    with pytest.raises(DataValidationError, match=r"canaries\[2\].*some canaries included.*"
                       r"4 of 4 included"):
        AuditData(X_REF, Y_REF, canaries=(X_REF[:4], Y_REF[:4], np.ones(4, dtype=bool)))
    with pytest.raises(DataValidationError, match=r"canaries\[2\].*boolean array of shape"):
        AuditData(X_REF, Y_REF, canaries=(X_REF[:4], Y_REF[:4], np.array([1, 0, 1, 0])))
    with pytest.raises(DataValidationError, match=r"canaries.*a tuple"):
        AuditData(X_REF, Y_REF, canaries=X_REF[:4])


def test_training_records_may_carry_their_sensitive_features():
    data = AuditData(X_REF, Y_REF, sensitive={"sex": S_REF}, train=(X_REF, Y_REF, {"sex": S_REF}))
    assert list(data.train.sensitive["sex"]) == list(S_REF)
    again = AuditData(X_REF, Y_REF, sensitive={"sex": S_REF}, train=data.train)
    assert again.fingerprint() == data.fingerprint()
    with pytest.raises(DataValidationError, match=r"train\[2\].*columns of 'sensitive'.*"
                       r"\['sex'\].*\['age'\]"):
        AuditData(X_REF, Y_REF, sensitive={"sex": S_REF}, train=(X_REF, Y_REF, {"age": S_REF}))
    with pytest.raises(DataValidationError, match=r"train\[2\]\['sex'\].*train\[0\]"):
        AuditData(X_REF, Y_REF, sensitive={"sex": S_REF}, train=(X_REF, Y_REF, {"sex": S_REF[:3]}))
