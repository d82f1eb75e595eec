"""Generative family: memorisation and data copying (numbers only).

Whether generated samples sit closer to the training data than fresh data
from the same distribution does. Every statistic here compares the generated
samples' distances to the training set with the same distances of held-out
real samples, so that a generator drawing fresh samples from the data
distribution scores what chance gives: near-copies against a held-out
quantile, the data-copying test C_T (Meehan, Chaudhuri & Dasgupta 2020) and
authenticity (Alaa et al. 2022). Judging the numbers is the policy's work.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from ..._stats import wilson_interval
from ...exceptions import BAD_VALUE, LENGTH_MISMATCH, AuditkitError
from ._distances import (
    as_features,
    as_generator,
    count,
    fraction,
    nearest_with_index,
    same_width,
)
from ._metrics import nearest_neighbour_distances

__all__ = ["authenticity", "closest_pairs", "data_copying_ct", "near_copies"]

#: A cell whose Mann-Whitney z-score is below this copies (a one-sided 0.13% level).
CELL_THRESHOLD = -3.0


def _distances(values: Any, param: str) -> np.ndarray:
    """``values`` as a float64 vector of finite, non-negative distances, validated."""
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.full((0, 0), np.nan)
    if array.ndim != 1 or len(array) == 0 or not np.isfinite(array).all() or (array < 0).any():
        got = (f"an array of shape {array.shape}" if array.ndim != 1 or len(array) == 0
               else f"values from {np.nanmin(array):.3g} to {np.nanmax(array):.3g}")
        raise AuditkitError(BAD_VALUE.format(
            param=param, expected="a non-empty 1-d array of finite, non-negative distances",
            got=got))
    return array


def near_copies(gen_to_train: Any, heldout_to_train: Any, *, quantile: float = 0.01,
                confidence: float = 0.95) -> dict[str, Any]:
    """Share of generated samples closer to the training set than fresh real data gets.

    The rule: a generated sample is a near-copy when its distance to its
    nearest training sample is below the ``k``-th smallest of the held-out
    real samples' distances to theirs, ``k = max(1, floor(quantile (n + 1)))``
    for ``n`` held-out samples. For a sample exchangeable with the held-out
    ones (a generator drawing fresh samples of the data distribution) the
    chance of falling below that order statistic is exactly ``k / (n + 1)``
    (about ``quantile``): the rule is calibrated, and that share is returned
    as ``expected_share``.

    Why not the ratio of a sample's distance to the training set over its
    distance to a held-out set: nearest-neighbour distances shrink as the
    searched set grows, so that ratio is biased whenever the two sets differ
    in size (a 10,000-image training set against a 1,000-image test set makes
    every sample look like a copy). Here both distances go to the same
    training set, so like is compared with like.

    Parameters
    ----------
    gen_to_train : array-like of shape (n_generated,)
        Distance of each generated sample to its nearest training sample.
    heldout_to_train : array-like of shape (n_held_out,)
        Distance of each held-out real sample to its nearest training sample,
        in the same space.
    quantile : float, default=0.01
        Target share of near-copies for a generator that does not copy.
    confidence : float, default=0.95
        Level of the Wilson interval of the share.

    Returns
    -------
    dict
        ``threshold``, ``rank`` (``k``), ``quantile``; ``n_near_copies``,
        ``share`` with ``lower`` and ``upper``; ``expected_share``
        (``k / (n + 1)``); ``median_generated`` and ``median_held_out`` (the
        medians of the two sets of distances) and ``median_ratio`` (their
        ratio: well below 1 when samples crowd the training data);
        ``n_generated``, ``n_held_out``.

    Examples
    --------
    >>> found = near_copies([0.0, 0.1, 5.0, 6.0], [1.0, 2.0, 3.0, 4.0], quantile=0.25)
    >>> found["threshold"], found["share"], found["expected_share"], found["median_ratio"]
    (1.0, 0.5, 0.2, 1.02)
    """
    generated = _distances(gen_to_train, "gen_to_train")
    held_out = _distances(heldout_to_train, "heldout_to_train")
    quantile = fraction(quantile, "quantile")
    confidence = fraction(confidence, "confidence")
    n = len(held_out)
    rank = max(1, int(np.floor(quantile * (n + 1))))
    threshold = float(np.partition(held_out, rank - 1)[rank - 1])
    n_near = int((generated < threshold).sum())
    lower, upper = wilson_interval(n_near, len(generated), confidence)
    median_generated, median_held_out = float(np.median(generated)), float(np.median(held_out))
    return {"threshold": threshold, "rank": rank, "quantile": quantile,
            "n_near_copies": n_near, "share": n_near / len(generated),
            "lower": float(lower), "upper": float(upper), "expected_share": rank / (n + 1),
            "median_generated": median_generated, "median_held_out": median_held_out,
            "median_ratio": (median_generated / median_held_out if median_held_out > 0
                             else float("inf") if median_generated > 0 else 1.0),
            "n_generated": len(generated), "n_held_out": n}


def closest_pairs(gen_to_train_distance: Any, gen_to_train_index: Any, n: int = 8
                  ) -> pd.DataFrame:
    """The ``n`` generated samples closest to a training sample, for the side-by-side figure.

    Parameters
    ----------
    gen_to_train_distance : array-like of shape (n_generated,)
        Distance of each generated sample to its nearest training sample.
    gen_to_train_index : array-like of int of shape (n_generated,)
        Row of that training sample.
    n : int, default=8
        Pairs returned (fewer when there are fewer samples).

    Returns
    -------
    pandas.DataFrame
        ``generated`` (row of the sample), ``train`` (row of its nearest
        training sample) and ``distance``, closest first (ties by row).

    Examples
    --------
    >>> closest_pairs([0.5, 0.1, 0.3], [4, 7, 2], n=2).to_dict("list")
    {'generated': [1, 2], 'train': [7, 2], 'distance': [0.1, 0.3]}
    """
    distance = _distances(gen_to_train_distance, "gen_to_train_distance")
    index = np.asarray(gen_to_train_index).reshape(-1)
    if len(index) != len(distance):
        raise AuditkitError(LENGTH_MISMATCH.format(
            param="gen_to_train_index", other="gen_to_train_distance", expected=len(distance),
            got=len(index)))
    order = np.argsort(distance, kind="stable")[:count(n, "n", 0)]
    return pd.DataFrame({"generated": order, "train": index[order].astype(np.int64),
                         "distance": distance[order]})


def _mann_whitney_z(generated: np.ndarray, held_out: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of ``generated`` against ``held_out`` (below 0: smaller).

    ``U`` counts the pairs where the generated value is the larger (ties one
    half); under exchangeability it has mean ``m n / 2`` and variance
    ``m n / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1)))`` with ``N = m + n``
    and ``t`` the sizes of tied groups. No continuity correction.
    """
    from scipy.stats import rankdata

    m, n = len(generated), len(held_out)
    pooled = np.concatenate([generated, held_out])
    ranks = rankdata(pooled)
    u = ranks[:m].sum() - m * (m + 1) / 2
    total = m + n
    _, ties = np.unique(pooled, return_counts=True)
    variance = m * n / 12 * ((total + 1) - np.sum(ties**3 - ties) / (total * (total - 1)))
    return float((u - m * n / 2) / np.sqrt(variance)) if variance > 0 else 0.0


