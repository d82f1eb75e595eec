"""Inputs of an audit: model adapters (classifier and generative protocols) and validated data."""

from ._adapters import (
    CAPABILITIES,
    CAPABILITY_DESCRIPTIONS,
    LAYER_KINDS,
    CallableClassifier,
    ModelAdapter,
    SklearnClassifier,
    TorchClassifier,
    check_model_outputs,
    check_output_shape,
)
from ._data import MODALITIES, OOD_KINDS, AuditData, Canaries, Split
from ._features import FeatureExtractor
from ._generative import GenerativeAdapter, GenerativeModel
from ._groups import GroupSpace
from ._population import Population
from ._streaming import StreamingData
from ._validation import validate_model_on_data
from ._wrap import wrap_model

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_DESCRIPTIONS",
    "LAYER_KINDS",
    "MODALITIES",
    "OOD_KINDS",
    "AuditData",
    "Canaries",
    "CallableClassifier",
    "FeatureExtractor",
    "GenerativeAdapter",
    "GenerativeModel",
    "GroupSpace",
    "ModelAdapter",
    "Population",
    "SklearnClassifier",
    "StreamingData",
    "Split",
    "TorchClassifier",
    "check_model_outputs",
    "check_output_shape",
    "validate_model_on_data",
    "wrap_model",
]
