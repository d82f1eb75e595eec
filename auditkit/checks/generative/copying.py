"""Generative: memorisation and data copying.

Three views of whether generated samples copy the training data
(:mod:`._copying`), each against held-out real data as the calibration:

- near-copies: a sample is a near-copy when it is closer to its nearest
  training sample than all but a small share (``quantile``) of held-out real
  samples are to theirs; a generator that draws fresh samples from the data
  distribution makes about that share of near-copies;
- the data-copying test C_T of Meehan, Chaudhuri & Dasgupta (2020): cells by
  k-means on the training data, a Mann-Whitney test per cell of generated
  against held-out distances to the training data, and their weighted mean
  (much below 0: the samples sit closer to the training data than fresh data
  does);
- authenticity (Alaa et al. 2022): the share of samples farther from their
  nearest training sample than that sample is from its own nearest neighbour.

The closest generated-to-training pairs are shown side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ...inputs import AuditData
from ...results import CheckResult, Figure, Metric, Status
from .._base import CheckContext, register_check
from .._params import CONFIDENCE, Interval, Options
from ._common import (
    GenerativeCheck,
    draw_rows,
    embedded,
    feature_space,
    generated,
    held_out_like_training,
    report_images,
)
from ._copying import authenticity, closest_pairs, data_copying_ct, near_copies
from ._distances import nearest_with_index
from .fidelity import check_sample_shape

__all__ = ["GenerativeMemorisation"]


@register_check
@dataclass(frozen=True)
class GenerativeMemorisation(GenerativeCheck):
    """Near-copies of training samples, the data-copying test C_T and authenticity.

    Parameters
    ----------
    n_samples : int, default=2000
        Generated samples.
    space : {"features", "inputs"}, default="features"
        Where distances are measured: the data's feature extractor (the
        inputs when there is none), or the inputs themselves. Features are the
        default: in pixel space a blurry generator sits closer to every real
        image, training or not, and C_T reads that as copying (mnist-vae's
        C_T is -3.4 in pixels, -3.2 even against images it never saw, and
        +1.1 in mnist-cnn features); a generator that copies is far out in
        both (mnist-gan-memorizing: -22 in pixels, -21 in features).
    quantile : float, default=0.01
        The near-copy rule: closer to the training data than this share of
        held-out real samples are.
    n_cells : int or None, default=None
        k-means cells of C_T (None: the rule of :func:`._copying.data_copying_ct`).
    max_train : int or None, default=10000
        Training samples searched (a seeded subsample beyond).
    n_pairs : int, default=16
        Closest pairs shown.
    confidence : float, default=0.95

    Examples
    --------
    >>> from auditkit.checks import GenerativeMemorisation
    >>> GenerativeMemorisation(space="features").quantile
    0.01
    """

    name = "generative_memorisation"
    order = 3
    description = ("Whether generated samples copy the training data: near-copies against what "
                   "fresh real data gives, the data-copying test C_T (Meehan et al. 2020), "
                   "authenticity (Alaa et al. 2022) and the closest generated-to-training pairs.")
    shares = ("generative.samples", "generative.features")
    verdict_metrics = ("near_copy_share", "data_copying_ct")
    parameter_constraints = {
        "n_samples": [Interval(Integral, 2, None)],
        "space": [Options(("features", "inputs"))],
        "quantile": [Interval(Real, 0, 0.5, closed="neither")],
        "n_cells": [Interval(Integral, 1, None), None],
        "max_train": [Interval(Integral, 10, None), None],
        "n_pairs": [Interval(Integral, 0, 64)],
        "confidence": CONFIDENCE,
    }

    n_samples: int = 2000
    space: str = "features"
    quantile: float = 0.01
    n_cells: int | None = None
    max_train: int | None = 10000
    n_pairs: int = 16
    confidence: float = 0.95

    def compute(self, model, data: AuditData, *, context: CheckContext) -> CheckResult:
        """Measure distances to the training data; see the module docstring."""
        rng = context.rng(self.name)
        space = feature_space(data, self.space)
        samples = generated(model, context, self.n_samples)
        check_sample_shape(samples, data)
        rows = draw_rows(len(data.train.X), self.max_train, rng)
        train = embedded(context, space, f"train-{len(rows)}", data.train.X[rows])
        like, kept = held_out_like_training(data)
        held_out = embedded(context, space, "held-out", data.X)[like]
        fake = embedded(context, space, f"samples-{self.n_samples}", samples)
        fake_distance, fake_nearest = nearest_with_index(fake, train)
        held_distance, _ = nearest_with_index(held_out, train)
        near = near_copies(fake_distance, held_distance, quantile=self.quantile,
                           confidence=self.confidence)
        copying = data_copying_ct(train, held_out, fake, n_cells=self.n_cells, rng=rng)
        authentic = authenticity(train, fake, held_out=held_out, confidence=self.confidence)
        return self._result(near, copying, authentic, fake_distance, fake_nearest, held_distance,
                            samples, data.train.X[rows], rows, space, data, kept)

    def _result(self, near: dict, copying: dict, authentic: dict, fake_distance: np.ndarray,
                fake_nearest: np.ndarray, held_distance: np.ndarray, samples: np.ndarray,
                train_inputs: np.ndarray, train_rows: np.ndarray, space,
                data: AuditData, kept: str) -> CheckResult:
        n = len(fake_distance)
        metrics = {
            "near_copy_share": Metric(near["share"], near["lower"], near["upper"],
                                      self.confidence, n,
                                      f"Wilson; expected {near['expected_share']:.1%} for fresh "
                                      "samples of the data distribution", False),
            "data_copying_ct": Metric(copying["ct"], n=n, method="Meehan et al. 2020: weighted "
                                      "mean of per-cell Mann-Whitney z-scores; about N(0, "
                                      f"{copying.get('null_sd', 1.0):.2f}^2) without copying",
                                      higher_is_better=True),
            "authenticity": Metric(authentic["authenticity"], authentic.get("lower"),
                                   authentic.get("upper"),
                                   self.confidence if authentic.get("lower") is not None
                                   else None, n, "Alaa et al. 2022, Wilson", True),
            "median_distance_ratio": Metric(near["median_ratio"], n=n,
                                            method="median distance of a sample to its nearest "
                                            "training sample over that of a held-out sample",
                                            higher_is_better=True),
        }
        if authentic.get("held_out_authenticity") is not None:
            metrics["authenticity_real"] = Metric(authentic["held_out_authenticity"],
                                                  n=len(held_distance),
                                                  method="the same for held-out real samples")
        order = np.argsort(fake_distance, kind="stable")[:self.n_pairs]
        median_held = float(np.median(held_distance))
        figures = {}
        if len(order) and data.modality == "image":
            figures["pairs"] = Figure("generative_pairs", {
                "left": report_images(samples[order], data),
                "right": report_images(train_inputs[fake_nearest[order]], data),
                "left_label": "generated", "right_label": "nearest training sample",
                "captions": [f"d {fake_distance[i]:.3g} (held-out median {median_held:.3g})"
                             for i in order]},
                f"The {len(order)} generated samples closest to a training sample "
                f"({space.name})")
        figures["distances"] = Figure("generative_distances", {
            "generated": fake_distance, "held_out": held_distance,
            "threshold": near["threshold"], "space": space.name},
            "Distance to the nearest training sample: generated against held-out real")
        pairs = closest_pairs(fake_distance, fake_nearest, n=max(self.n_pairs, 1))
        pairs["train"] = train_rows[pairs["train"].to_numpy()]  # rows of AuditData.train
        pairs = pairs.rename(columns={"generated": "generated_sample", "train": "training_row"})
        pairs["held_out_median_distance"] = median_held
        cells = copying["cells"]
        if len(cells):
            figures["cells"] = Figure("generative_copying_cells", {
                "cells": cells["cell"].tolist(), "z": cells["z_u"].tolist(),
                "n_generated": cells["n_generated"].tolist(),
                "threshold": float(copying.get("cell_threshold", -3.0))},
                "Data-copying test per cell (Mann-Whitney z; negative: closer than fresh data)")
        notes = pd.DataFrame([
            ("distances", f"Euclidean, in {space.description}"),
            ("sets", f"{n:,} generated samples, {len(train_inputs):,} training samples, "
             f"{len(held_distance):,} held-out real samples"),
            ("near-copy rule", f"closer to the nearest training sample than "
             f"{near['threshold']:.4g}, the {self.quantile:.0%} quantile of the held-out "
             "samples' distances to theirs: fresh samples of the data distribution give about "
             f"{self.quantile:.0%}"),
            ("C_T", copying.get("description", "Meehan et al. 2020")),
            ("authenticity", "a sample is unauthentic when it is closer to its nearest training "
             "sample than that sample is to its own nearest other training sample (Alaa et al. "
             "2022); held-out real samples give "
             + (f"{authentic['held_out_authenticity']:.1%}"
                if authentic.get("held_out_authenticity") is not None else "n/a")),
        ] + ([("held-out samples", kept)] if kept else []), columns=["item", "value"])
        headline = (f"{near['share']:.1%} [{near['lower']:.1%}, {near['upper']:.1%}] of {n:,} "
                    f"samples are near-copies of a training sample (fresh data: about "
                    f"{near['expected_share']:.0%}); data-copying C_T {copying['ct']:.2f} "
                    f"(below 0: closer to the training data than fresh data is); "
                    f"authenticity {authentic['authenticity']:.1%}.")
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"closest_pairs": pairs, "cells": cells, "notes": notes},
                           figures=figures)
