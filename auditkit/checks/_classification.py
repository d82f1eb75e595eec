"""Shared work of the performance checks: predictions, and resampled statistics.

Most classification metrics are functions of a few weighted sums over rows
(correct predictions per class, true and predicted counts per class, summed
log loss and Brier terms, the total weight). The Poisson bootstrap
(:func:`auditkit._stats.poisson_bootstrap`) weighs the rows chunk by chunk;
:class:`ResampledMetrics` and :class:`ResampledECE` build each chunk's terms
on the fly from the compact per-row arrays (label, predicted class,
probabilities), so memory stays O(resamples x chunk) whatever the number of
rows. Point estimates come from scikit-learn; these forms only feed the
intervals (and are tested against scikit-learn with the same weights).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._stats import (
    ChunkedStatistic,
    RunningAUC,
    calibration_bin_index,
    weighted_cell_sums,
    weighted_sums,
)
from ..inputs import AuditData, ModelAdapter
from ._base import CheckContext

__all__ = ["Predictions", "ResampledECE", "ResampledMetrics", "input_rows", "predictions"]

#: Up to this many classes a chunk's per-class indicators are dense columns; beyond, sparse.
_DENSE_CLASSES = 16


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

    def auc_classes(self) -> list[int]:
        """The classes with an AUC: the positive class of a binary model, else every class."""
        return [1] if self.n_classes == 2 else list(range(self.n_classes))

    @functools.cached_property
    def score_orders(self) -> tuple[np.ndarray, ...]:
        """Rows in ascending order of each :meth:`auc_classes` probability (stable)."""
        return tuple(np.argsort(self.proba[:, k], kind="stable") for k in self.auc_classes())

    def row_terms(self, rows: slice | np.ndarray) -> np.ndarray:
        """Correct, log loss and Brier terms of ``rows``, shape (m, 3).

        The log loss clips probabilities to [eps, 1 - eps] as scikit-learn does;
        scikit-learn's binary Brier score halves the two-column sum.
        """
        y, proba = self.y[rows], self.proba[rows]
        m = len(y)
        eps = np.finfo(np.float64).eps
        picked = np.clip(proba[np.arange(m), y], eps, 1 - eps)
        truth = np.zeros_like(proba)
        truth[np.arange(m), y] = 1.0
        squared = ((proba - truth) ** 2).sum(axis=1)
        if self.n_classes == 2:
            squared = squared / 2
        correct = (self.predicted[rows] == y).astype(np.float64)
        return np.column_stack([correct, -np.log(picked), squared])

    def linear_sums(self, weights: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        """Weighted :meth:`row_terms`, then true positives, support and predictions per class.

        Returns
        -------
        ndarray of shape (b, 3 + 3k)
        """
        k, y, guess = self.n_classes, self.y[rows], self.predicted[rows]
        terms = self.row_terms(rows)
        if k <= _DENSE_CLASSES:  # one dense product for everything
            truth, chosen = np.eye(k)[y], np.eye(k)[guess]
            return weighted_sums(weights, np.hstack([terms, truth * chosen, truth, chosen]))
        hit = np.where(y == guess, 2 * k + y, 3 * k)  # a miss lands in a discarded cell
        cells = np.column_stack([hit, y, k + guess])
        sums = weighted_cell_sums(weights, cells, 3 * k + 1)
        return np.hstack([weighted_sums(weights, terms), sums[:, 2 * k:3 * k], sums[:, :2 * k]])


class ResampledMetrics(ChunkedStatistic):
    """Bootstrap statistic of ``performance_metrics``: every headline metric per resample.

    One pass over the rows in ascending order of each AUC class's
    probability; the first also adds up the linear terms.

    Parameters
    ----------
    pred : Predictions
        Shared by every block of resamples.
    """

    def __init__(self, pred: Predictions) -> None:
        self.pred = pred

    @property
    def n_rows(self) -> int:
        """Rows weighed: every audited row."""
        return self.pred.n

    @property
    def orders(self) -> tuple[np.ndarray | None, ...]:
        """One pass per AUC class, in ascending order of its probability."""
        return self.pred.score_orders

    def start(self, n_resamples: int) -> dict[str, Any]:
        """Empty sums and one running AUC per class."""
        k = self.pred.n_classes
        return {"sums": np.zeros((n_resamples, 3 + 3 * k)),
                "auc": [RunningAUC(n_resamples) for _ in self.pred.auc_classes()]}

    def update(self, state: dict[str, Any], step: int, weights: np.ndarray,
               rows: slice | np.ndarray) -> None:
        """Add a chunk: linear sums in the first pass, the pass's class AUC in every pass."""
        pred = self.pred
        if step == 0:
            state["sums"] += pred.linear_sums(weights, rows)
        k = pred.auc_classes()[step]
        state["auc"][step].update(weights, pred.proba[rows, k], pred.y[rows] == k)

    def finish(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """Every metric from the sums, dividing by each resample's total weight."""
        k = self.pred.n_classes
        correct, log_loss, brier = state["sums"][:, :3].T
        counts = state["sums"][:, 3:]
        tp, support, predicted = counts[:, :k], counts[:, k:2 * k], counts[:, 2 * k:]
        total = support.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall_present = np.where(support > 0, tp / support, np.nan)
            precision = np.where(predicted > 0, tp / predicted, 0.0)
            recall = np.where(support > 0, tp / support, 0.0)
            f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
            total = np.where(total > 0, total, np.nan)
        per_class = np.array([curve.result() for curve in state["auc"]])
        with np.errstate(invalid="ignore"):
            # Classes absent from y have no AUC; average the others, as the point estimate does.
            auc = np.nanmean(np.where(np.isnan(per_class).all(axis=0), 0.0, per_class), axis=0) \
                if len(per_class) > 1 else per_class[0]
            balanced = np.nanmean(np.where(np.isnan(recall_present).all(axis=1, keepdims=True),
                                           0.0, recall_present), axis=1)
        return {
            "accuracy": correct / total,
            "balanced_accuracy": balanced,
            "precision_macro": precision.mean(axis=1),
            "recall_macro": recall.mean(axis=1),
            "f1_macro": f1.mean(axis=1),
            "roc_auc": auc,
            "log_loss": log_loss / total,
            "brier_score": brier / total,
        }


class ResampledECE(ChunkedStatistic):
    """Bootstrap statistic of the expected calibration error, per resample.

    Per confidence bin, the weighted sum of ``correct - confidence`` is the
    bin's gap times its weight; ECE is the sum of their absolute values over
    the resample's total weight.

    Parameters
    ----------
    pred : Predictions
        Shared by every block of resamples.
    n_bins : int
        Equal-width confidence bins.
    """

    def __init__(self, pred: Predictions, n_bins: int) -> None:
        self.pred = pred
        self.n_bins = n_bins

    @property
    def n_rows(self) -> int:
        """Rows weighed: every audited row."""
        return self.pred.n

    def start(self, n_resamples: int) -> dict[str, Any]:
        """Empty per-bin gap sums, the last column the total weight."""
        return {"sums": np.zeros((n_resamples, self.n_bins + 1))}

    def update(self, state: dict[str, Any], step: int, weights: np.ndarray,
               rows: slice | np.ndarray) -> None:
        """Add a chunk's weighted gap per bin and its total weight."""
        confidence = self.pred.confidence[rows]
        gap = (self.pred.predicted[rows] == self.pred.y[rows]) - confidence
        index = calibration_bin_index(confidence, self.n_bins)
        cells = np.column_stack([index, np.full(len(index), self.n_bins)])
        values = np.column_stack([gap, np.ones(len(index))])
        state["sums"] += weighted_cell_sums(weights, cells, self.n_bins + 1, values=values)

    def finish(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """``"ece"``: ndarray of shape (b,)."""
        sums = state["sums"]
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"ece": np.abs(sums[:, :-1]).sum(axis=1) / sums[:, -1]}


def predictions(model: ModelAdapter, data: AuditData, context: CheckContext) -> Predictions:
    """Labels and probabilities of every audited row, computed once per audit.

    For streamed data (``data.population`` set) these are every row's, predicted
    batch by batch while the data was read; otherwise the samples of ``data.X``.
    """
    def compute() -> Predictions:
        population = data.population
        # Predict first: a black-box model learns its number of classes from its first output.
        proba = population.proba if population is not None else context.test_proba(model, data)
        names = data.class_names or tuple(str(c) for c in model.classes_)
        return Predictions(model.label_indices(data.all_y), proba, tuple(names))

    return context.shared("predictions", id(model), compute)


def input_rows(data: AuditData) -> np.ndarray:
    """Row of :func:`predictions` of each sample of ``data.X``.

    The identity for ordinary data; for streamed data, the positions of the
    sample kept with its inputs among every row.
    """
    population = data.population
    return np.arange(data.n_samples) if population is None else population.sample_rows


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
