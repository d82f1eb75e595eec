"""The result of one check: plain, frozen data with an exact JSON form.

A :class:`CheckResult` holds what a check measured (metrics with their
confidence intervals, tables, the data needed to draw figures) and, once the
policy has judged it, its :class:`Status` and the thresholds used. It never
holds HTML: the report layer draws and formats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import pandas as pd

from .._families import is_diagnostic
from ._comparison import TableComparison
from ._json import from_jsonable, to_jsonable

__all__ = ["Status", "Metric", "Figure", "Threshold", "CheckResult"]


class Status(str, Enum):
    """Verdict of a check.

    PASS, WARN and FAIL are given by the policy's thresholds. INFO means the
    check measured something no threshold judges. SKIP means the check does
    not apply (the reason is the headline) and ERROR that it raised (the
    traceback is kept in ``error``).
    """

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    INFO = "INFO"
    SKIP = "SKIP"
    ERROR = "ERROR"

    @property
    def severity(self) -> int:
        """Order used to find the worst status: ERROR > FAIL > WARN > PASS > INFO > SKIP."""
        return _SEVERITY[self]


_SEVERITY = {
    Status.SKIP: 0,
    Status.INFO: 1,
    Status.PASS: 2,
    Status.WARN: 3,
    Status.FAIL: 4,
    Status.ERROR: 5,
}


def _same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(frozen=True)
class Metric:
    """A measured number, with its confidence interval when one was computed.

    Parameters
    ----------
    value : float
        The point estimate on the whole sample.
    lower, upper : float or None
        Bounds of the confidence interval, or None when none was computed.
    confidence : float or None
        Level of the interval (e.g. 0.95).
    n : int or None
        Number of samples the value rests on.
    method : str or None
        How the interval was computed, e.g. ``"percentile bootstrap, 1000 resamples"``.
    higher_is_better : bool or None
        Direction of the metric, used by the report to phrase findings.
    """

    value: float
    lower: float | None = None
    upper: float | None = None
    confidence: float | None = None
    n: int | None = None
    method: str | None = None
    higher_is_better: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        for name in ("lower", "upper", "confidence"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))
        if self.n is not None:
            object.__setattr__(self, "n", int(self.n))

    @property
    def has_interval(self) -> bool:
        """Whether a confidence interval was computed."""
        return self.lower is not None and self.upper is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        return (
            _same_float(self.value, other.value)
            and _same_float(self.lower, other.lower)
            and _same_float(self.upper, other.upper)
            and _same_float(self.confidence, other.confidence)
            and (self.n, self.method, self.higher_is_better)
            == (other.n, other.method, other.higher_is_better)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Figure:
    """The data needed to draw one figure; the report decides how it looks.

    Parameters
    ----------
    kind : str
        Which drawing the report makes, e.g. ``"reliability_diagram"``,
        ``"roc_curves"``, ``"confusion_matrix"``.
    data : mapping of str to array-like or scalar
        The numbers to draw.
    title : str
        A short title.
    """

    kind: str
    data: Mapping[str, Any]
    title: str = ""


@dataclass(frozen=True)
class Threshold:
    """A policy rule applied to one metric, and its outcome.

    ``observed`` is the metric's point estimate. When the rule judged the
    metric's confidence interval (``judged_on="interval"``), ``judged_value``
    is the interval's end the levels were compared with (the one nearest to
    passing) and ``confidence`` the interval's level.
    """

    metric: str
    direction: str  # "higher_is_better" or "lower_is_better"
    warn: float | None
    fail: float | None
    observed: float
    status: Status
    clauses: tuple[str, ...] = ()
    judged_on: str = "estimate"
    judged_value: float | None = None
    confidence: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "clauses", tuple(self.clauses))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Threshold):
            return NotImplemented
        return (
            (self.metric, self.direction, self.status, self.clauses, self.judged_on)
            == (other.metric, other.direction, other.status, other.clauses, other.judged_on)
            and _same_float(self.judged_value, other.judged_value)
            and _same_float(self.confidence, other.confidence)
            and _same_float(self.warn, other.warn)
            and _same_float(self.fail, other.fail)
            and _same_float(self.observed, other.observed)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class CheckResult:
    """What one check found.

    Parameters
    ----------
    name, family : str
        The check's registered name and its family (``"performance"``, ...).
    status : Status
        The verdict (see :class:`Status`).
    headline : str
        One plain sentence: the finding, the reason for a SKIP, or the error.
    metrics : mapping of str to Metric
        Measured numbers.
    tables : mapping of str to pandas.DataFrame
        Tabular findings (per class, per group, ...).
    figures : mapping of str to Figure
        Data for the report's plots.
    params : mapping of str to object
        The check's options as run.
    thresholds : tuple of Threshold
        The policy rules applied, with their outcome.
    duration_s : float
        Wall-clock time of the check.
    error : str or None
        The traceback when the check raised.
    description : str
        What the check measures, in a sentence or two (the check's ``description``).
    comparisons : tuple of TableComparison
        How the comparison page reads the result's tables across audits.
    rows : int, optional
        Rows of the audited data the check read: every row, or for streamed
        data a seeded sample of them for the checks that need the inputs
        (the audit's provenance gives the sample and the population). Some
        checks then draw fewer (their metrics' ``n`` says how many).
    diagnostic : bool, optional
        Whether the check tests one of the audit's own methods (an explainer's
        sanity check, gradient masking of the attacks) rather than the model.
        A diagnostic warns not to trust that method; it does not move the
        model's verdict unless the policy says so. Defaults to what
        :func:`auditkit._families.is_diagnostic` says of the check.
    """

    name: str
    family: str
    status: Status
    headline: str
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    figures: Mapping[str, Figure] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    thresholds: tuple[Threshold, ...] = ()
    duration_s: float = 0.0
    error: str | None = None
    description: str = ""
    comparisons: tuple[TableComparison, ...] = ()
    diagnostic: bool | None = None
    rows: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "diagnostic", is_diagnostic(self.name, self.family)
                           if self.diagnostic is None else bool(self.diagnostic))
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        object.__setattr__(self, "comparisons", tuple(self.comparisons))

    def with_changes(self, **changes: Any) -> CheckResult:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)

    def metric_value(self, name: str) -> float:
        """Return the point estimate of metric ``name``."""
        return self.metrics[name].value

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        return {
            "name": self.name,
            "family": self.family,
            "status": self.status.value,
            "headline": self.headline,
            "metrics": {k: to_jsonable(vars(m)) for k, m in self.metrics.items()},
            "tables": {k: to_jsonable(v) for k, v in self.tables.items()},
            "figures": {
                k: {"kind": f.kind, "title": f.title, "data": to_jsonable(dict(f.data))}
                for k, f in self.figures.items()
            },
            "params": to_jsonable(dict(self.params)),
            "thresholds": [
                {**to_jsonable({k: v for k, v in vars(t).items() if k != "status"}),
                 "status": t.status.value}
                for t in self.thresholds
            ],
            "duration_s": self.duration_s,
            "error": self.error,
            "description": self.description,
            "comparisons": [to_jsonable(c.to_dict()) for c in self.comparisons],
            "diagnostic": self.diagnostic,
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from :meth:`to_dict`'s output."""
        return cls(
            name=data["name"],
            family=data["family"],
            status=Status(data["status"]),
            headline=data["headline"],
            metrics={k: Metric(**from_jsonable(v)) for k, v in data["metrics"].items()},
            tables={k: from_jsonable(v) for k, v in data["tables"].items()},
            figures={
                k: Figure(kind=v["kind"], title=v["title"], data=from_jsonable(v["data"]))
                for k, v in data["figures"].items()
            },
            params=from_jsonable(data["params"]),
            thresholds=tuple(
                Threshold(**{**from_jsonable(t), "clauses": tuple(t["clauses"])})
                for t in data["thresholds"]
            ),
            duration_s=float(data["duration_s"]),
            error=data["error"],
            # results written before these fields existed read without them
            description=data.get("description", ""),
            comparisons=tuple(TableComparison.from_dict(from_jsonable(c))
                              for c in data.get("comparisons", ())),
            diagnostic=data.get("diagnostic"),
            rows=data.get("rows"),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckResult):
            return NotImplemented
        if (self.name, self.family, self.status, self.headline, self.error, self.description,
                self.comparisons, self.diagnostic, self.rows) != (
                other.name, other.family, other.status, other.headline, other.error,
                other.description, other.comparisons, other.diagnostic, other.rows):
            return False
        if dict(self.metrics) != dict(other.metrics) or self.thresholds != other.thresholds:
            return False
        if self.duration_s != other.duration_s:
            return False
        if _canonical(self.params) != _canonical(other.params):
            return False
        if self.tables.keys() != other.tables.keys() or any(
            not _frames_equal(self.tables[k], other.tables[k]) for k in self.tables
        ):
            return False
        return self.figures.keys() == other.figures.keys() and all(
            (self.figures[k].kind, self.figures[k].title) == (other.figures[k].kind,
                                                              other.figures[k].title)
            and _canonical(self.figures[k].data) == _canonical(other.figures[k].data)
            for k in self.figures
        )

    __hash__ = None  # type: ignore[assignment]


def _canonical(obj: Any) -> str:
    """A comparable text form of nested plain data (NaN equals NaN)."""
    import json

    return json.dumps(to_jsonable(obj), sort_keys=True)


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    except AssertionError:
        return False
    return True
