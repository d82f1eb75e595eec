"""Privacy: lower bounds on the differential-privacy epsilon from an attack on canaries.

Two bounds, each at a stated confidence:

* **One-run auditing** (Steinke, Nasr & Jagielski 2023, "Privacy Auditing with
  One (1) Training Run", Algorithm 2 / Theorem 3.1). ``m`` canaries, each put
  in training independently with probability 1/2; the auditor guesses IN for
  the ``k+`` highest scores and OUT for the ``k-`` lowest, abstains on the
  rest, and gets ``v`` of ``r = k+ + k-`` guesses right. Under
  (epsilon, delta)-DP, ``P[correct >= v] <= P[Binomial(r, q) >= v] + 2 m delta
  max_{1<=i<=v} P[v > Binomial(r, q) >= v - i] / i`` with
  ``q = e^eps / (1 + e^eps)``; the bound is the largest epsilon whose
  p-value stays below ``1 - confidence``.
* **Classic** (Jagielski et al. 2020; Nasr et al. 2021): an attack with rates
  TPR and FPR on (epsilon, delta)-DP training has ``TPR <= e^eps FPR + delta``
  and ``1 - FPR <= e^eps (1 - TPR) + delta``, so
  ``eps >= log((TPR_lo - delta) / FPR_hi)`` with one-sided Clopper-Pearson
  bounds (and the symmetric form).

Several guesses or thresholds are tried; each is tested at ``(1 - confidence)
/ n_tries`` (Bonferroni), so the maximum over them keeps its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import binom

__all__ = ["EpsilonBound", "classic_epsilon", "one_run_epsilon", "one_run_epsilon_bound",
           "one_run_p_value"]


def one_run_p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Probability of at least ``v`` correct guesses out of ``r`` under (epsilon, delta)-DP.

    Steinke, Nasr & Jagielski (2023), Theorem 3.1 as computed by their
    Algorithm 2.

    Parameters
    ----------
    m : int
        Number of canaries (each included with probability 1/2).
    r : int
        Number of guesses (abstentions excluded).
    v : int
        Number of correct guesses.
    epsilon : float
    delta : float

    Returns
    -------
    float
        The p-value, at most 1.
    """
    q = 1.0 / (1.0 + np.exp(-epsilon))
    tail = float(binom.sf(v - 1, r, q))
    if delta == 0 or v == 0:
        return min(tail, 1.0)
    # P[v > B >= v - i] for i = 1..v, divided by i; the worst i is kept
    below = binom.pmf(np.arange(v - 1, -1, -1), r, q).cumsum()
    alpha = float(np.max(below / np.arange(1, v + 1)))
    return min(tail + alpha * delta * 2 * m, 1.0)


def one_run_epsilon(m: int, r: int, v: int, *, delta: float, significance: float,
                    upper: float = 50.0) -> float:
    """The largest epsilon at which ``v`` correct of ``r`` guesses is still significant.

    Bisection on the p-value (increasing in epsilon) to 1e-6.

    Returns
    -------
    float
        0 when even epsilon = 0 cannot be rejected.

    Examples
    --------
    >>> round(one_run_epsilon(1000, 100, 100, delta=0.0, significance=0.05), 2)
    3.49
    """
    if r == 0 or one_run_p_value(m, r, v, 0.0, delta) >= significance:
        return 0.0
    low, high = 0.0, upper
    if one_run_p_value(m, r, v, high, delta) < significance:
        return high
    while high - low > 1e-6:
        mid = (low + high) / 2
        if one_run_p_value(m, r, v, mid, delta) < significance:
            low = mid
        else:
            high = mid
    return low


@dataclass(frozen=True)
class EpsilonBound:
    """A lower bound on epsilon and the guess (or threshold) that achieved it.

    Attributes
    ----------
    epsilon : float
    n_tries : int
        Guesses or thresholds tried (the Bonferroni factor).
    detail : dict
        For one-run: ``k_plus, k_minus, guesses, correct``; for classic:
        ``tpr, fpr, tpr_lower, fpr_upper, threshold``.
    """

    epsilon: float
    n_tries: int
    detail: dict


def _one_sided_lower(k: np.ndarray, n: int, alpha: float) -> np.ndarray:
    return np.where(k > 0, beta_dist.ppf(alpha, np.maximum(k, 1), n - k + 1), 0.0)


def _one_sided_upper(k: np.ndarray, n: int, alpha: float) -> np.ndarray:
    return np.where(k < n, beta_dist.ppf(1 - alpha, k + 1, np.maximum(n - k, 1)), 1.0)


