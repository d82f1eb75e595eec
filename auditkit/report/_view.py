"""The view model: an AuditResult turned into what a report shows, as plain text.

Everything here is data for the templates and the PDF writer: statuses,
sentences, formatted numbers, tables as rows of strings, what folds open, the
guidance around each check, the compliance map and the model card. Nothing here is HTML
and nothing is marked safe; the templates escape every string. Figures stay
as their data (drawing is :mod:`._plots`' job).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import compliance as _compliance
from .. import model_card as _model_card
from .._families import DIAGNOSTIC_FAMILIES, FAMILIES
from .._version import __version__
from ..compliance import RequirementStatus
from ..model_card import ModelCard
from ..results import AuditResult, CheckResult, Figure, Metric, Status, Threshold
from ._format import (
    VERDICTS,
    column_label,
    family_title,
    format_cell,
    format_metric,
    format_number,
    format_value,
    humanize,
    is_numeric,
    is_rate,
    marked_parts,
)
from ._guidance import guidance_for

__all__ = ["ReportView", "build_view"]

#: Rows of a table shown before the rest is cut.
MAX_TABLE_ROWS = 30
#: Columns of a table shown before the rest is cut (one-hot features of a record, say).
MAX_TABLE_COLUMNS = 24
_MAX_LIST_ITEMS = 50
_MAX_DEPTH = 6
_HEX_DIGEST = re.compile(r"[0-9a-f]{32,}")
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_BAD_STATUSES = (Status.ERROR, Status.FAIL, Status.WARN)
#: A table with more columns than this gets a "scroll" hint on narrow screens.
_WIDE_TABLE_COLUMNS = 6


# -- view classes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """Nested plain data to show: text, a list of nodes, or labelled nodes."""

    kind: str  # "text", "list" or "map"
    text: str = ""
    items: tuple[Any, ...] = ()  # Node for "list", (label, Node) for "map"
    mono: bool = False


@dataclass(frozen=True)
class MetricRow:
    """One metric: value, interval, sample size and the policy's judgement."""

    name: str
    label: str
    value: str
    interval: str
    level: str
    n: str
    rule: str
    verdict: Status | None


@dataclass(frozen=True)
class Cell:
    """One table cell, formatted."""

    text: str
    numeric: bool
    #: The text cut at its ``[[marked]]`` words, (text, marked) pairs; empty when unmarked.
    parts: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class TableView:
    """A DataFrame as rows of formatted cells, cut to the rows and columns a report shows.

    At most :data:`MAX_TABLE_ROWS` rows and :data:`MAX_TABLE_COLUMNS` columns; the
    audit's JSON holds the whole table.
    """

    name: str
    title: str
    index_names: tuple[str, ...]
    columns_name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, ...], tuple[Cell, ...]], ...]
    n_rows: int
    hidden_rows: int
    n_columns: int = 0
    hidden_columns: int = 0

    @property
    def wide(self) -> bool:
        """Whether the table has many columns (it scrolls inside its card on narrow screens)."""
        return len(self.columns) + len(self.index_names) > _WIDE_TABLE_COLUMNS


@dataclass(frozen=True)
class FigureView:
    """A figure to draw, with the anchor that also seeds its SVG ids."""

    key: str
    title: str
    kind: str
    anchor: str
    figure: Figure
    data_keys: tuple[str, ...]


@dataclass(frozen=True)
class CheckView:
    """Everything the report shows about one check."""

    name: str
    anchor: str
    family: str
    status: Status
    headline: str
    description: str
    duration: str
    rows: str
    metrics: tuple[MetricRow, ...]
    interval_notes: tuple[str, ...]
    clauses: tuple[tuple[str, str], ...]
    tables: tuple[TableView, ...]
    figures: tuple[FigureView, ...]
    params: tuple[tuple[str, str], ...]
    error: str | None
    #: Human title ("Calibration of confidence"); the code name is :attr:`name`.
    title: str = ""
    #: "How to read this", a short paragraph.
    how_to_read: str = ""
    #: What to do next; only when the check warned, failed or raised.
    next_steps: tuple[str, ...] = ()
    #: (title, anchor) of the checks of this audit that help act on it.
    see_also: tuple[tuple[str, str], ...] = ()
    #: A diagnostic of the audit's methods, not a finding about the model.
    diagnostic: bool = False
    #: Shown unfolded: it warned, failed or raised (a diagnostic only when the policy counts it).
    open: bool = False


@dataclass(frozen=True)
class FamilyView:
    """One family's section: its verdict and its checks."""

    name: str
    title: str
    anchor: str
    status: Status
    checks: tuple[CheckView, ...]
    counts: str
    #: Shown unfolded: one of its checks is.
    open: bool = False
    #: Its checks are diagnostics of the audit's methods.
    diagnostic: bool = False

    @property
    def shown(self) -> tuple[CheckView, ...]:
        """Its checks that ran (the skipped ones are listed in one table instead)."""
        return tuple(c for c in self.checks if c.status is not Status.SKIP)


@dataclass(frozen=True)
class Finding:
    """A check past a threshold (or in error), in one plain sentence."""

    status: Status
    text: str
    check: str
    anchor: str
    #: The check's human title.
    title: str = ""

    @property
    def sentence(self) -> str:
        """The finding as one sentence naming its check."""
        return f"{self.text} ({self.check})."


