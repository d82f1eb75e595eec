"""Audit checks: one package per family, one module per check, one class per check.

Importing this package imports every family package, and each family package
imports its check modules, which registers them (:func:`register_check`). Every
check class is public here: ``from auditkit.checks import RobustnessPGD``; adding
a check is adding its module and one line in its family's ``__init__``.
"""

from ._base import (
    FAMILIES,
    Check,
    CheckContext,
    check_class,
    get_check,
    list_checks,
    map_units,
    register_check,
)
from ._executor import Executor, LocalExecutor
from ._progress import Progress

# Each family package imports its check modules, which registers them; the star imports
# bring each family's public names (its check classes first) into this namespace.
from .explanations import *  # noqa: F403
from .fairness import *  # noqa: F403
from .generative import *  # noqa: F403
from .ood import *  # noqa: F403
from .performance import *  # noqa: F403
from .privacy import *  # noqa: F403
from .robustness import *  # noqa: F403

__all__ = [
    "FAMILIES",
    "Check",
    "CheckContext",
    "Executor",
    "LocalExecutor",
    "Progress",
    "check_class",
    "get_check",
    "list_checks",
    "map_units",
    "register_check",
    # the checks, in report order
    *(check_class(name).__name__ for name in list_checks()),
]


def __getattr__(name: str) -> type[Check]:
    """A check registered after this package was imported (a plug-in), by its class name."""
    for registered in list_checks():
        cls = check_class(registered)
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module 'auditkit.checks' has no attribute {name!r}")
