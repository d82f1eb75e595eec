"""Vectorised bootstrap confidence intervals.

Two bootstraps live here.

The **Poisson bootstrap** (:func:`poisson_bootstrap`; performance and group
fairness, whose data can hold millions of rows) gives each row an independent
Poisson(1) weight in each resample instead of a multinomial count (Hanley &
MacGibbon 2006; Chamandy et al. 2012). The weight of row i in resample r is a
pure function of (key_r, i): the i // 2-th output of a SplitMix64 stream
(Steele, Lea & Flood 2014) seeded with key_r, its low 32 bits for even i and
its high 32 bits for odd i, turned into a count by inversion of the Poisson(1)
cdf at 32-bit resolution (a 65,536-entry table on the top 16 bits, exact
thresholds in the few buckets a threshold splits). Rows can then be visited in
fixed chunks, in any order, and the statistic of a resample is folded from
per-chunk weighted sums (:class:`ChunkedStatistic`): memory is O(resamples x
chunk), not O(resamples x rows), and the same seed gives the same resamples
whatever the chunking. A resample's size is random, so every statistic divides
by its weighted total. The AUC, which is not a sum, is folded in ascending
score order (:class:`RunningAUC`).

The **multinomial bootstrap** (:func:`bootstrap`; the other families, which
cap their samples) resamples n rows with replacement as a (n_resamples, n)
matrix of counts W, so most metrics of a resample are one matrix product: the
accuracy of every resample is ``W @ correct / n``.

For both, the unit of work handed to an executor is one block of 100
resamples (:class:`BootstrapBlock`: index, seed, size), so results do not
depend on the executor or its order.

Where a closed form exists the bootstrap is not used: proportions get Wilson
or Clopper-Pearson intervals, a difference of two independent proportions
Newcombe's interval, and means a Student-t interval.
"""

from __future__ import annotations

import functools
import sys
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
    "ChunkedStatistic",
    "ROWS_PER_CHUNK",
    "RunningAUC",
    "bootstrap",
    "poisson_bootstrap",
    "poisson_block",
    "poisson_from_uniform",
    "poisson_thresholds",
    "poisson_weights",
    "splitmix64",
    "weighted_cell_sums",
    "weighted_sums",
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

    @property
    def poisson_method(self) -> str:
        """A readable description of the Poisson bootstrap's intervals, for reports."""
        return f"Poisson bootstrap, {self.n_resamples} resamples"


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
    blocks = _blocks(spec.n_resamples, rng)
    if not blocks:
        return {}
    payload = _Payload(statistic, shared, n, type(rng.bit_generator))
    if executor is None:
        results = [bootstrap_block(payload, block) for block in blocks]
    else:
        results = executor.map(bootstrap_block, blocks, shared=payload)
    return {name: np.concatenate([r[name] for r in results]) for name in results[0]}


# -- Poisson bootstrap with counter-based weights (performance, group fairness) ---------------

#: Rows per chunk of a Poisson bootstrap pass: memory is O(resamples x this), whatever n.
ROWS_PER_CHUNK = 16_384

#: SplitMix64 (Steele, Lea & Flood 2014): the increment and the two multipliers of its finaliser.
SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SPLITMIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_M2 = np.uint64(0x94D049BB133111EB)
_TOP_BITS = 16  # the lookup table reads the top 16 of the 32 bits of a draw

NOT_A_CHUNKED_STATISTIC = ("The 'statistic' parameter of poisson_bootstrap must be an instance "
                           "of a module-level ChunkedStatistic subclass, which another process "
                           "can import by name. Got {got!r} instead.")


