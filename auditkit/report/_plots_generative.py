"""Plots of the generative family: real next to generated images, coverage, calibration.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. Every image figure puts real images next to generated ones, drawn
in grey on a fixed [0, 1] scale so that two panels compare pixel for pixel. A
grid of images is one mosaic (one embedded picture, not one axes per image).
The calibration strips place each metric between its floor (real against
real) and its ceilings (real against corrupted real), so a number such as a
Fréchet distance of 12.3 can be read without knowing the metric's scale.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..results import Figure
from ._plots import PALETTE, _plain_log_ticks, new_figure, plotter

_GREY = "#6B6B6B"
_REAL, _GENERATED, _FLAGGED = PALETTE[0], PALETTE[1], PALETTE[1]
_GRID_SIDE = 8  # at most 8 x 8 images per grid
_PAIRS_PER_ROW = 4
_MAX_PAIRS = 16
_GAP = 2  # pixels between the images of a mosaic
_WRAP = 24  # characters per line of a caption under a pair
_LEGEND_BOX = {"frameon": True, "facecolor": "white", "edgecolor": "none", "framealpha": 0.9}
_CALIBRATION_NOTE = "floor = real vs real; ceilings = real vs corrupted real"


# -- images -----------------------------------------------------------------------------


def _images(values: Any) -> np.ndarray:
    """Images as floats in [0, 1], shape (n, H, W) or (n, H, W, 3).

    Accepts (n, H, W), (n, 1, H, W), (n, 3, H, W), channels-last arrays and
    flat (n, H * W) rows of square images; 8-bit images are scaled to [0, 1].
    """
    raw = np.asarray(values)
    scale = 255.0 if raw.dtype == np.uint8 else 1.0
    images = raw.astype(np.float64) / scale
    if images.size == 0:
        return np.zeros((0, 1, 1))
    if images.ndim == 1:
        images = images[None]
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        images = (images.reshape(len(images), side, side) if side * side == images.shape[1]
                  else images[:, None, :])
    elif images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = np.moveaxis(images, 1, -1)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    return np.clip(images, 0.0, 1.0)


def _mosaic(images: np.ndarray, columns: int, *, gap: int = _GAP) -> np.ndarray:
    """The images tiled row by row, ``gap`` pixels of NaN (drawn white) between them."""
    n, height, width = images.shape[:3]
    rows = max(1, math.ceil(n / columns))
    shape = (rows * (height + gap) - gap, columns * (width + gap) - gap, *images.shape[3:])
    tiled = np.full(shape, np.nan)
    for i, image in enumerate(images):
        top, left = (i // columns) * (height + gap), (i % columns) * (width + gap)
        tiled[top:top + height, left:left + width] = image
    return tiled


def _show(ax: Any, picture: np.ndarray) -> None:
    """Draw a mosaic in grey on [0, 1] (colour images as they are), with no ticks."""
    import matplotlib

    if picture.ndim == 3:  # colour: the gaps are white
        ax.imshow(np.nan_to_num(picture, nan=1.0), interpolation="none")
    else:
        grey = matplotlib.colormaps["gray"].with_extremes(bad="white")
        ax.imshow(picture, cmap=grey, vmin=0.0, vmax=1.0, interpolation="none")
    _bare(ax)


def _bare(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _empty(ax: Any, text: str) -> None:
    _bare(ax)
    ax.text(0.5, 0.5, text, ha="center", va="center", color=_GREY, transform=ax.transAxes)


def _legend(target: Any, **options: Any) -> None:
    """A legend of an axes or a figure, when something in it has a label."""
    axes = target.axes if hasattr(target, "subfigs") else [target]
    if any(ax.get_legend_handles_labels()[0] for ax in axes):
        target.legend(**options)


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(str(text), width=width, break_long_words=False)


def _suptitle(fig: Any, text: str, *, width: int = 64) -> None:
    fig.suptitle(_wrap(text, width), fontsize=10.0, fontweight="bold")


@plotter("generative_samples")
def generative_samples(figure: Figure) -> Any:
    """Real images (left) next to generated ones (right), up to 8 x 8 of each.

    ``data["columns"]`` (optional) sets the images per row, and then up to 100
    images are drawn: one row per class when the check pads each class to a row.
    """
    data = figure.data
    columns = int(data.get("columns", _GRID_SIDE))
    limit = _GRID_SIDE * _GRID_SIDE if "columns" not in data else 100
    fig = new_figure(6.2, 3.9 if "columns" not in data else 5.2)
    axes = fig.subplots(1, 2)
    for ax, key, default in zip(axes, ("real", "generated"), ("real", "generated"),
                                strict=True):
        images = _images(data[key])
        label = str(data.get(f"{key}_label", default))
        shown = images[:limit]
        if len(images) > len(shown):
            label += f" ({len(shown)} of {len(images):,})"
        ax.set_title(_wrap(label, 38), fontsize=9.0)
        if len(shown):
            _show(ax, _mosaic(shown, min(columns, len(shown))))
        else:
            _empty(ax, "no images")
    _suptitle(fig, figure.title or "Real and generated samples")
    return fig


@plotter("generative_pairs")
def generative_pairs(figure: Figure) -> Any:
    """Pairs of images side by side, each with its caption, in rows of four pairs."""
    data = figure.data
    left, right = _images(data["left"]), _images(data["right"])
    captions = [str(c) for c in data.get("captions", [])]
    count = min(len(left), len(right), _MAX_PAIRS)
    columns = max(1, min(count, _PAIRS_PER_ROW))
    rows = max(1, math.ceil(count / columns))
    wrapped = [_wrap(c, _WRAP) for c in captions[:count]]
    lines = max((c.count("\n") + 1 for c in wrapped), default=0)
    fig = new_figure(max(1.75 * columns, 3.6), (0.95 + 0.16 * lines) * rows + 0.8)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    if count == 0:
        axes[0].set_visible(True)
        _empty(axes[0], "no pairs to show")
    for i in range(count):
        pair = _pair(left[i], right[i])
        _show(axes[i], pair)
        for spine in axes[i].spines.values():  # a frame holds the two images of a pair
            spine.set_visible(True)
            spine.set_color("#9A9A9A")
        if i < len(wrapped):
            axes[i].set_xlabel(wrapped[i], fontsize=8.0)
    _suptitle(fig, figure.title or "Pairs of images", width=max(40, 16 * columns))
    fig.supxlabel(f"In each pair: {data.get('left_label', 'left')} (left), "
                  f"{data.get('right_label', 'right')} (right)", fontsize=8.5, color="#333333")
    return fig


def _pair(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two images in one mosaic; a grey image beside a colour one is drawn in colour."""
    if left.ndim != right.ndim:
        left, right = (np.repeat(i[..., None], 3, axis=-1) if i.ndim == 2 else i
                       for i in (left, right))
    height = max(left.shape[0], right.shape[0])
    width = max(left.shape[1], right.shape[1])
    canvas = np.full((2, height, width, *left.shape[2:]), np.nan)
    canvas[0, :left.shape[0], :left.shape[1]] = left
    canvas[1, :right.shape[0], :right.shape[1]] = right
    return _mosaic(canvas, 2, gap=1)


