"""Shared machinery of the explanation checks.

Every explanation check explains the same samples (a few correctly
classified ones from each class and the most confident mistakes), groups its
attributions into interpretable *units* (a tabular feature with all its
one-hot columns, an image patch, a token, a time step), and measures how far
the explanation can be trusted:

- deletion and insertion curves (Petsiuk et al. 2018): remove (or add) units
  in order of attribution and follow the explained class's probability, against
  the same curves for random orderings;
- the model-randomisation sanity check (Adebayo et al. 2018): rank correlation
  between explanations of the trained model and of a copy with re-initialised
  weights; an explanation that does not change is not explaining the model;
- max-sensitivity (Yeh et al. 2019): the largest relative change of the
  attributions under small input noise.

A method is one small subclass of :class:`ExplanationCheck` that implements
``attribute``; the rest lives here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from ..._stats import BootstrapSpec, percentile_interval, resample_counts
from ...inputs import AuditData, GroupSpace, ModelAdapter, TorchClassifier
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext
from .._classification import Predictions, predictions

__all__ = ["Explained", "ExplanationCheck", "Units", "explained_samples",
           "units_for"]

# -- which samples are explained ---------------------------------------------------------


@dataclass(frozen=True)
class Explained:
    """The samples an explanation check explains, and the class explained for each."""

    index: np.ndarray  # rows of data.X
    X: np.ndarray
    target: np.ndarray  # explained class index (the predicted class)
    true: np.ndarray  # true class index
    confidence: np.ndarray  # predicted probability of the target
    misclassified: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.index)


def explained_samples(model: ModelAdapter, data: AuditData, context: CheckContext,
                      n_samples: int) -> Explained:
    """Correct samples from every class in turn, then the most confident mistakes.

    A quarter of the samples (at most) are misclassified ones, so the report can
    show why the model went wrong; the rest are drawn at random, cycling
    through the true classes. The same seed gives the same samples for every
    method, which is what lets their explanations be compared.
    """
    return context.shared("explanations.samples", (id(model), n_samples),
                          lambda: _explained_samples(model, data, context, n_samples))


def _explained_samples(model: ModelAdapter, data: AuditData, context: CheckContext,
                       n_samples: int) -> Explained:
    pred = predictions(model, data, context)
    rng = context.rng("explanations.samples")
    wrong = np.flatnonzero(pred.predicted != pred.y)
    right = rng.permutation(np.flatnonzero(pred.predicted == pred.y))
    n_wrong = min(len(wrong), n_samples // 4)
    wrong = wrong[np.argsort(-pred.confidence[wrong], kind="stable")[:n_wrong]]
    # Cycle through classes: order by (position within own class, class).
    classes = pred.y[right]
    position = np.zeros(len(right), dtype=np.int64)
    for k in np.unique(classes):
        position[classes == k] = np.arange(np.sum(classes == k))
    right = right[np.lexsort((classes, position))][: n_samples - n_wrong]
    index = np.concatenate([right, wrong])
    explained = Explained(index=index, X=np.asarray(data.X)[index],
                          target=pred.predicted[index], true=pred.y[index],
                          confidence=pred.confidence[index],
                          misclassified=pred.predicted[index] != pred.y[index])
    return explained


# -- interpretable units ---------------------------------------------------------------------


class Units:
    """How attributions are grouped into units, and how units are removed.

    Subclasses define ``unit_of`` (the unit index of every input element, shape
    of one sample), ``baseline`` (the value a removed element takes) and the
    unit names.
    """

    names: list[str]
    unit_of: np.ndarray  # int, shape of one sample
    n_units: int

    def baseline(self, X: np.ndarray) -> np.ndarray:
        """Inputs with every unit removed, shaped like X."""
        return np.zeros_like(X)

    def valid(self, X: np.ndarray) -> np.ndarray:
        """Which units exist in each sample, (n, n_units) bool."""
        return np.ones((len(X), self.n_units), dtype=bool)

    def pool(self, attributions: np.ndarray, *, how: str = "sum") -> np.ndarray:
        """Attributions shaped like the inputs -> (n, n_units)."""
        flat = attributions.reshape(len(attributions), -1)
        onehot = np.eye(self.n_units)[self.unit_of.ravel()]
        pooled = flat @ onehot
        if how == "mean":
            pooled = pooled / np.maximum(onehot.sum(axis=0), 1)
        return pooled

    def compose(self, X: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """X with the units where ``keep`` is False set to the baseline."""
        element_keep = keep[:, self.unit_of.ravel()].reshape(X.shape)
        return np.where(element_keep, X, self.baseline(X)).astype(X.dtype)

    def mask_tensor(self) -> torch.Tensor:
        """The unit index of every element, for captum's feature_mask."""
        return torch.from_numpy(self.unit_of[None].astype(np.int64))


