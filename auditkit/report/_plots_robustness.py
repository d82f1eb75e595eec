"""Plots of the gradient and black-box attacks: robust accuracy curves, examples, costs.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Curves carry their Wilson intervals as bands; the budget the
headline is read at is marked, so the number in the text can be found on the
plot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import (
    FIGSIZE,
    PALETTE,
    _plain_log_ticks,
    _series_style,
    _wrapped,
    new_figure,
    plotter,
)

_GREY = "#6B6B6B"
_NORMS = {"linf": "L-inf", "l2": "L2"}


@plotter("robust_accuracy_curve")
def robust_accuracy_curve(figure: Figure) -> Any:
    """Robust accuracy against epsilon, a line per attack, the clean accuracy at epsilon 0."""
    data = figure.data
    eps = np.asarray(data["epsilons"], dtype=float)
    accuracy = np.atleast_2d(np.asarray(data["accuracy"], dtype=float))
    lower = np.atleast_2d(np.asarray(data["lower"], dtype=float))
    upper = np.atleast_2d(np.asarray(data["upper"], dtype=float))
    clean = float(data["clean_accuracy"])
    fig = new_figure()
    ax = fig.subplots()
    xs = np.concatenate([[0.0], eps])
    for i, attack in enumerate(data["attacks"]):
        style = _series_style(i)
        ax.plot(xs, np.concatenate([[clean], accuracy[i]]), marker="o", markersize=3.5,
                label=_wrapped(attack, 40), **style)
        ax.fill_between(eps, lower[i], upper[i], color=style["color"], alpha=0.15, linewidth=0)
    ax.axvline(float(data["reference"]), color=_GREY, linestyle=":", linewidth=1.0,
               label=f"headline epsilon {float(data['reference']):g}")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, xs[-1] * 1.02)
    ax.set_xlabel(f"{_NORMS.get(str(data['norm']), data['norm'])} epsilon (units of the input "
                  "range)")
    ax.set_ylabel("Accuracy under attack")
    ax.set_title(figure.title or "Robust accuracy")
    ax.legend(loc="upper right")
    return fig


@plotter("adversarial_examples")
def adversarial_examples(figure: Figure) -> Any:
    """Rows of original, adversarial and difference, with labels and predictions."""
    data = figure.data
    original = np.asarray(data["original"], dtype=float)
    adversarial = np.asarray(data["adversarial"], dtype=float)
    n = len(original)
    fig = new_figure(FIGSIZE[0], 1.55 * n + 0.5)
    axes = np.atleast_2d(fig.subplots(n, 3))
    is_sequence = str(data.get("modality")) == "sequence"
    for row in range(n):
        difference = adversarial[row] - original[row]
        limit = max(float(np.abs(difference).max()), 1e-6)
        panels = ((original[row], f"original: {_wrapped(data['label'][row])}", "gray", 0, 1),
                  (adversarial[row], f"adversarial: {_wrapped(data['predicted'][row])} "
                   f"({float(data['confidence'][row]):.0%})", "gray", 0, 1),
                  (difference, f"difference (max {limit:.2g})", "RdBu_r", -limit, limit))
        for ax, (image, title, cmap, vmin, vmax) in zip(axes[row], panels, strict=True):
            shown = image.T if is_sequence and image.ndim == 2 else image
            if shown.ndim == 3 and shown.shape[-1] == 3 and cmap == "gray":
                ax.imshow(np.clip(shown, 0, 1))
            else:
                picture = ax.imshow(shown if shown.ndim == 2 else shown.mean(axis=-1),
                                    cmap=cmap, vmin=vmin, vmax=vmax,
                                    aspect="auto" if is_sequence else "equal")
                if cmap != "gray":
                    colourbar = fig.colorbar(picture, ax=ax, shrink=0.85)
                    colourbar.set_label("adversarial \u2212 original\n(red: raised)",
                                        fontsize=8.0)
            ax.set_title(title, fontsize=8.0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
    fig.suptitle(figure.title or "Adversarial examples", fontsize=10.0, fontweight="bold")
    if is_sequence:
        fig.supxlabel("time (columns) by channel (rows), unit scale", fontsize=8.0, color=_GREY)
    return fig


@plotter("perturbation_distribution")
def perturbation_distribution(figure: Figure) -> Any:
    """Share of correct predictions flipped within each L2 budget, the median marked."""
    data = figure.data
    l2 = np.asarray(data["l2"], dtype=float)
    share = np.asarray(data["share_flipped_by"], dtype=float)
    fig = new_figure()
    ax = fig.subplots()
    if len(l2):
        ax.step(np.concatenate([[0.0], l2]), np.concatenate([[0.0], share]), where="post",
                color=PALETTE[0], label="flipped by DeepFool")
    median = float(data["median"])
    if np.isfinite(median):
        ax.axvline(median, color=PALETTE[1], linestyle="--", linewidth=1.0,
                   label=f"median {median:.3g}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("L2 perturbation (units of the input range)")
    ax.set_ylabel("Share of correct predictions flipped")
    ax.set_title(figure.title or "Smallest flipping perturbations")
    if ax.get_legend_handles_labels()[0]:  # nothing flipped and no median: no legend
        ax.legend(loc="lower right")
    return fig


@plotter("success_against_queries")
def success_against_queries(figure: Figure) -> Any:
    """Black-box attack success against the number of queries (log scale)."""
    data = figure.data
    fig = new_figure()
    ax = fig.subplots()
    ax.step(np.asarray(data["queries"], dtype=float), np.asarray(data["success_rate"],
                                                                  dtype=float),
            where="post", color=PALETTE[1])
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Queries per sample")
    ax.set_ylabel("Attack success rate")
    ax.set_title(figure.title or "Success against queries")
    return fig
