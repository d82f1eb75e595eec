"""OOD detectors: a score per input, larger meaning more likely out-of-distribution.

Each detector is a small class with the maths in :meth:`Detector.score` (as
pytorch-ood keeps it): it is fitted on the reference outputs only
(:meth:`Detector.fit`, never on the data being scored) and reads the
:class:`~._common.ModelOutputs` of a set of inputs. ``needs`` names the model
capabilities it reads; a detector the model cannot feed is left out with the
reason (:meth:`Detector.unavailable_reason`). A detector whose fit finds it
cannot work on this model (ViM and ReAct when the logits are not a linear
function of the features) raises :class:`DetectorUnavailable` with the reason.

Families of scores:

- probabilities (any classifier, black boxes too): maximum softmax
  probability (Hendrycks & Gimpel 2017), entropy, GEN (Liu et al. 2023);
- logits: MaxLogit (Hendrycks et al. 2022), Energy (Liu et al. 2020);
- input gradients: ODIN (Liang et al. 2018), which reads the raw inputs
  (``reads_inputs``, :meth:`Detector.score_inputs`);
- penultimate features: Mahalanobis (Lee et al. 2018), Relative Mahalanobis
  (Ren et al. 2021), KNN (Sun et al. 2022), ViM (Wang et al. 2022) and ReAct
  (Sun et al. 2021), the last two through the last linear layer, recovered
  from reference features and logits by least squares.

Class-conditional detectors (Mahalanobis, Relative Mahalanobis) group the
reference rows by the model's predicted class: reference inputs need no labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from ...exceptions import AuditkitError
from ...inputs import CAPABILITY_DESCRIPTIONS, AuditData, ModelAdapter
from ._common import ModelOutputs

__all__ = ["DETECTORS", "Detector", "DetectorUnavailable", "Energy", "Entropy", "GEN", "KNN",
           "Mahalanobis", "MaxLogit", "MaxSoftmax", "ODIN", "ReAct", "RelativeMahalanobis",
           "ViM", "detector_names", "linear_head", "make_detector"]

#: Values held at once by a chunked distance computation (rows x reference rows): 32 MB of float64.
CHUNK_VALUES = 2**22

NO_TOKEN_GRADIENTS = ("ODIN perturbs each input against the gradient of its softmax score; "
                      "token ids are discrete, so text inputs have no such gradient.")
NOT_LINEAR = ("{label} needs the last layer to be linear in the penultimate features "
              "(logits = W f + b); least squares on the reference features leaves a relative "
              "residual of {residual:.2g}, so this model's last layer is not linear in them.")
TOO_FEW_ROWS = ("{label} recovers the last linear layer from the reference rows, which needs "
                "more rows ({n}) than features plus one ({d}).")
BAD_DETECTOR = "The 'name' parameter of make_detector must be one of {expected}. Got {got!r}."


class DetectorUnavailable(AuditkitError):
    """Raised by :meth:`Detector.fit` when the detector cannot work on this model.

    The message is the reason, shown in the report.
    """


@dataclass
class Detector:
    """Base of every detector: fit on reference outputs, then score any outputs.

    Subclasses set ``name`` (the option value), ``label`` (for the report),
    ``needs`` (model capabilities) and implement :meth:`score`; those with
    fitted state implement :meth:`fit`, storing attributes ending in ``_``.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    #: A label short enough for a legend.
    short: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset({"probabilities"})
    #: Whether scores come from the raw inputs and the model (:meth:`score_inputs`, ODIN)
    #: rather than from :class:`ModelOutputs` alone.
    reads_inputs: ClassVar[bool] = False

    def unavailable_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why this detector cannot run on this model and data, or None."""
        missing = self.needs - model.capabilities
        if missing:
            needs = "; ".join(CAPABILITY_DESCRIPTIONS.get(c, c) for c in sorted(missing))
            return f"{self.label} needs {needs}, which this {model.framework} model does not give."
        return None

    def fit(self, reference: ModelOutputs) -> Detector:
        """Fit on the reference (in-distribution) outputs; returns self."""
        return self

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """One score per input, shape (n,), larger meaning more likely OOD."""
        raise NotImplementedError

    def score_inputs(self, model: ModelAdapter, X: np.ndarray, *,
                     bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Scores of raw inputs, for detectors that read them (``reads_inputs``)."""
        raise NotImplementedError(f"{self.label} scores model outputs: call score().")


# -- probabilities --------------------------------------------------------------------------