# -- coverage ---------------------------------------------------------------------------


@plotter("generative_class_histogram")
def generative_class_histogram(figure: Figure) -> Any:
    """Generated share per class with its interval, the real share marked, missing classes."""
    data = figure.data
    classes = [str(c) for c in data["classes"]]
    real = np.asarray(data["real_share"], dtype=float)
    share = np.asarray(data["generated_share"], dtype=float)
    lower = np.asarray(data.get("generated_lower", share), dtype=float)
    upper = np.asarray(data.get("generated_upper", share), dtype=float)
    status = [str(s) for s in data.get("status", ["ok"] * len(classes))]
    k = len(classes)
    x = np.arange(k)
    width_in = max(5.0, min(9.0, 0.55 * k + 1.2))
    fig = new_figure(width_in, 3.9)
    ax = fig.subplots()
    ax.grid(False)
    under = np.array([s == "under-represented" for s in status], dtype=bool)
    missing = np.array([s == "missing" for s in status], dtype=bool)
    ok = ~under & ~missing
    width = 0.7
    for chosen, colour, hatch, label in ((ok, _REAL, None, "generated share"),
                                         (under, PALETTE[3], "//", "generated share, "
                                          "under-represented")):
        if chosen.any():
            ax.bar(x[chosen], np.nan_to_num(share[chosen]), width=width, color=colour,
                   hatch=hatch, edgecolor="white", linewidth=0.6, label=label)
    if missing.any():
        # the real share outlined and hatched: where the class should be and is not
        ax.bar(x[missing], np.nan_to_num(real[missing]), width=width, fill=False,
               hatch="xx", edgecolor=_FLAGGED, linewidth=1.0, label="missing class "
               "(outline: real share)")
        ax.bar(x[missing], np.nan_to_num(share[missing]), width=width, color=_FLAGGED)
    error = np.vstack([np.clip(share - lower, 0, None), np.clip(upper - share, 0, None)])
    ax.errorbar(x, share, yerr=np.nan_to_num(error), fmt="none", ecolor="#222222",
                elinewidth=1.0, capsize=3, label="interval of the generated share")
    ax.plot(x, real, linestyle="none", marker="_", markersize=min(28.0, 160.0 / max(k, 1)),
            markeredgewidth=2.2, color="black", label="real share")
    top = float(np.nanmax(np.r_[upper, real, share, 0.0]))
    for i in np.flatnonzero(missing | under):
        height = max(np.nan_to_num(upper[i]), np.nan_to_num(real[i]))
        ax.text(x[i], height + 0.02 * max(top, 0.05), "missing" if missing[i] else "under",
                ha="center", va="bottom", fontsize=8.0,
                color=_FLAGGED if missing[i] else "#8A5A00", rotation=90 if k > 10 else 0)
    ax.set_ylim(0, max(top, 0.05) * (1.45 if k > 10 else 1.25))
    longest = max((len(c) for c in classes), default=0)
    rotate = longest * k > 50 or longest > 8
    ax.set_xticks(x, classes, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                  rotation_mode="anchor")
    ax.set_xlim(-0.6, k - 0.4)
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Class (as labelled by the domain classifier)")
    ax.set_ylabel("Share of samples")
    ax.set_title(_wrap(figure.title or "Class shares: generated against real",
                       int(11 * width_in)))
    _legend(fig, loc="outside lower center", ncols=2, fontsize=8.0)
    return fig


