"""Integrated Gradients through auditkit against calling captum directly.

Same model, inputs, baseline, target, number of steps and outputs (attributions
and convergence delta): auditkit's
explanations_integrated_gradients attribution step (the adapter, its
device handling and eval-mode context, batches through the executor) against
captum's IntegratedGradients on the bare module. The ratio should stay within 1.1.

Run: python benchmarks/bench_integrated_gradients.py [--model adult-mlp] [--rows 512]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from captum.attr import IntegratedGradients

from auditkit import CheckContext, wrap_model, zoo
from auditkit.checks.explanations import ExplanationsIntegratedGradients

#: Rows per captum pass (``internal_batch_size``), as auditkit's captum calls use.
INTERNAL_BATCH = 256


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="adult-mlp")
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # steadier timings on a shared machine

    module, data = zoo.load(args.model)
    adapter = wrap_model(module, device="cpu")
    X = np.array(data.X[: args.rows])  # a writable copy, for torch.from_numpy
    target = adapter.predict_proba(X).argmax(1)
    check = ExplanationsIntegratedGradients(n_steps=args.steps, n_samples=1)
    # How the check groups and masks this model's inputs (its baseline among them).
    units = check.attributions(adapter, data, CheckContext(random_state=0)).units

    def through_auditkit() -> np.ndarray:
        return check.attribute_many(adapter, data, X, target, units, CheckContext(random_state=0),
                                    None)[0]

    inputs = torch.from_numpy(np.ascontiguousarray(X)).float()
    baselines = torch.from_numpy(units.baseline(X)).float()
    targets = torch.from_numpy(target)

    def forward(x: torch.Tensor) -> torch.Tensor:  # the same two-column logits
        z = module(x)
        return torch.cat([-0.5 * z, 0.5 * z], dim=1) if z.shape[1] == 1 else z

    method = IntegratedGradients(forward)
    module.eval()

    def direct() -> np.ndarray:  # with the convergence delta, which auditkit reports too
        attributions, _ = method.attribute(inputs, baselines=baselines, target=targets,
                                           n_steps=args.steps, internal_batch_size=INTERNAL_BATCH,
                                           return_convergence_delta=True)
        return attributions.detach().numpy()

    np.testing.assert_allclose(through_auditkit(), direct(), rtol=1e-4, atol=1e-6)
    ours, theirs = best_of(through_auditkit, args.repeats), best_of(direct, args.repeats)
    print(f"model={args.model} rows={args.rows} steps={args.steps} (best of {args.repeats})")
    print(f"captum directly:  {theirs:.3f} s")
    print(f"through auditkit: {ours:.3f} s")
    print(f"ratio: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
