"""The attack runs that several robustness checks share: PGD's loss ensemble, FGSM, Square.

Each function runs one attack configuration on the prepared samples through
:func:`~._runs.run_attack`, which caches the run in the audit's context: the
gradient-masking diagnostic reuses the runs of the PGD, FGSM and Square checks
instead of attacking again.
"""

from __future__ import annotations

import torch

from ...inputs import ModelAdapter
from .._base import CheckContext
from ._attacks import fgsm, pgd, square_linf
from ._runs import AttackRun, Prepared, run_attack

__all__ = ["LOSSES", "LOSS_NAMES", "LOSS_SHORT", "fgsm_robust", "pgd_robust", "random_targets",
           "square_robust", "verdict_words"]

LOSSES = ("ce", "margin")
LOSS_NAMES = {"ce": "cross-entropy", "margin": "margin (CW)"}
LOSS_SHORT = {"ce": "CE", "margin": "margin"}


def random_targets(prepared: Prepared, n_classes: int, context: CheckContext) -> torch.Tensor:
    """A seeded target class per selected sample, different from its label."""
    shift = context.rng("robustness-targets").integers(1, n_classes, size=prepared.n)
    return torch.from_numpy((prepared.y.numpy() + shift) % n_classes)


def pgd_robust(model: ModelAdapter, prepared: Prepared, context: CheckContext, *, eps: float,
               norm: str, steps: int, restarts: int, losses: tuple[str, ...],
               step_size: float | None = None, targets: torch.Tensor | None = None
               ) -> dict[str, AttackRun]:
    """PGD with each loss in turn, each on the survivors of the previous; runs by loss.

    The run of the last loss holds the ensemble's outcome: ``robust`` of
    ``runs[losses[-1]]`` is False wherever any loss broke the sample.
    """
    runs: dict[str, AttackRun] = {}
    survivors = None
    for loss in losses:
        key = ("pgd", norm, float(eps), steps, restarts, step_size,
               tuple(losses[:losses.index(loss) + 1]), targets is not None)

        def attack(function, u, y, generator, rows, *, loss=loss):  # noqa: ANN001, ANN202
            goal = None if targets is None else targets[rows].to(u.device)
            return pgd(function, u, y, eps, domain=prepared.domain, norm=norm, steps=steps,
                       step_size=step_size, restarts=restarts, loss=loss, target=goal,
                       generator=generator)

        run = run_attack(model, prepared, context, key=key, attack=attack, among=survivors,
                         description=f"PGD {norm} eps={eps:g} ({loss})")
        if survivors is not None:
            previous = runs[losses[losses.index(loss) - 1]]
            run = AttackRun(previous.robust & run.robust, previous.success | run.success,
                            _merge(previous, run), previous.queries + run.queries)
        runs[loss] = run
        survivors = run.robust
    return runs


def verdict_words(robust: float, clean: float) -> str:
    """Plain words for how much accuracy an attack leaves."""
    ratio = robust / clean if clean else 0.0
    return ("keeps nearly all of its accuracy" if ratio >= 0.9 else
            "keeps most of its accuracy" if ratio >= 0.7 else
            "loses a large part of its accuracy" if ratio >= 0.3 else
            "loses nearly all of its accuracy" if ratio < 0.05 else
            "loses most of its accuracy")


def _merge(previous: AttackRun, run: AttackRun) -> torch.Tensor:
    adversarial = previous.adversarial.clone()
    newly = torch.from_numpy(run.success & ~previous.success)
    adversarial[newly] = run.adversarial[newly]
    return adversarial


def fgsm_robust(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
                eps: float) -> AttackRun:
    """FGSM at ``eps`` on the correctly classified selected samples (cached)."""
    def attack(function, u, y, generator, rows):  # noqa: ANN001, ANN202
        return fgsm(function, u, y, eps, domain=prepared.domain)

    return run_attack(model, prepared, context, key=("fgsm", float(eps)), attack=attack,
                      description=f"FGSM eps={eps:g}")


def square_robust(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
                  eps: float, n_queries: int, p_init: float, sequence: bool) -> AttackRun:
    """Square Attack at ``eps`` on the correctly classified selected samples (cached)."""
    def attack(function, u, y, generator, rows):  # noqa: ANN001, ANN202
        return square_linf(function, u, y, eps, domain=prepared.domain, n_queries=n_queries,
                           p_init=p_init, sequence=sequence, generator=generator)

    return run_attack(model, prepared, context, key=("square", float(eps), n_queries, p_init),
                      attack=attack, gradients=False,
                      description=f"Square eps={eps:g}")
