"""Property tests: any input either gets one sentence naming a parameter, or audits cleanly.

Hypothesis draws the inputs of :class:`~auditkit.AuditData` (shapes, dtypes,
NaN and infinite values, label sets of every type, sensitive features with
tiny, empty and one-sided groups, names with unicode and control
characters), fits a small scikit-learn model on what it drew, and audits it
with the performance and fairness checks. The property: either auditkit
raises an :class:`~auditkit.AuditkitError` whose message names the parameter
(or check option, or the model) at fault, or the audit completes with no
check in ERROR. Never a raw numpy, pandas, torch or scikit-learn exception.

The default run is repeatable (``derandomize=True``, no example database) and
small enough for CI. A long fuzzing pass runs with, for example::

    AUDITKIT_FUZZ_EXAMPLES=10000 AUDITKIT_FUZZ_SEED=1 pytest -m slow tests/test_properties.py

which collects every failing example (written to ``AUDITKIT_FUZZ_LOG`` when
set) instead of stopping at the first. To keep ten thousand examples within
reach of a laptop, that pass audits every example with the performance checks
and one in ``AUDITKIT_FUZZ_FULL_EVERY`` (default 10) with the fairness checks
too (fairlearn's per-group frames cost about a second per example).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from auditkit import AuditData, AuditkitError, audit, get_check
from auditkit.results import Status

#: Checks audited on every drawn input: the performance and fairness families that
#: run on a scikit-learn model without training data, with few resamples.
CHECKS = (
    ("performance_metrics", {"n_resamples": 10}),
    ("performance_calibration", {"n_resamples": 10}),
    ("performance_confusion_matrix", {}),
    ("fairness_group_metrics", {"n_resamples": 10}),
    ("fairness_disparities", {"n_resamples": 10}),
)
#: The long fuzzing pass audits every example with these (the performance family, no
#: resamples), and one example in ``AUDITKIT_FUZZ_FULL_EVERY`` (default 10) with
#: :data:`CHECKS`: fairlearn's per-group frames cost about a second per example.
CHEAP_CHECKS = (
    ("performance_metrics", {"n_resamples": 0}),
    ("performance_calibration", {"n_resamples": 0}),
    ("performance_confusion_matrix", {}),
)

#: An auditkit message names what is at fault: a parameter, a check option or the model.
NAMES_A_PARAMETER = re.compile(r"The '[^']*' (parameter|option)|^The model '|option of check")

NAME_CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cs",))
NAMES = st.one_of(st.text(NAME_CHARACTERS, max_size=6),
                  st.sampled_from(["", "\x00", "\x1b[31m", "\x07", "é", "名前", "1", " ", "a b"]),
                  st.integers(-2, 2))

settings.register_profile(
    "auditkit-ci", derandomize=True, database=None, deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])


@dataclass
class Case:
    """One drawn input: AuditData's keyword arguments and the model to fit."""

    kwargs: dict[str, Any]
    model: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """A short, printable summary to reproduce a failure."""
        parts = [f"model={self.model}", *self.notes]
        for key, value in self.kwargs.items():
            if isinstance(value, np.ndarray):
                parts.append(f"{key}: {value.dtype} {value.shape} {value.ravel()[:6]!r}")
            elif isinstance(value, pd.DataFrame):
                parts.append(f"{key}: columns {list(value.columns)!r} "
                             f"{value.head(3).to_dict('list')!r}")
            else:
                parts.append(f"{key}: {value!r}"[:200])
        return "; ".join(parts)


def _features(draw: st.DrawFn, rng: np.random.Generator, n: int, p: int,
              notes: list[str]) -> np.ndarray:
    kind = draw(st.sampled_from(["float64", "float32", "int64", "bool", "huge", "constant"]))
    notes.append(f"X kind {kind}")
    X = rng.normal(size=(n, p))
    if kind == "float32":
        X = X.astype(np.float32)
    elif kind == "int64":
        X = rng.integers(-3, 4, size=(n, p))
    elif kind == "bool":
        X = rng.random((n, p)) < 0.5
    elif kind == "huge":
        X = X * 1e150
    elif kind == "constant":
        X = np.ones((n, p))
    bad = draw(st.sampled_from(["none"] * 12 + ["nan", "inf", "-inf"]))
    if bad != "none" and X.dtype.kind == "f":
        row, column = draw(st.integers(0, n - 1)), draw(st.integers(0, p - 1))
        X[row, column] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[bad]
        notes.append(f"{bad} at ({row}, {column})")
    return X


