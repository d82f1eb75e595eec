"""Robustness: robust accuracy under L2 attacks (APGD ensemble or PGD), across epsilons.

The L-inf check's procedure (APGD-CE then APGD-T, or PGD's cross-entropy then
margin loss; restarts; robust accuracy per class and group) with an L2 budget:
the Euclidean norm of the perturbation in units of the valid range, so 1.0 is
the length of one value moved across its whole range. Square is L-inf only.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._base import register_check
from .._params import SequenceOf
from ._runs import L2_BUDGET
from .pgd import RobustnessPGD

__all__ = ["RobustnessPGDL2"]


@register_check
@dataclass(frozen=True)
class RobustnessPGDL2(RobustnessPGD):
    """Robust accuracy under an L2 APGD ensemble (or PGD) across epsilons.

    Parameters
    ----------
    attack : {"apgd", "pgd"}, default="apgd"
        ``"apgd"``: APGD-CE, then APGD-T on the survivors (Square is L-inf
        only). ``"pgd"``: PGD with each of ``losses`` in turn.
    epsilons : tuple of float, default=(0.5, 1.0, 1.5, 2.0, 3.0)
        L2 budgets in units of the valid range.
    epsilon : float, default=1.5
        The budget the headline metrics are read at; one of ``epsilons``.
    steps : int or None, default=None
    restarts : int, default=1
    target_classes : int, default=2
    square_queries : int, default=100
        Unused: Square is L-inf only.
    p_init : float, default=0.8
    step_size : float, optional
    losses : tuple of str, default=("ce", "margin")
    every_loss_at_every_epsilon : bool, default=False
    targeted : bool, default=False
    n_samples : int or None, default=500
    confidence : float, default=0.95
    min_group_size : int, default=30
        As for ``robustness_pgd``.
    """

    name = "robustness_pgd_l2"
    # Relative cost (progress ETA): an ensemble of attacks at every epsilon.
    cost = 15.0
    order = 3
    description = ("Accuracy under gradient attacks of AutoAttack's strength (APGD ensemble, "
                   "L2) across budgets, per class and per sensitive group.")
    norm = "l2"
    parameter_constraints = {**RobustnessPGD.parameter_constraints,
                             "epsilons": [SequenceOf(L2_BUDGET, distinct=True)],
                             "epsilon": [L2_BUDGET]}

    epsilons: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)
    epsilon: float = 1.5
