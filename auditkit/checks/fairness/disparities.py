"""Fairness: how far apart the groups of each sensitive feature are treated.

Demographic parity difference and ratio, equalized odds difference and ratio,
equal opportunity difference, predictive parity difference, the disparate
impact ratio (the policy's four-fifths rule reads it) and worst-group
accuracy, as fairlearn defines them (between the groups' extremes), over the
groups with at least ``min_group_size`` samples. Each has a percentile
interval from a Poisson bootstrap (memory bounded whatever the rows), a
chi-square test of equal rates and its Holm-adjusted p-value (over every
feature, intersection and class). Multi-class models are
read one class against the rest; the raw metrics are the worst case over the
single sensitive features and classes (intersections are in a table).

The verdict rests on calibrated bounds (``*_lower_bound``, ``*_upper_bound``):
a max - min gap is biased upward (four equal groups of 1000/300/60/40 rows
reach a demographic parity difference of 0.1 in 39% of 200 simulations of
``benchmarks/bench_fairness_false_alarms.py``), so the
policy reads the worst simultaneous one-sided bound over every feature and
intersection instead, Bonferroni-adjusted so that a model whose groups are
treated alike is flagged with probability at most ``1 - confidence``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..._stats import holm_adjusted
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status, TableComparison
from .._base import CheckContext, register_check
from ._common import (
    DISPARITIES,
    FairnessAnalysis,
    FairnessCheck,
    bound_comparisons,
    describe_p,
    disparity_bounds,
    disparity_tests,
    disparity_values,
    frame_rates,
)

__all__ = ["FairnessDisparities"]

_FIGURE_METRICS = ("demographic_parity_difference", "equalized_odds_difference",
                   "equal_opportunity_difference", "predictive_parity_difference")
#: Judged metric -> the disparity whose calibrated bound it is.
_JUDGED = {"demographic_parity_difference_lower_bound": "demographic_parity_difference",
          "equalized_odds_difference_lower_bound": "equalized_odds_difference",
          "disparate_impact_ratio_upper_bound": "disparate_impact_ratio"}
_BOUND_METHOD = ("simultaneous one-sided {confidence:.0%} bound: the largest Newcombe score lower "
                "bound of the pairwise rate differences (for a ratio, the smallest Katz upper "
                "bound of the pairwise ratios), Bonferroni-adjusted over the {m} one-sided "
                "comparisons of every judged feature, intersection and class; worst: {where}")


_SKIP_REASON = ("{name!r} is skipped: {n} of its {groups} groups have at least {size} samples "
                "(the largest has {largest}), and a disparity needs two")
_SKIPPED = (" {n} feature(s) or intersection(s) with fewer than two groups of at least {size} "
            "samples are skipped (see the table of skipped group sets): {names}{more}.")
_NOTHING_TO_JUDGE = ("No sensitive feature or intersection has two groups of at least {size} "
                     "samples, so no disparity can be computed (lower 'min_group_size', or audit "
                     "more samples): {reasons}.")


@register_check
@dataclass(frozen=True)
class FairnessDisparities(FairnessCheck):
    """Disparity metrics per sensitive feature and intersection, with intervals and p-values.

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
    >>> from auditkit.checks import FairnessDisparities
    >>> FairnessDisparities(min_group_size=50, intersections=False).min_group_size
    50
    """

    name = "fairness_disparities"
    family = "fairness"
    order = 1
    comparisons = (TableComparison(
        "disparities", "Disparities by {split}", heading="Fairness disparities",
        note="the gap between the groups' extremes of each sensitive feature, with "
             "bootstrap intervals.", anchor="disparities", row_anchor="disparity",
        split_level="sensitive_feature", metric_level="disparity", lower="lower",
        upper="upper", directions={name: higher for name, (_, higher) in DISPARITIES.items()},
        summarise=True),)
    verdict_metrics = tuple(_JUDGED)
    description = ("Demographic parity, equalized odds, equal opportunity, predictive parity, "
                   "disparate impact ratio and worst-group accuracy per sensitive "
                   "feature and intersection, with bootstrap intervals and significance tests.")

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the class docstring."""
        analysis = self.analysis(model, data, context)
        usable, skipped = self._usable(analysis)
        if not usable:
            return self.result(Status.SKIP, _NOTHING_TO_JUDGE.format(
                size=self.min_group_size, reasons="; ".join(skipped["reason"])),
                tables={"skipped_group_sets": skipped})
        comparisons = self._comparisons(analysis)
        z = {name: float(norm.isf((1.0 - self.confidence) / m)) if m else float("nan")
             for name, m in comparisons.items()}
        rows = [self._rows(analysis, s, z) for s in usable]
        table = pd.concat(rows)
        # Holm over every feature, intersection and class a disparity is tested in.
        table["p_value_holm"] = np.nan
        for name in DISPARITIES:
            at = table.index.get_level_values("disparity") == name
            table.loc[at, "p_value_holm"] = holm_adjusted(table.loc[at, "p_value"].to_numpy())
        tables = {}
        for key, intersection in (("disparities", False), ("intersection_disparities", True)):
            names = [analysis.group_sets[s].name for s in usable
                     if analysis.group_sets[s].is_intersection == intersection]
            if names:
                part = table[table.index.get_level_values("sensitive_feature").isin(names)]
                tables[key] = part
        # Two judged groups of an intersection differ in some feature, which then has two
        # judged groups itself: a usable intersection implies a usable single feature.
        singles = tables["disparities"]
        metrics = {name: self._worst(singles, name, higher) for name, (_, higher)
                   in DISPARITIES.items()}
        for judged, name in _JUDGED.items():
            metrics[judged] = self._bound(table, name, comparisons[name])
        headline = self._headline(analysis, singles, metrics)
        if len(skipped):
            tables["skipped_group_sets"] = skipped
            headline += _SKIPPED.format(n=len(skipped), size=self.min_group_size,
                                        names=", ".join(skipped.index[:5]),
                                        more="" if len(skipped) <= 5 else ", ...")
        return self.result(Status.INFO, headline, metrics=metrics, tables=tables,
                           figures={"disparities": self._figure(table)})

    def _usable(self, analysis: FairnessAnalysis) -> tuple[list[int], pd.DataFrame]:
        """Group sets with two groups to compare, and why each other one is skipped.

        A disparity compares groups of at least ``min_group_size`` samples; a
        feature or intersection with fewer than two such groups has none, so it
        is skipped with its reason and the others are analysed.
        """
        usable, records, names = [], [], []
        for s, group_set in enumerate(analysis.group_sets):
            n_judged = int((group_set.counts >= self.min_group_size).sum())
            if n_judged >= 2:
                usable.append(s)
                continue
            largest = int(group_set.counts.max()) if len(group_set.counts) else 0
            names.append(group_set.name)
            records.append({"groups": len(group_set.groups), "groups_judged": n_judged,
                            "largest_group": largest,
                            "reason": _SKIP_REASON.format(
                                name=group_set.name, n=n_judged, size=self.min_group_size,
                                groups=len(group_set.groups), largest=largest)})
        frame = pd.DataFrame.from_records(records, columns=["groups", "groups_judged",
                                                            "largest_group", "reason"])
        frame.index = pd.Index(names, name="sensitive_feature", dtype=object)
        return usable, frame

    def _comparisons(self, analysis: FairnessAnalysis) -> dict[str, int]:
        """The size of each disparity's family of one-sided comparisons (for Bonferroni)."""
        n_classes = len(analysis.classes)
        out = {}
        for name in DISPARITIES:
            out[name] = sum(n_classes * bound_comparisons(
                name, int((g.counts >= self.min_group_size).sum())) for g in analysis.group_sets)
        return out

    def _bound(self, table: pd.DataFrame, name: str, m: int) -> Metric:
        higher = DISPARITIES[name][1]
        part = table[(table.index.get_level_values("disparity") == name)
                     & table["calibrated_bound"].notna()]
        if part.empty:
            return Metric(float("nan"), higher_is_better=higher)
        key = part["calibrated_bound"].idxmin() if higher else part["calibrated_bound"].idxmax()
        row = part.loc[key]
        where = key[0] if len(key) == 2 else f"{key[0]}, class {key[1]}"
        return Metric(row["calibrated_bound"], n=int(row["samples_judged"]),
                      method=_BOUND_METHOD.format(confidence=self.confidence, m=m, where=where),
                      higher_is_better=higher)

    def _rows(self, analysis: FairnessAnalysis, s: int, z: dict[str, float]) -> pd.DataFrame:
        group_set = analysis.group_sets[s]
        judged = group_set.counts >= self.min_group_size
        n_classes = len(analysis.classes)
        point_rates = frame_rates(analysis, s)
        points = disparity_values(point_rates, judged)
        boot = analysis.boot_rates(s)
        samples = disparity_values(boot, judged) if boot is not None else None
        tests = disparity_tests(analysis.point_sums[s][0], len(group_set.groups), n_classes,
                                judged)
        bounds = disparity_bounds(analysis.point_sums[s][0], len(group_set.groups), n_classes,
                                  judged, z)
        alpha = (1.0 - self.confidence) / 2.0
        records, index = [], []
        for j, k in enumerate(analysis.classes):
            for name, (rates, _) in DISPARITIES.items():
                value = float(points[name][0, j]) if judged.sum() >= 2 else float("nan")
                low = high = None
                if samples is not None and not np.isnan(value):
                    finite = samples[name][:, j][np.isfinite(samples[name][:, j])]
                    if finite.size:
                        low, high = (float(q) for q in np.quantile(finite, [alpha, 1 - alpha]))
                high_group, low_group, high_rate, low_rate = _extremes(
                    point_rates, rates, judged, j, group_set.groups)
                records.append({"value": value, "lower": np.nan if low is None else low,
                                "upper": np.nan if high is None else high,
                                "calibrated_bound": float(bounds[name][j]),
                                "p_value": float(tests[name][j]) if judged.sum() >= 2
                                else float("nan"),
                                "highest_group": high_group, "highest_rate": high_rate,
                                "lowest_group": low_group, "lowest_rate": low_rate,
                                "groups_judged": int(judged.sum()),
                                "samples_judged": int(group_set.counts[judged].sum()),
                                "groups_too_small": int((~judged).sum())})
                index.append((group_set.name, analysis.class_name(k), name))
        frame = pd.DataFrame.from_records(records)
        frame.index = pd.MultiIndex.from_tuples(index, names=["sensitive_feature", "class",
                                                              "disparity"])
        if n_classes == 1:  # binary: one class, the positive one; the level says nothing
            frame.index = frame.index.droplevel("class")
        return frame

    def _worst(self, singles: pd.DataFrame, name: str, higher_is_better: bool) -> Metric:
        part = singles[singles.index.get_level_values("disparity") == name]
        part = part[part["value"].notna()]
        if part.empty:
            return Metric(float("nan"), higher_is_better=higher_is_better)
        row = part.loc[part["value"].idxmin() if higher_is_better else part["value"].idxmax()]
        has_interval = bool(np.isfinite(row["lower"]) and np.isfinite(row["upper"]))
        return Metric(row["value"], row["lower"] if has_interval else None,
                      row["upper"] if has_interval else None,
                      self.confidence if has_interval else None, int(row["samples_judged"]),
                      f"Poisson bootstrap, {self.n_resamples} resamples"
                      if has_interval else None, higher_is_better)

    def _figure(self, table: pd.DataFrame) -> Figure:
        part = table[table.index.get_level_values("disparity").isin(_FIGURE_METRICS)]
        features = list(dict.fromkeys(part.index.get_level_values("sensitive_feature")))
        shape = (len(_FIGURE_METRICS), len(features))
        values, lower, upper = (np.full(shape, np.nan) for _ in range(3))
        for i, metric in enumerate(_FIGURE_METRICS):
            for j, feature in enumerate(features):
                rows = part[(part.index.get_level_values("disparity") == metric)
                            & (part.index.get_level_values("sensitive_feature") == feature)]
                if rows["value"].notna().any():  # multi-class: the worst class
                    row = rows.loc[rows["value"].idxmax()]
                    values[i, j], lower[i, j], upper[i, j] = row[["value", "lower", "upper"]]
        return Figure("disparity_intervals", {"features": features,
                                              "metrics": list(_FIGURE_METRICS), "values": values,
                                              "lower": lower, "upper": upper,
                                              "confidence": self.confidence},
                      "Disparities between groups, with intervals")

    def _headline(self, analysis: FairnessAnalysis, singles: pd.DataFrame,
                  metrics: dict[str, Metric]) -> str:
        def worst(metric: str, lowest: bool = False) -> tuple[tuple, pd.Series] | None:
            rows = singles[(singles.index.get_level_values("disparity") == metric)
                           & singles["value"].notna()]
            if rows.empty:
                return None
            key = rows["value"].idxmin() if lowest else rows["value"].idxmax()
            return key, rows.loc[key]

        found = worst("demographic_parity_difference")
        if found is None:
            return (f"No sensitive feature has two groups of at least {self.min_group_size} "
                    "samples: no disparity is computed.")
        key, row = found
        positive = analysis.class_name(analysis.classes[0]) if len(key) == 2 else key[1]
        text = (f"By {key[0]}, the model predicts {positive!r} for {row['highest_rate']:.1%} of "
                f"{row['highest_group']} and {row['lowest_rate']:.1%} of {row['lowest_group']}: "
                f"a demographic parity difference of {row['value']:.3f}{self._interval(row)}.")
        key, row = worst("equalized_odds_difference")
        rate = ("true positive rate" if np.isclose(row["value"], singles.loc[
            (*key[:-1], "equal_opportunity_difference"), "value"]) else "false positive rate")
        text += (f" Largest error-rate gap: equalized odds difference {row['value']:.3f} by "
                 f"{key[0]}{self._interval(row)}, with a {rate} of {row['highest_rate']:.1%} "
                 f"for {row['highest_group']} and {row['lowest_rate']:.1%} for "
                 f"{row['lowest_group']}.")
        key, row = worst("worst_group_accuracy", lowest=True)
        text += f" Worst-group accuracy {row['value']:.1%} ({row['lowest_group']}, by {key[0]})."
        dp, eo, di = (metrics[name].value for name in _JUDGED)
        text += (f" {self.confidence:.0%} simultaneous bounds over "
                 f"{len(analysis.group_sets)} group sets (features and intersections), allowing "
                 "for sampling noise: demographic parity "
                 f"difference at least {dp:.3f}, equalized odds difference at least {eo:.3f}, "
                 f"disparate impact ratio at most {di:.3f}.")
        return text

    def _interval(self, row: pd.Series) -> str:
        p = describe_p(row["p_value"])
        if not np.isfinite(row["lower"]):
            return f" ({p})"
        return (f" ({self.confidence:.0%} CI {row['lower']:.3f} to {row['upper']:.3f}; "
                f"chi-square test {p})")


def _extremes(rates: dict[str, np.ndarray], names: tuple[str, ...], judged: np.ndarray, j: int,
              groups: tuple[str, ...]) -> tuple[str, str, float, float]:
    """The judged groups with the highest and lowest rate behind a disparity (the wider one)."""
    best = ("", "", float("nan"), float("nan"))
    candidates = np.flatnonzero(judged)
    if len(candidates) < 2:
        return best
    for name in names:
        values = rates[name][0]
        values = values[:, j] if values.ndim == 2 else values
        sub = values[candidates]
        high, low = candidates[np.argmax(sub)], candidates[np.argmin(sub)]
        if np.isnan(best[2]) or values[high] - values[low] > best[2] - best[3]:
            best = (groups[high], groups[low], float(values[high]), float(values[low]))
    return best
