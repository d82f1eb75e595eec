"""Zoo models mnist-cnn and mnist-cnn-robust: shipped checkpoints, data, robustness, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from auditkit import AuditData, zoo

NAMES = ("mnist-cnn", "mnist-cnn-robust")
BARS = {"mnist-cnn": 0.96, "mnist-cnn-robust": 0.90}


@pytest.fixture(scope="module", params=NAMES)
def shipped(request):
    model, data, card = zoo.load_with_card(request.param)
    return request.param, model, data, card


@pytest.fixture(scope="module")
def pair():
    plain, data, plain_card = zoo.load_with_card("mnist-cnn")
    robust, _, robust_card = zoo.load_with_card("mnist-cnn-robust")
    return data, (plain, plain_card), (robust, robust_card)


def _tensor(array):
    return torch.from_numpy(np.array(array))  # AuditData arrays are read-only


def _accuracy(model, X, y):
    with torch.inference_mode():
        logits = model(_tensor(X))
    assert logits.shape == (len(X), 10)
    return float((logits.argmax(1).numpy() == y).mean())


def _pgd_accuracy(model, X, y, *, eps, steps, seed=0):
    """A minimal L-inf PGD (one random start), written apart from the zoo's own."""
    x, y = _tensor(X), _tensor(y)
    generator = torch.Generator().manual_seed(seed)
    step_size = 2.5 * eps / steps
    adv = (x + (torch.rand(x.shape, generator=generator) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(adv), y), adv)
        adv = torch.min(torch.max(adv.detach() + step_size * grad.sign(), x - eps), x + eps)
        adv = adv.clamp(0, 1)
    assert float((adv - x).abs().max()) <= eps + 1e-6
    with torch.inference_mode():
        return float((model(adv).argmax(1) == y).float().mean())


def test_shipped_checkpoint_reproduces_card_accuracy(shipped):
    name, model, data, card = shipped
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    assert model.model_card is card
    measured = _accuracy(model, data.X, data.y)
    assert measured == pytest.approx(card["metrics"]["test_accuracy"], abs=0.005)
    assert measured >= BARS[name]
    assert card["checkpoint"]["size_bytes"] <= 2_000_000
    assert card["training"]["device"]


def test_audit_data_is_well_formed(shipped):
    _, _, data, _ = shipped
    assert isinstance(data, AuditData)
    assert data.modality == "image"
    assert data.X.shape == (1000, 1, 28, 28) and data.X.dtype == np.float32
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(data.y), np.full(10, 100))
    assert data.train.X.shape == (4000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(data.train.y), np.full(10, 400))
    assert data.reference.shape == (1000, 1, 28, 28)
    assert set(data.ood) == {"fashion-mnist"}
    fashion = data.ood["fashion-mnist"]
    assert fashion.shape == (2000, 1, 28, 28) and fashion.dtype == np.float32
    assert 0.0 <= fashion.min() and fashion.max() <= 1.0
    # Scaled exactly like the digits (pixel / 255), so a detector cannot win on scale alone.
    images, _ = zoo.load_fashion_mnist_subset()
    np.testing.assert_array_equal(fashion[:, 0], images.astype(np.float32) / 255.0)
    assert data.ood_kinds == {"fashion-mnist": "far"}
    assert data.ood_texts is None
    assert data.sensitive is None
    assert data.class_names == tuple(str(d) for d in range(10))
    # The audit split must not leak into the members.
    members = {row.tobytes() for row in data.train.X.reshape(4000, -1)}
    assert not any(row.tobytes() in members for row in data.X.reshape(1000, -1))


def test_cards_document_the_defect_and_its_fix(pair):
    _, (_, plain_card), (_, robust_card) = pair
    defect = plain_card["planted_defect"]
    assert defect["description"].startswith("not adversarially robust: PGD at eps 0.1")
    assert defect["fixed_by"] == "mnist-cnn-robust"
    assert robust_card["planted_defect"] is None
    assert robust_card["fix"]["fix_of"] == "mnist-cnn"
    assert robust_card["training"]["adversarial_training"]["steps"] >= 7
    for eps in (0.1, 0.2):
        key = f"robust_accuracy_pgd_eps_{eps}"
        assert robust_card["metrics"][key] >= plain_card["metrics"][key] + 0.3
    assert robust_card["robustness_evaluation"]["images"] == 1000
    assert robust_card["robustness_evaluation"]["steps"] == 40


def test_robust_model_resists_pgd_that_breaks_mnist_cnn(pair):
    data, (plain, _), (robust, _) = pair
    X, y = data.X[:200], data.y[:200]
    plain_accuracy = _pgd_accuracy(plain, X, y, eps=0.1, steps=10)
    robust_accuracy = _pgd_accuracy(robust, X, y, eps=0.1, steps=10)
    assert plain_accuracy < 0.6
    assert robust_accuracy > 0.8
    assert robust_accuracy >= plain_accuracy + 0.3


def test_training_smoke_loss_decreases(tmp_path):
    from auditkit.zoo import mnist_cnn

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        card = mnist_cnn.train("mnist-cnn", device=torch.device("cpu"), directory=tmp_path,
                               max_steps=30)
    finally:
        torch.set_num_threads(torch_threads)
    losses = card["training"]["loss_every_10_steps"]
    assert card["training"]["steps"] == 30 and len(losses) == 3
    assert losses[-1] < losses[0] - 0.3
    assert card["training"]["device"] == "cpu"
    assert (tmp_path / "mnist-cnn.safetensors").is_file()
    model, data, loaded = mnist_cnn.load("mnist-cnn", tmp_path)
    assert loaded["checkpoint"]["sha256"] == card["checkpoint"]["sha256"]
    assert model(_tensor(data.X[:4])).shape == (4, 10)


def test_training_smoke_adversarial(tmp_path):
    from auditkit.zoo import mnist_cnn

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        card = mnist_cnn.train("mnist-cnn-robust", device=torch.device("cpu"),
                               directory=tmp_path, max_steps=3)
    finally:
        torch.set_num_threads(torch_threads)
    assert card["training"]["steps"] == 3
    assert card["training"]["adversarial_training"]["eps"] > 0
    assert np.isfinite(card["training"]["loss_every_10_steps"]).all()
    assert (tmp_path / "mnist-cnn-robust.json").is_file()
