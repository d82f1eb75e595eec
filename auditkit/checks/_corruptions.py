"""Natural corruptions of inputs at five severities, vectorised over a batch.

Images follow ImageNet-C (Hendrycks & Dietterich 2019): Gaussian noise, Gaussian
blur, contrast, brightness, and an occluding square (cutout, DeVries & Taylor
2017). Noise and brightness are fractions of the valid range ``high - low``
(ImageNet-C's values for images in [0, 1]); the blur's sigma is a fraction of
the image's shorter side, so that a 28-pixel digit and a 224-pixel photograph
blur alike. Text gets typos, casing changes and punctuation edits on a growing
share of words; tabular data Gaussian noise on numeric features (in units of
each feature's standard deviation) and category swaps (miscoded categorical
values); sequences Gaussian noise, a time shift and dropped frames.

Every corrupted value stays inside :meth:`AuditData.valid_bounds` and only
values of :meth:`AuditData.mutable_mask` change. The random draws of a
corruption do not depend on its severity, so with the same generator a higher
severity corrupts the same samples more (the same noise, scaled; the same
words, and more of them): accuracy curves over severity have less noise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from ..exceptions import BAD_VALUE, CheckError
from ..inputs import AuditData
from ._tabular import grid_step
from ._text import needs_texts

__all__ = ["CORRUPTIONS", "CORRUPTION_NAMES", "N_SEVERITIES", "Corruption", "CorruptionDomain",
           "apply_corruption", "corruption_skip_reason",
           "check_severities", "corrupt", "corrupt_text", "corrupt_texts", "corruptions_for",
           "lookup"]

N_SEVERITIES = 5
NO_TEXTS = needs_texts("Text corruptions")


# -- what a corruption may change ---------------------------------------------------------


@dataclass(frozen=True)
class CategoricalUnit:
    """A categorical feature: its one-hot columns, or one column and its observed levels."""

    name: str
    columns: tuple[int, ...]
    levels: np.ndarray  # single column: the observed values; one-hot: unused (empty)
    has_none: bool = False  # one-hot rows with no column set (a dropped reference level)


@dataclass(frozen=True)
class CorruptionDomain:
    """Where and how far the inputs of one dataset may be corrupted.

    Arrays have one sample's shape. Built once per audit by :meth:`from_data`.

    Attributes
    ----------
    modality : str
    low, high : ndarray
        The valid bounds of every value.
    mutable : ndarray of bool
        Values a corruption may change.
    spread : ndarray
        The scale of noise: ``high - low`` for images; the standard deviation
        of the reference inputs per column (tabular) or per channel (sequences).
    numeric : ndarray of bool
        Values noise may change: mutable and not part of a categorical feature.
    grid_step, grid_origin : ndarray
        Tabular: features on a regular grid (integer-valued, also after
        standardisation) are rounded back to it after noise; step 0 elsewhere.
    categorical : tuple of CategoricalUnit
        Tabular: the mutable categorical features.
    """

    modality: str
    low: np.ndarray
    high: np.ndarray
    mutable: np.ndarray
    spread: np.ndarray
    numeric: np.ndarray
    grid_step: np.ndarray
    grid_origin: np.ndarray
    categorical: tuple[CategoricalUnit, ...] = ()

    @classmethod
    def from_data(cls, data: AuditData) -> CorruptionDomain:
        """The domain of ``data`` (not for text, whose corruptions edit strings)."""
        low, high = data.valid_bounds()
        mutable = data.mutable_mask()
        reference = np.asarray(data.reference_inputs, dtype=np.float64)
        shape = data.X.shape[1:]
        zeros = np.zeros(shape)
        if data.modality == "image":
            return cls("image", low, high, mutable, high - low, mutable.copy(), zeros, zeros)
        if data.modality == "sequence":
            spread = np.broadcast_to(reference.std(axis=(0, 1)), shape).copy()
            return cls("sequence", low, high, mutable, spread, mutable.copy(), zeros, zeros)
        units, categorical_columns = _categorical_units(data, reference, low, high)
        numeric = mutable & ~categorical_columns
        step, origin = _grids(np.vstack([np.asarray(data.X, dtype=np.float64), reference]))
        units = tuple(u for u in units if mutable[list(u.columns)].all())
        return cls("tabular", low, high, mutable, reference.std(axis=0), numeric, step, origin,
                   units)

    def can_change(self, corruption: Corruption) -> bool:
        """Whether ``corruption`` has anything to change in this domain."""
        if corruption.name == "category_swap":
            return bool(self.categorical)
        if corruption.name == "gaussian_noise":
            return bool((self.numeric & (self.spread > 0) & (self.high > self.low)).any())
        return bool(self.mutable.any())


def _categorical_units(data: AuditData, reference: np.ndarray, low: np.ndarray,
                       high: np.ndarray) -> tuple[list[CategoricalUnit], np.ndarray]:
    """One-hot groups and declared categorical columns, and the mask of their columns.

    A group of several columns is one-hot; a one-column group or a column named
    in ``categorical_features`` is a coded categorical feature with its observed
    levels.
    """
    names = list(data.feature_names or ())
    declared = set(data.categorical_features or ())
    observed = np.vstack([np.asarray(data.X, dtype=np.float64), reference])
    columns = np.zeros(data.X.shape[1], dtype=bool)
    units = []
    coded = {name: (j,) for j, name in enumerate(names) if name in declared}
    for key, group in (data.feature_groups or {}).items():
        if len(group) > 1:
            cols = list(group)
            scaled = (observed[:, cols] - low[cols]) / np.maximum(high[cols] - low[cols], 1e-12)
            units.append(CategoricalUnit(key, tuple(group), np.empty(0),
                                         bool((scaled.max(axis=1) <= 0.5).any())))
            columns[cols] = True
        elif key in declared:
            coded[key] = tuple(group)
    for name, (j,) in coded.items():
        if not columns[j]:
            columns[j] = True
            units.append(CategoricalUnit(name, (j,), np.unique(observed[:, j])))
    return [u for u in units if len(u.columns) > 1 or len(u.levels) > 1], columns


def _grids(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step and origin of each column whose values lie on a regular grid (else step 0)."""
    steps = np.zeros(values.shape[1])
    origins = np.zeros(values.shape[1])
    for j in range(values.shape[1]):
        levels = np.unique(values[:, j])
        steps[j] = grid_step(levels)
        if steps[j] > 0:
            origins[j] = levels[0]
    return steps, origins


