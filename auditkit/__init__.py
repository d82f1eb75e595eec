"""auditkit: audit trained models for responsible-AI risks and write reports.

Three lines from a model to a report::

    from auditkit import audit, zoo
    model, data = zoo.load("adult-mlp")
    audit(model, data).save_html("report.html")
"""

from ._audit import audit
from ._version import __version__
from .checks import Check, CheckContext, get_check, list_checks, register_check
from .exceptions import AuditkitError
from .inputs import AuditData, ModelAdapter, wrap_model
from .policy import Policy
from .presets import list_presets, preset_checks, preset_options
from .results import AuditResult, CheckResult, Figure, Metric, Status

__all__ = [
    "__version__",
    "audit",
    "AuditData",
    "AuditResult",
    "AuditkitError",
    "Check",
    "CheckContext",
    "CheckResult",
    "Figure",
    "Metric",
    "ModelAdapter",
    "Policy",
    "Status",
    "get_check",
    "list_checks",
    "list_presets",
    "preset_checks",
    "preset_options",
    "register_check",
    "wrap_model",
]


def __getattr__(name: str):  # the zoo imports lazily: most audits do not need it
    if name == "zoo":
        import importlib

        return importlib.import_module("auditkit.zoo")
    raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
