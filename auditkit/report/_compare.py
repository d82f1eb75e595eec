"""Comparison report: two or more audits side by side, in one self-contained HTML page.

The first audit is the baseline; every other one is read against it. A change
is marked with :data:`CHANGE_RULE`: "better" or "worse" only when the two
confidence intervals do not overlap (in the metric's ``higher_is_better``
direction), "unchanged" when they overlap. :func:`find_regressions` lists what
got worse by that rule; the page and the ``auditkit compare
--fail-on-regression`` gate both read it. The page puts the regressions first,
then the improvements, then one chart and the detail tables per family; it
follows the main report's rules: jinja2 autoescape, a Content-Security-Policy,
no script, no request.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from .._version import __version__
from ..exceptions import AuditkitError
from ..results import AuditResult, Figure, Status, TableComparison
from ._format import family_title, format_metric, format_value, humanize, is_rate
from ._plots import Drawing, to_svg

__all__ = ["CHANGE_RULE", "ORDER_RULE", "ComparisonView", "Regression", "build_comparison",
           "find_regressions", "render_comparison_html"]

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

#: How the regressions and improvements are ordered, shown on the page.
ORDER_RULE = (
    "Grouped by family, the family with the largest change first; within a family, largest "
    "absolute change of the estimate first. Sizes are in each metric's own unit, so they are "
    "compared only within a family.")

TOO_FEW_AUDITS = "A comparison needs at least two audits. Got {got} instead."
NOT_AN_AUDIT = "The audits to compare must be AuditResult objects. Got {got} at position {i}."
BAD_NAMES = ("The 'names' parameter must give one distinct label per audit ({expected}). "
             "Got {got} instead.")

_STATUS_JUDGED = (Status.PASS, Status.WARN, Status.FAIL, Status.ERROR)
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_APART = "intervals apart"
#: Rows of a family's chart; past it, the rows that changed are kept first.
_MAX_CHART_ROWS = 36


# -- regressions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Regression:
    """A metric worse in a new audit than in the baseline, with the intervals apart.

    Attributes
    ----------
    check, metric, family : str
        Where the metric comes from.
    where : str
        For a row of a compared table, the part it belongs to (e.g. ``"sex"``);
        empty for a check's metric.
    before, after : float
        The estimates in the baseline and in the new audit.
    before_interval, after_interval : tuple of (float, float)
        Their confidence intervals.
    size : float
        The absolute change of the estimate, ``abs(after - before)``.
    higher_is_better : bool
        The metric's direction.
    limit : float or None
        The policy's level for the metric in the new audit (fail, else warn), if any.
    sentence : str
        The change in plain words, e.g. "Demographic parity difference by sex rose
        from 0.193 [0.181, 0.205] to 0.354 [0.345, 0.364] (worse; limit 0.2)".
    anchor : str
        The id of the metric's row on the comparison page.
    """

    check: str
    metric: str
    family: str
    where: str
    before: float
    before_interval: tuple[float, float]
    after: float
    after_interval: tuple[float, float]
    size: float
    higher_is_better: bool
    limit: float | None
    sentence: str
    anchor: str

    @property
    def key(self) -> str:
        """``check.metric``, with ``[where]`` for a row of a compared table."""
        return f"{self.check}.{self.metric}" + (f"[{self.where}]" if self.where else "")

    @property
    def line(self) -> str:
        """One line for a terminal: the key, both estimates and intervals, the size."""
        (old_low, old_high), (new_low, new_high) = self.before_interval, self.after_interval
        return (f"{self.key} went from {self.before:.4g} [{old_low:.4g}, {old_high:.4g}] to "
                f"{self.after:.4g} [{new_low:.4g}, {new_high:.4g}] "
                f"({'higher' if self.higher_is_better else 'lower'} is better; "
                f"worse by {self.size:.4g})")


def find_regressions(base: AuditResult, new: AuditResult) -> list[Regression]:
    """The metrics that got worse from ``base`` to ``new``, with their intervals apart.

    Each check's metrics are read, and the rows of the tables its checks declare
    for comparison with ``summarise=True`` (see
    :class:`~auditkit.results.TableComparison`: the fairness disparities per
    sensitive feature). Only a metric with a direction and a finite interval in
    both audits can be judged; metrics without either are never regressions.

    Parameters
    ----------
    base : AuditResult
        The baseline audit.
    new : AuditResult
        The audit read against it.

    Returns
    -------
    list of Regression
        Largest absolute change first (ties keep the page's order).

    Examples
    --------
    >>> from auditkit.report import find_regressions  # doctest: +SKIP
    >>> [r.key for r in find_regressions(before, after)]  # doctest: +SKIP
    ['fairness_disparities.equalized_odds_difference[sex]', ...]
    """
    for i, item in enumerate((base, new)):
        if not isinstance(item, AuditResult):
            raise AuditkitError(NOT_AN_AUDIT.format(got=type(item).__name__, i=i))
    audits = (base, new)
    found = [_regression(item, audits, 1) for item in _collect(audits) if item.listed]
    return sorted((r for r in found if r is not None), key=lambda r: -r.size)


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
class Finding:
    """One line of the lists at the top: a change in plain words, linked to its row."""

    audit: str  # the compared audit's label; empty when there are only two audits
    sentence: str
    anchor: str
    size: float
    also: tuple[str, ...] = ()  # other metrics with exactly the same values


@dataclass(frozen=True)
class FindingGroup:
    """The findings of one family, largest first."""

    family: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class AuditLine:
    """An audit's legend entry and verdicts: overall, then one per family of the page."""

    label: str
    title: str
    status: Status
    families: tuple[tuple[Status | None, str], ...]  # (status, mark against the baseline)


@dataclass(frozen=True)
class Notice:
    """A box at the top: the audits differ in something besides the model."""

    title: str
    text: str
    values: tuple[tuple[str, str], ...]  # (audit label, its value)
    mono: bool = False


@dataclass(frozen=True)
class FamilyPanel:
    """A family's section: verdicts, the chart of its metrics, its side-by-side tables."""

    title: str
    anchor: str
    statuses: tuple[Status | None, ...]
    chart: Figure | None  # the numbers of the chart: one row per metric, one column per audit
    drawing: Drawing | None
    chart_note: str
    metrics: CompareTable | None
    sections: tuple[CompareSection, ...]


@dataclass(frozen=True)
class ComparisonView:
    """What the comparison page shows, in order."""

    labels: tuple[str, ...]
    titles: tuple[str, ...]
    statuses: tuple[Status, ...]
    family_titles: tuple[str, ...]
    skipped_families: tuple[str, ...]  # skipped (or not run) in every audit: one line
    audits: tuple[AuditLine, ...]
    notices: tuple[Notice, ...]
    same_data: str
    regressions: tuple[FindingGroup, ...]
    improvements: tuple[FindingGroup, ...]
    inconclusive: tuple[Finding, ...]
    families: tuple[FamilyPanel, ...]
    only_in_one: int
    provenance: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]
    rule: str = CHANGE_RULE
    order_rule: str = ORDER_RULE
    generator: str = field(default=f"auditkit {__version__}")

    @property
    def title(self) -> str:
        """The page title: the audits' labels."""
        return " vs ".join(self.labels)

    @property
    def n_regressions(self) -> int:
        """How many lines the regressions list has."""
        return sum(len(group.findings) for group in self.regressions)

    @property
    def n_improvements(self) -> int:
        """How many lines the improvements list has."""
        return sum(len(group.findings) for group in self.improvements)


