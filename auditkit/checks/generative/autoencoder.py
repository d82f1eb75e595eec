"""Generative: what a VAE's likelihood bound, reconstructions and latent space say.

- The ELBO and the reconstruction error on training against held-out
  samples: a gap means the model fits its training samples better than new
  ones (overfitting; it is also what the membership attacks exploit).
- Active latent units (Burda et al. 2016): unit ``u`` is active when the
  variance over the data of its posterior mean, ``Cov_x(E_q(z|x)[z_u])``,
  exceeds 0.01. Few or no active units is posterior collapse: the decoder
  ignores the latent code.
- Reconstructions and samples shown as images, real next to generated.

A VAE's likelihood is a poor score of whether an input is unlike its
training data (Nalisnick et al., ICLR 2019): such questions belong to the
``ood`` family, with a classifier's features.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ..._stats import mean_difference_interval, mean_interval
from ...inputs import AuditData
from ...results import CheckResult, Figure, Metric, Status
from .._base import CheckContext, register_check
from .._params import CONFIDENCE, Interval
from ._common import GenerativeCheck, draw_rows, generated, report_images
from .fidelity import check_sample_shape

__all__ = ["GenerativeAutoencoder"]

OOD_NOTE = ("A VAE's likelihood is a poor out-of-distribution score: such models can give "
            "higher likelihood to inputs unlike their training data (Nalisnick et al., ICLR "
            "2019). To detect such inputs, use the ood family (ood_detection) with a classifier's "
            "features.")


@register_check
@dataclass(frozen=True)
class GenerativeAutoencoder(GenerativeCheck):
    """ELBO and reconstruction gaps, active latent units, reconstructions of a VAE.

    Parameters
    ----------
    max_per_side : int or None, default=1000
        Training and held-out samples each (a seeded draw).
    active_threshold : float, default=0.01
        A latent unit is active when its posterior mean varies more than this
        over the data (Burda et al. 2016).
    n_images : int, default=16
        Reconstructions shown.
    confidence : float, default=0.95

    Examples
    --------
    >>> from auditkit.checks import GenerativeAutoencoder
    >>> GenerativeAutoencoder().active_threshold
    0.01
    """

    name = "generative_autoencoder"
    order = 5
    description = ("For a VAE: its ELBO and reconstruction error on training against held-out "
                   "samples (the gap), active latent units (posterior collapse), and "
                   "reconstructions and samples next to real data.")
    requires = frozenset({"generate", "likelihood"})
    shares = ("generative.samples",)
    verdict_metrics = ("active_units",)
    parameter_constraints = {
        "max_per_side": [Interval(Integral, 10, None), None],
        "active_threshold": [Interval(Real, 0, None, closed="neither")],
        "n_images": [Interval(Integral, 0, 64)],
        "confidence": CONFIDENCE,
    }

    max_per_side: int | None = 1000
    active_threshold: float = 0.01
    n_images: int = 16
    confidence: float = 0.95

    def compute(self, model, data: AuditData, *, context: CheckContext) -> CheckResult:
        """Measure the gaps and the latent space; see the module docstring."""
        rng = context.rng(self.name)
        train = data.train.X[draw_rows(len(data.train.X), self.max_per_side, rng)]
        held_out = data.X[draw_rows(len(data.X), self.max_per_side, rng)]
        seed = context.random_state
        elbo_train = np.asarray(model.elbo(train, random_state=seed), dtype=np.float64)
        elbo_test = np.asarray(model.elbo(held_out, random_state=seed), dtype=np.float64)
        rows = [self._row("ELBO (nats)", elbo_train, elbo_test)]
        metrics = self._gap_metrics("elbo", elbo_train, elbo_test, higher_is_better=True)
        figures: dict[str, Figure] = {"elbo": Figure("generative_elbo", {
            "train": elbo_train, "test": elbo_test, "label": "ELBO (nats)"},
            "ELBO of training against held-out samples")}
        if "reconstruct" in model.capabilities:
            rebuilt_train = np.asarray(model.reconstruct(train), dtype=np.float64)
            rebuilt_test = np.asarray(model.reconstruct(held_out), dtype=np.float64)
            error_train = self._error(train, rebuilt_train)
            error_test = self._error(held_out, rebuilt_test)
            rows.append(self._row("reconstruction error (sum of squares)", error_train,
                                  error_test))
            metrics.update(self._gap_metrics("reconstruction_error", error_train, error_test,
                                             higher_is_better=False))
            shown = min(self.n_images, len(held_out))
            if shown and data.modality == "image":
                figures["reconstructions"] = Figure("generative_pairs", {
                    "left": report_images(held_out[:shown], data),
                    "right": report_images(rebuilt_test[:shown].reshape(held_out[:shown].shape),
                                           data),
                    "left_label": "held-out real", "right_label": "reconstruction",
                    "captions": [f"error {e:.3g}" for e in error_test[:shown]]},
                    "Held-out real samples and their reconstructions")
        if "encode" in model.capabilities:
            codes = np.asarray(model.encode(np.concatenate([train, held_out])),
                               dtype=np.float64)
            variance = codes.reshape(len(codes), -1).var(axis=0, ddof=1)
            active = int((variance > self.active_threshold).sum())
            metrics["active_units"] = Metric(float(active), n=len(codes),
                                             method=f"latent units whose posterior mean varies "
                                             f"more than {self.active_threshold:g} over the data "
                                             "(Burda et al. 2016)", higher_is_better=True)
            metrics["latent_units"] = Metric(float(variance.size))
            units = pd.DataFrame({"unit": np.arange(variance.size),
                                  "variance_of_posterior_mean": variance,
                                  "active": variance > self.active_threshold})
        else:
            units = None
        samples = generated(model, context, 64)
        check_sample_shape(samples, data)
        if data.modality == "image":
            figures["samples"] = Figure("generative_samples", {
                "real": report_images(data.X[:64], data),
                "generated": report_images(samples, data), "real_label": "real (held-out)",
                "generated_label": "generated"}, "Real samples next to generated ones")
        tables = {"gaps": pd.DataFrame(rows)}
        if units is not None:
            tables["latent_units"] = units
        tables["notes"] = pd.DataFrame([
            ("samples", f"{len(train):,} training and {len(held_out):,} held-out samples"),
            ("intervals", f"{self.confidence:.0%} Student t for each mean, Welch for the gap"),
            ("likelihood and OOD", OOD_NOTE)], columns=["item", "value"])
        gap = metrics["elbo_gap"]
        headline = (f"ELBO {elbo_train.mean():.1f} nats on training against "
                    f"{elbo_test.mean():.1f} on held-out samples (gap {gap.value:.2f} "
                    f"[{gap.lower:.2f}, {gap.upper:.2f}])")
        if "active_units" in metrics:
            headline += (f"; {int(metrics['active_units'].value)} of "
                         f"{int(metrics['latent_units'].value)} latent units active")
        return self.result(Status.INFO, headline + ".", metrics=metrics, tables=tables,
                           figures=figures)

    @staticmethod
    def _error(X: np.ndarray, rebuilt: np.ndarray) -> np.ndarray:
        flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        return ((flat - rebuilt.reshape(len(X), -1)) ** 2).sum(axis=1)

    def _row(self, what: str, train: np.ndarray, test: np.ndarray) -> dict:
        low_train, high_train = mean_interval(train, self.confidence)
        low_test, high_test = mean_interval(test, self.confidence)
        low, high = mean_difference_interval(train, test, self.confidence)
        return {"quantity": what, "train": train.mean(), "train_lower": low_train,
                "train_upper": high_train, "held_out": test.mean(), "held_out_lower": low_test,
                "held_out_upper": high_test, "gap": train.mean() - test.mean(),
                "gap_lower": low, "gap_upper": high}

    def _gap_metrics(self, key: str, train: np.ndarray, test: np.ndarray, *,
                     higher_is_better: bool) -> dict[str, Metric]:
        low, high = mean_difference_interval(train, test, self.confidence)
        return {f"{key}_train": Metric(float(train.mean()), *mean_interval(train, self.confidence),
                                       self.confidence, len(train), "Student t",
                                       higher_is_better),
                f"{key}_held_out": Metric(float(test.mean()), *mean_interval(test, self.confidence),
                                          self.confidence, len(test), "Student t",
                                          higher_is_better),
                f"{key}_gap": Metric(float(train.mean() - test.mean()), low, high,
                                     self.confidence, None, "training minus held-out, Welch",
                                     None)}
