"""The local executor's model inference over a stream of batches (``predict_batches``).

Batches are predicted one at a time, in order, as the stream is read; the
model's own validation errors reach the caller; ``max_in_flight`` is checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from auditkit import wrap_model
from auditkit.checks._executor import LocalExecutor
from auditkit.exceptions import AuditkitError, ModelError


@pytest.fixture(scope="module")
def logreg_and_X():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return wrap_model(LogisticRegression().fit(X, y)), X


def test_batches_are_predicted_in_order_and_equal_the_models_own_predictions(logreg_and_X):
    model, X = logreg_and_X
    batches = np.array_split(X, 9)
    results = list(LocalExecutor().predict_batches(model, iter(batches)))
    assert [len(r) for r in results] == [len(b) for b in batches]
    for batch, proba in zip(batches, results, strict=True):
        assert np.array_equal(proba, model.predict_proba(batch))
    assert list(LocalExecutor().predict_batches(model, [])) == []


def test_the_stream_is_read_one_batch_per_result(logreg_and_X):
    model, X = logreg_and_X
    drawn = []

    def batches():
        for start in range(0, 500, 50):
            drawn.append(start)
            yield X[start:start + 50]

    stream = LocalExecutor(n_workers=2).predict_batches(model, batches(), max_in_flight=4)
    assert drawn == []
    for i, _ in enumerate(stream):
        assert len(drawn) == i + 1
    assert len(drawn) == 10


def test_a_models_error_on_one_batch_reaches_the_caller():
    def half_then_nonsense(X):
        if X[0, 0] >= 20:
            return np.full((len(X), 2), 0.7)
        return np.full((len(X), 2), 0.5)

    model = wrap_model(half_then_nonsense)
    batches = [np.arange(i, i + 10, dtype=float)[:, None] for i in range(0, 40, 10)]
    stream = LocalExecutor().predict_batches(model, batches)
    assert next(stream).shape == (10, 2)
    assert next(stream).shape == (10, 2)
    with pytest.raises(ModelError, match=r"must return probabilities in \[0, 1\] that sum to one"):
        next(stream)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "4"])
def test_max_in_flight_is_checked(logreg_and_X, bad):
    model, _ = logreg_and_X
    with pytest.raises(AuditkitError, match=r"'max_in_flight' parameter must be a positive "
                                            r"integer or None\. Got "):
        LocalExecutor().predict_batches(model, [], max_in_flight=bad)