@dataclass(frozen=True)
class ScopeRow:
    """One family on the cover: run or not, and why not."""

    family: str
    title: str
    run: bool
    text: str


@dataclass(frozen=True)
class Section:
    """A titled list of labelled values (provenance)."""

    title: str
    rows: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class EvidenceView:
    """One check giving evidence for a requirement: its title, anchor and status."""

    name: str
    title: str
    anchor: str
    status: Status


@dataclass(frozen=True)
class RequirementView:
    """One requirement of the compliance map as this audit covers it."""

    id: str
    title: str
    evidence: tuple[EvidenceView, ...]
    status: Status | None
    note: str


@dataclass(frozen=True)
class FrameworkView:
    """The requirements of one framework (EU AI Act, NIST AI RMF, ISO/IEC 42001)."""

    name: str
    requirements: tuple[RequirementView, ...]


@dataclass(frozen=True)
class CardSectionView:
    """One section of the model card: paragraphs, labelled fields, tables."""

    key: str
    title: str
    anchor: str
    paragraphs: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    tables: tuple[TableView, ...]


@dataclass(frozen=True)
class CardView:
    """The model card, its sections in order."""

    name: str
    sections: tuple[CardSectionView, ...]


@dataclass(frozen=True)
class ReportView:
    """What the report shows, in order: verdict, summary, families, card, provenance."""

    title: str
    status: Status
    verdict: str
    overview: tuple[tuple[str, str], ...]
    families: tuple[FamilyView, ...]
    counts: tuple[tuple[Status, int], ...]
    findings: tuple[Finding, ...]
    skipped: tuple[CheckView, ...]
    provenance: tuple[Section, ...]
    policy_rules: tuple[tuple[str, ...], ...]
    policy_clauses: tuple[tuple[str, str], ...]
    generator: str = field(default=f"auditkit {__version__}")
    #: How the checks were chosen, e.g. "the standard preset".
    selection: str = ""
    #: Every family, run or not, with the reason when not.
    scope: tuple[ScopeRow, ...] = ()
    #: Diagnostics of the audit's methods that warned, failed or raised.
    diagnostics: tuple[Finding, ...] = ()
    #: How many diagnostics ran, and whether the policy lets them move the verdict.
    n_diagnostics: int = 0
    diagnostics_affect_verdict: bool = False
    #: The compliance map by framework; empty when the map has no requirement.
    compliance: tuple[FrameworkView, ...] = ()
    #: The model card, or None when it has no section.
    card: CardView | None = None

    @property
    def checks(self) -> tuple[CheckView, ...]:
        """Every check, in report order."""
        return tuple(check for family in self.families for check in family.checks)

    @property
    def finding_counts(self) -> tuple[tuple[Status, int], ...]:
        """Statuses of the checks of the model that ran, worst first."""
        return _counts(c.status for c in self.checks
                       if not c.diagnostic and c.status is not Status.SKIP)

    @property
    def diagnostic_counts(self) -> tuple[tuple[Status, int], ...]:
        """Statuses of the diagnostics of the audit's methods that ran, worst first."""
        return _counts(c.status for c in self.checks
                       if c.diagnostic and c.status is not Status.SKIP)

    @property
    def status_filters(self) -> tuple[tuple[Status, int], ...]:
        """The statuses a reader can filter the checks by, with how many checks have each."""
        counts = Counter(c.status for c in self.checks if c.status is not Status.SKIP)
        return tuple((s, counts[s]) for s in (Status.ERROR, Status.FAIL, Status.WARN,
                                              Status.PASS, Status.INFO) if counts[s])


def _counts(statuses: Any) -> tuple[tuple[Status, int], ...]:
    counts = Counter(statuses)
    return tuple((s, counts[s]) for s in sorted(counts, key=lambda s: -s.severity))


# -- building ------------------------------------------------------------------------------


def build_view(result: AuditResult) -> ReportView:
    """Turn an audit into the view model of its report.

    Parameters
    ----------
    result : AuditResult

    Returns
    -------
    ReportView
    """
    provenance = dict(result.provenance)
    policy = dict(provenance.get("policy") or {})
    anchors = _anchors([r.name for r in result.results])
    pairs = list(zip(result.results, anchors, strict=True))
    ran = {r.name: a for r, a in reversed(pairs) if r.status is not Status.SKIP}
    counted = result.diagnostics_affect_verdict
    data = provenance.get("data")
    streamed = data.get("streamed") if isinstance(data, Mapping) else None
    checks = [_check_view(r, anchor, policy, ran=ran, diagnostics_count=counted,
                          streamed=streamed if isinstance(streamed, Mapping) else None)
              for r, anchor in pairs]
    families = _family_views(checks, result.family_status())
    order = {check.anchor: i for i, check in enumerate(checks)}
    findings = sorted((_finding(r, a) for r, a in pairs
                       if r.status in _BAD_STATUSES and not r.diagnostic),
                      key=lambda f: (-f.status.severity, order[f.anchor]))
    diagnostics = sorted((Finding(r.status, diagnostic_sentence(r), r.name, a,
                                  guidance_for(r.name).title) for r, a in pairs
                          if r.status in _BAD_STATUSES and r.diagnostic),
                         key=lambda f: (-f.status.severity, order[f.anchor]))
    counts = Counter(r.status for r in result.results)
    scope = tuple(ScopeRow(s.family, family_title(s.family), s.run, _scope_text(s))
                  for s in result.scope())
    return ReportView(
        title=result.title,
        status=result.status,
        verdict=_verdict_text(result, scope),
        overview=_overview(provenance),
        families=families,
        counts=tuple((s, counts[s]) for s in sorted(counts, key=lambda s: -s.severity)),
        findings=tuple(findings),
        skipped=tuple(c for f in families for c in f.checks if c.status is Status.SKIP),
        provenance=_provenance_sections(provenance),
        policy_rules=tuple(_rule_row(rule) for rule in policy.get("rules") or ()),
        policy_clauses=tuple((str(k), str(v)) for k, v in (policy.get("clauses") or {}).items()),
        selection=_selection_text(provenance),
        scope=scope,
        diagnostics=tuple(diagnostics),
        n_diagnostics=len(result.diagnostics),
        diagnostics_affect_verdict=result.diagnostics_affect_verdict,
        # looked up on their modules when called, so a test can stand in for them
        compliance=compliance_view(_compliance.compliance_status(result), dict(reversed(list(
            zip((r.name for r in result.results), anchors, strict=True))))),
        card=card_view(_model_card.build_model_card(result)),
    )