# -- what is compared ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    value: float
    lower: float | None = None
    upper: float | None = None

    @property
    def has_interval(self) -> bool:
        return (self.lower is not None and self.upper is not None
                and math.isfinite(self.lower) and math.isfinite(self.upper))


@dataclass(frozen=True)
class _Item:
    """One compared metric: a check's metric or a row of a declared table."""

    family: str
    check: str
    metric: str
    what: str  # plain words, e.g. "Demographic parity difference by sex"
    where: str  # the table part, e.g. "sex"; empty for a check's metric
    labels: tuple[str, ...]  # the row's labels in its table
    anchor: str
    table: str  # anchor of the table holding the row
    values: tuple[_Value | None, ...]
    higher_is_better: bool | None
    listed: bool  # a change past the intervals goes into the lists at the top
    limits: tuple[float | None, ...] = ()
    covered: bool = False  # a check's metric also shown per feature by a listed table

    @property
    def percent(self) -> bool:
        present = [v for v in self.values if v is not None]
        return is_rate(self.metric, *(x for v in present for x in (v.value, v.lower, v.upper)
                                      if x is None or math.isfinite(x)))


@dataclass
class _Collected:
    items: list[_Item]
    sections: list[tuple[str, CompareSection]]  # (family, section)
    only_in_one: int


