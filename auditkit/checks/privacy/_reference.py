"""Reference models of the privacy family: copies of the model trained with and without a record.

LiRA and RMIA calibrate a record's membership score against models trained
like the audited one, some with the record and some without it. This module
trains them once per audit: ``k`` copies (``model.fit_clone``: the zoo's own
training functions, ``sklearn.base.clone`` for scikit-learn), each on a
random half of a pool drawn from the scored records and some population
records, with LiRA's balanced assignment (every pool record is in the
training set of exactly ``k / 2`` models). The pool is twice the audited
model's training-set size when there are enough records, so that each
reference model trains on as many records as the audited one did (LiRA and
RMIA assume reference models trained like the target). The models train through the
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

__all__ = ["ReferenceOutputs", "cache_directory", "reference_outputs", "resolve_train_size",
           "reference_unavailable_reason"]

CACHE_ENV = "AUDITKIT_CACHE_DIR"
_CACHE_SUBDIR = "privacy-reference"
_TORCH_RNG_LOCK = threading.Lock()
# Bump when what is stored changes meaning, so that older files are never read as new ones.
_CACHE_FORMAT = 2

_NEEDS_REFERENCE = ("LiRA and RMIA need reference models trained like the audited one, "
                    "and this model cannot be retrained: {reason}")
_BAD_N_MODELS = BAD_VALUE.format(param="n_models", expected="an even integer >= 2 (LiRA's "
                                 "balanced assignment puts each record in half the models)",
                                 got="{got}")
_BAD_POPULATION = BAD_VALUE.format(param="population_size", expected="an integer >= 0",
                                   got="{got}")
_BAD_TRAIN_SIZE = BAD_VALUE.format(param="train_size", expected="None or an integer >= 1",
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
        Whether sample record ``i`` was in reference model ``j``'s training set
        (a record outside the pool is in none).
    population_included : bool ndarray of shape (k, m)
        The same for the population records.
    train_size : int
        Records each reference model was trained on.
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
    population_included: np.ndarray
    train_size: int
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


def _train_reference_model(shared: tuple[ModelAdapter, np.ndarray, np.ndarray, np.ndarray],
                           unit: tuple[int, np.ndarray, int]) -> np.ndarray:
    """One unit of work: fit a clone on its half of the pool; its probabilities on every candidate.

    Module-level, so that a process executor can send it by reference.

    Columns are put in the audited model's order (a scikit-learn clone that
    saw no record of a class has no column for it: probability 0 there).
    """
    model, pool_X, pool_y, candidates_X = shared
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
    proba = np.asarray(clone.predict_proba(candidates_X), dtype=np.float64)
    theirs, ours = np.asarray(clone.classes_), np.asarray(model.classes_)
    if len(theirs) == len(ours) and np.array_equal(theirs, ours):
        return proba
    aligned = np.zeros((len(candidates_X), len(ours)), dtype=np.float64)
    aligned[:, model.label_indices(theirs)] = proba
    return aligned


def _balanced_assignment(rng: np.random.Generator, n_models: int, n_records: int) -> np.ndarray:
    """Whether record i trains model j, shape (k, n): each record in exactly k/2 models (LiRA).

    Models come in pairs trained on complementary random halves, so that every
    model also trains on the same number of records (``n // 2``, the first of
    a pair on an odd pool).
    """
    assignment = np.zeros((n_models, n_records), dtype=bool)
    for pair in range(n_models // 2):
        order = rng.permutation(n_records)
        assignment[2 * pair, order[:n_records // 2]] = True
        assignment[2 * pair + 1, order[n_records // 2:]] = True
    return assignment


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
                                                       "included", "population_included")}
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, EOFError):
        return None
    shapes_ok = (str(arrays["key"]) == key
                 and arrays["proba"].shape == (k, n, n_classes)
                 and arrays["population_proba"].shape == (k, m, n_classes)
                 and arrays["included"].shape == (k, n) and arrays["included"].dtype == bool
                 and arrays["population_included"].shape == (k, m)
                 and arrays["population_included"].dtype == bool
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
           population_proba: np.ndarray, included: np.ndarray,
           population_included: np.ndarray) -> str | None:
    """Write the cache files (npz first, the JSON that vouches for it last); None or why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / f"{key}.npz", lambda file: np.savez_compressed(
            file, key=np.array(key), proba=proba, population_proba=population_proba,
            included=included, population_included=population_included))
        record = {"key": key, "format": _CACHE_FORMAT, "covers": covers,
                  "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_atomically(folder / f"{key}.json",
                          lambda file: file.write(json.dumps(record, indent=1).encode()))
    except OSError as exc:
        return f"not cached ({folder} is not writable: {exc.strerror or exc})"
    return None