# -- the corruptions ----------------------------------------------------------------------


ArrayFunction = Callable[[np.ndarray, float, CorruptionDomain, np.random.Generator], np.ndarray]
TextFunction = Callable[[Sequence[str], float, np.random.Generator], list[str]]


@dataclass(frozen=True)
class Corruption:
    """One corruption of one modality.

    Attributes
    ----------
    name : str
        Its option name, e.g. ``"gaussian_blur"``.
    modality : str
    label : str
        A readable name, e.g. ``"Gaussian blur"``.
    parameter : str
        What its level means.
    levels : tuple of float
        The level at severities 1 to 5.
    function : callable
        ``(X, level, domain, rng) -> X`` for arrays (images as (n, C, H, W),
        sequences as (n, T, C)); ``(texts, level, rng) -> texts`` for text.
    """

    name: str
    modality: str
    label: str
    parameter: str
    levels: tuple[float, ...]
    function: ArrayFunction | TextFunction

    def level(self, severity: int) -> float:
        """The corruption's parameter at ``severity`` (1 to 5)."""
        return self.levels[severity - 1]


def _image_noise(X: np.ndarray, level: float, domain: CorruptionDomain,
                 rng: np.random.Generator) -> np.ndarray:
    return X + rng.standard_normal(X.shape) * (level * domain.spread)


def _image_blur(X: np.ndarray, level: float, domain: CorruptionDomain,
                rng: np.random.Generator) -> np.ndarray:
    sigma = level * min(X.shape[-2:])
    return gaussian_filter(X, sigma=(0.0, 0.0, sigma, sigma), mode="reflect", truncate=4.0)


def _image_contrast(X: np.ndarray, level: float, domain: CorruptionDomain,
                    rng: np.random.Generator) -> np.ndarray:
    mean = X.mean(axis=(2, 3), keepdims=True)
    return (X - mean) * level + mean


