"""Wall time and peak memory of an audit from 10k to 5M rows of Parquet, in one run.

For each size the script writes a synthetic Parquet file (row groups of 128k
rows, written chunk by chunk so that no more than one chunk is ever in memory):
20 features (half float32, half float64), a binary label ``y`` drawn from a
known logistic model, and two sensitive features correlated with the label,
``sex`` (2 values) and ``region`` (4 values). A scikit-learn logistic
regression is trained once on 50k rows of the same distribution and pickled.

Each (size, preset) pair is audited in a fresh process,

    auditkit audit benchmarks/_scale_target.py:build --preset P --json J --out H --quiet

with the data streamed from Parquet (``AuditData.from_parquet``, batches of
65,536 rows, a seeded sample of 10,000 rows for the checks that need inputs).
The child's wall time and peak RSS come from ``os.wait4`` (its own rusage, not
the running maximum over all children). The table also gives the data's size in
memory (rows x 23 columns x 8 bytes) and on disk, so the peak can be read as
"above the data", and the sizes of the JSON result and the HTML report, which
must stay small (group tables, not rows).

``--compare-in-memory`` audits the same file (``--compare-rows``, default
100k) from Parquet and from an in-memory ``AuditData`` under the same seed, and
prints the largest absolute difference of every metric's value and bounds.

Run: python benchmarks/bench_scale.py [--rows 10000,100000,1000000,5000000]
     [--presets performance,fairness] [--out benchmarks/results/scale.json]
     [--workdir DIR] [--compare-in-memory [--compare-rows 100000]]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _scale_target import FEATURES, LABEL, SENSITIVE  # noqa: E402

ROW_GROUP = 128 * 1024
TRAIN_ROWS = 50_000
SEXES = np.array(["female", "male"])
REGIONS = np.array(["north", "south", "east", "west"])
#: The known logistic model: weights of the 20 features, of being male, of each region.
WEIGHTS = np.linspace(1.0, -1.0, 20) * np.tile([1.0, 0.0], 10) + np.tile([0.0, 0.3], 10)
SEX_EFFECT = 0.6
REGION_EFFECT = np.array([0.0, -0.4, 0.3, 0.8])
INTERCEPT = -0.5
COLUMNS = len(FEATURES) + 1 + len(SENSITIVE)


def synthetic_chunk(rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One chunk of the synthetic data: features, label and sensitive features, as columns."""
    sex = rng.integers(0, 2, size=rows)
    region = rng.choice(4, size=rows, p=[0.4, 0.3, 0.2, 0.1])
    X = rng.normal(size=(rows, len(FEATURES)))
    X[:, 0] += 0.5 * sex  # the model sees the groups through the features, not by name
    X[:, 1] += 0.3 * region
    logit = INTERCEPT + X @ WEIGHTS + SEX_EFFECT * sex + REGION_EFFECT[region]
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(FEATURES):
        columns[name] = X[:, i].astype(np.float32 if i % 2 == 0 else np.float64)
    columns[LABEL] = y
    columns["sex"] = SEXES[sex]
    columns["region"] = REGIONS[region]
    return columns


def write_parquet(path: Path, rows: int, *, seed: int = 0) -> None:
    """Write ``rows`` synthetic rows to ``path``, one row group per chunk of 128k rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".partial")
    writer = None
    try:
        for index, start in enumerate(range(0, rows, ROW_GROUP)):
            rng = np.random.default_rng([seed, index])  # a stream per chunk: no state carried
            chunk = synthetic_chunk(min(ROW_GROUP, rows - start), rng)
            table = pa.table({name: pa.array(values) for name, values in chunk.items()})
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)


def train_model(path: Path) -> None:
    """Fit a logistic regression on 50k fresh rows of the same distribution and pickle it."""
    from sklearn.linear_model import LogisticRegression

    chunk = synthetic_chunk(TRAIN_ROWS, np.random.default_rng(12345))
    X = np.column_stack([chunk[name] for name in FEATURES]).astype(np.float64)
    model = LogisticRegression(max_iter=1000).fit(X, chunk[LABEL])
    with open(path, "wb") as file:
        pickle.dump(model, file)


def _auditkit_command() -> list[str]:
    script = Path(sys.executable).parent / "auditkit"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from auditkit.cli import main; sys.exit(main())"]


def run_child(command: list[str], env: dict[str, str], *, timeout: float) -> dict:
    """Run ``command``; its exit code, wall time, CPU time and peak RSS (from ``os.wait4``)."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=devnull, stderr=errors)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        tail = errors.read().decode(errors="replace")[-2000:]
    return {"exit_code": process.returncode, "wall_s": round(wall, 2),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
            "stderr_tail": tail if process.returncode else ""}


