"""A model card generated from an audit and the user's fields (Mitchell et al., 2019).

Sections: model details, intended use, factors, metrics, evaluation data,
training data, quantitative analyses (by group), ethical considerations,
caveats and recommendations. Exported as JSON following the Model Card
Toolkit's schema (v0.0.2).

Two sources fill the card, and it says which is which. The model owner's
fields (``result.model_card``: a zoo model's card, or the dict given to
:func:`auditkit.audit`) give what an audit cannot know: intended use,
owners, licence, training. The audit gives what it measured: metrics with
their intervals, the audited data's provenance, per-group rates, the families
not run and the findings that warn or fail. A field the owner did not give is
written as "not provided by the model owner"; nothing is made up.

References
----------
M. Mitchell, S. Wu, A. Zaldivar, P. Barnes, L. Vasserman, B. Hutchinson,
E. Spitzer, I. D. Raji, T. Gebru. Model Cards for Model Reporting. FAT* 2019.
https://doi.org/10.1145/3287560.3287596

Model Card Toolkit JSON schema v0.0.2 (Apache-2.0),
https://github.com/tensorflow/model-card-toolkit/blob/main/model_card_toolkit/schema/v0.0.2/model_card.schema.json
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from ._families import FAMILY_TITLES
from .results import AuditResult, CheckResult, FamilyScope, Metric, Status

__all__ = ["CardMetric", "CardSection", "ModelCard", "NOT_PROVIDED", "build_model_card",
           "save_model_card"]

#: What the card says of a field the model owner did not give.
NOT_PROVIDED = "not provided by the model owner"
#: The Model Card Toolkit schema version :meth:`ModelCard.to_mct` follows.
MCT_SCHEMA_VERSION = "0.0.2"

SECTIONS: tuple[tuple[str, str], ...] = (
    ("model_details", "Model details"),
    ("intended_use", "Intended use"),
    ("factors", "Factors"),
    ("metrics", "Metrics"),
    ("evaluation_data", "Evaluation data"),
    ("training_data", "Training data"),
    ("quantitative_analyses", "Quantitative analyses"),
    ("ethical_considerations", "Ethical considerations"),
    ("caveats", "Caveats and recommendations"),
)

# The owner's fields, by the names people write them under (first found wins).
_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "model_name"),
    "overview": ("overview", "summary", "description"),
    "version": ("version", "model_version"),
    "date": ("date", "model_date", "version_date"),
    "owners": ("owners", "owner", "developers", "developed_by", "organization", "authors"),
    "contact": ("contact", "questions"),
    "licenses": ("licenses", "license", "licence", "licences"),
    "references": ("references", "reference", "paper", "links", "url"),
    "citations": ("citations", "citation"),
    "architecture": ("architecture", "model_architecture", "model_type"),
    "task": ("task",),
    "training": ("training", "training_procedure"),
    "input_format": ("input_format", "input"),
    "intended_use": ("intended_use", "intended_uses", "primary_intended_uses", "primary_uses",
                     "use_cases"),
    "users": ("intended_users", "primary_intended_users", "users"),
    "out_of_scope": ("out_of_scope_uses", "out_of_scope", "out_of_scope_use_cases"),
    "factors": ("factors", "relevant_factors"),
    "metrics": ("metrics", "reported_metrics"),
    "thresholds": ("decision_thresholds", "decision_threshold", "threshold"),
    "data": ("data", "dataset"),
    "evaluation_data": ("evaluation_data",),
    "training_data": ("training_data",),
    "ethical_considerations": ("ethical_considerations", "ethics"),
    "caveats": ("caveats", "caveats_and_recommendations", "limitations"),
    "known_defects": ("planted_defect", "known_defects", "known_issues"),
    "recommendations": ("recommendations",),
    "tradeoffs": ("tradeoffs", "trade_offs"),
}
_GROUP_RATES = (("accuracy", "Accuracy"), ("selection_rate", "Selection rate"),
                ("tpr", "TPR"), ("fpr", "FPR"), ("precision", "Precision"))
#: Families whose metrics are the model's performance measures (a classifier's; a generator's).
_PERFORMANCE_FAMILIES = ("performance", "generative")
#: Generative checks that bear on the privacy of the training data.
_GENERATIVE_PRIVACY = ("generative_memorisation", "generative_membership")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPDX_LIKE = re.compile(r"[A-Za-z0-9.+-]+")
_MAX_TEXT = 400
_MAX_LIST = 10


@dataclass(frozen=True)
class CardSection:
    """One section of the card."""

    key: str  # "intended_use"
    title: str  # "Intended use"
    paragraphs: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()  # labelled values
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()  # (title, table)


@dataclass(frozen=True)
class CardMetric:
    """One measured number of the card, overall or on a slice, with its interval.

    Parameters
    ----------
    type : str
        The metric (``"accuracy"``).
    value : float
        Its point estimate.
    slice : str, optional
        The subset it was measured on (``"sex=Female"``); empty for all samples.
    lower, upper : float or None
        The confidence interval, when one was computed.
    """

    type: str
    value: float
    slice: str = ""
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class ModelCard:
    """The card: its sections in Mitchell et al.'s order.

    Parameters
    ----------
    name : str
        The model's name.
    sections : tuple of CardSection
        The nine sections, in the paper's order.
    performance : tuple of CardMetric, optional
        The measured numbers (overall, then by group) for the JSON export.
    facts : mapping, optional
        The structured values :meth:`to_mct` exports (overview, version,
        owners, datasets, considerations...), as :func:`build_model_card`
        gathers them.
    """

    name: str
    sections: tuple[CardSection, ...]
    performance: tuple[CardMetric, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> CardSection:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"No section {key!r} in the card; it has "
                       f"{[s.key for s in self.sections]}.")

    def to_mct(self) -> dict[str, Any]:
        """The card as a Model Card Toolkit JSON document (schema v0.0.2).

        Returns
        -------
        dict
            JSON-ready: ``schema_version``, ``model_details``,
            ``model_parameters``, ``quantitative_analysis`` and
            ``considerations``. Values the schema types as strings (metric
            values, interval bounds) are strings. A field the owner did not
            give is the sentence "not provided by the model owner" where the
            schema takes free text, and left out (or an empty list) where it
            takes a date, a URI or a licence identifier.

        Examples
        --------
        >>> ModelCard("m", ()).to_mct()["schema_version"]
        '0.0.2'
        """
        facts = self.facts
        details: dict[str, Any] = {
            "name": self.name,
            "overview": facts.get("overview", NOT_PROVIDED),
            "version": _mct_version(facts.get("version"), facts.get("date")),
            "owners": list(facts.get("owners", ())),
            "licenses": list(facts.get("licenses", ())),
            "references": list(facts.get("references", ())),
            "citations": list(facts.get("citations", ())),
        }
        if facts.get("documentation"):
            details["documentation"] = facts["documentation"]
        parameters: dict[str, Any] = {
            "model_architecture": facts.get("architecture", NOT_PROVIDED),
            "data": list(facts.get("datasets", ())),
        }
        for key in ("input_format", "output_format"):
            if facts.get(key):
                parameters[key] = facts[key]
        return {
            "schema_version": MCT_SCHEMA_VERSION,
            "model_details": details,
            "model_parameters": parameters,
            "quantitative_analysis": {
                "performance_metrics": [_mct_metric(m) for m in self.performance],
                "graphics": {"description": "The figures are in auditkit's HTML report; none "
                                            "are embedded in this file.", "collection": []},
            },
            "considerations": {
                key: [{"description": text} for text in facts.get(key, ())]
                for key in ("users", "use_cases", "limitations", "tradeoffs")
            } | {"ethical_considerations": [
                {"name": name, "mitigation_strategy": mitigation}
                for name, mitigation in facts.get("ethical_considerations", ())]},
        }


# -- building ----------------------------------------------------------------------------


def build_model_card(result: AuditResult) -> ModelCard:
    """The model card of ``result``: its ``model_card`` fields completed from the audit.

    Parameters
    ----------
    result : AuditResult
        The audit; ``result.model_card`` holds the owner's fields (Mitchell-style
        keys such as ``intended_use``, ``factors``, ``ethical_considerations``,
        ``caveats`` are read, as are the zoo cards' ``summary``, ``architecture``,
        ``data``, ``training``, ``limitations`` and ``planted_defect``).

    Returns
    -------
    ModelCard
        Nine sections in Mitchell et al.'s order.

    Examples
    --------
    >>> from auditkit import AuditResult
    >>> from auditkit.model_card import build_model_card
    >>> card = build_model_card(AuditResult((), model_card={"name": "m"}))
    >>> [s.key for s in card.sections][:3]
    ['model_details', 'intended_use', 'factors']
    >>> dict(card["intended_use"].fields)["Primary intended uses"]
    'not provided by the model owner'
    """
    owner = _OwnerFields(result.model_card or {})
    name = owner.text("name") or result.title
    facts: dict[str, Any] = {}
    builders = (_model_details, _intended_use, _factors, _metrics, _evaluation_data,
                _training_data, _quantitative_analyses, _ethical_considerations, _caveats)
    sections = tuple(build(result, owner, facts) for build in builders)
    performance = (*_overall_metrics(result), *_group_metrics(result))
    return ModelCard(name=name, sections=sections, performance=performance, facts=facts)


def save_model_card(result: AuditResult, path: str | PathLike[str]) -> Path:
    """Write the model card of ``result`` as Model Card Toolkit JSON.

    Parameters
    ----------
    result : AuditResult
        The audit.
    path : str or path-like
        Where to write the JSON file.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> save_model_card(result, "model_card.json")  # doctest: +SKIP
    PosixPath('model_card.json')
    """
    path = Path(path)
    document = build_model_card(result).to_mct()
    path.write_text(json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


class _OwnerFields:
    """The owner's card, read under any of the names a field goes by."""

    def __init__(self, card: Mapping[str, Any]) -> None:
        self.card = card

    def get(self, field_name: str, within: Mapping[str, Any] | None = None) -> Any:
        source = self.card if within is None else within
        for key in _ALIASES[field_name]:
            value = source.get(key)
            if value not in (None, "", [], {}):
                return value
        return None

    def text(self, field_name: str) -> str:
        value = self.get(field_name)
        return "" if value is None else _text(value)

    def items(self, field_name: str) -> list[str]:
        return _items(self.get(field_name))


