"""Explanations: Saliency (Simonyan et al. 2014) through captum.

The absolute gradient of the explained class's logit with respect to the
input (text: the gradient's norm at each token's embedding; a one-hot
tabular feature: the gradient at its active column, so that a feature's score
does not grow with its number of categories). Cheap, and a
useful contrast in the sanity check: saliency maps often survive weight
randomisation better than they should.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...inputs import AuditData, ModelAdapter
from .._base import register_check
from ._captum import gradient_attribution
from ._common import ExplanationCheck, Units

__all__ = ["ExplanationsSaliency"]


@register_check
@dataclass(frozen=True)
class ExplanationsSaliency(ExplanationCheck):
    """Saliency maps (absolute input gradients), with faithfulness and sanity checks.

    Parameters
    ----------
    layer : str, optional
        Text models: the embedding layer (default: the first nn.Embedding).
    """

    name = "explanations_saliency"
    # Relative cost (progress ETA): gradients of the model and its copies.
    cost = 3.0
    description = ("Saliency (absolute input gradients, captum) with deletion/insertion "
                   "faithfulness, the model-randomisation sanity check and stability.")
    requires = frozenset({"predict", "gradients"})
    order = 1
    method = "Saliency"
    signed = False  # absolute gradients: magnitudes
    parameter_constraints = {**ExplanationCheck.parameter_constraints,
                             "layer": ["string", None]}

    layer: str | None = None

    def hooks_layers(self, data: AuditData) -> bool:
        """Text models are attributed at a hooked embedding layer."""
        return data.modality == "text"

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Absolute gradient of the explained class's logit."""
        from captum.attr import LayerGradientXActivation, Saliency

        if data.modality == "text":
            def make(forward, layer):  # noqa: ANN001, ANN202
                return LayerGradientXActivation(forward, layer, multiply_by_inputs=False)

            inputs_grad, _ = _layer_gradients(model, data, X, target, units, make, self.layer)
            return inputs_grad, {}
        attributions, _ = gradient_attribution(
            model, data, X, target, units, make=lambda forward, _: Saliency(forward),
            baselines="none", abs=True)
        # A one-hot feature counts its active column only (see TabularUnits).
        return attributions * units.active(np.asarray(X, dtype=np.float64)), {}


def _layer_gradients(model, data, X, target, units, make, layer):  # noqa: ANN001, ANN202
    import torch

    from ._captum import _tensor, embedding_layer

    inputs = _tensor(X, model.device)
    method = make(model.logits_tensor, embedding_layer(model, layer))
    with model.evaluating(), torch.backends.cudnn.flags(enabled=False):
        grads = method.attribute(inputs, target=torch.from_numpy(target).to(model.device))
    return grads.detach().float().cpu().norm(dim=-1).numpy().astype(np.float64), None
