"""The compliance map: its file, its validation at load, and the status an audit gives it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from auditkit import AuditResult, CheckResult, Status
from auditkit.checks import list_checks
from auditkit.compliance import (
    MAP_PATH,
    NO_CHECK_RAN,
    PROCESS_PREFIX,
    compliance_frame,
    compliance_map,
    compliance_status,
    load_compliance_map,
)
from auditkit.exceptions import AuditkitError

AI_ACT = "EU AI Act"
RMF = "NIST AI RMF 1.0"
REQUIRED = {
    AI_ACT: {"Art. 9(6)", "Art. 9(7)", "Art. 9(8)", "Art. 10(2)(f)", "Art. 10(2)(g)",
             "Art. 13(3)(b)(ii)", "Art. 13(3)(b)(v)", "Art. 14", "Art. 15(1)", "Art. 15(3)",
             "Art. 15(4)", "Art. 15(5)", "Annex IV 2(g)"},
    RMF: {"MEASURE 2.5", "MEASURE 2.6", "MEASURE 2.7", "MEASURE 2.9", "MEASURE 2.10",
          "MEASURE 2.11", "MEASURE 3.1"},
}

# A small map for the status logic, so those tests do not move when the shipped map does.
TINY_MAP = """
version: "0.1"
date: "2026-01-01"
frameworks:
  Test framework:
    document: A test document
    citation: Test (2026)
    url: https://example.org/test
requirements:
  - framework: Test framework
    id: R1
    title: Accuracy
    where: point 1
    citation: The accuracy shall be measured.
    checks: [performance_metrics, performance_calibration]
  - framework: Test framework
    id: R2
    title: Explained
    where: point 2
    citation: The model shall be explained.
    checks: [explanations_shap, explanations_lime]
  - framework: Test framework
    id: R3
    title: Oversight
    where: point 3
    citation: People shall oversee it.
    process: "needs a documented process: who oversees it."
  - framework: Test framework
    id: R4
    title: Privacy, partly a process
    where: point 4
    citation: Privacy shall be examined.
    checks: [privacy_membership_inference]
    process: "needs a documented process: a privacy impact assessment."
  - framework: Test framework
    id: R5
    title: Attacks
    where: point 5
    citation: It shall resist attacks.
    checks: [robustness_pgd, robustness_gradient_masking, robustness_tabular]
  - framework: Test framework
    id: R6
    title: Accuracy and explanations
    where: point 6
    citation: The model shall be accurate and explained.
    checks: [explanations_shap, performance_metrics]
"""


def _result(name: str, family: str, status: Status) -> CheckResult:
    return CheckResult(name=name, family=family, status=status, headline=f"{name} said so.")


@pytest.fixture()
def tiny_map(tmp_path: Path):
    path = tmp_path / "map.yaml"
    path.write_text(TINY_MAP, encoding="utf-8")
    return load_compliance_map(path)


@pytest.fixture()
def hand_built() -> AuditResult:
    """Report order deliberately differs from the map's order of checks."""
    return AuditResult(results=(
        _result("performance_calibration", "performance", Status.WARN),
        _result("performance_metrics", "performance", Status.PASS),
        _result("explanations_shap", "explanations", Status.FAIL),  # a diagnostic
        _result("explanations_lime", "explanations", Status.PASS),
        _result("robustness_pgd", "robustness", Status.SKIP),
        _result("robustness_gradient_masking", "robustness", Status.WARN),  # a diagnostic
    ))


def _by_id(statuses) -> dict:
    return {s.requirement.id: s for s in statuses}


# -- the shipped file ------------------------------------------------------------------------


def test_the_file_is_versioned_dated_and_names_its_sources():
    raw = yaml.safe_load(MAP_PATH.read_text(encoding="utf-8"))
    assert raw["version"] == "1.0" and raw["generated_for"] == "auditkit"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw["date"])
    cmap = compliance_map()
    assert cmap.version == "1.0" and cmap.date == raw["date"]
    assert cmap.frameworks[AI_ACT]["url"] == "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"
    assert "2024/1689" in cmap.frameworks[AI_ACT]["document"]
    assert cmap.frameworks[RMF]["url"].startswith("https://nvlpubs.nist.gov/")
    assert "NIST AI 100-1" in cmap.frameworks[RMF]["document"]


