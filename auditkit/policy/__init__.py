"""Policies: thresholds that judge metrics, and the clauses each check evidences."""

from ._policy import Policy, Rule

__all__ = ["Policy", "Rule"]
