"""Robust accuracy: auditkit's APGD ensemble against torchattacks' AutoAttack (standard).

auditkit's ``robustness_pgd`` reads robust accuracy from an ensemble in the
manner of AutoAttack (Croce & Hein 2020): APGD on the cross-entropy, then
APGD-T (targeted DLR over the most likely other classes) on the survivors,
then Square on theirs. This script runs that ensemble through the public
functions of :mod:`auditkit.attacks` (``apgd``, ``square_linf``), with the
check's default budget unless told otherwise, and torchattacks'
``AutoAttack(version="standard")`` (APGD-CE, APGD-T with 9 targets, FAB-T and
Square with 5,000 queries, 100 iterations each) on the same test images of
the zoo CNNs, L-inf, and reports for each model and epsilon:

- robust accuracy of each, with its Wilson 95% interval; auditkit's should be
  at most AutoAttack's upper bound (no more optimistic than the standard);
- the samples only one of them breaks;
- wall time of each (model loading excluded) and the ratio auditkit /
  AutoAttack (the goal is at most 0.5 on a CPU).

Every adversarial example is checked to lie within eps of its clean image and
in [0, 1], and robust accuracy is recomputed from the model's predictions on
the returned examples.

torchattacks is a benchmark-only dependency, never auditkit's::

    pip install --no-deps --target /work/benchdeps torchattacks

Run: PYTHONPATH=/work/benchdeps python benchmarks/bench_autoattack.py
     [--models mnist-cnn mnist-cnn-robust] [--epsilons 0.1 0.3] [--rows 200]
     [--steps 25] [--target-classes 2] [--square-queries 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from scipy.stats import binomtest

from auditkit import zoo
from auditkit.attacks import Domain, apgd, frozen_parameters, square_linf

TOLERANCE = 1e-6  # float32 rounding of x + delta


def wilson(k: int, n: int) -> tuple[float, float]:
    interval = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return float(interval.low), float(interval.high)


def correct_under(model: torch.nn.Module, adversarial: torch.Tensor, y: torch.Tensor,
                  batch: int) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(adversarial[i:i + batch]).argmax(1) == y[i:i + batch]
                          for i in range(0, len(y), batch)])


def auditkit_ensemble(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, eps: float, *,
                      steps: int, target_classes: int, square_queries: int, batch: int,
                      seed: int) -> torch.Tensor:
    """APGD-CE, then APGD-T and Square on the survivors, in batches; the examples."""
    domain = Domain.from_arrays(0.0, 1.0)
    out = []
    with frozen_parameters(model):
        for i in range(0, len(X), batch):
            x, labels = X[i:i + batch], y[i:i + batch]
            generator = torch.Generator().manual_seed(seed + i)
            adversarial = x.clone()
            outcome = apgd(model, x, labels, eps, domain=domain, steps=steps, loss="ce",
                           generator=generator)
            adversarial[:] = outcome.adversarial
            alive = torch.nonzero(~outcome.success).flatten()
            if target_classes and len(alive):
                outcome = apgd(model, x[alive], labels[alive], eps, domain=domain, steps=steps,
                               loss="dlr", target_classes=target_classes, generator=generator)
                adversarial[alive[outcome.success]] = outcome.adversarial[outcome.success]
                alive = alive[~outcome.success]
            if square_queries and len(alive):
                outcome = square_linf(lambda u: torch.softmax(model(u), 1), x[alive],
                                      labels[alive], eps, domain=domain,
                                      n_queries=square_queries, p_init=0.8,
                                      generator=generator)
                adversarial[alive[outcome.success]] = outcome.adversarial[outcome.success]
            out.append(adversarial)
    return torch.cat(out)


def autoattack(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, eps: float, *,
               batch: int, seed: int) -> torch.Tensor:
    import torchattacks

    attack = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard",
                                     n_classes=10, seed=seed)
    return torch.cat([attack(X[i:i + batch], y[i:i + batch]) for i in range(0, len(X), batch)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["mnist-cnn", "mnist-cnn-robust"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[0.1, 0.3])
    parser.add_argument("--rows", type=int, default=200, help="first test images")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--target-classes", type=int, default=2)
    parser.add_argument("--square-queries", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for name in args.models:
        model, data = zoo.load(name)
        model.eval()
        X = torch.from_numpy(np.array(data.X[:args.rows], dtype=np.float32))
        y = torch.from_numpy(np.array(data.y[:args.rows], dtype=np.int64))
        clean = float(correct_under(model, X, y, args.batch_size).float().mean())
        for eps in args.epsilons:
            results = {}
            for library in ("auditkit", "autoattack"):
                started = time.perf_counter()
                if library == "auditkit":
                    adversarial = auditkit_ensemble(
                        model, X, y, eps, steps=args.steps, target_classes=args.target_classes,
                        square_queries=args.square_queries, batch=args.batch_size,
                        seed=args.seed)
                else:
                    adversarial = autoattack(model, X, y, eps, batch=args.batch_size,
                                             seed=args.seed)
                seconds = time.perf_counter() - started
                adversarial = adversarial.detach()
                deviation = float((adversarial.double() - X.double()).abs().max())
                inside = (deviation <= eps + TOLERANCE and float(adversarial.min()) >= 0.0
                          and float(adversarial.max()) <= 1.0)
                correct = correct_under(model, adversarial, y, args.batch_size)
                results[library] = (correct, seconds, inside)
                k = int(correct.sum())
                low, high = wilson(k, len(y))
                rows.append(f"| {name} | {eps:g} | {clean:.3f} | {library} | {k / len(y):.3f} "
                            f"[{low:.3f}, {high:.3f}] | {seconds:.1f} | "
                            f"{'yes' if inside else 'NO'} |")
                print(rows[-1], file=sys.stderr, flush=True)  # progress
            ours, theirs = results["auditkit"][0], results["autoattack"][0]
            _, high = wilson(int(theirs.sum()), len(y))
            ratio = results["auditkit"][1] / results["autoattack"][1]
            rows.append(f"| {name} | {eps:g} | | auditkit / AutoAttack | "
                        f"{'at most' if float(ours.float().mean()) <= high else 'ABOVE'} its "
                        f"upper bound; broken only by auditkit {int((~ours & theirs).sum())}, "
                        f"only by AutoAttack {int((ours & ~theirs).sum())} | time ratio "
                        f"{ratio:.2f} ({'ok' if ratio <= 0.5 else 'ABOVE 0.5'}) | |")
            print(rows[-1], file=sys.stderr, flush=True)
    print()
    print(f"L-inf, first {args.rows} test images; auditkit: APGD-CE {args.steps} steps, APGD-T "
          f"{args.target_classes} targets x {args.steps} steps, Square {args.square_queries} "
          f"queries; AutoAttack standard; {args.threads} thread(s)")
    print()
    print("| model | eps | clean acc | attack | robust acc [Wilson 95%] | time s "
          "| within eps & [0,1] |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
