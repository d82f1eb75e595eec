"""Vectorised bootstrap confidence intervals.

Resampling n rows with replacement is the same as giving each row a
multinomial count. A block of resamples is a (n_resamples, n_samples) matrix
of counts W, and most metrics of a resample are then one matrix product: the
accuracy of every resample is ``W @ correct / n``. This replaces a Python loop
of metric calls per resample, and gives the same percentile intervals.

The unit of work handed to an executor is one block of resamples
(:class:`BootstrapBlock`: index, seed, size); the statistic is a module-level
function ``statistic(shared, counts)`` and its arrays travel once per worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .exceptions import BAD_VALUE, AuditkitError

__all__ = [
    "BootstrapBlock",
    "BootstrapSpec",
    "bootstrap",
    "bootstrap_block",
    "resample_counts",
    "WeightedAUC",
    "weighted_auc",
    "percentile_interval",
    "expected_calibration_error",
    "calibration_bin_index",
]

_BLOCK = 100

NOT_MODULE_LEVEL = ("The 'statistic' parameter of bootstrap must be a module-level function "
                    "statistic(shared, counts), which another process can import by name. "
                    "Got {got!r} instead.")


@dataclass(frozen=True)
class BootstrapSpec:
    """How to bootstrap: number of resamples and confidence level.

    Parameters
    ----------
    n_resamples : int, default=1000
        Resamples; 0 for none. A boolean is not a number of resamples.
    confidence : float, default=0.95
        Level of the percentile intervals, in (0, 1).
    """

    n_resamples: int = 1000
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if (isinstance(self.n_resamples, (bool, np.bool_))
                or not isinstance(self.n_resamples, (Integral, np.integer))
                or self.n_resamples < 0):
            raise AuditkitError(BAD_VALUE.format(param="n_resamples",
                                                 expected="a non-negative integer",
                                                 got=repr(self.n_resamples)))
        if (isinstance(self.confidence, (bool, np.bool_))
                or not isinstance(self.confidence, (Real, np.integer, np.floating))
                or not 0.0 < float(self.confidence) < 1.0):
            raise AuditkitError(BAD_VALUE.format(param="confidence", expected="a float in (0, 1)",
                                                 got=repr(self.confidence)))

    @property
    def method(self) -> str:
        """A readable description for reports."""
        return f"percentile bootstrap, {self.n_resamples} resamples"


class BootstrapBlock(NamedTuple):
    """One block of resamples, the unit of work the executor runs: numbers only.

    Attributes
    ----------
    index : int
        Position of the block among the blocks.
    seed : numpy.random.SeedSequence
        Seeds the block's resamples (a few integers: entropy and spawn key).
    size : int
        Resamples in the block.
    """

    index: int
    seed: np.random.SeedSequence
    size: int


@dataclass(frozen=True)
class _Payload:
    """What every block needs, sent once per worker."""

    statistic: Callable[..., Mapping[str, np.ndarray]]
    shared: Any
    n: int
    bit_generator: type


def resample_counts(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of each row in ``n_resamples`` resamples of ``n`` rows.

    Returns
    -------
    ndarray of shape (n_resamples, n)
        Row r holds how often each sample was drawn in resample r; rows sum to n.
    """
    draws = rng.integers(0, n, size=(n_resamples, n))
    offsets = (np.arange(n_resamples) * n)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_resamples * n)
    return counts.reshape(n_resamples, n).astype(np.float64)


def bootstrap_block(payload: _Payload, block: BootstrapBlock) -> dict[str, np.ndarray]:
    """The statistics of one block of resamples (module-level: any executor can send it).

    Parameters
    ----------
    payload : object
        What :func:`bootstrap` shares with every block: the statistic, its
        ``shared`` arrays, the number of samples and the generator type.
    block : BootstrapBlock

    Returns
    -------
    dict of str to ndarray of shape (block.size,)
    """
    rng = np.random.Generator(payload.bit_generator(block.seed))
    counts = resample_counts(payload.n, block.size, rng)
    values = payload.statistic(payload.shared, counts)
    return {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}


