"""Generative fidelity metrics against their references: the prdc package and scipy's sqrtm.

On the same features, side by side in one run:

1. Precision, recall, density and coverage from auditkit against the
   ``prdc`` package's ``compute_prdc`` (Naeem et al. 2020; MIT; a dev
   dependency): the largest absolute difference and the time ratio, on
   mnist-cnn penultimate features (128-d) of mnist-gan samples against the
   real held-out images, and on the package's own anchor (its README: two
   independent standard-normal samples of 10,000 in 1,000 dimensions at k=5
   give about precision 0.477, recall 0.471, density 1.056, coverage 0.974).
2. The Fréchet distance (auditkit's, and the eigenvalue route the bootstrap
   replicates take) against a direct computation with ``scipy.linalg.sqrtm``
   written out here.
3. The time of :func:`fidelity_metrics` with its defaults (100 bootstrap
   resamples, 100 KID subsets of 1,000) at 1,000 real x 1,000 generated and
   1,000 real x 5,000 generated samples.

Run::

    pip install prdc
    python benchmarks/bench_generative_prdc.py [--anchor-size 10000] [--anchor-dim 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
import warnings

import numpy as np
import torch
from scipy import linalg

from auditkit import zoo
from auditkit.inputs import wrap_model

try:  # public once the family's __init__ re-exports them
    from auditkit.checks.generative import fidelity_metrics, frechet_distance, prdc
except ImportError:
    from auditkit.checks.generative import frechet_distance
    from auditkit.checks.generative._fidelity import fidelity_metrics, prdc

from auditkit.checks.generative._fidelity import _frechet_from_moments

NAMES = ("precision", "recall", "density", "coverage")


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def package_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the sizes
        values = compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    return {name: float(values[name]) for name in NAMES}


def gan_features(n_fake: int) -> tuple[np.ndarray, np.ndarray]:
    """mnist-cnn penultimate features of held-out MNIST digits and of mnist-gan samples."""
    classifier = wrap_model(zoo.load("mnist-cnn")[0])
    generator, data = zoo.load("mnist-gan")
    with torch.no_grad():
        samples = generator.sample(n_fake, generator=torch.Generator().manual_seed(0))
    real = np.asarray(classifier.features(data.X), dtype=np.float64)
    fake = np.asarray(classifier.features(samples.numpy()), dtype=np.float64)
    return real, fake


def direct_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Heusel et al. (2017) written out with scipy's general matrix square root."""
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(cov_a @ cov_b))
    difference = a.mean(0) - b.mean(0)
    return float(difference @ difference + np.trace(cov_a + cov_b - 2 * root))


def compare_prdc(label: str, real: np.ndarray, fake: np.ndarray, k: int, rows: list) -> None:
    ours, ours_s = timed(prdc, real, fake, k=k)
    theirs, theirs_s = timed(package_prdc, real, fake, k)
    difference = max(abs(ours[n] - theirs[n]) for n in NAMES)
    rows.append((label, *(ours[n] for n in NAMES), difference, ours_s, theirs_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchor-size", type=int, default=10000)
    parser.add_argument("--anchor-dim", type=int, default=1000)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    # mnist-cnn features have dead ReLU units: singular covariances, on which sqrtm warns
    warnings.filterwarnings("ignore", category=linalg.LinAlgWarning)

    real, fake = gan_features(5000)
    rng = np.random.default_rng(0)
    anchor_real = rng.normal(size=(args.anchor_size, args.anchor_dim))
    anchor_fake = rng.normal(size=(args.anchor_size, args.anchor_dim))

    rows: list = []
    compare_prdc(f"mnist-gan vs held-out ({len(real)} x 1000, 128-d)", real, fake[:1000],
                 args.k, rows)
    compare_prdc(f"mnist-gan vs held-out ({len(real)} x 5000, 128-d)", real, fake, args.k,
                 rows)
    compare_prdc(f"normal anchor ({args.anchor_size} x {args.anchor_size}, "
                 f"{args.anchor_dim}-d)", anchor_real, anchor_fake, args.k, rows)
    print(f"\n1. precision, recall, density, coverage (k={args.k}): auditkit against prdc")
    print(f"{'features':<44} {'prec':>6} {'rec':>6} {'dens':>6} {'cov':>6} "
          f"{'max|diff|':>10} {'ours s':>7} {'prdc s':>7} {'ratio':>6}")
    for label, p, r, d, c, diff, ours_s, theirs_s in rows:
        print(f"{label:<44} {p:6.4f} {r:6.4f} {d:6.4f} {c:6.4f} {diff:10.2e} "
              f"{ours_s:7.2f} {theirs_s:7.2f} {ours_s / theirs_s:6.2f}")
    print("prdc README anchor (10000 x 10000, 1000-d): precision 0.4772, recall 0.4705, "
          "density 1.0555, coverage 0.9735")

    print("\n2. Fréchet distance against a direct scipy sqrtm computation")
    print(f"{'features':<44} {'direct':>12} {'auditkit':>12} {'eigen route':>12} "
          f"{'max rel diff':>12}")
    shift = np.random.default_rng(1).normal(size=(2000, 64))
    for label, a, b in (("mnist-gan vs held-out (128-d)", real, fake[:1000]),
                        ("normal vs normal + 0.1 (64-d)", shift[:1000], shift[1000:] + 0.1)):
        direct = direct_frechet(a, b)
        ours = frechet_distance(a, b)
        eigen = _frechet_from_moments(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                                      np.cov(b, rowvar=False))
        relative = max(abs(ours - direct), abs(eigen - direct)) / direct
        print(f"{label:<44} {direct:12.6f} {ours:12.6f} {eigen:12.6f} {relative:12.2e}")

    print("\n3. fidelity_metrics with its defaults (FD bootstrap 100, KID 100 subsets of 1000)")
    for n_fake in (1000, 5000):
        metrics, seconds = timed(fidelity_metrics, real, fake[:n_fake], rng=0)
        summary = ", ".join(f"{name} {m.value:.4g} [{m.lower:.4g}, {m.upper:.4g}]"
                            for name, m in metrics.items())
        print(f"{len(real)} real x {n_fake} generated: {seconds:.2f} s\n  {summary}")


if __name__ == "__main__":
    main()
