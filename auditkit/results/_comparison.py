"""How one table of a check's result is compared across audits: a small declaration.

A check declares, in its ``comparisons`` class attribute, which of its tables
the comparison page puts side by side and how to read them; every result of
the check carries the declarations (and their JSON form), so the report builds
the tables from the results alone, without knowing the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ..exceptions import AuditkitError

__all__ = ["TableComparison"]

BAD_COMPARISON = ("The {param!r} parameter of TableComparison must be {expected}. "
                  "Got {got} instead.")


@dataclass(frozen=True)
class TableComparison:
    """Which table of a result the comparison page shows side by side, and how to read it.

    A table is read in one of two shapes. In a *long* table each row holds one
    metric, named by the index level ``metric_level``, and its value is the
    single column of ``values`` (e.g. one row per disparity). In a *wide* table
    (``metric_level=None``) each column of ``values`` is a metric, and each row
    of the table gives one compared row per column (e.g. one row per group and
    rate). The first audit's value is the baseline; a change is judged by its
    confidence intervals when both audits have them.

    Parameters
    ----------
    table : str
        Key of the compared table in :attr:`CheckResult.tables`.
    title : str
        Caption of each compared table; ``"{split}"`` is replaced by the value of
        ``split_level`` the table shows (e.g. ``"Disparities by {split}"``).
    heading : str, default=""
        Heading of the page's section for this table (defaults to ``title``).
    note : str, default=""
        One sentence under the heading saying what the rows are.
    anchor : str, default=""
        Id of the section; each compared table's id is ``"<anchor>-<split>"``
        (defaults to ``table``).
    row_anchor : str, default=""
        Prefix of each row's id, ``"<row_anchor>-<split>-<labels>"`` (defaults
        to ``anchor``).
    split_level : str or None, default=None
        An index level with one compared table per value (e.g.
        ``"sensitive_feature"``); None compares the whole table as one. A table
        whose index lacks the level is left out.
    metric_level : str or None, default=None
        The index level naming each row's metric (long tables); None makes each
        column of ``values`` a metric (wide tables).
    values : tuple of str, default=("value",)
        The compared columns: exactly one in a long table.
    value_label : str, default="Metric"
        Header of the row label naming the column, in a wide table.
    lower, upper : str or None, default=None
        Columns of the interval's bounds; ``"{value}"`` is replaced by the
        compared column (e.g. ``"{value}_lower"``). None: no interval.
    bounds_table : str or None, default=None
        The table holding the bounds, with the same index as ``table``; None
        reads them from ``table`` itself.
    higher_is_better : bool or None, default=None
        The direction of every metric, when neither ``directions`` nor
        ``direction_column`` gives it; None means no better side (a change
        is marked "changed").
    direction_column : str or None, default=None
        A boolean column of ``table`` giving each row's direction.
    directions : mapping of str to bool or None, default={}
        The direction per metric name; it takes precedence over the others.
    summarise : bool, default=False
        Whether a change past the intervals is listed, in a sentence, among
        what got better or worse.
    order : int, default=0
        Position of the section on the page (lower first).

    Examples
    --------
    >>> from auditkit.results import TableComparison
    >>> rates = TableComparison("groups", "Rates by {split}", split_level="sensitive_feature",
    ...                         values=("accuracy", "tpr"), value_label="Rate",
    ...                         lower="{value}_lower", upper="{value}_upper",
    ...                         bounds_table="groups_intervals", higher_is_better=True)
    >>> rates.bound_columns("tpr")
    ('tpr_lower', 'tpr_upper')
    """

    table: str
    title: str
    heading: str = ""
    note: str = ""
    anchor: str = ""
    row_anchor: str = ""
    split_level: str | None = None
    metric_level: str | None = None
    values: tuple[str, ...] = ("value",)
    value_label: str = "Metric"
    lower: str | None = None
    upper: str | None = None
    bounds_table: str | None = None
    higher_is_better: bool | None = None
    direction_column: str | None = None
    directions: Mapping[str, bool | None] = field(default_factory=dict)
    summarise: bool = False
    order: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not isinstance(self.directions, Mapping):
            raise AuditkitError(BAD_COMPARISON.format(
                param="directions", expected="a mapping of metric name to True, False or None",
                got=repr(self.directions)))
        object.__setattr__(self, "directions", MappingProxyType(dict(self.directions)))
        for name in ("table", "title", "heading", "note", "anchor", "row_anchor", "value_label"):
            if not isinstance(getattr(self, name), str):
                raise AuditkitError(BAD_COMPARISON.format(param=name, expected="a string",
                                                          got=repr(getattr(self, name))))
        for name in ("split_level", "metric_level", "lower", "upper", "bounds_table",
                     "direction_column"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise AuditkitError(BAD_COMPARISON.format(param=name, expected="a string or None",
                                                          got=repr(getattr(self, name))))
        if not self.values or not all(isinstance(v, str) for v in self.values):
            raise AuditkitError(BAD_COMPARISON.format(
                param="values", expected="a non-empty sequence of column names",
                got=repr(self.values)))
        if self.metric_level is not None and len(self.values) != 1:
            raise AuditkitError(BAD_COMPARISON.format(
                param="values", expected="one column when 'metric_level' names the metric",
                got=repr(self.values)))
        if (self.lower is None) != (self.upper is None):
            raise AuditkitError(BAD_COMPARISON.format(
                param="upper", expected="given together with 'lower'", got=repr(self.upper)))
        if not isinstance(self.order, int) or isinstance(self.order, bool):
            raise AuditkitError(BAD_COMPARISON.format(param="order", expected="an int",
                                                      got=repr(self.order)))

    def direction(self, metric: str, row: Mapping[str, Any] | None = None) -> bool | None:
        """Whether a higher value of ``metric`` is better (None: no better side).

        Parameters
        ----------
        metric : str
            The row's metric name (its ``metric_level`` value, or the column).
        row : mapping of str to object, optional
            The row of ``table``, to read ``direction_column`` from.

        Returns
        -------
        bool or None
        """
        if metric in self.directions:
            return self.directions[metric]
        if self.direction_column is not None and row is not None:
            value = row.get(self.direction_column)
            if isinstance(value, bool) or type(value).__name__ == "bool_":
                return bool(value)
        return self.higher_is_better

    def bound_columns(self, value: str) -> tuple[str, str] | None:
        """The (lower, upper) columns of ``value``'s interval, or None without one."""
        if self.lower is None or self.upper is None:
            return None
        return self.lower.format(value=value), self.upper.format(value=value)

    def to_dict(self) -> dict[str, Any]:
        """Return the declaration as JSON-ready plain data."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["values"] = list(self.values)
        out["directions"] = dict(self.directions)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableComparison:
        """Rebuild a declaration from :meth:`to_dict`'s output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    __hash__ = None  # type: ignore[assignment]
