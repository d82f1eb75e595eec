"""Privacy: membership-inference attacks, one score per record (larger: more likely a member).

Population thresholds need only the audited model's probabilities: the loss
and confidence of the true class (Yeom et al. 2018), the negated entropy, and
the modified entropy of Song & Mittal (2021). Label-only baselines need only
its predicted labels: the gap attack (a member iff correctly classified) and
random-noise robustness (the share of noisy copies that keep the true label,
a cheap stand-in for the distance to the decision boundary, Choquette-Choo
et al. 2021). LiRA (Carlini et al. 2022) and RMIA (Zarifzadeh et al. 2024)
calibrate each record against reference models trained with and without it
(:mod:`._reference`). Every function is vectorised over records.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

from ._common import logit_confidence

__all__ = ["POPULATION_ATTACKS", "REFERENCE_ATTACKS", "LABEL_ONLY_ATTACKS", "ALL_ATTACKS",
           "threshold_scores", "gap_score", "noise_robustness_score", "lira_online",
           "lira_offline", "rmia_offline", "reference_confidences"]

POPULATION_ATTACKS = ("loss", "confidence", "entropy", "modified_entropy")
LABEL_ONLY_ATTACKS = ("gap", "noise_robustness")
REFERENCE_ATTACKS = ("lira_online", "lira_offline", "rmia_offline")
ALL_ATTACKS = POPULATION_ATTACKS + LABEL_ONLY_ATTACKS + REFERENCE_ATTACKS

_TINY = np.finfo(np.float64).tiny


def threshold_scores(proba: np.ndarray, label_index: np.ndarray) -> dict[str, np.ndarray]:
    """The population threshold scores of every record.

    Parameters
    ----------
    proba : ndarray of shape (n, n_classes)
    label_index : int ndarray of shape (n,)

    Returns
    -------
    dict
        ``loss`` (negative cross-entropy), ``confidence`` (true-class
        probability, logit-scaled: ``log p_y - log sum_{i != y} p_i`` orders
        records as ``p_y`` does, but still tells apart those whose ``p_y``
        rounds to 1), ``entropy`` (negated Shannon entropy) and
        ``modified_entropy`` (negated Mentr of Song & Mittal 2021:
        ``-(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)``).
    """
    proba = np.asarray(proba, dtype=np.float64)
    rows = np.arange(len(proba))
    p_true = proba[rows, label_index]
    log_p = np.log(np.maximum(proba, _TINY))
    log_not_p = np.log(np.maximum(1.0 - proba, _TINY))
    others = proba * log_not_p
    others[rows, label_index] = 0.0
    modified = -(1.0 - p_true) * log_p[rows, label_index] - others.sum(axis=1)
    return {"loss": log_p[rows, label_index],
            "confidence": logit_confidence(proba, label_index),
            "entropy": (proba * log_p).sum(axis=1), "modified_entropy": -modified}


def gap_score(predicted_index: np.ndarray, label_index: np.ndarray) -> np.ndarray:
    """1 for a correctly classified record, 0 otherwise (Yeom et al.'s gap attack)."""
    return (np.asarray(predicted_index) == np.asarray(label_index)).astype(np.float64)


def noise_robustness_score(predict: callable, X: np.ndarray, label_index: np.ndarray, *,
                           n_copies: int, scale: np.ndarray,
                           rng: np.random.Generator,
                           bounds: tuple[float, float] | None = None) -> np.ndarray:
    """Share of Gaussian-noised copies of each record still given its true label.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> class indices`` on a batch (the model is called once,
        on all ``n_copies * n`` copies).
    X : ndarray of shape (n, ...)
    label_index : int ndarray of shape (n,)
    n_copies : int
    scale : ndarray broadcastable to one record
        Standard deviation of the noise per input value.
    rng : numpy Generator
    bounds : (low, high), optional
        Clip the noisy inputs to the valid range.

    Returns
    -------
    ndarray of shape (n,)
        Members, far from the boundary, keep their label more often.
    """
    X = np.asarray(X, dtype=np.float64)
    noisy = X[None] + rng.standard_normal((n_copies,) + X.shape) * scale
    if bounds is not None:
        noisy = np.clip(noisy, *bounds)
    kept = predict(noisy.reshape((-1,) + X.shape[1:]).astype(np.float32)).reshape(n_copies, -1)
    return (kept == np.asarray(label_index)[None]).mean(axis=0)


def _gaussian_fit(values: np.ndarray, mask: np.ndarray,
                  fixed_variance: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-record mean and standard deviation over the reference models in ``mask``.

    ``values`` and ``mask`` have shape (k, n). With ``fixed_variance`` the
    standard deviation is one number, pooled over all records (LiRA's
    fixed-variance variant, for few reference models).
    """
    count = mask.sum(axis=0)
    mean = np.where(mask, values, 0.0).sum(axis=0) / np.maximum(count, 1)
    squares = np.where(mask, (values - mean) ** 2, 0.0)
    if fixed_variance:
        # one degree of freedom per mean estimated (a record in no model has none)
        std = np.sqrt(squares.sum() / max(int(count.sum()) - int((count > 0).sum()), 1))
        std = np.full(values.shape[1], std)
    else:
        std = np.sqrt(squares.sum(axis=0) / np.maximum(count - 1, 1))
    return mean, np.maximum(std, 1e-6)


def lira_online(target: np.ndarray, reference: np.ndarray, included: np.ndarray, *,
                fixed_variance: bool) -> np.ndarray:
    """LiRA online: log-likelihood ratio of the IN and OUT Gaussians at the target's score.

    Parameters
    ----------
    target : ndarray of shape (n,)
        The audited model's logit-scaled confidence of each record.
    reference : ndarray of shape (k, n)
        Each reference model's logit-scaled confidence.
    included : bool ndarray of shape (k, n)
        Whether record i was in reference model j's training set.
    fixed_variance : bool
        One pooled variance per side instead of one per record.

    Returns
    -------
    ndarray of shape (n,)
        ``log N(target; mu_in, s_in) - log N(target; mu_out, s_out)``.

    Notes
    -----
    A record in no reference model's training set (the pool of reference
    models trained on the audited model's training-set size can be smaller
    than the scored sample) has no IN Gaussian of its own: its ``mu_in`` is
    its ``mu_out`` plus the mean IN - OUT shift of the records that have
    both, and its ``s_in`` the pooled IN deviation, as the fixed-variance
    variant pools the deviation over records.
    """
    mu_in, s_in = _gaussian_fit(reference, included, fixed_variance)
    mu_out, s_out = _gaussian_fit(reference, ~included, fixed_variance)
    has_in = np.asarray(included).any(axis=0)
    if not has_in.all() and has_in.any():
        shift = float(np.mean(mu_in[has_in] - mu_out[has_in]))
        mu_in = np.where(has_in, mu_in, mu_out + shift)
        s_in = np.where(has_in, s_in, np.sqrt(np.mean(s_in[has_in] ** 2)))
    return norm.logpdf(target, mu_in, s_in) - norm.logpdf(target, mu_out, s_out)


def lira_offline(target: np.ndarray, reference: np.ndarray, included: np.ndarray, *,
                 fixed_variance: bool) -> np.ndarray:
    """LiRA offline: one-sided test against the OUT Gaussian, ``-log P(OUT >= target)``.

    Parameters are those of :func:`lira_online`; only the OUT models are used.
    """
    mu_out, s_out = _gaussian_fit(reference, ~included, fixed_variance)
    return -norm.logsf(target, mu_out, s_out)


def rmia_offline(target_x: np.ndarray, out_x: np.ndarray, target_z: np.ndarray,
                 reference_z: np.ndarray, *, offline_a: float, gamma: float,
                 break_ties: bool = True, z_included: np.ndarray | None = None) -> np.ndarray:
    """RMIA offline: share of population records ``z`` that ``x`` beats by a ratio above gamma.

    Parameters
    ----------
    target_x : ndarray of shape (n,)
        The audited model's true-class probability ``Pr(x | theta)``.
    out_x : ndarray of shape (k_out, n) or masked (see below)
        The true-class probability of ``x`` under each reference model not
        trained on it; pass a masked array or use NaN for models trained on it.
    target_z : ndarray of shape (m,)
        ``Pr(z | theta)`` of each population record.
    reference_z : ndarray of shape (k, m)
        ``Pr(z | theta_j)`` under every reference model; ``Pr(z)`` is their mean
        (each ``z`` was in half of them: the mean is the IN/OUT average the
        paper defines).
    offline_a : float
        The offline approximation ``Pr(x) = ((1 + a) / 2) mean_OUT + (1 - a) / 2``.
    gamma : float
        A pair counts when ``LR(x, z) = (Pr(x|theta)/Pr(x)) / (Pr(z|theta)/Pr(z)) > gamma``.
    break_ties : bool, default=True
        Add less than ``1 / m`` by the rank of ``Pr(x|theta)/Pr(x)``: the share
        is that ratio's step function on a fixed set of ``z``, so this only
        splits ties (many records dominate every ``z`` of a small set, and a
        low-FPR threshold cannot cut inside a tie).
    z_included : bool ndarray of shape (k, m), optional
        Whether ``z`` was in reference model ``j``'s training set. A ``z`` in
        none of them gets the offline approximation, as ``x`` does; the others
        (and all, when not given) the mean over every reference model.

    Returns
    -------
    ndarray of shape (n,)
        The share of population records dominated, in [0, 1] (plus the tie-break).
    """
    mean_out = np.nanmean(out_x, axis=0)
    pr_x = (1.0 + offline_a) / 2.0 * mean_out + (1.0 - offline_a) / 2.0
    ratio_x = target_x / np.maximum(pr_x, _TINY)
    pr_z = np.asarray(reference_z, dtype=np.float64).mean(axis=0)
    if z_included is not None:
        never_in = ~np.asarray(z_included, dtype=bool).any(axis=0)
        pr_z = np.where(never_in, (1.0 + offline_a) / 2.0 * pr_z + (1.0 - offline_a) / 2.0, pr_z)
    ratio_z = np.sort(target_z / np.maximum(pr_z, _TINY))
    # LR(x, z) > gamma  <=>  ratio_z < ratio_x / gamma
    m = max(len(ratio_z), 1)
    share = np.searchsorted(ratio_z, ratio_x / gamma, side="left") / m
    if break_ties:
        share = share + rankdata(ratio_x) / ((len(ratio_x) + 1) * (m + 1))
    return share


def reference_confidences(proba: np.ndarray, label_index: np.ndarray) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """True-class probability and its logit, of arrays of shape (..., n, n_classes)."""
    proba = np.asarray(proba, dtype=np.float64)
    rows = np.arange(proba.shape[-2])
    return proba[..., rows, label_index], logit_confidence(proba, label_index)
