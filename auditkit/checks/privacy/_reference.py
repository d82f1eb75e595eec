"""Reference models of the privacy family: copies of the model trained with and without a record.

LiRA and RMIA calibrate a record's membership score against models trained
like the audited one, some with the record and some without it. This module
trains them once per audit: ``k`` copies (``model.fit_clone``: the zoo's own
training functions, ``sklearn.base.clone`` for scikit-learn), each on a
random half of a pool made of the scored records and some population
records, with LiRA's balanced assignment (every pool record is in the
training set of exactly ``k / 2`` models). The models train through the
executor, so in parallel when it has workers, and their outputs are cached
on disk under a key of the model, the data, the records and the settings,
so that a second audit of the same model reuses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..._version import __version__
from ...exceptions import BAD_VALUE, AuditkitError
from ...inputs import AuditData, ModelAdapter
from .._base import CheckContext, map_units
from ._common import MembershipSample, target_proba

__all__ = ["ReferenceOutputs", "cache_directory", "reference_outputs",
           "reference_unavailable_reason"]

CACHE_ENV = "AUDITKIT_CACHE_DIR"
_CACHE_SUBDIR = "privacy-reference"
_TORCH_RNG_LOCK = threading.Lock()
# Bump when what is stored changes meaning, so that older files are never read as new ones.
_CACHE_FORMAT = 1

_NEEDS_REFERENCE = ("LiRA and RMIA need reference models trained like the audited one, "
                    "and this model cannot be retrained: {reason}")
_BAD_N_MODELS = BAD_VALUE.format(param="n_models", expected="an even integer >= 2 (LiRA's "
                                 "balanced assignment puts each record in half the models)",
                                 got="{got}")
_BAD_POPULATION = BAD_VALUE.format(param="population_size", expected="an integer >= 0",
                                   got="{got}")


@dataclass(frozen=True)
class ReferenceOutputs:
    """What the reference models output, and how they were obtained.

    Attributes
    ----------
    proba : ndarray of shape (k, n, n_classes)
        Each reference model's probabilities on ``MembershipSample.X``, in
        the audited model's column order.
    population_proba : ndarray of shape (k, m, n_classes)
        On the population records (RMIA's comparison records; ``m`` may be 0).
    population_index : int ndarray of shape (m,)
        Rows of ``data.X`` those population records are.
    included : bool ndarray of shape (k, n)
        Whether sample record ``i`` was in reference model ``j``'s training set.
    seconds_training : float
        Time spent training (0 when read from the cache).
    from_cache : bool
    cache_key : str
        SHA-256 of what the outputs depend on (see :func:`reference_outputs`).
    description : str
        One sentence: how many models, trained on what, by which function, and
        whether they came from the cache.
    """

    proba: np.ndarray
    population_proba: np.ndarray
    population_index: np.ndarray
    included: np.ndarray
    seconds_training: float
    from_cache: bool
    cache_key: str
    description: str

    @property
    def n_models(self) -> int:
        """Number of reference models ``k``."""
        return int(self.proba.shape[0])


def reference_unavailable_reason(model: ModelAdapter) -> str | None:
    """Why reference models cannot be trained for ``model`` (a sentence), or None when they can.

    Parameters
    ----------
    model : ModelAdapter

    Returns
    -------
    str or None
        For a torch module without a training function, the sentence says to
        pass ``wrap_model(module, train_fn=...)``; a black box cannot be
        retrained at all.
    """
    reason = model.refit_unavailable_reason
    if reason is None:
        return None
    return _NEEDS_REFERENCE.format(reason=reason[0].lower() + reason[1:])


def cache_directory(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where reference-model outputs are cached.

    ``cache_dir`` if given, else the environment variable ``AUDITKIT_CACHE_DIR``,
    else ``~/.cache/auditkit``; the files live in its ``privacy-reference``
    folder.
    """
    root = cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV)
    base = Path(root) if root else Path.home() / ".cache" / "auditkit"
    return base / _CACHE_SUBDIR