def compliance_view(statuses: Sequence[RequirementStatus],
                    anchors: Mapping[str, str]) -> tuple[FrameworkView, ...]:
    """The compliance map grouped by framework, in the map's order.

    Parameters
    ----------
    statuses : sequence of RequirementStatus
        What :func:`auditkit.compliance.compliance_status` returns.
    anchors : mapping of str to str
        The report anchor of each check, by name (the first when a check ran twice).

    Returns
    -------
    tuple of FrameworkView
    """
    grouped: dict[str, list[RequirementView]] = {}
    for entry in statuses:
        requirement = entry.requirement
        evidence = tuple(EvidenceView(str(name), guidance_for(str(name)).title,
                                      anchors.get(str(name), ""), status)
                         for name, status in entry.evidence)
        grouped.setdefault(str(requirement.framework), []).append(RequirementView(
            id=str(requirement.id), title=str(requirement.title), evidence=evidence,
            status=entry.status, note=str(entry.note)))
    return tuple(FrameworkView(name, tuple(rows)) for name, rows in grouped.items())


def card_view(card: ModelCard) -> CardView | None:
    """The model card as text and formatted tables; None when it has no section.

    Parameters
    ----------
    card : ModelCard
        What :func:`auditkit.model_card.build_model_card` returns.

    Returns
    -------
    CardView or None
    """
    sections = tuple(
        CardSectionView(
            key=str(section.key), title=str(section.title),
            anchor="card-" + (_ANCHOR_UNSAFE.sub("-", str(section.key)) or "section"),
            paragraphs=tuple(str(p) for p in section.paragraphs),
            fields=tuple((str(label), format_value(value)) for label, value in section.fields),
            tables=tuple(table_view(str(title), frame, title=str(title))
                         for title, frame in section.tables))
        for section in card.sections)
    if not sections:
        return None
    return CardView(name=str(card.name), sections=sections)


def _selection_text(provenance: Mapping[str, Any]) -> str:
    preset, selection = provenance.get("preset"), provenance.get("selection")
    if preset is None:
        return "checks named one by one (no preset)"
    if selection == "preset with options":
        return f"the {preset} preset, with options changed"
    return f"the {preset} preset"


def _scope_text(scope: Any) -> str:
    if not scope.run:
        return f"not run: {scope.reason}"
    checks = f"{scope.checks_run} check{'s' if scope.checks_run != 1 else ''} run"
    if scope.checks_skipped:
        checks += f", {scope.checks_skipped} skipped as not applicable"
    if scope.family in DIAGNOSTIC_FAMILIES:
        checks += " (diagnostics of the audit's methods, not findings about the model)"
    return checks


def _verdict_text(result: AuditResult, scope: Sequence[ScopeRow]) -> str:
    """What the overall verdict means and what it covers, in two or three sentences."""
    judged = [r for r in result.findings if r.thresholds]
    if result.diagnostics_affect_verdict:
        judged += [r for r in result.diagnostics if r.thresholds]
    status = result.status
    if status is Status.PASS:
        text = (f"The {len(judged)} check{'s' if len(judged) != 1 else ''} of the model that the "
                "policy judges " + ("are" if len(judged) != 1 else "is") +
                " within its thresholds.")
    else:
        text = VERDICTS[status]
    ran = [row.title.lower() for row in scope if row.run and row.family != "explanations"]
    missing = [f"{row.title.lower()} ({row.text.removeprefix('not run: ')})" for row in scope
               if not row.run]
    if ran:
        text += " It covers " + _join(ran)
        text += ("; not run: " + _join(missing) + "." if missing else ".")
    if result.diagnostics and not result.diagnostics_affect_verdict:
        text += (" Diagnostics of the audit's own methods (explanations, gradient masking) are "
                 "reported apart and do not change it.")
    return text


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _anchors(names: Sequence[str]) -> list[str]:
    """``check-<name>``, made unique when a check ran twice."""
    seen: Counter[str] = Counter()
    anchors = []
    for name in names:
        base = "check-" + (_ANCHOR_UNSAFE.sub("-", name) or "unnamed")
        seen[base] += 1
        anchors.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return anchors