def splitmix64(states: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser of each 64-bit state (a new array).

    The ``i``-th output (from 0) of a SplitMix64 generator seeded with ``key``
    is ``splitmix64(key + GAMMA * (i + 1))`` (arithmetic modulo 2**64).

    Parameters
    ----------
    states : ndarray of uint64

    Returns
    -------
    ndarray of uint64, the shape of ``states``
    """
    return _mix_in_place(np.array(states, dtype=np.uint64, copy=True))


def _mix_in_place(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser, overwriting ``z`` (uint64)."""
    shifted = z >> np.uint64(30)
    z ^= shifted
    z *= _SPLITMIX_M1
    np.right_shift(z, np.uint64(27), out=shifted)
    z ^= shifted
    z *= _SPLITMIX_M2
    np.right_shift(z, np.uint64(31), out=shifted)
    z ^= shifted
    return z


@functools.cache
def poisson_thresholds() -> np.ndarray:
    """32-bit inversion thresholds of Poisson(1): ``ceil(cdf(k) * 2**32)`` below 2**32.

    A uniform 32-bit draw ``u`` gives the weight ``k`` when
    ``thresholds[k - 1] <= u < thresholds[k]``, so ``P(weight <= k)`` is
    ``thresholds[k] / 2**32``: the Poisson(1) cdf to within 2**-32.
    """
    from scipy.stats import poisson

    cdf = poisson.cdf(np.arange(64), 1.0)
    thresholds = np.ceil(cdf * 2.0**32)
    return thresholds[thresholds < 2.0**32].astype(np.uint32)


@functools.cache
def _poisson_lookup() -> tuple[np.ndarray, np.ndarray]:
    """Weight of each top-16-bit bucket of a draw, and whether a threshold splits the bucket.

    The table holds :data:`_SPLIT` where a threshold splits the bucket, so one
    lookup tells both.
    """
    thresholds = poisson_thresholds()
    first = np.arange(2**_TOP_BITS, dtype=np.uint64) << np.uint64(32 - _TOP_BITS)
    last = first + np.uint64(2 ** (32 - _TOP_BITS) - 1)
    low = np.searchsorted(thresholds, first, side="right")
    high = np.searchsorted(thresholds, last, side="right")
    split = low != high
    return np.where(split, _SPLIT, low).astype(np.uint8), split


_SPLIT = 255  # marks a bucket of the lookup table that a threshold splits


def poisson_from_uniform(draws: np.ndarray) -> np.ndarray:
    """Poisson(1) weights of uniform 32-bit draws, by inversion.

    A table on the top 16 bits gives the weight, except in the few buckets a
    threshold of :func:`poisson_thresholds` splits, resolved exactly.

    Parameters
    ----------
    draws : ndarray of uint32

    Returns
    -------
    ndarray of uint8, the shape of ``draws``
    """
    table, _ = _poisson_lookup()
    weights = table.take((draws >> np.uint32(32 - _TOP_BITS)).astype(np.intp))
    exact = weights == _SPLIT
    if exact.any():
        weights[exact] = np.searchsorted(poisson_thresholds(), draws[exact], side="right")
    return weights


def poisson_weights(keys: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
    """Poisson(1) bootstrap weights of ``rows`` in the resamples seeded by ``keys``.

    The weight of row ``i`` in resample ``r`` is a pure function of
    ``(keys[r], i)``: the ``i // 2``-th SplitMix64 output of the stream seeded
    with ``keys[r]``, its low 32 bits for an even ``i`` and its high 32 bits
    for an odd one, turned into a Poisson(1) count by inversion. Any chunking
    or order of the rows therefore gives the same resamples.

    Parameters
    ----------
    keys : ndarray of uint64 of shape (b,)
        One key per resample.
    rows : slice or ndarray of int
        A slice ``start:stop`` of rows, or the indices of rows in any order.

    Returns
    -------
    ndarray of uint8 of shape (b, len(rows))

    Examples
    --------
    >>> keys = np.array([1, 2], dtype=np.uint64)
    >>> w = poisson_weights(keys, slice(0, 6))
    >>> w.shape, bool((w == poisson_weights(keys, np.arange(6))).all())
    ((2, 6), True)
    """
    keys = np.asarray(keys, dtype=np.uint64)[:, None]
    if isinstance(rows, slice):
        start, stop = rows.start or 0, rows.stop
        pairs = np.arange(start // 2, (stop + 1) // 2, dtype=np.uint64)
        outputs = _mix_in_place(keys + SPLITMIX_GAMMA * (pairs + np.uint64(1)))
        if sys.byteorder == "little":  # each output's low 32 bits, then its high 32 bits
            halves = outputs.view(np.uint32)
        else:
            halves = np.empty((len(keys), 2 * len(pairs)), dtype=np.uint32)
            halves[:, 0::2] = outputs & np.uint64(0xFFFFFFFF)
            halves[:, 1::2] = outputs >> np.uint64(32)
        draws = halves[:, start % 2: start % 2 + stop - start]
    else:
        index = np.asarray(rows, dtype=np.uint64)
        outputs = _mix_in_place(keys + SPLITMIX_GAMMA * ((index >> np.uint64(1))
                                                          + np.uint64(1)))
        outputs >>= (index & np.uint64(1)) << np.uint64(5)  # an odd row's draw: the high half
        if sys.byteorder == "little":  # the low 32 bits of each output, without a copy
            draws = outputs.view(np.uint32)[:, 0::2]
        else:
            draws = (outputs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return poisson_from_uniform(draws)


class ChunkedStatistic:
    """A statistic of weighted rows, folded over chunks of rows (base class).

    :func:`poisson_bootstrap` visits the rows once per entry of :attr:`orders`,
    in chunks of :data:`ROWS_PER_CHUNK`, and calls :meth:`update` with the
    Poisson weights of each chunk; :meth:`finish` turns the folded state into
    one value per resample. A subclass holds the per-row arrays it needs (it
    is sent once to each worker), so it must be defined at module level.
    """

    @property
    def n_rows(self) -> int:
        """Rows the statistic weighs."""
        raise NotImplementedError

    @property
    def orders(self) -> tuple[np.ndarray | None, ...]:
        """One row order per pass over the rows; None visits rows 0 to n - 1."""
        return (None,)

    def start(self, n_resamples: int) -> dict[str, Any]:
        """The empty state of ``n_resamples`` resamples."""
        raise NotImplementedError

    def update(self, state: dict[str, Any], step: int, weights: np.ndarray,
               rows: slice | np.ndarray) -> None:
        """Fold the chunk ``rows`` of pass ``step`` into ``state``.

        Parameters
        ----------
        state : dict
            From :meth:`start`; changed in place.
        step : int
            Index of the pass (into :attr:`orders`).
        weights : ndarray of uint8 of shape (b, len(rows))
            Poisson weights of the chunk's rows in each resample.
        rows : slice or ndarray of int
            The chunk's rows: a slice in natural order, else indices.
        """
        raise NotImplementedError

    def finish(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """Values of shape (b,) per name, from the folded state."""
        raise NotImplementedError


def poisson_block(statistic: ChunkedStatistic, block: BootstrapBlock) -> dict[str, np.ndarray]:
    """The statistics of one block of Poisson resamples (module-level: any executor can send it).

    Parameters
    ----------
    statistic : ChunkedStatistic
        Shared by every block.
    block : BootstrapBlock
        Its seed gives one 64-bit key per resample.

    Returns
    -------
    dict of str to ndarray of shape (block.size,)
    """
    keys = block.seed.generate_state(block.size, np.uint64)
    n = statistic.n_rows
    state = statistic.start(block.size)
    for step, order in enumerate(statistic.orders):
        for start in range(0, n, ROWS_PER_CHUNK):
            stop = min(start + ROWS_PER_CHUNK, n)
            rows = slice(start, stop) if order is None else order[start:stop]
            statistic.update(state, step, poisson_weights(keys, rows), rows)
    values = statistic.finish(state)
    return {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}


def poisson_bootstrap(statistic: ChunkedStatistic, *, spec: BootstrapSpec,
                      rng: np.random.Generator,
                      executor: Any | None = None) -> dict[str, np.ndarray]:
    """Poisson bootstrap distributions of several statistics, in memory bounded by design.

    Each resample gives every row an independent Poisson(1) weight instead
    of a multinomial count (Hanley & MacGibbon 2006; Chamandy et al. 2012):
    the resample's size is random, so every statistic divides by its weighted
    total. The weights are a function of (resample key, row), so the rows are
    weighed chunk by chunk (:data:`ROWS_PER_CHUNK`) and memory is
    O(resamples x chunk) rather than O(resamples x rows); the same seed gives
    the same resamples whatever the chunking or the executor.

    The resamples are cut into blocks of 100 as in :func:`bootstrap`; a block
    (index, seed, size) is the executor's unit of work and ``statistic`` its
    shared payload.

    Parameters
    ----------
    statistic : ChunkedStatistic
        An instance of a module-level subclass.
    spec : BootstrapSpec
    rng : numpy.random.Generator
        Seeds the blocks; each block's seed gives one 64-bit key per resample.
    executor : Executor, optional
        Runs blocks of resamples; in this process when None.

    Returns
    -------
    dict of str to ndarray of shape (n_resamples,)
        Empty without resamples.
    """
    kind = type(statistic)
    if (not isinstance(statistic, ChunkedStatistic) or "<" in kind.__qualname__):
        raise TypeError(NOT_A_CHUNKED_STATISTIC.format(got=statistic))
    blocks = _blocks(spec.n_resamples, rng)
    if not blocks:
        return {}
    statistic.orders  # noqa: B018 (a sort made once here, not by each block or thread)
    if executor is None:
        results = [poisson_block(statistic, block) for block in blocks]
    else:
        results = executor.map(poisson_block, blocks, shared=statistic)
    return {name: np.concatenate([r[name] for r in results]) for name in results[0]}


def _blocks(n_resamples: int, rng: np.random.Generator) -> list[BootstrapBlock]:
    """Blocks of at most 100 resamples, each seeded by a spawned seed sequence."""
    sizes = [_BLOCK] * (n_resamples // _BLOCK)
    if n_resamples % _BLOCK:
        sizes.append(n_resamples % _BLOCK)
    if not sizes:
        return []
    # What rng.spawn does, kept as seeds so that a block carries numbers, not a generator.
    seeds = rng.bit_generator.seed_seq.spawn(len(sizes))  # type: ignore[attr-defined]
    return [BootstrapBlock(i, seed, size)
            for i, (seed, size) in enumerate(zip(seeds, sizes, strict=True))]


def weighted_sums(weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``weights @ columns`` in float64: the chunk's weighted column sums, shape (b, c)."""
    return weights.astype(np.float64) @ columns


def weighted_cell_sums(weights: np.ndarray, cells: np.ndarray, n_cells: int, *,
                       values: np.ndarray | None = None) -> np.ndarray:
    """Weighted sum of each cell per resample, each row falling in ``q`` cells.

    A sparse product: the cost is O(b x m x q), whatever ``n_cells``.

    Parameters
    ----------
    weights : ndarray of shape (b, m)
    cells : ndarray of int of shape (m, q)
        The cells of each row (distinct within a row), in ``[0, n_cells)``.
    n_cells : int
    values : ndarray of shape (m, q), optional
        What each row adds to each of its cells; 1 when None (a weighted count).

    Returns
    -------
    ndarray of shape (b, n_cells)
    """
    from scipy import sparse

    m, q = cells.shape
    data = np.ones(m * q) if values is None else np.asarray(values, dtype=np.float64).ravel()
    # The transposed indicator, one column per row, built straight in CSC form.
    indicator = sparse.csc_matrix((data, cells.ravel(), np.arange(0, m * q + 1, q)),
                                  shape=(n_cells, m))
    return (indicator @ np.ascontiguousarray(weights.T, dtype=np.float64)).T


class RunningAUC:
    """Weighted AUC of many resamples, fed rows in ascending score order, chunk by chunk.

    The Mann-Whitney form of :class:`WeightedAUC`: each positive counts the
    weighted negatives with a lower score, and half those with the same score.
    Inside a chunk, a positive's count is read off the cumulative sum of the
    negatives' weights at the ends of its tie group. The last tie group of a
    chunk may go on in the next one, so it is carried as two totals per
    resample (its positives and negatives) and closed when a higher score
    arrives: memory is O(b) between chunks, whatever the ties.

    The weights are integers, and so is twice every sum here (below 2**53
    for fewer than about 10**7 rows), so the result does not depend on how
    the rows were cut into chunks.

    Parameters
    ----------
    n_resamples : int
    """

    def __init__(self, n_resamples: int) -> None:
        self.twice_numerator = np.zeros(n_resamples)
        self.below = np.zeros(n_resamples)  # weighted negatives of closed tie groups
        self.positives = np.zeros(n_resamples)  # weighted positives of closed tie groups
        self.open_score: float | None = None
        self.open_positive = np.zeros(n_resamples)
        self.open_negative = np.zeros(n_resamples)

    def update(self, weights: np.ndarray, scores: np.ndarray, positive: np.ndarray) -> None:
        """Add a chunk of rows, sorted by score and following the rows seen so far.

        Parameters
        ----------
        weights : ndarray of uint8 of shape (b, m)
            Integer weights (Poisson counts).
        scores : ndarray of shape (m,)
            Ascending, none below the last score seen.
        positive : bool ndarray of shape (m,)
        """
        m = len(scores)
        if m == 0:
            return
        head = 0
        if self.open_score is not None and scores[0] == self.open_score:
            head = int(np.searchsorted(scores, self.open_score, side="right"))
            self._grow_open(weights[:, :head], positive[:head])
            if head == m:
                return
        self._close_open()
        tail = int(np.searchsorted(scores, scores[-1], side="left"))
        self._closed_groups(weights[:, head:tail], scores[head:tail], positive[head:tail])
        self.open_score = float(scores[-1])
        self._grow_open(weights[:, tail:], positive[tail:])

    def _grow_open(self, weights: np.ndarray, positive: np.ndarray) -> None:
        total = weights.sum(axis=1, dtype=np.int64)
        on_positives = np.compress(positive, weights, axis=1).sum(axis=1, dtype=np.int64)
        self.open_positive += on_positives
        self.open_negative += total - on_positives

    def _close_open(self) -> None:
        self.twice_numerator += self.open_positive * (2.0 * self.below + self.open_negative)
        self.positives += self.open_positive
        self.below += self.open_negative
        self.open_positive = np.zeros_like(self.open_positive)
        self.open_negative = np.zeros_like(self.open_negative)
        self.open_score = None

    def _closed_groups(self, weights: np.ndarray, scores: np.ndarray,
                       positive: np.ndarray) -> None:
        """Tie groups wholly inside the chunk: each positive against the negatives below."""
        m = len(scores)
        if m == 0:
            return
        # cumulative[:, j]: weighted negatives among the chunk's first j negatives (exact ints)
        cumulative = np.zeros((len(weights), m + 1 - int(positive.sum())), dtype=np.int32)
        np.cumsum(np.compress(~positive, weights, axis=1), axis=1, dtype=np.int32,
                  out=cumulative[:, 1:])
        before = np.r_[0, np.cumsum(~positive)]  # negatives before each row
        starts = np.r_[True, scores[1:] != scores[:-1]]
        at = np.flatnonzero(positive)
        if starts.all():  # no ties: twice the negatives below a positive
            twice_middle = 2 * np.take(cumulative, before[at], axis=1)
        else:  # a positive's tie group spans rows first to last
            index = np.arange(m)
            first = np.maximum.accumulate(np.where(starts, index, 0))
            ends = np.r_[starts[1:], True]
            last = np.minimum.accumulate(np.where(ends, index, m)[::-1])[::-1]
            twice_middle = (np.take(cumulative, before[first[at]], axis=1)
                            + np.take(cumulative, before[last[at] + 1], axis=1))
        on_positives = np.take(weights, at, axis=1)
        positives = on_positives.sum(axis=1, dtype=np.int64)
        self.twice_numerator += (2.0 * self.below * positives
                                 + np.einsum("ij,ij->i", on_positives, twice_middle,
                                             dtype=np.float64))
        self.positives += positives
        self.below += cumulative[:, -1]

    def result(self) -> np.ndarray:
        """AUC of each resample (NaN without both classes); closes the open group."""
        self._close_open()
        denominator = 2.0 * self.positives * self.below
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, self.twice_numerator / denominator, np.nan)


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
