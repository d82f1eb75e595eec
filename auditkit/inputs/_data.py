"""AuditData: the inputs of an audit, validated once when constructed.

Checks trust an :class:`AuditData`: lengths agree, values are finite, labels
hold at least two classes, sensitive features have no gaps. Whether the model
fits the data (its labels, its probabilities) is checked when both meet, in
:func:`validate_model_on_data`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Number
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import (
    BAD_NDIM,
    BAD_TYPE,
    BAD_VALUE,
    DUPLICATE_NAMES,
    EMPTY,
    LENGTH_MISMATCH,
    NOT_FINITE,
    SENSITIVE_MISSING,
    SINGLE_CLASS,
    SPARSE_INPUT,
    DataValidationError,
)
from ._population import Population

if TYPE_CHECKING:
    from ._streaming import StreamingData

__all__ = ["AuditData", "Canaries", "Split", "MODALITIES", "OOD_KINDS"]

MODALITIES = ("tabular", "image", "text", "sequence")
#: How far an out-of-distribution set lies from the audited data (see ``AuditData.ood_kinds``).
OOD_KINDS = ("far", "near")
_NDIMS = {
    "tabular": ((2,), "a 2-D array of shape (n_samples, n_features)"),
    "image": ((3, 4), "an array of shape (n_samples, height, width) or "
                      "(n_samples, channels, height, width)"),
    "text": ((2,), "a 2-D array of token ids of shape (n_samples, sequence_length)"),
    "sequence": ((2, 3), "an array of shape (n_samples, length) or (n_samples, length, channels)"),
}


def _is_sparse(value: Any) -> bool:
    """A scipy sparse matrix or array, a torch sparse tensor, or a sparse pandas frame."""
    from scipy import sparse

    if sparse.issparse(value):
        return True
    if hasattr(value, "detach") and str(getattr(value, "layout", "torch.strided")) \
            != "torch.strided":  # a torch sparse tensor
        return True
    if isinstance(value, pd.DataFrame):
        return any(isinstance(dtype, pd.SparseDtype) for dtype in value.dtypes)
    return False


def _to_array(value: Any, param: str) -> np.ndarray:
    if _is_sparse(value):
        raise DataValidationError(SPARSE_INPUT.format(param=param, kind=type(value).__name__))
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, pd.DataFrame):
        _check_distinct([str(c) for c in value.columns], param, _FRAME_COLUMNS)
        non_numeric = [c for c in value.columns if not pd.api.types.is_numeric_dtype(value[c])
                       and not pd.api.types.is_bool_dtype(value[c])]
        if non_numeric:
            raise DataValidationError(BAD_VALUE.format(
                param=param, expected="numeric columns (encode categorical features first, "
                "and list them in 'categorical_features')", got=f"non-numeric columns "
                f"{non_numeric[:5]}"))
        return value.to_numpy(dtype=np.float64)
    if isinstance(value, (str, bytes)) or np.isscalar(value):
        raise DataValidationError(BAD_TYPE.format(param=param, expected="an array-like of samples",
                                                  got=type(value).__name__))
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise DataValidationError(BAD_TYPE.format(
            param=param, expected="an array-like of equal-length samples",
            got=f"{type(value).__name__} ({exc})")) from exc
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise DataValidationError(BAD_TYPE.format(
                param=param, expected="numeric values", got="values of mixed or non-numeric type"
            )) from exc
    if array.dtype.kind not in "biuf":
        raise DataValidationError(BAD_TYPE.format(param=param, expected="numeric values",
                                                  got=f"dtype {array.dtype}"))
    return array


def _check_finite(array: np.ndarray, param: str) -> None:
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            where = int(np.flatnonzero(bad.reshape(len(array), -1).any(axis=1))[0])
            raise DataValidationError(NOT_FINITE.format(param=param, count=int(bad.sum()),
                                                        where=where))


def _check_inputs(array: np.ndarray, param: str, modality: str,
                  trailing: tuple[int, ...] | None = None) -> np.ndarray:
    if array.ndim == 0 or len(array) == 0:
        raise DataValidationError(EMPTY.format(param=param))
    ndims, expected = _NDIMS[modality]
    if array.ndim not in ndims:
        raise DataValidationError(BAD_NDIM.format(param=param, expected=expected,
                                                  modality=modality, shape=array.shape))
    if trailing is not None and array.shape[1:] != trailing and modality != "text":
        raise DataValidationError(BAD_VALUE.format(
            param=param, expected=f"samples of shape {trailing}, like 'X'",
            got=f"samples of shape {array.shape[1:]}"))
    _check_finite(array, param)
    if modality == "tabular" and array.dtype.kind in "biu":
        array = array.astype(np.float32)  # features, not ids: models expect floats
    return _readonly(array)


def _label_kind(value: Any) -> str:
    """"str", "number" or the type's name of one label."""
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, (Number, np.number, np.bool_)):
        return "number"
    return type(value).__name__


