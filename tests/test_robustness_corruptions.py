"""The natural-corruptions check: each corruption by hand, the domain it keeps, and zoo findings."""

from __future__ import annotations

import numpy as np
import pytest

from auditkit import AuditData, CheckContext, Status, get_check, wrap_model, zoo
from auditkit.attacks import CORRUPTIONS, corrupt, corrupt_text
from auditkit.checks import RobustnessCorruptions
from auditkit.exceptions import CheckError

IMAGE_CORRUPTIONS = list(CORRUPTIONS["image"])


def _run(check, model, data, *, seed=0):
    adapter = wrap_model(model, device="cpu") if hasattr(model, "parameters") else \
        wrap_model(model)
    return check.run(adapter, data, context=CheckContext(random_state=seed))


@pytest.fixture(scope="module")
def mnist():
    return zoo.load("mnist-cnn")


@pytest.fixture(scope="module")
def vowels():
    return zoo.load("vowels-gru")


@pytest.fixture(scope="module")
def digits(mnist):
    """Twenty MNIST digits as (n, 1, 28, 28) in [0, 1]."""
    _, data = mnist
    return AuditData(data.X[:20], data.y[:20], modality="image", input_range=(0.0, 1.0))


# -- images -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", IMAGE_CORRUPTIONS)
def test_image_corruption_changes_images_within_bounds_more_with_severity(name, digits):
    changes = []
    for severity in range(1, 6):
        corrupted = corrupt(digits, name, severity, random_state=3)
        assert corrupted.shape == digits.X.shape and corrupted.dtype == digits.X.dtype
        assert corrupted.min() >= 0.0 and corrupted.max() <= 1.0
        changes.append(float(np.abs(corrupted - digits.X).mean()))
    assert changes[0] > 0
    assert all(b > a for a, b in zip(changes, changes[1:], strict=False)), changes


@pytest.mark.parametrize("name", IMAGE_CORRUPTIONS)
def test_image_corruption_takes_images_without_a_channel_axis(name, digits):
    flat = AuditData(digits.X[:, 0], digits.y, modality="image", input_range=(0.0, 1.0))
    assert np.array_equal(corrupt(flat, name, 3, random_state=1),
                          corrupt(digits, name, 3, random_state=1)[:, 0])


def test_blur_keeps_a_constant_image():
    data = AuditData(np.full((2, 3, 16, 16), 0.4), [0, 1], modality="image",
                     input_range=(0.0, 1.0))
    blurred = corrupt(data, "gaussian_blur", 5)
    np.testing.assert_allclose(blurred, 0.4)


def test_contrast_brightness_and_occlusion_by_hand():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.2, 0.6, size=(3, 10, 10))
    data = AuditData(images, [0, 1, 0], modality="image", input_range=(0.0, 1.0))
    mean = images.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(corrupt(data, "contrast", 1), (images - mean) * 0.4 + mean)
    np.testing.assert_allclose(corrupt(data, "brightness", 2), images + 0.2)
    occluded = corrupt(data, "occlusion", 3)  # a 3 x 3 square (0.3 of 10 pixels), set to 0
    assert ((occluded == 0.0).sum(axis=(1, 2)) == 9).all()
    assert ((occluded == images) | (occluded == 0.0)).all()


def test_integer_images_stay_integers():
    images = np.random.default_rng(1).integers(0, 256, size=(4, 8, 8)).astype(np.uint8)
    data = AuditData(images, [0, 1, 0, 1], modality="image", input_range=(0, 255))
    noisy = corrupt(data, "gaussian_noise", 5)
    assert noisy.dtype == np.uint8 and not np.array_equal(noisy, images)


# -- tabular ------------------------------------------------------------------------------


def test_tabular_noise_keeps_immutable_and_categorical_features(zoo_adult):
    _, data = zoo_adult
    index = np.arange(300)
    mutable = data.mutable_mask()
    one_hot = np.zeros(data.X.shape[1], dtype=bool)
    for columns in data.feature_groups.values():
        if len(columns) > 1:
            one_hot[list(columns)] = True
    low, high = data.valid_bounds()
    for severity in (1, 5):
        noisy = corrupt(data, "gaussian_noise", severity, indices=index)
        changed = (noisy != data.X[index]).any(axis=0)
        assert changed.any()
        assert not changed[~mutable].any() and not changed[one_hot].any()
        assert (noisy >= low).all() and (noisy <= high).all()


