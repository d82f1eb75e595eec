"""Reference models of the privacy family: training, assignment, disk cache, SKIP reason."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from torch import nn

from auditkit import AuditData, wrap_model
from auditkit.checks._base import CheckContext
from auditkit.checks._executor import LocalExecutor
from auditkit.checks.privacy._common import membership_sample
from auditkit.checks.privacy._reference import (
    reference_outputs,
    reference_unavailable_reason,
)
from auditkit.exceptions import AuditkitError

CALLS = {"n": 0}


def counting_train_fn(module: nn.Module, X: np.ndarray, y: np.ndarray, *,
                      random_state: int = 0) -> nn.Module:
    """A few full-batch Adam steps; counts its calls (module-level, so it pickles)."""
    CALLS["n"] += 1
    CALLS.setdefault("sizes", []).append(len(X))
    generator = torch.Generator().manual_seed(random_state)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.01 * torch.randn(parameter.shape, generator=generator))
    module.train()  # dropout, when the module has it, draws from torch's global generator
    optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
    X_t, y_t = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)  # as the zoo's train_fns do: dropout follows the seed
        for _ in range(20):
            optimiser.zero_grad()
            nn.functional.cross_entropy(module(X_t), y_t).backward()
            optimiser.step()
    return module.eval()


def _tabular(n_train: int = 60, n_test: int = 80, seed: int = 0) -> AuditData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_train + n_test, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=len(X)) > 0).astype(np.int64)
    return AuditData(X[n_train:], y[n_train:], train=(X[:n_train], y[:n_train]))


def _torch_model(train_fn=counting_train_fn, dropout: float = 0.0):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 2))
    return wrap_model(module, device="cpu", train_fn=train_fn)


def _run(model, data, tmp_path, *, seed=0, n_models=4, population_size=10, workers=1,
         train_size=None):
    context = CheckContext(random_state=seed, executor=LocalExecutor(workers))
    sample = membership_sample(data, 30, context)
    return sample, reference_outputs(model, data, sample, context, n_models=n_models,
                                     population_size=population_size, train_size=train_size,
                                     cache_dir=str(tmp_path))


def test_shapes_balanced_assignment_and_population(tmp_path):
    data = _tabular()
    model = _torch_model()
    sample, out = _run(model, data, tmp_path, n_models=6, population_size=10)
    n = len(sample.X)
    assert out.proba.shape == (6, n, 2) and out.population_proba.shape == (6, 10, 2)
    assert out.n_models == 6 and out.included.shape == (6, n)
    # LiRA's balanced assignment: every record in exactly k/2 models.
    np.testing.assert_array_equal(out.included.sum(axis=0), np.full(n, 3))
    np.testing.assert_allclose(out.proba.sum(-1), 1.0, atol=1e-6)
    # Population rows are rows of data.X not drawn as non-members.
    assert set(out.population_index) <= set(sample.population)
    assert len(set(out.population_index)) == 10
    assert not out.from_cache and out.seconds_training > 0
    assert "6 reference models" in out.description and "counting_train_fn" in out.description


def test_members_of_a_reference_model_fit_it_better(tmp_path):
    """A record's loss is lower in the models that trained on it: the assignment is real."""
    data = _tabular(n_train=40, n_test=60)
    model = wrap_model(MLPClassifier((64,), max_iter=2000, random_state=0).fit(
        data.train.X, data.train.y))
    sample, out = _run(model, data, tmp_path, n_models=4, population_size=0)
    idx = model.label_indices(sample.y)
    true_proba = out.proba[:, np.arange(len(sample.y)), idx]
    assert true_proba[out.included].mean() > true_proba[~out.included].mean() + 0.05


def test_second_call_reads_the_cache_without_training(tmp_path):
    data = _tabular()
    CALLS["n"] = 0
    _, first = _run(_torch_model(), data, tmp_path)
    assert CALLS["n"] == 4 and not first.from_cache
    files = sorted(p.name for p in (tmp_path / "privacy-reference").iterdir())
    assert files == [f"{first.cache_key}.json", f"{first.cache_key}.npz"]
    covers = json.loads((tmp_path / "privacy-reference" / f"{first.cache_key}.json")
                        .read_text())["covers"]
    assert covers["n_models"] == 4 and covers["random_state"] == 0
    # A new audit (fresh context) of the same model and data: no training at all.
    _, second = _run(_torch_model(), data, tmp_path)
    assert CALLS["n"] == 4
    assert second.from_cache and second.seconds_training == 0.0
    assert "read from the cache" in second.description
    np.testing.assert_array_equal(first.proba, second.proba)
    np.testing.assert_array_equal(first.included, second.included)
    np.testing.assert_array_equal(first.population_index, second.population_index)


