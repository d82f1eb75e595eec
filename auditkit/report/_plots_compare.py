"""Plots of the comparison page: each family's metrics side by side, one colour per audit.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. One row per metric, one dot and whisker (the estimate and its
interval) per audit; metrics whose values all lie in [0, 1] (rates,
disparities, AUC) share one axis from 0 to 1, so a change's size reads
directly, and each metric on another scale gets a small panel of its own.
A row that got worse is shaded red and one that got better green; its values
are written at the right, so the verdict does not rest on colour alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import PALETTE, new_figure, plotter

_GREY = "#6B6B6B"
_MARK_SHADE = {"worse": "#FBE3E0", "better": "#E3F1E6"}
_MARK_TEXT = {"worse": "#B42318", "better": "#1E7B34"}
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
_MAX_ROW_LABEL = 46
_ROW_HEIGHT = 0.3  # inches per metric row of the shared panel
_SMALL_PANEL = 0.62  # inches of a metric on a scale of its own


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ROW_LABEL else text[: _MAX_ROW_LABEL - 1] + "\u2026"


def _offsets(n_audits: int) -> np.ndarray:
    """Vertical offset of each audit's dot within a row, so whiskers never overlap."""
    step = min(0.28, 0.7 / max(n_audits, 1))
    return (np.arange(n_audits) - (n_audits - 1) / 2) * step


@plotter("compare_intervals")
def compare_intervals(figure: Figure) -> Any:
    """One row per metric, a dot and whisker per audit; values to the right."""
    data = figure.data
    labels = [str(label) for label in data["labels"]]
    audits = [str(audit) for audit in data["audits"]]
    values = np.atleast_2d(np.asarray(data["values"], dtype=float))
    lower = np.atleast_2d(np.asarray(data["lower"], dtype=float))
    upper = np.atleast_2d(np.asarray(data["upper"], dtype=float))
    limits = np.asarray(data["limits"], dtype=float)
    marks = [str(mark) for mark in data["marks"]]
    texts = [str(text) for text in data["texts"]]
    shared = np.asarray(data["shared"], dtype=bool)
    rows = {"shared": np.flatnonzero(shared).tolist(),
            "own": np.flatnonzero(~shared).tolist()}
    heights = ([max(len(rows["shared"]), 1) * _ROW_HEIGHT + 0.5] if rows["shared"] else [])
    heights += [_SMALL_PANEL] * len(rows["own"])
    fig = new_figure(8.8, sum(heights) + 0.9)
    axes = np.atleast_1d(fig.subplots(len(heights), 1, height_ratios=heights))
    panels = ([rows["shared"]] if rows["shared"] else []) + [[r] for r in rows["own"]]
    for ax, members in zip(axes, panels, strict=True):
        _panel(ax, members, labels, values, lower, upper, limits, marks, texts, audits)
        if members is rows["shared"]:
            ax.set_xlim(-0.02, 1.02)
    axes[-1].set_xlabel(f"Estimate with its {float(data.get('confidence', 0.95)):.0%} "
                        "interval; shaded: worse (red) or better (green), intervals apart")
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(name, handle)
    names = [n for n in audits if n in entries] + [n for n in entries if n not in audits]
    axes[0].legend([entries[n] for n in names], names, loc="lower left",
                   bbox_to_anchor=(0.0, 1.0), ncol=min(len(names), 5), fontsize=8.0,
                   handletextpad=0.3, columnspacing=1.2, borderaxespad=0.2)
    if figure.title:
        fig.suptitle(figure.title, fontsize=10.0, fontweight="bold")
    return fig


def _panel(ax: Any, members: list[int], labels: list[str], values: np.ndarray,
           lower: np.ndarray, upper: np.ndarray, limits: np.ndarray, marks: list[str],
           texts: list[str], audits: list[str]) -> None:
    offsets = _offsets(len(audits))
    labelled: set[str] = set()  # one legend entry per series, at its first row

    def label(name: str) -> str | None:
        if name in labelled:
            return None
        labelled.add(name)
        return name

    for position, row in enumerate(members):
        shade = _MARK_SHADE.get(marks[row])
        if shade is not None:
            ax.axhspan(position - 0.5, position + 0.5, color=shade, zorder=0, linewidth=0)
        if np.isfinite(limits[row]):
            ax.plot([limits[row]], [position], marker="|", markersize=13, markeredgewidth=1.4,
                    color=_GREY, linestyle="none", zorder=2,
                    label=label("policy limit"))
        for j, name in enumerate(audits):
            value = values[row, j]
            if not np.isfinite(value):
                continue
            low = lower[row, j] if np.isfinite(lower[row, j]) else value
            high = upper[row, j] if np.isfinite(upper[row, j]) else value
            ax.errorbar([value], [position + offsets[j]],
                        xerr=[[max(value - low, 0.0)], [max(high - value, 0.0)]],
                        fmt=_MARKERS[j % len(_MARKERS)], markersize=4.5, capsize=2.5,
                        linewidth=1.2, color=PALETTE[j % len(PALETTE)], zorder=3,
                        label=label(name))
        ax.text(1.01, position, texts[row], transform=ax.get_yaxis_transform(), va="center",
                ha="left", fontsize=8.0, color=_MARK_TEXT.get(marks[row], "#1A1A1A"),
                fontweight="bold" if marks[row] in _MARK_TEXT else "normal")
    ax.set_yticks(range(len(members)), [_short(labels[row]) for row in members])
    ax.set_ylim(len(members) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="y", length=0, labelsize=8.0)
    ax.tick_params(axis="x", labelsize=7.5)
    for row_position, row in enumerate(members):
        if marks[row] in _MARK_TEXT:
            ax.get_yticklabels()[row_position].set_color(_MARK_TEXT[marks[row]])
            ax.get_yticklabels()[row_position].set_fontweight("bold")
