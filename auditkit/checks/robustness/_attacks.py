"""Adversarial attacks on batches of inputs: FGSM, PGD, APGD, DeepFool and Square.

Every attack works in the *unit space* of a :class:`Domain`: an input ``x``
becomes ``u = (x - low) / (high - low)``, so the valid inputs are the unit cube,
an epsilon is a fraction of each value's range (a model that normalises its
inputs gets the same budget as one that does not), and values an adversary may
not change (``AuditData.mutable_features``) are masked out. The attacks:

- FGSM (Goodfellow et al. 2015): ``u + eps * sign(grad)``.
- PGD (Madry et al. 2018) under L-inf and L2, with a random start, restarts,
  and the cross-entropy or the margin loss of Carlini & Wagner (2017),
  untargeted or targeted. A sample leaves the attack at its first
  misclassified iterate, which is kept: robust accuracy counts a sample as
  broken as soon as any point of its eps-ball is misclassified, so keeping
  the first success is both stronger than returning the last iterate and
  cheaper (broken samples stop costing gradients).
- APGD (Croce & Hein 2020), L-inf and L2: PGD whose step size starts at
  ``2 * eps`` and halves at checkpoints where progress stalls, with momentum
  0.75 and restarts, on the cross-entropy or the Difference of Logits Ratio,
  untargeted or over the top target classes (APGD-T). With Square, the core of
  AutoAttack, the field's standard measure of robust accuracy.
- DeepFool (Moosavi-Dezfooli et al. 2016), L2: the smallest perturbation that
  flips a prediction, found by linearising the decision boundaries.
- Square (Andriushchenko et al. 2020), L-inf, score-based: random square
  updates at the vertices of the eps-ball, accepted when the margin of the
  predicted probabilities falls; it needs only ``predict_proba``.

Random draws come from a CPU :class:`torch.Generator` and move to the model's
device, so a CUDA run starts from the same points as a CPU run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "AttackOutcome",
    "Domain",
    "apgd",
    "apgd_checkpoints",
    "deepfool",
    "dlr_loss",
    "fgsm",
    "frozen_parameters",
    "pgd",
    "square_linf",
]

LogitFunction = Callable[[torch.Tensor], torch.Tensor]
ProbaFunction = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Domain:
    """The valid inputs as a box, and which values may change.

    Parameters
    ----------
    low, high : Tensor
        Bounds broadcastable to one sample's shape.
    mask : Tensor
        1.0 where a value may be perturbed, 0.0 where it is fixed (values with
        ``low == high`` are fixed too); broadcastable to one sample's shape.
    """

    low: torch.Tensor
    high: torch.Tensor
    mask: torch.Tensor

    @classmethod
    def from_arrays(cls, low: np.ndarray, high: np.ndarray, mutable: np.ndarray | None = None,
                    *, device: torch.device | str = "cpu") -> Domain:
        """A domain from bounds and a mutability mask of one sample's shape."""
        low_t = torch.as_tensor(np.asarray(low, dtype=np.float32), device=device)
        high_t = torch.as_tensor(np.asarray(high, dtype=np.float32), device=device)
        fixed = high_t <= low_t
        mask = torch.ones_like(low_t) if mutable is None else \
            torch.as_tensor(np.asarray(mutable, dtype=np.float32), device=device)
        mask = torch.where(fixed, torch.zeros_like(mask), mask)
        return cls(low_t, torch.where(fixed, low_t + 1.0, high_t), mask)

    @property
    def scale(self) -> torch.Tensor:
        """``high - low``: one unit of epsilon in input units."""
        return self.high - self.low

    @property
    def is_unit(self) -> bool:
        """Whether the inputs already are the unit space (no affine map needed)."""
        return bool((self.low == 0).all() and (self.high == 1).all())

    @property
    def all_mutable(self) -> bool:
        """Whether every value may change."""
        return bool((self.mask == 1).all())

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs -> unit space."""
        return x if self.is_unit else (x - self.low) / self.scale

    def from_unit(self, u: torch.Tensor) -> torch.Tensor:
        """Unit space -> inputs."""
        return u if self.is_unit else self.low + u * self.scale

    def masked(self, delta: torch.Tensor) -> torch.Tensor:
        """``delta`` with the fixed values zeroed."""
        return delta if self.all_mutable else delta * self.mask


@dataclass(frozen=True)
class AttackOutcome:
    """What an attack found for a batch, in unit space.

    Parameters
    ----------
    adversarial : Tensor
        The first successful iterate of each sample, or its last iterate
        where the attack failed.
    success : Tensor of bool
        Whether the sample's prediction was changed (untargeted) or moved to
        its target (targeted).
    queries : Tensor of int64
        Model evaluations spent on each sample (forward passes; gradients
        count once per forward pass).
    """

    adversarial: torch.Tensor
    success: torch.Tensor
    queries: torch.Tensor


@contextlib.contextmanager
def frozen_parameters(module: torch.nn.Module) -> Iterator[None]:
    """Switch off gradients of the parameters while attacking the inputs.

    Backward passes then skip the weight gradients, which roughly halves
    their cost; each parameter's flag is restored afterwards.
    """
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm, shaped to broadcast against ``t``."""
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.ndim - 1)))


