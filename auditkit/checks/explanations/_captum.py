"""Running captum's attribution methods on any auditkit model.

Gradient methods need a torch classifier: they attribute the explained class's
logit (binary single-logit models give [-z/2, z/2], so the two classes get +z/2 and
-z/2 evidence). Text models are attributed at their embedding layer (token
ids have no gradient), with padding as the baseline. Perturbation methods
(feature ablation) attribute the explained class's probability through
``predict_proba``, so they work on black boxes too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ...inputs import AuditData, ModelAdapter
from ._common import Units

__all__ = ["embedding_layer", "gradient_attribution", "last_conv_layer", "probability_forward"]

#: Samples per internal captum batch (steps x samples for path methods).
INTERNAL_BATCH = 256


def embedding_layer(model: ModelAdapter, name: str | None = None) -> object:
    """The named layer, else the first embedding layer of the model."""
    layer = model.layer(name, kind="embedding")
    if layer is None:
        raise ValueError("The text model has no nn.Embedding layer to attribute tokens at; "
                         "name one with the 'layer' option.")
    return layer


def last_conv_layer(model: ModelAdapter, name: str | None = None) -> object | None:
    """The named layer, else the last 2-D convolution of the model (None if there is none)."""
    return model.layer(name, kind="conv")


def _tensor(X: np.ndarray, device: str) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(X))
    if tensor.is_floating_point():
        tensor = tensor.float()
    else:
        tensor = tensor.long()
    return tensor.to(device)


def gradient_attribution(model: ModelAdapter, data: AuditData, X: np.ndarray,
                         target: np.ndarray, units: Units, *,
                         make: Callable[[Callable[..., torch.Tensor], nn.Module | None], object],
                         layer: str | None = None, baselines: str = "units",
                         **kwargs: object) -> tuple[np.ndarray, np.ndarray | None]:
    """Run a captum gradient method; return attributions (text: per token) and any delta.

    Parameters
    ----------
    make : callable
        ``make(forward, layer)`` -> captum method; ``layer`` is the embedding
        layer for text, else None.
    baselines : {"units", "reference", "none"}
        The units' baseline (removed inputs), reference samples (GradientShap),
        or none (Saliency).
    **kwargs
        Passed to ``attribute``.
    """
    inputs = _tensor(X, model.device)
    if inputs.is_floating_point():
        inputs.requires_grad_(True)
    is_text = data.modality == "text"
    method = make(model.logits_tensor, embedding_layer(model, layer) if is_text else None)
    call: dict[str, object] = {"target": torch.from_numpy(target).to(model.device), **kwargs}
    if baselines == "units" and is_text:
        # Real tokens become the unknown token and padding stays padding: the baseline
        # keeps the input's padding mask, so the path (which captum runs with the input's
        # ids) and the baseline's own forward pass are the same function, and
        # completeness holds. Removing tokens for deletion curves still uses padding.
        unknown = int(getattr(data.tokenizer, "unk_id", 1))
        call["baselines"] = _tensor(np.where(X != 0, unknown, 0).astype(X.dtype), model.device)
    elif baselines == "units":
        call["baselines"] = _tensor(units.baseline(X), model.device)
    elif baselines == "reference":
        source = data.reference_inputs
        pick = np.linspace(0, len(source) - 1, min(len(source), 16)).astype(np.int64)
        reference = np.asarray(source)[pick]
        call["baselines"] = _tensor(units.baseline(reference) if is_text else reference,
                                    model.device)
    with model.evaluating(), torch.backends.cudnn.flags(enabled=False):
        out = method.attribute(inputs, **call)
    delta = None
    if isinstance(out, tuple):
        out, delta = out
        delta = delta.detach().cpu().numpy().astype(np.float64)
    attributions = out.detach().float().cpu().numpy().astype(np.float64)
    if is_text and attributions.ndim == 3:  # (n, length, embedding) -> per token
        attributions = attributions.sum(axis=-1)
    return attributions, delta


def probability_forward(model: ModelAdapter) -> Callable[[torch.Tensor], torch.Tensor]:
    """A torch function giving class probabilities through ``predict_proba`` (no gradients)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(model.predict_proba(x.detach().cpu().numpy())).float()

    return forward
