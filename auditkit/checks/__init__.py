"""Audit checks: one package per family, one module per check, one class per check.

Importing this package imports every family package, and each family package
imports its check modules, which registers them (:func:`register_check`). The
check classes are public here: ``from auditkit.checks import RobustnessPGD``.
"""

# Each family package imports its check modules, which registers them.
from . import explanations, fairness, performance, robustness  # noqa: F401
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
from .explanations import (
    ExplanationsAgreement,
    ExplanationsGradCam,
    ExplanationsGradientShap,
    ExplanationsIntegratedGradients,
    ExplanationsLime,
    ExplanationsOcclusion,
    ExplanationsSaliency,
    ExplanationsShap,
)
from .fairness import (
    FairnessCounterfactualText,
    FairnessDisparities,
    FairnessGroupMetrics,
    FairnessMitigation,
    FairnessThresholds,
)
from .performance import PerformanceCalibration, PerformanceConfusionMatrix, PerformanceMetrics
from .robustness import (
    RobustnessCorruptions,
    RobustnessFGSM,
    RobustnessGradientMasking,
    RobustnessMinimalPerturbation,
    RobustnessPGD,
    RobustnessPGDL2,
    RobustnessSquare,
    RobustnessTabular,
    RobustnessText,
)

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
    # the checks, family by family
    "PerformanceCalibration",
    "PerformanceConfusionMatrix",
    "PerformanceMetrics",
    "ExplanationsAgreement",
    "ExplanationsGradCam",
    "ExplanationsGradientShap",
    "ExplanationsIntegratedGradients",
    "ExplanationsLime",
    "ExplanationsOcclusion",
    "ExplanationsSaliency",
    "ExplanationsShap",
    "FairnessCounterfactualText",
    "FairnessDisparities",
    "FairnessGroupMetrics",
    "FairnessMitigation",
    "FairnessThresholds",
    "RobustnessCorruptions",
    "RobustnessFGSM",
    "RobustnessGradientMasking",
    "RobustnessMinimalPerturbation",
    "RobustnessPGD",
    "RobustnessPGDL2",
    "RobustnessSquare",
    "RobustnessTabular",
    "RobustnessText",
]
