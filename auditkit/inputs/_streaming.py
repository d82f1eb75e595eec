"""StreamingData: audit data that does not fit in memory, read batch by batch.

A Parquet file or dataset directory, a pandas or pyarrow table, or an
iterator of batches is read once, when the audit runs. That one pass

- predicts every batch (on the executor: a Ray cluster's inference actors
  when the audit runs on Ray) and keeps, for every row, its label, its
  sensitive features and the model's probabilities: the
  :class:`~auditkit.inputs.Population` that the checks that stream read
  (performance, and the group-fairness checks);
- keeps the inputs of a seeded sample of rows (``sample_size``): the
  :class:`~auditkit.inputs.AuditData` that the checks needing random access
  read (explanations, attacks, privacy, OOD). Row i is kept when its key, a
  SplitMix64 hash of the seed and i, is among the ``sample_size`` smallest, so
  the sample does not depend on how the rows were cut into batches;
- hashes the inputs, labels and sensitive features, so the report's data
  fingerprint covers every row.

Memory is that of one batch of inputs, the sample, and a few numbers per row.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, fields
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from .._stats import SPLITMIX_GAMMA, splitmix64
from ..exceptions import (
    BAD_TYPE,
    BAD_VALUE,
    SINGLE_CLASS,
    UNKNOWN_LABELS,
    AuditkitError,
    DataValidationError,
    ModelError,
)
from ._data import AuditData, _check_inputs, _check_labels, _check_sensitive, _to_array
from ._population import Population

__all__ = ["StreamingData", "row_keys"]

#: Options of the sample's AuditData that streamed data cannot take (the stream gives them).
_STREAM_FIELDS = ("X", "y", "sensitive", "texts", "ood_texts")
_OPTIONS = tuple(f.name for f in fields(AuditData) if f.init and f.name not in _STREAM_FIELDS)

#: Rows per model call while streaming are a multiple of this and of the model's batch size
#: (the adapters' own batches then fall where they fall for the same rows held in memory),
#: about ``_PREDICT_BYTES`` of inputs.
_ALIGN_ROWS = 8_192
_PREDICT_BYTES = 8 * 2**20

ONE_PASS = ("The batches of this StreamingData were an iterator, which an audit reads once, and "
            "it has been read. Pass a function that returns a new iterator, or build a new "
            "StreamingData, to audit again.")


def row_keys(seed: int, rows: np.ndarray) -> np.ndarray:
    """SplitMix64 hash of (seed, row): a uniform 64-bit key per row, whatever the batching.

    Parameters
    ----------
    seed : int
        In [0, 2**64).
    rows : ndarray of int
        Row positions.

    Returns
    -------
    ndarray of uint64
        Output ``rows`` (from 0) of the SplitMix64 generator seeded with ``seed``
        (Steele, Lea & Flood 2014).
    """
    return splitmix64(np.uint64(seed) + SPLITMIX_GAMMA
                      * (np.asarray(rows, dtype=np.uint64) + np.uint64(1)))


@dataclass
class _Batch:
    X: np.ndarray
    y: np.ndarray
    sensitive: pd.DataFrame | None


class _Sample:
    """The ``size`` rows with the smallest keys seen so far (bottom-k sampling)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        self.keys = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)
        self.parts: list[_Batch] = []

    def offer(self, batch: _Batch, start: int) -> None:
        rows = np.arange(start, start + len(batch.y), dtype=np.int64)
        keys = row_keys(self.seed, rows)
        if len(self.keys) >= self.size:  # only keys below the current k-th can enter
            cut = self.keys.max()
            take = np.flatnonzero(keys < cut)
            if not len(take):
                return
        else:
            take = np.arange(len(rows))
        self.keys = np.concatenate([self.keys, keys[take]])
        self.rows = np.concatenate([self.rows, rows[take]])
        self.parts.append(_Batch(batch.X[take], batch.y[take], None if batch.sensitive is None
                                 else batch.sensitive.iloc[take].reset_index(drop=True)))
        if len(self.keys) > 2 * self.size + 1024:
            self._shrink()

    def _shrink(self) -> None:
        if len(self.keys) <= self.size:
            return
        keep = np.sort(np.argpartition(self.keys, self.size - 1)[: self.size])
        merged = self._merged()
        self.keys, self.rows = self.keys[keep], self.rows[keep]
        self.parts = [_Batch(merged.X[keep], merged.y[keep], None if merged.sensitive is None
                             else merged.sensitive.iloc[keep].reset_index(drop=True))]

    def _merged(self) -> _Batch:
        if len(self.parts) == 1:
            return self.parts[0]
        sens = [p.sensitive for p in self.parts]
        return _Batch(np.concatenate([p.X for p in self.parts]),
                      np.concatenate([p.y for p in self.parts]),
                      None if sens[0] is None else pd.concat(sens, ignore_index=True))

    def result(self) -> tuple[np.ndarray, _Batch]:
        """Row positions (sorted) and their batch."""
        self._shrink()
        merged = self._merged()
        order = np.argsort(self.rows, kind="stable")
        return self.rows[order], _Batch(merged.X[order], merged.y[order],
                                        None if merged.sensitive is None
                                        else merged.sensitive.iloc[order].reset_index(drop=True))


