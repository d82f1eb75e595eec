"""OOD family, drift: two-sample tests between reference rows and audited rows.

The maths of :class:`~.drift.OODDrift`, kept apart from the check so that each
piece is tested on its own against scipy, scikit-learn or its formula:

- per feature: Kolmogorov-Smirnov (numeric) and chi-square (categorical, rare
  categories pooled) tests with a Holm or Bonferroni correction, and two effect
  sizes: the Wasserstein distance in units of the reference's standard
  deviation and the population stability index (PSI) over reference-quantile
  bins, with a multinomial bootstrap interval;
- multivariate: the unbiased squared maximum mean discrepancy (MMD, Gretton
  et al. 2012) with a Gaussian kernel of median-heuristic bandwidth, and its
  permutation test; and a classifier two-sample test (Lopez-Paz & Oquab 2017):
  the AUROC, on held-out rows, of a classifier told to separate the two
  samples, with a DeLong interval, and the features whose permutation costs it
  most AUROC.

Alibi Detect (source-available, not a dependency) has tests of the same names;
these are written from the papers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..._stats import delong_interval, holm_adjusted

__all__ = ["CATEGORICAL", "CLASSIFIERS", "CORRECTIONS", "NUMERIC", "PSI_FLOOR", "ClassifierTest",
           "FeatureUnit", "MMDTest", "adjusted_p_values", "auc_rows", "bias_corrected_interval",
           "categorical_codes", "classifier_two_sample_test", "feature_units",
           "gaussian_kernel", "median_bandwidth", "mmd_permutation_test", "mmd_squared", "psi",
           "psi_bins", "univariate_table"]

NUMERIC, CATEGORICAL = "numeric", "categorical"
CORRECTIONS = ("holm", "bonferroni")
CLASSIFIERS = ("logistic", "gradient_boosting")
#: Proportion given to a PSI bin empty in one sample, so that its log ratio stays finite.
PSI_FLOOR = 1e-4
#: Categories expected fewer times than this in the smaller sample are pooled (Cochran's rule).
MIN_EXPECTED = 5.0
#: Permutations of each feature when ranking the separating features.
_IMPORTANCE_REPEATS = 5
_CHUNK = 64


@dataclass(frozen=True)
class FeatureUnit:
    """One feature as the tests see it: its name, its columns and its kind."""

    name: str
    columns: tuple[int, ...]
    kind: str
    labels: tuple[str, ...] = ()


def feature_units(n_columns: int, *, feature_names: Sequence[str] | None,
                  feature_groups: dict[str, Sequence[int]] | None,
                  categorical_features: Sequence[str] | None) -> list[FeatureUnit]:
    """The features of a tabular matrix: one-hot groups as one categorical feature.

    A group of ``feature_groups`` is categorical when it spans several columns
    or its name is in ``categorical_features``; a column outside every group is
    a feature of its own, categorical when its name is listed. Ordered by
    first column.
    """
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in
                                                                    range(n_columns)]
    categorical = set(categorical_features or ())
    units, covered = [], set()
    for key, columns in (feature_groups or {}).items():
        columns = tuple(int(c) for c in columns)
        covered.update(columns)
        kind = CATEGORICAL if len(columns) > 1 or key in categorical else NUMERIC
        prefix = f"{key}="
        labels = tuple(names[c][len(prefix):] if names[c].startswith(prefix) else names[c]
                       for c in columns) if len(columns) > 1 else ()
        units.append(FeatureUnit(str(key), columns, kind, labels))
    for column in range(n_columns):
        if column not in covered:
            kind = CATEGORICAL if names[column] in categorical else NUMERIC
            units.append(FeatureUnit(names[column], (column,), kind))
    return sorted(units, key=lambda u: min(u.columns))


def categorical_codes(X: np.ndarray, unit: FeatureUnit) -> np.ndarray:
    """Category codes of a categorical feature: the hot column, or the value of one column.

    Rows of a one-hot group with no hot column (a category unseen in training)
    get the code ``len(unit.columns)``.
    """
    block = np.asarray(X[:, list(unit.columns)], dtype=np.float64)
    if len(unit.columns) == 1:
        return block[:, 0]
    codes = block.argmax(axis=1).astype(np.float64)
    codes[block.max(axis=1) <= 0.5] = len(unit.columns)
    return codes


# -- per feature ------------------------------------------------------------------------------


def psi_bins(reference: np.ndarray, audited: np.ndarray, *, kind: str,
             n_bins: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of both samples in the PSI bins, and the bins' labels.

    Numeric: right-closed bins between the reference's ``n_bins``-quantiles
    (repeated edges merged, so a point mass is one bin), open at both ends.
    Categorical: one bin per category seen in either sample.

    Returns
    -------
    reference_counts, audited_counts : ndarray of shape (n_bins_kept,)
    labels : list of str
    """
    if kind == CATEGORICAL:
        categories = np.unique(np.concatenate([reference, audited]))
        ref = (reference[:, None] == categories[None, :]).sum(axis=0)
        aud = (audited[:, None] == categories[None, :]).sum(axis=0)
        return ref, aud, [f"{c:g}" for c in categories]
    inner = np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1])
    edges = np.unique(inner)
    ref = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=len(edges) + 1)
    aud = np.bincount(np.searchsorted(edges, audited, side="left"), minlength=len(edges) + 1)
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    labels = [f"({lo:.3g}, {hi:.3g}]" for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    return ref, aud, labels


def psi(reference_counts: np.ndarray, audited_counts: np.ndarray,
        floor: float = PSI_FLOOR) -> np.ndarray:
    """Population stability index of bin counts: sum of (a - r) * ln(a / r) over bins.

    ``r`` and ``a`` are the reference's and the audited sample's proportions,
    each floored at ``floor``. Counts may carry leading axes (resamples): the
    sum runs over the last one.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    aud = np.asarray(audited_counts, dtype=np.float64)
    r = np.maximum(ref / ref.sum(axis=-1, keepdims=True), floor)
    a = np.maximum(aud / aud.sum(axis=-1, keepdims=True), floor)
    return ((a - r) * np.log(a / r)).sum(axis=-1)


def bias_corrected_interval(resampled: np.ndarray, estimate: float,
                            confidence: float) -> tuple[float, float]:
    """Bias-corrected percentile bootstrap interval (Efron 1981).

    PSI is biased upwards (sampling noise alone makes bins differ), so its
    resamples sit above the estimate; the bias correction shifts the
    percentiles by ``2 z0``, with ``z0`` the normal quantile of the share of
    resamples below the estimate (ties count one half).
    """
    resampled = np.asarray(resampled, dtype=np.float64)
    b = len(resampled)
    below = (np.sum(resampled < estimate) + 0.5 * np.sum(resampled == estimate)) / b
    z0 = stats.norm.ppf(np.clip(below, 1 / (b + 1), b / (b + 1)))
    z = stats.norm.ppf(0.5 + confidence / 2)
    low_q, high_q = stats.norm.cdf(2 * z0 - z), stats.norm.cdf(2 * z0 + z)
    low, high = np.quantile(resampled, [low_q, high_q])
    return float(low), float(high)


def _chi_square(reference: np.ndarray, audited: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity; categories rarely expected pooled into one."""
    categories = np.unique(np.concatenate([reference, audited]))
    table = np.stack([(reference[:, None] == categories).sum(axis=0),
                      (audited[:, None] == categories).sum(axis=0)]).astype(np.float64)
    expected = table.sum(axis=0) * table.sum(axis=1).min() / table.sum()
    rare = expected < MIN_EXPECTED
    if rare.any():
        table = np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def adjusted_p_values(p_values: np.ndarray, correction: str) -> np.ndarray:
    """Family-wise corrected p-values: Holm's step-down or Bonferroni's."""
    p = np.asarray(p_values, dtype=np.float64)
    if correction == "holm":
        return holm_adjusted(p)
    return np.minimum(1.0, p * np.isfinite(p).sum())


def univariate_table(reference: np.ndarray, audited: np.ndarray, units: Sequence[FeatureUnit],
                     *, alpha: float, correction: str, n_bins: int, n_resamples: int,
                     confidence: float, rng: np.random.Generator) -> tuple[pd.DataFrame,
                                                                          list[dict]]:
    """One row per feature: test, statistic, raw and corrected p, effect sizes, drifted.

    Returns
    -------
    table : DataFrame
    bins : list of dict
        Per feature, the PSI bins (labels and both samples' proportions), for figures.
    """
    rows, bins = [], []
    for unit in units:
        if unit.kind == CATEGORICAL:
            ref, aud = categorical_codes(reference, unit), categorical_codes(audited, unit)
            statistic, p_value = _chi_square(ref, aud)
            test, wasserstein = "chi-square", np.nan
        else:
            ref = np.asarray(reference[:, unit.columns[0]], dtype=np.float64)
            aud = np.asarray(audited[:, unit.columns[0]], dtype=np.float64)
            result = stats.ks_2samp(ref, aud)
            statistic, p_value = float(result.statistic), float(result.pvalue)
            spread = ref.std(ddof=1) if len(ref) > 1 else 0.0
            distance = stats.wasserstein_distance(ref, aud)
            wasserstein = distance / spread if spread > 0 else (0.0 if distance == 0 else np.inf)
            test = "Kolmogorov-Smirnov"
        ref_counts, aud_counts, labels = psi_bins(ref, aud, kind=unit.kind, n_bins=n_bins)
        value = float(psi(ref_counts, aud_counts))
        low = high = np.nan
        if n_resamples:
            resampled = psi(rng.multinomial(len(ref), ref_counts / ref_counts.sum(),
                                            size=n_resamples),
                            rng.multinomial(len(aud), aud_counts / aud_counts.sum(),
                                            size=n_resamples))
            low, high = bias_corrected_interval(resampled, value, confidence)
        if unit.kind == CATEGORICAL and unit.labels:
            names = [*unit.labels, "(none)"]
            labels = [names[int(float(label))] for label in labels]
        rows.append({"feature": unit.name, "kind": unit.kind, "test": test,
                     "statistic": statistic, "p_value": p_value, "wasserstein_sd": wasserstein,
                     "psi": value, "psi_lower": float(low), "psi_upper": float(high),
                     "n_reference": len(ref), "n_audited": len(aud)})
        bins.append({"feature": unit.name, "kind": unit.kind, "labels": labels,
                     "reference": ref_counts / ref_counts.sum(),
                     "audited": aud_counts / aud_counts.sum()})
    table = pd.DataFrame(rows)
    corrected = adjusted_p_values(table["p_value"].to_numpy(), correction)
    table.insert(table.columns.get_loc("p_value") + 1, "p_corrected", corrected)
    table.insert(table.columns.get_loc("psi_upper") + 1, "drifted", corrected < alpha)
    return table, bins


# -- maximum mean discrepancy -----------------------------------------------------------------


def _squared_distances(Z: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", Z, Z)
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * Z @ Z.T, 0.0)


def median_bandwidth(Z: np.ndarray) -> float:
    """Median heuristic: the median Euclidean distance between distinct rows of ``Z``."""
    squared = _squared_distances(np.asarray(Z, dtype=np.float64))
    upper = squared[np.triu_indices(len(Z), k=1)]
    median = float(np.sqrt(np.median(upper)))
    return median if median > 0 else 1.0


def gaussian_kernel(Z: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gram matrix ``exp(-||z_i - z_j||^2 / (2 bandwidth^2))`` of the rows of ``Z``."""
    return np.exp(-_squared_distances(np.asarray(Z, dtype=np.float64)) / (2.0 * bandwidth ** 2))


def mmd_squared(K: np.ndarray, in_first: np.ndarray) -> np.ndarray:
    """Unbiased MMD^2 of the splits ``in_first`` (bool, shape (b, N) or (N,)) of a Gram matrix.

    ``sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (n (n-1))
    - 2 sum_{i, j} k(x_i, y_j) / (m n)``, one value per split, from two
    matrix products per block of splits.
    """
    K0 = np.array(K, dtype=np.float64)
    np.fill_diagonal(K0, 0.0)
    total = K0.sum()
    P = np.atleast_2d(np.asarray(in_first, dtype=np.float64))
    m = P[0].sum()
    n = P.shape[1] - m
    out = np.empty(len(P))
    for start in range(0, len(P), _CHUNK):
        block = P[start:start + _CHUNK]
        KP = block @ K0
        within_x = (block * KP).sum(axis=1)
        cross = ((1.0 - block) * KP).sum(axis=1)
        within_y = total - within_x - 2.0 * cross
        out[start:start + _CHUNK] = (within_x / (m * (m - 1)) + within_y / (n * (n - 1))
                                     - 2.0 * cross / (m * n))
    return out


@dataclass(frozen=True)
class MMDTest:
    """Result of the MMD permutation test."""

    statistic: float
    p_value: float
    null: np.ndarray
    bandwidth: float
    n_permutations: int


def mmd_permutation_test(X: np.ndarray, Y: np.ndarray, *, n_permutations: int,
                         rng: np.random.Generator) -> MMDTest:
    """Unbiased MMD^2 of ``X`` and ``Y`` and its permutation p-value ``(1 + k) / (1 + B)``.

    ``k`` counts the ``B`` random relabellings of the pooled rows whose MMD^2
    reaches the observed one; the bandwidth (median heuristic on the pooled
    rows) is fixed once, as the pooled rows do not change under relabelling.
    """
    Z = np.vstack([X, Y]).astype(np.float64)
    bandwidth = median_bandwidth(Z)
    K = gaussian_kernel(Z, bandwidth)
    labels = np.arange(len(Z)) < len(X)
    observed = float(mmd_squared(K, labels)[0])
    null = mmd_squared(K, rng.permuted(np.tile(labels, (n_permutations, 1)), axis=1))
    exceed = int((null >= observed - 1e-12 * max(abs(observed), 1e-300)).sum())
    return MMDTest(observed, (1 + exceed) / (1 + n_permutations), null, bandwidth,
                   n_permutations)


# -- classifier two-sample test ---------------------------------------------------------------


@dataclass(frozen=True)
class ClassifierTest:
    """Result of the classifier two-sample test."""

    auroc: float
    lower: float
    upper: float
    p_value: float
    importance: pd.DataFrame
    classifier: str
    n_fit: int
    n_held_out: int
    n_held_out_audited: int


def auc_rows(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` (Mann-Whitney: mid-ranks, ties count one half)."""
    scores = np.atleast_2d(scores)
    positive = np.asarray(positive, dtype=bool)
    m, n = positive.sum(), (~positive).sum()
    ranks = stats.rankdata(scores, axis=1)[:, positive].sum(axis=1)
    return (ranks - m * (m + 1) / 2) / (m * n)


def _classifier(kind: str, seed: int) -> object:
    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15,
                                          early_stopping=False, random_state=seed)


def classifier_two_sample_test(X: np.ndarray, Y: np.ndarray, units: Sequence[FeatureUnit], *,
                               classifier: str, test_fraction: float, confidence: float,
                               rng: np.random.Generator) -> ClassifierTest:
    """Held-out AUROC of a classifier separating ``Y`` (positive) from ``X``.

    The classifier is fitted on a stratified share of the rows and scores the
    other ``test_fraction`` of them, as in Lopez-Paz & Oquab (2017): the scored
    rows are independent of the fitted model, so DeLong's interval and
    one-sided p-value against 0.5 hold. (Out-of-fold scores pooled over
    cross-validation folds do not: the folds' models share training rows, and
    the DeLong test on them raised 10% false alarms at the 5% level in 300
    simulated null runs.) A feature's importance is the mean drop of the
    held-out AUROC when its columns are permuted together across the held-out
    rows (five permutations).
    """
    Z = np.vstack([X, Y]).astype(np.float64)
    target = np.r_[np.zeros(len(X), dtype=int), np.ones(len(Y), dtype=int)]
    seed = int(rng.integers(2**31 - 1))
    fit, held = train_test_split(np.arange(len(Z)), test_size=test_fraction, stratify=target,
                                 random_state=seed)
    model = _classifier(classifier, seed).fit(Z[fit], target[fit])
    scores = model.predict_proba(Z[held])[:, 1]
    positive = target[held] == 1
    auc, lower, upper, p_value = delong_interval(scores, positive, confidence)
    drops = np.zeros((len(units), _IMPORTANCE_REPEATS))
    for u, unit in enumerate(units):
        permuted = np.repeat(Z[held][None], _IMPORTANCE_REPEATS, axis=0)
        for r in range(_IMPORTANCE_REPEATS):
            permuted[r][:, list(unit.columns)] = permuted[r][rng.permutation(len(held))][
                :, list(unit.columns)]
        proba = model.predict_proba(permuted.reshape(-1, Z.shape[1]))[:, 1]
        drops[u] = auc - auc_rows(proba.reshape(_IMPORTANCE_REPEATS, -1), positive)
    importance = pd.DataFrame({"feature": [u.name for u in units],
                               "auroc_drop": drops.mean(axis=1),
                               "auroc_drop_std": drops.std(axis=1, ddof=1)})
    importance = importance.sort_values("auroc_drop", ascending=False, kind="stable")
    importance.insert(0, "rank", np.arange(1, len(importance) + 1))
    return ClassifierTest(auc, lower, upper, p_value, importance.reset_index(drop=True),
                          classifier, len(fit), len(held), int(positive.sum()))
