"""Fairness: recourse, the share of decisions a person could change, per sensitive group.

Recourse asks whether a person who gets a decision could change it by acting
on the features they control (``AuditData.mutable_features``: working hours,
occupation, ...), and whether that chance differs between groups. A greedy,
score-based search in the data's domain (:mod:`auditkit.checks._tabular`)
changes at most ``max_features_changed`` actionable features (numeric ones by
at most ``epsilon`` of their valid range, categorical ones to another valid
category) to move each prediction away from its class. Reported as
information: the recourse rate with Wilson intervals, per group, and per
sensitive feature the gap between the judged groups with the most and the
least recourse (Newcombe interval) and a chi-square test of equal rates
across its groups (Holm-corrected over the features).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

from ..._stats import NEWCOMBE, newcombe_interval, wilson_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, map_units, register_check
from .._classification import input_rows, predictions
from .._params import CONFIDENCE, NON_NEGATIVE_INT, POSITIVE_INT, SAMPLE_SIZE, Interval
from .._tabular import (
    TabularAttackOutcome,
    TabularDomain,
    greedy_attack,
)

__all__ = ["FairnessRecourse"]

_VALUES_PER_CALL = 4_194_304
NOTHING_ACTIONABLE = ("No feature is actionable: every feature of the data is immutable "
                      "(AuditData(..., mutable_features=...) declares the ones a person can "
                      "change), so there is no recourse to measure.")
NO_CANDIDATE = ("None of the {n} selected samples gets a prediction other than the "
                "favourable class, so there is no decision to change.")


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), in the order given."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p_values[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted


@dataclass(frozen=True)
class _RecourseInputs:
    """What every chunk of the search needs, sent once per worker."""

    model: ModelAdapter
    domain: TabularDomain
    epsilon: float
    n_steps: int
    max_features_changed: int


def _recourse_chunk(shared: _RecourseInputs, chunk: tuple[np.ndarray, np.ndarray, np.ndarray]
                    ) -> TabularAttackOutcome:
    """One unit of work: the search on a chunk of (rows, predicted classes, probabilities)."""
    X, target, proba = chunk
    return greedy_attack(shared.model.predict_proba, X, target, proba, shared.domain,
                         epsilon=shared.epsilon, n_steps=shared.n_steps,
                         max_features_changed=shared.max_features_changed)


@register_check
@dataclass(frozen=True)
class FairnessRecourse(Check):
    """Share of decisions that actionable changes can reverse, per sensitive group.

    Parameters
    ----------
    n_samples : int or None, default=500
        Audited samples drawn (seeded); None takes all.
    favourable_class : int or None, default=None
        Column index of the favourable outcome: only samples predicted
        otherwise seek recourse. None: every prediction, moved to any other class.
    max_features_changed : int, default=3
        At most this many actionable features change per sample.
    epsilon : float, default=0.1
        Largest change of a numeric actionable feature, as a fraction of its
        valid range, in (0, 1].
    n_steps : int, default=5
        Candidate values per direction for a numeric feature.
    max_discrete_values : int, default=32
        A numeric feature with at most this many distinct values (or values on
        an even grid) moves only to observed values.
    min_group_size : int, default=30
        Groups with fewer samples seeking recourse are flagged and left out of the gaps.
    confidence : float, default=0.95
        Level of the intervals.
    """

    name = "fairness_recourse"
    family = "fairness"
    order = 60
    description = ("Recourse: the share of decisions that at most a few changes of actionable "
                   "features reverse, per sensitive group, with the gap between groups and a "
                   "test of equal recourse.")
    requires = frozenset({"predict", "probabilities"})
    modalities = ("tabular",)

    n_samples: int | None = 500
    favourable_class: int | None = None
    max_features_changed: int = 3
    epsilon: float = 0.1
    n_steps: int = 5
    max_discrete_values: int = 32
    min_group_size: int = 30
    confidence: float = 0.95

    verdict_metrics = ()
    shares = ("predictions",)
    parameter_constraints = {
        "n_samples": SAMPLE_SIZE,
        "favourable_class": [*NON_NEGATIVE_INT, None],
        "max_features_changed": POSITIVE_INT,
        "epsilon": [Interval(Real, 0, 1, closed="right")],
        "n_steps": POSITIVE_INT,
        "max_discrete_values": POSITIVE_INT,
        "min_group_size": POSITIVE_INT,
        "confidence": CONFIDENCE,
    }

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Search for recourse per sample; see the class docstring."""
        domain = TabularDomain.from_data(data, max_discrete_values=self.max_discrete_values)
        if not domain.mutable.any():
            return self.result(Status.SKIP, NOTHING_ACTIONABLE)
        pred = predictions(model, data, context)
        rng = context.rng(self.name)
        chosen = rng.permutation(data.n_samples)[: self.n_samples or data.n_samples]
        index = np.sort(chosen)
        proba = pred.proba[input_rows(data)[index]]  # streamed data: the sample's own rows
        predicted = np.argmax(proba, axis=1)
        if self.favourable_class is not None:
            keep = predicted != self.favourable_class
            index, predicted, proba = index[keep], predicted[keep], proba[keep]
        if not len(index):
            return self.result(Status.SKIP, NO_CANDIDATE.format(n=len(chosen)))
        X = np.asarray(data.X[index], dtype=np.float64)
        slots = sum(domain.slots(f, self.n_steps) for f in np.flatnonzero(domain.mutable))
        per_unit = max(1, _VALUES_PER_CALL // (slots * X.shape[1]))
        shared = _RecourseInputs(model, domain, self.epsilon, self.n_steps,
                                 self.max_features_changed)
        chunks = [(X[s:s + per_unit], predicted[s:s + per_unit], proba[s:s + per_unit])
                  for s in range(0, len(index), per_unit)]
        outcome = TabularAttackOutcome.concatenate(map_units(
            context, _recourse_chunk, chunks, description="Recourse search", shared=shared))
        found = outcome.flipped
        low, high = (float(v) for v in wilson_interval(int(found.sum()), len(found),
                                                        self.confidence))
        metrics = {"recourse_rate": Metric(float(found.mean()), low, high, self.confidence,
                                           len(found), "Wilson score interval", True)}
        tables = {"features_changed": self._features(domain, outcome)}
        gaps = None
        if data.sensitive is not None:  # without groups, the rate alone is still worth knowing
            tables["by_group"] = self._group_table(data, index, found)
            gaps = self._gaps(tables["by_group"])
        if gaps is not None:
            tables["group_gaps"] = gaps
            worst = gaps.loc[gaps["gap"].idxmax()]
            metrics["group_recourse_gap"] = Metric(
                float(worst["gap"]), float(worst["lower"]), float(worst["upper"]),
                self.confidence, int(worst["n_most"] + worst["n_least"]), NEWCOMBE, False)
        figures = {"features": Figure("recourse_features", {
            "names": tables["features_changed"]["feature"].tolist(),
            "count": tables["features_changed"]["times_changed"].to_numpy(),
            "n_reversed": int(found.sum())}, "Actionable features a reversing change uses")}
        if "by_group" in tables:
            by_group = tables["by_group"]
            figures["groups"] = Figure("recourse_groups", {
                "sections": by_group["sensitive_feature"].tolist(),
                "groups": by_group["group"].tolist(),
                "recourse_rate": by_group["recourse_rate"].to_numpy(),
                "lower": by_group["lower"].to_numpy(), "upper": by_group["upper"].to_numpy(),
                "n": by_group["n"].to_numpy(), "too_small": by_group["too_small"].to_numpy(),
                "min_group_size": self.min_group_size, "confidence": self.confidence},
                "Recourse rate by sensitive group")
        return self.result(Status.INFO, self._headline(metrics, gaps), metrics=metrics,
                           tables=tables, figures=figures)

    def _group_table(self, data: AuditData, index: np.ndarray,
                     found: np.ndarray) -> pd.DataFrame:
        rows = []
        for column in data.sensitive.columns:
            groups = data.sensitive[column].astype(str).to_numpy()[index]
            for group in np.unique(groups):
                who = groups == group
                k, n = int(found[who].sum()), int(who.sum())
                low, high = (float(v) for v in wilson_interval(k, n, self.confidence))
                rows.append({"sensitive_feature": column, "group": group, "n": n,
                             "recourse": k, "recourse_rate": k / n, "lower": low,
                             "upper": high, "too_small": n < self.min_group_size})
        return pd.DataFrame(rows)

    def _gaps(self, by_group: pd.DataFrame) -> pd.DataFrame | None:
        """Per sensitive feature: most against least recourse, and a test of equal rates."""
        rows = []
        for column, table in by_group[~by_group["too_small"]].groupby("sensitive_feature",
                                                                        sort=False):
            if len(table) < 2:
                continue
            high = table.loc[table["recourse_rate"].idxmax()]
            low = table.loc[table["recourse_rate"].idxmin()]
            lower, upper = newcombe_interval(int(high["recourse"]), int(high["n"]),
                                             int(low["recourse"]), int(low["n"]),
                                             self.confidence)
            counts = np.column_stack([table["recourse"], table["n"] - table["recourse"]])
            p_value = 1.0 if (counts.sum(axis=0) == 0).any() else \
                float(chi2_contingency(counts, correction=False).pvalue)
            rows.append({"sensitive_feature": column, "most_recourse": high["group"],
                         "rate_most": high["recourse_rate"], "n_most": int(high["n"]),
                         "least_recourse": low["group"], "rate_least": low["recourse_rate"],
                         "n_least": int(low["n"]),
                         "gap": high["recourse_rate"] - low["recourse_rate"],
                         "lower": lower, "upper": upper, "p_value": p_value})
        if not rows:
            return None
        gaps = pd.DataFrame(rows)
        gaps["p_value_holm"] = _holm(gaps["p_value"].to_numpy())
        return gaps

    @staticmethod
    def _features(domain: TabularDomain, outcome: TabularAttackOutcome) -> pd.DataFrame:
        found = outcome.flipped
        rows = [{"feature": domain.names[f], "kind": domain.kinds[f],
                 "times_changed": int((found & outcome.changed[:, f]).sum())}
                for f in np.flatnonzero(domain.mutable)]
        return pd.DataFrame(rows).sort_values("times_changed", ascending=False,
                                              kind="stable").reset_index(drop=True)

    def _headline(self, metrics: dict[str, Metric], gaps: pd.DataFrame | None) -> str:
        rate = metrics["recourse_rate"]
        plural = "s" if self.max_features_changed > 1 else ""
        text = (f"Changing at most {self.max_features_changed} actionable feature{plural} "
                f"reverses {rate.value:.1%} [{rate.lower:.1%}, {rate.upper:.1%}] of "
                f"{rate.n:,} decisions")
        if gaps is not None:
            worst = gaps.loc[gaps["gap"].idxmax()]
            feature = worst["sensitive_feature"]
            text += (f"; {feature}={worst['most_recourse']} {worst['rate_most']:.1%} against "
                     f"{feature}={worst['least_recourse']} {worst['rate_least']:.1%} (gap "
                     f"[{worst['lower']:.1%}, {worst['upper']:.1%}], Holm-corrected "
                     f"p = {worst['p_value_holm']:.2g})")
        return text + "."