def audit_in_child(data: Path, model: Path, preset: str, out: Path, *, source: str = "parquet",
                   timeout: float = 3600) -> dict:
    """Audit ``data`` with ``preset`` in a fresh process; timings, memory and output sizes."""
    env = dict(os.environ, AUDITKIT_SCALE_DATA=str(data), AUDITKIT_SCALE_MODEL=str(model),
               AUDITKIT_SCALE_SOURCE=source, PYTHONPATH=str(ROOT))
    json_path, html_path = out.with_suffix(".json"), out.with_suffix(".html")
    command = [*_auditkit_command(), "audit", f"{HERE / '_scale_target.py'}:build",
               "--preset", preset, "--json", str(json_path), "--out", str(html_path), "--quiet"]
    measured = run_child(command, env, timeout=timeout)
    measured["json_kb"] = _size_kb(json_path)
    measured["html_kb"] = _size_kb(html_path)
    measured["checks"] = _check_summary(json_path)
    measured["json_path"] = str(json_path)
    return measured


def baseline_in_child() -> dict:
    """Peak RSS of a process that only imports auditkit and its CLI (the floor of every run)."""
    command = [sys.executable, "-c", "import auditkit.cli, auditkit, sklearn, pyarrow; "
               "from auditkit import audit, AuditData"]
    return run_child(command, dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)


def _size_kb(path: Path) -> float | None:
    return round(path.stat().st_size / 1024, 1) if path.exists() else None


def _check_summary(json_path: Path) -> list[dict]:
    """Name, status and rows of each check in a result file."""
    if not json_path.exists():
        return []
    return [{"name": r.get("name"), "status": r.get("status"), "rows": r.get("rows")}
            for r in _results(json.loads(json_path.read_text()))]


def _results(document: dict) -> list[dict]:
    results = document.get("results", [])
    return list(results.values()) if isinstance(results, dict) else list(results)


def metric_bounds(json_path: Path, checks: set[str] | None = None) -> dict[str, float | None]:
    """``check.metric.value|lower|upper`` -> number, for every metric in a result file.

    With ``checks``, only the metrics of those checks.
    """
    bounds: dict[str, float | None] = {}
    for result in _results(json.loads(Path(json_path).read_text())):
        if checks is not None and result["name"] not in checks:
            continue
        for name, metric in (result.get("metrics") or {}).items():
            for part in ("value", "lower", "upper"):
                bounds[f"{result['name']}.{name}.{part}"] = metric.get(part)
    return bounds


def largest_differences(a: dict, b: dict) -> tuple[float, list[tuple[str, float]]]:
    """The largest absolute difference over the keys of both, and the differences by key."""
    differences = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            gap = 0.0 if x is None and y is None else math.inf
        elif isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            gap = 0.0
        else:
            gap = abs(float(x) - float(y))
        differences.append((key, gap))
    return max((gap for _, gap in differences), default=0.0), differences


