"""The outcome of a whole audit: the check results and where they came from.

An :class:`AuditResult` is plain data. It summarises itself as a DataFrame,
round-trips through JSON exactly, and hands itself to :mod:`auditkit.report`
to be rendered as HTML or PDF.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from .._families import FAMILIES, FAMILY_TITLES
from ..exceptions import AuditkitError
from ._check_result import CheckResult, Status, _canonical

__all__ = ["AuditResult", "FORMAT_VERSION", "FamilyScope", "MAX_JSON_DEPTH"]

#: Deepest nesting of lists and objects a saved result may have (an audit's JSON nests about
#: a dozen levels; a user's model card adds a few).
MAX_JSON_DEPTH = 100

FORMAT_VERSION = 1


@dataclass(frozen=True)
class FamilyScope:
    """Whether an audit family was run, and why not when it was not.

    Parameters
    ----------
    family : str
        The family's name (``"privacy"``).
    run : bool
        Whether at least one of its checks ran (was not skipped).
    checks_run, checks_skipped : int
        How many of its checks ran, and how many were skipped.
    reason : str
        Why the family was not run (empty when it ran): not in the preset,
        not asked for, or why its checks were skipped.
    """

    family: str
    run: bool
    checks_run: int = 0
    checks_skipped: int = 0
    reason: str = ""


@dataclass(frozen=True)
class AuditResult:
    """Results of every check run in one audit, with a provenance manifest.

    Parameters
    ----------
    results : sequence of CheckResult
        One result per check, in the order they ran.
    provenance : mapping
        Versions of auditkit, Python and the libraries used; the device; the
        seed; SHA-256 of the model's weights and of the data; start time and
        duration; the preset and policy.
    title : str
        A title for the report, e.g. the model's name.
    model_card : mapping or None
        The model card, when the model comes with one (zoo models do).

    Examples
    --------
    >>> from auditkit import zoo, audit
    >>> model, data = zoo.load("adult-mlp")
    >>> result = audit(model, data, preset="quick")
    >>> result.summary()[["check", "status"]].head(1)  # doctest: +SKIP
    """

    results: tuple[CheckResult, ...]
    provenance: Mapping[str, Any] = field(default_factory=dict)
    title: str = "Model audit"
    model_card: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"No check named {name!r} in this audit; it ran {self.check_names}.")

    @property
    def check_names(self) -> list[str]:
        """Names of the checks, in the order they ran."""
        return [r.name for r in self.results]

    @property
    def families(self) -> list[str]:
        """Families present, in the order they first appear."""
        return list(dict.fromkeys(r.family for r in self.results))

    @property
    def diagnostics_affect_verdict(self) -> bool:
        """Whether the policy lets diagnostics of the audit's methods move the verdict."""
        policy = self.provenance.get("policy") or {}
        return bool(policy.get("diagnostics_affect_verdict", False))

    @property
    def findings(self) -> tuple[CheckResult, ...]:
        """Results of the checks that measure the model (not diagnostics of a method)."""
        return tuple(r for r in self.results if not r.diagnostic)

    @property
    def diagnostics(self) -> tuple[CheckResult, ...]:
        """Results of the checks that test the audit's own methods (see ``CheckResult``)."""
        return tuple(r for r in self.results if r.diagnostic)

    def _verdict_status(self, result: CheckResult) -> Status:
        """What ``result`` adds to the verdict: a diagnostic adds only its ERROR by default.

        A diagnostic that raised still counts: the audit did not do what it was asked.
        """
        if not result.diagnostic or self.diagnostics_affect_verdict \
                or result.status in (Status.ERROR, Status.SKIP):
            return result.status
        return Status.INFO

    def family_status(self) -> dict[str, Status]:
        """The verdict of each family: the worst status of its findings about the model.

        Diagnostics of the audit's methods count only as the policy says (see
        :attr:`status`); a family of diagnostics alone is INFO unless one raised.
        A family is SKIP only when all its checks were skipped.
        """
        out: dict[str, Status] = {}
        for result in self.results:
            status = self._verdict_status(result)
            current = out.get(result.family)
            if current is None or status.severity > current.severity:
                out[result.family] = status
        return out

    @property
    def status(self) -> Status:
        """The overall verdict: the worst status over the findings about the model.

        Diagnostics of the audit's methods (an explainer's sanity check,
        gradient masking) warn not to trust a method; they do not move the
        verdict unless the policy's ``diagnostics_affect_verdict`` is true,
        except that one which raised (ERROR) always counts.
        """
        if not self.results:
            return Status.SKIP
        return max((self._verdict_status(r) for r in self.results), key=lambda s: s.severity)

    @property
    def preset(self) -> str | None:
        """The preset the checks came from (None when they were named one by one)."""
        preset = self.provenance.get("preset")
        return None if preset is None else str(preset)

    def scope(self) -> list[FamilyScope]:
        """What the audit covered: every family, run or not, with the reason when not.

        Returns
        -------
        list of FamilyScope
            One per family, in report order (families of plug-in checks last).

        Examples
        --------
        >>> from auditkit import audit, zoo
        >>> model, data = zoo.load("adult-mlp")
        >>> result = audit(model, data, checks=["performance_metrics"])  # doctest: +SKIP
        >>> result.scope()[1].reason  # doctest: +SKIP
        'not among the checks asked for'
        """
        present = list(dict.fromkeys(r.family for r in self.results))
        model = self.provenance.get("model") or {}
        capabilities = model.get("capabilities")
        classifier = None if capabilities is None else "predict" in capabilities
        out = []
        for family in [*FAMILIES, *(f for f in present if f not in FAMILIES)]:
            members = [r for r in self.results if r.family == family]
            skipped = [r for r in members if r.status is Status.SKIP]
            ran = len(members) - len(skipped)
            reason = ""
            if not members:
                reason = (f"not in the {self.preset} preset" if self.preset is not None
                          and self.provenance.get("selection") != "checks"
                          else "not among the checks asked for")
            elif not ran:
                reason = _skip_reason(family, skipped, classifier)
            out.append(FamilyScope(family, ran > 0, ran, len(skipped), reason))
        return out

    def summary(self) -> pd.DataFrame:
        """One row per check: family, check, status, headline and duration.

        Returns
        -------
        pandas.DataFrame
            Columns ``family``, ``check``, ``status``, ``headline``, ``duration_s``.
        """
        return pd.DataFrame(
            {
                "family": [r.family for r in self.results],
                "check": [r.name for r in self.results],
                "status": [r.status.value for r in self.results],
                "headline": [r.headline for r in self.results],
                "duration_s": [r.duration_s for r in self.results],
            }
        )

    def metrics_frame(self) -> pd.DataFrame:
        """One row per metric of every check, with its interval and sample size."""
        rows = []
        for result in self.results:
            for name, metric in result.metrics.items():
                rows.append(
                    {"family": result.family, "check": result.name, "metric": name,
                     "value": metric.value, "lower": metric.lower, "upper": metric.upper,
                     "n": metric.n}
                )
        columns = ["family", "check", "metric", "value", "lower", "upper", "n"]
        return pd.DataFrame(rows, columns=columns)

    # -- comparison ---------------------------------------------------------------

    def compare(self, *others: AuditResult, names: Sequence[str] | None = None) -> pd.DataFrame:
        """Put the metrics of this audit and others side by side.

        Parameters
        ----------
        *others : AuditResult
            Audits of other models, or other versions of the same model.
        names : sequence of str, optional
            A label per audit (this one first); defaults to their titles.

        Returns
        -------
        pandas.DataFrame
            Indexed by (check, metric), one value column per audit, plus the
            change from the first audit for each of the others.

        See Also
        --------
        save_comparison_html : the same comparison as a report, with intervals,
            better / worse marks, fairness disparities and per-group rates.
        """
        audits = (self, *others)
        labels = list(names) if names is not None else [a.title for a in audits]
        if len(labels) != len(audits) or len(set(labels)) != len(labels):
            labels = [f"{label} [{i}]" for i, label in enumerate(labels[: len(audits)])]
            labels += [f"audit [{i}]" for i in range(len(labels), len(audits))]
        frames = []
        for label, result in zip(labels, audits, strict=True):
            frame = result.metrics_frame().set_index(["check", "metric"])["value"]
            frames.append(frame.rename(label))
        table = pd.concat(frames, axis=1)
        for label in labels[1:]:
            table[f"change ({label})"] = table[label] - table[labels[0]]
        return table

    def save_comparison_html(self, path: str | PathLike[str], *others: AuditResult,
                             names: Sequence[str] | None = None) -> Path:
        """Write a self-contained HTML page comparing this audit with others.

        Parameters
        ----------
        path : str or path-like
            Where to write the page.
        *others : AuditResult
            One or more audits to read against this one (the baseline).
        names : sequence of str, optional
            One distinct label per audit (this one first); defaults to their titles.

        Returns
        -------
        pathlib.Path
            The path written.

        Examples
        --------
        >>> before.save_comparison_html("diff.html", after)  # doctest: +SKIP
        """
        from ..report import render_comparison_html

        html = render_comparison_html(self, *others, names=names)
        path = Path(path)
        path.write_text(html, encoding="utf-8")
        return path

    # -- serialisation -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the audit as JSON-ready plain data."""
        from ._json import to_jsonable

        return {
            "format_version": FORMAT_VERSION,
            "title": self.title,
            "provenance": to_jsonable(dict(self.provenance)),
            "model_card": to_jsonable(dict(self.model_card)) if self.model_card else None,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditResult:
        """Rebuild an audit from :meth:`to_dict`'s output."""
        from ._json import from_jsonable

        version = data.get("format_version")
        if version != FORMAT_VERSION:
            from ..exceptions import BAD_VALUE, AuditkitError

            raise AuditkitError(
                BAD_VALUE.format(param="format_version", expected=f"{FORMAT_VERSION}",
                                 got=repr(version))
            )
        return cls(
            results=tuple(CheckResult.from_dict(r) for r in data["results"]),
            provenance=from_jsonable(data["provenance"]),
            title=data["title"],
            model_card=from_jsonable(data["model_card"]) if data["model_card"] else None,
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the audit as strict JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> AuditResult:
        """Rebuild an audit from :meth:`to_json`'s output.

        Text nested deeper than :data:`MAX_JSON_DEPTH` levels is refused with an
        :class:`~auditkit.exceptions.AuditkitError` (no audit writes it, and parsing it
        would exhaust the interpreter's stack).
        """
        deep = AuditkitError(
            f"The 'result' JSON must nest at most {MAX_JSON_DEPTH} levels of lists and objects, "
            "as an auditkit result does. Got deeper nesting; this is not an auditkit result.")
        try:
            data = json.loads(text)
        except RecursionError:
            raise deep from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise deep
        if not isinstance(data, Mapping):
            kind = {list: "array", str: "string", bool: "boolean", int: "number",
                    float: "number", type(None): "null"}.get(type(data), type(data).__name__)
            raise AuditkitError(f"The 'result' JSON must be an object written by "
                                f"AuditResult.save_json. Got a JSON {kind}.")
        return cls.from_dict(data)

    def save_json(self, path: str | PathLike[str]) -> Path:
        """Write the audit as JSON and return the path."""
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load_json(cls, path: str | PathLike[str]) -> AuditResult:
        """Read an audit written by :meth:`save_json`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def save_html(self, path: str | PathLike[str]) -> Path:
        """Write the self-contained HTML report and return the path."""
        from ..report import render_html

        path = Path(path)
        path.write_text(render_html(self), encoding="utf-8")
        return path

    def save_pdf(self, path: str | PathLike[str]) -> Path:
        """Write the report as a PDF and return the path.

        The PDF is the HTML report rendered for print by WeasyPrint (every section
        open, wide tables on landscape pages): the same content, figures, hashes and
        clauses. Needs ``pip install "auditkit[pdf]"`` and the Pango library.
        """
        from ..report import render_pdf

        path = Path(path)
        render_pdf(self, path)
        return path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuditResult):
            return NotImplemented
        return (
            self.results == other.results
            and self.title == other.title
            and _canonical(dict(self.provenance)) == _canonical(dict(other.provenance))
            and _canonical(self.model_card) == _canonical(other.model_card)
        )

    __hash__ = None  # type: ignore[assignment]


def _skip_reason(family: str, skipped: Sequence[CheckResult], classifier: bool | None) -> str:
    """Why every check of a family was skipped, in a few words."""
    if family == "generative" and classifier:
        return "the model is a classifier, not a generative model"
    if family != "generative" and classifier is False:
        return "the model is generative, not a classifier"
    reasons = list(dict.fromkeys(r.headline.strip().rstrip(".") for r in skipped))
    title = FAMILY_TITLES.get(family, family).lower()
    if len(reasons) == 1:
        return f"its {len(skipped)} check{'s' if len(skipped) != 1 else ''} did not apply: " \
            + reasons[0][:1].lower() + reasons[0][1:]
    return f"none of its {len(skipped)} {title} checks applied: " + "; ".join(
        r[:1].lower() + r[1:] for r in reasons)


def _depth(data: Any) -> int:
    """Deepest nesting of lists and dicts in ``data``, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        if isinstance(value, dict):
            stack.extend((child, level + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, level + 1) for child in value)
    return deepest
