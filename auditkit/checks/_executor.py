"""Where independent units of work run.

Checks hand batches of independent work (bootstrap blocks, reference models,
batches of attacks or explanations) to an :class:`Executor`. The local one runs
them in this process, in order, or on a thread pool; a cluster engine can
implement the same interface later without touching the checks.

A unit of work is cheap to send to another process: ``function`` is a
module-level function (sent by reference, never a closure or a lambda),
``shared`` is sent once per worker (the model adapter, the data arrays), and
each unit carries only arrays, numbers and names. :func:`portable` enforces
the first rule, so a check that breaks it fails its contract tests.

Model inference over data too large to hold (a Parquet dataset, an iterator of
batches) goes through ``predict_batches``: the local executor calls the model on
each batch in turn; the Ray executor keeps an actor per worker that loads the
model once. A user-supplied executor may leave it out; callers then loop locally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..exceptions import BAD_VALUE, AuditkitError

if TYPE_CHECKING:
    from ..inputs._adapters import ModelAdapter

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "check_max_in_flight", "make_executor",
           "portable"]

NOT_PORTABLE = ("A unit of work must be a module-level function, sent by reference to another "
                "process; got {name!r}. Pass what it needs as 'shared' and in the units.")


def portable(function: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``function`` if another process can import it by name; raise TypeError if not.

    Parameters
    ----------
    function : callable
        A module-level function (not a lambda, a closure or a bound method).

    Returns
    -------
    callable
    """
    name = getattr(function, "__qualname__", "")
    if not name or "<" in name or getattr(function, "__self__", None) is not None:
        raise TypeError(NOT_PORTABLE.format(name=name or repr(function)))
    return function


def check_max_in_flight(max_in_flight: Any) -> int | None:
    """Return ``max_in_flight`` if it is None or a positive integer; raise if not.

    Parameters
    ----------
    max_in_flight : int or None
        How many batches may be submitted and not yet consumed.

    Returns
    -------
    int or None
    """
    if max_in_flight is not None and (isinstance(max_in_flight, bool)
                                      or not isinstance(max_in_flight, int)
                                      or max_in_flight < 1):
        raise AuditkitError(BAD_VALUE.format(param="max_in_flight",
                                             expected="a positive integer or None",
                                             got=repr(max_in_flight)))
    return max_in_flight


class Executor(Protocol):
    """Runs a function over independent units and returns results in order.

    An executor may also offer model inference over a stream of batches,
    ``predict_batches(model, batches, *, max_in_flight=None) -> Iterator[np.ndarray]``
    (``model.predict_proba`` of each batch, yielded in the batches' order, the
    iterator consumed lazily with at most ``max_in_flight`` batches outstanding).
    It is optional: callers look it up with ``getattr(executor, "predict_batches",
    None)`` and fall back to a local loop when it is missing.
    """

    n_workers: int

    def map(self, function: Callable[..., Any], units: Iterable[Any], *, shared: Any = None,
            on_done: Callable[[int], Any] | None = None) -> list[Any]:
        """Apply ``function(shared, unit)`` to each unit; call ``on_done(1)`` after each."""
        ...


class LocalExecutor:
    """Run units in this process: in order (``n_workers=1``) or on threads.

    Threads suit the work checks hand out (torch and NumPy release the GIL).

    Parameters
    ----------
    n_workers : int, default=1
    """

    def __init__(self, n_workers: int = 1) -> None:
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise AuditkitError(BAD_VALUE.format(param="n_jobs", expected="a positive integer",
                                                 got=repr(n_workers)))
        self.n_workers = n_workers

    def map(self, function: Callable[..., Any], units: Iterable[Any], *, shared: Any = None,
            on_done: Callable[[int], Any] | None = None) -> list[Any]:
        """Apply ``function(shared, unit)`` to each unit and return the results in order."""
        units = list(units)
        if self.n_workers == 1 or len(units) <= 1:
            results = []
            for unit in units:
                results.append(function(shared, unit))
                if on_done is not None:
                    on_done(1)
            return results
        with ThreadPoolExecutor(max_workers=self.n_workers) as pool:
            futures = [pool.submit(function, shared, unit) for unit in units]
            results = []
            for future in futures:
                results.append(future.result())
                if on_done is not None:
                    on_done(1)
            return results

    def predict_batches(self, model: ModelAdapter, batches: Iterable[np.ndarray], *,
                        max_in_flight: int | None = None) -> Iterator[np.ndarray]:
        """``model.predict_proba`` of each batch of inputs, yielded in the batches' order.

        Parameters
        ----------
        model : ModelAdapter
            Validates its own outputs, as for any other call.
        batches : iterable of array-like of shape (n_rows, ...)
            Consumed lazily, one batch per result.
        max_in_flight : int, optional
            Accepted for the interface; here one batch is in flight at a time.

        Returns
        -------
        iterator of ndarray of shape (n_rows, n_classes)

        Examples
        --------
        >>> probabilities = np.concatenate(list(LocalExecutor().predict_batches(
        ...     model, np.array_split(X, 10))))  # doctest: +SKIP
        """
        check_max_in_flight(max_in_flight)
        return _predict_each(model, batches)

    def __repr__(self) -> str:
        return f"LocalExecutor(n_workers={self.n_workers})"


def _predict_each(model: ModelAdapter, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for X in batches:
        yield model.predict_proba(X)


#: The executors ``audit(..., executor=...)`` accepts by name.
EXECUTORS = ("local", "ray")


def make_executor(executor: str | Executor = "local", *, n_jobs: int = 1,
                  ray_address: str | None = None) -> Executor:
    """The executor an audit runs its units on.

    Parameters
    ----------
    executor : {"local", "ray"} or Executor, default="local"
        ``"local"`` runs units in this process (on ``n_jobs`` threads); ``"ray"``
        spreads them over a Ray cluster (:class:`~._ray.RayExecutor`, needs
        ``pip install "auditkit[ray]"``); an object with a ``map`` method is used
        as it is.
    n_jobs : int, default=1
        Threads of the local executor.
    ray_address : str, optional
        The Ray cluster to join; only with ``executor="ray"``.

    Returns
    -------
    Executor
    """
    if not isinstance(executor, str):
        if callable(getattr(executor, "map", None)):
            return executor
        raise AuditkitError(BAD_VALUE.format(param="executor", expected=f"one of "
                                             f"{list(EXECUTORS)} or an Executor",
                                             got=repr(executor)))
    if executor not in EXECUTORS:
        raise AuditkitError(BAD_VALUE.format(param="executor", expected=f"one of "
                                             f"{list(EXECUTORS)}", got=repr(executor)))
    if executor == "local":
        if ray_address is not None:
            raise AuditkitError(BAD_VALUE.format(param="ray_address", expected="None unless "
                                                 "executor='ray'", got=repr(ray_address)))
        return LocalExecutor(n_jobs)
    from ._ray import RayExecutor

    return RayExecutor(ray_address)
