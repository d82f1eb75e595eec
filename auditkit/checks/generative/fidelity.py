"""Generative: fidelity and diversity of samples, placed between a floor and ceilings.

Fréchet distance (Heusel et al. 2017), KID (Bińkowski et al. 2018),
precision and recall on k-NN manifolds (Kynkäänniemi et al. 2019), density
and coverage (Naeem et al. 2020), all in one feature space
(:mod:`._common`), each with its interval (:mod:`._fidelity`). A single FID
means little without a reference point, so every metric is also computed for
real data against real data: the model's training samples against the
held-out samples (the floor: what a generator that reproduced the data
distribution would get at this sample size) and corrupted training samples
against the held-out samples at a few severities (the ceilings). The reader
places the model between them. Values are comparable only within one
feature extractor.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd

from ...exceptions import BAD_VALUE, CheckError
from ...inputs import AuditData
from ...results import CheckResult, Figure, Metric, Status
from .._base import CheckContext, register_check
from .._corruptions import CorruptionDomain, apply_corruption, check_severities, lookup
from .._params import CONFIDENCE, NON_NEGATIVE_INT, Interval, SequenceOf
from ._common import (
    GenerativeCheck,
    draw_rows,
    embedded,
    feature_space,
    generated,
    report_images,
)
from ._fidelity import fidelity_metrics

__all__ = ["GenerativeFidelity"]

#: metric -> (readable name, higher is better)
METRICS = {"frechet_distance": ("Fréchet distance", False),
           "kid": ("KID", False),
           "precision": ("Precision", True),
           "recall": ("Recall", True),
           "density": ("Density", True),
           "coverage": ("Coverage", True)}
SHAPE_MISMATCH = ("The generative model's samples must be shaped like the audited samples "
                  "(AuditData.X rows, {expected}). Got samples of shape {got} instead.")


def check_sample_shape(samples: np.ndarray, data: AuditData) -> None:
    """A CheckError when the model's samples are not shaped like the audited data's rows."""
    if samples.shape[1:] != data.X.shape[1:]:
        raise CheckError(SHAPE_MISMATCH.format(expected=data.X.shape[1:],
                                               got=samples.shape[1:]))


def estimate_metric(estimate, confidence: float, n: int | None, higher: bool | None) -> Metric:
    """A :class:`Metric` from an estimate with ``value, lower, upper, method`` (NaN ends: none)."""
    has_interval = estimate.lower is not None and np.isfinite(estimate.lower) \
        and np.isfinite(estimate.upper)
    return Metric(float(estimate.value), float(estimate.lower) if has_interval else None,
                  float(estimate.upper) if has_interval else None,
                  confidence if has_interval else None, n, estimate.method, higher)


@register_check
@dataclass(frozen=True)
class GenerativeFidelity(GenerativeCheck):
    """Fréchet distance, KID, precision, recall, density and coverage, with a floor and ceilings.

    Parameters
    ----------
    n_samples : int, default=1000
        Generated samples; the floor and ceilings use as many training samples
        (or all of them, when there are fewer).
    k : int, default=5
        Neighbours of the k-NN manifolds (precision, recall, density, coverage).
    n_resamples : int, default=100
        Bootstrap resamples behind the Fréchet distance's interval (0: none; the
        other metrics' intervals are exact or analytic and always given).
    kid_subset_size : int, default=1000
        Samples per KID subset (capped at the smaller set).
    kid_subsets : int, default=100
        KID subsets.
    ceiling_corruptions : tuple of str or None, default=None
        Corruptions of real data that make the ceilings. None: Gaussian noise,
        and for images Gaussian blur too.
    severities : tuple of int, default=(1, 3, 5)
        Their severities, 1 to 5.
    confidence : float, default=0.95

    Examples
    --------
    >>> from auditkit.checks import GenerativeFidelity
    >>> GenerativeFidelity(n_samples=500).k
    5
    """

    name = "generative_fidelity"
    order = 1
    description = ("How close generated samples are to real data and how much of it they cover "
                   "(Fréchet distance, KID, precision, recall, density, coverage), each placed "
                   "between real-versus-real data (the floor) and real-versus-corrupted real "
                   "data (the ceilings).")
    shares = ("generative.samples", "generative.features")
    parameter_constraints = {
        "n_samples": [Interval(Integral, 2, None)],
        "k": [Interval(Integral, 1, None)],
        "n_resamples": NON_NEGATIVE_INT,
        "kid_subset_size": [Interval(Integral, 2, None)],
        "kid_subsets": [Interval(Integral, 1, None)],
        "ceiling_corruptions": [SequenceOf(str, distinct=True), None],
        "severities": [SequenceOf(Integral, distinct=True)],
        "confidence": CONFIDENCE,
    }

    n_samples: int = 1000
    k: int = 5
    n_resamples: int = 100
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    ceiling_corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] = (1, 3, 5)
    confidence: float = 0.95

    def validate_options(self) -> None:
        """Severities from 1 to 5."""
        check_severities(self.severities)

    def _corruptions(self, data: AuditData) -> tuple[str, ...]:
        if self.ceiling_corruptions is not None:
            return tuple(self.ceiling_corruptions)
        if data.modality == "text":
            return ()
        return ("gaussian_noise", "gaussian_blur") if data.modality == "image" else \
            ("gaussian_noise",)

    def skip_reason(self, model, data: AuditData) -> str | None:
        """Also SKIP when a ceiling corruption does not exist for the data's modality."""
        reason = super().skip_reason(model, data)
        if reason is None:
            for name in self._corruptions(data):
                try:
                    lookup(data.modality, name)
                except CheckError as error:
                    return str(error)
        return reason

    def compute(self, model, data: AuditData, *, context: CheckContext) -> CheckResult:
        """Embed the samples and the real sets, compute every metric; see the class docstring."""
        rng = context.rng(self.name)
        space = feature_space(data)
        samples = generated(model, context, self.n_samples)
        check_sample_shape(samples, data)
        fake = embedded(context, space, f"samples-{self.n_samples}", samples)
        if len(data.train.X) >= min(self.n_samples, len(data.X)):
            held_out = embedded(context, space, "held-out", data.X)
            rows = draw_rows(len(data.train.X), self.n_samples, rng)
            floor_inputs, floor_source = data.train.X[rows], "training"
        else:
            # Too few training samples for a floor at this size (a model trained on a few
            # dozen images): half the held-out data is the floor, the other half the reference.
            order = rng.permutation(len(data.X))
            half = len(order) // 2
            held_out = space.embed(data.X[np.sort(order[:half])])
            floor_inputs, floor_source = data.X[np.sort(order[half:])], "held-out"
        if len(held_out) <= self.k or len(fake) <= self.k:
            raise CheckError(BAD_VALUE.format(param="k", expected="fewer neighbours than "
                                              "samples on each side",
                                              got=f"k={self.k} with {len(held_out)} held-out "
                                              f"and {len(fake)} generated samples"))
        floor_features = embedded(context, space, f"{floor_source}-floor-{len(floor_inputs)}",
                                  floor_inputs)

        def measure(features: np.ndarray, resamples: int) -> dict:
            return fidelity_metrics(held_out, features, k=self.k, n_resamples=resamples,
                                    kid_subset_size=self.kid_subset_size,
                                    kid_subsets=self.kid_subsets, confidence=self.confidence,
                                    rng=rng)

        model_values = measure(fake, self.n_resamples)
        floor = measure(floor_features, self.n_resamples)
        domain = CorruptionDomain.from_data(data)
        ceilings: dict[str, dict] = {}
        for name in self._corruptions(data):
            corruption = lookup(data.modality, name)
            # one generator per corruption: the same draws at every severity (see _corruptions)
            seed = int(rng.integers(2**31 - 1))
            for severity in check_severities(self.severities):
                corrupted = apply_corruption(corruption, floor_inputs, severity, domain,
                                             np.random.default_rng(seed))
                features = space.embed(corrupted)
                ceilings[f"{corruption.label.lower()} s{severity}"] = measure(features, 0)
        return self._result(model_values, floor, ceilings, space, len(fake), len(held_out),
                            len(floor_inputs), floor_source, samples, data)

    def _result(self, model_values: dict, floor: dict, ceilings: dict, space, n_fake: int,
                n_real: int, n_floor: int, floor_source: str, samples: np.ndarray,
                data: AuditData) -> CheckResult:
        metrics: dict[str, Metric] = {}
        rows = []
        for key, (title, higher) in METRICS.items():
            estimate = model_values[key]
            metrics[key] = estimate_metric(estimate, self.confidence, n_fake, higher)
            row = {"metric": title, "model": estimate.value, "model_lower": estimate.lower,
                   "model_upper": estimate.upper, "floor": floor[key].value,
                   "floor_lower": floor[key].lower, "floor_upper": floor[key].upper}
            row.update({f"ceiling: {label}": values[key].value
                        for label, values in ceilings.items()})
            row["higher_is_better"] = higher
            rows.append(row)
        table = pd.DataFrame(rows)
        notes = pd.DataFrame([
            ("feature space", space.description),
            ("model", f"{n_fake:,} generated samples against {n_real:,} held-out real samples"),
            ("floor", (f"{n_floor:,} of the model's training samples" if floor_source ==
                       "training" else f"{n_floor:,} held-out samples (the model has only "
                       f"{len(data.train.X):,} training samples; the held-out data was split in "
                       "two halves, one the floor, the other the reference)")
             + " against the held-out reference samples: what a generator that reproduced the "
             "data would get at this size"),
            ("ceilings", f"the same {n_floor:,} real samples, corrupted, against the reference "
             "samples: " + ", ".join(ceilings)),
            ("intervals", f"{self.confidence:.0%}; " + "; ".join(
                f"{METRICS[k][0]}: {v.method}" for k, v in model_values.items() if k in METRICS)),
            ("reading", "Fréchet distance and KID grow as samples move away from the data (lower "
             "is better); precision is the share of samples inside the real data's manifold "
             "(fidelity), recall the share of real data inside the samples' manifold "
             "(diversity); density and coverage are their outlier-robust versions (density "
             "about 1 and coverage about 0.97 for two samples of one distribution)"),
        ], columns=["item", "value"])
        figures = {
            "calibration": Figure("generative_calibration", {
                "metrics": [METRICS[k][0] for k in METRICS],
                "model": [model_values[k].value for k in METRICS],
                "model_lower": [model_values[k].lower for k in METRICS],
                "model_upper": [model_values[k].upper for k in METRICS],
                "floor": [floor[k].value for k in METRICS],
                # short labels: the points sit close together on each strip
                "ceilings": {label.replace("gaussian ", ""): [values[k].value for k in METRICS]
                             for label, values in ceilings.items()},
                "higher_is_better": [METRICS[k][1] for k in METRICS]},
                f"Each metric between its floor (real vs real) and ceilings (real vs corrupted "
                f"real), in {space.name} features"),
        }
        if data.modality == "image":
            figures["samples"] = Figure("generative_samples", {
                "real": report_images(data.X[:64], data),
                "generated": report_images(samples[:64], data),
                "real_label": "real (held-out)", "generated_label": "generated"},
                "Real samples next to generated ones")
        return self.result(Status.INFO, self._headline(model_values, floor, ceilings, space),
                           metrics=metrics, tables={"metrics": table, "notes": notes},
                           figures=figures)

    def _headline(self, model_values: dict, floor: dict, ceilings: dict, space) -> str:
        fd = model_values["frechet_distance"]
        interval = (f" [{fd.lower:.3g}, {fd.upper:.3g}]" if np.isfinite(fd.lower) else "")
        by_distance = sorted(ceilings, key=lambda label: ceilings[label]["frechet_distance"].value)
        nearer = [label for label in by_distance
                  if ceilings[label]["frechet_distance"].value <= fd.value]
        farther = [label for label in by_distance if label not in nearer]

        def named(label: str) -> str:
            return f"{label} ({ceilings[label]['frechet_distance'].value:.3g})"

        if not ceilings:
            place = ""
        elif nearer and farther:
            place = (f"; between real images under {named(nearer[-1])} and under "
                     f"{named(farther[0])}")
        elif nearer:
            place = f"; farther from the data than real images under {named(nearer[-1])}"
        else:
            place = f"; nearer than real images under {named(farther[0])}"
        return (f"Fréchet distance {fd.value:.3g}{interval} in {space.name} features "
                f"(real vs real: {floor['frechet_distance'].value:.3g}{place}); precision "
                f"{model_values['precision'].value:.2f}, recall "
                f"{model_values['recall'].value:.2f}, coverage "
                f"{model_values['coverage'].value:.2f} (real vs real: "
                f"{floor['coverage'].value:.2f}).")
