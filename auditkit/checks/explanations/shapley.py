"""Explanations: Shapley values of tabular features (interventional SHAP).

Each original feature (all its one-hot columns together) is one player. The
value of a coalition S for a row x is the model's probability of the
explained class averaged over a summarised background (k-means medoids of the
reference data) with the features in S taken from x and the rest from the
background row: the quantity of ``shap.explainers.Exact`` with an
``Independent`` masker (Lundberg & Lee 2017; Janzing et al. 2020).

For a background row b, features where x and b agree are dummy players, so
only the 2^d coalitions of the d features that differ need the model. The
exact values are computed that way, batched over all rows: the same numbers
as shap's Exact explainer at a small fraction of its model calls (tested
against it). With more than ``max_exact_features`` features, shap's
Permutation explainer (antithetic sampling) is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from ...inputs import AuditData, GroupSpace, ModelAdapter
from .._base import CheckContext, register_check
from .._params import POSITIVE_INT, Interval
from ._common import ExplanationCheck, Units

__all__ = ["ExplanationsShap", "interventional_shapley"]

_CHUNK_ROWS = 262_144


def _coefficients(d: int) -> np.ndarray:
    """Shapley weights: phi = C.T @ v over the 2^d coalitions (bit k = player k)."""
    subsets = np.arange(2 ** d)
    bits = (subsets[:, None] >> np.arange(d)[None, :]) & 1
    size = bits.sum(axis=1)
    weight = np.array([factorial(m) * factorial(d - m - 1) / factorial(d) if m < d else 0.0
                       for m in range(d + 1)])
    with_player = weight[np.maximum(size - 1, 0)]
    without_player = weight[size]
    return np.where(bits == 1, with_player[:, None], -without_player[:, None])


def interventional_shapley(predict: callable, rows: np.ndarray, target: np.ndarray,
                           background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact interventional Shapley values in feature (group) space.

    Parameters
    ----------
    predict : callable
        ``predict(Z) -> probabilities (n, n_classes)`` for rows in group space.
    rows : ndarray of shape (n, m)
    target : ndarray of shape (n,)
        Class whose probability is explained, per row.
    background : ndarray of shape (k, m)

    Returns
    -------
    values : ndarray of shape (n, m)
    expected : ndarray of shape (n,)
        Mean background probability of each row's target; ``values.sum(1)``
        equals ``f(x) - expected``.
    """
    n, m = rows.shape
    k = len(background)
    differs = rows[:, None, :] != background[None, :, :]  # (n, k, m)
    players = differs.sum(axis=2)
    values = np.zeros((n, m))
    base = predict(background)
    expected = base[:, target].mean(axis=0)
    for d in np.unique(players):
        if d == 0:
            continue
        pair_row, pair_bg = np.nonzero(players == d)
        order = np.argsort(~differs[pair_row, pair_bg], axis=1, kind="stable")[:, :d]
        coefficients = _coefficients(int(d))
        bits = coefficients > 0  # player k is in coalition s
        per_chunk = max(1, _CHUNK_ROWS // 2 ** d)
        for start in range(0, len(pair_row), per_chunk):
            i, b, who = (pair_row[start:start + per_chunk], pair_bg[start:start + per_chunk],
                         order[start:start + per_chunk])
            coalition = np.repeat(background[b][:, None, :], 2 ** d, axis=1)
            for player in range(int(d)):
                subsets = np.flatnonzero(bits[:, player])
                column = who[:, player]
                coalition[np.arange(len(i))[:, None], subsets[None, :], column[:, None]] = \
                    rows[i, column][:, None]
            proba = predict(coalition.reshape(-1, m))
            payoff = proba[np.arange(len(proba)), np.repeat(target[i], 2 ** d)]
            phi = payoff.reshape(len(i), 2 ** d) @ coefficients  # (pairs, d)
            np.add.at(values, (i[:, None], who), phi / k)
    return values, expected


def summarised_background(data: AuditData, size: int, seed: int) -> np.ndarray:
    """K-means medoids of the reference data: real rows, so categories stay valid."""
    source = data.reference_inputs
    source = np.asarray(source, dtype=np.float64)
    if len(source) <= size:
        return source
    km = KMeans(n_clusters=size, n_init=3, random_state=seed).fit(source)
    distances = ((source[:, None, :] - km.cluster_centers_[None]) ** 2).sum(-1) \
        if len(source) * size <= 2_000_000 else None
    if distances is None:
        return source[[int(np.argmin(((source - c) ** 2).sum(1))) for c in km.cluster_centers_]]
    return source[np.argmin(distances, axis=0)]


@register_check
@dataclass(frozen=True)
class ExplanationsShap(ExplanationCheck):
    """Shapley values of tabular features, one-hot groups as one feature.

    Parameters
    ----------
    background_size : int, default=20
        K-means medoids summarising the reference data.
    max_exact_features : int, default=16
        Above this many features, shap's Permutation explainer is used.
    max_evals : int, default=2000
        Model evaluations per row for the Permutation explainer.
    """

    name = "explanations_shap"
    # Relative cost (progress ETA): coalitions per sample, the slowest tabular explainer.
    cost = 15.0
    description = ("Shapley values (interventional SHAP over a summarised background; one-hot "
                   "columns of a feature explained together) with global importance, the "
                   "efficiency check, faithfulness and the sanity check.")
    requires = frozenset({"predict"})
    modalities = ("tabular",)
    order = 5
    method = "SHAP"
    pooling = "sum"
    shares = (*ExplanationCheck.shares, "explanations.shap_background")
    parameter_constraints = {**ExplanationCheck.parameter_constraints,
                             "background_size": POSITIVE_INT,
                             # exact values need 2^d coalitions of the d differing features
                             "max_exact_features": [Interval(Integral, 1, 20)],
                             "max_evals": POSITIVE_INT}

    n_samples: int = 64
    sensitivity_draws: int = 2
    # Each re-initialised copy is explained afresh, and this method is the family's slowest:
    # the sanity check is reported, not judged, unless n_randomisations is raised to 19.
    n_randomisations: int = 5
    cascade: bool = False
    background_size: int = 20
    max_exact_features: int = 16
    max_evals: int = 2000

    def prepare(self, model: ModelAdapter, data: AuditData,
                context: CheckContext) -> tuple[GroupSpace, np.ndarray]:
        """The feature groups and the summarised background, the same for every rerun."""
        space = GroupSpace(data)
        background = context.shared(
            "explanations.shap_background", (id(data), self.background_size),
            lambda: space.to_groups(summarised_background(data, self.background_size,
                                                          context.random_state)))
        return space, background

    def attribute(self, model: ModelAdapter, data: AuditData, X: np.ndarray,
                  target: np.ndarray, units: Units, *, seed: int, state: Any
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Shapley values of the explained class's probability, per feature."""
        space, background = state
        rows = space.to_groups(np.asarray(X, dtype=np.float32))

        def predict(Z: np.ndarray) -> np.ndarray:
            return model.predict_proba(space.from_groups(Z))

        if len(space.names) <= self.max_exact_features:
            values, expected = interventional_shapley(predict, rows, target, background)
        else:
            values, expected = self._permutation(predict, rows, target, background, seed)
        own = predict(rows)[np.arange(len(rows)), target]
        efficiency = np.abs(values.sum(axis=1) - (own - expected))
        return values, {"efficiency_error": efficiency}

    def _permutation(self, predict, rows, target, background, seed):  # noqa: ANN001, ANN202
        import shap

        masker = shap.maskers.Independent(background, max_samples=len(background))
        values = np.zeros(rows.shape)
        expected = np.zeros(len(rows))
        for cls in np.unique(target):
            chosen = np.flatnonzero(target == cls)
            explainer = shap.explainers.Permutation(lambda Z, c=cls: predict(Z)[:, c], masker,
                                                    seed=seed)
            out = explainer(rows[chosen], max_evals=self.max_evals, silent=True)
            values[chosen] = out.values
            expected[chosen] = out.base_values
        return values, expected
