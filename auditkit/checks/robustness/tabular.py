"""Robustness: how few feasible feature changes flip a tabular model's predictions.

A black-box, score-based attack that respects the data: it changes only the
features declared mutable (``AuditData.mutable_features``), moves a numeric
feature by at most ``epsilon`` of its valid range and never outside the valid
bounds, keeps discrete numeric features (counts, years, levels) on their
observed values, and switches a categorical feature only to another valid
category. A greedy coordinate search changes at most ``max_features_changed``
features per sample (see :mod:`._tabular_attack`). Reported:
the share of correct predictions it flips (Wilson intervals), robust accuracy,
which features it changed most, and the flip rate per class and per sensitive
group, to show whether one group is easier to attack.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, map_units, register_check
from .._classification import predictions
from .._params import CONFIDENCE, NON_NEGATIVE_INT, POSITIVE_INT, SAMPLE_SIZE, Interval
from ._common import (
    group_robustness_table,
    proportion,
    select_samples,
    wilson_interval,
)
from ._tabular_attack import CATEGORICAL, TabularAttackOutcome, TabularDomain, greedy_attack

__all__ = ["RobustnessTabular"]

#: Values (candidate rows x columns) scored per model call: a unit of work is as many
#: samples as fit, about 32 MB of float64 candidates.
_VALUES_PER_CALL = 4_194_304
NOTHING_MUTABLE = ("No feature may change: every feature of the data is immutable "
                   "(AuditData(..., mutable_features=...) declares the ones an adversary may "
                   "change), so there is nothing to attack.")
NOTHING_CORRECT = ("The model classifies none of the {n} selected samples correctly, so there "
                   "is no correct prediction to attack.")
NEWCOMBE = "Newcombe hybrid score interval (difference of two Wilson intervals)"


def _newcombe(k1: int, n1: int, k2: int, n2: int, confidence: float) -> tuple[float, float]:
    """Interval of p1 - p2 from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = (wilson_interval(k1, n1, confidence), wilson_interval(k2, n2, confidence))
    d = p1 - p2
    return (float(d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
            float(d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


@dataclass(frozen=True)
class _TabularInputs:
    """What every chunk of the attack needs, sent once per worker."""

    model: ModelAdapter
    domain: TabularDomain
    epsilon: float
    n_steps: int
    max_features_changed: int


def _attack_chunk(shared: _TabularInputs, chunk: tuple[np.ndarray, np.ndarray, np.ndarray]
                  ) -> TabularAttackOutcome:
    """One unit of work: the greedy attack on a chunk of (rows, true classes, probabilities)."""
    X, target, proba = chunk
    return greedy_attack(shared.model.predict_proba, X, target, proba, shared.domain,
                         epsilon=shared.epsilon, n_steps=shared.n_steps,
                         max_features_changed=shared.max_features_changed)


@register_check
@dataclass(frozen=True)
class RobustnessTabular(Check):
    """Greedy feasible attack on tabular data: flip rate, changed features, group gaps.

    Parameters
    ----------
    n_samples : int or None, default=500
        Audited samples drawn (seeded) for the attack; None takes all. The
        correctly classified ones among them are attacked.
    max_features_changed : int, default=3
        The budget: at most this many original features (a one-hot group is
        one feature) change per sample.
    epsilon : float, default=0.1
        Largest change of a numeric feature, as a fraction of its valid range
        (``AuditData.valid_bounds``), in (0, 1].
    n_steps : int, default=5
        Candidate values per direction for a numeric feature, evenly spaced
        up to ``epsilon`` of its range.
    max_discrete_values : int, default=32
        A numeric feature with at most this many distinct values in ``X``
        and ``reference`` (or whose values lie on an even grid, like counts)
        moves only to observed values; one with two values is a flag the
        attack may switch.
    n_examples : int, default=5
        Successful attacks shown as examples (0 for none).
    min_group_size : int, default=30
        Groups with fewer samples are flagged in the tables; the group gap
        compares only groups with at least this many attacked samples.
    confidence : float, default=0.95
        Level of the intervals.
    """

    name = "robustness_tabular"
    family = "robustness"
    order = 20
    description = ("Black-box attack within the data's domain: only mutable features, numeric "
                   "ones by at most epsilon of their range and within their valid bounds, "
                   "categorical ones to valid categories. Flip rate, robust accuracy, the "
                   "features changed most, and flip rates per class and sensitive group.")
    requires = frozenset({"predict", "probabilities"})
    modalities = ("tabular",)

    n_samples: int | None = 500
    max_features_changed: int = 3
    epsilon: float = 0.1
    n_steps: int = 5
    max_discrete_values: int = 32
    n_examples: int = 5
    min_group_size: int = 30
    confidence: float = 0.95

    verdict_metrics = ("flip_rate",)
    shares = ("predictions",)
    parameter_constraints = {
        "n_samples": SAMPLE_SIZE,
        "max_features_changed": POSITIVE_INT,
        "epsilon": [Interval(Real, 0, 1, closed="right")],
        "n_steps": POSITIVE_INT,
        "max_discrete_values": POSITIVE_INT,
        "n_examples": NON_NEGATIVE_INT,
        "min_group_size": POSITIVE_INT,
        "confidence": CONFIDENCE,
    }

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Attack the correctly classified samples; see the class docstring."""
        domain = TabularDomain.from_data(data, max_discrete_values=self.max_discrete_values)
        if not domain.mutable.any():
            return self.result(Status.SKIP, NOTHING_MUTABLE)
        pred = predictions(model, data, context)
        index = select_samples(data, self.n_samples, context.rng(self.name))
        correct = pred.correct[index].astype(bool)
        if not correct.any():
            return self.result(Status.SKIP, NOTHING_CORRECT.format(n=len(index)))
        attacked = index[correct]
        X = np.asarray(data.X[attacked], dtype=np.float64)
        target, proba = pred.y[attacked], pred.proba[attacked]
        slots = sum(domain.slots(f, self.n_steps) for f in np.flatnonzero(domain.mutable))
        per_unit = max(1, _VALUES_PER_CALL // (slots * X.shape[1]))

        shared = _TabularInputs(model, domain, self.epsilon, self.n_steps,
                                self.max_features_changed)
        chunks = [(X[s:s + per_unit], target[s:s + per_unit], proba[s:s + per_unit])
                  for s in range(0, len(attacked), per_unit)]
        outcome = TabularAttackOutcome.concatenate(map_units(
            context, _attack_chunk, chunks, description="Tabular attack", shared=shared))
        correct_after = correct.copy()
        correct_after[correct] = ~outcome.flipped
        metrics = self._metrics(outcome, correct, correct_after)
        gaps = self._group_gaps(data, attacked, outcome.flipped)
        if gaps is not None:
            worst = gaps.loc[gaps["gap"].idxmax()]
            metrics["group_flip_rate_gap"] = Metric(
                float(worst["gap"]), float(worst["lower"]), float(worst["upper"]),
                self.confidence, int(worst["n_most"] + worst["n_least"]), NEWCOMBE, False)
        features = self._feature_table(domain, X, outcome)
        budget = self._budget_table(outcome)
        names = pred.class_names
        by_class = group_robustness_table(correct, correct_after,
                                          np.asarray(names, dtype=object)[pred.y[index]],
                                          min_group_size=self.min_group_size,
                                          confidence=self.confidence)
        tables = {"features_changed": features, "flip_rate_by_budget": budget,
                  "by_class": by_class}
        by_group = self._group_table(data, index, correct, correct_after)
        if by_group is not None:
            tables["by_group"] = by_group
        if gaps is not None:
            tables["group_gaps"] = gaps
        examples = self._examples(domain, X, outcome, attacked, target, proba, names)
        if examples is not None:
            tables["examples"] = examples
        figures = self._figures(features, budget, by_class, by_group, outcome)
        return self.result(Status.INFO, self._headline(metrics["flip_rate"], features, gaps),
                           metrics=metrics, tables=tables, figures=figures)

    # -- pieces ------------------------------------------------------------------------

    def _metrics(self, outcome: TabularAttackOutcome, correct: np.ndarray,
                 correct_after: np.ndarray) -> dict[str, Metric]:
        c = self.confidence
        metrics = {
            "flip_rate": proportion(outcome.flipped, confidence=c, higher_is_better=False),
            "robust_accuracy": proportion(correct_after, confidence=c, higher_is_better=True),
            "clean_accuracy": proportion(correct, confidence=c, higher_is_better=True),
        }
        flipped = outcome.flipped
        if flipped.any():
            metrics["mean_features_changed"] = Metric(
                float(outcome.flip_round[flipped].mean()), n=int(flipped.sum()))
        return metrics

    def _group_gaps(self, data: AuditData, attacked: np.ndarray,
                    flipped: np.ndarray) -> pd.DataFrame | None:
        """Per sensitive feature, the most and least attacked judged groups and their gap."""
        if data.sensitive is None:
            return None
        rows = []
        for column in data.sensitive.columns:
            groups = data.sensitive[column].astype(str).to_numpy()[attacked]
            keys, inverse = np.unique(groups, return_inverse=True)
            n = np.bincount(inverse, minlength=len(keys))
            k = np.bincount(inverse, weights=flipped, minlength=len(keys)).astype(np.int64)
            judged = np.flatnonzero(n >= self.min_group_size)  # enough attacked samples
            if len(judged) < 2:
                continue
            rates = k[judged] / n[judged]
            high = judged[np.argmax(rates)]
            low = judged[np.argmin(rates)]
            lower, upper = _newcombe(int(k[high]), int(n[high]), int(k[low]), int(n[low]),
                                     self.confidence)
            rows.append({"sensitive_feature": column, "most_flipped": keys[high],
                         "flip_rate_most": k[high] / n[high], "n_most": int(n[high]),
                         "least_flipped": keys[low], "flip_rate_least": k[low] / n[low],
                         "n_least": int(n[low]), "gap": k[high] / n[high] - k[low] / n[low],
                         "lower": lower, "upper": upper})
        return pd.DataFrame(rows) if rows else None

    def _feature_table(self, domain: TabularDomain, X: np.ndarray,
                       outcome: TabularAttackOutcome) -> pd.DataFrame:
        flipped = outcome.flipped
        n_success = int(flipped.sum())
        rows = []
        for f in np.flatnonzero(domain.mutable):
            who = np.flatnonzero(flipped & outcome.changed[:, f])
            mean_change, typical = np.nan, ""
            if domain.kinds[f] == CATEGORICAL:
                if len(who):
                    before = domain.category_of(X[who], f)
                    after = domain.category_of(outcome.X[who], f)
                    pairs, counts = np.unique(np.stack([before, after], axis=1), axis=0,
                                              return_counts=True)
                    top = pairs[np.argmax(counts)]
                    typical = (f"{domain.describe(f, top[0])} \u2192 "
                               f"{domain.describe(f, top[1])} ({counts.max() / len(who):.0%})")
            elif len(who):
                column = domain.columns[f][0]
                delta = (outcome.X[who, column] - X[who, column]) / domain.value_range(f)
                mean_change = float(np.abs(delta).mean())
                typical = f"up in {np.mean(delta > 0):.0%}"
            rows.append({"feature": domain.names[f], "kind": domain.kinds[f],
                         "times_changed": len(who),
                         "share_of_successful": len(who) / n_success if n_success else 0.0,
                         "mean_abs_change": mean_change, "typical_change": typical})
        table = pd.DataFrame(rows)
        return table.sort_values("times_changed", ascending=False,
                                 kind="stable").reset_index(drop=True)

    def _budget_table(self, outcome: TabularAttackOutcome) -> pd.DataFrame:
        n = len(outcome.flip_round)
        budgets = np.arange(1, self.max_features_changed + 1)
        k = np.array([int(((outcome.flip_round > 0) & (outcome.flip_round <= b)).sum())
                      for b in budgets])
        lower, upper = wilson_interval(k, np.full(len(k), n), self.confidence)
        return pd.DataFrame({"max_features_changed": budgets, "flipped": k, "n": n,
                             "flip_rate": k / n, "lower": lower, "upper": upper})

    def _group_table(self, data: AuditData, index: np.ndarray, correct: np.ndarray,
                     correct_after: np.ndarray) -> pd.DataFrame | None:
        if data.sensitive is None:
            return None
        parts = []
        for column in data.sensitive.columns:
            table = group_robustness_table(correct, correct_after,
                                           data.sensitive[column].to_numpy()[index],
                                           min_group_size=self.min_group_size,
                                           confidence=self.confidence)
            table.insert(0, "sensitive_feature", column)
            parts.append(table)
        return pd.concat(parts, ignore_index=True)

    def _examples(self, domain: TabularDomain, X: np.ndarray, outcome: TabularAttackOutcome,
                  attacked: np.ndarray, target: np.ndarray, proba: np.ndarray,
                  names: tuple[str, ...]) -> pd.DataFrame | None:
        shown = np.flatnonzero(outcome.flipped)[: self.n_examples]
        if not len(shown):
            return None
        rows = []
        for i in shown:  # a handful of examples, for the reader
            for f in np.flatnonzero(outcome.changed[i]):
                c = domain.columns[f]
                if domain.kinds[f] == CATEGORICAL:
                    before = domain.category_of(X[i:i + 1], f)[0]
                    after = domain.category_of(outcome.X[i:i + 1], f)[0]
                    change = np.nan
                else:
                    before, after = X[i, c[0]], outcome.X[i, c[0]]
                    change = (after - before) / domain.value_range(f)
                rows.append({"sample": int(attacked[i]), "true_class": names[target[i]],
                             "new_prediction": names[int(np.argmax(outcome.proba[i]))],
                             "p_true_before": float(proba[i, target[i]]),
                             "p_true_after": float(outcome.proba[i, target[i]]),
                             "feature": domain.names[f],
                             "original": domain.describe(f, before),
                             "adversarial": domain.describe(f, after),
                             "change_of_range": float(change)})
        return pd.DataFrame(rows)

    def _figures(self, features: pd.DataFrame, budget: pd.DataFrame, by_class: pd.DataFrame,
                 by_group: pd.DataFrame | None, outcome: TabularAttackOutcome) -> dict[str, Figure]:
        n = len(outcome.flip_round)
        figures = {
            "flip_rate_by_budget": Figure("tabular_attack_budget", {
                "budget": budget["max_features_changed"].to_numpy(),
                "flip_rate": budget["flip_rate"].to_numpy(), "lower": budget["lower"].to_numpy(),
                "upper": budget["upper"].to_numpy(), "n": n, "epsilon": self.epsilon,
                "confidence": self.confidence},
                "Flip rate by feature budget"),
            "features_changed": Figure("tabular_attack_features", {
                "names": features["feature"].tolist(),
                "share": features["share_of_successful"].to_numpy(),
                "count": features["times_changed"].to_numpy(),
                "n_successful": int(outcome.flipped.sum())},
                "Features the successful attacks changed"),
        }
        sections = [("class", by_class)]
        if by_group is not None:
            sections += [(str(f), t.drop(columns="sensitive_feature"))
                         for f, t in by_group.groupby("sensitive_feature", sort=False)]
        table = pd.concat([t.assign(section=s) for s, t in sections], ignore_index=True)
        figures["by_group"] = Figure("tabular_attack_groups", {
            "sections": table["section"].tolist(), "groups": table["group"].tolist(),
            "attack_success": table["attack_success"].to_numpy(dtype=float),
            "lower": table["success_lower"].to_numpy(dtype=float),
            "upper": table["success_upper"].to_numpy(dtype=float),
            "n": table["n"].to_numpy(), "too_small": table["too_small"].to_numpy(dtype=bool),
            "min_group_size": self.min_group_size, "confidence": self.confidence},
            "Flip rate per class and group")
        return figures

    def _headline(self, flip_rate: Metric, features: pd.DataFrame,
                  gaps: pd.DataFrame | None) -> str:
        numeric = f" (numeric ones by up to {self.epsilon:.0%} of their range)"
        rate = (f"{flip_rate.value:.1%} [{flip_rate.lower:.1%}, {flip_rate.upper:.1%}] of the "
                f"{flip_rate.n:,} correct predictions attacked")
        top = features.iloc[0] if len(features) else None
        tail = (f"; {top['feature']} is changed most ({top['share_of_successful']:.0%} of "
                f"successful attacks)" if top is not None and top["times_changed"] > 0 else "")
        if gaps is not None:
            worst = gaps.loc[gaps["gap"].idxmax()]
            feature = worst["sensitive_feature"]
            tail += (f"; predictions for {feature}={worst['most_flipped']} flip most often "
                     f"({worst['flip_rate_most']:.1%} vs {worst['flip_rate_least']:.1%} for "
                     f"{feature}={worst['least_flipped']})")
        plural = "s" if self.max_features_changed > 1 else ""
        return (f"Changing at most {self.max_features_changed} mutable feature{plural}{numeric} "
                f"flips {rate}{tail}.")