def _collect(audits: Sequence[AuditResult]) -> list[_Item]:
    return _collect_all(audits).items


def _collect_all(audits: Sequence[AuditResult]) -> _Collected:
    """Every compared metric of the audits, in page order, and the declared tables."""
    metric_items, only_in_one = _metric_items(audits)
    table_items: list[_Item] = []
    sections: list[tuple[str, CompareSection]] = []
    for check, declaration in _declarations(audits):
        family = _family_of(audits, check)
        section, items = _declared_section(audits, check, family, declaration)
        if section is not None:
            sections.append((family, section))
            table_items.extend(items)
    per_feature = {(i.check, i.metric) for i in table_items if i.listed}
    metric_items = [replace(i, covered=(i.check, i.metric) in per_feature)
                    for i in metric_items]
    return _Collected(metric_items + table_items, sections, only_in_one)


def _family_of(audits: Sequence[AuditResult], check: str) -> str:
    for audit in audits:
        for result in audit.results:
            if result.name == check:
                return result.family
    return "other"


def _limit(audit: AuditResult, check: str, metric: str) -> float | None:
    """The policy's level for ``metric`` (fail, else warn), or for the bound it judges."""
    try:
        thresholds = audit[check].thresholds
    except KeyError:
        return None
    for name in (metric, f"{metric}_lower_bound", f"{metric}_upper_bound"):
        for threshold in thresholds:
            if threshold.metric == name:
                level = threshold.fail if threshold.fail is not None else threshold.warn
                if level is not None and math.isfinite(level):
                    return float(level)
    return None


def _metric_items(audits: Sequence[AuditResult]) -> tuple[list[_Item], int]:
    keys: dict[tuple[str, str], list[Any]] = {}
    families: dict[str, str] = {}
    for i, audit in enumerate(audits):
        for result in audit.results:
            families.setdefault(result.name, result.family)
            for name, metric in result.metrics.items():
                keys.setdefault((result.name, name), [None] * len(audits))[i] = metric
    present = {key: metrics for key, metrics in keys.items()
               if sum(m is not None for m in metrics) >= 2}
    checks_of: dict[str, set[str]] = {}
    for check, name in present:
        checks_of.setdefault(name, set()).add(check)
    items = []
    for (check, name), metrics in present.items():
        direction = next((m.higher_is_better for m in metrics
                          if m is not None and m.higher_is_better is not None), None)
        what = humanize(name) + (f" ({check})" if len(checks_of[name]) > 1 else "")
        family = families[check]
        items.append(_Item(
            family=family, check=check, metric=name, what=what, where="",
            labels=(check, humanize(name)), anchor=_anchor(f"metric-{check}-{name}"),
            table=_anchor(f"metrics-{family}"),
            values=tuple(None if m is None else _Value(m.value, m.lower, m.upper)
                         for m in metrics),
            higher_is_better=direction, listed=True,
            limits=tuple(_limit(a, check, name) for a in audits)))
    return items, len(keys) - len(present)


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


def _declared_section(audits: Sequence[AuditResult], check: str, family: str,
                      declaration: TableComparison) -> tuple[CompareSection | None, list[_Item]]:
    """The section of one declared table comparison (one table per split value), its rows."""
    level = declaration.split_level
    points = _split([_frame(a, check, declaration.table, level) for a in audits], level)
    limits = _split([_frame(a, check, declaration.bounds_table, level) for a in audits], level)
    anchor = declaration.anchor or declaration.table
    tables, items = [], []
    for split, parts in points.items():
        table, rows = _declared_table(audits, declaration, check, family, split, parts,
                                      limits.get(split, [None] * len(audits)), anchor)
        tables.append(table)
        items.extend(rows)
    if not tables:
        return None, []
    note = f"From the {check} check" + (f": {declaration.note}" if declaration.note else ".")
    section = CompareSection(declaration.heading or humanize(declaration.table),
                             _anchor(anchor), note, tuple(tables))
    return section, items


