"""Explanations: occlusion / feature ablation through captum.

Each unit (a feature with all its one-hot columns, an image patch, a token, a
time step) is replaced by its baseline and the drop in the explained class's
probability is its attribution. Needs only predictions, so it explains black
boxes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...inputs import AuditData, ModelAdapter
from .._base import register_check
from ._captum import probability_forward
from ._common import ExplanationCheck, Units

__all__ = ["ExplanationsOcclusion"]


@register_check
@dataclass(frozen=True)
class ExplanationsOcclusion(ExplanationCheck):
    """Occlusion (feature ablation) attributions, for any model with predictions."""

    name = "explanations_occlusion"
    # Relative cost (progress ETA): one model call per occluded patch.
    cost = 3.0
    description = ("Occlusion / feature ablation (captum): the drop in the predicted class's "
                   "probability when each feature, patch, token or time step is removed; works "
                   "on black boxes.")
    requires = frozenset({"predict"})
    order = 3
    method = "Occlusion"
    pooling = "mean"

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Probability drop when each unit is replaced by its baseline."""
        from captum.attr import FeatureAblation

        ablation = FeatureAblation(probability_forward(model))
        inputs = torch.from_numpy(np.ascontiguousarray(X))
        baselines = torch.from_numpy(np.ascontiguousarray(units.baseline(X)))
        attributions = ablation.attribute(
            inputs, baselines=baselines, target=torch.from_numpy(target),
            feature_mask=units.mask_tensor(), perturbations_per_eval=units.n_units)
        # Every element of a unit carries the unit's value; pool by mean recovers it.
        return attributions.detach().cpu().numpy().astype(np.float64), {}
