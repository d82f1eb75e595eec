"""Comparison report: two or more audits side by side, in one self-contained HTML page.

The first audit is the baseline; every other one is read against it. A change
is marked with :data:`CHANGE_RULE`: "better" or "worse" only when the two
confidence intervals do not overlap (in the metric's ``higher_is_better``
direction), "unchanged" when they overlap. The page follows the main report's
rules: jinja2 autoescape, a Content-Security-Policy, no script, no request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._version import __version__
from ..exceptions import AuditkitError
from ..results import AuditResult, Status, TableComparison
from ._format import family_title, format_metric, format_value, humanize, is_rate

__all__ = ["CHANGE_RULE", "ComparisonView", "build_comparison", "render_comparison_html"]

_TEMPLATE = "compare.html.j2"

#: How a change is judged, shown on the page.
CHANGE_RULE = (
    "Every audit is compared with the first one (the baseline). A metric with confidence "
    "intervals in both audits is marked better or worse only when the two intervals do not "
    "overlap, in the metric's direction (higher is better or lower is better); when they "
    "overlap it is marked unchanged, because the data cannot tell the two apart. A metric "
    "without intervals is unchanged only when its value is the same, otherwise marked by the "
    "direction of the change and flagged 'no interval'. A metric without a direction is "
    "marked changed. Non-overlapping 95% intervals is a stricter test than a 5% test of the "
    "difference, so a real change can read as unchanged.")

TOO_FEW_AUDITS = "A comparison needs at least two audits. Got {got} instead."
NOT_AN_AUDIT = "The audits to compare must be AuditResult objects. Got {got} at position {i}."
BAD_NAMES = ("The 'names' parameter must give one distinct label per audit ({expected}). "
             "Got {got} instead.")

_STATUS_JUDGED = (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR)
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# -- view classes ------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueCell:
    """One audit's value and interval, formatted (empty when the audit lacks it)."""

    value: str
    interval: str = ""


@dataclass(frozen=True)
class Change:
    """A change from the baseline: the mark, the signed difference, a qualifier."""

    mark: str  # "better", "worse", "unchanged", "changed" or "" (one side missing)
    text: str = ""
    note: str = ""


