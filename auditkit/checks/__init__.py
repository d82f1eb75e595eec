"""Audit checks: one file per check, registered by a decorator.

Importing this package imports every check module, which registers it.
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

# Each import registers the checks of one file.
from . import performance_calibration  # noqa: E402,F401,I001
from . import performance_confusion_matrix  # noqa: E402,F401
from . import performance_metrics  # noqa: E402,F401

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
]
