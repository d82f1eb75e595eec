"""Plots of the drift check: effect size per feature, the most drifted distributions, MMD null.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Significance is shown by fill and by a marker, not by colour
alone: a feature whose corrected p-value is below alpha is a filled bar with
an asterisk; the others are hatched outlines.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, PALETTE, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"
_MAX_FEATURES = 20
_MAX_BINS = 16
#: Conventional PSI levels (minor / major shift), drawn as guides; the policy decides verdicts.
_PSI_GUIDES = (0.1, 0.25)


@plotter("drift_effect_sizes")
def drift_effect_sizes(figure: Figure) -> Any:
    """PSI per feature as horizontal bars with intervals; significant features filled."""
    data = figure.data
    names = [str(n) for n in data["features"]]
    psi = np.asarray(data["psi"], dtype=float)
    lower = np.asarray(data["psi_lower"], dtype=float)
    upper = np.asarray(data["psi_upper"], dtype=float)
    drifted = np.asarray(data["drifted"], dtype=bool)
    order = np.argsort(-psi, kind="stable")[:_MAX_FEATURES][::-1]
    fig = new_figure(FIGSIZE[0], max(2.4, 0.24 * len(order) + 1.3))
    ax = fig.subplots()
    positions = np.arange(len(order))
    for position, i in zip(positions, order, strict=True):
        filled = bool(drifted[i])
        ax.barh(position, psi[i], height=0.7, color=PALETTE[1] if filled else "white",
                edgecolor=PALETTE[1] if filled else _GREY, hatch=None if filled else "///",
                linewidth=0.8)
        if np.isfinite(lower[i]) and np.isfinite(upper[i]):
            ax.plot([lower[i], upper[i]], [position, position], color="black", linewidth=1.0)
        if filled:
            ax.text(max(psi[i], upper[i] if np.isfinite(upper[i]) else psi[i]), position,
                    " *", va="center", fontsize=9, fontweight="bold")
    top = float(np.nanmax(np.r_[psi, upper[np.isfinite(upper)], _PSI_GUIDES[1]])) * 1.15
    for level, style in zip(_PSI_GUIDES, (":", "--"), strict=True):
        ax.axvline(level, color=_GREY, linestyle=style, linewidth=1.0)
        ax.text(level, len(order) - 0.4, f" {level:g}", color=_GREY, fontsize=8.0, va="bottom")
    ax.set_yticks(positions, [_wrapped(names[i]) for i in order])
    ax.set_xlim(0, top)
    ax.set_ylim(-0.6, len(order) - 0.1)
    ax.set_xlabel("Population stability index (bar) and interval (line)")
    shown = f", largest {len(order)} of {len(names)}" if len(names) > len(order) else ""
    ax.set_title(figure.title or "Effect size of the shift, per feature")
    correction = str(data.get("correction", "holm")).capitalize()
    fig.supxlabel(f"* filled: {correction}-corrected p < {float(data.get('alpha', 0.05)):g}; "
                  f"hatched: not significant{shown}; guides at PSI 0.1 and 0.25",
                  fontsize=8.0, color=_GREY)
    return fig


@plotter("drift_distributions")
def drift_distributions(figure: Figure) -> Any:
    """Reference and audited shares per PSI bin, one panel per feature."""
    data = figure.data
    features = [str(f) for f in data["features"]]
    if not features:
        fig = new_figure(FIGSIZE[0], 1.5)
        fig.text(0.5, 0.5, "No feature to show", ha="center", va="center", color=_GREY)
        return fig
    fig = new_figure(FIGSIZE[0], 1.9 * len(features) + 0.6)
    axes = np.atleast_1d(fig.subplots(len(features), 1, squeeze=False)[:, 0])
    psi = np.asarray(data["psi"], dtype=float)
    p_corrected = np.asarray(data["p_corrected"], dtype=float)
    for k, ax in enumerate(axes):
        labels = [str(label) for label in data["labels"][k]]
        reference = np.asarray(data["reference"][k], dtype=float)
        audited = np.asarray(data["audited"][k], dtype=float)
        if len(labels) > _MAX_BINS:  # the largest bins of either sample, in their order
            keep = np.sort(np.argsort(-np.maximum(reference, audited))[:_MAX_BINS])
            labels, reference, audited = ([labels[i] for i in keep], reference[keep],
                                          audited[keep])
        x = np.arange(len(labels))
        ax.bar(x - 0.2, reference, width=0.4, color=PALETTE[0], label="reference")
        ax.bar(x + 0.2, audited, width=0.4, color="white", edgecolor=PALETTE[1], hatch="///",
               label="audited")
        ax.set_xticks(x, [_wrapped(label) for label in labels], rotation=30, ha="right",
                      fontsize=8.0)
        ax.set_ylabel("Share")
        kind = str(data["kinds"][k])
        bins = "reference-decile bins" if kind == "numeric" else "categories"
        ax.set_title(f"{_wrapped(features[k])}: PSI {psi[k]:.3f}, corrected p "
                     f"{p_corrected[k]:.2g} ({bins})", fontsize=8.5)
        if k == 0:
            ax.legend(loc="best", fontsize=8.0)
    fig.suptitle(figure.title or "Reference and audited distributions", fontsize=9.0,
                 fontweight="bold")
    return fig


@plotter("mmd_permutation_null")
def mmd_permutation_null(figure: Figure) -> Any:
    """Histogram of MMD^2 under relabelling, with the observed statistic and its p-value."""
    data = figure.data
    null = np.asarray(data["null"], dtype=float)
    observed = float(data["observed"])
    fig = new_figure()
    ax = fig.subplots()
    ax.hist(null, bins=min(40, max(10, len(null) // 10)), color=PALETTE[0], alpha=0.7,
            label=f"{int(data['n_permutations'])} permutations")
    ax.axvline(observed, color=PALETTE[1], linewidth=2.0,
               label=f"observed {observed:.3g} (p = {float(data['p_value']):.3g})")
    low = min(float(null.min()) if len(null) else observed, observed)
    high = max(float(null.max()) if len(null) else observed, observed)
    pad = 0.05 * (high - low or 1.0)
    ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel(f"Unbiased MMD\u00b2 (Gaussian kernel, bandwidth "
                  f"{float(data['bandwidth']):.3g})")
    ax.set_ylabel("Permutations")
    ax.set_title(figure.title or "MMD permutation test")
    ax.legend(loc="upper right", fontsize=8.0)
    return fig
