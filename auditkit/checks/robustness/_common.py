"""Shared pieces of the robustness family: sample selection, proportions, group tables.

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

from ...exceptions import BAD_VALUE, CheckError
from ...inputs import AuditData
from ...results import Metric

__all__ = [
    "WILSON",
    "check_confidence",
    "check_positive_int",
    "check_fraction",
    "group_robustness_table",
    "proportion",
    "select_samples",
    "wilson_interval",
]

WILSON = "Wilson score interval"


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


def check_positive_int(value: object, param: str, *, allow_none: bool = False,
                       allow_zero: bool = False) -> None:
    """Raise a CheckError unless ``value`` is a positive int (or None, or 0, when allowed)."""
    if value is None and allow_none:
        return
    low = 0 if allow_zero else 1
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        expected = "a non-negative integer" if allow_zero else "a positive integer"
        raise CheckError(BAD_VALUE.format(param=param, expected=expected
                                          + (" or None" if allow_none else ""), got=repr(value)))


def check_confidence(value: object, param: str = "confidence") -> None:
    """Raise a CheckError unless ``value`` is a confidence level in (0, 1)."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and \
        0.0 < value < 1.0
    if not ok:
        raise CheckError(BAD_VALUE.format(param=param, expected="a number in (0, 1)",
                                          got=repr(value)))


def check_fraction(value: object, param: str, *, low: float = 0.0, high: float = 1.0,
                   inclusive_low: bool = True) -> None:
    """Raise a CheckError unless ``low <= value <= high`` (``low < value`` if not inclusive)."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and \
        np.isfinite(value) and (value >= low if inclusive_low else value > low) and value <= high
    if not ok:
        bound = "[" if inclusive_low else "("
        raise CheckError(BAD_VALUE.format(param=param, expected=f"a number in {bound}{low}, "
                                          f"{high}]", got=repr(value)))


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
