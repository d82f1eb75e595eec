"""Robustness: tabular predictions under changes that should not matter, against a baseline.

Two kinds of change should leave a decision as it is: noise within the
measurement precision of numeric features (at most ``noise`` of a feature's
valid range, discrete features only to observed values) and any valid value of
a feature the user marks as irrelevant (``irrelevant_features``). A greedy,
score-based search (:func:`auditkit.checks._tabular.greedy_attack`) looks for
the smallest such change that moves each prediction away from the model's own
class. The same search runs on a reference model fitted on the fly on the same
data (a standardised logistic regression, on ``AuditData.train``, else on the
reference inputs labelled by the audited model), so that the verdict reads
"more fragile than a simple model on the same data": the judged number is the
lower confidence bound of the difference of flip rates, from a paired interval
on the audited samples widened by how much the baseline's flip rate varies
over bootstrap refits (a model fitted on other rows of the same data would be
as fragile give or take that much). Changes of the
case itself (actionable features: recourse) are not measured here; see
``fairness_recourse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ...exceptions import CheckError
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Metric, Status
from .._base import Check, CheckContext, map_units, register_check
from .._classification import predictions
from .._params import CONFIDENCE, POSITIVE_INT, SAMPLE_SIZE, Interval, SequenceOf
from .._tabular import (
    BINARY,
    CATEGORICAL,
    NEWCOMBE_PAIRED,
    TabularAttackOutcome,
    TabularDomain,
    greedy_attack,
    newcombe_paired_interval,
)
from ._common import proportion, select_samples

__all__ = ["RobustnessTabular"]

#: Values (candidate rows x columns) scored per model call.
_VALUES_PER_CALL = 4_194_304
NOTHING_TO_PERTURB = ("No feature may change without changing the case: noise is 0 and no "
                      "feature is marked irrelevant (options 'noise' and "
                      "'irrelevant_features'), so there is nothing to perturb.")
UNKNOWN_FEATURE = ("The 'irrelevant_features' option of check 'robustness_tabular' must name "
                   "features of the data (feature names or feature_groups keys). Got {got} "
                   "instead.")
ONE_CLASS = ("The baseline needs at least two classes in its training labels ({source}); "
             "got one, so there is nothing to compare against.")
BASELINE = "standardised logistic regression"


@dataclass(frozen=True)
class _Baseline:
    """A fitted scikit-learn pipeline whose probabilities fill the model's class columns."""

    pipeline: Pipeline
    n_classes: int

    def __call__(self, X: np.ndarray) -> np.ndarray:
        proba = np.zeros((len(X), self.n_classes))
        if len(X):  # a round may have no candidate left
            proba[:, self.pipeline.classes_] = self.pipeline.predict_proba(X)
        return proba


@dataclass(frozen=True)
class _Inputs:
    """What every chunk of the search needs, sent once per worker."""

    model: ModelAdapter
    baselines: tuple[_Baseline, ...]
    domain: TabularDomain
    radius: np.ndarray
    n_steps: int
    max_features_changed: int


def _search_chunk(shared: _Inputs, unit: tuple[int, np.ndarray, np.ndarray, np.ndarray]
                  ) -> TabularAttackOutcome:
    """One unit of work: the search on a chunk, for the model (0) or baseline ``which - 1``."""
    which, X, target, proba = unit
    predict = shared.model.predict_proba if which == 0 else shared.baselines[which - 1]
    return greedy_attack(predict, X, target, proba, shared.domain, epsilon=shared.radius,
                         n_steps=shared.n_steps,
                         max_features_changed=shared.max_features_changed)


def _fit_unit(shared: tuple[np.ndarray, np.ndarray, int], rows: np.ndarray) -> _Baseline | None:
    """One unit of work: a baseline fitted on ``rows`` of the training data (None: one class)."""
    X, y, n_classes = shared
    if len(np.unique(y[rows])) < 2:
        return None
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return _Baseline(pipeline.fit(X[rows], y[rows]), n_classes)