def _train_reference_model(shared: tuple[ModelAdapter, np.ndarray, np.ndarray],
                           unit: tuple[int, np.ndarray, int]) -> np.ndarray:
    """One unit of work: fit a clone on its half of the pool; its probabilities on the pool.

    Module-level, so that a process executor can send it by reference.

    Columns are put in the audited model's order (a scikit-learn clone that
    saw no record of a class has no column for it: probability 0 there).
    """
    model, pool_X, pool_y = shared
    _, train_index, seed = unit
    # A torch refit seeds torch's process-wide generator (initialisation, dropout): two on
    # threads at once would draw from it in turn and neither would follow its seed. They
    # take turns within a process (torch already spreads one over the cores) and run in
    # parallel across processes; scikit-learn clones, seeded by random_state, run at once.
    lock = _TORCH_RNG_LOCK if getattr(model, "framework", None) == "torch" \
        else contextlib.nullcontext()
    with lock:
        clone = model.fit_clone(pool_X[train_index], pool_y[train_index],
                                random_state=int(seed))
    proba = np.asarray(clone.predict_proba(pool_X), dtype=np.float64)
    theirs, ours = np.asarray(clone.classes_), np.asarray(model.classes_)
    if len(theirs) == len(ours) and np.array_equal(theirs, ours):
        return proba
    aligned = np.zeros((len(pool_X), len(ours)), dtype=np.float64)
    aligned[:, model.label_indices(theirs)] = proba
    return aligned


def _balanced_assignment(rng: np.random.Generator, n_models: int, n_records: int) -> np.ndarray:
    """Whether record i trains model j, shape (k, n): each record in exactly k/2 models (LiRA)."""
    ranks = rng.random((n_models, n_records)).argsort(axis=0).argsort(axis=0)
    return ranks < n_models // 2


def _digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        digest.update(f"{array.shape}{array.dtype.str}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes() if array.dtype != object
                      else repr(array.tolist()).encode())
    return digest.hexdigest()


def _trainer_name(model: ModelAdapter) -> str:
    """The function that trains the clones: what the cache key must change with."""
    train_fn = getattr(model, "train_fn", None)
    if train_fn is not None:
        return f"{getattr(train_fn, '__module__', '?')}.{getattr(train_fn, '__qualname__', '?')}"
    estimator = getattr(model, "estimator", None)
    if estimator is not None:
        return f"sklearn.base.clone({type(estimator).__name__})"
    return type(model).__name__


def _load_cached(folder: Path, key: str, covers: dict[str, Any], k: int, n: int, m: int,
                 n_classes: int) -> dict[str, np.ndarray] | None:
    """The cached arrays for ``key``, or None when absent, corrupt or not what the key covers."""
    try:
        recorded = json.loads((folder / f"{key}.json").read_text())
        if recorded.get("key") != key or recorded.get("covers") != covers:
            return None
        with np.load(folder / f"{key}.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ("key", "proba", "population_proba",
                                                       "included")}
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, EOFError):
        return None
    shapes_ok = (str(arrays["key"]) == key
                 and arrays["proba"].shape == (k, n, n_classes)
                 and arrays["population_proba"].shape == (k, m, n_classes)
                 and arrays["included"].shape == (k, n) and arrays["included"].dtype == bool
                 and np.isfinite(arrays["proba"]).all()
                 and np.isfinite(arrays["population_proba"]).all())
    return arrays if shapes_ok else None


def _write_atomically(path: Path, write: Any) -> None:
    """``write(file)`` into a temporary file beside ``path``, then rename it over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _store(folder: Path, key: str, covers: dict[str, Any], proba: np.ndarray,
           population_proba: np.ndarray, included: np.ndarray) -> str | None:
    """Write the cache files (npz first, the JSON that vouches for it last); None or why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / f"{key}.npz", lambda file: np.savez_compressed(
            file, key=np.array(key), proba=proba, population_proba=population_proba,
            included=included))
        record = {"key": key, "format": _CACHE_FORMAT, "covers": covers,
                  "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_atomically(folder / f"{key}.json",
                          lambda file: file.write(json.dumps(record, indent=1).encode()))
    except OSError as exc:
        return f"not cached ({folder} is not writable: {exc.strerror or exc})"
    return None


