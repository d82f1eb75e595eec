"""The audit families: their names, in report order, and their section titles.

Neutral ground between the checks and the report: a check's ``family`` must be
one of :data:`FAMILIES` (see :func:`auditkit.checks.register_check`), and the
report orders and titles its sections by them, without importing the checks.
"""

from __future__ import annotations

__all__ = ["DIAGNOSTIC_CHECKS", "DIAGNOSTIC_FAMILIES", "FAMILIES", "FAMILY_TITLES",
           "is_diagnostic"]

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

#: Families whose checks test the audit's own methods rather than the model (an explainer's
#: randomisation sanity check, its faithfulness): their results are diagnostics.
DIAGNOSTIC_FAMILIES: frozenset[str] = frozenset({"explanations"})

#: Checks of the other families that are diagnostics of a method (gradient masking says
#: whether the attacks' numbers can be trusted, not how robust the model is).
DIAGNOSTIC_CHECKS: frozenset[str] = frozenset({"robustness_gradient_masking"})


def is_diagnostic(name: str, family: str) -> bool:
    """Whether check ``name`` of ``family`` is a diagnostic of the audit's methods.

    A diagnostic warns the reader not to trust a method; it is not a finding
    about the model, so it does not move the model's verdict unless the
    policy says so (``diagnostics_affect_verdict``).

    Parameters
    ----------
    name, family : str
        The check's registered name and family.

    Returns
    -------
    bool
    """
    return family in DIAGNOSTIC_FAMILIES or name in DIAGNOSTIC_CHECKS
