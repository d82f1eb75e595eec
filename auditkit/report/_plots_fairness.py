"""Plots of the fairness family: per-group rates and disparities, with their intervals.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Groups too small to judge are drawn hatched and pale, and their
size is written on the axis, so the flag does not rest on colour alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, PALETTE, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"
_WARN, _FAIL = "#B07800", "#B42318"  # the report's warn and fail colours, darkened for lines
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
    labels = [f"{_wrapped(g)} (n={c:,})" for g, c in zip(groups, count, strict=True)]
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
        ax.tick_params(labelsize=8.0)
    note = (f"hatched: fewer than {int(data['min_group_size'])} samples (too small to judge); "
            f"bars: {float(data.get('confidence', 0.95)):.0%} intervals; positive class "
            f"{_wrapped(data.get('positive_class', ''))!r}")
    fig.suptitle(figure.title or "Rates by group", fontsize=10.0, fontweight="bold")
    fig.supxlabel(note, fontsize=8.0, color=_GREY)
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
    _policy_levels(ax, data, metrics)
    ax.set_yticks(positions, [_wrapped(f) for f in features])
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.0)
    ax.set_xlabel(f"Difference between groups (0 = parity), "
                  f"{float(data.get('confidence', 0.95)):.0%} intervals")
    ax.set_title(figure.title or "Disparities")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8.0)
    return fig


def _policy_levels(ax: Any, data: Any, metrics: list[str]) -> None:
    """The policy's warn and fail levels as vertical lines, when the figure data has them.

    ``data["warn_thresholds"]`` and ``data["fail_thresholds"]`` are aligned with
    ``data["metrics"]`` (NaN where a metric has no level). Metrics that share a
    level share its line; the legend names them when they differ.
    """
    for key, word, colour, dash in (("warn_thresholds", "warn", _WARN, "--"),
                                    ("fail_thresholds", "fail", _FAIL, "-")):
        if data.get(key) is None:
            continue
        levels = np.atleast_1d(np.asarray(data[key], dtype=float))
        shared: dict[float, list[str]] = {}
        for metric, level in zip(metrics, levels, strict=False):
            if np.isfinite(level):
                shared.setdefault(float(level), []).append(_METRIC_LABELS.get(metric, metric))
        for level, names in shared.items():
            which = "" if len(shared) == 1 else f" ({', '.join(names)})"
            ax.axvline(level, color=colour, linestyle=dash, linewidth=1.2,
                       label=f"policy {word} level {level:g}{which}")


def _group_labels(data: Any) -> list[str]:
    small = np.asarray(data.get("too_small", np.zeros(len(data["groups"]))), dtype=bool)
    return [f"{_wrapped(g)} (too small)" if s else _wrapped(g)
            for g, s in zip(data["groups"], small, strict=True)]


@plotter("disparity_curves")
def disparity_curves(figure: Figure) -> Any:
    """Per-group selection rate, TPR, FPR and the two disparities against the threshold."""
    from ._plots import _series_style

    data = figure.data
    thresholds = np.asarray(data["thresholds"], dtype=float)
    labels = _group_labels(data)
    fig = new_figure(FIGSIZE[0] * 1.3, FIGSIZE[1] * 1.4)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    operating = float(data.get("operating_threshold", float("nan")))
    for ax, rate in zip(axes[:3], ("selection_rate", "tpr", "fpr"), strict=True):
        values = np.atleast_2d(np.asarray(data[rate], dtype=float))
        for i, (curve, label) in enumerate(zip(values, labels, strict=True)):
            ax.plot(thresholds, curve, label=label, linewidth=1.2, **_series_style(i))
        ax.set_title(_RATE_LABELS.get(rate, rate), fontsize=9.0)
        ax.set_ylim(0, 1.02)
    ax = axes[3]
    for i, (metric, key) in enumerate((("demographic_parity_difference",
                                        "operating_demographic_parity_difference"),
                                       ("equalized_odds_difference",
                                        "operating_equalized_odds_difference"))):
        style = _series_style(i)
        ax.plot(thresholds, np.asarray(data[metric], dtype=float), label=_METRIC_LABELS[metric],
                linewidth=1.4, **style)
        if np.isnan(operating):  # multi-class: argmax is no threshold; show its level
            ax.axhline(float(data[key]), color=style["color"], linestyle=":", linewidth=1.0)
        else:
            ax.plot([operating], [float(data[key])], "o", color=style["color"], markersize=5)
    ax.set_title("Difference between groups", fontsize=9.0)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8.0, loc="upper right")
    for ax in axes:
        if not np.isnan(operating):
            ax.axvline(operating, color=_GREY, linestyle="--", linewidth=0.8)
        ax.tick_params(labelsize=8.0)
    axes[0].legend(fontsize=8.0, loc="upper right")
    note = (f"threshold on the probability of {_wrapped(data.get('positive_class', ''))!r}; "
            + ("dashed: the operating point" if not np.isnan(operating)
               else "dotted: the operating point (argmax)"))
    fig.suptitle(figure.title or "Disparities across thresholds", fontsize=10.0,
                 fontweight="bold")
    fig.supxlabel(note, fontsize=8.0, color=_GREY)
    return fig


@plotter("group_roc_curves")
def group_roc_curves(figure: Figure) -> Any:
    """One ROC curve per group with its AUC, and each group's operating point."""
    from ._plots import _capped_legend, _diagonal, _series_style, _unit_axes

    data = figure.data
    fpr = np.asarray(data["fpr"], dtype=float)
    tpr = np.atleast_2d(np.asarray(data["tpr"], dtype=float))
    auc = np.asarray(data["auc"], dtype=float)
    labels = _group_labels(data)
    fig = new_figure()
    ax = fig.subplots()
    for i, (curve, label, area) in enumerate(zip(tpr, labels, auc, strict=True)):
        if np.isnan(area):
            continue
        style = _series_style(i)
        ax.plot(fpr, curve, label=f"{label}, AUC {area:.3f}", linewidth=1.2, **style)
        ax.plot([float(data["operating_fpr"][i])], [float(data["operating_tpr"][i])], "o",
                color=style["color"], markersize=5)
    _diagonal(ax, "chance")
    _unit_axes(ax, "False positive rate", "True positive rate",
               figure.title or "ROC curves by group")
    _capped_legend(ax, len(labels))
    return fig


@plotter("mitigation_tradeoff")
def mitigation_tradeoff(figure: Figure) -> Any:
    """Accuracy against each disparity, one labelled point per approach."""
    data = figure.data
    approaches = [str(a) for a in data["approaches"]]
    accuracy = np.asarray(data["accuracy"], dtype=float)
    fig = new_figure(FIGSIZE[0] * 1.3, FIGSIZE[1])
    axes = fig.subplots(1, 2, sharey=True)
    for ax, metric in zip(axes, ("demographic_parity_difference", "equalized_odds_difference"),
                          strict=True):
        values = np.asarray(data[metric], dtype=float)
        for i, (x, y, name) in enumerate(zip(values, accuracy, approaches, strict=True)):
            ax.plot([x], [y], "o", color=PALETTE[i % len(PALETTE)], markersize=6)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4),
                        fontsize=8.0)
        ax.set_xlim(-0.02, max(1.0, float(np.nanmax(values)) + 0.05))
        ax.set_xlabel(f"{_METRIC_LABELS[metric]} difference (0 = parity)", fontsize=8.0)
        ax.tick_params(labelsize=8.0)
    axes[0].set_ylabel("Accuracy (evaluation half)", fontsize=8.0)
    fig.suptitle(figure.title or "Accuracy against disparity", fontsize=10.0,
                 fontweight="bold")
    return fig
