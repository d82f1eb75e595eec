"""Shared work of the fairness checks: groups, per-group rates and their bootstrap.

The sensitive features of :class:`~auditkit.AuditData` become *group sets*:
each feature on its own (a continuous one cut into stated bins) and, when
asked, every intersection of two or more features. Point estimates per group
come from fairlearn's :class:`~fairlearn.metrics.MetricFrame`.

For the intervals, every per-group rate is a ratio of per-group sums of a few
cells: for each class (one vs rest) the (true, predicted) pair is one of TN,
FP, FN, TP, and a sample is either classified correctly or not. Each row falls
in one cell per group set and class, so for the Poisson weights of a chunk of
rows (shape (b, m)) the sums of every group, cell and resample are one sparse
product, built on the fly from the group codes, the labels and the predicted
classes (:class:`ResampledGroupSums`): memory is O(resamples x chunk), never
O(resamples x rows). Correctness needs no cell of its own: the correct rows
are the true positives of every class (multiclass) or TP + TN (binary).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..._stats import (
    ROWS_PER_CHUNK,
    BootstrapSpec,
    ChunkedStatistic,
    calibration_bin_index,
    difference_lower_bound,
    poisson_bootstrap,
    ratio_upper_bound,
    weighted_cell_sums,
)
from ...exceptions import CheckError
from ...inputs import AuditData, ModelAdapter
from .._base import NO_SENSITIVE, Check, CheckContext
from .._classification import Predictions, predictions
from .._params import (
    BOOLEAN,
    CONFIDENCE,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    Interval,
    MappingOf,
    SequenceOf,
)

__all__ = ["FairnessCheck", "GroupSet", "FairnessAnalysis", "fairness_analysis",
           "sensitive_group_sets", "disparity_values", "disparity_tests", "ResampledGroupSums",
           "group_ece", "RATES", "DISPARITIES", "NO_SENSITIVE", "disparity_bounds",
           "bound_comparisons", "GROUPING_CONSTRAINTS", "N_BINS"]

#: Per-group rates with an interval, in the order of the columns of the sums.
RATES = ("selection_rate", "accuracy", "tpr", "fpr", "fnr", "precision", "base_rate")
_TN, _FP, _FN, _TP = range(4)
_SEPARATOR = " & "
UNKNOWN_BIN_COLUMN = ("The 'bin_edges' option must name sensitive features of the data "
                      "({expected}). Got {got} instead.")
NOT_NUMERIC_BIN_COLUMN = ("The 'bin_edges' option can only bin numeric sensitive features. "
                          "Got the non-numeric feature {got!r} instead.")

#: Quantile bins of a numeric sensitive feature: at least two.
N_BINS = [Interval(Integral, 2, None)]
#: Constraints of the options every fairness check shares to form its groups.
GROUPING_CONSTRAINTS: dict[str, list[Any]] = {
    "min_group_size": POSITIVE_INT,
    "n_bins": N_BINS,
    "max_categories": POSITIVE_INT,
}


@dataclass(frozen=True)
class GroupSet:
    """One sensitive feature, or an intersection of several, as group codes.

    Attributes
    ----------
    name : str
        ``"sex"``, or ``"sex & race"`` for an intersection.
    features : tuple of str
    groups : tuple of str
        Group labels in table order (``"Female & White"`` for an intersection).
    codes : ndarray of shape (n_samples,)
        Index into ``groups`` of each sample.
    counts : ndarray of shape (n_groups,)
    """

    name: str
    features: tuple[str, ...]
    groups: tuple[str, ...]
    codes: np.ndarray
    counts: np.ndarray

    @property
    def is_intersection(self) -> bool:
        return len(self.features) > 1

    def labels(self) -> pd.Series:
        """The group label of each sample (what fairlearn gets as sensitive feature)."""
        return pd.Series(np.asarray(self.groups, dtype=object)[self.codes], name=self.name)


def _cut_label(edges: np.ndarray, i: int) -> str:
    if i == 0:
        return f"< {edges[0]:g}"
    if i == len(edges):
        return f">= {edges[-1]:g}"
    return f"{edges[i - 1]:g} to < {edges[i]:g}"


def _single_set(name: str, column: pd.Series, *, edges: Sequence[float] | None, n_bins: int,
                max_categories: int) -> tuple[GroupSet, dict[str, Any] | None]:
    numeric = (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))
    if edges is not None and not numeric:
        raise CheckError(NOT_NUMERIC_BIN_COLUMN.format(got=name))
    if edges is not None or (numeric and column.nunique() > max_categories):
        values = column.to_numpy(dtype=np.float64)
        if edges is None:  # quantile cut points, rounded so the stated bins are the real ones
            raw = np.quantile(values, np.arange(1, n_bins) / n_bins)
            cuts = np.unique([float(f"{c:.4g}") for c in raw])
            how = f"{n_bins} quantile bins"
        else:
            cuts = np.unique(np.asarray(edges, dtype=np.float64))
            how = "given cut points"
        bin_index = np.searchsorted(cuts, values, side="right")
        present, codes = np.unique(bin_index, return_inverse=True)
        groups = tuple(_cut_label(cuts, int(i)) for i in present)
        binning = {"feature": name, "how": how, "cut_points": cuts.tolist(), "bins": groups}
    else:
        # factorise first: only the distinct values become strings (millions of rows stay fast)
        raw_codes, distinct = pd.factorize(column, sort=False)
        groups_array, relabel = np.unique(np.asarray(distinct).astype(str), return_inverse=True)
        codes = relabel[raw_codes]
        groups = tuple(str(g) for g in groups_array)
        binning = None
    codes = codes.astype(np.int64)
    counts = np.bincount(codes, minlength=len(groups))
    return GroupSet(name, (name,), groups, codes, counts), binning


def sensitive_group_sets(sensitive: pd.DataFrame, *, bin_edges: Mapping[str, Sequence[float]]
                         | None = None, n_bins: int = 4, max_categories: int = 10,
                         intersections: bool = True) -> tuple[list[GroupSet], list[dict]]:
    """Group sets of each sensitive feature and, optionally, of their intersections.

    Parameters
    ----------
    sensitive : pandas.DataFrame
        One column per sensitive feature, no missing values.
    bin_edges : mapping of str to sequence of float, optional
        Cut points of numeric features to bin (``[25, 45]`` gives ``< 25``,
        ``25 to < 45``, ``>= 45``).
    n_bins : int, default=4
        Quantile bins of a numeric feature with more than ``max_categories``
        distinct values and no given cut points.
    max_categories : int, default=10
    intersections : bool, default=True
        Add every intersection of two or more features.

    Returns
    -------
    group_sets : list of GroupSet
        The single features first, then the intersections.
    binnings : list of dict
        How each binned feature was cut.
    """
    bin_edges = dict(bin_edges or {})
    unknown = sorted(set(bin_edges) - set(sensitive.columns))
    if unknown:
        raise CheckError(UNKNOWN_BIN_COLUMN.format(expected=list(sensitive.columns), got=unknown))
    singles, binnings = [], []
    for name in sensitive.columns:
        group_set, binning = _single_set(name, sensitive[name], edges=bin_edges.get(name),
                                         n_bins=n_bins, max_categories=max_categories)
        singles.append(group_set)
        if binning is not None:
            binnings.append(binning)
    sets = list(singles)
    if intersections:
        for size in range(2, len(singles) + 1):
            for combo in itertools.combinations(singles, size):
                shape = tuple(len(s.groups) for s in combo)
                flat = np.ravel_multi_index(tuple(s.codes for s in combo), shape)
                tally = np.bincount(flat, minlength=int(np.prod(shape)))
                present = np.flatnonzero(tally)
                renumber = np.cumsum(tally > 0) - 1
                codes = renumber[flat]
                parts = np.unravel_index(present, shape)
                groups = tuple(_SEPARATOR.join(s.groups[p[j]] for s, p in zip(combo, parts,
                                                                                 strict=True))
                               for j in range(len(present)))
                codes = codes.astype(np.int64)
                sets.append(GroupSet(_SEPARATOR.join(s.name for s in combo),
                                     tuple(s.name for s in combo), groups, codes,
                                     np.bincount(codes, minlength=len(groups))))
    return sets, binnings


def evaluated_classes(pred: Predictions) -> list[int]:
    """The classes judged one vs rest: the positive class (index 1) of a binary model, else all."""
    return [1] if pred.n_classes == 2 else list(range(pred.n_classes))


# -- point estimates (fairlearn) ----------------------------------------------------------


def _base_rate(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    return float(np.average(y_true, weights=sample_weight))


def point_frames(pred: Predictions, group_set: GroupSet, classes: Sequence[int], *,
                 with_ece: bool) -> tuple[pd.DataFrame, dict[int, pd.DataFrame]]:
    """Per-group metrics from fairlearn's MetricFrame, rows in ``group_set.groups`` order.

    MetricFrame's cost grows with the rows it is given, so it gets one row per
    distinct (group, true class, predicted class), weighted by how many samples
    share it: every metric here is a ratio of weighted counts, so the numbers
    are those of the unweighted samples (the tests compare the two).

    Returns
    -------
    overall : pandas.DataFrame
        count, accuracy and (with probabilities) ECE per group.
    per_class : dict of int to pandas.DataFrame
        For each class (one vs rest): base_rate, selection_rate, tpr, fpr, fnr, precision.
    """
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score


    k = pred.n_classes
    # one count per (group, true, predicted): O(rows) integers, whatever the rows
    tally = np.bincount((group_set.codes * k + pred.y) * k + pred.predicted,
                        minlength=len(group_set.groups) * k * k)
    distinct = np.flatnonzero(tally)
    weight = tally[distinct].astype(np.float64)
    group, y_true, y_pred = distinct // (k * k), (distinct // k) % k, distinct % k
    labels = pd.Series(np.asarray(group_set.groups, dtype=object)[group], name=group_set.name)
    order = list(group_set.groups)

    def frame(metrics: dict[str, Any], truth: np.ndarray, guess: np.ndarray) -> pd.DataFrame:
        params = {name: {"sample_weight": weight} for name in metrics}
        result = MetricFrame(metrics=metrics, y_true=truth, y_pred=guess,
                             sensitive_features=labels, sample_params=params).by_group
        return result.reindex(order).astype(np.float64)

    overall = frame({"accuracy": accuracy_score}, y_true, y_pred)
    overall.insert(0, "count", group_set.counts.astype(np.int64))
    overall["ece"] = (group_ece(pred, group_set) if with_ece
                      else np.full(len(order), np.nan))
    one_vs_rest = {
        "base_rate": _base_rate,
        "selection_rate": functools.partial(selection_rate, pos_label=1),
        "tpr": functools.partial(true_positive_rate, pos_label=1),
        "fpr": functools.partial(false_positive_rate, pos_label=1),
        "fnr": functools.partial(false_negative_rate, pos_label=1),
        "precision": functools.partial(precision_score, pos_label=1, zero_division=0),
    }
    per_class = {c: frame(one_vs_rest, (y_true == c).astype(np.int64),
                          (y_pred == c).astype(np.int64)) for c in classes}
    return overall, per_class


def group_ece(pred: Predictions, group_set: GroupSet, n_bins: int = 15) -> np.ndarray:
    """Expected calibration error of each group, as performance_calibration computes it.

    All groups at once: per (group, confidence bin) sums of confidence and of
    correct predictions, summed in row order as over each group alone.

    Returns
    -------
    ndarray of shape (n_groups,)
        NaN for a group without samples.
    """
    n_groups = len(group_set.groups)
    key = group_set.codes * n_bins + calibration_bin_index(pred.confidence, n_bins)
    size = n_groups * n_bins
    confidence = np.bincount(key, weights=pred.confidence, minlength=size)
    hits = np.bincount(key, weights=pred.correct, minlength=size)
    gap = np.abs(hits - confidence).reshape(n_groups, n_bins).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(group_set.counts > 0, gap / group_set.counts, np.nan)


# -- bootstrap of per-group sums ----------------------------------------------------------


class ResampledGroupSums(ChunkedStatistic):
    """Bootstrap statistic of the fairness checks: every group's cell sums per resample.

    Per group set, the columns are, for each group, ``4 * n_classes`` cells
    (TN, FP, FN, TP of each class, one vs rest) and the correct rows.

    Parameters
    ----------
    pred : Predictions
    group_sets : sequence of GroupSet
        Their codes cover every row of ``pred``.
    classes : sequence of int
        The classes judged one vs rest (:func:`evaluated_classes`).
    """

    def __init__(self, pred: Predictions, group_sets: Sequence[GroupSet],
                 classes: Sequence[int]) -> None:
        self.pred = pred
        self.codes = tuple(g.codes for g in group_sets)
        self.sizes = tuple(len(g.groups) for g in group_sets)
        self.classes = tuple(classes)

    @property
    def n_rows(self) -> int:
        """Rows weighed: every audited row."""
        return self.pred.n

    @property
    def width(self) -> int:
        """Columns per group: four cells per class, then the correct rows."""
        return 4 * len(self.classes) + 1

    @property
    def bounds(self) -> list[tuple[int, int]]:
        """Columns (start, stop) of each group set."""
        stops = np.cumsum([size * self.width for size in self.sizes]).tolist()
        return list(zip([0, *stops[:-1]], stops, strict=True))

    def cells(self, rows: slice | np.ndarray) -> np.ndarray:
        """The cell of each row of ``rows`` per group set and class, shape (m, sets x classes)."""
        y, guess = self.pred.y[rows], self.pred.predicted[rows]
        outcome = [2 * (y == k) + (guess == k) for k in self.classes]
        columns = [start + codes[rows] * self.width + 4 * j + cell
                   for (start, _), codes in zip(self.bounds, self.codes, strict=True)
                   for j, cell in enumerate(outcome)]
        return np.column_stack(columns)

    def with_correct(self, sums: np.ndarray) -> np.ndarray:
        """Fill the correct-rows column of every group from its cells (in place), and return."""
        k, b = len(self.classes), sums.shape[0]
        for start, stop in self.bounds:
            block = sums[:, start:stop].reshape(b, -1, self.width)
            cells = block[:, :, :-1].reshape(b, block.shape[1], k, 4)
            if self.pred.n_classes == 2 and k == 1:  # binary: TN + TP of the positive class
                correct = cells[..., 0, _TN] + cells[..., 0, _TP]
            else:  # every class judged: each correct row is one class's true positive
                correct = cells[..., _TP].sum(axis=-1)
            block[:, :, -1] = correct
            sums[:, start:stop] = block.reshape(b, -1)
        return sums

    def point_sums(self) -> np.ndarray:
        """Every column summed over all rows (weight 1), shape (1, columns); chunked."""
        n_columns = self.bounds[-1][1]
        totals = np.zeros(n_columns)
        for start in range(0, self.n_rows, ROWS_PER_CHUNK):
            cells = self.cells(slice(start, min(start + ROWS_PER_CHUNK, self.n_rows)))
            totals += np.bincount(cells.ravel(), minlength=n_columns)
        return self.with_correct(totals[None, :])

    def start(self, n_resamples: int) -> dict[str, Any]:
        """Empty sums of every column."""
        return {"sums": np.zeros((n_resamples, self.bounds[-1][1]))}

    def update(self, state: dict[str, Any], step: int, weights: np.ndarray,
               rows: slice | np.ndarray) -> None:
        """Add a chunk's weighted cell counts."""
        state["sums"] += weighted_cell_sums(weights, self.cells(rows), state["sums"].shape[1])

    def finish(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """``"sums"``: ndarray of shape (b, columns)."""
        return {"sums": self.with_correct(state["sums"])}


def rates_from_sums(sums: np.ndarray, n_groups: int, n_classes: int) -> dict[str, np.ndarray]:
    """Per-group rates from per-group cell sums.

    Parameters
    ----------
    sums : ndarray of shape (b, n_groups * (4 * n_classes + 1))
    n_groups, n_classes : int

    Returns
    -------
    dict of str to ndarray
        ``accuracy`` and ``count`` of shape (b, n_groups); the one-vs-rest rates of
        shape (b, n_groups, n_classes). Zero denominators follow scikit-learn (a
        rate of 0), except a group absent from a resample, whose rates are NaN.
    """
    b = sums.shape[0]
    block = sums.reshape(b, n_groups, 4 * n_classes + 1)
    cells = block[:, :, :-1].reshape(b, n_groups, n_classes, 4)
    tn, fp, fn, tp = (cells[..., i] for i in (_TN, _FP, _FN, _TP))
    count = tn[..., 0] + fp[..., 0] + fn[..., 0] + tp[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        present = (count > 0)[..., None]
        size = count[..., None]

        def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            return np.where(present, np.where(den > 0, num / den, 0.0), np.nan)

        tpr = ratio(tp, tp + fn)
        out = {
            "count": count,
            "accuracy": np.where(count > 0, block[:, :, -1] / count, np.nan),
            "selection_rate": ratio(tp + fp, size),
            "base_rate": ratio(tp + fn, size),
            "tpr": tpr,
            "fpr": ratio(fp, fp + tn),
            "fnr": ratio(fn, tp + fn),
            "precision": ratio(tp, tp + fp),
        }
    return out


@dataclass(frozen=True)
class FairnessAnalysis:
    """Everything both fairness checks need, computed once per audit and options."""

    pred: Predictions
    group_sets: tuple[GroupSet, ...]
    binnings: tuple[dict, ...]
    classes: tuple[int, ...]
    overall: tuple[pd.DataFrame, ...]  # per group set
    per_class: tuple[dict[int, pd.DataFrame], ...]  # per group set
    point_sums: tuple[np.ndarray, ...]  # per group set, shape (1, columns)
    boot_sums: tuple[np.ndarray, ...] | None  # per group set, shape (b, columns)
    spec: BootstrapSpec

    def point_rates(self, s: int) -> dict[str, np.ndarray]:
        """Rates of group set ``s`` on the whole sample (for the tests' counts)."""
        return rates_from_sums(self.point_sums[s], len(self.group_sets[s].groups),
                               len(self.classes))

    def boot_rates(self, s: int) -> dict[str, np.ndarray] | None:
        """Rates of group set ``s`` in every resample, or None without resamples."""
        if self.boot_sums is None:
            return None
        return rates_from_sums(self.boot_sums[s], len(self.group_sets[s].groups),
                               len(self.classes))

    def class_name(self, k: int) -> str:
        return self.pred.class_names[k]


def fairness_analysis(model: ModelAdapter, data: AuditData, context: CheckContext, *,
                      spec: BootstrapSpec, bin_edges: Mapping[str, Sequence[float]] | None,
                      n_bins: int, max_categories: int,
                      intersections: bool) -> FairnessAnalysis:
    """Groups, fairlearn's per-group metrics and the bootstrap sums, once per audit.

    The resamples come from ``context.rng("fairness")``, so every fairness check
    of an audit reads the same resamples.
    """
    edges_key = tuple(sorted((k, tuple(v)) for k, v in (bin_edges or {}).items()))
    key = (id(model), spec, edges_key, n_bins, max_categories, intersections)
    return context.shared("fairness.analysis", key, lambda: _fairness_analysis(
        model, data, context, spec=spec, bin_edges=bin_edges, n_bins=n_bins,
        max_categories=max_categories, intersections=intersections))


def _fairness_analysis(model: ModelAdapter, data: AuditData, context: CheckContext, *,
                       spec: BootstrapSpec, bin_edges: Mapping[str, Sequence[float]] | None,
                       n_bins: int, max_categories: int, intersections: bool
                       ) -> FairnessAnalysis:
    pred = predictions(model, data, context)
    group_sets, binnings = sensitive_group_sets(data.all_sensitive, bin_edges=bin_edges,
                                                n_bins=n_bins, max_categories=max_categories,
                                                intersections=intersections)
    classes = evaluated_classes(pred)
    with_ece = "probabilities" in model.capabilities
    frames = [point_frames(pred, s, classes, with_ece=with_ece) for s in group_sets]
    statistic = ResampledGroupSums(pred, group_sets, classes)
    bounds = statistic.bounds
    totals = statistic.point_sums()
    point_sums = tuple(totals[:, a:b] for a, b in bounds)
    boot_sums = None
    if spec.n_resamples:
        samples = poisson_bootstrap(statistic, spec=spec, rng=context.rng("fairness"),
                                    executor=context.executor)
        boot_sums = tuple(samples["sums"][:, a:b] for a, b in bounds)
    analysis = FairnessAnalysis(pred, tuple(group_sets), tuple(binnings), tuple(classes),
                                tuple(f[0] for f in frames), tuple(f[1] for f in frames),
                                point_sums, boot_sums, spec)
    return analysis


# -- significance ------------------------------------------------------------------------


def chi_square(successes: np.ndarray, totals: np.ndarray) -> tuple[float, int]:
    """Pearson's chi-square of equal proportions across groups: (statistic, df).

    Groups with no trials are left out. With two groups this is the square of
    the pooled two-proportion z statistic. No variation at all gives 0.
    """
    keep = totals > 0
    successes, totals = successes[keep].astype(np.float64), totals[keep].astype(np.float64)
    if len(totals) < 2:
        return float("nan"), 0
    pooled = successes.sum() / totals.sum()
    if pooled in (0.0, 1.0):
        return 0.0, len(totals) - 1
    expected = totals * pooled
    statistic = (((successes - expected) ** 2) / (expected * (1 - pooled))).sum()
    return float(statistic), len(totals) - 1


def p_value(*tests: tuple[float, int]) -> float:
    """Upper tail of the summed chi-square statistics (independent strata add up)."""
    statistic = sum(t[0] for t in tests)
    df = sum(t[1] for t in tests)
    if df == 0 or np.isnan(statistic):
        return float("nan")
    return float(stats.chi2.sf(statistic, df))


# -- disparities ---------------------------------------------------------------------------

#: Disparity -> (the per-group rate(s) it compares, higher is better).
DISPARITIES = {
    "demographic_parity_difference": (("selection_rate",), False),
    "demographic_parity_ratio": (("selection_rate",), True),
    "equalized_odds_difference": (("tpr", "fpr"), False),
    "equalized_odds_ratio": (("tpr", "fpr"), True),
    "equal_opportunity_difference": (("tpr",), False),
    "predictive_parity_difference": (("precision",), False),
    "disparate_impact_ratio": (("selection_rate",), True),
    "worst_group_accuracy": (("accuracy",), True),
}


def _spread(values: np.ndarray, ratio: bool) -> np.ndarray:
    """Max - min (or min / max) over axis 1, ignoring groups absent from a resample."""
    import warnings

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        high, low = np.nanmax(values, axis=1), np.nanmin(values, axis=1)
        if not ratio:
            return high - low
        return np.where(high > 0, low / high, np.nan)


def disparity_values(rates: Mapping[str, np.ndarray], judged: np.ndarray) -> dict[str, np.ndarray]:
    """Every disparity over the judged groups, per row and class.

    Parameters
    ----------
    rates : mapping of str to ndarray
        ``accuracy`` of shape (b, n_groups); one-vs-rest rates of shape
        (b, n_groups, n_classes) (see :func:`rates_from_sums`).
    judged : bool ndarray of shape (n_groups,)

    Returns
    -------
    dict of str to ndarray of shape (b, n_classes)
        ``worst_group_accuracy`` is the same for every class.
    """
    def spread(rate: str, ratio: bool) -> np.ndarray:
        return _spread(rates[rate][:, judged], ratio)

    dp_ratio = spread("selection_rate", True)
    n_classes = rates["tpr"].shape[2]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        worst_accuracy = np.nanmin(rates["accuracy"][:, judged], axis=1)
    return {
        "demographic_parity_difference": spread("selection_rate", False),
        "demographic_parity_ratio": dp_ratio,
        "equalized_odds_difference": np.maximum(spread("tpr", False), spread("fpr", False)),
        "equalized_odds_ratio": np.minimum(spread("tpr", True), spread("fpr", True)),
        "equal_opportunity_difference": spread("tpr", False),
        "predictive_parity_difference": spread("precision", False),
        "disparate_impact_ratio": dp_ratio,
        "worst_group_accuracy": np.repeat(worst_accuracy[:, None], n_classes, axis=1),
    }


def frame_rates(analysis: FairnessAnalysis, s: int) -> dict[str, np.ndarray]:
    """Fairlearn's per-group point estimates of group set ``s``, shaped like one resample."""
    overall, per_class = analysis.overall[s], analysis.per_class[s]
    out = {"accuracy": overall["accuracy"].to_numpy(dtype=np.float64)[None, :],
           "count": overall["count"].to_numpy(dtype=np.float64)[None, :]}
    for rate in ("selection_rate", "base_rate", "tpr", "fpr", "fnr", "precision"):
        out[rate] = np.stack([per_class[k][rate].to_numpy(dtype=np.float64)
                              for k in analysis.classes], axis=-1)[None, :, :]
    return out


def disparity_tests(point_sums: np.ndarray, n_groups: int, n_classes: int,
                    judged: np.ndarray) -> dict[str, np.ndarray]:
    """p-value of each disparity per class: chi-square tests of equal rates across groups.

    Selection rate (demographic parity, disparate impact): selected vs not, all
    samples. Equal opportunity: among true positives. Equalized odds: the TPR
    and FPR tests summed (positives and negatives are disjoint strata).
    Predictive parity: among predicted positives. Accuracy: correct vs not.
    """
    block = point_sums.reshape(n_groups, 4 * n_classes + 1)[judged]
    cells = block[:, :-1].reshape(len(block), n_classes, 4)
    count = cells[:, 0].sum(axis=1)
    accuracy = p_value(chi_square(block[:, -1], count))
    out: dict[str, list[float]] = {name: [] for name in DISPARITIES}
    for k in range(n_classes):
        tn, fp, fn, tp = (cells[:, k, i] for i in range(4))
        selection = p_value(chi_square(tp + fp, count))
        tpr_test, fpr_test = chi_square(tp, tp + fn), chi_square(fp, fp + tn)
        values = {"demographic_parity_difference": selection,
                  "demographic_parity_ratio": selection,
                  "equalized_odds_difference": p_value(tpr_test, fpr_test),
                  "equalized_odds_ratio": p_value(tpr_test, fpr_test),
                  "equal_opportunity_difference": p_value(tpr_test),
                  "predictive_parity_difference": p_value(chi_square(tp, tp + fp)),
                  "disparate_impact_ratio": selection,
                  "worst_group_accuracy": accuracy}
        for name, value in values.items():
            out[name].append(value)
    return {name: np.asarray(v) for name, v in out.items()}


def _rate_counts(cells: np.ndarray, k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(successes, trials) per judged group of each one-vs-rest rate of class ``k``."""
    tn, fp, fn, tp = (cells[:, k, i] for i in range(4))
    return {"selection_rate": (tp + fp, tn + fp + fn + tp), "tpr": (tp, tp + fn),
            "fpr": (fp, fp + tn), "precision": (tp, tp + fp)}


def bound_comparisons(name: str, n_judged: int) -> int:
    """One-sided comparisons behind the simultaneous bound of ``name`` for one class.

    Every ordered pair of judged groups for each rate a gap compares; every
    judged group for worst-group accuracy; none with fewer than two groups.
    """
    if n_judged < 2:
        return 0
    rates, _ = DISPARITIES[name]
    if name == "worst_group_accuracy":
        return n_judged
    return len(rates) * n_judged * (n_judged - 1)


def disparity_bounds(point_sums: np.ndarray, n_groups: int, n_classes: int, judged: np.ndarray,
                     z: Mapping[str, float]) -> dict[str, np.ndarray]:
    """The calibrated side of each disparity per class, from the whole sample's counts.

    A max - min gap between group rates is the largest of the pairwise
    differences, so if every pairwise lower bound holds, their largest is a
    lower bound of the gap. This sidesteps the upward bias of the plug-in
    max - min (which a percentile bootstrap inherits): the bound is the
    largest Newcombe score lower bound of ``rate_a - rate_b`` over every
    ordered pair of judged groups, clipped at 0. Ratios (min / max) get the
    smallest Katz upper bound of ``rate_a / rate_b``, capped at 1;
    worst-group accuracy the smallest Wilson upper bound. ``z[name]`` is the
    normal quantile of each one-sided comparison (Bonferroni-adjusted by the
    caller over every comparison of the family).

    Returns
    -------
    dict of str to ndarray of shape (n_classes,)
        NaN with fewer than two judged groups.
    """
    block = point_sums.reshape(n_groups, 4 * n_classes + 1)[judged]
    cells = block[:, :-1].reshape(len(block), n_classes, 4)
    out = {name: np.full(n_classes, np.nan) for name in DISPARITIES}
    if len(block) < 2:
        return out
    a, b = (i.ravel() for i in np.meshgrid(np.arange(len(block)), np.arange(len(block)),
                                           indexing="ij"))
    a, b = a[a != b], b[a != b]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(n_classes):
            counts = _rate_counts(cells, k)
            for name, (rates, higher) in DISPARITIES.items():
                if name == "worst_group_accuracy":
                    upper = _wilson_upper(block[:, -1], cells[:, 0].sum(axis=1), z[name])
                    out[name][k] = float(np.nanmin(upper))
                    continue
                bounds = []
                for rate in rates:
                    s, n = counts[rate]
                    if higher:
                        bounds.append(ratio_upper_bound(s[a], n[a], s[b], n[b], z=z[name]))
                    else:
                        bounds.append(difference_lower_bound(s[a], n[a], s[b], n[b],
                                                             z=z[name]))
                values = np.concatenate(bounds)
                if higher:
                    out[name][k] = min(1.0, float(np.nanmin(values)))
                else:
                    out[name][k] = max(0.0, float(np.nanmax(values)))
    return out


def _wilson_upper(successes: np.ndarray, totals: np.ndarray, z: float) -> np.ndarray:
    """Wilson score upper bound of each proportion."""
    s, n = successes.astype(np.float64), totals.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.minimum(centre + half, 1.0)


TEST_METHOD = ("Pearson chi-square test of equal rates across the judged groups (for two "
               "groups, the two-sided pooled two-proportion z-test); equalized odds sums the "
               "tests among true positives and true negatives. Not adjusted for multiple tests.")


# -- the base of the fairness checks ------------------------------------------------------


@dataclass(frozen=True)
class FairnessCheck(Check):
    """Options and set-up shared by the fairness checks (not registered itself).

    Parameters
    ----------
    min_group_size : int, default=30
        Groups with fewer samples are flagged as too small to judge and left
        out of the disparities (they stay in the per-group tables).
    intersections : bool, default=True
        Also audit every intersection of two or more sensitive features.
    bin_edges : mapping of str to list of float, optional
        Cut points of numeric sensitive features (``{"age": [25, 45]}``).
    n_bins : int, default=4
        Quantile bins of a numeric sensitive feature with more than
        ``max_categories`` distinct values and no given cut points.
    max_categories : int, default=10
        A numeric sensitive feature with more distinct values than this is binned.
    n_resamples : int, default=1000
        Bootstrap resamples for the intervals (0 for none).
    confidence : float, default=0.95
        Level of the intervals, in (0, 1).
    """

    requires = frozenset({"predict"})
    needs_sensitive = True
    shares = ("predictions", "fairness.analysis")
    streams = True  # every row of streamed data, through the shared predictions
    parameter_constraints = {
        **GROUPING_CONSTRAINTS,
        "intersections": BOOLEAN,
        "bin_edges": [MappingOf("string", SequenceOf("real")), None],
        "n_resamples": NON_NEGATIVE_INT,
        "confidence": CONFIDENCE,
    }

    min_group_size: int = 30
    intersections: bool = True
    bin_edges: Mapping[str, Sequence[float]] | None = None
    n_bins: int = 4
    max_categories: int = 10
    n_resamples: int = 1000
    confidence: float = 0.95

    def analysis(self, model: ModelAdapter, data: AuditData,
                 context: CheckContext) -> FairnessAnalysis:
        """The shared analysis for this check's options (cached in ``context``)."""
        return fairness_analysis(model, data, context,
                                 spec=BootstrapSpec(self.n_resamples, self.confidence),
                                 bin_edges=self.bin_edges, n_bins=self.n_bins,
                                 max_categories=self.max_categories,
                                 intersections=self.intersections)


def describe_p(p: float) -> str:
    """``"p < 0.001"`` or ``"p = 0.042"``."""
    if np.isnan(p):
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
