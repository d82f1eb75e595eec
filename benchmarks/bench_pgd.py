"""L-inf PGD: auditkit.attacks.pgd against torchattacks.PGD and ART's ProjectedGradientDescent.

The three attack the same zoo CNN (mnist-cnn, and its adversarially trained
twin mnist-cnn-robust) on the same 1,000 MNIST test images, in batches of the
same size, with the same budget eps, number of steps, step size (2.5 * eps /
steps unless --alpha is given), cross-entropy loss, one uniform random start
in the eps-ball and one restart. Each library is called as its users call it:

- auditkit: ``pgd(model, x, y, eps, domain=Domain.from_arrays(0, 1), ...)``
  inside ``frozen_parameters(model)`` with the model in eval mode (how
  auditkit's robustness checks run it);
- torchattacks: ``torchattacks.PGD(model, eps, alpha, steps, random_start=True)(x, y)``;
- ART: ``ProjectedGradientDescent(PyTorchClassifier(model, ...), norm=inf, ...)``
  ``.generate(x, y)`` on numpy arrays.

auditkit keeps each sample's first misclassified iterate and stops attacking
it, torchattacks and ART return the last iterate; so auditkit's attack is at
least as strong and spends fewer gradient passes on a model that breaks early
(mnist-cnn at eps=0.3). torchattacks' global generator is seeded per batch as
auditkit's generator is, so the two start from the same random points and the
robust accuracies compare sample by sample (the summary counts the samples
only one of them breaks); ART draws its starts from numpy, independently.
On mnist-cnn-robust few samples break early, so its rows are the like-for-like
timing; the "us/pass" column (wall time per sample per model pass) compares the
cost of one step on every row.

Robust accuracy is the model's accuracy on the returned adversarial examples
(for auditkit also ``1 - success.mean()``); every adversarial example is
checked to lie within eps (L-inf) of its clean image and within [0, 1].
Times are the best of --repeats runs, the libraries interleaved, model loading
excluded. Ratios: auditkit / torchattacks (target <= 1.0) and ART / auditkit
(target >= 3).

The peers are benchmark-only dependencies, never auditkit's. Install them
into a separate directory (torchattacks does not import torchvision when
installed this way; ART needs ``six`` and ``tqdm``, numpy, scipy and
scikit-learn besides)::

    pip install --no-deps --target /work/benchdeps torchattacks \
        adversarial-robustness-toolbox six tqdm

or ``pip install --no-deps torchattacks adversarial-robustness-toolbox`` in a
scratch environment that has auditkit.

Run: PYTHONPATH=/work/benchdeps python benchmarks/bench_pgd.py
     [--models mnist-cnn mnist-cnn-robust] [--epsilons 0.3 0.1] [--steps 40]
     [--alpha A] [--batch-size 500] [--rows 1000] [--repeats 3] [--threads 1 2]
     [--libraries auditkit torchattacks art]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from auditkit import zoo
from auditkit.attacks import Domain, frozen_parameters, pgd

LIBRARIES = ("auditkit", "torchattacks", "art")
TOLERANCE = 1e-6  # float32 rounding of x + delta


@dataclass
class Result:
    seconds: float
    adversarial: np.ndarray
    passes_per_sample: float  # model passes (forward, with or without a backward) per sample
    success_accuracy: float | None = None  # auditkit's 1 - success.mean()


def predictions(model: nn.Module, X: torch.Tensor, batch: int) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(X[i:i + batch]).argmax(1) for i in range(0, len(X), batch)])


def make_attacks(library_names: list[str], model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                 eps: float, alpha: float, steps: int, batch: int, seed: int
                 ) -> dict[str, Callable[[], Result]]:
    """One callable per library that attacks all of X and returns a Result."""
    n = len(X)
    starts = range(0, n, batch)
    attacks: dict[str, Callable[[], Result]] = {}

    if "auditkit" in library_names:
        domain = Domain.from_arrays(0.0, 1.0)

        def run_auditkit() -> Result:
            started = time.perf_counter()
            model.eval()
            adversarial, success, queries = [], [], []
            with frozen_parameters(model):
                for i in starts:
                    outcome = pgd(model, X[i:i + batch], y[i:i + batch], eps, domain=domain,
                                  norm="linf", steps=steps, step_size=alpha, restarts=1,
                                  random_start=True, loss="ce",
                                  generator=torch.Generator().manual_seed(seed + i))
                    adversarial.append(outcome.adversarial)
                    success.append(outcome.success)
                    queries.append(outcome.queries)
            seconds = time.perf_counter() - started
            ok = torch.cat(success)
            return Result(seconds, torch.cat(adversarial).numpy(),
                          float(torch.cat(queries).float().mean()),
                          1.0 - float(ok.float().mean()))

        attacks["auditkit"] = run_auditkit

    if "torchattacks" in library_names:
        import torchattacks

        attack = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)

        def run_torchattacks() -> Result:
            started = time.perf_counter()
            model.eval()
            adversarial = []
            for i in starts:
                # its random start draws from the global generator: seeded as auditkit's
                # generator for this batch, the two start from the same points
                torch.manual_seed(seed + i)
                adversarial.append(attack(X[i:i + batch], y[i:i + batch]))
            seconds = time.perf_counter() - started
            adversarial = torch.cat(adversarial)
            return Result(seconds, adversarial.numpy(), float(steps))

        attacks["torchattacks"] = run_torchattacks

    if "art" in library_names:
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        estimator = PyTorchClassifier(model, loss=nn.CrossEntropyLoss(),
                                      input_shape=tuple(X.shape[1:]), nb_classes=10,
                                      clip_values=(0.0, 1.0), device_type="cpu")
        art_attack = ProjectedGradientDescent(estimator, norm=np.inf, eps=eps, eps_step=alpha,
                                              max_iter=steps, num_random_init=1,
                                              batch_size=batch, verbose=False)
        X_np, y_np = X.numpy(), y.numpy()

        def run_art() -> Result:
            np.random.seed(seed)  # noqa: NPY002 (ART draws its random start from it)
            started = time.perf_counter()
            adversarial = art_attack.generate(x=X_np, y=y_np)
            seconds = time.perf_counter() - started
            return Result(seconds, adversarial, float(steps))

        attacks["art"] = run_art
    return attacks


def within_budget(adversarial: np.ndarray, clean: np.ndarray, eps: float) -> tuple[bool, float]:
    """Whether every example is in the eps-ball (L-inf) and in [0, 1]; the largest deviation."""
    deviation = float(np.abs(adversarial.astype(np.float64) - clean).max())
    inside = (deviation <= eps + TOLERANCE and float(adversarial.min()) >= 0.0
              and float(adversarial.max()) <= 1.0)
    return inside, deviation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["mnist-cnn", "mnist-cnn-robust"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[0.3, 0.1])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--alpha", type=float, default=None,
                        help="step size for every eps (default: 2.5 * eps / steps)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--rows", type=int, default=None, help="test images (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", nargs="+", type=int, default=[1],
                        help="torch.set_num_threads values to run (default 1: steadier)")
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows, summary = [], []
    for name in args.models:
        model, data = zoo.load(name)
        model.eval()
        X = torch.from_numpy(np.array(data.X[: args.rows], dtype=np.float32))  # a writable copy
        y = torch.from_numpy(np.array(data.y[: args.rows], dtype=np.int64))
        clean_np = X.numpy()
        for threads in args.threads:
            torch.set_num_threads(threads)
            clean = float((predictions(model, X, args.batch_size) == y).float().mean())
            for eps in args.epsilons:
                alpha = 2.5 * eps / args.steps if args.alpha is None else args.alpha
                attacks = make_attacks(args.libraries, model, X, y, eps, alpha, args.steps,
                                       args.batch_size, args.seed)
                best: dict[str, Result] = {}
                budget: dict[str, tuple[bool, float]] = {}
                for _ in range(args.repeats):  # interleaved, best of the repeats
                    for library, attack in attacks.items():
                        result = attack()
                        inside, deviation = within_budget(result.adversarial, clean_np, eps)
                        was_inside, worst = budget.get(library, (True, 0.0))
                        budget[library] = (was_inside and inside, max(worst, deviation))
                        if library not in best or result.seconds < best[library].seconds:
                            best[library] = result
                accuracies, correct = {}, {}
                for library, result in best.items():
                    correct[library] = predictions(model, torch.from_numpy(result.adversarial),
                                                   args.batch_size) == y
                    robust = float(correct[library].float().mean())
                    accuracies[library] = robust
                    inside, deviation = budget[library]
                    success = ("" if result.success_accuracy is None
                               else f"{result.success_accuracy:.3f}")
                    per_pass = result.seconds / (len(X) * result.passes_per_sample) * 1e6
                    rows.append(f"| {name} | {eps:g} | {alpha:g} | {threads} | {clean:.3f} "
                                f"| {library} | {robust:.3f} | {success} "
                                f"| {result.passes_per_sample:.1f} | {result.seconds:.3f} "
                                f"| {per_pass:.0f} | {'yes' if inside else 'NO'} "
                                f"({deviation:.4f}) |")
                    print(rows[-1], file=sys.stderr, flush=True)  # progress
                ratios = []
                if "auditkit" in best and "torchattacks" in best:
                    ratio = best["auditkit"].seconds / best["torchattacks"].seconds
                    stronger = accuracies["auditkit"] <= accuracies["torchattacks"]
                    only_ours = int((~correct["auditkit"] & correct["torchattacks"]).sum())
                    only_theirs = int((correct["auditkit"] & ~correct["torchattacks"]).sum())
                    ratios.append(f"{ratio:.2f} ({'ok' if ratio <= 1.0 else 'SLOWER'})")
                    ratios.append(f"{'yes' if stronger else 'NO'} ({only_ours} / {only_theirs})")
                else:
                    ratios += ["", ""]
                if "auditkit" in best and "art" in best:
                    ratio = best["art"].seconds / best["auditkit"].seconds
                    ratios.append(f"{ratio:.2f} ({'ok' if ratio >= 3.0 else 'BELOW 3'})")
                else:
                    ratios.append("")
                summary.append(f"| {name} | {eps:g} | {threads} | " + " | ".join(ratios) + " |")

    print()
    print(f"PGD L-inf, {args.steps} steps, 1 random start, batch {args.batch_size}, "
          f"best of {args.repeats} (interleaved)")
    print()
    print("| model | eps | alpha | threads | clean acc | library | robust acc (eval) "
          "| robust acc (1 - success) | passes/sample | time s | us/pass | within eps & [0,1] "
          "(max abs dev) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| model | eps | threads | auditkit / torchattacks time (<= 1) "
          "| auditkit robust acc <= torchattacks' (broken only by auditkit / only by torchattacks) "
          "| ART / auditkit time (>= 3) |")
    print("|---|---|---|---|---|---|")
    print("\n".join(summary))
    print()
    print("Like-for-like timing: rows where auditkit's passes/sample is close to the steps "
          "(few samples break early, e.g. mnist-cnn-robust), and us/pass on every row; "
          "elsewhere auditkit's time includes the passes its early stop saves.")


if __name__ == "__main__":
    main()