def _declared_table(audits: Sequence[AuditResult], declaration: TableComparison, check: str,
                    family: str, split: str | None, parts: Sequence[pd.DataFrame | None],
                    limits: Sequence[pd.DataFrame | None],
                    anchor: str) -> tuple[CompareTable, list[_Item]]:
    present = [p for p in parts if p is not None]
    names = [None if n is None else str(n) for n in present[0].index.names]
    metric_at = (names.index(declaration.metric_level)
                 if declaration.metric_level in names else None)
    prefix = "-".join(p for p in (declaration.row_anchor or anchor, split) if p is not None)
    table_anchor = _anchor(anchor if split is None else f"{anchor}-{split}")
    items = []
    for key in dict.fromkeys(k for p in present for k in p.index):
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
            values = tuple(_compared_value(declaration, column, r, b)
                           for r, b in zip(records, bounds, strict=True))
            if all(v is None for v in values):
                continue
            what = humanize(metric) + (f" by {split}" if split is not None else f" ({check})")
            if context:
                what += " (" + ", ".join(f"{'' if n is None else n} {p}".strip()
                                         for n, p in context) + ")"
            where = "/".join([*([split] if split is not None else []),
                              *(str(p) for _, p in context)])
            items.append(_Item(
                family=family, check=check, metric=metric, what=what, where=where,
                labels=row_labels, anchor=_anchor(f"{prefix}-{'-'.join(anchor_parts)}"),
                table=table_anchor, values=values,
                higher_is_better=declaration.direction(
                    metric, next((r for r in records if r is not None), None)),
                listed=declaration.summarise,
                limits=tuple(_limit(a, check, metric) for a in audits)))
    label_names = tuple("" if n is None else humanize(n) for n in names)
    if metric_at is None:
        label_names += (declaration.value_label,)
    title = declaration.title if split is None else declaration.title.replace("{split}", split)
    table = CompareTable(title, table_anchor, label_names,
                         tuple(_row(item) for item in items))
    return table, items


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# -- judging -------------------------------------------------------------------------------


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
        note = _APART
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


def _cells(item: _Item) -> tuple[ValueCell, ...]:
    percent = item.percent
    return tuple(_cell(item.metric, v, percent) for v in item.values)


def _changes(item: _Item) -> tuple[Change, ...]:
    return tuple(judge(item.values[0], v, item.higher_is_better, item.metric)
                 for v in item.values[1:])


def _row(item: _Item) -> CompareRow:
    return CompareRow(item.anchor, item.labels, _cells(item), _changes(item))


def _limit_text(item: _Item, i: int) -> str:
    limit = item.limits[i] if i < len(item.limits) else None
    if limit is None:
        limit = item.limits[0] if item.limits else None
    return "" if limit is None else f"; limit {format_metric(item.metric, limit)}"


def _sentence(item: _Item, i: int, mark: str) -> str:
    """``item``'s change from the baseline to audit ``i`` in plain words."""
    cells = _cells(item)
    before, after = cells[0], cells[i]
    base, new = item.values[0], item.values[i]
    verb = "rose" if new.value > base.value else "fell" if new.value < base.value else "stayed"
    return (f"{item.what} {verb} from {before.value}"
            + (f" {before.interval}" if before.interval else "")
            + f" to {after.value}" + (f" {after.interval}" if after.interval else "")
            + f" ({mark}{_limit_text(item, i)})")


def _regression(item: _Item, audits: Sequence[AuditResult], i: int) -> Regression | None:
    """The regression of ``item`` from the baseline to audit ``i``, or None."""
    change = judge(item.values[0], item.values[i], item.higher_is_better, item.metric)
    if change.mark != "worse" or change.note != _APART:
        return None
    base, new = item.values[0], item.values[i]
    limit = item.limits[i] if item.limits[i] is not None else item.limits[0]
    return Regression(
        check=item.check, metric=item.metric, family=item.family, where=item.where,
        before=base.value, before_interval=(base.lower, base.upper), after=new.value,
        after_interval=(new.lower, new.upper), size=abs(new.value - base.value),
        higher_is_better=bool(item.higher_is_better), limit=limit,
        sentence=_sentence(item, i, "worse"), anchor=item.anchor)


# -- building the page ---------------------------------------------------------------------


def audit_labels(audits: Sequence[AuditResult], names: Sequence[str] | None) -> list[str]:
    """One distinct label per audit: ``names``, or the letters A, B, C, ..."""
    if names is not None:
        return [str(n) for n in names]
    letters = string.ascii_uppercase
    return [letters[i] if i < len(letters) else f"{letters[i % 26]}{i // 26}"
            for i in range(len(audits))]


