"""Words in raw text, shared by every check that edits sentences.

The text attack, the natural text corruptions and the counterfactual
identity-term swaps all split a sentence into words, change some of them and
put the sentence back together keeping each word's case. They read the same
rules from here.
"""

from __future__ import annotations

import re

__all__ = ["NEEDS_TEXTS", "WORD", "cased", "needs_texts", "split_words"]

#: A word: a run of letters, with inner apostrophes ("it's", "o'clock").
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")

#: Why a check that edits raw sentences does not apply; ``{what}`` names the edit.
NEEDS_TEXTS = ("{what} edit the raw texts and re-tokenize them: they need AuditData 'texts' "
               "and 'tokenizer', which the audited data lacks.")


def needs_texts(what: str) -> str:
    """The SKIP reason of a check that edits raw sentences (``what``: "Text attacks", ...)."""
    return NEEDS_TEXTS.format(what=what)


def split_words(text: str) -> list[str]:
    """Split ``text`` into pieces: separator, word, separator, ..., word, separator.

    Words (runs of letters, inner apostrophes kept) sit at the odd positions;
    ``"".join(pieces) == text``.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str

    Examples
    --------
    >>> split_words("It's a fine film.")
    ['', "It's", ' ', 'a', ' ', 'fine', ' ', 'film', '.']
    """
    pieces, last = [], 0
    for match in WORD.finditer(text):
        pieces += [text[last:match.start()], match.group(0)]
        last = match.end()
    pieces.append(text[last:])
    return pieces


def cased(word: str, replacement: str) -> str:
    """``replacement`` in the case of ``word``: UPPER, Capitalised or as given.

    Parameters
    ----------
    word : str
        The word being replaced.
    replacement : str

    Returns
    -------
    str

    Examples
    --------
    >>> cased("Good", "fine"), cased("GOOD", "fine"), cased("good", "fine")
    ('Fine', 'FINE', 'fine')
    """
    if len(word) > 1 and word.isupper():
        return replacement.upper()
    if word[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