@dataclass
class MaxSoftmax(Detector):
    """Maximum softmax probability (Hendrycks & Gimpel 2017), negated."""

    name: ClassVar[str] = "msp"
    label: ClassVar[str] = "Maximum softmax probability"
    short: ClassVar[str] = "MSP"

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``-max_c p_c``."""
        return -outputs.proba.max(axis=1)


@dataclass
class Entropy(Detector):
    """Shannon entropy of the predicted distribution (nats)."""

    name: ClassVar[str] = "entropy"
    label: ClassVar[str] = "Predictive entropy"
    short: ClassVar[str] = "Entropy"

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``-sum_c p_c log p_c`` (0 log 0 = 0)."""
        p = outputs.proba
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(p), 0.0)
        return -terms.sum(axis=1)


@dataclass
class GEN(Detector):
    """Generalised entropy (Liu et al. 2023): ``sum_{top M} p^gamma (1 - p)^gamma``.

    Parameters
    ----------
    gamma : float, default=0.1
        Exponent; small values stress probabilities near 0 and 1 (the paper's 0.1).
    top_m : int or None, default=None
        Only the ``top_m`` largest probabilities enter the sum (the paper uses
        100 for ImageNet); None: every class.
    """

    name: ClassVar[str] = "gen"
    label: ClassVar[str] = "Generalised entropy (GEN)"
    short: ClassVar[str] = "GEN"
    gamma: float = 0.1
    top_m: int | None = None

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """The paper's G_gamma (a sum, where pytorch-ood takes the mean: same ranking)."""
        p = np.clip(outputs.proba, 0.0, 1.0)
        if self.top_m is not None and self.top_m < p.shape[1]:
            p = -np.partition(-p, self.top_m - 1, axis=1)[:, :self.top_m]
        return (p ** self.gamma * (1.0 - p) ** self.gamma).sum(axis=1)


# -- logits ---------------------------------------------------------------------------------


@dataclass
class MaxLogit(Detector):
    """Largest logit (Hendrycks et al. 2022), negated."""

    name: ClassVar[str] = "max_logit"
    label: ClassVar[str] = "MaxLogit"
    short: ClassVar[str] = "MaxLogit"
    needs: ClassVar[frozenset[str]] = frozenset({"logits"})

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``-max_c z_c``."""
        return -np.asarray(outputs.logits).max(axis=1)


@dataclass
class Energy(Detector):
    """Free energy ``-T logsumexp(logits / T)`` (Liu et al. 2020)."""

    name: ClassVar[str] = "energy"
    label: ClassVar[str] = "Energy"
    short: ClassVar[str] = "Energy"
    needs: ClassVar[frozenset[str]] = frozenset({"logits"})
    temperature: float = 1.0

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``-T logsumexp(z / T)``."""
        t = self.temperature
        return -t * logsumexp(np.asarray(outputs.logits) / t, axis=1)


# -- input gradients ------------------------------------------------------------------------