def build_comparison(audits: Sequence[AuditResult], *,
                     names: Sequence[str] | None = None) -> ComparisonView:
    """Build the view model of the comparison page.

    Parameters
    ----------
    audits : sequence of AuditResult
        Two or more audits; the first is the baseline.
    names : sequence of str, optional
        One distinct label per audit; defaults to the letters A, B, C, ...,
        each named once in the page's legend.

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
    collected = _collect_all(audits)
    every = list(dict.fromkeys(f for a in audits for f in a.families))
    statuses = [a.family_status() for a in audits]
    skipped = [f for f in every if all(s.get(f) in (None, Status.SKIP) for s in statuses)]
    family_names = [f for f in every if f not in skipped]
    notices, same_data = _notices(audits, labels)
    return ComparisonView(
        labels=tuple(labels), titles=tuple(a.title for a in audits),
        statuses=tuple(a.status for a in audits),
        family_titles=tuple(family_title(f) for f in family_names),
        skipped_families=tuple(family_title(f) for f in skipped),
        audits=_audit_lines(audits, labels, family_names), notices=notices,
        same_data=same_data,
        regressions=_finding_groups(collected.items, labels, "worse"),
        improvements=_finding_groups(collected.items, labels, "better"),
        inconclusive=_inconclusive(collected.items, labels),
        families=tuple(_family_panel(family, audits, labels, collected)
                       for family in family_names),
        only_in_one=collected.only_in_one, provenance=_provenance(audits, labels))


def _audit_lines(audits: Sequence[AuditResult], labels: Sequence[str],
                 family_names: Sequence[str]) -> tuple[AuditLine, ...]:
    statuses = [a.family_status() for a in audits]
    lines = []
    for audit, label, status in zip(audits, labels, statuses, strict=True):
        families = []
        for family in family_names:
            base, own = statuses[0].get(family), status.get(family)
            mark = ""
            if (audit is not audits[0] and base in _STATUS_JUDGED and own in _STATUS_JUDGED
                    and own is not base):
                mark = "better" if own.severity < base.severity else "worse"
            families.append((own, mark))
        lines.append(AuditLine(label, audit.title, audit.status, tuple(families)))
    return tuple(lines)


def _same_values(item: _Item) -> tuple[Any, ...]:
    """The item's numbers, rounded, to fold metrics that repeat the same estimate."""
    return tuple(None if v is None else tuple(None if x is None else round(x, 10)
                                              for x in (v.value, v.lower, v.upper))
                 for v in item.values)


def _finding_groups(items: Sequence[_Item], labels: Sequence[str],
                    mark: str) -> tuple[FindingGroup, ...]:
    """The changes past the intervals in ``mark``'s direction, by family, largest first."""
    by_family: dict[str, list[Finding]] = {}
    for i in range(1, len(labels)):
        seen: dict[tuple[Any, ...], int] = {}
        judged = [item for item in items if item.listed and _is_apart(item, i, mark)]
        # a check's metric that its per-feature rows show: those rows say it more precisely
        per_feature = {(item.check, item.metric) for item in judged if item.where}
        for item in judged:
            if item.covered and (item.check, item.metric) in per_feature:
                continue
            findings = by_family.setdefault(item.family, [])
            key = (i, item.family, _same_values(item))
            if key in seen:  # the same numbers under another name: one line
                first = findings[seen[key]]
                findings[seen[key]] = Finding(first.audit, first.sentence, first.anchor,
                                              first.size, (*first.also, item.what))
                continue
            seen[key] = len(findings)
            findings.append(Finding(labels[i] if len(labels) > 2 else "",
                                    _sentence(item, i, mark), item.anchor,
                                    abs(item.values[i].value - item.values[0].value)))
    groups = [FindingGroup(family_title(family), tuple(sorted(found, key=lambda f: -f.size)))
              for family, found in by_family.items()]
    return tuple(sorted(groups, key=lambda g: -g.findings[0].size))


def _is_apart(item: _Item, i: int, mark: str) -> bool:
    """Whether audit ``i`` is ``mark`` ("better" or "worse") than the baseline, intervals apart."""
    change = judge(item.values[0], item.values[i], item.higher_is_better, item.metric)
    return change.mark == mark and change.note == _APART


