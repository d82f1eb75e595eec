"""Policy: thresholds that judge measured numbers, and the clauses they evidence.

A check measures; the policy decides. The same metrics under a stricter
policy get a different verdict, and the metrics themselves never change.
Policies load from YAML; a file that says ``extends: default`` changes only
what it names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import BAD_VALUE, PolicyError
from ..results import CheckResult, Metric, Status, Threshold

__all__ = ["JUDGE_ON", "Policy", "Rule"]

_DIRECTIONS = ("higher_is_better", "lower_is_better")
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
        try:
            data = yaml.safe_load(path.read_text("utf-8"))
        except yaml.YAMLError as exc:
            problem = " ".join(str(exc).split())  # one line, for the command's error message
            raise PolicyError(BAD_VALUE.format(param="policy", expected="valid YAML",
                                               got=f"a parse error: {problem}")) from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from plain data with keys name, rules, clauses, evidence."""
        if not isinstance(data, Mapping):
            raise PolicyError(BAD_VALUE.format(param="policy", expected="a mapping",
                                               got=type(data).__name__))
        known = {"name", "description", "extends", "rules", "clauses", "evidence"}
        unknown = set(data) - known
        if unknown:
            raise PolicyError(BAD_VALUE.format(param="policy", expected=f"keys among "
                                               f"{sorted(known)}", got=sorted(unknown)))
        extends = data.get("extends")
        if extends not in (None, "default"):
            raise PolicyError(BAD_VALUE.format(param="extends", expected="'default' (or no "
                                               "'extends' key)", got=repr(extends)))
        base = cls.default() if extends == "default" else None
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
                   description=str(data.get("description", base.description if base else "")))

    def rule(self, check: str, metric: str) -> Rule | None:
        """The rule on ``metric`` of ``check``, if any."""
        return next((r for r in self.rules if (r.check, r.metric) == (check, metric)), None)

    def with_rule(self, check: str, metric: str, *, direction: str, warn: float | None = None,
                  fail: float | None = None, judge_on: str = "estimate") -> Policy:
        """A copy with one rule added or replaced."""
        rules = [r for r in self.rules if (r.check, r.metric) != (check, metric)]
        rules.append(Rule(check, metric, direction, warn, fail, judge_on))
        return Policy(self.name, tuple(rules), self.clauses, self.evidence, self.description)

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
        }
