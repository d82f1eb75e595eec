"""Running attacks for the robustness checks: samples, chunks, caching, summaries.

The gradient and score-based attacks of :mod:`._attacks` run here on the
audited samples: a seeded subset (nested, so a smaller subset is part of a
larger one and checks with different ``n_samples`` stay comparable), in chunks
of the model's batch size handed to the context's executor, with the model in
eval mode and its parameters frozen. An attack travels to the workers as an
:class:`AttackSpec` (its name and parameters), which the module-level unit
function interprets on each chunk, so a unit carries only row indices and a
seed. Runs are shared in the context (``"robustness.attack_run"``) under their
parameters, so that the gradient-masking check reuses what the attack checks
already computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...exceptions import BAD_VALUE, CheckError
from ...inputs import AuditData, ModelAdapter
from ...results import Figure, Metric
from .._base import Check, CheckContext, map_units
from .._params import BAD_OPTION, Interval
from ._attacks import Domain, apgd, deepfool, fgsm, pgd, square_linf
from ._common import group_robustness_table, proportion

__all__ = [
    "AttackCheck",
    "AttackRun",
    "AttackSpec",
    "L2_BUDGET",
    "LINF_BUDGET",
    "Prepared",
    "WHITE_BOX_MODALITIES",
    "attack_examples",
    "check_epsilons",
    "accuracy_metric",
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
        if "predict" not in model.capabilities:  # not a classifier: that reason comes first
            return super().skip_reason(model, data)
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


#: An L-inf budget, as a fraction of each value's valid range.
LINF_BUDGET = Interval(Real, 0, 1, closed="right")
#: An L2 budget, in units of the valid range.
L2_BUDGET = Interval(Real, 0, None, closed="neither")


def check_epsilons(check: Check, epsilons: Sequence[float], epsilon: float) -> None:
    """Raise a CheckError unless ``epsilons`` increase and contain ``epsilon``.

    For a check's :meth:`~auditkit.checks.Check.validate_options`, once each
    option is valid on its own.
    """
    if any(a >= b for a, b in zip(epsilons, epsilons[1:], strict=False)):
        raise CheckError(BAD_OPTION.format(option="epsilons", check=check.name,
                                           expected="an increasing sequence of budgets",
                                           got=repr(epsilons)))
    if epsilon not in epsilons:
        raise CheckError(BAD_OPTION.format(option="epsilon", check=check.name,
                                           expected=f"one of epsilons {list(epsilons)}",
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


@dataclass(frozen=True)
class AttackSpec:
    """An attack by name and parameters, which a worker interprets on a chunk of samples.

    A spec is small, hashable and sent to a worker as it is; the attack
    functions of :mod:`._attacks` stay on the worker's side.

    Parameters
    ----------
    name : {"pgd", "apgd", "fgsm", "square", "deepfool"}
    parameters : tuple of (str, object)
        Keyword arguments of the attack (sorted by name; see :meth:`of`).
    """

    name: str
    parameters: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, **parameters: Any) -> AttackSpec:
        """The spec of attack ``name`` with keyword ``parameters``."""
        if name not in _ATTACK_NAMES:
            raise CheckError(BAD_VALUE.format(param="name", expected=f"one of {_ATTACK_NAMES}",
                                              got=repr(name)))
        return cls(name, tuple(sorted(parameters.items())))

    @property
    def gradients(self) -> bool:
        """Whether the attack differentiates the model (Square needs only probabilities)."""
        return self.name != "square"

    @property
    def options(self) -> dict[str, Any]:
        """The parameters as keyword arguments."""
        return dict(self.parameters)


_ATTACK_NAMES = ("pgd", "apgd", "fgsm", "square", "deepfool")


@dataclass(frozen=True)
class _AttackInputs:
    """What every chunk of one attack run needs (sent once per worker)."""

    model: ModelAdapter
    spec: AttackSpec
    domain: Domain
    u: torch.Tensor
    y: torch.Tensor
    targets: torch.Tensor | None
    seed: int


def run_attack(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
               key: tuple[Any, ...], spec: AttackSpec, among: np.ndarray | None = None,
               targets: torch.Tensor | None = None, description: str) -> AttackRun:
    """Run ``spec`` on the correctly classified selected samples, in chunks; cached by ``key``.

    Parameters
    ----------
    model : ModelAdapter
        A model with gradients when ``spec.gradients``; any classifier otherwise.
    prepared : Prepared
    context : CheckContext
    key : tuple
        The attack's name and parameters (the cache key and the seed's name).
    spec : AttackSpec
        The attack and its parameters, interpreted on each chunk by a worker.
    among : ndarray of bool, optional
        Attack only where True (and correct), e.g. the survivors of another attack.
    targets : Tensor of int64, optional
        A target class per selected sample (targeted PGD).
    description : str
        Progress bar label.

    Returns
    -------
    AttackRun
    """
    return context.shared(
        "robustness.attack_run", (id(model), prepared.n, key),
        lambda: _run_attack(model, prepared, context, key=key, spec=spec, among=among,
                            targets=targets, description=description))


def _run_attack(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
                key: tuple[Any, ...], spec: AttackSpec, among: np.ndarray | None,
                targets: torch.Tensor | None, description: str) -> AttackRun:
    target = prepared.correct if among is None else prepared.correct & among
    rows = np.flatnonzero(target)
    size = max(1, int(model.batch_size))
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    inputs = _AttackInputs(model, spec, prepared.domain, prepared.u, prepared.y, targets,
                           _seed(context, repr(key)))
    with model.evaluating(), model.frozen():  # once for all chunks
        outcomes = map_units(context, _attack_chunk, list(enumerate(chunks)),
                             description=description, shared=inputs,
                             sizes=[len(chunk) for chunk in chunks], unit="sample")
    adversarial = prepared.u.clone()
    success = np.zeros(prepared.n, dtype=bool)
    queries = np.zeros(prepared.n, dtype=np.int64)
    for chunk, (adv, ok, spent) in zip(chunks, outcomes, strict=True):
        adversarial[torch.from_numpy(chunk)] = adv
        success[chunk] = ok.numpy()
        queries[chunk] = spent.numpy()
    return AttackRun(prepared.correct & ~success, success, adversarial, queries)


def _attack_chunk(inputs: _AttackInputs, unit: tuple[int, np.ndarray]
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One unit of work: the attack of ``inputs.spec`` on one chunk of the selected samples."""
    number, rows = unit
    device = torch.device(inputs.model.device)
    chunk = torch.from_numpy(rows)
    generator = torch.Generator().manual_seed(inputs.seed + number)
    u, y = inputs.u[chunk].to(device), inputs.y[chunk].to(device)
    function = _model_function(inputs.model, inputs.domain, gradients=inputs.spec.gradients)
    options, domain = inputs.spec.options, inputs.domain
    if inputs.spec.name == "pgd":
        goal = None if inputs.targets is None else inputs.targets[chunk].to(device)
        eps = options.pop("eps")
        outcome = pgd(function, u, y, eps, domain=domain, target=goal, generator=generator,
                      **options)
    elif inputs.spec.name == "apgd":
        outcome = apgd(function, u, y, options.pop("eps"), domain=domain, generator=generator,
                       **options)
    elif inputs.spec.name == "fgsm":
        outcome = fgsm(function, u, y, options.pop("eps"), domain=domain, **options)
    elif inputs.spec.name == "square":
        outcome = square_linf(function, u, y, options.pop("eps"), domain=domain,
                              generator=generator, **options)
    else:
        outcome = deepfool(function, u, y, domain=domain, **options)
    return outcome.adversarial.cpu(), outcome.success.cpu(), outcome.queries.cpu()


def _model_function(model: ModelAdapter, domain: Domain, *,
                    gradients: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """Unit-space inputs to logits (``gradients``) or to probabilities, on the model's device."""
    if gradients:
        def function(u: torch.Tensor) -> torch.Tensor:
            return model.logits_tensor(domain.from_unit(u))
    elif "gradients" in model.capabilities:  # a torch model: softmax of its logits, on device
        def function(u: torch.Tensor) -> torch.Tensor:
            return torch.softmax(model.logits_tensor(domain.from_unit(u)), dim=1)
    else:
        def function(u: torch.Tensor) -> torch.Tensor:
            x = domain.from_unit(u).detach().cpu().numpy()
            return torch.from_numpy(np.asarray(model.predict_proba(x), dtype=np.float32)).to(u)
    return function


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
