"""OOD: covariate shift at growing severity, and whether the model can tell it is failing.

A seeded subset of the audited samples is shifted by the natural corruptions
of :mod:`auditkit.checks._corruptions` (noise, blur, contrast, occlusion;
typos; noisy or miscoded features; dropped frames) at severities 1 to 5. For
each corruption and severity the check measures, on the same samples, what
the shift does to the model (accuracy with its Wilson interval and its drop
from clean accuracy with Newcombe's interval; expected calibration error and
its change, bootstrapped) and whether the shift is visible in the model's
outputs: the AUROC of OOD detectors (fitted on the reference data) at telling
the shifted inputs from their clean originals, with a paired bootstrap
interval (the shifted copies are the same samples, so samples are resampled
with their copies). Shifted inputs count as positives and scores point towards
OOD, so an AUROC under 0.5 means the shift makes inputs look *more*
in-distribution to that detector (a brighter image read with more
confidence): no monitor thresholding that score would flag it.

The verdict rests on ``silent_failure_rate``: the share of (corruption,
severity) cells where the model fails *silently*, that is, its accuracy drops
by more than ``accuracy_drop`` (10 points) with the drop's interval above 0,
while even the best detector cannot reliably see the shift (the lower bound
of its AUROC under ``detection_auroc``, 0.6). A shift that hurts accuracy but
that a monitor flags can be handled in operation (reject, alert, retrain); a
shift that hurts it unseen cannot, and is the risk this check exists to find.
Both conditions rest on intervals, so noise in a small sample makes a cell
neither a failure nor silent by chance; with no shift the rate is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ..._stats import (
    WILSON,
    BootstrapSpec,
    WeightedAUC,
    bootstrap,
    newcombe_interval,
    wilson_interval,
)
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import predictions
from .._corruptions import (
    CORRUPTION_NAMES,
    N_SEVERITIES,
    Corruption,
    corruption_skip_reason,
    corruptions_for,
)
from .._params import CONFIDENCE, POSITIVE_INT, SAMPLE_SIZE, Interval, Options, SequenceOf
from ._detectors import Detector, detector_names, make_detector
from ._selective import ShiftedSets, calibration_terms, fit_detectors

__all__ = ["OODCovariateShift", "silent_failures"]

_SEVERITY = Interval(Integral, 1, N_SEVERITIES)
NO_DETECTOR = ("None of the chosen detectors {names} can score this model's outputs: {reasons}")


def silent_failures(clean_correct: int, shifted_correct: np.ndarray, n: int,
                    auroc_lower: np.ndarray, *, accuracy_drop: float, detection_auroc: float,
                    confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which shifted sets are silent failures: a significant, large drop no detector sees.

    Parameters
    ----------
    clean_correct : int
        Correct predictions on the clean samples.
    shifted_correct : ndarray of int, shape (n_cells,)
        Correct predictions on each shifted copy of the same ``n`` samples.
    n : int
    auroc_lower : ndarray of shape (n_cells,)
        Lower confidence bound of the best detector's AUROC on each cell.
    accuracy_drop : float
        Smallest drop (clean minus shifted accuracy) that counts as a failure.
    detection_auroc : float
        AUROC a detector's lower bound must reach for the shift to count as seen.
    confidence : float
        Level of the drop's Newcombe interval (conservative for paired samples,
        whose correlation narrows the true interval).

    Returns
    -------
    silent : ndarray of bool, shape (n_cells,)
    drop_lower, drop_upper : ndarray of shape (n_cells,)
        The drop's interval.

    Examples
    --------
    >>> silent, low, high = silent_failures(90, np.array([88, 40]), 100, np.array([0.55, 0.55]),
    ...                                     accuracy_drop=0.1, detection_auroc=0.6,
    ...                                     confidence=0.95)
    >>> silent.tolist()
    [False, True]
    """
    bounds = np.array([newcombe_interval(clean_correct, n, k, n, confidence)
                       for k in np.asarray(shifted_correct).ravel()]).reshape(-1, 2)
    drop = (clean_correct - np.asarray(shifted_correct, dtype=np.float64)) / n
    silent = (drop > accuracy_drop) & (bounds[:, 0] > 0) & (np.asarray(auroc_lower)
                                                            < detection_auroc)
    return silent, bounds[:, 0], bounds[:, 1]


