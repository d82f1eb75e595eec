"""Explanations: the statistics of the model-randomisation sanity check.

A diagnostic of the explanation *method*, not a finding about the model
(Adebayo et al. 2018). The method explains the same samples for the trained
model and for ``R`` copies with re-initialised weights. Two unrelated models'
explanations agree by chance, and by how much depends on the data, the
architecture and the number of units, so a single correlation with one copy
is not evidence. The question asked here is whether the trained model's
explanation agrees with the random copies *more* than the copies agree with
one another.

Under the null hypothesis that the trained model is, for the method, one more
unrelated model, the ``R + 1`` models are exchangeable. Each model's score is
its mean rank correlation with the other ``R``; the share of the random copies
that score at least as high as the trained model is then at most ``q`` with
probability at most ``(floor(q R) + 1) / (R + 1)``: the test's false-alarm
rate is exact. Copies within :data:`MARGIN` of the trained model's score count
as at or above it, so that only an excess that matters is judged (the test
stays valid, and becomes conservative). It can only reach a level ``a`` when
``R + 1 >= 1 / a``, and it cannot tell the two apart when the copies'
explanations already agree perfectly (a method that ignores the weights); the
share is then not reported, so the policy does not judge it. (The explained
samples and classes are chosen by the trained model's predictions, so the
exchangeability is that of the weights given those samples.)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

__all__ = ["MARGIN", "SANITY_LEVEL", "Sanity"]

#: The lowest share the test must be able to reach to be judged (the default policy's FAIL
#: level): with ``R`` re-initialisations the smallest attainable level is ``1 / (R + 1)``.
SANITY_LEVEL = 0.05

#: Correlations this close to 1 count as perfect agreement (no room above the null).
_TOLERANCE = 1e-9

#: An excess agreement of the trained model over the copies smaller than this is not a
#: finding: the share counts the copies within this margin of the trained model as at or
#: above it, which only makes the test more conservative. With many copies a tiny, real
#: excess (0.04 for occlusion on mnist-cnn) would otherwise be significant.
MARGIN = 0.1

NO_POWER_DRAWS = ("not judged: with {r} re-initialisations the test cannot reach the "
                  "{level:.0%} level (it needs {needed})")
NO_POWER_DEGENERATE = ("the permutation test cannot tell trained from random: explanations "
                       "of unrelated random copies already agree perfectly, so the method's "
                       "explanations do not depend on the weights")
NO_POWER_CONSTANT = ("not judged: some models give constant explanations, which have no rank "
                     "correlation")


def _nanmean(values: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    with warnings.catch_warnings():  # a row of NaN (constant attributions) has no mean
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


@dataclass(frozen=True)
class Sanity:
    """Rank agreement between the trained model's explanations and random copies'.

    Attributes
    ----------
    agreement : ndarray of shape (R + 1, R + 1)
        Mean (over the explained samples) Spearman correlation between the
        explanations of models ``i`` and ``k``; model 0 is the trained one,
        the others are fully re-initialised copies. The diagonal is NaN.
    cascade : DataFrame or None
        Rank correlation with copies whose top ``k`` layers are re-initialised,
        one row per ``k`` (cascading randomisation), or None.
    """

    agreement: np.ndarray
    cascade: pd.DataFrame | None = None

    @property
    def n_randomisations(self) -> int:
        """How many re-initialised copies were explained."""
        return len(self.agreement) - 1

    @property
    def trained(self) -> np.ndarray:
        """Correlation of the trained model's explanations with each copy's, shape (R,)."""
        return self.agreement[0, 1:]

    @property
    def null(self) -> np.ndarray:
        """Correlations between the copies' explanations, one per pair."""
        upper = np.triu_indices(self.n_randomisations, 1)
        return self.agreement[1:, 1:][upper]

    def scores(self) -> np.ndarray:
        """Each model's mean correlation with the others, shape (R + 1,)."""
        return np.asarray(_nanmean(self.agreement, axis=1))

    def trained_interval(self, confidence: float = 0.95) -> tuple[float | None, float | None]:
        """Student-t interval of the mean correlation with a random copy, over the copies."""
        values = self.trained[np.isfinite(self.trained)]
        if len(values) < 2:
            return None, None
        half = (student_t.ppf((1 + confidence) / 2, len(values) - 1) *
                values.std(ddof=1) / np.sqrt(len(values)))
        return float(values.mean() - half), float(values.mean() + half)

    def null_range(self, confidence: float = 0.95) -> tuple[float | None, float | None]:
        """The central ``confidence`` range of the random-vs-random correlations."""
        values = self.null[np.isfinite(self.null)]
        if not len(values):
            return None, None
        tail = (1 - confidence) / 2
        low, high = np.quantile(values, [tail, 1 - tail])
        return float(low), float(high)

    def null_share(self) -> float:
        """Share of the copies that agree with the others nearly as much as the trained model.

        A copy counts when its score is at least the trained model's less
        :data:`MARGIN`. Small values mean the trained model's explanations
        survive re-initialisation better than unrelated models agree. NaN when
        the trained model's score is undefined.
        """
        scores = self.scores()
        others = scores[1:][np.isfinite(scores[1:])]
        if not np.isfinite(scores[0]) or not len(others):
            return float("nan")
        return float(np.mean(others >= scores[0] - MARGIN - _TOLERANCE))

    def why_not_judged(self, level: float = SANITY_LEVEL) -> str | None:
        """Why the test cannot tell trained from random here, or None when it can."""
        r = self.n_randomisations
        if (r + 1) * level < 1 - _TOLERANCE:
            return NO_POWER_DRAWS.format(r=r, level=level, needed=int(np.ceil(1 / level)) - 1)
        scores = self.scores()
        if not np.isfinite(scores).all():
            return NO_POWER_CONSTANT
        if np.min(scores[1:]) >= 1 - _TOLERANCE:
            return NO_POWER_DEGENERATE
        return None
