"""Plots of the text attacks (robustness_text): success by budget, and marked examples.

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported. In the examples, each changed word is set in bold inside a box
(pale red before, pale blue after) and the lines are labelled "before" and
"after", so the marking does not rest on colour alone. Sentences are written
as plain text by matplotlib, which escapes them in the SVG; no HTML is made.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..results import Figure
from ._plots import FIGSIZE, PALETTE, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"
_MARKERS = ("o", "s", "D")
_FONT = 8.0  # points, example text
_LINE = 1.55  # line height, in font sizes
_CHAR = 0.58  # mean character width, in font sizes (DejaVu Sans)
_LABEL = 0.09  # share of the width for the "before" / "after" labels
_BOX = {"before": ("#FBD9D0", "#B2401F"), "after": ("#D3E6F5", "#0A5A92")}
_BREAK = re.compile(r"\S+\s*|\s+")


@plotter("text_attack_budget")
def text_attack_budget(figure: Figure) -> Any:
    """Attack success against the most words changed, one line and band per attack."""
    data = figure.data
    budget = np.asarray(data["budget"], dtype=int)
    attacks = [str(a) for a in data["attacks"]]
    rate = np.atleast_2d(np.asarray(data["success_rate"], dtype=float))
    lower = np.atleast_2d(np.asarray(data["lower"], dtype=float))
    upper = np.atleast_2d(np.asarray(data["upper"], dtype=float))
    fig = new_figure()
    ax = fig.subplots()
    for i, attack in enumerate(attacks):
        colour = PALETTE[i % len(PALETTE)]
        ax.fill_between(budget, lower[i], upper[i], color=colour, alpha=0.15, linewidth=0)
        ax.plot(budget, rate[i], marker=_MARKERS[i % len(_MARKERS)], markersize=4,
                color=colour, label=_wrapped(attack))
    top = min(1.02, max(0.1, float(np.nanmax(upper, initial=0.0)) * 1.15))
    for i, (y, at) in enumerate(zip(rate[:, -1], _spread(rate[:, -1], 0.045 * top),
                                    strict=True)):  # end labels: the value each line reaches
        ax.annotate(f"{y:.1%}", (budget[-1], y), xytext=(budget[-1] + 0.08, at),
                    textcoords="data", va="center", fontsize=8.0,
                    color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(budget)
    ax.set_xlim(budget.min() - 0.3, budget.max() + 0.6)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.set_xlabel("Most words changed per sentence")
    ax.set_ylabel(f"Share of {int(data['n']):,} correct predictions flipped")
    ax.set_title(figure.title or "Attack success by word budget")
    ax.legend(loc="upper left", title=f"{float(data.get('confidence', 0.95)):.0%} "
                                      "intervals shaded")
    return fig


def _spread(values: np.ndarray, gap: float) -> np.ndarray:
    """Label heights near ``values`` but at least ``gap`` apart (NaN stays put)."""
    at = np.nan_to_num(np.asarray(values, dtype=float))
    order = np.argsort(at, kind="stable")
    placed = at[order].copy()
    for j in range(1, len(placed)):
        placed[j] = max(placed[j], placed[j - 1] + gap)
    out = np.empty_like(placed)
    out[order] = placed
    return out


def _runs(pieces: list[str], changed: set[int]) -> list[tuple[str, bool]]:
    """The sentence as (text, marked) runs, plain text cut at spaces so lines can break."""
    runs: list[tuple[str, bool]] = []
    for k, piece in enumerate(pieces):
        if k in changed:
            runs.append((piece, True))
        else:
            runs += [(part, False) for part in _BREAK.findall(piece)]
    return runs


def _lines(runs: list[tuple[str, bool]], width: int) -> list[list[tuple[str, bool]]]:
    """Runs filled greedily into lines of at most ``width`` characters; plain runs merged."""
    lines: list[list[tuple[str, bool]]] = [[]]
    used = 0
    for text, marked in runs:
        if used and used + len(text.rstrip()) > width:
            lines.append([])
            used = 0
            text = text.lstrip() if not marked else text
        line = lines[-1]
        if line and not marked and not line[-1][1]:
            line[-1] = (line[-1][0] + text, False)
        elif text:
            line.append((text, marked))
        used += len(text)
    return lines


def _canvas_size(fig: Any) -> tuple[float, float]:
    """Width and height of a figure or PDF slot, in inches."""
    box = fig.bbox
    return box.width / fig.dpi, box.height / fig.dpi


def _draw_line(ax: Any, x: float, y: float, line: list[tuple[str, bool]], side: str) -> None:
    """One line of runs, each placed right after the previous one (marked ones boxed)."""
    face, edge = _BOX[side]
    previous = None
    for text, marked in line:
        # SVG text collapses leading and trailing spaces in a browser: keep them as
        # no-break spaces, so a marked word stays apart from its neighbours
        text = text.replace(" ", "\u00a0")
        style: dict[str, Any] = {"fontsize": _FONT, "va": "baseline", "ha": "left",
                                 "color": "#1A1A1A"}
        if marked:
            style.update(fontweight="bold", color=edge,
                         bbox={"boxstyle": "square,pad=0.12", "facecolor": face,
                               "edgecolor": edge, "linewidth": 0.6})
        if previous is None:
            previous = ax.text(x, y, text, transform=ax.transAxes, **style)
        else:
            # (1, 0) of the previous text's box is its right end, at its bottom; both
            # bottoms sit one descent below the shared baseline
            previous = ax.annotate(text, xy=(1, 0), xycoords=previous, va="bottom",
                                   **{k: v for k, v in style.items() if k != "va"})


@plotter("text_attack_examples")
def text_attack_examples(figure: Figure) -> Any:
    """Each example: a header, then the sentence before and after with changed words boxed."""
    data = figure.data
    originals = [list(map(str, p)) for p in data["original"]]
    perturbed = [list(map(str, p)) for p in data["perturbed"]]
    changed = [set(int(k) for k in c) for c in data["changed"]]
    classes = [str(c) for c in data["true_class"]]
    after_class = [str(c) for c in data["prediction_after"]]
    before_p = np.asarray(data["p_true_before"], dtype=float)
    after_p = np.asarray(data["p_true_after"], dtype=float)
    width_in = FIGSIZE[0] * 1.35
    chars = max(30, int(width_in * 72 * (1 - _LABEL) / (_CHAR * _FONT)))
    blocks = []
    for i in range(len(originals)):
        blocks.append((_lines(_runs(originals[i], changed[i]), chars),
                       _lines(_runs(perturbed[i], changed[i]), chars)))
    line_in = _FONT * _LINE / 72
    heights = [(1 + len(b) + len(a)) * line_in + 0.12 for b, a in blocks]
    fig = new_figure(width_in, min(sum(heights) + 0.45, 11.0))
    total_in = _canvas_size(fig)[1]
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(figure.title or "Attacked sentences", loc="left")
    # the axes fill the canvas but the title; lay the examples out from the top
    room = max(total_in - 0.45, line_in)
    shown = 0
    used = 0.0
    for height in heights:
        if used + height > room:
            break
        used += height
        shown += 1
    y = 1.0
    step = line_in / room
    for i in range(shown):
        before_lines, after_lines = blocks[i]
        flipped = after_class[i] != classes[i]
        header = (f"{i + 1}. true class {classes[i]}: p = {before_p[i]:.2f} \u2192 "
                  f"{after_p[i]:.2f}" + (f", now predicted {after_class[i]}" if flipped
                                         else " (not flipped)"))
        y -= step
        ax.text(0.0, y, header, transform=ax.transAxes, fontsize=_FONT - 0.5,
                color=_GREY, va="baseline")
        for side, lines in (("before", before_lines), ("after", after_lines)):
            for j, line in enumerate(lines):
                y -= step
                if j == 0:
                    ax.text(0.0, y, side, transform=ax.transAxes, fontsize=_FONT - 0.5,
                            fontstyle="italic", color=_GREY, va="baseline")
                _draw_line(ax, _LABEL, y, line, side)
        y -= 0.12 / room
    if shown < len(blocks):
        ax.text(1.0, 0.0, f"first {shown} of {len(blocks)} examples; all are in the "
                "examples table", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=8.0, color=_GREY)
    return fig