def test_category_swap_keeps_one_hot_groups_valid(zoo_adult):
    _, data = zoo_adult
    index = np.arange(500)
    swapped = corrupt(data, "category_swap", 5, indices=index)
    mutable = data.mutable_mask()
    changed = (swapped != data.X[index]).any(axis=0)
    assert changed.any() and not changed[~mutable].any()
    for columns in data.feature_groups.values():
        if len(columns) > 1 and mutable[list(columns)].all():
            assert (swapped[:, list(columns)].sum(axis=1) == 1).all()
            rate = (swapped[:, list(columns)] != data.X[index][:, list(columns)]).any(1).mean()
            assert 0.15 < rate < 0.35  # severity 5 swaps a quarter of the values


def test_tabular_noise_rounds_integer_features_and_skips_coded_categories():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(18, 90, 200), rng.normal(size=200),
                         rng.integers(0, 4, 200), rng.normal(size=200)]).astype(float)
    data = AuditData(X, rng.integers(0, 2, 200), feature_names=["age", "income", "region", "x"],
                     categorical_features=["region"], mutable_features=["age", "income", "region"])
    noisy = corrupt(data, "gaussian_noise", 5)
    assert np.array_equal(noisy[:, 0], np.rint(noisy[:, 0])) and (noisy[:, 0] != X[:, 0]).any()
    assert (noisy[:, 1] != X[:, 1]).mean() > 0.9  # all but some clipped at the bounds
    assert np.array_equal(noisy[:, 2:], X[:, 2:])  # coded category and immutable column
    swapped = corrupt(data, "category_swap", 5)
    assert np.array_equal(np.delete(swapped, 2, axis=1), np.delete(X, 2, axis=1))
    assert set(np.unique(swapped[:, 2])) <= {0.0, 1.0, 2.0, 3.0}
    assert (swapped[:, 2] != X[:, 2]).any()


# -- sequences and text -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CORRUPTIONS["sequence"]))
def test_sequence_corruptions_never_touch_the_mask_channel(name, vowels):
    _, data = vowels
    mask = data.mutable_mask()
    assert not mask[..., -1].any() and mask[..., :-1].all()
    low, high = data.valid_bounds()
    corrupted = corrupt(data, name, 5, indices=np.arange(100))
    assert np.array_equal(corrupted[..., -1], data.X[:100, :, -1])
    assert (corrupted != data.X[:100]).any()
    assert (corrupted >= low).all() and (corrupted <= high).all()


TEXTS = ["This is a movie about the world at war with itself, and the result is riveting.",
         "A timely look back at civil disobedience; strong voices!", "Dull, dull, dull."]


@pytest.mark.parametrize("name", list(CORRUPTIONS["text"]))
def test_text_corruptions_change_strings_deterministically(name):
    corrupted = corrupt_text(TEXTS, name, 5, random_state=0)
    assert corrupted == corrupt_text(TEXTS, name, 5, random_state=0)
    assert corrupted != corrupt_text(TEXTS, name, 5, random_state=1)
    assert sum(a != b for a, b in zip(corrupted, TEXTS, strict=True)) >= 2
    mild = corrupt_text(TEXTS, name, 1, random_state=0)
    assert _words_changed(corrupted) > _words_changed(mild)


def _words_changed(texts):
    return sum(a != b for text, original in zip(texts, TEXTS, strict=True)
               for a, b in zip(text.split(), original.split(), strict=True))


def test_casing_changes_only_case():
    corrupted = corrupt_text(TEXTS, "casing", 5)
    assert [c.lower() for c in corrupted] == [t.lower() for t in TEXTS]


# -- the check ----------------------------------------------------------------------------


