"""Fidelity and diversity metrics of the generative family against references and formulas.

Precision, recall, density and coverage against the ``prdc`` package (skipped
when it is not installed) and against the expectations Naeem et al. (2020)
prove for two samples of one distribution; KID against a direct O(n^2)
formula; the Fréchet bootstrap interval against the plug-in; chunked k-NN
distances against brute force; bad input against the messages.
"""

from __future__ import annotations

import contextlib
import io
from math import prod

import numpy as np
import pytest

from auditkit.checks.generative import _distances, _fidelity, frechet_distance
from auditkit.checks.generative._distances import (
    kth_neighbour_distances,
    pairwise_distance_blocks,
    pairwise_distances,
)
from auditkit.checks.generative._fidelity import (
    Estimate,
    fidelity_metrics,
    frechet_interval,
    kid,
    prdc,
)
from auditkit.exceptions import AuditkitError


def normal_pair(n_real: int, n_fake: int, dim: int, seed: int, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_real, dim)), rng.normal(size=(n_fake, dim)) + shift


def brute_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


# ------------------------------------------------------------------------- distances

def test_chunked_kth_neighbour_equals_brute_force(monkeypatch):
    points, other = normal_pair(70, 30, 5, seed=1)
    monkeypatch.setattr(_distances, "BLOCK_ROWS", 16)  # several blocks, a ragged last one
    full = brute_distances(points, points)
    np.fill_diagonal(full, np.inf)
    for k in (1, 3, 7):
        np.testing.assert_allclose(kth_neighbour_distances(points, k),
                                   np.sort(full, axis=1)[:, k - 1], rtol=1e-10)
        np.testing.assert_allclose(kth_neighbour_distances(points, k, references=other),
                                   np.sort(brute_distances(points, other), axis=1)[:, k - 1],
                                   rtol=1e-10)


def test_distance_blocks_cover_the_matrix():
    a, b = normal_pair(50, 9, 3, seed=2)
    blocks = list(pairwise_distance_blocks(a, b, block_rows=20))
    assert [start for start, _ in blocks] == [0, 20, 40]
    assert max(block.shape[0] for _, block in blocks) == 20
    np.testing.assert_allclose(np.concatenate([block for _, block in blocks]),
                               brute_distances(a, b), rtol=1e-10)
    np.testing.assert_allclose(pairwise_distances(a, b), brute_distances(a, b), rtol=1e-10)


def test_duplicates_are_neighbours_at_zero():
    points = np.array([[0.0], [0.0], [1.0], [5.0]])
    assert kth_neighbour_distances(points, 1).tolist() == [0.0, 0.0, 1.0, 4.0]


# ------------------------------------------------------------------------------- PRDC

def test_prdc_by_hand():
    # k=1 radii: every real point 1; fake 0.5 -> 1, 1.5 -> 1, 10 -> 8.5 (an outlier's
    # huge ball takes in the real 3: recall 1, what coverage (3 is not covered) corrects)
    values = prdc([[0.0], [1.0], [2.0], [3.0]], [[0.5], [1.5], [10.0]], k=1)
    assert values == pytest.approx({"precision": 2 / 3, "recall": 4 / 4,
                                    "density": (2 + 2 + 0) / 3, "coverage": 3 / 4})


@pytest.mark.parametrize("n_real, n_fake, dim, shift, k", [
    (300, 500, 16, 0.0, 5), (500, 200, 8, 0.7, 3), (2100, 1500, 32, 0.3, 5)])
def test_prdc_equals_the_prdc_package(n_real, n_fake, dim, shift, k):
    package = pytest.importorskip("prdc")
    real, fake = normal_pair(n_real, n_fake, dim, seed=n_real, shift=shift)
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sizes
        expected = package.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
    ours = prdc(real, fake, k=k)
    for name in ("precision", "recall", "density", "coverage"):
        assert abs(ours[name] - float(expected[name])) <= 1e-6, name
    assert 0.05 < ours["precision"] < 0.95  # not a degenerate case


