"""What the generative checks share: the model's samples, the feature space, the real sets.

Every check of the family compares generated samples with two real sets:
the model's training data (``AuditData.train``, the members) and held-out
real data (``AuditData.X``, never seen in training). Distances are measured
in one feature space (:class:`FeatureSpace`): the data's
``feature_extractor`` when given (by default for the zoo's MNIST models, the
penultimate layer of ``mnist-cnn``), else the inputs themselves, flattened,
which the report says is a weak proxy. Samples and embeddings are computed
once per audit and shared (``CheckContext.shared``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...inputs import AuditData, FeatureExtractor, GenerativeModel
from .._base import Check, CheckContext

__all__ = ["FeatureSpace", "GenerativeCheck", "NO_TRAIN", "feature_space", "generated",
           "embedded", "label_index", "draw_rows"]

NO_TRAIN = ("This check needs the model's training data, the members: AuditData(..., "
            "train=(X_train, y_train)); the audited data has none.")
NOT_GENERATIVE = ("This check applies to generative models (a torch module with generative = "
                  "True and a sample(n, *, generator) method, or a GenerativeModel); the audited "
                  "{framework} model does not generate data.")
INPUT_SPACE = ("the model's inputs, flattened (no feature_extractor was given: distances between "
               "raw inputs are a weak proxy for what a domain model sees; pass "
               "AuditData(..., feature_extractor=a classifier of this domain))")


@dataclass(frozen=True)
class FeatureSpace:
    """Where the family measures distances: an extractor's features, or the inputs.

    Attributes
    ----------
    extractor : FeatureExtractor or None
        None: the inputs, flattened.
    description : str
        One line for the report.
    """

    extractor: FeatureExtractor | None
    description: str

    @property
    def name(self) -> str:
        """A short name: the extractor's, or ``"inputs"``."""
        return self.extractor.name if self.extractor is not None else "inputs"

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Features of ``X``, float64 array of shape (n_samples, n_features)."""
        if self.extractor is None:
            return np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        return self.extractor.features(X)


def feature_space(data: AuditData, space: str = "features") -> FeatureSpace:
    """The feature space of ``data``: its extractor's features, or (``space="inputs"``) the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from auditkit import AuditData
    >>> data = AuditData(np.zeros((4, 2)), [0, 1, 0, 1])
    >>> feature_space(data).name
    'inputs'
    """
    if space == "inputs":
        return FeatureSpace(None, "the model's inputs, flattened (pixel space for images)")
    extractor = data.feature_extractor
    if extractor is None:
        return FeatureSpace(None, INPUT_SPACE)
    return FeatureSpace(extractor, extractor.describe())


def generated(model: GenerativeModel, context: CheckContext, n: int) -> np.ndarray:
    """``n`` samples of the model, drawn once per audit with a seed from the audit's seed."""
    def compute() -> np.ndarray:
        seed = int(context.rng("generative.samples").integers(2**31 - 1))
        samples = np.asarray(model.sample(int(n), random_state=seed))
        samples.setflags(write=False)
        return samples

    return context.shared("generative.samples", (id(model), int(n)), compute)


def embedded(context: CheckContext, space: FeatureSpace, what: str, X: np.ndarray) -> np.ndarray:
    """``space.embed(X)``, computed once per audit for ``what`` (e.g. ``"samples-2000"``)."""
    def compute() -> np.ndarray:
        features = space.embed(X)
        features.setflags(write=False)
        return features

    return context.shared("generative.features", (space.name, what, len(X)), compute)


def draw_rows(n_rows: int, n: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n`` of ``n_rows`` rows drawn without replacement (None: all)."""
    if n is None or n >= n_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=int(n), replace=False))


def label_index(extractor: FeatureExtractor, y: Any) -> np.ndarray:
    """The classifier's output column of each label ``y``."""
    return np.asarray(extractor.classifier.label_indices(np.asarray(y)), dtype=np.int64)


class GenerativeCheck(Check):
    """Base of the family's checks: SKIP with a clear reason on a model that does not generate."""

    family = "generative"
    requires = frozenset({"generate"})
    #: Whether the check compares with the training data (``AuditData.train``).
    needs_train: ClassVar[bool] = True

    def skip_reason(self, model: Any, data: AuditData) -> str | None:
        """SKIP a classifier, and a model audited without its training data."""
        if "generate" not in model.capabilities:
            return NOT_GENERATIVE.format(framework=model.framework)
        reason = super().skip_reason(model, data)
        if reason is None and self.needs_train and data.train is None:
            return NO_TRAIN
        return reason


def report_images(X: np.ndarray, data: AuditData) -> np.ndarray | None:
    """Images to draw, as 8-bit values of the data's valid range; None for non-image data.

    Eight bits per value is what a screen shows and keeps a figure's data small
    (a 64-image grid of 28 x 28 floats is about 1.5 MB of JSON, as 8-bit 50 KB).
    """
    if data.modality != "image":
        return None
    low, high = data.valid_bounds()
    scaled = (np.asarray(X, dtype=np.float64) - low) / np.where(high > low, high - low, 1.0)
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def held_out_like_training(data: AuditData) -> tuple[np.ndarray, str]:
    """Rows of ``data.X`` drawn like the training data: those of the classes the model saw.

    Memorisation and membership compare generated samples or members with
    held-out samples that stand for *fresh draws of the training
    distribution*. A model trained on some classes only (a digit GAN trained
    on three digits) is compared with held-out samples of those classes: the
    other classes are far from its training data for reasons that have
    nothing to do with copying.

    Returns
    -------
    rows : ndarray of int
        All rows, or those whose label is among the training labels.
    note : str
        What was kept, for the report ("" when every row was).
    """
    rows = np.arange(len(data.X))
    if data.train is None:
        return rows, ""
    seen = np.isin(data.y, np.unique(data.train.y))
    if seen.all() or not seen.any():
        return rows, ""
    classes = np.unique(data.train.y)
    return rows[seen], (f"held-out samples of the {len(classes)} classes the training data "
                        f"holds ({int(seen.sum()):,} of {len(seen):,}); the other classes are "
                        "not fresh draws of the training distribution")
