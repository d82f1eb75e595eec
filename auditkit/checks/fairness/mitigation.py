"""Fairness mitigation: what post-processing would buy, and what it would cost in accuracy.

fairlearn's :class:`~fairlearn.postprocessing.ThresholdOptimizer` (group-specific,
possibly randomised thresholds on the positive-class probability) under
demographic parity and under equalized odds, maximising accuracy. The audit
split is the only labelled data the model was not trained on, so it is cut in
two with the audit's seed, stratified by group and label: the thresholds are
fitted on one half and judged on the other. Accuracy, demographic parity and
equalized odds differences (fairlearn) of the unmitigated model and of each
mitigated one, by the first sensitive feature. Binary classifiers only.

Every search fits on all the rows it is given, so above ``max_samples`` rows
the check works on a seeded sample of that size and says so in its headline.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import Predictions, input_rows, predictions
from .._params import POSITIVE_INT, SAMPLE_SIZE, Interval, Options, SequenceOf
from .._progress import Bar
from ._common import GROUPING_CONSTRAINTS, sensitive_group_sets

__all__ = ["FairnessMitigation"]

CONSTRAINTS = ("demographic_parity", "equalized_odds")
NOT_BINARY = ("fairlearn's ThresholdOptimizer post-processes binary classifiers; the audited "
              "model has {n} classes.")
NO_SAMPLE_WEIGHT = ("ExponentiatedGradient refits the estimator with sample weights; this "
                    "estimator's fit takes none ({error}).")
NOT_REFITTABLE = ("ExponentiatedGradient refits a scikit-learn estimator; the audited model is "
                  "a {framework} model.")
_LABELS = {"unmitigated": "Unmitigated",
           "demographic_parity": "Parity thresholds",
           "equalized_odds": "Equalized-odds thresholds",
           "exponentiated_gradient": "ExponentiatedGradient"}


class _ScoreLookup(ClassifierMixin, BaseEstimator):
    """A prefit 'estimator' whose input is a sample's row number in the audit split.

    ThresholdOptimizer only needs ``predict_proba``; handing it row numbers
    instead of samples lets it work for any model with probabilities (images,
    text, black boxes) and reuses the probabilities the audit already computed.
    """

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba
        self.classes_ = np.arange(proba.shape[1])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Any, y: Any) -> _ScoreLookup:
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.proba[np.asarray(X, dtype=np.int64).ravel()]

    def predict(self, X: Any) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)


#: What fairlearn's reductions (0.13 to 0.15) do that pandas 3 deprecates: growing a Series
#: with ``.at`` and writing booleans into a float Series. The numbers are unaffected; the
#: warnings are fairlearn's to fix, and would reach every user of this check.
_FAIRLEARN_PANDAS_WARNINGS = (r"Setting a value on a Series via \.at with a key",
                              r"Setting an item of incompatible dtype is deprecated")


@contextlib.contextmanager
def _quiet_fairlearn() -> Iterator[None]:
    """Silence the known pandas deprecation warnings raised inside fairlearn, and only those."""
    with warnings.catch_warnings():
        for message in _FAIRLEARN_PANDAS_WARNINGS:
            warnings.filterwarnings("ignore", message=message, module=r"fairlearn\.")
        yield


class _FitCounter:
    """Advances a progress bar once per refit of ExponentiatedGradient's estimator.

    fairlearn deep-copies the constraints it is given; every copy keeps this
    counter (and its bar) rather than a copy of it.
    """

    def __init__(self, bar: Bar) -> None:
        self.bar = bar

    def __deepcopy__(self, memo: dict[int, Any]) -> _FitCounter:
        return self

    def __call__(self) -> None:
        self.bar.update(1)


def _counting_moment(moment_class: type, counter: _FitCounter) -> Any:
    """An instance of fairlearn's ``moment_class`` that calls ``counter`` at each refit.

    fairlearn's Lagrangian asks the constraints for the samples' signed
    weights exactly once before each fit of the estimator; the answer is
    unchanged, so the reduction is the same with or without the counter.
    """
    class Counting(moment_class):  # type: ignore[misc, valid-type]
        def signed_weights(self, lambda_vec: Any = None) -> Any:
            counter()
            return super().signed_weights(lambda_vec)

    return Counting()


@register_check
@dataclass(frozen=True)
class FairnessMitigation(Check):
    """Post-processing for fairness (fairlearn's ThresholdOptimizer), fitted and judged on halves.

    Parameters
    ----------
    constraints : tuple of str, default=("demographic_parity", "equalized_odds")
        The fairness constraints to post-process for: a non-empty tuple of
        distinct values among ``"demographic_parity"`` and ``"equalized_odds"``.
    evaluation_fraction : float, default=0.5
        Share of the audit split held out to judge the mitigated models, in (0, 1).
    grid_size : int, default=1000
        Thresholds ThresholdOptimizer searches (at least 10).
    reduction_iterations : int, default=15
        Iterations of ExponentiatedGradient (scikit-learn estimators only).
    min_group_size : int, default=30
        The sensitive feature's groups with fewer samples in the audit split
        are left out (ThresholdOptimizer cannot fit a threshold to a handful).
    n_bins : int, default=4
        Quantile bins of a numeric sensitive feature with many values (as the
        other fairness checks).
    max_categories : int, default=10
        A numeric sensitive feature with more distinct values than this is binned.
    max_samples : int or None, default=100000
        Above this many audited samples, a seeded sample of this size is split
        and fitted (the refits and threshold searches grow with the rows);
        None uses every sample.

    Examples
    --------
    >>> from auditkit.checks import FairnessMitigation
    >>> FairnessMitigation(constraints=("equalized_odds",)).constraints
    ('equalized_odds',)
    """

    name = "fairness_mitigation"
    family = "fairness"
    order = 3
    # ExponentiatedGradient refits a scikit-learn estimator some 20 times (expected_cost).
    cost = 20.0
    requires = frozenset({"predict", "probabilities"})
    needs_sensitive = True
    description = ("Accuracy against demographic parity and equalized odds differences of the "
                   "model and of fairlearn's ThresholdOptimizer post-processing, fitted on half "
                   "of the audit split and judged on the other half.")

    shares = ("predictions",)
    parameter_constraints = {
        "constraints": [SequenceOf(Options(CONSTRAINTS), distinct=True)],
        "evaluation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "grid_size": [Interval(Integral, 10, None)],
        "reduction_iterations": POSITIVE_INT,
        "max_samples": SAMPLE_SIZE,
        **GROUPING_CONSTRAINTS,
    }

    constraints: tuple[str, ...] = CONSTRAINTS
    evaluation_fraction: float = 0.5
    grid_size: int = 1000
    reduction_iterations: int = 15
    min_group_size: int = 30
    n_bins: int = 4
    max_categories: int = 10
    max_samples: int | None = 100_000

    def expected_cost(self, model: ModelAdapter, data: AuditData) -> float:
        """The reduction's refits dominate; without them the thresholds take seconds."""
        cost = super().expected_cost(model, data)
        return cost if "refit" in model.capabilities and model.framework == "sklearn" \
            else min(cost, 2.0)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Fit the thresholds on one half, judge every approach on the other."""
        from fairlearn.postprocessing import ThresholdOptimizer

        pred = predictions(model, data, context)
        if pred.n_classes != 2:
            return self.result(Status.SKIP, NOT_BINARY.format(n=pred.n_classes))
        n_rows = pred.n
        pred, X, sensitive = self._samples(pred, data, context)
        feature = str(sensitive.columns[0])
        (group_set,), _ = sensitive_group_sets(sensitive[[feature]], n_bins=self.n_bins,
                                               max_categories=self.max_categories,
                                               intersections=False)
        kept_groups = group_set.counts >= self.min_group_size
        if kept_groups.sum() < 2:
            return self.result(Status.SKIP, f"The sensitive feature {feature!r} has fewer than "
                               f"two groups of at least {self.min_group_size} samples: there is "
                               "nothing to post-process for.")
        rows = np.flatnonzero(kept_groups[group_set.codes])
        fit_rows, eval_rows = self._split(rows, group_set.codes, pred.y, context)
        groups = group_set.labels().to_numpy()
        seed = int(context.rng("fairness_mitigation.predict").integers(2**31 - 1))
        lookup = _ScoreLookup(pred.proba)
        y_eval, s_eval = pred.y[eval_rows], groups[eval_rows]
        outcomes = {"unmitigated": self._scores(y_eval, pred.predicted[eval_rows], s_eval)}
        # One step per mitigated model: a ThresholdOptimizer per constraint, then the reduction.
        with context.progress.bar(total=len(self.constraints) + 1, unit="fit",
                                  description="fairness_mitigation") as bar:
            for constraint in self.constraints:
                bar.set_postfix_str(f"ThresholdOptimizer ({constraint})")
                optimizer = ThresholdOptimizer(estimator=lookup, constraints=constraint,
                                               objective="accuracy_score",
                                               grid_size=self.grid_size, prefit=True,
                                               predict_method="predict_proba")
                optimizer.fit(fit_rows[:, None], pred.y[fit_rows],
                              sensitive_features=groups[fit_rows])
                mitigated = optimizer.predict(eval_rows[:, None], sensitive_features=s_eval,
                                              random_state=seed)
                outcomes[constraint] = self._scores(y_eval, np.asarray(mitigated), s_eval)
                bar.update(1)
            bar.set_postfix_str("ExponentiatedGradient")
            reduction = self._reduction(model, X, fit_rows, eval_rows, groups, pred.y,
                                        context)
            bar.update(1)
        notes = {name: "" for name in outcomes}
        notes["unmitigated"] = "the model's argmax predictions"
        for constraint in self.constraints:
            notes[constraint] = ("fairlearn ThresholdOptimizer, prefit, objective accuracy, "
                                 "randomised thresholds")
        outcomes["exponentiated_gradient"], notes["exponentiated_gradient"] = reduction
        table = pd.DataFrame.from_dict(outcomes, orient="index")
        table.index.name = "approach"
        table["accuracy_cost_points"] = 100.0 * (outcomes["unmitigated"]["accuracy"]
                                                 - table["accuracy"])
        table["note"] = [notes[name] for name in table.index]
        n_groups = len(group_set.groups)
        split = pd.DataFrame({
            "audit_split": group_set.counts.astype(np.int64),
            "fit_half": np.bincount(group_set.codes[fit_rows], minlength=n_groups),
            "evaluation_half": np.bincount(group_set.codes[eval_rows], minlength=n_groups),
            "used": kept_groups},
            index=pd.Index(list(group_set.groups), name=feature))
        headline = self._headline(feature, table, split)
        if pred.n < n_rows:
            headline += (f" Fitted and judged on a seeded sample of {pred.n:,} of the "
                         f"{n_rows:,} audited rows.")
        return self.result(Status.INFO, headline,
                           metrics=self._metrics(table, len(eval_rows)),
                           tables={"mitigation": table, "split": split},
                           figures={"mitigation_tradeoff": self._figure(feature, table)})

    def _samples(self, pred: Predictions, data: AuditData, context: CheckContext
                 ) -> tuple[Predictions, np.ndarray, pd.DataFrame]:
        """Predictions, inputs and sensitive features of the samples the check fits on.

        The samples with inputs (every sample, or the sample streamed data
        keeps with its inputs), cut to a seeded ``max_samples`` of them.
        """
        rows = input_rows(data)
        keep = np.arange(len(rows))
        if self.max_samples is not None and len(rows) > self.max_samples:
            keep = np.sort(context.rng("fairness_mitigation.sample").choice(
                len(rows), self.max_samples, replace=False))
        taken = rows[keep]
        samples = Predictions(pred.y[taken], pred.proba[taken], pred.class_names)
        sensitive = data.sensitive.iloc[keep].reset_index(drop=True)
        X = data.X if len(keep) == len(rows) else np.asarray(data.X)[keep]
        return samples, X, sensitive

    def _split(self, rows: np.ndarray, codes: np.ndarray, y: np.ndarray,
               context: CheckContext) -> tuple[np.ndarray, np.ndarray]:
        """Stratified halves (by group and label) of ``rows``, from the audit's seed."""
        from sklearn.model_selection import train_test_split

        strata = codes[rows] * 2 + y[rows]
        _, counts = np.unique(strata, return_counts=True)
        seed = int(context.rng("fairness_mitigation.split").integers(2**31 - 1))
        fit_rows, eval_rows = train_test_split(
            rows, test_size=self.evaluation_fraction, random_state=seed,
            stratify=strata if counts.min() >= 2 else None)
        return np.sort(fit_rows), np.sort(eval_rows)

    def _reduction(self, model: ModelAdapter, X: np.ndarray, fit_rows: np.ndarray,
                   eval_rows: np.ndarray, groups: np.ndarray, y: np.ndarray,
                   context: CheckContext) -> tuple[dict[str, float], str]:
        """Refit a clone of the estimator with fairlearn's ExponentiatedGradient.

        The clone is refitted under the headline constraint on the fit half (its samples
        carry sensitive features; the training set's do not) and judged on the
        evaluation half.
        """
        missing = {"accuracy": np.nan, "demographic_parity_difference": np.nan,
                   "equalized_odds_difference": np.nan}
        estimator = model.clone_untrained() if "refit" in model.capabilities else None
        from sklearn.base import BaseEstimator

        if not isinstance(estimator, BaseEstimator):
            return missing, "not run: " + NOT_REFITTABLE.format(framework=model.framework)
        from fairlearn.reductions import DemographicParity, EqualizedOdds, ExponentiatedGradient

        constraint = self._headline_constraint()
        X = np.asarray(X)
        # The number of refits depends on when the duality gap closes: the bar counts them
        # without an end, and the audit's bar gives the time left.
        with context.progress.bar(total=None, unit="fit",
                                  description="ExponentiatedGradient refits") as bar:
            moment = _counting_moment(
                EqualizedOdds if constraint == "equalized_odds" else DemographicParity,
                _FitCounter(bar))
            reduction = ExponentiatedGradient(estimator, constraints=moment,
                                              max_iter=self.reduction_iterations)
            try:
                with _quiet_fairlearn():
                    reduction.fit(model.model_input(X[fit_rows]), y[fit_rows],
                                  sensitive_features=groups[fit_rows])
            except TypeError as exc:  # fit(..., sample_weight=...) unsupported
                return missing, "not run: " + NO_SAMPLE_WEIGHT.format(error=exc)
        seed = int(context.rng("fairness_mitigation.reduction").integers(2**31 - 1))
        with _quiet_fairlearn():
            predicted = reduction.predict(model.model_input(X[eval_rows]), random_state=seed)
        # It was fitted on class indices, so it predicts class indices.
        return (self._scores(y[eval_rows], np.asarray(predicted).astype(np.int64),
                             groups[eval_rows]),
                f"fairlearn ExponentiatedGradient ({constraint.replace('_', ' ')}), a clone of "
                "the estimator refitted on the fit half")

    @staticmethod
    def _scores(y: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> dict[str, float]:
        from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
        from sklearn.metrics import accuracy_score

        return {"accuracy": float(accuracy_score(y, predicted)),
                "demographic_parity_difference": float(demographic_parity_difference(
                    y, predicted, sensitive_features=groups)),
                "equalized_odds_difference": float(equalized_odds_difference(
                    y, predicted, sensitive_features=groups))}

    def _metrics(self, table: pd.DataFrame, n: int) -> dict[str, Metric]:
        base = table.loc["unmitigated"]
        metrics = {"accuracy_unmitigated": Metric(base["accuracy"], n=n, higher_is_better=True),
                   "demographic_parity_difference_unmitigated": Metric(
                       base["demographic_parity_difference"], n=n, higher_is_better=False),
                   "equalized_odds_difference_unmitigated": Metric(
                       base["equalized_odds_difference"], n=n, higher_is_better=False)}
        for constraint in self.constraints:
            disparity = f"{constraint}_difference"
            row = table.loc[constraint]
            metrics[f"{disparity}_mitigated"] = Metric(row[disparity], n=n,
                                                       higher_is_better=False)
            metrics[f"accuracy_{constraint}"] = Metric(row["accuracy"], n=n,
                                                       higher_is_better=True)
            metrics[f"accuracy_cost_points_{constraint}"] = Metric(
                row["accuracy_cost_points"], n=n, higher_is_better=False)
        headline = self._headline_constraint()
        metrics["accuracy_cost_points"] = Metric(table.loc[headline, "accuracy_cost_points"],
                                                 n=n, higher_is_better=False)
        return metrics

    def _headline_constraint(self) -> str:
        return "equalized_odds" if "equalized_odds" in self.constraints else self.constraints[0]

    def _headline(self, feature: str, table: pd.DataFrame, split: pd.DataFrame) -> str:
        parts = []
        for i, constraint in enumerate(sorted(self.constraints, reverse=True)):
            disparity = f"{constraint}_difference"
            before, after = table.loc["unmitigated", disparity], table.loc[constraint, disparity]
            cost = table.loc[constraint, "accuracy_cost_points"]
            price = (f"at a cost of {cost:.1f} points of accuracy" if cost >= 0.05 else
                     f"with a gain of {-cost:.1f} points of accuracy" if cost <= -0.05 else
                     "at no cost in accuracy")
            label = constraint.replace("_", " ").replace("equalized odds", "equalized-odds") \
                .replace("demographic parity", "demographic-parity")
            if i == 0 and after < before:
                parts.append(f"Post-processing with {label} thresholds cuts the "
                             f"{constraint.replace('_', ' ')} difference by {feature} from "
                             f"{before:.2f} to {after:.2f} {price}")
            elif i == 0:
                parts.append(f"Post-processing with {label} thresholds does not reduce the "
                             f"{constraint.replace('_', ' ')} difference by {feature} "
                             f"({before:.2f} before, {after:.2f} after) and comes "
                             f"{price}")
            else:
                parts.append(f"with {label} thresholds, the {constraint.replace('_', ' ')} "
                             f"difference goes from {before:.2f} to {after:.2f} {price}")
        used = split[split["used"]]
        smallest = used["evaluation_half"].idxmin()
        text = ("; ".join(parts) + f" (fitted on half of the audit split, evaluated on the other "
                f"half: {int(used['evaluation_half'].sum()):,} samples, the smallest group "
                f"{smallest} with {int(used.loc[smallest, 'evaluation_half'])}).")
        reduction = table.loc["exponentiated_gradient"]
        if np.isfinite(reduction["accuracy"]):
            constraint = self._headline_constraint()
            text += (" ExponentiatedGradient, refitting the estimator on the fit half, reaches "
                     f"an {constraint.replace('_', ' ')} difference of "
                     f"{reduction[constraint + '_difference']:.2f} at "
                     f"{reduction['accuracy']:.1%} accuracy.")
        left_out = split[~split["used"]]
        if len(left_out):
            named = ", ".join(f"{g} (n={int(c)})" for g, c in left_out["audit_split"].items())
            text += (f" Left out as too small to fit thresholds to (fewer than "
                     f"{self.min_group_size} samples): {named}.")
        return text

    def _figure(self, feature: str, table: pd.DataFrame) -> Figure:
        done = table[table["accuracy"].notna()]
        return Figure("mitigation_tradeoff", {
            "feature": feature, "approaches": [_LABELS.get(a, a) for a in done.index],
            "accuracy": done["accuracy"].to_numpy(np.float64),
            "demographic_parity_difference":
                done["demographic_parity_difference"].to_numpy(np.float64),
            "equalized_odds_difference": done["equalized_odds_difference"].to_numpy(np.float64),
        }, f"Accuracy against disparity by {feature} (evaluation half)")
