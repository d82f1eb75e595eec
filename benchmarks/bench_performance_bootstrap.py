"""Bootstrap intervals of the performance metrics: auditkit against a scikit-learn loop.

The usual way to bootstrap a metric is a Python loop that resamples indices
and calls the scikit-learn metric each time. auditkit gives every row a
Poisson(1) weight per resample, computed in blocks of rows, and folds each
metric from weighted sums (the AUC in score order). This script times both on
the same predictions (adult-mlp on the Adult test split, 16,281 rows) for the
same number of resamples, and checks that the intervals agree (they are two
different bootstraps of the same statistic, so they agree to resampling noise).

Run: python benchmarks/bench_performance_bootstrap.py [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn import metrics as skm

from auditkit import audit, wrap_model, zoo
from auditkit.checks import PerformanceMetrics


def sklearn_loop(y: np.ndarray, proba: np.ndarray, n_resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    names = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "brier_score")
    samples = {name: np.empty(n_resamples) for name in names}
    predicted = proba.argmax(1)
    for r in range(n_resamples):
        idx = rng.integers(0, len(y), len(y))
        yt, yp, pp = y[idx], predicted[idx], proba[idx]
        samples["accuracy"][r] = skm.accuracy_score(yt, yp)
        samples["balanced_accuracy"][r] = skm.balanced_accuracy_score(yt, yp)
        samples["f1_macro"][r] = skm.f1_score(yt, yp, average="macro")
        samples["roc_auc"][r] = skm.roc_auc_score(yt, pp[:, 1])
        samples["log_loss"][r] = skm.log_loss(yt, pp, labels=[0, 1])
        samples["brier_score"][r] = skm.brier_score_loss(yt, pp[:, 1])
    return {k: np.percentile(v, [2.5, 97.5]) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    model, data = zoo.load("adult-mlp")
    adapter = wrap_model(model)
    proba = adapter.predict_proba(data.X)
    y = np.asarray(data.y)

    check = PerformanceMetrics(n_resamples=args.resamples)
    audit(adapter, data, checks=[PerformanceMetrics(n_resamples=10)], progress=False)  # warm-up
    started = time.perf_counter()
    ours = audit(adapter, data, checks=[check], progress=False)["performance_metrics"]
    ours_s = time.perf_counter() - started  # includes the model call and point estimates

    started = time.perf_counter()
    loop = sklearn_loop(y, proba, args.resamples, seed=0)
    loop_s = time.perf_counter() - started

    print(f"rows={len(y)} resamples={args.resamples}")
    print(f"auditkit performance_metrics (8 metrics, intervals): {ours_s:.2f} s")
    print(f"scikit-learn loop (6 metrics, intervals):            {loop_s:.2f} s")
    print(f"speed-up: {loop_s / ours_s:.1f}x")
    print(f"{'metric':<18} {'auditkit interval':>24} {'sklearn-loop interval':>24}")
    for name, (low, high) in loop.items():
        metric = ours.metrics[name]
        print(f"{name:<18} [{metric.lower:.4f}, {metric.upper:.4f}]".ljust(44)
              + f"[{low:.4f}, {high:.4f}]")


if __name__ == "__main__":
    main()