def _inconclusive(items: Sequence[_Item], labels: Sequence[str]) -> tuple[Finding, ...]:
    """Listed metrics not judged better or worse: intervals overlap, or none to judge by."""
    found = []
    for item in items:
        if not item.listed:
            continue
        cells = _cells(item)
        for i, change in enumerate(_changes(item), start=1):
            if change.mark == "" or (change.mark in ("better", "worse")
                                     and change.note == _APART):
                continue
            note = change.note or ("same value" if change.mark == "unchanged" else "")
            if change.mark == "changed":
                note = f"no direction, {note}" if note else "no direction"
            sentence = (f"{item.what}: {cells[0].value} \u2192 {cells[i].value}"
                        + (f" ({note})" if note else ""))
            found.append(Finding(labels[i] if len(labels) > 2 else "", sentence,
                                 item.anchor, 0.0))
    return tuple(found)


def _family_panel(family: str, audits: Sequence[AuditResult], labels: Sequence[str],
                  collected: _Collected) -> FamilyPanel:
    items = [i for i in collected.items if i.family == family]
    metrics = [i for i in items if not i.where and i.table == _anchor(f"metrics-{family}")]
    table = (CompareTable(f"{family_title(family)} metrics", _anchor(f"metrics-{family}"),
                          ("Check", "Metric"), tuple(_row(i) for i in metrics))
             if metrics else None)
    chart, note = _chart(family, items, labels)
    drawing = None if chart is None else to_svg(chart, salt=_anchor(f"chart-{family}"))
    statuses = tuple(a.family_status().get(family) for a in audits)
    return FamilyPanel(family_title(family), _anchor(f"family-{family}"), statuses, chart,
                       drawing, note, table,
                       tuple(s for f, s in collected.sections if f == family))


def _chart_rows(items: Sequence[_Item]) -> list[_Item]:
    """The listed metrics with an interval, each set of numbers once, per-feature rows first."""
    rows, seen = [], set()
    for item in items:
        if not item.listed or item.covered:
            continue
        present = [v for v in item.values if v is not None and math.isfinite(v.value)]
        if len(present) < 2 or not any(v.has_interval for v in present):
            continue
        key = _same_values(item)
        if key not in seen:
            seen.add(key)
            rows.append(item)
    return rows


def _row_mark(item: _Item) -> str:
    marks = [c.mark for c in _changes(item) if c.note == _APART]
    return "worse" if "worse" in marks else "better" if "better" in marks else ""


def _chart(family: str, items: Sequence[_Item],
           labels: Sequence[str]) -> tuple[Figure | None, str]:
    rows = _chart_rows(items)
    if not rows:
        return None, ""
    note = ""
    if len(rows) > _MAX_CHART_ROWS:
        changed = [r for r in rows if _row_mark(r)]
        kept = set(map(id, (changed + [r for r in rows if not _row_mark(r)])[:_MAX_CHART_ROWS]))
        left_out = len(rows) - len(kept)
        rows = [r for r in rows if id(r) in kept]
        note = (f"{left_out} unchanged metric{'s' if left_out != 1 else ''} left out of the "
                "chart; the tables below have every one.")

    def number(x: float | None) -> float:
        return float("nan") if x is None else float(x)

    def grid(attribute: str) -> list[list[float]]:
        return [[number(None if v is None else getattr(v, attribute)) for v in r.values]
                for r in rows]

    shared = [all(0.0 <= x <= 1.0 for v in r.values if v is not None
                  for x in (v.value, v.lower, v.upper) if x is not None and math.isfinite(x))
              for r in rows]
    figure = Figure("compare_intervals", {
        "labels": [r.what for r in rows], "audits": list(labels),
        "values": grid("value"), "lower": grid("lower"), "upper": grid("upper"),
        "limits": [number(next((x for x in reversed(r.limits) if x is not None), None))
                   for r in rows],
        "marks": [_row_mark(r) for r in rows],
        "texts": [" \u2192 ".join(c.value for c in _cells(r)) for r in rows],
        "shared": shared}, title=f"{family_title(family)}: each audit's estimates")
    return figure, note


# -- provenance and notices ----------------------------------------------------------------


def _get(audit: AuditResult, *path: str) -> Any:
    value: Any = audit.provenance
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _text(value: Any) -> str:
    return "\u2014" if value in (None, "") else format_value(value)


