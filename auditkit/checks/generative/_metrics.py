"""Generative family: the metrics of samples next to real data (no check here, only numbers).

Recognisability (how confidently a classifier names each sample), memorisation
(nearest training image against nearest held-out image), diversity (spread of
the samples against that of real images) and the Fréchet distance between two
sets of features. Each function takes arrays (numpy or torch, any shape with the
samples first), computes in float64, and returns plain numbers: judging them is
the policy's work, not this module's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...exceptions import BAD_VALUE, AuditkitError

__all__ = [
    "frechet_distance",
    "memorisation",
    "nearest_neighbour_distances",
    "recognisability",
    "sample_diversity",
]

BAD_PROBABILITIES = (
    "The 'probabilities' parameter must be an array of shape (n_samples, n_classes) with "
    "n_samples >= 1 and n_classes >= 2. Got an array of shape {shape} instead."
)
TOO_FEW = (
    "The '{param}' parameter must hold at least {expected} sample(s). Got {got} instead."
)
FEATURE_MISMATCH = (
    "The '{param}' parameter must have {expected} values per sample, as '{other}' has. "
    "Got {got} instead."
)

#: Query rows per distance block: bounds memory at ``_BLOCK * n_references`` float64s.
_BLOCK = 1024


def _flat(images: Any, param: str, minimum: int = 1) -> torch.Tensor:
    """``images`` as a float64 CPU tensor of shape (n, n_values); always a copy."""
    if isinstance(images, torch.Tensor):
        values = images.detach().to("cpu", torch.float64).clone()
    else:
        values = torch.tensor(np.ascontiguousarray(images, dtype=np.float64))
    if values.ndim == 0 or len(values) < minimum:
        raise AuditkitError(TOO_FEW.format(param=param, expected=minimum,
                                           got=0 if values.ndim == 0 else len(values)))
    return values.reshape(len(values), -1)


def _same_width(values: torch.Tensor, param: str, other: torch.Tensor, other_param: str) -> None:
    if values.shape[1] != other.shape[1]:
        raise AuditkitError(FEATURE_MISMATCH.format(param=param, expected=other.shape[1],
                                                    other=other_param, got=values.shape[1]))


def _nearest(queries: torch.Tensor, references: torch.Tensor, *, exclude_self: bool
             ) -> torch.Tensor:
    nearest = []
    for start in range(0, len(queries), _BLOCK):
        distances = torch.cdist(queries[start:start + _BLOCK], references)
        if exclude_self:
            rows = torch.arange(distances.shape[0])
            distances[rows, rows + start] = float("inf")
        nearest.append(distances.min(1).values)
    return torch.cat(nearest)


def nearest_neighbour_distances(queries: Any, references: Any | None = None) -> np.ndarray:
    """Euclidean distance from each query to its nearest reference.

    Parameters
    ----------
    queries : array-like or torch.Tensor of shape (n_queries, ...)
        Samples; every axis after the first is flattened (images are compared
        pixel by pixel).
    references : array-like or torch.Tensor of shape (n_references, ...), optional
        The set to search. By default the queries themselves, each query's own
        row left out (the distance to its nearest *other* query).

    Returns
    -------
    numpy.ndarray of shape (n_queries,)
        float64 distances.

    Examples
    --------
    >>> nearest_neighbour_distances([[0.0], [1.0], [3.0]]).tolist()
    [1.0, 1.0, 2.0]
    >>> nearest_neighbour_distances([[0.0, 0.0]], [[3.0, 4.0], [6.0, 8.0]]).tolist()
    [5.0]
    """
    if references is None:
        flat = _flat(queries, "queries", minimum=2)
        return _nearest(flat, flat, exclude_self=True).numpy()
    flat, reference = _flat(queries, "queries"), _flat(references, "references")
    _same_width(reference, "references", flat, "queries")
    return _nearest(flat, reference, exclude_self=False).numpy()


def recognisability(probabilities: Any, *, threshold: float = 0.9) -> dict[str, Any]:
    """How confidently a classifier names each generated sample.

    Parameters
    ----------
    probabilities : array-like or torch.Tensor of shape (n_samples, n_classes)
        A classifier's predicted class probabilities for the samples (e.g.
        ``mnist-cnn`` on generated digits).
    threshold : float, default=0.9
        A sample is confident when its top probability is at least this.

    Returns
    -------
    dict
        ``n_samples``, ``threshold``; ``confident_fraction`` (share of samples
        with a top probability >= ``threshold``); ``classes_present`` (classes
        with at least one confident sample); ``class_histogram`` (argmax counts
        of all samples) and ``confident_class_histogram`` (of the confident ones).

    Examples
    --------
    >>> result = recognisability([[0.95, 0.05], [0.6, 0.4], [0.2, 0.8]], threshold=0.8)
    >>> result["confident_fraction"], result["classes_present"], result["class_histogram"]
    (0.6666666666666666, [0, 1], [2, 1])
    """
    values = (probabilities.detach().cpu() if isinstance(probabilities, torch.Tensor)
              else torch.tensor(np.ascontiguousarray(probabilities, dtype=np.float64)))
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 2:
        raise AuditkitError(BAD_PROBABILITIES.format(shape=tuple(values.shape)))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0 < threshold <= 1:
        raise AuditkitError(BAD_VALUE.format(param="threshold", expected="a float in (0, 1]",
                                             got=repr(threshold)))
    confidence, predicted = values.max(1)
    confident = confidence >= threshold
    n_classes = values.shape[1]
    confident_histogram = torch.bincount(predicted[confident], minlength=n_classes)
    return {"n_samples": len(values), "threshold": threshold,
            "confident_fraction": float(confident.double().mean()),
            "classes_present": [int(c) for c in torch.nonzero(confident_histogram).flatten()],
            "class_histogram": torch.bincount(predicted, minlength=n_classes).tolist(),
            "confident_class_histogram": confident_histogram.tolist()}


def memorisation(samples: Any, train_images: Any, test_images: Any, *,
                 ratio: float = 0.5) -> dict[str, Any]:
    """How close generated samples are to the training images, against held-out images.

    A model that copies its training data puts samples much nearer a training
    image than any held-out image; one that generalises puts them about as far
    from both.

    Parameters
    ----------
    samples : array-like or torch.Tensor of shape (n_samples, ...)
        Generated samples.
    train_images : array-like or torch.Tensor of shape (n_train, ...)
        The images the model was trained on, scaled like the samples.
    test_images : array-like or torch.Tensor of shape (n_test, ...)
        Images the model never saw.
    ratio : float, default=0.5
        A sample is a near-copy when the distance to its nearest training image
        is less than ``ratio`` times the distance to its nearest test image.

    Returns
    -------
    dict
        ``n_samples``, ``n_train``, ``n_test``; medians of the Euclidean
        distance to the nearest training image and to the nearest test image
        (``median_l2_to_nearest_train``, ``median_l2_to_nearest_test``) and of
        their ratio (``median_ratio_train_over_test``); ``near_copy_ratio``
        and ``near_copy_fraction``, the share of samples that are near-copies.

    Notes
    -----
    Nearest-neighbour distances shrink as a set grows: with more training than
    test images they favour the training set, with fewer the test set, where a
    high near-copy fraction is then a conservative finding.

    Examples
    --------
    >>> result = memorisation([[0.0], [10.0], [19.0]], [[1.0], [10.0]], [[4.0], [20.0]])
    >>> result["near_copy_fraction"], result["median_l2_to_nearest_train"]
    (0.6666666666666666, 1.0)
    """
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 0:
        raise AuditkitError(BAD_VALUE.format(param="ratio", expected="a positive float",
                                             got=repr(ratio)))
    flat = _flat(samples, "samples")
    train, test = _flat(train_images, "train_images"), _flat(test_images, "test_images")
    _same_width(train, "train_images", flat, "samples")
    _same_width(test, "test_images", flat, "samples")
    to_train = _nearest(flat, train, exclude_self=False)
    to_test = _nearest(flat, test, exclude_self=False)
    ratios = to_train / to_test.clamp_min(1e-12)
    return {"n_samples": len(flat), "n_train": len(train), "n_test": len(test),
            "median_l2_to_nearest_train": float(to_train.median()),
            "median_l2_to_nearest_test": float(to_test.median()),
            "median_ratio_train_over_test": float(ratios.median()),
            "near_copy_ratio": ratio,
            "near_copy_fraction": float((ratios < ratio).double().mean())}


def sample_diversity(samples: Any, reference_images: Any) -> dict[str, Any]:
    """Nearest-neighbour spread of generated samples next to that of real images.

    Parameters
    ----------
    samples : array-like or torch.Tensor of shape (n_samples, ...)
        Generated samples, at least two.
    reference_images : array-like or torch.Tensor of shape (n_reference, ...)
        Real images scaled like the samples, at least two.

    Returns
    -------
    dict
        ``n_samples``, ``n_reference``, and the median Euclidean distance from
        each image to its nearest other image among the samples
        (``median_nn_l2_among_samples``) and among the real images
        (``median_nn_l2_among_reference``). A much smaller value for the
        samples means they cluster around fewer prototypes (mode collapse).

    Notes
    -----
    The median is torch's: the lower of the two middle values for an even count.

    Examples
    --------
    >>> result = sample_diversity([[0.0], [0.1], [0.2]], [[0.0], [1.0], [3.0]])
    >>> round(result["median_nn_l2_among_samples"], 6), result["median_nn_l2_among_reference"]
    (0.1, 1.0)
    """
    flat = _flat(samples, "samples", minimum=2)
    reference = _flat(reference_images, "reference_images", minimum=2)
    _same_width(reference, "reference_images", flat, "samples")
    return {"n_samples": len(flat), "n_reference": len(reference),
            "median_nn_l2_among_samples":
                float(_nearest(flat, flat, exclude_self=True).median()),
            "median_nn_l2_among_reference":
                float(_nearest(reference, reference, exclude_self=True).median())}


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``, the distance behind
    FID (Heusel et al., NeurIPS 2017) when the features are a network's
    embeddings of real and generated images.

    Parameters
    ----------
    features_a : array-like or torch.Tensor of shape (n_a, n_features)
        At least two samples.
    features_b : array-like or torch.Tensor of shape (n_b, n_features)
        At least two samples, as many features as ``features_a``.

    Returns
    -------
    float
        The distance (non-negative; covariances use ``n - 1``).

    Examples
    --------
    >>> frechet_distance([[0.0], [2.0]], [[1.0], [3.0]])
    1.0
    """
    from scipy import linalg

    a = _flat(features_a, "features_a", minimum=2).numpy()
    b = _flat(features_b, "features_b", minimum=2).numpy()
    if a.shape[1] != b.shape[1]:
        raise AuditkitError(FEATURE_MISMATCH.format(param="features_b", expected=a.shape[1],
                                                    other="features_a", got=b.shape[1]))
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        # A singular product: nudge both covariances as the FID reference code does.
        offset = np.eye(len(cov_a)) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    # Rounding leaves an imaginary part of the order of machine precision.
    root = np.real(root)
    difference = a.mean(0) - b.mean(0)
    distance = difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root)
    return float(max(distance, 0.0))
