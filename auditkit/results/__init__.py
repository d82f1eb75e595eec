"""Plain, frozen results of checks and audits, with an exact JSON round trip."""

from ._audit_result import AuditResult
from ._check_result import CheckResult, Figure, Metric, Status, Threshold
from ._comparison import TableComparison

__all__ = ["AuditResult", "CheckResult", "Figure", "Metric", "Status", "TableComparison",
           "Threshold"]