def _provenance(audits: Sequence[AuditResult],
                labels: Sequence[str]) -> tuple[tuple[str, tuple[tuple[str, bool], ...]], ...]:
    """(label, one (text, monospace) per audit) rows."""
    def model(audit: AuditResult) -> str:
        found = _get(audit, "model") or {}
        return f"{found.get('type', 'unknown')} ({found.get('framework', '?')})" if found else ""

    def data(audit: AuditResult) -> str:
        found = _get(audit, "data") or {}
        samples = found.get("n_samples")
        described = found.get("name") or f"{found.get('modality', 'unknown')} data"
        return described + (f", {samples:,} samples" if isinstance(samples, int) else "")

    fields = (
        ("Title", lambda a: a.title, False),
        ("Model", model, False),
        ("Model SHA-256", lambda a: _get(a, "model", "weights_sha256"), True),
        ("Data", data, False),
        ("Data SHA-256", lambda a: _get(a, "data", "sha256"), True),
        ("Seed (random_state)", lambda a: _get(a, "random_state"), False),
        ("Started at", lambda a: _get(a, "started_at"), False),
        ("Preset", lambda a: _get(a, "preset"), False),
        ("Policy", lambda a: _get(a, "policy", "name"), False),
        ("auditkit version", lambda a: _get(a, "auditkit_version"), False),
    )
    return tuple((label, tuple((_text(read(a)), mono) for a in audits))
                 for label, read, mono in fields)


def _differ(audits: Sequence[AuditResult], *path: str) -> bool:
    return len({repr(_get(a, *path)) for a in audits}) > 1


def _notices(audits: Sequence[AuditResult],
             labels: Sequence[str]) -> tuple[tuple[Notice, ...], str]:
    """Boxes for what differs besides the model, and the line saying the data are the same."""
    def values(*path: str) -> tuple[tuple[str, str], ...]:
        return tuple((label, _text(_get(a, *path))) for label, a in zip(labels, audits,
                                                                         strict=True))

    notices = []
    same_data = ""
    if _differ(audits, "data", "sha256"):
        notices.append(Notice(
            "Different data",
            "The audits ran on different data (their SHA-256 differ): a difference below may "
            "come from the data, not the model.", values("data", "sha256"), mono=True))
    elif _get(audits[0], "data", "sha256"):
        same_data = ("Every audit ran on the same data (SHA-256 "
                     f"{_get(audits[0], 'data', 'sha256')}): the differences come from the "
                     "models.")
    kinds = [(_get(a, "model", "type"), _get(a, "model", "framework")) for a in audits]
    if len(set(kinds)) > 1:
        notices.append(Notice(
            "Different kinds of model",
            "The audits are of different kinds of model: a check may measure them differently.",
            tuple((label, f"{t or 'unknown'} ({f or '?'})")
                  for label, (t, f) in zip(labels, kinds, strict=True))))
    if _differ(audits, "policy", "name") or _differ(audits, "policy", "rules"):
        notices.append(Notice(
            "Different policies",
            "The audits used different policies: their verdicts rest on different thresholds, "
            "while the numbers are comparable.", values("policy", "name")))
    if _differ(audits, "auditkit_version"):
        notices.append(Notice(
            "Different auditkit versions",
            "The audits were made with different versions of auditkit: a difference may come "
            "from a check that changed, not from the model.", values("auditkit_version")))
    return tuple(notices), same_data


def _anchor(text: str) -> str:
    return _ANCHOR_UNSAFE.sub("-", text).strip("-") or "row"


# -- rendering -----------------------------------------------------------------------------


def render_comparison_html(result: AuditResult, *others: AuditResult,
                           names: Sequence[str] | None = None) -> str:
    """Render two or more audits side by side as one self-contained HTML page.

    The page names each audit once, in a legend with its verdicts; warns when
    the audits differ in data, kind of model, policy or auditkit version; lists
    the regressions (metrics worse than in the first audit with the intervals
    apart, see :data:`CHANGE_RULE`, ordered by :data:`ORDER_RULE`), then the
    improvements, then the rest folded; then, per family, a chart of its
    metrics with their intervals and the side-by-side tables, including those
    the checks declare (see :class:`~auditkit.results.TableComparison`: the
    fairness disparities and per-group rates per sensitive feature). It has no
    script and loads nothing.

    Parameters
    ----------
    result : AuditResult
        The baseline audit.
    *others : AuditResult
        One or more audits to read against it.
    names : sequence of str, optional
        One distinct label per audit (the baseline first); defaults to the
        letters A, B, C, ...

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
    >>> "Regressions" in html  # doctest: +SKIP
    True
    """
    from ._render import _environment, template_dir

    view = build_comparison((result, *others), names=names)
    template = _environment(template_dir()).get_template(_TEMPLATE)
    return template.render(view=view)
