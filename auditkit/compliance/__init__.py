"""The compliance map: which checks give evidence for which requirement.

A versioned, machine-readable file (``compliance_map.yaml`` beside this
module) maps each requirement of the EU AI Act and the NIST AI RMF to the
checks that give evidence for it, with the source text cited. Requirements no
technical check can cover (human oversight, say) are listed as needing a
documented process. ISO/IEC 42001 is left out, and the file says why: its
controls could not be cited from ISO's own text.

Evidence is not conformity: the map says which measurements bear on a
provision, not whether a system meets it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..exceptions import AuditkitError
from ..results import AuditResult, CheckResult, Status

__all__ = ["ComplianceMap", "Requirement", "RequirementStatus", "compliance_frame",
           "compliance_map", "compliance_status", "load_compliance_map"]

#: The map shipped with auditkit.
MAP_PATH = Path(__file__).with_name("compliance_map.yaml")

#: How every ``process`` text begins, so a reader sees at once what it asks for.
PROCESS_PREFIX = "needs a documented process: "
NO_CHECK_RAN = "no mapped check ran in this audit"

_BAD_MAP = ("The compliance map {path} is not valid: {where} must be {expected}. "
            "Got {got} instead.")
_UNKNOWN_CHECK = ("The compliance map {path} is not valid: the 'checks' of requirement "
                  "{requirement!r} must be registered check names (see "
                  "auditkit.checks.list_checks()). Got {got} instead.")
_REQUIRED_TEXT = ("id", "title", "where", "citation")


@dataclass(frozen=True)
class Requirement:
    """One requirement of one framework, with the checks that give evidence for it."""

    framework: str  # "EU AI Act", "NIST AI RMF 1.0", "ISO/IEC 42001:2023"
    id: str  # "Art. 15(1)", "MEASURE 2.11", "A.6.2.4"
    title: str  # short human title
    citation: str  # the source text, quoted or closely paraphrased
    source: str  # where the text is: document, article, URL
    checks: tuple[str, ...] = ()  # registered check names giving evidence
    process: str = ""  # set when a documented process is needed instead of (or besides) checks
    url: str = ""  # the official text online


@dataclass(frozen=True)
class ComplianceMap:
    """The whole map, with its version.

    Parameters
    ----------
    version : str
        Version of the map file (``"1.0"``).
    requirements : tuple of Requirement
        In the file's order: the EU AI Act, then the NIST AI RMF.
    date : str, optional
        When the map was last revised (ISO date).
    frameworks : mapping, optional
        Each framework's source document: ``document``, ``citation`` and ``url``.
    omitted : tuple of mapping, optional
        Frameworks deliberately left out, each with the ``reason``.
    """

    version: str
    requirements: tuple[Requirement, ...]
    date: str = ""
    frameworks: Mapping[str, Mapping[str, str]] | None = None
    omitted: tuple[Mapping[str, str], ...] = ()

    def __getitem__(self, requirement_id: str) -> Requirement:
        for requirement in self.requirements:
            if requirement.id == requirement_id:
                return requirement
        raise KeyError(f"No requirement {requirement_id!r} in the compliance map; it has "
                       f"{[r.id for r in self.requirements]}.")


@dataclass(frozen=True)
class RequirementStatus:
    """A requirement as this audit covers it."""

    requirement: Requirement
    #: The checks of this audit that give evidence, with their status, in report order.
    evidence: tuple[tuple[str, Status], ...]
    #: Worst status of the evidence; None when no mapped check ran or only a process covers it.
    status: Status | None
    #: One sentence: "needs a documented process: ...", "no mapped check ran in this audit", or "".
    note: str
    #: The mapped checks that gave no evidence (skipped, or not in the audit), in the map's order.
    not_run: tuple[str, ...] = ()


# -- loading -----------------------------------------------------------------------------


def load_compliance_map(path: str | PathLike[str]) -> ComplianceMap:
    """Read and validate a compliance map file.

    Parameters
    ----------
    path : str or path-like
        A YAML file laid out as ``compliance_map.yaml``: ``version``,
        ``date``, ``frameworks`` (each with ``document``, ``citation`` and
        ``url``), optional ``omitted``, and ``requirements``.

    Returns
    -------
    ComplianceMap

    Raises
    ------
    AuditkitError
        When a field is missing or empty, a requirement names a framework the
        file does not describe, an id repeats, a process text does not begin
        with "needs a documented process: ", or a check is not registered.

    Examples
    --------
    >>> from auditkit.compliance import MAP_PATH, load_compliance_map
    >>> load_compliance_map(MAP_PATH).version
    '1.0'
    """
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, Mapping):
        raise AuditkitError(_BAD_MAP.format(path=path.name, where="the file",
                                            expected="a mapping", got=type(raw).__name__))
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise AuditkitError(_BAD_MAP.format(path=path.name, where="'version'",
                                            expected="a non-empty string", got=repr(version)))
    frameworks = _frameworks(raw.get("frameworks"), path)
    entries = raw.get("requirements")
    if not isinstance(entries, list) or not entries:
        raise AuditkitError(_BAD_MAP.format(path=path.name, where="'requirements'",
                                            expected="a non-empty list", got=repr(entries)))
    from ..checks import list_checks

    registered = set(list_checks())
    requirements = tuple(_requirement(entry, i, frameworks, registered, path)
                         for i, entry in enumerate(entries))
    seen: set[tuple[str, str]] = set()
    for requirement in requirements:
        key = (requirement.framework, requirement.id)
        if key in seen:
            raise AuditkitError(_BAD_MAP.format(
                path=path.name, where="each requirement's (framework, id)",
                expected="unique", got=f"{key} twice"))
        seen.add(key)
    omitted = tuple(dict(o) for o in raw.get("omitted") or ())
    return ComplianceMap(version=version, requirements=requirements,
                         date=str(raw.get("date") or ""), frameworks=frameworks,
                         omitted=omitted)


def _frameworks(raw: Any, path: Path) -> dict[str, dict[str, str]]:
    if not isinstance(raw, Mapping) or not raw:
        raise AuditkitError(_BAD_MAP.format(path=path.name, where="'frameworks'",
                                            expected="a non-empty mapping", got=repr(raw)))
    out = {}
    for name, source in raw.items():
        fields = {k: " ".join(str((source or {}).get(k) or "").split())
                  for k in ("document", "citation", "url")}
        for key, value in fields.items():
            if not value:
                raise AuditkitError(_BAD_MAP.format(
                    path=path.name, where=f"frameworks[{name!r}][{key!r}]",
                    expected="a non-empty string", got=repr(value)))
        out[str(name)] = fields
    return out


def _requirement(entry: Any, index: int, frameworks: Mapping[str, Mapping[str, str]],
                 registered: set[str], path: Path) -> Requirement:
    where = f"requirements[{index}]"
    if not isinstance(entry, Mapping):
        raise AuditkitError(_BAD_MAP.format(path=path.name, where=where,
                                            expected="a mapping", got=repr(entry)))
    framework = entry.get("framework")
    if framework not in frameworks:
        raise AuditkitError(_BAD_MAP.format(
            path=path.name, where=f"{where}['framework']",
            expected=f"one of the frameworks the file describes {sorted(frameworks)}",
            got=repr(framework)))
    text = {key: " ".join(str(entry.get(key) or "").split()) for key in _REQUIRED_TEXT}
    for key, value in text.items():
        if not value:
            raise AuditkitError(_BAD_MAP.format(path=path.name, where=f"{where}[{key!r}]",
                                                expected="a non-empty string",
                                                got=repr(entry.get(key))))
    checks = entry.get("checks") or []
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise AuditkitError(_BAD_MAP.format(path=path.name, where=f"{where}['checks']",
                                            expected="a list of check names", got=repr(checks)))
    unknown = [c for c in checks if c not in registered]
    if unknown:
        raise AuditkitError(_UNKNOWN_CHECK.format(path=path.name, requirement=text["id"],
                                                  got=unknown))
    process = " ".join(str(entry.get("process") or "").split())
    if process and not process.startswith(PROCESS_PREFIX):
        raise AuditkitError(_BAD_MAP.format(path=path.name, where=f"{where}['process']",
                                            expected=f"a text beginning {PROCESS_PREFIX!r}",
                                            got=repr(process[:40] + "...")))
    if not checks and not process:
        raise AuditkitError(_BAD_MAP.format(path=path.name, where=where,
                                            expected="at least one check or a process",
                                            got="neither"))
    source = frameworks[framework]
    url = " ".join(str(entry.get("url") or source["url"]).split())
    return Requirement(framework=framework, id=text["id"], title=text["title"],
                       citation=text["citation"],
                       source=f"{source['document']}, {text['where']}. {url}",
                       checks=tuple(dict.fromkeys(checks)), process=process, url=url)


@functools.lru_cache(maxsize=1)
def _shipped_map() -> ComplianceMap:
    return load_compliance_map(MAP_PATH)


def compliance_map() -> ComplianceMap:
    """The compliance map shipped with auditkit (read and validated once, then cached).

    Returns
    -------
    ComplianceMap

    Examples
    --------
    >>> from auditkit.compliance import compliance_map
    >>> compliance_map()["Art. 14"].process.startswith("needs a documented process")
    True
    """
    return _shipped_map()


# -- status of an audit ------------------------------------------------------------------


def compliance_status(result: AuditResult, *,
                      cmap: ComplianceMap | None = None) -> tuple[RequirementStatus, ...]:
    """Every requirement of the map with the evidence ``result`` gives for it.

    The evidence of a requirement is each of its mapped checks that ran in
    the audit (was not skipped), in the order of ``result.results``, with the
    check's own status. The requirement's status is the worst of that
    evidence read as the audit's verdict reads it (:attr:`AuditResult.status`):
    a diagnostic of the audit's methods (an explainer's sanity check, the
    gradient-masking check) is listed as evidence with its status, but it adds
    only its ERROR to the requirement's status unless the policy's
    ``diagnostics_affect_verdict`` is true, so a requirement covered only by
    diagnostics reads INFO. The status is None when no mapped check ran,
    including requirements covered only by a process.

    Parameters
    ----------
    result : AuditResult
        The audit.
    cmap : ComplianceMap, optional
        Another map (from :func:`load_compliance_map`); defaults to the shipped one.

    Returns
    -------
    tuple of RequirementStatus
        One per requirement, in the map's order.

    Examples
    --------
    >>> from auditkit import AuditResult, CheckResult, Status
    >>> from auditkit.compliance import compliance_status
    >>> result = AuditResult((CheckResult("performance_metrics", "performance",
    ...                                   Status.PASS, "Accuracy 0.90."),))
    >>> [s.status for s in compliance_status(result) if s.requirement.id == "Art. 15(3)"]
    [<Status.PASS: 'PASS'>]
    """
    cmap = compliance_map() if cmap is None else cmap
    ran = [r for r in result.results if r.status is not Status.SKIP]
    return tuple(_status_of(requirement, ran, result.diagnostics_affect_verdict)
                 for requirement in cmap.requirements)


def _status_of(requirement: Requirement, ran: list[CheckResult],
               diagnostics_count: bool) -> RequirementStatus:
    mapped = set(requirement.checks)
    evidence = [r for r in ran if r.name in mapped]
    status = None
    if evidence:
        status = max((_verdict_status(r, diagnostics_count) for r in evidence),
                     key=lambda s: s.severity)
    note = requirement.process
    if not evidence and requirement.checks:
        note = f"{note.rstrip('.')}; {NO_CHECK_RAN}" if note else NO_CHECK_RAN
    ran_names = {r.name for r in evidence}
    return RequirementStatus(requirement=requirement,
                             evidence=tuple((r.name, r.status) for r in evidence),
                             status=status, note=note,
                             not_run=tuple(c for c in requirement.checks if c not in ran_names))


def _verdict_status(result: CheckResult, diagnostics_count: bool) -> Status:
    """What ``result`` adds to a requirement's status: as it adds to the audit's verdict."""
    if result.diagnostic and not diagnostics_count and result.status is not Status.ERROR:
        return Status.INFO
    return result.status


def compliance_frame(result: AuditResult, *,
                     cmap: ComplianceMap | None = None) -> pd.DataFrame:
    """The compliance status of ``result`` as a table, one row per requirement.

    Parameters
    ----------
    result : AuditResult
        The audit.
    cmap : ComplianceMap, optional
        Another map; defaults to the shipped one.

    Returns
    -------
    pandas.DataFrame
        Columns ``framework``, ``requirement``, ``title``, ``status`` (a
        status value, or None), ``evidence`` (``"check (STATUS)"`` joined by
        ``"; "``), ``n_evidence``, ``not_run`` (the mapped checks that gave
        no evidence, joined by ``", "``), ``note``, ``source`` and
        ``map_version``.
        ``frame.to_json(orient="records")`` gives its JSON.

    Examples
    --------
    >>> from auditkit import AuditResult
    >>> from auditkit.compliance import compliance_frame
    >>> compliance_frame(AuditResult(())).loc[0, "note"]  # doctest: +ELLIPSIS
    'needs a documented process: ...'
    """
    cmap = compliance_map() if cmap is None else cmap
    rows = [{"framework": s.requirement.framework, "requirement": s.requirement.id,
             "title": s.requirement.title,
             "status": None if s.status is None else s.status.value,
             "evidence": "; ".join(f"{name} ({status.value})" for name, status in s.evidence),
             "n_evidence": len(s.evidence), "not_run": ", ".join(s.not_run), "note": s.note,
             "source": s.requirement.source, "map_version": cmap.version}
            for s in compliance_status(result, cmap=cmap)]
    columns = ["framework", "requirement", "title", "status", "evidence", "n_evidence",
               "not_run", "note", "source", "map_version"]
    frame = pd.DataFrame(rows, columns=columns)
    # keep None (not NaN) for a requirement no check covered
    frame["status"] = pd.Series([row["status"] for row in rows], index=frame.index, dtype=object)
    return frame