def reference_outputs(model: ModelAdapter, data: AuditData, sample: MembershipSample,
                      context: CheckContext, *, n_models: int = 4, population_size: int = 1000,
                      cache_dir: str | None = None) -> ReferenceOutputs:
    """Train (or read from the cache) ``n_models`` reference models and return their outputs.

    The pool is the sample's records plus up to ``population_size`` records of
    ``sample.population`` (rows of ``data.X``, drawn with the audit's seed).
    Each pool record is in the training set of exactly half the models
    (LiRA's balanced assignment); model ``j`` is ``model.fit_clone`` on its
    half with its own ``random_state``. The models train through the
    executor (:func:`~auditkit.checks._base.map_units`), in parallel when it
    has workers (torch refits, which seed torch's process-wide generator,
    take turns within one process, so that each follows its seed). The
    result is shared once per audit and cached on disk under ``cache_dir``
    (see :func:`cache_directory`), keyed by the SHA-256 of the model's
    fingerprint and training function, the data's fingerprint, the
    sample's records, the population records, ``n_models``,
    ``population_size``, the audit's seed and the auditkit version. A cache
    file that is corrupt or does not match what its key covers is ignored and
    rewritten.

    Parameters
    ----------
    model : ModelAdapter
        The audited model; it must be able to refit (see
        :func:`reference_unavailable_reason`).
    data : AuditData
    sample : MembershipSample
    context : CheckContext
    n_models : int, default=4
        Number of reference models ``k``; even, at least 2.
    population_size : int, default=1000
        At most this many population records join the pool.
    cache_dir : str, optional
        Root of the disk cache.

    Returns
    -------
    ReferenceOutputs

    Raises
    ------
    AuditkitError
        When ``n_models`` or ``population_size`` is invalid.
    ModelError
        When the model cannot refit.

    Examples
    --------
    >>> outputs = reference_outputs(model, data, sample, context, n_models=2)  # doctest: +SKIP
    >>> outputs.proba.shape  # (2, n, n_classes)  # doctest: +SKIP
    """
    if isinstance(n_models, bool) or not isinstance(n_models, (int, np.integer)) \
            or n_models < 2 or n_models % 2:
        raise AuditkitError(_BAD_N_MODELS.format(got=repr(n_models)))
    if isinstance(population_size, bool) or not isinstance(population_size, (int, np.integer)) \
            or population_size < 0:
        raise AuditkitError(_BAD_POPULATION.format(got=repr(population_size)))
    n_models, population_size = int(n_models), int(population_size)
    rng = context.rng("privacy.reference")
    n_population = min(population_size, len(sample.population))
    population_index = np.sort(rng.choice(sample.population, size=n_population, replace=False))
    n, m = len(sample.X), len(population_index)
    model_fingerprint = model.fingerprint()
    covers = {
        "format": _CACHE_FORMAT, "auditkit_version": __version__,
        "model_fingerprint": model_fingerprint, "trainer": _trainer_name(model),
        "data_fingerprint": data.fingerprint(),
        "sample": _digest(sample.X, sample.y, sample.member, sample.source_index),
        "population_index": _digest(population_index),
        "n_models": n_models, "population_size": population_size,
        "random_state": int(context.random_state),
    }
    key = hashlib.sha256(json.dumps(covers, sort_keys=True).encode()).hexdigest()

    def compute() -> ReferenceOutputs:
        folder = cache_directory(cache_dir)
        # The audited model's own outputs (shared with the attacks) fix its classes.
        n_classes = target_proba(model, sample, context).shape[1]
        cacheable = model_fingerprint is not None
        cached = _load_cached(folder, key, covers, n_models, n, m, n_classes) if cacheable \
            else None
        pool = f"{n + m:,} records ({n:,} scored, {m:,} population)"
        head = (f"{n_models} reference models, each trained by {covers['trainer']} on a "
                f"random half of {pool}")
        if cached is not None:
            return ReferenceOutputs(cached["proba"], cached["population_proba"],
                                    population_index, cached["included"], 0.0, True, key,
                                    f"{head}; read from the cache ({folder}, key {key[:12]}).")
        pool_X = np.concatenate([sample.X, data.X[population_index]])
        pool_y = np.concatenate([sample.y, data.y[population_index]])
        assignment = _balanced_assignment(rng, n_models, n + m)
        seeds = rng.integers(0, 2**31 - 1, size=n_models)
        units = [(j, np.flatnonzero(assignment[j]), int(seeds[j])) for j in range(n_models)]
        started = time.perf_counter()
        outputs = np.stack(map_units(context, _train_reference_model, units,
                                     description="Training reference models",
                                     shared=(model, pool_X, pool_y)))
        seconds = time.perf_counter() - started
        proba, population_proba = outputs[:, :n], outputs[:, n:]
        included = assignment[:, :n]
        note = (_store(folder, key, covers, proba, population_proba, included) if cacheable
                else "not cached (the model has no fingerprint to key the cache with)")
        where = note or f"cached in {folder} (key {key[:12]}) for the next audit"
        return ReferenceOutputs(proba, population_proba, population_index, included, seconds,
                                False, key, f"{head}, in {seconds:.1f} s; {where}.")

    return context.shared("privacy.reference", key, compute)
