"""Plots of the report: one drawing function per figure kind, registered by kind.

A check stores the numbers of a figure (:class:`auditkit.Figure`); this module
draws them with matplotlib. ``@plotter("kind")`` registers a function taking
the Figure and returning a matplotlib figure, so a new kind is one function.
Every module of this package named ``_plots_*`` is imported before the first
lookup (:func:`load_plotters`), so a new module of plotters needs no other edit.
Plotters make their canvas with :func:`new_figure`, which lets the PDF writer
draw the same function into a slot of a page.

matplotlib is imported inside the functions: importing auditkit never imports
it. Styles are applied with ``rc_context``, never globally. :func:`to_svg`
returns the only markup of the report that is not escaped by the templates:
matplotlib escapes the text it writes into SVG, and the XML header, DOCTYPE
and metadata (which name external URLs) are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import pkgutil
import re
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
from markupsafe import Markup

from ..results import Figure
from ._plots_svg import compact_svg, describe, with_text_alternative

__all__ = ["plotter", "can_draw", "draw", "to_svg", "Drawing", "new_figure", "drawing_into",
           "style", "load_plotters", "plot_kinds", "make_legible", "contrast_ratio",
           "relative_luminance", "text_colour_on", "PALETTE", "MIN_TEXT_PX", "SHOWN_MAX_PX"]

#: Okabe-Ito colours, safe for the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
_LINESTYLES = ("-", "--", ":", "-.")
_GREY = "#6B6B6B"
FIGSIZE = (5.5, 3.6)
_MAX_LEGEND = 10
_WRAP_LABEL = 22

_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.edgecolor": "#444444",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#E3E3E3",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.5,
    "legend.title_fontsize": 8.5,
    "legend.frameon": False,
    "figure.titlesize": 10.5,
    "figure.labelsize": 9.0,
    # grid lines mark the values: no tick marks (labels stay), fewer elements to draw
    "xtick.bottom": False,
    "ytick.left": False,
    "xtick.labelbottom": True,
    "ytick.labelleft": True,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "lines.linewidth": 1.6,
    "pdf.fonttype": 42,
}
#: The report shows a figure at its own size (1 pt = 4/3 CSS px) up to this width.
SHOWN_MAX_PX = 900.0
#: The smallest text of a figure as shown, in CSS px; smaller text is enlarged.
MIN_TEXT_PX = 10.0
#: Scatter plots and meshes with more marks than this are drawn as one picture.
_RASTER_MARKS = 400
_CSS_FONTS = "'DejaVu Sans', Helvetica, Arial, sans-serif"
_SVG_METADATA = {"Date": None, "Format": None, "Type": None, "Creator": None}
_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg[\s>])", re.DOTALL)
_SVG_METADATA_BLOCK = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
# Inside a tag matplotlib escapes every quote and angle bracket of attribute
# values, so a tag is exactly "<" up to the next ">".
_SVG_TAG = re.compile(r"<[^>]+>")
_SVG_ID = re.compile(r'(\sid="|href="#|url\(#)')

PlotFunction = Callable[[Figure], Any]
_PLOTTERS: dict[str, PlotFunction] = {}
#: Modules of this package whose names start with this are modules of plotters.
PLOT_MODULE_PREFIX = "_plots_"
_LOADED: list[str] = []
_LOADING = threading.RLock()
_TARGET: ContextVar[Any] = ContextVar("auditkit_plot_target", default=None)


def plotter(kind: str) -> Callable[[PlotFunction], PlotFunction]:
    """Register a function drawing the figures of ``kind``.

    Parameters
    ----------
    kind : str
        The :attr:`auditkit.Figure.kind` the function draws.

    Returns
    -------
    callable
        A decorator registering a function ``(figure) -> matplotlib figure``
        that makes its canvas with :func:`new_figure`.
    """

    def register(function: PlotFunction) -> PlotFunction:
        _PLOTTERS[kind] = function
        return function

    return register


def load_plotters() -> tuple[str, ...]:
    """Import every ``_plots_*`` module of the report package, registering its plotters.

    Called before any lookup, so that no module of plotters can be forgotten;
    later calls only return the names.

    Returns
    -------
    tuple of str
        The names of the modules of plotters.
    """
    with _LOADING:
        if not _LOADED:
            package = __name__.rpartition(".")[0]
            path = importlib.import_module(package).__path__
            names = sorted(info.name for info in pkgutil.iter_modules(path)
                           if info.name.startswith(PLOT_MODULE_PREFIX))
            for name in names:
                importlib.import_module(f"{package}.{name}")
            _LOADED.extend(names)
        return tuple(_LOADED)


def plot_kinds() -> frozenset[str]:
    """Every figure kind that has a drawing function."""
    load_plotters()
    return frozenset(_PLOTTERS)


def can_draw(kind: str) -> bool:
    """Whether a drawing function is registered for ``kind``."""
    load_plotters()
    return kind in _PLOTTERS


def style(overrides: Mapping[str, Any] | None = None) -> contextlib.AbstractContextManager[Any]:
    """A context in which matplotlib uses the report's style.

    Parameters
    ----------
    overrides : mapping of str to object, optional
        rcParams to set besides the style's (e.g. ``{"svg.hashsalt": "x"}``).

    Returns
    -------
    context manager
    """
    import matplotlib

    return matplotlib.rc_context({**_RC, "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
                                  **(overrides or {})})


def new_figure(width: float = FIGSIZE[0], height: float = FIGSIZE[1]) -> Any:
    """The canvas a plotter draws on: a new figure, or the slot of a PDF page."""
    target = _TARGET.get()
    if target is not None:
        return target
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(width, height), layout="constrained")


@contextlib.contextmanager
def drawing_into(target: Any) -> Iterator[None]:
    """Make :func:`new_figure` return ``target`` (a subfigure of a page) in this context."""
    token = _TARGET.set(target)
    try:
        yield
    finally:
        _TARGET.reset(token)


def draw(figure: Figure) -> Any:
    """Draw ``figure`` with the plotter registered for its kind.

    Parameters
    ----------
    figure : auditkit.Figure

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    KeyError
        When no plotter is registered for ``figure.kind``.
    """
    load_plotters()
    return _PLOTTERS[figure.kind](figure)


@dataclass(frozen=True)
class Drawing:
    """An SVG drawing of a figure, or the note saying why there is none."""

    svg: Markup | None
    note: str | None


def to_svg(figure: Figure, *, salt: str) -> Drawing:
    """Draw ``figure`` as inline SVG markup, with a ``<title>`` and a ``<desc>``.

    Text is kept as text, at least :data:`MIN_TEXT_PX` high as shown; dense
    scatter plots and meshes are embedded as pictures; the markup is compacted
    (:func:`._plots_svg.compact_svg`) without changing what it draws.

    Parameters
    ----------
    figure : auditkit.Figure
    salt : str
        Seed of the SVG's element ids; one per figure keeps ids unique within
        the page and the output identical from run to run.

    Returns
    -------
    Drawing
        The SVG, or a note when the kind has no plotter or drawing failed (a
        figure from a newer version must not break the report).
    """
    if not can_draw(figure.kind):
        return Drawing(None, f"There is no drawing for figures of kind {figure.kind!r} in this "
                             "version of auditkit.")
    buffer = io.StringIO()
    try:
        with style({"svg.hashsalt": salt}):
            drawn = draw(figure)
            _no_grid_across_bars(drawn)
            make_legible(drawn)
            _grid_in_one_path(drawn)
            _rasterise_dense(drawn)
            drawn.savefig(buffer, format="svg", metadata=_SVG_METADATA, dpi=144)
            description = describe(drawn)
    except Exception as exc:  # a bad figure is reported, never fatal
        return Drawing(None, f"The figure could not be drawn ({type(exc).__name__}: {exc}).")
    prefix = "f" + hashlib.sha256(salt.encode()).hexdigest()[:8]
    svg = compact_svg(_clean_svg(buffer.getvalue(), prefix=prefix), prefix=prefix,
                      font_family=_CSS_FONTS)
    title = figure.title or _suptitle(drawn) or figure.kind.replace("_", " ").capitalize()
    return Drawing(Markup(with_text_alternative(svg, title=title, description=description)),
                   None)


def make_legible(fig: Any) -> None:
    """Enlarge every text of ``fig`` smaller than :data:`MIN_TEXT_PX` as the report shows it.

    The report shows a figure at its own size (72 pt to 96 CSS px) unless it
    is wider than :data:`SHOWN_MAX_PX`, when it is scaled down to fit.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    """
    from matplotlib.text import Text

    width_px = float(fig.get_size_inches()[0]) * 96.0
    smallest = MIN_TEXT_PX * 0.75 * max(1.0, width_px / SHOWN_MAX_PX)  # in points
    fig.draw_without_rendering()  # makes the tick labels
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            sizes = [label.get_fontsize() for label in axis.get_ticklabels(which="both")]
            if sizes and min(sizes) < smallest:
                axis.set_tick_params(which="both", labelsize=smallest)
    for text in fig.findobj(Text):
        if text.get_fontsize() < smallest:
            text.set_fontsize(smallest)


def _no_grid_across_bars(fig: Any) -> None:
    """No grid lines along the category axis of a bar chart (they would cross the labels)."""
    from matplotlib.container import BarContainer

    for ax in fig.axes:
        for container in ax.containers:
            if isinstance(container, BarContainer):
                horizontal = getattr(container, "orientation", "vertical") == "horizontal"
                ax.grid(False, axis="y" if horizontal else "x")


def _grid_in_one_path(fig: Any) -> None:
    """Draw each axis's major grid lines as one collection (one SVG path), not one per tick.

    Call after the figure was laid out once (the ticks exist). Axes that share
    an axis with another keep their own lines: the limits are the same.
    """
    from matplotlib.collections import LineCollection

    for ax in fig.axes:
        for axis, across in ((ax.xaxis, ax.get_xaxis_transform()),
                             (ax.yaxis, ax.get_yaxis_transform())):
            ticks = axis.get_major_ticks()
            if not ax.axison or not axis.get_visible() or not ticks \
                    or not ticks[0].gridline.get_visible():
                continue
            line = ticks[0].gridline
            low, high = sorted(axis.get_view_interval())
            locations = [loc for loc in axis.get_majorticklocs() if low <= loc <= high]
            if not locations:
                continue
            segments = [[(loc, 0.0), (loc, 1.0)] if axis is ax.xaxis else [(0.0, loc), (1.0, loc)]
                        for loc in locations]
            ax.add_collection(LineCollection(
                segments, transform=across, colors=line.get_color(),
                linewidths=line.get_linewidth(), linestyles=line.get_linestyle(),
                zorder=axis.get_zorder(), clip_on=False), autolim=False)
            axis.grid(False, which="major")


def _rasterise_dense(fig: Any) -> None:
    """Draw scatter plots and meshes of many marks as one embedded picture each."""
    from matplotlib.collections import PathCollection, QuadMesh

    for ax in fig.axes:
        for collection in ax.collections:
            if isinstance(collection, PathCollection | QuadMesh):
                marks = len(collection.get_offsets()) if isinstance(collection, PathCollection) \
                    else np.size(collection.get_array())
                if marks > _RASTER_MARKS:
                    collection.set_rasterized(True)
        for line in ax.get_lines():
            if line.get_linestyle() in ("None", "none", "", " ") and \
                    len(line.get_xdata()) > _RASTER_MARKS:
                line.set_rasterized(True)


def _clean_svg(svg: str, *, prefix: str) -> str:
    """Make matplotlib's SVG fit inline in a page with other SVGs.

    The XML declaration, DOCTYPE and metadata go (HTML needs none of them,
    and they name external URLs); every element id, and every reference to
    one, gets ``prefix`` so that ids stay unique across the page's figures.
    """
    svg = _SVG_PROLOGUE.sub("", svg, count=1)
    svg = _SVG_METADATA_BLOCK.sub("", svg, count=1).strip()
    return _SVG_TAG.sub(
        lambda tag: _SVG_ID.sub(lambda ref: f"{ref.group(1)}{prefix}-", tag.group(0)), svg)


def _suptitle(fig: Any) -> str:
    title = getattr(fig, "_suptitle", None)
    return " ".join(title.get_text().split()) if title is not None else ""


# -- helpers ---------------------------------------------------------------------------


def _plain_log_ticks(axis: Any, *, percent: bool = False) -> None:
    """Tick labels of a log axis as plain numbers ("10", "0.1%"), not mathtext.

    Matplotlib's default log labels are mathtext, which an SVG with
    ``svg.fonttype: none`` would show as raw TeX markup.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def label(value: float, _position: int) -> str:
        return f"{value * 100:g}%" if percent else f"{value:g}"

    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(NullFormatter())


