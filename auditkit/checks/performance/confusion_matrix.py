"""Performance: which classes the model confuses with which.

The confusion matrix from scikit-learn (counts, and normalised by true
class), with the most frequent confusions named, and the error rate with its
Wilson score interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from ..._stats import WILSON, wilson_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import predictions
from .._params import CONFIDENCE, POSITIVE_INT

__all__ = ["PerformanceConfusionMatrix"]


@register_check
@dataclass(frozen=True)
class PerformanceConfusionMatrix(Check):
    """Confusion matrix and the most frequent confusions.

    Parameters
    ----------
    top_k : int, default=5
        How many of the largest off-diagonal cells to list (at least 1).
    confidence : float, default=0.95
        Level of the error rate's Wilson interval, in (0, 1).

    Examples
    --------
    >>> from auditkit.checks import PerformanceConfusionMatrix
    >>> PerformanceConfusionMatrix(top_k=3).top_k
    3
    """

    name = "performance_confusion_matrix"
    family = "performance"
    requires = frozenset({"predict"})
    order = 1
    description = "Counts of true against predicted classes, and the most frequent confusions."

    shares = ("predictions",)
    streams = True  # every row of streamed data, through the shared predictions
    parameter_constraints = {"top_k": POSITIVE_INT, "confidence": CONFIDENCE}

    top_k: int = 5
    confidence: float = 0.95

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the class docstring."""
        pred = predictions(model, data, context)
        labels = np.arange(pred.n_classes)
        counts = confusion_matrix(pred.y, pred.predicted, labels=labels)
        names = list(pred.class_names)
        support = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            normalised = np.where(support > 0, counts / support, np.nan)
        off = counts.astype(np.float64).copy()
        np.fill_diagonal(off, -1)
        order = np.argsort(off, axis=None)[::-1][: self.top_k]
        rows = []
        for flat in order:
            true, guess = np.unravel_index(flat, counts.shape)
            if off[true, guess] <= 0:  # no more confusions (the diagonal is marked -1)
                break
            rows.append({"true_class": names[true], "predicted_class": names[guess],
                         "count": int(counts[true, guess]),
                         "share_of_true_class": float(normalised[true, guess])})
        confusions = pd.DataFrame(rows, columns=["true_class", "predicted_class", "count",
                                                 "share_of_true_class"])
        matrix = pd.DataFrame(counts, index=pd.Index(names, name="true"),
                              columns=pd.Index(names, name="predicted"))
        errors = int(counts.sum() - np.trace(counts))
        low, high = wilson_interval(errors, pred.n, self.confidence)
        headline = f"{errors:,} of {pred.n:,} samples misclassified"
        if rows:
            top = rows[0]
            headline += (f"; the most frequent confusion is {top['true_class']!r} predicted as "
                         f"{top['predicted_class']!r} ({top['count']:,} samples, "
                         f"{top['share_of_true_class']:.1%} of that class).")
        else:
            headline += "."
        return self.result(
            Status.INFO, headline,
            metrics={"error_rate": Metric(errors / pred.n, float(low), float(high),
                                          self.confidence, pred.n, WILSON, False)},
            tables={"confusion_matrix": matrix, "top_confusions": confusions},
            figures={"confusion_matrix": Figure("confusion_matrix",
                                                {"counts": counts, "normalised": normalised,
                                                 "labels": names},
                                                "Confusion matrix (rows: true class)")},
        )