def _check_label_types(y: np.ndarray, param: str) -> None:
    """Labels of an object array must all be numbers or all be strings (they are sorted)."""
    kinds: dict[str, Any] = {}
    for value in y:
        kinds.setdefault(_label_kind(value), value)
        if len(kinds) > 1:
            break
    other = [k for k in kinds if k not in ("str", "number")]
    if other:
        raise DataValidationError(BAD_VALUE.format(
            param=param, expected="labels that are numbers or strings",
            got=f"a label of type {other[0]} ({kinds[other[0]]!r})"))
    if len(kinds) > 1:
        examples = ", ".join(f"{v!r}" for v in kinds.values())
        raise DataValidationError(BAD_VALUE.format(
            param=param, expected="labels of one type (all numbers or all strings)",
            got=f"a mix of numbers and strings ({examples})"))


def _check_labels(y: Any, param: str, n: int, other: str) -> np.ndarray:
    if _is_sparse(y):
        raise DataValidationError(SPARSE_INPUT.format(param=param, kind=type(y).__name__))
    if isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataValidationError(BAD_VALUE.format(param=param, expected="a 1-D array of labels",
                                                   got=f"an array of shape {y.shape}"))
    if len(y) == 0:
        raise DataValidationError(EMPTY.format(param=param))
    if len(y) != n:
        raise DataValidationError(LENGTH_MISMATCH.format(param=param, other=other, expected=n,
                                                         got=len(y)))
    if y.dtype == object:
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y):
            raise DataValidationError(NOT_FINITE.format(param=param, count=int(pd.isna(y).sum()),
                                                        where=int(np.flatnonzero(pd.isna(y))[0])))
        _check_label_types(y, param)
    elif y.dtype.kind not in "biufU":
        raise DataValidationError(BAD_TYPE.format(param=param, expected="labels that are numbers "
                                                  "or strings", got=f"dtype {y.dtype}"))
    else:
        _check_finite(y, param)
    return _readonly(y)


def _check_distinct(names: Sequence[str], param: str, how: str = "") -> None:
    """Raise :data:`DUPLICATE_NAMES` when a name occurs more than once."""
    seen: set[str] = set()
    duplicates = list(dict.fromkeys(name for name in names if name in seen or seen.add(name)))
    if duplicates:
        listed = ", ".join(repr(name) for name in duplicates[:5])
        raise DataValidationError(DUPLICATE_NAMES.format(param=param, how=how, duplicates=listed))


_AS_TEXT = " (names are compared as text, so 1 and '1' are the same name)"
_FRAME_COLUMNS = " (the column names of the DataFrame, compared as text)"


def _column_indices(columns: Any, param: str, n_columns: int | None) -> tuple[int, ...]:
    """A sequence of int column indices (booleans and other numbers are refused)."""
    expected = f"a non-empty list of column indices in [0, {n_columns})"
    if isinstance(columns, (str, bytes)) or not isinstance(columns, (Sequence, np.ndarray)) or \
            not all(isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_))
                    for c in columns):
        raise DataValidationError(BAD_VALUE.format(param=param, expected=expected,
                                                   got=repr(columns)))
    return tuple(int(c) for c in columns)


def _readonly(array: np.ndarray) -> np.ndarray:
    # Row-major, whatever the source (a DataFrame's values are column-major): a model's
    # kernels may round the last bit differently on another memory layout.
    array = np.array(array, copy=True, order="C")
    array.setflags(write=False)
    return array


def _check_sensitive(sensitive: Any, n: int, *, param: str = "sensitive",
                     other: str = "X") -> pd.DataFrame | None:
    if sensitive is None:
        return None
    if _is_sparse(sensitive):
        raise DataValidationError(SPARSE_INPUT.format(param=param, kind=type(sensitive).__name__))
    if isinstance(sensitive, pd.Series):
        frame = sensitive.to_frame(name=sensitive.name if sensitive.name is not None else
                                   "sensitive")
    elif isinstance(sensitive, pd.DataFrame):
        _check_distinct([str(c) for c in sensitive.columns], param, _AS_TEXT)
        frame = sensitive.copy()
    elif isinstance(sensitive, Mapping):
        _check_distinct([str(k) for k in sensitive], param, _AS_TEXT)
        for key, values in sensitive.items():
            length = len(values) if hasattr(values, "__len__") else None
            if length != n:
                raise DataValidationError(LENGTH_MISMATCH.format(
                    param=f"{param}[{key!r}]", other=other, expected=n, got=length))
        frame = pd.DataFrame({str(k): np.asarray(v) for k, v in sensitive.items()})
    else:
        array = np.asarray(sensitive)
        if array.ndim == 1:
            frame = pd.DataFrame({"sensitive": array})
        elif array.ndim == 2:
            frame = pd.DataFrame(array, columns=[f"sensitive_{i}" for i in range(array.shape[1])])
        else:
            raise DataValidationError(BAD_VALUE.format(
                param=param, expected="a Series, a DataFrame, a mapping of name to values, "
                "or a 1-D or 2-D array", got=f"an array of shape {array.shape}"))
    if frame.shape[1] == 0:
        raise DataValidationError(BAD_VALUE.format(param=param,
                                                   expected="at least one sensitive feature",
                                                   got="no columns"))
    if len(frame) != n:
        raise DataValidationError(LENGTH_MISMATCH.format(param=param, other=other,
                                                         expected=n, got=len(frame)))
    for column in frame.columns:
        missing = int(frame[column].isna().sum())
        if missing:
            raise DataValidationError(SENSITIVE_MISSING.format(param=param, count=missing,
                                                               column=column))
    frame.columns = [str(c) for c in frame.columns]
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Split:
    """A labelled set of samples, e.g. the training set (the members), with its groups."""

    X: np.ndarray
    y: np.ndarray
    sensitive: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.X)


