"""Tabular Shapley values: auditkit's explanations_shap against shap.KernelExplainer.

Both explain the adult-mlp's predicted class on the same Adult test rows with
the same summarised background (20 k-means medoids of the reference data).
auditkit computes exact interventional Shapley values of the 12 original
features (one-hot columns grouped); KernelExplainer runs at its defaults
(nsamples = 2 * M + 2048), once on the same 12 grouped features and once on the
91 encoded columns (summed per feature afterwards), as most users call it.
Accuracy is measured against shap's own Exact explainer on a subset of rows.

Run: python benchmarks/bench_shap.py [--rows 1000] [--reference-rows 50]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import shap
import torch

from auditkit import CheckContext, wrap_model, zoo
from auditkit.checks.explanations import ExplanationsShap, interventional_shapley

warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--reference-rows", type=int, default=50)
    parser.add_argument("--kernel-rows", type=int, default=None,
                        help="rows for KernelExplainer (default: all); its time is scaled up")
    args = parser.parse_args()
    torch.set_num_threads(1)

    model, data = zoo.load("adult-mlp")
    adapter = wrap_model(model, batch_size=8192)
    # The check's own feature groups and background (k-means medoids, seed 0).
    space, background = ExplanationsShap(background_size=20).prepare(
        adapter, data, CheckContext(random_state=0))
    background_rows = space.from_groups(background)
    X = np.asarray(data.X[: args.rows], dtype=np.float32)
    rows = space.to_groups(X)

    def predict(Z: np.ndarray) -> np.ndarray:
        return adapter.predict_proba(space.from_groups(Z))

    target = adapter.predict_proba(X).argmax(1)
    sign = np.where(target == 1, 1.0, -1.0)[:, None]  # explain the predicted class

    started = time.perf_counter()
    ours, _ = interventional_shapley(predict, rows, target, background)
    ours_s = time.perf_counter() - started

    kernel_rows = args.kernel_rows or args.rows
    started = time.perf_counter()
    kernel = shap.KernelExplainer(lambda Z: predict(Z)[:, 1], background)
    kernel_values = np.asarray(kernel.shap_values(rows[:kernel_rows], silent=True)) * \
        sign[:kernel_rows]
    kernel_s = (time.perf_counter() - started) * args.rows / kernel_rows

    started = time.perf_counter()
    onehot = shap.KernelExplainer(lambda A: adapter.predict_proba(A.astype(np.float32))[:, 1],
                                  background_rows)
    onehot_rows = min(kernel_rows, 100)
    columns = np.asarray(onehot.shap_values(X[:onehot_rows], silent=True))
    onehot_s = (time.perf_counter() - started) * args.rows / onehot_rows
    onehot_values = np.column_stack([columns[:, c].sum(axis=1) for c in space.columns]) * \
        sign[:onehot_rows]

    n_ref = min(args.reference_rows, onehot_rows, kernel_rows)
    exact = shap.explainers.Exact(lambda Z: predict(Z)[:, 1],
                                  shap.maskers.Independent(background, max_samples=20))
    reference = exact(rows[:n_ref], silent=True).values * sign[:n_ref]

    def error(values: np.ndarray) -> float:
        return float(np.abs(values[:n_ref] - reference).mean())

    scale = float(np.abs(reference).mean())
    print(f"rows={args.rows}, features={len(space.names)}, background=20 medoids, "
          f"accuracy against shap Exact on {n_ref} rows (mean |SHAP| {scale:.4f})")
    print(f"{'method':<44}{'time (s)':>10}{'ratio':>8}{'mean abs error':>16}")
    print(f"{'auditkit explanations_shap (exact)':<44}{ours_s:>10.1f}{1.0:>8.1f}"
          f"{error(ours):>16.2e}")
    print(f"{'shap.KernelExplainer, grouped features':<44}{kernel_s:>10.1f}"
          f"{kernel_s / ours_s:>8.1f}{error(kernel_values):>16.2e}")
    print(f"{'shap.KernelExplainer, one-hot columns':<44}{onehot_s:>10.1f}"
          f"{onehot_s / ours_s:>8.1f}{error(onehot_values):>16.2e}")
    if kernel_rows < args.rows or onehot_rows < args.rows:
        print(f"(KernelExplainer times measured on {kernel_rows} and {onehot_rows} rows and "
              f"scaled to {args.rows})")


if __name__ == "__main__":
    main()