def test_every_check_in_the_map_is_registered():
    registered = set(list_checks())
    mapped = {c for r in compliance_map().requirements for c in r.checks}
    assert mapped and mapped <= registered
    # every family with checks gives evidence for something
    assert {c.split("_")[0] for c in mapped} >= {"performance", "explanations", "fairness",
                                                 "robustness", "ood", "privacy", "generative"}


def test_every_requirement_has_a_citation_a_source_and_evidence_or_a_process():
    for requirement in compliance_map().requirements:
        assert len(requirement.citation) > 40, requirement.id
        assert requirement.url in requirement.source
        assert requirement.source.startswith(compliance_map().frameworks[
            requirement.framework]["document"])
        assert requirement.checks or requirement.process, requirement.id
        assert not requirement.process or requirement.process.startswith(PROCESS_PREFIX)


def test_the_map_covers_the_provisions_asked_for():
    ids: dict[str, set[str]] = {}
    for requirement in compliance_map().requirements:
        ids.setdefault(requirement.framework, set()).add(requirement.id)
    for framework, required in REQUIRED.items():
        assert required <= ids[framework], required - ids[framework]


def test_citations_quote_the_provisions():
    cmap = compliance_map()
    assert "prior defined metrics and probabilistic thresholds" in cmap["Art. 9(8)"].citation
    assert "'adversarial examples' or 'model evasion'" in cmap["Art. 15(5)"].citation
    assert "(feedback loops)" not in cmap["Art. 15(4)"].citation  # the quote keeps the quotes
    assert "Fairness and bias" in cmap["MEASURE 2.11"].citation
    assert "Article 15, paragraph 5" in cmap["Art. 15(5)"].source


def test_human_oversight_is_a_process_requirement():
    requirement = compliance_map()["Art. 14"]
    assert requirement.process.startswith(PROCESS_PREFIX)
    status = _by_id(compliance_status(AuditResult(())))["Art. 14"]
    assert status.status is None and status.note.startswith(PROCESS_PREFIX)


def test_iso_42001_is_omitted_with_a_reason_not_guessed():
    cmap = compliance_map()
    assert not [r for r in cmap.requirements if "42001" in r.framework]
    (omitted,) = [o for o in cmap.omitted if "42001" in o["framework"]]
    assert "Annex A" in omitted["reason"]


def test_the_shipped_map_is_read_once():
    assert compliance_map() is compliance_map()


# -- validation at load ----------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_check_name_is_refused_at_load(tmp_path):
    path = _write(tmp_path, TINY_MAP.replace("performance_calibration]",
                                             "performance_calibraton]"))
    with pytest.raises(AuditkitError, match=r"registered check names .*'performance_calibraton'"):
        load_compliance_map(path)


@pytest.mark.parametrize(("old", "new", "match"), [
    ('version: "0.1"', "version:", r"'version' must be a non-empty string"),
    ("citation: The accuracy shall be measured.", "citation: ''",
     r"requirements\[0\]\['citation'\] must be a non-empty string"),
    ("where: point 2", "where:", r"requirements\[1\]\['where'\]"),
    ("framework: Test framework\n    id: R1", "framework: Other\n    id: R1",
     r"one of the frameworks the file describes"),
    ('"needs a documented process: who oversees it."', '"someone oversees it."',
     r"'process'\] must be a text beginning 'needs a documented process: '"),
    ("id: R2", "id: R1", r"unique. Got \('Test framework', 'R1'\) twice"),
    ("    url: https://example.org/test\n", "", r"frameworks\['Test framework'\]\['url'\]"),
])
def test_a_malformed_map_is_refused_with_the_field_named(tmp_path, old, new, match):
    assert TINY_MAP.count(old) == 1
    with pytest.raises(AuditkitError, match=match):
        load_compliance_map(_write(tmp_path, TINY_MAP.replace(old, new)))


def test_a_requirement_needs_a_check_or_a_process(tmp_path):
    text = TINY_MAP.replace('    process: "needs a documented process: who oversees it."\n', "")
    with pytest.raises(AuditkitError, match="at least one check or a process"):
        load_compliance_map(_write(tmp_path, text))


# -- status of an audit ----------------------------------------------------------------------


