"""Shared work of the performance checks: predictions, and vectorised statistics.

The statistics take bootstrap counts of shape (b, n) and return (b,) values,
so every resample is one matrix product (see :mod:`auditkit._stats`). Their
point estimates come from scikit-learn; these forms only feed the intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._stats import weighted_auc
from ..inputs import AuditData, ModelAdapter
from ._base import CheckContext

__all__ = ["Predictions", "predictions"]


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

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.proba, axis=1)

    @property
    def correct(self) -> np.ndarray:
        return (self.predicted == self.y).astype(np.float64)

    @property
    def confidence(self) -> np.ndarray:
        return self.proba.max(axis=1)

    def onehot(self, index: np.ndarray) -> np.ndarray:
        return np.eye(self.n_classes)[index]

    # -- per-resample statistics: counts (b, n) -> (b,) ---------------------------------

    def accuracy(self, counts: np.ndarray) -> np.ndarray:
        return counts @ self.correct / self.n

    def balanced_accuracy(self, counts: np.ndarray) -> np.ndarray:
        truth = self.onehot(self.y)
        hits = counts @ (truth * self.correct[:, None])
        support = counts @ truth
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(np.where(support > 0, hits / support, np.nan), axis=1)

    def _f1_parts(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        truth, guess = self.onehot(self.y), self.onehot(self.predicted)
        return counts @ (truth * guess), counts @ truth, counts @ guess

    def precision_macro(self, counts: np.ndarray) -> np.ndarray:
        tp, _, predicted = self._f1_parts(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(predicted > 0, tp / predicted, 0.0).mean(axis=1)

    def recall_macro(self, counts: np.ndarray) -> np.ndarray:
        tp, support, _ = self._f1_parts(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(support > 0, tp / support, 0.0).mean(axis=1)

    def f1_macro(self, counts: np.ndarray) -> np.ndarray:
        tp, support, predicted = self._f1_parts(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(support + predicted > 0, 2 * tp / (support + predicted),
                            0.0).mean(axis=1)

    def log_loss(self, counts: np.ndarray) -> np.ndarray:
        eps = np.finfo(np.float64).eps
        picked = np.clip(self.proba[np.arange(self.n), self.y], eps, 1 - eps)
        return counts @ -np.log(picked) / self.n

    def brier_score(self, counts: np.ndarray) -> np.ndarray:
        squared = ((self.proba - self.onehot(self.y)) ** 2).sum(axis=1)
        if self.n_classes == 2:  # scikit-learn's binary Brier score halves the sum
            squared = squared / 2
        return counts @ squared / self.n

    def roc_auc(self, counts: np.ndarray) -> np.ndarray:
        if self.n_classes == 2:
            return weighted_auc(self.proba[:, 1], self.y == 1, counts)
        per_class = [weighted_auc(self.proba[:, k], self.y == k, counts)
                     for k in range(self.n_classes)]
        return np.mean(per_class, axis=0)

    def expected_calibration_error(self, bin_index: np.ndarray, counts: np.ndarray) -> np.ndarray:
        gap = self.correct - self.confidence
        per_bin = counts @ (np.eye(bin_index.max() + 1)[bin_index] * gap[:, None])
        return np.abs(per_bin).sum(axis=1) / self.n


def predictions(model: ModelAdapter, data: AuditData, context: CheckContext) -> Predictions:
    """The audited samples' labels and probabilities, computed once per audit."""
    key = ("predictions", id(model))
    if key not in context._cache:
        proba = context.test_proba(model, data)
        names = data.class_names or tuple(str(c) for c in model.classes_)
        context._cache[key] = Predictions(model.label_indices(data.y), proba, tuple(names))
    return context._cache[key]
