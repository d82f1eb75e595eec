"""The robustness preset from the command line, on a zoo model of every modality.

``auditkit audit --zoo NAME --preset robustness`` runs the attacks that fit the
model and data and SKIPs the others with a reason; ``--option`` sets the
checks' options (here small sample counts, to keep the suite fast).
"""

from __future__ import annotations

import pytest

from auditkit import AuditResult
from auditkit.cli import main

SMALL = ["--option", "n_samples=40", "--option", "square_samples=20",
         "--option", "robustness_square.n_queries=60",
         "--option", "robustness_gradient_masking.n_queries=60",
         "--option", "robustness_minimal_perturbation.n_resamples=100",
         "--option", "robustness_corruptions.n_samples=60"]

#: zoo model -> checks that must run (not SKIP) for its modality.
EXPECTED = {
    "mnist-cnn": {"robustness_fgsm", "robustness_pgd", "robustness_pgd_l2",
                  "robustness_minimal_perturbation", "robustness_square",
                  "robustness_gradient_masking", "robustness_corruptions"},
    "vowels-gru": {"robustness_pgd", "robustness_square", "robustness_corruptions"},
    "sentiment-lstm": {"robustness_text", "robustness_corruptions"},
    "adult-mlp": {"robustness_tabular", "robustness_corruptions"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_robustness_preset_runs_for_every_modality(name, tmp_path):
    out, json_path = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["audit", "--zoo", name, "--preset", "robustness", "--out", str(out),
                 "--json", str(json_path), "--quiet", *SMALL]) in (0,)
    result = AuditResult.load_json(json_path)
    status = {r.name: r.status.value for r in result}
    assert all(s != "ERROR" for s in status.values()), [r.error for r in result if r.error]
    ran = {n for n, s in status.items() if s != "SKIP"}
    assert EXPECTED[name] <= ran, status
    assert all(r.family == "robustness" for r in result)
    skipped = [r for r in result if r.status.value == "SKIP"]
    assert all(r.headline for r in skipped)
    html = out.read_text("utf-8")
    assert "robustness" in html.lower() and "<svg" in html
    # a skipped check gives no evidence: only the checks that ran list their clauses
    assert html.count("<h4>Evidence for</h4>") == len(ran)


def test_option_without_a_check_applies_to_every_check_that_has_it(tmp_path):
    json_path = tmp_path / "r.json"
    main(["audit", "--zoo", "adult-mlp", "--checks", "robustness_tabular,performance_metrics",
          "--option", "n_samples=50", "--out", str(tmp_path / "r.html"), "--json",
          str(json_path), "--quiet"])
    result = {r.name: r for r in AuditResult.load_json(json_path)}
    assert result["robustness_tabular"].params["n_samples"] == 50


@pytest.mark.parametrize("option, fragment", [
    ("robustness_pgd.steps=5", "does not include"),
    ("no_such_option=1", "No check of this run has the option"),
    ("n_samples", "CHECK.NAME=VALUE"),
    ("robustness_tabular.epsilon=-1", "'epsilon'"),
])
def test_bad_options_exit_2(option, fragment, tmp_path, capsys):
    code = main(["audit", "--zoo", "adult-mlp", "--checks", "robustness_tabular", "--option",
                 option, "--out", str(tmp_path / "r.html"), "--quiet"])
    assert code == 2
    assert fragment in capsys.readouterr().err


def test_adversarial_stress_test_example_runs(tmp_path, monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "adversarial_stress_test.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path), "--samples", "20"])
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert "mnist-cnn-robust" in printed and "Targeted PGD" in printed
    assert (tmp_path / "comparison.html").is_file()