def _family_views(checks: Sequence[CheckView],
                  verdicts: Mapping[str, Status]) -> tuple[FamilyView, ...]:
    present = list(dict.fromkeys(c.family for c in checks))
    ordered = [f for f in FAMILIES if f in present] + [f for f in present if f not in FAMILIES]
    views = []
    for family in ordered:
        members = tuple(c for c in checks if c.family == family)
        # the family's verdict rests on its findings about the model (AuditResult.family_status)
        status = verdicts.get(family) or max((c.status for c in members),
                                             key=lambda s: s.severity)
        views.append(FamilyView(name=family, title=family_title(family),
                                anchor="family-" + _ANCHOR_UNSAFE.sub("-", family),
                                status=status, checks=members,
                                counts=_family_counts(members),
                                open=_family_open(members),
                                diagnostic=all(c.diagnostic for c in members)))
    return tuple(views)


def _family_open(checks: Sequence[CheckView]) -> bool:
    """Whether a family's section is unfolded.

    A family of the model's checks is (its checks' summary lines show); a family
    of diagnostics only when one of its checks is open; one whose checks were all
    skipped never is.
    """
    if any(c.open for c in checks):
        return True
    return any(not c.diagnostic and c.status is not Status.SKIP for c in checks)


def _family_counts(checks: Sequence[CheckView]) -> str:
    """``"2 PASS, 1 WARN; 1 skipped"``, diagnostics named as such."""
    ran = [c for c in checks if c.status is not Status.SKIP]
    skipped = len(checks) - len(ran)
    parts = []
    findings = count_text(c.status for c in ran if not c.diagnostic)
    diagnostics = count_text(c.status for c in ran if c.diagnostic)
    if findings:
        parts.append(findings)
    if diagnostics:
        parts.append(f"diagnostics: {diagnostics}" if findings else f"{diagnostics} (diagnostics)")
    if skipped:
        parts.append(f"{skipped} skipped")
    return "; ".join(parts)


def count_text(statuses: Any) -> str:
    """``"2 PASS, 1 WARN"``: how many checks have each status, worst first."""
    counts = Counter(statuses)
    return ", ".join(f"{counts[s]} {s.value}" for s in sorted(counts, key=lambda s: -s.severity))


def rows_text(rows: int | None, streamed: Mapping[str, Any] | None) -> str:
    """``"on 16,281 rows"``; for streamed data, whether the rows were all or the sample."""
    if rows is None:
        return ""
    if not streamed:
        return f"on {rows:,} rows"
    total = streamed.get("n_rows")
    if isinstance(total, int) and rows >= total:
        return f"on all {rows:,} rows, streamed in {streamed.get('n_batches', '?'):,} batches"
    total_text = f"{total:,}" if isinstance(total, int) else "?"
    return (f"on a seeded sample of {rows:,} of the {total_text} rows "
            f"(sample seed {streamed.get('sample_seed', '?')})")


def _check_view(result: CheckResult, anchor: str, policy: Mapping[str, Any], *,
                ran: Mapping[str, str], diagnostics_count: bool,
                streamed: Mapping[str, Any] | None = None) -> CheckView:
    guidance = guidance_for(result.name)
    bad = result.status in _BAD_STATUSES
    see_also = tuple((guidance_for(name).title, ran[name]) for name in guidance.see_also
                     if name in ran and name != result.name)
    return CheckView(
        name=result.name,
        anchor=anchor,
        family=result.family,
        status=result.status,
        headline=result.headline,
        description=result.description,
        duration=f"{result.duration_s:.2f} s",
        rows=rows_text(result.rows, streamed),
        metrics=_metric_rows(result),
        interval_notes=_interval_notes(result.metrics.values()),
        clauses=_clauses(result, policy),
        tables=tuple(table_view(k, v) for k, v in result.tables.items()),
        figures=tuple(FigureView(key=k, title=f.title or humanize(k), kind=f.kind,
                                 anchor=f"{anchor}-figure-{_ANCHOR_UNSAFE.sub('-', k)}",
                                 figure=_with_policy_levels(f, result.thresholds),
                                 data_keys=tuple(str(d) for d in f.data))
                      for k, f in result.figures.items()),
        params=tuple((str(k), format_value(v)) for k, v in result.params.items()),
        error=result.error,
        title=guidance.title,
        how_to_read=guidance.how_to_read,
        next_steps=guidance.next_steps if bad else (),
        see_also=see_also,
        diagnostic=result.diagnostic,
        open=bad and (diagnostics_count or not result.diagnostic),
    )


# -- metrics and findings ---------------------------------------------------------------


def _metric_rows(result: CheckResult) -> tuple[MetricRow, ...]:
    rules = {t.metric: t for t in result.thresholds}
    rows = [_metric_row(name, metric, rules.get(name)) for name, metric in result.metrics.items()]
    rows += [_metric_row(t.metric, Metric(t.observed), t) for t in result.thresholds
             if t.metric not in result.metrics]
    return tuple(rows)