def _ensure_data(workdir: Path, rows: int) -> Path:
    path = workdir / f"scale-{rows}.parquet"
    if not path.exists():
        started = time.perf_counter()
        write_parquet(path, rows)
        print(f"  wrote {path.name} ({path.stat().st_size / 2**20:.1f} MiB) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
    return path


def _ensure_model(workdir: Path) -> Path:
    path = workdir / "logreg.pkl"
    if not path.exists():
        train_model(path)
    return path


def run_curve(sizes: list[int], presets: list[str], workdir: Path, *, timeout: float) -> list[dict]:
    """One row per (size, preset): the child's measurements and the data's sizes."""
    model = _ensure_model(workdir)
    rows = []
    for size in sizes:
        data = _ensure_data(workdir, size)
        for preset in presets:
            measured = audit_in_child(data, model, preset, workdir / f"audit-{size}-{preset}",
                                      timeout=timeout)
            data_mib = size * COLUMNS * 8 / 2**20
            row = {"rows": size, "preset": preset, **measured,
                   "data_in_memory_mib": round(data_mib, 1),
                   "parquet_mib": round(data.stat().st_size / 2**20, 1),
                   "peak_above_data_mib": round(measured["peak_rss_mib"] - data_mib, 1)}
            rows.append(row)
            print(f"  {size:>9,} rows  {preset:<12} {row['wall_s']:>8.1f} s  "
                  f"{row['peak_rss_mib']:>8.0f} MiB  exit {row['exit_code']}", flush=True)
            if row["exit_code"] not in (0, 1):
                print(row["stderr_tail"], file=sys.stderr)
    return rows


def compare_in_memory(rows: int, presets: list[str], workdir: Path, *,
                      timeout: float) -> dict:
    """Audit one file from Parquet and from memory; the largest difference of every metric."""
    model, data = _ensure_model(workdir), _ensure_data(workdir, rows)
    report = {}
    for preset in presets:
        runs = {source: audit_in_child(data, model, preset,
                                       workdir / f"compare-{rows}-{preset}-{source}",
                                       source=source, timeout=timeout)
                for source in ("parquet", "memory")}
        if any(run["exit_code"] not in (0, 1) for run in runs.values()):
            report[preset] = {"error": {s: r["stderr_tail"] for s, r in runs.items()}}
            continue
        # Checks that read every row in both runs are compared; those that read the
        # seeded sample from Parquet (explanations, mitigation, recourse) cannot be.
        used = {source: {c["name"]: c["rows"] for c in run["checks"]}
                for source, run in runs.items()}
        every_row = {name for name, n in used["parquet"].items()
                     if n == rows and used["memory"].get(name) == rows}
        sampled = sorted(name for name, n in used["parquet"].items()
                         if n is not None and name not in every_row)
        largest, differences = largest_differences(
            metric_bounds(Path(runs["parquet"]["json_path"]), every_row),
            metric_bounds(Path(runs["memory"]["json_path"]), every_row))
        worst = sorted(differences, key=lambda item: -item[1])[:5]
        report[preset] = {"largest_abs_difference": largest, "n_numbers": len(differences),
                          "checks_compared": sorted(every_row),
                          "checks_on_the_sample": {name: used["parquet"][name]
                                                   for name in sampled},
                          "worst": worst,
                          "peak_rss_mib": {s: r["peak_rss_mib"] for s, r in runs.items()},
                          "wall_s": {s: r["wall_s"] for s, r in runs.items()}}
    return report


def markdown_table(rows: list[dict]) -> str:
    lines = ["| rows | preset | wall s | CPU s | peak RSS MiB | data in memory MiB | "
             "Parquet MiB | JSON KB | HTML KB | exit |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['rows']:,} | {row['preset']} | {row['wall_s']:.1f} | "
                     f"{row['cpu_s']:.1f} | {row['peak_rss_mib']:.0f} | "
                     f"{row['data_in_memory_mib']:.0f} | {row['parquet_mib']:.0f} | "
                     f"{row['json_kb']} | {row['html_kb']} | {row['exit_code']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000,5000000",
                        help="comma-separated sizes")
    parser.add_argument("--presets", default="performance,fairness")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.json"))
    parser.add_argument("--workdir", help="where the Parquet files, the model and the outputs "
                        "go, and are reused from (default: a temporary folder, removed)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per audit")
    parser.add_argument("--compare-in-memory", action="store_true",
                        help="also audit one size from memory and compare every metric")
    parser.add_argument("--compare-rows", type=int, default=100_000)
    parser.add_argument("--no-curve", action="store_true", help="only the comparison")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.rows.split(",") if size.strip()]
    presets = [preset.strip() for preset in args.presets.split(",") if preset.strip()]

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="auditkit-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    document: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                  "python": platform.python_version()},
                      "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}
    try:
        baseline = baseline_in_child()
        document["baseline_peak_rss_mib"] = baseline["peak_rss_mib"]
        print(f"import baseline: {baseline['peak_rss_mib']:.0f} MiB peak RSS", flush=True)
        if not args.no_curve:
            document["curve"] = run_curve(sizes, presets, workdir, timeout=args.timeout)
            print()
            print(markdown_table(document["curve"]))
        if args.compare_in_memory:
            document["compare_in_memory"] = {
                "rows": args.compare_rows,
                "by_preset": compare_in_memory(args.compare_rows, presets, workdir,
                                               timeout=args.timeout)}
            print()
            for preset, found in document["compare_in_memory"]["by_preset"].items():
                if "error" in found:
                    print(f"{preset}: a run failed: {found['error']}")
                    continue
                print(f"{preset}: largest |Parquet - in memory| over {found['n_numbers']} "
                      f"metric values and bounds of the checks that read all "
                      f"{args.compare_rows:,} rows ({', '.join(found['checks_compared'])}): "
                      f"{found['largest_abs_difference']:.3g}")
                if found["checks_on_the_sample"]:
                    print(f"  not compared, on the seeded sample from Parquet: "
                          f"{found['checks_on_the_sample']}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {out}")
    failed = [r for r in document.get("curve", []) if r["exit_code"] not in (0, 1)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
