"""The local executor against Ray with 2 workers, on a unit-heavy audit, in one run.

Workload (``--workload``):

- ``pgd``: ``robustness_pgd`` on the zoo's mnist-cnn (``--rows`` test images,
  ``--steps`` steps); its attack chunks are the units;
- ``privacy``: ``privacy_membership_inference`` on adult-mlp-overfit with
  ``--reference-models`` reference models trained through the executor (the
  on-disk cache is pointed at a fresh folder for every run, so each run trains).

Each configuration runs the same audit under the same seed: local with one
thread (``n_jobs=1``), local with 2 threads, and Ray on a fresh local cluster of
2 CPUs (cluster start-up timed apart and excluded), twice: as ``executor="ray"``
runs it (each unit runs torch on as many threads as this process, and asks Ray
for as many CPUs, so that results are equal bit for bit), and with
``RayExecutor(torch_threads=1)`` (a unit per CPU; a convolution's gradient may
differ in its last bit). The exact runs must be equal, apart from times; the
script says so and exits 1 if they are not, and says whether the one-thread run
is equal too. The overhead
per unit is measured with a no-op unit function over ``--noop-units`` units:
(Ray time - local time) / units.

``--cli ZOO`` instead runs ``auditkit audit --zoo ZOO --preset P --executor E
--json J --quiet`` for E = local and ray (a fresh process each, so Ray's cluster
start-up is included), and compares the two JSON files apart from times
(:func:`differences_apart_from_times`, also usable on its own).

Run: python benchmarks/bench_ray.py [--workload pgd] [--rows 400] [--steps 20]
     [--noop-units 200]
     python benchmarks/bench_ray.py --cli mnist-cnn [--preset robustness]
Needs ``pip install "auditkit[ray]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Keys that hold times, or name the executor: the only things allowed to differ.
TIME_KEYS = frozenset({"duration_s", "started_at", "finished_at", "elapsed_s"})
EXECUTOR_KEYS = frozenset({"executor", "ray_address"})


def without_times(document: Any, *, drop: frozenset[str] = TIME_KEYS | EXECUTOR_KEYS) -> Any:
    """``document`` (parsed JSON) with every key in ``drop`` removed, at any depth."""
    if isinstance(document, dict):
        return {k: without_times(v, drop=drop) for k, v in document.items() if k not in drop}
    if isinstance(document, list):
        return [without_times(v, drop=drop) for v in document]
    return document


def differences_apart_from_times(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two parsed JSON result files differ, apart from times and the executor's name.

    Returns the JSON paths of the differing values (empty when they are equal).
    """
    a, b = without_times(a), without_times(b)
    found: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                if key not in x or key not in y:
                    found.append(f"{where}/{key} (only in {'first' if key in x else 'second'})")
                else:
                    walk(x[key], y[key], f"{where}/{key}")
        elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                walk(u, v, f"{where}[{i}]")
        elif x != y:
            found.append(f"{where}: {str(x)[:60]} != {str(y)[:60]}")

    walk(a, b, path)
    return found


def cli_compare(zoo: str, preset: str, folder: Path) -> int:
    """Audit a zoo model from the CLI with the local and the Ray executor; compare the JSONs."""
    script = Path(sys.executable).parent / "auditkit"
    documents, walls = {}, {}
    for executor in ("local", "ray"):
        out = folder / f"{zoo}-{preset}-{executor}.json"
        started = time.perf_counter()
        done = subprocess.run([str(script), "audit", "--zoo", zoo, "--preset", preset,
                               "--executor", executor, "--json", str(out),
                               "--out", str(out.with_suffix(".html")), "--quiet"],
                              capture_output=True, text=True)
        walls[executor] = time.perf_counter() - started
        if done.returncode not in (0, 1):
            print(f"{executor}: exit {done.returncode}\n{done.stderr[-2000:]}")
            return 2
        documents[executor] = json.loads(out.read_text())
    differences = differences_apart_from_times(documents["local"], documents["ray"])
    for executor, seconds in walls.items():
        print(f"auditkit audit --zoo {zoo} --preset {preset} --executor {executor}: "
              f"{seconds:.1f} s wall")
    print(f"JSON equal apart from times: {not differences}")
    for line in differences[:20]:
        print("  " + line)
    return 1 if differences else 0


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
    parser.add_argument("--cli", metavar="ZOO", help="compare 'auditkit audit --zoo ZOO' with "
                        "--executor local and ray instead")
    parser.add_argument("--preset", default="robustness", help="the preset of --cli")
    parser.add_argument("--out-dir", help="where --cli writes its JSON and HTML (default: a "
                        "temporary folder)")
    args = parser.parse_args(argv)
    if args.cli:
        if args.out_dir:
            Path(args.out_dir).mkdir(parents=True, exist_ok=True)
            return cli_compare(args.cli, args.preset, Path(args.out_dir))
        with tempfile.TemporaryDirectory() as folder:
            return cli_compare(args.cli, args.preset, Path(folder))

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
    threads = RayExecutor().torch_threads
    rows.append((f"Ray, exact ({threads} thr/unit)", t_ray))
    narrow, t_narrow = _audit(args.workload, args, executor=RayExecutor(torch_threads=1))
    rows.append(("Ray, 1 thread/unit", t_narrow))

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
    narrow_same = timeless(narrow) == timeless(one)
    print(f"workload: {args.workload}; {os.cpu_count()} CPUs here; Ray cluster start-up "
          f"{startup:.1f} s (excluded)")
    print(f"{'executor':<26} {'wall s':>8} {'speed-up':>9}")
    for name, seconds in rows:
        print(f"{name:<26} {seconds:>8.1f} {t_one / seconds:>8.2f}x")
    print(f"overhead per unit on Ray: {(t_ray_noop - t_local_noop) / len(units) * 1e3:.2f} ms "
          f"({len(units)} no-op units: {t_ray_noop:.2f} s on Ray, {t_local_noop:.4f} s local)")
    print(f"results equal (apart from times): {same}; with 1 thread per unit: {narrow_same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
