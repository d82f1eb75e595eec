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
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
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
from ._metrics import NOT_RESOLVABLE, TPR_INTERVAL, attack_score, roc_points, tpr_at_fpr
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
                          rng=context.rng(self.name))
        member = sample.member
        if not run.scores:
            reasons = "; ".join(f"{name}: {why}" for name, why in run.skipped.items())
            return self.result(Status.SKIP, f"None of the attacks asked for applies ({reasons})")
        scored = {name: attack_score(s, member, confidence=self.confidence)
                  for name, s in run.scores.items()}
        rows = []
        for name, score in scored.items():
            low, one = score.at(0.001), score.at(0.01)
            rows.append({"attack": name, "auc": score.auc, "auc_lower": score.auc_lower,
                         "auc_upper": score.auc_upper,
                         "tpr_at_0.1pct_fpr": low.tpr, "tpr_at_0.1pct_lower": low.lower,
                         "tpr_at_0.1pct_upper": low.upper,
                         "tpr_at_1pct_fpr": one.tpr, "tpr_at_1pct_lower": one.lower,
                         "tpr_at_1pct_upper": one.upper, "advantage": score.advantage,
                         "min_resolvable_fpr": score.min_resolvable_fpr,
                         "note": low.reason or ""})
        attacks = pd.DataFrame(rows)
        skipped = pd.DataFrame({"attack": list(run.skipped), "reason": list(run.skipped.values())})
        # best: the highest TPR at 1% FPR, then the highest AUC
        best = max(scored, key=lambda n: (np.nan_to_num(scored[n].at(0.01).tpr, nan=-1.0),
                                          scored[n].auc))
        best_score = scored[best]
        n_non, n_mem = sample.n_non_members, sample.n_members
        # n is left out where the value rests on members and non-members together
        sizes = f"{n_mem:,} members and {n_non:,} non-members"
        metrics = {"auc": Metric(best_score.auc, best_score.auc_lower, best_score.auc_upper,
                                 self.confidence, None, f"DeLong, {sizes}", False),
                   "advantage": Metric(max(s.advantage for s in scored.values()),
                                       method=f"max(TPR - FPR), {sizes}",
                                       higher_is_better=False),
                   "min_resolvable_fpr": Metric(1.0 / n_non, n=n_non),
                   "n_members": Metric(n_mem), "n_non_members": Metric(n_non)}
        at_one = best_score.at(0.01)
        if at_one.resolvable:
            # the best of several attacks is reported: its interval is Bonferroni-widened
            level = 1.0 - (1.0 - self.confidence) / len(scored)
            widened = tpr_at_fpr(run.scores[best], member, 0.01, confidence=level)
            low, high = widened.lower, widened.upper
            metrics["tpr_at_1pct_fpr"] = Metric(
                at_one.tpr, low, high, self.confidence, n_mem,
                f"{TPR_INTERVAL}, Bonferroni over {len(scored)} attacks", False)
            headline = (f"An attacker who accepts 1 false accusation in 100 identifies "
                        f"{at_one.tpr:.1%} [{float(low):.1%}, {float(high):.1%}] of training "
                        f"records (best attack: {best}; {n_mem:,} members, {n_non:,} "
                        f"non-members; AUC {best_score.auc:.3f}).")
        else:
            headline = (f"TPR at 1% FPR is {NOT_RESOLVABLE.format(n=n_non, smallest=1 / n_non)}; "
                        f"best attack {best} has AUC {best_score.auc:.3f}.")
        at_low = best_score.at(0.001)
        if at_low.resolvable:
            metrics["tpr_at_0_1pct_fpr"] = Metric(at_low.tpr, at_low.lower, at_low.upper,
                                                  self.confidence, n_mem, TPR_INTERVAL, False)
        tables = {"attacks": attacks, "generalisation_gap": self._gap(model, sample, context)}
        if len(skipped):
            tables["attacks_not_run"] = skipped
        best_scores = run.scores[best]
        tables.update(leak_by_group(best_scores, sample, model, at_one.threshold, self.confidence)
                      if at_one.resolvable else {})
        top, images = top_records(best_scores, sample, data, self.n_top_records,
                                  self.show_sensitive)
        tables["top_records"] = top
        notes = self._notes(run, sample)
        tables["notes"] = notes
        figures = {"roc": self._roc_figure(run.scores, member, n_non),
                   "scores": Figure("membership_score_histogram", {
                       "members": best_scores[member], "non_members": best_scores[~member],
                       "attack": best, "threshold": at_one.threshold},
                       f"Membership scores of the best attack ({best})")}
        if images is not None:
            figures["top_records"] = images
        return self.result(Status.INFO, headline, metrics=metrics, tables=tables,
                           figures=figures)

    def _roc_figure(self, scores: dict[str, np.ndarray], member: np.ndarray,
                    n_non: int) -> Figure:
        data: dict = {"attacks": list(scores), "min_resolvable_fpr": 1.0 / n_non,
                      "n_members": int(member.sum())}
        for i, s in enumerate(scores.values()):
            fpr, tpr = roc_points(s, member)
            data[f"fpr_{i}"], data[f"tpr_{i}"] = fpr, tpr
        return Figure("membership_roc", data, "ROC of each attack (log-log)")

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

    def _notes(self, run, sample) -> pd.DataFrame:
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
            notes.append(("reference models, provenance",
                          f"read from the cache at {run.cache_dir}" if refs.from_cache else
                          f"trained in {refs.seconds_training:.1f} s and cached at "
                          f"{run.cache_dir}"))
        return pd.DataFrame(notes, columns=["item", "value"])
