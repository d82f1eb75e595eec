"""Word lists the library reads at run time, each checked against its SHA-256.

The text checks need two vendored resources: the WordNet 3.0 synonym table
(text attacks) and the WEAT word sets (counterfactual identity-term swaps).
They ship inside the package, beside ``SOURCES.json`` (provenance, sizes and
hashes) and ``LICENSES.md``; the maintainer script ``tools/vendor_data.py``
writes them. The library never reads the zoo's data folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import lzma
from collections.abc import Mapping
from pathlib import Path

__all__ = ["RESOURCE_DIR", "read_resource", "synonym_table", "weat_terms"]

RESOURCE_DIR = Path(__file__).resolve().parent

NOT_LISTED = "The resource {name!r} is not listed in {sources}."
CORRUPT = ("SHA-256 mismatch for the auditkit resource {path}: expected {expected}, got {actual}. "
           "The installed package is corrupt or was modified; reinstall auditkit.")


@functools.lru_cache(maxsize=1)
def _sources() -> dict[str, dict]:
    with open(RESOURCE_DIR / "SOURCES.json", encoding="utf-8") as f:
        return {entry["name"]: entry for entry in json.load(f)["files"]}


def read_resource(name: str) -> bytes:
    """The (decompressed) content of a resource, after checking its SHA-256.

    Parameters
    ----------
    name : str
        File name inside the resource folder, as listed in ``SOURCES.json``.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        When the file is not listed, or its hash differs from the recorded one.
    """
    if name not in _sources():
        raise ValueError(NOT_LISTED.format(name=name, sources=RESOURCE_DIR / "SOURCES.json"))
    path = RESOURCE_DIR / name
    raw = path.read_bytes()
    expected, actual = _sources()[name]["sha256"], hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise ValueError(CORRUPT.format(path=path, expected=expected, actual=actual))
    return lzma.decompress(raw) if name.endswith(".xz") else raw


@functools.lru_cache(maxsize=1)
def synonym_table() -> Mapping[str, tuple[str, ...]]:
    """The WordNet 3.0 synonym table: lowercase word -> synonyms, frequent senses first.

    Returns
    -------
    mapping of str to tuple of str
        At most 8 synonyms per word; ``SOURCES.json`` says how the table was built.
    """
    table = json.loads(read_resource("wordnet_synonyms.json.xz").decode("utf-8"))
    return {word: tuple(words.split()) for word, words in table.items()}


@functools.lru_cache(maxsize=1)
def weat_terms() -> dict[str, dict]:
    """The WEAT name and gender-term lists (Caliskan et al., 2017).

    Returns
    -------
    dict of str to dict
        Set name (``"male_names"``, ``"female_terms"``, ...) -> its ``words``
        (in the published order), ``weat_test`` index, ``role`` and reference.
    """
    return json.loads(read_resource("weat_terms.json").decode("utf-8"))
