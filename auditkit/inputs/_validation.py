"""Checks made when a model meets its data, before any audit check runs.

:class:`~auditkit.AuditData` validates the data alone. Here the model is called
once on a small probe batch, so that a model that raises, returns the wrong
shape, returns scores that are not probabilities, or cannot output the labels
in ``y`` is reported at once, in one clear sentence, instead of as a wrong
number deep inside a check.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import (
    BAD_VALUE,
    MODEL_RAISED,
    UNKNOWN_LABELS,
    DataValidationError,
    ModelError,
)
from ._adapters import ModelAdapter, check_model_outputs, check_output_shape
from ._data import AuditData
from ._generative import GenerativeModel

__all__ = ["validate_model_on_data"]

_PROBE_SIZE = 64


def validate_model_on_data(model: ModelAdapter | GenerativeModel, data: AuditData) -> None:
    """Call the model on a probe batch of ``data.X`` and check what it returns.

    Parameters
    ----------
    model : ModelAdapter or GenerativeModel
        A generative model is not probed: it predicts nothing, and the checks
        that apply to it validate what they use.
    data : AuditData

    Raises
    ------
    ModelError
        The model raised, or returned something that is not a probability
        matrix of shape (n_samples, n_classes) with n_classes >= 2.
    DataValidationError
        ``y`` (or the training labels) holds labels the model cannot output,
        or ``class_names`` does not have one name per output.
    """
    if not isinstance(model, ModelAdapter) or "predict" not in model.capabilities:
        return  # a generative model: nothing to predict, its checks validate what they use
    probe = data.X[:_PROBE_SIZE]
    try:
        proba = model.predict_proba(probe)
    except ModelError:
        raise
    except Exception as exc:  # the user's model: anything may go wrong
        raise ModelError(MODEL_RAISED.format(error_type=type(exc).__name__, n=len(probe),
                                             shape=probe.shape, error=exc)) from exc
    try:
        proba = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(BAD_VALUE.format(param="model", expected="a model returning numeric "
                                          "probabilities", got=f"{type(proba).__name__} ({exc})")
                         ) from exc
    # Adapters validate every batch they return; this covers user-defined adapters too.
    check_output_shape(proba, model=model.model_name, rows=len(probe), columns=None)
    check_model_outputs(proba, model=model.model_name, n=len(probe))
    classes = model.classes_
    for param, labels in (("y", data.y), ("train[1]", data.train.y if data.train else None)):
        if labels is None:
            continue
        unknown = np.setdiff1d(np.unique(labels), classes)
        if len(unknown):
            raise DataValidationError(UNKNOWN_LABELS.format(
                param=param, expected=classes.tolist(), got=f"labels {unknown[:5].tolist()}"))
    if data.class_names is not None and len(data.class_names) != len(classes):
        raise DataValidationError(BAD_VALUE.format(
            param="class_names", expected=f"{len(classes)} names, one per model output",
            got=f"{len(data.class_names)} names"))
