"""The training loop the zoo's classifiers share: seeded, batched, on any device."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["Recipe", "fit_classifier", "predict_logits", "private_torch_seed"]


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of a training run."""

    epochs: int
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0


@contextlib.contextmanager
def private_torch_seed(seed: int) -> Iterator[None]:
    """Seed torch's global CPU generator (dropout) for a block, restoring it afterwards.

    The zoo's ``train_fn`` functions (``module.train_fn``, which the adapter's
    ``fit_clone`` calls to train reference models) train under it, so a refit
    depends on its ``random_state`` only and leaves the caller's generator as
    it was. The generator is process-wide: refits running at once on threads
    share it, so models with dropout are bit-reproducible only when trained one
    at a time (or in separate processes).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def predict_logits(module: nn.Module, X: torch.Tensor, device: torch.device,
                   batch_size: int = 2048) -> torch.Tensor:
    """Logits of X in eval mode, on the CPU."""
    module.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            out.append(module(X[start:start + batch_size].to(device)).float().cpu())
    return torch.cat(out)


def fit_classifier(module: nn.Module, X: torch.Tensor, y: torch.Tensor, recipe: Recipe, *,
                   device: torch.device, loss_fn: Callable[[torch.Tensor, torch.Tensor],
                                                           torch.Tensor],
                   max_steps: int | None = None) -> dict[str, object]:
    """Train ``module`` with Adam; return the loss history and the duration.

    Parameters
    ----------
    module : nn.Module
    X, y : torch.Tensor
        Training inputs and targets (on the CPU; batches move to ``device``).
    recipe : Recipe
    device : torch.device
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar``.
    max_steps : int, optional
        Stop after this many optimiser steps (smoke tests).
    """
    generator = torch.Generator().manual_seed(recipe.seed)
    module.to(device).train()
    optimiser = torch.optim.Adam(module.parameters(), lr=recipe.lr,
                                 weight_decay=recipe.weight_decay)
    started = time.perf_counter()
    history, steps = [], 0
    for _ in range(recipe.epochs):
        order = torch.randperm(len(X), generator=generator)
        running, batches = 0.0, 0
        for start in range(0, len(X), recipe.batch_size):
            index = order[start:start + recipe.batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(module(X[index].to(device)), y[index].to(device))
            loss.backward()
            optimiser.step()
            running += float(loss.detach())
            batches += 1
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        history.append(running / max(batches, 1))
        if max_steps is not None and steps >= max_steps:
            break
    module.eval()
    return {"loss_history": [round(v, 6) for v in history], "steps": steps,
            "duration_s": round(time.perf_counter() - started, 2)}


def accuracy(logits: torch.Tensor, y: np.ndarray) -> float:
    """Accuracy of logits (one column: sigmoid; several: argmax)."""
    predicted = (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)
    return float((predicted.numpy() == y).mean())
