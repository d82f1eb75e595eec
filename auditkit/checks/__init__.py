"""Audit checks: one file per check, registered by a decorator.

Importing this package imports every check module, which registers it.
"""

# Each import registers the checks of one file.
from . import (  # noqa: F401
    explanations_agreement,
    explanations_gradcam,
    explanations_gradient_shap,
    explanations_integrated_gradients,
    explanations_lime,
    explanations_occlusion,
    explanations_saliency,
    explanations_shap,
    fairness_counterfactual_text,
    fairness_disparities,
    fairness_group_metrics,
    fairness_mitigation,
    fairness_thresholds,
    performance_calibration,
    performance_confusion_matrix,
    performance_metrics,
    robustness_corruptions,
    robustness_fgsm,
    robustness_gradient_masking,
    robustness_minimal_perturbation,
    robustness_pgd,
    robustness_pgd_l2,
    robustness_square,
    robustness_tabular,
    robustness_text,
)
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