class _Digest:
    """SHA-256 of inputs, labels and sensitive features, the same whatever the batching."""

    def __init__(self) -> None:
        self.parts = {name: hashlib.sha256() for name in ("X", "y")}
        self.shape: tuple[int, ...] | None = None
        self.dtypes: dict[str, str] = {}

    def update(self, batch: _Batch) -> None:
        self.shape = batch.X.shape[1:]
        self.dtypes = {"X": batch.X.dtype.str, "y": batch.y.dtype.str}
        self.parts["X"].update(np.ascontiguousarray(batch.X).tobytes())
        if batch.y.dtype == object:
            self.parts["y"].update("".join(f"{v}\x1f" for v in batch.y).encode())
        else:
            self.parts["y"].update(np.ascontiguousarray(batch.y).tobytes())
        if batch.sensitive is not None:
            for column in batch.sensitive.columns:
                values = batch.sensitive[column].astype(str)
                part = self.parts.setdefault(f"sensitive[{column!r}]", hashlib.sha256())
                part.update("".join(f"{v}\x1f" for v in values).encode())

    def hexdigest(self, n_rows: int, extra: Sequence[tuple[str, Any]]) -> str:
        digest = hashlib.sha256(f"streamed|rows:{n_rows}|shape:{self.shape}|{self.dtypes}".encode())
        for name, part in self.parts.items():
            digest.update(f"|{name}:".encode() + part.hexdigest().encode())
        for label, value in extra:
            digest.update(f"|{label}:".encode() + repr(value).encode())
        return digest.hexdigest()


def _positive_int(value: Any, param: str, least: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Integral, np.integer)) \
            or value < least:
        raise DataValidationError(BAD_VALUE.format(param=param, expected=f"an integer >= {least}",
                                                   got=repr(value)))
    return int(value)


