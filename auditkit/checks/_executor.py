"""Where independent units of work run.

Checks hand batches of independent work (bootstrap blocks, reference models,
batches of attacks or explanations) to an :class:`Executor`. The local one runs
them in this process, in order, or on a thread pool; a cluster engine can
implement the same two-method interface later without touching the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from ..exceptions import BAD_VALUE, AuditkitError

__all__ = ["Executor", "LocalExecutor"]


class Executor(Protocol):
    """Runs a function over independent units and returns results in order."""

    n_workers: int

    def map(self, function: Callable[[Any], Any], units: Iterable[Any], *,
            on_done: Callable[[int], Any] | None = None) -> list[Any]:
        """Apply ``function`` to each unit; call ``on_done(1)`` after each."""
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

    def map(self, function: Callable[[Any], Any], units: Iterable[Any], *,
            on_done: Callable[[int], Any] | None = None) -> list[Any]:
        """Apply ``function`` to each unit and return the results in order."""
        units = list(units)
        if self.n_workers == 1 or len(units) <= 1:
            results = []
            for unit in units:
                results.append(function(unit))
                if on_done is not None:
                    on_done(1)
            return results
        with ThreadPoolExecutor(max_workers=self.n_workers) as pool:
            futures = [pool.submit(function, unit) for unit in units]
            results = []
            for future in futures:
                results.append(future.result())
                if on_done is not None:
                    on_done(1)
            return results

    def __repr__(self) -> str:
        return f"LocalExecutor(n_workers={self.n_workers})"
