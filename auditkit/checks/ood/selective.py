"""OOD: selective prediction, rejecting the inputs the model is least sure of.

A deployed classifier can abstain below a confidence threshold and hand the
input to a person. This check tells a user where to put the threshold and
what it buys: the risk-coverage curve on the audited samples (the error rate
among the ``k`` most confident, for every ``k``), its area AURC (Geifman &
El-Yaniv 2017) and E-AURC, the area above the best curve any score could give
at the same error rate (a pure measure of how well the score ranks errors
last); a table of thresholds for coverages of 100% down to 50% with the
selective accuracy each gives (Wilson interval), the share rejected, and the
share of each OOD set that the threshold would still accept. Under covariate
shift (the natural corruptions at a middle severity, shared with
``ood_covariate_shift``) it reports the calibration error and AURC on the
shifted copies of the same samples, since a threshold tuned on clean data is
only as good as the confidence it reads.

The check informs and does not judge (no verdict metric): AURC mixes the
model's accuracy (judged by ``performance_metrics``) with the score's
ranking, and what coverage is worth what accuracy depends on the cost of a
human review, which only the deployer knows. The calibration under shift is
judged by ``ood_covariate_shift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ..._stats import WILSON, BootstrapSpec, bootstrap, wilson_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import predictions
from .._corruptions import CORRUPTION_NAMES, N_SEVERITIES, corruptions_for
from .._params import CONFIDENCE, POSITIVE_INT, SAMPLE_SIZE, Interval, Options, SequenceOf
from ._common import ModelOutputs, model_outputs, ood_sets
from ._detectors import Detector, detector_names
from ._selective import (
    SelectionScores,
    ShiftedSets,
    aurc_statistics,
    calibration_terms,
    fit_detectors,
    resampled_aurc,
    risk_coverage,
)
from .shift import _in_sentence

__all__ = ["OODSelectivePrediction", "aurc", "risk_coverage", "threshold_table"]

_CURVE_POINTS = 200


def aurc(confidence: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """Area under the risk-coverage curve, its optimum and their difference (E-AURC).

    Parameters
    ----------
    confidence : ndarray of shape (n,)
        The selection score, larger meaning more confident (ties broken at
        random, in expectation).
    correct : ndarray of shape (n,)
        Whether each prediction is right.

    Returns
    -------
    dict
        ``"aurc"`` (the mean over ``k = 1..n`` of the error rate among the ``k``
        most confident), ``"optimal_aurc"`` (every error ranked last),
        ``"excess_aurc"`` (E-AURC) and ``"error_rate"``.

    Examples
    --------
    >>> {k: round(v, 4) for k, v in aurc(np.array([0.9, 0.8, 0.7]),
    ...                                  np.array([True, False, True])).items()}
    {'aurc': 0.2778, 'optimal_aurc': 0.1111, 'excess_aurc': 0.1667, 'error_rate': 0.3333}
    """
    scores = SelectionScores.of(confidence, correct)
    return {k: float(v[0]) for k, v in resampled_aurc(scores, np.ones((1, len(correct)))).items()}


def threshold_table(confidence: np.ndarray, correct: np.ndarray, coverages: tuple[float, ...], *,
                    confidence_level: float = 0.95) -> pd.DataFrame:
    """The threshold that keeps each coverage, and the accuracy of what it keeps.

    The threshold for coverage ``c`` is the score of the ``ceil(c n)``-th most
    confident sample; every sample scoring at least that much is accepted, so
    with ties the realised coverage can exceed ``c``.

    Parameters
    ----------
    confidence : ndarray of shape (n,)
    correct : ndarray of shape (n,)
    coverages : tuple of float
        Target coverages in (0, 1].
    confidence_level : float, default=0.95
        Level of the Wilson intervals of the selective accuracy.

    Returns
    -------
    pandas.DataFrame
        One row per coverage: ``target_coverage``, ``threshold``, ``accepted``,
        ``coverage``, ``rejected`` (share), ``selective_accuracy`` with ``lower``
        and ``upper``.

    Examples
    --------
    >>> table = threshold_table(np.array([0.9, 0.8, 0.7, 0.6]),
    ...                         np.array([True, True, False, True]), (1.0, 0.5))
    >>> table[["threshold", "accepted", "selective_accuracy"]].values.tolist()
    [[0.6, 4.0, 0.75], [0.8, 2.0, 1.0]]
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    n = len(confidence)
    ordered = np.sort(confidence)[::-1]
    targets = np.asarray(coverages, dtype=np.float64)
    k = np.clip(np.ceil(targets * n - 1e-9).astype(np.int64), 1, n)
    thresholds = ordered[k - 1]
    accepted = confidence[None, :] >= thresholds[:, None]  # (coverages, n)
    n_accepted = accepted.sum(axis=1)
    hits = (accepted & correct[None, :]).sum(axis=1)
    lower, upper = wilson_interval(hits, n_accepted, confidence_level)
    return pd.DataFrame({"target_coverage": targets, "threshold": thresholds,
                         "accepted": n_accepted.astype(np.float64), "coverage": n_accepted / n,
                         "rejected": 1.0 - n_accepted / n,
                         "selective_accuracy": hits / n_accepted, "lower": lower,
                         "upper": upper})


