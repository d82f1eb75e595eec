"""Performance: the generalisation gap, accuracy and loss on training rows against test rows.

A model far more accurate on the rows it was trained on than on new rows
has memorised them (overfitting), and its training metrics say nothing about
deployment. The two splits are independent samples, so each accuracy gets a
Wilson score interval, the accuracy gap (train minus test) Newcombe's hybrid
score interval, each mean log loss a Student-t interval and the loss gap
(test minus train) Welch's interval. The verdict rests on the gap's lower
confidence bound (``accuracy_gap_lower_bound``), so that sampling noise in a
small training split cannot raise the alarm alone; the point gap is
reported beside it. The check applies only when ``AuditData.train`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from ..._stats import (
    NEWCOMBE,
    WILSON,
    mean_difference_interval,
    mean_interval,
    newcombe_interval,
    wilson_interval,
)
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import predictions
from .._params import CONFIDENCE, Interval

__all__ = ["PerformanceGeneralisation", "NO_TRAIN"]

NO_TRAIN = ("This check compares the training rows with the test rows, and the audited data "
            "has no training split (AuditData(..., train=(X_train, y_train)) gives one).")
_T_INTERVAL = "Student-t interval of the mean"
_WELCH = "Welch interval of a difference of means"


@register_check
@dataclass(frozen=True)
class PerformanceGeneralisation(Check):
    """Train against test accuracy and log loss, and the gap between them, with intervals.

    Parameters
    ----------
    max_train_samples : int or None, default=10000
        Training rows to predict, drawn at random (seeded) when the training
        split is larger; None predicts every one.
    confidence : float, default=0.95
        Level of the intervals, in (0, 1). The judged lower bound of the gap
        is the lower end of the two-sided interval.

    Examples
    --------
    >>> from auditkit.checks import PerformanceGeneralisation
    >>> PerformanceGeneralisation(max_train_samples=2000).max_train_samples
    2000
    """

    name = "performance_generalisation"
    family = "performance"
    order = 3
    description = ("The generalisation gap: accuracy and log loss on the training rows against "
                   "the test rows, with intervals (applies when a training split is given).")
    requires = frozenset({"predict"})

    verdict_metrics = ("accuracy_gap_lower_bound",)
    shares = ("predictions", "proba")
    streams = True  # every row of streamed data, through the shared predictions
    parameter_constraints = {"max_train_samples": [None, Interval(Integral, 1, None)],
                             "confidence": CONFIDENCE}

    max_train_samples: int | None = 10_000
    confidence: float = 0.95

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply: the base reasons, or no training split."""
        reason = super().skip_reason(model, data)
        if reason is None and data.train is None:
            return NO_TRAIN
        return reason

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the class docstring."""
        test = predictions(model, data, context)
        n_train_total = len(data.train.y)
        rows = np.arange(n_train_total)
        if self.max_train_samples is not None and n_train_total > self.max_train_samples:
            rows = np.sort(context.rng(self.name).choice(n_train_total, self.max_train_samples,
                                                         replace=False))
        key = "train" if len(rows) == n_train_total else f"train[{len(rows)} drawn]"
        train_proba = context.predict_proba(model, data.train.X[rows], key=key)
        train_y = model.label_indices(np.asarray(data.train.y)[rows])
        splits = {"train": (train_y, train_proba), "test": (test.y, test.proba)}
        level = self.confidence
        hits = {name: (np.argmax(proba, axis=1) == y) for name, (y, proba) in splits.items()}
        metrics: dict[str, Metric] = {}
        table: dict[str, dict[str, float]] = {}
        for name, correct in hits.items():
            k, n = int(correct.sum()), len(correct)
            low, high = (float(v) for v in wilson_interval(k, n, level))
            metrics[f"{name}_accuracy"] = Metric(k / n, low, high, level, n, WILSON, True)
            table[name] = {"samples": n, "accuracy": k / n, "accuracy_lower": low,
                           "accuracy_upper": high}
        (k1, n1), (k2, n2) = ((int(c.sum()), len(c)) for c in (hits["train"], hits["test"]))
        gap = k1 / n1 - k2 / n2
        gap_low, gap_high = newcombe_interval(k1, n1, k2, n2, level)
        # A gap rests on two samples; their sizes are in the table (n is one sample's size).
        metrics["accuracy_gap"] = Metric(gap, gap_low, gap_high, level, None, NEWCOMBE, False)
        metrics["accuracy_gap_lower_bound"] = Metric(
            gap_low, method=f"lower end of the {level:.0%} {NEWCOMBE}", higher_is_better=False)
        headline = (f"Accuracy {k1 / n1:.1%} on {n1:,} training rows"
                    + (f" (drawn from {n_train_total:,})" if n1 < n_train_total else "")
                    + f" against {k2 / n2:.1%} on {n2:,} test rows: a gap of "
                    f"{gap * 100:+.1f} points ({level:.0%} CI {gap_low * 100:+.1f} to "
                    f"{gap_high * 100:+.1f}).")
        if "probabilities" in model.capabilities:
            losses = {name: _log_losses(y, proba) for name, (y, proba) in splits.items()}
            for name, loss in losses.items():
                low, high = mean_interval(loss, level)
                low = max(low, 0.0)  # a loss is never negative; skewed losses can push t below
                metrics[f"{name}_log_loss"] = Metric(float(loss.mean()), low, high, level,
                                                     loss.size, _T_INTERVAL, False)
                table[name].update(log_loss=float(loss.mean()), log_loss_lower=low,
                                   log_loss_upper=high)
            low, high = mean_difference_interval(losses["test"], losses["train"], level)
            loss_gap = float(losses["test"].mean() - losses["train"].mean())
            metrics["log_loss_gap"] = Metric(loss_gap, low, high, level, None, _WELCH, False)
            headline += (f" Mean log loss {losses['train'].mean():.3f} on training rows against "
                         f"{losses['test'].mean():.3f} on test rows.")
        splits_table = pd.DataFrame.from_dict(table, orient="index")
        splits_table.index.name = "split"
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"splits": splits_table})


def _log_losses(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy, clipped as scikit-learn's ``log_loss`` clips."""
    eps = np.finfo(np.float64).eps
    picked = np.clip(proba[np.arange(len(y)), y], eps, 1 - eps)
    return -np.log(picked)