# -- calibration ------------------------------------------------------------------------


@plotter("generative_calibration")
def generative_calibration(figure: Figure) -> Any:
    """One strip per metric: floor, ceilings by severity and the model with its interval."""
    data = figure.data
    names = [str(m) for m in data["metrics"]]
    model = np.asarray(data["model"], dtype=float)
    lower = np.asarray(data.get("model_lower", model), dtype=float)
    upper = np.asarray(data.get("model_upper", model), dtype=float)
    floor = np.asarray(data["floor"], dtype=float)
    ceilings = {str(k): np.asarray(v, dtype=float) for k, v in dict(data["ceilings"]).items()}
    better = [bool(b) for b in data.get("higher_is_better", [False] * len(names))]
    count = max(len(names), 1)
    fig = new_figure(6.4, 1.05 * count + 1.2)
    # a fixed slot (a PDF page) lower than the stack gets two columns of strips
    columns = 1 if _height(fig) >= 1.05 * count + 1.2 or count == 1 else 2
    rows = math.ceil(count / columns)
    axes = fig.subplots(rows, columns, squeeze=False).T.ravel()
    for i, ax in enumerate(axes):
        if i >= len(names):
            ax.set_visible(i == 0)
            if i == 0:
                _empty(ax, "no metric")
            continue
        marks = {label: values[i] for label, values in ceilings.items() if i < len(values)}
        _strip(ax, names[i], better[i] if i < len(better) else False,
               (model[i], lower[i], upper[i]), floor[i], marks)
    _calibration_legend(fig)
    _suptitle(fig, figure.title or "Metrics between their floor and ceilings", width=70)
    return fig


def _height(fig: Any) -> float:
    """The height of a canvas in inches (a figure, or the slot of a page)."""
    return float(fig.bbox.height / fig.dpi)


def _strip(ax: Any, name: str, higher_is_better: bool, model: tuple[float, float, float],
           floor: float, ceilings: dict[str, float]) -> None:
    value, low, high = model
    direction = "higher is better" if higher_is_better else "lower is better"
    ax.set_title(f"{name} ({direction})", fontsize=9.0, loc="left", fontweight="bold")
    finite = [v for v in (value, low, high, floor, *ceilings.values()) if np.isfinite(v)]
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.grid(axis="y", visible=False)
    ax.set_ylim(-1.5, 1.7)
    if not finite:
        _empty(ax, "no finite value")
        return
    ax.axhline(0, color="#DDDDDD", linewidth=0.8, zorder=0)
    where = _strip_scale(ax, finite)
    # above the line: the floor and the ceilings, neighbours on alternating heights so that
    # close labels do not overlap; below it: the model alone
    marks = [(v, label, False) for label, v in ceilings.items() if np.isfinite(v)]
    if np.isfinite(floor):
        marks.append((floor, "floor", True))
    for j, (x, label, is_floor) in enumerate(sorted(marks, key=lambda mark: mark[0])):
        if is_floor:
            ax.plot([x], [0], marker="D", markersize=6, color=_GREY, linestyle="none", zorder=3)
        else:
            ax.plot([x], [0], marker="o", markersize=5, markerfacecolor="white",
                    markeredgecolor="#444444", linestyle="none", zorder=3)
        ax.annotate(label, (x, 0), xytext=(0, 7 + 10 * (j % 2)), textcoords="offset points",
                    ha=_align(where(x)), va="bottom", fontsize=8.0,
                    color=_GREY if is_floor else "#333333",
                    fontweight="bold" if is_floor else "normal")
    if np.isfinite(value):
        left = value - low if np.isfinite(low) else 0.0
        right = high - value if np.isfinite(high) else 0.0
        ax.errorbar([value], [0], xerr=[[max(left, 0.0)], [max(right, 0.0)]], marker="o",
                    markersize=8, color=_REAL, markeredgecolor="black", elinewidth=2.2,
                    capsize=4, capthick=1.6, linestyle="none", zorder=4)
        interval = (f" [{low:.3g}, {high:.3g}]" if np.isfinite(low) and np.isfinite(high)
                    else "")
        ax.annotate(f"model {value:.3g}{interval}", (value, 0), xytext=(0, -9),
                    textcoords="offset points", ha=_align(where(value)), va="top",
                    fontsize=8.0, color=_REAL, fontweight="bold")
    else:
        ax.text(0.99, 0.05, "model: not measured", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=8.0, color=_GREY)


