"""Running attacks for the robustness checks: samples, chunks, caching, summaries.

The gradient and score-based attacks of :mod:`._attacks` run here on the
audited samples: a seeded subset (nested, so a smaller subset is part of a
larger one and checks with different ``n_samples`` stay comparable), in chunks
of the model's batch size handed to the context's executor, with the model in
eval mode and its parameters frozen. Runs are cached in the context under
their parameters, so that the gradient-masking check reuses what the attack
checks already computed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...exceptions import BAD_VALUE, CheckError
from ...inputs import AuditData, ModelAdapter
from ...results import Figure, Metric
from .._base import Check, CheckContext, map_units
from ._attacks import AttackOutcome, Domain, frozen_parameters
from ._common import group_robustness_table, proportion

__all__ = [
    "AttackCheck",
    "AttackRun",
    "Prepared",
    "WHITE_BOX_MODALITIES",
    "attack_examples",
    "check_epsilons",
    "curve_figure",
    "group_tables",
    "prepare",
    "run_attack",
]

#: Modalities whose inputs gradient attacks may move continuously (token ids and
#: one-hot tabular rows have their own attacks).
WHITE_BOX_MODALITIES = ("image", "sequence")
WHITE_BOX_SKIP = ("{kind} move inputs continuously; {modality} inputs are attacked by {other}, "
                  "which keeps them valid.")
OTHER_ATTACK = {"tabular": "robustness_tabular", "text": "robustness_text"}


@dataclass(frozen=True)
class Prepared:
    """The attacked samples of one audit: their unit-space inputs and clean predictions.

    Parameters
    ----------
    indices : ndarray of int
        Positions in ``data.X`` of the selected samples.
    u : Tensor
        Their inputs in unit space, on the CPU.
    y : Tensor of int64
        Their labels as class indices.
    correct : ndarray of bool
        Whether the model classifies each one correctly (only these are attacked).
    domain : Domain
        On the model's device.
    """

    indices: np.ndarray
    u: torch.Tensor
    y: torch.Tensor
    correct: np.ndarray
    domain: Domain

    @property
    def n(self) -> int:
        """Number of selected samples."""
        return len(self.indices)


class AttackCheck(Check):
    """Base of the checks that attack continuous inputs (images and sequences).

    Tabular rows and token ids have attacks of their own that keep them valid;
    these checks SKIP them and say which check to read instead.
    """

    family = "robustness"
    modalities = WHITE_BOX_MODALITIES
    #: How the SKIP reason names this check's kind of attack.
    attack_kind = "Gradient attacks"

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Tabular and text data are attacked by their own checks."""
        if data.modality in OTHER_ATTACK:
            return WHITE_BOX_SKIP.format(kind=self.attack_kind, modality=data.modality,
                                         other=OTHER_ATTACK[data.modality])
        return super().skip_reason(model, data)

    def nothing_to_attack(self) -> Any:
        """The SKIP result when no selected sample is classified correctly."""
        from ...results import Status

        return self.result(Status.SKIP, "The model classifies none of the selected samples "
                           "correctly, so there is nothing to attack.")


@dataclass(frozen=True)
class AttackRun:
    """What one attack did to every selected sample.

    ``robust`` is False for samples misclassified before the attack;
    ``adversarial`` holds unit-space inputs (the clean input where the sample
    was not attacked); ``queries`` counts model evaluations per sample.
    """

    robust: np.ndarray
    success: np.ndarray
    adversarial: torch.Tensor
    queries: np.ndarray


def check_epsilons(epsilons: Sequence[float], epsilon: float, *, norm: str) -> None:
    """Raise a CheckError unless ``epsilons`` are increasing positives containing ``epsilon``."""
    values = list(epsilons) if isinstance(epsilons, (tuple, list)) else None
    upper = 1.0 if norm == "linf" else float("inf")
    ok = values is not None and len(values) > 0 and all(
        isinstance(e, (int, float)) and not isinstance(e, bool) and 0 < e <= upper
        for e in values) and all(a < b for a, b in zip(values, values[1:], strict=False))
    if not ok:
        raise CheckError(BAD_VALUE.format(
            param="epsilons", expected=f"an increasing tuple of numbers in (0, {upper}]",
            got=repr(epsilons)))
    if epsilon not in values:  # type: ignore[operator]
        raise CheckError(BAD_VALUE.format(param="epsilon", expected=f"one of epsilons {values}",
                                          got=repr(epsilon)))


