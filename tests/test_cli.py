"""The ``auditkit`` command: audits, reports, the zoo, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import auditkit
from auditkit import AuditResult
from auditkit.cli import main

USER_FILE = '''\
import numpy as np
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData


def build():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 3))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=240) > 0).astype(int)
    model = LogisticRegression().fit(X[:120], y[:120])
    return model, AuditData(X[120:], y[120:], sensitive={"group": np.arange(120) % 2},
                            name="user data")


def build_dict():
    model, data = build()
    return {"model": model, "data": data}


not_a_function = 3
'''

CHECK_NAMES = ["performance_metrics", "performance_confusion_matrix", "performance_calibration"]


@pytest.fixture
def user_file(tmp_path) -> Path:
    path = tmp_path / "my_audit.py"
    path.write_text(USER_FILE)
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("auditkit: error: ")
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"auditkit {auditkit.__version__}\n"


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: auditkit" in capsys.readouterr().out


def test_zoo_list(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("adult-mlp")
    card = auditkit.zoo.info("adult-mlp")
    assert f"test_accuracy {card['metrics']['test_accuracy']:.4g}" in out


def test_zoo_info(capsys):
    assert main(["zoo", "info", "adult-mlp"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == "adult-mlp"
    assert card["data"]["test_rows"] == 16281
    assert "preprocessing" not in card and "feature_names" not in card


def test_checks_lists_checks_and_presets(capsys):
    assert main(["checks"]) == 0
    out = capsys.readouterr().out
    for name in auditkit.list_checks():
        assert name in out
    lines = out.splitlines()
    assert any(line.startswith("performance") and "performance_metrics" in line
               for line in lines)
    presets = {line.split()[1]: line.split(None, 2)[2] for line in lines
                if line.startswith("preset ")}
    assert list(presets) == auditkit.list_presets()
    assert presets["quick"].startswith("performance_metrics, ")
    for preset, listed in presets.items():
        assert listed == (", ".join(auditkit.preset_checks(preset)) or "(no checks yet)")


def test_audit_zoo_writes_html_and_json(tmp_path, capsys):
    html, result_json = tmp_path / "r.html", tmp_path / "r.json"
    # --preset performance bounds the time on 16,281 rows as the families grow
    code = main(["audit", "--zoo", "adult-mlp", "--out", str(html), "--json", str(result_json),
                 "--preset", "performance", "--quiet"])
    assert code == 0
    assert capsys.readouterr() == ("", "")  # --quiet: nothing on either stream
    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    for name in CHECK_NAMES:
        assert name in text
    result = AuditResult.load_json(result_json)
    assert result.check_names == auditkit.preset_checks("performance")
    assert result.title == "Audit of adult-mlp"
    assert result.provenance["data"]["n_samples"] == 16281
    assert result["performance_metrics"].metric_value("accuracy") >= 0.84


@pytest.mark.parametrize("function", ["build", "build_dict"])
def test_audit_user_file(function, user_file, tmp_path, capsys):
    html, result_json = tmp_path / "user.html", tmp_path / "user.json"
    preset = "standard" if function == "build" else "quick"
    code = main(["audit", f"{user_file}:{function}", "--out", str(html), "--json",
                 str(result_json), "--seed", "5", "--preset", preset])
    assert code == 0
    out = capsys.readouterr().out
    result = AuditResult.load_json(result_json)
    assert result.provenance["random_state"] == 5
    assert result.check_names == auditkit.preset_checks(preset)
    assert result.provenance["model"]["type"] == "LogisticRegression"
    assert result.title == "Audit of user data"
    for check in result:
        assert f"{check.status.value:<5}  {check.name}" in out
    assert f"Wrote {html.resolve()}" in out and f"Wrote {result_json.resolve()}" in out
    assert f"Verdict: {result.status.value}." in out
    assert html.is_file()


def test_audit_with_checks_option(user_file, tmp_path):
    result_json = tmp_path / "r.json"
    code = main(["audit", f"{user_file}:build", "--checks",
                 "performance_confusion_matrix, performance_metrics", "--out",
                 str(tmp_path / "r.html"), "--json", str(result_json), "--quiet"])
    assert code == 0
    assert AuditResult.load_json(result_json).check_names == [
        "performance_confusion_matrix", "performance_metrics"]


def test_report_from_json(user_file, tmp_path, capsys):
    result_json = tmp_path / "saved.json"
    assert main(["audit", f"{user_file}:build", "--preset", "performance", "--out",
                 str(tmp_path / "first.html"), "--json", str(result_json), "--quiet"]) == 0
    out_html = tmp_path / "x.html"
    assert main(["report", str(result_json), "--out", str(out_html)]) == 0
    assert capsys.readouterr().out == f"Wrote {out_html.resolve()}\n"
    text = out_html.read_text(encoding="utf-8")
    for name in CHECK_NAMES:
        assert name in text
    # without --out the report goes next to the JSON
    assert main(["report", str(result_json)]) == 0
    assert (tmp_path / "saved.html").is_file()


@pytest.fixture
def warn_policy(tmp_path) -> Path:
    path = tmp_path / "warn.yaml"
    path.write_text("extends: default\nrules:\n  performance_metrics:\n"
                    "    accuracy: {direction: higher_is_better, warn: 0.999, fail: 0.01}\n")
    return path


@pytest.mark.parametrize("fail_on, expected", [("warn", 1), ("fail", 0)])
def test_fail_on(fail_on, expected, user_file, warn_policy, tmp_path):
    result_json = tmp_path / "r.json"
    code = main(["audit", f"{user_file}:build", "--checks", "performance_metrics", "--policy",
                 str(warn_policy), "--fail-on", fail_on, "--out", str(tmp_path / "r.html"),
                 "--json", str(result_json), "--quiet"])
    result = AuditResult.load_json(result_json)
    assert result["performance_metrics"].status.value == "WARN"
    assert result.status.value == "WARN"
    assert code == expected


def test_fail_on_fail_returns_1_when_a_check_fails(user_file, tmp_path):
    policy = tmp_path / "fail.yaml"
    policy.write_text("rules:\n  performance_metrics:\n"
                      "    accuracy: {direction: higher_is_better, fail: 0.999}\n")
    code = main(["audit", f"{user_file}:build", "--checks", "performance_metrics", "--policy",
                 str(policy), "--fail-on", "fail", "--out", str(tmp_path / "r.html"), "--quiet"])
    assert code == 1


@pytest.mark.parametrize("argv, fragment", [
    (lambda f: ["audit", "--zoo", "adult-mlp", f"{f}:build"],
     "Give exactly one of --zoo NAME or PATH.py:FUNCTION. Got both."),
    (lambda f: ["audit"], "Give exactly one of --zoo NAME or PATH.py:FUNCTION. Got neither."),
    (lambda f: ["audit", f"{f.parent / 'missing.py'}:build"],
     "must name an existing Python file. Got "),
    (lambda f: ["audit", f"{f}:nowhere"],
     "must define a function 'nowhere'. Got NoneType instead."),
    (lambda f: ["audit", f"{f}:not_a_function"],
     "must define a function 'not_a_function'. Got int instead."),
    (lambda f: ["audit", str(f)], "The 'target' argument must look like PATH.py:FUNCTION."),
    (lambda f: ["audit", "--zoo", "adult-nope"],
     "Got 'adult-nope' instead."),
    (lambda f: ["audit", f"{f}:build", "--preset", "thorough", "--quiet"],
     "The 'preset' parameter must be one of ['quick', 'standard', 'full', "),
    (lambda f: ["audit", f"{f}:build", "--policy", str(f.parent / "nope.yaml"), "--quiet"],
     "The 'policy' parameter must be a path to a YAML file."),
    (lambda f: ["report", str(f.parent / "missing.json")],
     "The 'result' argument must be an existing JSON file."),
    (lambda f: ["zoo", "info", "adult-nope"],
     "Got 'adult-nope' instead."),
], ids=["zoo_and_target", "neither", "missing_file", "missing_function", "not_a_function",
        "no_function_part", "unknown_zoo_model", "unknown_preset", "missing_policy",
        "missing_result", "unknown_zoo_info"])
def test_bad_input_exits_2_with_one_line(argv, fragment, user_file, tmp_path, capsys,
                                         monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory
    assert main(argv(user_file)) == 2
    err = _one_line_error(capsys)
    assert fragment in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_audit.py"]


def test_debug_shows_the_exception(user_file):
    with pytest.raises(auditkit.AuditkitError, match="Got both"):
        main(["--debug", "audit", "--zoo", "adult-mlp", f"{user_file}:build"])


def test_installed_command_runs_end_to_end():
    script = Path(sys.executable).with_name("auditkit")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "auditkit.cli"]
    completed = subprocess.run([*command, "--version"], capture_output=True, text=True,
                               timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"auditkit {auditkit.__version__}\n"