def classic_epsilon(scores: np.ndarray, included: np.ndarray, *, delta: float,
                    confidence: float, fprs: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5)
                    ) -> EpsilonBound:
    """The classic bound from TPR and FPR, maximised over a fixed set of thresholds.

    Thresholds are set on the held-out canaries at each of ``fprs`` (fixed
    in advance; 0 puts it at the highest held-out score); each of the
    ``2 * len(fprs)`` one-sided Clopper-Pearson bounds is at
    ``(1 - confidence) / (2 * len(fprs))``.

    Parameters
    ----------
    scores : ndarray of shape (m,)
    included : bool ndarray of shape (m,)
    delta : float
    confidence : float
    fprs : tuple of float

    Returns
    -------
    EpsilonBound
    """
    scores = np.asarray(scores, dtype=np.float64)
    included = np.asarray(included, dtype=bool)
    inside, outside = scores[included], scores[~included]
    n_in, n_out = len(inside), len(outside)
    alpha = (1.0 - confidence) / (2 * len(fprs))
    ordered = np.sort(outside)[::-1]
    allowed = np.minimum(np.floor(np.asarray(fprs) * n_out + 1e-9).astype(int), n_out - 1)
    thresholds = ordered[allowed]
    tp = (inside[None] > thresholds[:, None]).sum(axis=1)
    fp = (outside[None] > thresholds[:, None]).sum(axis=1)
    tpr_lo, fpr_hi = _one_sided_lower(tp, n_in, alpha), _one_sided_upper(fp, n_out, alpha)
    fnr_hi, tnr_lo = 1.0 - tpr_lo, 1.0 - fpr_hi
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log(np.maximum(tpr_lo - delta, 0.0) / fpr_hi)
        mirrored = np.log(np.maximum(tnr_lo - delta, 0.0) / fnr_hi)
    both = np.nan_to_num(np.maximum(direct, mirrored), nan=0.0, neginf=0.0)
    best = int(np.argmax(both))
    return EpsilonBound(max(float(both[best]), 0.0), 2 * len(fprs), {
        "tpr": tp[best] / n_in, "fpr": fp[best] / n_out, "tpr_lower": float(tpr_lo[best]),
        "fpr_upper": float(fpr_hi[best]), "threshold": float(thresholds[best]),
        "target_fpr": float(fprs[best])})


def one_run_epsilon_bound(scores: np.ndarray, included: np.ndarray, *, delta: float,
                          confidence: float,
                          fractions: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5),
                          rng: np.random.Generator | None = None) -> EpsilonBound:
    """The one-run bound, maximised over a fixed set of guess sizes (Bonferroni).

    For each fraction ``f`` two guesses are tried: IN for the top ``f * m``
    scores only, and IN for the top ``f * m / 2`` with OUT for the bottom
    ``f * m / 2``.

    Parameters
    ----------
    scores : ndarray of shape (m,)
    included : bool ndarray of shape (m,)
    delta : float
    confidence : float
    fractions : tuple of float
    rng : numpy Generator, optional
        Breaks ties between equal scores at random (a label-only score has
        many); without it, ties keep the canaries' order.

    Returns
    -------
    EpsilonBound
    """
    scores = np.asarray(scores, dtype=np.float64)
    included = np.asarray(included, dtype=bool)
    m = len(scores)
    tie_break = rng.random(m) if rng is not None else np.arange(m)
    order = np.lexsort((tie_break, -scores))
    hits_top = np.cumsum(included[order])            # correct IN guesses among the top k
    hits_bottom = np.cumsum(~included[order[::-1]])  # correct OUT guesses among the bottom k
    guesses = []
    for f in fractions:
        k = max(int(round(f * m)), 1)
        guesses.append((k, 0))
        half = max(k // 2, 1)
        guesses.append((half, half))
    significance = (1.0 - confidence) / len(guesses)
    best = EpsilonBound(0.0, len(guesses), {"k_plus": 0, "k_minus": 0, "guesses": 0,
                                            "correct": 0})
    for k_plus, k_minus in guesses:
        if k_plus + k_minus > m:
            continue
        correct = int(hits_top[k_plus - 1] if k_plus else 0) + int(
            hits_bottom[k_minus - 1] if k_minus else 0)
        epsilon = one_run_epsilon(m, k_plus + k_minus, correct, delta=delta,
                                  significance=significance)
        if epsilon > best.epsilon or best.detail["guesses"] == 0:
            best = EpsilonBound(epsilon, len(guesses), {
                "k_plus": k_plus, "k_minus": k_minus, "guesses": k_plus + k_minus,
                "correct": correct})
    return best
