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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from ..exceptions import BAD_VALUE, AuditkitError

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor", "portable"]

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


class Executor(Protocol):
    """Runs a function over independent units and returns results in order."""

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

    def __repr__(self) -> str:
        return f"LocalExecutor(n_workers={self.n_workers})"


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
