"""Policy: thresholds that judge measured numbers, and the clauses they evidence.

A check measures; the policy decides. The same metrics under a stricter
policy get a different verdict, and the metrics themselves never change.
Policies load from YAML; a file that says ``extends: default`` changes only
what it names. Every check and metric a policy names must exist: a typo would
silently switch its gate off, so it is an error naming the file, the line and
the closest valid name.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import BAD_VALUE, PolicyError
from ..results import CheckResult, Metric, Status, Threshold

__all__ = ["JUDGE_ON", "Policy", "Rule"]

UNKNOWN_POLICY_CHECK = ("{where}{section} has no check {got!r}{hint} Expected a registered "
                        "check (see 'auditkit checks').")
UNKNOWN_POLICY_METRIC = "{where}rules.{check} has no metric {got!r}{hint} Expected {expected}."

_DIRECTIONS = ("higher_is_better", "lower_is_better")

#: Largest policy file read, in bytes (the default policy is about 10 KB).
MAX_POLICY_BYTES = 1_000_000
#: Most YAML nodes a policy may expand to once aliases are followed (an alias "bomb" of a few
#: lines expands to millions).
MAX_POLICY_NODES = 50_000
#: Longest text of a name, a description and a clause.
_MAX_TEXT = {"name": 200, "description": 20_000, "clause": 20_000}
#: What a rule compares with its levels: the point estimate, or the end of the metric's
#: confidence interval nearest to passing (so a verdict needs the whole interval past a level).
JUDGE_ON = ("estimate", "interval")


@dataclass(frozen=True)
class Rule:
    """A threshold on one metric of one check.

    Parameters
    ----------
    check, metric : str
    direction : {"higher_is_better", "lower_is_better"}
    warn, fail : float or None
        Levels past which the verdict is WARN, then FAIL.
    judge : {"estimate", "interval"}, default="estimate"
        ``"estimate"`` compares the point estimate with the levels.
        ``"interval"`` compares the end of the metric's confidence interval
        nearest to passing (the upper bound when higher is better, the lower
        bound when lower is better): a WARN or FAIL then needs the whole
        interval past the level, so sampling noise alone does not raise one.
        A metric without an interval is judged on its estimate.
    """

    check: str
    metric: str
    direction: str
    warn: float | None = None
    fail: float | None = None
    judge_on: str = "estimate"

    def __post_init__(self) -> None:
        where = f"rules.{self.check}.{self.metric}"
        if self.direction not in _DIRECTIONS:
            raise PolicyError(BAD_VALUE.format(param=f"{where}.direction",
                                               expected=f"one of {list(_DIRECTIONS)}",
                                               got=repr(self.direction)))
        for level in ("warn", "fail"):
            value = getattr(self, level)
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, (int, float)) or math.isnan(value)):
                raise PolicyError(BAD_VALUE.format(param=f"{where}.{level}", expected="a number",
                                                   got=repr(value)))
        if self.judge_on not in JUDGE_ON:
            raise PolicyError(BAD_VALUE.format(param=f"{where}.judge_on",
                                               expected=f"one of {list(JUDGE_ON)}",
                                               got=repr(self.judge_on)))
        if self.warn is None and self.fail is None:
            raise PolicyError(BAD_VALUE.format(param=where, expected="a 'warn' or 'fail' level",
                                               got="neither"))
        if self.warn is not None and self.fail is not None:
            higher = self.direction == "higher_is_better"
            if (higher and self.fail > self.warn) or (not higher and self.fail < self.warn):
                raise PolicyError(BAD_VALUE.format(
                    param=f"{where}.fail", expected=f"a level at or past warn ({self.warn}) in "
                    f"the {self.direction} direction", got=self.fail))

    def judged_value(self, metric: Metric) -> float:
        """The number this rule compares with its levels: the estimate, or an interval's end."""
        if self.judge_on == "interval" and metric.has_interval:
            return float(metric.upper if self.direction == "higher_is_better" else metric.lower)
        return metric.value

    def judge(self, value: float) -> Status:
        """The verdict of this rule on ``value``."""
        if math.isnan(value):
            return Status.WARN
        sign = 1.0 if self.direction == "higher_is_better" else -1.0
        if self.fail is not None and sign * value < sign * self.fail:
            return Status.FAIL
        if self.warn is not None and sign * value < sign * self.warn:
            return Status.WARN
        return Status.PASS


