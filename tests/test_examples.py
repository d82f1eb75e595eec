"""Every script in examples/ runs to the end on a small budget and writes its reports.

Each example runs in a subprocess, in a temporary working directory, with
``AUDITKIT_EXAMPLE_BUDGET=small``: the examples then audit with the ``quick``
preset (or fewer attacked samples) instead of their full default. The default
run stays near a minute; the heavier examples are marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(),
                                reason="run from an installed copy: no examples/")

#: script -> (arguments, files it writes, relative to its working directory)
CASES = {
    "quickstart.py": ([], ["quickstart_report.html"]),
    "audit_black_box.py": ([], ["black_box_report.html"]),
    "audit_sklearn_model.py": ([], ["german_credit_report.html", "german_credit_report.json"]),
    "compliance_evidence.py": ([], ["evidence.html", "evidence.json", "evidence.pdf"]),
    "compas_end_to_end.py": (["reports"], ["reports/compas_score_report.html",
                                           "reports/compas_mlp_report.html",
                                           "reports/compas_comparison.html"]),
    "generative_memorisation.py": (["reports"], ["reports/mnist-gan.html",
                                                 "reports/mnist-gan-memorizing.json",
                                                 "reports/comparison.html"]),
    "adversarial_stress_test.py": (["reports"], ["reports/mnist-cnn.html",
                                                 "reports/mnist-cnn-robust.json",
                                                 "reports/comparison.html"]),
}
#: Minutes even on the small budget: the robustness preset on two image models.
SLOW = {"adversarial_stress_test.py"}


def _run(command: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDITKIT_EXAMPLE_BUDGET": "small", "MPLBACKEND": "Agg"}
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed


def test_every_example_is_run_here():
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts == {*CASES, "my_audit.py"}


@pytest.mark.parametrize("script", [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in CASES])
def test_example_runs_and_writes_its_reports(script, tmp_path):
    arguments, written = CASES[script]
    _run([sys.executable, str(EXAMPLES / script), *arguments], tmp_path, timeout=900)
    for name in written:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, f"{script} did not write {name}"


def test_my_audit_builds_a_model_for_the_command_line(tmp_path):
    out = tmp_path / "my_audit.html"
    _run([sys.executable, "-c", "import sys; from auditkit.cli import main; sys.exit(main())",
          "audit", f"{EXAMPLES / 'my_audit.py'}:build", "--preset", "quick", "--quiet",
          "--out", str(out)], tmp_path, timeout=600)
    assert out.is_file() and "performance_metrics" in out.read_text("utf-8")
