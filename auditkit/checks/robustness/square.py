"""Robustness: the Square Attack (Andriushchenko et al. 2020), black-box, L-inf.

A score-based attack: it sees only the predicted probabilities. From vertical
stripes at the corners of the eps-ball it proposes random square (for
sequences: window) updates of size ``±eps`` and keeps those that lower the
margin between the true class and the best other class. The query budget is
the cost a real attacker pays; the report gives success against queries.
Because it needs no gradients it also audits black boxes, and a black-box
attack that beats the white-box one is a sign of gradient masking.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import CheckContext, register_check
from .._params import CONFIDENCE, POSITIVE_INT, SAMPLE_SIZE, Interval
from ._common import proportion
from ._runs import (
    LINF_BUDGET,
    AttackCheck,
    accuracy_metric,
    attack_examples,
    prepare,
)
from ._suite import square_robust

__all__ = ["RobustnessSquare"]


@register_check
@dataclass(frozen=True)
class RobustnessSquare(AttackCheck):
    """Black-box robust accuracy under the L-inf Square Attack, and its query cost.

    Parameters
    ----------
    epsilon : float, default=0.1
        L-inf budget as a fraction of each value's valid range.
    n_queries : int, default=500
        Query budget per sample (the initialisation counts as one).
    p_init : float, default=0.8
        Initial share of the input a square covers. The paper uses 0.8 for
        MNIST and 0.05 for CIFAR-10 and ImageNet with 10,000 queries.
    n_samples : int or None, default=200
        Samples attacked (a seeded subset); None attacks all.
    confidence : float, default=0.95
        Level of the Wilson intervals.
    """

    name = "robustness_square"
    # Relative cost (progress ETA): thousands of queries per sample.
    cost = 10.0
    order = 5
    description = ("Accuracy under a score-based black-box attack (Square, L-inf) and the "
                   "queries it needs.")
    requires = frozenset({"predict", "probabilities"})
    attack_kind = "Square attacks"

    epsilon: float = 0.1
    n_queries: int = 500
    p_init: float = 0.8
    n_samples: int | None = 200
    confidence: float = 0.95

    verdict_metrics = ("attack_success_rate",)
    shares = ("robustness.prepared", "robustness.attack_run", "proba")
    parameter_constraints = {
        "epsilon": [LINF_BUDGET],
        "n_queries": POSITIVE_INT,
        "p_init": [Interval(Real, 0, 1, closed="right")],
        "n_samples": SAMPLE_SIZE,
        "confidence": CONFIDENCE,
    }

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Attack within the query budget; see the class docstring."""
        prepared = prepare(model, data, context, self.n_samples)
        if not prepared.correct.any():
            return self.nothing_to_attack()
        run = square_robust(model, prepared, context, eps=self.epsilon,
                            n_queries=self.n_queries, p_init=self.p_init,
                            sequence=data.modality == "sequence")
        attacked = prepared.correct
        success = run.success[attacked]
        queries = run.queries[attacked]
        clean = accuracy_metric(prepared.correct, self.confidence)
        robust = accuracy_metric(run.robust, self.confidence)
        spent = queries[success]
        metrics = {
            "clean_accuracy": clean,
            "robust_accuracy": robust,
            "attack_success_rate": proportion(success, confidence=self.confidence,
                                              higher_is_better=False),
            "median_queries_to_success": Metric(float(np.median(spent)) if len(spent)
                                                else float("nan"), n=len(spent)),
            "mean_queries": Metric(float(queries.mean()), n=len(queries)),
        }
        budget = np.unique(np.clip(np.geomspace(1, self.n_queries, 40).round(), 1,
                                   self.n_queries).astype(int))
        by_budget = np.array([(success & (queries <= b)).mean() for b in budget])
        figures = {"queries": Figure("success_against_queries", {
            "queries": budget, "success_rate": by_budget, "epsilon": self.epsilon},
            f"Square attack success against queries (L-inf epsilon {self.epsilon:g})")}
        examples = attack_examples(prepared, run, model, data)
        if examples is not None:
            figures["examples"] = examples
        table = pd.DataFrame({"queries": budget, "success_rate": by_budget})
        median = (f"; half of the successes needed at most {np.median(spent):.0f} queries"
                  if len(spent) else "")
        rate = metrics["attack_success_rate"]
        headline = (f"With only predicted probabilities and {self.n_queries} queries per sample, "
                    f"the Square attack (L-inf, eps {self.epsilon:g}) breaks {rate.value:.1%} "
                    f"[{rate.lower:.1%}, {rate.upper:.1%}] of {rate.n:,} correct predictions; "
                    f"robust accuracy is {robust.value:.1%} against {clean.value:.1%} "
                    f"clean{median}.")
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"success_by_queries": table}, figures=figures)
