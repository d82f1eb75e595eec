"""Strings and files: control characters, hostile policies, deep JSON, tampered data.

Each case asserts the sentence the user gets: naming the parameter, what was
expected and what was given. Nothing here may end in a raw exception.
"""

from __future__ import annotations

import json
import shutil

import pytest

from auditkit import AuditResult, CheckResult, Metric, Policy, Status
from auditkit._text import visible
from auditkit.cli import main
from auditkit.exceptions import AuditkitError, PolicyError, ZooError
from auditkit.report import render_comparison_html, render_html

CONTROLS = "\x00\x07\x1b\x08\x7f\x85"
RAW = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F,
                        *range(0x80, 0xA0))]


# -- control characters -------------------------------------------------------------------


def test_visible_replaces_every_control_character_and_keeps_the_rest():
    text = "".join(RAW) + "\t\n\r é 名 ✓"
    shown = visible(text)
    assert not any(ch in shown for ch in RAW)
    assert shown.endswith("\t\n\r é 名 ✓")
    assert visible("a\x00b\x1b[31mc\x07") == "a\u2400b\u241b[31mc\u2407"
    assert visible("\x7f\x85") == "\u2421\\x85"


def _hostile_result() -> AuditResult:
    name = f"check{CONTROLS}name"
    result = CheckResult(name=name, family="performance", status=Status.WARN,
                         headline=f"headline {CONTROLS} end", description=f"desc {CONTROLS}",
                         metrics={f"metric{CONTROLS}": Metric(0.5, 0.4, 0.6, 0.95, n=10)})
    return AuditResult([result], title=f"Model {CONTROLS} title",
                       model_card={f"owner{CONTROLS}": f"team {CONTROLS}"})


def _assert_no_raw_controls(text: str) -> None:
    found = sorted({f"U+{ord(ch):04X}" for ch in text if ch in RAW})
    assert not found, f"raw control characters in the output: {found}"


def test_report_shows_control_characters_visibly():
    html = render_html(_hostile_result())
    _assert_no_raw_controls(html)
    assert "Model \u2400\u2407\u241b\u2408\u2421\\x85 title" in html


def test_comparison_page_shows_control_characters_visibly():
    result = _hostile_result()
    html = render_comparison_html(result, result, names=[f"A{CONTROLS}", "B"])
    _assert_no_raw_controls(html)
    assert "\u241b" in html


def test_cli_summary_and_errors_show_control_characters_visibly(tmp_path, capsys):
    path = tmp_path / "hostile.json"
    _hostile_result().save_json(path)
    assert main(["report", str(path), "--out", str(tmp_path / "r.html")]) == 0
    _assert_no_raw_controls((tmp_path / "r.html").read_text("utf-8"))
    missing = tmp_path / f"no{CONTROLS}such.json"
    assert main(["report", str(missing), "--out", str(tmp_path / "x.html")]) == 2
    captured = capsys.readouterr()
    _assert_no_raw_controls(captured.out + captured.err)


# -- policies -----------------------------------------------------------------------------


BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
name: policy
description: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
"""

POLICY_CASES = {
    "alias-bomb": (BOMB, r"'policy' parameter must be a YAML document of at most 50,000 values"),
    "recursive-alias": ("name: &n [*n]\n", r"without recursive aliases"),
    "name-number": ("name: 3\n", r"'name' parameter must be a string\. Got int 3"),
    "name-list": ("name: [a, b]\n", r"'name' parameter must be a string\. Got list"),
    "name-too-long": ("name: " + "n" * 201 + "\n", r"'name' parameter must be at most 200"),
    "description-mapping": ("description: {a: 1}\n",
                            r"'description' parameter must be a string\. Got dict"),
    "description-too-long": ("description: " + "d" * 20_001 + "\n",
                             r"'description' parameter must be at most 20,000 characters"),
    "clauses-list": ("clauses: [a, b]\n", r"'clauses' parameter must be a mapping\. Got list"),
    "clause-text-list": ("clauses:\n  A: [1, 2]\n",
                         r"'clauses\.A' parameter must be a clause identifier \(string\) with its "
                         r"text \(string\)\. Got str -> list"),
    "clause-id-number": ("clauses:\n  7: text\n", r"'clauses\.7' parameter must be a clause"),
    "clause-too-long": ("clauses:\n  A: " + "c" * 20_001 + "\n",
                        r"'clauses\.A' parameter must be at most 20,000 characters"),
    "rules-list": ("rules: [performance_metrics]\n", r"'rules' parameter must be a mapping"),
    "evidence-string": ("clauses: {A: text}\nevidence:\n  performance_metrics: A\n",
                        r"'evidence\.performance_metrics' parameter must be a list of clause "
                        r"identifiers \(strings\)\. Got 'A'"),
    "evidence-numbers": ("clauses: {A: text}\nevidence:\n  performance_metrics: [1, 2]\n",
                         r"'evidence\.performance_metrics' parameter must be a list"),
    "evidence-list": ("evidence: [a]\n", r"'evidence' parameter must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(POLICY_CASES))
def test_hostile_policy_is_refused_with_one_sentence(case, tmp_path):
    text, message = POLICY_CASES[case]
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        Policy.from_yaml(path)


def test_oversized_policy_file_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * 1_000_000 + "\nname: big\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"a YAML file of at most 1,000,000 bytes\. Got "
                                          r"'.*big\.yaml' of 1,000,013 bytes"):
        Policy.from_yaml(path)


def test_policy_from_dict_checks_field_types():
    with pytest.raises(PolicyError, match=r"'name' parameter must be a string"):
        Policy.from_dict({"name": ["x"]})
    with pytest.raises(PolicyError, match=r"'clauses\.A' parameter must be a clause"):
        Policy.from_dict({"name": "x", "clauses": {"A": None}})


def test_alias_bomb_through_the_command_line_exits_2(tmp_path, capsys):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    code = main(["audit", "--zoo", "adult-mlp", "--preset", "quick", "--policy", str(path),
                 "--out", str(tmp_path / "r.html"), "--quiet"])
    assert code == 2
    assert "at most 50,000 values once its aliases are expanded" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_ordinary_policy_with_aliases_still_loads(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("extends: default\nname: shared levels\nrules:\n"
                    "  performance_metrics:\n    accuracy: &acc {direction: higher_is_better, "
                    "warn: 0.8, fail: 0.7}\n    balanced_accuracy: *acc\n", encoding="utf-8")
    policy = Policy.from_yaml(path)
    assert policy.rule("performance_metrics", "balanced_accuracy").fail == 0.7


# -- deep or odd JSON ---------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("[" * 5000 + "]" * 5000, r"must nest at most 100 levels of lists and objects"),
    ('{"a":' * 150 + "1" + "}" * 150, r"must nest at most 100 levels"),
    ("null", r"must be an object written by AuditResult\.save_json\. Got a JSON null"),
    ("[1, 2]", r"Got a JSON array"),
    ('"text"', r"Got a JSON string"),
    ("3.5", r"Got a JSON number"),
])
def test_result_json_that_is_not_an_audit_is_refused(text, message):
    with pytest.raises(AuditkitError, match=message):
        AuditResult.from_json(text)


def test_deep_json_through_the_command_line_exits_2(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert main(["report", str(path), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "must nest at most 100 levels" in err and "RecursionError" not in err
    assert main(["compare", str(path), str(path), "--out", str(tmp_path / "c.html")]) == 2
    assert "must nest at most 100 levels" in capsys.readouterr().err


def test_a_saved_result_round_trips_under_the_depth_limit():
    result = _hostile_result()
    assert AuditResult.from_json(result.to_json()) == result


# -- vendored data ------------------------------------------------------------------------


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    from auditkit.zoo import _datasets

    folder = tmp_path / "data"
    shutil.copytree(_datasets.DATA_DIR, folder)
    monkeypatch.setattr(_datasets, "DATA_DIR", folder)
    _datasets._sources.cache_clear()
    yield folder
    _datasets._sources.cache_clear()


def test_tampered_vendored_data_is_a_zoo_integrity_error(data_copy):
    from auditkit.zoo import _datasets

    path = data_copy / "german_values_maps.json"
    listed = json.loads((data_copy / "SOURCES.json").read_text("utf-8"))
    assert any(entry["name"] == path.name for entry in listed["files"])
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01  # one flipped bit
    path.write_bytes(bytes(content))
    with pytest.raises(ZooError, match=r"vendored data file .*german_values_maps\.json does not "
                                       r"match the SHA-256 recorded in SOURCES\.json: expected "
                                       r"[0-9a-f]{64}, got [0-9a-f]{64}"):
        _datasets._read(path.name)


def test_missing_and_unlisted_vendored_files_are_zoo_errors(data_copy):
    from auditkit.zoo import _datasets

    (data_copy / "german_values_maps.json").unlink()
    with pytest.raises(ZooError, match=r"german_values_maps\.json cannot be read"):
        _datasets._read("german_values_maps.json")
    with pytest.raises(ZooError, match=r"'extra\.csv' is not listed in .*SOURCES\.json"):
        _datasets._read("extra.csv")
