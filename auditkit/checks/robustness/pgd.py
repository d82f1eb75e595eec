"""Robustness: robust accuracy under L-inf attacks of AutoAttack's strength, across epsilons.

By default (``attack="apgd"``) the samples the model classifies correctly are
attacked by an ensemble in the manner of AutoAttack (Croce & Hein 2020), the
field's standard (RobustBench): APGD on the cross-entropy, then APGD-T (the
targeted Difference of Logits Ratio over the most likely other classes) on the
survivors, then the black-box Square attack on theirs, which gradient masking
cannot stop. A sample is robust only if no attack breaks it. ``attack="pgd"``
keeps the plain PGD of Madry et al. (2018): the cross-entropy, then the margin
loss of Carlini & Wagner (2017). Robust accuracy (the share of the attacked
subset classified correctly under attack) is reported per epsilon, per class
and per sensitive group, with FGSM's curve beside it. Epsilons are fractions
of each input value's valid range (``AuditData.input_range``).
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
    NON_NEGATIVE_INT,
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
    Prepared,
    accuracy_metric,
    attack_examples,
    check_epsilons,
    curve_figure,
    group_tables,
    prepare,
)
from ._suite import (
    ATTACKS,
    ENSEMBLE,
    LOSS_SHORT,
    LOSSES,
    apgd_robust,
    fgsm_robust,
    pgd_robust,
    random_targets,
)

__all__ = ["RobustnessPGD"]

#: Default steps per run of each attack (APGD-T: per target class).
DEFAULT_STEPS = {"apgd": 25, "pgd": 20}


@register_check
@dataclass(frozen=True)
class RobustnessPGD(AttackCheck):
    """Robust accuracy under an L-inf APGD ensemble (or PGD) across epsilons.

    Parameters
    ----------
    attack : {"apgd", "pgd"}, default="apgd"
        ``"apgd"``: APGD-CE, then APGD-T on the survivors, then Square on
        theirs (AutoAttack's recipe without FAB). ``"pgd"``: PGD with each of
        ``losses`` in turn.
    epsilons : tuple of float, default=(0.05, 0.1, 0.2, 0.3)
        L-inf budgets, as fractions of each value's valid range.
    epsilon : float, default=0.1
        The budget the headline metrics are read at; one of ``epsilons``.
    steps : int or None, default=None
        Iterations per run: 25 for APGD (per target class for APGD-T), 20 for PGD.
    restarts : int, default=1
        Random starts per run (each restart attacks only the survivors).
    target_classes : int, default=2
        APGD-T's target classes (the most likely other classes); 0 leaves it out.
    square_queries : int, default=100
        Square's queries per survivor of APGD (L-inf only); 0 leaves it out.
    p_init : float, default=0.8
        Square's initial share of the input covered by a square.
    step_size : float, optional
        PGD only. Defaults to ``2.5 * eps / steps``; APGD sets its own.
    losses : tuple of str, default=("ce", "margin")
        PGD only. Each loss attacks the survivors of the previous ones.
    every_loss_at_every_epsilon : bool, default=False
        Run every stage at every epsilon. By default APGD-CE and APGD-T run at
        every epsilon and Square at ``epsilon`` only (where the headline is
        read; the curve at the other budgets is then that of APGD); PGD's
        curve uses its first loss and the later losses run at ``epsilon`` only.
    targeted : bool, default=False
        Also report the targeted success rate of PGD (a random other class per
        sample).
    n_samples : int or None, default=500
        Samples attacked (a seeded subset); None attacks all.
    confidence : float, default=0.95
    min_group_size : int, default=30
    """

    name = "robustness_pgd"
    # Relative cost (progress ETA): an ensemble of attacks at every epsilon.
    cost = 20.0
    order = 2
    description = ("Accuracy under gradient attacks of AutoAttack's strength (APGD ensemble, "
                   "L-inf) across budgets, per class and per sensitive group.")
    requires = frozenset({"predict", "gradients"})

    attack: str = "apgd"
    epsilons: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    epsilon: float = 0.1
    steps: int | None = None
    restarts: int = 1
    target_classes: int = 2
    square_queries: int = 100
    p_init: float = 0.8
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
        "attack": [Options(ATTACKS)],
        "epsilons": [SequenceOf(LINF_BUDGET, distinct=True)],
        "epsilon": [LINF_BUDGET],
        "steps": [*POSITIVE_INT, None],
        "restarts": POSITIVE_INT,
        "target_classes": NON_NEGATIVE_INT,
        "square_queries": NON_NEGATIVE_INT,
        "p_init": [Interval(Real, 0, 1, closed="right")],
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

    @property
    def n_steps(self) -> int:
        """Iterations per run: ``steps``, or the attack's default."""
        return self.steps if self.steps is not None else DEFAULT_STEPS[self.attack]

    def stage_runs(self, model: ModelAdapter, prepared: Prepared, context: CheckContext,
                   eps: float, *, sequence: bool, everything: bool = True
                   ) -> dict[str, AttackRun]:
        """The attack's runs at ``eps`` by stage label, each holding the outcome up to it.

        ``everything=False`` runs only the stages the curve needs away from ``epsilon``.
        """
        if self.attack == "apgd":
            runs = apgd_robust(model, prepared, context, eps=eps, norm=self.norm,
                               steps=self.n_steps, restarts=self.restarts,
                               target_classes=self.target_classes,
                               square_queries=self.square_queries if everything else 0,
                               p_init=self.p_init, sequence=sequence)
            return {self.stage_labels()[stage]: run for stage, run in runs.items()}
        losses = tuple(self.losses)
        runs = pgd_robust(model, prepared, context, eps=eps, norm=self.norm, steps=self.n_steps,
                          restarts=self.restarts, losses=losses if everything else losses[:1],
                          step_size=self.step_size)
        return {self.stage_labels()[loss]: run for loss, run in runs.items()}

    def stage_labels(self) -> dict[str, str]:
        """Stage -> curve label, cumulative ("APGD (CE + T)"), in the order the stages run."""
        if self.attack == "apgd":
            stages = [s for s in ENSEMBLE if (s != "APGD-T" or self.target_classes)
                      and (s != "Square" or (self.square_queries and self.norm == "linf"))]
            short = {"APGD-CE": "CE", "APGD-T": "T", "Square": "Square"}
            return {s: f"APGD ({' + '.join(short[x] for x in stages[:i + 1])})"
                    for i, s in enumerate(stages)}
        losses = tuple(self.losses)
        return {loss: f"PGD ({' + '.join(LOSS_SHORT[x] for x in losses[:i + 1])})"
                for i, loss in enumerate(losses)}

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Attack at every epsilon; see the class docstring."""
        prepared = prepare(model, data, context, self.n_samples)
        if not prepared.correct.any():
            return self.nothing_to_attack()
        labels = list(self.stage_labels().values())
        curves: dict[str, list[float]] = {label: [] for label in labels}
        lowers: dict[str, list[float]] = {label: [] for label in labels}
        uppers: dict[str, list[float]] = {label: [] for label in labels}
        if self.norm == "linf":
            curves["FGSM"], lowers["FGSM"], uppers["FGSM"] = [], [], []
        reference_runs: dict[str, AttackRun] = {}
        with context.progress.bar(total=len(self.epsilons), unit="epsilon",
                                  description=self.name) as bar:
            for eps in self.epsilons:
                bar.set_postfix_str(f"eps {eps:g}")
                everything = self.every_loss_at_every_epsilon or eps == self.epsilon
                runs = self.stage_runs(model, prepared, context, eps,
                                       sequence=data.modality == "sequence",
                                       everything=everything)
                if self.norm == "linf":
                    runs_fgsm = fgsm_robust(model, prepared, context, eps=eps)
                    self._append(curves, lowers, uppers, "FGSM", runs_fgsm.robust)
                for label in labels:
                    self._append(curves, lowers, uppers, label,
                                 runs[label].robust if label in runs else None)
                if eps == self.epsilon:
                    reference_runs = runs
                bar.update(1)
        final = reference_runs[labels[-1]]
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
            # model passes per attacked sample, gradient steps and Square's queries alike
            "mean_gradient_steps": Metric(float(final.queries[prepared.correct].mean()),
                                          n=int(attacked)),
        }
        stage_curves = np.array([curves[label] for label in labels], dtype=float)
        strongest = list(np.nanmin(stage_curves, axis=0))  # the whole ensemble at each epsilon
        for eps, value in zip(self.epsilons, strongest, strict=True):
            metrics[f"robust_accuracy_at_{eps:g}"] = Metric(value, n=prepared.n,
                                                            higher_is_better=True)
        tables, group_metrics = group_tables(model, data, prepared, final.robust,
                                             confidence=self.confidence,
                                             min_group_size=self.min_group_size)
        metrics.update(group_metrics)
        if self.targeted:
            targets = random_targets(prepared, model.n_classes, context)
            losses = tuple(self.losses)
            runs = pgd_robust(model, prepared, context, eps=self.epsilon, norm=self.norm,
                              steps=self.n_steps, restarts=self.restarts, losses=losses,
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
        return self.result(Status.INFO, self._headline(clean, robust, strongest),
                           metrics=metrics, tables=tables, figures=figures)

    @property
    def _norm_label(self) -> str:
        return "L-inf" if self.norm == "linf" else "L2"

    def _append(self, curves: dict, lowers: dict, uppers: dict, name: str,
                robust: np.ndarray | None) -> None:
        if robust is None:  # this stage did not run at this epsilon
            for values in (curves, lowers, uppers):
                values[name].append(float("nan"))
            return
        metric = accuracy_metric(robust, self.confidence)
        curves[name].append(metric.value)
        lowers[name].append(metric.lower)
        uppers[name].append(metric.upper)

    def _attack_label(self) -> str:
        restarts = f", {self.restarts} restarts" if self.restarts > 1 else ""
        if self.attack == "pgd":
            losses = " + ".join(LOSS_SHORT[x] for x in self.losses)
            return f"PGD ({self._norm_label}, eps {self.epsilon:g}, {losses}, {self.n_steps} " \
                   f"steps{restarts})"
        stages = ["APGD-CE"]
        if self.target_classes:
            stages.append(f"APGD-T ({self.target_classes} targets)")
        if self.square_queries and self.norm == "linf":
            stages.append(f"Square ({self.square_queries} queries)")
        return (f"{' + '.join(stages)} ({self._norm_label}, eps {self.epsilon:g}, "
                f"{self.n_steps} steps{restarts})")

    def _headline(self, clean: Metric, robust: Metric, curve: list[float]) -> str:
        largest = self.epsilons[-1]
        tail = (f"; at eps {largest:g} it is {curve[-1]:.1%}" if largest != self.epsilon
                else "")
        return (f"Under {self._attack_label()} robust accuracy is {robust.value:.1%} "
                f"[{robust.lower:.1%}, {robust.upper:.1%}] of {robust.n:,} samples, against "
                f"{clean.value:.1%} clean{tail}.")
