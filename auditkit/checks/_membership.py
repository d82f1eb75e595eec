"""How a membership attack is scored, judged at low false-positive rates.

Shared ground of the privacy and generative families (classifiers and
generators are attacked alike).

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
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from .._stats import clopper_pearson_interval, delong_interval

__all__ = ["AttackScore", "AttackSummary", "NOT_RESOLVABLE", "TPR_INTERVAL", "TprAtFpr",
           "attack_score", "roc_figure", "summarise_attacks",
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


@dataclass(frozen=True)
class AttackSummary:
    """What a membership check reports about its attacks, the best one first.

    Attributes
    ----------
    scored : dict of str to AttackScore
    rows : list of dict
        One row per attack for the report's table.
    best : str
        The attack with the highest TPR at 1% FPR (then the highest AUC).
    metrics : dict of str to Metric
        ``auc``, ``advantage``, ``min_resolvable_fpr``, ``n_members``,
        ``n_non_members``, and where resolvable ``tpr_at_1pct_fpr`` (its
        interval Bonferroni-widened over the attacks, since the best of several
        is reported) and ``tpr_at_0_1pct_fpr``.
    headline : str
        "An attacker who accepts 1 false accusation in 100 identifies ...".
    """

    scored: dict
    rows: list
    best: str
    metrics: dict
    headline: str

    @property
    def threshold(self) -> float:
        """The best attack's threshold at 1% FPR."""
        return self.scored[self.best].at(0.01).threshold


def summarise_attacks(scores: dict[str, np.ndarray], member: np.ndarray, *, confidence: float,
                      records: str = "training records",
                      extra_columns: dict[str, dict] | None = None) -> AttackSummary:
    """Score every attack and pick the best; the metrics and headline both families report.

    Parameters
    ----------
    scores : dict of str to ndarray
        Each attack's score per record (larger: more likely a member).
    member : bool ndarray
    confidence : float
    records : str, default="training records"
        What the members are, for the headline.
    extra_columns : dict of str to dict, optional
        Attack -> more columns for its row of the table (e.g. a readable method).
    """
    from ..results import Metric

    member = np.asarray(member, dtype=bool)
    scored = {name: attack_score(s, member, confidence=confidence) for name, s in scores.items()}
    rows = []
    for name, score in scored.items():
        low, one = score.at(0.001), score.at(0.01)
        rows.append({"attack": name, **(extra_columns or {}).get(name, {}), "auc": score.auc,
                     "auc_lower": score.auc_lower, "auc_upper": score.auc_upper,
                     "tpr_at_0.1pct_fpr": low.tpr, "tpr_at_0.1pct_lower": low.lower,
                     "tpr_at_0.1pct_upper": low.upper,
                     "tpr_at_1pct_fpr": one.tpr, "tpr_at_1pct_lower": one.lower,
                     "tpr_at_1pct_upper": one.upper, "advantage": score.advantage,
                     "min_resolvable_fpr": score.min_resolvable_fpr,
                     "note": low.reason or ""})
    best = max(scored, key=lambda n: (np.nan_to_num(scored[n].at(0.01).tpr, nan=-1.0),
                                      scored[n].auc))
    best_score = scored[best]
    n_mem, n_non = int(member.sum()), int((~member).sum())
    # n is left out where the value rests on members and non-members together
    sizes = f"{n_mem:,} members and {n_non:,} non-members"
    metrics = {"auc": Metric(best_score.auc, best_score.auc_lower, best_score.auc_upper,
                             confidence, None, f"DeLong, {sizes}", False),
               "advantage": Metric(max(s.advantage for s in scored.values()),
                                   method=f"max(TPR - FPR), {sizes}", higher_is_better=False),
               "min_resolvable_fpr": Metric(1.0 / n_non, n=n_non),
               "n_members": Metric(float(n_mem)), "n_non_members": Metric(float(n_non))}
    at_one = best_score.at(0.01)
    if at_one.resolvable:
        # the best of several attacks is reported: its interval is Bonferroni-widened
        level = 1.0 - (1.0 - confidence) / len(scored)
        widened = tpr_at_fpr(scores[best], member, 0.01, confidence=level)
        low, high = float(widened.lower), float(widened.upper)
        metrics["tpr_at_1pct_fpr"] = Metric(
            at_one.tpr, low, high, confidence, n_mem,
            f"{TPR_INTERVAL}, Bonferroni over {len(scored)} attacks", False)
        headline = (f"An attacker who accepts 1 false accusation in 100 identifies "
                    f"{at_one.tpr:.1%} [{low:.1%}, {high:.1%}] of {records} (best attack: "
                    f"{best}; {sizes}; AUC {best_score.auc:.3f}).")
    else:
        headline = (f"TPR at 1% FPR is {NOT_RESOLVABLE.format(n=n_non, smallest=1 / n_non)}; "
                    f"best attack {best} has AUC {best_score.auc:.3f}.")
    at_low = best_score.at(0.001)
    if at_low.resolvable:
        metrics["tpr_at_0_1pct_fpr"] = Metric(at_low.tpr, at_low.lower, at_low.upper,
                                              confidence, n_mem, TPR_INTERVAL, False)
    return AttackSummary(scored, rows, best, metrics, headline)


def roc_figure(scores: dict[str, np.ndarray], member: np.ndarray) -> Any:
    """The ``membership_roc`` figure of every attack (log-log, resolvable-FPR line)."""
    from ..results import Figure

    member = np.asarray(member, dtype=bool)
    data: dict = {"attacks": list(scores), "min_resolvable_fpr": 1.0 / int((~member).sum()),
                  "n_members": int(member.sum())}
    for i, s in enumerate(scores.values()):
        data[f"fpr_{i}"], data[f"tpr_{i}"] = roc_points(s, member)
    return Figure("membership_roc", data, "ROC of each attack (log-log)")
