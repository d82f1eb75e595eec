"""Zoo models mnist-vae, mnist-gan and its planted defects: checkpoints, samples, defects, training.

mnist-gan-memorizing copies its 32 training images; mnist-gan-collapsed covers
only the digits 0, 1 and 7. Every model's AuditData carries mnist-cnn as its
feature extractor.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from auditkit import AuditData, zoo

NAMES = ("mnist-vae", "mnist-gan", "mnist-gan-memorizing", "mnist-gan-collapsed")
GANS = ("mnist-gan", "mnist-gan-memorizing", "mnist-gan-collapsed")
N_MEMORIZING = 32
COLLAPSED_DIGITS = (0, 1, 7)
N_COLLAPSED = 400 * len(COLLAPSED_DIGITS)  # every training image of those digits
TRAIN_SIZES = {"mnist-vae": 4000, "mnist-gan": 4000, "mnist-gan-memorizing": N_MEMORIZING,
               "mnist-gan-collapsed": N_COLLAPSED}
TRAIN_DIGITS = {**dict.fromkeys(NAMES, set(range(10))),
                "mnist-gan-collapsed": set(COLLAPSED_DIGITS)}


@pytest.fixture(scope="module", params=NAMES)
def shipped(request):
    model, data, card = zoo.load_with_card(request.param)
    return request.param, model, data, card


@pytest.fixture(scope="module")
def vae():
    return zoo.load_with_card("mnist-vae")


@pytest.fixture(scope="module")
def classifier():
    model, _ = zoo.load("mnist-cnn")
    return model


def _seeded(seed):
    return torch.Generator().manual_seed(seed)


def _nearest(samples, images):
    flat = samples.reshape(len(samples), -1).double()
    return torch.cdist(flat, torch.tensor(images).reshape(len(images), -1).double()).min(1).values


# -- the shipped checkpoints --------------------------------------------------------------


def test_loads_a_generative_module_in_eval_mode_on_the_cpu(shipped):
    name, model, _, card = shipped
    assert model.generative is True
    assert isinstance(model.latent_dim, int) and 16 <= model.latent_dim <= 100
    assert not any(m.training for m in model.modules())
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert model.model_card is card and card["name"] == name
    assert card["checkpoint"]["format"] == "safetensors"
    assert len(card["checkpoint"]["sha256"]) == 64
    assert card["training"]["device"] and card["training"]["seed"] == 0
    assert card["training"]["duration_s"] > 0


def test_checkpoints_fit_the_budget():
    total = sum(zoo.info(name)["checkpoint"]["size_bytes"] for name in NAMES)
    assert total <= 8 * 2**20


def test_audit_data_is_well_formed(shipped):
    name, _, data, _ = shipped
    assert isinstance(data, AuditData)
    assert data.modality == "image"
    assert data.X.shape == (1000, 1, 28, 28) and data.X.dtype == np.float32
    assert 0.0 <= data.X.min() and data.X.max() <= 1.0
    assert np.bincount(data.y, minlength=10).tolist() == [100] * 10
    assert data.class_names == tuple(str(d) for d in range(10))
    assert data.train.X.shape == (TRAIN_SIZES[name], 1, 28, 28)
    assert set(np.unique(data.train.y).tolist()) == TRAIN_DIGITS[name]
    np.testing.assert_array_equal(data.reference, data.train.X)
    assert data.ood["fashion-mnist"].shape == (2000, 1, 28, 28)
    # Members and non-members are different images.
    members = {row.tobytes() for row in data.train.X}
    assert not any(row.tobytes() in members for row in data.X)


def test_split_is_the_mnist_classifiers_split():
    from sklearn.model_selection import train_test_split

    images, labels = zoo.load_mnist_5k()
    train_index, test_index = train_test_split(np.arange(5000), test_size=1000, stratify=labels,
                                               random_state=0)
    _, data = zoo.load("mnist-gan")
    np.testing.assert_array_equal(data.X[:, 0], images[test_index] / np.float32(255))
    np.testing.assert_array_equal(data.train.y, labels[train_index])
    _, few = zoo.load("mnist-gan-memorizing")
    members = {row.tobytes() for row in data.train.X}
    assert all(row.tobytes() in members for row in few.train.X)
    assert np.bincount(few.train.y, minlength=10).min() >= 3
    # The collapsed GAN's members: every training image of its digits, in split order.
    _, collapsed = zoo.load("mnist-gan-collapsed")
    kept = np.isin(data.train.y, COLLAPSED_DIGITS)
    np.testing.assert_array_equal(collapsed.train.X, data.train.X[kept])
    np.testing.assert_array_equal(collapsed.train.y, data.train.y[kept])
    np.testing.assert_array_equal(collapsed.X, data.X)  # held out: all ten digits


@pytest.mark.parametrize("n", [0, 1, 37])
def test_sample_shape_range_and_determinism(shipped, n):
    _, model, _, _ = shipped
    first = model.sample(n, generator=_seeded(7))
    assert first.shape == (n, 1, 28, 28) and first.dtype == torch.float32
    assert first.device.type == "cpu"
    if n:
        assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0
    torch.testing.assert_close(model.sample(n, generator=_seeded(7)), first, rtol=0, atol=0)
    assert not model.training


def test_sample_rejects_a_bad_count(vae):
    from auditkit.exceptions import ZooError

    model, _, _ = vae
    with pytest.raises(ZooError, match=r"The 'n' parameter must be a non-negative int\. "
                                       r"Got -1 instead\."):
        model.sample(-1)


def test_sample_varies_with_the_seed_and_restores_the_mode(shipped):
    _, model, _, _ = shipped
    assert not torch.equal(model.sample(8, generator=_seeded(1)),
                           model.sample(8, generator=_seeded(2)))
    model.train()
    try:
        assert model.sample(4).shape == (4, 1, 28, 28)  # global generator
        assert model.training
    finally:
        model.eval()


# -- the VAE ------------------------------------------------------------------------------


def test_vae_reproduces_its_card_elbo(vae):
    model, data, card = vae
    elbo = model.elbo(torch.tensor(data.X), generator=_seeded(0))
    assert elbo.shape == (1000,) and torch.isfinite(elbo).all()
    assert (elbo < 0).all()
    assert abs(float(elbo.double().mean()) - card["metrics"]["test_elbo_nats"]) < 0.05
    reconstruction = model.reconstruct(torch.tensor(data.X))
    assert reconstruction.shape == data.X.shape
    mse = float((reconstruction - torch.tensor(data.X)).pow(2).mean())
    assert abs(mse - card["metrics"]["test_reconstruction_mse"]) < 1e-4
    # The fitted prior is what the card credits with the better bound.
    metrics = card["metrics"]
    assert metrics["test_elbo_nats"] > metrics["test_elbo_standard_normal_prior_nats"]


def test_vae_elbo_is_a_bound_that_averages_over_draws(vae):
    model, data, _ = vae
    x = torch.tensor(data.X[:50])
    one = model.elbo(x, generator=_seeded(3))
    many = model.elbo(x, generator=_seeded(3), n_samples=8)
    assert many.shape == (50,)
    # Averaging draws reduces the noise, not the value: the two agree on the whole.
    assert abs(float(one.mean() - many.mean())) < 5.0
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape and mu.shape == logvar.shape == (50, model.latent_dim)


# -- samples: recognisable, and memorised only by the planted defect ------------------------


@pytest.mark.parametrize("name", ["mnist-vae", "mnist-gan"])
def test_samples_are_recognisable_as_the_card_says(name, classifier):
    from auditkit.zoo import mnist_generative

    model, _, card = zoo.load_with_card(name)
    samples = model.sample(1000, generator=_seeded(card["metrics"]["recognisability"]
                                                   ["sample_seed"]))
    measured = mnist_generative.recognisability(samples, classifier)
    recorded = card["metrics"]["recognisability"]
    assert recorded["classifier"].startswith("mnist-cnn")
    assert abs(measured["confident_fraction"] - recorded["confident_fraction"]) <= 0.005
    assert measured["confident_fraction"] >= 0.70
    assert measured["classes_present"] == list(range(10))


def test_memorising_gan_copies_its_training_images():
    few_model, few_data, few_card = zoo.load_with_card("mnist-gan-memorizing")
    model, data, card = zoo.load_with_card("mnist-gan")
    few_samples = few_model.sample(200, generator=_seeded(11))
    samples = model.sample(200, generator=_seeded(11))
    few_to_train = _nearest(few_samples, few_data.train.X)
    few_to_test = _nearest(few_samples, few_data.X)
    to_train = _nearest(samples, data.train.X)
    to_test = _nearest(samples, data.X)
    # The memorising GAN's samples sit on its 32 images, far closer than to any
    # held-out digit; the normal GAN's are about as far from both.
    assert float(few_to_train.median()) < 0.5 * float(to_train.median())
    assert float((few_to_train / few_to_test).median()) < 0.5
    assert float((to_train / to_test).median()) > 0.8
    assert float((few_to_train < 0.5 * few_to_test).double().mean()) >= 0.5
    assert float((to_train < 0.5 * to_test).double().mean()) <= 0.05
    defect = few_card["planted_defect"]
    assert defect["description"].startswith(f"memorises its {N_MEMORIZING} training images")
    assert few_card["metrics"]["memorisation"]["near_copy_fraction"] >= 0.5
    assert card["planted_defect"] is None
    assert card["metrics"]["memorisation"]["near_copy_fraction"] <= 0.05


@pytest.mark.parametrize("name", GANS)
def test_gan_keeps_generator_and_discriminator(name):
    model, data = zoo.load(name)
    z = torch.randn(5, model.latent_dim, generator=_seeded(0))
    with torch.inference_mode():
        images = model(z)
        logits = model.discriminator(torch.tensor(data.X[:5]))
    assert images.shape == (5, 1, 28, 28)
    assert logits.shape == (5, 1) and torch.isfinite(logits).all()
    state = model.state_dict()
    assert any(k.startswith("generator.") for k in state)
    assert any(k.startswith("discriminator.") for k in state)


# -- the collapsed GAN: a planted mode collapse ---------------------------------------------


@pytest.fixture(scope="module")
def collapsed():
    return zoo.load_with_card("mnist-gan-collapsed")


def _confident_labels(samples, classifier, threshold=0.9):
    with torch.inference_mode():
        probabilities = torch.softmax(classifier(samples), 1)
    top, label = probabilities.max(1)
    return label[top >= threshold].numpy()


def test_collapsed_gan_loads_only_with_its_hash(tmp_path, collapsed):
    import shutil

    from auditkit.exceptions import ZooError
    from auditkit.zoo import mnist_generative
    from auditkit.zoo._checkpoints import CHECKPOINT_DIR, sha256_of

    _, _, card = collapsed
    shipped = CHECKPOINT_DIR / "mnist-gan-collapsed.safetensors"
    assert card["checkpoint"]["file"] == shipped.name
    assert sha256_of(shipped) == card["checkpoint"]["sha256"]
    assert zoo.info("mnist-gan-collapsed") == card
    for suffix in (".json", ".safetensors"):
        shutil.copy(CHECKPOINT_DIR / f"mnist-gan-collapsed{suffix}", tmp_path)
    tampered = tmp_path / "mnist-gan-collapsed.safetensors"
    content = bytearray(tampered.read_bytes())
    content[-1] ^= 1
    tampered.write_bytes(bytes(content))
    with pytest.raises(ZooError, match="does not match the SHA-256 recorded in its model card"):
        mnist_generative.load("mnist-gan-collapsed", tmp_path)


def test_collapsed_gan_covers_only_its_three_digits(collapsed, classifier):
    model, _, _ = collapsed
    labels = _confident_labels(model.sample(1000, generator=_seeded(5)), classifier)
    assert len(labels) >= 600  # recognisable digits, not noise
    share = np.bincount(labels, minlength=10) / len(labels)
    assert share[list(COLLAPSED_DIGITS)].sum() >= 0.95
    assert share[list(COLLAPSED_DIGITS)].min() >= 0.15  # each planted digit is there
    others = np.delete(share, COLLAPSED_DIGITS)
    assert others.max() <= 0.02
    # mnist-gan, drawn the same way, covers all ten digits: the collapse is the defect.
    normal, _ = zoo.load("mnist-gan")
    normal_labels = _confident_labels(normal.sample(1000, generator=_seeded(5)), classifier)
    normal_share = np.bincount(normal_labels, minlength=10) / len(normal_labels)
    assert normal_share.min() >= 0.01  # the card rule: every digit covered
    assert normal_share[list(COLLAPSED_DIGITS)].sum() <= 0.5


def test_collapsed_gan_reproduces_its_card_histogram(collapsed, classifier):
    from auditkit.zoo import mnist_generative

    model, _, card = collapsed
    recorded = card["metrics"]["recognisability"]
    samples = model.sample(recorded["n_samples"], generator=_seeded(recorded["sample_seed"]))
    measured = mnist_generative.recognisability(samples, classifier)
    assert measured["class_histogram"] == recorded["class_histogram"]
    assert measured["confident_class_histogram"] == recorded["confident_class_histogram"]
    assert abs(measured["confident_fraction"] - recorded["confident_fraction"]) <= 0.005
    assert not recorded["meets_bar"]  # the zoo's bar asks for all ten digits


def test_collapsed_card_states_the_defect(collapsed):
    _, _, card = collapsed
    defect = card["planted_defect"]
    assert defect["kind"] == "mode collapse (missing modes)"
    assert defect["description"].startswith("covers only digits 0, 1, 7")
    assert "the coverage check must FAIL it" in defect["expected_finding"]
    coverage = card["metrics"]["mode_coverage"]
    assert coverage["planted_digits"] == list(COLLAPSED_DIGITS)
    assert coverage["digits_covered"] == list(COLLAPSED_DIGITS)
    assert coverage["digits_missing"] == [2, 3, 4, 5, 6, 8, 9]
    assert coverage["confident_share_in_planted_digits"] >= 0.95
    data = card["data"]
    assert data["train_digits"] == list(COLLAPSED_DIGITS)
    assert data["train_label_counts"] == [400, 400, 0, 0, 0, 0, 0, 400, 0, 0]
    assert data["train_rows"] == N_COLLAPSED and data["test_rows"] == 1000
    training = card["training"]
    assert training["device"] == "cpu" and training["steps"] == training["steps_planned"]
    assert training["steps"] == 4000 and training["duration_s"] > 0
    assert card["architecture"] == zoo.info("mnist-gan")["architecture"]
    assert card["metrics"]["memorisation"]["near_copy_fraction"] <= 0.05  # collapses, not copies


# -- the default feature extractor --------------------------------------------------------


def test_audit_data_carries_mnist_cnn_as_its_feature_extractor(shipped, classifier):
    from auditkit.inputs import FeatureExtractor

    _, _, data, _ = shipped
    extractor = data.feature_extractor
    assert isinstance(extractor, FeatureExtractor)
    assert extractor.name == "mnist-cnn (zoo)" and extractor.can_label
    assert "'mnist-cnn (zoo)'" in extractor.describe()
    # mnist-cnn itself: the same weights as the zoo's classifier, so the same labels.
    assert extractor.fingerprint() == FeatureExtractor(classifier).fingerprint()
    images = data.X[::10]
    probabilities = extractor.predict_proba(images)
    with torch.inference_mode():
        expected = torch.softmax(classifier(torch.tensor(images)), 1).double().numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert (probabilities.argmax(1) == data.y[::10]).mean() >= 0.9
    features = extractor.features(images)
    assert features.shape == (100, 128) and features.dtype == np.float64
    assert np.isfinite(features).all() and features.std() > 0


def test_feature_extractor_is_built_once_for_all_loads():
    first = zoo.load("mnist-vae")[1].feature_extractor
    second = zoo.load("mnist-gan-collapsed")[1].feature_extractor
    assert first is second


# -- training -----------------------------------------------------------------------------


def test_vae_training_smoke(tmp_path):
    from auditkit.zoo import mnist_generative

    card = mnist_generative.train("mnist-vae", device=torch.device("cpu"), directory=tmp_path,
                                  max_steps=25)
    history = card["training"]["loss_history"]
    assert card["training"]["steps"] == 25 and len(history) >= 3
    assert history[-1] < history[0]
    model, _, loaded = mnist_generative.load("mnist-vae", tmp_path)
    assert loaded["checkpoint"]["sha256"] == card["checkpoint"]["sha256"]
    assert math.isfinite(card["metrics"]["test_elbo_nats"])
    assert model.sample(3, generator=_seeded(0)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("name", ["mnist-gan", "mnist-gan-memorizing",
                                  pytest.param("mnist-gan-collapsed", marks=pytest.mark.slow)])
def test_gan_training_smoke(tmp_path, name):
    from auditkit.zoo import mnist_generative

    card = mnist_generative.train(name, device=torch.device("cpu"), directory=tmp_path,
                                  max_steps=10)
    training = card["training"]
    assert training["steps"] == 10
    for key in ("discriminator_loss_history", "generator_loss_history"):
        assert training[key] and all(math.isfinite(v) and v > 0 for v in training[key])
    model, data, _ = mnist_generative.load(name, tmp_path)
    assert model.sample(2, generator=_seeded(0)).shape == (2, 1, 28, 28)
    assert len(data.train) == TRAIN_SIZES[name]
    assert card["data"]["train_rows"] == TRAIN_SIZES[name]


# -- the generative metrics of the library, by hand on tiny arrays -----------------------


def test_recognisability_counts_confident_samples_by_hand():
    from auditkit.checks.generative import recognisability

    probabilities = np.array([[0.95, 0.05, 0.0], [0.6, 0.4, 0.0], [0.1, 0.0, 0.9],
                              [0.0, 0.3, 0.7]])
    result = recognisability(probabilities, threshold=0.9)
    assert result["n_samples"] == 4
    assert result["confident_fraction"] == 0.5  # rows 0 and 2
    assert result["classes_present"] == [0, 2]
    assert result["class_histogram"] == [2, 0, 2]
    assert result["confident_class_histogram"] == [1, 0, 1]
    assert "meets_bar" not in result  # a verdict is the policy's, not the metric's
    # torch tensors give the same numbers
    assert recognisability(torch.tensor(probabilities), threshold=0.9) == result


@pytest.mark.parametrize("probabilities", [np.zeros((3,)), np.zeros((0, 2)), np.ones((2, 1))])
def test_recognisability_rejects_a_bad_shape(probabilities):
    from auditkit.checks.generative import recognisability
    from auditkit.exceptions import AuditkitError

    with pytest.raises(AuditkitError, match="The 'probabilities' parameter must be an array"):
        recognisability(probabilities)


@pytest.mark.parametrize("threshold", [0, 1.5, "0.9", True])
def test_recognisability_rejects_a_bad_threshold(threshold):
    from auditkit.checks.generative import recognisability
    from auditkit.exceptions import AuditkitError

    with pytest.raises(AuditkitError, match=r"The 'threshold' parameter must be a float in "
                                            r"\(0, 1\]\. Got"):
        recognisability(np.eye(2), threshold=threshold)


def test_memorisation_by_hand():
    from auditkit.checks.generative import memorisation

    # Distances in 1-D: sample 0 -> train 1, test 4 (ratio 1/4); sample 10 -> train 0
    # (a copy), test 6; sample 19 -> train 9, test 1 (ratio 9).
    samples, train, test = [[0.0], [10.0], [19.0]], [[1.0], [10.0]], [[4.0], [20.0]]
    result = memorisation(samples, train, test, ratio=0.5)
    assert result["n_samples"] == 3 and result["n_train"] == 2 and result["n_test"] == 2
    assert result["median_l2_to_nearest_train"] == 1.0
    assert result["median_l2_to_nearest_test"] == 4.0
    assert result["median_ratio_train_over_test"] == 0.25
    assert result["near_copy_fraction"] == pytest.approx(2 / 3)
    assert memorisation(samples, train, test, ratio=0.2)["near_copy_fraction"] == \
        pytest.approx(1 / 3)


def test_memorisation_flattens_images_and_measures_euclidean_distance():
    from auditkit.checks.generative import memorisation

    sample = torch.zeros(1, 1, 2, 2)
    train = np.full((1, 1, 2, 2), 0.5, dtype=np.float32)  # distance sqrt(4 * 0.25) = 1
    test = np.full((1, 1, 2, 2), 1.5, dtype=np.float32)  # distance 3
    result = memorisation(sample, train, test)
    assert result["median_l2_to_nearest_train"] == 1.0
    assert result["median_ratio_train_over_test"] == pytest.approx(1 / 3)
    assert result["near_copy_fraction"] == 1.0


def test_memorisation_rejects_mismatched_images():
    from auditkit.checks.generative import memorisation
    from auditkit.exceptions import AuditkitError

    with pytest.raises(AuditkitError, match="The 'train_images' parameter must have 2 values"):
        memorisation(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(AuditkitError, match="The 'ratio' parameter must be a positive float"):
        memorisation(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)), ratio=0)


def test_sample_diversity_by_hand():
    from auditkit.checks.generative import nearest_neighbour_distances, sample_diversity

    collapsed = [[0.0, 0.0], [0.0, 0.1], [0.0, 0.3]]  # nearest others: 0.1, 0.1, 0.2
    real = [[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]  # nearest others: 5, 5, 5
    result = sample_diversity(collapsed, real)
    assert result["n_samples"] == 3 and result["n_reference"] == 3
    assert result["median_nn_l2_among_samples"] == pytest.approx(0.1)
    assert result["median_nn_l2_among_reference"] == 5.0
    np.testing.assert_allclose(nearest_neighbour_distances(collapsed), [0.1, 0.1, 0.2])
    np.testing.assert_allclose(nearest_neighbour_distances([[0.0, 0.0]], real), [0.0])


def test_nearest_neighbour_distances_match_brute_force_across_blocks():
    from auditkit.checks.generative import nearest_neighbour_distances

    rng = np.random.default_rng(0)
    queries, references = rng.normal(size=(1500, 3)), rng.normal(size=(40, 3))
    brute = np.sqrt(((queries[:, None] - references[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_neighbour_distances(queries, references), brute,
                               rtol=1e-9, atol=1e-9)
    # leaving each query's own row out holds across the blocks of 1,024 rows too
    among = np.sqrt(((queries[:, None] - queries[None]) ** 2).sum(-1))
    np.fill_diagonal(among, np.inf)
    np.testing.assert_allclose(nearest_neighbour_distances(queries), among.min(1),
                               rtol=1e-6, atol=1e-9)


def test_sample_diversity_needs_two_samples():
    from auditkit.checks.generative import sample_diversity
    from auditkit.exceptions import AuditkitError

    with pytest.raises(AuditkitError, match="The 'samples' parameter must hold at least 2"):
        sample_diversity([[0.0]], [[0.0], [1.0]])


def test_frechet_distance_by_hand():
    from auditkit.checks.generative import frechet_distance

    # 1-D: means 1 and 2, variances 2 and 2: (1 - 2)^2 + 2 + 2 - 2 * sqrt(2 * 2) = 1.
    assert frechet_distance([[0.0], [2.0]], [[1.0], [3.0]]) == pytest.approx(1.0)
    # 2-D, equal means, covariances diag(2, 8) and diag(8, 2) (n - 1 = 3):
    # 10 + 10 - 2 * tr(sqrt(diag(16, 16))) = 4.
    a = np.array([[1.0, 2.0], [-1.0, -2.0], [1.0, -2.0], [-1.0, 2.0]]) * np.sqrt(1.5)
    b = a[:, ::-1]
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="The 'features_b' parameter must have 2 values"):
        frechet_distance(a, np.zeros((3, 3)))
