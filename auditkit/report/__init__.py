"""Reports of an audit: a self-contained HTML page and a PDF.

:func:`render_html` turns an :class:`~auditkit.AuditResult` into one HTML file
that opens offline (inline CSS and SVG, no script, no network request);
:func:`render_pdf` writes the same findings as a PDF; :func:`render_comparison_html`
puts two or more audits side by side, and :func:`find_regressions` lists the
metrics that got worse with intervals apart (the ``compare --fail-on-regression``
gate). Usually called through ``AuditResult.save_html``, ``AuditResult.save_pdf``
and ``AuditResult.save_comparison_html``.
"""

from ._compare import Regression, find_regressions, render_comparison_html
from ._pdf import render_pdf
from ._plots import load_plotters
from ._render import render_html

load_plotters()  # every _plots_* module of this package: none is listed by hand

__all__ = ["Regression", "find_regressions", "render_comparison_html", "render_html",
           "render_pdf"]
