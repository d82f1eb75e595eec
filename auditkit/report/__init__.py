"""Reports of an audit: a self-contained HTML page and a PDF.

:func:`render_html` turns an :class:`~auditkit.AuditResult` into one HTML file
that opens offline (inline CSS and SVG, no script, no network request);
:func:`render_pdf` writes the same findings as a PDF; :func:`render_comparison_html`
puts two or more audits side by side. Usually called through
``AuditResult.save_html``, ``AuditResult.save_pdf`` and
``AuditResult.save_comparison_html``.
"""

from . import (
    _plots_explanations,  # noqa: F401  (registers the explanation plots)
    _plots_fairness,  # noqa: F401  (registers the fairness plots)
    _plots_robustness,  # noqa: F401  (registers the robustness plots)
    _plots_robustness_corruptions,  # noqa: F401  (registers the corruption plots)
    _plots_robustness_tabular,  # noqa: F401  (registers the tabular attack plots)
    _plots_robustness_text,  # noqa: F401  (registers the text attack plots)
    _plots_text_fairness,  # noqa: F401  (registers the counterfactual text plots)
)
from ._compare import render_comparison_html
from ._pdf import render_pdf
from ._render import render_html

__all__ = ["render_comparison_html", "render_html", "render_pdf"]