def _section(key: str, **parts: Any) -> CardSection:
    title = dict(SECTIONS)[key]
    return CardSection(key, title, **{k: tuple(v) for k, v in parts.items()})


def _model_details(result: AuditResult, owner: _OwnerFields,
                   facts: dict[str, Any]) -> CardSection:
    model = result.provenance.get("model") or {}
    overview = owner.text("overview")
    architecture = owner.text("architecture")
    audited_type = str(model.get("type") or "") + (f" ({model['framework']})"
                                                    if model.get("framework") else "")
    facts.update(overview=overview or NOT_PROVIDED,
                 version=owner.text("version"), date=owner.text("date"),
                 owners=_mct_owners(owner.get("owners"), owner.text("contact")),
                 licenses=[_mct_license(t) for t in owner.items("licenses")],
                 references=[{"reference": t} for t in owner.items("references") if "://" in t],
                 citations=[{"citation": t} for t in
                            owner.items("citations") + [t for t in owner.items("references")
                                                        if "://" not in t]],
                 architecture=architecture or (f"{audited_type} (as audited)" if audited_type
                                               else NOT_PROVIDED))
    if owner.text("input_format"):
        facts["input_format"] = owner.text("input_format")
    if owner.text("task"):
        facts["documentation"] = f"Task: {owner.text('task')}"
    if model.get("classes"):
        facts["output_format"] = "one of the classes " + ", ".join(map(str, model["classes"]))
    fields = [("Name", owner.text("name") or NOT_PROVIDED),
              ("Overview", overview or NOT_PROVIDED),
              ("Task", owner.text("task") or NOT_PROVIDED),
              ("Version", owner.text("version") or NOT_PROVIDED),
              ("Date", owner.text("date") or NOT_PROVIDED),
              ("Owners", owner.text("owners") or NOT_PROVIDED),
              ("Licence", owner.text("licenses") or NOT_PROVIDED),
              ("References", owner.text("references") or NOT_PROVIDED),
              ("Citation", owner.text("citations") or NOT_PROVIDED),
              ("Contact", owner.text("contact") or NOT_PROVIDED),
              ("Architecture", architecture or NOT_PROVIDED),
              ("Training procedure", owner.text("training") or NOT_PROVIDED)]
    if audited_type:
        fields.append(("Model as audited", audited_type))
    if model.get("weights_sha256"):
        fields.append(("Weights SHA-256 (as audited)", str(model["weights_sha256"])))
    if result.provenance.get("auditkit_version"):
        fields.append(("Audited with", f"auditkit {result.provenance['auditkit_version']}, "
                                       f"{result.provenance.get('started_at', 'date unknown')}"))
    return _section("model_details", fields=fields)


