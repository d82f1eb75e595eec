"""Generative family: mode coverage and diversity of generated samples (numbers only).

Which classes a generator produces, as a classifier of the domain labels its
samples, against the real class distribution (missing and under-represented
modes, KL divergence, the share of samples recognised confidently), and how
varied the samples are: the Vendi score (Friedman & Dieng 2023) and the mean
pairwise distance within each class. The functions take arrays and return
plain numbers and DataFrames; judging them is the policy's work.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from ..._stats import wilson_interval
from ...exceptions import BAD_VALUE, LENGTH_MISMATCH, AuditkitError
from ._distances import as_features, as_generator, fraction, pairwise_distance_blocks

__all__ = ["KL_PSEUDO_COUNT", "class_coverage", "intra_class_diversity", "vendi_score"]

#: Added to every generated class count before the KL divergence (Krichevsky-Trofimov):
#: a missing class then gives a finite, large term instead of infinity.
KL_PSEUDO_COUNT = 0.5


def class_coverage(generated_proba: Any, real_labels: Any, *, n_classes: int,
                   confident: float = 0.9, missing_fraction: float = 0.25,
                   underrepresented_fraction: float = 0.5,
                   confidence: float = 0.95) -> dict[str, Any]:
    """Class histogram of generated samples against the real one: missing modes and KL.

    Each generated sample's class is the argmax of a domain classifier's
    probabilities. A class is *missing* when the upper end of the Wilson
    interval of its generated share is below ``missing_fraction`` times its
    real share, *under-represented* when below ``underrepresented_fraction``
    times (and not missing): judging on the upper bound means a class is
    flagged only when the samples show it is rare, not when there are too few
    samples to tell.

    Parameters
    ----------
    generated_proba : array-like of shape (n_generated, n_classes)
        The classifier's probabilities for the generated samples.
    real_labels : array-like of int of shape (n_real,)
        Class indices (0 to ``n_classes - 1``) of real samples: the real
        class distribution.
    n_classes : int
        Number of classes, at least 2.
    confident : float, default=0.9
        A sample is recognised confidently when its top probability is at least this.
    missing_fraction, underrepresented_fraction : float, default=0.25, 0.5
        The two rules above; ``missing_fraction <= underrepresented_fraction``.
    confidence : float, default=0.95
        Level of the Wilson intervals.

    Returns
    -------
    dict
        ``classes``: DataFrame, one row per class: ``class``, ``n_real``,
        ``real_share``, ``n_generated``, ``generated_share``,
        ``generated_lower``, ``generated_upper``, ``ratio`` (generated over
        real share; NaN for a class without real samples) and ``status``
        (``"missing"``, ``"under-represented"`` or ``"ok"``).
        ``n_missing``, ``n_underrepresented`` (missing ones not included),
        ``kl_real_to_generated`` (KL(real || generated) in nats, the generated
        histogram smoothed by :data:`KL_PSEUDO_COUNT` per class),
        ``kl_pseudo_count``, ``confident_share`` with ``confident_lower`` and
        ``confident_upper``, ``n_generated`` and ``n_real``.

    Examples
    --------
    >>> proba = [[0.95, 0.05]] * 90 + [[0.3, 0.7]] * 10
    >>> found = class_coverage(proba, [0, 1] * 50, n_classes=2)
    >>> found["classes"]["status"].tolist(), found["confident_share"]
    (['ok', 'under-represented'], 0.9)
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, Integral) or n_classes < 2:
        raise AuditkitError(BAD_VALUE.format(param="n_classes", expected="an int >= 2",
                                             got=repr(n_classes)))
    proba = as_features(generated_proba, "generated_proba")
    if proba.shape[1] != n_classes or (proba < 0).any():
        raise AuditkitError(BAD_VALUE.format(
            param="generated_proba",
            expected=f"non-negative probabilities of shape (n_generated, {n_classes})",
            got=f"an array of shape {proba.shape} with minimum {proba.min():.3g}"))
    labels = np.asarray(real_labels).reshape(-1)
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min() < 0 or labels.max() >= n_classes:
        raise AuditkitError(BAD_VALUE.format(
            param="real_labels", expected=f"a non-empty array of ints in [0, {n_classes})",
            got=(f"{labels.size} value(s) of dtype {labels.dtype}" if labels.size == 0
                 or not np.issubdtype(labels.dtype, np.integer)
                 else f"values from {labels.min()} to {labels.max()}")))
    if isinstance(confident, bool) or not isinstance(confident, Real) or not 0 < confident <= 1:
        raise AuditkitError(BAD_VALUE.format(param="confident", expected="a float in (0, 1]",
                                             got=repr(confident)))
    missing_fraction = fraction(missing_fraction, "missing_fraction")
    underrepresented_fraction = fraction(underrepresented_fraction, "underrepresented_fraction")
    if missing_fraction > underrepresented_fraction:
        raise AuditkitError(BAD_VALUE.format(
            param="missing_fraction",
            expected=f"at most underrepresented_fraction ({underrepresented_fraction})",
            got=repr(missing_fraction)))
    confidence = fraction(confidence, "confidence")

    n_generated, n_real = len(proba), len(labels)
    generated_counts = np.bincount(proba.argmax(axis=1), minlength=n_classes)
    real_counts = np.bincount(labels, minlength=n_classes)
    real_share = real_counts / n_real
    generated_share = generated_counts / n_generated
    lower, upper = wilson_interval(generated_counts, n_generated, confidence)
    status = np.where(upper < missing_fraction * real_share, "missing",
                      np.where(upper < underrepresented_fraction * real_share,
                               "under-represented", "ok"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(real_counts > 0, generated_share / real_share, np.nan)
    smoothed = (generated_counts + KL_PSEUDO_COUNT) / (n_generated + KL_PSEUDO_COUNT * n_classes)
    present = real_counts > 0
    kl = float(np.sum(real_share[present] * np.log(real_share[present] / smoothed[present])))
    n_confident = int((proba.max(axis=1) >= confident).sum())
    confident_lower, confident_upper = wilson_interval(n_confident, n_generated, confidence)
    classes = pd.DataFrame({
        "class": np.arange(n_classes), "n_real": real_counts, "real_share": real_share,
        "n_generated": generated_counts, "generated_share": generated_share,
        "generated_lower": lower, "generated_upper": upper, "ratio": ratio, "status": status})
    return {"classes": classes,
            "n_missing": int((status == "missing").sum()),
            "n_underrepresented": int((status == "under-represented").sum()),
            "kl_real_to_generated": kl, "kl_pseudo_count": KL_PSEUDO_COUNT,
            "confident_share": n_confident / n_generated,
            "confident_lower": float(confident_lower), "confident_upper": float(confident_upper),
            "n_generated": n_generated, "n_real": n_real}


def vendi_score(features: Any, *, max_samples: int | None = 2000, rng: Any = None) -> float:
    """Vendi score with the cosine kernel: the effective number of distinct samples.

    ``exp(-sum_i l_i log l_i)``, the ``l_i`` the eigenvalues of ``K / n`` with
    ``K_ij = x_i.x_j / (|x_i| |x_j|)`` (Friedman & Dieng, TMLR 2023, "The
    Vendi Score: A Diversity Evaluation Metric for Machine Learning"). It is 1
    when every sample points the same way and ``n`` when all are orthogonal.
    ``K / n = X X^T / n`` for the row-normalised ``X``, whose nonzero
    eigenvalues are those of ``X^T X / n``: the smaller of the two
    ``min(n, d)``-square matrices is decomposed.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        Rows of zero norm have no direction and are left out.
    max_samples : int or None, default=2000
        Beyond this many rows, a seeded subsample of this size is scored (the
        score of a large set grows with its size up to the number of distinct
        directions, so compare sets of equal size).
    rng : numpy.random.Generator, int or None
        Seed of the subsample.

    Returns
    -------
    float

    Examples
    --------
    >>> vendi_score([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    1.0
    >>> round(vendi_score([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]), 10)
    3.0
    """
    values = as_features(features, "features")
    if max_samples is not None and (isinstance(max_samples, bool)
                                    or not isinstance(max_samples, Integral) or max_samples < 1):
        raise AuditkitError(BAD_VALUE.format(param="max_samples", expected="a positive int or None",
                                             got=repr(max_samples)))
    if max_samples is not None and len(values) > max_samples:
        chosen = as_generator(rng, optional=True).choice(len(values), size=max_samples,
                                                         replace=False)
        values = values[np.sort(chosen)]
    norms = np.linalg.norm(values, axis=1)
    values = values[norms > 0] / norms[norms > 0, None]
    if len(values) == 0:
        raise AuditkitError(BAD_VALUE.format(param="features",
                                             expected="an array with at least one nonzero row",
                                             got="only rows of zero norm"))
    n, d = values.shape
    gram = values @ values.T if n <= d else values.T @ values
    eigenvalues = np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)
    eigenvalues = eigenvalues[eigenvalues > 0]
    eigenvalues /= eigenvalues.sum()  # the trace is 1 up to rounding
    return float(np.exp(-np.sum(eigenvalues * np.log(eigenvalues))))


def _mean_pairwise_distance(values: np.ndarray) -> float:
    """Mean Euclidean distance over the ``n (n - 1) / 2`` pairs, in blocks of rows."""
    total = 0.0
    for _, block in pairwise_distance_blocks(values, values):
        total += block.sum()  # the diagonal is zero
    n = len(values)
    return float(total / (n * (n - 1)))


def intra_class_diversity(features: Any, labels: Any, *, max_per_class: int = 500,
                          rng: Any = None) -> pd.DataFrame:
    """Diversity of the samples within each class: mean pairwise distance and Vendi score.

    A generator that collapses onto a few prototypes of a class keeps its
    class histogram but loses spread within the class; compare with the same
    table for real samples of equal count.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
    labels : array-like of int of shape (n_samples,)
        Class of each sample (e.g. as a domain classifier labels it).
    max_per_class : int, default=500
        Classes with more samples are measured on a seeded subsample of this
        many (exact below).
    rng : numpy.random.Generator, int or None
        Seed of the subsamples.

    Returns
    -------
    pandas.DataFrame
        One row per class present, sorted: ``class``, ``count`` (all samples
        of the class), ``n_used`` (those measured), ``mean_distance`` (mean
        Euclidean distance over pairs; NaN below two samples) and ``vendi``
        (:func:`vendi_score`, cosine kernel).

    Examples
    --------
    >>> table = intra_class_diversity([[0.0, 1.0], [0.0, 3.0], [1.0, 0.0]], [0, 0, 1])
    >>> table["mean_distance"].tolist()[0], table["vendi"].tolist()
    (2.0, [1.0, 1.0])
    """
    values = as_features(features, "features")
    classes = np.asarray(labels).reshape(-1)
    if len(classes) != len(values):
        raise AuditkitError(LENGTH_MISMATCH.format(param="labels", other="features",
                                                   expected=len(values), got=len(classes)))
    if isinstance(max_per_class, bool) or not isinstance(max_per_class, Integral) \
            or max_per_class < 2:
        raise AuditkitError(BAD_VALUE.format(param="max_per_class", expected="an int >= 2",
                                             got=repr(max_per_class)))
    generator = as_generator(rng, optional=True)
    rows = []
    for label in np.unique(classes):
        members = np.flatnonzero(classes == label)
        if len(members) > max_per_class:
            members = np.sort(generator.choice(members, size=max_per_class, replace=False))
        chosen = values[members]
        nonzero = np.linalg.norm(chosen, axis=1) > 0
        rows.append({"class": label, "count": int((classes == label).sum()),
                     "n_used": len(members),
                     "mean_distance": (_mean_pairwise_distance(chosen) if len(chosen) > 1
                                       else np.nan),
                     "vendi": vendi_score(chosen, max_samples=None) if nonzero.any() else np.nan})
    return pd.DataFrame(rows, columns=["class", "count", "n_used", "mean_distance", "vendi"])