def test_prdc_matches_naeem_expectations_for_one_distribution():
    # Naeem et al. (2020), Lemmas 1 and 2: E[density] = 1 and
    # E[coverage] = 1 - prod_{i=1..k} (N - i) / (N + M - i), whatever the dimension.
    n = m = 1000
    k = 5
    expected_coverage = 1 - prod((n - i) / (n + m - i) for i in range(1, k + 1))
    assert expected_coverage == pytest.approx(0.9689, abs=1e-4)
    runs = [prdc(*normal_pair(n, m, 64, seed=seed), k=k) for seed in range(3)]
    density = np.mean([r["density"] for r in runs])
    coverage = np.mean([r["coverage"] for r in runs])
    assert density == pytest.approx(1.0, abs=0.08)
    assert coverage == pytest.approx(expected_coverage, abs=0.015)
    # precision and recall of one distribution sit well below 1 (the reason for D & C)
    assert all(0.5 < r["precision"] < 0.85 and 0.5 < r["recall"] < 0.85 for r in runs)


def test_prdc_separates_shifted_and_collapsed_samples():
    real, fake = normal_pair(600, 600, 8, seed=3, shift=3.0)
    far = prdc(real, fake)
    assert far["precision"] < 0.05 and far["coverage"] < 0.05
    collapsed = real[:1].repeat(600, axis=0) + 0.01 * fake  # one mode, tiny spread
    values = prdc(real, collapsed)
    assert values["precision"] == 1.0 and values["coverage"] < 0.02


# ------------------------------------------------------------------------------- KID

