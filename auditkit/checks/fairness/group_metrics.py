"""Fairness: how the model treats each group of each sensitive feature.

Per group (each sensitive feature, a continuous one in stated bins, and each
intersection of features): count, base rate, selection rate, accuracy, true
and false positive rates, false negative rate, precision and calibration
error, from fairlearn's MetricFrame; Poisson-bootstrap intervals on the
rates; groups smaller than ``min_group_size`` flagged with their size. Multi-class models
are read one class against the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status, TableComparison
from .._base import CheckContext, register_check
from ._common import FairnessAnalysis, FairnessCheck

__all__ = ["FairnessGroupMetrics"]

_POINT_COLUMNS = ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision")
_INTERVAL_RATES = ("selection_rate", "accuracy", "tpr", "fpr", "precision")
_FIGURE_RATES = ("selection_rate", "tpr", "fpr", "accuracy")
_MAX_FIGURE_GROUPS = 12
_MAX_NAMED_SMALL = 3
_SEPARATOR = " & "


@register_check
@dataclass(frozen=True)
class FairnessGroupMetrics(FairnessCheck):
    """Per-group rates with bootstrap intervals, for each sensitive feature and intersection.

    Parameters
    ----------
    min_group_size : int, default=30
        Groups with fewer samples are flagged as too small to judge and left
        out of the disparities (they stay in the per-group tables).
    intersections : bool, default=True
        Also audit every intersection of two or more sensitive features.
    bin_edges : mapping of str to list of float, optional
        Cut points of numeric sensitive features (``{"age": [25, 45]}`` gives
        ``< 25``, ``25 to < 45`` and ``>= 45``); each key must name a
        sensitive feature of the audited data (checked when the check runs).
    n_bins : int, default=4
        Quantile bins of a numeric sensitive feature with more than
        ``max_categories`` distinct values and no given cut points.
    max_categories : int, default=10
        A numeric sensitive feature with more distinct values than this is binned.
    n_resamples : int, default=1000
        Bootstrap resamples for the intervals (0 for none).
    confidence : float, default=0.95
        Level of the intervals, in (0, 1).

    Examples
    --------
    >>> from auditkit.checks import FairnessGroupMetrics
    >>> FairnessGroupMetrics(bin_edges={"age": [25, 45]}).bin_edges
    {'age': [25, 45]}
    """

    name = "fairness_group_metrics"
    family = "fairness"
    order = 0
    comparisons = (TableComparison(
        "groups", "Per-group rates by {split}", heading="Per-group rates",
        note="each group's rates with bootstrap intervals; changes are marked by the same "
             "rule (selection rate and count have no better side).", anchor="groups",
        row_anchor="group", split_level="sensitive_feature", value_label="Rate",
        values=("count", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision"),
        lower="{value}_lower", upper="{value}_upper", bounds_table="groups_intervals",
        directions={"count": None, "selection_rate": None, "accuracy": True, "tpr": True,
                    "fpr": False, "fnr": False, "precision": True}, order=1),)
    description = ("Count, base rate, selection rate, accuracy, TPR, FPR, FNR, precision and "
                   "calibration error of every group of each sensitive feature and of their "
                   "intersections, with bootstrap intervals; groups too small to judge are "
                   "flagged.")

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's tables; see the class docstring."""
        analysis = self.analysis(model, data, context)
        tables: dict[str, pd.DataFrame] = {}
        for key, intersection in (("groups", False), ("intersections", True)):
            sets = [s for s, g in enumerate(analysis.group_sets)
                    if g.is_intersection == intersection]
            if sets:
                tables[key] = pd.concat([self._points(analysis, s) for s in sets])
                if analysis.boot_sums is not None:
                    tables[f"{key}_intervals"] = pd.concat([self._intervals(analysis, s)
                                                            for s in sets])
        if analysis.binnings:
            tables["bins"] = pd.DataFrame(
                {"cut_points": [", ".join(f"{c:g}" for c in b["cut_points"])
                                for b in analysis.binnings],
                 "how": [b["how"] for b in analysis.binnings],
                 "bins": [" | ".join(b["bins"]) for b in analysis.binnings]},
                index=pd.Index([b["feature"] for b in analysis.binnings],
                               name="sensitive_feature"))
        figures = {f"rates_{g.name}": self._figure(analysis, s)
                   for s, g in enumerate(analysis.group_sets)
                   if not g.is_intersection or len(g.groups) <= _MAX_FIGURE_GROUPS}
        small = [(g.name, label, int(c)) for g in analysis.group_sets
                 for label, c in zip(g.groups, g.counts, strict=True) if c < self.min_group_size]
        singles = [g for g in analysis.group_sets if not g.is_intersection]
        metrics = {
            "groups_too_small": Metric(len(small), n=analysis.pred.n),
            "smallest_group_size": Metric(min(int(g.counts.min()) for g in singles),
                                          n=analysis.pred.n),
        }
        return self.result(Status.INFO, self._headline(analysis, small), metrics=metrics,
                           tables=tables, figures=figures)

    def _index(self, analysis: FairnessAnalysis, s: int, with_class: bool) -> pd.MultiIndex:
        group_set = analysis.group_sets[s]
        if not with_class:
            return pd.MultiIndex.from_product([[group_set.name], list(group_set.groups)],
                                              names=["sensitive_feature", "group"])
        names = [analysis.class_name(k) for k in analysis.classes]
        return pd.MultiIndex.from_product([[group_set.name], names, list(group_set.groups)],
                                          names=["sensitive_feature", "class", "group"])

    def _points(self, analysis: FairnessAnalysis, s: int) -> pd.DataFrame:
        overall = analysis.overall[s]
        multi = len(analysis.classes) > 1
        blocks = []
        for k in analysis.classes:
            block = pd.DataFrame({"count": overall["count"].to_numpy(np.int64),
                                  "too_small": overall["count"].to_numpy() < self.min_group_size,
                                  "accuracy": overall["accuracy"].to_numpy(np.float64),
                                  "ece": overall["ece"].to_numpy(np.float64)})
            for column in _POINT_COLUMNS:
                block[column] = analysis.per_class[s][k][column].to_numpy(np.float64)
            blocks.append(block)
        frame = pd.concat(blocks, ignore_index=True)
        frame.index = self._index(analysis, s, multi)
        return frame

    def _intervals(self, analysis: FairnessAnalysis, s: int) -> pd.DataFrame:
        rates = analysis.boot_rates(s)
        alpha = (1.0 - self.confidence) / 2.0
        columns = {}
        for rate in _INTERVAL_RATES:
            values = rates[rate]
            if values.ndim == 2:  # accuracy: the same for every class
                values = np.repeat(values[:, :, None], len(analysis.classes), axis=2)
            low, high = _nanquantiles(values, alpha)  # (groups, classes)
            columns[f"{rate}_lower"] = low.T.ravel()
            columns[f"{rate}_upper"] = high.T.ravel()
        frame = pd.DataFrame(columns)
        frame.index = self._index(analysis, s, len(analysis.classes) > 1)
        return frame

    def _figure(self, analysis: FairnessAnalysis, s: int) -> Figure:
        group_set = analysis.group_sets[s]
        # a multi-class model: the class whose selection rate varies most across groups
        per_class = analysis.per_class[s]
        k = max(analysis.classes, key=lambda c: np.ptp(per_class[c]["selection_rate"]))
        column = analysis.classes.index(k)
        values = np.vstack([analysis.overall[s]["accuracy"].to_numpy(np.float64)
                            if rate == "accuracy" else per_class[k][rate].to_numpy(np.float64)
                            for rate in _FIGURE_RATES])
        lower = upper = values
        rates = analysis.boot_rates(s)
        if rates is not None:
            alpha = (1.0 - self.confidence) / 2.0
            bounds = [_nanquantiles(rates[r] if r == "accuracy" else rates[r][:, :, column],
                                    alpha) for r in _FIGURE_RATES]
            lower = np.vstack([b[0] for b in bounds])
            upper = np.vstack([b[1] for b in bounds])
        data = {"feature": group_set.name, "groups": list(group_set.groups),
                "rates": list(_FIGURE_RATES), "values": values, "lower": lower, "upper": upper,
                "count": group_set.counts.astype(np.int64),
                "too_small": group_set.counts < self.min_group_size,
                "min_group_size": self.min_group_size, "positive_class": analysis.class_name(k),
                "confidence": self.confidence}
        return Figure("group_rates", data, f"Rates by {group_set.name}")

    def _headline(self, analysis: FairnessAnalysis, small: list[tuple[str, str, int]]) -> str:
        singles = [g.name for g in analysis.group_sets if not g.is_intersection]
        n_intersections = len(analysis.group_sets) - len(singles)
        n_groups = sum(len(g.groups) for g in analysis.group_sets)
        text = (f"Rates of {n_groups} groups over {analysis.pred.n:,} samples: "
                f"{len(singles)} sensitive feature{'s' if len(singles) > 1 else ''} "
                f"({', '.join(singles)})")
        if n_intersections:
            text += f" and {n_intersections} intersection{'s' if n_intersections > 1 else ''}"
        if analysis.boot_sums is not None:
            text += f", with {self.confidence:.0%} bootstrap intervals"
        text += "."
        if small:
            # single features first: their small groups matter more than rare combinations
            ranked = sorted(small, key=lambda t: (_SEPARATOR in t[0], t[2]))
            named = "; ".join(f"{feature} = {label} (n={count})"
                              for feature, label, count in ranked[:_MAX_NAMED_SMALL])
            more = len(small) - _MAX_NAMED_SMALL
            text += (f" {len(small)} group{'s have' if len(small) > 1 else ' has'} fewer than "
                     f"{self.min_group_size} samples and {'are' if len(small) > 1 else 'is'} "
                     f"too small to judge: {named}" + (f" and {more} more." if more > 0 else "."))
        else:
            text += f" Every group has at least {self.min_group_size} samples."
        return text


def _nanquantiles(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds over axis 0, ignoring resamples where a rate is undefined."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group absent from every resample
        low, high = np.nanquantile(values, [alpha, 1.0 - alpha], axis=0)
    return low, high
