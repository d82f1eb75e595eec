"""CI gates of the ``auditkit`` command: policy names, exit codes, output paths, JUnit,
the regression gate of ``compare``, and a ``--help`` that imports no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import auditkit
from auditkit import AuditResult, CheckResult, Metric, Policy, Status
from auditkit.cli import main
from auditkit.exceptions import PolicyError

ZOO = ["audit", "--zoo", "adult-mlp", "--checks", "performance_metrics",
       "--option", "n_resamples=50", "--quiet"]

TYPO_POLICY = """\
# a policy with a typo: the gate on accuracy must not silently switch off
name: typo
extends: default
rules:
  performance_metrics:
    balanced_accuracy: {warn: 0.75}
    acuracy: {direction: higher_is_better, warn: 0.95, fail: 0.9}
"""

BUILD_CRASHES = '''\
def build():
    raise RuntimeError("the data warehouse is down")
'''


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    """One real audit of adult-mlp: its exit code, JSON result and JUnit file."""
    folder = tmp_path_factory.mktemp("zoo")
    strict = folder / "strict.yaml"  # 85% accuracy fails a 90% gate
    strict.write_text("extends: default\nrules:\n  performance_metrics:\n"
                      "    accuracy: {direction: higher_is_better, warn: 0.95, fail: 0.9}\n")
    code = main([*ZOO, "--policy", str(strict), "--fail-on", "fail",
                 "--out", str(folder / "r.html"), "--json", str(folder / "r.json"),
                 "--junit", str(folder / "r.xml")])
    return code, folder


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("auditkit: ") and err.count("\n") == 1, err
    return err


# -- policy validation ---------------------------------------------------------------------


def test_a_metric_typo_names_file_line_and_closest_name(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(TYPO_POLICY)
    message = (f"{path}, line 7: rules.performance_metrics has no metric 'acuracy'; did you "
               "mean 'accuracy'? Expected one of [")
    with pytest.raises(PolicyError) as info:
        Policy.from_yaml(path)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("text, fragment", [
    ("rules:\n  performance_metric:\n    accuracy: {direction: higher_is_better, fail: 0.5}\n",
     "line 2: rules has no check 'performance_metric'; did you mean 'performance_metrics'?"),
    ("clauses: {c: text}\nevidence:\n  robustness_pgdd: [c]\n",
     "line 3: evidence has no check 'robustness_pgdd'; did you mean 'robustness_pgd'?"),
    ("extends: default\nrules:\n  performance_metrics:\n    roc_acu: null\n",
     "line 4: rules.performance_metrics has no metric 'roc_acu'; did you mean 'roc_auc'?"),
    ("rules:\n  robustness_fgsm:\n    zzz: {direction: higher_is_better, fail: 0.5}\n",
     "line 3: rules.robustness_fgsm has no metric 'zzz'. Expected a metric the check "
     "declares, and it declares none."),
], ids=["check_in_rules", "check_in_evidence", "removed_metric", "check_without_metrics"])
def test_unknown_names_are_errors(text, fragment, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=r"p\.yaml, " + fragment.replace("?", r"\?")
                       .replace("(", r"\(").replace("[", r"\[")):
        Policy.from_yaml(path)


def test_valid_names_still_load():
    shipped = Path(__file__).resolve().parents[1] / "examples" / "strict_policy.yaml"
    assert Policy.from_yaml(shipped).rule("performance_metrics", "balanced_accuracy").warn == 0.85
    default = Policy.default()
    # a metric the check emits beyond its verdict metrics, and one only the default judges
    own = Policy.from_dict({"rules": {
        "performance_metrics": {"f1_macro": {"direction": "higher_is_better", "fail": 0.5}},
        "explanations_saliency": {"null_rank_correlation": {"direction": "lower_is_better",
                                                            "fail": 0.9}}}})
    assert len(own.rules) == 2 and len(default.rules) > 20
    with pytest.raises(PolicyError, match=r"^rules\.performance_metrics has no metric "
                                          r"'acuracy'; did you mean 'accuracy'\?"):
        Policy.from_dict({"rules": {"performance_metrics": {"acuracy": {"fail": 0.5}}}})


def test_a_policy_typo_stops_the_command_with_2(tmp_path, capsys):
    # before, this audit of an 85%-accurate model passed "--fail-on fail" with exit 0
    path = tmp_path / "policy.yaml"
    path.write_text(TYPO_POLICY)
    code = main([*ZOO, "--policy", str(path), "--fail-on", "fail",
                 "--out", str(tmp_path / "r.html")])
    assert code == 2
    assert "line 7: rules.performance_metrics has no metric 'acuracy'" in _error(capsys)
    assert not (tmp_path / "r.html").exists()


# -- exit codes ------------------------------------------------------------------------------


def test_exit_1_when_the_gate_fails_and_0_when_it_passes(zoo_run, tmp_path):
    code, folder = zoo_run
    assert code == 1
    assert AuditResult.load_json(folder / "r.json")["performance_metrics"].status is Status.FAIL
    assert main([*ZOO, "--fail-on", "fail", "--out", str(tmp_path / "r.html")]) == 0


def test_exit_2_for_usage_errors():
    with pytest.raises(SystemExit) as info:
        main(["audit", "--fail-on", "sometimes"])
    assert info.value.code == 2


def test_a_crash_in_the_users_build_is_bad_input(tmp_path, capsys):
    path = tmp_path / "my_audit.py"
    path.write_text(BUILD_CRASHES)
    code = main(["audit", f"{path}:build", "--out", str(tmp_path / "r.html"), "--quiet"])
    assert code == 2
    err = _error(capsys)
    assert f"The 'target' function '{path}:build' raised RuntimeError: the data warehouse is " \
           "down" in err


def test_an_internal_error_exits_3(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(AuditResult, "save_html", broken)
    code = main([*ZOO, "--fail-on", "fail", "--out", str(tmp_path / "r.html")])
    assert code == 3
    err = _error(capsys)
    assert err.startswith("auditkit: internal error: RuntimeError: renderer bug")
    assert "--debug" in err


def test_an_unreadable_input_exits_2(tmp_path, capsys):
    folder = tmp_path / "result.json"
    folder.mkdir()  # exists, but cannot be read as a file
    assert main(["compare", str(folder), str(folder), "--out", str(tmp_path / "c.html")]) == 2
    assert "must name existing JSON files" in _error(capsys)


# -- output paths are checked before the audit runs ------------------------------------------


@pytest.mark.parametrize("option", ["--out", "--json", "--pdf", "--junit"])
@pytest.mark.parametrize("where, problem", [
    ("missing/r.out", "whose folder '{tmp}/missing' does not exist"),
    ("file.txt/r.out", "whose folder '{tmp}/file.txt' does not exist"),
    ("folder", "which is a folder"),
], ids=["missing_folder", "folder_is_a_file", "path_is_a_folder"])
def test_unwritable_outputs_stop_before_the_audit(option, where, problem, tmp_path, capsys,
                                                  monkeypatch):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    monkeypatch.setattr(auditkit.zoo, "load", lambda name: pytest.fail("the audit started"))
    argv = {"--out": str(tmp_path / "ok.html")}
    argv[option] = str(tmp_path / where)
    assert main([*ZOO, *(x for pair in argv.items() for x in pair)]) == 2
    err = _error(capsys)
    assert f"The '{option}' parameter must be a file path auditkit can write." in err
    assert problem.format(tmp=tmp_path) in err


def test_a_read_only_folder_stops_before_the_audit(tmp_path, capsys, monkeypatch):
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if root:  # root may write in any folder by its mode; /proc takes no new files
        if not Path("/proc/self").is_dir():
            pytest.skip("root can write in a read-only folder, and there is no /proc")
        locked = Path("/proc")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
    monkeypatch.setattr(auditkit.zoo, "load", lambda name: pytest.fail("the audit started"))
    try:
        assert main([*ZOO, "--out", str(tmp_path / "r.html"), "--json",
                     str(locked / "auditkit-r.json")]) == 2
    finally:
        if not root:
            locked.chmod(0o700)
    assert f"whose folder '{locked}' is not writable" in _error(capsys)


def test_compare_and_report_check_their_outputs_first(zoo_run, tmp_path, capsys):
    _, folder = zoo_run
    result = str(folder / "r.json")
    assert main(["compare", result, result, "--out", str(tmp_path / "no" / "c.html")]) == 2
    assert "'--out' parameter" in _error(capsys)
    assert main(["report", result, "--pdf", str(tmp_path / "no" / "r.pdf")]) == 2
    assert "'--pdf' parameter" in _error(capsys)


# -- JUnit XML -------------------------------------------------------------------------------


def test_junit_of_a_real_audit(zoo_run):
    _, folder = zoo_run
    root = ET.parse(folder / "r.xml").getroot()
    suite = root.find("testsuite")
    (case,) = suite.findall("testcase")
    assert (case.get("classname"), case.get("name")) == ("performance", "performance_metrics")
    failure = case.find("failure")
    assert failure.get("message").startswith("Accuracy 85.0%")
    assert "accuracy = 0.8499" in failure.text and "fail 0.9): FAIL" in failure.text
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "1", "0")


NASTY = 'Rates <b>&amp;</b> "quoted" ]]> \x01bell\x0b and \u00e9'


def _crafted() -> AuditResult:
    def result(name, family, status, headline, **extra):
        return CheckResult(name, family, status, headline, **extra)

    return AuditResult((
        result("performance_metrics", "performance", Status.FAIL, NASTY,
               metrics={"accuracy": Metric(0.5)}),
        result("performance_calibration", "performance", Status.WARN, "Calibration is off."),
        result("fairness_disparities", "fairness", Status.ERROR, "The check raised.",
               error="Traceback ...\nValueError: <boom>"),
        result("robustness_text", "robustness", Status.SKIP, "This check applies to text data."),
        result("performance_confusion_matrix", "performance", Status.INFO, "Counts."),
    ), title="Crafted <audit>")


@pytest.mark.parametrize("fail_on, warn_fails", [("fail", False), ("warn", True)])
def test_junit_maps_each_status(fail_on, warn_fails, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(auditkit, "audit", lambda *args, **kwargs: _crafted())
    path = tmp_path / "audit.xml"
    code = main([*ZOO, "--fail-on", fail_on, "--out", str(tmp_path / "r.html"),
                 "--junit", str(path)])
    assert code == 1  # the verdict is ERROR, past either gate
    root = ET.fromstring(path.read_bytes())  # valid XML despite the control characters
    suite = root.find("testsuite")
    assert suite.get("name") == "Crafted <audit>"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert [c.get("classname") for c in cases.values()] == [
        "performance", "performance", "fairness", "robustness", "performance"]
    failure = cases["performance_metrics"].find("failure")
    assert failure.get("message") == 'Rates <b>&amp;</b> "quoted" ]]> bell and \u00e9'
    assert cases["fairness_disparities"].find("error").text.endswith("ValueError: <boom>")
    assert cases["robustness_text"].find("skipped").get("message") == \
        "This check applies to text data."
    warned = cases["performance_calibration"]
    assert (warned.find("failure") is not None) is warn_fails
    assert "WARN" in warned.find("system-out").text
    passed = cases["performance_confusion_matrix"]
    assert [child.tag for child in passed] == ["system-out"]
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "2" if warn_fails else "1", "1", "1")


# -- the regression gate of compare ----------------------------------------------------------


def _worse(path: Path, out: Path, changes: dict[str, float]) -> Path:
    """A copy of a JSON result with metrics of performance_metrics moved by ``changes``."""
    data = json.loads(path.read_text("utf-8"))
    (metrics,) = [r["metrics"] for r in data["results"] if r["name"] == "performance_metrics"]
    for name, shift in changes.items():
        for key in ("value", "lower", "upper"):
            if metrics[name][key] is not None:
                metrics[name][key] += shift
    out.write_text(json.dumps(data), "utf-8")
    return out


def test_compare_fails_only_on_regressions_with_intervals_apart(zoo_run, tmp_path, capsys):
    _, folder = zoo_run
    base = folder / "r.json"
    # accuracy and ROC AUC clearly worse; log loss (lower is better) barely worse: overlapping
    new = _worse(base, tmp_path / "new.json", {"accuracy": -0.05, "roc_auc": -0.1,
                                               "log_loss": 0.001})
    out = tmp_path / "c.html"
    assert main(["compare", str(base), str(base), "--out", str(out),
                 "--fail-on-regression"]) == 0
    assert "No regression" in capsys.readouterr().out
    assert main(["compare", str(base), str(new), "--out", str(out), "--names", "base,new",
                 "--fail-on-regression"]) == 1
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    assert "2 regression(s) against base, largest first:" in lines
    listed = [line for line in lines if line.startswith("new: ")]
    assert [line.split()[1] for line in listed] == ["performance_metrics.roc_auc",
                                                     "performance_metrics.accuracy"]
    assert "(higher is better; worse by 0.1)" in listed[0]
    # without the flag, compare only writes the page
    assert main(["compare", str(base), str(new), "--out", str(out)]) == 0


def test_better_metrics_and_metrics_without_intervals_are_not_gates(zoo_run, tmp_path):
    _, folder = zoo_run
    base = folder / "r.json"
    better = _worse(base, tmp_path / "better.json", {"accuracy": 0.05, "log_loss": -0.5})
    assert main(["compare", str(base), str(better), "--out", str(tmp_path / "c.html"),
                 "--fail-on-regression"]) == 0
    data = json.loads(base.read_text("utf-8"))
    for result in data["results"]:
        for metric in result["metrics"].values():
            metric["lower"] = metric["upper"] = None
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(data), "utf-8")
    worse = _worse(bare, tmp_path / "bare_worse.json", {"accuracy": -0.3})
    assert main(["compare", str(bare), str(worse), "--out", str(tmp_path / "c.html"),
                 "--fail-on-regression"]) == 0


# -- a fast --help -----------------------------------------------------------------------------

_HELP_PROBE = """
import sys, time, types, contextlib, io
started = time.perf_counter()
{setup}
from auditkit.cli import main
for argv in (["--help"], ["audit", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            main(argv)
        except SystemExit as exit_:
            assert exit_.code == 0
    assert "exit codes:" in out.getvalue(), out.getvalue()
heavy = sorted(m for m in ("torch", "sklearn", "matplotlib", "auditkit.checks", "auditkit.zoo")
               if m in sys.modules)
print(repr((heavy, time.perf_counter() - started)))
"""


def _probe(setup: str) -> tuple[list[str], float]:
    completed = subprocess.run([sys.executable, "-c", _HELP_PROBE.format(setup=setup)],
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    return eval(completed.stdout.strip().splitlines()[-1])  # noqa: S307 (our own repr)


def test_the_command_module_imports_nothing_heavy_for_help():
    # The command module on its own (the package's __init__ bypassed): help needs no checks.
    package = Path(auditkit.__file__).parent
    setup = (f"package = types.ModuleType('auditkit'); package.__path__ = [{str(package)!r}]; "
             "sys.modules['auditkit'] = package")
    heavy, _ = _probe(setup)
    assert heavy == []


def test_help_is_fast_and_imports_no_torch():
    best = None
    for _ in range(2):  # the best of two, so a busy machine's hiccup does not fail it
        heavy, seconds = _probe("")
        best = seconds if best is None else min(best, seconds)
        if heavy:
            break
    assert heavy == [], f"--help imported {heavy}"
    assert best < 0.5, f"--help took {best:.2f} s"


def test_help_documents_the_exit_codes_and_the_junit_mapping(capsys):
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("0 the command passed its gate", "1 a gate failed", "2 bad input or usage",
                     "3 an internal error", "WARN passes with the warning in system-out"):
        assert fragment in text, fragment
    started = time.perf_counter()
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "--fail-on-regression" in capsys.readouterr().out
    assert time.perf_counter() - started < 0.5