class StreamingData:
    """Data too large for memory, read batch by batch when the audit runs.

    Build one with :meth:`AuditData.from_parquet`, :meth:`AuditData.from_table`
    or :meth:`AuditData.from_batches`, and pass it to :func:`auditkit.audit`
    like an :class:`AuditData`. The audit reads the batches once: it predicts
    each, keeps every row's label, sensitive features and probabilities (the
    performance and group-fairness checks use every row) and the inputs of a
    seeded sample of ``sample_size`` rows (the checks that need inputs use
    the sample; each result says how many rows it read).

    Parameters
    ----------
    batches : callable returning an iterable, or an iterable
        Batches ``(X, y)`` or ``(X, y, sensitive)``, with ``X`` of shape
        (m, ...), ``y`` of shape (m,), ``sensitive`` a DataFrame, mapping or
        array of m rows. A function returning a new iterator lets the data be
        audited more than once; a plain iterator is read once.
    source : str
        Where the rows come from, for the report.
    n_rows : int, optional
        Number of rows, when known in advance (shown by the progress bar).
    sample_size : int, default=10_000
        Rows kept with their inputs for the checks that need random access.
    random_state : int, default=0
        Seeds the sample.
    **options
        Other :class:`AuditData` parameters (``modality``, ``feature_names``,
        ``class_names``, ``train``, ``reference``, ``name``, ...), applied to
        the sample.
    """

    def __init__(self, batches: Callable[[], Iterable[Any]] | Iterable[Any], *, source: str,
                 n_rows: int | None = None, sample_size: int = 10_000, random_state: int = 0,
                 **options: Any) -> None:
        if not callable(batches) and not isinstance(batches, Iterable):
            raise DataValidationError(BAD_TYPE.format(
                param="batches", expected="an iterable of (X, y[, sensitive]) batches or a "
                "function returning one", got=type(batches).__name__))
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise DataValidationError(BAD_VALUE.format(
                param=unknown[0], expected=f"one of the AuditData options {list(_OPTIONS)} "
                "(X, y and sensitive come from the batches)", got=f"{unknown[0]}=..."))
        self._batches = batches
        self._read = False
        self.source = str(source)
        self.n_rows = None if n_rows is None else _positive_int(n_rows, "n_rows")
        self.sample_size = _positive_int(sample_size, "sample_size", 2)
        self.random_state = _positive_int(random_state, "random_state", 0)
        if self.random_state > 2**32 - 1:
            raise DataValidationError(BAD_VALUE.format(param="random_state", expected="an "
                                                       "integer in [0, 2**32 - 1]",
                                                       got=repr(random_state)))
        self.options = dict(options)
        for key in ("feature_names", "categorical_features", "class_names", "mutable_features"):
            value = self.options.get(key)
            if isinstance(value, (list, np.ndarray)):  # one spelling, one fingerprint
                self.options[key] = tuple(value)
        self.modality = str(options.get("modality", "tabular"))

    def __repr__(self) -> str:
        rows = f"{self.n_rows:,} rows" if self.n_rows is not None else "rows not known yet"
        return f"StreamingData({self.source}, {rows}, sample_size={self.sample_size:,})"

    def _iterate(self) -> Iterator[_Batch]:
        if callable(self._batches):
            source = self._batches()
        else:
            if self._read:
                raise DataValidationError(ONE_PASS)
            self._read = True
            source = self._batches
        expected_shape = None
        start = 0
        for i, item in enumerate(source):
            batch = self._check_batch(item, i, start, expected_shape)
            expected_shape = batch.X.shape[1:]
            start += len(batch.y)
            yield batch

    def _check_batch(self, item: Any, i: int, start: int,
                     shape: tuple[int, ...] | None) -> _Batch:
        where = f"batches[{i}]"
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise DataValidationError(BAD_TYPE.format(
                param=where, expected="a tuple (X, y) or (X, y, sensitive)",
                got=type(item).__name__ if not isinstance(item, (tuple, list))
                else f"a {type(item).__name__} of {len(item)} items"))
        X = _check_inputs(_to_array(item[0], f"{where} X"), f"{where} X", self.modality, shape)
        m = len(X)
        y = _check_labels(item[1], f"{where} y", m, f"{where} X")
        sensitive = _check_sensitive(item[2] if len(item) == 3 else None, m,
                                     param=f"{where} sensitive", other=f"{where} X")
        return _Batch(X, y, sensitive)

    def collect(self, model: Any, *, executor: Any = None,
                progress: Any = None) -> AuditData:
        """Read every batch once: predictions, labels and sensitive features of every row.

        Parameters
        ----------
        model : ModelAdapter
            Predicts each batch.
        executor : Executor, optional
            Its ``predict_batches`` (a Ray cluster's inference actors) predicts
            the batches when it has one; else they are predicted here.
        progress : Progress, optional

        Returns
        -------
        AuditData
            The seeded sample, with every row's labels, sensitive features and
            probabilities in :attr:`AuditData.population`.
        """
        sample = _Sample(self.sample_size, int(row_keys(self.random_state, np.array([0]))[0]))
        digest = _Digest()
        labels: list[np.ndarray] = []
        sensitive: list[pd.DataFrame] = []
        probas: list[np.ndarray] = []
        counter = [0, 0]  # batches read, rows read

        def inputs() -> Iterator[np.ndarray]:
            for batch in _reading(self._iterate(), self.source):
                sample.offer(batch, counter[1])
                digest.update(batch)
                counter[0] += 1
                counter[1] += len(batch.y)
                labels.append(batch.y)
                if batch.sensitive is not None:
                    sensitive.append(_compact(batch.sensitive))
                yield batch.X

        predict = getattr(executor, "predict_batches", None)
        chunks = _rechunk(inputs(), getattr(model, "batch_size", None))
        stream = _predicting(predict(model, chunks) if predict is not None else
                             (model.predict_proba(X) for X in chunks), self.source)
        bar_context = (progress.bar(total=self.n_rows, description="reading and predicting rows",
                                    unit="row") if progress is not None else nullcontext(None))
        with bar_context as bar:
            for proba in stream:
                probas.append(np.asarray(proba, dtype=np.float64))
                if bar is not None:
                    bar.update(len(proba))
        if not labels:
            raise DataValidationError(BAD_VALUE.format(param="batches", expected="at least one "
                                                       "batch of rows", got="no batches"))
        return self._build(model, sample, digest, labels, sensitive, probas, counter[0])

    def _build(self, model: Any, sample: _Sample, digest: _Digest, labels: list[np.ndarray],
               sensitive: list[pd.DataFrame], probas: list[np.ndarray],
               n_batches: int) -> AuditData:
        y = np.concatenate(labels)
        values = np.unique(y)
        if len(values) < 2:
            raise DataValidationError(SINGLE_CLASS.format(param="y", label=values[0].item()))
        classes = model.classes_
        unknown = np.setdiff1d(values, classes)
        if len(unknown):
            raise DataValidationError(UNKNOWN_LABELS.format(
                param="y", expected=classes.tolist(), got=f"labels {unknown[:5].tolist()}"))
        all_sensitive = _concat_sensitive(sensitive) if sensitive else None
        proba = np.concatenate(probas)
        proba.setflags(write=False)
        y.setflags(write=False)
        rows, kept = sample.result()
        data = AuditData(kept.X, kept.y, sensitive=kept.sensitive, **self.options)
        population = Population(y=y, sensitive=all_sensitive, proba=proba, sample_rows=rows,
                                source=self.source, n_batches=n_batches,
                                sample_seed=self.random_state)
        extra = [(label, value) for label, value in data._fingerprint_fields()
                 if label not in ("X", "y", "sensitive")]
        data._fingerprint.append(digest.hexdigest(len(y), extra))
        data._population.append(population)
        return data


