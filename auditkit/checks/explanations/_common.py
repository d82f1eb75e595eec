"""Shared machinery of the explanation checks.

Every explanation check explains the same samples (a few correctly
classified ones from each class and the most confident mistakes), groups its
attributions into interpretable *units* (a tabular feature with all its
one-hot columns, an image patch, a token, a time step), and measures how far
the explanation can be trusted:

- deletion and insertion curves (Petsiuk et al. 2018): remove (or add) units
  in order of attribution and follow the explained class's probability, against
  the same curves for random orderings;
- the model-randomisation sanity check (Adebayo et al. 2018), a diagnostic of
  the *method*: rank correlation between explanations of the trained model and
  of several copies with re-initialised weights, against the null distribution
  of correlations between the random copies themselves, and cascading from the
  top layer down; an explanation that survives randomisation better than
  unrelated models agree is not explaining the model;
- max-sensitivity (Yeh et al. 2019): the largest relative change of the
  attributions under small input noise.

A method is one small subclass of :class:`ExplanationCheck` that implements
``attribute``; the rest lives here.
"""

from __future__ import annotations

import contextlib
import inspect
import textwrap
import threading
from dataclasses import dataclass
from itertools import combinations
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

from ..._stats import BootstrapSpec, percentile_interval, resample_counts
from ...inputs import AuditData, GroupSpace, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, map_units
from .._classification import Predictions, predictions
from .._params import BOOLEAN, NON_NEGATIVE_INT, POSITIVE_INT, SAMPLE_SIZE, Interval
from ._sanity import MARGIN, Sanity

__all__ = ["Attributions", "Evaluation", "Explained", "ExplanationCheck", "Units",
           "explained_samples", "rank_correlation", "units_for"]

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

    def active(self, X: np.ndarray) -> np.ndarray:
        """Weight of each input element in a method without a baseline, shaped like X.

        Ones, except for one-hot columns (tabular units), which carry the input
        itself: only the active category counts.
        """
        return np.ones_like(X, dtype=np.float64)

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
    """One unit per original feature; removed features take the reference mean.

    A one-hot feature's attribution is the sum over its columns of gradient
    times displacement, the same rule for every gradient method, so that it
    does not grow with the number of categories: Integrated Gradients and
    GradientShap already give each column ``(x - baseline) * gradient`` (the
    group's sum is the method's own attribution of the group, completeness
    included); Saliency, which has no baseline, counts the active column's
    gradient only (see :meth:`active`). Summing ``|gradient|`` over every
    column instead ranks the features with most categories first whatever
    the weights.
    """

    def __init__(self, data: AuditData) -> None:
        space = GroupSpace(data)
        self.names = space.names
        self.n_units = len(space.names)
        self.unit_of = np.zeros(data.X.shape[1], dtype=np.int64)
        self.onehot = np.zeros(data.X.shape[1], dtype=bool)
        for j, columns in enumerate(space.columns):
            self.unit_of[columns] = j
            self.onehot[columns] = space.categorical[j]
        source = data.reference_inputs
        self._baseline = np.asarray(source, dtype=np.float64).mean(axis=0).astype(np.float32)

    def baseline(self, X: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._baseline, X.shape).astype(X.dtype)

    def active(self, X: np.ndarray) -> np.ndarray:
        """Ones for numeric columns, the (0 or 1) input for one-hot columns."""
        return np.where(self.onehot[None, :], X, 1.0).astype(np.float64)


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
        self._model = model

    def valid(self, X: np.ndarray) -> np.ndarray:
        """Time steps that hold data: multichannel steps that are all zero are padding."""
        if X.ndim == 3:
            return np.any(X != 0, axis=-1)
        return super().valid(X)

    def baseline(self, X: np.ndarray) -> np.ndarray:
        own = self._model.attribution_baseline(X)
        return np.zeros_like(X) if own is None else own


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


def _random_orderings(rng: np.random.Generator, shape: tuple[int, ...],
                      n_random: int) -> list[np.ndarray]:
    """Random unit scores: the orderings the method's ordering is compared with."""
    return [rng.random(shape) for _ in range(n_random)]


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


