"""Fairness: group metrics, disparities with intervals, thresholds, mitigation, text swaps.

Each check is one module of this package; importing the package registers them.
"""

from .counterfactual_text import GENDER_PAIRS, TEMPLATES, FairnessCounterfactualText, swap_terms
from .disparities import FairnessDisparities
from .group_metrics import FairnessGroupMetrics
from .mitigation import FairnessMitigation
from .recourse import FairnessRecourse
from .thresholds import FairnessThresholds, threshold_rates

__all__ = [
    "GENDER_PAIRS",
    "TEMPLATES",
    "FairnessCounterfactualText",
    "FairnessDisparities",
    "FairnessGroupMetrics",
    "FairnessMitigation",
    "FairnessRecourse",
    "FairnessThresholds",
    "swap_terms",
    "threshold_rates",
]