@dataclass(frozen=True)
class Canaries:
    """Planted records: inputs, labels, and whether each was put in the training set."""

    X: np.ndarray
    y: np.ndarray
    included: np.ndarray

    def __len__(self) -> int:
        return len(self.X)


@dataclass(frozen=True, eq=False)
class AuditData:
    """The data an audit runs on.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        The samples to audit (a held-out test set), as a dense array (sparse
        matrices are refused: pass ``X.toarray()``). Tabular data is numeric
        (already encoded); images are (n, H, W) or (n, C, H, W); text is token
        ids of shape (n, length); sequences are (n, length[, channels]).
    y : array-like of shape (n_samples,)
        True labels, in the model's label space: all numbers or all strings.
    sensitive : DataFrame, Series, mapping or array-like, optional
        One or more sensitive features, one row per sample, no missing values,
        with distinct names (compared as text: columns ``1`` and ``"1"`` clash).
    train : tuple (X_train, y_train) or (X_train, y_train, sensitive_train), optional
        The model's training set (the members, for privacy checks), and
        optionally its sensitive features, with the columns of ``sensitive``
        (privacy checks then report who leaks, per group).
    reference : array-like, optional
        In-distribution samples, shaped like those of ``X``: what detectors
        are fitted on, baselines and background samples are drawn from, noise
        is scaled to, and the valid input range is observed in. Without it the
        training inputs, else ``X``, play that role (see
        :attr:`reference_inputs`).
    ood : mapping of str to array-like, optional
        Named out-of-distribution sets, samples shaped like those of ``X``.
    canaries : tuple (X_canaries, y_canaries, included), optional
        Records planted to audit privacy: inputs shaped like those of ``X``,
        their labels, and a boolean per record saying whether it was put in
        the training set (the others were drawn alike and held out). Privacy
        checks turn how well an attack tells the two apart into a lower
        bound on the differential-privacy epsilon of the training.
    ood_kinds : mapping of str to {"far", "near"}, optional
        For each set of ``ood``: ``"far"`` (another domain, such as clothing
        images for a digit classifier) or ``"near"`` (the same domain with a
        shift, such as a new speaker or new classes). Sets not named are far.
    ood_texts : mapping of str to sequence of str, optional
        Text: the raw strings behind each set of ``ood`` (shown in reports).
    modality : {"tabular", "image", "text", "sequence"}, default="tabular"
    feature_names : sequence of str, optional
        Tabular: one distinct name per column of ``X``.
    categorical_features : sequence of str, optional
        Tabular: names of the original categorical features.
    feature_groups : mapping of str to sequence of int, optional
        Tabular: the columns of ``X`` encoding each original feature (e.g.
        one-hot columns), so that they are explained and perturbed together.
    class_names : sequence of str, optional
        A distinct, readable name per model output column.
    tokenizer : object, optional
        Text: turns raw strings into token ids (``tokenizer(texts)``).
    texts : sequence of str, optional
        Text: the raw strings behind ``X``.
    input_range : tuple (low, high), optional
        The valid values of an input: attacks and corruptions keep every
        perturbed input inside it, and measure an attack's epsilon in units of
        ``high - low`` (so eps 0.1 lets each value move by a tenth of its
        range, and a model that normalises its inputs gets the same budget as
        one that does not). ``low`` and ``high`` are scalars or arrays that
        broadcast to one sample's shape (e.g. per channel). By default the
        range observed in ``X`` and :attr:`reference_inputs`: per column
        (tabular), per channel (images with several channels, sequences with
        channels), or one range (single-channel images). Not used for text.
    mutable_features : sequence of str, optional
        Tabular: the features (names in ``feature_names`` or keys of
        ``feature_groups``) an adversary or a corruption may change; sequences:
        the channels (named by ``feature_names``, one per channel). By default
        every feature may change.
    name : str, optional
        A name for the dataset, shown in the report.
    feature_extractor : torch.nn.Module, ModelAdapter, FeatureExtractor or callable, optional
        Generative audits: what embeds samples of this domain (see
        :class:`~auditkit.inputs.FeatureExtractor`). A classifier trained on
        the same domain (its penultimate layer; it also labels generated
        samples for the mode-coverage check), or a function ``f(X) ->
        (n_samples, n_features)``. Without it, generative checks measure in
        the input space and say so. Nothing is ever downloaded.

    Examples
    --------
    >>> import numpy as np
    >>> data = AuditData(np.zeros((4, 2)), [0, 1, 0, 1], sensitive={"sex": ["f", "m", "f", "m"]})
    >>> data.n_samples
    4
    """

    X: Any
    y: Any
    sensitive: Any = None
    train: Any = None
    reference: Any = None
    ood: Mapping[str, Any] | None = None
    ood_kinds: Mapping[str, str] | None = None
    ood_texts: Mapping[str, Sequence[str]] | None = None
    canaries: Any = None
    modality: str = "tabular"
    feature_names: Sequence[str] | None = None
    categorical_features: Sequence[str] | None = None
    feature_groups: Mapping[str, Sequence[int]] | None = None
    class_names: Sequence[str] | None = None
    tokenizer: Any = None
    texts: Sequence[str] | None = None
    input_range: Any = None
    mutable_features: Sequence[str] | None = None
    name: str | None = None
    feature_extractor: Any = None
    _fingerprint: list = field(default_factory=list, init=False, repr=False, compare=False)
    _population: list = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.modality not in MODALITIES:
            raise DataValidationError(BAD_VALUE.format(param="modality",
                                                       expected=f"one of {list(MODALITIES)}",
                                                       got=repr(self.modality)))
        columns = list(self.X.columns) if isinstance(self.X, pd.DataFrame) else None
        X = _check_inputs(_to_array(self.X, "X"), "X", self.modality)
        n = len(X)
        set_(self, "X", X)
        y = _check_labels(self.y, "y", n, "X")
        labels = np.unique(y)
        if len(labels) < 2:
            raise DataValidationError(SINGLE_CLASS.format(param="y", label=labels[0].item()))
        set_(self, "y", y)
        set_(self, "sensitive", _check_sensitive(self.sensitive, n))
        set_(self, "train", self._check_train(self.train, X))
        if self.reference is not None:
            set_(self, "reference", _check_inputs(_to_array(self.reference, "reference"),
                                                  "reference", self.modality, X.shape[1:]))
        if self.ood is not None:
            if not isinstance(self.ood, Mapping):
                raise DataValidationError(BAD_TYPE.format(param="ood", expected="a mapping of "
                                                          "name to array-like",
                                                          got=type(self.ood).__name__))
            set_(self, "ood", {str(k): _check_inputs(_to_array(v, f"ood[{k!r}]"), f"ood[{k!r}]",
                                                     self.modality, X.shape[1:])
                               for k, v in self.ood.items()})
        self._check_ood_metadata()
        set_(self, "canaries", self._check_canaries(self.canaries, X))
        self._check_tabular_metadata(X, columns)
        if self.class_names is not None:
            if isinstance(self.class_names, str) or not isinstance(self.class_names, Sequence) \
                    and not isinstance(self.class_names, np.ndarray):
                raise DataValidationError(BAD_TYPE.format(param="class_names",
                                                          expected="a sequence of str",
                                                          got=type(self.class_names).__name__))
            names = tuple(str(c) for c in self.class_names)
            _check_distinct(names, "class_names", _AS_TEXT)
            set_(self, "class_names", names)
        if self.name is not None and not isinstance(self.name, str):
            raise DataValidationError(BAD_TYPE.format(param="name", expected="a str or None",
                                                      got=type(self.name).__name__))
        if self.texts is not None:
            texts = list(self.texts)
            if len(texts) != n:
                raise DataValidationError(LENGTH_MISMATCH.format(param="texts", other="X",
                                                                 expected=n, got=len(texts)))
            if not all(isinstance(t, str) for t in texts):
                raise DataValidationError(BAD_TYPE.format(param="texts", expected="a sequence "
                                                          "of str", got="non-string items"))
            set_(self, "texts", tuple(texts))
        self._check_domain(X)
        if self.feature_extractor is not None:
            from ._features import FeatureExtractor

            if not isinstance(self.feature_extractor, FeatureExtractor):
                set_(self, "feature_extractor", FeatureExtractor(self.feature_extractor))

    def _check_ood_metadata(self) -> None:
        sets = self.ood or {}
        for param in ("ood_kinds", "ood_texts"):
            given = getattr(self, param)
            if given is None:
                continue
            if not isinstance(given, Mapping):
                raise DataValidationError(BAD_TYPE.format(param=param, expected="a mapping of "
                                                          "OOD set name to value",
                                                          got=type(given).__name__))
            unknown = sorted(str(k) for k in given if str(k) not in sets)
            if unknown:
                raise DataValidationError(BAD_VALUE.format(
                    param=param, expected=f"keys among the OOD sets {sorted(sets)}",
                    got=unknown))
        kinds = {str(k): v for k, v in (self.ood_kinds or {}).items()}
        for key, kind in kinds.items():
            if kind not in OOD_KINDS:
                raise DataValidationError(BAD_VALUE.format(param=f"ood_kinds[{key!r}]",
                                                           expected=f"one of {list(OOD_KINDS)}",
                                                           got=repr(kind)))
        object.__setattr__(self, "ood_kinds", {k: kinds.get(k, "far") for k in sets}
                           if self.ood is not None else None)
        if self.ood_texts is not None:
            texts = {}
            for key, values in self.ood_texts.items():
                values = list(values)
                if len(values) != len(sets[str(key)]):
                    raise DataValidationError(LENGTH_MISMATCH.format(
                        param=f"ood_texts[{str(key)!r}]", other=f"ood[{str(key)!r}]",
                        expected=len(sets[str(key)]), got=len(values)))
                if not all(isinstance(t, str) for t in values):
                    raise DataValidationError(BAD_TYPE.format(param=f"ood_texts[{str(key)!r}]",
                                                              expected="a sequence of str",
                                                              got="non-string items"))
                texts[str(key)] = tuple(values)
            object.__setattr__(self, "ood_texts", texts)

    def _check_canaries(self, canaries: Any, X: np.ndarray) -> Canaries | None:
        if canaries is None:
            return None
        if isinstance(canaries, Canaries):
            canaries = (canaries.X, canaries.y, canaries.included)
        if not isinstance(canaries, (tuple, list)) or len(canaries) != 3:
            raise DataValidationError(BAD_TYPE.format(param="canaries", expected="a tuple "
                                                      "(X_canaries, y_canaries, included)",
                                                      got=type(canaries).__name__))
        X_c = _check_inputs(_to_array(canaries[0], "canaries[0]"), "canaries[0]",
                            self.modality, X.shape[1:])
        y_c = _check_labels(canaries[1], "canaries[1]", len(X_c), "canaries[0]")
        included = np.asarray(canaries[2])
        if included.dtype != bool or included.shape != (len(X_c),):
            raise DataValidationError(BAD_VALUE.format(
                param="canaries[2]", expected=f"a boolean array of shape ({len(X_c)},)",
                got=f"dtype {included.dtype}, shape {included.shape}"))
        if included.all() or not included.any():
            raise DataValidationError(BAD_VALUE.format(
                param="canaries[2]", expected="some canaries included in training and some "
                "held out", got=f"{int(included.sum())} of {len(included)} included"))
        return Canaries(X_c, y_c, included)

    def _check_train(self, train: Any, X: np.ndarray) -> Split | None:
        if train is None:
            return None
        if isinstance(train, Split):
            train = (train.X, train.y) if train.sensitive is None else \
                (train.X, train.y, train.sensitive)
        if not isinstance(train, (tuple, list)) or len(train) not in (2, 3):
            raise DataValidationError(BAD_TYPE.format(param="train", expected="a tuple "
                                                      "(X_train, y_train) or (X_train, y_train, "
                                                      "sensitive_train)",
                                                      got=type(train).__name__))
        X_train = _check_inputs(_to_array(train[0], "train[0]"), "train[0]", self.modality,
                                X.shape[1:])
        y_train = _check_labels(train[1], "train[1]", len(X_train), "train[0]")
        sensitive = None
        if len(train) == 3 and train[2] is not None:
            sensitive = _check_sensitive(train[2], len(X_train), param="train[2]",
                                         other="train[0]")
            if self.sensitive is None or list(sensitive.columns) != list(self.sensitive.columns):
                raise DataValidationError(BAD_VALUE.format(
                    param="train[2]", expected="the columns of 'sensitive' "
                    f"{[] if self.sensitive is None else list(self.sensitive.columns)}",
                    got=list(sensitive.columns)))
        return Split(X_train, y_train, sensitive)

    def _check_tabular_metadata(self, X: np.ndarray, columns: list[Any] | None) -> None:
        set_ = object.__setattr__
        n_columns = X.shape[1] if X.ndim == 2 else None
        names = self.feature_names if self.feature_names is not None else columns
        if names is not None:
            if isinstance(names, str):
                raise DataValidationError(BAD_TYPE.format(param="feature_names",
                                                          expected="a sequence of str",
                                                          got="str"))
            names = tuple(str(c) for c in names)
            _check_distinct(names, "feature_names" if self.feature_names is not None
                            else "X", _AS_TEXT if self.feature_names is not None
                            else _FRAME_COLUMNS)
            if self.modality == "tabular" and len(names) != n_columns:
                raise DataValidationError(BAD_VALUE.format(
                    param="feature_names", expected=f"{n_columns} names, one per column of 'X'",
                    got=f"{len(names)} names"))
            if self.modality == "sequence" and X.ndim == 3 and len(names) != X.shape[2]:
                raise DataValidationError(BAD_VALUE.format(
                    param="feature_names", expected=f"{X.shape[2]} names, one per channel of 'X'",
                    got=f"{len(names)} names"))
            set_(self, "feature_names", names)
        if self.feature_groups is not None:
            if not isinstance(self.feature_groups, Mapping):
                raise DataValidationError(BAD_TYPE.format(
                    param="feature_groups", expected="a mapping of feature name to column "
                    "indices", got=type(self.feature_groups).__name__))
            _check_distinct([str(k) for k in self.feature_groups], "feature_groups", _AS_TEXT)
            groups = {}
            for key, columns in self.feature_groups.items():
                columns = _column_indices(columns, f"feature_groups[{key!r}]", n_columns)
                if n_columns is None or not columns or min(columns) < 0 or \
                        max(columns) >= n_columns:
                    raise DataValidationError(BAD_VALUE.format(
                        param=f"feature_groups[{key!r}]",
                        expected=f"a non-empty list of column indices in [0, {n_columns})",
                        got=list(columns)))
                groups[str(key)] = columns
            set_(self, "feature_groups", groups)
        if self.categorical_features is not None:
            set_(self, "categorical_features", tuple(str(c) for c in self.categorical_features))

    def _check_domain(self, X: np.ndarray) -> None:
        set_ = object.__setattr__
        if self.mutable_features is not None:
            if self.modality not in ("tabular", "sequence"):
                raise DataValidationError(BAD_VALUE.format(
                    param="mutable_features", expected="None for image and text data (it names "
                    "tabular features or sequence channels)", got=list(self.mutable_features)))
            if isinstance(self.mutable_features, str):
                raise DataValidationError(BAD_TYPE.format(param="mutable_features",
                                                          expected="a sequence of feature names",
                                                          got="str"))
            mutable = tuple(str(f) for f in self.mutable_features)
            known = self._feature_units()
            unknown = [f for f in mutable if f not in known]
            if unknown:
                raise DataValidationError(BAD_VALUE.format(
                    param="mutable_features", expected=f"names among {list(known)[:40]}",
                    got=f"unknown names {unknown}"))
            set_(self, "mutable_features", mutable)
        if self.modality == "text":
            if self.input_range is not None:
                raise DataValidationError(BAD_VALUE.format(
                    param="input_range", expected="None for text (token ids have no range)",
                    got=repr(self.input_range)))
            return
        if self.input_range is None:
            return
        if not isinstance(self.input_range, (tuple, list)) or len(self.input_range) != 2:
            raise DataValidationError(BAD_TYPE.format(param="input_range",
                                                      expected="a tuple (low, high)",
                                                      got=repr(self.input_range)))
        shape = X.shape[1:]
        try:
            low = np.broadcast_to(np.asarray(self.input_range[0], dtype=np.float64), shape)
            high = np.broadcast_to(np.asarray(self.input_range[1], dtype=np.float64), shape)
        except (ValueError, TypeError) as exc:
            raise DataValidationError(BAD_VALUE.format(
                param="input_range", expected=f"scalars or arrays broadcastable to a sample's "
                f"shape {shape}", got=f"{exc}")) from exc
        if not (np.isfinite(low).all() and np.isfinite(high).all()) or (low > high).any():
            raise DataValidationError(BAD_VALUE.format(param="input_range",
                                                       expected="finite bounds with low <= high",
                                                       got=repr(self.input_range)))
        in_distribution = ("reference", self.reference) if self.reference is not None else \
            ("train[0]", self.train.X if self.train is not None else None)
        for param, array in (("X", X), in_distribution):
            if array is None:
                continue
            outside = (array < low - 1e-6) | (array > high + 1e-6)
            if outside.any():
                raise DataValidationError(BAD_VALUE.format(
                    param="input_range", expected=f"bounds that hold every value of {param!r}",
                    got=f"{repr(self.input_range)}, with {int(outside.sum())} values of "
                    f"{param!r} outside (range of {param!r}: [{array.min():.4g}, "
                    f"{array.max():.4g}])"))
        set_(self, "input_range", (np.asarray(self.input_range[0], dtype=np.float64),
                                   np.asarray(self.input_range[1], dtype=np.float64)))

    def _feature_units(self) -> tuple[str, ...]:
        """Names that ``mutable_features`` may use."""
        names = tuple(self.feature_names or ())
        groups = tuple(self.feature_groups or ())
        return tuple(dict.fromkeys(groups + names))

    # -- data too large for memory -------------------------------------------------

    @classmethod
    def from_parquet(cls, path: Any, *, label: str, sensitive: str | Sequence[str] | None = None,
                     features: Sequence[str] | None = None, batch_size: int = 65_536,
                     sample_size: int = 10_000, random_state: int = 0,
                     **options: Any) -> StreamingData:
        """Audit a Parquet file or dataset directory without loading it (needs pyarrow).

        The audit reads it once, ``batch_size`` rows at a time: every row's
        label, sensitive features and predictions feed the performance and
        group-fairness checks; the inputs of a seeded sample of
        ``sample_size`` rows feed the others (see :class:`StreamingData`).

        Parameters
        ----------
        path : str or path-like
            A Parquet file, or a directory of Parquet files (one dataset).
        label : str
            The column of true labels.
        sensitive : str or sequence of str, optional
            The columns of sensitive features.
        features : sequence of str, optional
            The model's input columns, in the model's order; by default every
            other column. They must be numeric.
        batch_size : int, default=65_536
            Rows per batch read and predicted.
        sample_size : int, default=10_000
            Rows whose inputs are kept for explanations, attacks, privacy and OOD.
        random_state : int, default=0
            Seeds the sample (the audit's own seed seeds everything else).
        **options
            Other :class:`AuditData` options (``class_names``, ``train``, ...).

        Returns
        -------
        StreamingData

        Examples
        --------
        >>> data = AuditData.from_parquet("scored.parquet", label="y",
        ...                               sensitive=["sex"])  # doctest: +SKIP
        >>> result = audit(model, data, preset="fairness")  # doctest: +SKIP
        """
        from ._streaming import from_parquet

        return from_parquet(path, label=label, sensitive=sensitive, features=features,
                            batch_size=batch_size, sample_size=sample_size,
                            random_state=random_state, **options)

    @classmethod
    def from_table(cls, table: Any, *, label: str, sensitive: str | Sequence[str] | None = None,
                   features: Sequence[str] | None = None, batch_size: int = 65_536,
                   sample_size: int = 10_000, random_state: int = 0,
                   **options: Any) -> StreamingData:
        """Audit a large pandas DataFrame or pyarrow Table batch by batch.

        Like :meth:`from_parquet`, for a table already in memory: the inputs are
        converted one batch at a time, never all together.

        Parameters
        ----------
        table : pandas.DataFrame or pyarrow.Table
        label, sensitive, features, batch_size, sample_size, random_state, **options
            As in :meth:`from_parquet`.

        Returns
        -------
        StreamingData
        """
        from ._streaming import from_table

        return from_table(table, label=label, sensitive=sensitive, features=features,
                          batch_size=batch_size, sample_size=sample_size,
                          random_state=random_state, **options)

    @classmethod
    def from_batches(cls, batches: Any, *, n_rows: int | None = None, sample_size: int = 10_000,
                     random_state: int = 0, **options: Any) -> StreamingData:
        """Audit data given as batches ``(X, y)`` or ``(X, y, sensitive)``.

        Parameters
        ----------
        batches : iterable, or a function returning one
            A plain iterator is read once (one audit); a function returning a
            new iterator can be audited again.
        n_rows : int, optional
            Total rows, if known (for the progress bar).
        sample_size, random_state, **options
            As in :meth:`from_parquet`.

        Returns
        -------
        StreamingData
        """
        from ._streaming import from_batches

        return from_batches(batches, n_rows=n_rows, sample_size=sample_size,
                            random_state=random_state, **options)

    # -- convenience ---------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        """Number of samples to audit."""
        return len(self.X)

    @property
    def population(self) -> Population | None:
        """Every row of streamed data (labels, sensitive features, predictions), or None.

        None when ``X`` holds every audited row. When the audit streamed its
        data (see :class:`~auditkit.inputs.StreamingData`), ``X``, ``y`` and
        ``sensitive`` hold a seeded sample of rows, and the checks that stream
        (performance, group fairness) read every row here.
        """
        return self._population[0] if self._population else None

    @property
    def all_y(self) -> np.ndarray:
        """True labels of every audited row: the population's when streamed, else ``y``."""
        population = self.population
        return population.y if population is not None else self.y

    @property
    def all_sensitive(self) -> pd.DataFrame | None:
        """Sensitive features of every audited row: the population's when streamed."""
        population = self.population
        return population.sensitive if population is not None else self.sensitive

    @property
    def n_rows(self) -> int:
        """Number of audited rows: the population's when streamed, else ``n_samples``."""
        population = self.population
        return population.n_rows if population is not None else self.n_samples

    @property
    def reference_inputs(self) -> np.ndarray:
        """In-distribution samples: ``reference``, else the training inputs, else ``X``.

        The one definition of in-distribution data. Every check that needs it
        reads it here: detectors are fitted on it, explanation baselines and
        background samples are drawn from it, perturbation noise is scaled to
        its spread, and :meth:`valid_bounds` observes the input range in it
        (together with ``X``).

        Returns
        -------
        ndarray of shape (n_reference, ...)
            Read-only, samples shaped like those of ``X``.
        """
        if self.reference is not None:
            return self.reference
        return self.train.X if self.train is not None else self.X

    def valid_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) of valid inputs, each broadcast to one sample's shape.

        ``input_range`` when given; otherwise the range observed in ``X`` and
        :attr:`reference_inputs` (the in-distribution data), per column for
        tabular data, per channel for images and sequences with several
        channels, else one range (see :class:`AuditData`).

        Returns
        -------
        low, high : ndarray of one sample's shape
        """
        shape = self.X.shape[1:]
        if self.modality == "text":
            raise DataValidationError(BAD_VALUE.format(param="modality",
                                                       expected="non-text data for value bounds",
                                                       got="'text'"))
        if self.input_range is not None:
            low, high = self.input_range
        else:
            reference = self.reference_inputs
            arrays = [self.X] + ([reference] if reference is not self.X else [])
            axes = self._range_axes()
            low = np.min([a.min(axis=axes, keepdims=True)[0] for a in arrays], axis=0)
            high = np.max([a.max(axis=axes, keepdims=True)[0] for a in arrays], axis=0)
        return (np.broadcast_to(np.asarray(low, dtype=np.float64), shape).copy(),
                np.broadcast_to(np.asarray(high, dtype=np.float64), shape).copy())

    def _range_axes(self) -> tuple[int, ...]:
        # Axes (of the batch) pooled when inferring the range: all but the channel axis.
        ndim = self.X.ndim
        if self.modality == "tabular":
            return (0,)
        if self.modality == "image":
            if ndim == 4 and self.X.shape[1] > 1:
                return (0, 2, 3)
            return tuple(range(ndim))
        return (0, 1) if ndim == 3 else tuple(range(ndim))

    def mutable_mask(self) -> np.ndarray:
        """Boolean array of one sample's shape: True where a value may be perturbed."""
        shape = self.X.shape[1:]
        mask = np.ones(shape, dtype=bool)
        if self.mutable_features is None:
            return mask
        mutable = set(self.mutable_features)
        if self.modality == "tabular":
            mask[:] = False
            groups = self.feature_groups or {}
            names = self.feature_names or ()
            for unit in mutable:
                if unit in groups:
                    mask[list(groups[unit])] = True
                else:
                    mask[names.index(unit)] = True
            return mask
        channels = [i for i, name in enumerate(self.feature_names or ()) if name in mutable]
        mask[:] = False
        mask[..., channels] = True
        return mask

    @property
    def labels(self) -> np.ndarray:
        """The distinct labels present in ``y``, sorted."""
        return np.unique(self.y)

    def fingerprint(self) -> str:
        """SHA-256 of every field that changes an audit's results.

        Covers ``X``, ``y``, ``sensitive``, ``train``, ``reference``, ``ood``,
        ``ood_kinds``, ``ood_texts``, ``canaries``, ``modality``, ``feature_names``,
        ``categorical_features``,
        ``feature_groups``, ``class_names``, ``texts``, ``input_range`` and
        ``mutable_features``. Not ``name`` (a label in the report) nor the
        tokenizer (an object; ``X`` holds its output).

        Returns
        -------
        str
            64 hexadecimal digits.
        """
        if not self._fingerprint:
            digest = hashlib.sha256()
            for label, value in self._fingerprint_fields():
                digest.update(f"|{label}:".encode())
                if isinstance(value, np.ndarray):
                    digest.update(str(value.shape).encode() + value.dtype.str.encode())
                    digest.update(np.ascontiguousarray(value).tobytes() if value.dtype != object
                                  else repr(value.tolist()).encode())
                else:
                    digest.update(repr(value).encode())
            self._fingerprint.append(digest.hexdigest())
        return self._fingerprint[0]

    def _fingerprint_fields(self) -> list[tuple[str, Any]]:
        """(label, array or plain value) of every field the fingerprint covers, in fixed order."""
        fields_: list[tuple[str, Any]] = [("modality", self.modality), ("X", self.X),
                                          ("y", self.y)]
        if self.sensitive is not None:
            fields_.append(("sensitive", self.sensitive.to_csv(index=False)))
        if self.train is not None:
            fields_ += [("train.X", self.train.X), ("train.y", self.train.y)]
            if self.train.sensitive is not None:
                fields_.append(("train.sensitive", self.train.sensitive.to_csv(index=False)))
        if self.reference is not None:
            fields_.append(("reference", self.reference))
        for key in sorted(self.ood or {}):
            fields_.append((f"ood[{key!r}]", self.ood[key]))  # type: ignore[index]
            fields_.append((f"ood_kinds[{key!r}]", self.ood_kinds[key]))  # type: ignore[index]
            if self.ood_texts and key in self.ood_texts:
                fields_.append((f"ood_texts[{key!r}]", self.ood_texts[key]))
        if self.canaries is not None:
            fields_ += [("canaries.X", self.canaries.X), ("canaries.y", self.canaries.y),
                        ("canaries.included", self.canaries.included)]
        if self.input_range is not None:
            fields_ += [("input_range.low", np.asarray(self.input_range[0])),
                        ("input_range.high", np.asarray(self.input_range[1]))]
        groups = None if self.feature_groups is None else \
            [(k, tuple(v)) for k, v in self.feature_groups.items()]  # order: unit order
        fields_ += [("feature_names", self.feature_names),
                    ("categorical_features", self.categorical_features),
                    ("feature_groups", groups), ("class_names", self.class_names),
                    ("mutable_features", self.mutable_features), ("texts", self.texts)]
        return fields_

    def describe(self) -> dict[str, Any]:
        """Plain facts about the data for the report's provenance."""
        return {
            "name": self.name,
            "modality": self.modality,
            "n_samples": self.n_samples,
            "sample_shape": list(self.X.shape[1:]),
            "labels": self.labels.tolist(),
            "sensitive_features": list(self.sensitive.columns) if self.sensitive is not None
            else [],
            "n_train": len(self.train) if self.train is not None else None,
            "ood_sets": sorted(self.ood) if self.ood else [],
            "sha256": self.fingerprint(),
            **({"streamed": self.population.describe(), "n_samples": self.n_rows,
                "n_sample_with_inputs": self.n_samples} if self.population is not None else {}),
        }
