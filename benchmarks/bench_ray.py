"""The local executor against Ray with 2 workers, on a unit-heavy audit, in one run.

Workload (``--workload``):

- ``pgd``: ``robustness_pgd`` on the zoo's mnist-cnn (``--rows`` test images,
  ``--steps`` steps); its attack chunks are the units;
- ``privacy``: ``privacy_membership_inference`` on adult-mlp-overfit with
  ``--reference-models`` reference models trained through the executor (the
  on-disk cache is pointed at a fresh folder for every run, so each run trains).

Each configuration runs the same audit under the same seed: local with one
thread (``n_jobs=1``), local with 2 threads, and Ray on a fresh local cluster of
2 CPUs (cluster start-up timed apart and excluded). The results must be equal,
apart from times; the script says so and exits 1 if they are not. The overhead
per unit is measured with a no-op unit function over ``--noop-units`` units:
(Ray time - local time) / units.

Run: python benchmarks/bench_ray.py [--workload pgd] [--rows 400] [--steps 20]
     [--noop-units 200]
Needs ``pip install "auditkit[ray]"``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def _noop(shared, unit):
    return unit


def _audit(workload: str, args: argparse.Namespace, **executor):
    from auditkit import audit, get_check, zoo

    if workload == "pgd":
        model, data = zoo.load("mnist-cnn")
        check = get_check("robustness_pgd", n_samples=args.rows, steps=args.steps)
    else:
        model, data = zoo.load("adult-mlp-overfit")
        check = get_check("privacy_membership_inference",
                          n_reference_models=args.reference_models)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["AUDITKIT_CACHE_DIR"] = cache
        started = time.perf_counter()
        result = audit(model, data, checks=[check], random_state=0, progress=False, **executor)
        return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("pgd", "privacy"), default="pgd")
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reference-models", type=int, default=8)
    parser.add_argument("--noop-units", type=int, default=200)
    args = parser.parse_args(argv)

    import ray

    from auditkit.checks._executor import LocalExecutor
    from auditkit.checks._ray import RayExecutor

    rows = []
    one, t_one = _audit(args.workload, args, n_jobs=1)
    rows.append(("local, 1 thread", t_one))
    two, t_two = _audit(args.workload, args, n_jobs=2)
    rows.append(("local, 2 threads", t_two))
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    RayExecutor().map(_noop, range(4))  # start the workers
    startup = time.perf_counter() - started
    spread, t_ray = _audit(args.workload, args, executor="ray")
    rows.append(("Ray, 2 workers", t_ray))

    units = list(range(args.noop_units))
    started = time.perf_counter()
    LocalExecutor(1).map(_noop, units)
    t_local_noop = time.perf_counter() - started
    started = time.perf_counter()
    RayExecutor().map(_noop, units, shared=np.zeros(10))
    t_ray_noop = time.perf_counter() - started
    ray.shutdown()

    def timeless(result):
        return [r.with_changes(duration_s=0.0) for r in result.results]

    same = timeless(one) == timeless(two) == timeless(spread)
    print(f"workload: {args.workload}; {os.cpu_count()} CPUs here; Ray cluster start-up "
          f"{startup:.1f} s (excluded)")
    print(f"{'executor':<20} {'wall s':>8} {'speed-up':>9}")
    for name, seconds in rows:
        print(f"{name:<20} {seconds:>8.1f} {t_one / seconds:>8.2f}x")
    print(f"overhead per unit on Ray: {(t_ray_noop - t_local_noop) / len(units) * 1e3:.2f} ms "
          f"({len(units)} no-op units: {t_ray_noop:.2f} s on Ray, {t_local_noop:.4f} s local)")
    print(f"results equal (apart from times): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
