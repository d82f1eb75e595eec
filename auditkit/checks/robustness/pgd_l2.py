"""Robustness: projected gradient descent under L2, across epsilons.

The L-inf check's procedure (cross-entropy then margin loss, restarts, robust
accuracy per class and group) with an L2 budget: the Euclidean norm of the
perturbation in units of the valid range, so 1.0 is the length of one value
moved across its whole range.
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
    """Robust accuracy under L2 PGD (cross-entropy then margin loss) across epsilons.

    Parameters
    ----------
    epsilons : tuple of float, default=(0.5, 1.0, 1.5, 2.0, 3.0)
        L2 budgets in units of the valid range.
    epsilon : float, default=1.5
        The budget the headline metrics are read at; one of ``epsilons``.
    steps : int, default=20
    restarts : int, default=1
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
    order = 3
    description = ("Accuracy under projected gradient descent attacks (L2) across budgets, "
                   "per class and per sensitive group.")
    norm = "l2"
    parameter_constraints = {**RobustnessPGD.parameter_constraints,
                             "epsilons": [SequenceOf(L2_BUDGET, distinct=True)],
                             "epsilon": [L2_BUDGET]}

    epsilons: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)
    epsilon: float = 1.5
