"""Plots of the natural-corruptions check: accuracy against severity, and example images.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Each corruption is a line with its own colour, dash and marker,
so the curves read apart without colour; clean accuracy is a grey band.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, _capped_legend, _series_style, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@plotter("corruption_accuracy_curves")
def corruption_accuracy_curves(figure: Figure) -> Any:
    """Accuracy against severity, one line per corruption, with intervals; clean as a band."""
    data = figure.data
    severities = np.asarray(data["severities"], dtype=float)
    accuracy = np.atleast_2d(np.asarray(data["accuracy"], dtype=float))
    lower = np.atleast_2d(np.asarray(data["lower"], dtype=float))
    upper = np.atleast_2d(np.asarray(data["upper"], dtype=float))
    labels = [str(label) for label in data["labels"]]
    fig = new_figure()
    ax = fig.subplots()
    clean = float(data["clean_accuracy"])
    clean_low, clean_high = (float(data.get(k) if data.get(k) is not None else clean)
                             for k in ("clean_lower", "clean_upper"))
    ax.axhspan(clean_low, clean_high, color=_GREY, alpha=0.15, linewidth=0)
    ax.axhline(clean, color=_GREY, linestyle="--", linewidth=1.0, label=f"clean ({clean:.1%})")
    offsets = (np.arange(len(labels)) - (len(labels) - 1) / 2) * 0.04
    for i, label in enumerate(labels):
        error = np.vstack([np.clip(accuracy[i] - lower[i], 0, None),
                           np.clip(upper[i] - accuracy[i], 0, None)])
        ax.errorbar(severities + offsets[i], accuracy[i], yerr=np.nan_to_num(error),
                    marker=_MARKERS[i % len(_MARKERS)], markersize=4, capsize=2,
                    linewidth=1.4, label=_wrapped(label), **_series_style(i))
    ax.set_xticks(severities, [str(int(s)) for s in severities])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Severity")
    ax.set_ylabel(f"Accuracy ({float(data.get('confidence', 0.95)):.0%} intervals, "
                  f"n={int(data['n']):,})")
    ax.set_title(figure.title or "Accuracy against corruption severity")
    _capped_legend(ax, len(labels) + 1, loc="lower left")
    return fig


@plotter("corruption_examples")
def corruption_examples(figure: Figure) -> Any:
    """A grid of one image: clean, then each corruption (rows) at a few severities (columns)."""
    data = figure.data
    images = np.asarray(data["images"])
    labels = [str(label) for label in data["labels"]]
    severities = [int(s) for s in np.asarray(data["severities"]).ravel()]
    predictions = np.asarray(data["predictions"], dtype=object)
    rows, columns = len(labels), len(severities) + 1
    fig = new_figure(min(FIGSIZE[0], 1.25 * columns + 0.9), 1.2 * rows + 0.7)
    axes = fig.subplots(rows, columns, squeeze=False)
    colour = "gray" if images.ndim == 4 else None
    for i, label in enumerate(labels):
        first = axes[i, 0]
        if i == 0:
            first.imshow(np.asarray(data["clean"]), cmap=colour, vmin=0, vmax=255)
            first.set_title(f"clean: {_wrapped(data['clean_prediction'])}", fontsize=8.0)
        first.set_ylabel(_wrapped(label), fontsize=8.0)
        for j, severity in enumerate(severities):
            ax = axes[i, j + 1]
            ax.imshow(images[i, j], cmap=colour, vmin=0, vmax=255)
            ax.set_title(f"severity {severity}: {_wrapped(predictions[i, j])}", fontsize=8.0)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
    fig.suptitle(figure.title or "Corrupted examples", fontsize=9.0, fontweight="bold")
    fig.supxlabel(f"true class {_wrapped(data['true_class'])}; each title names the predicted "
                  "class", fontsize=8.0, color=_GREY)
    return fig
