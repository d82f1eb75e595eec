"""Units of work spread over a Ray cluster (``pip install "auditkit[ray]"``).

:class:`RayExecutor` implements the :class:`~._executor.Executor` interface: the
checks hand it the same units they hand the local executor (bootstrap blocks,
attack chunks, explanation batches, reference models), and it runs each as a Ray
task. ``shared`` (the model adapter, the data arrays) goes into the object store
once per call; each task carries a function sent by reference and its unit.

Results come back in the units' order, whatever order the tasks finish in, so
an audit gives the same JSON as with the local executor under the same seed: the
units draw their randomness from seeds they carry, never from the worker. Ray
gives each worker one thread (``OMP_NUM_THREADS=1``), and torch sums in another
order with another number of threads (a convolution's input gradient differs in
its last bit), so each task and actor runs torch on as many threads as this
process does, and asks Ray for as many CPUs, unless told otherwise
(``torch_threads=1`` runs more units at once, at the price of that last bit).

A task whose worker process dies (killed, out of memory, a lost node) is run
again, up to ``max_retries`` times, by Ray's lineage-based task retry; its
result is collected once, by its position, so nothing is lost or counted twice.
An exception raised by the unit itself is not retried: it reaches the check
as the original exception, and the check ends in ERROR like any other.

Model inference over large data (:meth:`RayExecutor.predict_batches`) runs on
actors instead: one per worker (of ``torch_threads`` CPUs; per GPU when the
cluster has GPUs), each loading the model once from the object store. Batches
go to the actors in turn, at most ``max_in_flight`` outstanding, and come back
in the batches' order. An actor that dies is restarted and its batches run
again on it; each result is taken once, by its position in the stream.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import BAD_VALUE, AuditkitError
from ._executor import check_max_in_flight, portable

if TYPE_CHECKING:
    from ..inputs._adapters import ModelAdapter

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


#: In each worker process: the last ``shared`` object read, by its object id.
_SHARED: dict[str, Any] = {}


def _run_unit(function: Callable[..., Any], shared: list[Any], unit: Any,
              torch_threads: int | None = None) -> Any:
    """The body of every task: ``function(shared, unit)`` in the worker.

    ``shared`` comes as ``[ref]``, which Ray leaves unresolved, so that a worker
    reads it once per call of :meth:`RayExecutor.map` rather than once per unit
    (unpickling torch tensors costs about 18 ms per 30 MB, for every unit).
    """
    _use_torch_threads(torch_threads)
    return function(_shared_value(shared[0]), unit)


def _shared_value(ref: Any) -> Any:
    key = ref.hex()
    if key not in _SHARED:
        import ray

        _SHARED.clear()  # one at a time: the previous call's is done with
        _SHARED[key] = ray.get(ref)
    return _SHARED[key]


def _use_torch_threads(torch_threads: int | None) -> None:
    """Run torch on ``torch_threads`` threads in this worker (None: leave it)."""
    if torch_threads is None:
        return
    import torch

    if torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)


def _driver_torch_threads() -> int | None:
    """Threads torch uses in this process, if torch is loaded (it is, with auditkit's inputs)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


#: Batches outstanding per actor when ``max_in_flight`` is not given.
IN_FLIGHT_PER_ACTOR = 2
_END = object()


class _Predictor:
    """A Ray actor's state: one copy of the model, loaded once, predicting batch after batch."""

    def __init__(self, model: ModelAdapter, on_gpu: bool, torch_threads: int | None) -> None:
        _use_torch_threads(torch_threads)
        self.model = _moved_to_gpu(model) if on_gpu else model

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The model's probabilities for one batch."""
        return self.model.predict_proba(X)

    def pid(self) -> int:
        """The actor's process id (to watch it, or kill it in a test)."""
        return os.getpid()

    def device(self) -> str:
        """Where the model runs in this actor."""
        return str(getattr(self.model, "device", "cpu"))


def _learn_outputs(model: ModelAdapter, proba: np.ndarray) -> None:
    """Give this process's adapter the number of outputs its copies found on the actors.

    An adapter built without ``classes`` learns them from its first predictions;
    those happened in the actors, and ``model.classes_`` is read here afterwards.
    """
    learn = getattr(model, "_set_n_outputs", None)
    if learn is not None and getattr(proba, "ndim", 0) == 2:
        learn(proba.shape[1])


def _moved_to_gpu(model: ModelAdapter) -> ModelAdapter:
    """A torch adapter moved for good to the GPU Ray gave this actor; other models as they are.

    The adapter is this actor's own copy (unpickled from the object store), so it
    is changed in place. Ray sets ``CUDA_VISIBLE_DEVICES``, so ``"cuda"`` is the
    actor's GPU.
    """
    if getattr(model, "framework", None) != "torch" or not hasattr(model, "module"):
        return model
    import torch

    if not torch.cuda.is_available():
        return model
    device = torch.device("cuda")
    model.module.to(device)
    # No public hook moves an adapter yet: the module stays on the GPU, and the
    # adapter's eval scope then has nothing to move per call.
    model._device = device  # type: ignore[attr-defined]
    model._eval_scope = type(model._eval_scope)(model.module, device)  # type: ignore[attr-defined]
    return model


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
    torch_threads : int, optional
        Threads of torch in each task and actor, and the CPUs each asks Ray for
        (at most a node's CPUs). By default as many as torch uses in this
        process, so that results equal the local executor's bit for bit; 1 runs
        a unit per CPU, faster on few machines, but a convolution's gradient may
        then differ from the local run's in its last bit.

    Examples
    --------
    >>> from auditkit import audit
    >>> result = audit(model, data, preset="robustness", executor="ray")  # doctest: +SKIP
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 max_retries: int = 3, torch_threads: int | None = None) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise AuditkitError(BAD_VALUE.format(param="ray_address", expected="a Ray cluster "
                                                 "address such as 'auto' or 'host:6379'",
                                                 got=repr(address)))
        for name, value, least in (("num_cpus", num_cpus, 1), ("max_retries", max_retries, 0),
                                   ("torch_threads", torch_threads, 1)):
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
        self.torch_threads = torch_threads or _driver_torch_threads()
        self._task = ray.remote(_run_unit)

    @property
    def n_workers(self) -> int:
        """CPUs of the cluster, as Ray counts them now."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def _cpus_per_unit(self) -> int:
        """CPUs each task or actor asks for: its torch threads, at most a node's CPUs."""
        nodes = [node.get("Resources", {}).get("CPU", 0) for node in self._ray.nodes()
                 if node.get("Alive", True)]
        largest = int(max(nodes, default=0)) or self.n_workers
        return max(1, min(self.torch_threads or 1, largest))

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
        task = self._task.options(max_retries=self.max_retries, retry_exceptions=False,
                                  num_cpus=self._cpus_per_unit())
        refs = [task.remote(function, [shared_ref], unit, self.torch_threads)
                for unit in units]
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

    def predict_batches(self, model: ModelAdapter, batches: Iterable[np.ndarray], *,
                        max_in_flight: int | None = None) -> Iterator[np.ndarray]:
        """``model.predict_proba`` of each batch of inputs, yielded in the batches' order.

        The model goes to the object store once; an actor per worker (one per
        ``torch_threads`` CPUs; per GPU, with the torch model on it, when the
        cluster has GPUs) loads it once and predicts the batches sent to it.
        ``batches`` is consumed lazily: at most
        ``max_in_flight`` batches are submitted and not yet yielded, so memory
        stays bounded over a long stream. An actor that dies is restarted and its
        batches run again (up to ``max_retries`` times); the model's own
        exceptions are raised as themselves. The actors are killed when the
        iterator is exhausted, closed or fails.

        Parameters
        ----------
        model : ModelAdapter
        batches : iterable of array-like of shape (n_rows, ...)
        max_in_flight : int, optional
            Batches outstanding at most; default 2 per actor.

        Returns
        -------
        iterator of ndarray of shape (n_rows, n_classes)

        Examples
        --------
        >>> executor = RayExecutor()  # doctest: +SKIP
        >>> probabilities = np.concatenate(list(executor.predict_batches(
        ...     model, np.array_split(X, 100))))  # doctest: +SKIP
        """
        check_max_in_flight(max_in_flight)
        return self._predict_stream(model, batches, max_in_flight)

    def _predict_stream(self, model: ModelAdapter, batches: Iterable[np.ndarray],
                        max_in_flight: int | None) -> Iterator[np.ndarray]:
        ray = self._ray
        # Runs from the first next(): a stream never read, or empty, starts no actor.
        inputs = iter(batches)
        first = next(inputs, _END)
        if first is _END:
            return
        inputs = itertools.chain([first], inputs)
        del first
        n_gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = self._cpus_per_unit()
        n_actors = n_gpus or max(1, self.n_workers // cpus)
        limit = max_in_flight or IN_FLIGHT_PER_ACTOR * n_actors
        resources = {"num_gpus": 1, "num_cpus": 1} if n_gpus else {"num_cpus": cpus}
        actor_class = ray.remote(_Predictor).options(
            max_restarts=self.max_retries, max_task_retries=self.max_retries, **resources)
        model_ref = ray.put(model)
        actors = [actor_class.remote(model_ref, bool(n_gpus), self.torch_threads)
                  for _ in range(n_actors)]
        turns = itertools.cycle(actors)
        pending: deque[Any] = deque()  # result refs, in the batches' order
        exhausted = learnt = False
        try:
            while True:
                while not exhausted and len(pending) < limit:
                    X = next(inputs, _END)
                    exhausted = X is _END
                    if not exhausted:
                        pending.append(next(turns).predict.remote(X))
                if not pending:
                    return
                proba = _get(ray, pending.popleft())
                if not learnt:  # what the actors' copies learnt, this copy learns too
                    _learn_outputs(model, proba)
                    learnt = True
                yield proba
        finally:
            for ref in pending:  # batches nobody will read: dropped, not retried
                ray.cancel(ref, force=False)
            pending.clear()
            for actor in actors:
                ray.kill(actor, no_restart=True)

    def __repr__(self) -> str:
        return (f"RayExecutor(address={self.address!r}, max_retries={self.max_retries}, "
                f"torch_threads={self.torch_threads})")


def _get(ray: Any, ref: Any) -> Any:
    """The task's result; a unit's own exception re-raised as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
        if cause is not None:
            raise cause from None
        raise