def _intended_use(result: AuditResult, owner: _OwnerFields,
                  facts: dict[str, Any]) -> CardSection:
    declared = owner.get("intended_use")
    nested = declared if isinstance(declared, Mapping) else {}
    uses = _items(_uses_within(owner, nested) if nested else declared)
    users = _items(owner.get("users") or owner.get("users", nested))
    out_of_scope = _items(owner.get("out_of_scope") or owner.get("out_of_scope", nested))
    facts.update(use_cases=uses or [NOT_PROVIDED], users=users or [NOT_PROVIDED])
    return _section("intended_use", fields=[
        ("Primary intended uses", "; ".join(uses) or NOT_PROVIDED),
        ("Primary intended users", "; ".join(users) or NOT_PROVIDED),
        ("Out-of-scope uses", "; ".join(out_of_scope) or NOT_PROVIDED)])


def _uses_within(owner: _OwnerFields, nested: Mapping[str, Any]) -> Any:
    """The uses inside an ``intended_use`` mapping (``{"primary_uses": ..., "users": ...}``).

    Its keys for uses are read first; failing those, what is left once the users and
    out-of-scope uses are taken out.
    """
    rest = {k: v for k, v in nested.items()
            if k not in _ALIASES["users"] + _ALIASES["out_of_scope"]}
    return owner.get("intended_use", rest) or (rest or None)