def _image_brightness(X: np.ndarray, level: float, domain: CorruptionDomain,
                      rng: np.random.Generator) -> np.ndarray:
    return X + level * (domain.high - domain.low)


def _image_occlusion(X: np.ndarray, level: float, domain: CorruptionDomain,
                     rng: np.random.Generator) -> np.ndarray:
    n, _, height, width = X.shape
    side = max(1, round(level * min(height, width)))
    where = rng.random((n, 2))  # drawn whatever the size: the patch grows around one spot
    top = np.floor(where[:, 0] * (height - side + 1)).astype(int)
    left = np.floor(where[:, 1] * (width - side + 1)).astype(int)
    rows = (np.arange(height) >= top[:, None]) & (np.arange(height) < top[:, None] + side)
    cols = (np.arange(width) >= left[:, None]) & (np.arange(width) < left[:, None] + side)
    patch = (rows[:, :, None] & cols[:, None, :])[:, None]
    return np.where(patch, domain.low, X)


def _tabular_noise(X: np.ndarray, level: float, domain: CorruptionDomain,
                   rng: np.random.Generator) -> np.ndarray:
    noisy = X + rng.standard_normal(X.shape) * (level * domain.spread)
    on_grid = domain.grid_step > 0
    step = np.where(on_grid, domain.grid_step, 1.0)
    snapped = domain.grid_origin + np.rint((noisy - domain.grid_origin) / step) * step
    noisy = np.where(on_grid, snapped, noisy)
    return np.where(domain.numeric, noisy, X)


def _category_swap(X: np.ndarray, level: float, domain: CorruptionDomain,
                   rng: np.random.Generator) -> np.ndarray:
    out = X.copy()
    units = domain.categorical
    hit = rng.random((len(X), len(units))) < level
    shift = rng.random((len(X), len(units)))
    for j, unit in enumerate(units):
        cols = list(unit.columns)
        if len(cols) == 1:  # a coded column: another observed level
            levels = unit.levels
            current = np.abs(X[:, cols[0], None] - levels[None, :]).argmin(axis=1)
            new = (current + 1 + np.floor(shift[:, j] * (len(levels) - 1)).astype(int)) \
                % len(levels)
            out[:, cols[0]] = np.where(hit[:, j], levels[new], X[:, cols[0]])
            continue
        low, high = domain.low[cols], domain.high[cols]
        scaled = (X[:, cols] - low) / np.maximum(high - low, 1e-12)
        k = len(cols) + unit.has_none  # state len(cols): no column set
        current = np.where(scaled.max(axis=1) > 0.5, scaled.argmax(axis=1), len(cols))
        new = (current + 1 + np.floor(shift[:, j] * (k - 1)).astype(int)) % k
        one_hot = np.where(np.arange(len(cols))[None, :] == new[:, None], high, low)
        out[:, cols] = np.where(hit[:, j, None], one_hot, X[:, cols])
    return out


def _sequence_noise(X: np.ndarray, level: float, domain: CorruptionDomain,
                    rng: np.random.Generator) -> np.ndarray:
    return X + rng.standard_normal(X.shape) * (level * domain.spread)


def _time_shift(X: np.ndarray, level: float, domain: CorruptionDomain,
                rng: np.random.Generator) -> np.ndarray:
    # A late start: every frame moves ``shift`` steps later, the first frame is held
    # meanwhile, and the last frames fall off the end.
    shift = min(max(1, round(level * X.shape[1])), X.shape[1] - 1)
    index = np.maximum(np.arange(X.shape[1]) - shift, 0)
    return X[:, index]


def _dropped_frames(X: np.ndarray, level: float, domain: CorruptionDomain,
                    rng: np.random.Generator) -> np.ndarray:
    # A dropped frame repeats the last one received (sample and hold); the first is kept.
    n, length = X.shape[:2]
    kept = rng.random((n, length)) >= level
    kept[:, 0] = True
    index = np.maximum.accumulate(np.where(kept, np.arange(length), 0), axis=1)
    return X[np.arange(n)[:, None], index]


