"""Inline SVG of the report's figures: compact markup and a text alternative.

No plotters live here (it is loaded with the ``_plots_*`` modules all the same).
:func:`compact_svg` rewrites matplotlib's SVG without changing what it draws:
coordinates to a tenth of a point (0.13 px on screen), paths in short relative
form, unreferenced ids and empty groups gone, styles as presentation
attributes (no stylesheet: nothing leaks into the page, and PDF engines read
them), and runs of elements sharing a clip path or a style grouped under it.
:func:`describe` summarises a drawn matplotlib figure in words (panels, bars
with their values, curves with their ranges, images), and
:func:`with_text_alternative` puts the title and that summary into the SVG as
``<title>`` and ``<desc>``, XML-escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

__all__ = ["compact_svg", "describe", "with_text_alternative"]

_TOKENS = re.compile(r"(<[^>]+>)")
_ATTRIBUTE = re.compile(r'\s([\w:-]+)="([^"]*)"')
_NAME = re.compile(r"<\s*/?\s*([\w:-]+)")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?", re.IGNORECASE)
_PATH_TOKEN = re.compile(r"[MLCQZmlcqz]|-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?", re.IGNORECASE)
_REFERENCE = re.compile(r'(?:href="#|url\(#)([^")]+)')
_ROTATE_ZERO = re.compile(r"^rotate\(-?0(?:\.0*)? [^)]*\)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: attributes holding plain coordinates, rounded like path data
_COORDINATES = frozenset({"x", "y", "width", "height", "x1", "x2", "y1", "y2"})
#: inherited presentation attributes that replace matplotlib's global ``*{...}`` rule
_ROOT_STROKE = 'stroke-linejoin="round" stroke-linecap="butt"'
_FONT_FAMILY = re.compile(r"font-family: [^;\"]*;?\s*")
_OPACITY = re.compile(r"(?:^|;)\s*opacity\s*:")
_STYLE = re.compile(r'\sstyle="([^"]*)"')
_TAG = re.compile(r"<[^>]+>")
_BARE_NUMBER = re.compile(r"-?\d*\.?\d+")
_BARE_PATH = re.compile(r'<path d="([^"]*)"/>')
_MAX_DESCRIPTION = 1800
_MAX_ITEMS = 24


# -- compact markup ------------------------------------------------------------------------


def compact_svg(svg: str, *, prefix: str, font_family: str) -> str:
    """The same drawing in fewer bytes (see the module's docstring).

    Parameters
    ----------
    svg : str
        matplotlib's SVG, prologue and metadata already removed.
    prefix : str
        Unique within the page: the ids of the figure become ``prefix`` + ``i<n>``.
    font_family : str
        The CSS font list, set once on the root instead of on every text.

    Returns
    -------
    str
    """
    svg = re.sub(r"<defs>\s*<style[^>]*>[^<]*</style>\s*</defs>", "", svg, count=1)
    ids = {old: f"{prefix}i{n}" for n, old in enumerate(dict.fromkeys(_REFERENCE.findall(svg)))}
    svg = _REFERENCE.sub(lambda m: m.group(0)[:-len(m.group(1))] + ids[m.group(1)], svg)
    tokens = [t for t in _TOKENS.split(svg) if t and not (t[0] != "<" and t.isspace())]
    items = _items(tokens, ids)
    text = "".join(_grouped(items))
    text = _TAG.sub(lambda tag: _STYLE.sub(lambda m: _presentation(m.group(1)), tag.group(0)),
                    text)
    return text.replace("<svg", f'<svg {_ROOT_STROKE} font-family="{font_family}"', 1)


class _Leaf:
    """A complete element without children: a self-closing tag, or a text with its content."""

    __slots__ = ("markup", "clip", "style", "name")

    def __init__(self, markup: str, name: str) -> None:
        self.clip = _attribute(markup, "clip-path")
        if self.clip is not None:
            markup = markup.replace(f' clip-path="{self.clip}"', "", 1)
        self.style = _attribute(markup, "style")
        self.markup, self.name = markup, name

    def without_style(self) -> str:
        return self.markup.replace(f' style="{self.style}"', "", 1)


def _items(tokens: list[str], ids: dict[str, str]) -> list[Any]:
    """Compacted tags and text, attribute-less groups dropped, leaves as :class:`_Leaf`."""
    items: list[Any] = []
    kept: list[bool] = []  # per open <g>: whether its tag was written
    in_defs = 0
    text_open: list[str] | None = None
    for token in tokens:
        if text_open is not None:
            text_open.append(token)
            if token.startswith("</text"):
                items.append(_Leaf("".join(text_open), "text"))
                text_open = None
            continue
        if not token.startswith("<"):
            items.append(token)
            continue
        match = _NAME.match(token)
        name = match.group(1) if match else ""
        closing = token.startswith("</")
        if name == "defs":
            in_defs += -1 if closing else 1
        if name == "g" and closing:
            if kept.pop():
                items.append(token)
            continue
        tag = _compact_tag(token, name, ids, decimals=2 if in_defs else 1)
        if name == "g" and tag.endswith("/>"):
            continue  # an empty group draws nothing
        if name == "g":
            kept.append(tag != "<g>")
            if kept[-1]:
                items.append(tag)
        elif name == "text" and not tag.endswith("/>") and not in_defs:
            text_open = [tag]
        elif tag.endswith("/>") and not in_defs:
            items.append(_Leaf(tag, name))
        else:
            items.append(tag)
    return items


def _grouped(items: list[Any]) -> list[str]:
    """Runs of leaves sharing a clip path, then a style, wrapped in one group each."""
    out: list[str] = []
    run: list[_Leaf] = []
    for item in [*items, None]:
        if isinstance(item, _Leaf) and (not run or item.clip == run[0].clip):
            run.append(item)
            continue
        if run:
            body = _by_style(run)
            out += ([f'<g clip-path="{run[0].clip}">', *body, "</g>"] if run[0].clip
                    else body)
            run = []
        if isinstance(item, _Leaf):
            run = [item]
        elif item is not None:
            out.append(item)
    return out


def _by_style(leaves: list[_Leaf]) -> list[str]:
    """Runs of leaves of one inherited style under one group carrying it."""
    out: list[str] = []
    start = 0
    while start < len(leaves):
        style = leaves[start].style
        stop = start + 1
        while stop < len(leaves) and style is not None and leaves[stop].style == style:
            stop += 1
        run = leaves[start:stop]
        if len(run) > 1 and not _OPACITY.search(style or ""):  # opacity is not inherited
            out += [f'<g style="{style}">', *_merged([leaf.without_style() for leaf in run]),
                    "</g>"]
        else:
            out += [leaf.markup for leaf in run]
        start = stop
    return out


def _merged(markups: list[str]) -> list[str]:
    """Consecutive bare paths (``d`` only) of one style as one path of several subpaths."""
    out: list[str] = []
    for markup in markups:
        match = _BARE_PATH.fullmatch(markup)
        previous = _BARE_PATH.fullmatch(out[-1]) if out else None
        if match and previous:
            out[-1] = f'<path d="{previous.group(1)}{match.group(1)}"/>'
        else:
            out.append(markup)
    return out


def _attribute(tag: str, key: str) -> str | None:
    match = re.search(rf'<[^>]*?\s{re.escape(key)}="([^"]*)"', tag)
    return match.group(1) if match else None


def _style_key(style: str) -> str:
    return _FONT_FAMILY.sub("", style).strip().rstrip(";").strip()


def _css(style: str) -> str:
    return re.sub(r"\s*([:;])\s*", r"\1", style).strip(";")


def _presentation(style: str) -> str:
    """A CSS declaration list as SVG presentation attributes (no stylesheet is needed)."""
    pairs = (part.split(":", 1) for part in style.split(";") if ":" in part)
    return "".join(f' {key.strip()}="{_number_text(value.strip())}"' for key, value in pairs)


def _number_text(value: str) -> str:
    # "0.8" -> ".8", "10.5px" stays: only bare numbers are shortened
    return _number(float(value), 3) if _BARE_NUMBER.fullmatch(value) else value


def _compact_tag(tag: str, name: str, ids: dict[str, str], *, decimals: int) -> str:
    if tag.startswith("</") or name == "svg":
        return tag
    end = "/>" if tag.endswith("/>") else ">"
    parts = [f"<{name}"]
    for key, value in _ATTRIBUTE.findall(tag):
        if key == "id":
            if value not in ids:
                continue
            value = ids[value]
        elif key == "d":
            value = _compact_path(value, decimals)
        elif key in _COORDINATES:
            value = _round_all(value, decimals)
        elif key == "transform":
            if _ROTATE_ZERO.match(value.strip()):
                continue
            if value.startswith(("translate", "rotate")):
                value = _round_all(value, decimals)
        elif key == "style":
            value = _style_key(value)
            if not value:
                continue
            value = _css(value)
        parts.append(f' {key}="{value}"')
    return "".join(parts) + end


def _number(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        return "0"
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def _round_all(text: str, decimals: int) -> str:
    return _NUMBER.sub(lambda m: _number(float(m.group(0)), decimals), text)


def _compact_path(path: str, decimals: int) -> str:
    """Path data in relative commands on a grid of ``10 ** -decimals`` points.

    Each vertex is rounded in absolute coordinates and the relative steps are
    taken between rounded vertices, so no error builds up along a path. The
    first move of a path is absolute by the SVG rules, even written as ``m``.
    """
    scale = 10 ** decimals
    tokens = _PATH_TOKEN.findall(path)
    out: list[str] = []
    x = y = start_x = start_y = 0
    i = 0
    command = "M"
    while i < len(tokens):
        token = tokens[i]
        if token.isalpha():
            command = token
            i += 1
            if command in "zZ":
                out.append("z")
                x, y = start_x, start_y
            continue
        size = {"M": 2, "L": 2, "C": 6, "Q": 4}.get(command.upper(), 2)
        values = [round(float(v) * scale) for v in tokens[i:i + size]]
        i += size
        if command.islower():  # relative input: make it absolute first
            values = [v + (x if k % 2 == 0 else y) for k, v in enumerate(values)]
        steps = [v - (x if k % 2 == 0 else y) for k, v in enumerate(values)]
        upper = command.upper()
        if upper == "M":  # absolute, so that paths can be joined into one
            out.append("M" + _joined(values, scale) if not out else "m" + _joined(steps, scale))
            start_x, start_y = values[-2], values[-1]
        elif upper == "L":
            if steps[1] == 0 and steps[0] != 0:
                out.append("h" + _joined(steps[:1], scale))
            elif steps[0] == 0 and steps[1] != 0:
                out.append("v" + _joined(steps[1:], scale))
            elif steps != [0, 0]:
                out.append("l" + _joined(steps, scale))
        else:
            out.append(upper.lower() + _joined(steps, scale))
        x, y = values[-2], values[-1]
        if upper == "M":
            command = "l" if command == "m" else "L"  # later pairs of a move are lines
    return "".join(out)


def _joined(values: Sequence[int], scale: int) -> str:
    text = ""
    for value in values:
        number = _number(value / scale, 3)
        text += number if (not text or number.startswith("-")) else " " + number
    return text


# -- text alternative ----------------------------------------------------------------------


def with_text_alternative(svg: str, *, title: str, description: str) -> str:
    """``svg`` with ``<title>`` and ``<desc>`` as the first children of its root.

    Parameters
    ----------
    svg : str
    title, description : str
        Plain text; XML-escaped here.

    Returns
    -------
    str
    """
    inner = f"<title>{_xml_text(title)}</title><desc>{_xml_text(description)}</desc>"
    return re.sub(r"(<svg[^>]*>)", lambda m: m.group(1) + inner, svg, count=1)


def _xml_text(text: str) -> str:
    return escape(_CONTROL.sub("", " ".join(str(text).split())))


def describe(fig: Any) -> str:
    """A summary in words of what a drawn matplotlib figure shows.

    Call it after the figure was drawn (saved), so that tick labels exist.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        One sentence per panel: its title, its bars with their values, its
        curves with their ranges, its images and colour scales, and its axes.
    """
    sentences = [_describe_axes(ax) for ax in fig.axes if ax.get_visible()]
    text = " ".join(s for s in sentences if s)
    if len(text) > _MAX_DESCRIPTION:
        text = text[:_MAX_DESCRIPTION].rsplit(" ", 1)[0] + " (summary cut; the data is in the "\
            "audit's JSON)."
    return text or "A figure without data."


def _describe_axes(ax: Any) -> str:
    colourbar = getattr(ax, "_colorbar", None)
    if colourbar is not None:
        label = colourbar.ax.get_ylabel() or colourbar.ax.get_xlabel() or "colour"
        return (f"Colour scale ({_clean(label)}) from {_g(colourbar.vmin)} to "
                f"{_g(colourbar.vmax)}.")
    title = _clean(ax.get_title() or ax.get_title(loc="left"))
    parts = [*_bars(ax), *_curves(ax), *_images(ax), *_points(ax)]
    axes = [f"{name} axis: {_clean(label)}" for name, label in
            (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if label.strip()]
    if not parts and not title:
        return ""
    head = f"Panel {title!r}: " if title else "Panel: "
    return head + "; ".join(parts + axes) + "."


def _bars(ax: Any) -> Iterable[str]:
    from matplotlib.container import BarContainer

    for container in ax.containers:
        if not isinstance(container, BarContainer) or not container.patches:
            continue
        horizontal = getattr(container, "orientation", "vertical") == "horizontal"
        axis = ax.yaxis if horizontal else ax.xaxis
        names = _tick_names(axis)
        values = np.asarray(container.datavalues, dtype=float)
        items = []
        for patch, value in zip(container.patches, values, strict=False):
            centre = (patch.get_y() + patch.get_height() / 2 if horizontal
                      else patch.get_x() + patch.get_width() / 2)
            items.append(f"{_nearest(names, centre)} {_g(value)}".strip())
        label = container.get_label()
        named = f"bars {label!r}" if label and not label.startswith("_") else "bars"
        yield f"{named}: {_listed(items)}"


def _tick_names(axis: Any) -> list[tuple[float, str]]:
    return [(float(loc), _clean(label.get_text())) for loc, label in
            zip(axis.get_ticklocs(), axis.get_ticklabels(), strict=False)]


def _nearest(names: list[tuple[float, str]], at: float) -> str:
    if not names:
        return ""
    loc, name = min(names, key=lambda pair: abs(pair[0] - at))
    return name if abs(loc - at) < 0.5 else ""


def _curves(ax: Any) -> Iterable[str]:
    for line in ax.get_lines():
        x = _floats(line.get_xdata())
        y = _floats(line.get_ydata())
        if x is None or y is None or not len(x) or not line.get_visible():
            continue
        label = line.get_label()
        name = repr(_clean(label)) if label and not label.startswith("_") else ""
        if len(x) == 2 and x[0] == x[1] and y[0] != y[1]:
            yield f"vertical line {name} at x = {_g(x[0])}".replace("  ", " ")
        elif len(y) == 2 and y[0] == y[1] and x[0] != x[1]:
            yield f"horizontal line {name} at y = {_g(y[0])}".replace("  ", " ")
        elif len(x) <= 8:
            points = ", ".join(f"({_g(a)}, {_g(b)})" for a, b in zip(x, y, strict=False))
            yield f"{'points ' + name if name else 'points'}: {points}"
        elif name:
            yield (f"curve {name} of {len(x)} points, x from {_g(np.nanmin(x))} to "
                   f"{_g(np.nanmax(x))}, y from {_g(np.nanmin(y))} to {_g(np.nanmax(y))}")


def _images(ax: Any) -> Iterable[str]:
    shapes = [image.get_array().shape[:2] for image in ax.get_images()
              if image.get_array() is not None]
    if shapes:
        sizes = sorted({f"{h}\u00d7{w}" for h, w in shapes})
        yield f"{len(shapes)} image{'s' if len(shapes) > 1 else ''} ({', '.join(sizes)} pixels)"


def _points(ax: Any) -> Iterable[str]:
    from matplotlib.collections import PathCollection

    for collection in ax.collections:
        if isinstance(collection, PathCollection):
            offsets = np.asarray(collection.get_offsets())
            if len(offsets) > 8:
                yield f"scatter of {len(offsets)} points"


def _floats(values: Any) -> np.ndarray | None:
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    return array if np.isfinite(array).any() else None


def _listed(items: list[str]) -> str:
    if len(items) <= _MAX_ITEMS:
        return ", ".join(items)
    return ", ".join(items[:_MAX_ITEMS]) + f" and {len(items) - _MAX_ITEMS} more"


def _g(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{float(value):.3g}"


def _clean(text: str) -> str:
    return " ".join(str(text).split())