def _factors(result: AuditResult, owner: _OwnerFields, facts: dict[str, Any]) -> CardSection:
    audited = _sensitive_features(result)
    intersections = _group_table_features(result, "intersections")
    fields = [("Relevant factors (model owner)", owner.text("factors") or NOT_PROVIDED),
              ("Evaluation factors (audited)", ", ".join(audited) if audited
               else "none: the audit was given no sensitive features")]
    if intersections:
        fields.append(("Intersections audited", ", ".join(intersections)))
    return _section("factors", fields=fields)


def _metrics(result: AuditResult, owner: _OwnerFields, facts: dict[str, Any]) -> CardSection:
    measured = _overall_metrics(result)
    # the method's name, not its explanation after a colon
    methods = sorted({m.method.split(":")[0] for r in _measuring(result)
                      for m in r.metrics.values() if m.method and m.has_interval})
    fields = [("Decision thresholds", owner.text("thresholds") or NOT_PROVIDED),
              ("Variation approaches (audit)", "; ".join(methods) if methods
               else "no interval was computed")]
    tables = []
    if measured:
        tables.append(("Measured by this audit", _metric_table(result)))
    reported = owner.get("metrics")
    if isinstance(reported, Mapping):
        tables.append(("Reported by the model owner (not checked by the audit)",
                       pd.DataFrame({"metric": [str(k) for k in reported],
                                     "value": [_text(v) for v in reported.values()]})))
    paragraphs = [] if measured else ["No performance check (nor, for a generative model, "
                                      "generative check) ran in this audit."]
    if not isinstance(reported, Mapping):
        fields.append(("Metrics reported by the model owner",
                       _text(reported) if reported is not None else NOT_PROVIDED))
    return _section("metrics", paragraphs=paragraphs, fields=fields, tables=tables)


