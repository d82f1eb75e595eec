"""Shared ground of the OOD family: what the model outputs on a set of inputs, once per audit.

Every detector reads the same few arrays of a set of inputs: probabilities
(any classifier), logits (when the model exposes them) and penultimate-layer
features (when it exposes them). :func:`model_outputs` computes them once per
audit and set, and every OOD check shares them, so that features are
extracted once however many detectors and checks read them.

Sets are named: ``"reference"`` (what detectors are fitted on:
:attr:`AuditData.reference_inputs`, at most ``max_reference`` rows), ``"test"``
(the audited samples, in distribution) and ``"ood:<name>"`` for each set of
:attr:`AuditData.ood`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...inputs import AuditData, ModelAdapter
from .._base import CheckContext

__all__ = ["NO_OOD_SETS", "ModelOutputs", "OODSet", "model_outputs", "ood_sets",
           "reference_rows", "SCORE_CONVENTION"]

#: Stated in every OOD result: which way a score points and which class is positive.
SCORE_CONVENTION = ("Scores are oriented so that larger means more likely out-of-distribution; "
                    "AUROC and AUPR-Out count OOD inputs as the positive class, AUPR-In counts "
                    "in-distribution inputs as positive (scores negated).")

NO_OOD_SETS = ("This check needs out-of-distribution sets (AuditData(..., ood={name: inputs})); "
               "the audited data has none.")


@dataclass(frozen=True)
class OODSet:
    """A named out-of-distribution set: ``kind`` is ``"far"`` or ``"near"``."""

    name: str
    X: np.ndarray
    kind: str
    texts: tuple[str, ...] | None = None


def ood_sets(data: AuditData) -> list[OODSet]:
    """The data's OOD sets, in the order given, with their kinds and texts."""
    kinds = data.ood_kinds or {}
    texts = data.ood_texts or {}
    return [OODSet(name, X, kinds.get(name, "far"), texts.get(name))
            for name, X in (data.ood or {}).items()]


def reference_rows(data: AuditData, max_reference: int | None, context: CheckContext) -> np.ndarray:
    """Indices of the reference inputs detectors are fitted on (a seeded subsample if capped)."""
    n = len(data.reference_inputs)
    if max_reference is None or n <= max_reference:
        return np.arange(n)
    rng = context.rng("ood.reference")
    return np.sort(rng.choice(n, size=max_reference, replace=False))


@dataclass(frozen=True)
class ModelOutputs:
    """What detectors read of one set of inputs.

    Attributes
    ----------
    proba : ndarray of shape (n, n_classes)
    logits : ndarray of shape (n, n_classes) or None
        None when the model gives probabilities only (a black box).
    features : ndarray of shape (n, n_features) or None
        Penultimate-layer features, None when the model does not expose them
        or they were not asked for.
    """

    proba: np.ndarray
    logits: np.ndarray | None
    features: np.ndarray | None

    def __len__(self) -> int:
        return len(self.proba)


def model_outputs(model: ModelAdapter, X: np.ndarray, context: CheckContext, *, key: str,
                  features: bool = True) -> ModelOutputs:
    """Probabilities, logits and (if asked and available) features of ``X``, once per ``key``.

    Parameters
    ----------
    model : ModelAdapter
    X : ndarray
        The inputs; ``key`` names them (``"reference"``, ``"test"``, ``"ood:<name>"``,
        ``"shift:<corruption>:<severity>"``), and the same key must mean the same inputs
        throughout an audit.
    context : CheckContext
    key : str
    features : bool, default=True
        Whether to extract features too (when the model has them). A later call
        that asks for features where an earlier one did not extracts them then.

    Returns
    -------
    ModelOutputs
    """
    def frozen(array: np.ndarray) -> np.ndarray:
        array = np.asarray(array, dtype=np.float64)
        array.setflags(write=False)
        return array

    def softmax(logits: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(axis=1, keepdims=True)
        proba = np.exp(shifted)
        return frozen(proba / proba.sum(axis=1, keepdims=True))

    has_logits = "logits" in model.capabilities
    with_features = features and "features" in model.capabilities
    if with_features and has_logits and context.peek("ood.logits", (id(model), key)) is None:
        # One forward pass gives both (torch adapters hook the last layer's input).
        def both() -> tuple[np.ndarray, np.ndarray]:
            logits, feats = model.logits_and_features(X)
            return frozen(logits), frozen(np.reshape(feats, (len(feats), -1)))

        logits, feats = context.shared("ood.features", (id(model), key), both)
        context.shared("ood.logits", (id(model), key), lambda: (logits, softmax(logits)))

    def logits_and_proba() -> tuple[np.ndarray | None, np.ndarray]:
        if has_logits:
            logits = frozen(model.logits(X))
            return logits, softmax(logits)
        return None, frozen(model.predict_proba(X))

    logits, proba = context.shared("ood.logits", (id(model), key), logits_and_proba)
    feats = None
    if with_features:
        def compute_features() -> tuple[np.ndarray | None, np.ndarray]:
            values = np.asarray(model.features(X), dtype=np.float64)
            return logits, frozen(values.reshape(len(values), -1))

        feats = context.shared("ood.features", (id(model), key), compute_features)[1]
    return ModelOutputs(proba, logits, feats)
