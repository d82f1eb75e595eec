"""Plots of fairness_recourse: recourse rate per sensitive group, and the features it changes.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Intervals are error bars; groups too small to judge are hatched
and pale, and their size is written on the axis, so the flag does not rest on
colour alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, PALETTE, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"
_TOP = 15


def _errors(values: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(values)
    return np.vstack([np.clip(values - np.nan_to_num(lower, nan=0.0), 0, None),
                      np.clip(np.nan_to_num(upper, nan=0.0) - values, 0, None)])


@plotter("recourse_groups")
def recourse_groups(figure: Figure) -> Any:
    """Share of unfavourable decisions a small actionable change reverses, per group."""
    data = figure.data
    sections = [str(s) for s in data["sections"]]
    groups = [str(g) for g in data["groups"]]
    values = np.asarray(data["recourse_rate"], dtype=float)
    lower = np.asarray(data["lower"], dtype=float)
    upper = np.asarray(data["upper"], dtype=float)
    n = np.asarray(data["n"], dtype=int)
    small = np.asarray(data["too_small"], dtype=bool)
    labels = [f"{_wrapped(s)}: {_wrapped(g)} (n={c:,})" for s, g, c in
              zip(sections, groups, n, strict=True)]
    fig = new_figure(FIGSIZE[0], max(2.4, 0.28 * len(groups) + 1.4))
    ax = fig.subplots()
    positions = np.arange(len(groups))
    order = list(dict.fromkeys(sections))
    colours = [PALETTE[order.index(s) % len(PALETTE)] for s in sections]
    bars = ax.barh(positions, np.nan_to_num(values), color=colours,
                   xerr=_errors(values, lower, upper), ecolor="#1A1A1A", capsize=2,
                   error_kw={"linewidth": 0.8})
    for bar, is_small in zip(bars, small, strict=True):
        if is_small:
            bar.set_alpha(0.35)
            bar.set_hatch("///")
    ax.set_yticks(positions, labels)
    ax.tick_params(axis="y", labelsize=8.0)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"Share of decisions reversed "
                  f"({float(data.get('confidence', 0.95)):.0%} intervals)")
    ax.set_title(figure.title or "Recourse by group")
    ax.text(1.0, -0.16, f"hatched: fewer than {int(data['min_group_size'])} samples",
            transform=ax.transAxes, ha="right", va="top", fontsize=8.0, color=_GREY)
    return fig


@plotter("recourse_features")
def recourse_features(figure: Figure) -> Any:
    """How often each actionable feature was changed by a reversing change (most first)."""
    data = figure.data
    names = [str(n) for n in data["names"]]
    count = np.asarray(data["count"], dtype=int)
    total = max(int(data.get("n_reversed", 0)), 1)
    share = count / total
    top = np.argsort(-share, kind="stable")[:_TOP]
    fig = new_figure(FIGSIZE[0], max(2.2, 0.3 * len(top) + 1.2))
    ax = fig.subplots()
    positions = np.arange(len(top))
    bars = ax.barh(positions, share[top], color=PALETTE[1])
    ax.bar_label(bars, labels=[f"{c:,}" for c in count[top]], fontsize=8.0, padding=2)
    ax.set_yticks(positions, [_wrapped(names[i]) for i in top])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_xlabel(f"Share of {int(data.get('n_reversed', 0)):,} reversed decisions "
                  "(count at bar)")
    ax.set_title(figure.title or "Features a reversing change uses")
    if len(names) > _TOP:
        ax.text(1.0, -0.02, f"top {_TOP} of {len(names)} actionable features",
                transform=ax.transAxes, ha="right", va="top", fontsize=8.0, color=_GREY)
    return fig
