"""The generated model card: Mitchell et al.'s sections, filled from the owner and the audit.

The JSON export is validated against the Model Card Toolkit's schema v0.0.2,
vendored in tests/data/model_card_toolkit/ (Apache-2.0, see the NOTICE there),
with a small validator of the draft-07 keywords that schema uses (jsonschema is
not a dependency).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import auditkit
from auditkit import AuditResult, CheckResult, Metric, Status, zoo
from auditkit.model_card import (
    NOT_PROVIDED,
    SECTIONS,
    ModelCard,
    build_model_card,
    save_model_card,
)

SCHEMA_PATH = Path(__file__).parent / "data" / "model_card_toolkit" / \
    "model_card.schema.v0.0.2.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


# -- a validator for the subset of JSON Schema draft-07 the MCT schema uses ------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def schema_errors(value: Any, schema: dict[str, Any] = SCHEMA, path: str = "$", *,
                  strict: bool = True) -> list[str]:
    """Every place ``value`` breaks ``schema``; ``strict`` also refuses keys it does not name.

    The MCT schema forbids unknown keys only at the top; strict mode applies that to every
    object, so that a misspelt field name anywhere fails the test.
    """
    schema = _resolve(schema)
    errors = []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if schema.get("format") == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        errors.append(f"{path}: not a date: {value!r}")
    if schema.get("format") == "uri" and not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", value):
        errors.append(f"{path}: not a URI: {value!r}")
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if all(k in value for k in s.get("required", ()))]
        if len(matching) != 1:
            errors.append(f"{path}: must match exactly one of {schema['oneOf']}")
    if kind == "object":
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{path}.{key}", strict=strict)
            elif strict or schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown key {key!r}")
    if kind == "array":
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), f"{path}[{i}]",
                                    strict=strict)
    return errors


def test_the_validator_catches_what_the_schema_forbids():
    assert schema_errors({"model_details": {"name": "m"}}) == []
    assert schema_errors({"modeldetails": {}}, strict=False) == ["$: unknown key 'modeldetails'"]
    assert schema_errors({"model_details": {"version": {"date": "May 2024"}}}) \
        == ["$.model_details.version.date: not a date: 'May 2024'"]
    bad_metric = {"quantitative_analysis": {"performance_metrics": [{"value": 0.9}]}}
    assert schema_errors(bad_metric) == [
        "$.quantitative_analysis.performance_metrics[0].value: expected string, got float"]
    assert schema_errors({"model_details": {"licenses": [{}]}})  # identifier or custom_text


# -- a real audit ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adult() -> AuditResult:
    model, data = zoo.load("adult-mlp")
    checks = [auditkit.get_check("performance_metrics", n_resamples=100),
              auditkit.get_check("performance_calibration", n_resamples=100),
              auditkit.get_check("fairness_group_metrics", n_resamples=100),
              auditkit.get_check("fairness_disparities", n_resamples=100)]
    return auditkit.audit(model, data, checks=checks)


@pytest.fixture(scope="module")
def card(adult) -> ModelCard:
    return build_model_card(adult)


def test_sections_follow_mitchell_et_al(card):
    assert [s.key for s in card.sections] == [key for key, _ in SECTIONS]
    assert [s.title for s in card.sections] == [
        "Model details", "Intended use", "Factors", "Metrics", "Evaluation data",
        "Training data", "Quantitative analyses", "Ethical considerations",
        "Caveats and recommendations"]


def test_owner_fields_are_used_and_missing_ones_said_to_be_missing(card, adult):
    details = dict(card["model_details"].fields)
    assert card.name == "adult-mlp"
    assert details["Overview"] == adult.model_card["summary"]
    assert details["Architecture"].startswith("type: MLP; inputs: 91; hidden: 64, 32")
    for label in ("Version", "Owners", "Licence", "Citation"):
        assert details[label] == NOT_PROVIDED
    assert details["Weights SHA-256 (as audited)"] == adult.provenance["model"]["weights_sha256"]
    uses = dict(card["intended_use"].fields)
    assert uses["Primary intended uses"] == adult.model_card["intended_use"]
    assert uses["Primary intended users"] == NOT_PROVIDED
    caveats = dict(card["caveats"].fields)
    assert caveats["Caveats (model owner)"] == adult.model_card["limitations"]


def test_metrics_carry_the_audit_values_and_intervals(card, adult):
    (title, table), (owner_title, owner_table) = card["metrics"].tables
    assert title == "Measured by this audit" and "not checked" in owner_title
    accuracy = adult["performance_metrics"].metrics["accuracy"]
    row = table.set_index("metric").loc["accuracy"]
    assert row["value"] == accuracy.value and row["n"] == 16281
    assert row["interval"] == f"95% [{accuracy.lower:.3f}, {accuracy.upper:.3f}]"
    assert row["method"] == "Wilson score interval"
    assert table["metric"].is_unique  # calibration's own accuracy is not repeated
    assert dict(zip(owner_table["metric"], owner_table["value"], strict=True))[
        "test_accuracy"] == "0.849948"


def test_evaluation_data_states_its_provenance(card, adult):
    fields = dict(card["evaluation_data"].fields)
    data = adult.provenance["data"]
    assert fields["SHA-256 of the audited data"] == data["sha256"]
    assert fields["Samples audited"] == "16281"
    assert fields["Sensitive features"] == "sex, race"
    assert "train_rows" not in fields["Dataset (model owner)"]
    training = dict(card["training_data"].fields)
    assert training["Training rows given to the audit"] == "32,561"
    assert "train_rows: 32561" in training["Dataset (model owner)"]


def test_factors_are_the_sensitive_features_audited(card):
    fields = dict(card["factors"].fields)
    assert fields["Evaluation factors (audited)"] == "sex, race"
    assert fields["Intersections audited"] == "sex & race"
    assert fields["Relevant factors (model owner)"] == NOT_PROVIDED


def test_one_group_table_per_sensitive_feature_with_intervals(card, adult):
    tables = dict(card["quantitative_analyses"].tables)
    assert list(tables)[:3] == ["sex: rates by group", "race: rates by group",
                                "Intersection sex & race: rates by group"]
    sex = tables["sex: rates by group"]
    assert list(sex.index) == ["Female", "Male"]
    groups = adult["fairness_group_metrics"].tables
    point = groups["groups"].loc[("sex", "Female")]
    bounds = groups["groups_intervals"].loc[("sex", "Female")]
    assert sex.loc["Female", "n"] == point["count"]
    assert sex.loc["Female", "Accuracy"] == (f"{point['accuracy']:.3f} "
                                             f"[{bounds['accuracy_lower']:.3f}, "
                                             f"{bounds['accuracy_upper']:.3f}]")
    assert set(tables["race: rates by group"].index) == {
        "Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"}
    disparities = tables["Disparities between groups"]
    assert ("sex", "demographic_parity_difference") in disparities.index


def test_caveats_name_the_families_not_run_and_the_failing_findings(card, adult):
    paragraphs = card["caveats"].paragraphs
    for scope in adult.scope():
        if not scope.run:
            assert any(p.startswith(scope.family.title()) or scope.reason in p
                       for p in paragraphs), scope.family
    assert sum("was not audited" in p for p in paragraphs) == sum(
        not s.run for s in adult.scope())
    failing = [r for r in adult.findings if r.status in (Status.WARN, Status.FAIL)]
    assert failing  # adult-mlp's disparities by sex and race fail the default policy
    for result in failing:
        assert f"Finding: {result.name} ({result.status.value}): {result.headline}" \
            in paragraphs


def test_ethical_considerations_flag_what_the_audit_found(card):
    paragraphs = card["ethical_considerations"].paragraphs
    assert paragraphs[0] == f"Ethical considerations: {NOT_PROVIDED}."
    assert "The audit treated these features as sensitive: sex, race." in paragraphs
    flagged = card.facts["ethical_considerations"]
    assert flagged and all(m == NOT_PROVIDED for _, m in flagged)
    assert flagged[0][0].startswith("fairness_disparities (FAIL)")


def test_the_mct_export_follows_the_schema(card):
    document = card.to_mct()
    assert schema_errors(document) == []
    assert document["schema_version"] == "0.0.2"
    assert set(document) == {"schema_version", "model_details", "model_parameters",
                             "quantitative_analysis", "considerations"}
    assert document["model_details"]["version"] == {"name": NOT_PROVIDED}  # no invented date
    assert document["model_details"]["licenses"] == []


def test_the_mct_export_has_overall_and_per_group_metrics(card, adult):
    metrics = card.to_mct()["quantitative_analysis"]["performance_metrics"]
    overall = {m["type"]: m for m in metrics if "slice" not in m}
    accuracy = adult["performance_metrics"].metrics["accuracy"]
    assert overall["accuracy"]["value"] == f"{accuracy.value:.6g}"
    assert overall["accuracy"]["confidence_interval"] == {
        "lower_bound": f"{accuracy.lower:.6g}", "upper_bound": f"{accuracy.upper:.6g}"}
    sliced = {(m["type"], m["slice"]): m for m in metrics if "slice" in m}
    groups = adult["fairness_group_metrics"].tables
    female = sliced[("accuracy", "sex=Female")]
    assert float(female["value"]) == pytest.approx(groups["groups"].loc[("sex", "Female"),
                                                                        "accuracy"], rel=1e-5)
    assert float(female["confidence_interval"]["lower_bound"]) == pytest.approx(
        groups["groups_intervals"].loc[("sex", "Female"), "accuracy_lower"], rel=1e-5)
    assert {s for _, s in sliced} >= {"sex=Male", "race=Black", "race=White"}
    assert not any("&" in s for _, s in sliced)  # intersections are in the card's tables only


def test_save_model_card_writes_the_mct_json(tmp_path, adult, card):
    path = save_model_card(adult, tmp_path / "card.json")
    assert path == tmp_path / "card.json"
    assert json.loads(path.read_text(encoding="utf-8")) == card.to_mct()


# -- owners' fields by hand ------------------------------------------------------------------


MITCHELL_CARD = {
    "model_name": "loan-scorer",
    "description": "Scores loan applications.",
    "version": "2.1",
    "date": "2026-03-01",
    "owners": [{"name": "Risk team", "contact": "risk@example.org"}],
    "license": "Apache-2.0",
    "references": ["https://example.org/paper", "Internal report RR-12"],
    "intended_use": {"primary_uses": ["pre-screening"], "users": "loan officers",
                     "out_of_scope": "final decisions"},
    "factors": ["age group", "region"],
    "ethical_considerations": [{"name": "Proxy discrimination by region",
                                "mitigation_strategy": "region removed from inputs"},
                               "Applicants are not told a model is used"],
    "caveats": ["Trained on 2019-2021 applications"],
    "recommendations": "Re-audit every quarter.",
    "tradeoffs": "Fewer false positives at the cost of recall.",
}


def _hand_result(model_card: dict | None) -> AuditResult:
    metric = Metric(0.9, 0.85, 0.95, confidence=0.95, n=200, method="Wilson score interval")
    check = CheckResult("performance_metrics", "performance", Status.PASS, "Accuracy 0.90.",
                        metrics={"accuracy": metric})
    return AuditResult((check,), provenance={"data": {"name": "loans", "n_samples": 200,
                                                      "sha256": "ab" * 32}},
                       model_card=model_card)


def test_mitchell_style_keys_are_read():
    card = build_model_card(_hand_result(MITCHELL_CARD))
    assert card.name == "loan-scorer"
    uses = dict(card["intended_use"].fields)
    assert uses == {"Primary intended uses": "pre-screening",
                    "Primary intended users": "loan officers",
                    "Out-of-scope uses": "final decisions"}
    assert dict(card["factors"].fields)["Relevant factors (model owner)"] == "age group, region"
    assert card["ethical_considerations"].paragraphs[:2] == (
        "Proxy discrimination by region (mitigation: region removed from inputs)",
        f"Applicants are not told a model is used (mitigation: {NOT_PROVIDED})")
    caveats = dict(card["caveats"].fields)
    assert caveats["Recommendations (model owner)"] == "Re-audit every quarter."
    document = card.to_mct()
    assert schema_errors(document) == []
    details = document["model_details"]
    assert details["version"] == {"name": "2.1", "date": "2026-03-01"}
    assert details["licenses"] == [{"identifier": "Apache-2.0"}]
    assert details["owners"] == [{"name": "Risk team", "contact": "risk@example.org"}]
    assert details["references"] == [{"reference": "https://example.org/paper"}]
    assert details["citations"] == [{"citation": "Internal report RR-12"}]
    considerations = document["considerations"]
    assert considerations["users"] == [{"description": "loan officers"}]
    assert considerations["ethical_considerations"][0] == {
        "name": "Proxy discrimination by region",
        "mitigation_strategy": "region removed from inputs"}
    assert considerations["tradeoffs"] == [
        {"description": "Fewer false positives at the cost of recall."}]
    assert {"description": "Trained on 2019-2021 applications"} in considerations["limitations"]


def test_nothing_is_invented_without_owner_fields():
    card = build_model_card(_hand_result(None))
    assert card.name == "Model audit"  # the audit's title
    owner_labels = {"Name", "Overview", "Task", "Version", "Date", "Owners", "Licence",
                    "References", "Citation", "Contact", "Architecture", "Training procedure"}
    details = dict(card["model_details"].fields)
    assert {details[label] for label in owner_labels} == {NOT_PROVIDED}
    assert set(dict(card["intended_use"].fields).values()) == {NOT_PROVIDED}
    assert dict(card["evaluation_data"].fields)["Dataset (model owner)"] == NOT_PROVIDED
    assert card["quantitative_analyses"].tables == ()
    document = card.to_mct()
    assert schema_errors(document) == []
    assert document["model_details"]["overview"] == NOT_PROVIDED
    assert document["model_details"]["version"] == {"name": NOT_PROVIDED}
    assert document["model_details"]["owners"] == [] == document["model_details"]["licenses"]
    assert document["considerations"]["use_cases"] == [{"description": NOT_PROVIDED}]
    (metric,) = document["quantitative_analysis"]["performance_metrics"]
    assert metric == {"type": "accuracy", "value": "0.9",
                      "confidence_interval": {"lower_bound": "0.85", "upper_bound": "0.95"}}


def test_a_date_that_is_not_iso_stays_in_the_card_but_not_in_the_schema_field():
    card = build_model_card(_hand_result({"date": "spring 2024"}))
    assert dict(card["model_details"].fields)["Date"] == "spring 2024"
    assert "date" not in card.to_mct()["model_details"]["version"]
    assert schema_errors(card.to_mct()) == []


def test_a_generative_model_reports_its_generative_metrics_and_privacy_findings():
    fidelity = CheckResult("generative_fidelity", "generative", Status.PASS, "Close to real.",
                           metrics={"precision": Metric(0.9, 0.88, 0.92, confidence=0.95)})
    copying = CheckResult("generative_memorisation", "generative", Status.FAIL,
                          "83% of samples are near-copies.",
                          metrics={"near_copy_share": Metric(0.83)})
    card = build_model_card(AuditResult((fidelity, copying)))
    (_, table), = card["metrics"].tables
    assert list(table["metric"]) == ["precision", "near_copy_share"]
    assert "generative_memorisation (FAIL): 83% of samples are near-copies." \
        in card["ethical_considerations"].paragraphs
    assert "generative_fidelity (PASS): Close to real." \
        not in card["ethical_considerations"].paragraphs
    types = [m["type"] for m in card.to_mct()["quantitative_analysis"]["performance_metrics"]]
    assert types == ["precision", "near_copy_share"]
