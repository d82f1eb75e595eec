"""Plots of the fairness family: per-group rates and disparities, with their intervals.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Groups too small to judge are drawn hatched and pale, and their
size is written on the axis, so the flag does not rest on colour alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, PALETTE, _short, new_figure, plotter

_GREY = "#6B6B6B"
_RATE_LABELS = {"selection_rate": "Selection rate", "tpr": "True positive rate",
                "fpr": "False positive rate", "accuracy": "Accuracy", "precision": "Precision"}
_METRIC_LABELS = {"demographic_parity_difference": "Demographic parity",
                  "equalized_odds_difference": "Equalized odds",
                  "equal_opportunity_difference": "Equal opportunity",
                  "predictive_parity_difference": "Predictive parity"}


def _errors(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    return np.vstack([np.clip(values - lower, 0, None), np.clip(upper - values, 0, None)])


@plotter("group_rates")
def group_rates(figure: Figure) -> Any:
    """One panel per rate: a bar per group with its interval; small groups hatched."""
    data = figure.data
    groups = [str(g) for g in data["groups"]]
    rates = [str(r) for r in data["rates"]]
    values = np.atleast_2d(np.asarray(data["values"], dtype=float))
    lower = np.atleast_2d(np.asarray(data["lower"], dtype=float))
    upper = np.atleast_2d(np.asarray(data["upper"], dtype=float))
    count = np.asarray(data["count"], dtype=int)
    small = np.asarray(data["too_small"], dtype=bool)
    labels = [f"{_short(g)} (n={c:,})" for g, c in zip(groups, count, strict=True)]
    fig = new_figure(FIGSIZE[0] * 1.3, max(2.6, 0.32 * len(groups) * 2 + 1.6))
    axes = np.atleast_1d(fig.subplots(2, 2, sharey=True).ravel())
    positions = np.arange(len(groups))
    for i, ax in enumerate(axes):
        if i >= len(rates):
            ax.set_visible(False)
            continue
        colour = PALETTE[i % len(PALETTE)]
        bars = ax.barh(positions, np.nan_to_num(values[i]), color=colour,
                       xerr=_errors(values[i], lower[i], upper[i]), ecolor="#1A1A1A",
                       capsize=2, error_kw={"linewidth": 0.8})
        for bar, is_small in zip(bars, small, strict=True):
            if is_small:
                bar.set_alpha(0.35)
                bar.set_hatch("///")
        ax.set_xlim(0, 1)
        ax.set_title(_RATE_LABELS.get(rates[i], rates[i]), fontsize=9.0)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.tick_params(labelsize=7.0)
    note = (f"hatched: fewer than {int(data['min_group_size'])} samples (too small to judge); "
            f"bars: {float(data.get('confidence', 0.95)):.0%} intervals; positive class "
            f"{_short(data.get('positive_class', ''))!r}")
    fig.suptitle(figure.title or "Rates by group", fontsize=10.0, fontweight="bold")
    fig.supxlabel(note, fontsize=7.0, color=_GREY)
    return fig


@plotter("disparity_intervals")
def disparity_intervals(figure: Figure) -> Any:
    """Each disparity per sensitive feature as a point with its interval (0 is parity)."""
    data = figure.data
    features = [str(f) for f in data["features"]]
    metrics = [str(m) for m in data["metrics"]]
    values = np.atleast_2d(np.asarray(data["values"], dtype=float))
    lower = np.atleast_2d(np.asarray(data["lower"], dtype=float))
    upper = np.atleast_2d(np.asarray(data["upper"], dtype=float))
    fig = new_figure(FIGSIZE[0], max(2.4, 0.3 * len(features) * len(metrics) / 2 + 1.4))
    ax = fig.subplots()
    step = 1.0 / (len(metrics) + 1)
    positions = np.arange(len(features))
    for i, metric in enumerate(metrics):
        y = positions + (i - (len(metrics) - 1) / 2) * step
        shown = ~np.isnan(values[i])
        ax.errorbar(values[i][shown], y[shown],
                    xerr=_errors(values[i], np.where(np.isnan(lower[i]), values[i], lower[i]),
                                 np.where(np.isnan(upper[i]), values[i], upper[i]))[:, shown],
                    fmt="o", markersize=4, capsize=2, linewidth=1.0,
                    color=PALETTE[i % len(PALETTE)], label=_METRIC_LABELS.get(metric, metric))
    ax.axvline(0, color=_GREY, linewidth=0.8)
    ax.set_yticks(positions, [_short(f) for f in features])
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.0)
    ax.set_xlabel(f"Difference between groups (0 = parity), "
                  f"{float(data.get('confidence', 0.95)):.0%} intervals")
    ax.set_title(figure.title or "Disparities")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=7.0)
    return fig
