"""Generative family: chunked Euclidean distances, k-nearest-neighbour radii, argument checks.

Every distance between two feature sets in the family (k-NN manifolds,
nearest generated or training sample) goes through here, one block of query
rows at a time, so memory stays ``BLOCK_ROWS * n_references`` float64s however
large the sets. Distances use ``|a|^2 + |b|^2 - 2 a.b`` in float64 (as
scikit-learn's ``euclidean_distances``), clipped at zero: for vectors of norm
``r`` the absolute error is about ``1e-8 * r``.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np

from ...exceptions import BAD_TYPE, BAD_VALUE, NOT_FINITE, AuditkitError

__all__ = [
    "BLOCK_ROWS",
    "as_features",
    "as_generator",
    "count",
    "fraction",
    "kth_neighbour_distances",
    "nearest_with_index",
    "pairwise_distance_blocks",
    "pairwise_distances",
]

def count(value: Any, param: str, minimum: int = 1) -> int:
    """``value`` checked to be an int (not a bool) of at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Integral, np.integer)) \
            or value < minimum:
        raise AuditkitError(BAD_VALUE.format(param=param, expected=f"an int >= {minimum}",
                                             got=repr(value)))
    return int(value)


def fraction(value: Any, param: str) -> float:
    """``value`` checked to be a float in (0, 1), such as a confidence level or a quantile."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating)) \
            or not 0.0 < float(value) < 1.0:
        raise AuditkitError(BAD_VALUE.format(param=param, expected="a float in (0, 1)",
                                             got=repr(value)))
    return float(value)


def as_generator(rng: Any, *, optional: bool = False) -> np.random.Generator:
    """A numpy generator: a Generator, an int seed >= 0, or None if ``optional`` (fresh)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None and optional:
        return np.random.default_rng()
    if isinstance(rng, (Integral, np.integer)) and not isinstance(rng, (bool, np.bool_)) \
            and rng >= 0:
        return np.random.default_rng(int(rng))
    raise AuditkitError(BAD_TYPE.format(param="rng", expected="a numpy.random.Generator or "
                                        "a non-negative int seed", got=repr(rng)))


#: Query rows per block: a block holds ``BLOCK_ROWS * n_references`` float64s.
BLOCK_ROWS = 1024
#: Largest matrix (entries) :func:`pairwise_distances` returns whole (8 MB of float64).
WHOLE_MATRIX_LIMIT = 1_000_000

BAD_FEATURES = ("The '{param}' parameter must be an array of shape (n_samples, n_features) "
                "with at least {minimum} sample(s). Got {got} instead.")
WIDTH_MISMATCH = ("The '{param}' parameter must have {expected} features per sample, as "
                  "'{other}' has. Got {got} instead.")


def as_features(values: Any, param: str, *, minimum: int = 1) -> np.ndarray:
    """``values`` as a C-contiguous float64 array of shape (n, d), validated.

    Raises an :class:`~auditkit.exceptions.AuditkitError` naming ``param`` when
    the array is not two-dimensional, has fewer than ``minimum`` rows or holds
    NaN or infinite values.
    """
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().numpy()
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AuditkitError(BAD_FEATURES.format(param=param, minimum=minimum,
                                                got=f"{type(values).__name__}")) from None
    if array.ndim != 2 or array.shape[0] < minimum or array.shape[1] < 1:
        raise AuditkitError(BAD_FEATURES.format(param=param, minimum=minimum,
                                                got=f"an array of shape {array.shape}"))
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        raise AuditkitError(NOT_FINITE.format(param=param, count=int((~finite).sum()),
                                              where=int(bad[0])))
    return array


def same_width(values: np.ndarray, param: str, other: np.ndarray, other_param: str) -> None:
    """An error naming ``param`` when its feature count differs from ``other``'s."""
    if values.shape[1] != other.shape[1]:
        raise AuditkitError(WIDTH_MISMATCH.format(param=param, expected=other.shape[1],
                                                  other=other_param, got=values.shape[1]))


