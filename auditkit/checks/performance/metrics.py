"""Performance: how often and how well the model classifies the audited samples.

Accuracy, balanced accuracy, macro precision / recall / F1, ROC AUC (binary,
or one-vs-rest macro), log loss and Brier score, each from scikit-learn on
the whole sample; per-class precision, recall, F1 and support; ROC curves per
class. Proportions get closed-form Wilson score intervals (accuracy, and each
class's precision and recall), and balanced accuracy, a mean of the classes'
recalls, the MOVER interval built from them; these stay honest at a few
dozen samples where a bootstrap of a perfect score collapses to [1, 1]. The
other metrics, which have no closed form, get percentile intervals of a Poisson
bootstrap, whose memory does not grow with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..._stats import (
    MOVER,
    WILSON,
    BootstrapSpec,
    mover_mean_interval,
    percentile_interval,
    poisson_bootstrap,
    wilson_interval,
)
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import Predictions, ResampledMetrics, predictions
from .._params import CONFIDENCE, NON_NEGATIVE_INT

__all__ = ["PerformanceMetrics"]

_HIGHER_IS_BETTER = {
    "accuracy": True, "balanced_accuracy": True, "precision_macro": True, "recall_macro": True,
    "f1_macro": True, "roc_auc": True, "log_loss": False, "brier_score": False,
}
_ROC_POINTS = 200


@register_check
@dataclass(frozen=True)
class PerformanceMetrics(Check):
    """Classification metrics with confidence intervals.

    Accuracy, and each class's precision and recall (table
    ``per_class_intervals``), are proportions: they get Wilson score
    intervals whatever ``n_resamples``; balanced accuracy gets the
    MOVER-Wilson interval of a mean of proportions. The other metrics get
    percentile intervals of a Poisson bootstrap (each row weighted by a
    Poisson(1) count in each resample).

    Parameters
    ----------
    n_resamples : int, default=1000
        Bootstrap resamples for the intervals of the metrics that are not
        proportions (0 for none).
    confidence : float, default=0.95
        Level of the intervals, in (0, 1).

    Examples
    --------
    >>> from auditkit.checks import PerformanceMetrics
    >>> PerformanceMetrics(n_resamples=200).n_resamples
    200
    """

    name = "performance_metrics"
    family = "performance"
    requires = frozenset({"predict"})
    order = 0
    description = ("Accuracy, balanced accuracy, precision, recall, F1, ROC AUC, log loss and "
                   "Brier score on the audited samples, with Wilson intervals for proportions "
                   "and bootstrap intervals for the rest.")

    verdict_metrics = ("accuracy", "balanced_accuracy", "roc_auc")
    emitted_metrics = tuple(_HIGHER_IS_BETTER)
    shares = ("predictions",)
    streams = True  # every row of streamed data, through the shared predictions
    parameter_constraints = {"n_resamples": NON_NEGATIVE_INT, "confidence": CONFIDENCE}

    n_resamples: int = 1000
    confidence: float = 0.95

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the class docstring."""
        spec = BootstrapSpec(self.n_resamples, self.confidence)
        pred = predictions(model, data, context)
        labels = np.arange(pred.n_classes)
        values = _point_estimates(pred, labels)
        samples = poisson_bootstrap(ResampledMetrics(pred), spec=spec,
                                    rng=context.rng(self.name), executor=context.executor)
        # Closed-form intervals (below) replace the bootstrap's for these two.
        samples = {k: v for k, v in samples.items()
                   if k not in ("accuracy", "balanced_accuracy") and not np.isnan(values[k])}
        metrics = {}
        for name, value in values.items():
            low, high = (percentile_interval(samples[name], spec.confidence)
                         if name in samples else (None, None))
            metrics[name] = Metric(value, low, high, spec.confidence if name in samples else None,
                                   pred.n, spec.poisson_method if name in samples else None,
                                   _HIGHER_IS_BETTER[name])
        correct = int(pred.correct.sum())
        low, high = wilson_interval(correct, pred.n, spec.confidence)
        metrics["accuracy"] = Metric(values["accuracy"], float(low), float(high),
                                     spec.confidence, pred.n, WILSON, True)
        hits, support = _recall_counts(pred, labels)
        present = support > 0  # balanced accuracy averages the classes present in y
        low, high = mover_mean_interval(hits[present], support[present], spec.confidence)
        metrics["balanced_accuracy"] = Metric(values["balanced_accuracy"], low, high,
                                              spec.confidence, pred.n, MOVER, True)
        per_class = _per_class_table(pred, labels)
        accuracy = metrics["accuracy"]
        headline = (f"Accuracy {accuracy.value:.1%} ({correct:,} of {pred.n:,}; "
                    f"{spec.confidence:.0%} Wilson CI {accuracy.lower:.1%} to "
                    f"{accuracy.upper:.1%})"
                    + f", balanced accuracy {metrics['balanced_accuracy'].value:.1%} and ROC AUC "
                    f"{metrics['roc_auc'].value:.3f} on {pred.n:,} samples.")
        worst, best = per_class["recall"].idxmin(), per_class["recall"].idxmax()
        headline += (f" Recall by class runs from {per_class.loc[worst, 'recall']:.1%} "
                     f"(class {worst!r}) to {per_class.loc[best, 'recall']:.1%} "
                     f"(class {best!r}).")
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"per_class": per_class,
                                   "per_class_intervals": _per_class_intervals(
                                       pred, labels, spec.confidence)},
                           figures={"roc": _roc_figure(pred)})


