"""The Check contract, the registry, and the context a check runs in.

A check is a frozen dataclass: its options are fields, and
``run(model, data, *, context) -> CheckResult`` computes. It never renders,
prints or decides policy: the status it returns is provisional (INFO, or SKIP
with a reason) and the policy judges the metrics afterwards. Adding a check
means adding one file with one class decorated by :func:`register_check`.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np

from .._families import FAMILIES
from ..exceptions import UNKNOWN_NAME, CheckError
from ..inputs import AuditData, ModelAdapter
from ..results import CheckResult, Figure, Metric, Status, TableComparison
from ._executor import Executor, LocalExecutor, portable
from ._params import validate_option
from ._progress import Progress

__all__ = [
    "Check",
    "CheckContext",
    "register_check",
    "get_check",
    "list_checks",
    "FAMILIES",
    "map_units",
    "track_checks",
]

_REGISTRY: dict[str, type[Check]] = {}
NO_CONSTRAINTS = ("Check {check!r} declares no constraints for its option {option!r}: add it to "
                  "the class's parameter_constraints.")
T = TypeVar("T")

NO_SENSITIVE = ("This check needs sensitive features (AuditData(..., sensitive=...)); "
                "the audited data has none.")


@dataclass
class CheckContext:
    """What a check may use besides the model and the data.

    Parameters
    ----------
    random_state : int
        The audit's seed; use :meth:`rng` for a generator private to a check.
    device : str
        The device the model runs on.
    progress : Progress
        Progress reporter for long loops.
    executor : Executor
        Runs independent units of work (locally now; elsewhere later).
    """

    random_state: int = 0
    device: str = "cpu"
    progress: Progress = field(default_factory=lambda: Progress(enabled=False))
    executor: Executor = field(default_factory=LocalExecutor)
    _shared: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def rng(self, name: str) -> np.random.Generator:
        """A generator seeded by the audit's seed and ``name``, the same on every run."""
        return np.random.default_rng([self.random_state, zlib.crc32(name.encode())])

    def shared(self, name: str, key: Hashable, compute: Callable[[], T]) -> T:
        """A value several checks use, computed once per audit.

        Parameters
        ----------
        name : str
            What the value is, as listed in a check's ``shares`` (for example
            ``"predictions"`` or ``"robustness.attack_run"``).
        key : hashable
            What the value depends on besides the audit (the model's identity,
            the options that change it).
        compute : callable
            Called without arguments the first time; its return value is kept.

        Returns
        -------
        object
            The value ``compute`` returned, the first time or now.
        """
        cache_key = (name, key)
        with self._lock:
            if cache_key in self._shared:
                return self._shared[cache_key]
        value = compute()
        with self._lock:
            return self._shared.setdefault(cache_key, value)

    def peek(self, name: str, key: Hashable) -> Any | None:
        """The shared value ``(name, key)`` if some check computed it already, else None."""
        with self._lock:
            return self._shared.get((name, key))

    def predict_proba(self, model: ModelAdapter, X: np.ndarray, *, key: str) -> np.ndarray:
        """``model.predict_proba(X)``, computed once per ``key`` and shared by the checks."""
        def compute() -> np.ndarray:
            proba = np.asarray(model.predict_proba(X), dtype=np.float64)
            proba.setflags(write=False)
            return proba

        return self.shared("proba", (id(model), key), compute)

    def test_proba(self, model: ModelAdapter, data: AuditData) -> np.ndarray:
        """Predicted probabilities on the audited samples (computed once per audit)."""
        return self.predict_proba(model, data.X, key="test")


