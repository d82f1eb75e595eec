"""vowels-gru: the shipped checkpoint, its padded-and-masked input format, and its recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditkit import zoo
from auditkit.inputs import wrap_model

NAME = "vowels-gru"
MASK = 12


@pytest.fixture(scope="module")
def shipped():
    """The shipped model, its AuditData and its card."""
    return zoo.load_with_card(NAME)


def _logits(model: torch.nn.Module, X: np.ndarray) -> torch.Tensor:
    with torch.inference_mode():
        return model(torch.tensor(X))


def test_shipped_checkpoint_reproduces_card_accuracy(shipped):
    model, data, card = shipped
    measured = float((_logits(model, data.X).argmax(1).numpy() == data.y).mean())
    assert measured == pytest.approx(card["metrics"]["test_accuracy"], abs=0.005)
    assert measured >= 0.90
    assert card["training"]["device"] and card["training"]["duration_s"] > 0
    assert card["checkpoint"]["size_bytes"] <= 1_000_000


def test_audit_data_is_padded_and_masked(shipped):
    _, data, card = shipped
    x_train, y_train, x_test, y_test = zoo.load_japanese_vowels()
    assert data.modality == "sequence"
    assert data.X.shape == (370, 29, 13) and data.X.dtype == np.float32
    assert data.train.X.shape == (270, 29, 13)
    np.testing.assert_array_equal(data.y, y_test)
    np.testing.assert_array_equal(data.train.y, y_train)
    np.testing.assert_array_equal(data.reference, data.train.X)
    assert data.class_names == tuple(f"speaker {i}" for i in range(1, 10))
    assert not data.ood
    for X, series in ((data.X, x_test), (data.train.X, x_train)):
        lengths = np.array([len(s) for s in series])
        real = np.arange(29)[None, :] < lengths[:, None]
        np.testing.assert_array_equal(X[..., MASK], real.astype(np.float32))
        assert not X[~real].any()  # padding frames are zeros in every channel
    # The channels are the raw coefficients standardised with the card's statistics.
    mean = np.asarray(card["preprocessing"]["mean"])
    std = np.asarray(card["preprocessing"]["std"])
    np.testing.assert_allclose(data.X[0, :len(x_test[0]), :MASK], (x_test[0] - mean) / std,
                               rtol=1e-5, atol=1e-5)
    frames = data.train.X[data.train.X[..., MASK] == 1][:, :MASK]
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(frames.std(0), 1, atol=1e-4)


def test_padding_beyond_the_mask_does_not_change_logits(shipped):
    model, data, _ = shipped
    X = data.X[:64]
    reference = _logits(model, X)
    longer = np.concatenate([X, np.zeros((len(X), 11, 13), np.float32)], axis=1)
    np.testing.assert_allclose(_logits(model, longer), reference, atol=1e-5)
    trimmed = X[:, :int(X[..., MASK].sum(1).max())]
    np.testing.assert_allclose(_logits(model, trimmed), reference, atol=1e-5)
    # One utterance alone, with no padding at all.
    length = int(X[0, :, MASK].sum())
    np.testing.assert_allclose(_logits(model, X[:1, :length]), reference[:1], atol=1e-5)
    # Padding values are never read: garbage there (mask still 0) changes nothing.
    noisy = X.copy()
    padding = noisy[..., MASK] == 0
    noisy[padding, :MASK] = np.random.default_rng(0).normal(size=(int(padding.sum()), MASK))
    np.testing.assert_allclose(_logits(model, noisy), reference, atol=1e-5)


def test_all_padding_sequence_does_not_crash(shipped):
    model, _, _ = shipped
    logits = _logits(model, np.zeros((3, 29, 13), np.float32))
    assert logits.shape == (3, 9) and torch.isfinite(logits).all()


def test_input_gradients_in_eval_mode_skip_padding(shipped):
    model, data, _ = shipped
    adapter = wrap_model(model, device="cpu", classes=list(range(9)))
    gradient = adapter.input_gradient(data.X[:8], data.y[:8])
    real = data.X[:8, :, MASK] == 1
    assert gradient.shape == (8, 29, 13)
    assert np.abs(gradient[real][:, :MASK]).sum() > 0
    assert not gradient[~real].any()
    assert not gradient[..., MASK].any()
    assert adapter.features(data.X[:8]).shape == (8, 64)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_eval_mode_backward_works_on_cuda(shipped):
    model, data, _ = shipped
    model = model.cuda().eval()
    try:
        x = torch.as_tensor(data.X[:8]).cuda().requires_grad_()
        torch.nn.functional.cross_entropy(model(x), torch.as_tensor(data.y[:8]).cuda()).backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
    finally:
        model.cpu()


def test_training_smoke_loss_decreases(tmp_path):
    from auditkit.zoo import vowels_gru

    card = vowels_gru.train(NAME, device=torch.device("cpu"), directory=tmp_path, max_steps=27)
    history = card["training"]["loss_history"]
    assert card["training"]["steps"] == 27 and len(history) == 3
    assert history[-1] < history[0]
    assert (tmp_path / f"{NAME}.safetensors").is_file()
    model, data, reloaded = zoo.load_with_card(NAME, directory=tmp_path)
    assert reloaded["checkpoint"]["sha256"] == card["checkpoint"]["sha256"]
    assert _logits(model, data.X[:4]).shape == (4, 9)
