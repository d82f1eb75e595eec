"""Errors raised by auditkit.

Every error a user can trigger is an :class:`AuditkitError` (a ``ValueError``),
or one of its subclasses, with a message that names the parameter, what was
expected and what was given. The messages are module constants so tests can
match them and so the same mistake always reads the same way.
"""

from __future__ import annotations

__all__ = [
    "AuditkitError",
    "DataValidationError",
    "ModelError",
    "CheckError",
    "PolicyError",
    "ZooError",
]


class AuditkitError(ValueError):
    """Base class of the errors auditkit raises on bad input."""


class DataValidationError(AuditkitError):
    """The data given to :class:`~auditkit.AuditData` is not usable."""


class ModelError(AuditkitError):
    """The model cannot be wrapped, or does not behave like a classifier."""


class CheckError(AuditkitError):
    """A check or preset name, or a check option, is not valid."""


class PolicyError(AuditkitError):
    """A policy file or threshold is not valid."""


class ZooError(AuditkitError):
    """A zoo model is unknown, or its files do not match their recorded hash."""


# Messages. ``{param}`` is the parameter's name as the user wrote it.
BAD_TYPE = "The '{param}' parameter must be {expected}. Got {got} instead."
BAD_VALUE = "The '{param}' parameter must be {expected}. Got {got} instead."
EMPTY = "The '{param}' parameter must contain at least one sample. Got an empty array instead."
LENGTH_MISMATCH = (
    "The '{param}' parameter must have the same number of samples as '{other}' ({expected}). "
    "Got {got} instead."
)
NOT_FINITE = (
    "The '{param}' parameter must contain only finite values. Got {count} NaN or infinite "
    "value(s) instead (first at index {where})."
)
BAD_NDIM = (
    "The '{param}' parameter must be {expected} for modality '{modality}'. "
    "Got an array of shape {shape} instead."
)
SINGLE_CLASS = (
    "The '{param}' parameter must contain at least two classes to audit a classifier. "
    "Got only the class {label!r} instead."
)
SENSITIVE_MISSING = (
    "The '{param}' parameter must not contain missing values. Got {count} missing value(s) "
    "in column {column!r} instead."
)
UNKNOWN_LABELS = (
    "The '{param}' parameter must only contain labels the model can output ({expected}). "
    "Got {got} instead."
)
PROBA_NOT_NORMALISED = (
    "The model's predicted probabilities must be non-negative and sum to one per sample. "
    "Got row sums between {low:.6g} and {high:.6g} (and minimum {minimum:.6g}) instead; "
    "if the model returns scores or logits, apply a softmax in the function you audit, or "
    "pass the torch module itself."
)
PROBA_BAD_SHAPE = (
    "The model {model} must return an array of shape (n_samples, n_classes) with "
    "n_samples={n} and {width}. Got an array of shape {shape} instead."
)
MODEL_RAISED = (
    "The model raised {error_type} when called on a batch of {n} sample(s) of 'X' "
    "(shape {shape}): {error}"
)
UNKNOWN_NAME = "The '{param}' parameter must be one of {expected}. Got {got!r} instead."
MODEL_BAD_OUTPUT = (
    "The model {model} must return {expected} for every sample. Got {got} for sample {index} "
    "(of {n} in the call) instead{advice}."
)
DUPLICATE_NAMES = (
    "The '{param}' parameter must hold distinct names{how}. Got {duplicates} more than once "
    "instead."
)
SPARSE_INPUT = (
    "The '{param}' parameter must be a dense array (auditkit does not take sparse matrices; "
    "pass {param}.toarray()). Got a sparse {kind} instead."
)
BAD_RESULT = (
    "The check {check!r} must return a CheckResult from run(). Got {got} instead."
)