def _evaluation_data(result: AuditResult, owner: _OwnerFields,
                     facts: dict[str, Any]) -> CardSection:
    data = result.provenance.get("data") or {}
    declared = owner.get("evaluation_data") or _split_part(owner.get("data"), drop="train")
    fields = [("Dataset (model owner)", _text(declared) if declared else NOT_PROVIDED)]
    fields += [(label, _text(data[key])) for key, label in (
        ("name", "Audited data"), ("modality", "Modality"), ("n_samples", "Samples audited"),
        ("sample_shape", "Sample shape"), ("labels", "Labels"),
        ("sensitive_features", "Sensitive features"), ("ood_sets", "Out-of-distribution sets"),
        ("sha256", "SHA-256 of the audited data")) if data.get(key) not in (None, [], "")]
    n_samples = data.get("n_samples")
    description = (f"Evaluation data: the {'' if n_samples is None else f'{n_samples:,} '}"
                   f"samples audited ({data.get('modality', 'modality unknown')}), SHA-256 "
                   f"{data.get('sha256', 'unknown')}.")
    dataset: dict[str, Any] = {"name": str(data.get("name") or "audited data"),
                               "description": description}
    if data.get("sensitive_features"):
        dataset["sensitive"] = {"sensitive_data": [str(s) for s in data["sensitive_features"]]}
    facts.setdefault("datasets", []).append(dataset)
    return _section("evaluation_data", fields=fields)


def _training_data(result: AuditResult, owner: _OwnerFields,
                   facts: dict[str, Any]) -> CardSection:
    data = result.provenance.get("data") or {}
    declared = owner.get("training_data") or _split_part(owner.get("data"), drop="test")
    fields = [("Dataset (model owner)", _text(declared) if declared else NOT_PROVIDED)]
    if data.get("n_train") is not None:
        fields.append(("Training rows given to the audit", f"{int(data['n_train']):,}"))
    name = _text(declared.get("dataset")) if isinstance(declared, Mapping) \
        and declared.get("dataset") else "training data"
    facts.setdefault("datasets", []).append({
        "name": name, "description": "Training data: " + (_text(declared) if declared
                                                            else NOT_PROVIDED)})
    return _section("training_data", fields=fields)


def _quantitative_analyses(result: AuditResult, owner: _OwnerFields,
                           facts: dict[str, Any]) -> CardSection:
    tables = []
    check = _group_result(result)
    for kind, prefix in (("groups", ""), ("intersections", "Intersection ")):
        for feature in _group_table_features(result, kind):
            tables.append((f"{prefix}{feature}: rates by group",
                           _group_table(check, kind, feature)))  # type: ignore[arg-type]
    disparities = _disparity_table(result)
    if disparities is not None:
        tables.append(("Disparities between groups", disparities))
    paragraphs = [] if tables else [
        "No per-group analysis ran in this audit (fairness_group_metrics needs sensitive "
        "features and labels)."]
    return _section("quantitative_analyses", paragraphs=paragraphs, tables=tables)


