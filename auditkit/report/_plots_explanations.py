"""Plots of the explanation family: attribution bars, heatmaps, tokens, curves.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Attributions are drawn diverging around zero: toward the
explained class in blue, against it in vermillion (Okabe-Ito), with the
numbers' sign also written or shown by bar direction so colour is never the
only signal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import (
    FIGSIZE,
    PALETTE,
    _capped_legend,
    _wrapped,
    new_figure,
    plotter,
    text_colour_on,
)

_POSITIVE, _NEGATIVE, _GREY = PALETTE[0], PALETTE[1], "#6B6B6B"
#: zero, middle and largest magnitude of non-negative attributions (light to dark)
_SEQUENTIAL = ("#FFFFFF", "#E69F00", "#8B2500")
_TOP = 10


def _diverging() -> Any:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("auditkit_div", [_NEGATIVE, "#FFFFFF", _POSITIVE])


def _sequential() -> Any:
    """White at zero to dark blue at the largest magnitude."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("auditkit_seq", list(_SEQUENTIAL))


@plotter("perturbation_curves")
def perturbation_curves(figure: Figure) -> Any:
    """Deletion and insertion curves of a method against random attributions."""
    data = figure.data
    x = np.asarray(data["fractions"], dtype=float)
    fig = new_figure()
    ax = fig.subplots()
    ax.plot(x, data["deletion"], color=_POSITIVE, label="deletion (method)")
    ax.plot(x, data["random_deletion"], color=_POSITIVE, linestyle=":", label="deletion (random)")
    ax.plot(x, data["insertion"], color=_NEGATIVE, label="insertion (method)")
    ax.plot(x, data["random_insertion"], color=_NEGATIVE, linestyle=":",
            label="insertion (random)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Fraction of units removed (deletion) or inserted (insertion)")
    ax.set_ylabel("Probability of the explained class")
    ax.set_title(figure.title or "Deletion and insertion curves")
    _capped_legend(ax, 4, loc="best")
    return fig


@plotter("attribution_bars")
def attribution_bars(figure: Figure) -> Any:
    """Signed attributions per feature, one panel per explained sample (top features)."""
    names = [str(n) for n in figure.data["names"]]
    values = np.asarray(figure.data["values"], dtype=float)
    labels = [str(label) for label in figure.data["labels"]]
    rows = len(values)
    fig = new_figure(FIGSIZE[0] * 1.3, max(2.2, 1.9 * rows))
    axes = np.atleast_1d(fig.subplots(rows, 1, squeeze=False)[:, 0])
    signed = _is_signed(figure, values)
    for ax, row, label in zip(axes, values, labels, strict=True):
        top = np.argsort(-np.abs(row), kind="stable")[:_TOP][::-1]
        colours = [_POSITIVE if row[j] >= 0 or not signed else _NEGATIVE for j in top]
        ax.barh(np.arange(len(top)), row[top], color=colours)
        ax.set_yticks(np.arange(len(top)), [_wrapped(names[j]) for j in top])
        ax.axvline(0, color=_GREY, linewidth=0.8)
        ax.set_title(_wrapped(label, 90), fontsize=8.5, loc="left")
        ax.tick_params(labelsize=8.0)
    axes[-1].set_xlabel("Attribution (positive: toward the predicted class; vermillion bars: "
                        "against)" if signed else "Attribution magnitude (non-negative)")
    fig.suptitle(figure.title or "Attributions", fontsize=10.0, fontweight="bold")
    return fig


@plotter("importance_bars")
def importance_bars(figure: Figure) -> Any:
    """Global importance (mean |attribution|) with confidence intervals."""
    names = [str(n) for n in figure.data["names"]]
    values = np.asarray(figure.data["values"], dtype=float)
    lower = np.asarray(figure.data.get("lower", values), dtype=float)
    upper = np.asarray(figure.data.get("upper", values), dtype=float)
    order = np.argsort(-values, kind="stable")[:15][::-1]
    fig = new_figure(FIGSIZE[0], max(2.4, 0.28 * len(order) + 1.0))
    ax = fig.subplots()
    error = np.vstack([values[order] - lower[order], upper[order] - values[order]])
    ax.barh(np.arange(len(order)), values[order], color=_POSITIVE,
            xerr=np.nan_to_num(np.clip(error, 0, None)), ecolor="#333333", capsize=2)
    ax.set_yticks(np.arange(len(order)), [_wrapped(names[j]) for j in order])
    ax.set_xlabel("Mean |attribution| (95% interval)")
    ax.set_title(figure.title or "Global importance")
    return fig


