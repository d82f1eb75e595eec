"""Plain, frozen results of checks and audits, with an exact JSON round trip."""

from ._audit_result import AuditResult, FamilyScope
from ._check_result import CheckResult, Figure, Metric, Status, Threshold
from ._comparison import TableComparison

__all__ = ["AuditResult", "CheckResult", "FamilyScope", "Figure", "Metric", "Status",
           "TableComparison", "Threshold"]