def _pool_rows(rng: np.random.Generator, member: np.ndarray, m: int,
               size: int) -> tuple[np.ndarray, np.ndarray]:
    """Which sample records and which population records make a pool of ``size`` (sorted).

    Scored records first, so that as many as possible are IN some models
    (LiRA online needs them); when they are more than the pool holds, members
    and non-members are drawn in proportion, so that whether a record is in
    the pool does not depend on its membership. Population records fill the
    rest.
    """
    n = len(member)
    if size >= n + m:
        return np.arange(n), np.arange(m)
    if size >= n:
        return np.arange(n), np.sort(rng.choice(m, size - n, replace=False))
    members, others = np.flatnonzero(member), np.flatnonzero(~member)
    n_members = int(round(size * len(members) / max(n, 1)))
    chosen = np.r_[rng.choice(members, n_members, replace=False),
                   rng.choice(others, size - n_members, replace=False)]
    return np.sort(chosen), np.arange(0)


def resolve_train_size(n_target: int | None, n_pool: int, train_size: int | None) -> int:
    """Records per reference model: ``train_size``, else the target's, at most half the pool.

    Parameters
    ----------
    n_target : int or None
        The audited model's training-set size (``len(data.train)``).
    n_pool : int
        Scored plus population records available to the reference models.
    train_size : int or None
        An explicit size; None: ``n_target``.

    Returns
    -------
    int
        ``min(train_size or n_target, n_pool // 2)``, at least 1.
    """
    wanted = train_size if train_size is not None else n_target
    half = max(n_pool // 2, 1)
    return half if wanted is None else max(1, min(int(wanted), half))


def _size_reason(size: int, n_target: int | None, train_size: int | None, n_candidates: int
                 ) -> str:
    """Why each reference model trains on ``size`` records, in a few words."""
    if train_size is not None:
        return "as asked" if size == train_size else \
            f"fewer than the {train_size:,} asked: at most half of {n_candidates:,} candidates"
    if n_target is not None and size == n_target:
        return "as many as the audited model was trained on"
    if n_target is None:
        return f"half of {n_candidates:,} candidates; the audited model's training set is unknown"
    return (f"fewer than the {n_target:,} the audited model was trained on: at most half of "
            f"{n_candidates:,} candidates")


def _pool_words(sample: MembershipSample, pool_sample: np.ndarray, m: int,
                pool_population: np.ndarray) -> str:
    """What the pool is made of: how many scored members, non-members and population records."""
    members = int(sample.member[pool_sample].sum())
    return (f"{members:,} of the {sample.n_members:,} scored members, "
            f"{len(pool_sample) - members:,} of the {sample.n_non_members:,} scored "
            f"non-members, {len(pool_population):,} of {m:,} population records")


def reference_outputs(model: ModelAdapter, data: AuditData, sample: MembershipSample,
                      context: CheckContext, *, n_models: int = 4, population_size: int = 1000,
                      train_size: int | None = None,
                      cache_dir: str | None = None) -> ReferenceOutputs:
    """Train (or read from the cache) ``n_models`` reference models and return their outputs.

    The candidates are the sample's records plus up to ``population_size``
    records of ``sample.population`` (rows of ``data.X``, drawn with the
    audit's seed). Each reference model trains on ``t`` records, ``t`` being
    ``train_size`` or else the audited model's training-set size
    (``len(data.train)``), at most half the candidates; the pool is ``2 t``
    of them (all when ``2 t`` is their number; else the scored records
    first, members and non-members in proportion, then population records,
    see :func:`_pool_rows`). Each pool record is in the training set of
    exactly half the models (LiRA's balanced assignment); a candidate outside
    the pool is in none. Model ``j`` is ``model.fit_clone`` on its half with
    its own ``random_state``. The models train through the
    executor (:func:`~auditkit.checks._base.map_units`), in parallel when it
    has workers (torch refits, which seed torch's process-wide generator,
    take turns within one process, so that each follows its seed). The
    result is shared once per audit and cached on disk under ``cache_dir``
    (see :func:`cache_directory`), keyed by the SHA-256 of the model's
    fingerprint and training function, the data's fingerprint, the
    sample's records, the population records, ``n_models``,
    ``population_size``, ``t``, the audit's seed and the auditkit version. A cache
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
        At most this many population records are candidates for the pool.
    train_size : int, optional
        Records each reference model trains on; default: the audited
        model's training-set size. At most half the candidates.
    cache_dir : str, optional
        Root of the disk cache.

    Returns
    -------
    ReferenceOutputs

    Raises
    ------
    AuditkitError
        When ``n_models``, ``population_size`` or ``train_size`` is invalid.
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
    if train_size is not None and (isinstance(train_size, bool) or not isinstance(
            train_size, (int, np.integer)) or train_size < 1):
        raise AuditkitError(_BAD_TRAIN_SIZE.format(got=repr(train_size)))
    n_models, population_size = int(n_models), int(population_size)
    rng = context.rng("privacy.reference")
    n_population = min(population_size, len(sample.population))
    population_index = np.sort(rng.choice(sample.population, size=n_population, replace=False))
    n, m = len(sample.X), len(population_index)
    n_target = len(data.train) if data.train is not None else None
    size = resolve_train_size(n_target, n + m, train_size)
    model_fingerprint = model.fingerprint()
    covers = {
        "format": _CACHE_FORMAT, "auditkit_version": __version__,
        "model_fingerprint": model_fingerprint, "trainer": _trainer_name(model),
        "data_fingerprint": data.fingerprint(),
        "sample": _digest(sample.X, sample.y, sample.member, sample.source_index),
        "population_index": _digest(population_index),
        "n_models": n_models, "population_size": population_size, "train_size": size,
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
        pool_sample, pool_population = _pool_rows(rng, sample.member, m, 2 * size)
        n_pool = len(pool_sample) + len(pool_population)
        why = _size_reason(size, n_target, train_size, n + m)
        made_of = _pool_words(sample, pool_sample, m, pool_population)
        head = (f"{n_models} reference models, each trained by {covers['trainer']} on "
                f"{size:,} records ({why}): a random half of a pool of {n_pool:,} ({made_of})")
        if cached is not None:
            return ReferenceOutputs(cached["proba"], cached["population_proba"],
                                    population_index, cached["included"],
                                    cached["population_included"], size, 0.0, True, key,
                                    f"{head}; read from the cache ({folder}, key {key[:12]}).")
        pool_rows = population_index[pool_population]
        pool_X = np.concatenate([sample.X[pool_sample], data.X[pool_rows]])
        pool_y = np.concatenate([sample.y[pool_sample], data.y[pool_rows]])
        assignment = _balanced_assignment(rng, n_models, n_pool)
        seeds = rng.integers(0, 2**31 - 1, size=n_models)
        units = [(j, np.flatnonzero(assignment[j]), int(seeds[j])) for j in range(n_models)]
        # Outputs on every candidate, in or out of the pool.
        candidates_X = np.concatenate([sample.X, data.X[population_index]])
        started = time.perf_counter()
        outputs = np.stack(map_units(context, _train_reference_model, units,
                                     description="Training reference models",
                                     shared=(model, pool_X, pool_y, candidates_X)))
        seconds = time.perf_counter() - started
        proba, population_proba = outputs[:, :n], outputs[:, n:]
        included = np.zeros((n_models, n), dtype=bool)
        included[:, pool_sample] = assignment[:, :len(pool_sample)]
        population_included = np.zeros((n_models, m), dtype=bool)
        population_included[:, pool_population] = assignment[:, len(pool_sample):]
        note = (_store(folder, key, covers, proba, population_proba, included,
                       population_included) if cacheable
                else "not cached (the model has no fingerprint to key the cache with)")
        where = note or f"cached in {folder} (key {key[:12]}) for the next audit"
        return ReferenceOutputs(proba, population_proba, population_index, included,
                                population_included, size, seconds, False, key,
                                f"{head}, in {seconds:.1f} s; {where}.")

    return context.shared("privacy.reference", key, compute)