def _strip_scale(ax: Any, finite: list[float]) -> Callable[[float], float]:
    """Set the strip's x scale (log over a wide positive range); return data -> [0, 1]."""
    low, high = min(finite), max(finite)
    if low > 0 and high / low > 30:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        span = (low / 1.6, high * 1.6)
        ax.set_xlim(*span)
        edges = np.log(span)
        return lambda x: float((np.log(x) - edges[0]) / (edges[1] - edges[0]))
    pad = 0.08 * (high - low) if high > low else max(abs(low) * 0.1, 0.05)
    span = (low - pad, high + pad)
    ax.set_xlim(*span)
    return lambda x: float((x - span[0]) / (span[1] - span[0]))


def _align(fraction: float) -> str:
    """Anchor a label so that it stays inside its strip near either end."""
    return "left" if fraction < 0.12 else "right" if fraction > 0.88 else "center"


def _calibration_legend(fig: Any) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="D", color=_GREY, linestyle="none", label="floor"),
               Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor="#444444",
                      linestyle="none", label="ceilings (labelled by corruption and severity)"),
               Line2D([], [], marker="o", color=_REAL, markeredgecolor="black", markersize=8,
                      linewidth=2.2, label="model (interval)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8.0,
               title=_CALIBRATION_NOTE, title_fontsize=8.5)


# -- memorisation -----------------------------------------------------------------------


def _finite(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def _share_histograms(ax: Any, series: Sequence[tuple[np.ndarray, str, str]],
                      extra: Sequence[float] = (), *, clip: bool = False) -> None:
    """Overlaid histograms on common bins, each bar the share of its own series."""
    pooled = np.concatenate([s for s, _, _ in series] + [np.asarray(extra, dtype=float)])
    pooled = pooled[np.isfinite(pooled)]
    if not pooled.size:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", color=_GREY,
                transform=ax.transAxes)
        return
    low, high = (np.quantile(pooled, [0.005, 0.995]) if clip else (pooled.min(), pooled.max()))
    low, high = min(low, *extra) if extra else low, max(high, *extra) if extra else high
    bins = np.linspace(low, high if high > low else low + 1.0, 41)
    for values, label, colour in series:
        if not values.size:
            continue
        shown = np.clip(values, bins[0], bins[-1])
        weights = np.full(len(shown), 1.0 / len(shown))
        ax.hist(shown, bins=bins, weights=weights, color=colour, alpha=0.35,
                histtype="stepfilled", linewidth=0)
        ax.hist(shown, bins=bins, weights=weights, color=colour, histtype="step",
                linewidth=1.4, label=label)
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="x", visible=False)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)  # room for the legend above the bars