@dataclass(frozen=True)
class _Resampled:
    """What every bootstrap block needs: calibration terms and the AUROC of every cell."""

    clean_terms: np.ndarray  # (n, n_bins)
    shifted_terms: np.ndarray  # (n, n_cells * n_bins)
    n_bins: int
    aucs: tuple[WeightedAUC, ...]  # one per (cell, detector), on clean then shifted


def _resampled_shift(shared: _Resampled, counts: np.ndarray) -> dict[str, np.ndarray]:
    """ECE of the clean and shifted sets and every detection AUROC, per resample (paired)."""
    n = shared.clean_terms.shape[0]
    clean = np.abs(counts @ shared.clean_terms).sum(axis=1) / n
    shifted = np.abs((counts @ shared.shifted_terms).reshape(len(counts), -1, shared.n_bins)
                     ).sum(axis=2) / n
    pairs = np.hstack([counts, counts])
    auroc = np.stack([auc(pairs) for auc in shared.aucs], axis=1)
    return {"ece_clean": clean, "ece": shifted, "ece_change": shifted - clean[:, None],
            "auroc": auroc}


@register_check
@dataclass(frozen=True)
class OODCovariateShift(Check):
    """Accuracy, calibration and shift detection under natural corruptions at growing severity.

    Parameters
    ----------
    corruptions : tuple of str, optional
        Corruptions that make the shifted sets (one name, or a sequence); by
        default every corruption of the data's modality.
    severities : tuple of int, default=(1, 2, 3, 4, 5)
        Severities from 1 (mild) to 5 (severe); kept sorted, without repeats.
    n_samples : int or None, default=1000
        Audited samples to shift, a seeded subsample (None: all of them).
    detectors : tuple of str, default=("msp", "energy")
        OOD detectors (of :data:`~auditkit.checks.ood._detectors.DETECTORS`) that
        try to tell shifted from clean inputs; those the model cannot feed
        (Energy on a black box without logits), those that read the inputs
        themselves (ODIN) and those whose fit fails are left out with the reason.
        When the data has no reference inputs, fitted detectors are fitted on the
        audited samples left out of ``n_samples``.
    max_reference : int or None, default=5000
        Reference samples the detectors are fitted on (a seeded subsample).
    accuracy_drop : float, default=0.1
        Smallest accuracy drop that counts as a failure.
    detection_auroc : float, default=0.6
        AUROC whose lower bound a detector must reach for a shift to count as seen.
    n_bins : int, default=15
        Equal-width confidence bins of the expected calibration error.
    n_resamples : int, default=1000
        Bootstrap resamples (of samples, paired across clean and shifted copies).
    confidence : float, default=0.95
        Level of the confidence intervals.

    Examples
    --------
    >>> from auditkit import get_check
    >>> check = get_check("ood_covariate_shift", severities=(5, 1), n_samples=200)
    >>> check.severities
    (1, 5)
    """

    name = "ood_covariate_shift"
    family = "ood"
    order = 40
    tags = ("covariate shift", "natural corruptions", "silent failure", "black-box")
    requires = frozenset({"predict", "probabilities"})
    description = ("Accuracy, calibration and the AUROC of OOD detectors at telling shifted "
                   "from clean inputs, under natural corruptions at growing severity: does the "
                   "model fail where no monitor can see it?")
    verdict_metrics = ("silent_failure_rate",)
    shares = ("predictions", "ood.logits", "ood.features")

    corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    n_samples: int | None = 1000
    detectors: tuple[str, ...] = ("msp", "energy")
    max_reference: int | None = 5000
    accuracy_drop: float = 0.1
    detection_auroc: float = 0.6
    n_bins: int = 15
    n_resamples: int = 1000
    confidence: float = 0.95

    parameter_constraints = {
        "corruptions": [SequenceOf(Options(CORRUPTION_NAMES)), Options(CORRUPTION_NAMES), None],
        "severities": [SequenceOf(_SEVERITY), _SEVERITY],
        "n_samples": SAMPLE_SIZE,
        "detectors": [SequenceOf(Options(detector_names())), Options(detector_names())],
        "max_reference": SAMPLE_SIZE,
        "accuracy_drop": [Interval(Real, 0, 1, closed="left")],
        "detection_auroc": [Interval(Real, 0.5, 1, closed="right")],
        "n_bins": POSITIVE_INT,
        "n_resamples": [Interval(Integral, 10, None)],
        "confidence": CONFIDENCE,
    }

    def validate_options(self) -> None:
        """Normalise: severities sorted without repeats; names as tuples without repeats."""
        severities = (self.severities,) if isinstance(self.severities, Integral) \
            else self.severities
        object.__setattr__(self, "severities", tuple(sorted({int(s) for s in severities})))
        for option in ("corruptions", "detectors"):
            names = getattr(self, option)
            if names is not None:
                names = (names,) if isinstance(names, str) else names
                object.__setattr__(self, option, tuple(dict.fromkeys(names)))

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply: also text without raw texts, or no chosen corruption."""
        reason = super().skip_reason(model, data)
        if reason is not None:
            return reason
        return corruption_skip_reason(data, self.corruptions)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the module docstring."""
        sets = ShiftedSets.draw(data, self.n_samples, context)
        corruptions = sets.usable(corruptions_for(data.modality, self.corruptions))
        if not corruptions:
            return self.result(Status.SKIP, "No value of the audited data may be corrupted "
                               "(no mutable feature with a spread, no categorical feature).")
        detectors, left_out = fit_detectors(model, data, context, self.detectors,
                                            max_reference=self.max_reference,
                                            held_out=sets.index)
        if not detectors:
            return self.result(Status.SKIP, NO_DETECTOR.format(
                names=list(self.detectors), reasons=" ".join(left_out.values())))
        features = any("features" in d.needs for d in detectors.values())

        y = predictions(model, data, context).y[sets.index]
        clean = sets.clean(model, data, context, features=features)
        clean_correct = clean.proba.argmax(axis=1) == y
        clean_scores = {name: d.score(clean) for name, d in detectors.items()}
        cells = [(c, s) for c in corruptions for s in self.severities]
        correct, terms, aucs = [], [], []
        n = len(y)
        positive = np.repeat([False, True], n)
        with context.progress.bar(total=len(cells), description="covariate shift") as bar:
            for corruption, severity in cells:
                shifted = sets.outputs(model, data, context, corruption, severity,
                                       features=features)
                hits = shifted.proba.argmax(axis=1) == y
                correct.append(hits)
                terms.append(calibration_terms(shifted.proba, hits, self.n_bins))
                for name, detector in detectors.items():
                    auc = WeightedAUC(np.concatenate([clean_scores[name],
                                                      detector.score(shifted)]), positive)
                    aucs.append(auc)
                bar.update(1)

        shared = _Resampled(calibration_terms(clean.proba, clean_correct, self.n_bins),
                            np.hstack(terms), self.n_bins, tuple(aucs))
        point = _resampled_shift(shared, np.ones((1, n)))
        samples = bootstrap(_resampled_shift, n,
                            spec=BootstrapSpec(self.n_resamples, self.confidence),
                            rng=context.rng(f"{self.name}/bootstrap"), shared=shared,
                            executor=context.executor)
        table, detection = self._tables(corruptions, list(detectors.values()), clean_correct,
                                        np.array(correct), point, samples)
        metrics = self._metrics(clean_correct, table, point, samples, len(cells))
        tables = {"shift": table, "detection": detection,
                  "detectors": self._detector_table(detectors, left_out)}
        figures = self._figures(corruptions, list(detectors.values()), table, detection,
                                metrics)
        return self.result(Status.INFO, self._headline(metrics, table, len(corruptions)),
                           metrics=metrics, tables=tables, figures=figures)

    # -- pieces -------------------------------------------------------------------------

    def _quantiles(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alpha = (1.0 - self.confidence) / 2.0
        with np.errstate(invalid="ignore"):
            low, high = np.nanquantile(values, [alpha, 1.0 - alpha], axis=0)
        return low, high

    def _tables(self, corruptions: list[Corruption], detectors: list[Detector],
                clean_correct: np.ndarray, correct: np.ndarray, point: dict[str, np.ndarray],
                samples: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
        n, n_det = len(clean_correct), len(detectors)
        k = correct.sum(axis=1)
        lower, upper = wilson_interval(k, n, self.confidence)
        ece_low, ece_high = self._quantiles(samples["ece"])
        change_low, change_high = self._quantiles(samples["ece_change"])
        auroc = point["auroc"][0].reshape(-1, n_det)
        auroc_low, auroc_high = (b.reshape(-1, n_det) for b in self._quantiles(samples["auroc"]))
        best = np.argmax(auroc_low, axis=1)
        cell = np.arange(len(best))
        silent, drop_low, drop_high = silent_failures(
            int(clean_correct.sum()), k, n, auroc_low[cell, best],
            accuracy_drop=self.accuracy_drop, detection_auroc=self.detection_auroc,
            confidence=self.confidence)
        units = [(c, s) for c in corruptions for s in self.severities]
        table = pd.DataFrame({
            "corruption": [c.name for c, _ in units], "label": [c.label for c, _ in units],
            "severity": [s for _, s in units], "parameter": [c.level(s) for c, s in units],
            "n": n, "accuracy": k / n, "lower": lower, "upper": upper,
            "accuracy_drop": clean_correct.mean() - k / n, "drop_lower": drop_low,
            "drop_upper": drop_high, "ece": point["ece"][0], "ece_lower": ece_low,
            "ece_upper": ece_high, "ece_change": point["ece_change"][0],
            "ece_change_lower": change_low, "ece_change_upper": change_high,
            "best_detector": [detectors[b].name for b in best],
            "best_auroc": auroc[cell, best], "best_auroc_lower": auroc_low[cell, best],
            "best_auroc_upper": auroc_high[cell, best], "silent_failure": silent})
        detection = pd.DataFrame({
            "corruption": np.repeat(table["corruption"].to_numpy(), n_det),
            "severity": np.repeat(table["severity"].to_numpy(), n_det),
            "detector": [d.name for d in detectors] * len(units),
            "label": [d.label for d in detectors] * len(units),
            "auroc": auroc.ravel(), "lower": auroc_low.ravel(), "upper": auroc_high.ravel()})
        return table, detection

    def _metrics(self, clean_correct: np.ndarray, table: pd.DataFrame,
                 point: dict[str, np.ndarray], samples: dict[str, np.ndarray],
                 n_cells: int) -> dict[str, Metric]:
        n, conf = len(clean_correct), self.confidence
        boot = f"paired percentile bootstrap over samples, {self.n_resamples} resamples"
        k = int(clean_correct.sum())
        low, high = wilson_interval(k, n, conf)
        ece_low, ece_high = self._quantiles(samples["ece_clean"])
        worst = int(table["accuracy_drop"].idxmax())
        row = table.loc[worst]
        biggest = int(table["ece_change"].idxmax())
        n_silent = int(table["silent_failure"].sum())
        return {
            "clean_accuracy": Metric(k / n, float(low), float(high), conf, n, WILSON, True),
            "clean_ece": Metric(float(point["ece_clean"][0]), float(ece_low), float(ece_high),
                                conf, n, boot, False),
            "largest_accuracy_drop": Metric(float(row["accuracy_drop"]), float(row["drop_lower"]),
                                            float(row["drop_upper"]), conf, n,
                                            "Newcombe hybrid score interval", False),
            "detection_auroc_at_largest_drop": Metric(
                float(row["best_auroc"]), float(row["best_auroc_lower"]),
                float(row["best_auroc_upper"]), conf, n, boot, True),
            "largest_ece_increase": Metric(
                float(table.loc[biggest, "ece_change"]),
                float(table.loc[biggest, "ece_change_lower"]),
                float(table.loc[biggest, "ece_change_upper"]), conf, n, boot, False),
            "silent_failure_rate": Metric(
                n_silent / n_cells, None, None, None, n,
                f"share of {n_cells} corruption x severity cells of {n} samples each; a cell's "
                "drop rests on a Newcombe interval and its detection on a bootstrap AUROC bound",
                False),
        }

    def _detector_table(self, detectors: dict[str, Detector],
                        left_out: dict[str, str]) -> pd.DataFrame:
        rows = [{"detector": name, "label": d.label, "used": True, "reason": ""}
                for name, d in detectors.items()]
        rows += [{"detector": name, "label": make_detector(name).label, "used": False,
                  "reason": reason} for name, reason in left_out.items()]
        return pd.DataFrame(rows)

    def _figures(self, corruptions: list[Corruption], detectors: list[Detector],
                 table: pd.DataFrame, detection: pd.DataFrame,
                 metrics: dict[str, Metric]) -> dict[str, Figure]:
        shape = (len(corruptions), len(self.severities))
        means = detection.groupby("detector", sort=False)["auroc"].mean()
        shown = str(means.idxmax())
        chosen = detection[detection["detector"] == shown]
        label = next(d.label for d in detectors if d.name == shown)
        clean, ece = metrics["clean_accuracy"], metrics["clean_ece"]

        def grid(frame: pd.DataFrame, column: str) -> np.ndarray:
            return frame[column].to_numpy(dtype=np.float64).reshape(shape)

        common = {"corruptions": [c.name for c in corruptions],
                  "labels": [c.label for c in corruptions],
                  "severities": np.asarray(self.severities, dtype=np.int64),
                  "n": clean.n, "confidence": self.confidence}
        return {
            "accuracy_and_detection": Figure("ood_shift_curves", {
                **common, "accuracy": grid(table, "accuracy"), "lower": grid(table, "lower"),
                "upper": grid(table, "upper"), "clean_accuracy": clean.value,
                "silent": table["silent_failure"].to_numpy().reshape(shape),
                "detector": label, "auroc": grid(chosen, "auroc"),
                "auroc_lower": grid(chosen, "lower"), "auroc_upper": grid(chosen, "upper"),
                "detection_auroc": self.detection_auroc},
                "Accuracy and shift detection against severity"),
            "calibration": Figure("ood_shift_calibration", {
                **common, "ece": grid(table, "ece"), "lower": grid(table, "ece_lower"),
                "upper": grid(table, "ece_upper"), "clean_ece": ece.value,
                "clean_lower": ece.lower, "clean_upper": ece.upper},
                "Expected calibration error against severity"),
        }

    def _headline(self, metrics: dict[str, Metric], table: pd.DataFrame,
                  n_corruptions: int) -> str:
        clean = metrics["clean_accuracy"].value
        worst = table.loc[int(table["accuracy_drop"].idxmax())]
        n_cells, n_silent = len(table), int(table["silent_failure"].sum())
        what = (f"{n_corruptions} corruptions" if n_corruptions > 1
                else _in_sentence(str(worst["label"])))
        at = (f"at {len(self.severities)} severities" if len(self.severities) > 1
              else f"at severity {self.severities[0]}")
        text = (f"Under {what} {at}, accuracy goes from {clean:.1%} (clean) to as low as "
                f"{worst['accuracy']:.1%} ({_in_sentence(str(worst['label']))}, severity "
                f"{int(worst['severity'])}), where the best detector tells shifted from clean "
                f"inputs with AUROC {worst['best_auroc']:.2f}; {n_silent} of {n_cells} "
                f"settings fail silently (accuracy down by over {self.accuracy_drop * 100:g} "
                f"points while no detector's AUROC is surely above {self.detection_auroc:g}).")
        return text


def _in_sentence(label: str) -> str:
    """A corruption's label inside a sentence: 'contrast', but 'Gaussian blur'."""
    return label if label.startswith("Gaussian") else label[0].lower() + label[1:]
