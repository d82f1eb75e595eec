"""Privacy: an empirical lower bound on the differential-privacy epsilon, from planted canaries.

Some canaries went into training and some were held out (``AuditData(...,
canaries=(X, y, included))``). Each is scored by the loss-threshold attack
(the audited model's log-probability of the canary's label; label-only
models: whether it is classified correctly, ties broken at random). The
reference models of :mod:`._reference` are not used: they are trained on a
pool that holds no canaries, so they give no IN/OUT calibration for them.
How well the score separates included from held-out canaries becomes two
lower bounds on epsilon (:mod:`._epsilon`): the one-run audit of Steinke,
Nasr & Jagielski (2023) and the classic TPR/FPR bound; the larger is
reported, each computed at half the error rate so that the larger keeps the
stated confidence. The one-run bound is valid when each canary was included
by an independent fair coin, which ``AuditData``'s canaries are asked to be;
the check tests the number included against Binomial(m, 1/2) and drops the
one-run bound when the count rules a fair coin out.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ..._stats import delong_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._params import CONFIDENCE, Interval
from ._epsilon import classic_epsilon, one_run_epsilon_bound

__all__ = ["PrivacyCanaryAudit"]

NO_CANARIES = ("This check needs planted canaries: AuditData(..., canaries=(X_canaries, "
               "y_canaries, included)), records drawn alike of which a random half (a fair coin "
               "per record) was put in the training set; the audited data has none.")


@register_check
@dataclass(frozen=True)
class PrivacyCanaryAudit(Check):
    """Lower bound on the DP epsilon of training, from how well canaries' membership shows.

    Parameters
    ----------
    delta : float, default=1e-5
        The delta of the (epsilon, delta)-DP hypothesis being refuted.
    fair_coin_alpha : float, default=0.001
        The one-run bound is dropped when a two-sided binomial test of the
        number of included canaries against Binomial(m, 1/2) has a p-value
        under this (their inclusion was then not a fair coin per canary).
    confidence : float, default=0.95
        Confidence of the bound, over the two bounds and every guess tried.

    Examples
    --------
    >>> from auditkit.checks import PrivacyCanaryAudit
    >>> PrivacyCanaryAudit(delta=1e-6).delta
    1e-06
    """

    name = "privacy_canary_audit"
    # Relative cost (progress ETA): model calls on the canaries.
    cost = 5.0
    family = "privacy"
    order = 2
    description = ("An empirical lower bound on the differential-privacy epsilon of training: "
                   "how well a loss attack tells included canaries from held-out ones "
                   "(one-run audit of Steinke et al. 2023, and the classic TPR/FPR bound).")
    requires = frozenset({"predict"})
    shares = ("proba",)
    verdict_metrics = ("epsilon_lower_bound",)
    parameter_constraints = {"delta": [Interval(Real, 0, 1, closed="left")],
                             "fair_coin_alpha": [Interval(Real, 0, 1, closed="neither")],
                             "confidence": CONFIDENCE}

    delta: float = 1e-5
    fair_coin_alpha: float = 0.001
    confidence: float = 0.95

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """SKIP without canaries; otherwise the base class's reasons."""
        return super().skip_reason(model, data) or \
            (NO_CANARIES if data.canaries is None else None)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Score the canaries and bound epsilon; see the class docstring."""
        canaries = data.canaries
        included = np.asarray(canaries.included, dtype=bool)
        proba = context.predict_proba(model, canaries.X, key="privacy.canaries")
        index = model.label_indices(canaries.y)
        rng = context.rng(self.name)
        if "probabilities" in model.capabilities:
            scores = np.log(np.clip(proba[np.arange(len(index)), index], 1e-300, None))
            attack, short = "loss threshold (log-probability of the canary's label)", "loss"
        else:
            scores = (proba.argmax(axis=1) == index).astype(np.float64)
            attack, short = "label-only gap (correctly classified)", "gap"
        # each bound at half the error rate: the larger of the two keeps the confidence
        level = 1.0 - (1.0 - self.confidence) / 2
        one_run = one_run_epsilon_bound(scores, included, delta=self.delta, confidence=level,
                                        rng=rng)
        classic = classic_epsilon(scores, included, delta=self.delta, confidence=level)
        m, n_in = len(scores), int(included.sum())
        coin_p = float(binomtest(n_in, m, 0.5).pvalue)
        one_run_valid = coin_p >= self.fair_coin_alpha
        one_run_epsilon = one_run.epsilon if one_run_valid else 0.0
        epsilon = max(one_run_epsilon, classic.epsilon)
        method = "one-run audit" if one_run_epsilon >= classic.epsilon and one_run_valid \
            else "classic TPR/FPR"
        auc, auc_low, auc_high, _ = delong_interval(scores, included, self.confidence)
        bounds = pd.DataFrame([
            {"method": "one-run audit (Steinke, Nasr & Jagielski 2023)",
             "epsilon_lower_bound": one_run.epsilon, "tries": one_run.n_tries,
             "valid": one_run_valid,
             "detail": (f"IN for the top {one_run.detail['k_plus']}, OUT for the bottom "
                        f"{one_run.detail['k_minus']}: {one_run.detail['correct']} of "
                        f"{one_run.detail['guesses']} guesses right")},
            {"method": "classic TPR/FPR (Clopper-Pearson)",
             "epsilon_lower_bound": classic.epsilon, "tries": classic.n_tries,
             "valid": True,
             "detail": (f"threshold at {classic.detail['target_fpr']:.0%} FPR: TPR "
                        f"{classic.detail['tpr']:.1%} (lower {classic.detail['tpr_lower']:.1%}), "
                        f"FPR {classic.detail['fpr']:.1%} (upper "
                        f"{classic.detail['fpr_upper']:.1%})")}])
        notes = pd.DataFrame([
            ("canaries", f"{m:,}: {n_in:,} included in training, {m - n_in:,} held out"),
            ("attack", attack),
            ("confidence", f"{self.confidence:.0%} for the larger bound: each bound at "
             f"{level:.1%}, and each guess or threshold Bonferroni-corrected within it"),
            ("assumption", "the one-run bound assumes each canary was included by an "
             "independent fair coin, as AuditData's canaries are asked to be; the classic "
             "bound only that included and held-out canaries were drawn alike"),
            ("fair coin", (f"{n_in:,} of {m:,} included: consistent with a fair coin per canary "
                           f"(two-sided binomial test p = {coin_p:.3g}); the one-run bound is "
                           "valid") if one_run_valid else
             (f"{n_in:,} of {m:,} included: not a fair coin per canary (two-sided binomial "
              f"test p = {coin_p:.3g} < {self.fair_coin_alpha:g}); the one-run bound is not "
              "valid and is left out, the classic bound alone is reported")),
        ], columns=["item", "value"])
        if epsilon > 0:
            headline = (f"This model behaves no better than epsilon >= {epsilon:.2f} "
                        f"({self.confidence:.0%} confidence, delta = {self.delta:g}; {method} "
                        f"on {m:,} canaries; {short} attack AUC {auc:.3f}).")
        else:
            headline = (f"The {m:,} canaries give no lower bound on epsilon above 0 at "
                        f"{self.confidence:.0%} confidence (delta = {self.delta:g}; {short} "
                        f"attack AUC {auc:.3f}).")
        # n is left out: it counts audited samples, and canaries are not among them
        metrics = {"epsilon_lower_bound": Metric(epsilon, confidence=self.confidence,
                                                 method=f"larger of the one-run and classic "
                                                 f"bounds at {self.confidence:.0%}, {m:,} "
                                                 "canaries", higher_is_better=False),
                   "canary_auc": Metric(auc, auc_low, auc_high, self.confidence, None,
                                        f"DeLong, {m:,} canaries", False)}
        figure = Figure("membership_score_histogram", {
            "members": scores[included], "non_members": scores[~included], "attack": short,
            "member_label": "included canaries", "non_member_label": "held-out canaries"},
            "Canary scores: included against held out")
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"bounds": bounds, "notes": notes},
                           figures={"canary_scores": figure})