class Check:
    """Base class of every check.

    Subclasses are frozen dataclasses that set the class attributes ``name``,
    ``family``, ``description`` and, when they need them, ``requires`` (model
    capabilities) and ``modalities``; declare ``parameter_constraints`` for
    every option (see :mod:`auditkit.checks._params`), and ``shares`` for the
    values they compute once per audit with other checks; and implement
    :meth:`compute`.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str] = ""
    tags: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[frozenset[str]] = frozenset()
    modalities: ClassVar[tuple[str, ...] | None] = None
    #: Position within the family in reports (lower first).
    order: ClassVar[int] = 100
    #: Whether the check needs sensitive features in the data (fairness checks).
    needs_sensitive: ClassVar[bool] = False
    #: The metrics the check's verdict rests on: the default policy has a rule for each.
    verdict_metrics: ClassVar[tuple[str, ...]] = ()
    #: Other metrics it emits that a policy may also judge (policy files are checked against
    #: these, the verdict metrics and the default policy's rules).
    emitted_metrics: ClassVar[tuple[str, ...]] = ()
    #: Accepted values of each option: option name -> list of constraints.
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    #: Names of the values (see :meth:`CheckContext.shared`) this check computes once per
    #: audit with other checks. A check that reads another check's output lists it here, and
    #: computes it itself when it runs alone.
    shares: ClassVar[tuple[str, ...]] = ()
    #: How the report's comparison page reads this check's tables across audits; copied
    #: into every result (see :class:`~auditkit.results.TableComparison`).
    comparisons: ClassVar[tuple[TableComparison, ...]] = ()
    #: Whether the check reads every audited row through the shared predictions (and
    #: ``data.all_y`` / ``data.all_sensitive``) rather than ``data.X``: such checks use every
    #: row of streamed data, the others its seeded sample (see ``StreamingData``).
    streams: ClassVar[bool] = False
    #: Expected running time relative to the other checks (1: a few model calls). Only the
    #: audit's progress bar reads it, to weigh its estimate of the time left.
    cost: ClassVar[float] = 1.0

    def __post_init__(self) -> None:
        for option in fields(self):  # type: ignore[arg-type]
            constraints = self.parameter_constraints.get(option.name)
            if constraints is None:
                raise TypeError(NO_CONSTRAINTS.format(check=self.name, option=option.name))
            validate_option(self.name, option.name, getattr(self, option.name), constraints)
        self.validate_options()

    def validate_options(self) -> None:
        """Check relations between options, once each option is valid on its own.

        Raise :class:`~auditkit.exceptions.CheckError` with :data:`BAD_OPTION`'s sentence.
        """

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply to this model and data, or None if it does."""
        missing = self.requires - model.capabilities
        if "predict" in missing:
            return (f"This check applies to classifiers; the audited {model.framework} model "
                    "makes no class predictions.")
        if missing:
            from ..inputs import CAPABILITY_DESCRIPTIONS

            needs = "; ".join(CAPABILITY_DESCRIPTIONS.get(c, c) for c in sorted(missing))
            return (f"This check needs {needs}, which this {model.framework} model does not "
                    "provide.")
        if self.needs_sensitive and data.sensitive is None:
            return NO_SENSITIVE
        if self.modalities is not None and data.modality not in self.modalities:
            return (f"This check applies to {' or '.join(self.modalities)} data; "
                    f"the audited data is {data.modality}.")
        return None

    def expected_cost(self, model: ModelAdapter, data: AuditData) -> float:
        """How long this check should take on ``model`` and ``data``, relative to others.

        Only the audit's progress bar reads it: :attr:`cost`, or a token
        amount when the check does not apply.
        """
        return 0.1 if self.skip_reason(model, data) is not None else float(self.cost)

    def params(self) -> dict[str, Any]:
        """The check's options, as run."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def run(self, model: ModelAdapter, data: AuditData, *, context: CheckContext) -> CheckResult:
        """Run the check, or report SKIP with the reason it does not apply.

        Parameters
        ----------
        model : ModelAdapter
        data : AuditData
        context : CheckContext

        Returns
        -------
        CheckResult
        """
        reason = self.skip_reason(model, data)
        if reason is not None:
            return self.result(Status.SKIP, reason)
        return self.compute(model, data, context=context)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Do the work; called by :meth:`run` when the check applies."""
        raise NotImplementedError

    def result(self, status: Status, headline: str, *, metrics: Mapping[str, Metric] | None = None,
               tables: Mapping[str, Any] | None = None,
               figures: Mapping[str, Figure] | None = None) -> CheckResult:
        """Build this check's result, carrying its description and table comparisons."""
        return CheckResult(name=self.name, family=self.family, status=status, headline=headline,
                           metrics=dict(metrics or {}), tables=dict(tables or {}),
                           figures=dict(figures or {}), params=self.params(),
                           description=self.description, comparisons=self.comparisons)


C = TypeVar("C", bound=type[Check])

UNKNOWN_OPTIONS = "The options of check {name!r} must be among {known}. Got {got} instead."