def _default_cells(n_train: int, n_held_out: int, n_generated: int, min_per_cell: int) -> int:
    return max(1, min(20, n_train // 10, n_held_out // (2 * min_per_cell),
                      n_generated // (2 * min_per_cell)))


def data_copying_ct(train: Any, heldout: Any, generated: Any, *, n_cells: int | None = None,
                    min_per_cell: int = 20, cell_threshold: float = CELL_THRESHOLD,
                    rng: Any = None) -> dict[str, Any]:
    """The data-copying test C_T of Meehan, Chaudhuri & Dasgupta (AISTATS 2020).

    "A Non-Parametric Test to Detect Data-Copying in Generative Models". The
    space is cut into cells by k-means fitted on the training samples. In
    each cell ``pi``, ``Z_U(pi)`` is the z-scored Mann-Whitney U statistic of
    the generated samples' distances to their nearest training sample of the
    cell against the held-out samples' same distances: below 0 the generated
    samples are closer to the training data than fresh data is (copying),
    above 0 farther (underfitting). ``C_T`` is their mean weighted by the
    share of held-out samples in each cell, ``P_n(pi)``, over the cells
    ``Pi_tau`` with enough generated samples (the paper's ``Q_m(pi) >=
    tau``; here at least ``min_per_cell``, as the normal approximation of U
    needs), and with at least ``min_per_cell`` held-out samples:
    ``C_T = sum_Pi_tau P_n(pi) Z_U(pi) / sum_Pi_tau P_n(pi)``.

    Without copying each ``Z_U`` is about N(0, 1) and independent across
    cells, so ``C_T`` is about N(0, sum w^2) with ``w`` the normalised
    weights: ``null_sd`` reports that standard deviation.

    Parameters
    ----------
    train : array-like of shape (n_train, n_features)
        Training samples (what may be copied).
    heldout : array-like of shape (n_held_out, n_features)
        Real samples not trained on.
    generated : array-like of shape (n_generated, n_features)
    n_cells : int or None, default=None
        k-means cells. None: ``max(1, min(20, n_train // 10, n_held_out //
        (2 min_per_cell), n_generated // (2 min_per_cell)))``, so an average
        cell holds ten training samples and twice the minimum of the others
        (3 cells for 32 training samples).
    min_per_cell : int, default=20
        Generated and held-out samples a cell needs to count in ``C_T``.
    cell_threshold : float, default=-3.0
        A counted cell with ``Z_U`` below this is flagged as copying.
    rng : numpy.random.Generator, int or None
        Seed of k-means.

    Returns
    -------
    dict
        ``ct`` (NaN when no cell counts), ``null_sd``, ``n_cells``,
        ``n_counted``, ``n_copying_cells``, ``copying_share`` (share of the
        generated samples in copying cells), ``cell_threshold``,
        ``min_per_cell``, ``description`` (one line for a report) and
        ``cells``: DataFrame with ``cell``, ``n_train``, ``n_heldout``,
        ``n_generated``, ``heldout_share``, ``generated_share``, ``z_u`` (NaN
        for a cell without generated or held-out samples), ``counted``,
        ``weight`` (in ``C_T``; 0 when not counted) and ``copying``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(200, 2))
    >>> copies = train[rng.integers(200, size=200)] + 1e-3 * rng.normal(size=(200, 2))
    >>> found = data_copying_ct(train, rng.normal(size=(200, 2)), copies, rng=0)
    >>> found["n_cells"], found["ct"] < -5
    (5, True)
    """
    from sklearn.cluster import KMeans

    train = as_features(train, "train", minimum=2)
    held_out = as_features(heldout, "heldout")
    generated = as_features(generated, "generated")
    same_width(held_out, "heldout", train, "train")
    same_width(generated, "generated", train, "train")
    min_per_cell = count(min_per_cell, "min_per_cell", 2)
    if n_cells is None:
        n_cells = _default_cells(len(train), len(held_out), len(generated), min_per_cell)
    elif count(n_cells, "n_cells", 1) > len(train):
        raise AuditkitError(BAD_VALUE.format(
            param="n_cells", expected=f"at most the number of training samples ({len(train)})",
            got=repr(n_cells)))
    if isinstance(cell_threshold, bool) or not isinstance(cell_threshold, Real):
        raise AuditkitError(BAD_VALUE.format(param="cell_threshold", expected="a float",
                                             got=repr(cell_threshold)))
    generator = as_generator(rng, optional=True)
    kmeans = KMeans(n_clusters=int(n_cells), n_init=3,
                    random_state=int(generator.integers(2**31 - 1))).fit(train)
    train_cell = kmeans.labels_
    held_cell, generated_cell = kmeans.predict(held_out), kmeans.predict(generated)

    rows = []
    for cell in range(int(n_cells)):
        in_train = train[train_cell == cell]
        held, fake = held_out[held_cell == cell], generated[generated_cell == cell]
        z_u = np.nan
        if len(held) and len(fake):
            z_u = _mann_whitney_z(nearest_neighbour_distances(fake, in_train),
                                  nearest_neighbour_distances(held, in_train))
        rows.append((cell, len(in_train), len(held), len(fake), z_u))
    cells = pd.DataFrame(rows, columns=["cell", "n_train", "n_heldout", "n_generated", "z_u"])
    cells.insert(4, "heldout_share", cells["n_heldout"] / len(held_out))
    cells.insert(5, "generated_share", cells["n_generated"] / len(generated))
    counted = (cells["n_generated"] >= min_per_cell) & (cells["n_heldout"] >= min_per_cell)
    weight = np.where(counted, cells["heldout_share"], 0.0)
    cells["counted"] = counted
    cells["weight"] = weight / weight.sum() if weight.sum() > 0 else weight
    cells["copying"] = counted & (cells["z_u"] < cell_threshold)
    if counted.any():
        ct = float(np.sum(cells["weight"][counted] * cells["z_u"][counted]))
        null_sd = float(np.sqrt(np.sum(cells["weight"] ** 2)))
    else:
        ct = null_sd = float("nan")
    n_copying = int(cells["copying"].sum())
    description = (f"Meehan et al. 2020: {int(n_cells)} k-means cells of the training data, "
                   f"{int(counted.sum())} with at least {min_per_cell} generated and held-out "
                   f"samples; C_T = held-out-share-weighted mean of the cells' Mann-Whitney z "
                   f"(about N(0, {null_sd:.2f}^2) without copying); {n_copying} cell(s) with "
                   f"z < {cell_threshold:g}")
    return {"ct": ct, "null_sd": null_sd, "n_cells": int(n_cells),
            "n_counted": int(counted.sum()), "n_copying_cells": n_copying,
            "copying_share": float(cells.loc[cells["copying"], "n_generated"].sum()
                                   / len(generated)),
            "cell_threshold": float(cell_threshold), "min_per_cell": min_per_cell,
            "description": description, "cells": cells}


def authenticity(train: Any, generated: Any, *, held_out: Any | None = None,
                 confidence: float = 0.95) -> dict[str, Any]:
    """Share of authentic generated samples (Alaa et al., ICML 2022).

    "How Faithful is your Synthetic Data? Sample-level Metrics for Evaluating
    and Auditing Generative Models". A sample is *unauthentic* when it is
    closer to its nearest training sample than that training sample is to
    its own nearest other training sample: it sits inside the training
    sample's 1-NN ball, nearer than the data itself puts neighbours.
    Authenticity is the share of authentic samples. Fresh real data is not
    fully authentic by this rule (a held-out point often falls in such a
    ball), so the same share for held-out real samples is the calibration: a
    generator that copies scores well below it.

    Parameters
    ----------
    train : array-like of shape (n_train, n_features)
        At least two training samples.
    generated : array-like of shape (n_generated, n_features)
    held_out : array-like of shape (n_held_out, n_features), optional
        Real samples not trained on, for the calibration.
    confidence : float, default=0.95
        Level of the Wilson intervals.

    Returns
    -------
    dict
        ``authenticity`` with ``lower``, ``upper`` and ``n``; for
        ``held_out`` the same as ``held_out_authenticity``,
        ``held_out_lower``, ``held_out_upper`` and ``n_held_out`` (None
        without ``held_out``).

    Examples
    --------
    >>> found = authenticity([[0.0], [1.0], [10.0]], [[0.1], [5.0], [10.0]])
    >>> found["authenticity"]
    0.3333333333333333
    """
    train = as_features(train, "train", minimum=2)
    generated = as_features(generated, "generated")
    same_width(generated, "generated", train, "train")
    confidence = fraction(confidence, "confidence")
    radius = nearest_neighbour_distances(train)

    def share(queries: np.ndarray) -> tuple[float, float, float, int]:
        distance, index = nearest_with_index(queries, train)
        authentic = int((distance >= radius[index]).sum())
        lower, upper = wilson_interval(authentic, len(queries), confidence)
        return authentic / len(queries), float(lower), float(upper), len(queries)

    value, lower, upper, n = share(generated)
    found: dict[str, Any] = {"authenticity": value, "lower": lower, "upper": upper, "n": n,
                             "held_out_authenticity": None, "held_out_lower": None,
                             "held_out_upper": None, "n_held_out": None}
    if held_out is not None:
        real = as_features(held_out, "held_out")
        same_width(real, "held_out", train, "train")
        (found["held_out_authenticity"], found["held_out_lower"], found["held_out_upper"],
         found["n_held_out"]) = share(real)
    return found
