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

from ..._stats import WILSON, wilson_interval
from ...inputs import AuditData
from ...results import Metric
from .._classification import class_margin as margin
from .._tabular import GRID_TOLERANCE, grid_step

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
