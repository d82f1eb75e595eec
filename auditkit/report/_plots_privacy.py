"""Plots of the privacy family: ROC on log-log axes, score histograms, top-scoring images.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. The ROC is drawn on log-log axes (Carlini et al. 2022), where
the low-FPR region an attacker uses is visible; a dotted vertical line marks
the smallest FPR the sample resolves, and left of it nothing was measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import (
    FIGSIZE,
    _capped_legend,
    _plain_log_ticks,
    _series_style,
    _wrapped,
    new_figure,
    plotter,
)

_GREY = "#6B6B6B"


@plotter("membership_roc")
def membership_roc(figure: Figure) -> Any:
    """One ROC per attack on log-log axes, the chance diagonal, and the resolvable-FPR line."""
    data = figure.data
    attacks = [str(a) for a in data["attacks"]]
    smallest = float(data["min_resolvable_fpr"])
    floor = smallest / 2
    tpr_floor = 0.5 / float(data.get("n_members", 1.0 / smallest))
    fig = new_figure()
    ax = fig.subplots()
    for i, attack in enumerate(attacks):
        fpr = np.asarray(data[f"fpr_{i}"], dtype=float)
        tpr = np.asarray(data[f"tpr_{i}"], dtype=float)
        # zeros cannot be drawn on log axes: they sit on the axis floor (half a record)
        ax.step(np.maximum(fpr, floor), np.maximum(tpr, tpr_floor), where="post", linewidth=1.3,
                label=_wrapped(attack), **_series_style(i))
    grid = np.geomspace(floor, 1, 50)
    ax.plot(grid, grid, color=_GREY, linestyle="--", linewidth=1.0, label="chance")
    ax.axvline(smallest, color=_GREY, linestyle=":", linewidth=1.0)
    ax.text(smallest, 1.0, f" smallest resolvable\n FPR {smallest:.2%}", fontsize=8.0,
            color=_GREY, va="top", ha="left")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis, percent=True)
    _plain_log_ticks(ax.yaxis, percent=True)
    ax.set_xlim(floor, 1)
    ax.set_ylim(tpr_floor, 1.05)
    ax.set_xlabel("False-positive rate (non-members called members)")
    ax.set_ylabel("True-positive rate (members found)")
    ax.set_title(figure.title or "Membership inference ROC (log-log)")
    _capped_legend(ax, len(attacks) + 1)
    return fig


@plotter("membership_score_histogram")
def membership_score_histogram(figure: Figure) -> Any:
    """Overlaid histograms of one attack's scores on members and non-members."""
    data = figure.data
    members = np.asarray(data["members"], dtype=float)
    others = np.asarray(data["non_members"], dtype=float)
    finite = np.r_[members, others]
    finite = finite[np.isfinite(finite)]
    fig = new_figure()
    ax = fig.subplots()
    if finite.size:
        low, high = np.quantile(finite, [0.0, 1.0])
        bins = np.linspace(low, high if high > low else low + 1, 40)
        ax.hist(np.clip(others, low, high), bins=bins, alpha=0.55, color="#0072B2",
                label=f"{data.get('non_member_label', 'non-members')} (n={len(others):,})")
        ax.hist(np.clip(members, low, high), bins=bins, alpha=0.55, color="#D55E00",
                label=f"{data.get('member_label', 'members')} (n={len(members):,})",
                histtype="stepfilled")
    threshold = data.get("threshold")
    if threshold is not None and np.isfinite(float(threshold)):
        ax.axvline(float(threshold), color="black", linestyle="--", linewidth=1.0,
                   label="threshold at 1% FPR")
    ax.set_xlabel(f"Membership score: {data.get('attack', '')} (higher: member)")
    ax.set_ylabel("Records")
    ax.set_title(figure.title or "Membership scores")
    ax.legend(loc="upper left", fontsize=8.0)
    return fig


@plotter("membership_top_records")
def membership_top_records(figure: Figure) -> Any:
    """The images with the highest membership scores, with label, score and membership."""
    data = figure.data
    images = np.asarray(data["images"], dtype=float)
    labels = [str(label) for label in data["labels"]]
    scores = np.asarray(data["scores"], dtype=float)
    member = np.asarray(data["member"], dtype=bool)
    count = len(images)
    columns = min(count, 5)
    rows = int(np.ceil(count / max(columns, 1)))
    fig = new_figure(min(FIGSIZE[0], 1.2 * columns + 0.5), 1.35 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if i >= count:
            ax.set_visible(False)
    for i in range(count):
        image = images[i]
        if image.ndim == 3 and image.shape[0] in (1, 3):  # channels first
            image = np.moveaxis(image, 0, -1)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        axes[i].imshow(image, cmap="gray" if image.ndim == 2 else None)
        axes[i].set_title(f"{'member' if member[i] else 'non-member'}\nlabel {_wrapped(labels[i])}"
                          f", {scores[i]:.3g}", fontsize=8.0)
    fig.suptitle(figure.title or "Highest membership scores", fontsize=9)
    return fig
