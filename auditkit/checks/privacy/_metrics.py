"""Privacy: how a membership attack is scored (the shared :mod:`auditkit.checks._membership`)."""

from .._membership import (
    NOT_RESOLVABLE,
    TPR_INTERVAL,
    AttackScore,
    TprAtFpr,
    attack_score,
    roc_points,
    tpr_at_fpr,
)

__all__ = ["AttackScore", "NOT_RESOLVABLE", "TPR_INTERVAL", "TprAtFpr", "attack_score",
           "roc_points", "tpr_at_fpr"]