def _ethical_considerations(result: AuditResult, owner: _OwnerFields,
                            facts: dict[str, Any]) -> CardSection:
    declared = owner.get("ethical_considerations")
    entries = _ethics_entries(declared)
    paragraphs = [f"{name} (mitigation: {mitigation})" for name, mitigation in entries] \
        or [f"Ethical considerations: {NOT_PROVIDED}."]
    audited = _sensitive_features(result)
    if audited:
        paragraphs.append("The audit treated these features as sensitive: "
                          + ", ".join(audited) + ".")
    measured = [r for family in ("fairness", "privacy", "generative")
                for r in _ran(result, family) if not r.diagnostic
                and (family != "generative" or r.name in _GENERATIVE_PRIVACY)]
    paragraphs += [f"{r.name} ({r.status.value}): {r.headline}" for r in measured]
    flagged = [(f"{r.name} ({r.status.value}): {r.headline}", NOT_PROVIDED) for r in measured
               if r.status in (Status.WARN, Status.FAIL)]
    facts["ethical_considerations"] = entries + flagged
    return _section("ethical_considerations", paragraphs=paragraphs)


def _caveats(result: AuditResult, owner: _OwnerFields, facts: dict[str, Any]) -> CardSection:
    declared = owner.items("caveats")
    defects = owner.items("known_defects")
    not_run = [_scope_caveat(result, s) for s in result.scope()
               if not s.run or s.checks_skipped]
    findings = [f"{r.name} ({r.status.value}): {r.headline}" for r in result.findings
                if r.status in (Status.WARN, Status.FAIL, Status.ERROR)]
    methods = [f"{r.name} ({r.status.value}), a diagnostic of the audit's own method: "
               f"{r.headline}" for r in result.diagnostics
               if r.status in (Status.WARN, Status.FAIL, Status.ERROR)]
    facts["limitations"] = declared + [f"Known defect: {d}" for d in defects] + not_run \
        + findings + methods
    facts["tradeoffs"] = owner.items("tradeoffs") + [
        f"{r.name}: {r.headline}" for r in _ran(result, "fairness")
        if r.name == "fairness_mitigation"]
    fields = [("Caveats (model owner)", "; ".join(declared) or NOT_PROVIDED),
              ("Recommendations (model owner)", owner.text("recommendations") or NOT_PROVIDED)]
    if defects:
        fields.append(("Known defects (model owner)", "; ".join(defects)))
    paragraphs = [*not_run, *(f"Finding: {f}" for f in findings),
                  *(f"Method caveat: {m}" for m in methods)]
    if not findings:
        paragraphs.append("No finding of this audit warned, failed or raised an error.")
    return _section("caveats", paragraphs=paragraphs, fields=fields)


def _scope_caveat(result: AuditResult, scope: FamilyScope) -> str:
    title = FAMILY_TITLES.get(scope.family, scope.family)
    if not scope.run:
        return f"{title} was not audited: {scope.reason}."
    skipped = [r.name for r in result.results
               if r.family == scope.family and r.status is Status.SKIP]
    return (f"{title} was audited in part: {len(skipped)} of its checks did not apply "
            f"({', '.join(skipped)}).")


# -- audit numbers -----------------------------------------------------------------------


def _measuring(result: AuditResult) -> list[CheckResult]:
    """The checks whose metrics are the model's performance measures."""
    return [r for family in _PERFORMANCE_FAMILIES for r in _ran(result, family)]


def _ran(result: AuditResult, family: str) -> list[CheckResult]:
    return [r for r in result.results if r.family == family
            and r.status not in (Status.SKIP, Status.ERROR)]


def _overall_metrics(result: AuditResult) -> list[CardMetric]:
    """The performance (or generative) checks' metrics, each once (the first reporting it)."""
    out: dict[str, CardMetric] = {}
    for check in _measuring(result):
        for name, metric in check.metrics.items():
            if name not in out and math.isfinite(metric.value):
                out[name] = _card_metric(name, metric)
    return list(out.values())


def _card_metric(name: str, metric: Metric, slice_: str = "") -> CardMetric:
    return CardMetric(name, metric.value, slice_,
                      metric.lower if metric.has_interval else None,
                      metric.upper if metric.has_interval else None)


