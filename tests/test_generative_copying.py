"""Generative family: near-copies, the data-copying test C_T and authenticity, by hand and toy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, norm

from auditkit.checks.generative._copying import (
    _mann_whitney_z,
    authenticity,
    closest_pairs,
    data_copying_ct,
    near_copies,
)
from auditkit.exceptions import AuditkitError


def toy_sets(seed, n_train=400, n_held_out=400, n_features=4):
    rng = np.random.default_rng(seed)
    return (rng, rng.normal(size=(n_train, n_features)),
            rng.normal(size=(n_held_out, n_features)))


# -- near-copies -----------------------------------------------------------------------------

def test_near_copies_by_hand():
    held_out = np.arange(1.0, 11.0)  # 10 values: k = floor(0.2 x 11) = 2, threshold 2.0
    found = near_copies([0.5, 1.9, 2.0, 7.0, 9.0], held_out, quantile=0.2)
    assert (found["rank"], found["threshold"]) == (2, 2.0)
    assert (found["n_near_copies"], found["share"]) == (2, 0.4)  # strictly below the threshold
    assert found["expected_share"] == pytest.approx(2 / 11)
    z = norm.ppf(0.975)
    centre = (0.4 + z * z / 10) / (1 + z * z / 5)
    half = z * np.sqrt(0.4 * 0.6 / 5 + z * z / 100) / (1 + z * z / 5)
    assert (found["lower"], found["upper"]) == pytest.approx((centre - half, centre + half))
    assert found["median_ratio"] == pytest.approx(2.0 / 5.5)
    # fewer held-out samples than 1 / quantile: the smallest one, expected share 1 / (n + 1)
    small = near_copies([0.1, 3.0], [1.0, 2.0, 3.0], quantile=0.01)
    assert (small["rank"], small["threshold"], small["expected_share"]) == (1, 1.0, 0.25)


def test_near_copies_is_calibrated_on_fresh_samples():
    # distances of fresh samples are exchangeable with the held-out ones: share = k / (n + 1)
    rng = np.random.default_rng(0)
    shares = [near_copies(rng.exponential(size=200), rng.exponential(size=499),
                          quantile=0.05)["share"] for _ in range(400)]
    assert near_copies([1.0], np.ones(499), quantile=0.05)["expected_share"] == 0.05
    assert np.mean(shares) == pytest.approx(0.05, abs=0.004)  # sd of the mean ~0.0015


def test_near_copies_rejects_bad_input():
    with pytest.raises(AuditkitError, match=r"'quantile' parameter must be a float in \(0, 1\)"):
        near_copies([1.0], [1.0], quantile=0.0)
    with pytest.raises(AuditkitError, match="'gen_to_train' parameter must be a non-empty 1-d "
                                            "array of finite, non-negative distances"):
        near_copies([-1.0], [1.0])
    with pytest.raises(AuditkitError, match="'heldout_to_train' parameter .* shape \\(0,\\)"):
        near_copies([1.0], [])


def test_closest_pairs():
    pairs = closest_pairs([0.5, 0.1, 0.3, 0.1], [4, 7, 2, 9], n=3)
    assert pairs.to_dict("list") == {"generated": [1, 3, 2], "train": [7, 9, 2],
                                     "distance": [0.1, 0.1, 0.3]}
    assert len(closest_pairs([0.5], [0], n=8)) == 1
    with pytest.raises(AuditkitError, match="'gen_to_train_index' parameter must have the same"):
        closest_pairs([0.5, 0.1], [1])


# -- the data-copying test C_T ---------------------------------------------------------------

def test_mann_whitney_z_matches_scipy_with_ties():
    rng = np.random.default_rng(1)
    generated = rng.integers(0, 6, size=40).astype(float)
    held_out = rng.integers(1, 8, size=55).astype(float)
    z = _mann_whitney_z(generated, held_out)
    p = mannwhitneyu(generated, held_out, alternative="less", use_continuity=False,
                     method="asymptotic").pvalue
    assert norm.cdf(z) == pytest.approx(p, rel=1e-10)
    assert z < 0
    # by hand: U = pairs with the generated value larger; [1, 3] vs [2]: U = 1, var = 2 x 4 / 12
    assert _mann_whitney_z(np.array([1.0, 3.0]), np.array([2.0])) == pytest.approx(0.0)
    assert _mann_whitney_z(np.array([1.0, 1.5]), np.array([2.0])) == pytest.approx(
        -1.0 / np.sqrt(2 / 12 * 4))


def test_ct_is_the_weighted_mean_of_the_cells():
    rng, train, held_out = toy_sets(2)
    found = data_copying_ct(train, held_out, rng.normal(size=(400, 4)), rng=0)
    cells = found["cells"]
    assert found["n_cells"] == len(cells) == 10  # min(20, 400 // 10, 400 // 40, 400 // 40)
    assert cells["n_train"].sum() == 400 and cells["n_heldout"].sum() == 400
    counted = cells[cells["counted"]]
    assert (counted["n_generated"] >= 20).all() and (counted["n_heldout"] >= 20).all()
    weights = counted["heldout_share"] / counted["heldout_share"].sum()
    assert found["ct"] == pytest.approx(np.sum(weights * counted["z_u"]))
    assert found["null_sd"] == pytest.approx(np.sqrt(np.sum(weights**2)))
    assert cells["weight"].sum() == pytest.approx(1.0)
    again = data_copying_ct(train, held_out, rng.normal(size=(400, 4)), rng=0)
    assert again["cells"]["n_train"].tolist() == cells["n_train"].tolist()  # seeded cells


def test_ct_finds_a_copying_generator():
    rng, train, held_out = toy_sets(3)
    copies = train[rng.integers(400, size=400)] + 1e-3 * rng.normal(size=(400, 4))
    found = data_copying_ct(train, held_out, copies, rng=0)
    assert found["ct"] < -5
    assert found["n_copying_cells"] == found["n_counted"] >= 8
    assert found["copying_share"] > 0.9
    # fresh samples: no cell's z is extreme
    fresh = rng.normal(size=(400, 4))
    fresh_cells = data_copying_ct(train, held_out, fresh, rng=0)["cells"]
    assert (fresh_cells["z_u"].abs() < 4).all()


def test_ct_is_about_standard_normal_without_copying():
    # 50 generators drawing fresh samples: C_T / null_sd should be about N(0, 1)
    standardised = []
    for seed in range(50):
        rng, train, held_out = toy_sets(100 + seed, n_train=300, n_held_out=300, n_features=3)
        found = data_copying_ct(train, held_out, rng.normal(size=(300, 3)), rng=seed)
        assert 0.25 < found["null_sd"] < 0.5  # 7 cells of about equal weight: ~ 1 / sqrt(7)
        standardised.append(found["ct"] / found["null_sd"])
    assert abs(np.mean(standardised)) < 0.5  # sd of the mean ~0.14
    assert 0.7 < np.std(standardised, ddof=1) < 1.35  # sd of the sd ~0.1


def test_ct_is_positive_for_an_underfitting_generator():
    rng, train, held_out = toy_sets(4)
    found = data_copying_ct(train, held_out, 1.5 * rng.normal(size=(400, 4)), rng=0)
    assert found["ct"] > 2
    assert found["n_copying_cells"] == 0 and found["copying_share"] == 0.0


def test_ct_works_with_32_training_samples():
    rng, train, held_out = toy_sets(5, n_train=32, n_held_out=1000, n_features=8)
    copies = train[rng.integers(32, size=300)] + 1e-3 * rng.normal(size=(300, 8))
    found = data_copying_ct(train, held_out, copies, rng=0)
    assert found["n_cells"] == 3 and found["n_counted"] == 3
    assert found["ct"] < -10
    fresh = data_copying_ct(train, held_out, rng.normal(size=(300, 8)), rng=0)
    assert abs(fresh["ct"]) < 4 * fresh["null_sd"]


def test_ct_without_enough_samples_per_cell():
    rng, train, held_out = toy_sets(6, n_train=100, n_held_out=100)
    found = data_copying_ct(train, held_out, rng.normal(size=(15, 4)), n_cells=2, rng=0)
    assert np.isnan(found["ct"]) and found["n_counted"] == 0
    assert not found["cells"]["counted"].any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_cells=0), "'n_cells' parameter must be an int >= 1. Got 0"),
    (dict(n_cells=11), r"'n_cells' parameter must be at most the number of training samples "
                       r"\(10\). Got 11"),
    (dict(min_per_cell=1), "'min_per_cell' parameter must be an int >= 2"),
])
def test_ct_rejects_bad_options(kwargs, match):
    rng, train, held_out = toy_sets(7, n_train=10, n_held_out=10)
    with pytest.raises(AuditkitError, match=match):
        data_copying_ct(train, held_out, held_out, **kwargs)
    with pytest.raises(AuditkitError, match="'generated' parameter must have 4 features"):
        data_copying_ct(train, held_out, held_out[:, :2])


# -- authenticity ----------------------------------------------------------------------------

def test_authenticity_by_hand():
    train = [[0.0], [1.0], [10.0]]  # own nearest-neighbour distances 1, 1, 9
    found = authenticity(train, [[0.1], [5.0], [10.0], [13.0]], held_out=[[0.5], [9.5]])
    # 0.1 -> 0 at 0.1 < 1 (copy); 5.0 -> 1 at 4 >= 1; 10 -> 10 at 0 < 9 (copy); 13 at 3 < 9
    assert found["authenticity"] == 0.25 and found["n"] == 4
    assert found["lower"] < 0.25 < found["upper"]
    assert found["held_out_authenticity"] == 0.0 and found["n_held_out"] == 2
    assert authenticity(train, [[5.0]])["held_out_authenticity"] is None


def test_authenticity_of_copies_and_fresh_samples():
    rng, train, held_out = toy_sets(8, n_train=500, n_held_out=500, n_features=6)
    copies = train[rng.integers(500, size=500)] + 1e-3 * rng.normal(size=(500, 6))
    copied = authenticity(train, copies, held_out=held_out)
    assert copied["authenticity"] == 0.0
    assert 0.3 < copied["held_out_authenticity"] < 0.9
    fresh = authenticity(train, rng.normal(size=(500, 6)), held_out=held_out)
    # fresh samples score what held-out real samples score
    assert abs(fresh["authenticity"] - fresh["held_out_authenticity"]) < 0.08
    assert fresh["lower"] < fresh["held_out_authenticity"] < fresh["upper"] or \
        fresh["held_out_lower"] < fresh["authenticity"] < fresh["held_out_upper"]
    with pytest.raises(AuditkitError, match="'held_out' parameter must have 6 features"):
        authenticity(train, copies, held_out=held_out[:, :3])
    with pytest.raises(AuditkitError, match="'train' parameter must be an array .* at least 2"):
        authenticity(train[:1], copies)


# -- the zoo: the planted memorisation defect ------------------------------------------------

def test_zoo_memorising_gan_copies_and_the_gan_does_not():
    from auditkit import zoo
    from auditkit.checks.generative._metrics import nearest_neighbour_distances
    from auditkit.inputs import wrap_model

    found = {}
    for name in ("mnist-gan-memorizing", "mnist-gan"):
        model, data = zoo.load(name)
        samples = np.asarray(wrap_model(model).sample(400, random_state=0)).reshape(400, -1)
        train = np.asarray(data.train.X, dtype=np.float64).reshape(len(data.train.X), -1)[:1000]
        held_out = np.asarray(data.X, dtype=np.float64).reshape(len(data.X), -1)
        near = near_copies(nearest_neighbour_distances(samples, train),
                           nearest_neighbour_distances(held_out, train))
        found[name] = (near, data_copying_ct(train, held_out, samples, rng=0))
    near, copying = found["mnist-gan-memorizing"]
    assert near["lower"] > 0.5 and copying["ct"] < -10  # pixel space
    near, copying = found["mnist-gan"]
    assert near["upper"] < 0.05 and copying["ct"] > -3
