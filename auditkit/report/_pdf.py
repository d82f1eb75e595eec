"""PDF rendering: the HTML report laid out for print by WeasyPrint.

The PDF carries everything the HTML report carries, because it *is* the HTML
report (:func:`~auditkit.report.render_html` with ``print_mode=True``, which
opens every folded section) with one more stylesheet, ``pdf.css``, on top: A4
pages, the title and page numbers in the margins, landscape pages for wide
tables, figures kept whole. A table too wide even for a landscape page is cut
into parts of a few columns that repeat its index, so that no column is lost
past the page's edge. WeasyPrint fetches nothing: the page holds only
inline data, and its URL fetcher refuses every URL that is not a ``data:``
URI. No creation date and no file identifier are written, so the same audit
gives the same bytes.
"""

from __future__ import annotations

import functools
import re
from os import PathLike
from pathlib import Path
from types import ModuleType
from typing import Any

from ..exceptions import AuditkitError
from ..results import AuditResult
from ._render import render_html, template_dir

__all__ = ["PdfEngineError", "offline_fetcher", "print_html", "render_pdf", "require_pdf_engine"]

_STYLESHEET = "pdf.css"
#: Tables with this many columns (index levels included) or more are marked
#: ``pdf-wide``, which pdf.css sets on landscape pages of their own; from
#: ``_VERY_WIDE`` columns on, also ``pdf-very-wide``, in a smaller type.
_WIDE, _VERY_WIDE = 8, 13
#: A table with more columns than this is cut into several tables of at most
#: ``_COLUMNS_PER_PART`` columns, each repeating the index: no page is wide
#: enough for it, and a column past the page's edge is lost.
_MAX_COLUMNS = 16
_COLUMNS_PER_PART = 12

_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)
_CAPTION = re.compile(r"(<caption\b[^>]*>)(.*?)(</caption>)", re.S)
_SECTION = re.compile(r"<(thead|tbody|tfoot)\b[^>]*>(.*?)</\1>", re.S)
_ROW = re.compile(r"(<tr\b[^>]*>)(.*?)</tr>", re.S)
_CELL = re.compile(r"(<(t[hd])\b([^>]*)>)(.*?)</\2>", re.S)
_COLSPAN = re.compile(r"""\bcolspan=["']?(\d+)["']?""")
_CLASS = re.compile(r"""\bclass=(["'])(.*?)\1""")

PDF_ENGINE_MISSING = (
    "Writing a PDF report needs WeasyPrint and the Pango library, which could not be loaded "
    "({error}): install them with `pip install \"auditkit[pdf]\"` and, on Debian/Ubuntu, "
    "`apt-get install libpango-1.0-0 libpangoft2-1.0-0`."
)
URL_REFUSED = "The PDF report loads nothing from outside the page. Got a request for {url!r}."


class PdfEngineError(AuditkitError):
    """The PDF engine (WeasyPrint, and the Pango library under it) cannot be loaded."""


