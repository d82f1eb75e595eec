"""One validator for every check option, in the manner of ``sklearn.utils._param_validation``.

A check declares, in its class attribute ``parameter_constraints``, a list of
accepted constraints for each of its options (its dataclass fields). The base
class validates every option when the check is constructed and raises one
sentence naming the check, the option, what was expected and what was given::

    The 'n_samples' option of check 'robustness_pgd' must be an int in the
    range [1, inf) or None. Got -5 instead.

Constraints:

- :class:`Interval` of ``Integral`` or ``Real`` numbers (booleans are neither);
- :class:`Options`, a set of allowed values (strings, usually);
- :class:`SequenceOf` an element constraint, with a minimum length and
  optionally distinct elements; tuples and lists are accepted;
- :class:`MappingOf` keys and values;
- ``None``; ``"boolean"``; ``"callable"``; ``"string"``.

Relations between options (``epsilon`` among ``epsilons``) are checked by the
check's own ``validate_options`` hook after every option has passed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..exceptions import CheckError

__all__ = [
    "BAD_OPTION",
    "BOOLEAN",
    "CONFIDENCE",
    "FRACTION",
    "NON_NEGATIVE_INT",
    "POSITIVE_INT",
    "SAMPLE_SIZE",
    "Interval",
    "MappingOf",
    "Options",
    "SequenceOf",
    "describe",
    "satisfies",
    "validate_option",
]

#: The message of a bad option value.
BAD_OPTION = "The {option!r} option of check {check!r} must be {expected}. Got {got} instead."


@dataclass(frozen=True)
class Interval:
    """Numbers of one kind in a range.

    Parameters
    ----------
    kind : type
        ``numbers.Integral`` or ``numbers.Real`` (a Real interval accepts ints).
    left, right : float or None
        The bounds; None is unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
    """

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` lies in the interval (booleans never do)."""
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.kind is Integral:
            if not isinstance(value, (Integral, np.integer)):
                return False
        elif not isinstance(value, (Real, np.integer, np.floating)) or not math.isfinite(value):
            return False
        left_ok = self.left is None or (value >= self.left if self.closed in ("both", "left")
                                        else value > self.left)
        right_ok = self.right is None or (value <= self.right if self.closed in ("both", "right")
                                          else value < self.right)
        return bool(left_ok and right_ok)

    def __str__(self) -> str:
        kind = "an int" if self.kind is Integral else "a float"
        low = "-inf" if self.left is None else f"{self.left:g}"
        high = "inf" if self.right is None else f"{self.right:g}"
        opening = "[" if self.closed in ("both", "left") and self.left is not None else "("
        closing = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{kind} in the range {opening}{low}, {high}{closing}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def __init__(self, values: Sequence[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the options (a bool never stands for 0 or 1)."""
        if isinstance(value, (bool, np.bool_)) and not any(isinstance(v, bool)
                                                           for v in self.values):
            return False
        try:
            return value in self.values
        except TypeError:  # unhashable or incomparable
            return False

    def __str__(self) -> str:
        return "one of " + "{" + ", ".join(repr(v) for v in self.values) + "}"


@dataclass(frozen=True)
class SequenceOf:
    """A tuple or list whose elements each satisfy ``element``."""

    element: Any
    min_length: int = 1
    distinct: bool = False

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a long enough tuple or list of valid elements."""
        if not isinstance(value, (tuple, list)) or len(value) < self.min_length:
            return False
        if not all(satisfies(v, [self.element]) for v in value):
            return False
        if self.distinct:
            try:
                return len(set(value)) == len(value)
            except TypeError:
                return False
        return True

    def __str__(self) -> str:
        length = "" if self.min_length == 0 else (
            "a non-empty " if self.min_length == 1 else f"at least {self.min_length}-long ")
        distinct = "distinct " if self.distinct else ""
        return (f"{length or 'a '}tuple or list of {distinct}values each "
                f"{describe([self.element])}")


@dataclass(frozen=True)
class MappingOf:
    """A mapping whose keys and values satisfy the given constraints."""

    key: Any
    value: Any

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a mapping of valid keys to valid values."""
        return isinstance(value, Mapping) and all(
            satisfies(k, [self.key]) and satisfies(v, [self.value]) for k, v in value.items())

    def __str__(self) -> str:
        return (f"a mapping from keys each {describe([self.key])} to values each "
                f"{describe([self.value])}")


_NAMED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "boolean": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "callable": (callable, "a callable"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "real": (lambda v: Interval(Real, None, None).accepts(v), "a finite number"),
}


def satisfies(value: Any, constraints: Sequence[Any]) -> bool:
    """Whether ``value`` satisfies at least one of ``constraints``."""
    for constraint in constraints:
        if constraint is None:
            if value is None:
                return True
        elif isinstance(constraint, str):
            if constraint not in _NAMED:
                raise TypeError(f"Unknown option constraint {constraint!r}; "
                                f"use one of {sorted(_NAMED)}.")
            if _NAMED[constraint][0](value):
                return True
        elif isinstance(constraint, type):
            if isinstance(value, constraint) and not isinstance(value, bool):
                return True
        elif constraint.accepts(value):
            return True
    return False


def describe(constraints: Sequence[Any]) -> str:
    """The constraints in words: ``"an int in the range [1, inf) or None"``."""
    words = []
    for constraint in constraints:
        if constraint is None:
            words.append("None")
        elif isinstance(constraint, str):
            words.append(_NAMED[constraint][1])
        elif isinstance(constraint, type):
            words.append(f"a {constraint.__name__}")
        else:
            words.append(str(constraint))
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def validate_option(check: str, option: str, value: Any, constraints: Sequence[Any]) -> None:
    """Raise :class:`~auditkit.exceptions.CheckError` unless ``value`` meets a constraint.

    Parameters
    ----------
    check : str
        The check's registered name, for the message.
    option : str
        The option's name.
    value : object
    constraints : sequence
        Accepted constraints (see the module docstring).

    Raises
    ------
    CheckError
        One sentence naming the check, the option, the expected and the given value.

    Examples
    --------
    >>> from numbers import Integral
    >>> validate_option("robustness_pgd", "n_samples", -5, [Interval(Integral, 1, None), None])
    Traceback (most recent call last):
    ...
    auditkit.exceptions.CheckError: The 'n_samples' option of check 'robustness_pgd' must be \
an int in the range [1, inf) or None. Got -5 instead.
    """
    if not satisfies(value, constraints):
        raise CheckError(BAD_OPTION.format(option=option, check=check,
                                           expected=describe(constraints), got=repr(value)))


#: Constraints most checks share.
POSITIVE_INT = [Interval(Integral, 1, None)]
NON_NEGATIVE_INT = [Interval(Integral, 0, None)]
SAMPLE_SIZE = [Interval(Integral, 1, None), None]
CONFIDENCE = [Interval(Real, 0, 1, closed="neither")]
FRACTION = [Interval(Real, 0, 1)]
BOOLEAN = ["boolean"]