# Text: each edit draws its random numbers whether or not it happens, so the edits of a
# lower severity are a subset of those of a higher one.
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_WORDS = re.compile(r"[^\W\d_]+")
_WORD_END = re.compile(r"\w+")
_PUNCTUATION = re.compile(r"[^\w\s]")
_MARKS = ",.;:!?-'\""
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _typo(word: str, kind: float, where: float, letter: float) -> str:
    new = _ALPHABET[int(letter * 26)]
    new = new.upper() if word.isupper() else new
    if kind < 0.25:  # swap two neighbours (if they differ; else substitute below)
        i = int(where * (len(word) - 1))
        if word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        kind = 0.9
    if kind < 0.5:  # delete a letter
        i = int(where * len(word))
        return word[:i] + word[i + 1:]
    if kind < 0.75:  # insert a letter
        i = int(where * (len(word) + 1))
        return word[:i] + new + word[i:]
    i = int(where * len(word))  # substitute a letter
    if word[i].lower() == new.lower():
        new = _ALPHABET[(_ALPHABET.index(new.lower()) + 1) % 26]
        new = new.upper() if word.isupper() else new
    return word[:i] + new + word[i + 1:]


def _text_typos(texts: Sequence[str], level: float, rng: np.random.Generator) -> list[str]:
    out = []
    for text in texts:
        matches = list(_LETTERS.finditer(text))
        draws = rng.random((len(matches), 4))
        out.append(_edit(text, matches, [_typo(m.group(0), *d[1:]) if d[0] < level else None
                                         for m, d in zip(matches, draws, strict=True)]))
    return out


def _recase(word: str, kind: float) -> str | None:
    variants = [v for v in dict.fromkeys((word.upper(), word.lower(), word.title()))
                if v != word]
    return variants[int(kind * len(variants))] if variants else None


def _text_casing(texts: Sequence[str], level: float, rng: np.random.Generator) -> list[str]:
    out = []
    for text in texts:
        matches = list(_WORDS.finditer(text))
        draws = rng.random((len(matches), 2))
        out.append(_edit(text, matches, [_recase(m.group(0), d[1]) if d[0] < level else None
                                         for m, d in zip(matches, draws, strict=True)]))
    return out


def _text_punctuation(texts: Sequence[str], level: float,
                      rng: np.random.Generator) -> list[str]:
    out = []
    for text in texts:
        marks = list(_PUNCTUATION.finditer(text))
        words = list(_WORD_END.finditer(text))
        removed = rng.random(len(marks)) < level
        added = rng.random((len(words), 2))
        edits = [(m.start(), m.end(), "") for m, r in zip(marks, removed, strict=True) if r]
        edits += [(m.end(), m.end(), _MARKS[int(d[1] * len(_MARKS))])
                  for m, d in zip(words, added, strict=True) if d[0] < level]
        pieces, last = [], 0
        for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
            pieces += [text[last:start], new]
            last = max(last, end)
        out.append("".join(pieces) + text[last:])
    return out


def _edit(text: str, matches: list[re.Match[str]], replacements: list[str | None]) -> str:
    pieces, last = [], 0
    for match, new in zip(matches, replacements, strict=True):
        if new is not None:
            pieces += [text[last:match.start()], new]
            last = match.end()
    return "".join(pieces) + text[last:]


def _registry(*corruptions: Corruption) -> dict[str, dict[str, Corruption]]:
    table: dict[str, dict[str, Corruption]] = {}
    for corruption in corruptions:
        table.setdefault(corruption.modality, {})[corruption.name] = corruption
    return table