@register_check
@dataclass(frozen=True)
class RobustnessTabular(Check):
    """Flips under changes that should not matter, against a baseline on the same data.

    Parameters
    ----------
    n_samples : int or None, default=500
        Audited samples drawn (seeded); None takes all. Each prediction (right
        or wrong) is moved away from the predicted class.
    noise : float, default=0.02
        Measurement precision: the largest change of a numeric feature, as a
        fraction of its valid range (``AuditData.valid_bounds``), in [0, 1].
        Discrete numeric features move only to observed values within it;
        flags and categories never move. 0 for no noise.
    irrelevant_features : tuple of str, default=()
        Features (names or ``feature_groups`` keys) that should not matter to
        the decision: they may take any valid value or category.
    max_features_changed : int or None, default=None
        At most this many features change per sample; None: all of them.
    n_steps : int, default=5
        Candidate values per direction for a numeric feature.
    max_discrete_values : int, default=32
        A numeric feature with at most this many distinct values (or values on
        an even grid, like counts) is discrete.
    baseline_max_samples : int, default=5000
        Training rows (drawn, seeded) the baseline is fitted on, at most.
    n_refits : int, default=5
        Baselines refitted on bootstrap resamples of those rows: how much the
        flip rate of a model fitted on such data varies with the sample
        widens the interval of the excess (at least 2).
    confidence : float, default=0.95
        Level of the intervals.
    """

    name = "robustness_tabular"
    # Relative cost (progress ETA): a search over feature changes per sample.
    cost = 5.0
    family = "robustness"
    order = 20
    description = ("Flips under changes that should not change the outcome (noise within "
                   "measurement precision, features marked irrelevant), against a logistic "
                   "regression fitted on the same data: the excess flip rate with its interval.")
    requires = frozenset({"predict", "probabilities"})
    modalities = ("tabular",)

    n_samples: int | None = 500
    noise: float = 0.02
    irrelevant_features: tuple[str, ...] = ()
    max_features_changed: int | None = None
    n_steps: int = 5
    max_discrete_values: int = 32
    baseline_max_samples: int = 5_000
    n_refits: int = 5
    confidence: float = 0.95

    verdict_metrics = ("excess_flip_rate_lower_bound",)
    shares = ("predictions",)
    parameter_constraints = {
        "n_samples": SAMPLE_SIZE,
        "noise": [Interval(Real, 0, 1)],
        "irrelevant_features": [SequenceOf("string", min_length=0, distinct=True)],
        "max_features_changed": SAMPLE_SIZE,
        "n_steps": POSITIVE_INT,
        "max_discrete_values": POSITIVE_INT,
        "baseline_max_samples": POSITIVE_INT,
        "n_refits": [Interval(Integral, 2, None)],
        "confidence": CONFIDENCE,
    }

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Search both models for flips; see the class docstring."""
        domain = TabularDomain.from_data(data, max_discrete_values=self.max_discrete_values)
        radius, changeable = self._perturbation(domain)
        if not changeable.any():
            return self.result(Status.SKIP, NOTHING_TO_PERTURB)
        domain = domain.with_changeable(changeable)
        rng = context.rng(self.name)
        pred = predictions(model, data, context)
        baselines, source = self._fit_baselines(model, data, pred.proba.shape[1], rng, context)
        if baselines[0] is None:
            return self.result(Status.SKIP, ONE_CLASS.format(source=source))
        baselines = tuple(b for b in baselines if b is not None)
        index = select_samples(data, self.n_samples, rng)
        X = np.asarray(data.X[index], dtype=np.float64)
        proba = [pred.proba[index]] + [b(X) for b in baselines]
        own = [np.argmax(p, axis=1) for p in proba]
        slots = sum(domain.slots(f, self.n_steps) for f in np.flatnonzero(changeable))
        per_unit = max(1, _VALUES_PER_CALL // (slots * X.shape[1]))
        budget = self.max_features_changed or int(changeable.sum())
        shared = _Inputs(model, baselines, domain, radius, self.n_steps, budget)
        starts = range(0, len(index), per_unit)
        units = [(k, X[s:s + per_unit], own[k][s:s + per_unit], proba[k][s:s + per_unit])
                 for k in range(len(proba)) for s in starts]
        parts = map_units(context, _search_chunk, units, description="Tabular invariance",
                          shared=shared)
        outcome = [TabularAttackOutcome.concatenate(parts[k * len(starts):(k + 1) * len(starts)])
                   for k in range(len(proba))]
        refit_rates = np.array([o.flipped.mean() for o in outcome[2:]])
        metrics = self._metrics(outcome[0].flipped, outcome[1].flipped, refit_rates, own,
                                pred.y[index])
        tables = {"features_changed": self._feature_table(domain, outcome[:2]),
                  "comparison": self._comparison(metrics, source)}
        return self.result(Status.INFO, self._headline(metrics, source), metrics=metrics,
                           tables=tables)

    # -- pieces ------------------------------------------------------------------------

    def _perturbation(self, domain: TabularDomain) -> tuple[np.ndarray, np.ndarray]:
        """Per original feature: how far it may move, and whether it may move at all."""
        unknown = sorted(set(self.irrelevant_features) - set(domain.names))
        if unknown:
            raise CheckError(UNKNOWN_FEATURE.format(got=unknown))
        irrelevant = np.array([n in self.irrelevant_features for n in domain.names], dtype=bool)
        numeric = np.array([k not in (BINARY, CATEGORICAL) for k in domain.kinds], dtype=bool)
        noisy = numeric & (self.noise > 0)
        radius = np.where(irrelevant, 1.0, np.where(noisy, self.noise, 0.0))
        return radius, irrelevant | noisy

    def _fit_baselines(self, model: ModelAdapter, data: AuditData, n_classes: int,
                       rng: np.random.Generator, context: CheckContext
                       ) -> tuple[tuple[_Baseline | None, ...], str]:
        """Logistic regressions on the training split (else on the model's own labels).

        The first is fitted on the rows themselves, the others on bootstrap
        resamples of them; a fit whose labels hold one class is None.
        """
        if data.train is not None:
            X, y, source = data.train.X, model.label_indices(data.train.y), "the training split"
        else:
            X = data.reference_inputs
            y = np.argmax(model.predict_proba(X), axis=1)
            source = "the reference inputs, labelled by the audited model"
        if len(X) > self.baseline_max_samples:
            keep = np.sort(rng.choice(len(X), self.baseline_max_samples, replace=False))
            X, y = X[keep], y[keep]
        rows = [np.arange(len(X))] + [rng.integers(0, len(X), len(X))
                                      for _ in range(self.n_refits)]
        fitted = map_units(context, _fit_unit, rows, description="Baseline fits",
                           shared=(np.asarray(X, dtype=np.float64), y, n_classes))
        return tuple(fitted), f"{source} ({len(X):,} rows)"

    def _metrics(self, flipped: np.ndarray, baseline_flipped: np.ndarray,
                 refit_rates: np.ndarray, own: list[np.ndarray],
                 y: np.ndarray) -> dict[str, Metric]:
        c = self.confidence
        n = len(flipped)
        excess = float(flipped.mean() - baseline_flipped.mean())
        lower, upper = newcombe_paired_interval(flipped, baseline_flipped, c)
        # The audited model and the baseline are each one fit of many possible ones: the
        # spread of the refits' flip rates, twice (one fit for each side), widens the interval.
        spread = float(np.std(refit_rates, ddof=1)) if len(refit_rates) > 1 else 0.0
        fit_half = float(student_t.ppf((1 + c) / 2, max(len(refit_rates) - 1, 1))
                         * spread * np.sqrt(2.0))
        lower = excess - float(np.hypot(excess - lower, fit_half))
        upper = excess + float(np.hypot(upper - excess, fit_half))
        method = (f"{NEWCOMBE_PAIRED}, widened by the spread of the flip rate over "
                  f"{len(refit_rates)} bootstrap refits of the baseline (t quantile)")
        return {
            "flip_rate": proportion(flipped, confidence=c, higher_is_better=False),
            "baseline_flip_rate": proportion(baseline_flipped, confidence=c,
                                             higher_is_better=False),
            "baseline_refit_spread": Metric(spread, n=len(refit_rates),
                                            method="standard deviation over bootstrap refits"),
            "excess_flip_rate": Metric(excess, lower, upper, c, n, method, False),
            "excess_flip_rate_lower_bound": Metric(lower, n=n, method=(
                f"lower bound of the {c:.0%} interval: {method}"), higher_is_better=False),
            "accuracy": proportion(own[0] == y, confidence=c, higher_is_better=True),
            "baseline_accuracy": proportion(own[1] == y, confidence=c, higher_is_better=True),
            "baseline_agreement": proportion(own[0] == own[1], confidence=c),
        }

    @staticmethod
    def _feature_table(domain: TabularDomain,
                       outcome: list[TabularAttackOutcome]) -> pd.DataFrame:
        rows = []
        for f in np.flatnonzero(domain.mutable):
            counts = [int((o.flipped & o.changed[:, f]).sum()) for o in outcome]
            rows.append({"feature": domain.names[f], "kind": domain.kinds[f],
                         "changed_in_model_flips": counts[0],
                         "changed_in_baseline_flips": counts[1]})
        return pd.DataFrame(rows).sort_values("changed_in_model_flips", ascending=False,
                                              kind="stable").reset_index(drop=True)

    @staticmethod
    def _comparison(metrics: dict[str, Metric], source: str) -> pd.DataFrame:
        rows = []
        for who, prefix, fitted in (("audited model", "", ""),
                                    (BASELINE, "baseline_", source)):
            flips, accuracy = metrics[f"{prefix}flip_rate"], metrics[f"{prefix}accuracy"]
            rows.append({"model": who, "fitted_on": fitted, "flip_rate": flips.value,
                         "lower": flips.lower, "upper": flips.upper,
                         "accuracy": accuracy.value, "n": flips.n})
        return pd.DataFrame(rows)

    def _headline(self, metrics: dict[str, Metric], source: str) -> str:
        flips, base, excess = (metrics["flip_rate"], metrics["baseline_flip_rate"],
                               metrics["excess_flip_rate"])
        changes = []
        if self.noise > 0:
            changes.append(f"numeric noise up to {self.noise:.0%} of the range")
        if self.irrelevant_features:
            changes.append("any value of " + ", ".join(self.irrelevant_features))
        return (f"Changes that should not matter ({'; '.join(changes)}) flip {flips.value:.1%} "
                f"of {flips.n:,} predictions, against {base.value:.1%} for a {BASELINE} "
                f"fitted on {source}: {excess.value:+.1%} "
                f"[{excess.lower:+.1%}, {excess.upper:+.1%}].")
