"""The zoo classifiers' training functions (``model.train_fn``), used for reference models.

Each zoo classifier carries a module-level ``train_fn`` that retrains a fresh
copy with the model's own recipe, so ``wrap_model(model).fit_clone`` works;
it must pickle by reference (process workers), be deterministic under its
``random_state``, and learn something (better than chance on its own rows).
The tabular models' members also carry their sensitive features.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from auditkit import wrap_model, zoo
from auditkit.zoo import adult_mlp, mnist_cnn, sentiment, tabular, vowels_gru

TRAIN_FNS = {
    "adult-mlp": adult_mlp.refit,
    "adult-mlp-biased": adult_mlp.refit,
    "adult-mlp-overfit": tabular.refit_overfit,
    "adult-mlp-canary": tabular.refit_overfit,
    "compas-mlp": tabular.refit_compas,
    "mnist-cnn": mnist_cnn.refit,
    "mnist-cnn-robust": mnist_cnn.refit_robust,
    "sentiment-lstm": sentiment.refit,
    "sentiment-transformer": sentiment.refit,
    "vowels-gru": vowels_gru.refit,
}
# Fitted twice (determinism) on 64 rows; the costliest recipes (validation every epoch,
# adversarial training) once, and only in the slow suite.
SLOW = {"mnist-cnn-robust", "sentiment-transformer"}


def _cross_entropy(proba: np.ndarray, index: np.ndarray) -> float:
    return float(-np.log(np.maximum(proba[np.arange(len(index)), index], 1e-12)).mean())


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(TRAIN_FNS)])
def test_every_zoo_classifier_can_refit(name):
    model, data = zoo.load(name)
    assert model.train_fn is TRAIN_FNS[name]
    assert pickle.loads(pickle.dumps(model.train_fn)) is model.train_fn  # by reference
    adapter = wrap_model(model, device="cpu")
    assert adapter.refit_unavailable_reason is None and "refit" in adapter.capabilities
    before = adapter.predict_proba(data.X[:2])
    rows = np.random.default_rng(0).choice(len(data.train), 64, replace=False)
    X, y = data.train.X[rows], data.train.y[rows]
    index = adapter.label_indices(y)
    fitted = adapter.fit_clone(X, y, random_state=3).predict_proba(X)
    assert fitted.shape == (len(X), adapter.n_classes)
    if name not in SLOW:
        again = adapter.fit_clone(X, y, random_state=3).predict_proba(X)
        np.testing.assert_allclose(fitted, again, atol=1e-6)  # deterministic under the seed
    # It learnt: lower loss on its training rows than the same network untrained.
    untrained = wrap_model(adapter.clone_untrained(random_state=3), device="cpu")
    assert _cross_entropy(fitted, index) < _cross_entropy(untrained.predict_proba(X), index)
    # The audited model itself is untouched.
    np.testing.assert_array_equal(adapter.predict_proba(data.X[:2]), before)


@pytest.mark.parametrize(("name", "columns"), [
    ("adult-mlp", ["sex", "race"]), ("adult-mlp-overfit", ["sex", "race"]),
    ("adult-mlp-biased", ["sex", "race"]), ("compas-mlp", ["race", "sex", "age_cat"])])
def test_members_carry_their_sensitive_features(name, columns):
    _, data = zoo.load(name)
    sensitive = data.train.sensitive
    assert list(sensitive.columns) == columns == list(data.sensitive.columns)
    assert len(sensitive) == len(data.train) and not sensitive.isna().any().any()
    if name.startswith("adult-mlp"):
        train_frame, _ = zoo.load_adult()
        if name == "adult-mlp-overfit":
            rows = np.asarray(zoo.info(name)["data"]["member_rows"])
            train_frame = train_frame.iloc[rows]
        np.testing.assert_array_equal(sensitive["sex"].to_numpy(),
                                      train_frame["sex"].to_numpy())
