"""Explanations: LIME (Ribeiro et al. 2016) for tabular, image and text models.

A local linear surrogate fitted on perturbations around each sample, through
the lime package: tabular rows are perturbed feature by feature (a one-hot
feature switches category as one), images by switching off square patches
(the superpixels), and texts by removing tokens (with the model's own
tokenizer). lime draws its perturbations from a RandomState; seeding it from
the audit's seed makes the explanations repeatable.
"""

from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from ...inputs import AuditData, GroupSpace, ModelAdapter
from .._base import register_check
from .._params import Interval
from ._common import ExplanationCheck, ImageUnits, Units

__all__ = ["ExplanationsLime"]

# lime's image explainer writes a progress bar to stderr, which is swapped for the
# whole process while it runs: one batch at a time.
_STDERR = threading.Lock()


@register_check
@dataclass(frozen=True)
class ExplanationsLime(ExplanationCheck):
    """LIME attributions, for any model with predictions.

    Parameters
    ----------
    num_samples : int, default=1000
        Perturbations per explained sample.
    """

    name = "explanations_lime"
    # Relative cost (progress ETA): 1000 perturbations per sample, model and copies.
    cost = 10.0
    description = ("LIME local surrogate explanations (tabular features, image patches, text "
                   "tokens), repeatable under the audit's seed, with faithfulness and the "
                   "sanity check.")
    requires = frozenset({"predict"})
    modalities = ("tabular", "image", "text")
    order = 6
    method = "LIME"
    repeatable = False
    # Every pixel of an image patch carries the patch's weight (over the channels): the
    # mean over the patch gives it back, as for occlusion.
    pooling = "mean"
    parameter_constraints = {**ExplanationCheck.parameter_constraints,
                             "num_samples": [Interval(Integral, 2, None)]}

    n_samples: int = 16
    num_samples: int = 1000
    # Each re-initialised copy is explained afresh, and this method is the family's slowest:
    # the sanity check is reported, not judged, unless n_randomisations is raised to 19.
    n_randomisations: int = 5
    cascade: bool = False

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Text needs the raw strings' tokenizer."""
        reason = super().skip_reason(model, data)
        if reason is None and data.modality == "text" and data.tokenizer is None:
            return "LIME on text needs the model's tokenizer (AuditData(tokenizer=...))."
        return reason

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One lime explanation per sample; weights toward the explained class.

        Tabular rows and texts get one weight per unit; images one per pixel,
        each pixel carrying its patch's weight (shared among its channels).
        """
        if data.modality == "tabular":
            return self._tabular(model, data, X, target, seed), {}
        if data.modality == "image":
            return self._image(model, X, target, units, seed), {}
        return self._text(model, data, X, target, units, seed), {}

    def _tabular(self, model: ModelAdapter, data: AuditData, X: np.ndarray, target: np.ndarray,
                 seed: int) -> np.ndarray:
        from lime.lime_tabular import LimeTabularExplainer

        space = GroupSpace(data)
        source = data.reference_inputs
        categorical = [j for j, cat in enumerate(space.categorical) if cat]
        explainer = LimeTabularExplainer(
            space.to_groups(np.asarray(source, dtype=np.float32)), mode="classification",
            feature_names=space.names, categorical_features=categorical,
            categorical_names={j: space.categories[j] for j in categorical},
            discretize_continuous=True, random_state=seed)
        rows = space.to_groups(np.asarray(X, dtype=np.float32))
        out = np.zeros(rows.shape)
        for i, (row, cls) in enumerate(zip(rows, target, strict=True)):
            explanation = explainer.explain_instance(
                row, lambda Z: model.predict_proba(space.from_groups(Z)), labels=(int(cls),),
                num_features=rows.shape[1], num_samples=self.num_samples)
            for feature, weight in explanation.as_map()[int(cls)]:
                out[i, feature] = weight
        return out

    def _image(self, model: ModelAdapter, X: np.ndarray, target: np.ndarray, units: Units,
               seed: int) -> np.ndarray:
        """Weights per pixel, shaped like ``X``: each pixel gets its patch's weight."""
        from lime.lime_image import LimeImageExplainer

        if not isinstance(units, ImageUnits):
            raise TypeError("image units expected")
        grid = units.unit_of.reshape(-1, *X.shape[-2:])[0]
        channels = X.shape[1] if X.ndim == 4 else None
        explainer = LimeImageExplainer(random_state=seed)

        def classify(images: np.ndarray) -> np.ndarray:
            gray = images.mean(axis=-1).astype(np.float32)
            batch = gray[:, None] if channels == 1 else gray
            if channels and channels > 1:
                batch = np.repeat(gray[:, None], channels, axis=1)
            return model.predict_proba(batch)

        out = np.zeros((len(X), units.n_units))
        for i, (image, cls) in enumerate(zip(X, target, strict=True)):
            plane = image.reshape(-1, *X.shape[-2:]).mean(axis=0).astype(np.float64)
            # lime's image explainer always draws a tqdm bar; the audit has its own progress.
            with _STDERR, contextlib.redirect_stderr(io.StringIO()):
                explanation = explainer.explain_instance(
                    np.repeat(plane[..., None], 3, axis=-1), classify, labels=(int(cls),),
                    top_labels=None, hide_color=0, num_samples=self.num_samples,
                    segmentation_fn=lambda _image: grid, random_seed=seed, batch_size=256)
            for segment, weight in explanation.local_exp[int(cls)]:
                out[i, segment] = weight
        per_element = out[:, units.unit_of.ravel()].reshape(X.shape)
        return per_element / (channels or 1)

    def _text(self, model: ModelAdapter, data: AuditData, X: np.ndarray, target: np.ndarray,
              units: Units, seed: int) -> np.ndarray:
        from lime.lime_text import LimeTextExplainer

        tokenizer = data.tokenizer
        explainer = LimeTextExplainer(random_state=seed, bow=False, mask_string="",
                                      split_expression=lambda text: text.split(" "))
        out = np.zeros((len(X), units.n_units))
        for i, (ids, cls) in enumerate(zip(X, target, strict=True)):
            tokens = [str(t) for t in tokenizer.decode(ids[ids != 0])]
            explanation = explainer.explain_instance(
                " ".join(tokens), lambda texts: model.predict_proba(tokenizer(list(texts))),
                labels=(int(cls),), num_features=len(tokens), num_samples=self.num_samples)
            for position, weight in explanation.as_map()[int(cls)]:
                if position < units.n_units:
                    out[i, position] = weight
        return out
