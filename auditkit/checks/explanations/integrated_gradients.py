"""Explanations: Integrated Gradients (Sundararajan et al. 2017) through captum.

Attributions along the straight path from the baseline (removed units) to the
input; for text, Layer Integrated Gradients at the embedding layer with padding
as the baseline. Completeness (attributions sum to the logit difference
between input and baseline) is measured per sample from captum's convergence
delta and reported as an error relative to that difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...inputs import AuditData, ModelAdapter
from .._base import register_check
from .._params import POSITIVE_INT
from ._captum import INTERNAL_BATCH, gradient_attribution
from ._common import ExplanationCheck, Units

__all__ = ["ExplanationsIntegratedGradients"]


@register_check
@dataclass(frozen=True)
class ExplanationsIntegratedGradients(ExplanationCheck):
    """Integrated Gradients, with completeness error and faithfulness.

    Parameters
    ----------
    n_steps : int, default=50
        Riemann steps along the path (Gauss-Legendre, captum's default).
    layer : str, optional
        Text models: the embedding layer (default: the first nn.Embedding).
    """

    name = "explanations_integrated_gradients"
    # Relative cost (progress ETA): a gradient per path step, sample and copy.
    cost = 5.0
    description = ("Integrated Gradients attributions (captum), their completeness error, "
                   "deletion/insertion faithfulness, the model-randomisation sanity check and "
                   "stability under noise.")
    requires = frozenset({"predict", "gradients"})
    order = 0
    method = "Integrated Gradients"
    verdict_metrics = ("faithfulness_gain", "completeness_error")
    parameter_constraints = {**ExplanationCheck.parameter_constraints,
                             "n_steps": POSITIVE_INT, "layer": ["string", None]}

    n_steps: int = 50
    layer: str | None = None

    def hooks_layers(self, data: AuditData) -> bool:
        """Text models are attributed at a hooked embedding layer."""
        return data.modality == "text"

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Integrated Gradients of the explained class's logit."""
        from captum.attr import IntegratedGradients, LayerIntegratedGradients

        def make(forward, layer):  # noqa: ANN001, ANN202
            if layer is not None:
                return LayerIntegratedGradients(forward, layer)
            return IntegratedGradients(forward)

        attributions, delta = gradient_attribution(
            model, data, X, target, units, make=make, layer=self.layer, n_steps=self.n_steps,
            internal_batch_size=INTERNAL_BATCH, return_convergence_delta=True)
        total = attributions.reshape(len(X), -1).sum(axis=1)
        difference = total - delta  # f(x) - f(baseline) for the target logit
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.abs(delta) / np.maximum(np.abs(difference), 1e-6)
        return attributions, {"completeness_error": relative}