@dataclass(frozen=True)
class CompareRow:
    """One row of a side-by-side table."""

    anchor: str
    labels: tuple[str, ...]
    cells: tuple[ValueCell, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class CompareTable:
    """A side-by-side table: row labels, one value column per audit, one change per other."""

    title: str
    anchor: str
    label_names: tuple[str, ...]
    rows: tuple[CompareRow, ...]


@dataclass(frozen=True)
class CompareSection:
    """The tables a check declared for comparison (one per split value), under one heading."""

    title: str
    anchor: str
    note: str
    tables: tuple[CompareTable, ...]


@dataclass(frozen=True)
class FamilyRow:
    """A family's verdict in each audit (None where the audit did not run it)."""

    title: str
    statuses: tuple[Status | None, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class ComparisonView:
    """What the comparison page shows, in order."""

    labels: tuple[str, ...]
    titles: tuple[str, ...]
    statuses: tuple[Status, ...]
    provenance: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]
    notes: tuple[str, ...]
    families: tuple[FamilyRow, ...]
    metrics: CompareTable
    only_in_one: int
    sections: tuple[CompareSection, ...]
    better: tuple[str, ...]
    worse: tuple[str, ...]
    rule: str = CHANGE_RULE
    generator: str = field(default=f"auditkit {__version__}")

    @property
    def title(self) -> str:
        """The page title: the audits' labels."""
        return " vs ".join(self.labels)


@dataclass(frozen=True)
class _Value:
    value: float
    lower: float | None = None
    upper: float | None = None

    @property
    def has_interval(self) -> bool:
        return (self.lower is not None and self.upper is not None
                and math.isfinite(self.lower) and math.isfinite(self.upper))


# -- building ------------------------------------------------------------------------------


def audit_labels(audits: Sequence[AuditResult], names: Sequence[str] | None) -> list[str]:
    """One distinct label per audit: ``names`` or the titles, numbered when they repeat."""
    labels = [str(n) for n in names] if names is not None else [a.title for a in audits]
    if len(labels) != len(audits) or len(set(labels)) != len(labels):
        labels = [f"{label} [{i}]" for i, label in enumerate(labels[: len(audits)])]
        labels += [f"audit [{i}]" for i in range(len(labels), len(audits))]
    return labels


def build_comparison(audits: Sequence[AuditResult], *,
                     names: Sequence[str] | None = None) -> ComparisonView:
    """Build the view model of the comparison page.

    Parameters
    ----------
    audits : sequence of AuditResult
        Two or more audits; the first is the baseline.
    names : sequence of str, optional
        One distinct label per audit; defaults to their titles.

    Returns
    -------
    ComparisonView
    """
    audits = list(audits)
    if len(audits) < 2:
        raise AuditkitError(TOO_FEW_AUDITS.format(got=len(audits)))
    for i, item in enumerate(audits):
        if not isinstance(item, AuditResult):
            raise AuditkitError(NOT_AN_AUDIT.format(got=type(item).__name__, i=i))
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(audits) or len(set(names)) != len(names):
            raise AuditkitError(BAD_NAMES.format(expected=len(audits), got=names))
    labels = audit_labels(audits, names)
    better: list[str] = []
    worse: list[str] = []
    families = _family_rows(audits, labels, better, worse)
    metrics, only_in_one = _metric_table(audits, labels, better, worse)
    sections = _compared_tables(audits, labels, better, worse)
    return ComparisonView(
        labels=tuple(labels), titles=tuple(a.title for a in audits),
        statuses=tuple(a.status for a in audits), provenance=_provenance(audits),
        notes=_notes(audits), families=families, metrics=metrics, only_in_one=only_in_one,
        sections=sections, better=tuple(better), worse=tuple(worse))


def judge(base: _Value | None, other: _Value | None, higher_is_better: bool | None,
          name: str = "") -> Change:
    """Mark the change from ``base`` to ``other`` by :data:`CHANGE_RULE`."""
    if base is None or other is None or not (math.isfinite(base.value)
                                             and math.isfinite(other.value)):
        return Change("")
    diff = other.value - base.value
    percent = is_rate(name, base.value, other.value)
    text = f"{diff * 100:+.1f} pp" if percent else _signed(diff)
    if base.has_interval and other.has_interval:
        overlap = base.lower <= other.upper and other.lower <= base.upper
        if overlap:
            return Change("unchanged", text, "intervals overlap")
        note = "intervals apart"
    else:
        if diff == 0:
            return Change("unchanged", text)
        note = "no interval"
    if higher_is_better is None:
        return Change("changed", text, note)
    improved = diff > 0 if higher_is_better else diff < 0
    return Change("better" if improved else "worse", text, note)


def _signed(diff: float) -> str:
    text = format_metric("change", abs(diff), percent=False)
    return ("+" if diff > 0 else "\u2212" if diff < 0 else "\u00b1") + text


def _cell(name: str, value: _Value | None, percent: bool) -> ValueCell:
    if value is None:
        return ValueCell("\u2014")
    text = format_metric(name, value.value, percent=percent)
    if not value.has_interval:
        return ValueCell(text)
    low = format_metric(name, value.lower, percent=percent)
    high = format_metric(name, value.upper, percent=percent)
    return ValueCell(text, f"[{low}, {high}]")


def _row(anchor: str, labels: tuple[str, ...], name: str, values: Sequence[_Value | None],
         higher_is_better: bool | None) -> CompareRow:
    present = [v for v in values if v is not None]
    percent = is_rate(name, *(x for v in present for x in (v.value, v.lower, v.upper)
                              if x is None or math.isfinite(x)))
    cells = tuple(_cell(name, v, percent) for v in values)
    changes = tuple(judge(values[0], v, higher_is_better, name) for v in values[1:])
    return CompareRow(_anchor(anchor), labels, cells, changes)


def _sentences(row: CompareRow, what: str, labels: Sequence[str], better: list[str],
               worse: list[str]) -> None:
    for i, change in enumerate(row.changes, start=1):
        if change.mark not in ("better", "worse"):
            continue
        base, new = row.cells[0], row.cells[i]
        text = (f"{labels[i]}: {what} went from {base.value}"
                + (f" {base.interval}" if base.interval else "")
                + f" in {labels[0]} to {new.value}" + (f" {new.interval}" if new.interval else "")
                + f" ({change.note}).")
        (better if change.mark == "better" else worse).append(text)


def _family_rows(audits: Sequence[AuditResult], labels: Sequence[str], better: list[str],
                 worse: list[str]) -> tuple[FamilyRow, ...]:
    statuses = [a.family_status() for a in audits]
    names = list(dict.fromkeys(f for a in audits for f in a.families))
    rows = []
    for family in names:
        per_audit = tuple(s.get(family) for s in statuses)
        changes = []
        for i, status in enumerate(per_audit[1:], start=1):
            base = per_audit[0]
            if base is None or status is None:
                changes.append(Change(""))
            elif status is base:
                changes.append(Change("unchanged"))
            elif base in _STATUS_JUDGED and status in _STATUS_JUDGED:
                mark = "better" if status.severity < base.severity else "worse"
                changes.append(Change(mark, f"{base.value} \u2192 {status.value}"))
                text = (f"{labels[i]}: the {family_title(family)} verdict went from "
                        f"{base.value} in {labels[0]} to {status.value}.")
                (better if mark == "better" else worse).append(text)
            else:
                changes.append(Change("changed", f"{base.value} \u2192 {status.value}"))
        rows.append(FamilyRow(family_title(family), per_audit, tuple(changes)))
    return tuple(rows)


def _metric_table(audits: Sequence[AuditResult], labels: Sequence[str], better: list[str],
                  worse: list[str]) -> tuple[CompareTable, int]:
    keys: dict[tuple[str, str], list[Any]] = {}
    for i, audit in enumerate(audits):
        for result in audit.results:
            for name, metric in result.metrics.items():
                keys.setdefault((result.name, name), [None] * len(audits))[i] = metric
    rows, only_in_one = [], 0
    for (check, name), metrics in keys.items():
        if sum(m is not None for m in metrics) < 2:
            only_in_one += 1
            continue
        direction = next((m.higher_is_better for m in metrics
                          if m is not None and m.higher_is_better is not None), None)
        values = [None if m is None else _Value(m.value, m.lower, m.upper) for m in metrics]
        row = _row(f"metric-{check}-{name}", (check, humanize(name)), name, values, direction)
        _sentences(row, f"{humanize(name)} ({check})", labels, better, worse)
        rows.append(row)
    return CompareTable("Metrics", "metrics", ("Check", "Metric"), tuple(rows)), only_in_one


def _declarations(audits: Sequence[AuditResult]) -> list[tuple[str, TableComparison]]:
    """(check, declaration) of every compared table the results carry, in page order.

    A declaration is found in any audit (the first that carries it wins), so that
    an audit of an older version without declarations is still compared.
    """
    found: dict[tuple[str, str], tuple[str, TableComparison]] = {}
    for audit in audits:
        for result in audit.results:
            for declaration in result.comparisons:
                found.setdefault((result.name, declaration.table), (result.name, declaration))
    ranked = sorted(enumerate(found.values()), key=lambda item: (item[1][1].order, item[0]))
    return [pair for _, pair in ranked]


def _frame(audit: AuditResult, check: str, key: str | None,
           split_level: str | None) -> pd.DataFrame | None:
    if key is None:
        return None
    try:
        frame = audit[check].tables.get(key)
    except KeyError:
        return None
    if frame is None or (split_level is not None
                         and split_level not in (frame.index.names or ())):
        return None
    return frame


def _split(frames: Sequence[pd.DataFrame | None],
           level: str | None) -> dict[str | None, list[pd.DataFrame | None]]:
    """The frames per value of index ``level`` (that level dropped); all under None without."""
    if level is None:
        return {None: list(frames)} if any(f is not None for f in frames) else {}
    parts: dict[str | None, list[pd.DataFrame | None]] = {}
    for i, frame in enumerate(frames):
        if frame is None:
            continue
        values = frame.index.get_level_values(level)
        for value in dict.fromkeys(values):
            part = frame[values == value]
            part = part.droplevel(level) if part.index.nlevels > 1 else part.reset_index(drop=True)
            parts.setdefault(str(value), [None] * len(frames))[i] = part
    return parts


def _label(key: Any) -> tuple[str, ...]:
    return tuple(str(k) for k in key) if isinstance(key, tuple) else (str(key),)


def _record(frame: pd.DataFrame | None, key: Any) -> Mapping[str, Any] | None:
    if frame is None or key not in frame.index:
        return None
    record = frame.loc[key]
    if isinstance(record, pd.DataFrame):  # a repeated label: the first row
        record = record.iloc[0]
    return record.to_dict()


def _compared_value(declaration: TableComparison, column: str, row: Mapping[str, Any] | None,
                    bounds: Mapping[str, Any] | None) -> _Value | None:
    if row is None or column not in row:
        return None
    value = _finite(row[column])
    lower = upper = None
    columns = declaration.bound_columns(column)
    if columns is not None and bounds is not None and all(c in bounds for c in columns):
        lower, upper = _finite(bounds[columns[0]]), _finite(bounds[columns[1]])
    return _Value(float("nan") if value is None else value, lower, upper)


def _compared_tables(audits: Sequence[AuditResult], labels: Sequence[str], better: list[str],
                     worse: list[str]) -> tuple[CompareSection, ...]:
    """One section per declared table comparison, one table per split value."""
    sections = []
    for check, declaration in _declarations(audits):
        level = declaration.split_level
        points = _split([_frame(a, check, declaration.table, level) for a in audits], level)
        limits = _split([_frame(a, check, declaration.bounds_table, level) for a in audits],
                        level)
        anchor = declaration.anchor or declaration.table
        tables = [_compared_table(declaration, check, split, parts,
                                  limits.get(split, [None] * len(audits)), anchor, labels,
                                  better, worse)
                  for split, parts in points.items()]
        if tables:
            note = f"From the {check} check" + (f": {declaration.note}" if declaration.note
                                                 else ".")
            sections.append(CompareSection(declaration.heading or humanize(declaration.table),
                                           _anchor(anchor), note, tuple(tables)))
    return tuple(sections)


def _compared_table(declaration: TableComparison, check: str, split: str | None,
                    parts: Sequence[pd.DataFrame | None],
                    limits: Sequence[pd.DataFrame | None], anchor: str, labels: Sequence[str],
                    better: list[str], worse: list[str]) -> CompareTable:
    present = [p for p in parts if p is not None]
    names = [None if n is None else str(n) for n in present[0].index.names]
    metric_at = (names.index(declaration.metric_level)
                 if declaration.metric_level in names else None)
    prefix = "-".join(p for p in (declaration.row_anchor or anchor, split) if p is not None)
    keys = list(dict.fromkeys(k for p in present for k in p.index))
    rows = []
    for key in keys:
        parts_of_key = _label(key)
        records = [_record(p, key) for p in parts]
        bounds = [_record(b, key) if declaration.bounds_table else r
                  for b, r in zip(limits, records, strict=True)]
        if metric_at is not None:  # long table: the row's metric is in its index
            metric = parts_of_key[metric_at]
            compared = [(metric, declaration.values[0], parts_of_key,
                         tuple(humanize(p) if i == metric_at else p
                               for i, p in enumerate(parts_of_key)))]
            context = [(n, p) for i, (n, p) in enumerate(zip(names, parts_of_key, strict=False))
                       if i != metric_at]
        else:  # wide table: each compared column is a metric
            compared = [(column, column, parts_of_key + (humanize(column),),
                         parts_of_key + (humanize(column),)) for column in declaration.values]
            context = list(zip(names, parts_of_key, strict=False))
        for metric, column, anchor_parts, row_labels in compared:
            values = [_compared_value(declaration, column, r, b)
                      for r, b in zip(records, bounds, strict=True)]
            if all(v is None for v in values):
                continue
            direction = declaration.direction(
                metric, next((r for r in records if r is not None), None))
            row = _row(f"{prefix}-{'-'.join(anchor_parts)}", row_labels, metric, values,
                       direction)
            if declaration.summarise:
                what = humanize(metric) + (f" by {split}" if split is not None
                                           else f" ({check})")
                if context:
                    what += " (" + ", ".join(f"{'' if n is None else n} {p}".strip()
                                             for n, p in context) + ")"
                _sentences(row, what, labels, better, worse)
            rows.append(row)
    label_names = tuple("" if n is None else humanize(n) for n in names)
    if metric_at is None:
        label_names += (declaration.value_label,)
    title = declaration.title if split is None else declaration.title.replace("{split}", split)
    table_anchor = anchor if split is None else f"{anchor}-{split}"
    return CompareTable(title, _anchor(table_anchor), label_names, tuple(rows))


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _provenance(audits: Sequence[AuditResult]) -> tuple[tuple[str, tuple[tuple[str, bool],
                                                                          ...]], ...]:
    """(label, one (text, monospace) per audit) rows."""
    def get(audit: AuditResult, *path: str) -> Any:
        value: Any = audit.provenance
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    def model(audit: AuditResult) -> str:
        found = get(audit, "model") or {}
        return f"{found.get('type', 'unknown')} ({found.get('framework', '?')})" if found else ""

    def data(audit: AuditResult) -> str:
        found = get(audit, "data") or {}
        samples = found.get("n_samples")
        described = found.get("name") or f"{found.get('modality', 'unknown')} data"
        return described + (f", {samples:,} samples" if isinstance(samples, int) else "")

    fields = (
        ("Title", lambda a: a.title, False),
        ("Model", model, False),
        ("Model SHA-256", lambda a: get(a, "model", "weights_sha256"), True),
        ("Data", data, False),
        ("Data SHA-256", lambda a: get(a, "data", "sha256"), True),
        ("Seed (random_state)", lambda a: get(a, "random_state"), False),
        ("Started at", lambda a: get(a, "started_at"), False),
        ("Preset", lambda a: get(a, "preset"), False),
        ("Policy", lambda a: get(a, "policy", "name"), False),
        ("auditkit version", lambda a: get(a, "auditkit_version"), False),
    )
    rows = []
    for label, read, mono in fields:
        texts = []
        for audit in audits:
            value = read(audit)
            texts.append(("\u2014" if value in (None, "") else format_value(value), mono))
        rows.append((label, tuple(texts)))
    return tuple(rows)


def _notes(audits: Sequence[AuditResult]) -> tuple[str, ...]:
    notes = []
    data = {str((a.provenance.get("data") or {}).get("sha256")) for a in audits}
    if len(data) > 1:
        notes.append("The audits ran on different data (their SHA-256 differ): a change mixes "
                     "the models' differences with the data's.")
    policies = {str((a.provenance.get("policy") or {}).get("name")) for a in audits}
    if len(policies) > 1:
        notes.append("The audits used different policies: their verdicts rest on different "
                     "thresholds, while the numbers are comparable.")
    return tuple(notes)


def _anchor(text: str) -> str:
    return _ANCHOR_UNSAFE.sub("-", text).strip("-") or "row"


# -- rendering -----------------------------------------------------------------------------


def render_comparison_html(result: AuditResult, *others: AuditResult,
                           names: Sequence[str] | None = None) -> str:
    """Render two or more audits side by side as one self-contained HTML page.

    The page shows each audit's title and provenance, the verdict per family,
    every metric present in several audits with its interval and the change
    from the first audit (marked by :data:`CHANGE_RULE`), the tables the checks
    declare for comparison (see :class:`~auditkit.results.TableComparison`: the
    fairness disparities and per-group rates per sensitive feature), and what
    got better or worse in plain words. It has no script and loads nothing.

    Parameters
    ----------
    result : AuditResult
        The baseline audit.
    *others : AuditResult
        One or more audits to read against it.
    names : sequence of str, optional
        One distinct label per audit (the baseline first); defaults to their titles.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    AuditkitError
        With fewer than two audits, something that is not an AuditResult, or
        ``names`` of the wrong length.

    Examples
    --------
    >>> from auditkit.report import render_comparison_html
    >>> html = render_comparison_html(before, after, names=["v1", "v2"])  # doctest: +SKIP
    >>> "better" in html  # doctest: +SKIP
    True
    """
    from ._render import _environment, template_dir

    view = build_comparison((result, *others), names=names)
    template = _environment(template_dir()).get_template(_TEMPLATE)
    return template.render(view=view)