def test_evidence_in_report_order_and_the_worst_status(tiny_map, hand_built):
    r1 = _by_id(compliance_status(hand_built, cmap=tiny_map))["R1"]
    assert r1.evidence == (("performance_calibration", Status.WARN),
                           ("performance_metrics", Status.PASS))
    assert r1.status is Status.WARN and r1.note == "" and r1.not_run == ()


def test_diagnostics_are_evidence_but_do_not_move_the_status(tiny_map, hand_built):
    statuses = _by_id(compliance_status(hand_built, cmap=tiny_map))
    assert statuses["R2"].evidence == (("explanations_shap", Status.FAIL),
                                       ("explanations_lime", Status.PASS))
    # explanations test the audit's method, not the model: INFO, as in the audit's verdict
    assert statuses["R2"].status is Status.INFO
    # a skipped check is not evidence
    assert statuses["R5"].evidence == (("robustness_gradient_masking", Status.WARN),)
    assert statuses["R5"].status is Status.INFO
    assert statuses["R5"].not_run == ("robustness_pgd", "robustness_tabular")
    # beside a finding about the model, the diagnostic's FAIL is listed but the status is PASS
    assert statuses["R6"].evidence == (("performance_metrics", Status.PASS),
                                       ("explanations_shap", Status.FAIL))
    assert statuses["R6"].status is Status.PASS


def test_the_policy_can_let_diagnostics_count(tiny_map, hand_built):
    counted = AuditResult(hand_built.results,
                          provenance={"policy": {"diagnostics_affect_verdict": True}})
    statuses = _by_id(compliance_status(counted, cmap=tiny_map))
    assert statuses["R2"].status is Status.FAIL
    assert statuses["R5"].status is Status.WARN


def test_a_diagnostic_that_raised_always_counts(tiny_map):
    result = AuditResult((_result("explanations_lime", "explanations", Status.ERROR),
                          _result("explanations_shap", "explanations", Status.PASS)))
    assert _by_id(compliance_status(result, cmap=tiny_map))["R2"].status is Status.ERROR


def test_notes_for_processes_and_for_checks_that_did_not_run(tiny_map, hand_built):
    statuses = _by_id(compliance_status(hand_built, cmap=tiny_map))
    assert statuses["R3"].status is None and statuses["R3"].evidence == ()
    assert statuses["R3"].note == "needs a documented process: who oversees it."
    assert statuses["R4"].status is None
    assert statuses["R4"].note == ("needs a documented process: a privacy impact assessment; "
                                   + NO_CHECK_RAN)
    only_checks = AuditResult((_result("privacy_membership_inference", "privacy", Status.SKIP),))
    assert _by_id(compliance_status(only_checks, cmap=tiny_map))["R1"].note == NO_CHECK_RAN


def test_the_shipped_map_reads_a_hand_built_audit():
    result = AuditResult((_result("performance_metrics", "performance", Status.PASS),
                          _result("fairness_disparities", "fairness", Status.FAIL),
                          _result("fairness_group_metrics", "fairness", Status.INFO)))
    statuses = _by_id(compliance_status(result))
    assert len(statuses) == len(compliance_map().requirements)
    assert statuses["MEASURE 2.11"].status is Status.FAIL
    assert statuses["MEASURE 2.11"].evidence == (("fairness_disparities", Status.FAIL),
                                                 ("fairness_group_metrics", Status.INFO))
    assert statuses["Art. 15(3)"].status is Status.PASS
    assert statuses["MEASURE 2.10"].status is None
    assert statuses["MEASURE 2.10"].note == NO_CHECK_RAN


def test_the_frame_is_one_row_per_requirement_and_plain_json(tiny_map, hand_built):
    frame = compliance_frame(hand_built, cmap=tiny_map)
    assert list(frame["requirement"]) == ["R1", "R2", "R3", "R4", "R5", "R6"]
    assert frame.loc[0, "evidence"] == ("performance_calibration (WARN); "
                                        "performance_metrics (PASS)")
    assert frame.loc[2, "status"] is None and frame.loc[0, "status"] == "WARN"
    assert frame.loc[4, "not_run"] == "robustness_pgd, robustness_tabular"
    assert set(frame["map_version"]) == {"0.1"}
    records = json.loads(frame.to_json(orient="records"))
    assert records[2]["status"] is None and records[3]["n_evidence"] == 0
    assert records[0]["source"] == "A test document, point 1. https://example.org/test"
