"""Privacy: whether an attacker can tell the model's training records from other records.

Membership inference judged by the true-positive rate at a low false-positive
rate (Carlini et al. 2022), with exact intervals: population thresholds,
label-only baselines, LiRA and RMIA against reference models (see
:mod:`._attacks`, :mod:`._metrics`). The verdict rests on the best attack's
TPR at 1% FPR; its interval (Clopper-Pearson, widened for the threshold's
own error, :func:`._metrics.tpr_at_fpr`) is also Bonferroni-corrected over
the attacks tried, since the best of several is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ..._stats import WILSON, mean_interval, wilson_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Status
from .._base import Check, CheckContext, register_check
from .._membership import roc_figure, summarise_attacks
from .._params import (
    BOOLEAN,
    CONFIDENCE,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    Interval,
    Options,
    SequenceOf,
)
from ._attacks import ALL_ATTACKS
from ._common import NO_MEMBERS, membership_sample, target_proba
from ._records import leak_by_group, top_records
from ._scoring import run_attacks

__all__ = ["PrivacyMembershipInference"]

_DEFAULT_ATTACKS = ("loss", "confidence", "entropy", "modified_entropy", "gap", "noise_robustness",
                    "lira_online", "lira_offline", "rmia_offline")


@register_check
@dataclass(frozen=True)
class PrivacyMembershipInference(Check):
    """Membership inference: TPR at 0.1% and 1% FPR, AUC and advantage of each attack.

    Parameters
    ----------
    max_per_side : int or None, default=1000
        Members and non-members each (the same number on both sides).
    n_reference_models : int, default=4
        Reference models for LiRA and RMIA (even: each record is IN half of them).
    population_size : int, default=1000
        Population records in the reference models' pool, and RMIA's ``z``.
    reference_train_size : int or None, default=None
        Records each reference model trains on. None: as many as the audited
        model was trained on (``len(data.train)``), as LiRA and RMIA assume,
        when the members, non-members and population records number at least
        twice that; otherwise half of them. The notes say which.
    attacks : tuple of str
        Among loss, confidence, entropy, modified_entropy, gap, noise_robustness,
        lira_online, lira_offline, rmia_offline.
    lira_fixed_variance : bool, default=True
        One pooled variance per side (Carlini et al.'s choice for few models).
    rmia_offline_a : float, default=0.3
        RMIA's offline approximation ``Pr(x) = ((1 + a)/2) mean_OUT + (1 - a)/2``.
    rmia_gamma : float, default=1.0
        RMIA's pairwise likelihood-ratio threshold.
    noise_copies : int, default=8
        Noisy copies per record for the label-only noise-robustness attack.
    noise_scale : float, default=0.05
        Noise standard deviation, as a share of each input's valid range.
    cache_dir : str or None, default=None
        Where reference models are cached (default: AUDITKIT_CACHE_DIR, else ~/.cache/auditkit).
    show_sensitive : bool, default=False
        Show sensitive values in the table of top-scoring records (masked "***" otherwise).
    n_top_records : int, default=10
        Records with the highest membership scores to show.
    confidence : float, default=0.95
        Level of every interval.

    Examples
    --------
    >>> from auditkit.checks import PrivacyMembershipInference
    >>> PrivacyMembershipInference(n_reference_models=2).n_reference_models
    2
    """

    name = "privacy_membership_inference"
    # Relative cost (progress ETA): reference models trained on halves of a pool.
    cost = 10.0
    family = "privacy"
    order = 1
    description = ("Whether an attacker can tell training records from other records: the true-"
                   "positive rate at 0.1% and 1% false-positive rate of population, label-only, "
                   "LiRA and RMIA attacks, with exact intervals.")
    requires = frozenset({"predict"})
    shares = ("privacy.membership", "proba", "privacy.reference")
    verdict_metrics = ("tpr_at_1pct_fpr",)
    parameter_constraints = {
        "max_per_side": [Interval(Integral, 10, None), None],
        "n_reference_models": [Interval(Integral, 2, None)],
        "population_size": NON_NEGATIVE_INT,
        "reference_train_size": [Interval(Integral, 1, None), None],
        "attacks": [SequenceOf(Options(ALL_ATTACKS), distinct=True)],
        "lira_fixed_variance": BOOLEAN,
        "rmia_offline_a": [Interval(Real, 0, 1)],
        "rmia_gamma": [Interval(Real, 0, None, closed="neither")],
        "noise_copies": POSITIVE_INT,
        "noise_scale": [Interval(Real, 0, None, closed="neither")],
        "cache_dir": ["string", None],
        "show_sensitive": BOOLEAN,
        "n_top_records": NON_NEGATIVE_INT,
        "confidence": CONFIDENCE,
    }

    max_per_side: int | None = 1000
    n_reference_models: int = 4
    population_size: int = 1000
    reference_train_size: int | None = None
    attacks: tuple[str, ...] = _DEFAULT_ATTACKS
    lira_fixed_variance: bool = True
    rmia_offline_a: float = 0.3
    rmia_gamma: float = 1.0
    noise_copies: int = 8
    noise_scale: float = 0.05
    cache_dir: str | None = None
    show_sensitive: bool = False
    n_top_records: int = 10
    confidence: float = 0.95

    def validate_options(self) -> None:
        """``n_reference_models`` must be even (balanced IN/OUT assignment)."""
        from ...exceptions import CheckError
        from .._params import BAD_OPTION

        if self.n_reference_models % 2:
            raise CheckError(BAD_OPTION.format(option="n_reference_models", check=self.name,
                                               expected="an even int (each record is IN half "
                                               "of the reference models)",
                                               got=self.n_reference_models))

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """SKIP without training records; otherwise the base class's reasons."""
        return super().skip_reason(model, data) or (NO_MEMBERS if data.train is None else None)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Run the attacks and score them; see the class docstring."""
        sample = membership_sample(data, self.max_per_side, context)
        run = run_attacks(model, data, sample, context, attacks=tuple(self.attacks),
                          n_reference_models=self.n_reference_models,
                          population_size=self.population_size,
                          fixed_variance=self.lira_fixed_variance, offline_a=self.rmia_offline_a,
                          gamma=self.rmia_gamma, noise_copies=self.noise_copies,
                          noise_scale=self.noise_scale, cache_dir=self.cache_dir,
                          rng=context.rng(self.name),
                          reference_train_size=self.reference_train_size)
        member = sample.member
        if not run.scores:
            reasons = "; ".join(f"{name}: {why}" for name, why in run.skipped.items())
            return self.result(Status.SKIP, f"None of the attacks asked for applies ({reasons})")
        summary = summarise_attacks(run.scores, member, confidence=self.confidence)
        best, metrics, headline = summary.best, summary.metrics, summary.headline
        attacks = pd.DataFrame(summary.rows)
        skipped = pd.DataFrame({"attack": list(run.skipped), "reason": list(run.skipped.values())})
        at_one = summary.scored[best].at(0.01)
        tables = {"attacks": attacks, "generalisation_gap": self._gap(model, sample, context)}
        if len(skipped):
            tables["attacks_not_run"] = skipped
        best_scores = run.scores[best]
        tables.update(leak_by_group(best_scores, sample, model, at_one.threshold, self.confidence)
                      if at_one.resolvable else {})
        top, images = top_records(best_scores, sample, data, self.n_top_records,
                                  self.show_sensitive)
        tables["top_records"] = top
        notes = self._notes(run, sample, data)
        tables["notes"] = notes
        figures = {"roc": roc_figure(run.scores, member),
                   "scores": Figure("membership_score_histogram", {
                       "members": best_scores[member], "non_members": best_scores[~member],
                       "attack": best, "threshold": at_one.threshold},
                       f"Membership scores of the best attack ({best})")}
        if images is not None:
            figures["top_records"] = images
        return self.result(Status.INFO, headline, metrics=metrics, tables=tables,
                           figures=figures)

    def _gap(self, model: ModelAdapter, sample, context: CheckContext) -> pd.DataFrame:
        proba = target_proba(model, sample, context)
        index = model.label_indices(sample.y)
        correct = proba.argmax(axis=1) == index
        loss = -np.log(np.clip(proba[np.arange(len(index)), index], 1e-12, None))
        rows = []
        for side, mask in (("members (train)", sample.member), ("non-members (test)",
                                                                ~sample.member)):
            n = int(mask.sum())
            low, high = wilson_interval(int(correct[mask].sum()), n, self.confidence)
            loss_low, loss_high = mean_interval(loss[mask], self.confidence)
            rows.append({"records": side, "n": n, "accuracy": correct[mask].mean(),
                         "accuracy_lower": float(low), "accuracy_upper": float(high),
                         "loss": loss[mask].mean(), "loss_lower": loss_low,
                         "loss_upper": loss_high, "accuracy_interval": WILSON,
                         "loss_interval": "Student t"})
        return pd.DataFrame(rows)

    def _notes(self, run, sample, data: AuditData) -> pd.DataFrame:
        notes = [("sample", f"{sample.n_members:,} members from the training records and "
                  f"{sample.n_non_members:,} non-members from the audited records, drawn at "
                  "random (seeded)"),
                 ("smallest resolvable FPR", f"{1 / sample.n_non_members:.3%} "
                  f"(1 / {sample.n_non_members:,} non-members)"),
                 ("thresholds", "set on the non-members so that at most the stated share of "
                  "them is called a member; TPR counted on the members")]
        refs = run.references
        if refs is not None:
            notes.append(("reference models", refs.description))
            n_target = len(data.train)
            same = refs.train_size == n_target
            notes.append(("reference training-set size",
                          f"{refs.train_size:,} records per reference model"
                          + (" (the audited model's training-set size)" if same else
                             f"; the audited model was trained on {n_target:,}"
                             + ("" if self.reference_train_size is not None else
                                " (too few records for a pool of twice that)"))))
            outside = int((~refs.included.any(axis=0)).sum())
            if outside and "lira_online" in run.scores:
                notes.append(("online LiRA", f"{outside:,} scored records are in no reference "
                              "model's pool (it holds twice the training-set size): their IN "
                              "Gaussian is their OUT one shifted by the mean IN - OUT shift of "
                              "the others"))
            notes.append(("reference models, provenance",
                          f"read from the cache at {run.cache_dir}" if refs.from_cache else
                          f"trained in {refs.seconds_training:.1f} s and cached at "
                          f"{run.cache_dir}"))
        return pd.DataFrame(notes, columns=["item", "value"])