def prepare(model: ModelAdapter, data: AuditData, context: CheckContext,
            n_samples: int | None) -> Prepared:
    """Select the attacked samples (nested by ``n_samples``) and map them to unit space."""
    return context.shared("robustness.prepared", (id(model), n_samples),
                          lambda: _prepare(model, data, context, n_samples))


def _prepare(model: ModelAdapter, data: AuditData, context: CheckContext,
             n_samples: int | None) -> Prepared:
    order = context.rng("robustness-samples").permutation(data.n_samples)
    indices = np.sort(order[:n_samples] if n_samples is not None else order)
    proba = context.test_proba(model, data)[indices]
    labels = model.label_indices(data.y[indices])
    low, high = data.valid_bounds()
    device = torch.device(model.device)
    domain = Domain.from_arrays(low, high, data.mutable_mask(), device=device)
    cpu = Domain.from_arrays(low, high, data.mutable_mask())
    u = cpu.to_unit(torch.from_numpy(np.ascontiguousarray(data.X[indices], dtype=np.float32)))
    prepared = Prepared(indices, u.clamp(0.0, 1.0), torch.from_numpy(labels),
                        proba.argmax(1) == labels, domain)
    return prepared


def _seed(context: CheckContext, name: str) -> int:
    return int(context.rng(name).integers(2**62))


def run_attack(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
               key: tuple[Any, ...], attack: Callable[..., AttackOutcome],
               among: np.ndarray | None = None, description: str,
               gradients: bool = True) -> AttackRun:
    """Run ``attack`` on the correctly classified selected samples, in chunks; cached by ``key``.

    Parameters
    ----------
    model : ModelAdapter
        A TorchClassifier when ``gradients``; any classifier otherwise.
    prepared : Prepared
    context : CheckContext
    key : tuple
        The attack's name and parameters (the cache key and the seed's name).
    attack : callable
        ``attack(function, u, y, generator, rows) -> AttackOutcome`` on one
        chunk on the model's device; ``function`` maps unit-space inputs to
        logits (``gradients``) or to probabilities; ``rows`` are the chunk's
        positions among the selected samples.
    among : ndarray of bool, optional
        Attack only where True (and correct), e.g. the survivors of another attack.
    description : str
        Progress bar label.
    gradients : bool
        Whether the attack differentiates the model.
    """
    return context.shared(
        "robustness.attack_run", (id(model), prepared.n, key),
        lambda: _run_attack(model, prepared, context, key=key, attack=attack, among=among,
                            description=description, gradients=gradients))


