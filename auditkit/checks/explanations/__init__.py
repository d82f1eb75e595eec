"""Explanations: captum, shap and lime attributions, and how faithful each method is.

Each check is one module of this package; importing the package registers them.
"""

from .agreement import ExplanationsAgreement
from .gradcam import ExplanationsGradCam
from .gradient_shap import ExplanationsGradientShap
from .integrated_gradients import ExplanationsIntegratedGradients
from .lime_surrogate import ExplanationsLime
from .occlusion import ExplanationsOcclusion
from .saliency import ExplanationsSaliency
from .shapley import ExplanationsShap, interventional_shapley

__all__ = [
    "ExplanationsAgreement",
    "ExplanationsGradCam",
    "ExplanationsGradientShap",
    "ExplanationsIntegratedGradients",
    "ExplanationsLime",
    "ExplanationsOcclusion",
    "ExplanationsSaliency",
    "ExplanationsShap",
    "interventional_shapley",
]
