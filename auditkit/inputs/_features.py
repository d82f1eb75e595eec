"""The feature space a generative audit measures samples in.

Fidelity, coverage and memorisation metrics compare generated and real
samples by distances between embeddings. Which embedding decides what the
numbers mean: values are comparable only within one extractor. auditkit never
downloads one. By default it is the penultimate layer of a classifier trained
on the same domain (for MNIST, the zoo's ``mnist-cnn``), which also labels
generated samples for the mode-coverage check; the user may pass any torch
module, model adapter or function instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..exceptions import BAD_TYPE, BAD_VALUE, DataValidationError

__all__ = ["FeatureExtractor"]

EXPECTED = ("a torch.nn.Module classifier, a ModelAdapter, a FeatureExtractor or a function "
            "mapping an array of samples to an array of shape (n_samples, n_features)")


class FeatureExtractor:
    """Embeds samples of one domain; optionally labels them (when it is a classifier).

    Parameters
    ----------
    extractor : torch.nn.Module, ModelAdapter or callable
        A classifier (module or adapter): its penultimate-layer features embed
        samples and its predicted probabilities label them. A function
        ``f(X) -> (n_samples, n_features)``: embeds only (checks that need
        labels then SKIP with the reason).
    name : str, optional
        What the report calls the extractor (default: the class or function name).
    batch_size : int, default=512
        Samples per call of the function (adapters use their own batch size).

    Examples
    --------
    >>> import numpy as np
    >>> extractor = FeatureExtractor(lambda X: X.reshape(len(X), -1) * 2, name="double")
    >>> extractor.features(np.ones((3, 2, 2))).shape, extractor.can_label
    ((3, 4), False)
    """

    def __init__(self, extractor: Any, *, name: str | None = None, batch_size: int = 512) -> None:
        from torch import nn

        from ._adapters import ModelAdapter
        from ._wrap import wrap_model

        if isinstance(extractor, FeatureExtractor):
            extractor = extractor.classifier or extractor._function
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise DataValidationError(BAD_VALUE.format(param="batch_size",
                                                       expected="a positive integer",
                                                       got=repr(batch_size)))
        self.batch_size = int(batch_size)
        self.classifier: ModelAdapter | None = None
        self._function: Callable[[np.ndarray], Any] | None = None
        if isinstance(extractor, (nn.Module, ModelAdapter)):
            adapter = wrap_model(extractor)
            if not isinstance(adapter, ModelAdapter) or "features" not in adapter.capabilities:
                raise DataValidationError(BAD_VALUE.format(
                    param="feature_extractor", expected="a classifier whose penultimate-layer "
                    "features can be read (a torch module ending in a linear layer)",
                    got=type(extractor).__name__))
            self.classifier = adapter
            default = type(getattr(adapter, "module", extractor)).__name__
        elif callable(extractor):
            self._function = extractor
            default = getattr(extractor, "__name__", type(extractor).__name__)
        else:
            raise DataValidationError(BAD_TYPE.format(param="feature_extractor",
                                                      expected=EXPECTED,
                                                      got=type(extractor).__name__))
        if name is not None and not isinstance(name, str):
            raise DataValidationError(BAD_TYPE.format(param="name", expected="a str",
                                                      got=type(name).__name__))
        self.name = name or default

    @property
    def can_label(self) -> bool:
        """Whether the extractor is a classifier that can label samples."""
        return self.classifier is not None

    def fingerprint(self) -> str | None:
        """SHA-256 of the classifier's parameters, or None for a function."""
        return self.classifier.fingerprint() if self.classifier is not None else None

    def features(self, X: Any) -> np.ndarray:
        """Embeddings of ``X``, float64 array of shape (n_samples, n_features)."""
        X = np.asarray(X)
        if self.classifier is not None:
            out = np.asarray(self.classifier.features(X), dtype=np.float64)
        else:
            parts = [np.asarray(self._function(X[s:s + self.batch_size]), dtype=np.float64)
                     for s in range(0, len(X), self.batch_size)]
            out = np.concatenate(parts) if parts else np.empty((0, 0))
        out = out.reshape(len(X), -1)
        if len(out) and not np.isfinite(out).all():
            row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            raise DataValidationError(BAD_VALUE.format(
                param="feature_extractor", expected="finite features for every sample",
                got=f"a non-finite value for sample {row} of {len(X)}"))
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of ``X`` from the classifier (only when :attr:`can_label`)."""
        if self.classifier is None:
            raise DataValidationError(BAD_VALUE.format(
                param="feature_extractor", expected="a classifier to label samples",
                got=f"the function {self.name!r}"))
        return np.asarray(self.classifier.predict_proba(np.asarray(X)), dtype=np.float64)

    def describe(self) -> str:
        """One line for the report: which extractor, and what its values compare with."""
        kind = ("penultimate-layer features of the classifier" if self.classifier is not None
                else "the function")
        digest = self.fingerprint()
        suffix = f", sha256 {digest[:12]}" if digest else ""
        return (f"{kind} {self.name!r}{suffix}; values are comparable only between audits "
                "that use this same extractor")

    def __repr__(self) -> str:
        return f"FeatureExtractor(name={self.name!r}, can_label={self.can_label})"
