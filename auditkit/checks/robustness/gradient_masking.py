"""Robustness: sanity checks that the attacks' numbers can be trusted.

A model can look robust because its gradients are useless to an attacker
(gradient masking: saturated softmax, shattered or noisy gradients) rather than
because it is robust. Carlini et al. (2019, "On Evaluating Adversarial
Robustness") and Athalye et al. (2018) list symptoms; this check tests five:

1. robust accuracy rises anywhere as epsilon grows, or does not fall at all
   (the first attack of ``robustness_pgd``, APGD-CE or PGD on the
   cross-entropy, L-inf);
2. it does not approach zero at a large epsilon (half of each value's range);
3. one FGSM step breaks more samples than the white-box attack;
4. the black-box Square attack breaks more samples than the white-box attack
   (APGD-CE + APGD-T, or PGD; Square alone, on the same samples);
5. a stronger first attack (twice the steps, one more restart) does worse
   than the default one, or does much better than the reported ensemble (the
   default had not converged and overstates robustness).

Each failed test is a flag; the policy warns on any. Attack runs shared with
the PGD, FGSM and Square checks (same options) are reused, not repeated.
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
    FRACTION,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    SAMPLE_SIZE,
    Interval,
    Options,
    SequenceOf,
)
from ._runs import LINF_BUDGET, AttackCheck, check_epsilons, prepare
from ._suite import ATTACKS, fgsm_robust, square_robust
from .pgd import RobustnessPGD

__all__ = ["RobustnessGradientMasking"]


@register_check
@dataclass(frozen=True)
class RobustnessGradientMasking(AttackCheck):
    """Five symptoms of gradient masking, each reported as a flag.

    Parameters
    ----------
    attack : {"apgd", "pgd"}, default="apgd"
        The white-box attack, as in ``robustness_pgd``.
    epsilons : tuple of float, default=(0.05, 0.1, 0.2, 0.3)
        The PGD curve tested for monotonicity (as ``robustness_pgd``).
    epsilon : float, default=0.1
        Where FGSM, Square and the stronger PGD are compared with PGD.
    large_epsilon : float, default=0.5
        Where robust accuracy should be near zero.
    near_zero : float, default=0.05
        Robust accuracy at ``large_epsilon`` above this is a flag.
    tolerance : float, default=0.02
        Differences in robust accuracy within this (or within two samples)
        are sampling noise, not a flag.
    steps : int or None, default=None
        Steps per run of the white-box attack, as in ``robustness_pgd``.
    restarts : int, default=1
        Random starts of the white-box attack, as in ``robustness_pgd``.
    target_classes : int, default=2
        APGD-T's target classes, as in ``robustness_pgd``.
    square_queries : int, default=100
        Queries of the ensemble's Square stage, as in ``robustness_pgd``.
    n_samples : int or None, default=500
        Samples attacked (a seeded subset, as ``robustness_pgd``'s); None attacks all.
    square_samples : int or None, default=200
        As ``robustness_square``'s ``n_samples`` (a subset of the PGD samples).
    n_queries : int, default=500
        Square's query budget, as in ``robustness_square``.
    p_init : float, default=0.8
        Square's initial square size, as in ``robustness_square``.
    """

    name = "robustness_gradient_masking"
    # Relative cost (progress ETA): attacks at a larger epsilon and with more steps.
    cost = 10.0
    order = 9
    description = ("Sanity checks of the attacks against gradient masking: monotone curves, "
                   "near-zero accuracy at large budgets, white-box stronger than black-box.")
    requires = frozenset({"predict", "gradients"})

    attack: str = "apgd"
    epsilons: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    epsilon: float = 0.1
    large_epsilon: float = 0.5
    near_zero: float = 0.05
    tolerance: float = 0.02
    steps: int | None = None
    restarts: int = 1
    target_classes: int = 2
    square_queries: int = 100
    n_samples: int | None = 500
    square_samples: int | None = 200
    n_queries: int = 500
    p_init: float = 0.8

    verdict_metrics = ("gradient_masking_flags",)
    shares = ("robustness.prepared", "robustness.attack_run", "proba")
    parameter_constraints = {
        "attack": [Options(ATTACKS)],
        "epsilons": [SequenceOf(LINF_BUDGET, distinct=True)],
        "epsilon": [LINF_BUDGET],
        "large_epsilon": [LINF_BUDGET],
        "near_zero": FRACTION,
        "tolerance": FRACTION,
        "steps": [*POSITIVE_INT, None],
        "restarts": POSITIVE_INT,
        "target_classes": NON_NEGATIVE_INT,
        "square_queries": NON_NEGATIVE_INT,
        "n_samples": SAMPLE_SIZE,
        "square_samples": SAMPLE_SIZE,
        "n_queries": POSITIVE_INT,
        "p_init": [Interval(Real, 0, 1, closed="right")],
    }

    def validate_options(self) -> None:
        """Epsilons increase and contain ``epsilon``."""
        check_epsilons(self, self.epsilons, self.epsilon)

    def _attack(self, **changes: object) -> RobustnessPGD:
        """The ``robustness_pgd`` check whose runs these tests read (shared in the context)."""
        options = dict(attack=self.attack, epsilons=self.epsilons, epsilon=self.epsilon,
                       steps=self.steps, restarts=self.restarts,
                       target_classes=self.target_classes, square_queries=self.square_queries,
                       p_init=self.p_init, n_samples=self.n_samples)
        options.update(changes)
        return RobustnessPGD(**options)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Run the five tests; see the module docstring."""
        prepared = prepare(model, data, context, self.n_samples)
        if not prepared.correct.any():
            return self.nothing_to_attack()
        n = prepared.n
        noise = max(self.tolerance, 2.0 / n)
        rows = []

        sequence = data.modality == "sequence"
        attack = self._attack()
        labels = list(attack.stage_labels().values())
        first = labels[0]
        # the first attack alone (APGD-CE or PGD-CE), the run behind robustness_pgd's curve
        alone = self._attack(target_classes=0, square_queries=0)
        curve = [float(alone.stage_runs(model, prepared, context, eps, sequence=sequence,
                                        everything=False)[first].robust.mean())
                 for eps in self.epsilons]
        rises = [(a, b, ra, rb) for a, b, ra, rb in zip(self.epsilons, self.epsilons[1:], curve,
                                                        curve[1:], strict=False)
                 if rb > ra + noise]
        flat = curve[0] > self.near_zero and curve[-1] >= curve[0] - noise
        rows.append(("accuracy falls as epsilon grows", not rises and not flat,
                     "; ".join(f"{ra:.1%} at {a:g} < {rb:.1%} at {b:g}" for a, b, ra, rb in rises)
                     or ("does not fall: " if flat else "")
                     + " -> ".join(f"{v:.1%}" for v in curve)))

        # the white-box part of the ensemble: everything before its Square stage
        white_label = labels[-2] if labels[-1].endswith("Square)") else labels[-1]
        white_name = white_label.replace("(", "").replace(")", "")
        large = float(self._attack(square_queries=0).stage_runs(
            model, prepared, context, self.large_epsilon, sequence=sequence)[white_label]
            .robust.mean())  # the whole white-box attack: its strongest
        rows.append((f"accuracy near zero at epsilon {self.large_epsilon:g}",
                     large <= self.near_zero, f"{large:.1%} (at most {self.near_zero:.0%})"))

        reference = attack.stage_runs(model, prepared, context, self.epsilon, sequence=sequence)
        pgd_acc = float(reference[labels[-1]].robust.mean())  # the reported robust accuracy
        fgsm_acc = float(fgsm_robust(model, prepared, context, eps=self.epsilon).robust.mean())
        white_acc = float(reference[white_label].robust.mean())
        rows.append(("FGSM no stronger than the white-box attack", fgsm_acc >= white_acc - noise,
                     f"FGSM {fgsm_acc:.1%}, {white_name} {white_acc:.1%}"))

        size = self.square_samples if self.n_samples is None else \
            min(self.square_samples or self.n_samples, self.n_samples)
        subset = prepare(model, data, context, size)
        position = np.searchsorted(prepared.indices, subset.indices)
        nested = (position < n) & (prepared.indices[np.minimum(position, n - 1)]
                                   == subset.indices)
        square = square_robust(model, subset, context, eps=self.epsilon,
                               n_queries=self.n_queries, p_init=self.p_init,
                               sequence=sequence)
        if nested.all():
            white = float(reference[white_label].robust[position].mean())
            black = float(square.robust.mean())
            rows.append(("black-box no stronger than white-box", black >= white - noise,
                         f"Square {black:.1%}, {white_name} {white:.1%} on the same "
                         f"{len(subset.indices)} samples"))

        weak = float(reference[first].robust.mean())
        steps = attack.n_steps
        stronger = self._attack(steps=2 * steps, restarts=self.restarts + 1, target_classes=0,
                                square_queries=0)
        strong = float(stronger.stage_runs(model, prepared, context, self.epsilon,
                                           sequence=sequence, everything=False)[first]
                       .robust.mean())
        first_name = first.replace("(", "").replace(")", "")
        rows.append(("stronger attack no weaker", strong <= weak + noise,
                     f"{first_name} with {2 * steps} steps x {self.restarts + 1} restarts "
                     f"{strong:.1%}, {steps} steps x {self.restarts} {weak:.1%}"))
        rows.append(("default attack converged", strong >= pgd_acc - noise,
                     f"stronger {first_name} {strong:.1%} against the reported {pgd_acc:.1%}"))

        table = pd.DataFrame(rows, columns=["test", "passed", "evidence"])
        failed = table.loc[~table["passed"], "test"].tolist()
        metrics = {"gradient_masking_flags": Metric(float(len(failed)), n=n,
                                                    higher_is_better=False),
                   "robust_accuracy_at_large_epsilon": Metric(large, n=n),
                   "pgd_robust_accuracy": Metric(pgd_acc, n=n, higher_is_better=True),
                   "stronger_pgd_gap": Metric(weak - strong, n=n)}
        if failed:
            shown = table[~table["passed"]]
            headline = (f"{len(failed)} of {len(table)} gradient-masking tests flag: " + "; ".join(
                f"{t} fails ({e})" for t, e in zip(shown["test"], shown["evidence"], strict=True))
                + ".")
        else:
            square_text = (f", Square {black:.1%} ({white_name} {white:.1%} on the same "
                           "samples)" if nested.all() else "")
            headline = (f"None of the {len(table)} gradient-masking tests flags: robust accuracy "
                        f"{' -> '.join(f'{v:.1%}' for v in curve)} over epsilons "
                        f"{', '.join(f'{e:g}' for e in self.epsilons)} and {large:.1%} at "
                        f"{self.large_epsilon:g}; {labels[-1]} {pgd_acc:.1%} at {self.epsilon:g} "
                        f"against FGSM {fgsm_acc:.1%}{square_text} and a stronger "
                        f"{first_name} {strong:.1%}.")
        return self.result(Status.INFO, headline, metrics=metrics, tables={"tests": table})