def _run_attack(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
                key: tuple[Any, ...], attack: Callable[..., Any], among: np.ndarray | None, description: str,
                gradients: bool) -> AttackRun:
    target = prepared.correct if among is None else prepared.correct & among
    rows = np.flatnonzero(target)
    domain = prepared.domain
    device = torch.device(model.device)
    size = max(1, int(model.batch_size))
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    seed = _seed(context, repr(key))

    if gradients:
        def function(u: torch.Tensor) -> torch.Tensor:
            return model.forward_logits(domain.from_unit(u))  # type: ignore[attr-defined]
    elif "logits" in model.capabilities and hasattr(model, "forward_logits"):
        def function(u: torch.Tensor) -> torch.Tensor:
            return torch.softmax(model.forward_logits(domain.from_unit(u)), dim=1)  # type: ignore[attr-defined]
    else:
        def function(u: torch.Tensor) -> torch.Tensor:
            x = domain.from_unit(u).detach().cpu().numpy()
            return torch.from_numpy(np.asarray(model.predict_proba(x), dtype=np.float32)).to(u)

    def unit(_: None, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        chunk = torch.from_numpy(chunks[i])
        generator = torch.Generator().manual_seed(seed + i)
        outcome = attack(function, prepared.u[chunk].to(device), prepared.y[chunk].to(device),
                         generator, chunk)
        return outcome.adversarial.cpu(), outcome.success.cpu(), outcome.queries.cpu()

    with _torch_scope(model):
        outcomes = map_units(context, unit, range(len(chunks)), description=description)
    adversarial = prepared.u.clone()
    success = np.zeros(prepared.n, dtype=bool)
    queries = np.zeros(prepared.n, dtype=np.int64)
    for chunk, (adv, ok, spent) in zip(chunks, outcomes, strict=True):
        adversarial[torch.from_numpy(chunk)] = adv
        success[chunk] = ok.numpy()
        queries[chunk] = spent.numpy()
    return AttackRun(prepared.correct & ~success, success, adversarial, queries)


@contextlib.contextmanager
def _torch_scope(model: ModelAdapter) -> Iterator[None]:
    """Eval mode and frozen parameters for a torch model, once for all chunks; else nothing."""
    module = getattr(model, "module", None)
    if module is None or not hasattr(model, "evaluating"):
        yield
        return
    with model.evaluating(), frozen_parameters(module):  # type: ignore[attr-defined]
        yield


def accuracy_metric(robust: np.ndarray, confidence: float) -> Metric:
    """Robust accuracy as a Metric with its Wilson interval."""
    return proportion(robust, confidence=confidence, higher_is_better=True)


def curve_figure(curves: dict[str, Sequence[float]], lowers: dict[str, Sequence[float]],
                 uppers: dict[str, Sequence[float]], epsilons: Sequence[float], *,
                 clean_accuracy: float, norm: str, reference: float, title: str) -> Figure:
    """Robust accuracy against epsilon, one curve per attack."""
    return Figure("robust_accuracy_curve", {
        "epsilons": np.asarray(epsilons, dtype=float), "attacks": list(curves),
        "accuracy": np.asarray([curves[a] for a in curves], dtype=float),
        "lower": np.asarray([lowers[a] for a in curves], dtype=float),
        "upper": np.asarray([uppers[a] for a in curves], dtype=float),
        "clean_accuracy": float(clean_accuracy), "norm": norm, "reference": float(reference)},
        title)


def group_tables(model: ModelAdapter, data: AuditData, prepared: Prepared, robust: np.ndarray,
                 *, confidence: float, min_group_size: int
                 ) -> tuple[dict[str, pd.DataFrame], dict[str, Metric]]:
    """Per-class and per-sensitive-group robust accuracy, and the largest gap between groups."""
    names = data.class_names or tuple(str(c) for c in model.classes_)
    tables = {"by_class": group_robustness_table(
        prepared.correct, robust, [names[i] if i < len(names) else str(i)
                                   for i in prepared.y.numpy()],
        min_group_size=min_group_size, confidence=confidence)}
    metrics: dict[str, Metric] = {}
    if data.sensitive is not None:
        frames, gaps = [], []
        for feature in data.sensitive.columns:
            table = group_robustness_table(prepared.correct, robust,
                                           data.sensitive[feature].to_numpy()[prepared.indices],
                                           min_group_size=min_group_size,
                                           confidence=confidence)
            table.insert(0, "feature", feature)
            frames.append(table)
            judged = table[~table["too_small"]]
            if len(judged) > 1:
                gaps.append(float(judged["robust_accuracy"].max()
                                  - judged["robust_accuracy"].min()))
        tables["by_group"] = pd.concat(frames, ignore_index=True)
        if gaps:
            metrics["group_robust_accuracy_gap"] = Metric(max(gaps), n=prepared.n,
                                                          higher_is_better=False)
    return tables, metrics


def attack_examples(prepared: Prepared, run: AttackRun, model: ModelAdapter, data: AuditData,
                    *, n: int = 4) -> Figure | None:
    """Original, adversarial and difference of up to ``n`` broken samples (unit space)."""
    broken = np.flatnonzero(run.success)[:n]
    if len(broken) == 0:
        return None
    clean = prepared.u[broken]
    adversarial = run.adversarial[broken]
    domain = prepared.domain
    proba = model.predict_proba(domain.from_unit(adversarial.to(domain.low.device)).cpu().numpy())
    names = data.class_names or tuple(str(c) for c in model.classes_)
    label = [names[i] for i in prepared.y[broken].numpy()]
    predicted = [names[i] for i in proba.argmax(1)]
    return Figure("adversarial_examples", {
        "original": _displayable(clean, data), "adversarial": _displayable(adversarial, data),
        "label": label, "predicted": predicted, "confidence": proba.max(1),
        "modality": data.modality}, "Adversarial examples (unit scale)")


def _displayable(u: torch.Tensor, data: AuditData) -> np.ndarray:
    """Arrays a report can show as images: (n, H, W) or (n, H, W, 3); sequences as (n, L, C)."""
    array = u.numpy().astype(np.float32)
    if data.modality == "image" and array.ndim == 4:
        if array.shape[1] == 1:
            return array[:, 0]
        if array.shape[1] == 3:
            return array.transpose(0, 2, 3, 1)
        return array.mean(axis=1)
    if array.ndim == 2:
        return array[:, :, None]
    return array
