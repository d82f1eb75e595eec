"""Generative: membership inference against a generative model.

Whether an attacker can tell the model's training samples (members) from
held-out real samples (non-members), with the privacy family's metrics
(:mod:`auditkit.checks._membership`): the TPR at 0.1% and 1% FPR with
exact intervals, the smallest resolvable FPR, AUC and advantage. Attacks,
each where the model allows it:

- ``gan_leaks``: the full black-box attack of GAN-Leaks (Chen et al., CCS
  2020): a query close to some generated sample is likely a member; the score
  is minus the distance to the nearest of many generated samples;
- ``discriminator``: LOGAN (Hayes et al., PoPETs 2019): the GAN
  discriminator's logit, which is higher on the samples it was trained on;
- ``reconstruction``: for autoencoders, minus the reconstruction error
  (Hilprecht et al., PoPETs 2019);
- ``elbo``: for VAEs, the evidence lower bound, higher on training samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from ...inputs import AuditData
from ...results import CheckResult, Figure, Status
from .._base import CheckContext, register_check
from .._membership import roc_figure, summarise_attacks
from .._params import CONFIDENCE, Interval, Options, SequenceOf
from ._common import (
    GenerativeCheck,
    draw_rows,
    embedded,
    feature_space,
    generated,
    held_out_like_training,
)
from ._distances import nearest_with_index
from .fidelity import check_sample_shape

__all__ = ["GenerativeMembership"]

ATTACKS = ("gan_leaks", "discriminator", "reconstruction", "elbo")
#: attack -> (model capability it needs, readable name)
_NEEDS = {"gan_leaks": ("generate", "GAN-Leaks full black box (distance to the nearest "
                                    "generated sample)"),
          "discriminator": ("discriminator", "LOGAN (discriminator logit)"),
          "reconstruction": ("reconstruct", "reconstruction error (Hilprecht et al.)"),
          "elbo": ("likelihood", "ELBO (Hilprecht et al.)")}


@register_check
@dataclass(frozen=True)
class GenerativeMembership(GenerativeCheck):
    """TPR at low FPR of membership attacks on a generative model.

    Parameters
    ----------
    attacks : tuple of str, default=("gan_leaks", "discriminator", "reconstruction", "elbo")
        Those the model does not allow are listed as not run, with the reason.
    n_generated : int, default=5000
        Generated samples GAN-Leaks searches.
    space : {"inputs", "features"}, default="inputs"
        Where GAN-Leaks measures distances.
    max_per_side : int or None, default=1000
        Members and non-members each (a seeded draw).
    confidence : float, default=0.95

    Examples
    --------
    >>> from auditkit.checks import GenerativeMembership
    >>> GenerativeMembership(attacks=("gan_leaks",)).n_generated
    5000
    """

    name = "generative_membership"
    order = 4
    description = ("Whether an attacker can tell the model's training samples from other real "
                   "samples: the true-positive rate at 0.1% and 1% false-positive rate of "
                   "GAN-Leaks, the discriminator (LOGAN), the reconstruction error and the ELBO, "
                   "with exact intervals.")
    shares = ("generative.samples", "generative.features")
    verdict_metrics = ("tpr_at_1pct_fpr",)
    parameter_constraints = {
        "attacks": [SequenceOf(Options(ATTACKS), distinct=True)],
        "n_generated": [Interval(Integral, 1, None)],
        "space": [Options(("inputs", "features"))],
        "max_per_side": [Interval(Integral, 10, None), None],
        "confidence": CONFIDENCE,
    }

    attacks: tuple[str, ...] = ATTACKS
    n_generated: int = 5000
    space: str = "inputs"
    max_per_side: int | None = 1000
    confidence: float = 0.95

    def compute(self, model, data: AuditData, *, context: CheckContext) -> CheckResult:
        """Score members and non-members with each attack; see the module docstring."""
        rng = context.rng(self.name)
        members = data.train.X[draw_rows(len(data.train.X), self.max_per_side, rng)]
        like, kept = held_out_like_training(data)
        non_members = data.X[like][draw_rows(len(like), self.max_per_side, rng)]
        queries = np.concatenate([members, non_members])
        member = np.r_[np.ones(len(members), bool), np.zeros(len(non_members), bool)]
        scores: dict[str, np.ndarray] = {}
        skipped: dict[str, str] = {}
        for attack in self.attacks:
            needs, _ = _NEEDS[attack]
            if needs not in model.capabilities:
                skipped[attack] = (f"the model has no {needs} capability "
                                   f"({sorted(model.capabilities)})")
                continue
            scores[attack] = self._score(attack, model, queries, data, context)
        if not scores:
            reasons = "; ".join(f"{a}: {why}" for a, why in skipped.items())
            return self.result(Status.SKIP, f"None of the attacks asked for applies ({reasons})")
        return self._result(scores, skipped, member, data, kept)

    def _score(self, attack: str, model, queries: np.ndarray, data: AuditData,
               context: CheckContext) -> np.ndarray:
        if attack == "gan_leaks":
            space = feature_space(data, self.space)
            samples = generated(model, context, self.n_generated)
            check_sample_shape(samples, data)
            fake = embedded(context, space, f"samples-{self.n_generated}", samples)
            distance, _ = nearest_with_index(space.embed(queries), fake)
            return -distance
        if attack == "discriminator":
            return np.asarray(model.discriminator_score(queries), dtype=np.float64)
        if attack == "reconstruction":
            rebuilt = np.asarray(model.reconstruct(queries), dtype=np.float64)
            flat = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
            return -((flat - rebuilt.reshape(len(queries), -1)) ** 2).sum(axis=1)
        return np.asarray(model.elbo(queries, random_state=context.random_state),
                          dtype=np.float64)

    def _result(self, scores: dict[str, np.ndarray], skipped: dict[str, str],
                member: np.ndarray, data: AuditData, kept: str) -> CheckResult:
        summary = summarise_attacks(scores, member, confidence=self.confidence,
                                    records="the training samples",
                                    extra_columns={a: {"method": _NEEDS[a][1]} for a in scores})
        best, metrics, rows = summary.best, summary.metrics, summary.rows
        n_mem, n_non = int(member.sum()), int((~member).sum())
        tables = {"attacks": pd.DataFrame(rows)}
        if skipped:
            tables["attacks_not_run"] = pd.DataFrame({"attack": list(skipped),
                                                      "reason": list(skipped.values())})
        tables["notes"] = pd.DataFrame([
            ("members", f"{n_mem:,} of the model's training samples (a seeded draw)"),
            ("non-members", f"{n_non:,} held-out real samples (a seeded draw)"
             + (f"; {kept}" if kept else "")),
            ("smallest resolvable FPR", f"{1 / n_non:.3%} (1 / {n_non:,} non-members)"),
            ("GAN-Leaks", f"distance to the nearest of {self.n_generated:,} generated samples, "
             f"in {feature_space(data, self.space).description}"),
        ], columns=["item", "value"])
        best_scores = scores[best]
        figures = {"roc": roc_figure(scores, member),
                   "scores": Figure("membership_score_histogram", {
                       "members": best_scores[member], "non_members": best_scores[~member],
                       "attack": best, "threshold": summary.threshold},
                       f"Membership scores of the best attack ({best})")}
        return self.result(Status.INFO, summary.headline, metrics=metrics, tables=tables,
                           figures=figures)
