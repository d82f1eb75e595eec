"""The zoo: the shipped adult-mlp, its verified checkpoint, its data, and retraining."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import auditkit
from auditkit import AuditData, AuditResult, wrap_model, zoo
from auditkit.exceptions import ZooError

DATA_DIR = Path(auditkit.zoo.__file__).parent / "data"
CHECKPOINT_DIR = Path(auditkit.zoo.__file__).parent / "checkpoints"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_list_models():
    names = zoo.list_models()
    assert "adult-mlp" in names
    assert len(names) == len(set(names))


def test_unknown_model():
    with pytest.raises(ZooError, match=r"The 'name' parameter must be one of \[.*'adult-mlp'.*\]"
                                       r"\. Got 'adult-nope' instead\."):
        zoo.load("adult-nope")
    with pytest.raises(ZooError, match="Got 'adult-nope' instead"):
        zoo.info("adult-nope")


def test_load_returns_an_eval_module_and_audit_data(zoo_adult):
    model, data = zoo_adult
    assert isinstance(model, nn.Module)
    assert not model.training
    assert not any(m.training for m in model.modules())
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert isinstance(data, AuditData)
    assert data.modality == "tabular"
    assert data.X.shape[0] == data.n_samples == 16_281
    assert data.X.shape[1] == model.model_card["architecture"]["inputs"]
    assert set(np.unique(data.y)) == {0, 1}
    assert data.class_names == ("<=50K", ">50K")


def test_sensitive_features(zoo_adult):
    _, data = zoo_adult
    assert list(data.sensitive.columns) == ["sex", "race"]
    assert len(data.sensitive) == 16_281
    assert not data.sensitive.isna().any().any()
    assert set(data.sensitive["sex"]) == {"Female", "Male"}
    assert data.sensitive["race"].nunique() == 5


def test_training_split_and_reference(zoo_adult):
    _, data = zoo_adult
    assert len(data.train) == 32_561
    assert data.train.X.shape[1] == data.X.shape[1]
    assert set(np.unique(data.train.y)) == {0, 1}
    assert data.reference is not None and data.reference.shape[1] == data.X.shape[1]


def test_feature_groups_cover_every_column_once(zoo_adult):
    _, data = zoo_adult
    n_columns = data.X.shape[1]
    columns = sorted(c for group in data.feature_groups.values() for c in group)
    assert columns == list(range(n_columns))
    assert len(data.feature_names) == n_columns
    assert {"sex", "race", "age"} <= set(data.feature_groups)
    for name, group in data.feature_groups.items():
        assert all(data.feature_names[c].split("=")[0] == name for c in group), name
    # one-hot groups: exactly one column set per row
    sex = data.X[:, list(data.feature_groups["sex"])]
    np.testing.assert_array_equal(sex.sum(axis=1), 1.0)


def test_shipped_checkpoint_reproduces_its_card(zoo_adult):
    model, data = zoo_adult
    card = model.model_card
    proba = wrap_model(model, device="cpu").predict_proba(data.X)
    accuracy = float((proba.argmax(axis=1) == data.y).mean())
    assert accuracy >= 0.84
    assert accuracy == pytest.approx(card["metrics"]["test_accuracy"], abs=0.005)
    assert card["data"]["test_rows"] == 16_281 and card["data"]["train_rows"] == 32_561
    assert card["checkpoint"]["sha256"] == _sha256(CHECKPOINT_DIR / card["checkpoint"]["file"])
    assert zoo.info("adult-mlp")["checkpoint"] == card["checkpoint"]


def _copy_checkpoint(directory: Path) -> Path:
    card = json.loads((CHECKPOINT_DIR / "adult-mlp.json").read_text())
    shutil.copy(CHECKPOINT_DIR / "adult-mlp.json", directory / "adult-mlp.json")
    weights = directory / card["checkpoint"]["file"]
    shutil.copy(CHECKPOINT_DIR / card["checkpoint"]["file"], weights)
    weights.chmod(0o644)
    return weights


def test_corrupted_checkpoint_is_refused(tmp_path):
    weights = _copy_checkpoint(tmp_path)
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ZooError, match=r"does not match the SHA-256 recorded in its model card: "
                                       r"expected [0-9a-f]{64}, got [0-9a-f]{64}"):
        zoo.load("adult-mlp", directory=tmp_path)


def test_missing_checkpoint_is_reported(tmp_path):
    shutil.copy(CHECKPOINT_DIR / "adult-mlp.json", tmp_path / "adult-mlp.json")
    with pytest.raises(ZooError, match=r"has no checkpoint at .*train it with 'auditkit zoo "
                                       r"train adult-mlp'"):
        zoo.load("adult-mlp", directory=tmp_path)
    with pytest.raises(ZooError, match="has no model card"):
        zoo.load("adult-mlp", directory=tmp_path / "empty")


def test_training_smoke(tmp_path):
    # An epoch is 128 steps: 160 steps give a per-epoch loss history of two points (30 steps
    # would give a single mean, which cannot show a decrease).
    card = zoo.train("adult-mlp", device="cpu", directory=tmp_path, max_steps=160)
    weights = tmp_path / card["checkpoint"]["file"]
    assert weights.is_file() and (tmp_path / "adult-mlp.json").is_file()
    assert json.loads((tmp_path / "adult-mlp.json").read_text()) == card
    assert card["checkpoint"]["sha256"] == _sha256(weights)
    history = card["training"]["loss_history"]
    assert card["training"]["steps"] == 160
    assert len(history) == 2
    assert history[1] < history[0] < np.log(2)  # and better than a constant guess
    shipped = zoo.info("adult-mlp")["training"]
    if shipped["device"] == "cpu":  # same seed and recipe: the same first epoch
        assert history[0] == pytest.approx(shipped["loss_history"][0], abs=1e-3)
    model, data = zoo.load("adult-mlp", directory=tmp_path)
    assert not model.training
    assert model.model_card["checkpoint"]["sha256"] == card["checkpoint"]["sha256"]
    proba = wrap_model(model, device="cpu").predict_proba(data.X)
    assert float((proba.argmax(axis=1) == data.y).mean()) == pytest.approx(
        card["metrics"]["test_accuracy"], abs=1e-6)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, tensor in state.items():
        assert torch.isfinite(tensor).all(), name


def test_vendored_data_match_sources():
    sources = json.loads((DATA_DIR / "SOURCES.json").read_text())
    listed = {entry["name"]: entry for entry in sources["files"]}
    for name, entry in listed.items():
        path = DATA_DIR / name
        assert path.is_file(), name
        assert _sha256(path) == entry["sha256"], name
        assert path.stat().st_size == entry["size"], name
    data_files = {p.name for p in DATA_DIR.iterdir()
                  if p.is_file() and p.suffix not in (".py", ".md") and p.name != "SOURCES.json"}
    assert data_files <= set(listed), f"not listed in SOURCES.json: {data_files - set(listed)}"
    assert {"adult.data.xz", "adult.test.xz"} <= set(listed)


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_zoo_model_gets_a_report_from_the_command(name, tmp_path):
    from auditkit.cli import main

    out = tmp_path / f"{name}.html"
    assert main(["audit", "--zoo", name, "--preset", "quick", "--out", str(out), "--json",
                 str(tmp_path / "r.json"), "--quiet"]) == 0
    html = out.read_text("utf-8")
    assert "performance_metrics" in html
    result = AuditResult.load_json(tmp_path / "r.json")
    assert all(r.status.value != "ERROR" for r in result), [r.error for r in result]
