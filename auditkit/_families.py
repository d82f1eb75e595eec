"""The audit families: their names, in report order, and their section titles.

Neutral ground between the checks and the report: a check's ``family`` must be
one of :data:`FAMILIES` (see :func:`auditkit.checks.register_check`), and the
report orders and titles its sections by them, without importing the checks.
"""

from __future__ import annotations

__all__ = ["FAMILIES", "FAMILY_TITLES"]

#: Section title of each audit family, in report order.
FAMILY_TITLES: dict[str, str] = {
    "performance": "Performance",
    "explanations": "Explanations",
    "fairness": "Fairness",
    "robustness": "Robustness",
    "ood": "Out-of-distribution detection",
    "privacy": "Privacy",
    "generative": "Generative models",
}

#: Audit families, in report order.
FAMILIES: tuple[str, ...] = tuple(FAMILY_TITLES)