def _metric_table(result: AuditResult) -> pd.DataFrame:
    rows, seen = [], set()
    for check in _measuring(result):
        for name, metric in check.metrics.items():
            if name in seen or not math.isfinite(metric.value):
                continue
            seen.add(name)
            rows.append({"check": check.name, "metric": name, "value": metric.value,
                         "interval": _interval(metric.lower, metric.upper, metric.confidence),
                         "n": metric.n, "method": metric.method or ""})
    table = pd.DataFrame(rows, columns=["check", "metric", "value", "interval", "n", "method"])
    table["n"] = table["n"].astype("Int64")  # a count, missing where the metric has none
    return table


def _group_result(result: AuditResult) -> CheckResult | None:
    found = [r for r in _ran(result, "fairness") if r.name == "fairness_group_metrics"]
    return found[0] if found else None


def _group_table_features(result: AuditResult, kind: str) -> list[str]:
    check = _group_result(result)
    if check is None or kind not in check.tables:
        return []
    return list(dict.fromkeys(check.tables[kind].index.get_level_values("sensitive_feature")))


def _sensitive_features(result: AuditResult) -> list[str]:
    declared = (result.provenance.get("data") or {}).get("sensitive_features") or []
    return list(dict.fromkeys([str(s) for s in declared]
                              + _group_table_features(result, "groups")))


def _group_table(check: CheckResult, kind: str, feature: str) -> pd.DataFrame:
    """One sensitive feature's groups: size and each rate with its interval, as text."""
    points = check.tables[kind].xs(feature, level="sensitive_feature")
    bounds = check.tables.get(f"{kind}_intervals")
    if bounds is not None:
        bounds = bounds.xs(feature, level="sensitive_feature").reindex(points.index)
    table = pd.DataFrame(index=points.index)
    table["n"] = points["count"].astype(int)
    for column, label in _GROUP_RATES:
        lower = upper = None
        if bounds is not None and f"{column}_lower" in bounds:
            lower, upper = bounds[f"{column}_lower"], bounds[f"{column}_upper"]
        table[label] = [_with_interval(points[column].iloc[i],
                                       None if lower is None else lower.iloc[i],
                                       None if upper is None else upper.iloc[i])
                        for i in range(len(points))]
    table["note"] = ["too small to judge" if small else "" for small in points["too_small"]]
    return table


def _group_metrics(result: AuditResult) -> list[CardMetric]:
    check = _group_result(result)
    if check is None or "groups" not in check.tables:
        return []
    points = check.tables["groups"]
    bounds = check.tables.get("groups_intervals")
    out = []
    for index, row in points.iterrows():
        labels = index if isinstance(index, tuple) else (index,)
        feature, rest = labels[0], [str(x) for x in labels[1:]]
        slice_ = f"{feature}={rest[-1]}" + (f", class={rest[0]}" if len(rest) > 1 else "")
        for column, _ in _GROUP_RATES:
            value = float(row[column])
            if not math.isfinite(value):
                continue
            lower = upper = None
            if bounds is not None and f"{column}_lower" in bounds:
                lower = _finite(bounds.loc[index, f"{column}_lower"])
                upper = _finite(bounds.loc[index, f"{column}_upper"])
            out.append(CardMetric(column, value, slice_, lower if upper is not None else None,
                                  upper if lower is not None else None))
    return out


def _disparity_table(result: AuditResult) -> pd.DataFrame | None:
    found = [r for r in _ran(result, "fairness") if r.name == "fairness_disparities"]
    if not found or "disparities" not in found[0].tables:
        return None
    table = found[0].tables["disparities"]
    out = pd.DataFrame(index=table.index)
    out["value"] = [_with_interval(v, lo, hi) for v, lo, hi in
                    zip(table["value"], table.get("lower", [None] * len(table)),
                        table.get("upper", [None] * len(table)), strict=True)]
    for column in ("highest_group", "lowest_group"):
        if column in table:
            out[column.replace("_", " ")] = table[column].astype(str)
    return out