def predict_rows(batch_size: int | None, row_bytes: int) -> int:
    """Rows per model call: a multiple of the model's batches, about 8 MiB of inputs."""
    align = math.lcm(_ALIGN_ROWS, int(batch_size or 1))
    return align * max(1, _PREDICT_BYTES // max(1, align * row_bytes))


def _rechunk(batches: Iterator[np.ndarray], batch_size: int | None) -> Iterator[np.ndarray]:
    """The rows of ``batches`` again, cut at multiples of :func:`predict_rows` from the first.

    A model may round the last bits of a row differently in a batch of another
    shape (a float32 network's kernels do); cutting where an in-memory
    prediction of the same rows cuts gives the same probabilities, whatever
    batches the data came in.
    """
    parts: list[np.ndarray] = []
    held = 0
    size = 0
    for X in batches:
        size = size or predict_rows(batch_size, X[:1].nbytes)
        parts.append(X)
        held += len(X)
        while held >= size:
            joined = np.concatenate(parts) if len(parts) > 1 else parts[0]
            yield joined[:size]
            rest = joined[size:]
            parts, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield np.concatenate(parts) if len(parts) > 1 else parts[0]


def _reading(batches: Iterator[_Batch], source: str) -> Iterator[_Batch]:
    """The source's batches; a failure to read one is one sentence naming the source."""
    try:
        yield from batches
    except AuditkitError:
        raise
    except Exception as exc:  # pyarrow, the user's iterator: anything may fail mid-way
        raise DataValidationError(f"Reading the streamed data ({source}) failed with "
                                  f"{type(exc).__name__}: {exc}") from exc


def _predicting(probas: Iterator[np.ndarray], source: str) -> Iterator[np.ndarray]:
    """Predictions of each batch; the user's model failing is one sentence naming the source.

    Reading errors are already :class:`AuditkitError` (see :func:`_reading`), so
    any other exception here comes from the model.
    """
    try:
        yield from probas
    except AuditkitError:
        raise
    except Exception as exc:  # the user's model: anything may go wrong on some batch
        raise ModelError(f"The model raised {type(exc).__name__} on a batch of the streamed "
                         f"data ({source}): {exc}") from exc


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categories: a few bytes per row instead of a Python string."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            values = values.astype(str).astype("category")
        out[column] = values
    return pd.DataFrame(out)


def _concat_sensitive(parts: list[pd.DataFrame]) -> pd.DataFrame:
    columns = list(parts[0].columns)
    out = {}
    for column in columns:
        pieces = [p[column] for p in parts]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            out[column] = pd.Series(pd.api.types.union_categoricals(
                [p.array for p in pieces], sort_categories=True))
        else:
            out[column] = pd.concat(pieces, ignore_index=True)
    return pd.DataFrame(out)


# -- sources ----------------------------------------------------------------------------------


def _columns(available: Sequence[str], label: Any, sensitive: Any,
             features: Any) -> tuple[str, list[str], list[str]]:
    available = [str(c) for c in available]
    if not isinstance(label, str) or label not in available:
        raise DataValidationError(BAD_VALUE.format(param="label", expected=f"one of the columns "
                                                   f"{available[:20]}", got=repr(label)))
    if sensitive is None:
        sensitive = []
    elif isinstance(sensitive, str):
        sensitive = [sensitive]
    sensitive = list(sensitive)
    missing = [c for c in sensitive if c not in available]
    if missing:
        raise DataValidationError(BAD_VALUE.format(param="sensitive", expected=f"columns among "
                                                   f"{available[:20]}", got=repr(missing)))
    if features is None:
        features = [c for c in available if c != label and c not in sensitive]
    else:
        features = [features] if isinstance(features, str) else list(features)
        missing = [c for c in features if c not in available]
        if missing:
            raise DataValidationError(BAD_VALUE.format(param="features", expected=f"columns among "
                                                       f"{available[:20]}", got=repr(missing)))
    if not features:
        raise DataValidationError(BAD_VALUE.format(param="features", expected="at least one "
                                                   "feature column", got="none left"))
    return label, sensitive, features


def _frame_batch(frame: pd.DataFrame, label: str, sensitive: list[str],
                 features: list[str]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None]:
    bad = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataValidationError(BAD_VALUE.format(
            param="features", expected="numeric columns (encode categories first)",
            got=f"non-numeric columns {bad[:5]}"))
    single = all(frame[c].dtype == np.float32 for c in features)  # float32 stays float32
    X = np.ascontiguousarray(frame[features].to_numpy(dtype=np.float32 if single
                                                       else np.float64))
    y = frame[label].to_numpy()
    return X, y, (frame[sensitive].reset_index(drop=True) if sensitive else None)


def _table_options(options: dict[str, Any], features: list[str]) -> dict[str, Any]:
    options.setdefault("feature_names", tuple(features))
    return options


def from_parquet(path: str | os.PathLike[str], *, label: str,
                 sensitive: str | Sequence[str] | None = None,
                 features: Sequence[str] | None = None, batch_size: int = 65_536,
                 sample_size: int = 10_000, random_state: int = 0,
                 **options: Any) -> StreamingData:
    """See :meth:`AuditData.from_parquet`."""
    try:
        import pyarrow.dataset as ds
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise DataValidationError(
            'Reading Parquet needs pyarrow: pip install "auditkit[parquet]" (or pip install '
            f"pyarrow). Got: {type(exc).__name__}: {exc}.") from exc
    if not isinstance(path, (str, os.PathLike)) or not os.path.exists(path):
        raise DataValidationError(BAD_VALUE.format(param="path", expected="an existing Parquet "
                                                   "file or dataset directory", got=repr(path)))
    batch_size = _positive_int(batch_size, "batch_size")
    try:
        dataset = ds.dataset(os.fspath(path), format="parquet")
        n_rows = dataset.count_rows()
    except Exception as exc:  # pyarrow's own errors: not Parquet, unreadable
        raise DataValidationError(BAD_VALUE.format(
            param="path", expected="a readable Parquet file or dataset directory",
            got=f"{os.fspath(path)!r} ({type(exc).__name__}: {exc})")) from exc
    label, sensitive_columns, feature_columns = _columns(dataset.schema.names, label, sensitive,
                                                         features)
    wanted = list(dict.fromkeys(feature_columns + [label] + sensitive_columns))

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray, pd.DataFrame | None]]:
        # No read-ahead: pyarrow's defaults buffer several row groups (hundreds of MiB at 5M
        # rows); one batch at a time keeps reading within a few tens of MiB.
        scan = {"batch_readahead": 1, "fragment_readahead": 1,
                "fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False)}
        for record_batch in dataset.to_batches(columns=wanted, batch_size=batch_size, **scan):
            if record_batch.num_rows:
                yield _frame_batch(record_batch.to_pandas(), label, sensitive_columns,
                                   feature_columns)

    name = os.path.basename(os.path.normpath(os.fspath(path)))
    options.setdefault("name", name)
    return StreamingData(batches, source=f"Parquet {os.fspath(path)}", n_rows=n_rows,
                         sample_size=sample_size, random_state=random_state,
                         **_table_options(options, feature_columns))


def from_table(table: Any, *, label: str, sensitive: str | Sequence[str] | None = None,
               features: Sequence[str] | None = None, batch_size: int = 65_536,
               sample_size: int = 10_000, random_state: int = 0,
               **options: Any) -> StreamingData:
    """See :meth:`AuditData.from_table`."""
    batch_size = _positive_int(batch_size, "batch_size")
    if isinstance(table, pd.DataFrame):
        columns, n_rows, kind = list(table.columns), len(table), "pandas DataFrame"

        def slices() -> Iterator[pd.DataFrame]:
            for start in range(0, n_rows, batch_size):
                yield table.iloc[start:start + batch_size]
    elif type(table).__module__.startswith("pyarrow") and hasattr(table, "to_batches"):
        columns, n_rows, kind = list(table.schema.names), table.num_rows, "pyarrow Table"

        def slices() -> Iterator[pd.DataFrame]:
            for batch in table.to_batches(max_chunksize=batch_size):
                if batch.num_rows:
                    yield batch.to_pandas()
    else:
        raise DataValidationError(BAD_TYPE.format(param="table", expected="a pandas DataFrame "
                                                  "or a pyarrow Table",
                                                  got=type(table).__name__))
    label, sensitive_columns, feature_columns = _columns(columns, label, sensitive, features)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray, pd.DataFrame | None]]:
        for frame in slices():
            yield _frame_batch(frame, label, sensitive_columns, feature_columns)

    return StreamingData(batches, source=f"{kind} of {n_rows:,} rows", n_rows=n_rows,
                         sample_size=sample_size, random_state=random_state,
                         **_table_options(options, feature_columns))


def from_batches(batches: Callable[[], Iterable[Any]] | Iterable[Any], *,
                 n_rows: int | None = None, sample_size: int = 10_000, random_state: int = 0,
                 **options: Any) -> StreamingData:
    """See :meth:`AuditData.from_batches`."""
    if isinstance(batches, (Mapping, str, bytes, np.ndarray, pd.DataFrame)):
        raise DataValidationError(BAD_TYPE.format(
            param="batches", expected="an iterable of (X, y[, sensitive]) batches or a function "
            "returning one", got=type(batches).__name__))
    return StreamingData(batches, source="batches", n_rows=n_rows, sample_size=sample_size,
                         random_state=random_state, **options)
