"""adult-mlp-canary: planted canaries, documented on the card and reproduced by the checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from auditkit import wrap_model, zoo
from auditkit.zoo import adult_canary, tabular


@pytest.fixture(scope="module")
def canary():
    return zoo.load_with_card("adult-mlp-canary")


@pytest.fixture(scope="module")
def adult():
    return zoo.load_with_card("adult-mlp")


def test_listed_and_documented(canary):
    assert "adult-mlp-canary" in zoo.list_models()
    _, _, card = canary
    defect = card["planted_defect"]
    # Each canary included by its own fair coin (seed 0): 44 of the 100 were.
    assert defect["canaries"] == 100 and defect["canaries_included"] == 44
    assert defect["canaries_held_out"] == 56 and defect["canary_seed"] == 0
    assert "fair coin" in defect["canary_inclusion"] and "fair coin" in defect["description"]
    assert "flipped" in defect["canary_label"] and defect["expected_finding"]
    assert len(card["data"]["canary_rows"]) == 100
    assert len(card["data"]["canary_rows_included"]) == 44
    assert card["training"]["epochs"] == tabular.OVERFIT_RECIPE.epochs
    assert card["architecture"]["hidden"] == list(tabular.OVERFIT_HIDDEN)


def test_canaries_are_flipped_rows_outside_members_and_reference(canary, adult):
    _, data, card = canary
    _, adult_data, _ = adult
    rows = np.asarray(card["data"]["canary_rows"])
    members = np.asarray(card["data"]["member_rows"])
    reference_rows = np.setdiff1d(np.arange(len(adult_data.train)), members)[:5000]
    assert not set(rows) & set(members) and not set(rows) & set(reference_rows)
    assert len(set(rows)) == 100
    # Same encoding as adult-mlp: the canaries are adult.data's rows with flipped labels.
    np.testing.assert_array_equal(data.canaries.X, adult_data.train.X[rows])
    np.testing.assert_array_equal(data.canaries.y, 1 - adult_data.train.y[rows])
    np.testing.assert_array_equal(rows[data.canaries.included],
                                  card["data"]["canary_rows_included"])
    # train = the 400 members (true labels), then the 44 included canaries (flipped labels).
    assert len(data.train) == 444
    np.testing.assert_array_equal(data.train.X[:400], adult_data.train.X[members])
    np.testing.assert_array_equal(data.train.y[:400], adult_data.train.y[members])
    np.testing.assert_array_equal(data.train.X[400:], data.canaries.X[data.canaries.included])
    np.testing.assert_array_equal(data.train.y[400:], data.canaries.y[data.canaries.included])
    assert list(data.train.sensitive.columns) == ["sex", "race"]
    assert len(data.train.sensitive) == 444


def test_canary_rows_are_a_seeded_choice_included_by_fair_coins():
    members = tabular._member_rows(32561)
    a = adult_canary.canary_rows(32561, members)
    b = adult_canary.canary_rows(32561, members)
    c = adult_canary.canary_rows(32561, members, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[1].sum() == 44 and not np.array_equal(a[0], c[0])
    # The inclusion is one coin per canary: over 60 seeds the count spreads as
    # Binomial(100, 1/2) does (sd 5), where a fixed half would never move from 50.
    counts = [adult_canary.canary_rows(32561, members, seed=s)[1].sum() for s in range(60)]
    assert 48 < np.mean(counts) < 52 and 3.5 < np.std(counts) < 6.5


def test_checkpoint_reproduces_the_card_and_memorises_the_canaries(canary):
    model, data, card = canary
    adapter = wrap_model(model, device="cpu")
    metrics = card["metrics"]
    predicted = adapter.predict_proba(data.canaries.X).argmax(1)
    fits_flipped = predicted == data.canaries.y
    assert fits_flipped[data.canaries.included].mean() == pytest.approx(
        metrics["included_canaries_fit_flipped_label"], abs=1e-9)
    assert fits_flipped[~data.canaries.included].mean() == pytest.approx(
        metrics["held_out_canaries_predicted_flipped_label"], abs=1e-9)
    # The planted leak: most included canaries fit their wrong label, few held-out ones do.
    assert metrics["included_canaries_fit_flipped_label"] >= 0.9
    assert metrics["held_out_canaries_predicted_flipped_label"] <= 0.35
    test_accuracy = (adapter.predict_proba(data.X).argmax(1) == data.y).mean()
    assert test_accuracy == pytest.approx(metrics["test_accuracy"], abs=0.005)
    train_accuracy = (adapter.predict_proba(data.train.X).argmax(1) == data.train.y).mean()
    assert train_accuracy == pytest.approx(metrics["train_accuracy"], abs=0.005)
    assert adapter.refit_unavailable_reason is None
    assert model.train_fn is tabular.refit_overfit


def test_training_smoke(tmp_path):
    card = zoo.train("adult-mlp-canary", device="cpu", directory=tmp_path, max_steps=16)
    assert card["training"]["steps"] == 16
    written = json.loads((tmp_path / "adult-mlp-canary.json").read_text())
    assert written["planted_defect"]["canaries_included"] == 44
    model, data = zoo.load("adult-mlp-canary", directory=tmp_path)
    assert len(data.canaries) == 100 and not model.training