# -- text helpers ------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _with_interval(value: Any, lower: Any, upper: Any) -> str:
    value = _finite(value)
    if value is None:
        return "n/a"
    lower, upper = _finite(lower), _finite(upper)
    if lower is None or upper is None:
        return _number(value)
    return f"{_number(value)} [{_number(lower)}, {_number(upper)}]"


def _interval(lower: float | None, upper: float | None, confidence: float | None) -> str:
    if _finite(lower) is None or _finite(upper) is None:
        return ""
    level = f"{confidence:.0%} " if confidence else ""
    return f"{level}[{_number(lower)}, {_number(upper)}]"  # type: ignore[arg-type]


def _text(value: Any) -> str:
    """Any field of an owner's card as one line of text (long lists and text cut)."""
    if isinstance(value, str):
        text = " ".join(value.split())
    elif isinstance(value, bool) or value is None:
        text = str(value)
    elif isinstance(value, (int, float)):
        text = f"{value:g}" if isinstance(value, float) else str(value)
    elif isinstance(value, Mapping):
        text = "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    elif isinstance(value, Iterable):
        items = list(value)
        if len(items) > _MAX_LIST:
            return f"[{len(items)} values]"
        text = ", ".join(_text(v) for v in items)
    else:
        text = str(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1].rstrip() + "\u2026"


def _items(value: Any) -> list[str]:
    """A field that may be one text or a list of them, as a list of texts."""
    if value is None or value in ("", [], {}):
        return []
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value if v not in (None, "")]
    return [_text(value)]


def _split_part(data: Any, *, drop: str) -> Any:
    """The owner's ``data`` field without the keys about the other split."""
    if not isinstance(data, Mapping):
        return data
    kept = {k: v for k, v in data.items() if drop not in str(k).lower()}
    return kept or None


def _ethics_entries(declared: Any) -> list[tuple[str, str]]:
    """The owner's ethical considerations as (risk, mitigation strategy) pairs."""
    if declared is None:
        return []
    if isinstance(declared, Mapping) and ("name" in declared or "risk" in declared):
        declared = [declared]
    elif isinstance(declared, Mapping):
        declared = [{"name": f"{k}: {_text(v)}"} for k, v in declared.items()]
    out = []
    for entry in declared if isinstance(declared, Sequence) and not isinstance(declared, str) \
            else [declared]:
        if isinstance(entry, Mapping):
            name = _text(entry.get("name") or entry.get("risk") or "")
            mitigation = _text(entry.get("mitigation_strategy") or entry.get("mitigation")
                               or NOT_PROVIDED)
        else:
            name, mitigation = _text(entry), NOT_PROVIDED
        if name:
            out.append((name, mitigation))
    return out


# -- MCT pieces --------------------------------------------------------------------------


def _mct_version(name: str | None, date: str | None) -> dict[str, str]:
    version = {"name": name or NOT_PROVIDED}
    if date and _ISO_DATE.fullmatch(date):
        version["date"] = date  # the schema's "date" format; any other text is left out
    return version


def _mct_owners(owners: Any, contact: str) -> list[dict[str, str]]:
    out = []
    for owner in owners if isinstance(owners, (list, tuple)) else ([owners] if owners else []):
        if isinstance(owner, Mapping):
            entry = {"name": _text(owner.get("name") or "")}
            if owner.get("contact") or contact:
                entry["contact"] = _text(owner.get("contact") or contact)
        else:
            entry = {"name": _text(owner)}
            if contact:
                entry["contact"] = contact
        if entry["name"]:
            out.append(entry)
    return out


def _mct_license(text: str) -> dict[str, str]:
    return {"identifier": text} if _SPDX_LIKE.fullmatch(text) else {"custom_text": text}


def _mct_metric(metric: CardMetric) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": metric.type, "value": f"{metric.value:.6g}"}
    if metric.slice:
        entry["slice"] = metric.slice
    if metric.lower is not None and metric.upper is not None:
        entry["confidence_interval"] = {"lower_bound": f"{metric.lower:.6g}",
                                        "upper_bound": f"{metric.upper:.6g}"}
    return entry