def _is_signed(figure: Figure, values: np.ndarray) -> bool:
    """Whether attributions are signed: ``data["signed"]`` when given, else any value below 0."""
    given = figure.data.get("signed")
    if given is not None:
        return bool(np.asarray(given).item())
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() < 0)


def _scale(values: np.ndarray, signed: bool) -> tuple[Any, float, float, str]:
    """Colour map, limits and colour-bar label of attributions drawn over an image.

    Signed attributions are diverging and centred at zero; non-negative ones
    (saliency is an absolute gradient) are sequential from zero. Zero is
    transparent, so the input shows through where the attribution is small.
    """
    from matplotlib.colors import LinearSegmentedColormap, to_rgba

    limit = float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
    if signed:
        colours = [to_rgba(_NEGATIVE, 0.95), to_rgba("#FFFFFF", 0.0), to_rgba(_POSITIVE, 0.95)]
        return (LinearSegmentedColormap.from_list("auditkit_signed", colours), -limit, limit,
                "Attribution (+: toward the class)")
    colours = [to_rgba(_SEQUENTIAL[1], 0.0), to_rgba(_SEQUENTIAL[1], 0.65),
               to_rgba(_SEQUENTIAL[2], 0.95)]
    return (LinearSegmentedColormap.from_list("auditkit_magnitude", colours), 0.0, limit,
            "Attribution magnitude")


def _grey_limits(image: np.ndarray) -> tuple[float, float]:
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, high if high > low else low + 1.0


@plotter("image_attributions")
def image_attributions(figure: Figure) -> Any:
    """Each input in grey, then its attribution drawn over it, with a labelled colour bar."""
    images = np.asarray(figure.data["images"], dtype=float)
    heat = np.asarray(figure.data["heatmaps"], dtype=float)
    labels = [str(label) for label in figure.data["labels"]]
    signed = _is_signed(figure, heat)
    n = len(images)
    fig = new_figure(FIGSIZE[0], 2.0 * n + 0.5)
    axes = fig.subplots(n, 2, squeeze=False)
    for (left, right), image, h, label in zip(axes, images, heat, labels, strict=True):
        low, high = _grey_limits(image)
        cmap, vmin, vmax, meaning = _scale(h, signed)
        left.imshow(image, cmap="gray", vmin=low, vmax=high)
        right.imshow(image, cmap="gray", vmin=low, vmax=high)
        shown = right.imshow(h, cmap=cmap, vmin=vmin, vmax=vmax)
        left.set_title("input", fontsize=8.5)
        right.set_title("attribution over it", fontsize=8.5)
        for ax in (left, right):
            ax.set_axis_off()
        colourbar = fig.colorbar(shown, ax=right, shrink=0.9)
        colourbar.set_label(meaning, fontsize=8.0)
        left.annotate(_wrapped(label, 34), xy=(-0.1, 0.5), xycoords="axes fraction",
                      ha="right", va="center", fontsize=8.0)
    note = ("blue: toward the class; vermillion: against; clear: near 0" if signed
            else "darker: larger magnitude; clear: near 0")
    fig.suptitle(f"{figure.title or 'Attributions'}\n({note})", fontweight="bold")
    return fig


@plotter("token_attributions")
def token_attributions(figure: Figure) -> Any:
    """Tokens highlighted by attribution, one line block per sample; text contrast >= 4.5."""
    tokens = figure.data["tokens"]
    scores = figure.data["scores"]
    labels = [str(label) for label in figure.data["labels"]]
    signed = _is_signed(figure, np.concatenate([np.asarray(v, dtype=float).ravel()
                                                for v in scores] or [np.zeros(0)]))
    cmap = _diverging() if signed else _sequential()
    fig = new_figure(FIGSIZE[0] * 1.35, 0.95 * len(tokens) + 0.6)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    y = 1.0
    step = 1.0 / max(len(tokens), 1)
    for words, values, label in zip(tokens, scores, labels, strict=True):
        values = np.asarray(values, dtype=float)
        limit = float(np.abs(values).max()) if len(values) else 1.0
        ax.text(0.0, y, label, fontsize=8.0, color="#333333", va="top")
        x, line = 0.0, y - step * 0.35
        for word, value in zip(words, values, strict=False):
            width = 0.0105 * (len(word) + 1)
            if x + width > 1.0:
                x, line = 0.0, line - step * 0.25
            share = value / (limit or 1.0)
            colour = cmap(0.5 + 0.5 * share if signed else share)
            ax.text(x, line, word, fontsize=8.0, va="top", color=text_colour_on(colour),
                    bbox={"facecolor": colour, "edgecolor": "none", "pad": 1.2})
            x += width
        y -= step
    ax.set_ylim(min(0.0, y), 1.02)
    legend = ("blue: toward the prediction; vermillion: against" if signed
              else "darker: larger attribution magnitude")
    ax.set_title(f"{figure.title or 'Token attributions'} ({legend})", fontsize=9.0)
    return fig


