"""Explanations: Grad-CAM (Selvaraju et al. 2017) through captum, for CNNs.

The explained class's gradient-weighted activation map of a convolutional
layer (by default the last ``nn.Conv2d``, found automatically), upsampled to
the image size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...inputs import AuditData, ModelAdapter
from .._base import register_check
from ._captum import _tensor, last_conv_layer
from ._common import ExplanationCheck, Units

__all__ = ["ExplanationsGradCam"]


@register_check
@dataclass(frozen=True)
class ExplanationsGradCam(ExplanationCheck):
    """Grad-CAM heatmaps for convolutional image classifiers.

    Parameters
    ----------
    layer : str, optional
        The convolutional layer (default: the last nn.Conv2d).
    """

    name = "explanations_gradcam"
    # Relative cost (progress ETA): gradients at a layer.
    cost = 3.0
    description = ("Grad-CAM (captum) on the last convolutional layer, with deletion/insertion "
                   "faithfulness and the model-randomisation sanity check.")
    requires = frozenset({"predict", "gradients"})
    modalities = ("image",)
    order = 4
    method = "Grad-CAM"
    parameter_constraints = {**ExplanationCheck.parameter_constraints,
                             "layer": ["string", None]}

    layer: str | None = None

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Skip models without a convolutional layer."""
        reason = super().skip_reason(model, data)
        if reason is None and last_conv_layer(model, self.layer) is None:
            return "Grad-CAM needs a convolutional layer (nn.Conv2d); the model has none."
        return reason

    def hooks_layers(self, data: AuditData) -> bool:
        """Grad-CAM hooks the convolutional layer."""
        return True

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Grad-CAM map of the explained class, at input resolution."""
        from captum.attr import LayerAttribution, LayerGradCam

        layer = last_conv_layer(model, self.layer)
        # The layer belongs to the audited module; a randomised copy has its own.
        method = LayerGradCam(model.logits_tensor, layer)
        inputs = _tensor(X, model.device)
        with model.evaluating():
            cam = method.attribute(inputs, target=torch.from_numpy(target).to(model.device),
                                   relu_attributions=True)
            cam = LayerAttribution.interpolate(cam, tuple(X.shape[-2:]), "bilinear")
        heat = cam.detach().float().cpu().numpy().astype(np.float64)
        return np.broadcast_to(heat / max(X.shape[1] if X.ndim == 4 else 1, 1),
                               X.shape).copy(), {}