#: modality -> name -> Corruption, in report order.
CORRUPTIONS = _registry(
    Corruption("gaussian_noise", "image", "Gaussian noise",
               "noise std as a fraction of the valid range", (0.08, 0.12, 0.18, 0.26, 0.38),
               _image_noise),
    Corruption("gaussian_blur", "image", "Gaussian blur",
               "blur sigma as a fraction of the shorter image side",
               (0.0125, 0.02, 0.03, 0.045, 0.06), _image_blur),
    Corruption("contrast", "image", "Contrast",
               "contrast kept (1 = unchanged)", (0.4, 0.3, 0.2, 0.1, 0.05), _image_contrast),
    Corruption("brightness", "image", "Brightness",
               "brightness added as a fraction of the valid range", (0.1, 0.2, 0.3, 0.4, 0.5),
               _image_brightness),
    Corruption("occlusion", "image", "Occlusion",
               "side of the occluding square as a fraction of the shorter image side",
               (0.1, 0.2, 0.3, 0.4, 0.5), _image_occlusion),
    Corruption("typos", "text", "Typos", "share of words with a typo",
               (0.05, 0.1, 0.15, 0.25, 0.4), _text_typos),
    Corruption("casing", "text", "Casing", "share of words re-cased",
               (0.1, 0.2, 0.35, 0.5, 0.8), _text_casing),
    Corruption("punctuation", "text", "Punctuation",
               "probability of removing each mark and of adding one after each word",
               (0.05, 0.1, 0.15, 0.25, 0.4), _text_punctuation),
    Corruption("gaussian_noise", "tabular", "Gaussian noise",
               "noise std as a fraction of each numeric feature's std",
               (0.1, 0.2, 0.3, 0.5, 0.75), _tabular_noise),
    Corruption("category_swap", "tabular", "Category swap",
               "probability that each categorical feature takes another category",
               (0.02, 0.05, 0.1, 0.15, 0.25), _category_swap),
    Corruption("gaussian_noise", "sequence", "Gaussian noise",
               "noise std as a fraction of each channel's std", (0.1, 0.2, 0.3, 0.5, 0.75),
               _sequence_noise),
    Corruption("time_shift", "sequence", "Time shift",
               "delay as a fraction of the sequence length", (0.05, 0.1, 0.15, 0.2, 0.3),
               _time_shift),
    Corruption("dropped_frames", "sequence", "Dropped frames",
               "share of frames dropped (the previous frame held)", (0.05, 0.1, 0.2, 0.3, 0.5),
               _dropped_frames),
)

#: Every corruption name, whatever its modality.
CORRUPTION_NAMES = tuple(dict.fromkeys(n for table in CORRUPTIONS.values() for n in table))


def corruptions_for(modality: str, names: Sequence[str] | None = None) -> list[Corruption]:
    """The corruptions of ``modality``, all or those named, in registry order."""
    table = CORRUPTIONS.get(modality, {})
    return [c for name, c in table.items() if names is None or name in names]


def corruption_skip_reason(data: AuditData, names: Sequence[str] | None) -> str | None:
    """Why corruptions cannot run on ``data``: no raw texts, or none of ``names`` applies."""
    if data.modality == "text" and (data.texts is None or data.tokenizer is None):
        return NO_TEXTS
    if not corruptions_for(data.modality, names):
        return (f"None of the chosen corruptions {list(names or ())} applies to "
                f"{data.modality} data (those that do: "
                f"{list(CORRUPTIONS.get(data.modality, {}))}).")
    return None


def apply_corruption(corruption: Corruption, X: np.ndarray, severity: int, domain: CorruptionDomain,
                     rng: np.random.Generator) -> np.ndarray:
    """Corrupt a batch of array inputs (image, tabular or sequence).

    Parameters
    ----------
    corruption : Corruption
        An array corruption of ``domain.modality``.
    X : ndarray of shape (n_samples, ...)
        Samples shaped like those of the audited data.
    severity : int
        From 1 to 5.
    domain : CorruptionDomain
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of the shape and dtype of ``X``
        Inside the domain's bounds, changed only where it is mutable;
        integer inputs are rounded.
    """
    values = np.asarray(X, dtype=np.float64)
    low, high, mutable = domain.low, domain.high, domain.mutable
    shape = values.shape
    if domain.modality == "image" and values.ndim == 3:  # (n, H, W) -> (n, 1, H, W)
        values, low, high, mutable = values[:, None], low[None], high[None], mutable[None]
        domain = _reshaped(domain, low, high, mutable)
    elif domain.modality == "sequence" and values.ndim == 2:  # (n, T) -> (n, T, 1)
        values, low, high, mutable = (values[..., None], low[..., None], high[..., None],
                                      mutable[..., None])
        domain = _reshaped(domain, low, high, mutable)
    out = corruption.function(values, corruption.level(severity), domain, rng)  # type: ignore[call-arg,arg-type]
    out = np.where(mutable, np.clip(out, low, high), values).reshape(shape)
    if np.asarray(X).dtype.kind in "iu":
        return np.rint(out).astype(np.asarray(X).dtype)
    return out.astype(np.asarray(X).dtype if np.asarray(X).dtype.kind == "f" else np.float64)