def direct_kid(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3), with (x.y/d + 1)^3, pair by pair."""
    d = x.shape[1]

    def kernel(a, b):
        return (a @ b / d + 1.0) ** 3

    n, m = len(x), len(y)
    xx = sum(kernel(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(kernel(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_kid_equals_the_formula_on_whole_sets():
    real, fake = normal_pair(12, 12, 3, seed=4, shift=0.5)
    mean, std, values = kid(real, fake, subset_size=50, n_subsets=3, rng=0)
    assert mean == pytest.approx(direct_kid(real, fake), rel=1e-12)
    assert std == 0.0 and values.shape == (3,)


def test_kid_subsets_equal_the_formula_on_each_subset():
    real, fake = normal_pair(15, 20, 4, seed=5, shift=0.3)
    rng = np.random.default_rng(7)
    _, _, values = kid(real, fake, subset_size=6, n_subsets=4, rng=rng)
    # the same draws, replayed: real subsets first, then fake ones (see _fidelity._indicators)
    replay = np.random.default_rng(7)
    real_order = np.argsort(replay.random((4, 15)), axis=1)[:, :6]
    fake_order = np.argsort(replay.random((4, 20)), axis=1)[:, :6]
    for s in range(4):
        assert len(set(real_order[s])) == 6  # without replacement within a subset
        assert values[s] == pytest.approx(direct_kid(real[real_order[s]], fake[fake_order[s]]),
                                          rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted():
    same = kid(*normal_pair(800, 800, 16, seed=6), subset_size=400, n_subsets=20, rng=0)[0]
    shifted = kid(*normal_pair(800, 800, 16, seed=6, shift=0.5), subset_size=400,
                  n_subsets=20, rng=0)[0]
    assert abs(same) < 0.01
    # population MMD^2 of N(0, I) and N(0.5 * 1, I) in 16 dimensions under this kernel
    assert shifted > 0.5


def test_kid_subset_size_is_capped_at_the_smaller_set():
    real, fake = normal_pair(30, 80, 4, seed=8, shift=0.2)
    _, std_small, _ = kid(real, fake, subset_size=1000, n_subsets=5, rng=0)
    assert std_small > 0  # fake subsets of 30 out of 80 differ
    assert kid(real, fake, subset_size=1000, n_subsets=5, rng=0)[0] == \
        kid(real, fake, subset_size=30, n_subsets=5, rng=0)[0]


# ------------------------------------------------------------------- Fréchet distance

@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_frechet_interval_holds_the_plug_in(shift):
    real, fake = normal_pair(400, 500, 24, seed=9, shift=shift)
    estimate = frechet_interval(real, fake, n_resamples=60, rng=0)
    assert estimate.value == frechet_distance(real, fake)
    assert estimate.lower <= estimate.value <= estimate.upper
    assert 0 < estimate.lower and estimate.upper - estimate.lower < estimate.value
    # the plain percentile interval of these replicates lies wholly above the plug-in:
    # the reason for the correction
    replicates = _fidelity._frechet_replicates(real, fake, 60, np.random.default_rng(0))
    assert np.quantile(replicates, 0.025) > estimate.value


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_fast_frechet_equals_the_scipy_one_on_singular_covariances():
    real, fake = normal_pair(300, 300, 10, seed=10, shift=0.4)
    real[:, 3] = 0.0  # a dead unit: singular covariance, as after a ReLU
    fake[:, 3] = 0.0
    moments = [(x.mean(0), np.cov(x, rowvar=False)) for x in (real, fake)]
    assert _fidelity._frechet_from_moments(*moments[0], *moments[1]) == \
        pytest.approx(frechet_distance(real, fake), rel=1e-9)


def test_frechet_interval_is_deterministic_under_a_seed():
    real, fake = normal_pair(200, 200, 6, seed=11, shift=0.3)
    assert frechet_interval(real, fake, n_resamples=20, rng=3) == \
        frechet_interval(real, fake, n_resamples=20, rng=3)


# ----------------------------------------------------------------------- all together

def test_fidelity_metrics_agree_with_the_single_metrics():
    real, fake = normal_pair(400, 600, 12, seed=12, shift=0.2)
    metrics = fidelity_metrics(real, fake, n_resamples=30, kid_subset_size=200,
                               kid_subsets=10, rng=0)
    assert list(metrics) == ["frechet_distance", "kid", "precision", "recall", "density",
                             "coverage"]
    assert all(isinstance(m, Estimate) and m.lower <= m.value <= m.upper
               for m in metrics.values())
    single = prdc(real, fake)
    for name in single:
        assert metrics[name].value == pytest.approx(single[name], abs=1e-12)
    assert metrics["frechet_distance"].value == pytest.approx(frechet_distance(real, fake))
    assert metrics["kid"].value > 0 and metrics["kid"].lower > 0  # shifted: KID clearly > 0
    # Wilson: precision over the 600 generated samples
    p = metrics["precision"].value
    assert metrics["precision"].upper - metrics["precision"].lower == \
        pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / 600), rel=0.05)


def test_fidelity_metrics_without_resamples_gives_no_frechet_interval():
    metrics = fidelity_metrics(*normal_pair(100, 100, 4, seed=13), n_resamples=0,
                               kid_subsets=5, rng=0)
    assert np.isnan(metrics["frechet_distance"].lower)
    assert "no interval" in metrics["frechet_distance"].method
    assert np.isfinite(metrics["coverage"].lower)


# -------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, match", [
    (lambda r, f: prdc(r, f, k=0), "'k' parameter must be an int >= 1. Got 0"),
    (lambda r, f: prdc(r, f, k=20), "'k' parameter must be less than the smaller set"),
    (lambda r, f: prdc(r, f[:, :2]), "'fake' parameter must have 3 features"),
    (lambda r, f: prdc(r[0], f), r"'real' parameter must be an array of shape \(n_samples"),
    (lambda r, f: prdc(r, np.where(f > 1, np.nan, f)), "'fake' parameter must contain only "
     "finite values"),
    (lambda r, f: kid(r, f, subset_size=1, rng=0), "'subset_size' parameter must be an int "
     ">= 2. Got 1"),
    (lambda r, f: kid(r, f, rng="seed"), "'rng' parameter must be a numpy.random.Generator"),
    (lambda r, f: frechet_interval(r, f, confidence=1.5, rng=0), "'confidence' parameter "
     "must be a float in \\(0, 1\\). Got 1.5"),
    (lambda r, f: fidelity_metrics(r, f, n_resamples=-1, rng=0), "'n_resamples' parameter "
     "must be an int >= 0. Got -1"),
    (lambda r, f: kth_neighbour_distances(r, True), "'k' parameter must be a positive int"),
    (lambda r, f: kth_neighbour_distances(r[:3], 3), "'k' parameter must be less than the "
     "number of points"),
])
def test_bad_input_names_the_parameter(call, match):
    real, fake = normal_pair(15, 15, 3, seed=14)
    with pytest.raises(AuditkitError, match=match):
        call(real, fake)
