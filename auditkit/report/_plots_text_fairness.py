"""Plots of counterfactual text fairness: term sensitivity and scores by name group.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Bars are signed effects on the positive-class score; the colour
names the term's group and the label repeats it, so colour is never the only cue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, PALETTE, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"


@plotter("term_sensitivity")
def term_sensitivity(figure: Figure) -> Any:
    """One horizontal bar per term: its mean signed effect on the positive score."""
    data = figure.data
    terms = [str(t) for t in data["terms"]]
    groups = [str(g) for g in data["groups"]]
    effects = np.asarray(data["mean_effect"], dtype=float)
    colours = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(dict.fromkeys(groups))}
    fig = new_figure(FIGSIZE[0] * 1.2, max(2.4, 0.26 * len(terms) + 1.2))
    ax = fig.subplots()
    positions = np.arange(len(terms))
    for group, colour in colours.items():
        rows = [i for i, g in enumerate(groups) if g == group]
        ax.barh(positions[rows], effects[rows], color=colour, label=_wrapped(group))
    ax.axvline(0.0, color=_GREY, linewidth=0.8)
    ax.set_yticks(positions, [_wrapped(t) for t in terms])
    ax.invert_yaxis()
    ax.set_xlabel("Mean change of the positive-class score")
    ax.set_title(figure.title or "Term sensitivity")
    if terms:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.0)
    return fig


@plotter("name_group_scores")
def name_group_scores(figure: Figure) -> Any:
    """Mean template score per name group, with its interval and the number of names."""
    data = figure.data
    groups = [str(g) for g in data["groups"]]
    values = np.asarray(data["values"], dtype=float)
    lower = np.asarray(data["lower"], dtype=float)
    upper = np.asarray(data["upper"], dtype=float)
    count = np.asarray(data["n_names"], dtype=int)
    errors = np.vstack([np.clip(values - lower, 0, None), np.clip(upper - values, 0, None)])
    fig = new_figure(FIGSIZE[0], max(2.2, 0.35 * len(groups) + 1.2))
    ax = fig.subplots()
    positions = np.arange(len(groups))
    ax.barh(positions, values, xerr=errors, color=[PALETTE[i // 2 % len(PALETTE)]
                                                   for i in range(len(groups))],
            ecolor="#1A1A1A", capsize=2, error_kw={"linewidth": 0.8})
    ax.set_yticks(positions, [f"{_wrapped(g)} (n={c})" for g, c in zip(groups, count,
                                                                     strict=True)])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"Mean positive score on templates "
                  f"({float(data.get('confidence', 0.95)):.0%} intervals over names)")
    ax.set_title(figure.title or "Scores by name group")
    return fig