def mean_interval(values: np.ndarray, spec: BootstrapSpec,
                  rng: np.random.Generator) -> tuple[float | None, float | None]:
    """Percentile-bootstrap interval of the mean of ``values`` (NaN ignored)."""
    values = values[np.isfinite(values)]
    if len(values) < 2 or spec.n_resamples == 0:
        return None, None
    counts = resample_counts(len(values), spec.n_resamples, rng)
    return percentile_interval(counts @ values / len(values), spec.confidence)


# -- attributions shared between checks ----------------------------------------------------

#: Samples per unit of work handed to the executor.
BATCH = 8

#: Options that change how attributions are judged, not the attributions themselves.
_EVALUATION_OPTIONS = frozenset({"n_display", "steps", "n_random", "sanity_check",
                                 "n_randomisations", "cascade", "sensitivity_draws", "noise",
                                 "n_resamples"})

#: Re-initialisations explained at each step of the cascading randomisation.
CASCADE_SEEDS = 3

#: The most layers the cascade re-initialises one by one (from the output down).
MAX_CASCADE = 12

# captum hooks layers of the module itself (text embeddings, Grad-CAM); two threads
# attributing the same module at once would see each other's hooks.
_HOOKS = threading.Lock()


@dataclass(frozen=True)
class Attributions:
    """One method's attributions of the explained samples, shared within an audit.

    Attributes
    ----------
    method : str
        The method's display name.
    explained : Explained
        The samples explained.
    units : Units
        How their elements group into units.
    raw : ndarray
        Attributions shaped like the inputs (text: ``(n, length)``).
    scores : ndarray of shape (n, n_units)
        Attributions pooled per unit.
    extras : dict of str to ndarray of shape (n,)
        Per-sample diagnostics of the method (completeness or efficiency error).
    state : object
        What the method prepared once (a background), reused on reruns.
    """

    method: str
    explained: Explained
    units: Units
    raw: np.ndarray
    scores: np.ndarray
    extras: dict[str, np.ndarray]
    state: Any = None

    def valid(self) -> np.ndarray:
        """Which units exist in each explained sample, (n, n_units) bool."""
        return self.units.valid(self.explained.X)


@dataclass(frozen=True)
class Evaluation:
    """Deletion and insertion curves of a method and of random orderings, and its sanity check.

    Attributes
    ----------
    curves : dict of str to ndarray of shape (n, steps + 1)
        ``"deletion"`` and ``"insertion"`` curves of the method's ordering.
    random_curves : list of dict
        The same curves for each random ordering.
    sanity : Sanity or None
        The model-randomisation sanity check (None when not run or the model
        has no weights to randomise).
    """

    curves: dict[str, np.ndarray]
    random_curves: list[dict[str, np.ndarray]]
    sanity: Sanity | None

    def areas(self) -> dict[str, np.ndarray]:
        """Per-sample areas under the curves and the faithfulness gain over random orderings."""
        random_deletion = np.mean([_area(c["deletion"]) for c in self.random_curves], axis=0)
        random_insertion = np.mean([_area(c["insertion"]) for c in self.random_curves], axis=0)
        deletion, insertion = _area(self.curves["deletion"]), _area(self.curves["insertion"])
        gain = ((random_deletion - deletion) + (insertion - random_insertion)) / 2
        return {"deletion_auc": deletion, "insertion_auc": insertion,
                "random_deletion_auc": random_deletion,
                "random_insertion_auc": random_insertion, "faithfulness_gain": gain}