def _labels(draw: st.DrawFn, rng: np.random.Generator, n: int, notes: list[str]) -> np.ndarray:
    kind = draw(st.sampled_from(["int01"] * 3 + ["int_k"] * 2 + [
        "negative", "str", "str", "names", "bool", "float", "rare", "mixed", "single", "nan"]))
    k = draw(st.integers(2, 4))
    codes = rng.integers(0, k, size=n)
    codes[: min(k, n)] = np.arange(min(k, n))  # every class present when n allows
    notes.append(f"y kind {kind} (k={k})")
    if kind == "int01":
        return (codes % 2).astype(np.int64)
    if kind == "int_k":
        return codes.astype(np.int64)
    if kind == "negative":
        return codes.astype(np.int64) - 5
    if kind == "str":
        return np.array(["no", "yes", "maybe", "unsure"])[codes]
    if kind == "names":
        names = draw(st.lists(st.text(NAME_CHARACTERS, max_size=4), min_size=k, max_size=k,
                              unique=True))
        return np.array(names, dtype=object)[codes]
    if kind == "bool":
        return codes % 2 == 1
    if kind == "float":
        return (codes * 0.5).astype(np.float64)
    if kind == "mixed":
        return np.array([0, "one", 2, "three"], dtype=object)[codes]
    if kind == "single":
        return np.zeros(n, dtype=np.int64)
    if kind == "rare":  # one sample of the second class
        y = np.zeros(n, dtype=np.int64)
        y[draw(st.integers(0, n - 1))] = 1
        return y
    y = (codes % 2).astype(np.float64)
    y[draw(st.integers(0, n - 1))] = np.nan
    return y


def _names(draw: st.DrawFn, size: int) -> list:
    """``size`` names, distinct three times in four (a clash is an error to name)."""
    return draw(st.lists(NAMES, min_size=size, max_size=size,
                         unique_by=str if draw(st.sampled_from([True, True, True, False]))
                         else None))


def _sensitive_column(draw: st.DrawFn, rng: np.random.Generator, n: int,
                      notes: list[str]) -> Any:
    kind = draw(st.sampled_from(["binary", "tiny", "one_group", "many", "numeric", "empty_category",
                                 "codes", "unicode", "missing", "bool"]))
    notes.append(f"sensitive {kind}")
    if kind == "binary":
        return rng.choice(["f", "m"], size=n)
    if kind == "tiny":  # one group of a single sample
        values = np.full(n, "big", dtype=object)
        values[draw(st.integers(0, n - 1))] = "tiny"
        return values
    if kind == "one_group":
        return np.full(n, "only")
    if kind == "many":
        return rng.choice([f"r{i}" for i in range(15)], size=n)
    if kind == "numeric":
        return rng.normal(40, 12, size=n)
    if kind == "empty_category":
        return pd.Categorical(rng.choice(["a", "b"], size=n), categories=["a", "b", "never"])
    if kind == "codes":
        return rng.integers(0, 3, size=n)
    if kind == "unicode":
        names = draw(st.lists(st.text(NAME_CHARACTERS, max_size=3), min_size=2, max_size=3,
                              unique=True))
        return np.array(names, dtype=object)[rng.integers(0, len(names), size=n)]
    if kind == "bool":
        return rng.random(n) < 0.3
    values = rng.choice(["x", "y"], size=n).astype(object)
    values[draw(st.integers(0, n - 1))] = None
    return values


