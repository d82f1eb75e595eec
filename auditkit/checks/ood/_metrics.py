"""OOD detection metrics: AUROC, AUPR-In, AUPR-Out, FPR at 95% TPR, detection accuracy.

Conventions (stated in every result, see :data:`METRIC_CONVENTION`): scores
grow with OOD-ness; AUROC and AUPR-Out count OOD inputs as positive; AUPR-In
counts in-distribution inputs as positive, with scores negated; FPR at 95% TPR
is the share of OOD inputs accepted as in-distribution at the threshold that
keeps 95% of in-distribution inputs, i.e. 95% TPR with in-distribution as the
positive class (the convention of Hendrycks & Gimpel 2017 and Liang et al.
2018; OpenOOD v1.5 changed its own to 95% TPR with OOD positive, which gives
different numbers). Detection accuracy at that threshold is balanced: the mean
of the share of in-distribution inputs kept and OOD inputs rejected.

Every metric is computed from the same grouping of the scores (one column per
distinct score), so that many weightings of the samples, a block of bootstrap
resamples, cost two sparse products and a few cumulative sums; with unit
weights the values equal scikit-learn's ``roc_auc_score``,
``average_precision_score`` and ``roc_curve`` (tested). Intervals resample
the in-distribution and OOD inputs independently (percentile bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..._stats import percentile_interval, resample_counts

__all__ = ["METRIC_CONVENTION", "METRIC_NAMES", "DetectionMetrics", "TPR_LEVEL",
           "detection_metrics", "roc_points"]

#: The in-distribution share kept by the threshold of FPR@95 and detection accuracy.
TPR_LEVEL = 0.95

METRIC_CONVENTION = (
    "AUROC and AUPR-Out count OOD inputs as positive; AUPR-In counts in-distribution inputs "
    "as positive (scores negated). FPR@95 is the share of OOD inputs accepted as "
    "in-distribution at the threshold that keeps 95% of in-distribution inputs (95% TPR with "
    "in-distribution positive: Hendrycks & Gimpel 2017, ODIN; OpenOOD v1.5 takes OOD as "
    "positive instead). Detection accuracy at that threshold is balanced: the mean of the "
    "shares of in-distribution inputs kept and OOD inputs rejected.")

#: Metric names, in table order.
METRIC_NAMES = ("auroc", "aupr_in", "aupr_out", "fpr_at_95_tpr", "detection_accuracy")

_BLOCK = 100


class _Grouped:
    """In-distribution and OOD samples grouped by distinct score, ascending."""

    def __init__(self, id_scores: np.ndarray, ood_scores: np.ndarray) -> None:
        scores = np.concatenate([id_scores, ood_scores])
        _, group = np.unique(scores, return_inverse=True)
        n_groups = int(group.max()) + 1
        n_id = len(id_scores)
        self.id_groups = _indicator(group[:n_id], n_groups)
        self.ood_groups = _indicator(group[n_id:], n_groups)

    def metrics(self, id_weights: np.ndarray, ood_weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric for each row of weights (shapes (b, n_id) and (b, n_ood))."""
        inl = np.asarray((self.id_groups.T @ id_weights.T).T)  # (b, groups), ascending scores
        out = np.asarray((self.ood_groups.T @ ood_weights.T).T)
        in_cum, out_cum = np.cumsum(inl, axis=1), np.cumsum(out, axis=1)  # scores <= each group
        n_in, n_out = in_cum[:, -1:], out_cum[:, -1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            # AUROC, OOD positive: OOD-above-ID pairs, ties one half (Mann-Whitney).
            auroc = (out * (in_cum - 0.5 * inl)).sum(axis=1) / (n_in * n_out)[:, 0]
            # AUPR-In: ID positive, thresholds from the lowest score up (scores negated).
            aupr_in = _average_precision(inl, in_cum, out_cum)
            # AUPR-Out: OOD positive, thresholds from the highest score down.
            aupr_out = _average_precision(out, n_out - out_cum + out, n_in - in_cum + inl)
            # Accept as in-distribution every score <= t, t the smallest keeping 95% of ID.
            kept, accepted = in_cum / n_in, out_cum / n_out
            at = np.argmax(kept >= TPR_LEVEL - 1e-12, axis=1)
            rows = np.arange(len(inl))
            fpr = accepted[rows, at]
            accuracy = 0.5 * (kept[rows, at] + 1.0 - fpr)
        return {"auroc": auroc, "aupr_in": aupr_in, "aupr_out": aupr_out,
                "fpr_at_95_tpr": fpr, "detection_accuracy": accuracy}


def _indicator(group: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    rows = np.arange(len(group))
    return sparse.csr_matrix((np.ones(len(group)), (rows, group)), shape=(len(group), n_groups))


def _average_precision(positive: np.ndarray, true_positives: np.ndarray,
                       false_positives: np.ndarray) -> np.ndarray:
    """Average precision ``sum_t (R_t - R_{t-1}) P_t`` over distinct thresholds.

    As scikit-learn computes it: ``positive`` counts the positives at each
    threshold, the other two the positives and negatives at or beyond it.
    """
    predicted = true_positives + false_positives
    precision = np.divide(true_positives, predicted, out=np.ones_like(predicted),
                          where=predicted > 0)
    return (positive * precision).sum(axis=1) / positive.sum(axis=1)


@dataclass(frozen=True)
class DetectionMetrics:
    """Point values and percentile intervals of every metric of one detector on one set.

    Attributes
    ----------
    values : dict of str to float
    lower, upper : dict of str to float
    n_id, n_ood : int
    samples : dict of str to ndarray of shape (n_resamples,)
        The bootstrap values, for statistics of several sets or detectors.
    """

    values: dict[str, float]
    lower: dict[str, float]
    upper: dict[str, float]
    n_id: int
    n_ood: int
    samples: dict[str, np.ndarray]


def detection_metrics(id_scores: np.ndarray, ood_scores: np.ndarray, *, n_resamples: int = 1000,
                      confidence: float = 0.95,
                      rng: np.random.Generator | None = None,
                      ood_rng: np.random.Generator | None = None) -> DetectionMetrics:
    """Every metric of the scores, with bootstrap intervals resampling each side independently.

    Parameters
    ----------
    id_scores : ndarray of shape (n_id,)
        Scores of in-distribution inputs (larger = more OOD).
    ood_scores : ndarray of shape (n_ood,)
    n_resamples : int, default=1000
        Bootstrap resamples; 0 for none (intervals are then NaN).
    confidence : float, default=0.95
    rng : numpy.random.Generator, optional
        Draws the in-distribution resamples (and the OOD ones without ``ood_rng``).
    ood_rng : numpy.random.Generator, optional
        Draws the OOD resamples: with one generator per side, the same ``rng``
        seed gives the same in-distribution resamples whatever the OOD set.

    Returns
    -------
    DetectionMetrics

    Examples
    --------
    >>> import numpy as np
    >>> m = detection_metrics(np.array([0.1, 0.2, 0.3]), np.array([0.25, 0.4]), n_resamples=0)
    >>> round(m.values["auroc"], 4)
    0.8333
    """
    id_scores = np.asarray(id_scores, dtype=np.float64)
    ood_scores = np.asarray(ood_scores, dtype=np.float64)
    grouped = _Grouped(id_scores, ood_scores)
    point = grouped.metrics(np.ones((1, len(id_scores))), np.ones((1, len(ood_scores))))
    values = {k: float(v[0]) for k, v in point.items()}
    lower = dict.fromkeys(values, float("nan"))
    upper = dict.fromkeys(values, float("nan"))
    samples = {key: np.empty(0) for key in values}
    if n_resamples > 0:
        rng = np.random.default_rng(0) if rng is None else rng
        ood_rng = rng if ood_rng is None else ood_rng
        blocks = []
        for start in range(0, n_resamples, _BLOCK):
            size = min(_BLOCK, n_resamples - start)
            blocks.append(grouped.metrics(resample_counts(len(id_scores), size, rng),
                                          resample_counts(len(ood_scores), size, ood_rng)))
        for key in values:
            samples[key] = np.concatenate([b[key] for b in blocks])
            lower[key], upper[key] = percentile_interval(samples[key], confidence)
    return DetectionMetrics(values, lower, upper, len(id_scores), len(ood_scores), samples)


def roc_points(id_scores: np.ndarray, ood_scores: np.ndarray,
               grid: np.ndarray) -> np.ndarray:
    """True positive rate (OOD detected) at each false positive rate of ``grid``.

    The ROC curve with OOD positive (as :func:`sklearn.metrics.roc_curve`),
    read at fixed false positive rates so that curves share one axis: at
    each rate the highest TPR reached without exceeding it.
    """
    from sklearn.metrics import roc_curve

    labels = np.r_[np.zeros(len(id_scores)), np.ones(len(ood_scores))]
    fpr, tpr, _ = roc_curve(labels, np.r_[id_scores, ood_scores], drop_intermediate=False)
    index = np.searchsorted(fpr, grid, side="right") - 1
    return tpr[np.clip(index, 0, len(tpr) - 1)]