@plotter("generative_distances")
def generative_distances(figure: Figure) -> Any:
    """Nearest-training distances of generated and held-out samples, and the near-copy line."""
    data = figure.data
    generated, held_out = _finite(data["generated"]), _finite(data["held_out"])
    threshold = float(data["threshold"]) if data.get("threshold") is not None else math.nan
    fig = new_figure()
    ax = fig.subplots()
    _share_histograms(ax, [(held_out, f"held-out real (n={len(held_out):,})", _REAL),
                           (generated, f"generated (n={len(generated):,})", _GENERATED)],
                      [threshold] if np.isfinite(threshold) else [])
    if np.isfinite(threshold):
        ax.axvline(threshold, color=_GREY, linestyle="--", linewidth=1.2,
                   label=f"near-copy threshold ({threshold:.3g})")
        # along the line, under the legend's band at the top
        ax.annotate("near-copy threshold", (threshold, 0.72), xycoords=("data", "axes fraction"),
                    xytext=(-3, 0), textcoords="offset points", ha="right", va="top",
                    rotation=90, fontsize=8.0, color=_GREY)
    ax.set_xlabel(f"Distance to the nearest training sample ({data.get('space', 'features')})")
    ax.set_ylabel("Share of samples")
    ax.set_title(_wrap(figure.title or "Distance to the nearest training sample", 58))
    _legend(ax, loc="upper right", ncols=2, fontsize=8.0, **_LEGEND_BOX)
    return fig


@plotter("generative_copying_cells")
def generative_copying_cells(figure: Figure) -> Any:
    """Mann-Whitney z-score of each cell (C_T, Meehan et al. 2020), copying cells flagged."""
    data = figure.data
    cells = [str(c) for c in data["cells"]]
    z = np.asarray(data["z"], dtype=float)
    counts = [int(n) for n in data.get("n_generated", [])]
    threshold = float(data.get("threshold", -3.0))
    k = len(cells)
    x = np.arange(k)
    labelled = k <= 12 and len(counts) == k
    width_in = max(5.0, min(9.0, (0.55 if labelled else 0.2) * k + 1.5))
    fig = new_figure(width_in, 3.9)
    ax = fig.subplots()
    ax.grid(False)
    copying = np.isfinite(z) & (z < threshold)
    other = np.isfinite(z) & ~copying
    ax.bar(x[other], z[other], width=0.75, color=_REAL, label="cell")
    if copying.any():
        ax.bar(x[copying], z[copying], width=0.75, color=_FLAGGED, hatch="//",
               edgecolor="white", linewidth=0.6, label=f"copying cell (z < {threshold:g})")
    for i in np.flatnonzero(~np.isfinite(z)):
        ax.text(x[i], 0, "n/a", ha="center", va="bottom", fontsize=8.0, color=_GREY,
                rotation=90)
    ax.axhline(0, color=_GREY, linewidth=0.9)
    ax.axhline(threshold, color=_GREY, linestyle="--", linewidth=1.1,
               label=f"threshold z = {threshold:g}")
    values = np.r_[z[np.isfinite(z)], threshold, 0.0, 1.0]
    spread = float(values.max() - values.min())
    ax.set_ylim(values.min() - 0.08 * spread, values.max() + 0.08 * spread)
    if labelled:
        ticks = [f"{c}\nn={n:,}" for c, n in zip(cells, counts, strict=True)]
        ax.set_xlabel("Cell (k-means in feature space; n = generated samples in it)")
    else:
        step = max(1, math.ceil(k / 30))
        x, ticks = x[::step], cells[::step]
        ax.set_xlabel("Cell (k-means in feature space)")
    ax.set_xticks(x, ticks, rotation=90 if k > 30 else 0)
    ax.set_xlim(-0.6, k - 0.4)
    ax.set_ylabel("Mann-Whitney z (negative: closer\nto training than fresh data)")
    ax.set_title(_wrap(figure.title or "Data-copying test per cell", int(11 * width_in)))
    _legend(fig, loc="outside lower center", ncols=3, fontsize=8.0)
    return fig


# -- VAE --------------------------------------------------------------------------------


@plotter("generative_elbo")
def generative_elbo(figure: Figure) -> Any:
    """Per-sample ELBO of training against held-out samples, with their means."""
    data = figure.data
    train, test = _finite(data["train"]), _finite(data["test"])
    label = str(data.get("label", "ELBO (nats)"))
    fig = new_figure()
    ax = fig.subplots()
    _share_histograms(ax, [(train, f"training (n={len(train):,})", _REAL),
                           (test, f"held-out (n={len(test):,})", _GENERATED)], clip=True)
    for values, name, colour, style in ((train, "training", _REAL, "--"),
                                        (test, "held-out", _GENERATED, ":")):
        if values.size:
            mean = float(values.mean())
            ax.axvline(mean, color=colour, linestyle=style, linewidth=1.4,
                       label=f"{name} mean {mean:.4g}")
    ax.set_xlabel(f"{label}, per sample (higher: better explained)")
    ax.set_ylabel("Share of samples")
    ax.set_title(_wrap(figure.title or "ELBO: training against held-out", 58))
    _legend(ax, loc="upper left", ncols=2, fontsize=8.0, **_LEGEND_BOX)
    return fig