def test_once_per_audit_through_context_shared(tmp_path):
    data = _tabular()
    context = CheckContext(random_state=0)
    sample = membership_sample(data, 30, context)
    CALLS["n"] = 0
    model = _torch_model()
    a = reference_outputs(model, data, sample, context, n_models=2, population_size=5,
                          cache_dir=str(tmp_path))
    b = reference_outputs(model, data, sample, context, n_models=2, population_size=5,
                          cache_dir=str(tmp_path))
    assert a is b and CALLS["n"] == 2


@pytest.mark.parametrize("corruption", ["garbage-npz", "wrong-json", "wrong-shape"])
def test_a_corrupt_or_mismatched_cache_is_ignored_and_rewritten(tmp_path, corruption):
    data = _tabular()
    CALLS["n"] = 0
    _, first = _run(_torch_model(), data, tmp_path)
    folder = tmp_path / "privacy-reference"
    npz, meta = folder / f"{first.cache_key}.npz", folder / f"{first.cache_key}.json"
    if corruption == "garbage-npz":
        npz.write_bytes(b"not an npz file")
    elif corruption == "wrong-json":
        record = json.loads(meta.read_text())
        record["covers"]["n_models"] = 99
        meta.write_text(json.dumps(record))
    else:
        np.savez(npz, key=np.array(first.cache_key), proba=np.zeros((1, 2, 2)),
                 population_proba=np.zeros((1, 0, 2)), included=np.zeros((1, 2), bool))
    _, second = _run(_torch_model(), data, tmp_path)
    assert not second.from_cache and CALLS["n"] == 8
    np.testing.assert_allclose(second.proba, first.proba, atol=1e-6)
    _, third = _run(_torch_model(), data, tmp_path)  # rewritten: now a hit
    assert third.from_cache and CALLS["n"] == 8


def test_key_changes_with_seed_data_model_and_settings(tmp_path):
    data = _tabular()
    model = _torch_model()
    keys = {_run(model, data, tmp_path)[1].cache_key}
    keys.add(_run(model, data, tmp_path, seed=1)[1].cache_key)
    keys.add(_run(model, _tabular(seed=5), tmp_path)[1].cache_key)
    other = _torch_model()
    with torch.no_grad():
        other.module[0].weight.add_(1.0)
    keys.add(_run(other, data, tmp_path)[1].cache_key)
    keys.add(_run(model, data, tmp_path, n_models=2)[1].cache_key)
    keys.add(_run(model, data, tmp_path, population_size=5)[1].cache_key)
    assert len(keys) == 6


def test_deterministic_under_the_seed(tmp_path):
    data = _tabular()
    _, a = _run(_torch_model(), data, tmp_path / "a")
    _, b = _run(_torch_model(), data, tmp_path / "b")
    _, c = _run(_torch_model(), data, tmp_path / "c", seed=3)
    np.testing.assert_array_equal(a.included, b.included)
    np.testing.assert_allclose(a.proba, b.proba, rtol=0, atol=1e-7)
    assert not np.array_equal(a.included, c.included)


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_parallel_workers_give_the_models_of_the_serial_run(tmp_path, dropout):
    """Thread workers: same assignment, same seeds, same models (dropout included)."""
    data = _tabular()
    _, serial = _run(_torch_model(dropout=dropout), data, tmp_path / "s", workers=1)
    _, parallel = _run(_torch_model(dropout=dropout), data, tmp_path / "p", workers=2)
    np.testing.assert_array_equal(serial.included, parallel.included)
    np.testing.assert_allclose(serial.proba, parallel.proba, atol=1e-6)


def test_sklearn_models_refit_through_clone(tmp_path):
    data = _tabular()
    estimator = LogisticRegression().fit(data.train.X, data.train.y)
    sample, out = _run(wrap_model(estimator), data, tmp_path, n_models=2)
    assert "sklearn.base.clone(LogisticRegression)" in out.description
    # Model j is LogisticRegression fitted on its half: check one against a direct fit.
    pool_X = np.concatenate([sample.X, data.X[out.population_index]])
    pool_y = np.concatenate([sample.y, data.y[out.population_index]])
    # Recover model 0's half: the sample part is `included`, the population part is not
    # returned, so refit on sample members of model 0 only when the population is empty.
    sample2, out2 = _run(wrap_model(estimator), data, tmp_path / "nopop", n_models=2,
                         population_size=0)
    direct = LogisticRegression().fit(sample2.X[out2.included[0]], sample2.y[out2.included[0]])
    np.testing.assert_allclose(out2.proba[0], direct.predict_proba(sample2.X), atol=1e-8)
    assert pool_X.shape[0] == pool_y.shape[0] == len(sample.X) + len(out.population_index)


