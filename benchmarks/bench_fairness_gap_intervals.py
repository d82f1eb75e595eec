"""Coverage of bootstrap intervals of a max - min gap between groups: percentile, BC and basic.

The raw fairness gaps of ``fairness_disparities`` (information beside the
calibrated bounds the policy judges) carry percentile bootstrap intervals. A
max - min gap is biased upward, so bias-corrected intervals are the textbook
remedy; this script measures whether they cover the true gap more often, on
simulated groups with known rates (resampling each group's count, as the
check's bootstrap does).

    python benchmarks/bench_fairness_gap_intervals.py --sims 300
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import norm

from auditkit._stats import percentile_interval

SCENARIOS = [
    ((1000, 300, 60, 40), (0.30, 0.30, 0.30, 0.42)),
    ((1000, 300, 60, 40), (0.30, 0.30, 0.30, 0.60)),
    ((200, 200, 200, 200, 200), (0.30, 0.30, 0.35, 0.35, 0.40)),
    ((500, 500), (0.30, 0.40)),
    ((1000, 300, 60, 40), (0.30, 0.35, 0.40, 0.45)),
]


def bias_corrected_interval(samples: np.ndarray, estimate: float,
                            confidence: float) -> tuple[float, float]:
    """Bias-corrected (BC) percentile interval of bootstrap samples (Efron 1982).

    For a statistic whose bootstrap distribution is not centred on the
    estimate, such as a max - min gap between groups (biased upward), the
    percentile interval inherits the bias. BC reads the quantiles at
    ``Phi(2 z0 + z_a)`` and ``Phi(2 z0 + z_(1-a))``, where ``z0 = Phi^-1(share of
    resamples below the estimate, ties counting half)``; with no bias (z0 = 0)
    it is the percentile interval. Undefined (NaN) resamples are ignored.

    Parameters
    ----------
    samples : ndarray of shape (n_resamples,)
    estimate : float
        The statistic on the whole sample.
    confidence : float

    Returns
    -------
    tuple of float
        (lower, upper); NaN when no resample is defined.
    """
    finite = samples[np.isfinite(samples)]
    if finite.size == 0 or not np.isfinite(estimate):
        return (float("nan"), float("nan"))
    below = (np.count_nonzero(finite < estimate) + 0.5 * np.count_nonzero(finite == estimate))
    share = np.clip(below / finite.size, 0.5 / finite.size, 1.0 - 0.5 / finite.size)
    z0 = norm.ppf(share)
    alpha = (1.0 - confidence) / 2.0
    levels = norm.cdf(2.0 * z0 + norm.ppf([alpha, 1.0 - alpha]))
    low, high = np.quantile(finite, levels)
    return float(low), float(high)



def coverage(sizes, rates, *, sims: int, resamples: int, seed: int) -> tuple[float, ...]:
    """Share of simulations whose 95% interval holds the true gap: (BC, percentile, basic)."""
    rng = np.random.default_rng(seed)
    sizes, rates = np.asarray(sizes), np.asarray(rates)
    true = rates.max() - rates.min()
    hits = np.zeros(3)
    for _ in range(sims):
        observed = rng.binomial(sizes, rates) / sizes
        estimate = observed.max() - observed.min()
        boot = rng.binomial(sizes, observed, size=(resamples, len(sizes))) / sizes
        gaps = boot.max(axis=1) - boot.min(axis=1)
        low, high = bias_corrected_interval(gaps, estimate, 0.95)
        hits[0] += low <= true <= high
        low, high = percentile_interval(gaps, 0.95)
        hits[1] += low <= true <= high
        hits[2] += 2 * estimate - high <= true <= 2 * estimate - low
    return tuple(hits / sims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=300)
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'group sizes':<28}{'rates':<34}{'BC':>7}{'percentile':>12}{'basic':>8}")
    for sizes, rates in SCENARIOS:
        bc, pct, basic = coverage(sizes, rates, sims=args.sims, resamples=args.resamples,
                                  seed=args.seed)
        print(f"{str(sizes):<28}{str(rates):<34}{bc:>7.3f}{pct:>12.3f}{basic:>8.3f}")


if __name__ == "__main__":
    main()