@dataclass
class ODIN(Detector):
    """ODIN (Liang et al. 2018): temperature-scaled MSP after a small input step.

    Each input moves by ``eps`` against the gradient sign of the loss
    ``-log S_yhat(x; T)`` (towards a more confident prediction), then the
    score is ``-max_c S_c(x'; T)``. ``eps`` is a fraction of each value's
    valid range (``AuditData.valid_bounds``), as attacks measure theirs, so
    a model that normalises its inputs gets the same step as one that does not.
    As in the paper (and pytorch-ood), the moved input is not clipped to the range.

    Parameters
    ----------
    temperature : float, default=1000.0
    eps : float, default=0.0014
        The paper's values for its CIFAR models.
    """

    name: ClassVar[str] = "odin"
    label: ClassVar[str] = "ODIN"
    short: ClassVar[str] = "ODIN"
    needs: ClassVar[frozenset[str]] = frozenset({"gradients", "logits"})
    reads_inputs: ClassVar[bool] = True
    temperature: float = 1000.0
    eps: float = 0.0014

    def unavailable_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Also: text inputs are token ids, without gradients."""
        if data.modality == "text":
            return NO_TOKEN_GRADIENTS
        return super().unavailable_reason(model, data)

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """ODIN needs the inputs: see :meth:`score_inputs`."""
        raise NotImplementedError("ODIN reads the inputs: call score_inputs(model, X).")

    def score_inputs(self, model: ModelAdapter, X: np.ndarray, *,
                     bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """ODIN scores of ``X``, batched, with gradients of the inputs only.

        Parameters
        ----------
        model : ModelAdapter
            With ``gradients`` (``logits_tensor``, ``evaluating``, ``frozen``).
        X : ndarray of shape (n, ...)
        bounds : tuple (low, high) of ndarrays of one sample's shape, optional
            The valid range: the step is ``eps * (high - low)`` per value. None: unit range.

        Returns
        -------
        ndarray of shape (n,)
        """
        import torch

        device = torch.device(model.device)
        scale = None
        if bounds is not None:
            scale = torch.as_tensor(np.asarray(bounds[1] - bounds[0], dtype=np.float32),
                                    device=device)
        t = float(self.temperature)
        scores = []
        # cuDNN's recurrent layers have no backward pass in eval mode (as in the explainers).
        with model.evaluating(), model.frozen(), torch.backends.cudnn.flags(enabled=False):
            for start in range(0, len(X), model.batch_size):
                batch = np.ascontiguousarray(X[start:start + model.batch_size], dtype=np.float32)
                x = torch.from_numpy(batch).to(device).requires_grad_(True)
                logits = model.logits_tensor(x) / t
                # -log S_yhat summed over the batch: each input's gradient is its own.
                loss = -torch.log_softmax(logits, dim=1).max(dim=1).values.sum()
                (gradient,) = torch.autograd.grad(loss, x)
                step = gradient.sign() if scale is None else gradient.sign() * scale
                with torch.inference_mode():
                    moved = model.logits_tensor(x.detach() - self.eps * step).double() / t
                    scores.append(-torch.softmax(moved, dim=1).max(dim=1).values.cpu().numpy())
        return np.concatenate(scores) if scores else np.empty(0)


# -- features -------------------------------------------------------------------------------


def _whitener(covariance: np.ndarray) -> np.ndarray:
    """A matrix A with A A^T the pseudo-inverse of ``covariance``.

    Directions without variance in the reference features (dead units) are
    left out, as :func:`scipy.linalg.pinvh` and scikit-learn's
    ``EmpiricalCovariance`` (which Lee et al.'s code uses) leave them out.
    """
    values, vectors = np.linalg.eigh(covariance)
    tolerance = max(float(values.max()), 0.0) * len(values) * np.finfo(np.float64).eps
    keep = values > tolerance
    return vectors[:, keep] / np.sqrt(values[keep])


def _class_means_and_covariance(features: np.ndarray, classes: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray]:
    """Means per class present and the shared (pooled, divided by n) covariance."""
    present, index = np.unique(classes, return_inverse=True)
    counts = np.bincount(index, minlength=len(present)).astype(np.float64)
    membership = sparse.csr_matrix((np.ones(len(index)), (index, np.arange(len(index)))),
                                   shape=(len(present), len(index)))
    means = np.asarray(membership @ features) / counts[:, None]
    covariance = np.zeros((features.shape[1], features.shape[1]))
    for start in range(0, len(features), _rows_per_chunk(features.shape[1])):
        part = features[start:start + _rows_per_chunk(features.shape[1])]
        centred = part - means[index[start:start + len(part)]]
        covariance += centred.T @ centred
    return means, covariance / len(features)


def _rows_per_chunk(width: int) -> int:
    return max(1, CHUNK_VALUES // max(1, width))


def squared_distances_to_centres(features: np.ndarray, whitener: np.ndarray,
                                 centres: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each row to each centre, shape (n, n_centres), chunked."""
    white_centres = centres @ whitener
    centre_norms = (white_centres ** 2).sum(axis=1)
    out = np.empty((len(features), len(centres)))
    size = _rows_per_chunk(max(features.shape[1], len(centres)))
    for start in range(0, len(features), size):
        white = features[start:start + size] @ whitener
        distances = ((white ** 2).sum(axis=1)[:, None] + centre_norms[None, :]
                     - 2.0 * white @ white_centres.T)
        out[start:start + size] = np.maximum(distances, 0.0)
    return out


@dataclass
class Mahalanobis(Detector):
    """Smallest squared Mahalanobis distance to a class mean (Lee et al. 2018).

    Class means and one shared covariance (divided by n) are fitted on the
    reference features, grouped by predicted class; no input preprocessing.
    Directions in which the reference features do not vary are left out
    (pseudo-inverse), as in the authors' code.
    """

    name: ClassVar[str] = "mahalanobis"
    label: ClassVar[str] = "Mahalanobis"
    short: ClassVar[str] = "Mahalanobis"
    needs: ClassVar[frozenset[str]] = frozenset({"features"})

    def fit(self, reference: ModelOutputs) -> Mahalanobis:
        """Class means and shared covariance of the reference features."""
        features = np.asarray(reference.features)
        self.means_, covariance = _class_means_and_covariance(
            features, reference.proba.argmax(axis=1))
        self.whitener_ = _whitener(covariance)
        return self

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``min_k (f - mu_k)^T Sigma^-1 (f - mu_k)``."""
        return squared_distances_to_centres(np.asarray(outputs.features), self.whitener_,
                                            self.means_).min(axis=1)


@dataclass
class RelativeMahalanobis(Mahalanobis):
    """Relative Mahalanobis distance (Ren et al. 2021): ``min_k (d_k - d_0)``.

    ``d_0`` is the squared distance under one Gaussian fitted to all
    reference features (the background), which cancels the directions every
    class shares and helps near-OOD detection.
    """

    name: ClassVar[str] = "relative_mahalanobis"
    label: ClassVar[str] = "Relative Mahalanobis"
    short: ClassVar[str] = "Rel. Mahalanobis"

    def fit(self, reference: ModelOutputs) -> RelativeMahalanobis:
        """Class Gaussians as :class:`Mahalanobis`, and the background Gaussian."""
        super().fit(reference)
        features = np.asarray(reference.features)
        self.background_mean_, covariance = _class_means_and_covariance(
            features, np.zeros(len(features), dtype=np.int64))
        self.background_whitener_ = _whitener(covariance)
        return self

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``min_k d_k(f) - d_0(f)``."""
        features = np.asarray(outputs.features)
        background = squared_distances_to_centres(features, self.background_whitener_,
                                                  self.background_mean_)[:, 0]
        return super().score(outputs) - background


def _unit_rows(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def kth_neighbour_distance(queries: np.ndarray, reference: np.ndarray, k: int, *,
                           chunk_values: int = CHUNK_VALUES) -> np.ndarray:
    """Euclidean distance from each query row to its k-th nearest reference row, chunked.

    At most about ``chunk_values`` distances are held at once (query rows x
    reference rows), so 100,000 reference rows stay bounded in memory.
    """
    reference_norms = (reference ** 2).sum(axis=1)
    size = max(1, chunk_values // max(1, len(reference)))
    out = np.empty(len(queries))
    for start in range(0, len(queries), size):
        part = queries[start:start + size]
        squared = ((part ** 2).sum(axis=1)[:, None] + reference_norms[None, :]
                   - 2.0 * part @ reference.T)
        kth = np.partition(squared, k - 1, axis=1)[:, k - 1]
        out[start:start + size] = np.sqrt(np.maximum(kth, 0.0))
    return out


@dataclass
class KNN(Detector):
    """Distance to the k-th nearest reference input in L2-normalised features (Sun et al. 2022).

    Parameters
    ----------
    k : int or None, default=None
        The neighbour whose distance is the score; None: 1% of the reference
        rows, at least 1 (the paper's k = 50 for 5,000 rows; a fixed k = 50
        over 210 rows of 7 classes reaches into other classes and scores
        near-OOD inputs as closer than in-distribution ones). Capped at the
        number of reference rows.
    """

    name: ClassVar[str] = "knn"
    label: ClassVar[str] = "KNN"
    short: ClassVar[str] = "KNN"
    needs: ClassVar[frozenset[str]] = frozenset({"features"})
    k: int | None = None

    def fit(self, reference: ModelOutputs) -> KNN:
        """Keep the normalised reference features."""
        self.reference_ = _unit_rows(np.asarray(reference.features))
        k = max(1, round(len(self.reference_) / 100)) if self.k is None else self.k
        self.k_ = min(k, len(self.reference_))
        return self

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``||z - z_(k)||`` with ``z = f / ||f||``."""
        return kth_neighbour_distance(_unit_rows(np.asarray(outputs.features)), self.reference_,
                                      self.k_)


def linear_head(features: np.ndarray, logits: np.ndarray, *, label: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """W (n_classes, n_features) and b of ``logits = features @ W.T + b``, by least squares.

    Raises
    ------
    DetectorUnavailable
        When the fit leaves a relative residual above 1e-3 (the last layer is
        not linear in the features), or there are too few rows to tell.
    """
    n, d = features.shape
    if n <= d + 1:
        raise DetectorUnavailable(TOO_FEW_ROWS.format(label=label, n=n, d=d + 1))
    design = np.hstack([features, np.ones((n, 1))])
    # Least squares through the (d+1) x (d+1) normal equations: n may be 100,000 rows.
    # lstsq (an SVD) copes with dead units, whose columns make the system singular.
    solution, *_ = np.linalg.lstsq(design.T @ design, design.T @ logits, rcond=None)
    residual = logits - design @ solution
    spread = max(float(np.abs(logits - logits.mean(axis=0)).max()), 1e-12)
    relative = float(np.abs(residual).max()) / spread
    if relative > 1e-3:
        raise DetectorUnavailable(NOT_LINEAR.format(label=label, residual=relative))
    return solution[:-1].T, solution[-1]


@dataclass
class ViM(Detector):
    """Virtual-logit matching (Wang et al. 2022).

    Features are re-centred at ``u = -pinv(W) b``; their norm in the
    residual space (orthogonal to the ``dim`` principal directions of the
    reference features) is scaled by ``alpha = mean max logit / mean residual
    norm`` on the reference rows and becomes a virtual logit; the score is
    ``alpha ||P (f - u)|| - logsumexp(logits)``.

    Parameters
    ----------
    dim : int or None, default=None
        Dimension of the principal space; None: half the feature dimension.
    """

    name: ClassVar[str] = "vim"
    label: ClassVar[str] = "ViM"
    short: ClassVar[str] = "ViM"
    needs: ClassVar[frozenset[str]] = frozenset({"features", "logits"})
    dim: int | None = None

    def fit(self, reference: ModelOutputs) -> ViM:
        """Recover the last layer, the residual space and alpha from the reference rows."""
        features, logits = np.asarray(reference.features), np.asarray(reference.logits)
        self.weight_, self.bias_ = linear_head(features, logits, label=self.label)
        self.origin_ = -np.linalg.pinv(self.weight_) @ self.bias_
        centred = features - self.origin_
        d = features.shape[1]
        self.dim_ = min(d // 2 if self.dim is None else self.dim, d - 1)
        _, vectors = np.linalg.eigh(centred.T @ centred / len(centred))
        self.residual_space_ = vectors[:, :d - self.dim_]  # eigh sorts ascending
        norms = np.linalg.norm(centred @ self.residual_space_, axis=1)
        self.alpha_ = float(logits.max(axis=1).mean() / max(norms.mean(), 1e-12))
        return self

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``alpha ||(f - u) R|| - logsumexp(z)``."""
        features = np.asarray(outputs.features)
        virtual = self.alpha_ * np.linalg.norm((features - self.origin_) @ self.residual_space_,
                                               axis=1)
        return virtual - logsumexp(np.asarray(outputs.logits), axis=1)


@dataclass
class ReAct(Detector):
    """ReAct (Sun et al. 2021): features clipped at a reference percentile, then Energy.

    Parameters
    ----------
    percentile : float, default=90.0
        Percentile (0-100) of all reference activations at which features are clipped.
    temperature : float, default=1.0
        Temperature of the energy score.
    """

    name: ClassVar[str] = "react"
    label: ClassVar[str] = "ReAct"
    short: ClassVar[str] = "ReAct"
    needs: ClassVar[frozenset[str]] = frozenset({"features", "logits"})
    percentile: float = 90.0
    temperature: float = 1.0

    def fit(self, reference: ModelOutputs) -> ReAct:
        """The last layer and the clipping threshold."""
        features = np.asarray(reference.features)
        self.weight_, self.bias_ = linear_head(features, np.asarray(reference.logits),
                                               label=self.label)
        self.threshold_ = float(np.percentile(features, self.percentile))
        return self

    def score(self, outputs: ModelOutputs) -> np.ndarray:
        """``-T logsumexp((min(f, c) W^T + b) / T)``."""
        clipped = np.minimum(np.asarray(outputs.features), self.threshold_)
        logits = clipped @ self.weight_.T + self.bias_
        t = self.temperature
        return -t * logsumexp(logits / t, axis=1)


#: Every detector class, by option name, in report order.
DETECTORS: dict[str, type[Detector]] = {cls.name: cls for cls in (
    MaxSoftmax, Entropy, GEN, MaxLogit, Energy, ODIN, Mahalanobis, RelativeMahalanobis, KNN,
    ViM, ReAct)}


def detector_names() -> tuple[str, ...]:
    """The detectors' option names, in report order."""
    return tuple(DETECTORS)


def make_detector(name: str, **options: Any) -> Detector:
    """A fresh, unfitted detector by its option name.

    Parameters
    ----------
    name : str
        One of :func:`detector_names`.
    **options
        The detector's own options (e.g. ``temperature``, ``k``).

    Returns
    -------
    Detector
    """
    if name not in DETECTORS:
        raise AuditkitError(BAD_DETECTOR.format(expected=list(DETECTORS), got=name))
    return DETECTORS[name](**options)
