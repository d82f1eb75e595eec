"""Every script in examples/ runs to the end, in time, writes its reports and prints cleanly.

Each example runs in a subprocess, in a temporary working directory, with
``AUDITKIT_EXAMPLE_BUDGET=small`` (the heavier examples then attack or
generate fewer samples) and one BLAS/OpenMP thread: on a loaded two-core CI
machine, threads of several processes busy-wait on each other and a
scikit-learn fit takes a hundred times longer. Each has a time budget; its
output must fit in 100 columns and carry no library warning.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(),
                                reason="run from an installed copy: no examples/")

#: script -> (arguments, files it writes relative to its working directory, seconds allowed
#: on a two-core CI machine)
CASES = {
    "quickstart.py": ([], ["quickstart_report.html"], 120),
    "audit_black_box.py": ([], ["black_box_report.html"], 120),
    "audit_sklearn_model.py": ([], ["german_credit_report.html", "german_credit_report.json"],
                               120),
    "compliance_evidence.py": ([], ["evidence.html", "evidence.json", "evidence.pdf"], 120),
    "compas_end_to_end.py": (["reports"], ["reports/compas_score_report.html",
                                           "reports/compas_mlp_report.html",
                                           "reports/compas_comparison.html"], 120),
    "generative_memorisation.py": (["reports"], ["reports/mnist-gan.html",
                                                 "reports/mnist-gan-memorizing.json",
                                                 "reports/comparison.html"], 120),
    "audit_parquet.py": (["reports"], ["reports/parquet_report.html",
                                       "reports/parquet_report.json"], 120),
    "adversarial_stress_test.py": (["reports"], ["reports/mnist-cnn.html",
                                                 "reports/mnist-cnn-robust.json",
                                                 "reports/comparison.html"], 120),
}
#: Examples left to ``-m slow``: the robustness preset on two image models (about a minute
#: even on the small budget), and the Parquet audit (its streaming is tested in
#: tests/test_streaming.py).
SLOW = {"adversarial_stress_test.py", "audit_parquet.py"}
#: The widest line an example may print.
WIDTH = 100
#: A warning as Python prints it ("...: FutureWarning: ...", "UserWarning: ...").
WARNING = re.compile(r"\b[A-Z]\w*Warning\b:")


def _run(command: list[str], cwd: Path, budget: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDITKIT_EXAMPLE_BUDGET": "small", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=budget)
    assert completed.returncode == 0, completed.stderr[-4000:]
    seconds = time.perf_counter() - started
    assert seconds <= budget, f"took {seconds:.0f} s, over its budget of {budget} s"
    return completed


def _check_output(completed: subprocess.CompletedProcess) -> None:
    wide = [line for line in completed.stdout.splitlines() if len(line) > WIDTH]
    assert not wide, f"{len(wide)} printed lines wider than {WIDTH} columns: {wide[:3]}"
    warned = [line for line in (completed.stdout + completed.stderr).splitlines()
              if WARNING.search(line)]
    assert not warned, f"library warnings printed: {warned[:5]}"


def test_every_example_is_run_here():
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts == {*CASES, "my_audit.py"}


@pytest.mark.parametrize("script", [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in CASES])
def test_example_runs_in_time_and_writes_its_reports(script, tmp_path):
    arguments, written, budget = CASES[script]
    completed = _run([sys.executable, str(EXAMPLES / script), *arguments], tmp_path, budget)
    for name in written:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, f"{script} did not write {name}"
    assert completed.stdout.strip(), f"{script} printed nothing"
    _check_output(completed)


def test_my_audit_builds_a_model_for_the_command_line(tmp_path):
    out = tmp_path / "my_audit.html"
    completed = _run([sys.executable, "-c",
                      "import sys; from auditkit.cli import main; sys.exit(main())",
                      "audit", f"{EXAMPLES / 'my_audit.py'}:build", "--preset", "quick",
                      "--quiet", "--out", str(out)], tmp_path, 120)
    assert out.is_file() and "performance_metrics" in out.read_text("utf-8")
    _check_output(completed)


def test_the_checks_catch_a_wide_line_and_a_warning():
    """The output checks above can fail: a wide line and a library warning are caught."""
    wide = subprocess.CompletedProcess([], 0, stdout="x" * (WIDTH + 1), stderr="")
    with pytest.raises(AssertionError, match="wider than"):
        _check_output(wide)
    warned = subprocess.CompletedProcess(
        [], 0, stdout="ok", stderr="/x/pandas/core.py:1: FutureWarning: going away\n")
    with pytest.raises(AssertionError, match="library warnings"):
        _check_output(warned)
    _check_output(subprocess.CompletedProcess([], 0, stdout="x" * WIDTH, stderr=""))