def bootstrap(statistic: Callable[..., Mapping[str, np.ndarray]], n: int, *,
              spec: BootstrapSpec, rng: np.random.Generator, shared: Any = None,
              executor: Any | None = None) -> dict[str, np.ndarray]:
    """Bootstrap distributions of several statistics over the same resamples.

    The resamples are cut into blocks of 100; each block is one unit of work
    for the executor, carrying only its index, its seed and its size, so the
    same seed gives the same numbers whatever the executor and its order.

    Parameters
    ----------
    statistic : callable
        A module-level function ``statistic(shared, counts)`` mapping bootstrap
        counts of shape (b, n) to a mapping of name -> values of shape (b,);
        computing all statistics of a block together lets them share work (one
        matrix product for every metric linear in the counts).
    n : int
        Number of samples.
    spec : BootstrapSpec
    rng : numpy.random.Generator
        Seeds the blocks.
    shared : object, optional
        What ``statistic`` needs besides the counts (arrays), sent once per worker.
    executor : Executor, optional
        Runs blocks of resamples; in this process when None.

    Returns
    -------
    dict of str to ndarray of shape (n_resamples,)

    Examples
    --------
    >>> import numpy as np
    >>> def mean(values, counts):
    ...     return {"mean": counts @ values / len(values)}
    >>> samples = bootstrap(mean, 4, spec=BootstrapSpec(200), rng=np.random.default_rng(0),
    ...                     shared=np.array([1.0, 2.0, 3.0, 4.0]))
    >>> samples["mean"].shape
    (200,)
    """
    name = getattr(statistic, "__qualname__", "")
    if not name or "<" in name or getattr(statistic, "__self__", None) is not None:
        raise TypeError(NOT_MODULE_LEVEL.format(got=name or statistic))
    sizes = [_BLOCK] * (spec.n_resamples // _BLOCK)
    if spec.n_resamples % _BLOCK:
        sizes.append(spec.n_resamples % _BLOCK)
    if not sizes:
        return {}
    # What rng.spawn does, kept as seeds so that a block carries numbers, not a generator.
    seeds = rng.bit_generator.seed_seq.spawn(len(sizes))  # type: ignore[attr-defined]
    payload = _Payload(statistic, shared, n, type(rng.bit_generator))
    blocks = [BootstrapBlock(i, seed, size)
              for i, (seed, size) in enumerate(zip(seeds, sizes, strict=True))]
    if executor is None:
        results = [bootstrap_block(payload, block) for block in blocks]
    else:
        results = executor.map(bootstrap_block, blocks, shared=payload)
    return {name: np.concatenate([r[name] for r in results]) for name in results[0]}


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring undefined (NaN) resamples."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


class WeightedAUC:
    """Area under the ROC curve of many weightings of the same scored samples.

    The Mann-Whitney form: AUC is the weighted share of (positive, negative)
    pairs ranked correctly, ties counting one half, as in
    :func:`sklearn.metrics.roc_auc_score`. Samples are grouped by distinct
    score once; each weighting then needs two sparse products and a cumulative sum.

    Parameters
    ----------
    scores : ndarray of shape (n,)
    positive : bool ndarray of shape (n,)
    """

    def __init__(self, scores: np.ndarray, positive: np.ndarray) -> None:
        from scipy import sparse

        _, group = np.unique(scores, return_inverse=True)
        n_groups = int(group.max()) + 1 if len(group) else 0
        rows = np.arange(len(scores))
        ones = np.ones(len(scores))
        shape = (len(scores), n_groups)
        self._positive = sparse.csr_matrix((ones * positive, (rows, group)), shape=shape)
        self._negative = sparse.csr_matrix((ones * ~positive, (rows, group)), shape=shape)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """AUC of each row of ``weights`` (shape (b, n)); NaN without both classes."""
        pos = np.asarray((self._positive.T @ weights.T).T)
        neg = np.asarray((self._negative.T @ weights.T).T)
        neg_below = np.cumsum(neg, axis=1) - neg
        numerator = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
        denominator = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, numerator / denominator, np.nan)


def weighted_auc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of each weighting of the samples; see :class:`WeightedAUC`.

    Parameters
    ----------
    scores : ndarray of shape (n,)
    positive : bool ndarray of shape (n,)
    weights : ndarray of shape (b, n)

    Returns
    -------
    ndarray of shape (b,)
    """
    return WeightedAUC(scores, positive)(weights)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               n_bins: int = 15) -> tuple[float, pd.DataFrame]:
    """ECE over equal-width confidence bins, and the per-bin table.

    Parameters
    ----------
    confidence : ndarray of shape (n,)
        Top predicted probability of each sample.
    correct : ndarray of shape (n,)
        1.0 where the prediction is right, else 0.0.
    n_bins : int, default=15

    Returns
    -------
    ece : float
    bins : pandas.DataFrame
        One row per bin: lower, upper, count, mean confidence, accuracy, gap.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = calibration_bin_index(confidence, n_bins)
    count = np.bincount(index, minlength=n_bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=n_bins)
    hit_sum = np.bincount(index, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
        accuracy = np.where(count > 0, hit_sum / count, np.nan)
    gap = accuracy - mean_conf
    ece = float(np.abs(hit_sum - conf_sum).sum() / len(confidence))
    table = pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "count": count,
                          "mean_confidence": mean_conf, "accuracy": accuracy, "gap": gap})
    return ece, table


def calibration_bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    # Bins are (lower, upper]; a confidence of exactly 0 joins the first bin.
    return np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
