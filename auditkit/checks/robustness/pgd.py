"""Robustness: projected gradient descent (Madry et al. 2018) under L-inf, across epsilons.

For each epsilon the samples the model classifies correctly are attacked with
PGD on the cross-entropy, then the survivors with PGD on the margin loss of
Carlini & Wagner (2017), each from ``restarts`` random starts; a sample is
robust only if no attack breaks it. Robust accuracy (the share of the attacked
subset classified correctly under attack) is reported per epsilon, per class
and per sensitive group, with FGSM's curve beside it. Epsilons are fractions of
each input value's valid range (``AuditData.input_range``).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Metric, Status
from .._base import CheckContext, register_check
from .._params import (
    BOOLEAN,
    CONFIDENCE,
    POSITIVE_INT,
    SAMPLE_SIZE,
    Interval,
    Options,
    SequenceOf,
)
from ._common import wilson_interval
from ._runs import (
    LINF_BUDGET,
    AttackCheck,
    AttackRun,
    accuracy_metric,
    attack_examples,
    check_epsilons,
    curve_figure,
    group_tables,
    prepare,
)
from ._suite import (
    LOSS_SHORT,
    LOSSES,
    fgsm_robust,
    pgd_robust,
    random_targets,
)

__all__ = ["RobustnessPGD"]


@register_check
@dataclass(frozen=True)
class RobustnessPGD(AttackCheck):
    """Robust accuracy under L-inf PGD (cross-entropy then margin loss) across epsilons.

    Parameters
    ----------
    epsilons : tuple of float, default=(0.05, 0.1, 0.2, 0.3)
        L-inf budgets, as fractions of each value's valid range.
    epsilon : float, default=0.1
        The budget the headline metrics are read at; one of ``epsilons``.
    steps : int, default=20
    restarts : int, default=1
        Random starts per loss (each restart attacks only the survivors).
    step_size : float, optional
        Defaults to ``2.5 * eps / steps``.
    losses : tuple of str, default=("ce", "margin")
        Each loss attacks the survivors of the previous ones.
    every_loss_at_every_epsilon : bool, default=False
        Run every loss at every epsilon; by default the curve uses the first
        loss and the later losses run at ``epsilon`` only (where the headline
        is read), which halves the cost on robust models.
    targeted : bool, default=False
        Also report the targeted success rate (a random other class per sample).
    n_samples : int or None, default=500
        Samples attacked (a seeded subset); None attacks all.
    confidence : float, default=0.95
    min_group_size : int, default=30
    """

    name = "robustness_pgd"
    order = 2
    description = ("Accuracy under projected gradient descent attacks (L-inf) across budgets, "
                   "per class and per sensitive group.")
    requires = frozenset({"predict", "gradients"})

    epsilons: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    epsilon: float = 0.1
    steps: int = 20
    restarts: int = 1
    step_size: float | None = None
    losses: tuple[str, ...] = LOSSES
    every_loss_at_every_epsilon: bool = False
    targeted: bool = False
    n_samples: int | None = 500
    confidence: float = 0.95
    min_group_size: int = 30

    #: The norm of the budget (the L2 check overrides it).
    norm = "linf"

    verdict_metrics = ("robust_accuracy_ratio",)
    shares = ("robustness.prepared", "robustness.attack_run", "proba")
    parameter_constraints = {
        "epsilons": [SequenceOf(LINF_BUDGET, distinct=True)],
        "epsilon": [LINF_BUDGET],
        "steps": POSITIVE_INT,
        "restarts": POSITIVE_INT,
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "losses": [SequenceOf(Options(LOSSES), distinct=True)],
        "every_loss_at_every_epsilon": BOOLEAN,
        "targeted": BOOLEAN,
        "n_samples": SAMPLE_SIZE,
        "confidence": CONFIDENCE,
        "min_group_size": POSITIVE_INT,
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
        losses = tuple(self.losses)
        label = {loss: f"PGD ({' + '.join(LOSS_SHORT[x] for x in losses[:i + 1])})"
                 for i, loss in enumerate(losses)}
        curves: dict[str, list[float]] = {label[x]: [] for x in losses}
        lowers: dict[str, list[float]] = {label[x]: [] for x in losses}
        uppers: dict[str, list[float]] = {label[x]: [] for x in losses}
        if self.norm == "linf":
            curves["FGSM"], lowers["FGSM"], uppers["FGSM"] = [], [], []
        reference_runs: dict[str, AttackRun] = {}
        for eps in self.epsilons:
            ensemble = self.every_loss_at_every_epsilon or eps == self.epsilon
            runs = pgd_robust(model, prepared, context, eps=eps, norm=self.norm, steps=self.steps,
                              restarts=self.restarts, losses=losses if ensemble else losses[:1],
                              step_size=self.step_size)
            if self.norm == "linf":
                runs_fgsm = fgsm_robust(model, prepared, context, eps=eps)
                self._append(curves, lowers, uppers, "FGSM", runs_fgsm.robust)
            for loss in losses:
                self._append(curves, lowers, uppers, label[loss], runs[loss].robust
                             if loss in runs else None)
            if eps == self.epsilon:
                reference_runs = runs
        final = reference_runs[losses[-1]]
        clean = accuracy_metric(prepared.correct, self.confidence)
        robust = accuracy_metric(final.robust, self.confidence)
        attacked = prepared.correct.sum()
        success = final.success[prepared.correct]
        metrics = {
            "clean_accuracy": clean,
            "robust_accuracy": robust,
            "robust_accuracy_ratio": Metric(robust.value / clean.value if clean.value else 0.0,
                                            n=prepared.n, higher_is_better=True),
            "attack_success_rate": Metric(float(success.mean()), *map(float, wilson_interval(
                success.sum(), attacked, self.confidence)), self.confidence, int(attacked),
                "Wilson score interval", False),
            "mean_gradient_steps": Metric(float(final.queries[prepared.correct].mean()),
                                          n=int(attacked)),
        }
        pgd_curves = np.array([curves[label[x]] for x in losses], dtype=float)
        last = list(np.nanmin(pgd_curves, axis=0))  # the strongest PGD run at each epsilon
        for eps, value in zip(self.epsilons, last, strict=True):
            metrics[f"robust_accuracy_at_{eps:g}"] = Metric(value, n=prepared.n,
                                                            higher_is_better=True)
        tables, group_metrics = group_tables(model, data, prepared, final.robust,
                                             confidence=self.confidence,
                                             min_group_size=self.min_group_size)
        metrics.update(group_metrics)
        if self.targeted:
            targets = random_targets(prepared, model.n_classes, context)
            runs = pgd_robust(model, prepared, context, eps=self.epsilon, norm=self.norm,
                              steps=self.steps, restarts=self.restarts, losses=losses,
                              step_size=self.step_size, targets=targets)
            hit = runs[losses[-1]].success[prepared.correct]
            metrics["targeted_success_rate"] = Metric(
                float(hit.mean()), *map(float, wilson_interval(hit.sum(), attacked,
                                                               self.confidence)),
                self.confidence, int(attacked), "Wilson score interval", False)
        tables["curve"] = pd.DataFrame({"epsilon": list(self.epsilons),
                                        **{name: values for name, values in curves.items()}})
        figures = {"curve": curve_figure(curves, lowers, uppers, self.epsilons,
                                         clean_accuracy=clean.value, norm=self.norm,
                                         reference=self.epsilon,
                                         title=f"Robust accuracy against {self._norm_label} "
                                         "epsilon")}
        examples = attack_examples(prepared, final, model, data)
        if examples is not None:
            figures["examples"] = examples
        return self.result(Status.INFO, self._headline(clean, robust, last), metrics=metrics,
                           tables=tables, figures=figures)

    @property
    def _norm_label(self) -> str:
        return "L-inf" if self.norm == "linf" else "L2"

    def _append(self, curves: dict, lowers: dict, uppers: dict, name: str,
                robust: np.ndarray | None) -> None:
        if robust is None:  # this loss did not run at this epsilon
            for values in (curves, lowers, uppers):
                values[name].append(float("nan"))
            return
        metric = accuracy_metric(robust, self.confidence)
        curves[name].append(metric.value)
        lowers[name].append(metric.lower)
        uppers[name].append(metric.upper)

    def _headline(self, clean: Metric, robust: Metric, curve: list[float]) -> str:
        largest = self.epsilons[-1]
        restarts = f", {self.restarts} restarts" if self.restarts > 1 else ""
        losses = " + ".join(LOSS_SHORT[x] for x in self.losses)
        tail = (f"; at eps {largest:g} it is {curve[-1]:.1%}" if largest != self.epsilon
                else "")
        return (f"Under PGD ({self._norm_label}, eps {self.epsilon:g}, {losses}, {self.steps} "
                f"steps{restarts}) robust accuracy is {robust.value:.1%} [{robust.lower:.1%}, "
                f"{robust.upper:.1%}] of {robust.n:,} samples, against {clean.value:.1%} "
                f"clean{tail}.")
