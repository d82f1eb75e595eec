"""CONTRIBUTING.md's "Adding a check", followed to the letter.

The test takes the check file, the family ``__init__`` line and the policy
lines from the section's code blocks, writes the file into a temporary folder,
loads it as a module of its family package (so its relative imports are those
of a real check file), and runs it through ``audit(...)`` to the HTML report.
The registry, the family package and ``sys.modules`` are restored afterwards.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

import auditkit.checks
from auditkit import Policy, Status, audit, list_checks

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def _section() -> str:
    text = CONTRIBUTING.read_text("utf-8")
    match = re.search(r"^## Adding a check\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "CONTRIBUTING.md has no '## Adding a check' section"
    return match.group(1)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", _section(), re.S | re.M)


@pytest.fixture
def added_check(tmp_path, monkeypatch):
    """The section's check, written to a file and loaded as a module of its family."""
    source, init_lines = _blocks("python")
    family, filename = re.search(r"`auditkit/checks/(\w+)/(\w+\.py)`", _section()).groups()
    imports = re.findall(r"^from \.(\w+) import (\w+)$", init_lines, re.M)
    class_name = re.search(r"^class (\w+)\(Check\):", source, re.M).group(1)
    # the family imports the module; the checks package re-exports every family's names
    assert imports == [(Path(filename).stem, class_name)], init_lines

    path = tmp_path / filename
    path.write_text(source, "utf-8")
    # a private copy of the registry, so the added check is gone after the test
    monkeypatch.setattr(auditkit.checks._base, "_REGISTRY", dict(auditkit.checks._base._REGISTRY))
    qualified = f"auditkit.checks.{family}.{path.stem}"
    spec = importlib.util.spec_from_file_location(qualified, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, qualified, module)
    spec.loader.exec_module(module)
    # what the family's __init__ line does: import the class and list it
    package = importlib.import_module(f"auditkit.checks.{family}")
    monkeypatch.setattr(package, class_name, getattr(module, class_name), raising=False)
    monkeypatch.setattr(package, "__all__", [*package.__all__, class_name])
    return getattr(module, class_name)


def _policy() -> Policy:
    data = yaml.safe_load(_blocks("yaml")[0])
    return Policy.from_dict({"extends": "default", **data})


def test_the_section_names_what_a_check_file_holds():
    section = _section()
    for needed in ("@register_check", "frozen dataclass", "parameter_constraints",
                   "verdict_metrics", "compute", "requires", "modalities", "description",
                   "evidence", "rules", "__init__.py"):
        assert needed in section, needed


def test_an_added_check_runs_through_audit_to_the_report(added_check, binary_data, logreg,
                                                          tmp_path):
    cls = added_check
    name = cls.name
    assert name in list_checks(cls.family)
    assert getattr(auditkit.checks, cls.family).__all__[-1] == cls.__name__
    assert auditkit.checks.PerformanceErrorRate is cls
    policy = _policy()
    assert policy.evidence[name] and all(policy.rule(name, m) for m in cls.verdict_metrics)

    result = audit(logreg, binary_data, checks=["performance_metrics", name], policy=policy,
                   progress=False)
    added = result[name]
    assert added.status in (Status.PASS, Status.WARN, Status.FAIL), added.error
    error_rate = added.metrics["error_rate"]
    assert 0.0 <= error_rate.lower <= error_rate.value <= error_rate.upper <= 1.0
    assert error_rate.n == binary_data.n_samples
    assert added.headline.startswith(f"{round(error_rate.value * error_rate.n):,} of ")

    html_path = tmp_path / "report.html"
    result.save_html(html_path)
    html = html_path.read_text("utf-8")
    assert added.headline.split(" (")[0] in html
    assert cls.description in html or name in html


def test_an_added_check_validates_its_options(added_check):
    from auditkit.exceptions import CheckError

    with pytest.raises(CheckError, match=r"'confidence' option of check 'performance_error_rate'"):
        added_check(confidence=1.5)


def test_the_added_check_is_gone_afterwards():
    assert "performance_error_rate" not in list_checks()
    assert not hasattr(auditkit.checks.performance, "PerformanceErrorRate")
    assert not hasattr(auditkit.checks, "PerformanceErrorRate")