def _metric_row(name: str, metric: Metric, rule: Threshold | None) -> MetricRow:
    percent = is_rate(name, metric.value, metric.lower, metric.upper)
    interval = ""
    if metric.has_interval:
        interval = (f"[{format_metric(name, metric.lower, percent=percent)}, "
                    f"{format_metric(name, metric.upper, percent=percent)}]")
    return MetricRow(
        name=name,
        label=humanize(name),
        value=format_metric(name, metric.value, percent=percent),
        interval=interval,
        level=_level(metric.confidence) if metric.has_interval else "",
        n=f"{metric.n:,}" if metric.n is not None else "",
        rule=_rule_text(rule, percent) if rule is not None else "",
        verdict=rule.status if rule is not None else None,
    )


def _level(confidence: float | None) -> str:
    return "" if confidence is None else f"{format_number(confidence * 100, digits=3)}%"


def _rule_text(rule: Threshold, percent: bool) -> str:
    relation = "below" if rule.direction == "higher_is_better" else "above"
    parts = [f"{word} {relation} {format_metric(rule.metric, level, percent=percent)}"
             for word, level in (("warn", rule.warn), ("fail", rule.fail)) if level is not None]
    text = "; ".join(parts)
    if rule.judged_on == "interval":
        end = "upper" if rule.direction == "higher_is_better" else "lower"
        text += f" (judged on the interval's {end} end)"
    return text


def _interval_notes(metrics: Any) -> tuple[str, ...]:
    notes = {f"{_level(m.confidence)} intervals: {m.method}." for m in metrics
             if m.has_interval and m.method}
    return tuple(sorted(notes))


