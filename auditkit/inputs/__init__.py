"""Inputs of an audit: model adapters and validated data."""

from ._adapters import (
    CAPABILITIES,
    CallableClassifier,
    GenerativeAdapter,
    ModelAdapter,
    SklearnClassifier,
    TorchClassifier,
    wrap_model,
)
from ._data import MODALITIES, AuditData, Split
from ._groups import GroupSpace
from ._validation import validate_model_on_data

__all__ = [
    "CAPABILITIES",
    "MODALITIES",
    "AuditData",
    "CallableClassifier",
    "GenerativeAdapter",
    "GroupSpace",
    "ModelAdapter",
    "SklearnClassifier",
    "Split",
    "TorchClassifier",
    "validate_model_on_data",
    "wrap_model",
]
