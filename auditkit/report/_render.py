"""HTML rendering: the view model through the jinja2 templates, with autoescape.

Templates are found where the wheel installs them (``auditkit/_templates``)
or, in a source checkout, in ``reports/templates``. Every template escapes
what it prints, with control characters made visible; the figures' SVG is
the only markup passed through as is.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from .._text import visible
from ..results import AuditResult
from ._plots import Drawing, to_svg
from ._view import ReportView, build_view

__all__ = ["render_html", "template_dir"]

_TEMPLATE = "report.html.j2"
#: The installed ``auditkit`` package (``Path(auditkit.__file__).parent``).
_PACKAGE = Path(__file__).resolve().parents[1]


def template_dir() -> Path:
    """The folder of the report templates (installed package first, then the source tree)."""
    package = _PACKAGE
    for candidate in (package / "_templates", package.parent / "reports" / "templates"):
        if (candidate / _TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(
        f"The report templates were not found in {package / '_templates'} nor in "
        f"{package.parent / 'reports' / 'templates'}; reinstall auditkit.")


def _finalize(value: Any) -> Any:
    """Every printed string with its control characters made visible (NUL, ESC, BEL...)."""
    return visible(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=4)
def _environment(folder: Path) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )


def _drawings(view: ReportView) -> dict[str, Drawing]:
    return {fig.anchor: to_svg(fig.figure, salt=fig.anchor)
            for check in view.checks for fig in check.figures}


def render_html(result: AuditResult, *, print_mode: bool = False) -> str:
    """Render an audit as one self-contained HTML page.

    The page has no script and loads nothing: CSS is inlined, figures are
    inline SVG, and a Content-Security-Policy forbids any request.

    Parameters
    ----------
    result : AuditResult
    print_mode : bool
        Render for print (the PDF): every folded section open.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> from auditkit.report import render_html
    >>> html = render_html(result)  # doctest: +SKIP
    >>> html.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    view = build_view(result)
    template = _environment(template_dir()).get_template(_TEMPLATE)
    return template.render(view=view, drawings=_drawings(view), print_mode=print_mode)