@plotter("sequence_attributions")
def sequence_attributions(figure: Figure) -> Any:
    """Attribution heatmap over time steps and channels, one row per sample."""
    heat = np.asarray(figure.data["heatmaps"], dtype=float)
    labels = [str(label) for label in figure.data["labels"]]
    signed = _is_signed(figure, heat)
    n = len(heat)
    fig = new_figure(FIGSIZE[0], 1.6 * n + 0.6)
    axes = np.atleast_1d(fig.subplots(n, 1, squeeze=False)[:, 0])
    for ax, h, label in zip(axes, heat, labels, strict=True):
        limit = float(np.nanmax(np.abs(h), initial=0.0)) or 1.0
        cmap, vmin = (_diverging(), -limit) if signed else (_sequential(), 0.0)
        shown = ax.imshow(h.T, aspect="auto", cmap=cmap, vmin=vmin, vmax=limit)
        ax.set_title(_wrapped(label, 70), fontsize=8.0, loc="left")
        ax.set_ylabel("channel", fontsize=8.0)
        ax.grid(False)
        colourbar = fig.colorbar(shown, ax=ax, shrink=0.9)
        colourbar.set_label("attribution" if signed else "|attribution|", fontsize=8.0)
    axes[-1].set_xlabel("time step")
    note = ("blue: toward the class; vermillion: against" if signed
            else "darker: larger magnitude, from 0")
    fig.suptitle(f"{figure.title or 'Attributions'} ({note})", fontweight="bold")
    return fig


@plotter("agreement_matrix")
def agreement_matrix(figure: Figure) -> Any:
    """Pairwise rank agreement between methods, annotated."""
    matrix = np.asarray(figure.data["matrix"], dtype=float)
    labels = [_wrapped(label) for label in figure.data["labels"]]
    k = len(labels)
    fig = new_figure(FIGSIZE[0], max(3.0, 0.45 * k + 1.5))
    ax = fig.subplots()
    cmap = _diverging()
    shown = ax.imshow(matrix, cmap=cmap, vmin=-1, vmax=1)
    ax.set_xticks(range(k), labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), labels)
    ax.grid(False)
    for (i, j), value in np.ndenumerate(matrix):
        background = cmap(0.5 + 0.5 * float(np.nan_to_num(value)))
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center",
                fontsize=8.5, color=text_colour_on(background))
    fig.colorbar(shown, ax=ax, shrink=0.8, label="Spearman rank correlation")
    ax.set_title(figure.title or "Agreement between methods")
    return fig


@plotter("randomisation_cascade")
def randomisation_cascade(figure: Figure) -> Any:
    """Rank correlation with the trained model's explanations as layers are re-initialised."""
    data = figure.data
    layers = np.asarray(data["layers_randomised"], dtype=int)
    rho = np.asarray(data["rank_correlation"], dtype=float)
    low = np.asarray(data["lowest"], dtype=float)
    high = np.asarray(data["highest"], dtype=float)
    fig = new_figure()
    ax = fig.subplots()
    ax.fill_between(layers, low, high, color=PALETTE[0], alpha=0.2, linewidth=0,
                    label="range over re-initialised copies")
    ax.plot(layers, rho, marker="o", markersize=4, color=PALETTE[0], label="mean")
    null = float(data.get("null_mean", float("nan")))
    if np.isfinite(null):
        ax.axhline(null, color="#6B6B6B", linestyle="--", linewidth=1.0,
                   label=f"random copies against each other ({null:.2f})")
    ax.axhline(0.0, color="#1A1A1A", linewidth=0.6)
    ax.set_xticks(layers)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("Layers re-initialised, from the output down")
    ax.set_ylabel("Rank correlation with the trained model")
    ax.set_title(figure.title or "Cascading randomisation")
    ax.legend(loc="lower left", fontsize=8.0)
    return fig