def _point_estimates(pred: Predictions, labels: np.ndarray) -> dict[str, float]:
    y, guess, proba = pred.y, pred.predicted, pred.proba
    present = np.unique(y)
    if pred.n_classes == 2:
        roc_auc = skm.roc_auc_score(y, proba[:, 1])
    elif len(present) == pred.n_classes:
        roc_auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
    else:  # one-vs-rest over the classes present (scikit-learn needs all of them)
        roc_auc = float(np.mean([skm.roc_auc_score(y == k, proba[:, k]) for k in present]))
    return {
        "accuracy": skm.accuracy_score(y, guess),
        "balanced_accuracy": skm.balanced_accuracy_score(y, guess),
        "precision_macro": skm.precision_score(y, guess, labels=labels, average="macro",
                                               zero_division=0),
        "recall_macro": skm.recall_score(y, guess, labels=labels, average="macro",
                                         zero_division=0),
        "f1_macro": skm.f1_score(y, guess, labels=labels, average="macro", zero_division=0),
        "roc_auc": float(roc_auc),
        "log_loss": skm.log_loss(y, proba, labels=labels),
        "brier_score": skm.brier_score_loss(y, proba if pred.n_classes > 2 else proba[:, 1],
                                            labels=labels),
    }


def _per_class_table(pred: Predictions, labels: np.ndarray) -> pd.DataFrame:
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        pred.y, pred.predicted, labels=labels, zero_division=0)
    auc = [skm.roc_auc_score(pred.y == k, pred.proba[:, k]) if 0 < support[k] < pred.n
           else np.nan for k in labels]
    table = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1,
                          "roc_auc_one_vs_rest": auc, "support": support.astype(np.int64)},
                         index=pd.Index(list(pred.class_names), name="class"))
    return table


def _recall_counts(pred: Predictions, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct predictions and samples of each true class."""
    true_positive = np.array([np.sum((pred.y == k) & (pred.predicted == k)) for k in labels])
    return true_positive, np.bincount(pred.y, minlength=len(labels))[: len(labels)]


def _per_class_intervals(pred: Predictions, labels: np.ndarray,
                         confidence: float) -> pd.DataFrame:
    """Wilson intervals of each class's precision and recall (NaN where undefined)."""
    true_positive, support = _recall_counts(pred, labels)
    predicted = np.bincount(pred.predicted, minlength=len(labels))[: len(labels)]
    precision_low, precision_high = wilson_interval(true_positive, predicted, confidence)
    recall_low, recall_high = wilson_interval(true_positive, support, confidence)
    return pd.DataFrame({"precision_lower": precision_low, "precision_upper": precision_high,
                         "predicted": predicted.astype(np.int64),
                         "recall_lower": recall_low, "recall_upper": recall_high,
                         "support": support.astype(np.int64)},
                        index=pd.Index(list(pred.class_names), name="class"))


def _roc_figure(pred: Predictions) -> Figure:
    classes = [1] if pred.n_classes == 2 else range(pred.n_classes)
    data: dict[str, object] = {"classes": [pred.class_names[k] for k in classes]}
    grid = np.linspace(0.0, 1.0, _ROC_POINTS)
    curves = []
    for k in classes:
        positive = pred.y == k
        if positive.all() or not positive.any():
            curves.append(np.full(_ROC_POINTS, np.nan))
            continue
        fpr, tpr, _ = skm.roc_curve(positive, pred.proba[:, k])
        curves.append(np.interp(grid, fpr, tpr))
    data["fpr"] = grid
    data["tpr"] = np.vstack(curves)
    return Figure("roc_curves", data, "ROC curve" + ("s (one vs rest)" if len(classes) > 1 else ""))
