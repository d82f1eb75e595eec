"""``wrap_model``: pick the adapter that auditkit's checks talk to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from .._device import validate_device
from ..exceptions import BAD_TYPE, ModelError
from ._adapters import CallableClassifier, ModelAdapter, SklearnClassifier, TorchClassifier
from ._generative import GenerativeAdapter, GenerativeModel

__all__ = ["wrap_model"]


def wrap_model(model: Any, *, batch_size: int | None = None, device: str = "auto",
               classes: Sequence[Any] | None = None, feature_layer: str | None = None,
               train_fn: Callable[..., nn.Module] | None = None
               ) -> ModelAdapter | GenerativeModel:
    """Wrap a model in the adapter that auditkit's checks talk to.

    Parameters
    ----------
    model : torch.nn.Module, scikit-learn classifier, callable, ModelAdapter or GenerativeModel
        A torch module returns logits (a single logit means binary, read through
        a sigmoid); a module with ``generative = True`` is a generative model
        (:class:`GenerativeAdapter`); a scikit-learn estimator is read through
        ``predict_proba`` (else ``decision_function``); a plain callable
        returns probabilities. An adapter is returned as it is.
    batch_size : int, optional
        Samples per model call (defaults: torch 512, scikit-learn 4096, callable 1024).
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, default="auto"
        Torch only: ``"auto"`` picks CUDA, then MPS, then CPU (validated for
        every model).
    classes : sequence, optional
        Torch and callables: the label of each output column.
    feature_layer : str, optional
        Torch only: the layer whose output are the features.
    train_fn : callable, optional
        Torch classifiers only: ``train_fn(module, X, y, *, random_state) ->
        module`` trains a freshly initialised copy, so that checks can refit
        the model (capability ``"refit"``). Defaults to the module's own
        ``train_fn`` attribute when it has one (zoo models do).

    Returns
    -------
    ModelAdapter or GenerativeModel

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np
    >>> X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    >>> wrap_model(LogisticRegression().fit(X, y)).predict_proba(X[:2]).shape
    (2, 2)
    """
    validate_device(device)  # for every model: a misspelled device is a mistake to name
    if isinstance(model, (ModelAdapter, GenerativeModel)):
        return model
    sizes = {} if batch_size is None else {"batch_size": batch_size}
    if isinstance(model, nn.Module) and getattr(model, "generative", False):
        return GenerativeAdapter(model, device=device, **sizes)
    if isinstance(model, nn.Module):
        if train_fn is None:
            train_fn = getattr(model, "train_fn", None)
        return TorchClassifier(model, device=device, classes=classes,
                               feature_layer=feature_layer, train_fn=train_fn, **sizes)
    if hasattr(model, "fit") and (hasattr(model, "classes_") or hasattr(model, "predict_proba")):
        return SklearnClassifier(model, **sizes)
    if callable(model):
        return CallableClassifier(model, classes=classes, **sizes)
    raise ModelError(BAD_TYPE.format(
        param="model", expected="a torch.nn.Module, a fitted scikit-learn classifier, a callable "
        "returning probabilities, a ModelAdapter or a GenerativeModel",
        got=type(model).__name__))
