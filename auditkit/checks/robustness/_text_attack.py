"""The text attacks: WordNet synonyms and keyboard typos, chosen greedily by a black box.

A sentence is split into words (:func:`split_words`); the words an adversary
may change are the alphabetic ones of at least :data:`MIN_WORD_LENGTH` letters
that are not stop words (scikit-learn's English list). Each such word is
ranked by its importance, the drop of the true-class margin when it is
deleted (leave-one-out, as in TextFooler, Jin et al. 2020, and DeepWordBug,
Gao et al. 2018). Then, most important word first, every candidate
replacement of that word is scored and the one that lowers the margin most is
kept (if it lowers it at all), until the prediction flips or the budget of
changed words is spent. Candidates are WordNet synonyms (:func:`synonyms`,
in-vocabulary ones first) and DeepWordBug-style typos (:func:`typos`: adjacent
swap, deletion, substitution or insertion of a keyboard neighbour). All
candidates of all samples of a round go to the model in one call, and
candidates that the tokenizer turns into the same ids are scored once.

The margin of a sample is ``p(true class) - max p(other class)``; the
prediction is wrong once it is negative.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..._resources import synonym_table as load_synonyms
from .._text import cased, split_words
from ._common import margin as class_margin

__all__ = [
    "ATTACKS",
    "KEYBOARD",
    "MIN_WORD_LENGTH",
    "TextAttackRun",
    "TextAttack",
    "adjacent_swaps",
    "attackable",
    "deletions",
    "keyboard_insertions",
    "keyboard_substitutions",
    "load_synonyms",
    "split_words",
    "synonyms",
    "typos",
    "word_budget",
]

#: The searches run, in report order: each alone, then both candidate sets together.
ATTACKS = ("synonym", "typo", "combined")
#: Shorter words are never changed (articles, "is", "ok": little meaning to keep).
MIN_WORD_LENGTH = 3
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    """Letters next to each letter on a QWERTY keyboard (rows are staggered to the right)."""
    where = {ch: (r, c) for r, row in enumerate(_KEYBOARD_ROWS) for c, ch in enumerate(row)}
    near = {}
    for ch, (r, c) in where.items():
        spots = [(r, c - 1), (r, c + 1), (r - 1, c), (r - 1, c + 1), (r + 1, c - 1), (r + 1, c)]
        near[ch] = "".join(_KEYBOARD_ROWS[i][j] for i, j in spots
                           if 0 <= i < len(_KEYBOARD_ROWS) and 0 <= j < len(_KEYBOARD_ROWS[i]))
    return near


#: QWERTY neighbours of each lowercase letter, e.g. ``KEYBOARD["g"] == "fhtybv"``.
KEYBOARD = _keyboard_neighbours()


# -- words --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def attackable(word: str) -> bool:
    """Whether the attacks may change ``word``: alphabetic, long enough, not a stop word."""
    return len(word) >= MIN_WORD_LENGTH and word.isalpha() and word.lower() not in _stop_words()


# -- synonyms -----------------------------------------------------------------------------


def synonyms(word: str, table: Mapping[str, Sequence[str]], *,
             vocabulary: frozenset[str] | None = None) -> list[str]:
    """Synonyms of ``word`` in its case, those the tokenizer knows first.

    Parameters
    ----------
    word : str
    table : mapping of str to sequence of str
        Lowercase word -> synonyms (:func:`load_synonyms`).
    vocabulary : frozenset of str, optional
        Lowercase words the tokenizer knows; unknown synonyms come last.

    Returns
    -------
    list of str
    """
    found = list(table.get(word.lower(), ()))
    if vocabulary is not None:
        found.sort(key=lambda w: w not in vocabulary)  # stable: table order otherwise
    return [cased(word, w) for w in found]


# -- typos --------------------------------------------------------------------------------
# Every edit keeps the first letter (readers still recognise the word) and
# returns distinct words different from the original, in the case of the original.


def _edits(word: str, make: Callable[[str], list[str]]) -> list[str]:
    lower = word.lower()
    out = dict.fromkeys(cased(word, w) for w in make(lower) if w != lower)
    return list(out)


def adjacent_swaps(word: str) -> list[str]:
    """``word`` with two neighbouring letters swapped (not the first letter)."""
    return _edits(word, lambda w: [w[:i] + w[i + 1] + w[i] + w[i + 2:]
                                   for i in range(1, len(w) - 1)])


def deletions(word: str) -> list[str]:
    """``word`` with one letter (not the first) deleted."""
    return _edits(word, lambda w: [w[:i] + w[i + 1:] for i in range(1, len(w))])


def keyboard_substitutions(word: str) -> list[str]:
    """``word`` with one letter (not the first) replaced by a QWERTY neighbour."""
    return _edits(word, lambda w: [w[:i] + c + w[i + 1:] for i in range(1, len(w))
                                   for c in KEYBOARD.get(w[i], "")])


def keyboard_insertions(word: str) -> list[str]:
    """``word`` with a QWERTY neighbour of a letter inserted after that letter."""
    return _edits(word, lambda w: [w[:i + 1] + c + w[i + 1:] for i in range(len(w))
                                   for c in KEYBOARD.get(w[i], "")])


_TYPO_KINDS = (adjacent_swaps, deletions, keyboard_substitutions, keyboard_insertions)


def typos(word: str, rng: np.random.Generator, n: int) -> list[str]:
    """At most ``n`` distinct one-edit typos of ``word``, drawn across the four kinds.

    The kinds take turns (in a random order) so that a few typos still cover
    swaps, deletions, substitutions and insertions.

    Parameters
    ----------
    word : str
    rng : numpy.random.Generator
    n : int

    Returns
    -------
    list of str
    """
    pools = []
    for kind in _TYPO_KINDS:
        edits = kind(word)
        pools.append([edits[j] for j in rng.permutation(len(edits))])
    turns = rng.permutation(len(pools))
    chosen: dict[str, None] = {}
    while len(chosen) < n and any(pools):
        for k in turns:
            if pools[k] and len(chosen) < n:
                chosen.setdefault(pools[k].pop(0))
    return list(chosen)


# -- the search ---------------------------------------------------------------------------


@dataclass
class TextAttackRun:
    """What one search did to each sample of a chunk (parallel lists).

    Attributes
    ----------
    success : list of bool
        Whether the prediction was flipped.
    words_changed : list of int
    queries : list of int
        Model evaluations of this search (candidates with the same ids count once).
    margin : list of float
        True-class margin after the attack.
    proba : list of ndarray
        Class probabilities after the attack.
    pieces : list of list of str
        The attacked sentence, split as by :func:`split_words`.
    changes : list of list of (int, str, str)
        (piece position, original word, replacement) in the order they were made.
    """

    success: list[bool] = field(default_factory=list)
    words_changed: list[int] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    proba: list[np.ndarray] = field(default_factory=list)
    pieces: list[list[str]] = field(default_factory=list)
    changes: list[list[tuple[int, str, str]]] = field(default_factory=list)


@dataclass
class TextAttack:
    """The greedy word-level search of one chunk of sentences.

    Parameters
    ----------
    predict_proba : callable
        Token ids -> class probabilities.
    tokenizer : callable
        List of str -> token ids, one row per text.
    table : mapping of str to sequence of str
        The synonym table (:func:`load_synonyms`).
    vocabulary : frozenset of str or None
        Lowercase words the tokenizer knows, when it tells.
    n_typos : int
        Typos tried per word.
    seed : int
        Seeds the typos of each (sample, word) independently of the chunking.
    """

    predict_proba: Callable[[np.ndarray], np.ndarray]
    tokenizer: Callable[[list[str]], np.ndarray]
    table: Mapping[str, Sequence[str]]
    vocabulary: frozenset[str] | None
    n_typos: int
    seed: int

    def _score(self, texts: list[str], target: np.ndarray, known: list[bytes]
               ) -> tuple[np.ndarray, np.ndarray, list[bytes], np.ndarray]:
        """Margins of ``texts``, querying once per distinct id row not in ``known``.

        Returns margins (NaN where the ids equal the known row, i.e. nothing
        changed for the model), probabilities, the id rows' bytes, and which
        texts were queried.
        """
        ids = np.asarray(self.tokenizer(texts))
        keys = [row.tobytes() for row in ids]
        first: dict[bytes, int] = {}
        source = np.empty(len(texts), dtype=np.int64)
        for j, key in enumerate(keys):
            source[j] = first.setdefault(key, j) if key != known[j] else -1
        queried = np.flatnonzero(source == np.arange(len(texts)))
        proba = np.full((len(texts), 0), np.nan)
        margins = np.full(len(texts), np.nan)
        if len(queried):
            scored = np.asarray(self.predict_proba(ids[queried]), dtype=np.float64)
            proba = np.full((len(texts), scored.shape[1]), np.nan)
            proba[queried] = scored
            has = source >= 0
            proba[has] = proba[source[has]]
            margins[has] = class_margin(proba[has], target[has])
        is_queried = np.zeros(len(texts), dtype=bool)
        is_queried[queried] = True
        return margins, proba, keys, is_queried

    def rank_words(self, pieces: list[list[str]], target: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, list[bytes], list[list[int]], np.ndarray]:
        """Score the sentences and rank their attackable words by leave-one-out importance.

        Returns the margins and probabilities of the sentences, their id rows,
        the attackable word positions of each sentence (most important first)
        and the model evaluations spent per sentence.
        """
        n = len(pieces)
        base_m, base_p, base_keys, _ = self._score(["".join(p) for p in pieces], target,
                                                   [b""] * n)
        owner, positions, texts = [], [], []
        for i, p in enumerate(pieces):
            for k in range(1, len(p), 2):
                if attackable(p[k]):
                    owner.append(i)
                    positions.append(k)
                    texts.append("".join(p[:k]) + "".join(p[k + 1:]))
        owner_ = np.asarray(owner, dtype=np.int64)
        queries = np.ones(n, dtype=np.int64)
        order: list[list[int]] = [[] for _ in range(n)]
        if texts:
            margins, _, _, asked = self._score(texts, target[owner_],
                                               [base_keys[i] for i in owner])
            importance = base_m[owner_] - np.where(np.isnan(margins), base_m[owner_], margins)
            queries += np.bincount(owner_, weights=asked, minlength=n).astype(np.int64)
            for j in np.lexsort((np.asarray(positions), -importance, owner_)):
                order[owner[j]].append(positions[j])
        return base_m, base_p, base_keys, order, queries

    def candidates(self, attack: str, sample: int, position: int, word: str) -> list[str]:
        """Replacements of ``word`` that ``attack`` tries (synonyms first when combined)."""
        found = []
        if attack in ("synonym", "combined"):
            found += synonyms(word, self.table, vocabulary=self.vocabulary)
        if attack in ("typo", "combined"):
            rng = np.random.default_rng([self.seed, sample, position])
            found += typos(word, rng, self.n_typos)
        return list(dict.fromkeys(w for w in found if w != word))

    def search(self, attack: str, samples: Sequence[int], pieces: list[list[str]],
               target: np.ndarray, budget: np.ndarray, base: tuple) -> TextAttackRun:
        """Greedy search of ``attack`` on every sentence, from the ranked words of ``base``.

        Parameters
        ----------
        attack : {"synonym", "typo", "combined"}
        samples : sequence of int
            Global index of each sentence (seeds its typos).
        pieces : list of list of str
            The sentences, split by :func:`split_words`.
        target : ndarray of int
            True class of each sentence.
        budget : ndarray of int
            Most words each sentence may change (0: not attacked).
        base : tuple
            What :meth:`rank_words` returned.

        Returns
        -------
        TextAttackRun
        """
        margin0, proba0, keys0, order, _ = base
        n = len(pieces)
        current = [list(p) for p in pieces]
        margin, proba, keys = margin0.copy(), list(proba0), list(keys0)
        changes: list[list[tuple[int, str, str]]] = [[] for _ in range(n)]
        queries = np.zeros(n, dtype=np.int64)
        cursor = [0] * n
        active = [i for i in range(n) if budget[i] > 0 and margin[i] > 0]
        while active:
            owner, positions, words = [], [], []
            for i in active:
                while cursor[i] < len(order[i]):
                    k = order[i][cursor[i]]
                    cursor[i] += 1
                    found = self.candidates(attack, samples[i], k, pieces[i][k])
                    if found:
                        owner += [i] * len(found)
                        positions += [k] * len(found)
                        words += found
                        break
            if not owner:
                break
            texts = ["".join(current[i][:k]) + w + "".join(current[i][k + 1:])
                     for i, k, w in zip(owner, positions, words, strict=True)]
            owner_ = np.asarray(owner, dtype=np.int64)
            m, p, ids, asked = self._score(texts, target[owner_], [keys[i] for i in owner])
            queries += np.bincount(owner_, weights=asked, minlength=n).astype(np.int64)
            m = np.where(np.isnan(m), np.inf, m)
            still = []
            for i in dict.fromkeys(owner):
                rows = np.flatnonzero(owner_ == i)
                best = rows[np.argmin(m[rows])]  # first of equals: synonyms, known words first
                if m[best] < margin[i]:
                    k = positions[best]
                    changes[i].append((k, current[i][k], words[best]))
                    current[i][k] = words[best]
                    margin[i], proba[i], keys[i] = m[best], p[best], ids[best]
                if margin[i] > 0 and len(changes[i]) < budget[i] and cursor[i] < len(order[i]):
                    still.append(i)
            active = still
        run = TextAttackRun()
        for i in range(n):
            run.success.append(bool(budget[i] > 0 and margin[i] < 0))
            run.words_changed.append(len(changes[i]))
            run.queries.append(int(queries[i]))
            run.margin.append(float(margin[i]))
            run.proba.append(np.asarray(proba[i], dtype=np.float64))
            run.pieces.append(current[i])
            run.changes.append(changes[i])
        return run


def word_budget(pieces: Sequence[str], max_words: int, max_fraction: float) -> int:
    """At most ``max_words`` words, and at most ``max_fraction`` of the sentence's (at least 1)."""
    n_words = len(pieces) // 2
    return min(max_words, max(1, math.ceil(max_fraction * n_words))) if n_words else 0
