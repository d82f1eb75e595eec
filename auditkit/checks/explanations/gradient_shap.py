"""Explanations: GradientShap (Lundberg & Lee 2017) through captum.

Expected gradients: Integrated Gradients averaged over random baselines drawn
from the reference data, with small input noise. Not for text:
token ids cannot be interpolated (Layer Integrated Gradients explains text).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import torch

from ...inputs import AuditData, ModelAdapter
from .._base import register_check
from .._params import POSITIVE_INT, Interval
from ._captum import gradient_attribution
from ._common import ExplanationCheck, Units

__all__ = ["ExplanationsGradientShap"]

_GLOBAL_GENERATORS = threading.Lock()


@register_check
@dataclass(frozen=True)
class ExplanationsGradientShap(ExplanationCheck):
    """GradientShap attributions, with faithfulness and sanity checks.

    Parameters
    ----------
    n_draws : int, default=20
        Random (baseline, noise, path point) draws per sample.
    stdevs : float, default=0.0
        Standard deviation of the input noise.
    """

    name = "explanations_gradient_shap"
    # Relative cost (progress ETA): gradients at noisy baselines.
    cost = 3.0
    description = ("GradientShap (expected gradients over reference baselines, captum) with "
                   "deletion/insertion faithfulness, the sanity check and stability.")
    requires = frozenset({"predict", "gradients"})
    # captum interpolates the inputs themselves, and token ids cannot be interpolated;
    # text models are explained at their embeddings by Layer Integrated Gradients.
    modalities = ("tabular", "image", "sequence")
    order = 2
    method = "GradientShap"
    parameter_constraints = {**ExplanationCheck.parameter_constraints,
                             "n_draws": POSITIVE_INT,
                             "stdevs": [Interval(Real, 0, None)]}

    n_draws: int = 20
    stdevs: float = 0.0

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """GradientShap of the explained class's logit, seeded by the audit."""
        from captum.attr import GradientShap

        def make(forward, _layer):  # noqa: ANN001, ANN202
            return GradientShap(forward)

        # captum draws the baselines from numpy's global generator and the path
        # points from torch's: seed both, give both back as they were, and let no other
        # batch draw from them meanwhile.
        with _GLOBAL_GENERATORS, torch.random.fork_rng(devices=[]):
            generators = np.random.get_state()  # noqa: NPY002 - captum's generator, not ours
            torch.manual_seed(seed)
            np.random.seed(seed)  # noqa: NPY002
            try:
                attributions, _ = gradient_attribution(
                    model, data, X, target, units, make=make,
                    baselines="reference", n_samples=self.n_draws, stdevs=self.stdevs)
            finally:
                np.random.set_state(generators)  # noqa: NPY002
        return attributions, {}