def _wrapped(label: Any, width: int = _WRAP_LABEL) -> str:
    """A label in full, broken into lines of about ``width`` characters (never cut)."""
    text = " ".join(str(label).split())
    if len(text) <= width:
        return text
    return textwrap.fill(text, width=width, break_long_words=False, break_on_hyphens=False)


def relative_luminance(colour: Any) -> float:
    """WCAG 2 relative luminance of a matplotlib colour (alpha ignored), in [0, 1]."""
    from matplotlib.colors import to_rgb

    channels = np.asarray(to_rgb(colour), dtype=float)
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(first: Any, second: Any) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)),
                             reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(background: Any) -> str:
    """Black or white, whichever contrasts more with ``background`` (always >= 4.5:1)."""
    return "#000000" if contrast_ratio("#000000", background) >= \
        contrast_ratio("#FFFFFF", background) else "#FFFFFF"


def _series_style(i: int) -> dict[str, Any]:
    return {"color": PALETTE[i % len(PALETTE)],
            "linestyle": _LINESTYLES[(i // len(PALETTE)) % len(_LINESTYLES)]}


def _diagonal(ax: Any, label: str) -> None:
    ax.plot([0, 1], [0, 1], color=_GREY, linestyle="--", linewidth=1.0, label=label)


def _capped_legend(ax: Any, n_series: int, *, loc: str = "lower right") -> None:
    handles, labels = ax.get_legend_handles_labels()
    if n_series > _MAX_LEGEND:
        # keep the reference line (last) and the first curves
        handles = handles[:_MAX_LEGEND] + handles[-1:]
        labels = labels[:_MAX_LEGEND] + labels[-1:]
        ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5),
                  title=f"first {_MAX_LEGEND} of {n_series}")
    elif n_series > 4:
        ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(handles, labels, loc=loc)


def _unit_axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def _labels(values: Sequence[Any] | np.ndarray) -> list[str]:
    return [str(v) for v in np.asarray(values, dtype=object).ravel()]


# -- plotters ---------------------------------------------------------------------------


@plotter("roc_curves")
def roc_curves(figure: Figure) -> Any:
    """ROC curves, one per class, with the chance diagonal."""
    fpr = np.asarray(figure.data["fpr"], dtype=float)
    tpr = np.atleast_2d(np.asarray(figure.data["tpr"], dtype=float))
    classes = _labels(figure.data["classes"])
    fig = new_figure()
    ax = fig.subplots()
    for i, (curve, name) in enumerate(zip(tpr, classes, strict=True)):
        ax.plot(fpr, curve, label=_wrapped(name), **_series_style(i))
    _diagonal(ax, "chance")
    _unit_axes(ax, "False positive rate", "True positive rate", figure.title or "ROC curves")
    _capped_legend(ax, len(classes))
    return fig


@plotter("reliability_diagram")
def reliability_diagram(figure: Figure) -> Any:
    """Accuracy per confidence bin against the diagonal, with the samples per bin below."""
    data = figure.data
    lower = np.asarray(data["bin_lower"], dtype=float)
    width = np.asarray(data["bin_upper"], dtype=float) - lower
    accuracy = np.asarray(data["accuracy"], dtype=float)
    count = np.asarray(data["count"], dtype=float)
    shown = ~np.isnan(accuracy)
    fig = new_figure()
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.bar(lower[shown], accuracy[shown], width=width[shown], align="edge", color=PALETTE[0],
            alpha=0.85, edgecolor="white", linewidth=0.6, label="accuracy in bin")
    confidence = np.asarray(data["mean_confidence"], dtype=float)
    top.plot(confidence[shown], accuracy[shown], linestyle="none", marker="o", markersize=3,
             color=PALETTE[1], label="mean confidence in bin")
    _diagonal(top, "perfect calibration")
    _unit_axes(top, "", "Accuracy", figure.title or "Reliability diagram")
    top.legend(loc="upper left", frameon=True, facecolor="white", edgecolor="none",
               framealpha=0.9)
    bars = bottom.bar(lower, count, width=width, align="edge", color=_GREY, edgecolor="white",
                      linewidth=0.6)
    # one bin often holds most samples: write the counts so the small ones still read
    bottom.bar_label(bars, labels=[f"{int(c):,}" if c > 0 else "" for c in count], fontsize=7.5,
                     padding=1)
    bottom.set_ylim(0, max(float(np.nanmax(count, initial=0.0)), 1.0) * 1.35)
    bottom.set_xlabel("Confidence (top predicted probability)")
    bottom.set_ylabel("Samples")
    bottom.grid(axis="x", visible=False)
    return fig


@plotter("calibration_curve")
def calibration_curve(figure: Figure) -> Any:
    """Observed fraction of positives against the mean predicted probability."""
    data = figure.data
    positive = str(np.asarray(data.get("positive_class", "positive"), dtype=object).item())
    fig = new_figure()
    ax = fig.subplots()
    ax.plot(np.asarray(data["mean_predicted"], dtype=float),
            np.asarray(data["fraction_positive"], dtype=float), marker="o", markersize=4,
            color=PALETTE[0], label="model")
    _diagonal(ax, "perfect calibration")
    _unit_axes(ax, f"Mean predicted probability of {_wrapped(positive)}",
               "Observed fraction positive", figure.title or "Calibration curve")
    ax.legend(loc="upper left")
    return fig


@plotter("confusion_matrix")
def confusion_matrix(figure: Figure) -> Any:
    """Heatmap of the row-normalised matrix, each cell annotated with its count."""
    counts = np.asarray(figure.data["counts"])
    shares = np.asarray(figure.data["normalised"], dtype=float)
    labels = [_wrapped(label) for label in _labels(figure.data["labels"])]
    k = len(labels)
    side = min(max(3.6, 0.32 * k + 1.6), 9.0)
    fig = new_figure(max(FIGSIZE[0], side + 1.4), side)
    ax = fig.subplots()
    edges = np.arange(k + 1) - 0.5
    mesh = ax.pcolormesh(edges, edges, np.nan_to_num(shares), cmap="Blues", vmin=0.0, vmax=1.0,
                         edgecolors="white", linewidth=0.5)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.grid(False)
    ticks = np.arange(k)
    longest = max((len(label) for label in labels), default=0)
    rotate = longest * k > 40 or longest > 8
    ax.set_xticks(ticks, labels, rotation=45 if rotate else 0, ha="right" if rotate else "center",
                  rotation_mode="anchor")
    ax.set_yticks(ticks, labels)
    ax.tick_params(length=0)
    if k <= 25:
        _annotate_cells(ax, counts, shares, fontsize=9.0 if k <= 10 else 7.5, cmap=mesh.cmap)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(figure.title or "Confusion matrix")
    colourbar = fig.colorbar(mesh, ax=ax, shrink=0.8)
    colourbar.set_label("Share of the true class")
    return fig


def _annotate_cells(ax: Any, counts: np.ndarray, shares: np.ndarray, *, fontsize: float,
                    cmap: Any) -> None:
    for (row, column), count in np.ndenumerate(counts):
        ax.text(column, row, f"{count:,}", ha="center", va="center", fontsize=fontsize,
                color=text_colour_on(cmap(float(np.nan_to_num(shares[row, column])))))
