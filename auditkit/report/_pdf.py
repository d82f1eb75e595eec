"""PDF rendering with matplotlib alone: a summary page, then the checks.

Pages are A4 matplotlib figures written by ``PdfPages``: text set line by
line, figures drawn by the same plotters as the HTML report into slots of
the page. No external tool, no network; metadata carries no date, so the
same audit gives the same file.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from ..results import AuditResult, Status
from ._plots import can_draw, draw, drawing_into, style
from ._view import CheckView, FigureView, ReportView, build_view

__all__ = ["render_pdf", "pdf_pages"]

_PAGE = (8.27, 11.69)  # A4, inches
_MARGIN = 0.7
_WIDTH = _PAGE[0] - 2 * _MARGIN
_LEADING = 1.4
_SLOT = 3.6  # height of one figure on a page, inches
_INK = "#1B1F24"
_MUTED = "#5F6670"
_STATUS_COLOURS = {Status.PASS: "#1E7B34", Status.WARN: "#8A5A00", Status.FAIL: "#B42318",
                   Status.ERROR: "#6E0F0F", Status.INFO: "#3E5C76", Status.SKIP: "#5F6670"}


@dataclass
class _Page:
    """One A4 page being filled from the top; ``y`` is the distance from the top, in inches."""

    figure: Any
    y: float = _MARGIN
    slots: list[tuple[float, FigureView]] = field(default_factory=list)

    @property
    def room(self) -> float:
        return _PAGE[1] - _MARGIN - self.y

    def text(self, text: str, *, size: float = 9.5, x: float = 0.0, **style: Any) -> None:
        self.y += size * _LEADING / 72
        self.figure.text((_MARGIN + x) / _PAGE[0], 1 - self.y / _PAGE[1], text, fontsize=size,
                         va="baseline", ha="left", color=style.pop("color", _INK), **style)

    def space(self, inches: float) -> None:
        self.y += inches


def _new_page() -> _Page:
    from matplotlib.figure import Figure as MplFigure

    return _Page(MplFigure(figsize=_PAGE))


class _Writer:
    """Sets text on pages, starting a new page when one is full."""

    def __init__(self, footer: str) -> None:
        self.footer = footer
        self.pages: list[_Page] = []
        self.new_page()

    @property
    def page(self) -> _Page:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append(_new_page())

    def need(self, inches: float) -> None:
        if self.page.room < inches:
            self.new_page()

    def paragraph(self, text: str, *, size: float = 9.5, indent: float = 0.0,
                  family: str = "sans-serif", **style: Any) -> None:
        per_char = size * (0.61 if family == "monospace" else 0.54) / 72
        width = max(int((_WIDTH - indent) / per_char), 20)
        for line in textwrap.wrap(text, width=width, break_long_words=True) or [""]:
            self.need(size * _LEADING / 72)
            self.page.text(line, size=size, x=indent, family=family, **style)

    def heading(self, text: str, *, size: float = 13.0) -> None:
        self.need(0.9)
        self.page.space(0.12)
        self.paragraph(text, size=size, weight="bold")
        self.page.space(0.04)

    def status_line(self, label: str, status: Status, text: str = "") -> None:
        self.paragraph(f"{label}{status.value}" + (f"  {text}" if text else ""), size=10.5,
                       weight="bold", color=_STATUS_COLOURS[status])


# -- content --------------------------------------------------------------------------


def _summary(writer: _Writer, view: ReportView) -> None:
    writer.paragraph("MODEL AUDIT REPORT", size=8.5, color=_MUTED, weight="bold")
    writer.paragraph(view.title, size=18, weight="bold")
    writer.page.space(0.1)
    writer.status_line("Overall verdict: ", view.status)
    writer.paragraph(view.verdict)
    writer.page.space(0.05)
    for label, value in view.overview:
        writer.paragraph(f"{label}: {value}", size=8.5, color=_MUTED)
    writer.heading("Executive summary")
    counts = ", ".join(f"{n} {s.value}" for s, n in view.counts)
    writer.paragraph(f"{len(view.checks)} checks: {counts}.")
    writer.heading("Verdict per family", size=11)
    for family in view.families:
        writer.paragraph(f"{family.title:<32}{family.status.value:<7}{family.counts}",
                         size=8.5, family="monospace")
    writer.heading("Worst findings", size=11)
    if not view.findings:
        writer.paragraph("No check failed, warned or raised an error.")
    for finding in view.findings:
        writer.paragraph(f"{finding.status.value}: {finding.sentence}", indent=0.1)
    if view.skipped:
        writer.heading("Skipped checks", size=11)
        for check in view.skipped:
            writer.paragraph(f"{check.name}: {check.headline}", indent=0.1)


def _metric_lines(check: CheckView) -> list[str]:
    """The metrics as a fixed-width table, without the columns no metric fills."""
    header = ("Metric", "Value", "Interval", "n", "Policy levels", "Verdict")
    body = [(r.label, r.value, f"{r.interval} {r.level}".strip(), r.n, r.rule,
             r.verdict.value if r.verdict else "") for r in check.metrics]
    kept = [i for i in range(len(header)) if i < 2 or any(row[i] for row in body)]
    rows = [tuple(row[i] for i in kept) for row in [header, *body]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(kept))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _check(writer: _Writer, check: CheckView) -> None:
    writer.new_page()
    writer.paragraph(check.family.upper(), size=8.5, color=_MUTED, weight="bold")
    writer.paragraph(check.name, size=14, weight="bold")
    writer.status_line("Status: ", check.status)
    writer.page.space(0.05)
    writer.paragraph(check.headline, size=10)
    if check.description:
        writer.paragraph(check.description, size=8.5, color=_MUTED)
    if check.metrics:
        writer.page.space(0.1)
        for line in _metric_lines(check):
            writer.paragraph(line, size=7.2, family="monospace")
        for note in check.interval_notes:
            writer.paragraph(note, size=7.5, color=_MUTED)
    if check.error:
        writer.page.space(0.1)
        for line in check.error.rstrip().splitlines()[-25:]:
            writer.paragraph(line, size=7, family="monospace", color=_MUTED)
    for fig in check.figures:
        writer.page.space(0.15)
        if writer.page.room < _SLOT:
            writer.new_page()
            writer.paragraph(f"{check.name} (continued)", size=10, weight="bold", color=_MUTED)
        writer.page.slots.append((writer.page.y, fig))
        writer.page.space(_SLOT)


# -- pages with figures -------------------------------------------------------------------


def _finish(page: _Page, number: int, total: int, footer: str) -> Any:
    figure = page.figure
    figure.text(_MARGIN / _PAGE[0], 0.35 / _PAGE[1], footer, fontsize=7, color=_MUTED)
    figure.text(1 - _MARGIN / _PAGE[0], 0.35 / _PAGE[1], f"page {number} of {total}",
                fontsize=7, color=_MUTED, ha="right")
    if page.slots:
        _draw_slots(figure, page.slots)
    return figure


def _draw_slots(page: Any, slots: list[tuple[float, FigureView]]) -> None:
    # Subfigures cannot be placed by hand: each slot is a row of one grid whose
    # other rows are the gaps (the text above, the space between and below).
    heights, edge = [], 0.0
    for top, _ in slots:
        heights += [max(top - edge, 1e-3), _SLOT]
        edge = top + _SLOT
    heights.append(max(_PAGE[1] - edge, 1e-3))
    page.set_layout_engine("constrained", h_pad=0.0, hspace=0.0,
                           rect=(_MARGIN / _PAGE[0], 0.0, _WIDTH / _PAGE[0], 1.0))
    grid = page.add_gridspec(len(heights), 1, height_ratios=heights)
    for row, (_, fig) in enumerate(slots):
        _draw_slot(page.add_subfigure(grid[2 * row + 1]), fig)


def _draw_slot(slot: Any, fig: FigureView) -> None:
    if not can_draw(fig.kind):
        _note(slot, fig, f"There is no drawing for figures of kind {fig.kind!r} in this version "
                         f"of auditkit (data: {', '.join(fig.data_keys) or 'none'}).")
        return
    try:
        with drawing_into(slot):
            draw(fig.figure)
    except Exception as exc:  # a bad figure is noted, never fatal
        _note(slot, fig, f"The figure could not be drawn ({type(exc).__name__}: {exc}).")


def _note(slot: Any, fig: FigureView, text: str) -> None:
    slot.text(0.0, 0.9, fig.title, fontsize=10, weight="bold", va="top")
    wrapped = textwrap.fill(text, width=100)
    slot.text(0.0, 0.78, wrapped, fontsize=8.5, color=_MUTED, va="top")


def pdf_pages(view: ReportView) -> Iterator[Any]:
    """The pages of the PDF report, as matplotlib figures, in order.

    Parameters
    ----------
    view : ReportView

    Yields
    ------
    matplotlib.figure.Figure
        One A4 page.
    """
    writer = _Writer(footer=f"{view.title} \u2014 {view.generator}")
    _summary(writer, view)
    for check in view.checks:
        _check(writer, check)
    total = len(writer.pages)
    for number, page in enumerate(writer.pages, start=1):
        yield _finish(page, number, total, writer.footer)


def render_pdf(result: AuditResult, path: str | PathLike[str]) -> None:
    """Write the report of an audit as a PDF.

    The first page gives the overall verdict, the verdict per family and the
    worst findings; then each check has a page with its status, headline,
    metrics and figures.

    Parameters
    ----------
    result : AuditResult
    path : str or path-like
        Where to write the PDF.

    Examples
    --------
    >>> from auditkit.report import render_pdf
    >>> render_pdf(result, "report.pdf")  # doctest: +SKIP
    """
    from matplotlib.backends.backend_pdf import PdfPages

    view = build_view(result)
    metadata = {"Title": view.title, "Subject": "Model audit report",
                "Creator": view.generator, "CreationDate": None}
    with style(), PdfPages(path, metadata=metadata) as pdf:
        for page in pdf_pages(view):
            pdf.savefig(page)