def test_mnist_accuracy_falls_with_noise_severity(mnist):
    model, data = mnist
    check = RobustnessCorruptions(n_samples=200, severities=(1, 3, 5),
                                  corruptions=("gaussian_noise",))
    result = _run(check, model, data)
    table = result.tables["accuracy"]
    accuracy = table.set_index("severity")["accuracy"]
    assert accuracy[1] > accuracy[3] > accuracy[5]
    assert accuracy[1] - accuracy[5] > 0.2
    assert result.metrics["clean_accuracy"].value > 0.9
    assert result.metrics["mean_corrupted_accuracy"].value < result.metrics[
        "clean_accuracy"].value
    assert "Accuracy falls" in result.headline
    examples = result.figures["examples"].data
    assert np.asarray(examples["images"]).shape == (1, 3, 28, 28)


def test_image_run_is_deterministic_and_complete(mnist):
    model, data = mnist
    check = RobustnessCorruptions(n_samples=60, severities=(2, 4))
    first, second = (_run(check, model, data, seed=5).with_changes(duration_s=0.0)
                     for _ in range(2))
    assert first == second
    assert first.status is Status.INFO
    assert set(first.metrics) == {"clean_accuracy", "mean_corrupted_accuracy",
                                  "worst_corruption_accuracy", "relative_accuracy",
                                  "mean_accuracy_drop"}
    table = first.tables["accuracy"]
    assert len(table) == len(IMAGE_CORRUPTIONS) * 2
    assert (table["lower"] <= table["accuracy"] + 1e-12).all()
    assert (table["accuracy"] <= table["upper"] + 1e-12).all()
    worst = table[table["severity"] == 4]["accuracy"].min()  # the middle of (2, 4) is 4
    assert first.metrics["worst_corruption_accuracy"].value == worst
    per_class = first.tables["per_class"]
    assert set(per_class["corruption"]) == set(IMAGE_CORRUPTIONS)
    assert per_class.groupby("corruption")["n"].sum().eq(60).all()
    other = _run(check, model, data, seed=6)
    assert not other.tables["accuracy"].equals(first.tables["accuracy"])


def test_tabular_run_reports_sensitive_groups(zoo_adult):
    model, data = zoo_adult
    result = _run(RobustnessCorruptions(n_samples=300, severities=(1, 5)), model, data)
    assert set(result.tables["accuracy"]["corruption"]) == {"gaussian_noise", "category_swap"}
    groups = result.tables["per_group"]
    assert set(groups["feature"]) == set(data.sensitive.columns)
    assert {"group", "n", "clean_accuracy", "robust_accuracy", "too_small"} <= set(groups)


def test_text_run_and_skips():
    model, data = zoo.load("sentiment-lstm")
    check = RobustnessCorruptions(n_samples=100, severities=(3,), corruptions=("typos",))
    result = _run(check, model, data)
    assert result.status is Status.INFO
    examples = result.tables["examples"]
    assert (examples["original"] != examples["corrupted"]).any()
    assert "severity 3" in result.headline
    bare = AuditData(data.X, data.y, modality="text")
    skipped = _run(check, model, bare)
    assert skipped.status is Status.SKIP and "tokenizer" in skipped.headline
    wrong = _run(RobustnessCorruptions(corruptions=("gaussian_blur",)), model, data)
    assert wrong.status is Status.SKIP and "text" in wrong.headline


@pytest.mark.parametrize("options, param", [
    ({"n_samples": 0}, "n_samples"),
    ({"n_samples": 2.5}, "n_samples"),
    ({"severities": ()}, "severities"),
    ({"severities": (0, 3)}, "severities"),
    ({"severities": (6,)}, "severities"),
    ({"corruptions": ("fog",)}, "corruptions"),
    ({"corruptions": ()}, "corruptions"),
    ({"confidence": 1.0}, "confidence"),
    ({"min_group_size": 0}, "min_group_size"),
])
def test_bad_options_name_the_parameter(options, param):
    with pytest.raises(CheckError, match=f"'{param}'"):
        get_check("robustness_corruptions", **options)


def test_options_are_normalised():
    check = RobustnessCorruptions(severities=[5, 1, 3], corruptions="typos")
    assert check.severities == (1, 3, 5) and check.corruptions == ("typos",)
    assert get_check("robustness_corruptions", **check.params()) == check