def _reshaped(domain: CorruptionDomain, low: np.ndarray, high: np.ndarray,
              mutable: np.ndarray) -> CorruptionDomain:
    spread = domain.spread.reshape(low.shape)
    return CorruptionDomain(domain.modality, low, high, mutable, spread, mutable,
                            domain.grid_step,
                  domain.grid_origin, domain.categorical)


def corrupt_texts(texts: Sequence[str], corruption: Corruption, severity: int,
                  rng: np.random.Generator) -> list[str]:
    """Corrupt raw texts with a text corruption at ``severity`` (1 to 5)."""
    return corruption.function(list(texts), corruption.level(severity), rng)  # type: ignore[call-arg,arg-type]


def check_severities(severities: object) -> tuple[int, ...]:
    """The severities as a sorted tuple; a CheckError unless they are integers 1 to 5."""
    expected = f"a non-empty sequence of integers from 1 to {N_SEVERITIES}"
    if isinstance(severities, (int, np.integer)) and not isinstance(severities, bool):
        severities = (severities,)
    if not isinstance(severities, Sequence) or isinstance(severities, str) or not severities \
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                       and 1 <= s <= N_SEVERITIES for s in severities):
        raise CheckError(BAD_VALUE.format(param="severities", expected=expected,
                                          got=repr(severities)))
    return tuple(sorted({int(s) for s in severities}))


def corrupt(data: AuditData, corruption: str, severity: int, *, indices: Any = None,
            random_state: int = 0) -> np.ndarray:
    """Corrupted copies of audited inputs, as the check makes them.

    Parameters
    ----------
    data : AuditData
    corruption : str
        A corruption of the data's modality (see ``CORRUPTIONS[data.modality]``).
    severity : int
        From 1 to 5.
    indices : array-like of int, optional
        The samples to corrupt; all by default.
    random_state : int, default=0

    Returns
    -------
    ndarray of shape (n_indices, ...)
        The corrupted inputs; for text, the corrupted texts re-tokenized with
        ``data.tokenizer``.

    Examples
    --------
    >>> import numpy as np
    >>> from auditkit import AuditData
    >>> data = AuditData(np.random.default_rng(0).random((4, 8, 8)), [0, 1, 0, 1],
    ...                  modality="image")
    >>> corrupt(data, "gaussian_blur", 3).shape
    (4, 8, 8)
    """
    chosen = lookup(data.modality, corruption)
    severity = check_severities((severity,))[0]
    index = np.arange(data.n_samples) if indices is None else np.asarray(indices, dtype=int)
    rng = np.random.default_rng(random_state)
    if data.modality == "text":
        if data.texts is None or data.tokenizer is None:
            raise CheckError(NO_TEXTS)
        texts = corrupt_texts([data.texts[i] for i in index], chosen, severity, rng)
        return np.asarray(data.tokenizer(texts))
    return apply_corruption(chosen, data.X[index], severity, CorruptionDomain.from_data(data), rng)


def corrupt_text(texts: Sequence[str], corruption: str, severity: int, *,
                 random_state: int = 0) -> list[str]:
    """Corrupted copies of raw texts (typos, casing or punctuation).

    Parameters
    ----------
    texts : sequence of str
    corruption : {"typos", "casing", "punctuation"}
    severity : int
        From 1 to 5.
    random_state : int, default=0

    Returns
    -------
    list of str

    Examples
    --------
    >>> corrupt_text(["A fine film, truly."], "casing", 5)
    ['a FINE film, Truly.']
    """
    chosen = lookup("text", corruption)
    severity = check_severities((severity,))[0]
    return corrupt_texts(texts, chosen, severity, np.random.default_rng(random_state))


def lookup(modality: str, name: str) -> Corruption:
    """The corruption ``name`` of ``modality``; a CheckError if there is none."""
    table = CORRUPTIONS.get(modality, {})
    if name not in table:
        raise CheckError(BAD_VALUE.format(param="corruption", expected=f"one of {list(table)} "
                                          f"for {modality} data", got=repr(name)))
    return table[name]