def _fooled(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    pred = logits.argmax(1)
    return pred == target if target is not None else pred != y


def attack_loss(logits: torch.Tensor, y: torch.Tensor, *, loss: str,
                target: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample objective that the attack *ascends*.

    ``"ce"``: the cross-entropy of the true class (untargeted) or minus that of
    the target class (targeted). ``"margin"`` (Carlini & Wagner 2017): the best
    other logit minus the true logit (untargeted), or the target logit minus
    the best other logit (targeted).
    """
    if loss == "ce":
        if target is None:
            return F.cross_entropy(logits, y, reduction="none")
        return -F.cross_entropy(logits, target, reduction="none")
    reference = y if target is None else target
    true = logits.gather(1, reference[:, None])[:, 0]
    others = logits.scatter(1, reference[:, None], float("-inf")).amax(1)
    return others - true if target is None else true - others


def _random_start(u: torch.Tensor, eps: float, norm: str, domain: Domain,
                  generator: torch.Generator) -> torch.Tensor:
    if norm == "linf":
        noise = (torch.rand(u.shape, generator=generator) * 2 - 1) * eps
    else:
        noise = torch.randn(u.shape, generator=generator)
        radius = torch.rand((len(u),) + (1,) * (u.ndim - 1), generator=generator) * eps
        noise = noise / _flat_norm(noise) * radius
    return domain.masked(noise.to(u.device))


def _project(u_adv: torch.Tensor, u: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        u_adv = torch.minimum(torch.maximum(u_adv, u - eps), u + eps)
    else:
        delta = u_adv - u
        delta = delta * torch.clamp(eps / _flat_norm(delta), max=1.0)
        u_adv = u + delta
    return u_adv.clamp(0.0, 1.0)


def fgsm(logits_fn: LogitFunction, u: torch.Tensor, y: torch.Tensor, eps: float, *,
         domain: Domain, target: torch.Tensor | None = None) -> AttackOutcome:
    """Fast Gradient Sign Method: one signed-gradient step of size ``eps``.

    Parameters
    ----------
    logits_fn : callable
        Unit-space inputs -> logits, differentiable.
    u : Tensor of shape (n, ...)
        Clean inputs in unit space.
    y : Tensor of shape (n,)
        True class indices.
    eps : float
        L-inf budget in unit space.
    domain : Domain
    target : Tensor of shape (n,), optional
        Target classes (targeted attack: descend their cross-entropy).

    Returns
    -------
    AttackOutcome
    """
    x = u.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        objective = attack_loss(logits_fn(x), y, loss="ce", target=target).sum()
        (grad,) = torch.autograd.grad(objective, x)
    u_adv = (u + eps * domain.masked(grad.sign())).clamp(0.0, 1.0)
    with torch.inference_mode():
        success = _fooled(logits_fn(u_adv), y, target)
    return AttackOutcome(u_adv.detach(), success, torch.full((len(u),), 2, dtype=torch.int64))


def pgd(logits_fn: LogitFunction, u: torch.Tensor, y: torch.Tensor, eps: float, *,
        domain: Domain, norm: str = "linf", steps: int = 20, step_size: float | None = None,
        restarts: int = 1, random_start: bool = True, loss: str = "ce",
        target: torch.Tensor | None = None, generator: torch.Generator | None = None
        ) -> AttackOutcome:
    """Projected gradient descent, untargeted or targeted, with restarts.

    Parameters
    ----------
    logits_fn : callable
        Unit-space inputs -> logits, differentiable.
    u : Tensor of shape (n, ...)
        Clean inputs in unit space.
    y : Tensor of shape (n,)
    eps : float
        Budget in unit space, under ``norm``.
    domain : Domain
    norm : {"linf", "l2"}
    steps : int
        Gradient steps per restart.
    step_size : float, optional
        Defaults to ``2.5 * eps / steps`` (Madry et al.).
    restarts : int
        Runs from fresh random starts; each restart attacks only the samples
        no earlier run broke.
    random_start : bool
    loss : {"ce", "margin"}
    target : Tensor of shape (n,), optional
    generator : torch.Generator, optional
        CPU generator of the random starts.

    Returns
    -------
    AttackOutcome
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    alpha = 2.5 * eps / steps if step_size is None else step_size
    best = u.detach().clone()
    success = torch.zeros(len(u), dtype=torch.bool, device=u.device)
    queries = torch.zeros(len(u), dtype=torch.int64, device=u.device)
    if eps <= 0:
        with torch.inference_mode():
            success = _fooled(logits_fn(u), y, target)
        return AttackOutcome(best, success, queries + 1)
    for _ in range(restarts):
        active = torch.nonzero(~success).flatten()
        if len(active) == 0:
            break
        clean = u[active]
        labels, goal = y[active], None if target is None else target[active]
        current = clean.clone()
        if random_start:
            current = (current + _random_start(clean, eps, norm, domain, generator)).clamp(0, 1)
        for _ in range(steps):
            x = current.requires_grad_(True)
            with torch.enable_grad():
                logits = logits_fn(x)
                (grad,) = torch.autograd.grad(attack_loss(logits, labels, loss=loss,
                                                          target=goal).sum(), x)
            queries[active] += 1
            broken = _fooled(logits.detach(), labels, goal)
            if broken.any():
                done = active[broken]
                best[done], success[done] = current.detach()[broken], True
                keep = ~broken
                active, clean, labels, current, grad = (active[keep], clean[keep], labels[keep],
                                                        current.detach()[keep], grad[keep])
                goal = None if goal is None else goal[keep]
                if len(active) == 0:
                    break
            grad = domain.masked(grad)
            if norm == "linf":
                step = grad.sign()
            else:
                step = grad / _flat_norm(grad)
            current = _project(current.detach() + alpha * step, clean, eps, norm)
        if len(active):
            with torch.inference_mode():
                broken = _fooled(logits_fn(current), labels, goal)
            queries[active] += 1
            best[active] = current.detach()
            success[active] = broken
    return AttackOutcome(best, success, queries)


def dlr_loss(logits: torch.Tensor, y: torch.Tensor,
             target: torch.Tensor | None = None) -> torch.Tensor:
    """Difference of Logits Ratio (Croce & Hein 2020, eqs. 5 and 6), per sample.

    With the logits sorted in decreasing order ``z_pi1 >= z_pi2 >= ...``:
    untargeted, ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``; targeted at
    class ``t``, ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``. The ratio does
    not change when the logits are shifted or scaled, so a saturated softmax
    or a large logit scale cannot hide the gradient. Needs at least 3 classes
    (4 when targeted).
    """
    ordered = logits.sort(dim=1, descending=True).values
    true = logits.gather(1, y[:, None])[:, 0]
    if target is None:
        other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
        return -(true - other) / (ordered[:, 0] - ordered[:, 2] + 1e-12)
    goal = logits.gather(1, target[:, None])[:, 0]
    return -(true - goal) / (ordered[:, 0] - 0.5 * (ordered[:, 2] + ordered[:, 3]) + 1e-12)


def apgd_checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step size (Croce & Hein 2020, Sec. 3.2).

    ``w_j = ceil(p_j * steps)`` with ``p_0 = 0``, ``p_1 = 0.22`` and
    ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``.
    """
    fractions = [0.0, 0.22]
    while fractions[-1] < 1.0:
        fractions.append(fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06))
    points = sorted({int(np.ceil(round(p * steps, 9))) for p in fractions if p <= 1.0})
    return [w for w in points if 0 < w <= steps]


def _apgd_objective(logits: torch.Tensor, y: torch.Tensor, loss: str,
                    target: torch.Tensor | None) -> torch.Tensor:
    if loss == "dlr" and logits.shape[1] >= (4 if target is not None else 3):
        return dlr_loss(logits, y, target)
    if loss == "ce" and target is not None:
        return -F.cross_entropy(logits, target, reduction="none")
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    # DLR needs 3 classes (4 targeted): the margin loss is its scale-dependent stand-in
    margin = attack_loss(logits, y, loss="margin")
    if target is None:
        return margin
    return logits.gather(1, target[:, None])[:, 0] - logits.gather(1, y[:, None])[:, 0]


def _ascent_step(current: torch.Tensor, grad: torch.Tensor, size: torch.Tensor,
                 norm: str) -> torch.Tensor:
    if norm == "linf":
        return current + size * grad.sign()
    return current + size * grad / _flat_norm(grad)


def _apgd_run(logits_fn: LogitFunction, u: torch.Tensor, y: torch.Tensor, eps: float, *,
              domain: Domain, norm: str, steps: int, loss: str, target: torch.Tensor | None,
              random_start: bool, momentum: float, rho: float, generator: torch.Generator
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One APGD run from one start: (first misclassified iterate or best point, success, passes).

    Success is always a misclassification: a target only shapes the objective.
    """
    n = len(u)
    shape = (-1,) + (1,) * (u.ndim - 1)
    out = u.detach().clone()
    success = torch.zeros(n, dtype=torch.bool, device=u.device)
    queries = torch.zeros(n, dtype=torch.int64, device=u.device)
    current = u.detach().clone()
    if random_start:
        current = (current + _random_start(u, eps, norm, domain, generator)).clamp(0.0, 1.0)
    state = {"index": torch.arange(n, device=u.device), "clean": u.detach(), "y": y,
             "current": current}
    if target is not None:
        state["target"] = target

    def evaluate(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = points.detach().requires_grad_(True)
        with torch.enable_grad():
            logits = logits_fn(x)
            value = _apgd_objective(logits, state["y"], loss, state.get("target"))
            (grad,) = torch.autograd.grad(value.sum(), x)
        queries[state["index"]] += 1
        return value.detach(), domain.masked(grad), logits.detach().argmax(1) != state["y"]

    def retire(broken: torch.Tensor) -> bool:
        """Keep the broken samples' iterates; drop them from every state tensor."""
        done = state["index"][broken]
        out[done], success[done] = state["current"][broken], True
        keep = ~broken
        for name in list(state):
            state[name] = state[name][keep]
        return bool(keep.any())

    value, grad, broken = evaluate(state["current"])
    state.update(grad=grad, best=state["current"].clone(), best_value=value,
                 best_grad=grad, previous=state["current"].clone(), last_value=value,
                 size=torch.full((n,), 2.0 * eps, device=u.device),
                 increases=torch.zeros(n, device=u.device),
                 reduced=torch.zeros(n, dtype=torch.bool, device=u.device),
                 best_at_check=value.clone())
    if broken.any() and not retire(broken):
        return out, success, queries
    checkpoints = set(apgd_checkpoints(steps))
    last_check = 0
    for iteration in range(steps):
        size = state["size"].view(shape)
        clean, current = state["clean"], state["current"]
        z = _project(_ascent_step(current, state["grad"], size, norm), clean, eps, norm)
        if iteration == 0:  # no momentum yet: x1 = P(x0 + eta grad)
            moved = z
        else:
            moved = _project(current + momentum * (z - current)
                             + (1 - momentum) * (current - state["previous"]), clean, eps, norm)
        moved = clean + domain.masked(moved - clean)
        state["previous"], state["current"] = current, moved
        value, grad, broken = evaluate(moved)
        state["grad"] = grad
        state["increases"] = state["increases"] + (value > state["last_value"]).float()
        state["last_value"] = value
        better = value > state["best_value"]
        state["best"] = torch.where(better.view(shape), moved, state["best"])
        state["best_grad"] = torch.where(better.view(shape), grad, state["best_grad"])
        state["best_value"] = torch.where(better, value, state["best_value"])
        if broken.any() and not retire(broken):
            return out, success, queries
        if iteration + 1 in checkpoints:
            window = iteration + 1 - last_check
            last_check = iteration + 1
            # condition 1: the objective rose in at most a share rho of the window's steps;
            # condition 2: the step was not halved last time and the best value has not moved
            halve = (state["increases"] <= rho * window) | (
                ~state["reduced"] & (state["best_at_check"] >= state["best_value"]))
            state["reduced"], state["best_at_check"] = halve, state["best_value"].clone()
            state["increases"] = torch.zeros_like(state["increases"])
            state["size"] = torch.where(halve, state["size"] / 2, state["size"])
            state["current"] = torch.where(halve.view(shape), state["best"], state["current"])
            state["grad"] = torch.where(halve.view(shape), state["best_grad"], state["grad"])
    out[state["index"]] = state["best"]
    return out, success, queries


def apgd(logits_fn: LogitFunction, u: torch.Tensor, y: torch.Tensor, eps: float, *,
         domain: Domain, norm: str = "linf", steps: int = 100, restarts: int = 1,
         loss: str = "ce", target_classes: int = 0, random_start: bool = True,
         momentum: float = 0.75, rho: float = 0.75, generator: torch.Generator | None = None
         ) -> AttackOutcome:
    """Auto-PGD (Croce & Hein 2020): PGD with a step-size schedule and momentum.

    The step starts at ``2 * eps`` and halves at the checkpoints of
    :func:`apgd_checkpoints` where the objective rose in at most a share ``rho``
    of the steps since the last checkpoint, or where the step was not halved
    last time and the best objective did not improve; a halving restarts from
    the best point found. Each step mixes the projected ascent step with the
    previous move: ``x_{k+1} = P(x_k + momentum (z_{k+1} - x_k) + (1 - momentum)
    (x_k - x_{k-1}))``. Every sample has its own step size; a sample leaves the
    attack at its first misclassified iterate, which is kept.

    With ``target_classes > 0`` this is APGD-T: for each of the
    ``target_classes`` classes with the highest clean logits after the
    prediction, in turn, the survivors are attacked on the targeted objective
    (targeted DLR with ``loss="dlr"``) from ``restarts`` starts. Success is
    always a misclassification: targets only choose directions.

    Parameters
    ----------
    logits_fn : callable
        Unit-space inputs -> logits, differentiable.
    u : Tensor of shape (n, ...)
        Clean inputs in unit space.
    y : Tensor of shape (n,)
        True class indices.
    eps : float
        Budget in unit space, under ``norm``.
    domain : Domain
    norm : {"linf", "l2"}
    steps : int, default=100
        Iterations per run (per restart and per target class).
    restarts : int, default=1
        Runs from fresh random starts; each attacks only the survivors.
    loss : {"ce", "dlr"}, default="ce"
        Cross-entropy, or the Difference of Logits Ratio (:func:`dlr_loss`;
        the margin loss where the model has too few classes for it).
    target_classes : int, default=0
        0: untargeted. Otherwise the number of target classes of APGD-T.
    random_start : bool, default=True
        Start from a uniform point of the ball (L-inf) or a random direction (L2).
    momentum : float, default=0.75
    rho : float, default=0.75
        The share of rising steps below which the step size halves.
    generator : torch.Generator, optional
        CPU generator of the random starts.

    Returns
    -------
    AttackOutcome
        ``adversarial`` holds the first misclassified iterate where the attack
        succeeded, and the point of highest objective otherwise.

    Examples
    --------
    >>> import torch
    >>> from auditkit.attacks import Domain, apgd
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> x, y = torch.rand(8, 4), torch.randint(0, 3, (8,))
    >>> outcome = apgd(model, x, y, 0.1, domain=Domain.from_arrays(0.0, 1.0), steps=10)
    >>> bool(((outcome.adversarial - x).abs() <= 0.1 + 1e-6).all())
    True
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    best = u.detach().clone()
    queries = torch.zeros(len(u), dtype=torch.int64, device=u.device)
    with torch.inference_mode():
        logits = logits_fn(u)
    queries += 1
    success = logits.argmax(1) != y
    if eps <= 0 or success.all():
        return AttackOutcome(best, success, queries)
    if target_classes > 0:
        ranked = logits.sort(dim=1, descending=True).indices
        goals = [ranked[:, k] for k in range(1, min(target_classes, logits.shape[1] - 1) + 1)]
    else:
        goals = [None]
    for goal in goals:
        for _ in range(restarts):
            active = torch.nonzero(~success).flatten()
            if len(active) == 0:
                return AttackOutcome(best, success, queries)
            adversarial, broken, spent = _apgd_run(
                logits_fn, u[active], y[active], eps, domain=domain, norm=norm, steps=steps,
                loss=loss, target=None if goal is None else goal[active],
                random_start=random_start, momentum=momentum, rho=rho, generator=generator)
            queries[active] += spent
            best[active] = adversarial
            success[active] = broken
    return AttackOutcome(best, success, queries)


def deepfool(logits_fn: LogitFunction, u: torch.Tensor, y: torch.Tensor, *, domain: Domain,
             steps: int = 50, overshoot: float = 0.02, candidates: int = 10) -> AttackOutcome:
    """DeepFool, L2: the smallest perturbation found that flips each prediction.

    Each step linearises the logits around the current point and moves to the
    nearest linearised boundary among the ``candidates`` most likely other
    classes; the accumulated step is scaled by ``1 + overshoot`` and clipped to
    the valid box (Moosavi-Dezfooli et al. 2016, Algorithm 2).

    Parameters
    ----------
    logits_fn : callable
    u : Tensor of shape (n, ...)
        Correctly classified inputs in unit space.
    y : Tensor of shape (n,)
    domain : Domain
    steps : int
    overshoot : float
    candidates : int
        Other classes considered per step (the most likely ones).

    Returns
    -------
    AttackOutcome
        ``adversarial - u`` is the perturbation; failed samples keep their
        last iterate.
    """
    best = u.detach().clone()
    success = torch.zeros(len(u), dtype=torch.bool, device=u.device)
    queries = torch.zeros(len(u), dtype=torch.int64, device=u.device)
    active = torch.arange(len(u), device=u.device)
    total = torch.zeros_like(u)
    current = u.detach().clone()
    for step_index in range(steps + 1):
        x = current[active].requires_grad_(True)
        with torch.enable_grad():
            logits = logits_fn(x)
        queries[active] += 1
        labels = y[active]
        broken = logits.detach().argmax(1) != labels
        if broken.any():
            done = active[broken]
            best[done], success[done] = current[done], True
        keep = ~broken
        if not keep.any():
            break
        if step_index == steps:
            best[active[keep]] = current[active[keep]]
            break
        k = min(candidates, logits.shape[1] - 1)
        others = logits.detach().scatter(1, labels[:, None], float("-inf")).topk(k, dim=1).indices
        grads = []
        for j in range(-1, k):
            column = labels if j < 0 else others[:, j]
            chosen = logits.gather(1, column[:, None]).sum()
            (g,) = torch.autograd.grad(chosen, x, retain_graph=j < k - 1)
            grads.append(g)
        grad_true = domain.masked(grads[0][keep])
        true_logit = logits.detach().gather(1, labels[:, None])[keep]
        shape = (-1,) + (1,) * (grad_true.ndim - 1)
        best_ratio = torch.full((int(keep.sum()),), float("inf"), device=u.device)
        direction = torch.zeros_like(grad_true)
        for j in range(k):
            w = domain.masked(grads[j + 1][keep]) - grad_true
            f = (logits.detach().gather(1, others[:, j:j + 1])[keep] - true_logit)[:, 0]
            w_norm = w.flatten(1).norm(dim=1)
            ratio = f.abs() / (w_norm + 1e-8)
            better = ratio < best_ratio
            step = w * ((f.abs() + 1e-4) / (w_norm**2 + 1e-8)).view(shape)
            best_ratio = torch.where(better, ratio, best_ratio)
            direction = torch.where(better.view(shape), step, direction)
        active = active[keep]
        total[active] = total[active] + direction
        current[active] = (u[active] + (1 + overshoot) * total[active]).clamp(0.0, 1.0)
    return AttackOutcome(best, success, queries)


def _p_selection(p_init: float, iteration: int, n_iters: int) -> float:
    """Share of the input that Square's window covers at ``iteration`` (paper's schedule)."""
    it = int(iteration / n_iters * 10000)
    for bound, divisor in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32),
                           (4000, 64), (6000, 128), (8000, 256), (10000, 512)):
        if it <= bound:
            return p_init / divisor
    return p_init / 512


def _log_proba_margin(proba: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Log p(true) - max log p(other): positive while the prediction is right."""
    logp = torch.log(proba.clamp_min(1e-30))
    return attack_loss(logp, y, loss="margin") * -1.0


def square_linf(proba_fn: ProbaFunction, u: torch.Tensor, y: torch.Tensor, eps: float, *,
                domain: Domain, n_queries: int = 1000, p_init: float = 0.05,
                sequence: bool = False, generator: torch.Generator | None = None
                ) -> AttackOutcome:
    """Square Attack under L-inf, untargeted, on the margin of the predicted probabilities.

    Inputs are viewed as (n, channels, height, width): images as they are,
    sequences of shape (n, length, channels) as (n, channels, length, 1), so
    squares become windows of consecutive frames.

    Parameters
    ----------
    proba_fn : callable
        Unit-space inputs (shaped like ``u``) -> class probabilities; no
        gradients are used.
    u : Tensor of shape (n, ...)
        Correctly classified inputs in unit space.
    y : Tensor of shape (n,)
    eps : float
    domain : Domain
    n_queries : int
        Query budget per sample, the initialisation included.
    p_init : float
        Initial share of the input that a square covers.
    sequence : bool
        Whether ``u`` holds sequences (n, length[, channels]) rather than images.
    generator : torch.Generator, optional

    Returns
    -------
    AttackOutcome
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    view, unview = _square_views(u, sequence=sequence)
    x = view(u)
    mask = view(domain.mask.expand_as(u).contiguous())
    n, c, h, w = x.shape

    def evaluate(candidate: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # not inference mode: the margins are updated in place
            return _log_proba_margin(proba_fn(unview(candidate)), y[rows])

    stripes = torch.randint(0, 2, (n, c, 1, w), generator=generator).to(x) * 2 - 1
    best = (x + eps * stripes * mask).clamp(0.0, 1.0)
    margin = evaluate(best, torch.arange(n, device=u.device))
    queries = torch.ones(n, dtype=torch.int64, device=u.device)
    rows_h = torch.arange(h, device=u.device).view(1, 1, h, 1)
    cols_w = torch.arange(w, device=u.device).view(1, 1, 1, w)
    for iteration in range(n_queries - 1):
        active = torch.nonzero(margin > 0).flatten()
        if len(active) == 0:
            break
        p = _p_selection(p_init, iteration, n_queries)
        side = max(int(round((p * h * w) ** 0.5)), 1)
        side_h, side_w = min(side, h), min(side, w)
        m = len(active)
        top = torch.randint(0, h - side_h + 1, (m,), generator=generator).to(u.device)
        left = torch.randint(0, w - side_w + 1, (m,), generator=generator).to(u.device)
        window = ((rows_h >= top.view(-1, 1, 1, 1)) & (rows_h < (top + side_h).view(-1, 1, 1, 1))
                  & (cols_w >= left.view(-1, 1, 1, 1))
                  & (cols_w < (left + side_w).view(-1, 1, 1, 1)))
        signs = torch.randint(0, 2, (m, c, 1, 1), generator=generator).to(x) * 2 - 1
        clean, current = x[active], best[active]
        delta = torch.where(window, eps * signs, current - clean) * mask[active]
        candidate = (clean + delta).clamp(0.0, 1.0)
        new_margin = evaluate(candidate, active)
        queries[active] += 1
        better = new_margin < margin[active]
        improved = active[better]
        best[improved] = candidate[better]
        margin[improved] = new_margin[better]
    return AttackOutcome(unview(best), margin <= 0, queries)


def _square_views(u: torch.Tensor, *, sequence: bool
                  ) -> tuple[Callable[[torch.Tensor], torch.Tensor],
                             Callable[[torch.Tensor], torch.Tensor]]:
    """Maps between a batch's own shape and (n, channels, height, width), and back."""
    shape = u.shape
    if sequence:
        if u.ndim == 3:
            return (lambda t: t.permute(0, 2, 1).unsqueeze(-1).contiguous(),
                    lambda t: t.squeeze(-1).permute(0, 2, 1).contiguous())
        return (lambda t: t.reshape(len(t), 1, -1, 1)), (lambda t: t.reshape(len(t), *shape[1:]))
    if u.ndim == 4:
        return (lambda t: t), (lambda t: t)
    return (lambda t: t.unsqueeze(1)), (lambda t: t.squeeze(1))
