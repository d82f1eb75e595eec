"""Vectorised bootstrap confidence intervals.

Resampling n rows with replacement is the same as giving each row a
multinomial count. A block of resamples is a (n_resamples, n_samples) matrix
of counts W, and most metrics of a resample are then one matrix product: the
accuracy of every resample is ``W @ correct / n``. This replaces a Python loop
of metric calls per resample, and gives the same percentile intervals.

The unit of work handed to an executor is one block of resamples
(:class:`BootstrapBlock`: index, seed, size); the statistic is a module-level
function ``statistic(shared, counts)`` and its arrays travel once per worker.

Where a closed form exists the bootstrap is not used: proportions get Wilson
or Clopper-Pearson intervals, a difference of two independent proportions
Newcombe's interval, and means a Student-t interval.
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
    "CLOPPER_PEARSON",
    "NEWCOMBE",
    "WILSON",
    "clopper_pearson_interval",
    "mean_difference_interval",
    "mean_interval",
    "mover_mean_interval",
    "MOVER",
    "newcombe_interval",
    "wilson_interval",
    "difference_lower_bound",
    "ratio_upper_bound",
    "holm_adjusted",
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


# -- simultaneous bounds on gaps between groups (fairness verdicts) -------------------------


def _score_bounds(successes: np.ndarray, totals: np.ndarray,
                  z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score bounds of proportions at a normal quantile ``z`` (vectorised)."""
    s, n = np.asarray(successes, dtype=np.float64), np.asarray(totals, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def difference_lower_bound(successes_a: np.ndarray, totals_a: np.ndarray,
                           successes_b: np.ndarray, totals_b: np.ndarray, *,
                           z: float) -> np.ndarray:
    """One-sided lower bound of ``p_a - p_b``: Newcombe's hybrid score method.

    Newcombe (1998, method 10) combines the Wilson score bounds of each
    proportion; it keeps its level with small groups and rates near 0 or 1,
    where the Wald bound does not. NaN where a group has no trials.

    Parameters
    ----------
    successes_a, totals_a, successes_b, totals_b : array-like of the same shape
    z : float
        Normal quantile of the one-sided level (1.645 for 95%).

    Returns
    -------
    ndarray
        The lower bound of each difference.
    """
    low_a, _ = _score_bounds(successes_a, totals_a, z)
    _, high_b = _score_bounds(successes_b, totals_b, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_a = np.asarray(successes_a, dtype=np.float64) / np.asarray(totals_a, dtype=np.float64)
        p_b = np.asarray(successes_b, dtype=np.float64) / np.asarray(totals_b, dtype=np.float64)
    return p_a - p_b - np.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)


def ratio_upper_bound(successes_a: np.ndarray, totals_a: np.ndarray, successes_b: np.ndarray,
                      totals_b: np.ndarray, *, z: float) -> np.ndarray:
    """One-sided upper bound of ``p_a / p_b``: Katz's log method, 0.5 added to every count.

    The added half keeps the bound finite when a group has no successes.

    Parameters
    ----------
    successes_a, totals_a, successes_b, totals_b : array-like of the same shape
    z : float
        Normal quantile of the one-sided level.

    Returns
    -------
    ndarray
        The upper bound of each ratio (NaN where a group has no trials).
    """
    s_a, n_a = (np.asarray(v, dtype=np.float64) + 0.5 for v in (successes_a, totals_a))
    s_b, n_b = (np.asarray(v, dtype=np.float64) + 0.5 for v in (successes_b, totals_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.log((s_a / n_a) / (s_b / n_b))
        spread = np.sqrt(1 / s_a - 1 / n_a + 1 / s_b - 1 / n_b)
        out = np.exp(log_ratio + z * spread)
    return np.where((n_a > 0.5) & (n_b > 0.5), out, np.nan)


def holm_adjusted(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    Parameters
    ----------
    p_values : array-like of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
        ``min(1, max over the k smallest of (m - i) * p_(i))`` for the k-th smallest.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


# -- closed-form intervals of proportions and means (performance, robustness) -------------------

WILSON = "Wilson score interval"
CLOPPER_PEARSON = "Clopper-Pearson exact interval"
NEWCOMBE = "Newcombe hybrid score interval (difference of two Wilson intervals)"
MOVER = "MOVER-Wilson interval of a mean of proportions (Zou & Donner 2008)"


def wilson_interval(successes: np.ndarray | float, n: np.ndarray | float,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (Wilson 1927), vectorised.

    It stays inside [0, 1], is never a single point, and covers the true
    proportion close to the nominal rate even at a few dozen samples, where
    the normal approximation and the percentile bootstrap collapse to [1, 1]
    when every sample succeeds.

    Parameters
    ----------
    successes, n : array-like
        Counts; where ``n`` is 0 the bounds are NaN.
    confidence : float, default=0.95

    Returns
    -------
    lower, upper : ndarray

    Examples
    --------
    >>> lower, upper = wilson_interval(30, 30)
    >>> round(float(lower), 3), float(upper)
    (0.886, 1.0)
    """
    from scipy.stats import norm

    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = norm.ppf(0.5 + confidence / 2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        # at k = 0 (k = n) the bound is exactly 0 (1); rounding would leave ~1e-18
        lower = np.where(n > 0, np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
        upper = np.where(n > 0, np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    return lower, upper


def delong_interval(scores: np.ndarray, positive: np.ndarray,
                    confidence: float = 0.95) -> tuple[float, float, float, float]:
    """AUROC with DeLong's standard error: (auc, lower, upper, one-sided p against 0.5).

    DeLong, DeLong & Clarke-Pearson (1988), with the placement values of Sun &
    Xu (2014): mid-ranks within and across the two classes, ties counting one
    half. The interval is the normal one, clipped to [0, 1]; with fewer than
    two rows on a side it is NaN.

    Parameters
    ----------
    scores : ndarray of shape (n,)
    positive : bool ndarray of shape (n,)
    confidence : float, default=0.95

    Returns
    -------
    auc, lower, upper, p_value : float
    """
    from scipy.stats import norm, rankdata

    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    pos, neg = scores[positive], scores[~positive]
    m, n = len(pos), len(neg)
    pooled = rankdata(np.concatenate([pos, neg]))
    v10 = (pooled[:m] - rankdata(pos)) / n  # share of negatives below each positive
    v01 = 1.0 - (pooled[m:] - rankdata(neg)) / m  # share of positives above each negative
    auc = float(v10.mean())
    if m < 2 or n < 2:
        return auc, float("nan"), float("nan"), float("nan")
    variance = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    se = float(np.sqrt(variance)) if variance > 0 else 0.0
    z = norm.ppf(0.5 + confidence / 2)
    lower, upper = max(0.0, auc - z * se), min(1.0, auc + z * se)
    if se == 0:
        p_value = 0.0 if auc > 0.5 else 1.0
    else:
        p_value = float(norm.sf((auc - 0.5) / se))
    return auc, lower, upper, p_value


def clopper_pearson_interval(successes: np.ndarray | float, n: np.ndarray | float,
                             confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson ("exact") interval of a binomial proportion, vectorised.

    Its coverage is at least the nominal level for every true proportion (it
    is conservative); the bounds are beta quantiles.

    Parameters
    ----------
    successes, n : array-like
        Counts; where ``n`` is 0 the bounds are NaN.
    confidence : float, default=0.95

    Returns
    -------
    lower, upper : ndarray

    Examples
    --------
    >>> lower, upper = clopper_pearson_interval(30, 30)
    >>> round(float(lower), 3), float(upper)
    (0.884, 1.0)
    """
    from scipy.stats import beta

    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k > 0, beta.ppf(alpha / 2, np.maximum(k, 1), n - k + 1), 0.0)
        upper = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1)), 1.0)
    invalid = ~(n > 0)
    return np.where(invalid, np.nan, lower), np.where(invalid, np.nan, upper)


def newcombe_interval(k1: float, n1: float, k2: float, n2: float,
                      confidence: float = 0.95) -> tuple[float, float]:
    """Interval of ``k1/n1 - k2/n2`` for two independent proportions (Newcombe 1998, method 10).

    Each proportion's Wilson interval bounds its share of the difference's
    uncertainty; the hybrid score interval combines them in quadrature.

    Parameters
    ----------
    k1, n1 : float
        Successes and trials of the first sample (``n1 > 0``).
    k2, n2 : float
        Successes and trials of the second sample (``n2 > 0``).
    confidence : float, default=0.95

    Returns
    -------
    lower, upper : float

    Examples
    --------
    >>> lower, upper = newcombe_interval(399, 400, 13392, 16281)
    >>> round(lower, 3), round(upper, 3)
    (0.162, 0.181)
    """
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = (float(v) for v in wilson_interval(k1, n1, confidence))
    l2, u2 = (float(v) for v in wilson_interval(k2, n2, confidence))
    d = p1 - p2
    return (float(d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
            float(d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` (NaN bounds below two values).

    Examples
    --------
    >>> low, high = mean_interval(np.array([1.0, 2.0, 3.0]))
    >>> bool(low < 2.0 < high)
    True
    """
    from scipy.stats import t

    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n < 2:
        return (float("nan"), float("nan"))
    mean, error = float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))
    half = float(t.ppf(0.5 + confidence / 2.0, n - 1)) * error
    return mean - half, mean + half


def mean_difference_interval(first: np.ndarray, second: np.ndarray,
                             confidence: float = 0.95) -> tuple[float, float]:
    """Welch interval of ``mean(first) - mean(second)`` for two independent samples.

    Examples
    --------
    >>> low, high = mean_difference_interval(np.array([3.0, 4.0, 5.0]),
    ...                                      np.array([1.0, 2.0, 3.0]))
    >>> bool(low < 2.0 < high)
    True
    """
    from scipy.stats import t

    a, b = (np.asarray(x, dtype=np.float64) for x in (first, second))
    if a.size < 2 or b.size < 2:
        return (float("nan"), float("nan"))
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    d = float(a.mean() - b.mean())
    se = float(np.sqrt(va + vb))
    if se == 0.0:
        return d, d
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(t.ppf(0.5 + confidence / 2.0, dof)) * se
    return d - half, d + half


def mover_mean_interval(successes: np.ndarray, totals: np.ndarray,
                        confidence: float = 0.95) -> tuple[float, float]:
    """Interval of the mean of independent proportions (e.g. balanced accuracy), MOVER-Wilson.

    The method of variance estimates recovery (Zou & Donner 2008) builds the
    interval of a sum from each term's own interval: here each proportion's
    Wilson interval, so the bounds stay in [0, 1] and are not a single point
    when every proportion is 1.

    Parameters
    ----------
    successes, totals : array-like of shape (k,)
        Counts of each proportion (every total above 0).
    confidence : float, default=0.95

    Returns
    -------
    lower, upper : float

    Examples
    --------
    >>> lower, upper = mover_mean_interval([15, 15], [15, 15])
    >>> round(lower, 3), upper
    (0.856, 1.0)
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(totals, dtype=np.float64)
    p = k / n
    low, high = wilson_interval(k, n, confidence)
    mean = float(p.mean())
    return (mean - float(np.sqrt(np.sum(((p - low) / p.size) ** 2))),
            mean + float(np.sqrt(np.sum(((high - p) / p.size) ** 2))))


def bias_corrected_interval(samples: np.ndarray, estimate: float,
                            confidence: float) -> tuple[float, float, float]:
    """Percentile interval of bootstrap samples shifted by their estimated bias.

    A plug-in estimate of a biased statistic (the expected calibration error,
    a max-min gap) is biased upwards under resampling too, so the resamples sit
    above it and their percentile interval can miss the estimate altogether.
    Subtracting the bootstrap estimate of the bias, ``mean(samples) - estimate``
    (Efron and Tibshirani 1993, section 10.3), centres the distribution on the
    estimate: the interval then describes the estimate's sampling spread and
    contains it.

    Parameters
    ----------
    samples : ndarray of shape (n_resamples,)
        The statistic on each resample; undefined (NaN) resamples are ignored.
    estimate : float
        The statistic on the whole sample.
    confidence : float
        Level of the interval, in (0, 1).

    Returns
    -------
    lower, upper : float
        The shifted percentile interval.
    bias : float
        The estimated bias that was subtracted.

    Examples
    --------
    >>> import numpy as np
    >>> low, high, bias = bias_corrected_interval(np.array([0.3, 0.4, 0.5]), 0.2, 0.9)
    >>> round(bias, 6), round(low, 6), round(high, 6)
    (0.2, 0.11, 0.29)
    """
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    bias = float(finite.mean()) - float(estimate)
    low, high = percentile_interval(finite - bias, confidence)
    return low, high, bias
