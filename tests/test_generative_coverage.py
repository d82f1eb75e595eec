"""Generative family: class coverage, Vendi score and intra-class diversity, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import norm

from auditkit.checks.generative._coverage import (
    KL_PSEUDO_COUNT,
    class_coverage,
    intra_class_diversity,
    vendi_score,
)
from auditkit.exceptions import AuditkitError


def one_hot_proba(labels, n_classes, top=0.95):
    """Probabilities whose argmax is ``labels`` with top probability ``top``."""
    labels = np.asarray(labels)
    proba = np.full((len(labels), n_classes), (1 - top) / (n_classes - 1))
    proba[np.arange(len(labels)), labels] = top
    return proba


def wilson_by_hand(k, n, confidence=0.95):
    z = norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# -- class_coverage ---------------------------------------------------------------------------

def test_class_coverage_by_hand():
    # 3 classes, real uniform (100 each); generated: 60 of class 0, 36 of class 1, 4 of class 2.
    generated = [0] * 60 + [1] * 36 + [2] * 4
    proba = one_hot_proba(generated, 3)
    proba[:10] = [0.5, 0.3, 0.2]  # ten class-0 samples below the confident threshold
    found = class_coverage(proba, np.repeat([0, 1, 2], 100), n_classes=3)
    classes = found["classes"]
    assert classes["n_generated"].tolist() == [60, 36, 4]
    assert np.allclose(classes["real_share"], 1 / 3)
    assert np.allclose(classes["generated_share"], [0.6, 0.36, 0.04])
    for row, k in zip(classes.itertuples(), [60, 36, 4], strict=True):
        lower, upper = wilson_by_hand(k, 100)
        assert row.generated_lower == pytest.approx(lower, abs=1e-12)
        assert row.generated_upper == pytest.approx(upper, abs=1e-12)
    assert np.allclose(classes["ratio"], [1.8, 1.08, 0.12])
    # class 2: upper 0.0984 is above 0.25 / 3 = 0.083 (not missing), below 0.5 / 3 = 0.167
    assert classes["status"].tolist() == ["ok", "ok", "under-represented"]
    assert (found["n_missing"], found["n_underrepresented"]) == (0, 1)
    q = (np.array([60, 36, 4]) + KL_PSEUDO_COUNT) / (100 + 3 * KL_PSEUDO_COUNT)
    assert found["kl_real_to_generated"] == pytest.approx(np.sum(1 / 3 * np.log(1 / 3 / q)))
    assert found["confident_share"] == 0.9
    assert (found["confident_lower"], found["confident_upper"]) == pytest.approx(
        wilson_by_hand(90, 100))


def test_missing_class_gives_finite_large_kl():
    real = np.repeat(np.arange(4), 250)
    found = class_coverage(one_hot_proba([0, 1, 2] * 400, 4), real, n_classes=4)
    assert found["classes"]["status"].tolist() == ["ok", "ok", "ok", "missing"]
    assert found["n_missing"] == 1 and found["n_underrepresented"] == 0
    # the missing class gets 0.5 / 1202, the others 400.5 / 1202
    expected = 0.25 * np.log(0.25 * 1202 / 0.5) + 0.75 * np.log(0.25 * 1202 / 400.5)
    assert found["kl_real_to_generated"] == pytest.approx(expected)
    assert expected == pytest.approx(1.38420, abs=1e-5)
    matched = class_coverage(one_hot_proba(real, 4), real, n_classes=4)
    assert matched["kl_real_to_generated"] == pytest.approx(0.0, abs=1e-12)
    assert matched["n_missing"] == matched["n_underrepresented"] == 0


def test_few_samples_are_not_called_missing():
    # no sample of a class with real share 1/2: the Wilson upper bound is z^2 / (n + z^2)
    ten = class_coverage(one_hot_proba([0] * 10, 2), [0, 1] * 10, n_classes=2)
    assert ten["classes"]["generated_upper"][1] == pytest.approx(0.2775, abs=1e-4)
    assert ten["classes"]["status"].tolist() == ["ok", "ok"]  # 0.28 > 0.5 x 0.5
    twenty = class_coverage(one_hot_proba([0] * 20, 2), [0, 1] * 10, n_classes=2)
    assert twenty["classes"]["generated_upper"][1] == pytest.approx(0.1611, abs=1e-4)
    assert twenty["classes"]["status"].tolist() == ["ok", "under-represented"]  # > 0.125
    forty = class_coverage(one_hot_proba([0] * 40, 2), [0, 1] * 10, n_classes=2)
    assert forty["classes"]["status"].tolist() == ["ok", "missing"]  # 0.088 < 0.125


def test_class_absent_from_real_data_is_ok():
    found = class_coverage(one_hot_proba([0, 1, 2, 2], 3), [0, 1, 0, 1], n_classes=3)
    classes = found["classes"]
    assert classes["status"].tolist() == ["ok", "ok", "ok"]
    assert np.isnan(classes["ratio"][2])
    assert np.isfinite(found["kl_real_to_generated"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_classes=1), "'n_classes' parameter must be an int >= 2. Got 1"),
    (dict(n_classes=3), "'generated_proba' parameter must be non-negative probabilities of "
                        r"shape \(n_generated, 3\)"),
    (dict(n_classes=2, real_labels=[0, 2]), r"'real_labels' parameter must be a non-empty "
                                            r"array of ints in \[0, 2\). Got values from 0 to 2"),
    (dict(n_classes=2, real_labels=[0.0, 1.0]), "'real_labels' parameter .* dtype float64"),
    (dict(n_classes=2, confident=0.0), r"'confident' parameter must be a float in \(0, 1\]"),
    (dict(n_classes=2, missing_fraction=0.6), "'missing_fraction' parameter must be at most "
                                              r"underrepresented_fraction \(0.5\). Got 0.6"),
    (dict(n_classes=2, confidence=1.0), r"'confidence' parameter must be a float in \(0, 1\)"),
])
def test_class_coverage_rejects_bad_input(kwargs, match):
    labels = kwargs.pop("real_labels", [0, 1])
    with pytest.raises(AuditkitError, match=match):
        class_coverage([[0.9, 0.1], [0.2, 0.8]], labels, **kwargs)


# -- Vendi score -----------------------------------------------------------------------------

def vendi_direct(X):
    """The definition: the n x n cosine kernel, eigenvalues of K / n, exp of their entropy."""
    X = np.asarray(X, dtype=float)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    eig = np.linalg.eigvalsh(unit @ unit.T / len(X))
    eig = eig[eig > 1e-15]
    return float(np.exp(-np.sum(eig * np.log(eig))))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (40, 40), (60, 7)])
def test_vendi_equals_the_direct_definition(shape):
    X = np.random.default_rng(sum(shape)).normal(size=shape)
    assert vendi_score(X) == pytest.approx(vendi_direct(X), rel=1e-10)


def test_vendi_limits():
    row = np.array([[0.3, -1.0, 2.0]])
    assert vendi_score(np.repeat(row, 50, axis=0)) == pytest.approx(1.0, abs=1e-10)
    assert vendi_score(np.eye(7) * np.arange(1, 8)[:, None]) == pytest.approx(7.0, rel=1e-10)
    # two orthogonal directions in equal numbers: 2 effective samples; the scale does not matter
    X = np.repeat(np.eye(2), 10, axis=0) * np.linspace(1, 5, 20)[:, None]
    assert vendi_score(X) == pytest.approx(2.0, rel=1e-10)
    # a zero row has no direction and is left out
    assert vendi_score(np.vstack([np.eye(3), np.zeros((1, 3))])) == pytest.approx(3.0)


def test_vendi_subsample_is_seeded():
    X = np.random.default_rng(0).normal(size=(300, 20))
    a = vendi_score(X, max_samples=100, rng=1)
    assert a == vendi_score(X, max_samples=100, rng=np.random.default_rng(1))
    assert a != vendi_score(X, max_samples=100, rng=2)
    assert a < vendi_score(X, max_samples=None)
    with pytest.raises(AuditkitError, match="'max_samples' parameter must be a positive int"):
        vendi_score(X, max_samples=0)
    with pytest.raises(AuditkitError, match="'features' parameter must be an array with at "
                                            "least one nonzero row"):
        vendi_score(np.zeros((3, 2)))


# -- intra-class diversity -------------------------------------------------------------------

def test_intra_class_diversity_by_hand():
    X = [[0.0, 0.0], [3.0, 4.0], [0.0, 8.0], [1.0, 1.0], [5.0, 5.0]]
    table = intra_class_diversity(X, [7, 7, 7, 2, 9])
    assert isinstance(table, pd.DataFrame)
    assert table["class"].tolist() == [2, 7, 9]
    assert table["count"].tolist() == [1, 3, 1]
    # pairs of class 7: 5, 8, 5 -> mean 6
    assert table["mean_distance"][1] == pytest.approx(6.0)
    assert np.isnan(table["mean_distance"][0]) and np.isnan(table["mean_distance"][2])
    # class 7: directions (3, 4)/5 and (0, 1); the zero row is left out
    assert table["vendi"][1] == pytest.approx(vendi_direct([[3.0, 4.0], [0.0, 8.0]]))


def test_intra_class_diversity_subsamples_large_classes():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(700, 5))
    labels = np.repeat([0, 1], [600, 100])
    table = intra_class_diversity(X, labels, max_per_class=200, rng=4)
    assert table["count"].tolist() == [600, 100]
    assert table["n_used"].tolist() == [200, 100]
    assert table["mean_distance"][1] == pytest.approx(pdist(X[600:]).mean(), rel=1e-10)
    # a subsample estimates the whole class's mean distance
    assert table["mean_distance"][0] == pytest.approx(pdist(X[:600]).mean(), rel=0.03)
    again = intra_class_diversity(X, labels, max_per_class=200, rng=4)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(AuditkitError, match="'labels' parameter must have the same number"):
        intra_class_diversity(X, labels[:10])
    with pytest.raises(AuditkitError, match="'max_per_class' parameter must be an int >= 2"):
        intra_class_diversity(X, labels, max_per_class=1)
