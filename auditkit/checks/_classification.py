"""Shared work of the performance checks: predictions, and vectorised statistics.

Most classification metrics are functions of a few sums over samples
(correct predictions per class, true and predicted counts per class, summed
log loss and Brier terms). For bootstrap counts W of shape (b, n), all those
sums of all resamples are one matrix product ``W @ columns``; the metrics
follow from them. Point estimates come from scikit-learn; these forms only
feed the intervals (and are tested against scikit-learn per resample).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .._stats import WeightedAUC
from ..inputs import AuditData, ModelAdapter
from ._base import CheckContext

__all__ = ["Predictions", "predictions", "resampled_ece", "resampled_metrics"]


@dataclass(frozen=True)
class Predictions:
    """Labels and probabilities of the audited samples, as column indices."""

    y: np.ndarray  # true class index, (n,)
    proba: np.ndarray  # (n, k)
    class_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return self.proba.shape[1]

    @functools.cached_property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.proba, axis=1)

    @functools.cached_property
    def correct(self) -> np.ndarray:
        return (self.predicted == self.y).astype(np.float64)

    @functools.cached_property
    def confidence(self) -> np.ndarray:
        return self.proba.max(axis=1)

    @functools.cached_property
    def _columns(self) -> np.ndarray:
        """Per-sample terms whose weighted sums give every linear statistic."""
        k = self.n_classes
        truth = np.eye(k)[self.y]
        guess = np.eye(k)[self.predicted]
        eps = np.finfo(np.float64).eps
        picked = np.clip(self.proba[np.arange(self.n), self.y], eps, 1 - eps)
        squared = ((self.proba - truth) ** 2).sum(axis=1)
        if k == 2:  # scikit-learn's binary Brier score halves the two-column sum
            squared = squared / 2
        return np.column_stack([self.correct, -np.log(picked), squared, truth * guess, truth,
                                guess])

    @functools.cached_property
    def _auc(self) -> list[WeightedAUC]:
        if self.n_classes == 2:
            return [WeightedAUC(self.proba[:, 1], self.y == 1)]
        return [WeightedAUC(self.proba[:, k], self.y == k) for k in range(self.n_classes)]

    def resampled_metrics(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Every headline metric for each row of bootstrap counts (b, n)."""
        k = self.n_classes
        sums = counts @ self._columns
        correct, log_loss, brier = sums[:, 0], sums[:, 1], sums[:, 2]
        tp, support, predicted = sums[:, 3:3 + k], sums[:, 3 + k:3 + 2 * k], sums[:, 3 + 2 * k:]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall_present = np.where(support > 0, tp / support, np.nan)
            precision = np.where(predicted > 0, tp / predicted, 0.0)
            recall = np.where(support > 0, tp / support, 0.0)
            f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
        with np.errstate(invalid="ignore"):
            # Classes absent from y have no AUC; average the others, as the point estimate does.
            per_class = np.array([curve(counts) for curve in self._auc])
            auc = np.nanmean(np.where(np.isnan(per_class).all(axis=0), 0.0, per_class), axis=0) \
                if len(per_class) > 1 else per_class[0]
        return {
            "accuracy": correct / self.n,
            "balanced_accuracy": np.nanmean(recall_present, axis=1),
            "precision_macro": precision.mean(axis=1),
            "recall_macro": recall.mean(axis=1),
            "f1_macro": f1.mean(axis=1),
            "roc_auc": auc,
            "log_loss": log_loss / self.n,
            "brier_score": brier / self.n,
        }

    def calibration_terms(self, bin_index: np.ndarray) -> np.ndarray:
        """Per-sample calibration gap in its confidence bin's column, shape (n, n_bins).

        Weighted column sums of this matrix are the per-bin gaps between
        accuracy and confidence; see :func:`resampled_ece`.
        """
        gap = self.correct - self.confidence
        return np.eye(bin_index.max() + 1)[bin_index] * gap[:, None]


def resampled_metrics(pred: Predictions, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Bootstrap statistic of ``performance_metrics``: every headline metric per resample.

    Parameters
    ----------
    pred : Predictions
        Shared by every block of resamples.
    counts : ndarray of shape (b, n)

    Returns
    -------
    dict of str to ndarray of shape (b,)
    """
    return pred.resampled_metrics(counts)


def resampled_ece(terms: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Bootstrap statistic of the expected calibration error.

    Parameters
    ----------
    terms : ndarray of shape (n, n_bins)
        :meth:`Predictions.calibration_terms`, shared by every block.
    counts : ndarray of shape (b, n)

    Returns
    -------
    dict
        ``"ece"``: ndarray of shape (b,).
    """
    return {"ece": np.abs(counts @ terms).sum(axis=1) / terms.shape[0]}


def predictions(model: ModelAdapter, data: AuditData, context: CheckContext) -> Predictions:
    """The audited samples' labels and probabilities, computed once per audit."""
    def compute() -> Predictions:
        proba = context.test_proba(model, data)
        names = data.class_names or tuple(str(c) for c in model.classes_)
        return Predictions(model.label_indices(data.y), proba, tuple(names))

    return context.shared("predictions", id(model), compute)


def class_margin(proba: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Probability of the target class minus the largest other probability (< 0: flipped).

    Parameters
    ----------
    proba : ndarray of shape (n, n_classes)
    target : ndarray of int, shape (n,)
        The target class of each row (column index).

    Returns
    -------
    ndarray of shape (n,)
    """
    rows = np.arange(len(proba))
    own = proba[rows, target]
    others = np.array(proba, dtype=np.float64, copy=True)
    others[rows, target] = -np.inf
    return own - others.max(axis=1)