@st.composite
def audit_inputs(draw: st.DrawFn) -> Case:
    """The inputs of AuditData, and which small scikit-learn model to fit on them."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, 80))
    p = draw(st.integers(1, 4))
    notes: list[str] = [f"n={n}, p={p}"]
    kwargs: dict[str, Any] = {"X": _features(draw, rng, n, p, notes),
                              "y": _labels(draw, rng, n, notes)}
    n_sensitive = draw(st.integers(0, 3))
    if n_sensitive:
        names = _names(draw, n_sensitive)
        columns = [_sensitive_column(draw, rng, n, notes) for _ in names]
        form = draw(st.sampled_from(["mapping", "frame", "series"]))
        if form == "mapping":
            kwargs["sensitive"] = dict(zip(names, columns, strict=True))
        elif form == "frame":
            frame = pd.DataFrame({i: column for i, column in enumerate(columns)})
            frame.columns = names
            kwargs["sensitive"] = frame
        else:
            kwargs["sensitive"] = pd.Series(columns[0], name=names[0])
    if draw(st.booleans()):
        width = p if draw(st.integers(0, 9)) else p + 1
        kwargs["feature_names"] = _names(draw, width)
    if draw(st.integers(0, 3)) == 0:
        k = len(pd.unique(pd.Series(kwargs["y"]).dropna()))
        kwargs["class_names"] = _names(draw, k)
    if draw(st.integers(0, 4)) == 0:
        kwargs["name"] = draw(NAMES)
    model = draw(st.sampled_from(["logistic", "tree", "prior", "most_frequent"]))
    return Case(kwargs, model, notes)


def _estimator(name: str) -> Any:
    return {"logistic": lambda: LogisticRegression(max_iter=200),
            "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
            "prior": lambda: DummyClassifier(strategy="prior"),
            "most_frequent": lambda: DummyClassifier(strategy="most_frequent")}[name]()


def _named(error: AuditkitError) -> str | None:
    message = str(error)
    return None if NAMES_A_PARAMETER.search(message) else \
        f"{type(error).__name__} names no parameter: {message}"


def violation(case: Case, checks: tuple[tuple[str, dict], ...] = CHECKS) -> str | None:
    """What breaks the property for ``case`` audited with ``checks``, or None when it holds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = AuditData(**case.kwargs)
        except AuditkitError as error:
            return _named(error)
        except Exception as error:  # the property: never a raw exception
            return f"AuditData raised {type(error).__name__}: {error}"
        try:
            model = _estimator(case.model).fit(data.X, data.y)
        except Exception:  # scikit-learn cannot fit it (not auditkit's concern)
            return None
        try:
            result = audit(model, data, checks=[get_check(name, **options)
                                                for name, options in checks],
                           progress=False, random_state=0)
        except AuditkitError as error:
            return _named(error)
        except Exception as error:
            return f"audit raised {type(error).__name__}: {error}"
    errors = [r for r in result.results if r.status is Status.ERROR]
    if errors:
        return "; ".join(f"{r.name} ERROR: {r.headline}" for r in errors)
    return None


@settings(settings.get_profile("auditkit-ci"))
@given(case=audit_inputs())
def test_every_input_is_refused_by_name_or_audits_without_error(case):
    problem = violation(case)
    assert problem is None, f"{problem}\n{case.describe()}"


def _progress(log: str, counts: dict[str, int], failures: list, done: bool = False) -> None:
    with open(log + ".progress", "w", encoding="utf-8") as handle:
        handle.write(f"{'done: ' if done else ''}{counts['examples']} examples "
                     f"({counts['full']} with the fairness checks), {len(failures)} failures\n")


@pytest.mark.slow
@pytest.mark.skipif("AUDITKIT_FUZZ_EXAMPLES" not in os.environ,
                    reason="set AUDITKIT_FUZZ_EXAMPLES (e.g. 10000) for a long fuzzing pass")
def test_fuzzing_pass():
    n_examples = int(os.environ["AUDITKIT_FUZZ_EXAMPLES"])
    every = int(os.environ.get("AUDITKIT_FUZZ_FULL_EVERY", "10"))
    log = os.environ.get("AUDITKIT_FUZZ_LOG")
    failures: list[dict[str, str]] = []
    counts = {"examples": 0, "full": 0}

    @seed(int(os.environ.get("AUDITKIT_FUZZ_SEED", "0")))
    @settings(max_examples=n_examples, derandomize=False, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=audit_inputs())
    def run(case: Case) -> None:
        counts["examples"] += 1
        full = counts["examples"] % every == 0
        counts["full"] += full
        problem = violation(case, CHECKS if full else CHEAP_CHECKS)
        if problem is not None:  # collect every failure, do not stop at the first
            record = {"problem": problem, "case": case.describe()}
            failures.append(record)
            if log:
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
        if log and counts["examples"] % 100 == 0:
            _progress(log, counts, failures)

    run()
    if log:
        _progress(log, counts, failures, done=True)
    distinct = sorted({f["problem"][:120] for f in failures})
    assert not failures, f"{len(failures)} of {counts['examples']} examples failed:\n" + \
        "\n".join(distinct[:30])
