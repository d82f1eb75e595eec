"""Privacy: how a membership attack is scored, judged at low false-positive rates.

An attack gives each record a score (larger: more likely a member). It is
judged the way Carlini et al. (2022, "Membership Inference Attacks From First
Principles") ask: the ROC curve on log-log axes, and the true-positive rate
at a low false-positive rate (0.1%, 1%), each with an exact Clopper-Pearson
interval. The threshold is set on the non-members alone (see
:func:`tpr_at_fpr`) and the TPR is counted on the members. A rate below
``1 / n_non_members`` cannot be measured: it is reported as NaN with the
reason, never as a number. AUC comes with DeLong's interval (DeLong et al.
1988, in the fast midrank form of Sun & Xu 2014); the attacker advantage is
``max(TPR - FPR)`` (Yeom et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from ..._stats import clopper_pearson_interval, delong_interval

__all__ = ["AttackScore", "NOT_RESOLVABLE", "TPR_INTERVAL", "TprAtFpr", "attack_score",
           "roc_points", "tpr_at_fpr"]

TPR_INTERVAL = "Clopper-Pearson exact interval of the members above the threshold"
NOT_RESOLVABLE = ("not resolvable at this sample size: {n:,} non-members resolve FPRs down to "
                  "{smallest:.2%}")


@dataclass(frozen=True)
class TprAtFpr:
    """The TPR of an attack whose threshold lets through at most ``target_fpr`` of non-members.

    Attributes
    ----------
    target_fpr : float
    tpr, lower, upper : float
        The TPR and its Clopper-Pearson interval (NaN when not resolvable).
    achieved_fpr : float
        The share of non-members above the threshold (at most ``target_fpr``).
    threshold : float
        Records scoring strictly above it are called members.
    true_positives, n_members, n_non_members : int
    reason : str or None
        Why the rate is not resolvable, or None.
    """

    target_fpr: float
    tpr: float
    lower: float
    upper: float
    achieved_fpr: float
    threshold: float
    true_positives: int
    n_members: int
    n_non_members: int
    reason: str | None = None

    @property
    def resolvable(self) -> bool:
        return self.reason is None


def _threshold(non_member_scores: np.ndarray, target_fpr: float) -> float:
    """The ``(j + 1)``-th highest non-member score, ``j = floor(target_fpr (n + 1)) - 1``.

    A fresh non-member exceeds the ``(j + 1)``-th highest of ``n`` with probability
    ``(j + 1) / (n + 1) <= target_fpr`` on average, so the rate holds for new
    non-members and not only for the ones the threshold was set on (taking
    ``floor(target_fpr n)`` would overshoot it: 3/201 for 1% of 200).
    """
    n = len(non_member_scores)
    allowed = max(int(np.floor(target_fpr * (n + 1) + 1e-9)) - 1, 0)
    ordered = np.sort(non_member_scores)[::-1]
    return float(ordered[min(allowed, n - 1)])


def tpr_at_fpr(scores: np.ndarray, member: np.ndarray, target_fpr: float, *,
               confidence: float = 0.95) -> TprAtFpr:
    """True-positive rate at a false-positive rate set on the non-members.

    The threshold is the ``j``-th highest non-member score,
    ``j = floor(target_fpr (n + 1))``, so a new non-member exceeds it with
    probability ``j / (n + 1) <= target_fpr`` on average. The interval is
    Clopper-Pearson on the members at that threshold: it covers the members'
    sampling, not the threshold's own error, and so misses the TPR more often
    than its level says (on same-distribution data, about 15% instead of 5%
    at 5% FPR; see the tests). Policy levels on it must sit well above the
    FPR (the default fails at a lower bound of 5% for 1% FPR).

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Membership scores (larger: more likely a member).
    member : bool ndarray of shape (n,)
    target_fpr : float
        In (0, 1).
    confidence : float, default=0.95
        Level of the interval of the TPR.

    Returns
    -------
    TprAtFpr

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.r_[np.arange(100, 200), np.arange(100)].astype(float)
    >>> member = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    >>> tpr_at_fpr(scores, member, 0.01).tpr
    1.0
    """
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member, dtype=bool)
    positives, negatives = scores[member], scores[~member]
    n_pos, n_neg = len(positives), len(negatives)
    if target_fpr * n_neg < 1 - 1e-9:
        reason = NOT_RESOLVABLE.format(n=n_neg, smallest=1 / max(n_neg, 1))
        return TprAtFpr(target_fpr, np.nan, np.nan, np.nan, np.nan, np.nan, 0, n_pos, n_neg,
                        reason)
    threshold = _threshold(negatives, target_fpr)
    hits = int((positives > threshold).sum())
    lower, upper = clopper_pearson_interval(hits, n_pos, confidence)
    return TprAtFpr(target_fpr, hits / n_pos, float(lower), float(upper),
                    float((negatives > threshold).mean()), threshold, hits, n_pos, n_neg)


def roc_points(scores: np.ndarray, member: np.ndarray,
               max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR of the ROC curve (scikit-learn), thinned on a log grid for drawing.

    Every point at FPR below 1% is kept (the region a log-log plot shows);
    above, at most ``max_points`` points spread evenly on log(FPR).
    """
    fpr, tpr, _ = roc_curve(member, scores)
    low = fpr < 0.01
    rest = np.flatnonzero(~low)
    if len(rest) > max_points:
        grid = np.geomspace(max(fpr[rest][0], 1e-6), 1.0, max_points)
        rest = np.unique(rest[np.minimum(np.searchsorted(fpr[rest], grid), len(rest) - 1)])
    keep = np.r_[np.flatnonzero(low), rest]
    return fpr[keep], tpr[keep]


@dataclass(frozen=True)
class AttackScore:
    """Everything the report says about one attack.

    Attributes
    ----------
    auc, auc_lower, auc_upper : float
        ROC AUC (scikit-learn) and its DeLong interval.
    advantage : float
        ``max(TPR - FPR)`` over thresholds.
    at_fpr : tuple of TprAtFpr
        The TPR at each requested FPR.
    min_resolvable_fpr : float
        ``1 / n_non_members``.
    """

    auc: float
    auc_lower: float
    auc_upper: float
    advantage: float
    at_fpr: tuple[TprAtFpr, ...]
    min_resolvable_fpr: float

    def at(self, target_fpr: float) -> TprAtFpr:
        """The TPR at ``target_fpr`` (one of those requested)."""
        return next(t for t in self.at_fpr if np.isclose(t.target_fpr, target_fpr))


def attack_score(scores: np.ndarray, member: np.ndarray, *, fprs: tuple[float, ...] = (0.001, 0.01),
                 confidence: float = 0.95) -> AttackScore:
    """AUC with its interval, advantage, and the TPR at each of ``fprs``.

    Parameters
    ----------
    scores : ndarray of shape (n,)
    member : bool ndarray of shape (n,)
    fprs : tuple of float, default=(0.001, 0.01)
    confidence : float, default=0.95

    Returns
    -------
    AttackScore
    """
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member, dtype=bool)
    auc = float(roc_auc_score(member, scores))
    _, lower, upper, _ = delong_interval(scores, member, confidence)
    fpr, tpr, _ = roc_curve(member, scores)
    return AttackScore(auc, lower, upper, float(np.max(tpr - fpr)),
                       tuple(tpr_at_fpr(scores, member, f, confidence=confidence) for f in fprs),
                       1.0 / int((~member).sum()))
