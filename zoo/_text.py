"""A small, deterministic word tokenizer for the zoo's text models.

Texts are lowercased, typographic quotes are folded to ASCII, and a regular
expression splits them into words (letters and digits, with inner apostrophes
kept: ``"it's"``) and single punctuation marks. The vocabulary is built from a
training corpus only; id 0 is padding and id 1 stands for every word outside
the vocabulary. The whole state is plain JSON (:meth:`WordTokenizer.to_dict`),
so a shipped tokenizer is never unpickled.

Examples
--------
>>> tokenizer = WordTokenizer.from_texts(["A fine film.", "A dull film!"], min_frequency=1,
...                                     max_length=6)
>>> tokenizer.tokenize("It’s a FINE film...")
["it's", 'a', 'fine', 'film', '.', '.', '.']
>>> tokenizer(["a fine, fine film"]).tolist()
[[2, 7, 1, 7, 3, 0]]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import BAD_TYPE, BAD_VALUE, AuditkitError

__all__ = ["PAD_ID", "UNK_ID", "WordTokenizer"]

PAD_ID = 0
UNK_ID = 1
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
_FORMAT = "auditkit.WordTokenizer/1"

# A word is a run of letters or digits, optionally joined by apostrophes
# ("don't", "it's"); hyphens split words ("kid-friendly" -> kid - friendly) so
# that compounds share the ids of their parts. Any other non-space character is
# a token of its own.
_TOKEN_PATTERN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
# Typographic quotes vary between sources for the same word ("it’s" / "it's").
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u201c": '"', "\u201d": '"',
                       "\u2013": "-", "\u2014": "-", "\u2011": "-"})

_NOT_TEXTS = "a list of str"
_BAD_ID = "token ids in [0, {size})"


class WordTokenizer:
    """Lowercasing regex word tokenizer with a fixed vocabulary and length.

    Parameters
    ----------
    id_to_token : sequence of str
        The vocabulary in id order; entries 0 and 1 must be ``"<pad>"`` and
        ``"<unk>"``.
    max_length : int, default=48
        Every encoded text is cut or padded (with 0, at the end) to this length.

    Attributes
    ----------
    id_to_token : tuple of str
        The token of each id.
    vocab : dict of str to int
        The id of each token.
    max_length : int

    See Also
    --------
    WordTokenizer.from_texts : build the vocabulary from a training corpus.
    """

    def __init__(self, id_to_token: Sequence[str], *, max_length: int = 48) -> None:
        tokens = tuple(id_to_token)
        if len(tokens) < 2 or tokens[PAD_ID] != PAD_TOKEN or tokens[UNK_ID] != UNK_TOKEN:
            raise AuditkitError(BAD_VALUE.format(
                param="id_to_token", expected=f"a vocabulary starting with {PAD_TOKEN!r}, "
                f"{UNK_TOKEN!r}", got=repr(list(tokens[:2]))))
        if len(set(tokens)) != len(tokens):
            raise AuditkitError(BAD_VALUE.format(param="id_to_token",
                                                 expected="distinct tokens",
                                                 got="a vocabulary with duplicates"))
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise AuditkitError(BAD_VALUE.format(param="max_length", expected="a positive int",
                                                 got=repr(max_length)))
        self.id_to_token = tokens
        self.vocab = {token: i for i, token in enumerate(tokens)}
        self.max_length = max_length

    @classmethod
    def from_texts(cls, texts: Iterable[str], *, min_frequency: int = 2,
                   max_size: int | None = None, max_length: int = 48) -> WordTokenizer:
        """Build the vocabulary of a training corpus.

        Parameters
        ----------
        texts : iterable of str
            The training texts (never the test texts: unseen words must map to
            ``<unk>`` as they will in use).
        min_frequency : int, default=2
            Keep tokens seen at least this many times.
        max_size : int, optional
            Keep at most this many ids in all (padding and unknown included),
            the most frequent tokens first.
        max_length : int, default=48

        Returns
        -------
        WordTokenizer
            Ids after the two special ones are ordered by decreasing frequency,
            ties alphabetically, so the same corpus always gives the same ids.
        """
        counts = Counter(token for text in _texts(texts) for token in _split(text))
        kept = sorted((t for t, c in counts.items() if c >= min_frequency),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[:max(max_size - 2, 0)]
        return cls([PAD_TOKEN, UNK_TOKEN, *kept], max_length=max_length)

    def __len__(self) -> int:
        return len(self.id_to_token)

    @property
    def vocab_size(self) -> int:
        """Number of ids, padding and unknown included."""
        return len(self.id_to_token)

    def tokenize(self, text: str) -> list[str]:
        """Split one text into lowercase tokens (no truncation, no unknown marking)."""
        if not isinstance(text, str):
            raise AuditkitError(BAD_TYPE.format(param="text", expected="a str",
                                                got=type(text).__name__))
        return _split(text)

    def encode(self, text: str) -> list[int]:
        """Ids of one text's tokens, unknown words as 1, neither cut nor padded."""
        return [self.vocab.get(token, UNK_ID) for token in self.tokenize(text)]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into a padded id matrix.

        Parameters
        ----------
        texts : list of str

        Returns
        -------
        numpy.ndarray of shape (n_texts, max_length), dtype int64
            The first ``max_length`` token ids of each text, then padding (0).
        """
        texts = _texts(texts)
        ids = np.zeros((len(texts), self.max_length), dtype=np.int64)
        for row, text in enumerate(texts):
            encoded = self.encode(text)[:self.max_length]
            ids[row, :len(encoded)] = encoded
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        """Tokens of one row of ids, padding dropped (unknown words read ``<unk>``)."""
        row = np.asarray(ids)
        if row.ndim != 1 or row.dtype.kind not in "iu":
            raise AuditkitError(BAD_VALUE.format(param="ids", expected="a 1-D sequence of int",
                                                 got=f"an array of shape {row.shape} and dtype "
                                                     f"{row.dtype}"))
        if row.size and (row.min() < 0 or row.max() >= len(self.id_to_token)):
            raise AuditkitError(BAD_VALUE.format(
                param="ids", expected=_BAD_ID.format(size=len(self.id_to_token)),
                got=f"ids from {row.min()} to {row.max()}"))
        return [self.id_to_token[i] for i in row.tolist() if i != PAD_ID]

    def to_dict(self) -> dict[str, Any]:
        """The tokenizer as plain JSON-ready data (see :meth:`from_dict`)."""
        return {"format": _FORMAT, "pattern": _TOKEN_PATTERN.pattern, "lowercase": True,
                "max_length": self.max_length, "pad_id": PAD_ID, "unk_id": UNK_ID,
                "id_to_token": list(self.id_to_token)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> WordTokenizer:
        """Rebuild a tokenizer written by :meth:`to_dict`."""
        if not isinstance(state, Mapping) or state.get("format") != _FORMAT:
            raise AuditkitError(BAD_VALUE.format(
                param="state", expected=f"a mapping written by WordTokenizer.to_dict "
                f"(format {_FORMAT!r})", got=repr(state.get("format") if isinstance(
                    state, Mapping) else type(state).__name__)))
        if state.get("pattern") != _TOKEN_PATTERN.pattern:
            # Ids only mean the same thing if the text is split the same way.
            raise AuditkitError(BAD_VALUE.format(param="state['pattern']",
                                                 expected=repr(_TOKEN_PATTERN.pattern),
                                                 got=repr(state.get("pattern"))))
        return cls(state["id_to_token"], max_length=int(state["max_length"]))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, WordTokenizer) and other.max_length == self.max_length
                and other.id_to_token == self.id_to_token)

    def __hash__(self) -> int:
        return hash((self.max_length, self.id_to_token))

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size}, max_length={self.max_length})"


def _split(text: str) -> list[str]:
    return _TOKEN_PATTERN.findall(text.translate(_FOLD).lower())


def _texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise AuditkitError(BAD_TYPE.format(param="texts", expected=_NOT_TEXTS + " (wrap a "
                                            "single text in a list)", got="a single str"))
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise AuditkitError(BAD_TYPE.format(param="texts", expected=_NOT_TEXTS,
                                            got=f"items of type {bad[0]}"))
    return texts