def _attribute_batch(shared: tuple[Any, ...], unit: tuple[np.ndarray, int]
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Attribute one batch of samples: ``unit`` is (rows of X, seed)."""
    check, model, data, X, target, units, state = shared
    rows, seed = unit
    hooks = _HOOKS if check.hooks_layers(data) else contextlib.nullcontext()
    with hooks:
        return check.attribute(model, data, X[rows], target[rows], units, seed=seed, state=state)


_COMMON_OPTIONS = {
    "n_samples": ("int", "How many samples to explain (a quarter of them misclassified, when "
                         "there are enough mistakes)."),
    "n_display": ("int", "How many correct and how many misclassified samples to show."),
    "steps": ("int", "Points of the deletion and insertion curves."),
    "n_random": ("int", "Random orderings for the random-attribution baseline."),
    "sanity_check": ("bool", "Run the model-randomisation sanity check (models with weights)."),
    "n_randomisations": ("int", "Re-initialised copies in the sanity check; the test is judged "
                                "only from 19 on (it can then reach the 5% level)."),
    "cascade": ("bool", "Also re-initialise the layers one by one from the output down "
                        "(cascading randomisation, reported as a table)."),
    "sanity_samples": ("int or None", "Explained samples the re-initialised copies explain "
                                      "(the first ones; None for all): the sanity check costs "
                                      "this many explanations per copy."),
    "sensitivity_draws": ("int", "Noisy copies per sample for max-sensitivity (0 to skip)."),
    "noise": ("float", "Noise radius for max-sensitivity, as a fraction of each feature's "
                       "standard deviation in the reference data (images: of the pixel range)."),
    "n_resamples": ("int", "Bootstrap resamples for intervals over the explained samples."),
}


def _options_doc(cls: type, indent: str = "    ") -> str:
    """The numpydoc entries of the options every explanation check has, with cls's defaults."""
    lines = []
    for name, (kind, text) in _COMMON_OPTIONS.items():
        lines.append(f"{indent}{name} : {kind}, default={getattr(cls, name)!r}")
        lines.extend(indent + "    " + line for line in textwrap.wrap(text, 72))
    return "\n".join(lines) + "\n"


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
        Run the model-randomisation sanity check (models with weights).
    n_randomisations : int, default=19
        Re-initialised copies in the sanity check; the test is judged only
        from 19 on (it can then reach the 5% level).
    cascade : bool, default=False
        Also re-initialise the layers one by one from the output down
        (cascading randomisation, reported as a table).
    sanity_samples : int or None, default=8
        Explained samples the re-initialised copies explain (the first ones;
        None for all): the sanity check costs this many explanations per copy.
    sensitivity_draws : int, default=3
        Noisy copies per sample for max-sensitivity (0 to skip).
    noise : float, default=0.05
        Noise radius for max-sensitivity, as a fraction of each feature's
        standard deviation in the reference data (images: of the pixel range).
    n_resamples : int, default=1000
        Bootstrap resamples for intervals over the explained samples.
    """

    family = "explanations"
    shares = ("proba", "predictions", "explanations.samples", "explanations.attributions",
              "explanations.evaluation")
    verdict_metrics = ("faithfulness_gain",)
    parameter_constraints = {
        "n_samples": POSITIVE_INT,
        "n_display": NON_NEGATIVE_INT,
        "steps": POSITIVE_INT,
        "n_random": POSITIVE_INT,
        "sanity_check": BOOLEAN,
        "n_randomisations": [Interval(Integral, 2, None)],
        "cascade": BOOLEAN,
        "sanity_samples": SAMPLE_SIZE,
        "sensitivity_draws": NON_NEGATIVE_INT,
        "noise": [Interval(Real, 0, None, closed="neither")],
        "n_resamples": NON_NEGATIVE_INT,
    }
    #: Pooling of attributions into units: "sum" (gradient methods) or "mean" (ablation).
    pooling: ClassVar[str] = "sum"
    #: Whether the method is cheap enough to repeat for max-sensitivity.
    repeatable: ClassVar[bool] = True
    #: Display name of the method.
    method: ClassVar[str] = ""
    #: Whether attributions carry a sign (toward or against the class); Saliency's are
    #: magnitudes, drawn on a scale from 0.
    signed: ClassVar[bool] = True

    n_samples: int = 32
    n_display: int = 3
    steps: int = 10
    n_random: int = 5
    sanity_check: bool = True
    n_randomisations: int = 19
    cascade: bool = False
    sanity_samples: int | None = 8
    sensitivity_draws: int = 3
    noise: float = 0.05
    n_resamples: int = 1000

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """List the shared options, with this method's defaults, in the class's help."""
        super().__init_subclass__(**kwargs)
        doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
        if not doc or "n_resamples :" in doc:
            return
        header = "Parameters\n----------\n"
        common = textwrap.dedent(_options_doc(cls))
        if header in doc:
            head, tail = doc.split(header, 1)
            cls.__doc__ = head + header + common + tail
        else:
            cls.__doc__ = doc.rstrip() + "\n\n" + header + common

    # -- what subclasses implement -----------------------------------------------------

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Attributions of one batch and per-sample extras.

        Parameters
        ----------
        model : ModelAdapter
        data : AuditData
        X : ndarray
            The batch of samples.
        target : ndarray of shape (n,)
            The class explained for each sample.
        units : Units
        seed : int
            Seed of the method's own random draws for this batch.
        state : object
            What :meth:`prepare` returned.

        Returns
        -------
        attributions : ndarray
            Shaped like ``X`` (text: ``(n, length)``), or ``(n, n_units)``.
        extras : dict of str to ndarray of shape (n,)
        """
        raise NotImplementedError

    def prepare(self, model: ModelAdapter, data: AuditData, context: CheckContext) -> Any:
        """What every batch needs and the method computes once (for example a background)."""
        return None

    def hooks_layers(self, data: AuditData) -> bool:
        """Whether the method hooks layers of the module (then batches run one at a time)."""
        return False

    # -- shared values -------------------------------------------------------------------

    def attribution_key(self, model: ModelAdapter) -> tuple[Any, ...]:
        """What the attributions depend on: the model, the method and its options."""
        options = tuple((k, v) for k, v in self.params().items()
                        if k not in _EVALUATION_OPTIONS)
        return (id(model), self.name, options)

    def attributions(self, model: ModelAdapter, data: AuditData,
                     context: CheckContext) -> Attributions:
        """The method's attributions of the explained samples, computed once per audit.

        Parameters
        ----------
        model : ModelAdapter
        data : AuditData
        context : CheckContext

        Returns
        -------
        Attributions
        """
        def compute() -> Attributions:
            units = units_for(model, data)
            explained = explained_samples(model, data, context, self.n_samples)
            state = self.prepare(model, data, context)
            raw, extras = self.attribute_many(model, data, explained.X, explained.target, units,
                                              context, state)
            return Attributions(self.method, explained, units, raw, self._pool(raw, units),
                                extras, state)

        return context.shared("explanations.attributions", self.attribution_key(model), compute)

    def evaluation(self, model: ModelAdapter, data: AuditData, context: CheckContext,
                   attributions: Attributions) -> Evaluation:
        """Faithfulness curves and the sanity check of the attributions, computed once per audit.

        Parameters
        ----------
        model : ModelAdapter
        data : AuditData
        context : CheckContext
        attributions : Attributions
            What :meth:`attributions` returned.

        Returns
        -------
        Evaluation
        """
        key = (self.attribution_key(model), self.steps, self.n_random, self.sanity_check,
               self.n_randomisations, self.cascade)

        def compute() -> Evaluation:
            explained, units, scores = (attributions.explained, attributions.units,
                                        attributions.scores)
            curves = perturbation_curves(model, units, explained, scores, self.steps)
            random_curves = [perturbation_curves(model, units, explained, ordering, self.steps)
                             for ordering in _random_orderings(context.rng(self.name),
                                                               scores.shape, self.n_random)]
            return Evaluation(curves, random_curves,
                              self._sanity(model, data, attributions, context))

        return context.shared("explanations.evaluation", key, compute)

    def attribute_many(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                       target: np.ndarray, units: Units, context: CheckContext, state: Any
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Attribute ``X`` in batches through the executor; the same seeds on every call."""
        batches = [np.arange(start, min(start + BATCH, len(X)))
                   for start in range(0, len(X), BATCH)]
        seeds = context.rng(self.name + ".seeds").integers(2**31 - 1, size=len(batches))
        parts = map_units(context, _attribute_batch,
                          [(rows, int(seed)) for rows, seed in zip(batches, seeds, strict=True)],
                          description=f"{self.method}: attributions",
                          shared=(self, model, data, X, target, units, state),
                          sizes=[len(rows) for rows in batches], unit="sample")
        raw = np.concatenate([part[0] for part in parts])
        extras = {name: np.concatenate([part[1][name] for part in parts])
                  for name in (parts[0][1] if parts else {})}
        return raw, extras

    def _pool(self, raw: np.ndarray, units: Units) -> np.ndarray:
        if raw.shape[1:] == (units.n_units,):
            return raw
        return units.pool(raw, how=self.pooling)

    # -- the check -----------------------------------------------------------------------

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Explain the samples and measure how faithful the explanations are."""
        attributions = self.attributions(model, data, context)
        explained, units, raw, scores = (attributions.explained, attributions.units,
                                         attributions.raw, attributions.scores)
        evaluation = self.evaluation(model, data, context, attributions)
        spec = BootstrapSpec(self.n_resamples, 0.95)
        rng = context.rng(self.name)
        _random_orderings(rng, scores.shape, self.n_random)  # drawn by the evaluation
        metrics: dict[str, Metric] = {}
        n = len(explained)
        for name, values in evaluation.areas().items():
            low, high = mean_interval(values, spec, rng)
            metrics[name] = Metric(float(np.mean(values)), low, high,
                                   0.95 if low is not None else None, n,
                                   spec.method if low is not None else None,
                                   "deletion" not in name)
        for name, values in attributions.extras.items():
            finite = values[np.isfinite(values)]
            if len(finite):
                low, high = mean_interval(finite, spec, rng)
                metrics[name] = Metric(float(np.mean(finite)), low, high,
                                       0.95 if low is not None else None, len(finite),
                                       spec.method if low is not None else None, False)
        sanity = evaluation.sanity
        if sanity is not None:
            metrics.update(_sanity_metrics(sanity))
        sensitivity = self._sensitivity(model, data, attributions, context)
        if sensitivity is not None:
            metrics["max_sensitivity"] = Metric(float(np.nanmean(sensitivity)), n=n,
                                                higher_is_better=False)

        figures = self._figures(model, data, explained, units, raw, scores, evaluation.curves,
                                evaluation.random_curves, context)
        tables = {"faithfulness": pd.DataFrame(
            {"metric": list(metrics), "value": [m.value for m in metrics.values()]})}
        if sanity is not None and sanity.cascade is not None and len(sanity.cascade):
            cascade = sanity.cascade
            tables["cascading_randomisation"] = cascade
            figures["cascading_randomisation"] = Figure("randomisation_cascade", {
                "layers_randomised": cascade["layers_randomised"].to_numpy(),
                "rank_correlation": cascade["rank_correlation"].to_numpy(),
                "lowest": cascade["lowest"].to_numpy(), "highest": cascade["highest"].to_numpy(),
                "null_mean": float(metrics["null_rank_correlation"].value)
                if "null_rank_correlation" in metrics else float("nan")},
                f"{self.method}: cascading randomisation (Adebayo et al. 2018)")
        if data.modality == "tabular":
            importance = self._global_table(units, scores, spec, rng)
            tables["global_importance"] = importance
            figures["global_importance"] = Figure("importance_bars", {
                "names": importance["feature"].tolist(),
                "values": importance["mean_abs_attribution"].to_numpy(),
                "lower": importance["lower"].to_numpy(), "upper": importance["upper"].to_numpy()},
                f"{self.method}: global importance ({len(scores)} rows)")
        return self.result(Status.INFO, self._headline(metrics, units, scores, data, sanity),
                           metrics=metrics, tables=tables, figures=figures)

    # -- pieces ------------------------------------------------------------------------

    def _sanity(self, model: ModelAdapter, data: AuditData, attributions: Attributions,
                context: CheckContext) -> Sanity | None:
        if not self.sanity_check or "randomize" not in model.capabilities:
            return None
        seeds = [int(seed) for seed in context.rng(self.name + ".sanity").integers(
            2**31 - 1, size=self.n_randomisations)]
        n = len(attributions.scores) if self.sanity_samples is None else \
            min(self.sanity_samples, len(attributions.scores))
        valid = attributions.valid()[:n]
        scores = [attributions.scores[:n]]
        with context.progress.bar(total=len(seeds), unit="copy",
                                  description=f"{self.method}: sanity check") as bar:
            for seed in seeds:
                scores.append(self._copy_scores(model.randomized_copy(seed, layers="all"), data,
                                                attributions, context, n))
                bar.update(1)
        agreement = np.full((len(scores), len(scores)), np.nan)
        for i, k in combinations(range(len(scores)), 2):
            # Signed ranks (Adebayo et al. report both): magnitudes alone correlate through
            # the inputs' own magnitudes whatever the weights.
            agreement[i, k] = agreement[k, i] = _row_mean(
                rank_correlation(scores[i], scores[k], valid))
        cascade = (self._cascade(model, data, attributions, context, seeds[:CASCADE_SEEDS], n)
                   if self.cascade else None)
        return Sanity(agreement, cascade)

    def _copy_scores(self, copy: ModelAdapter, data: AuditData, attributions: Attributions,
                     context: CheckContext, n: int) -> np.ndarray:
        """The pooled attributions of a re-initialised copy, for the first ``n`` samples."""
        explained, units = attributions.explained, attributions.units
        raw, _ = self.attribute_many(copy, data, explained.X[:n], explained.target[:n], units,
                                     context, attributions.state)
        return self._pool(raw, units)

    def _cascade(self, model: ModelAdapter, data: AuditData, attributions: Attributions,
                 context: CheckContext, seeds: list[int], n: int) -> pd.DataFrame:
        """Rank correlation as the top 1, 2, ... layers are re-initialised (Adebayo et al.)."""
        X, valid = attributions.explained.X[:n], attributions.valid()[:n]
        rows, previous = [], None
        # Where the cascade stops depends on the layers: the bar counts without an end.
        with context.progress.bar(total=None, unit="layer",
                                  description=f"{self.method}: cascading randomisation") as bar:
            for k in range(1, MAX_CASCADE + 1):
                copies = [model.randomized_copy(seed, layers=k) for seed in seeds]
                outputs = np.stack([copy.predict_proba(X) for copy in copies])
                if previous is not None and np.array_equal(outputs, previous):
                    break  # every layer with weights was already re-initialised
                previous = outputs
                rows.append(self._cascade_row(k, copies, data, attributions, context, n, valid))
                bar.update(1)
        return pd.DataFrame(rows, columns=["layers_randomised", "rank_correlation", "lowest",
                                           "highest", "n_randomisations"])

    def _cascade_row(self, k: int, copies: list[ModelAdapter], data: AuditData,
                     attributions: Attributions, context: CheckContext, n: int,
                     valid: np.ndarray) -> dict[str, float]:
        """Rank correlation with the trained model's attributions, top ``k`` layers re-drawn."""
        rho = np.array([_row_mean(rank_correlation(
            attributions.scores[:n], self._copy_scores(copy, data, attributions, context, n),
            valid)) for copy in copies])
        finite = rho[np.isfinite(rho)]
        return {"layers_randomised": k,
                "rank_correlation": float(finite.mean()) if len(finite) else np.nan,
                "lowest": float(finite.min()) if len(finite) else np.nan,
                "highest": float(finite.max()) if len(finite) else np.nan,
                "n_randomisations": len(finite)}

    def _sensitivity(self, model: ModelAdapter, data: AuditData, attributions: Attributions,
                     context: CheckContext) -> np.ndarray | None:
        if not self.repeatable or self.sensitivity_draws == 0 or data.modality == "text":
            return None
        explained, raw = attributions.explained, attributions.raw
        X = explained.X.astype(np.float32)
        if data.modality == "image":
            scale = np.float32(1.0)
        else:
            scale = np.asarray(data.reference_inputs, dtype=np.float64).std(axis=0).astype(
                np.float32)
        rng = context.rng(self.name + ".sensitivity")
        worst = np.zeros(len(X))
        norm = np.linalg.norm(raw.reshape(len(X), -1), axis=1)
        with context.progress.bar(total=self.sensitivity_draws, unit="draw",
                                  description=f"{self.method}: sensitivity") as bar:
            for _ in range(self.sensitivity_draws):
                noise = (rng.uniform(-1.0, 1.0, size=X.shape).astype(np.float32) * self.noise
                         * scale)
                noisy = X + noise
                if data.modality == "image":
                    noisy = np.clip(noisy, 0.0, 1.0)
                raw_noisy, _ = self.attribute_many(model, data, noisy, explained.target,
                                                   attributions.units, context,
                                                   attributions.state)
                change = np.linalg.norm((raw_noisy - raw).reshape(len(X), -1), axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    worst = np.maximum(worst, np.where(norm > 0, change / norm, np.nan))
                bar.update(1)
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
                "names": list(units.names), "values": scores[rows], "labels": labels,
                "signed": self.signed},
                f"{self.method}: attributions per feature "
                + ("(toward the predicted class)" if self.signed else "(magnitude, any sign)"))
        elif data.modality == "image":
            images = explained.X[rows].reshape(len(rows), -1, *explained.X.shape[-2:]).mean(1)
            heat = raw[rows].reshape(len(rows), -1, *explained.X.shape[-2:]).sum(1) \
                if raw.ndim > 2 else raw[rows]
            figures["examples"] = Figure("image_attributions", {
                "images": images, "heatmaps": heat, "labels": labels, "signed": self.signed},
                f"{self.method}: attribution heatmaps")
        elif data.modality == "text":
            tokens = _tokens(data, explained.X[rows])
            figures["examples"] = Figure("token_attributions", {
                "tokens": tokens, "scores": [list(scores[i][: len(t)]) for i, t in
                                             zip(rows, tokens, strict=True)],
                "labels": labels, "signed": self.signed}, f"{self.method}: token attributions")
        else:
            heat = raw[rows] if raw.ndim == 3 else raw[rows][:, :, None]
            figures["examples"] = Figure("sequence_attributions", {
                "series": explained.X[rows], "heatmaps": heat, "labels": labels,
                "signed": self.signed},
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
                  data: AuditData, sanity: Sanity | None) -> str:
        gain = metrics["faithfulness_gain"]
        interval = (f" [{gain.lower:+.3f}, {gain.upper:+.3f}]" if gain.lower is not None
                    and gain.upper is not None else "")
        text = (f"{self.method}: deletion AUC {metrics['deletion_auc'].value:.3f} vs "
                f"{metrics['random_deletion_auc'].value:.3f} for random orderings, insertion "
                f"AUC {metrics['insertion_auc'].value:.3f} vs "
                f"{metrics['random_insertion_auc'].value:.3f} "
                f"(faithfulness gain {gain.value:+.3f}{interval})")
        if sanity is not None:
            text += "; " + _sanity_sentence(metrics, sanity)
        if data.modality == "tabular":
            top = np.argsort(-np.abs(scores).mean(axis=0), kind="stable")[:3]
            text += (". Largest mean |attribution|: "
                     f"{', '.join(repr(units.names[j]) for j in top)}")
        return text + "."

def _row_mean(values: np.ndarray) -> float:
    """Mean of per-sample correlations, NaN (constant rows) ignored; NaN when all are."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def _sanity_metrics(sanity: Sanity) -> dict[str, Metric]:
    """The sanity check's numbers; the judged share only where the test can tell the two apart."""
    metrics: dict[str, Metric] = {}
    trained = sanity.trained[np.isfinite(sanity.trained)]
    if len(trained):
        low, high = sanity.trained_interval()
        metrics["randomisation_rank_correlation"] = Metric(
            float(trained.mean()), low, high, 0.95 if low is not None else None, len(trained),
            "Student t over re-initialisations" if low is not None else None, False)
    null = sanity.null[np.isfinite(sanity.null)]
    if len(null):
        low, high = sanity.null_range()
        metrics["null_rank_correlation"] = Metric(
            float(null.mean()), low, high, 0.95, sanity.n_randomisations,
            f"central 95% of the {len(null)} random-vs-random correlations", False)
    if sanity.why_not_judged() is None:
        metrics["randomisation_null_share"] = Metric(
            sanity.null_share(), n=sanity.n_randomisations,
            method=f"exact permutation test over exchangeable re-initialisations, margin "
                   f"{MARGIN}",
            higher_is_better=True)
    return metrics


def _sanity_sentence(metrics: dict[str, Metric], sanity: Sanity) -> str:
    """The headline's clause on the sanity check, a diagnostic of the method."""
    text = "sanity check of the explanation method (not of the model): "
    trained, null = (metrics.get("randomisation_rank_correlation"),
                     metrics.get("null_rank_correlation"))
    if trained is None or null is None:
        return text + "not judged: the explanations are constant"
    interval = (f" [{trained.lower:+.2f}, {trained.upper:+.2f}]"
                if trained.lower is not None and trained.upper is not None else "")
    text += (f"rank correlation with {sanity.n_randomisations} weight-randomised copies "
             f"{trained.value:+.2f}{interval}, between the copies themselves "
             f"{null.value:+.2f} (95% of pairs in [{null.lower:+.2f}, {null.upper:+.2f}])")
    reason = sanity.why_not_judged()
    if reason is not None:
        return text + "; " + reason
    share = metrics["randomisation_null_share"].value
    return text + (f"; {share:.0%} of the copies agree with the others at least as much as "
                   f"the trained model does (within {MARGIN})")


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


