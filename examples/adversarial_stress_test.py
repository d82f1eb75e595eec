"""Researcher: stress-test image classifiers with adversarial examples, and compare them.

Audits the zoo's mnist-cnn and its adversarially trained twin mnist-cnn-robust
with the ``robustness`` preset (FGSM, PGD under L-inf and L2 with the
cross-entropy and margin losses, DeepFool's smallest flipping perturbation,
the black-box Square attack, gradient-masking sanity checks and natural
corruptions), writes a report per model and a comparison report, and prints
robust accuracy against epsilon side by side. Then it uses the attacks
directly (``auditkit.attacks``) to craft targeted adversarial examples.

Run: python examples/adversarial_stress_test.py [OUTPUT_DIR] [--samples N]
Each check attacks 16 correctly classified test digits by default, so the
example runs in under a minute on a laptop CPU, with wide intervals; the
robustness preset's own budgets (500 samples for most checks, ``--samples
500``) take several minutes per model. With AUDITKIT_EXAMPLE_BUDGET=small (the
examples' test), 8 samples.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

import torch

from auditkit import audit, get_check, list_checks, zoo
from auditkit.attacks import Domain, frozen_parameters, pgd


def robustness_checks(n_samples: int) -> list:
    """The robustness preset, each check attacking ``n_samples`` samples."""
    checks = []
    for name in list_checks("robustness"):
        check = get_check(name)
        options = {"n_samples": n_samples} if "n_samples" in check.params() else {}
        checks.append(get_check(name, **options))
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="adversarial-stress-test")
    small = os.environ.get("AUDITKIT_EXAMPLE_BUDGET") == "small"
    parser.add_argument("--samples", type=int, default=8 if small else 16,
                        help="samples each check attacks (the preset's budget: 500)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    results = {}
    for name in ("mnist-cnn", "mnist-cnn-robust"):
        model, data = zoo.load(name)
        results[name] = audit(model, data, checks=robustness_checks(args.samples),
                              random_state=0, progress=False, title=f"Robustness of {name}")
        results[name].save_html(out / f"{name}.html")
        results[name].save_json(out / f"{name}.json")
    baseline, robust = results["mnist-cnn"], results["mnist-cnn-robust"]
    baseline.save_comparison_html(out / "comparison.html", robust,
                                  names=["mnist-cnn", "mnist-cnn-robust"])

    print("Robust accuracy under L-inf APGD-CE + APGD-T (+ Square at eps 0.1):")
    print(f"{'epsilon':>8}  {'mnist-cnn':>10}  {'mnist-cnn-robust':>16}")
    curves = {name: r["robustness_pgd"].tables["curve"] for name, r in results.items()}
    for i, eps in enumerate(curves["mnist-cnn"]["epsilon"]):
        row = [curves[n].iloc[i, 1:-1].min() for n in ("mnist-cnn", "mnist-cnn-robust")]
        print(f"{eps:>8g}  {row[0]:>10.1%}  {row[1]:>16.1%}")
    for name, result in results.items():
        print(textwrap.fill(f"{name}: {result['robustness_gradient_masking'].headline}",
                            width=100, subsequent_indent="  "))

    # The attacks as functions: targeted PGD to the next digit, within eps 0.3.
    model, data = zoo.load("mnist-cnn")
    x = torch.from_numpy(data.X[:64].copy())
    y = torch.from_numpy(data.y[:64].astype("int64"))
    target = (y + 1) % 10
    with frozen_parameters(model):
        outcome = pgd(model.eval(), x, y, 0.3, domain=Domain.from_arrays(0.0, 1.0), steps=40,
                      loss="margin", target=target)
    print(f"Targeted PGD (eps 0.3, 40 steps) moved {outcome.success.float().mean():.0%} of 64 "
          "digits to the next digit;")
    print(f"  largest pixel change {(outcome.adversarial - x).abs().max():.3f}.")
    print(f"Reports in {out}/")


if __name__ == "__main__":
    main()
