"""Fairness across decision thresholds: disparity curves and per-group ROC curves.

For a grid of thresholds on the positive-class probability: the selection
rate, true and false positive rates of every group of each sensitive feature,
and the demographic parity and equalized odds differences between the groups
(those with at least ``min_group_size`` samples), with the model's own
operating point (argmax: 0.5 for a binary model) marked; and each group's ROC
curve and AUC (scikit-learn). Multi-class models are read one class against
the rest, showing the class with the widest equalized odds gap at the
operating point.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import Predictions, predictions
from .._params import Interval
from ._common import GROUPING_CONSTRAINTS, GroupSet, sensitive_group_sets

__all__ = ["FairnessThresholds", "threshold_rates"]

_ROC_POINTS = 101


def threshold_rates(scores: np.ndarray, positive: np.ndarray, codes: np.ndarray, n_groups: int,
                    thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group selection rate, TPR and FPR at every threshold (selected: score > threshold).

    Each sample is counted once, in the cell of its (group, label) and of the
    number of thresholds below its score; a cumulative sum over that number
    gives, for every threshold at once, how many samples of each cell lie
    above it. No sort and no (samples x cells) array: memory is a few
    integers per sample.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
    positive : bool ndarray of shape (n_samples,)
    codes : int ndarray of shape (n_samples,)
        Group index of each sample.
    n_groups : int
    thresholds : ndarray of shape (n_thresholds,)
        Ascending.

    Returns
    -------
    dict of str to ndarray
        ``selection_rate``, ``tpr``, ``fpr`` of shape (n_groups, n_thresholds),
        NaN where a group has no samples, positives or negatives.
    """
    n_thresholds = len(thresholds)
    below = np.searchsorted(thresholds, scores, side="left")  # thresholds under each score
    cells = codes * 2 + positive
    counts = np.bincount(cells * (n_thresholds + 1) + below,
                         minlength=2 * n_groups * (n_thresholds + 1))
    counts = counts.reshape(2 * n_groups, n_thresholds + 1)
    # selected at threshold j (score > thresholds[j]) when more than j thresholds lie below
    above = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1][:, 1:]
    above = above.reshape(n_groups, 2, n_thresholds).astype(np.float64)
    fp, tp = above[:, 0], above[:, 1]
    negatives = np.bincount(codes[~positive], minlength=n_groups)[:, None].astype(np.float64)
    positives = np.bincount(codes[positive], minlength=n_groups)[:, None].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"selection_rate": (tp + fp) / (positives + negatives), "tpr": tp / positives,
                "fpr": fp / negatives}


def _spread(values: np.ndarray) -> np.ndarray:
    """Max - min over the groups (axis 0), ignoring undefined rates; NaN under two groups."""
    finite = np.isfinite(values)
    high = np.where(finite, values, -np.inf).max(axis=0, initial=-np.inf)
    low = np.where(finite, values, np.inf).min(axis=0, initial=np.inf)
    with np.errstate(invalid="ignore"):
        return np.where(finite.sum(axis=0) >= 2, high - low, np.nan)


def _equalized_odds(tpr: np.ndarray, fpr: np.ndarray) -> np.ndarray:
    return np.fmax(_spread(tpr), _spread(fpr))


