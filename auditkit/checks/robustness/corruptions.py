"""Robustness: accuracy under natural corruptions, at growing severity.

A seeded subset of the audited samples is corrupted the way inputs degrade in
use, at severities 1 to 5, and the model is scored on each corrupted copy:
images get the ImageNet-C corruptions (Hendrycks & Dietterich 2019) of noise,
blur, contrast and brightness, and an occluding square; text typos, casing and
punctuation edits; tabular data Gaussian noise on numeric features and swapped
categories; sequences noise, a time shift and dropped frames (see
:mod:`auditkit.checks._corruptions` for each one's parameter at each severity).
Corrupted values stay inside the data's valid bounds, and values outside the
mutable features (e.g. a sequence's mask channel) never change. Reported:
accuracy per corruption and severity with Wilson intervals, the mean over all
of them against clean accuracy (bootstrap intervals over samples), the worst
corruption at the middle severity, and the same per class and per sensitive
group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from ..._stats import BootstrapSpec, bootstrap, percentile_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, map_units, register_check
from .._classification import predictions
from .._corruptions import (
    CORRUPTION_NAMES,
    CORRUPTIONS,
    N_SEVERITIES,
    Corruption,
    CorruptionDomain,
    apply_corruption,
    corrupt,
    corrupt_text,
    corrupt_texts,
    corruption_skip_reason,
    corruptions_for,
    lookup,
)
from .._params import CONFIDENCE, POSITIVE_INT, SAMPLE_SIZE, Interval, Options, SequenceOf
from ._common import (
    group_robustness_table,
    proportion,
    select_samples,
    wilson_interval,
)

__all__ = ["CORRUPTIONS", "RobustnessCorruptions", "corrupt", "corrupt_text"]

_N_RESAMPLES = 1000
# Values corrupted at once: bounds the memory of one batch (about 64 MB of float64).
_MAX_VALUES = 2**23
_N_TEXT_EXAMPLES = 3


_SEVERITY = Interval(Integral, 1, N_SEVERITIES)


@dataclass(frozen=True)
class _CorruptionInputs:
    """What every (corruption, severity) unit needs, sent once per worker."""

    model: ModelAdapter
    modality: str
    inputs: Any  # the selected samples' arrays, or their raw texts
    tokenizer: Any
    domain: CorruptionDomain | None
    mid: int
    shown: tuple[int, ...]
    example: int


def _corrupt_and_predict(shared: _CorruptionInputs, unit: tuple[str, int, np.random.Generator]
                         ) -> tuple[np.ndarray, Any]:
    """One unit of work: predictions on one corruption at one severity, and what to show.

    ``unit`` is the corruption's name, the severity and a generator of the
    corruption's own stream (the same at every severity, see ``_corruptions``).
    """
    name, severity, stream = unit
    corruption = lookup(shared.modality, name)
    model, inputs = shared.model, shared.inputs
    if shared.modality == "text":
        texts = corrupt_texts(inputs, corruption, severity, stream)
        predicted = model.predict_proba(np.asarray(shared.tokenizer(texts))).argmax(axis=1)
        return predicted, texts[:_N_TEXT_EXAMPLES] if severity == shared.mid else None
    size = max(1, _MAX_VALUES // int(np.prod(inputs.shape[1:])))
    found, kept = [], None
    for start in range(0, len(inputs), size):
        batch = apply_corruption(corruption, inputs[start:start + size], severity,
                                 shared.domain, stream)  # type: ignore[arg-type]
        found.append(model.predict_proba(batch).argmax(axis=1))
        if start <= shared.example < start + size and shared.modality == "image" \
                and severity in shared.shown:
            kept = batch[shared.example - start]
    return np.concatenate(found), kept


def _corruption_statistics(shared: tuple[np.ndarray, np.ndarray],
                           counts: np.ndarray) -> dict[str, np.ndarray]:
    """Mean corrupted and clean accuracy, their ratio and difference, per resample."""
    per_sample, clean = shared
    n = len(clean)
    corrupted, intact = counts @ per_sample / n, counts @ clean / n
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = corrupted / intact
    return {"corrupted": corrupted, "relative": relative, "drop": intact - corrupted}


@register_check
@dataclass(frozen=True)
class RobustnessCorruptions(Check):
    """Accuracy under natural corruptions of the inputs at several severities.

    Parameters
    ----------
    n_samples : int or None, default=1000
        Audited samples to corrupt, drawn at random (None: all of them).
    severities : tuple of int, default=(1, 2, 3, 4, 5)
        Severities to apply, from 1 (mild) to 5 (severe); kept sorted, without repeats.
    corruptions : tuple of str, optional
        Names of the corruptions to apply (one name, or a sequence); by default
        every corruption of the data's modality. Names of another modality are
        ignored.
    confidence : float, default=0.95
        Level of the confidence intervals.
    min_group_size : int, default=30
        Classes and groups smaller than this are flagged too small to judge.

    Examples
    --------
    >>> from auditkit import get_check
    >>> check = get_check("robustness_corruptions", n_samples=200, severities=(1, 3, 5))
    >>> check.severities
    (1, 3, 5)
    """

    name = "robustness_corruptions"
    # Relative cost (progress ETA): model calls on every corruption at every severity.
    cost = 5.0
    family = "robustness"
    order = 30
    tags = ("natural corruptions", "ImageNet-C", "black-box")
    requires = frozenset({"predict", "probabilities"})
    description = ("Accuracy when the inputs are corrupted as they are in use (noise, blur, "
                   "contrast, occlusion; typos; noisy or miscoded features; dropped frames), "
                   "at severities 1 to 5, overall, per class and per sensitive group.")

    n_samples: int | None = 1000
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    corruptions: tuple[str, ...] | None = None
    confidence: float = 0.95
    min_group_size: int = 30

    verdict_metrics = ("relative_accuracy",)
    shares = ("predictions",)
    parameter_constraints = {
        "n_samples": SAMPLE_SIZE,
        "severities": [SequenceOf(_SEVERITY), _SEVERITY],
        "corruptions": [SequenceOf(Options(CORRUPTION_NAMES)), Options(CORRUPTION_NAMES), None],
        "confidence": CONFIDENCE,
        "min_group_size": POSITIVE_INT,
    }

    def validate_options(self) -> None:
        """Normalise: severities sorted without repeats, corruptions a tuple without repeats."""
        severities = (self.severities,) if isinstance(self.severities, Integral) \
            else self.severities
        object.__setattr__(self, "severities", tuple(sorted({int(s) for s in severities})))
        if self.corruptions is not None:
            names = (self.corruptions,) if isinstance(self.corruptions, str) else self.corruptions
            object.__setattr__(self, "corruptions", tuple(dict.fromkeys(names)))

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply: also text without raw texts, or no chosen corruption."""
        reason = super().skip_reason(model, data)
        if reason is not None:
            return reason
        return corruption_skip_reason(data, self.corruptions)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the module docstring."""
        corruptions = corruptions_for(data.modality, self.corruptions)
        domain = None
        if data.modality != "text":
            domain = CorruptionDomain.from_data(data)
            corruptions = [c for c in corruptions if domain.can_change(c)]
            if not corruptions:
                return self.result(Status.SKIP, "No value of the audited data may be corrupted "
                                   "(no mutable feature with a spread, no categorical feature).")
        index = select_samples(data, self.n_samples, context.rng(self.name))
        pred = predictions(model, data, context)
        y, clean_predicted = pred.y[index], pred.predicted[index]
        correct_clean = clean_predicted == y
        inputs: Any = ([data.texts[i] for i in index] if data.modality == "text"  # type: ignore[index]
                       else data.X[index])
        example = int(np.argmax(correct_clean)) if correct_clean.any() else 0
        mid = self.severities[len(self.severities) // 2]
        shown = sorted({self.severities[0], mid, self.severities[-1]})

        shared = _CorruptionInputs(model, data.modality, inputs, data.tokenizer, domain, mid,
                                   tuple(shown), example)
        units = [(c, s) for c in corruptions for s in self.severities]
        # One stream per corruption, the same at every severity (see _corruptions).
        work = [(c.name, s, context.rng(f"{self.name}/{data.modality}/{c.name}"))
                for c, s in units]
        outcomes = map_units(context, _corrupt_and_predict, work, description="corruptions",
                             shared=shared)
        predicted = np.stack([p for p, _ in outcomes]).reshape(len(corruptions),
                                                              len(self.severities), -1)
        hits = predicted == y
        table = self._accuracy_table(corruptions, hits, predicted != clean_predicted,
                                     correct_clean)
        metrics = self._metrics(hits, correct_clean, mid, context)
        class_names = np.asarray(pred.class_names, dtype=object)[y]
        at_mid = hits[:, self.severities.index(mid)]
        tables = {"accuracy": table,
                  "per_class": self._group_table(correct_clean, at_mid, corruptions,
                                                 {"class": class_names})}
        if data.sensitive is not None:
            tables["per_group"] = self._group_table(
                correct_clean, at_mid, corruptions,
                {c: data.sensitive[c].to_numpy()[index] for c in data.sensitive.columns})
        figures = {"accuracy_vs_severity": self._curves(table, corruptions, metrics)}
        examples = {u: e for u, (_, e) in zip(units, outcomes, strict=True) if e is not None}
        if data.modality == "image":
            figures["examples"] = self._image_examples(
                data.X[index[example]], examples, corruptions, shown, domain,  # type: ignore[arg-type]
                pred.class_names, y[example], clean_predicted[example],
                predicted[:, [self.severities.index(s) for s in shown], example])
        elif data.modality == "text":
            tables["examples"] = self._text_examples(
                inputs, examples, corruptions, mid, pred.class_names, y, clean_predicted,
                predicted[:, self.severities.index(mid)])
        headline = self._headline(metrics, corruptions, table, mid)
        return self.result(Status.INFO, headline, metrics=metrics, tables=tables,
                           figures=figures)

    # -- numbers ------------------------------------------------------------------------

    def _accuracy_table(self, corruptions: list[Corruption], hits: np.ndarray,
                        changed: np.ndarray, correct_clean: np.ndarray) -> pd.DataFrame:
        n = hits.shape[-1]
        accuracy = hits.mean(axis=-1)
        lower, upper = wilson_interval(hits.sum(axis=-1), n, self.confidence)
        rows = [{"corruption": c.name, "label": c.label, "severity": s,
                 "parameter": c.level(s), "parameter_meaning": c.parameter, "n": n,
                 "accuracy": float(accuracy[i, j]), "lower": float(lower[i, j]),
                 "upper": float(upper[i, j]),
                 "accuracy_drop": float(correct_clean.mean() - accuracy[i, j]),
                 "prediction_change_rate": float(changed[i, j].mean())}
                for i, c in enumerate(corruptions) for j, s in enumerate(self.severities)]
        return pd.DataFrame(rows)

    def _metrics(self, hits: np.ndarray, correct_clean: np.ndarray, mid: int,
                 context: CheckContext) -> dict[str, Metric]:
        n = len(correct_clean)
        clean = correct_clean.astype(np.float64)
        per_sample = hits.mean(axis=(0, 1))  # each sample's accuracy over all corruptions

        spec = BootstrapSpec(_N_RESAMPLES, self.confidence)
        samples = bootstrap(_corruption_statistics, n, spec=spec,
                            rng=context.rng(f"{self.name}/bootstrap"),
                            shared=(per_sample, clean), executor=context.executor)
        point = _corruption_statistics((per_sample, clean), np.ones((1, n)))

        def bootstrapped(key: str, higher_is_better: bool) -> Metric:
            low, high = percentile_interval(samples[key], self.confidence)
            return Metric(float(point[key][0]), low, high, self.confidence, n,
                          f"percentile bootstrap over samples, {_N_RESAMPLES} resamples",
                          higher_is_better)

        worst = int(np.argmin(hits[:, self.severities.index(mid)].mean(axis=-1)))
        return {
            "clean_accuracy": proportion(correct_clean, confidence=self.confidence,
                                         higher_is_better=True),
            "mean_corrupted_accuracy": bootstrapped("corrupted", True),
            "worst_corruption_accuracy": proportion(hits[worst, self.severities.index(mid)],
                                                    confidence=self.confidence,
                                                    higher_is_better=True),
            "relative_accuracy": bootstrapped("relative", True),
            "mean_accuracy_drop": bootstrapped("drop", False),
        }

    def _group_table(self, correct_clean: np.ndarray, hits: np.ndarray,
                     corruptions: list[Corruption],
                     features: dict[str, np.ndarray]) -> pd.DataFrame:
        frames = []
        for feature, groups in features.items():
            for i, corruption in enumerate(corruptions):
                frame = group_robustness_table(correct_clean, hits[i], groups,
                                               min_group_size=self.min_group_size,
                                               confidence=self.confidence)
                frame.insert(0, "corruption", corruption.name)
                frame.insert(0, "feature", feature)
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    # -- figures and examples -----------------------------------------------------------

    def _curves(self, table: pd.DataFrame, corruptions: list[Corruption],
                metrics: dict[str, Metric]) -> Figure:
        shape = (len(corruptions), len(self.severities))
        clean = metrics["clean_accuracy"]
        return Figure("corruption_accuracy_curves", {
            "corruptions": [c.name for c in corruptions],
            "labels": [c.label for c in corruptions],
            "severities": np.asarray(self.severities, dtype=np.int64),
            "accuracy": table["accuracy"].to_numpy().reshape(shape),
            "lower": table["lower"].to_numpy().reshape(shape),
            "upper": table["upper"].to_numpy().reshape(shape),
            "clean_accuracy": clean.value, "clean_lower": clean.lower,
            "clean_upper": clean.upper, "n": clean.n, "confidence": self.confidence},
            "Accuracy against corruption severity")

    def _image_examples(self, clean: np.ndarray, examples: dict[tuple[Corruption, int], Any],
                        corruptions: list[Corruption], shown: list[int], domain: CorruptionDomain,
                        class_names: Sequence[str], label: int, clean_predicted: int,
                        predicted: np.ndarray) -> Figure:
        images = np.stack([np.stack([_display(examples[(c, s)], domain) for s in shown])
                           for c in corruptions])
        return Figure("corruption_examples", {
            "clean": _display(clean, domain), "images": images,
            "labels": [c.label for c in corruptions],
            "severities": np.asarray(shown, dtype=np.int64),
            "true_class": str(class_names[label]),
            "clean_prediction": str(class_names[clean_predicted]),
            "predictions": np.asarray([[str(class_names[p]) for p in row] for row in predicted],
                                      dtype=object)},
            "One test image under each corruption")

    def _text_examples(self, texts: list[str], examples: dict[tuple[Corruption, int], Any],
                       corruptions: list[Corruption], mid: int, class_names: Sequence[str],
                       y: np.ndarray, clean_predicted: np.ndarray,
                       predicted: np.ndarray) -> pd.DataFrame:
        rows = [{"corruption": c.name, "severity": mid, "original": texts[k],
                 "corrupted": examples[(c, mid)][k], "true_class": str(class_names[y[k]]),
                 "clean_prediction": str(class_names[clean_predicted[k]]),
                 "corrupted_prediction": str(class_names[predicted[i, k]])}
                for k in range(min(_N_TEXT_EXAMPLES, len(texts)))
                for i, c in enumerate(corruptions)]
        return pd.DataFrame(rows)

    def _headline(self, metrics: dict[str, Metric], corruptions: list[Corruption],
                  table: pd.DataFrame, mid: int) -> str:
        clean = metrics["clean_accuracy"].value
        corrupted = metrics["mean_corrupted_accuracy"].value
        verb = ("falls" if corrupted < clean - 0.0005 else
                "rises" if corrupted > clean + 0.0005 else "stays")
        n_sev = len(self.severities)
        at = f"at {n_sev} severities" if n_sev > 1 else f"at severity {self.severities[0]}"
        k = len(corruptions)
        what = f"under {k} corruptions" if k > 1 else f"under {_in_sentence(corruptions[0])}"
        by_name = {c.name: c for c in corruptions}
        level = table[table["severity"] == mid]
        worst = level.loc[level["accuracy"].idxmin()]
        change = (f"from {clean:.1%} to {corrupted:.1%}" if verb != "stays"
                  else f"at {clean:.1%}")
        text = f"Accuracy {verb} {change} on average {what} {at}"
        if k > 1 and worst["accuracy"] < clean:
            name = _in_sentence(by_name[worst["corruption"]])
            verb = "hurt" if name.endswith("s") else "hurts"  # typos, dropped frames
            text += f"; {name} {verb} most ({worst['accuracy']:.1%} at severity {mid})"
        elif k > 1:
            text += f"; none of them lowers it at severity {mid}"
        return text[0].upper() + text[1:] + "."


def _in_sentence(corruption: Corruption) -> str:
    """The corruption's label inside a sentence: 'contrast', but 'Gaussian blur'."""
    label = corruption.label
    return label if label.startswith("Gaussian") else label[0].lower() + label[1:]


def _display(image: np.ndarray, domain: CorruptionDomain) -> np.ndarray:
    """An image as 8-bit grey levels or RGB of its valid range: small in the report's JSON."""
    span = np.where(domain.high > domain.low, domain.high - domain.low, 1.0)
    scaled = np.clip((np.asarray(image, dtype=np.float64) - domain.low) / span, 0.0, 1.0)
    if scaled.ndim == 3:  # (C, H, W)
        scaled = scaled.transpose(1, 2, 0) if scaled.shape[0] == 3 else scaled.mean(axis=0)
    return np.rint(scaled * 255).astype(np.uint8)