def require_pdf_engine() -> ModuleType:
    """Import WeasyPrint, or say in one sentence what to install.

    The command line calls this before an audit whose report goes to a PDF,
    so a missing engine is reported before the audit runs, not after.

    Returns
    -------
    module
        The ``weasyprint`` module.

    Raises
    ------
    PdfEngineError
        WeasyPrint is not installed (``ImportError``), or the Pango library it
        loads at import is missing (``OSError``).

    Examples
    --------
    >>> from auditkit.report._pdf import require_pdf_engine
    >>> weasyprint = require_pdf_engine()  # doctest: +SKIP
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise PdfEngineError(PDF_ENGINE_MISSING.format(error=f"{type(exc).__name__}: {exc}")) \
            from exc
    return weasyprint


@functools.cache
def _offline_fetcher_class(weasyprint: ModuleType) -> type:
    """A WeasyPrint URL fetcher that refuses every URL but an inline ``data:`` URI."""

    class OfflineFetcher(weasyprint.URLFetcher):  # type: ignore[misc, name-defined]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.strip().lower().startswith("data:"):  # inline: decoded here, nothing is sent
                return super().fetch(url, headers)
            raise ValueError(URL_REFUSED.format(url=url))

    return OfflineFetcher


def offline_fetcher() -> Any:
    """The URL fetcher WeasyPrint is given: ``data:`` URIs only, every other URL refused.

    Returns
    -------
    weasyprint.URLFetcher
        Its ``fetch(url)`` decodes a ``data:`` URI and raises ``ValueError``
        for any other URL (WeasyPrint then leaves the resource out).
    """
    weasyprint = require_pdf_engine()
    return _offline_fetcher_class(weasyprint)(allowed_protocols=("data",))


def _stylesheet() -> str:
    return (Path(template_dir()) / _STYLESHEET).read_text(encoding="utf-8")


def print_html(result: AuditResult) -> str:
    """The HTML that WeasyPrint lays out: the report for print, with ``pdf.css`` last.

    The print stylesheet goes into the page, after the report's own CSS, rather
    than to WeasyPrint as a separate stylesheet: WeasyPrint gives those the
    *user* origin, which loses to every rule of the page. Wide tables are marked
    for landscape pages, and those with more than ``_MAX_COLUMNS`` columns are
    cut into parts that fit one.

    Parameters
    ----------
    result : AuditResult

    Returns
    -------
    str
        ``render_html(result, print_mode=True)`` with its widest tables cut and
        one more ``<style>`` element at the end of its head.
    """
    html = _TABLE.sub(lambda table: _fit_table(table.group(0)),
                      render_html(result, print_mode=True))
    head_end = html.find("</head>")
    if head_end < 0:
        raise ValueError("The report template must have a </head> tag for the print "
                         "stylesheet to go in. Got a page without one.")
    return f"{html[:head_end]}<style>\n{_stylesheet()}</style>\n{html[head_end:]}"


_Cell = tuple[str, str, int]  # opening tag, content, number of columns it spans
_Section = tuple[str, list[tuple[str, list[_Cell]]]]  # thead/tbody, its rows (<tr> tag, cells)


def _cells(row: str) -> list[_Cell]:
    """The cells of one ``<tr>``: (opening tag, content, number of columns it spans)."""
    return [(cell.group(1), cell.group(4), int(span.group(1)) if (span := _COLSPAN.search(
        cell.group(3))) else 1) for cell in _CELL.finditer(row)]


def _with_classes(opening: str, *names: str) -> str:
    """A ``<table ...>`` tag with more class names."""
    if not names:
        return opening
    if found := _CLASS.search(opening):
        joined = " ".join([found.group(2), *names]).strip()
        return f"{opening[:found.start()]}class=\"{joined}\"{opening[found.end():]}"
    return f"{opening[:-1]} class=\"{' '.join(names)}\">"


def _fit_table(table: str) -> str:
    """``table`` marked by its width and, when wider than ``_MAX_COLUMNS``, cut in parts.

    A table of ``_WIDE`` columns or more gets the class ``pdf-wide`` (and from
    ``_VERY_WIDE`` on, ``pdf-very-wide``), so that pdf.css needs no ``:has()``,
    which WeasyPrint evaluates slowly.
    """
    sections: list[_Section] = [
        (name, [(tr, _cells(row)) for tr, row in _ROW.findall(inner)])
        for name, inner in _SECTION.findall(table)]
    n_columns = max((sum(span for _, _, span in row) for _, rows in sections for _, row in rows),
                    default=0)
    opening, rest = table[:table.index(">") + 1], table[table.index(">") + 1:]
    wide = ["pdf-wide"] if n_columns >= _WIDE else []
    if n_columns > _MAX_COLUMNS and (parts := _split(sections, n_columns)):
        caption = _CAPTION.search(table)
        return "\n".join(f"{_with_classes(opening, *wide)}\n{_caption(caption, label)}\n{inner}"
                         "\n</table>" for label, inner in parts)
    return _with_classes(opening, *wide, *(["pdf-very-wide"] * (n_columns >= _VERY_WIDE))) + rest


def _caption(caption: re.Match[str] | None, label: str) -> str:
    if caption is None:
        return f"<caption>{label}</caption>"
    return f"{caption.group(1)}{caption.group(2)} {label}{caption.group(3)}"


def _split(sections: list[_Section], n_columns: int) -> list[tuple[str, str]]:
    """The parts of a table too wide for a page: (caption label, thead and tbody) each.

    Each part repeats the index columns (the leading ``<th>`` of the body rows),
    or the first column of a table without an index, so that its rows can be
    told apart. Empty when the cells of a row cannot be lined up with the
    columns (an odd ``colspan``): the table then stays whole.
    """
    rows = [row for _, section in sections for _, row in section]
    body = [row for name, section in sections if name == "tbody" for _, row in section
            if len(row) == n_columns]
    n_key = min((next((i for i, (tag, _, _) in enumerate(row) if not tag.startswith("<th")),
                       len(row)) for row in body), default=0)
    if not n_key and body and all(len(row) == n_columns for row in rows):
        n_key = 1
    n_data = n_columns - n_key
    if n_key >= _COLUMNS_PER_PART or any(
            len(row) != n_columns and sum(span for _, _, span in row[n_key:]) != n_data
            for row in rows):
        return []
    parts = []
    step = _COLUMNS_PER_PART - n_key
    for start in range(0, n_data, step):
        stop = min(start + step, n_data)
        label = f"(columns {n_key + start + 1 if start else 1}\u2013{n_key + stop} of {n_columns})"
        inner = "".join(f"<{name}>{_part_rows(section, n_key, start, stop)}</{name}>"
                        for name, section in sections)
        parts.append((label, inner))
    return parts


def _part_rows(section: list[tuple[str, list[_Cell]]], n_key: int, start: int,
               stop: int) -> str:
    """The rows of one part: each row's ``n_key`` first cells and its columns ``start:stop``."""
    rows = []
    for tr, row in section:
        key, rest = row[:n_key], row[n_key:]
        if len(rest) == 1 and rest[0][2] > 1:  # a cell across every column: across the part's
            tag, content, _ = rest[0]
            rest = [(_COLSPAN.sub(f'colspan="{stop - start}"', tag), content, stop - start)]
        else:
            rest = rest[start:stop]
        rows.append(tr + "".join(f"{tag}{content}</{tag[1:3]}>" for tag, content, _ in key + rest)
                    + "</tr>")
    return "".join(rows)


def render_pdf(result: AuditResult, path: str | PathLike[str]) -> None:
    """Write the report of an audit as a PDF.

    The PDF is the HTML report laid out on A4 pages: the executive summary,
    every family and check with its metrics, clauses, figures and tables, the
    model card, the provenance and the policy, with every folded section open.
    Tables too wide for a portrait page get landscape pages.

    Parameters
    ----------
    result : AuditResult
    path : str or path-like
        Where to write the PDF.

    Raises
    ------
    PdfEngineError
        WeasyPrint or the Pango library is not installed.

    Examples
    --------
    >>> from auditkit.report import render_pdf
    >>> render_pdf(result, "report.pdf")  # doctest: +SKIP
    """
    weasyprint = require_pdf_engine()
    html = weasyprint.HTML(string=print_html(result), base_url=None, url_fetcher=offline_fetcher())
    # No pdf_identifier and no <meta name="dcterms.created"> in the page: no date, no
    # random ID, so the bytes depend on the audit alone.
    html.write_pdf(Path(path), pdf_identifier=False, uncompressed_pdf=False,
                   custom_metadata=False)
