"""Shared pieces of the robustness family: samples, proportions, margins, grids, group tables.

Every robustness check attacks or corrupts a seeded subset of the audited
samples (``n_samples``) and reports proportions (accuracy, attack success)
with Wilson score intervals (Wilson 1927), which stay inside [0, 1] and behave
at 0 and 1 where the normal approximation does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from ...inputs import AuditData
from ...results import Metric

__all__ = [
    "GRID_TOLERANCE",
    "WILSON",
    "grid_step",
    "group_robustness_table",
    "margin",
    "proportion",
    "select_samples",
    "wilson_interval",
]

WILSON = "Wilson score interval"
#: Values within this share of a grid step of a regular grid make a feature discrete.
GRID_TOLERANCE = 0.01


def wilson_interval(successes: np.ndarray | float, n: np.ndarray | float,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (vectorised).

    Parameters
    ----------
    successes, n : array-like
        Counts; where ``n`` is 0 the bounds are NaN.
    confidence : float, default=0.95

    Returns
    -------
    lower, upper : ndarray
    """
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


def proportion(hits: np.ndarray, *, confidence: float = 0.95,
               higher_is_better: bool | None = None) -> Metric:
    """The share of True in ``hits`` as a Metric with its Wilson interval."""
    hits = np.asarray(hits, dtype=bool)
    n = int(hits.size)
    if n == 0:
        return Metric(float("nan"), n=0, higher_is_better=higher_is_better)
    k = int(hits.sum())
    lower, upper = wilson_interval(k, n, confidence)
    return Metric(k / n, float(lower), float(upper), confidence, n, WILSON, higher_is_better)


def select_samples(data: AuditData, n_samples: int | None, rng: np.random.Generator,
                   *, among: np.ndarray | None = None) -> np.ndarray:
    """Sorted indices of at most ``n_samples`` audited samples, drawn without replacement.

    Parameters
    ----------
    data : AuditData
    n_samples : int or None
        None takes every sample.
    rng : numpy.random.Generator
        The check's own generator (``context.rng(name)``).
    among : ndarray of bool, optional
        Draw only where True (e.g. correctly classified samples).
    """
    pool = np.arange(data.n_samples) if among is None else np.flatnonzero(among)
    if n_samples is None or n_samples >= len(pool):
        return pool
    return np.sort(rng.choice(pool, size=n_samples, replace=False))


def margin(proba: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Probability of the true class minus the largest other probability (< 0: flipped).

    Parameters
    ----------
    proba : ndarray of shape (n, n_classes)
    target : ndarray of int, shape (n,)
        The true class of each row (column index).

    Returns
    -------
    ndarray of shape (n,)
    """
    rows = np.arange(len(proba))
    own = proba[rows, target]
    others = np.array(proba, dtype=np.float64, copy=True)
    others[rows, target] = -np.inf
    return own - others.max(axis=1)


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


def group_robustness_table(correct_clean: np.ndarray, correct_attacked: np.ndarray,
                           groups: pd.Series | Sequence[object], *, min_group_size: int = 30,
                           confidence: float = 0.95) -> pd.DataFrame:
    """Clean and attacked accuracy, and attack success, per group (class or sensitive group).

    Attack success is the share of the group's correctly classified samples
    that the attack (or corruption) turns wrong.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group, n, clean_accuracy, robust_accuracy,
        robust_lower, robust_upper, attack_success, success_lower,
        success_upper, too_small``.
    """
    clean = np.asarray(correct_clean, dtype=bool)
    attacked = np.asarray(correct_attacked, dtype=bool) & clean
    keys = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    rows = []
    for group, index in keys.groupby(keys, sort=True).indices.items():
        n = len(index)
        n_clean = int(clean[index].sum())
        n_robust = int(attacked[index].sum())
        r_low, r_up = wilson_interval(n_robust, n, confidence)
        s_low, s_up = wilson_interval(n_clean - n_robust, n_clean, confidence)
        rows.append({"group": group, "n": n, "clean_accuracy": n_clean / n,
                     "robust_accuracy": n_robust / n, "robust_lower": float(r_low),
                     "robust_upper": float(r_up),
                     "attack_success": (n_clean - n_robust) / n_clean if n_clean else np.nan,
                     "success_lower": float(s_low), "success_upper": float(s_up),
                     "too_small": n < min_group_size})
    return pd.DataFrame(rows)