class TabularUnits(Units):
    """One unit per original feature; removed features take the reference mean."""

    def __init__(self, data: AuditData) -> None:
        space = GroupSpace(data)
        self.names = space.names
        self.n_units = len(space.names)
        self.unit_of = np.zeros(data.X.shape[1], dtype=np.int64)
        for j, columns in enumerate(space.columns):
            self.unit_of[columns] = j
        source = data.reference_inputs
        self._baseline = np.asarray(source, dtype=np.float64).mean(axis=0).astype(np.float32)

    def baseline(self, X: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._baseline, X.shape).astype(X.dtype)


class ImageUnits(Units):
    """Square patches; removed patches are black (zero)."""

    def __init__(self, sample_shape: tuple[int, ...], patch: int) -> None:
        height, width = sample_shape[-2:]
        rows, cols = -(-height // patch), -(-width // patch)
        grid = (np.arange(height)[:, None] // patch) * cols + (np.arange(width)[None, :] // patch)
        self.unit_of = np.broadcast_to(grid, sample_shape).copy()
        self.n_units = rows * cols
        self.names = [f"patch ({r}, {c})" for r in range(rows) for c in range(cols)]
        self.patch = patch


class TextUnits(Units):
    """One unit per token position; removed tokens become padding (id 0)."""

    def __init__(self, length: int, pad_id: int = 0) -> None:
        self.unit_of = np.arange(length)
        self.n_units = length
        self.names = [f"token {i}" for i in range(length)]
        self.pad_id = pad_id

    def baseline(self, X: np.ndarray) -> np.ndarray:
        return np.full_like(X, self.pad_id)

    def valid(self, X: np.ndarray) -> np.ndarray:
        return X != self.pad_id


class SequenceUnits(Units):
    """One unit per time step; removed steps take the model's baseline (or zero)."""

    def __init__(self, sample_shape: tuple[int, ...], model: ModelAdapter) -> None:
        length = sample_shape[0]
        self.unit_of = np.broadcast_to(np.arange(length).reshape((length,) + (1,) *
                                                                  (len(sample_shape) - 1)),
                                       sample_shape).copy()
        self.n_units = length
        self.names = [f"step {i}" for i in range(length)]
        self._hook = getattr(getattr(model, "module", None), "attribution_baseline", None)

    def valid(self, X: np.ndarray) -> np.ndarray:
        """Time steps that hold data: multichannel steps that are all zero are padding."""
        if X.ndim == 3:
            return np.any(X != 0, axis=-1)
        return super().valid(X)

    def baseline(self, X: np.ndarray) -> np.ndarray:
        if callable(self._hook):
            with torch.no_grad():
                return np.asarray(self._hook(torch.as_tensor(X)).cpu().numpy(), dtype=X.dtype)
        return np.zeros_like(X)


def units_for(model: ModelAdapter, data: AuditData, *, patch: int = 4) -> Units:
    """The units of the audited data's modality."""
    shape = data.X.shape[1:]
    if data.modality == "tabular":
        return TabularUnits(data)
    if data.modality == "image":
        return ImageUnits(shape, patch)
    if data.modality == "text":
        return TextUnits(shape[0])
    return SequenceUnits(shape, model)


# -- faithfulness -----------------------------------------------------------------------------


def perturbation_curves(model: ModelAdapter, units: Units, explained: Explained,
                        scores: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    """Deletion and insertion curves of the explained class's probability.

    Returns per-sample curves of shape (n, steps + 1) at the fractions
    ``linspace(0, 1, steps + 1)`` of each sample's units.
    """
    X, n = explained.X, len(explained)
    valid = units.valid(X)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    order = np.argsort(-np.where(valid, scores, -np.inf), axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(units.n_units)[None, :]
    count = np.rint(fractions[None, :] * valid.sum(axis=1)[:, None]).astype(np.int64)
    top = rank[:, None, :] < count[:, :, None]  # (n, steps + 1, units): the top-k units
    repeated = np.repeat(X, steps + 1, axis=0)
    target = np.repeat(explained.target, steps + 1)
    curves = {}
    for name, keep in (("deletion", ~top), ("insertion", top)):
        inputs = units.compose(repeated, keep.reshape(n * (steps + 1), -1))
        proba = model.predict_proba(inputs)[np.arange(len(target)), target]
        curves[name] = proba.reshape(n, steps + 1)
    return curves


def _area(curves: np.ndarray) -> np.ndarray:
    steps = curves.shape[1] - 1
    return (curves[:, 1:] + curves[:, :-1]).sum(axis=1) / (2 * steps)


def rank_correlation(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Spearman correlation per row (over valid units); NaN when a row is constant."""
    if valid is not None and not valid.all():
        return np.array([rank_correlation(a[i:i + 1, valid[i]], b[i:i + 1, valid[i]])[0]
                         for i in range(len(a))])
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denominator = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (ra * rb).sum(axis=1) / denominator, np.nan)


def randomised_copy(model: ModelAdapter, seed: int) -> ModelAdapter | None:
    """The model with every layer re-initialised (Adebayo et al.'s cascading end point)."""
    if not isinstance(model, TorchClassifier):
        return None
    module = copy.deepcopy(model.module)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in module.modules():
            if hasattr(layer, "reset_parameters") and layer is not module:
                layer.reset_parameters()
    batch_size = None if getattr(model, "_auto_batch", False) else model.batch_size
    clone = TorchClassifier(module, batch_size=batch_size, device=model.device,
                            classes=model.classes_, feature_layer=model.feature_layer)
    return clone


def mean_interval(values: np.ndarray, spec: BootstrapSpec,
                  rng: np.random.Generator) -> tuple[float | None, float | None]:
    """Percentile-bootstrap interval of the mean of ``values`` (NaN ignored)."""
    values = values[np.isfinite(values)]
    if len(values) < 2 or spec.n_resamples == 0:
        return None, None
    counts = resample_counts(len(values), spec.n_resamples, rng)
    return percentile_interval(counts @ values / len(values), spec.confidence)


# -- the base check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplanationCheck(Check):
    """Base of the explanation checks: explain, measure faithfulness, show examples.

    Parameters
    ----------
    n_samples : int, default=32
        How many samples to explain (a quarter of them misclassified, when
        there are enough mistakes).
    n_display : int, default=3
        How many correct and how many misclassified samples to show.
    steps : int, default=10
        Points of the deletion and insertion curves.
    n_random : int, default=5
        Random orderings for the random-attribution baseline.
    sanity_check : bool, default=True
        Run the model-randomisation sanity check (torch models).
    sensitivity_draws : int, default=3
        Noisy copies per sample for max-sensitivity (0 to skip).
    noise : float, default=0.05
        Noise radius for max-sensitivity, as a fraction of each feature's
        standard deviation in the reference data (images: of the pixel range).
    n_resamples : int, default=1000
        Bootstrap resamples for intervals over the explained samples.
    """

    family = "explanations"
    #: Pooling of attributions into units: "sum" (gradient methods) or "mean" (ablation).
    pooling: ClassVar[str] = "sum"
    #: Whether the method is cheap enough to repeat for max-sensitivity.
    repeatable: ClassVar[bool] = True
    #: Display name of the method.
    method: ClassVar[str] = ""

    n_samples: int = 32
    n_display: int = 3
    steps: int = 10
    n_random: int = 5
    sanity_check: bool = True
    sensitivity_draws: int = 3
    noise: float = 0.05
    n_resamples: int = 1000

    # -- what subclasses implement -----------------------------------------------------

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, context: CheckContext
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Attributions shaped like the inputs (text: (n, length)), and per-sample extras."""
        raise NotImplementedError

    # -- the shared run ------------------------------------------------------------------

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Explain the samples and measure how faithful the explanations are."""
        units = units_for(model, data)
        explained = explained_samples(model, data, context, self.n_samples)
        raw, extras = self.attribute(model, data, explained.X, explained.target, units, context)
        scores = units.pool(raw, how=self.pooling) if raw.shape[1:] != (units.n_units,) \
            else raw
        spec = BootstrapSpec(self.n_resamples, 0.95)
        rng = context.rng(self.name)
        metrics: dict[str, Metric] = {}

        curves = perturbation_curves(model, units, explained, scores, self.steps)
        random_curves = [perturbation_curves(model, units, explained,
                                             rng.random(scores.shape), self.steps)
                         for _ in range(self.n_random)]
        random_deletion = np.mean([_area(c["deletion"]) for c in random_curves], axis=0)
        random_insertion = np.mean([_area(c["insertion"]) for c in random_curves], axis=0)
        deletion, insertion = _area(curves["deletion"]), _area(curves["insertion"])
        gain = ((random_deletion - deletion) + (insertion - random_insertion)) / 2
        n = len(explained)
        for name, values, better in (
                ("deletion_auc", deletion, False), ("insertion_auc", insertion, True),
                ("random_deletion_auc", random_deletion, False),
                ("random_insertion_auc", random_insertion, True),
                ("faithfulness_gain", gain, True)):
            low, high = mean_interval(values, spec, rng)
            metrics[name] = Metric(float(np.mean(values)), low, high,
                                   0.95 if low is not None else None, n,
                                   spec.method if low is not None else None, better)
        for name, values in extras.items():
            finite = values[np.isfinite(values)]
            if len(finite):
                low, high = mean_interval(finite, spec, rng)
                metrics[name] = Metric(float(np.mean(finite)), low, high,
                                       0.95 if low is not None else None, len(finite),
                                       spec.method if low is not None else None, False)

        sanity = self._sanity(model, data, explained, units, scores, context)
        if sanity is not None:
            low, high = mean_interval(sanity, spec, rng)
            metrics["randomisation_rank_correlation"] = Metric(
                float(np.nanmean(sanity)), low, high, 0.95 if low is not None else None,
                int(np.isfinite(sanity).sum()), spec.method if low is not None else None, False)
        sensitivity = self._sensitivity(model, data, explained, units, raw, context)
        if sensitivity is not None:
            metrics["max_sensitivity"] = Metric(float(np.nanmean(sensitivity)), n=n,
                                                higher_is_better=False)

        context.shared("explanations.methods", id(model), dict)[self.name] = {
            "method": self.method, "index": explained.index, "scores": scores,
            "valid": units.valid(explained.X), "gain": metrics["faithfulness_gain"].value,
            "sanity": metrics["randomisation_rank_correlation"].value if sanity is not None
            else None}
        figures = self._figures(model, data, explained, units, raw, scores, curves,
                                random_curves, context)
        tables = {"faithfulness": pd.DataFrame(
            {"metric": list(metrics), "value": [m.value for m in metrics.values()]})}
        if data.modality == "tabular":
            importance = self._global_table(units, scores, spec, rng)
            tables["global_importance"] = importance
            figures["global_importance"] = Figure("importance_bars", {
                "names": importance["feature"].tolist(),
                "values": importance["mean_abs_attribution"].to_numpy(),
                "lower": importance["lower"].to_numpy(), "upper": importance["upper"].to_numpy()},
                f"{self.method}: global importance ({len(scores)} rows)")
        return self.result(Status.INFO, self._headline(metrics, units, scores, data),
                           metrics=metrics, tables=tables, figures=figures)

    # -- pieces ------------------------------------------------------------------------

    def _sanity(self, model: ModelAdapter, data: AuditData, explained: Explained, units: Units,
                scores: np.ndarray, context: CheckContext) -> np.ndarray | None:
        if not self.sanity_check:
            return None
        randomised = randomised_copy(model, context.random_state)
        if randomised is None:
            return None
        raw, _ = self.attribute(randomised, data, explained.X, explained.target, units, context)
        random_scores = units.pool(raw, how=self.pooling) if raw.shape[1:] != (units.n_units,) \
            else raw
        # Signed ranks (Adebayo et al. report both): magnitudes alone correlate through the
        # inputs' own magnitudes whatever the weights, which would fail every method.
        return rank_correlation(scores, random_scores, units.valid(explained.X))

    def _sensitivity(self, model: ModelAdapter, data: AuditData, explained: Explained,
                     units: Units, raw: np.ndarray, context: CheckContext) -> np.ndarray | None:
        if not self.repeatable or self.sensitivity_draws == 0 or data.modality == "text":
            return None
        X = explained.X.astype(np.float32)
        if data.modality == "image":
            scale = np.float32(1.0)
        else:
            source = data.reference if data.reference is not None else data.X
            scale = np.asarray(source, dtype=np.float64).std(axis=0).astype(np.float32)
        rng = context.rng(self.name + ".sensitivity")
        worst = np.zeros(len(X))
        norm = np.linalg.norm(raw.reshape(len(X), -1), axis=1)
        for _ in range(self.sensitivity_draws):
            noise = rng.uniform(-1.0, 1.0, size=X.shape).astype(np.float32) * self.noise * scale
            noisy = X + noise
            if data.modality == "image":
                noisy = np.clip(noisy, 0.0, 1.0)
            raw_noisy, _ = self.attribute(model, data, noisy, explained.target, units, context)
            change = np.linalg.norm((raw_noisy - raw).reshape(len(X), -1), axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                worst = np.maximum(worst, np.where(norm > 0, change / norm, np.nan))
        return worst

    def _display_rows(self, explained: Explained) -> np.ndarray:
        right = np.flatnonzero(~explained.misclassified)[: self.n_display]
        wrong = np.flatnonzero(explained.misclassified)[: self.n_display]
        return np.concatenate([right, wrong])

    def _labels(self, explained: Explained, rows: np.ndarray, pred: Predictions) -> list[str]:
        names = pred.class_names
        return [f"sample {explained.index[i]}: true {names[explained.true[i]]!r}, predicted "
                f"{names[explained.target[i]]!r} (p={explained.confidence[i]:.2f})"
                + (" - misclassified" if explained.misclassified[i] else "") for i in rows]

    def _figures(self, model: ModelAdapter, data: AuditData, explained: Explained, units: Units,
                 raw: np.ndarray, scores: np.ndarray, curves: dict[str, np.ndarray],
                 random_curves: list[dict[str, np.ndarray]],
                 context: CheckContext) -> dict[str, Figure]:
        fractions = np.linspace(0.0, 1.0, self.steps + 1)
        figures = {"faithfulness_curves": Figure("perturbation_curves", {
            "fractions": fractions,
            "deletion": curves["deletion"].mean(axis=0),
            "insertion": curves["insertion"].mean(axis=0),
            "random_deletion": np.mean([c["deletion"].mean(axis=0) for c in random_curves], 0),
            "random_insertion": np.mean([c["insertion"].mean(axis=0) for c in random_curves],
                                        0),
            "method": self.method}, f"Deletion and insertion curves: {self.method}")}
        rows = self._display_rows(explained)
        if not len(rows):
            return figures
        pred = predictions(model, data, context)
        labels = self._labels(explained, rows, pred)
        if data.modality == "tabular":
            figures["examples"] = Figure("attribution_bars", {
                "names": list(units.names), "values": scores[rows], "labels": labels},
                f"{self.method}: attributions per feature (toward the predicted class)")
        elif data.modality == "image":
            images = explained.X[rows].reshape(len(rows), -1, *explained.X.shape[-2:]).mean(1)
            heat = raw[rows].reshape(len(rows), -1, *explained.X.shape[-2:]).sum(1) \
                if raw.ndim > 2 else raw[rows]
            figures["examples"] = Figure("image_attributions", {
                "images": images, "heatmaps": heat, "labels": labels},
                f"{self.method}: attribution heatmaps")
        elif data.modality == "text":
            tokens = _tokens(data, explained.X[rows])
            figures["examples"] = Figure("token_attributions", {
                "tokens": tokens, "scores": [list(scores[i][: len(t)]) for i, t in
                                             zip(rows, tokens, strict=True)],
                "labels": labels}, f"{self.method}: token attributions")
        else:
            heat = raw[rows] if raw.ndim == 3 else raw[rows][:, :, None]
            figures["examples"] = Figure("sequence_attributions", {
                "series": explained.X[rows], "heatmaps": heat, "labels": labels},
                f"{self.method}: attributions over time and channels")
        return figures

    def _global_table(self, units: Units, scores: np.ndarray, spec: BootstrapSpec,
                      rng: np.random.Generator) -> pd.DataFrame:
        magnitude = np.abs(scores)
        counts = resample_counts(len(scores), spec.n_resamples, rng) if spec.n_resamples else None
        rows = []
        for j, name in enumerate(units.names):
            low = high = np.nan
            if counts is not None:
                low, high = percentile_interval(counts @ magnitude[:, j] / len(scores),
                                                spec.confidence)
            rows.append({"feature": name, "mean_abs_attribution": magnitude[:, j].mean(),
                         "lower": low, "upper": high})
        table = pd.DataFrame(rows).sort_values("mean_abs_attribution", ascending=False,
                                               kind="stable")
        return table.reset_index(drop=True)

    def _headline(self, metrics: dict[str, Metric], units: Units, scores: np.ndarray,
                  data: AuditData) -> str:
        gain = metrics["faithfulness_gain"].value
        text = (f"{self.method}: deletion AUC {metrics['deletion_auc'].value:.3f} vs "
                f"{metrics['random_deletion_auc'].value:.3f} for random attributions, insertion "
                f"AUC {metrics['insertion_auc'].value:.3f} vs "
                f"{metrics['random_insertion_auc'].value:.3f} "
                f"({'more' if gain > 0 else 'no more'} faithful than random, gain {gain:+.3f})")
        if "randomisation_rank_correlation" in metrics:
            rho = metrics["randomisation_rank_correlation"].value
            text += (f"; rank correlation with a weight-randomised model {rho:.2f}"
                     + (" (fails the sanity check)" if rho >= 0.5 else ""))
        if data.modality == "tabular":
            top = np.argsort(-np.abs(scores).mean(axis=0), kind="stable")[:3]
            text += f". Most important: {', '.join(repr(units.names[j]) for j in top)}"
        return text + "."


def _tokens(data: AuditData, ids: np.ndarray) -> list[list[str]]:
    tokenizer = data.tokenizer
    out = []
    for row in ids:
        real = row[row != 0]
        if tokenizer is not None and hasattr(tokenizer, "decode"):
            out.append([str(t) for t in tokenizer.decode(real)])
        else:
            out.append([str(int(t)) for t in real])
    return out


def methods_cache(context: CheckContext, model: ModelAdapter) -> dict[str, dict[str, Any]]:
    """Unit scores and faithfulness of every explanation method run so far in this audit."""
    return context.peek("explanations.methods", id(model)) or {}
