"""False alarms of the fairness verdicts: simulated models that treat every group alike.

Each scenario draws labels with the same base rate in every group and
predictions with the same error rates in every group, so every true
disparity is 0, then runs ``fairness_disparities`` and judges it with the
default policy. It counts how often

- the raw demographic parity difference reaches the WARN level (0.1),
- the old rules (the raw point values judged at 0.1 / 0.2 and the four-fifths
  rule) give WARN or FAIL,
- the default policy (simultaneous bounds) gives WARN or FAIL,

whose rate should stay at or under ``1 - confidence`` (5%). More scenarios
check the boundary and the power: with selection rates exactly 0.1 apart,
the judged demographic parity bound should reach 0.1 at most 5% of the time
(the other verdicts there are true findings: a random extra selection also
raises that group's false positive rate by more than 0.1 and its ratio falls
under four fifths, see the "true" columns); groups 0.3 apart should FAIL.

Run: python benchmarks/bench_fairness_false_alarms.py [--reps 200] [--seed 0]

Measured with the defaults (200 samples per scenario, seed 0; about 0.1 to 0.3 s a run):

    scenario | true DP/EO/DI | raw DP>=0.1 | old flags | new WARN | new FAIL | DP bound>=0.1
    equal 1000/300/60/40 | 0.00/0.00/1.00 | 39.0% | 91.5% | 0.0% | 1.0% | 0.5%
    equal 500/500 | 0.00/0.00/1.00 | 0.0% | 6.5% | 0.0% | 0.0% | 0.0%
    equal 5 x 200 | 0.00/0.00/1.00 | 21.5% | 85.0% | 0.0% | 0.0% | 0.0%
    equal 2000/100/35/35 | 0.00/0.00/1.00 | 62.0% | 98.0% | 0.0% | 0.0% | 0.0%
    equal 2 features + intersections | 0.00/0.00/1.00 | 4.0% | 42.0% | 0.0% | 0.0% | 0.0%
    gap 0.1 (at WARN level), 300/60 | 0.10/0.13/0.77 | 52.5% | 82.5% | 1.5% | 5.5% | 3.0%
    gap 0.1 (at WARN level), 2000/2000 | 0.10/0.13/0.77 | 45.0% | 97.5% | 19.0% | 12.0% | 1.0%
    gap 0.3, 1000/300/60/40 | 0.30/0.38/0.52 | 100.0% | 100.0% | 0.0% | 100.0% | 100.0%
    gap 0.3, 1000/300/60/40 (in the 40) | 0.30/0.38/0.52 | 100.0% | 100.0% | 3.0% | 79.0% | 57.0%
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from auditkit import AuditData, CheckContext, Policy, Status, get_check, wrap_model

#: name -> (sizes per feature, true selection-rate gap of each group of the first feature)
SCENARIOS = {
    "equal 1000/300/60/40": ([(1000, 300, 60, 40)], None),
    "equal 500/500": ([(500, 500)], None),
    "equal 5 x 200": ([(200,) * 5], None),
    "equal 2000/100/35/35": ([(2000, 100, 35, 35)], None),
    "equal 2 features + intersections": ([(700, 300), (600, 250, 150)], None),
    "gap 0.1 (at WARN level), 300/60": ([(300, 60)], (0.0, 0.1)),
    "gap 0.1 (at WARN level), 2000/2000": ([(2000, 2000)], (0.0, 0.1)),
    "gap 0.3, 1000/300/60/40": ([(1000, 300, 60, 40)], (0.0, 0.3, 0.0, 0.0)),
    "gap 0.3, 1000/300/60/40 (in the 40)": ([(1000, 300, 60, 40)], (0.0, 0.0, 0.0, 0.3)),
}
_BASE_RATE, _TPR, _FPR = 0.3, 0.75, 0.15
_SELECTION = _BASE_RATE * _TPR + (1 - _BASE_RATE) * _FPR
_OLD_RULES = (("demographic_parity_difference", "lower_is_better", 0.1, 0.2),
              ("equalized_odds_difference", "lower_is_better", 0.1, 0.2),
              ("disparate_impact_ratio", "higher_is_better", None, 0.8))


def _model(X: np.ndarray) -> np.ndarray:
    # The simulated prediction travels in the only column of X.
    return np.hstack([1.0 - X, X])


def _draw(rng: np.random.Generator, sizes: list[tuple[int, ...]],
          shift: tuple[float, ...] | None) -> AuditData:
    n = sum(sizes[0])
    first = np.repeat(np.arange(len(sizes[0])), sizes[0])
    sensitive = {"f0": np.asarray([f"g{g}" for g in first])}
    for i, other in enumerate(sizes[1:], start=1):
        codes = rng.permutation(np.repeat(np.arange(len(other)), other))
        sensitive[f"f{i}"] = np.asarray([f"h{g}" for g in codes])
    y = rng.random(n) < _BASE_RATE
    # Same TPR and FPR in every group; a gap adds positive predictions at random.
    predicted = np.where(y, rng.random(n) < _TPR, rng.random(n) < _FPR)
    if shift is not None:
        extra = rng.random(n) < np.asarray(shift)[first] / (1 - _SELECTION)
        predicted = predicted | extra
    X = np.where(predicted, 0.9, 0.1)[:, None]
    return AuditData(X, y.astype(np.int64), sensitive=sensitive)


def _truth(shift: tuple[float, ...] | None) -> str:
    """The true demographic parity and equalized odds differences and impact ratio."""
    gap = max(shift) if shift else 0.0
    extra = gap / (1 - _SELECTION)  # the added selection probability of the shifted group
    equalized_odds = (1 - _FPR) * extra  # its FPR moves more than its TPR
    return f"{gap:.2f}/{equalized_odds:.2f}/{_SELECTION / (_SELECTION + gap):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policy, old = Policy.default(), Policy.default()
    for metric, direction, warn, fail in _OLD_RULES:
        old = old.with_rule("fairness_disparities", metric, direction=direction, warn=warn,
                            fail=fail)
    old_metrics = {m for m, *_ in _OLD_RULES}
    check = get_check("fairness_disparities", n_resamples=0)
    model = wrap_model(_model)
    print(f"{'scenario':<38} {'true DP/EO/DI':>15} {'raw DP>=0.1':>11} {'old flags':>9} "
          f"{'new WARN':>8} {'new FAIL':>8} {'DP bound>=0.1':>13} {'s/run':>6}")
    for name, (sizes, shift) in SCENARIOS.items():
        rng = np.random.default_rng([args.seed, len(name)])
        raw = old_flags = warn = fail = dp_bound = 0
        start = time.perf_counter()
        for rep in range(args.reps):
            result = check.run(model, _draw(rng, sizes, shift),
                               context=CheckContext(random_state=rep))
            raw += result.metrics["demographic_parity_difference"].value >= 0.1
            judged_old = old.judge(result)
            old_status = max((t.status for t in judged_old.thresholds
                              if t.metric in old_metrics), key=lambda s: s.severity)
            old_flags += old_status in (Status.WARN, Status.FAIL)
            dp_bound += result.metrics["demographic_parity_difference_lower_bound"].value >= 0.1
            status = policy.judge(result).status
            warn += status is Status.WARN
            fail += status is Status.FAIL
        seconds = (time.perf_counter() - start) / args.reps
        print(f"{name:<38} {_truth(shift):>15} {raw / args.reps:>11.1%} "
              f"{old_flags / args.reps:>9.1%} {warn / args.reps:>8.1%} {fail / args.reps:>8.1%} "
              f"{dp_bound / args.reps:>13.1%} {seconds:>6.2f}")


if __name__ == "__main__":
    main()