@dataclass(frozen=True)
class Policy:
    """Thresholds per check and metric, and the regulation clauses each check evidences.

    Parameters
    ----------
    name : str
    rules : tuple of Rule
    clauses : mapping of str to str
        Clause identifier -> its text.
    evidence : mapping of str to tuple of str
        Check name -> clause identifiers it gives evidence for.
    description : str
    diagnostics_affect_verdict : bool, default=False
        Whether a failing diagnostic of the audit's own methods (an explainer's
        sanity check, gradient masking of the attacks) moves the model's overall
        and family verdicts. By default it does not: it warns the reader not to
        trust that method, and the verdict rests on the findings about the model.

    Examples
    --------
    >>> strict = Policy.default().with_rule("performance_metrics", "accuracy",
    ...                                     direction="higher_is_better", warn=0.95, fail=0.9)
    >>> strict.rule("performance_metrics", "accuracy").fail
    0.9
    """

    name: str
    rules: tuple[Rule, ...] = ()
    clauses: Mapping[str, str] = field(default_factory=dict)
    evidence: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    diagnostics_affect_verdict: bool = False

    @classmethod
    def default(cls) -> Policy:
        """The default policy (``auditkit/policy/default.yaml``)."""
        text = resources.files("auditkit.policy").joinpath("default.yaml").read_text("utf-8")
        return cls.from_dict(yaml.safe_load(text))

    @classmethod
    def from_yaml(cls, path: str | PathLike[str]) -> Policy:
        """Load a policy from a YAML file (``extends: default`` merges it over the default)."""
        path = Path(path)
        if not path.is_file():
            raise PolicyError(BAD_VALUE.format(param="policy", expected="a path to a YAML file",
                                               got=repr(str(path))))
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(BAD_VALUE.format(param="policy", expected=f"a YAML file of at most "
                                               f"{MAX_POLICY_BYTES:,} bytes",
                                               got=f"{str(path)!r} of {size:,} bytes"))
        try:
            text = path.read_text("utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            _check_expansion(root, path)
            data = yaml.safe_load(text)
            lines = _key_lines(root)
        except yaml.YAMLError as exc:
            problem = " ".join(str(exc).split())  # one line, for the command's error message
            raise PolicyError(BAD_VALUE.format(param="policy", expected="valid YAML",
                                               got=f"a parse error: {problem}")) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(BAD_VALUE.format(param="policy", expected="a readable UTF-8 "
                                               "YAML file", got=f"{str(path)!r} ({exc})")) from exc
        return cls._from_data(data, source=str(path), lines=lines)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from plain data with keys name, rules, clauses, evidence.

        Every check named under ``rules`` or ``evidence`` must be registered, and
        every metric under ``rules`` one the check may report (its
        ``verdict_metrics``, the metrics it declares it emits, or those the default
        policy judges); otherwise :class:`~auditkit.exceptions.PolicyError` names
        the closest valid name.
        """
        return cls._from_data(data)

    @classmethod
    def _from_data(cls, data: Mapping[str, Any], *, source: str | None = None,
                   lines: Mapping[tuple[str, ...], int] | None = None) -> Policy:
        if not isinstance(data, Mapping):
            raise PolicyError(BAD_VALUE.format(param="policy", expected="a mapping",
                                               got=type(data).__name__))
        known = {"name", "description", "extends", "rules", "clauses", "evidence",
                 "diagnostics_affect_verdict"}
        unknown = set(data) - known
        if unknown:
            raise PolicyError(BAD_VALUE.format(param="policy", expected=f"keys among "
                                               f"{sorted(known)}", got=sorted(unknown)))
        _check_types(data)
        extends = data.get("extends")
        if extends not in (None, "default"):
            raise PolicyError(BAD_VALUE.format(param="extends", expected="'default' (or no "
                                               "'extends' key)", got=repr(extends)))
        _validate_names(data, source, lines or {})
        base = cls.default() if extends == "default" else None
        affect = data.get("diagnostics_affect_verdict",
                          base.diagnostics_affect_verdict if base else False)
        if not isinstance(affect, bool):
            raise PolicyError(BAD_VALUE.format(param="diagnostics_affect_verdict",
                                               expected="true or false", got=repr(affect)))
        rules = {(r.check, r.metric): r for r in (base.rules if base else ())}
        for check, metrics in (data.get("rules") or {}).items():
            if not isinstance(metrics, Mapping):
                raise PolicyError(BAD_VALUE.format(param=f"rules.{check}", expected="a mapping "
                                                   "of metric to rule", got=repr(metrics)))
            for metric, spec in metrics.items():
                if spec is None:  # "metric: null" removes an inherited rule
                    rules.pop((check, metric), None)
                    continue
                if not isinstance(spec, Mapping):
                    raise PolicyError(BAD_VALUE.format(param=f"rules.{check}.{metric}",
                                                       expected="a mapping with direction, warn, "
                                                       "fail", got=repr(spec)))
                inherited = rules.get((check, metric))
                unknown_keys = sorted(set(spec) - {"direction", "warn", "fail", "judge_on"})
                if unknown_keys:
                    raise PolicyError(BAD_VALUE.format(
                        param=f"rules.{check}.{metric}", expected="keys among ['direction', "
                        "'fail', 'judge_on', 'warn']", got=unknown_keys))
                merged = {"direction": None, "warn": None, "fail": None, "judge_on": "estimate",
                          **(vars(inherited) if inherited else {}), **spec}
                rules[(check, metric)] = Rule(check, metric, merged["direction"],
                                              merged["warn"], merged["fail"], merged["judge_on"])
        clauses = {**(base.clauses if base else {}), **(data.get("clauses") or {})}
        evidence = {**(base.evidence if base else {}),
                    **{k: tuple(v) for k, v in (data.get("evidence") or {}).items()}}
        for check, ids in evidence.items():
            missing = [c for c in ids if c not in clauses]
            if missing:
                raise PolicyError(BAD_VALUE.format(param=f"evidence.{check}",
                                                   expected="clause identifiers defined under "
                                                   "'clauses'", got=missing))
        return cls(name=str(data.get("name", base.name if base else "custom")),
                   rules=tuple(rules.values()), clauses=clauses,
                   evidence={k: tuple(v) for k, v in evidence.items()},
                   description=str(data.get("description", base.description if base else "")),
                   diagnostics_affect_verdict=affect)

    def rule(self, check: str, metric: str) -> Rule | None:
        """The rule on ``metric`` of ``check``, if any."""
        return next((r for r in self.rules if (r.check, r.metric) == (check, metric)), None)

    def with_rule(self, check: str, metric: str, *, direction: str, warn: float | None = None,
                  fail: float | None = None, judge_on: str = "estimate") -> Policy:
        """A copy with one rule added or replaced."""
        rules = [r for r in self.rules if (r.check, r.metric) != (check, metric)]
        rules.append(Rule(check, metric, direction, warn, fail, judge_on))
        return replace(self, rules=tuple(rules))

    def judge(self, result: CheckResult) -> CheckResult:
        """Apply the rules to a result's metrics and return it with its verdict.

        SKIP and ERROR results are returned unchanged. A result with no rule
        that applies keeps the status INFO.
        """
        if result.status in (Status.SKIP, Status.ERROR):
            return result
        clauses = self.evidence.get(result.name, ())
        thresholds = []
        for rule in self.rules:
            if rule.check != result.name or rule.metric not in result.metrics:
                continue
            metric = result.metrics[rule.metric]
            judged = rule.judged_value(metric)
            on_bound = rule.judge_on == "interval" and metric.has_interval
            thresholds.append(Threshold(
                rule.metric, rule.direction, rule.warn, rule.fail, metric.value,
                rule.judge(judged), clauses, judged_on="interval" if on_bound else "estimate",
                judged_value=judged if on_bound else None,
                confidence=metric.confidence if on_bound else None))
        if not thresholds:
            return result.with_changes(status=Status.INFO, thresholds=())
        status = max((t.status for t in thresholds), key=lambda s: s.severity)
        return result.with_changes(status=status, thresholds=tuple(thresholds))

    def describe(self) -> dict[str, Any]:
        """Plain data of the policy for the report's provenance."""
        return {
            "name": self.name,
            "description": self.description,
            "rules": [vars(r).copy() for r in self.rules],
            "clauses": dict(self.clauses),
            "evidence": {k: list(v) for k, v in self.evidence.items()},
            "diagnostics_affect_verdict": self.diagnostics_affect_verdict,
        }


def _check_expansion(root: yaml.Node | None, path: Path) -> None:
    """Refuse a YAML document that expands past :data:`MAX_POLICY_NODES` nodes.

    Aliases make the composed graph share nodes; the size it expands to is counted
    per distinct node (memoised), so a bomb is measured without being built.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if not children_done:
            if id(node) in open_nodes:
                raise PolicyError(BAD_VALUE.format(
                    param="policy", expected="a YAML document without recursive aliases",
                    got=f"{str(path)!r}, whose aliases refer to themselves"))
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        size = 1 + sum(sizes.get(id(child), 1) for child in children)
        if size > MAX_POLICY_NODES:
            raise PolicyError(BAD_VALUE.format(
                param="policy", expected=f"a YAML document of at most {MAX_POLICY_NODES:,} "
                "values once its aliases are expanded",
                got=f"{str(path)!r}, which expands to more (nested aliases)"))
        sizes[id(node)] = size


def _check_types(data: Mapping[str, Any]) -> None:
    """Raise unless name, description, clauses and evidence have their types and sizes."""
    for key in ("name", "description"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise PolicyError(BAD_VALUE.format(param=key, expected="a string",
                                               got=f"{type(value).__name__} {value!r:.60}"))
        if len(value) > _MAX_TEXT[key]:
            raise PolicyError(BAD_VALUE.format(param=key, expected=f"at most {_MAX_TEXT[key]:,} "
                                               "characters", got=f"{len(value):,} characters"))
    for key in ("rules", "clauses", "evidence"):
        value = data.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise PolicyError(BAD_VALUE.format(param=key, expected="a mapping",
                                               got=f"{type(value).__name__} {value!r:.60}"))
    for clause, text in (data.get("clauses") or {}).items():
        if not isinstance(clause, str) or not isinstance(text, str):
            raise PolicyError(BAD_VALUE.format(
                param=f"clauses.{clause}", expected="a clause identifier (string) with its text "
                "(string)", got=f"{type(clause).__name__} -> {type(text).__name__}"))
        if len(text) > _MAX_TEXT["clause"]:
            raise PolicyError(BAD_VALUE.format(param=f"clauses.{clause}",
                                               expected=f"at most {_MAX_TEXT['clause']:,} "
                                               "characters", got=f"{len(text):,} characters"))
    for check, ids in (data.get("evidence") or {}).items():
        if isinstance(ids, str) or not isinstance(ids, (list, tuple)) or \
                not all(isinstance(i, str) for i in ids):
            raise PolicyError(BAD_VALUE.format(param=f"evidence.{check}",
                                               expected="a list of clause identifiers (strings)",
                                               got=f"{ids!r:.60}"))


def _key_lines(root: yaml.Node | None) -> dict[tuple[str, ...], int]:
    """1-based line of each check and metric key under ``rules`` and ``evidence``."""
    lines: dict[tuple[str, ...], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value not in ("rules", "evidence") or not isinstance(value, yaml.MappingNode):
            continue
        for check_key, metrics in value.value:
            lines[(key.value, str(check_key.value))] = check_key.start_mark.line + 1
            if key.value == "rules" and isinstance(metrics, yaml.MappingNode):
                for metric_key, _ in metrics.value:
                    lines[("rules", str(check_key.value), str(metric_key.value))] = \
                        metric_key.start_mark.line + 1
    return lines


@functools.lru_cache(maxsize=1)
def _default_metrics() -> dict[str, frozenset[str]]:
    """Check -> the metrics the shipped default policy judges (valid names by definition)."""
    text = resources.files("auditkit.policy").joinpath("default.yaml").read_text("utf-8")
    rules = (yaml.safe_load(text) or {}).get("rules") or {}
    return {check: frozenset(metrics or ()) for check, metrics in rules.items()}


def _metric_names(check_cls: type) -> set[str]:
    """The metric names a rule on this check may use."""
    names = set(check_cls.verdict_metrics) | _default_metrics().get(check_cls.name, frozenset())
    return names | set(check_cls.emitted_metrics)


def _hint(name: str, candidates: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else "."


def _validate_names(data: Mapping[str, Any], source: str | None,
                    lines: Mapping[tuple[str, ...], int]) -> None:
    """Raise PolicyError for a check or metric name that no registered check has."""
    from ..checks import check_class, list_checks  # the registry, plug-ins included

    registered = list_checks()

    def where(*key: str) -> str:
        line = lines.get(key)
        if source is None:
            return ""
        return f"{source}, line {line}: " if line is not None else f"{source}: "

    for section in ("evidence", "rules"):
        entries = data.get(section) or {}
        if not isinstance(entries, Mapping):
            continue
        for check in entries:
            if check not in registered:
                raise PolicyError(UNKNOWN_POLICY_CHECK.format(
                    where=where(section, str(check)), section=section, got=check,
                    hint=_hint(str(check), registered)))
    rules = data.get("rules") or {}
    for check, metrics in (rules.items() if isinstance(rules, Mapping) else ()):
        if not isinstance(metrics, Mapping):
            continue  # from_dict reports the shape
        valid = _metric_names(check_class(check))
        for metric in metrics:
            if metric not in valid:
                expected = (f"one of {sorted(valid)}" if valid else
                            "a metric the check declares, and it declares none")
                raise PolicyError(UNKNOWN_POLICY_METRIC.format(
                    where=where("rules", str(check), str(metric)), check=check, got=metric,
                    hint=_hint(str(metric), valid), expected=expected))