def test_a_clone_missing_a_class_gets_zero_probability_there(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = np.r_[np.zeros(30, int), np.ones(31, int), np.full(3, 2)]  # class 2 is rare
    data = AuditData(X[32:], y[32:], train=(X[:32], y[:32]))
    estimator = LogisticRegression().fit(X, y)
    sample, out = _run(wrap_model(estimator), data, tmp_path, n_models=8, population_size=0)
    assert out.proba.shape[-1] == 3
    np.testing.assert_allclose(out.proba.sum(-1), 1.0, atol=1e-8)


def test_torch_without_train_fn_says_what_to_pass():
    model = _torch_model(train_fn=None)
    reason = reference_unavailable_reason(model)
    assert reason.startswith("LiRA and RMIA need reference models")
    assert "wrap_model(module, train_fn=fn)" in reason
    assert reference_unavailable_reason(_torch_model()) is None


def test_black_box_cannot_be_refitted(black_box):
    reason = reference_unavailable_reason(wrap_model(black_box))
    assert reason is not None and "cannot be refitted" in reason


def test_adapter_with_train_fn_pickles_for_process_workers():
    model = _torch_model()
    clone = pickle.loads(pickle.dumps(model))
    assert clone.train_fn is counting_train_fn


@pytest.mark.parametrize("n_models", [0, 1, 3, 2.0, True])
def test_bad_n_models_names_the_parameter(tmp_path, n_models):
    data = _tabular()
    with pytest.raises(AuditkitError, match="'n_models' parameter must be an even integer"):
        _run(_torch_model(), data, tmp_path, n_models=n_models)


def test_bad_population_size_names_the_parameter(tmp_path):
    with pytest.raises(AuditkitError, match="'population_size' parameter must be an integer"):
        _run(_torch_model(), _tabular(), tmp_path, population_size=-1)


def test_reference_models_train_on_the_targets_training_size(tmp_path):
    """20 training rows, 60 candidates (20 members, 30 non-members, 10 population): each
    reference model trains on 20, a pool of 40 drawn from the scored records, members and
    non-members in proportion (16 and 24); the 10 others are in no model."""
    data = _tabular(n_train=20, n_test=80)
    CALLS["sizes"] = []
    sample, out = _run(_torch_model(), data, tmp_path, n_models=4, population_size=10)
    assert len(sample.X) == 50 and sample.n_members == 20
    assert out.train_size == 20 and CALLS["sizes"] == [20, 20, 20, 20]
    per_record = out.included.sum(axis=0)
    assert sorted(set(per_record.tolist())) == [0, 2] and (per_record == 2).sum() == 40
    assert (per_record[sample.member] == 2).sum() == 16
    assert not out.population_included.any() and out.population_proba.shape == (4, 10, 2)
    assert "on 20 records (as many as the audited model was trained on)" in out.description
    assert "16 of the 20 scored members, 24 of the 30 scored non-members, 0 of 10" \
        in out.description
    # Every candidate is scored by every model, in the pool or not.
    np.testing.assert_allclose(out.proba.sum(-1), 1.0, atol=1e-6)


def test_explicit_reference_train_size_and_its_cap(tmp_path):
    data = _tabular(n_train=20, n_test=80)
    CALLS["sizes"] = []
    sample, out = _run(_torch_model(), data, tmp_path, n_models=2, train_size=8)
    assert out.train_size == 8 and CALLS["sizes"] == [8, 8]
    assert out.included.sum() == 16 and "(as asked)" in out.description
    _, capped = _run(_torch_model(), data, tmp_path, n_models=2, train_size=1000)
    # 60 candidates: half of them, every candidate in exactly one of the two models
    assert capped.train_size == 30 and (capped.included.sum(axis=0) == 1).all()
    assert capped.population_included.sum(axis=0).tolist() == [1] * 10
    assert "fewer than the 1,000 asked: at most half of 60 candidates" in capped.description
    covers = json.loads((tmp_path / "privacy-reference" / f"{capped.cache_key}.json")
                        .read_text())["covers"]
    assert covers["train_size"] == 30 and out.cache_key != capped.cache_key


def test_bad_train_size_names_the_parameter(tmp_path):
    with pytest.raises(AuditkitError, match="'train_size' parameter must be None or an integer"):
        _run(_torch_model(), _tabular(), tmp_path, train_size=0)
