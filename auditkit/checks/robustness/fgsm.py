"""Robustness: the Fast Gradient Sign Method (Goodfellow et al. 2015), across epsilons.

One signed-gradient step of the cross-entropy, of size epsilon (a fraction of
each value's valid range), clipped to the valid inputs. FGSM is a weak attack
and a quick first look; ``robustness_pgd`` (an APGD ensemble) is the measure
of robustness. An FGSM that breaks more samples than the white-box attack is a
sign of gradient masking (``robustness_gradient_masking``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Metric, Status
from .._base import CheckContext, register_check
from .._params import CONFIDENCE, SAMPLE_SIZE, SequenceOf
from ._runs import (
    LINF_BUDGET,
    AttackCheck,
    accuracy_metric,
    attack_examples,
    check_epsilons,
    curve_figure,
    prepare,
)
from ._suite import fgsm_robust

__all__ = ["RobustnessFGSM"]


@register_check
@dataclass(frozen=True)
class RobustnessFGSM(AttackCheck):
    """Robust accuracy under FGSM across L-inf epsilons.

    Parameters
    ----------
    epsilons : tuple of float, default=(0.05, 0.1, 0.2, 0.3)
        Fractions of each value's valid range.
    epsilon : float, default=0.1
        The budget the headline metrics are read at; one of ``epsilons``.
    n_samples : int or None, default=500
        Samples attacked (a seeded subset); None attacks all.
    confidence : float, default=0.95
        Level of the Wilson intervals.
    """

    name = "robustness_fgsm"
    # Relative cost (progress ETA): one gradient per sample and epsilon.
    cost = 2.0
    order = 1
    description = "Accuracy under the one-step Fast Gradient Sign Method across budgets."
    requires = frozenset({"predict", "gradients"})

    epsilons: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    epsilon: float = 0.1
    n_samples: int | None = 500
    confidence: float = 0.95

    # FGSM is the weak single-step baseline beside PGD: measured, never judged.
    verdict_metrics = ()
    shares = ("robustness.prepared", "robustness.attack_run", "proba")
    parameter_constraints = {
        "epsilons": [SequenceOf(LINF_BUDGET, distinct=True)],
        "epsilon": [LINF_BUDGET],
        "n_samples": SAMPLE_SIZE,
        "confidence": CONFIDENCE,
    }

    def validate_options(self) -> None:
        """Epsilons increase and contain ``epsilon``."""
        check_epsilons(self, self.epsilons, self.epsilon)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Attack at every epsilon; see the class docstring."""
        prepared = prepare(model, data, context, self.n_samples)
        if not prepared.correct.any():
            return self.nothing_to_attack()
        runs = {eps: fgsm_robust(model, prepared, context, eps=eps) for eps in self.epsilons}
        metrics_by_eps = {eps: accuracy_metric(run.robust, self.confidence)
                          for eps, run in runs.items()}
        clean = accuracy_metric(prepared.correct, self.confidence)
        robust = metrics_by_eps[self.epsilon]
        metrics = {"clean_accuracy": clean, "robust_accuracy": robust,
                   "robust_accuracy_ratio": Metric(robust.value / clean.value if clean.value
                                                   else 0.0, n=prepared.n,
                                                   higher_is_better=True)}
        name = "FGSM"
        figures = {"curve": curve_figure(
            {name: [m.value for m in metrics_by_eps.values()]},
            {name: [m.lower for m in metrics_by_eps.values()]},
            {name: [m.upper for m in metrics_by_eps.values()]}, self.epsilons,
            clean_accuracy=clean.value, norm="linf", reference=self.epsilon,
            title="Robust accuracy against L-inf epsilon (FGSM)")}
        examples = attack_examples(prepared, runs[self.epsilon], model, data)
        if examples is not None:
            figures["examples"] = examples
        table = pd.DataFrame({"epsilon": list(self.epsilons),
                              "robust_accuracy": [m.value for m in metrics_by_eps.values()],
                              "lower": [m.lower for m in metrics_by_eps.values()],
                              "upper": [m.upper for m in metrics_by_eps.values()]})
        headline = (f"Under one FGSM step (L-inf, eps {self.epsilon:g}) robust accuracy is "
                    f"{robust.value:.1%} [{robust.lower:.1%}, {robust.upper:.1%}] of "
                    f"{robust.n:,} samples, against {clean.value:.1%} clean; FGSM is a weak "
                    "attack, APGD measures robustness.")
        return self.result(Status.INFO, headline, metrics=metrics, tables={"curve": table},
                           figures=figures)
