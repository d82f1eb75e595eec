"""Bootstrap intervals of the fairness metrics: auditkit against fairlearn's own bootstrap.

fairlearn's ``MetricFrame(..., n_boot=..., ci_quantiles=...)`` resamples the
rows and rebuilds the whole MetricFrame per resample. auditkit gives every row
a Poisson(1) weight per resample and, block of rows by block of rows, gets the
(TN, FP, FN, TP) sums of every group of every sensitive feature and
intersection from one sparse product, then every rate and disparity from
those sums.

The work: adult-mlp on the first 15,000 rows of the Adult test split, three
sensitive features (sex, race, and age cut into quartiles) and their four
intersections; rates per group (selection rate, accuracy, TPR, FPR, FNR,
precision, base rate) and the disparities, 1,000 resamples. fairlearn's
bootstrap is timed on fewer resamples (its cost is linear in them) and
scaled to the same number.

Run: python benchmarks/bench_fairness_bootstrap.py [--resamples 1000] [--fairlearn-resamples 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from auditkit import AuditData, CheckContext, get_check, wrap_model, zoo

N_ROWS = 15_000


def fairlearn_bootstrap(y: np.ndarray, predicted: np.ndarray, sensitive: pd.DataFrame,
                        n_boot: int) -> float:
    """Seconds of MetricFrame's resamples over every feature and intersection."""
    import itertools

    metrics = {"selection_rate": selection_rate, "accuracy": accuracy_score,
               "tpr": true_positive_rate, "fpr": false_positive_rate,
               "fnr": false_negative_rate,
               "precision": lambda t, p: precision_score(t, p, zero_division=0),
               "base_rate": lambda t, p: float(np.mean(t))}
    columns = list(sensitive.columns)
    combos = [list(c) for size in range(1, len(columns) + 1)
              for c in itertools.combinations(columns, size)]
    def run(boot: int | None) -> float:
        start = time.perf_counter()
        for combo in combos:
            frame = MetricFrame(metrics=metrics, y_true=y, y_pred=predicted,
                                sensitive_features=sensitive[combo], n_boot=boot,
                                ci_quantiles=[0.025, 0.975] if boot else None, random_state=0)
            if boot:
                frame.difference_ci()
        return time.perf_counter() - start

    # the resamples only: MetricFrame's own point estimates are subtracted
    return run(n_boot) - run(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--fairlearn-resamples", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    model, full = zoo.load("adult-mlp")
    sensitive = full.sensitive.iloc[:N_ROWS].reset_index(drop=True).copy()
    sensitive["age"] = full.X[:N_ROWS, 0]  # standardised age: continuous, cut into quartiles
    data = AuditData(full.X[:N_ROWS], full.y[:N_ROWS], sensitive=sensitive)
    adapter = wrap_model(model)
    proba = adapter.predict_proba(data.X)
    predicted = np.asarray(proba).argmax(axis=1)

    def fresh_context() -> CheckContext:
        """A context whose model outputs are already computed: the model's time is not ours."""
        context = CheckContext(random_state=0)
        context.test_proba(adapter, data)
        return context

    def both_checks(n_resamples: int) -> tuple[float, dict]:
        context = fresh_context()
        options = {"n_resamples": n_resamples, "min_group_size": 1}
        start = time.perf_counter()
        results = {name: get_check(name, **options).run(adapter, data, context=context)
                   for name in ("fairness_group_metrics", "fairness_disparities")}
        return time.perf_counter() - start, results

    ours, results = both_checks(args.resamples)
    groups, disparities = results["fairness_group_metrics"], results["fairness_disparities"]
    n_groups = sum(len(t) for t in (groups.tables["groups"], groups.tables["intersections"]))
    n_sets = groups.tables["groups"].index.get_level_values("sensitive_feature").nunique() + \
        groups.tables["intersections"].index.get_level_values("sensitive_feature").nunique()
    # the bootstrap alone: the same checks without resamples, subtracted
    points_only, _ = both_checks(0)
    boot_only = ours - points_only

    warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)  # fairlearn's quantiles
    theirs_sample = fairlearn_bootstrap(data.y, predicted, data.sensitive.astype(str),
                                        args.fairlearn_resamples)
    theirs = theirs_sample * args.resamples / args.fairlearn_resamples

    print(f"{N_ROWS:,} rows; {n_sets} group sets (3 features and their intersections), "
          f"{n_groups} groups; {args.resamples} resamples")
    print(f"auditkit, both fairness checks (point estimates by fairlearn + intervals + tests): "
          f"{ours:.2f} s")
    print(f"auditkit, the bootstrap alone (with resamples minus without): {boot_only:.2f} s")
    print(f"fairlearn MetricFrame bootstrap: {theirs_sample:.1f} s for "
          f"{args.fairlearn_resamples} resamples -> {theirs:.0f} s for {args.resamples}")
    print(f"ratio (fairlearn / auditkit checks): {theirs / ours:.0f}x")
    headline = disparities.metrics["demographic_parity_difference"]
    print(f"demographic parity difference (worst feature): {headline.value:.3f} "
          f"[{headline.lower:.3f}, {headline.upper:.3f}]")


if __name__ == "__main__":
    main()
