"""auditkit: audit trained models for responsible-AI risks and write reports.

Three lines from a model to a report::

    from auditkit import audit, zoo
    model, data = zoo.load("adult-mlp")
    audit(model, data).save_html("report.html")
"""

import os as _os

from ._version import __version__
from .exceptions import AuditkitError

# Installed copies hold the zoo inside the package (auditkit.zoo). A process that imports a
# source checkout directly, such as a Ray worker started in the repository's root (Ray puts
# the driver's working directory first on its workers' path), finds it beside the package.
_CHECKOUT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "zoo")) and \
        _os.path.isfile(_os.path.join(_CHECKOUT, "zoo", "__init__.py")):
    __path__.append(_CHECKOUT)

# The public names import on first use (PEP 562), so ``import auditkit.cli`` and
# ``auditkit --help`` load neither the checks nor torch.
_LAZY = {
    "audit": "._audit",
    "Check": ".checks", "CheckContext": ".checks", "get_check": ".checks",
    "list_checks": ".checks", "register_check": ".checks",
    "AuditData": ".inputs", "ModelAdapter": ".inputs", "StreamingData": ".inputs",
    "wrap_model": ".inputs",
    "Policy": ".policy",
    "list_presets": ".presets", "preset_checks": ".presets", "preset_options": ".presets",
    "AuditResult": ".results", "CheckResult": ".results", "Figure": ".results",
    "Metric": ".results", "Status": ".results",
}

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
    "StreamingData",
    "get_check",
    "list_checks",
    "list_presets",
    "preset_checks",
    "preset_options",
    "register_check",
    "wrap_model",
]


def __getattr__(name: str):
    import importlib

    if name == "zoo":  # most audits do not need it
        return importlib.import_module("auditkit.zoo")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'auditkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"zoo"})
