"""Plots of the OOD detection check: score histograms, ROC curves, confident OOD examples.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. In-distribution scores are a grey filled histogram; each OOD set
is an outline with its own colour and dash, so the sets read apart without
colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import (
    FIGSIZE,
    _capped_legend,
    _diagonal,
    _series_style,
    _unit_axes,
    _wrapped,
    new_figure,
    plotter,
)

_GREY = "#6B6B6B"


def _grid(n: int) -> tuple[int, int]:
    columns = 1 if n == 1 else 2 if n <= 4 else 3
    return -(-n // columns), columns


@plotter("ood_score_histograms")
def ood_score_histograms(figure: Figure) -> Any:
    """One panel per detector: the density of its scores on in-distribution and OOD inputs."""
    data = figure.data
    detectors = [str(d) for d in data["detectors"]]
    sets = [str(s) for s in data["sets"]]
    edges = np.atleast_2d(np.asarray(data["edges"], dtype=float))
    id_density = np.atleast_2d(np.asarray(data["id_density"], dtype=float))
    ood_density = np.asarray(data["ood_density"], dtype=float).reshape(
        len(detectors), len(sets), -1)
    rows, columns = _grid(len(detectors))
    fig = new_figure(FIGSIZE[0] if columns < 3 else 7.0,
                     FIGSIZE[1] if rows == 1 else 1.7 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for i, name in enumerate(detectors):
        ax = axes[i]
        ax.stairs(id_density[i], edges[i], fill=True, color=_GREY, alpha=0.35,
                  label="in-distribution")
        for j, ood in enumerate(sets):
            ax.stairs(ood_density[i, j], edges[i], linewidth=1.4, label=_wrapped(ood),
                      **_series_style(j + 1 if j + 1 < 8 else j))
        ax.set_yticks([])
        if len(detectors) > 1:
            ax.set_title(_wrapped(name), fontsize=8.0)
        else:
            ax.set_xlabel("Score (larger = more likely OOD)")
            ax.set_ylabel("Density")
    for ax in axes[len(detectors):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if len(detectors) > 1:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)),
                   title="score (larger = more likely OOD)", title_fontsize=8.0)
    else:
        axes[0].legend(loc="upper right")
    fig.suptitle(figure.title or "OOD scores", fontsize=10.0, fontweight="bold")
    return fig


@plotter("ood_roc_curves")
def ood_roc_curves(figure: Figure) -> Any:
    """One panel per OOD set: the ROC curve of every detector (OOD positive)."""
    data = figure.data
    detectors = [str(d) for d in data["detectors"]]
    sets = [str(s) for s in data["sets"]]
    fpr = np.asarray(data["fpr"], dtype=float)
    tpr = np.asarray(data["tpr"], dtype=float).reshape(len(sets), len(detectors), -1)
    rows, columns = _grid(len(sets))
    fig = new_figure(FIGSIZE[0] + (1.6 if len(detectors) > 4 else 0.0),
                     FIGSIZE[1] if rows == 1 else 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for j, ood in enumerate(sets):
        ax = axes[j]
        for i, name in enumerate(detectors):
            ax.plot(fpr, tpr[j, i], label=_wrapped(name), linewidth=1.3, **_series_style(i))
        _diagonal(ax, "chance")
        _unit_axes(ax, "False positive rate (ID flagged)", "True positive rate (OOD flagged)",
                   _wrapped(ood) if len(sets) > 1 else (figure.title or "ROC curves"))
    for ax in axes[len(sets):]:
        ax.set_visible(False)
    if len(detectors) + 1 > 4:  # every detector named: the report compares them all
        axes[len(sets) - 1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5),
                                   fontsize=8.0)
    else:
        _capped_legend(axes[len(sets) - 1], len(detectors) + 1)
    return fig


def _example_axes(figure: Figure, n: int) -> tuple[Any, np.ndarray]:
    columns = min(n, 4)
    rows = -(-n // columns)
    fig = new_figure(min(FIGSIZE[0], 1.45 * columns + 0.4), 1.5 * rows + 0.6)
    return fig, np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()


def _caption(figure: Figure, i: int) -> str:
    data = figure.data
    sets = [str(s) for s in data["sets"]]
    label = f"{_wrapped(sets[i])}\n" if len(set(sets)) > 1 else ""
    confidence = float(np.asarray(data["confidence"])[i])
    shown = "> 99.9%" if confidence > 0.999 else f"{confidence:.1%}"
    return f"{label}{_wrapped(data['predicted'][i])} ({shown})"


@plotter("ood_examples_image")
def ood_examples_image(figure: Figure) -> Any:
    """The OOD images the model is most confident on, titled with predicted class and confidence."""
    images = np.asarray(figure.data["images"])
    fig, axes = _example_axes(figure, len(images))
    colour = "gray" if images.ndim == 3 else None
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i >= len(images):
            ax.set_visible(False)
            continue
        ax.imshow(images[i], cmap=colour, vmin=0, vmax=255)
        ax.set_title(_caption(figure, i), fontsize=8.0)
    fig.suptitle(figure.title or "Confident OOD inputs", fontsize=9.0, fontweight="bold")
    fig.supxlabel("predicted class (max. probability)", fontsize=8.0, color=_GREY)
    return fig


@plotter("ood_examples_sequence")
def ood_examples_sequence(figure: Figure) -> Any:
    """The OOD sequences the model is most confident on: one line per channel."""
    series = np.asarray(figure.data["series"], dtype=float)
    channels = [str(c) for c in figure.data.get("channels", [])] or \
        [f"channel {c}" for c in range(series.shape[2])]
    fig, axes = _example_axes(figure, len(series))
    for i, ax in enumerate(axes):
        if i >= len(series):
            ax.set_visible(False)
            continue
        for c in range(series.shape[2]):
            ax.plot(series[i, :, c], linewidth=1.0, label=_wrapped(channels[c]),
                    **_series_style(c))
        ax.set_title(_caption(figure, i), fontsize=8.0)
        ax.tick_params(labelsize=8.0)
    if series.shape[2] > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)))
    fig.suptitle(figure.title or "Confident OOD inputs", fontsize=9.0, fontweight="bold")
    return fig