def register_check(cls: C) -> C:
    """Class decorator adding a check to the registry under ``cls.name``."""
    for attr in ("name", "family"):
        if not isinstance(getattr(cls, attr, None), str):
            raise TypeError(f"A registered check must set the class attribute {attr!r}.")
    if cls.family not in FAMILIES:
        raise TypeError(f"Check {cls.name!r} has family {cls.family!r}, not one of {FAMILIES}.")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"A check named {cls.name!r} is already registered.")
    _REGISTRY[cls.name] = cls
    return cls


def get_check(name: str, **options: Any) -> Check:
    """Instantiate the registered check ``name`` with ``options``.

    Parameters
    ----------
    name : str
    **options
        The check's options (its dataclass fields).

    Returns
    -------
    Check
    """
    if name not in _REGISTRY:
        raise CheckError(UNKNOWN_NAME.format(param="checks", expected=sorted(_REGISTRY), got=name))
    cls = _REGISTRY[name]
    known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise CheckError(UNKNOWN_OPTIONS.format(name=name, known=known, got=unknown))
    return cls(**options)


def list_checks(family: str | None = None) -> list[str]:
    """Names of the registered checks, optionally of one family, in report order."""
    names = [n for n, c in _REGISTRY.items() if family is None or c.family == family]
    return sorted(names, key=lambda n: (FAMILIES.index(_REGISTRY[n].family), _REGISTRY[n].order, n))


def check_class(name: str) -> type[Check]:
    """The class registered under ``name``."""
    if name not in _REGISTRY:
        raise CheckError(UNKNOWN_NAME.format(param="checks", expected=sorted(_REGISTRY), got=name))
    return _REGISTRY[name]


def iter_registry() -> Iterator[tuple[str, type[Check]]]:
    """(name, class) of every registered check."""
    yield from _REGISTRY.items()


def map_units(context: CheckContext, function: Callable[[Any, Any], Any], units: Iterable[Any],
              *, description: str, shared: Any = None, sizes: Sequence[int] | None = None,
              unit: str = "it") -> list[Any]:
    """Run ``function(shared, unit)`` over independent units through the executor, with progress.

    Parameters
    ----------
    context : CheckContext
    function : callable
        A module-level function (see :func:`~._executor.portable`).
    units : iterable
        Small payloads: arrays, numbers, names.
    description : str
        Progress bar label.
    shared : object, optional
        What every unit needs (the model adapter, data arrays), sent once per worker.
    sizes : sequence of int, optional
        How many steps each unit counts for on the bar (the samples of a
        batch); one step per unit by default.
    unit : str, default="it"
        What a step is, on the bar ("sample", "model").

    Returns
    -------
    list
        The results, in the order of ``units``.
    """
    units = list(units)
    steps = [1] * len(units) if sizes is None else [int(size) for size in sizes]
    if len(steps) != len(units):
        raise ValueError(f"map_units needs one size per unit ({len(units)}); got {len(steps)} "
                         "instead.")
    pending = iter(steps)  # an executor reports finished units, not which: count in order

    with context.progress.bar(total=sum(steps), description=description, unit=unit) as bar:
        def on_done(count: int) -> None:
            bar.update(sum(next(pending, 0) for _ in range(int(count))))

        return context.executor.map(portable(function), units, shared=shared, on_done=on_done)


def track_checks(context: CheckContext, checks: Sequence[Check], model: ModelAdapter,
                 data: AuditData) -> Iterator[Check]:
    """Yield ``checks`` under the audit's bar: the running check's name and the time left.

    The bar advances by each check's :meth:`Check.expected_cost`, so its
    estimate of the time left weighs a long check (an attack, LIME, reference
    models) more than a quick one or one that does not apply.

    Parameters
    ----------
    context : CheckContext
    checks : sequence of Check
    model : ModelAdapter
    data : AuditData

    Yields
    ------
    Check
    """
    yield from context.progress.track(
        checks, description="auditkit", labels=[check.name for check in checks],
        weights=[_expected_cost(check, model, data) for check in checks])


def _expected_cost(check: Check, model: ModelAdapter, data: AuditData) -> float:
    """The check's expected cost; 1 if it cannot say (a check's errors surface when it runs)."""
    try:
        return max(float(check.expected_cost(model, data)), 0.0)
    except Exception:  # noqa: BLE001 - a progress estimate never stops an audit
        return 1.0
