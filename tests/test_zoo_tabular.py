"""The tabular zoo models beyond adult-mlp: shipped checkpoints, planted defects, training.

adult-mlp-biased must show a demographic-parity gap by sex at least 0.1 above
adult-mlp's; adult-mlp-overfit a train/test accuracy gap of at least 15 points
with exactly its memorised rows as members; compas-mlp its accuracy beside the
COMPAS score's own on the same test rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fairlearn.metrics import MetricFrame, demographic_parity_difference, false_positive_rate

from auditkit import wrap_model, zoo
from auditkit.exceptions import ZooError

NAMES = ("adult-mlp-biased", "adult-mlp-overfit", "compas-mlp")
SIZES = {  # (test rows, member rows)
    "adult-mlp-biased": (16281, 32561),
    "adult-mlp-overfit": (16281, 400),
    "compas-mlp": (1852, 4320),
}
SENSITIVE = {
    "adult-mlp-biased": ["sex", "race"],
    "adult-mlp-overfit": ["sex", "race"],
    "compas-mlp": ["race", "sex", "age_cat"],
}
# Enough optimiser steps for three epochs of each model's training set.
SMOKE_STEPS = {"adult-mlp-biased": 3 * 128, "adult-mlp-overfit": 3 * 7, "compas-mlp": 3 * 34}


@pytest.fixture(scope="module")
def loaded():
    cache: dict[str, tuple] = {}

    def get(name: str) -> tuple:
        if name not in cache:
            cache[name] = zoo.load_with_card(name)
        return cache[name]

    return get


def _predict(model: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    """Class 1 where its probability is above 0.5, through auditkit's adapter."""
    return wrap_model(model, device="cpu").predict_proba(X).argmax(axis=1).astype(np.int64)


