"""Units of work spread over a Ray cluster (``pip install "auditkit[ray]"``).

:class:`RayExecutor` implements the :class:`~._executor.Executor` interface: the
checks hand it the same units they hand the local executor (bootstrap blocks,
attack chunks, explanation batches, reference models), and it runs each as a Ray
task. ``shared`` (the model adapter, the data arrays) goes into the object store
once per call; each task carries a function sent by reference and its unit.

Results come back in the units' order, whatever order the tasks finish in, so
an audit gives the same JSON as with the local executor under the same seed: the
units draw their randomness from seeds they carry, never from the worker.

A task whose worker process dies (killed, out of memory, a lost node) is run
again, up to ``max_retries`` times, by Ray's lineage-based task retry; its
result is collected once, by its position, so nothing is lost or counted twice.
An exception raised by the unit itself is not retried: it reaches the check
as the original exception, and the check ends in ERROR like any other.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from typing import Any

from ..exceptions import BAD_VALUE, AuditkitError
from ._executor import portable

__all__ = ["RayExecutor", "ray_available"]

_INSTALL = ('The Ray executor needs Ray: pip install "auditkit[ray]" (or pip install ray). '
            "Got: {problem}.")


def ray_available() -> bool:
    """Whether Ray can be imported here."""
    return importlib.util.find_spec("ray") is not None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise AuditkitError(_INSTALL.format(problem=f"{type(exc).__name__}: {exc}")) from exc
    return ray


def _run_unit(function: Callable[..., Any], shared: Any, unit: Any) -> Any:
    """The body of every task: ``function(shared, unit)`` in the worker."""
    return function(shared, unit)


class RayExecutor:
    """Run units as Ray tasks on a cluster, results in order.

    Parameters
    ----------
    address : str, optional
        The cluster to join (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``).
        Without one, an already initialised Ray is used, else a local cluster is
        started on this machine.
    num_cpus : int, optional
        CPUs of the local cluster started when there is no ``address`` and Ray is
        not initialised yet (default: all of them).
    max_retries : int, default=3
        How many times a task whose worker died is run again.

    Examples
    --------
    >>> from auditkit import audit
    >>> result = audit(model, data, preset="robustness", executor="ray")  # doctest: +SKIP
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 max_retries: int = 3) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise AuditkitError(BAD_VALUE.format(param="ray_address", expected="a Ray cluster "
                                                 "address such as 'auto' or 'host:6379'",
                                                 got=repr(address)))
        for name, value, least in (("num_cpus", num_cpus, 1), ("max_retries", max_retries, 0)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < least):
                raise AuditkitError(BAD_VALUE.format(param=name, expected=f"an integer >= {least}",
                                                     got=repr(value)))
        ray = _import_ray()
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "configure_logging": False}
            if address is not None:
                options["address"] = address
            elif num_cpus is not None:
                options["num_cpus"] = num_cpus
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise AuditkitError(BAD_VALUE.format(
                    param="ray_address", expected="a reachable Ray cluster",
                    got=f"{address!r} ({type(exc).__name__}: {' '.join(str(exc).split())})")
                ) from exc
        self._ray = ray
        self.address = address
        self.max_retries = max_retries
        self._task = ray.remote(_run_unit)

    @property
    def n_workers(self) -> int:
        """CPUs of the cluster, as Ray counts them now."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def map(self, function: Callable[..., Any], units: Iterable[Any], *, shared: Any = None,
            on_done: Callable[[int], Any] | None = None) -> list[Any]:
        """Apply ``function(shared, unit)`` to each unit on the cluster; results in order.

        Parameters
        ----------
        function : callable
            A module-level function (sent by reference).
        units : iterable
        shared : object, optional
            Sent once to the object store, read by every task.
        on_done : callable, optional
            Called with 1 as each unit finishes (in completion order).

        Returns
        -------
        list
        """
        ray = self._ray
        portable(function)
        units = list(units)
        if not units:
            return []
        shared_ref = ray.put(shared)
        task = self._task.options(max_retries=self.max_retries, retry_exceptions=False)
        refs = [task.remote(function, shared_ref, unit) for unit in units]
        position = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(units)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    results[position[ref]] = _get(ray, ref)
                    if on_done is not None:
                        on_done(1)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=False)
            raise
        return results

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, max_retries={self.max_retries})"


def _get(ray: Any, ref: Any) -> Any:
    """The task's result; a unit's own exception re-raised as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
        if cause is not None:
            raise cause from None
        raise