def _resampled_sets(shared: tuple[tuple[SelectionScores, ...], np.ndarray, int],
                    counts: np.ndarray) -> dict[str, np.ndarray]:
    """AURC and ECE of each set of the same samples (clean, shifted), per resample (paired)."""
    scores, terms, n_bins = shared
    n = terms.shape[0]
    ece = np.abs((counts @ terms).reshape(len(counts), -1, n_bins)).sum(axis=2) / n
    curves = [aurc_statistics(*s.per_group(counts)) for s in scores]
    return {"ece": ece, **{key: np.stack([c[key] for c in curves], axis=1)
                           for key in ("aurc", "excess_aurc", "optimal_aurc")}}


@register_check
@dataclass(frozen=True)
class OODSelectivePrediction(Check):
    """Risk-coverage curve, AURC and a table of rejection thresholds, clean and under shift.

    Parameters
    ----------
    score : str, default="msp"
        The confidence that decides what to reject: a detector of
        :data:`~auditkit.checks.ood._detectors.DETECTORS`, negated (``"msp"``: the
        top softmax probability).
    coverages : tuple of float, default=(1.0, 0.95, 0.9, 0.8, 0.7, 0.5)
        Coverages of the threshold table, in (0, 1]; kept in decreasing order.
    corruptions : tuple of str, optional
        Corruptions making the shifted sets; by default every one of the data's modality.
    severity : int, default=3
        Severity of the shifted sets, 1 to 5.
    n_samples : int or None, default=1000
        Audited samples to shift, a seeded subsample (the same as
        ``ood_covariate_shift``'s at the same value, whose outputs are reused).
    max_reference : int or None, default=5000
        Reference samples a fitted score is fitted on.
    n_bins : int, default=15
        Equal-width confidence bins of the expected calibration error.
    n_resamples : int, default=1000
        Bootstrap resamples of the samples.
    confidence : float, default=0.95
        Level of the confidence intervals.

    Examples
    --------
    >>> from auditkit import get_check
    >>> get_check("ood_selective_prediction", coverages=(0.5, 0.9)).coverages
    (0.9, 0.5)
    """

    name = "ood_selective_prediction"
    family = "ood"
    order = 50
    tags = ("selective prediction", "risk-coverage", "AURC", "rejection", "black-box")
    requires = frozenset({"predict", "probabilities"})
    description = ("Risk-coverage curve and AURC of rejecting the least confident inputs, a "
                   "table of thresholds with the accuracy each keeps, and calibration under "
                   "covariate shift.")
    verdict_metrics = ()
    shares = ("predictions", "ood.logits", "ood.features")

    score: str = "msp"
    coverages: tuple[float, ...] = (1.0, 0.95, 0.9, 0.8, 0.7, 0.5)
    corruptions: tuple[str, ...] | None = None
    severity: int = 3
    n_samples: int | None = 1000
    max_reference: int | None = 5000
    n_bins: int = 15
    n_resamples: int = 1000
    confidence: float = 0.95

    parameter_constraints = {
        "score": [Options(detector_names())],
        "coverages": [SequenceOf(Interval(Real, 0, 1, closed="right"))],
        "corruptions": [SequenceOf(Options(CORRUPTION_NAMES)), Options(CORRUPTION_NAMES), None],
        "severity": [Interval(Integral, 1, N_SEVERITIES)],
        "n_samples": SAMPLE_SIZE,
        "max_reference": SAMPLE_SIZE,
        "n_bins": POSITIVE_INT,
        "n_resamples": [Interval(Integral, 10, None)],
        "confidence": CONFIDENCE,
    }

    def validate_options(self) -> None:
        """Normalise: coverages decreasing without repeats; corruptions a tuple."""
        object.__setattr__(self, "coverages",
                           tuple(sorted({float(c) for c in self.coverages}, reverse=True)))
        if self.corruptions is not None:
            names = (self.corruptions,) if isinstance(self.corruptions, str) else self.corruptions
            object.__setattr__(self, "corruptions", tuple(dict.fromkeys(names)))

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the module docstring."""
        # The score is fitted apart from the shifted subsample, and scored on every sample:
        # a fitted score and no reference of its own leave the check nothing to rank with.
        sets = ShiftedSets.draw(data, self.n_samples, context)
        fitted, left_out = fit_detectors(model, data, context, (self.score,),
                                         max_reference=self.max_reference,
                                         held_out=np.arange(data.n_samples))
        if not fitted:
            return self.result(Status.SKIP, f"The selection score {self.score!r} cannot be "
                               f"used: {left_out[self.score]}")
        detector = fitted[self.score]
        features = "features" in detector.needs
        y = predictions(model, data, context).y
        test = model_outputs(model, data.X, context, key="test", features=features)
        confidence = -detector.score(test)
        correct = test.proba.argmax(axis=1) == y

        scores = SelectionScores.of(confidence, correct)
        spec = BootstrapSpec(self.n_resamples, self.confidence)
        samples = bootstrap(resampled_aurc, len(y), spec=spec,
                            rng=context.rng(f"{self.name}/bootstrap"), shared=scores,
                            executor=context.executor)
        point = aurc(confidence, correct)
        thresholds = self._thresholds(model, data, context, detector, confidence, correct,
                                      features)
        shift, curves = self._under_shift(model, data, context, sets, detector, y, features)
        metrics = self._metrics(point, samples, len(y), thresholds, shift)
        tables = {"thresholds": thresholds}
        if shift is not None:
            tables["under_shift"] = shift
        figures = {"risk_coverage": self._figure(confidence, correct, point, curves)}
        return self.result(Status.INFO, self._headline(point, metrics, thresholds, shift),
                           metrics=metrics, tables=tables, figures=figures)

    # -- pieces -------------------------------------------------------------------------

    def _thresholds(self, model: ModelAdapter, data: AuditData, context: CheckContext,
                    detector: Detector, confidence: np.ndarray, correct: np.ndarray,
                    features: bool) -> pd.DataFrame:
        table = threshold_table(confidence, correct, self.coverages,
                                confidence_level=self.confidence)
        for ood in ood_sets(data):
            outputs = model_outputs(model, ood.X, context, key=f"ood:{ood.name}",
                                    features=features)
            accepted = (-detector.score(outputs))[None, :] >= table["threshold"].to_numpy()[:, None]
            table[f"ood_accepted[{ood.name}]"] = accepted.mean(axis=1)
        return table

    def _under_shift(self, model: ModelAdapter, data: AuditData, context: CheckContext,
                     sets: ShiftedSets, detector: Detector, y: np.ndarray, features: bool
                     ) -> tuple[pd.DataFrame | None, list[tuple[str, np.ndarray, np.ndarray]]]:
        """Accuracy, ECE and AURC on the clean subsample and its shifted copies."""
        if data.modality == "text" and (data.texts is None or data.tokenizer is None):
            return None, []
        corruptions = sets.usable(corruptions_for(data.modality, self.corruptions))
        if not corruptions:
            return None, []
        y = y[sets.index]
        named: list[tuple[str, str, ModelOutputs]] = [
            ("clean", "Clean", sets.clean(model, data, context, features=features))]
        named += [(c.name, c.label, sets.outputs(model, data, context, c, self.severity,
                                                 features=features)) for c in corruptions]
        confidences = [-detector.score(o) for _, _, o in named]
        hits = [o.proba.argmax(axis=1) == y for _, _, o in named]
        terms = np.hstack([calibration_terms(o.proba, h, self.n_bins)
                           for (_, _, o), h in zip(named, hits, strict=True)])
        shared = (tuple(SelectionScores.of(c, h) for c, h in zip(confidences, hits, strict=True)),
                  terms, self.n_bins)
        n = len(y)
        point = _resampled_sets(shared, np.ones((1, n)))
        samples = bootstrap(_resampled_sets, n,
                            spec=BootstrapSpec(self.n_resamples, self.confidence),
                            rng=context.rng(f"{self.name}/shift-bootstrap"), shared=shared,
                            executor=context.executor)
        alpha = (1.0 - self.confidence) / 2.0
        bounds = {k: np.nanquantile(samples[k], [alpha, 1 - alpha], axis=0)
                  for k in ("ece", "aurc")}
        k = np.array([h.sum() for h in hits])
        lower, upper = wilson_interval(k, n, self.confidence)
        table = pd.DataFrame({
            "set": [name for name, _, _ in named], "label": [label for _, label, _ in named],
            "severity": [0] + [self.severity] * len(corruptions), "n": n,
            "accuracy": k / n, "lower": lower, "upper": upper,
            "mean_confidence": [float(o.proba.max(axis=1).mean()) for _, _, o in named],
            "ece": point["ece"][0], "ece_lower": bounds["ece"][0], "ece_upper": bounds["ece"][1],
            "aurc": point["aurc"][0], "aurc_lower": bounds["aurc"][0],
            "aurc_upper": bounds["aurc"][1], "excess_aurc": point["excess_aurc"][0]})
        curves = [(label, c, h) for (_, label, _), c, h in zip(named[1:], confidences[1:],
                                                               hits[1:], strict=True)]
        return table, curves

    def _metrics(self, point: dict[str, float], samples: dict[str, np.ndarray], n: int,
                 thresholds: pd.DataFrame, shift: pd.DataFrame | None) -> dict[str, Metric]:
        conf = self.confidence
        alpha = (1.0 - conf) / 2.0
        boot = f"percentile bootstrap over samples, {self.n_resamples} resamples"

        def bootstrapped(key: str) -> Metric:
            low, high = np.nanquantile(samples[key], [alpha, 1 - alpha])
            return Metric(point[key], float(low), float(high), conf, n, boot, False)

        metrics = {"aurc": bootstrapped("aurc"), "excess_aurc": bootstrapped("excess_aurc"),
                   "optimal_aurc": bootstrapped("optimal_aurc")}
        for _, row in thresholds.iterrows():
            percent = round(100 * row["target_coverage"])
            if percent in (80, 90) or (percent == 100 and len(thresholds) == 1):
                metrics[f"selective_accuracy_at_{percent}pct_coverage"] = Metric(
                    row["selective_accuracy"], row["lower"], row["upper"], conf,
                    int(row["accepted"]), WILSON, True)
        if shift is not None and len(shift) > 1:
            worst = shift.iloc[1:]["ece"].idxmax()
            metrics["clean_ece"] = Metric(shift.loc[0, "ece"], shift.loc[0, "ece_lower"],
                                          shift.loc[0, "ece_upper"], conf, int(shift.loc[0, "n"]),
                                          boot, False)
            metrics["largest_ece_under_shift"] = Metric(
                shift.loc[worst, "ece"], shift.loc[worst, "ece_lower"],
                shift.loc[worst, "ece_upper"], conf, int(shift.loc[worst, "n"]), boot, False)
        return metrics

    def _figure(self, confidence: np.ndarray, correct: np.ndarray, point: dict[str, float],
                curves: list[tuple[str, np.ndarray, np.ndarray]]) -> Figure:
        n = len(correct)
        k = np.unique(np.rint(np.linspace(1, n, min(n, _CURVE_POINTS))).astype(np.int64))
        coverage, risk = risk_coverage(confidence, correct)
        errors = round(point["error_rate"] * n)
        optimal = np.maximum(0, k - (n - errors)) / k
        shifted = []
        for _, c, h in curves:
            m = len(h)
            at = np.unique(np.rint(np.linspace(1, m, min(m, _CURVE_POINTS))).astype(np.int64))
            shifted.append(np.interp(k / n, at / m, risk_coverage(c, h)[1][at - 1]))
        return Figure("risk_coverage_curve", {
            "coverage": coverage[k - 1], "risk": risk[k - 1], "optimal_risk": optimal,
            "error_rate": point["error_rate"], "aurc": point["aurc"],
            "excess_aurc": point["excess_aurc"], "n": n, "score": self.score,
            "shift_labels": [label for label, _, _ in curves],
            "shift_risk": np.asarray(shifted, dtype=np.float64).reshape(len(curves), len(k)),
            "severity": self.severity,
            "coverages": np.asarray(self.coverages, dtype=np.float64)},
            "Risk against coverage, rejecting the least confident inputs")

    def _headline(self, point: dict[str, float], metrics: dict[str, Metric],
                  thresholds: pd.DataFrame, shift: pd.DataFrame | None) -> str:
        last = thresholds.iloc[-1]
        error = 1 - float(last["selective_accuracy"])
        verb = ("lowers" if error < point["error_rate"] - 5e-4 else
                "raises" if error > point["error_rate"] + 5e-4 else "leaves")
        text = (f"Rejecting the least confident inputs {verb} the error rate from "
                f"{point['error_rate']:.1%} (all accepted) to {error:.1%} "
                f"at {last['coverage']:.0%} coverage; AURC {point['aurc']:.3g}, "
                f"{point['excess_aurc']:.3g} above the best ranking at the same error rate")
        if shift is not None and "largest_ece_under_shift" in metrics:
            worst = shift.loc[shift.iloc[1:]["ece"].idxmax()]
            text += (f"; calibration error goes from {metrics['clean_ece'].value:.3f} to "
                     f"{float(worst['ece']):.3f} under {_in_sentence(str(worst['label']))} "
                     f"(severity {self.severity})")
        return text + "."