def _squared_norms(values: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", values, values)


def pairwise_distance_blocks(queries: Any, references: Any, *, block_rows: int = BLOCK_ROWS
                             ) -> Iterator[tuple[int, np.ndarray]]:
    """Euclidean distances from queries to references, one block of query rows at a time.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
    references : array-like of shape (n_references, n_features)
    block_rows : int, default=BLOCK_ROWS
        Query rows per block.

    Yields
    ------
    start : int
        Index of the block's first query row.
    distances : ndarray of shape (block, n_references)
        float64 distances of queries ``start:start + block``; a fresh array the
        caller may modify.

    Examples
    --------
    >>> [(start, block.tolist()) for start, block in
    ...  pairwise_distance_blocks([[0.0, 0.0], [3.0, 4.0]], [[0.0, 0.0]], block_rows=1)]
    [(0, [[0.0]]), (1, [[5.0]])]
    """
    queries = as_features(queries, "queries")
    references = as_features(references, "references")
    same_width(references, "references", queries, "queries")
    if isinstance(block_rows, bool) or not isinstance(block_rows, Integral) or block_rows < 1:
        raise AuditkitError(BAD_VALUE.format(param="block_rows", expected="a positive int",
                                             got=repr(block_rows)))
    yield from _blocks(queries, references, int(block_rows))


def _blocks(queries: np.ndarray, references: np.ndarray, block_rows: int
            ) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`pairwise_distance_blocks` on validated float64 arrays."""
    reference_norms = _squared_norms(references)
    for start in range(0, len(queries), block_rows):
        block = queries[start:start + block_rows]
        squared = block @ references.T
        squared *= -2.0
        squared += _squared_norms(block)[:, None]
        squared += reference_norms[None, :]
        np.maximum(squared, 0.0, out=squared)
        yield start, np.sqrt(squared, out=squared)


def nearest_with_index(queries: Any, references: Any) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each query to its nearest reference, and that reference's row.

    Examples
    --------
    >>> distance, index = nearest_with_index([[0.0], [2.9]], [[1.0], [3.0]])
    >>> distance.round(6).tolist(), index.tolist()
    ([1.0, 0.1], [0, 1])
    """
    queries = as_features(queries, "queries")
    distance = np.empty(len(queries))
    index = np.empty(len(queries), dtype=np.int64)
    for start, block in pairwise_distance_blocks(queries, references):
        rows = block.argmin(axis=1)
        index[start:start + len(block)] = rows
        distance[start:start + len(block)] = block[np.arange(len(block)), rows]
    return distance, index


def pairwise_distances(queries: Any, references: Any) -> np.ndarray:
    """The whole matrix of Euclidean distances, for small sets only.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
    references : array-like of shape (n_references, n_features)

    Returns
    -------
    ndarray of shape (n_queries, n_references)

    Raises
    ------
    AuditkitError
        When the matrix would exceed ``WHOLE_MATRIX_LIMIT`` entries: iterate
        over :func:`pairwise_distance_blocks` instead.

    Examples
    --------
    >>> pairwise_distances([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]]).tolist()
    [[5.0, 1.0]]
    """
    queries = as_features(queries, "queries")
    references = as_features(references, "references")
    same_width(references, "references", queries, "queries")
    entries = len(queries) * len(references)
    if entries > WHOLE_MATRIX_LIMIT:
        raise AuditkitError(BAD_VALUE.format(
            param="queries", expected=f"small enough for a matrix of at most "
            f"{WHOLE_MATRIX_LIMIT:,} distances (use pairwise_distance_blocks)",
            got=f"{len(queries):,} queries x {len(references):,} references"))
    return np.concatenate([block for _, block in _blocks(queries, references, BLOCK_ROWS)])


def kth_neighbour_distances(points: Any, k: int, *, references: Any | None = None
                            ) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour (the k-NN radius).

    Parameters
    ----------
    points : array-like of shape (n_points, n_features)
    k : int
        Which neighbour: 1 is the nearest.
    references : array-like of shape (n_references, n_features), optional
        Where neighbours are looked for. By default the points themselves,
        each point's own row left out: the k-th nearest *other* point, the
        radius of the k-NN balls of Kynkäänniemi et al. (2019) and Naeem et
        al. (2020), as the ``prdc`` package computes it (its ``nearest_k=5``
        is ``k=5`` here). Duplicated points count as neighbours at distance 0.

    Returns
    -------
    ndarray of shape (n_points,)
        float64 distances.

    Examples
    --------
    >>> kth_neighbour_distances([[0.0], [1.0], [3.0], [7.0]], 2).tolist()
    [3.0, 2.0, 3.0, 6.0]
    >>> kth_neighbour_distances([[0.0]], 1, references=[[2.0], [5.0]]).tolist()
    [2.0]
    """
    points = as_features(points, "points")
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise AuditkitError(BAD_VALUE.format(param="k", expected="a positive int",
                                             got=repr(k)))
    if references is None:
        if len(points) <= k:
            raise AuditkitError(BAD_VALUE.format(
                param="k", expected=f"less than the number of points ({len(points)})",
                got=repr(k)))
        return radii(points, int(k))
    references = as_features(references, "references")
    same_width(references, "references", points, "points")
    if len(references) < k:
        raise AuditkitError(BAD_VALUE.format(
            param="k", expected=f"at most the number of references ({len(references)})",
            got=repr(k)))
    return _kth(points, references, int(k), exclude_self=False)


def radii(points: np.ndarray, k: int) -> np.ndarray:
    """k-NN radii of validated float64 ``points`` among themselves (``k < len(points)``)."""
    return _kth(points, points, k, exclude_self=True)


def _kth(queries: np.ndarray, references: np.ndarray, k: int, *, exclude_self: bool
         ) -> np.ndarray:
    result = np.empty(len(queries))
    for start, block in _blocks(queries, references, BLOCK_ROWS):
        if exclude_self:
            rows = np.arange(len(block))
            block[rows, rows + start] = np.inf
        result[start:start + len(block)] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return result
