"""Robustness: the smallest perturbation that flips each prediction (DeepFool, L2).

DeepFool (Moosavi-Dezfooli et al. 2016) walks to the nearest linearised
decision boundary until the prediction changes; the L2 norm of what it adds
(in units of the valid range, the L-inf norm beside it) is an upper bound on
each sample's distance to the boundary. The median over the correctly
classified samples is the headline: larger is more robust. Samples DeepFool
cannot flip within its steps count as infinitely far (they raise the median,
and their share is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import CheckContext, register_check
from .._params import CONFIDENCE, FRACTION, NON_NEGATIVE_INT, POSITIVE_INT, SAMPLE_SIZE
from ._runs import AttackCheck, AttackSpec, prepare, run_attack

__all__ = ["RobustnessMinimalPerturbation"]


@register_check
@dataclass(frozen=True)
class RobustnessMinimalPerturbation(AttackCheck):
    """Median smallest L2 perturbation that flips a prediction, found by DeepFool.

    Parameters
    ----------
    steps : int, default=50
        DeepFool iterations per sample.
    overshoot : float, default=0.02
        How far past the linearised boundary each step goes, in [0, 1].
    candidates : int, default=10
        Most likely other classes considered per step.
    n_samples : int or None, default=500
        Samples attacked (a seeded subset); None attacks all.
    n_resamples : int, default=1000
        Bootstrap resamples of the median's interval (0 for none).
    confidence : float, default=0.95
        Level of the interval.
    """

    name = "robustness_minimal_perturbation"
    # Relative cost (progress ETA): DeepFool's iterations per sample.
    cost = 5.0
    order = 4
    description = ("How far each correctly classified sample is from a decision boundary: the "
                   "smallest L2 perturbation DeepFool finds that flips it.")
    requires = frozenset({"predict", "gradients"})

    steps: int = 50
    overshoot: float = 0.02
    candidates: int = 10
    n_samples: int | None = 500
    n_resamples: int = 1000
    confidence: float = 0.95

    shares = ("robustness.prepared", "robustness.attack_run", "proba")
    parameter_constraints = {
        "steps": POSITIVE_INT,
        "overshoot": FRACTION,
        "candidates": POSITIVE_INT,
        "n_samples": SAMPLE_SIZE,
        "n_resamples": NON_NEGATIVE_INT,
        "confidence": CONFIDENCE,
    }

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Run DeepFool on the correct samples; see the class docstring."""
        prepared = prepare(model, data, context, self.n_samples)
        if not prepared.correct.any():
            return self.nothing_to_attack()
        spec = AttackSpec.of("deepfool", steps=self.steps, overshoot=self.overshoot,
                             candidates=self.candidates)
        run = run_attack(model, prepared, context, spec=spec, description="DeepFool",
                         key=("deepfool", self.steps, self.overshoot, self.candidates))
        attacked = prepared.correct
        delta = (run.adversarial - prepared.u).flatten(1)
        l2 = np.where(run.success, delta.norm(dim=1).numpy(), np.inf)[attacked]
        linf = np.where(run.success, delta.abs().amax(dim=1).numpy(), np.inf)[attacked]
        median = float(np.median(l2))
        low = high = None
        if self.n_resamples:
            rng = context.rng(self.name)
            draws = rng.integers(0, len(l2), size=(self.n_resamples, len(l2)))
            medians = np.median(l2[draws], axis=1)
            low, high = (float(v) for v in np.quantile(medians, [(1 - self.confidence) / 2,
                                                                 (1 + self.confidence) / 2]))
        flipped = np.isfinite(l2)
        metrics = {
            "median_l2_perturbation": Metric(
                median, low, high, self.confidence if low is not None else None, len(l2),
                f"percentile bootstrap, {self.n_resamples} resamples" if low is not None
                else None, True),
            "median_linf_perturbation": Metric(float(np.median(linf)), n=len(linf),
                                               higher_is_better=True),
            "flipped_share": Metric(float(flipped.mean()), n=len(l2)),
            "mean_steps": Metric(float(run.queries[attacked].mean()), n=len(l2)),
        }
        finite = np.sort(l2[flipped])
        quantiles = np.linspace(0.0, 1.0, 101)
        figures = {"distribution": Figure("perturbation_distribution", {
            "l2": finite, "share_flipped_by": np.arange(1, len(finite) + 1) / len(l2),
            "median": median}, "Share of correct predictions flipped within an L2 budget")}
        table = pd.DataFrame({"quantile": quantiles,
                              "l2": np.quantile(l2, quantiles, method="lower")})
        unflipped = (~flipped).sum()
        headline = (f"DeepFool flips {flipped.mean():.1%} of the {len(l2)} correct predictions; "
                    f"the median smallest flipping perturbation is {median:.3g} in L2 "
                    f"(units of the input range) and {float(np.median(linf)):.3g} in L-inf"
                    + (f"; {unflipped} samples were not flipped within {self.steps} steps."
                       if unflipped else "."))
        return self.result(Status.INFO, headline, metrics=metrics, tables={"quantiles": table},
                           figures=figures)