def _clauses(result: CheckResult, policy: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    texts = policy.get("clauses") or {}
    ids = list((policy.get("evidence") or {}).get(result.name) or ())
    ids += [c for t in result.thresholds for c in t.clauses]
    return tuple((str(i), str(texts.get(i, "(no text for this clause in the policy)")))
                 for i in dict.fromkeys(ids))


def _finding(result: CheckResult, anchor: str) -> Finding:
    judged = sorted((t for t in result.thresholds if t.status in _BAD_STATUSES),
                    key=lambda t: -t.status.severity)
    if result.status is Status.ERROR or not judged:
        text = result.headline.strip().rstrip(".") or f"The check ended with {result.status.value}"
    else:
        text = plain_finding(result)
    return Finding(status=result.status, text=text, check=result.name, anchor=anchor,
                   title=guidance_for(result.name).title)


def threshold_sentence(rule: Threshold) -> str:
    """``"Accuracy is 74.0%, below the warning level of 80.0%"`` (no final stop)."""
    label = humanize(rule.metric)
    if math.isnan(rule.observed):
        return f"{label} could not be computed, which the policy counts as a warning"
    failed = rule.status is Status.FAIL
    level = rule.fail if failed else rule.warn
    percent = is_rate(rule.metric, rule.observed, rule.warn, rule.fail)
    value = format_metric(rule.metric, rule.observed, percent=percent)
    if level is None:
        return f"{label} is {value}, past the policy's level"
    relation = "below" if rule.direction == "higher_is_better" else "above"
    kind = "failure" if failed else "warning"
    level_text = format_metric(rule.metric, level, percent=percent)
    if rule.judged_on == "interval" and rule.judged_value is not None:
        end = "upper" if rule.direction == "higher_is_better" else "lower"
        bound = format_metric(rule.metric, rule.judged_value, percent=percent)
        return (f"{label} is {value}, and its whole {_level(rule.confidence) or 'confidence'} "
                f"interval lies {relation} the {kind} level of {level_text} (its {end} end is "
                f"{bound})")
    return f"{label} is {value}, {relation} the {kind} level of {level_text}"


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first.isupper() or any(ch.isupper() for ch in first[1:]):
        return text  # an acronym (ROC AUC, F1) keeps its case
    return text[:1].lower() + text[1:]


# -- tables -------------------------------------------------------------------------------


def table_view(name: str, frame: pd.DataFrame, *, title: str | None = None) -> TableView:
    """Format a DataFrame for the report (index shown unless it is a plain 0..n-1 range).

    Column headers and index names in snake_case are made readable
    (``"fpr_upper"`` -> ``"FPR upper"``); labels from the data (a class, a group)
    are kept as they are.

    Parameters
    ----------
    name : str
        The table's key in the check result.
    frame : pandas.DataFrame
    title : str, optional
        The caption; by default ``name`` made readable.

    Returns
    -------
    TableView
    """
    show_index = _meaningful_index(frame.index)
    shown = frame.iloc[:MAX_TABLE_ROWS, :MAX_TABLE_COLUMNS]
    # column by column, so that an int column stays int next to float ones
    columns = [shown.iloc[:, j].tolist() for j in range(shown.shape[1])]
    rows = []
    for position, label in enumerate(shown.index):
        # a MultiIndex label is a tuple (a list once it went through JSON)
        parts = label if isinstance(label, (tuple, list)) else (label,)
        index = tuple(format_cell(v) for v in parts) if show_index else ()
        cells = tuple(_cell(c[position]) for c in columns)
        rows.append((index, cells))
    names = (tuple("" if n is None else column_label(n) for n in frame.index.names)
             if show_index else ())
    if rows and len(rows[0][0]) != len(names):  # labels in parts but no MultiIndex (from JSON)
        names = (names + ("",) * len(rows[0][0]))[: len(rows[0][0])]
    return TableView(
        name=name,
        title=humanize(name) if title is None else title,
        index_names=names,
        columns_name="" if frame.columns.name is None else column_label(frame.columns.name),
        # the columns of a named axis are values (classes, methods): kept as they are
        columns=tuple(" / ".join(map(str, c)) if isinstance(c, tuple)
                      else (str(c) if frame.columns.name is not None else column_label(c))
                      for c in shown.columns),
        rows=tuple(rows),
        n_rows=len(frame),
        hidden_rows=max(len(frame) - MAX_TABLE_ROWS, 0),
        n_columns=frame.shape[1],
        hidden_columns=max(frame.shape[1] - MAX_TABLE_COLUMNS, 0),
    )


def _cell(value: Any) -> Cell:
    text = format_cell(value)
    return Cell(text, is_numeric(value), marked_parts(text) if isinstance(value, str) else ())


def _meaningful_index(index: pd.Index) -> bool:
    if len(index) == 0:
        return False
    if index.nlevels > 1 or any(n is not None for n in index.names):
        return True
    if index.dtype.kind not in "iu":
        return True
    return not np.array_equal(index.to_numpy(), np.arange(len(index)))


# -- nested data (model card, provenance) --------------------------------------------------


def to_node(value: Any, depth: int = 0, *, labels: bool = True) -> Node:
    """Nested plain data as a :class:`Node` tree (mappings, lists, scalars).

    Parameters
    ----------
    value : object
        Dicts, lists, arrays, numbers, strings.
    depth : int, default=0
        Nesting level; deeper than a few levels is shown as one line of text.
    labels : bool, default=True
        Turn the keys of a mapping into labels (``"intended_use"`` -> ``"Intended
        use"``); False keeps names as they are (library names, class names).

    Returns
    -------
    Node
    """
    if depth >= _MAX_DEPTH:
        return Node("text", text=format_value(value))
    if isinstance(value, Mapping):
        return Node("map", items=tuple((humanize(str(k)) if labels else str(k),
                                        to_node(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.size <= _MAX_LIST_ITEMS else value
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (Mapping, list, tuple, np.ndarray)) for v in value):
            return Node("list", items=tuple(to_node(v, depth + 1) for v in value))
        shown = ", ".join(format_value(v) for v in value[:_MAX_LIST_ITEMS])
        more = len(value) - _MAX_LIST_ITEMS
        return Node("text", text=(shown or "(none)") + (f", \u2026 ({more} more)" if more > 0
                                                           else ""))
    text = format_value(value)
    return Node("text", text=text, mono=bool(_HEX_DIGEST.fullmatch(text)))


# -- header and provenance -----------------------------------------------------------------


def _overview(provenance: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    model = provenance.get("model") or {}
    data = provenance.get("data") or {}
    policy = provenance.get("policy") or {}
    rows = []
    if model:
        rows.append(("Model", f"{model.get('type', 'unknown')} ({model.get('framework', '?')})"))
    if data:
        samples = data.get("n_samples")
        described = data.get("name") or f"{data.get('modality', 'unknown')} data"
        streamed = data.get("streamed")
        sample = streamed.get("n_sample") if isinstance(streamed, Mapping) else None
        rows.append(("Data", described + (f", {samples:,} samples"
                                          if isinstance(samples, int) else "")
                     + (f" (streamed; inputs kept for a seeded sample of {sample:,})"
                        if isinstance(sample, int) else "")))
    rows.append(("Preset", _selection_text(provenance).removeprefix("the ")
                 .replace(" preset", "", 1) if provenance.get("preset") is not None
                 else "none (checks named one by one)"))
    if policy.get("name"):
        rows.append(("Policy", str(policy["name"])))
    for key, label in (("started_at", "Started"), ("random_state", "Seed")):
        if provenance.get(key) is not None:
            rows.append((label, format_value(provenance[key])))
    return tuple(rows)


_PROVENANCE_SECTIONS = (
    ("Audit run", ("started_at", "duration_s", "random_state", "preset", "device")),
    ("Software", ("auditkit_version", "python_version", "platform", "libraries")),
)


def _provenance_sections(provenance: Mapping[str, Any]) -> tuple[Section, ...]:
    sections = []
    used = {"policy", "signature"}
    signature = provenance.get("signature")  # added by auditkit.signing.with_signature
    if isinstance(signature, Mapping) and signature.get("text"):
        label = "Signature" if signature.get("verified") else "Signature (does not verify)"
        sections.append(Section("Signature", ((label, Node("text", text=signature["text"])),)))
    for title, keys in _PROVENANCE_SECTIONS:
        rows = tuple((_provenance_label(k), Node("text", text=_selection_text(provenance))
                      if k == "preset" else to_node(provenance[k], labels=k != "libraries"))
                     for k in keys if k in provenance)
        used.update(keys)
        used.add("selection")  # shown in the preset's row
        if rows:
            sections.append(Section(title, rows))
    for key, title in (("model", "Model"), ("data", "Data")):
        used.add(key)
        value = provenance.get(key)
        if isinstance(value, Mapping) and value:
            sections.append(Section(title, to_node(value).items))
    other = tuple((humanize(k), to_node(v)) for k, v in provenance.items() if k not in used)
    if other:
        sections.append(Section("Other", other))
    policy = provenance.get("policy") or {}
    rows = tuple((humanize(k), to_node(policy[k])) for k in ("name", "description")
                 if policy.get(k))
    if rows:
        sections.append(Section("Policy", rows))
    return tuple(sections)


def _provenance_label(key: str) -> str:
    labels = {"random_state": "Seed (random_state)", "duration_s": "Duration (s)",
              "started_at": "Started at", "auditkit_version": "auditkit version"}
    return labels.get(key, humanize(key))


def _rule_row(rule: Mapping[str, Any]) -> tuple[str, ...]:
    metric = str(rule.get("metric", ""))
    levels = [v for v in (rule.get("warn"), rule.get("fail")) if v is not None]
    percent = is_rate(metric, *levels)
    direction = str(rule.get("direction", "")).replace("_", " ")
    return (str(rule.get("check", "")), metric, direction,
            format_metric(metric, rule.get("warn"), percent=percent),
            format_metric(metric, rule.get("fail"), percent=percent))


# -- findings in plain words ---------------------------------------------------------------

#: How a judged metric reads in a finding's bracket: "(<label> <value>, limit <level>)".
_PLAIN_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "accuracy averaged over classes",
    "roc_auc": "ROC AUC",
    "expected_calibration_error": "expected calibration error",
    "accuracy_gap_lower_bound": "training-minus-test accuracy, at least",
    "demographic_parity_difference_lower_bound": "difference in selection rates, at least",
    "equalized_odds_difference_lower_bound": "difference in error rates, at least",
    "disparate_impact_ratio_upper_bound": "selection-rate ratio, at most",
    "counterfactual_flip_rate": "predictions flipped by swapping identity terms",
    "mean_absolute_score_shift": "score shift from swapping identity terms",
    "name_group_score_gap": "score gap between name groups",
    "robust_accuracy_ratio": "correct predictions kept under attack",
    "group_robust_accuracy_gap": "gap in robust accuracy between groups",
    "attack_success_rate": "predictions an attacker breaks",
    "excess_flip_rate_lower_bound": "extra predictions flipped by harmless changes, at least",
    "relative_accuracy": "clean accuracy kept under corruptions",
    "best_auroc": "how well the best detector spots unfamiliar inputs (AUROC)",
    "best_fpr_at_95_tpr": "unfamiliar inputs let through",
    "silent_failure_rate": "shifted settings where the model fails silently",
    "max_psi_significant": "largest significant feature drift (PSI)",
    "classifier_auroc_lower_bound": "how well a classifier tells audited from reference data "
                                    "(AUROC), at least",
    "tpr_at_1pct_fpr": "the share of training records an attacker identifies at 1 false "
                       "accusation in 100",
    "epsilon_lower_bound": "privacy loss (epsilon), at least",
    "missing_modes": "classes the model never generates",
    "underrepresented_modes": "classes the model under-generates",
    "near_copy_share": "generated samples that nearly copy a training sample",
    "data_copying_ct": "data-copying test statistic",
    "active_units": "active latent units",
    "faithfulness_gain": "gain over random attributions",
    "randomisation_null_share": "share of randomised copies that change the explanations more",
    "null_rank_correlation": "agreement between explanations of unrelated random models",
    "completeness_error": "completeness error",
    "gradient_masking_flags": "signs of gradient masking",
}

#: Why a diagnostic says not to trust its method, by the metric that flagged it.
_DISTRUST_REASONS = {
    "faithfulness_gain": "its explanations are no more faithful than random ones",
    "randomisation_null_share": "its explanations barely change when the model's weights are "
                                "randomised, so they do not show what the model learned",
    "null_rank_correlation": "it gives almost the same explanations for unrelated random "
                             "models, so they do not depend on the weights",
    "completeness_error": "its attributions do not add up to the model's output",
    "gradient_masking_flags": "the gradients look masked, so stronger attacks may succeed "
                              "where these failed and the robustness numbers may be too high",
}

_SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")
_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s+[A-Z0-9]|$)", re.S)


def plain_finding(result: CheckResult) -> str:
    """A check's worst finding in one plain sentence, without a final stop.

    The headline's first sentence when it is already plain (no code names),
    without its bracketed statistics, then what the policy judged and its
    limit: ``"By race, the model predicts '>50K' for 27.5% of Asian-Pac-Islander
    and 6.3% of Amer-Indian-Eskimo (difference in selection rates, at least
    0.224, limit 0.2)"``. Otherwise one sentence per judged metric in words.

    Parameters
    ----------
    result : CheckResult

    Returns
    -------
    str
    """
    if result.status is Status.ERROR:
        reason = result.headline.strip().rstrip(".") or "it raised an error"
        return f"The check could not be completed ({_humanize_codes(reason)})"
    judged = sorted((t for t in result.thresholds if t.status in _BAD_STATUSES),
                    key=lambda t: -t.status.severity)
    lead = _plain_lead(result.headline)
    if not judged:
        return lead or f"The check ended with {result.status.value}"
    brackets = "; ".join(_limit_text(t) for t in judged[:2])
    if lead:
        return f"{lead} ({brackets})"
    text = "; ".join(_plain_threshold(t) for t in judged)
    return text[:1].upper() + text[1:]


def _plain_threshold(rule: Threshold) -> str:
    """``"training records identified ...: 8.0%, above the failure level of 5.0%"``."""
    label = _PLAIN_LABELS.get(rule.metric)
    if label is None:
        return _lower_first(threshold_sentence(rule))
    value = rule.judged_value if rule.judged_value is not None else rule.observed
    percent = is_rate(rule.metric, value, rule.warn, rule.fail)
    failed = rule.status is Status.FAIL and rule.fail is not None
    level = rule.fail if failed else rule.warn
    relation = "below" if rule.direction == "higher_is_better" else "above"
    text = f"{label} is {format_metric(rule.metric, value, percent=percent)}"
    if level is not None:
        text += (f", {relation} the {'failure' if failed else 'warning'} level of "
                 f"{format_metric(rule.metric, level, percent=percent)}")
    return text


def _plain_lead(headline: str) -> str:
    """The headline's first sentence, bracketed statistics removed, or "" if it is jargon."""
    match = _FIRST_SENTENCE.match(headline.strip())
    sentence = (match.group(1) if match else headline.strip()).rstrip(".")
    sentence = _PARENTHESES.sub("", sentence).strip()
    head, sep, _ = sentence.partition(": a ")  # "..., 6.3% of X: a demographic parity ..."
    if sep and len(head) >= 40:
        sentence = head
    # a short headline ("Accuracy 74.0%") says less than the threshold's own sentence
    if len(sentence) < 60 or _SNAKE.search(sentence) or len(sentence) > 220:
        return ""
    return sentence


def _limit_text(rule: Threshold) -> str:
    """``"difference in selection rates, at least 0.224, limit 0.2"``."""
    label = _PLAIN_LABELS.get(rule.metric, humanize(rule.metric).lower())
    value = rule.judged_value if rule.judged_value is not None else rule.observed
    level = rule.fail if rule.status is Status.FAIL and rule.fail is not None else rule.warn
    percent = is_rate(rule.metric, value, rule.warn, rule.fail)
    text = f"{label} {format_metric(rule.metric, value, percent=percent)}"
    if level is not None:
        text += f", limit {format_metric(rule.metric, level, percent=percent)}"
    return text


def _humanize_codes(text: str) -> str:
    return _SNAKE.sub(lambda m: humanize(m.group(0)).lower(), text)


def _method_name(result: CheckResult) -> str:
    """The method a diagnostic tests: ``"Saliency explanations"``, ``"gradient attacks"``."""
    if result.family == "explanations":
        prefix = result.headline.split(":", 1)[0].strip()
        if prefix and len(prefix) <= 40 and not _SNAKE.search(prefix) and ":" in result.headline:
            return f"{prefix} explanations"
        return humanize(result.name.removeprefix("explanations_")) + " explanations"
    if result.name == "robustness_gradient_masking":
        return "gradient attacks' robustness numbers"
    return humanize(result.name)


def diagnostic_sentence(result: CheckResult) -> str:
    """``"Do not trust the Saliency explanations of this model: ..."`` (no final stop).

    Parameters
    ----------
    result : CheckResult
        A diagnostic that warned, failed or raised.

    Returns
    -------
    str
    """
    method = _method_name(result)
    if result.status is Status.ERROR:
        return f"The diagnostic of the {method} could not be completed, so they are untested"
    judged = sorted((t for t in result.thresholds if t.status in _BAD_STATUSES),
                    key=lambda t: -t.status.severity)
    reasons = list(dict.fromkeys(_DISTRUST_REASONS.get(t.metric, _limit_text(t))
                                 for t in judged))
    limits = "; ".join(_limit_text(t) for t in judged[:2])
    reason = "; ".join(reasons) if reasons else _plain_lead(result.headline) or "see the check"
    caution = "Do not trust" if result.status is Status.FAIL else "Be careful with"
    return f"{caution} the {method} of this model: {reason}" + (f" ({limits})" if limits else "")


#: Figures that draw one value per metric of ``data["metrics"]``, and how the policy names the
#: judged form of such a metric (the calibrated bound of a disparity).
_LEVELLED_FIGURES = {"disparity_intervals": ("{metric}_lower_bound", "{metric}")}


def _with_policy_levels(figure: Figure, thresholds: Sequence[Threshold]) -> Figure:
    """The figure with the policy's warn and fail levels of its metrics, for threshold lines.

    Only figures that list their metrics (``data["metrics"]``) and whose metrics the policy
    judged; the levels go in ``warn_thresholds`` / ``fail_thresholds``, NaN where a metric
    has no level. The check's own data is not changed.
    """
    patterns = _LEVELLED_FIGURES.get(figure.kind)
    metrics = list(figure.data.get("metrics") or ()) if patterns else []
    if not metrics or not thresholds:
        return figure
    by_metric = {t.metric: t for t in thresholds}
    found = [next((by_metric[p.format(metric=m)] for p in patterns
                   if p.format(metric=m) in by_metric), None) for m in metrics]
    if not any(found):
        return figure

    def levels(level: str) -> list[float]:
        return [float(getattr(t, level)) if t is not None and getattr(t, level) is not None
                else math.nan for t in found]

    return Figure(figure.kind, {**figure.data, "warn_thresholds": levels("warn"),
                                "fail_thresholds": levels("fail")}, figure.title)
