"""OOD: how well the model's own outputs tell out-of-distribution inputs apart, per detector.

Every detector the model can feed (see :mod:`._detectors`: probability,
logit, gradient and feature scores) is fitted on the reference inputs only
(:attr:`AuditData.reference_inputs`, at most ``max_reference`` rows; when the
data has neither reference nor training inputs, a seeded half of the audited
samples, and the other half is scored) and scores the in-distribution test
samples and each OOD set. Reported per detector and set: AUROC, AUPR-In,
AUPR-Out, FPR at 95% TPR and detection accuracy, with percentile bootstrap
intervals that resample the in-distribution and the OOD inputs independently
(the same in-distribution resamples for every detector and set, so means over
sets and comparisons between detectors are paired). The best detector has the
highest mean AUROC over the sets (ties: the lower mean FPR@95); its mean
AUROC and FPR@95 are the verdict metrics. Figures: score histograms, ROC
curves, and the OOD inputs the model is most confident on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from ..._stats import percentile_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, map_units, register_check
from .._params import CONFIDENCE, NON_NEGATIVE_INT, SAMPLE_SIZE, Interval, Options, SequenceOf
from ._common import NO_OOD_SETS, SCORE_CONVENTION, OODSet, model_outputs, ood_sets, reference_rows
from ._detectors import Detector, DetectorUnavailable, detector_names, make_detector
from ._metrics import (
    METRIC_CONVENTION,
    METRIC_NAMES,
    DetectionMetrics,
    detection_metrics,
    roc_points,
)

__all__ = ["OODDetection"]

_POSITIVE = [Interval(Real, 0, None, closed="neither")]
_BINS = 40
#: Metrics whose intervals the table shows (all of them are computed).
_WITH_INTERVALS = ("auroc", "fpr_at_95_tpr")
_ROC_GRID = np.linspace(0.0, 1.0, 201)
SPLIT_NOTE = ("The data has neither reference nor training inputs: detectors were fitted on a "
              "seeded half of the audited samples and scored on the other half.")


def _bootstrap_metrics(shared: tuple[int, float], unit: tuple) -> DetectionMetrics:
    """One unit of work: every metric of one detector on one OOD set, with intervals."""
    n_resamples, confidence = shared
    id_scores, ood_scores, id_rng, ood_rng = unit
    return detection_metrics(id_scores, ood_scores, n_resamples=n_resamples,
                             confidence=confidence, rng=id_rng, ood_rng=ood_rng)


@register_check
@dataclass(frozen=True)
class OODDetection(Check):
    """Out-of-distribution detection: every available detector on every OOD set.

    Parameters
    ----------
    detectors : tuple of str or None, default=None
        Detectors to run (see ``auditkit.checks.ood``): ``msp``, ``entropy``,
        ``gen``, ``max_logit``, ``energy``, ``odin``, ``mahalanobis``,
        ``relative_mahalanobis``, ``knn``, ``vim``, ``react``. None: all.
    temperature : float, default=1.0
        Temperature of the Energy and ReAct scores.
    odin_temperature : float, default=1000.0
        Temperature of ODIN.
    odin_eps : float, default=0.0014
        ODIN's input step, as a fraction of each value's valid range.
    k : int or None, default=None
        Neighbour of KNN; None: 1% of the reference rows, at least 1 (50 for
        5,000 rows, the paper's setting).
    gen_gamma : float, default=0.1
        Exponent of GEN.
    gen_top_m : int or None, default=None
        Classes GEN sums over (the most probable); None: all.
    vim_dim : int or None, default=None
        Principal-space dimension of ViM; None: half the feature dimension.
    react_percentile : float, default=90.0
        Percentile (0-100) of reference activations at which ReAct clips.
    max_reference : int or None, default=5000
        Reference rows detectors are fitted on (a seeded subsample); None: all.
    n_samples : int or None, default=None
        In-distribution and OOD inputs scored per set (a seeded subsample); None: all.
    n_resamples : int, default=1000
        Bootstrap resamples of the intervals; 0 for none.
    confidence : float, default=0.95
        Level of the intervals.
    n_examples : int, default=8
        OOD inputs shown per set: those the model is most confident on.

    Examples
    --------
    >>> from auditkit import get_check
    >>> get_check("ood_detection", detectors=("msp", "energy"), n_resamples=200).detectors
    ('msp', 'energy')
    """

    name = "ood_detection"
    family = "ood"
    order = 10
    tags = ("out-of-distribution", "MSP", "Energy", "Mahalanobis", "KNN", "ViM")
    requires = frozenset({"predict"})
    description = ("How well the model's own probabilities, logits, gradients and features "
                   "tell out-of-distribution inputs from in-distribution ones (AUROC, AUPR, "
                   "FPR at 95% TPR), for each detector and OOD set, and which detector to use.")
    verdict_metrics = ("best_auroc", "best_fpr_at_95_tpr")
    shares = ("ood.logits", "ood.features")

    detectors: tuple[str, ...] | None = None
    temperature: float = 1.0
    odin_temperature: float = 1000.0
    odin_eps: float = 0.0014
    k: int | None = None
    gen_gamma: float = 0.1
    gen_top_m: int | None = None
    vim_dim: int | None = None
    react_percentile: float = 90.0
    max_reference: int | None = 5000
    n_samples: int | None = None
    n_resamples: int = 1000
    confidence: float = 0.95
    n_examples: int = 8

    parameter_constraints = {
        "detectors": [SequenceOf(Options(detector_names()), distinct=True),
                      Options(detector_names()), None],
        "temperature": _POSITIVE,
        "odin_temperature": _POSITIVE,
        "odin_eps": [Interval(Real, 0, 1)],
        "k": [Interval(Integral, 1, None), None],
        "gen_gamma": _POSITIVE,
        "gen_top_m": [Interval(Integral, 1, None), None],
        "vim_dim": [Interval(Integral, 1, None), None],
        "react_percentile": [Interval(Real, 0, 100, closed="right")],
        "max_reference": [Interval(Integral, 2, None), None],
        "n_samples": SAMPLE_SIZE,
        "n_resamples": NON_NEGATIVE_INT,
        "confidence": CONFIDENCE,
        "n_examples": NON_NEGATIVE_INT,
    }

    def validate_options(self) -> None:
        """Normalise ``detectors`` to a tuple."""
        if isinstance(self.detectors, str):
            object.__setattr__(self, "detectors", (self.detectors,))
        elif self.detectors is not None:
            object.__setattr__(self, "detectors", tuple(self.detectors))

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Also: no OOD sets."""
        return super().skip_reason(model, data) or (None if data.ood else NO_OOD_SETS)

    def make_detectors(self) -> list[Detector]:
        """The chosen detectors, unfitted, with this check's options."""
        options: dict[str, dict[str, Any]] = {
            "gen": {"gamma": self.gen_gamma, "top_m": self.gen_top_m},
            "energy": {"temperature": self.temperature},
            "odin": {"temperature": self.odin_temperature, "eps": self.odin_eps},
            "knn": {"k": self.k},
            "vim": {"dim": self.vim_dim},
            "react": {"percentile": self.react_percentile, "temperature": self.temperature},
        }
        return [make_detector(n, **options.get(n, {}))
                for n in (self.detectors or detector_names())]

    # -- the run ------------------------------------------------------------------------

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Fit, score, measure; see the module docstring."""
        sets = ood_sets(data)
        reference_X, reference_key, id_X, id_key, split = self._in_distribution(data, context)
        unavailable, runnable = [], []
        for detector in self.make_detectors():
            reason = detector.unavailable_reason(model, data)
            if reason is None:
                runnable.append(detector)
            else:
                unavailable.append((detector, reason))
        wants_features = any("features" in d.needs for d in runnable)
        reference = model_outputs(model, reference_X, context, key=reference_key,
                                  features=wants_features)
        in_dist = model_outputs(model, id_X, context, key=id_key, features=wants_features)
        sampled = [self._sampled(s, context) for s in sets]
        outputs = [model_outputs(model, X, context, key=key, features=wants_features)
                   for _, X, key in sampled]
        bounds = data.valid_bounds() if data.modality != "text" else None

        scores: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
        fitted: list[Detector] = []
        for detector in runnable:
            try:
                detector.fit(reference)
            except DetectorUnavailable as error:
                unavailable.append((detector, str(error)))
                continue
            if detector.reads_inputs:
                scores[detector.name] = (detector.score_inputs(model, id_X, bounds=bounds),
                                         [detector.score_inputs(model, X, bounds=bounds)
                                          for _, X, _ in sampled])
            else:
                scores[detector.name] = (detector.score(in_dist),
                                         [detector.score(o) for o in outputs])
            fitted.append(detector)
        if not fitted:
            return self.result(Status.SKIP, "No detector can run on this model: " + " ".join(
                reason for _, reason in unavailable))

        results, samples = self._measure(fitted, scores, sets, context)
        table = self._table(fitted, sets, results)
        best = self._best(table)
        metrics = self._metrics(best, sets, results, samples, len(id_X))
        tables = {"detection": table}
        if unavailable:
            unavailable.sort(key=lambda pair: detector_names().index(pair[0].name))
            tables["unavailable"] = pd.DataFrame(
                [{"detector": d.name, "label": d.label, "reason": r} for d, r in unavailable])
        figures = {"score_histograms": self._histograms(fitted, scores, sets, [best]),
                   "roc_curves": self._roc(fitted, scores, sets)}
        if len(fitted) > 1:
            figures["score_histograms_all"] = self._histograms(
                fitted, scores, sets, [d.name for d in fitted])
        if self.n_examples:
            self._examples(data, sets, sampled, outputs, figures, tables)
        notes = [SCORE_CONVENTION, METRIC_CONVENTION] + ([SPLIT_NOTE] if split else [])
        tables["notes"] = pd.DataFrame({"note": notes})
        return self.result(Status.INFO, self._headline(best, fitted, sets, metrics, unavailable),
                           metrics=metrics, tables=tables, figures=figures)

    def _in_distribution(self, data: AuditData, context: CheckContext
                         ) -> tuple[np.ndarray, str, np.ndarray, str, bool]:
        """Reference inputs and in-distribution inputs to score, with their shared keys."""
        if data.reference_inputs is data.X:
            order = context.rng(f"{self.name}/split").permutation(len(data.X))
            half = len(order) // 2
            reference, scored = np.sort(order[:half]), np.sort(order[half:])
            if self.max_reference is not None:
                reference = reference[:self.max_reference]
            scored = self._cap(scored, context, "test")
            return (data.X[reference], f"test[reference half {len(reference)}]",
                    data.X[scored], f"test[scored half {len(scored)}]", True)
        rows = reference_rows(data, self.max_reference, context)
        key = "reference" if len(rows) == len(data.reference_inputs) \
            else f"reference[{self.max_reference}]"
        scored = self._cap(np.arange(len(data.X)), context, "test")
        id_key = "test" if len(scored) == len(data.X) else f"test[{self.n_samples}]"
        return data.reference_inputs[rows], key, data.X[scored], id_key, False

    def _cap(self, rows: np.ndarray, context: CheckContext, name: str) -> np.ndarray:
        if self.n_samples is None or len(rows) <= self.n_samples:
            return rows
        return np.sort(context.rng(f"ood.sample/{name}").choice(rows, self.n_samples,
                                                               replace=False))

    def _sampled(self, ood: OODSet, context: CheckContext) -> tuple[np.ndarray, np.ndarray, str]:
        rows = self._cap(np.arange(len(ood.X)), context, ood.name)
        key = f"ood:{ood.name}" if len(rows) == len(ood.X) else \
            f"ood:{ood.name}[{self.n_samples}]"
        return rows, ood.X[rows], key

    # -- numbers ------------------------------------------------------------------------

    def _measure(self, fitted: list[Detector], scores: dict[str, Any], sets: list[OODSet],
                 context: CheckContext) -> tuple[dict, dict]:
        pairs = [(d.name, s.name) for d in fitted for s in sets]
        position = {s.name: j for j, s in enumerate(sets)}
        # The same in-distribution resamples for every detector and set: paired.
        units = [(scores[d][0], scores[d][1][position[s]],
                  context.rng(f"{self.name}/bootstrap/in-distribution"),
                  context.rng(f"{self.name}/bootstrap/ood/{s}")) for d, s in pairs]
        found = map_units(context, _bootstrap_metrics, units, description="OOD metrics",
                          shared=(self.n_resamples, self.confidence))
        results = dict(zip(pairs, found, strict=True))
        return results, {pair: m.samples for pair, m in results.items()}

    def _table(self, fitted: list[Detector], sets: list[OODSet], results: dict) -> pd.DataFrame:
        rows = []
        for detector in fitted:
            for ood in sets:
                found = results[detector.name, ood.name]
                # The option name, as ``detectors=`` takes it.
                row: dict[str, Any] = {"detector": detector.name, "ood_set": ood.name,
                                       "kind": ood.kind, "n_id": found.n_id,
                                       "n_ood": found.n_ood}
                for metric in METRIC_NAMES:
                    row[metric] = found.values[metric]
                    if metric in _WITH_INTERVALS:
                        row[f"{metric}_lower"] = found.lower[metric]
                        row[f"{metric}_upper"] = found.upper[metric]
                rows.append(row)
        return pd.DataFrame(rows)

    @staticmethod
    def _best(table: pd.DataFrame) -> str:
        means = table.groupby("detector", sort=False)[["auroc", "fpr_at_95_tpr"]].mean()
        order = means.assign(neg=-means["auroc"]).sort_values(["neg", "fpr_at_95_tpr"],
                                                              kind="stable")
        return str(order.index[0])

    def _metrics(self, best: str, sets: list[OODSet], results: dict, samples: dict,
                 n_id: int) -> dict[str, Metric]:
        n_ood = sum(results[best, s.name].n_ood for s in sets)
        # n counts the audited (in-distribution) inputs scored; the method names the OOD ones.
        method = (f"percentile bootstrap, {self.n_resamples} resamples of the in-distribution "
                  "and OOD inputs drawn independently; {n_ood} OOD inputs")

        def metric(key: str, higher: bool, names: list[str], count: int) -> Metric:
            value = float(np.mean([results[best, s].values[key] for s in names]))
            if self.n_resamples == 0:
                return Metric(value, n=n_id, higher_is_better=higher)
            low, high = percentile_interval(
                np.mean([samples[best, s][key] for s in names], axis=0), self.confidence)
            return Metric(value, low, high, self.confidence, n_id,
                          method.format(n_ood=count), higher)

        names = [s.name for s in sets]
        metrics = {"best_auroc": metric("auroc", True, names, n_ood),
                   "best_fpr_at_95_tpr": metric("fpr_at_95_tpr", False, names, n_ood)}
        for s in sets:
            slug = _slug(s.name)
            count = results[best, s.name].n_ood
            metrics[f"auroc_{slug}"] = metric("auroc", True, [s.name], count)
            metrics[f"fpr_at_95_tpr_{slug}"] = metric("fpr_at_95_tpr", False, [s.name], count)
        return metrics

    # -- figures and examples -----------------------------------------------------------

    @staticmethod
    def _histograms(fitted: list[Detector], scores: dict[str, Any], sets: list[OODSet],
                    names: list[str]) -> Figure:
        labels = {d.name: d.short or d.label for d in fitted}
        edges, id_density, ood_density = [], [], []
        for name in names:
            id_scores, ood_scores = scores[name]
            pooled = np.concatenate([id_scores, *ood_scores])
            low, high = np.quantile(pooled, [0.005, 0.995])
            high = high if high > low else low + 1.0
            bins = np.linspace(low, high, _BINS + 1)
            edges.append(bins)
            id_density.append(np.histogram(np.clip(id_scores, low, high), bins, density=True)[0])
            ood_density.append([np.histogram(np.clip(v, low, high), bins, density=True)[0]
                                for v in ood_scores])
        title = (f"Scores of {labels[names[0]]}, the best detector" if len(names) == 1
                 else "Scores of every detector")
        return Figure("ood_score_histograms", {
            "detectors": [labels[n] for n in names], "sets": [s.name for s in sets],
            "edges": np.asarray(edges), "id_density": np.asarray(id_density),
            "ood_density": np.asarray(ood_density)}, title)

    @staticmethod
    def _roc(fitted: list[Detector], scores: dict[str, Any], sets: list[OODSet]) -> Figure:
        tpr = np.asarray([[roc_points(scores[d.name][0], scores[d.name][1][j], _ROC_GRID)
                           for d in fitted] for j in range(len(sets))])
        return Figure("ood_roc_curves", {
            "detectors": [d.short or d.label for d in fitted], "sets": [s.name for s in sets],
            "fpr": _ROC_GRID, "tpr": tpr}, "ROC curves, OOD inputs positive")

    def _examples(self, data: AuditData, sets: list[OODSet], sampled: list, outputs: list,
                  figures: dict[str, Figure], tables: dict[str, pd.DataFrame]) -> None:
        """The OOD inputs of each set with the highest maximum probability."""
        names = data.class_names
        rows, picked = [], []
        for ood, (index, X, _), out in zip(sets, sampled, outputs, strict=True):
            confidence = out.proba.max(axis=1)
            top = np.argsort(-confidence, kind="stable")[:self.n_examples]
            for rank, i in enumerate(top):
                predicted = int(out.proba[i].argmax())
                row = {"ood_set": ood.name, "rank": rank + 1, "row": int(index[i]),
                       "predicted_class": str(names[predicted]) if names else str(predicted),
                       "confidence": float(confidence[i])}
                if data.modality == "text":
                    row["text"] = (ood.texts[int(index[i])] if ood.texts is not None
                                   else _decode(data.tokenizer, X[i]))
                elif data.modality == "tabular":
                    columns = data.feature_names or [f"x{j}" for j in range(X.shape[1])]
                    row.update({str(c): float(v) for c, v in zip(columns, X[i], strict=True)})
                rows.append(row)
                picked.append(X[i])
        tables["ood_examples"] = pd.DataFrame(rows)
        if not rows or data.modality not in ("image", "sequence"):
            return
        frame = tables["ood_examples"]
        common = {"sets": frame["ood_set"].tolist(),
                  "predicted": frame["predicted_class"].tolist(),
                  "confidence": frame["confidence"].to_numpy()}
        if data.modality == "image":
            low, high = data.valid_bounds()
            common["images"] = np.stack([_display(x, low, high) for x in picked])
        else:
            series = np.stack(picked).astype(np.float64)
            common["series"] = series if series.ndim == 3 else series[:, :, None]
            common["channels"] = list(data.feature_names or [])
        figures["examples"] = Figure(f"ood_examples_{data.modality}", common,
                                     "OOD inputs the model is most confident on")

    def _headline(self, best: str, fitted: list[Detector], sets: list[OODSet],
                  metrics: dict[str, Metric], unavailable: list) -> str:
        label = next(d.label for d in fitted if d.name == best)
        auroc, fpr = metrics["best_auroc"], metrics["best_fpr_at_95_tpr"]
        where = (f"{sets[0].name} ({sets[0].kind})" if len(sets) == 1
                 else f"{len(sets)} OOD sets (mean)")
        interval = (f" [{auroc.lower:.3f}, {auroc.upper:.3f}]" if auroc.has_interval else "")
        text = (f"{label} is the best of {len(fitted)} detectors on {where}: AUROC "
                f"{auroc.value:.3f}{interval}, FPR at 95% TPR {fpr.value:.1%}")
        if unavailable:
            text += f"; {len(unavailable)} left out (see the table)"
        return text + "."


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "set"


def _decode(tokenizer: Any, ids: np.ndarray) -> str:
    if tokenizer is not None and hasattr(tokenizer, "decode"):
        return " ".join(str(t) for t in tokenizer.decode(ids))
    return " ".join(str(int(i)) for i in ids if int(i) != 0)


def _display(image: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """An image as 8-bit grey levels or RGB of its valid range: small in the report's JSON."""
    span = np.where(high > low, high - low, 1.0)
    scaled = np.clip((np.asarray(image, dtype=np.float64) - low) / span, 0.0, 1.0)
    if scaled.ndim == 3:  # (C, H, W)
        scaled = scaled.transpose(1, 2, 0) if scaled.shape[0] == 3 else scaled.mean(axis=0)
    return np.rint(scaled * 255).astype(np.uint8)