@register_check
@dataclass(frozen=True)
class FairnessThresholds(Check):
    """Disparities against the decision threshold, and ROC curves and AUC per group.

    Parameters
    ----------
    n_thresholds : int, default=101
        Evenly spaced thresholds from 0 to 1 on the positive-class probability (at least 3).
    min_group_size : int, default=30
        Groups with fewer samples are drawn but left out of the disparities.
    n_bins : int, default=4
        Quantile bins of a numeric sensitive feature with many values.
    max_categories : int, default=10
        A numeric feature with more distinct values than this is binned.

    Examples
    --------
    >>> from auditkit.checks import FairnessThresholds
    >>> FairnessThresholds(n_thresholds=51).n_thresholds
    51
    """

    name = "fairness_thresholds"
    family = "fairness"
    order = 2
    requires = frozenset({"predict", "probabilities"})
    needs_sensitive = True
    description = ("Selection rate, TPR and FPR per group, and the demographic parity and "
                   "equalized odds differences, across decision thresholds with the operating "
                   "point marked; ROC curve and AUC per group.")

    shares = ("predictions",)
    streams = True  # every row of streamed data, through the shared predictions
    parameter_constraints = {"n_thresholds": [Interval(Integral, 3, None)],
                             **GROUPING_CONSTRAINTS}

    n_thresholds: int = 101
    min_group_size: int = 30
    n_bins: int = 4
    max_categories: int = 10

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the curves; see the class docstring."""
        pred = predictions(model, data, context)
        group_sets, _ = sensitive_group_sets(data.all_sensitive, n_bins=self.n_bins,
                                             max_categories=self.max_categories,
                                             intersections=False)
        thresholds = np.linspace(0.0, 1.0, self.n_thresholds)
        found = [self._feature(pred, g, thresholds) for g in group_sets]
        curves, rates, aucs, figures = [], [], [], {}
        for g, f in zip(group_sets, found, strict=True):
            curves.append(pd.DataFrame(
                {"class": f["class"], "demographic_parity_difference": f["dp"],
                 "equalized_odds_difference": f["eo"]},
                index=pd.MultiIndex.from_product([[g.name], thresholds],
                                                 names=["sensitive_feature", "threshold"])))
            rates.append(pd.DataFrame(
                {rate: f[rate].ravel() for rate in ("selection_rate", "tpr", "fpr")},
                index=pd.MultiIndex.from_product([[g.name], list(g.groups), thresholds],
                                                 names=["sensitive_feature", "group",
                                                        "threshold"])))
            aucs.append(pd.DataFrame(
                {"class": f["class"], "count": g.counts.astype(np.int64),
                 "too_small": g.counts < self.min_group_size, "auc": f["auc"],
                 "operating_selection_rate": f["op_selection_rate"],
                 "operating_tpr": f["op_tpr"], "operating_fpr": f["op_fpr"]},
                index=pd.MultiIndex.from_product([[g.name], list(g.groups)],
                                                 names=["sensitive_feature", "group"])))
            figures[f"disparity_curves_{g.name}"] = self._curve_figure(g, f, thresholds)
            figures[f"group_roc_curves_{g.name}"] = self._roc_figure(g, f)
        tables = {"disparity_curves": pd.concat(curves), "group_rates": pd.concat(rates),
                  "group_auc": pd.concat(aucs)}
        metrics = self._metrics(found, pred.n)
        return self.result(Status.INFO, self._headline(group_sets, found), metrics=metrics,
                           tables=tables, figures=figures)

    def _feature(self, pred: Predictions, group_set: GroupSet,
                 thresholds: np.ndarray) -> dict[str, Any]:
        """Curves of one sensitive feature, for the worst class at the operating point."""
        from sklearn.metrics import roc_auc_score, roc_curve

        judged = group_set.counts >= self.min_group_size
        n_groups, codes = len(group_set.groups), group_set.codes
        candidates = []
        for k in ([1] if pred.n_classes == 2 else range(pred.n_classes)):
            positive = pred.y == k
            rates = threshold_rates(pred.proba[:, k], positive, codes, n_groups, thresholds)
            selected = (pred.predicted == k).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                op = {"op_selection_rate": np.bincount(codes, selected, n_groups)
                      / group_set.counts,
                      "op_tpr": np.bincount(codes[positive], selected[positive], n_groups)
                      / np.bincount(codes[positive], minlength=n_groups),
                      "op_fpr": np.bincount(codes[~positive], selected[~positive], n_groups)
                      / np.bincount(codes[~positive], minlength=n_groups)}
            candidates.append({
                "class": pred.class_names[k], "k": k, "binary": pred.n_classes == 2, **rates,
                **op, "op_dp": float(_spread(op["op_selection_rate"][judged, None])[0]),
                "op_eo": float(_equalized_odds(op["op_tpr"][judged, None],
                                               op["op_fpr"][judged, None])[0]),
                "dp": _spread(rates["selection_rate"][judged]),
                "eo": _equalized_odds(rates["tpr"][judged], rates["fpr"][judged])})
        # the first class with the widest gap at the operating point (NaN ranks last)
        best = max(candidates, key=lambda c: np.nan_to_num(c["op_eo"], nan=-1.0))
        grid = np.linspace(0.0, 1.0, _ROC_POINTS)
        roc_tpr, auc = np.full((n_groups, _ROC_POINTS), np.nan), np.full(n_groups, np.nan)
        positive = pred.y == best["k"]
        for g in range(n_groups):  # a handful of groups; each curve is scikit-learn's
            members = codes == g
            if 0 < positive[members].sum() < members.sum():
                scores = pred.proba[members, best["k"]]
                fpr, tpr, _ = roc_curve(positive[members], scores)
                roc_tpr[g] = np.interp(grid, fpr, tpr)
                auc[g] = roc_auc_score(positive[members], scores)
        best.update(roc_fpr=grid, roc_tpr=roc_tpr, auc=auc, judged=judged)
        return best

    def _metrics(self, found: list[dict[str, Any]], n: int) -> dict[str, Metric]:
        def worst(values: list[float], *, higher_is_better: bool = False) -> Metric:
            values = [v for v in values if np.isfinite(v)]
            if not values:
                return Metric(float("nan"), n=n, higher_is_better=higher_is_better)
            return Metric(min(values) if higher_is_better else max(values), n=n,
                          higher_is_better=higher_is_better)

        def nanmax(values: np.ndarray) -> float:
            return float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")

        judged_auc = [f["auc"][f["judged"]] for f in found]
        return {
            "demographic_parity_difference_at_operating_point": worst([f["op_dp"]
                                                                      for f in found]),
            "equalized_odds_difference_at_operating_point": worst([f["op_eo"] for f in found]),
            "max_demographic_parity_difference_over_thresholds": worst([nanmax(f["dp"])
                                                                       for f in found]),
            "max_equalized_odds_difference_over_thresholds": worst([nanmax(f["eo"])
                                                                   for f in found]),
            "min_group_auc": worst([float(np.nanmin(a)) if np.isfinite(a).any()
                                    else float("nan") for a in judged_auc],
                                   higher_is_better=True),
            "group_auc_gap": worst([float(np.nanmax(a) - np.nanmin(a))
                                    if np.isfinite(a).sum() >= 2 else float("nan")
                                    for a in judged_auc]),
        }

    def _curve_figure(self, group_set: GroupSet, found: dict[str, Any],
                      thresholds: np.ndarray) -> Figure:
        data = {"feature": group_set.name, "groups": list(group_set.groups),
                "thresholds": thresholds, "selection_rate": found["selection_rate"],
                "tpr": found["tpr"], "fpr": found["fpr"],
                "demographic_parity_difference": found["dp"],
                "equalized_odds_difference": found["eo"],
                "too_small": group_set.counts < self.min_group_size,
                "operating_threshold": 0.5 if found["binary"] else float("nan"),
                "operating_demographic_parity_difference": found["op_dp"],
                "operating_equalized_odds_difference": found["op_eo"],
                "positive_class": found["class"]}
        return Figure("disparity_curves", data, f"Disparities by {group_set.name} across "
                      "thresholds")

    def _roc_figure(self, group_set: GroupSet, found: dict[str, Any]) -> Figure:
        data = {"feature": group_set.name, "groups": list(group_set.groups),
                "fpr": found["roc_fpr"], "tpr": found["roc_tpr"], "auc": found["auc"],
                "count": group_set.counts.astype(np.int64),
                "too_small": group_set.counts < self.min_group_size,
                "operating_fpr": found["op_fpr"], "operating_tpr": found["op_tpr"],
                "positive_class": found["class"]}
        return Figure("group_roc_curves", data, f"ROC curves by {group_set.name}")

    def _headline(self, group_sets: list[GroupSet], found: list[dict[str, Any]]) -> str:
        ranked = [i for i in range(len(found)) if np.isfinite(found[i]["op_eo"])]
        if not ranked:
            return (f"No sensitive feature has two groups of at least {self.min_group_size} "
                    "samples: no disparity across thresholds is computed.")
        i = max(ranked, key=lambda j: found[j]["op_eo"])
        f, g = found[i], group_sets[i]
        eo = f["eo"][np.isfinite(f["eo"])]
        where = ("at the operating point (threshold 0.5)" if f["binary"]
                 else "at the operating point (argmax)")
        text = (f"By {g.name}, for class {f['class']!r}, the equalized odds difference is "
                f"{f['op_eo']:.3f} {where} and ranges from {eo.min():.3f} to {eo.max():.3f} "
                f"over thresholds from 0 to 1; the demographic parity difference there is "
                f"{f['op_dp']:.3f}.")
        auc = f["auc"]
        shown = np.flatnonzero(np.isfinite(auc) & f["judged"])
        if len(shown) >= 2:
            low, high = shown[np.argmin(auc[shown])], shown[np.argmax(auc[shown])]
            text += (f" AUC by group runs from {auc[low]:.3f} ({g.groups[low]}) to "
                     f"{auc[high]:.3f} ({g.groups[high]}).")
        return text

