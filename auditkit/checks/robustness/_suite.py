"""The attack runs that several robustness checks share: the APGD ensemble, PGD, FGSM, Square.

Each function runs one attack configuration (an :class:`~._runs.AttackSpec`) on
the prepared samples through :func:`~._runs.run_attack`, which caches the run
in the audit's context (shared value ``"robustness.attack_run"``): the
gradient-masking diagnostic reuses the runs of the PGD, FGSM and Square checks
instead of attacking again.
"""

from __future__ import annotations

import torch

from ...inputs import ModelAdapter
from .._base import CheckContext
from ._runs import AttackRun, AttackSpec, Prepared, run_attack

__all__ = ["ATTACKS", "ENSEMBLE", "LOSSES", "LOSS_NAMES", "LOSS_SHORT", "apgd_robust",
           "fgsm_robust", "pgd_robust", "random_targets", "square_robust"]

#: The attacks the PGD checks can measure robust accuracy with.
ATTACKS = ("apgd", "pgd")
#: The stages of the APGD ensemble, in order; each attacks the survivors of the previous.
ENSEMBLE = ("APGD-CE", "APGD-T", "Square")

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

        spec = AttackSpec.of("pgd", eps=eps, norm=norm, steps=steps, step_size=step_size,
                             restarts=restarts, loss=loss)
        run = run_attack(model, prepared, context, key=key, spec=spec, among=survivors,
                         targets=targets, description=f"PGD {norm} eps={eps:g} ({loss})")
        if survivors is not None:
            run = _combine(runs[losses[losses.index(loss) - 1]], run)
        runs[loss] = run
        survivors = run.robust
    return runs


def apgd_robust(model: ModelAdapter, prepared: Prepared, context: CheckContext, *, eps: float,
                norm: str, steps: int, restarts: int, target_classes: int, square_queries: int,
                p_init: float, sequence: bool) -> dict[str, AttackRun]:
    """The APGD ensemble: APGD-CE, then APGD-T on its survivors, then Square on theirs.

    AutoAttack's recipe (Croce & Hein 2020) without FAB, which rarely breaks a
    sample the others leave: APGD on the cross-entropy, APGD on the targeted
    DLR loss over the ``target_classes`` most likely other classes, and the
    black-box Square attack (L-inf only), which gradient masking cannot stop.
    A stage with a budget of 0 is left out. Runs by stage (keys of
    :data:`ENSEMBLE`), each holding the ensemble's outcome up to it.
    """
    spec = AttackSpec.of("apgd", eps=eps, norm=norm, steps=steps, restarts=restarts, loss="ce")
    key = ("apgd", norm, float(eps), steps, restarts)
    runs = {"APGD-CE": run_attack(model, prepared, context, key=key, spec=spec,
                                  description=f"APGD-CE {norm} eps={eps:g}")}
    last = runs["APGD-CE"]
    if target_classes > 0:
        spec = AttackSpec.of("apgd", eps=eps, norm=norm, steps=steps, restarts=restarts,
                             loss="dlr", target_classes=target_classes)
        key = (*key, "apgd-t", target_classes)
        run = run_attack(model, prepared, context, key=key, spec=spec, among=last.robust,
                         description=f"APGD-T {norm} eps={eps:g}")
        last = runs["APGD-T"] = _combine(last, run)
    if square_queries > 0 and norm == "linf":
        spec = AttackSpec.of("square", eps=eps, n_queries=square_queries, p_init=p_init,
                             sequence=sequence)
        key = (*key, "square", square_queries, p_init)
        run = run_attack(model, prepared, context, key=key, spec=spec, among=last.robust,
                         description=f"Square eps={eps:g} (ensemble)")
        runs["Square"] = _combine(last, run)
    return runs


def _combine(previous: AttackRun, run: AttackRun) -> AttackRun:
    """``previous`` followed by ``run`` on its survivors: broken by either."""
    adversarial = previous.adversarial.clone()
    newly = torch.from_numpy(run.success & ~previous.success)
    adversarial[newly] = run.adversarial[newly]
    return AttackRun(previous.robust & run.robust, previous.success | run.success, adversarial,
                     previous.queries + run.queries)


def fgsm_robust(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
                eps: float) -> AttackRun:
    """FGSM at ``eps`` on the correctly classified selected samples (cached)."""
    return run_attack(model, prepared, context, key=("fgsm", float(eps)),
                      spec=AttackSpec.of("fgsm", eps=eps), description=f"FGSM eps={eps:g}")


def square_robust(model: ModelAdapter, prepared: Prepared, context: CheckContext, *,
                  eps: float, n_queries: int, p_init: float, sequence: bool) -> AttackRun:
    """Square Attack at ``eps`` on the correctly classified selected samples (cached)."""
    spec = AttackSpec.of("square", eps=eps, n_queries=n_queries, p_init=p_init,
                         sequence=sequence)
    return run_attack(model, prepared, context, key=("square", float(eps), n_queries, p_init),
                      spec=spec, description=f"Square eps={eps:g}")