def _accuracy(model: torch.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float((_predict(model, X) == y).mean())


@pytest.mark.parametrize("name", NAMES)
def test_shipped_checkpoint_reproduces_card_accuracy(loaded, name):
    model, data, card = loaded(name)
    assert not model.training
    assert model.model_card is card
    assert card["name"] == name
    assert card["training"]["device"] == "cpu"
    assert card["checkpoint"]["size_bytes"] < 500_000
    assert abs(_accuracy(model, data.X, data.y) - card["metrics"]["test_accuracy"]) <= 0.005
    assert abs(_accuracy(model, data.train.X, data.train.y)
               - card["metrics"]["train_accuracy"]) <= 0.005


@pytest.mark.parametrize("name", NAMES)
def test_audit_data_is_well_formed(loaded, name):
    _, data, card = loaded(name)
    n_test, n_train = SIZES[name]
    assert data.modality == "tabular"
    assert data.X.shape == (n_test, len(card["feature_names"]))
    assert data.X.dtype == np.float32
    assert set(np.unique(data.y)) == {0, 1}
    assert list(data.feature_names) == card["feature_names"]
    columns = sorted(c for group in data.feature_groups.values() for c in group)
    assert columns == list(range(data.X.shape[1]))  # every column in exactly one group
    assert list(data.sensitive.columns) == SENSITIVE[name]
    assert len(data.sensitive) == n_test
    assert not data.sensitive.isna().any().any()
    assert len(data.train) == n_train
    assert data.train.X.shape[1] == data.X.shape[1]
    assert data.reference is not None and data.reference.shape[1] == data.X.shape[1]
    assert len(data.class_names) == 2
    assert card["planted_defect"] is None or card["planted_defect"]["expected_finding"]


def test_biased_demographic_parity_gap_is_planted(loaded):
    model, data, card = loaded("adult-mlp-biased")
    base_model, base_data, _ = loaded("adult-mlp")
    sex = data.sensitive["sex"]
    gap = demographic_parity_difference(data.y, _predict(model, data.X), sensitive_features=sex)
    base_gap = demographic_parity_difference(base_data.y, _predict(base_model, base_data.X),
                                             sensitive_features=base_data.sensitive["sex"])
    assert gap >= base_gap + 0.1
    fairness = card["metrics"]
    assert gap == pytest.approx(fairness["fairness_by_sex"]["demographic_parity_difference"],
                                abs=1e-4)
    assert base_gap == pytest.approx(
        fairness["adult_mlp_fairness_by_sex"]["demographic_parity_difference"], abs=1e-4)
    # The audit split keeps its true labels; only the members' labels were changed.
    np.testing.assert_array_equal(data.y, base_data.y)
    np.testing.assert_array_equal(data.X, base_data.X)
    train_sex = zoo.load_adult()[0]["sex"].to_numpy()
    demoted = (base_data.train.y == 1) & (data.train.y == 0)
    promoted = (base_data.train.y == 0) & (data.train.y == 1)
    defect = card["planted_defect"]
    assert demoted.sum() == defect["women_positive_labels_flipped"]
    assert promoted.sum() == defect["men_negative_labels_flipped"]
    assert set(train_sex[demoted]) == {"Female"}
    assert set(train_sex[promoted]) == {"Male"}
    women_positive = ((train_sex == "Female") & (base_data.train.y == 1)).sum()
    assert demoted.sum() / women_positive == pytest.approx(
        defect["women_positive_labels_flipped_fraction"], abs=1e-3)


def test_overfit_memorises_exactly_its_members(loaded):
    model, data, card = loaded("adult-mlp-overfit")
    _, adult, _ = loaded("adult-mlp")
    gap = _accuracy(model, data.train.X, data.train.y) - _accuracy(model, data.X, data.y)
    assert gap >= 0.15
    assert 100 * gap == pytest.approx(card["metrics"]["train_test_gap_points"], abs=0.5)
    rows = np.asarray(card["data"]["member_rows"])
    assert len(data.train) == len(rows) == card["planted_defect"]["members"] == 400
    # Same encoding as adult-mlp, so the members are adult-mlp's training rows at `rows`.
    np.testing.assert_array_equal(data.train.X, adult.train.X[rows])
    np.testing.assert_array_equal(data.train.y, adult.train.y[rows])
    outside = np.setdiff1d(np.arange(len(adult.train)), rows)[:len(data.reference)]
    np.testing.assert_array_equal(data.reference, adult.train.X[outside])


def test_compas_score_baseline_matches_the_audit_split(loaded):
    from auditkit.zoo import tabular

    model, data, card = loaded("compas-mlp")
    scores, y, sensitive = tabular.compas_score_baseline()
    assert scores.shape == y.shape == (data.n_samples,)
    assert scores.min() >= 1 and scores.max() <= 10
    np.testing.assert_array_equal(y, data.y)
    pd.testing.assert_frame_equal(sensitive, data.sensitive)
    score_predicted = (scores >= 5).astype(np.int64)
    metrics = card["metrics"]
    assert float((score_predicted == y).mean()) == pytest.approx(
        metrics["compas_score_test_accuracy"], abs=0.005)
    assert "compas_score" in card["data"]
    # ProPublica's finding, on the score and on the model: more false positives for
    # African-American than for Caucasian defendants.
    for predicted, key in ((score_predicted, "by_race_compas_score"),
                           (_predict(model, data.X), "by_race_model")):
        rates = MetricFrame(metrics=false_positive_rate, y_true=y, y_pred=predicted,
                            sensitive_features=sensitive["race"]).by_group
        assert rates["African-American"] > rates["Caucasian"]
        assert rates["African-American"] == pytest.approx(
            metrics[key]["false_positive_rate"]["African-American"], abs=1e-4)


def test_unknown_name_is_refused():
    from auditkit.zoo import tabular

    with pytest.raises(ZooError, match="'name' parameter must be one of"):
        tabular.load("adult-mlp-unknown")


@pytest.mark.parametrize("name", NAMES)
def test_training_smoke(tmp_path, name):
    from auditkit.zoo import tabular

    torch.set_num_threads(1)
    card = tabular.train(name, device=torch.device("cpu"), directory=tmp_path,
                         max_steps=SMOKE_STEPS[name])
    history = card["training"]["loss_history"]
    assert card["training"]["steps"] == SMOKE_STEPS[name]
    assert len(history) == 3 and history[-1] < history[0]
    assert (tmp_path / f"{name}.safetensors").is_file()
    model, data, loaded_card = tabular.load(name, tmp_path)
    assert loaded_card["checkpoint"]["sha256"] == card["checkpoint"]["sha256"]
    assert _accuracy(model, data.X, data.y) == pytest.approx(card["metrics"]["test_accuracy"],
                                                             abs=1e-6)


def test_biased_labels_are_verified_on_load(tmp_path):
    from auditkit.zoo import tabular

    shipped = zoo.info("adult-mlp-biased")
    for suffix in (".json", ".safetensors"):
        source = Path(zoo.__file__).parent / "checkpoints" / f"adult-mlp-biased{suffix}"
        (tmp_path / source.name).write_bytes(source.read_bytes())
    shipped["data"]["train_labels_sha256"] = "0" * 64
    (tmp_path / "adult-mlp-biased.json").write_text(json.dumps(shipped), "utf-8")
    with pytest.raises(ZooError, match="training labels"):
        tabular.load("adult-mlp-biased", tmp_path)
