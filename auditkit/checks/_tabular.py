"""Shared ground for tabular checks: the data's domain, a greedy feasible search, intervals.

:class:`TabularDomain` says what may change in an encoded tabular row:
which original features may change, to which values (numeric: within
``epsilon`` of their valid range and inside the valid bounds; discrete
numeric: only to observed values; categorical: only to another valid
category, as one whole one-hot group). :func:`greedy_attack` then changes one
feature per round, keeping for each sample the single change that lowers the
margin of its target class most, until the prediction flips or the feature
budget is spent (a black-box coordinate search in the manner of the feasible
tabular attacks of Ballet et al. 2019 and Cartella et al. 2021). All
candidates of all samples of a round are scored in one model call; there is
no loop over samples.

Two families use it: robustness (perturbations that should not change the
outcome, against a baseline model) and fairness (recourse on actionable
features, per group). Both report differences of proportions with Newcombe's
hybrid score intervals, which are here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .._stats import wilson_interval
from ..inputs import AuditData, GroupSpace
from ._classification import class_margin

__all__ = [
    "NEWCOMBE_PAIRED",
    "TabularAttackOutcome",
    "TabularDomain",
    "GRID_TOLERANCE",
    "grid_step",
    "greedy_attack",
    "newcombe_paired_interval",
]

#: Kinds of feature, by how they may change.
NUMERIC, DISCRETE, BINARY, CATEGORICAL = "numeric", "discrete", "binary", "categorical"
#: Largest number of evenly spaced positions for a feature to count as lying on a grid.
_MAX_GRID_POSITIONS = 10_000
NEWCOMBE_PAIRED = ("Newcombe hybrid score interval for paired proportions (method 10, "
                   "Wilson intervals with the corrected phi coefficient)")


#: Values within this share of a grid step of a regular grid make a feature discrete.
GRID_TOLERANCE = 0.01


def grid_step(levels: np.ndarray, *, max_positions: int | None = None) -> float:
    """The step of the evenly spaced grid that sorted distinct ``levels`` lie on, else 0.

    Counts, ages and hours stay on a grid after standardisation (of step
    1/std); a continuous feature's gaps are no multiples of one step. The step
    is the span divided by the whole number of smallest gaps it holds, which is
    more exact than the smallest gap itself. Positions within
    :data:`GRID_TOLERANCE` of a step of a grid point count as on it.

    Parameters
    ----------
    levels : ndarray of shape (n_levels,)
        Sorted distinct values (``numpy.unique``).
    max_positions : int, optional
        A grid with more positions than this between the smallest and the
        largest level does not count (a dense grid says nothing).

    Returns
    -------
    float
        The step; 0.0 when there are fewer than two levels or they lie on no grid.
    """
    if len(levels) < 2:
        return 0.0
    span = float(levels[-1] - levels[0])
    step = float(np.diff(levels).min())
    if step <= 0 or (max_positions is not None and span / step > max_positions):
        return 0.0
    step = span / np.rint(span / step)
    positions = (levels - levels[0]) / step
    return step if bool(np.all(np.abs(positions - np.rint(positions)) < GRID_TOLERANCE)) else 0.0


def newcombe_paired_interval(first: np.ndarray, second: np.ndarray,
                             confidence: float) -> tuple[float, float]:
    """Interval of p1 - p2 for two proportions measured on the same samples.

    Newcombe's hybrid score method for paired data (Newcombe 1998, Statistics
    in Medicine 17:2635, method 10): the Wilson intervals of both
    proportions, combined with the phi correlation of the pairs (shrunk
    towards 0 by ``n / 2`` when positive, as the paper does).

    Parameters
    ----------
    first, second : ndarray of bool, shape (n,)
        The two outcomes of each sample.
    confidence : float

    Returns
    -------
    lower, upper : float
    """
    first, second = np.asarray(first, dtype=bool), np.asarray(second, dtype=bool)
    n = len(first)
    a = int(np.sum(first & second))
    b = int(np.sum(first & ~second))
    c = int(np.sum(~first & second))
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, l2), (u1, u2) = (np.asarray(bound, dtype=np.float64) for bound in
                          wilson_interval(np.array([a + b, a + c]), n, confidence))
    spread = float(a + b) * (c + d) * (a + c) * (b + d)
    cross = float(a) * d - float(b) * c
    if spread == 0:
        phi = 0.0
    elif cross > 0:
        phi = max(cross - n / 2, 0.0) / np.sqrt(spread)
    else:
        phi = cross / np.sqrt(spread)
    delta = p1 - p2
    low = delta - np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                              + (u2 - p2) ** 2, 0.0))
    high = delta + np.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                               + (p2 - l2) ** 2, 0.0))
    return float(low), float(high)


@dataclass(frozen=True)
class TabularDomain:
    """What an adversary may change in an encoded tabular row, and to what.

    Built with :meth:`from_data`. One entry per original feature (a one-hot
    group counts as one feature), in the order of :class:`GroupSpace` with any
    column that belongs to no group appended as its own feature.

    Attributes
    ----------
    names : tuple of str
    columns : tuple of ndarray of int
        The encoded columns of each feature.
    kinds : tuple of str
        ``"numeric"`` (moves on a grid within epsilon of its range),
        ``"discrete"`` (few observed values, or values on an even grid:
        moves only to observed values within epsilon of its range),
        ``"binary"`` (a single column with two observed values: a flag, which
        may be switched whatever epsilon) or ``"categorical"`` (a one-hot
        group: any other category).
    mutable : ndarray of bool
        Whether the search may change the feature. From :meth:`from_data`:
        all its columns are declared mutable (actionable); a check may choose
        another set with :meth:`with_changeable`.
    low, high : ndarray of float
        Valid bounds of every encoded column (``AuditData.valid_bounds``).
    values : tuple of ndarray
        Observed values (discrete and binary features; empty otherwise).
    categories : tuple of list of str
        Category names of categorical features (the part after ``=`` of the
        column names).
    """

    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    kinds: tuple[str, ...]
    mutable: np.ndarray
    low: np.ndarray
    high: np.ndarray
    values: tuple[np.ndarray, ...]
    categories: tuple[list[str], ...]

    @classmethod
    def from_data(cls, data: AuditData, *, max_discrete_values: int = 32) -> TabularDomain:
        """The domain of ``data``'s rows.

        Parameters
        ----------
        data : AuditData
            Tabular data.
        max_discrete_values : int, default=32
            A single-column feature with at most this many distinct values in
            ``X`` and ``reference`` (or whose values lie on an even grid) is
            discrete.

        Returns
        -------
        TabularDomain
        """
        space = GroupSpace(data)
        width = data.X.shape[1]
        names, columns = list(space.names), [np.asarray(c, dtype=np.int64) for c in space.columns]
        categories = [list(c) for c in space.categories]
        covered = np.zeros(width, dtype=bool)
        for c in columns:
            covered[c] = True
        all_names = data.feature_names or [f"x{i}" for i in range(width)]
        for i in np.flatnonzero(~covered):  # a column no group lists is a feature of its own
            names.append(all_names[i])
            columns.append(np.array([i]))
            categories.append([all_names[i]])
        low, high = data.valid_bounds()
        mask = data.mutable_mask()
        # the values observed where valid_bounds observes them: X and the in-distribution data
        reference = data.reference_inputs
        observed = np.asarray(data.X, dtype=np.float64) if reference is data.X else \
            np.vstack([np.asarray(data.X, dtype=np.float64),
                       np.asarray(reference, dtype=np.float64)])
        kinds, values = [], []
        for c in columns:
            if len(c) > 1:
                kinds.append(CATEGORICAL)
                values.append(np.empty(0))
                continue
            distinct = np.unique(observed[:, c[0]])
            if len(distinct) == 2:
                kinds.append(BINARY)
            elif len(distinct) <= max_discrete_values or \
                    grid_step(distinct, max_positions=_MAX_GRID_POSITIONS) > 0:
                kinds.append(DISCRETE)
            else:
                kinds.append(NUMERIC)
            values.append(distinct if kinds[-1] != NUMERIC else np.empty(0))
        mutable = np.array([bool(mask[c].all()) for c in columns])
        return cls(tuple(names), tuple(columns), tuple(kinds), mutable, low, high, tuple(values),
                   tuple(categories))

    @property
    def n_features(self) -> int:
        """Number of original features."""
        return len(self.names)

    def with_changeable(self, mask: np.ndarray) -> TabularDomain:
        """The same domain in which exactly the features of ``mask`` may change."""
        return replace(self, mutable=np.asarray(mask, dtype=bool))

    def value_range(self, feature: int) -> float:
        """``high - low`` of a single-column feature."""
        column = self.columns[feature][0]
        return float(self.high[column] - self.low[column])

    def slots(self, feature: int, n_steps: int) -> int:
        """Most candidate changes of the feature per sample and round."""
        kind = self.kinds[feature]
        if kind == CATEGORICAL:
            return len(self.columns[feature])
        return 1 if kind == BINARY else 2 * n_steps

    def category_of(self, X: np.ndarray, feature: int) -> np.ndarray:
        """Index of each row's category in a categorical feature (-1 when none is set)."""
        c = self.columns[feature]
        scale = np.where(self.high[c] > self.low[c], self.high[c] - self.low[c], 1.0)
        level = (X[:, c] - self.low[c]) / scale
        return np.where(level.max(axis=1) > 0.5, level.argmax(axis=1), -1)

    def describe(self, feature: int, value: float) -> str:
        """A readable value of a feature: the category name, or the number."""
        if self.kinds[feature] == CATEGORICAL:
            return self.categories[feature][int(value)] if value >= 0 else "(none)"
        return f"{value:.4g}"

    # -- candidates ----------------------------------------------------------------------

    def candidates(self, feature: int, rows: np.ndarray, *, epsilon: float,
                   n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The values a feature may take instead of its value in ``rows``, per row.

        Parameters
        ----------
        feature : int
        rows : ndarray of shape (m, n_columns)
            Encoded rows in which the feature has its original value.
        epsilon : float
            Largest change of a numeric feature, as a fraction of its range.
        n_steps : int
            Grid points per direction for numeric features.

        Returns
        -------
        values : ndarray of shape (m, slots)
            The new value (categorical: the new category's index).
        valid : ndarray of bool, shape (m, slots)
            Whether a slot is a real change (distinct from the original and
            from the other slots of the row).
        """
        kind = self.kinds[feature]
        if kind == CATEGORICAL:
            current = self.category_of(rows, feature)
            slots = np.arange(len(self.columns[feature]), dtype=np.float64)
            values = np.broadcast_to(slots, (len(rows), len(slots)))
            # a category is valid only where its column can be set (a category never
            # observed, with no input_range saying otherwise, has high == low == 0)
            c = self.columns[feature]
            allowed = self.high[c] > self.low[c]
            return values, (values != current[:, None]) & allowed[None, :]
        column = self.columns[feature][0]
        original = rows[:, column]
        if kind == BINARY:
            pair = self.values[feature]
            values = np.where(original == pair[0], pair[1], pair[0])[:, None]
            return values, np.ones(values.shape, dtype=bool)
        radius = epsilon * self.value_range(feature)
        steps = np.arange(1, n_steps + 1) / n_steps
        offsets = np.stack([-steps, steps]) * radius  # (direction, step), moving outwards
        raw = np.clip(original[:, None, None] + offsets[None], self.low[column],
                      self.high[column])
        if kind == DISCRETE:
            raw = _nearest(self.values[feature], raw)
            raw = np.clip(raw, self.low[column], self.high[column])
        valid = (raw != original[:, None, None]) & \
            (np.abs(raw - original[:, None, None]) <= radius * (1 + 1e-9))
        # clipping and snapping repeat values along a direction: keep the first of each
        valid[:, :, 1:] &= raw[:, :, 1:] != raw[:, :, :-1]
        return raw.reshape(len(original), -1), valid.reshape(len(original), -1)

    def write(self, rows: np.ndarray, feature: int, values: np.ndarray) -> None:
        """Set the feature of ``rows`` (in place) to ``values`` (categorical: category index)."""
        c = self.columns[feature]
        if self.kinds[feature] == CATEGORICAL:
            chosen = values.astype(np.int64)
            rows[:, c] = self.low[c]
            rows[np.arange(len(rows)), c[chosen]] = self.high[c[chosen]]
        else:
            rows[:, c[0]] = values


def _nearest(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The value of sorted ``grid`` nearest to each element of ``x`` (ties to the lower)."""
    right = np.clip(np.searchsorted(grid, x), 1, len(grid) - 1)
    left = right - 1
    lower, upper = grid[left], grid[right]
    return np.where(np.abs(x - lower) <= np.abs(upper - x), lower, upper)


@dataclass(frozen=True)
class TabularAttackOutcome:
    """What the attack did to each sample.

    Attributes
    ----------
    X : ndarray of shape (n, n_columns)
        The rows after the attack (the original row where nothing changed).
    proba : ndarray of shape (n, n_classes)
        The model's probabilities on ``X``.
    changed : ndarray of bool, shape (n, n_features)
        Which original features the attack changed.
    flip_round : ndarray of int, shape (n,)
        The number of features changed when the prediction flipped; 0 where it did not.
    """

    X: np.ndarray
    proba: np.ndarray
    changed: np.ndarray
    flip_round: np.ndarray

    @property
    def flipped(self) -> np.ndarray:
        """Whether the attack changed the prediction."""
        return self.flip_round > 0

    @staticmethod
    def concatenate(parts: list[TabularAttackOutcome]) -> TabularAttackOutcome:
        """One outcome from the outcomes of consecutive chunks of samples."""
        return TabularAttackOutcome(*(np.concatenate([getattr(p, name) for p in parts])
                               for name in ("X", "proba", "changed", "flip_round")))


def greedy_attack(predict_proba: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                  target: np.ndarray, proba: np.ndarray, domain: TabularDomain, *,
                  epsilon: float | np.ndarray, n_steps: int,
                  max_features_changed: int) -> TabularAttackOutcome:
    """Greedy coordinate search for the fewest feature changes that flip each prediction.

    Each round builds, for every sample still attacked, every single-feature
    change of a mutable feature it has not changed yet, scores all of them in
    one call of ``predict_proba``, and keeps per sample the change that lowers
    the margin (target-class probability minus the largest other) most. A
    sample stops when its prediction flips, when no change lowers its margin,
    or after ``max_features_changed`` rounds.

    Parameters
    ----------
    predict_proba : callable
        ``predict_proba(rows) -> (n, n_classes)`` probabilities.
    X : ndarray of shape (n, n_columns)
        The samples, predicted as ``target``.
    target : ndarray of int, shape (n,)
        The class each prediction is moved away from (column index): the true
        class of correct predictions, or the predicted class itself.
    proba : ndarray of shape (n, n_classes)
        The model's probabilities on ``X``.
    domain : TabularDomain
    epsilon : float or ndarray of shape (n_features,)
        See :meth:`TabularDomain.candidates`; an array gives each original
        feature its own.
    n_steps : int
        See :meth:`TabularDomain.candidates`.
    max_features_changed : int
        The budget: how many original features the attack may change per sample.

    Returns
    -------
    TabularAttackOutcome
    """
    X0 = np.asarray(X, dtype=np.float64)
    current = X0.copy()
    proba = np.array(proba, dtype=np.float64)
    n = len(X0)
    changed = np.zeros((n, domain.n_features), dtype=bool)
    flip_round = np.zeros(n, dtype=np.int64)
    margin = class_margin(proba, target)
    active = np.ones(n, dtype=bool)
    attackable = np.flatnonzero(domain.mutable)
    radius = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), (domain.n_features,))
    for round_ in range(1, max_features_changed + 1):
        blocks = []
        for feature in attackable:
            who = np.flatnonzero(active & ~changed[:, feature])
            if not len(who):
                continue
            values, valid = domain.candidates(feature, X0[who], epsilon=float(radius[feature]),
                                              n_steps=n_steps)
            owner_slot = np.nonzero(valid)
            blocks.append((feature, who[owner_slot[0]], values[owner_slot]))
        if not blocks:
            break
        owner = np.concatenate([b[1] for b in blocks])
        rows = current[owner]
        start = 0
        for feature, who, values in blocks:
            domain.write(rows[start:start + len(who)], feature, values)  # a view: in place
            start += len(who)
        which = np.concatenate([np.full(len(b[1]), b[0]) for b in blocks])
        scores = np.asarray(predict_proba(rows), dtype=np.float64)
        candidate_margin = class_margin(scores, target[owner])
        # per sample, the candidate with the lowest margin (ties: the first built)
        order = np.lexsort((np.arange(len(owner)), candidate_margin, owner))
        samples, first = np.unique(owner[order], return_index=True)
        best = order[first]
        improves = candidate_margin[best] < margin[samples]
        stuck = samples[~improves]
        active[stuck] = False
        samples, best = samples[improves], best[improves]
        current[samples] = rows[best]
        changed[samples, which[best]] = True
        proba[samples] = scores[best]
        margin[samples] = candidate_margin[best]
        flipped = samples[np.argmax(scores[best], axis=1) != target[samples]]
        flip_round[flipped] = round_
        active[flipped] = False
        if not active.any():
            break
    return TabularAttackOutcome(current, proba, changed, flip_round)
