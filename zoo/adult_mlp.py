"""adult-mlp: a PyTorch MLP predicting income > $50K on UCI Adult.

Data: the original train (32,561 rows) and test (16,281 rows) files of UCI
Adult, vendored in ``zoo/data``. Features: six numeric columns (capital gain
and loss log-scaled; all standardised with training statistics) and eight
categorical columns one-hot encoded with the categories seen in training
(missing values as their own category ``"?"``). ``fnlwgt`` (a census sampling
weight, not an attribute of the person) and ``education`` (duplicated by
``education_num``) are dropped. Sex and race are model inputs and the
sensitive features of the audit.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..inputs import AuditData
from ._checkpoints import count_parameters, load_weights, save_checkpoint, seed_everything
from ._datasets import load_adult
from ._training import Recipe, accuracy, fit_classifier, predict_logits, private_torch_seed

__all__ = ["NAME", "AdultMLP", "encode", "load", "refit", "train"]

NAME = "adult-mlp"
NUMERIC = ("age", "education_num", "capital_gain", "capital_loss", "hours_per_week")
LOG_SCALED = ("capital_gain", "capital_loss")
CATEGORICAL = ("workclass", "marital_status", "occupation", "relationship", "race", "sex",
               "native_country")
SENSITIVE = ("sex", "race")
# What a person could change about their record, so what a robustness attack may change.
# Age, sex, race and native country are attributes, not choices. Relationship and
# marital status are left out too: "Husband"/"Wife" restate sex (switching a man to "Wife"
# writes an inconsistent record), and neither is a lever anyone pulls to change a
# decision. Work, occupation, schooling, hours and capital income can all differ.
MUTABLE = ("workclass", "education_num", "occupation", "capital_gain", "capital_loss",
           "hours_per_week")
CLASS_NAMES = ("<=50K", ">50K")
RECIPE = Recipe(epochs=12, batch_size=256, lr=1e-3, weight_decay=1e-4, seed=0)
HIDDEN = (64, 32)


class AdultMLP(nn.Module):
    """Two hidden ReLU layers and one output logit (binary, read through a sigmoid)."""

    def __init__(self, n_features: int, hidden: tuple[int, ...] = HIDDEN,
                 dropout: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of income > $50K, shape (batch, 1)."""
        return self.head(self.body(x))


def fit_encoding(train: pd.DataFrame, numeric: tuple[str, ...] = NUMERIC,
                 log_scaled: tuple[str, ...] = LOG_SCALED,
                 categorical: tuple[str, ...] = CATEGORICAL) -> dict[str, Any]:
    """The preprocessing, fitted on the training split only.

    The defaults are Adult's columns; the other tabular zoo models pass their
    own, and :func:`encode` reads the columns back from the returned dict.
    """
    values = _numeric(train, list(numeric), list(log_scaled))
    return {
        "numeric": list(numeric),
        "log_scaled": list(log_scaled),
        "mean": values.mean().round(8).tolist(),
        "std": values.std(ddof=0).round(8).tolist(),
        "categories": {c: sorted(train[c].fillna("?").unique().tolist()) for c in categorical},
    }


def _numeric(frame: pd.DataFrame, numeric: list[str], log_scaled: list[str]) -> pd.DataFrame:
    values = frame[numeric].astype(np.float64)
    for column in log_scaled:
        values[column] = np.log1p(values[column])
    return values


def encode(frame: pd.DataFrame, encoding: dict[str, Any]) -> tuple[np.ndarray, list[str],
                                                                    dict[str, list[int]]]:
    """Encode raw rows: (X float32, column names, original feature -> columns).

    Numeric columns first (in ``encoding["numeric"]`` order, standardised),
    then one one-hot block per categorical column (in ``encoding["categories"]``
    order); a category unseen in training encodes as all zeros.
    """
    numeric_columns = list(encoding["numeric"])
    numeric = (_numeric(frame, numeric_columns, list(encoding["log_scaled"])).to_numpy()
               - np.asarray(encoding["mean"])) / np.asarray(encoding["std"])
    blocks, names = [numeric], list(numeric_columns)
    groups = {c: [i] for i, c in enumerate(numeric_columns)}
    for column, categories in encoding["categories"].items():
        values = frame[column].fillna("?").to_numpy()
        onehot = (values[:, None] == np.asarray(categories, dtype=object)[None, :])
        groups[column] = list(range(len(names), len(names) + len(categories)))
        names += [f"{column}={c}" for c in categories]
        blocks.append(onehot.astype(np.float64))
    return np.hstack(blocks).astype(np.float32), names, groups


@functools.lru_cache(maxsize=1)
def _splits() -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_adult()


def _targets(frame: pd.DataFrame) -> np.ndarray:
    return (frame["income"] == ">50K").to_numpy(np.int64)


def audit_data(encoding: dict[str, Any]) -> AuditData:
    """The test split to audit, the training split as members, sex and race as sensitive.

    The members carry their sex and race too (``train=(X, y, sensitive_train)``),
    so that privacy checks can say which groups leak.
    """
    train, test = _splits()
    X_test, names, groups = encode(test, encoding)
    X_train, _, _ = encode(train, encoding)
    return AuditData(
        X_test, _targets(test),
        sensitive=test[list(SENSITIVE)].reset_index(drop=True),
        train=(X_train, _targets(train), train[list(SENSITIVE)].reset_index(drop=True)),
        reference=X_train[:5000],
        modality="tabular",
        feature_names=names,
        categorical_features=list(CATEGORICAL),
        feature_groups=groups,
        class_names=CLASS_NAMES,
        mutable_features=list(MUTABLE),
        name="UCI Adult (test split)",
    )


def load(name: str = NAME, directory: Any = None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    """The shipped model (weights verified), its AuditData and its card."""
    from ._checkpoints import load_card

    card = load_card(NAME, directory)
    encoding = card["preprocessing"]
    data = audit_data(encoding)
    model = AdultMLP(data.X.shape[1], tuple(card["architecture"]["hidden"]))
    load_weights(NAME, model, directory)
    model.model_card = card
    model.train_fn = refit  # wrap_model reads it: the adapter can refit a fresh copy
    return model, data, card


def refit(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
          ) -> nn.Module:
    """Train a freshly initialised AdultMLP with adult-mlp's recipe (the adapter's ``train_fn``).

    ``random_state`` seeds the batch order and dropout; the module trains on
    the device it is on and is returned in eval mode.
    """
    from dataclasses import replace

    recipe = replace(RECIPE, seed=int(random_state))
    device = next(module.parameters()).device
    with private_torch_seed(recipe.seed):
        fit_classifier(module, torch.from_numpy(np.array(X, dtype=np.float32)),
                       torch.from_numpy(np.array(y, dtype=np.float32))[:, None], recipe,
                       device=device, loss_fn=nn.functional.binary_cross_entropy_with_logits)
    return module


def train(name: str = NAME, *, device: torch.device, directory: Any = None,
          max_steps: int | None = None, seed: int = RECIPE.seed) -> dict[str, Any]:
    """Train adult-mlp from the vendored data and write its checkpoint and card."""
    from dataclasses import replace

    recipe = replace(RECIPE, seed=seed)
    seed_everything(recipe.seed)
    train_frame, test_frame = _splits()
    encoding = fit_encoding(train_frame)
    X_train, names, _ = encode(train_frame, encoding)
    X_test, _, _ = encode(test_frame, encoding)
    y_train, y_test = _targets(train_frame), _targets(test_frame)
    model = AdultMLP(X_train.shape[1])
    history = fit_classifier(
        model, torch.from_numpy(X_train), torch.from_numpy(y_train).float()[:, None], recipe,
        device=device, loss_fn=nn.functional.binary_cross_entropy_with_logits,
        max_steps=max_steps)
    model.cpu()
    test_logits = predict_logits(model, torch.from_numpy(X_test), torch.device("cpu"))
    train_logits = predict_logits(model, torch.from_numpy(X_train), torch.device("cpu"))
    from sklearn.metrics import roc_auc_score

    card = {
        "name": NAME,
        "summary": "Binary income classifier (> $50K) on UCI Adult; sex and race as sensitive "
                   "features.",
        "task": "binary classification (one logit, sigmoid)",
        "architecture": {"type": "MLP", "inputs": X_train.shape[1], "hidden": list(HIDDEN),
                         "activation": "ReLU", "dropout": 0.1, "outputs": 1,
                         "parameters": count_parameters(model)},
        "data": {"dataset": "UCI Adult (Becker & Kohavi, 1996), CC BY 4.0",
                 "train_rows": len(train_frame), "test_rows": len(test_frame),
                 "split": "the original adult.data (train) / adult.test (test) files",
                 "target": "income > $50K", "sensitive_features": list(SENSITIVE)},
        "preprocessing": encoding,
        "feature_names": names,
        "metrics": {
            "test_accuracy": round(accuracy(test_logits, y_test), 6),
            "train_accuracy": round(accuracy(train_logits, y_train), 6),
            "test_roc_auc": round(float(roc_auc_score(y_test, test_logits[:, 0].numpy())), 6),
            "test_positive_rate": round(float(y_test.mean()), 6),
        },
        "training": {"optimizer": "Adam", "loss": "binary cross-entropy", "epochs": recipe.epochs,
                     "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
                     "weight_decay": recipe.weight_decay, "seed": recipe.seed,
                     "device": str(device), "torch_version": torch.__version__,
                     "steps": history["steps"], "duration_s": history["duration_s"],
                     "loss_history": history["loss_history"]},
        "intended_use": "A reference model for trying auditkit's checks on tabular data, and a "
                        "baseline for the planted-defect variants. Not for decisions about "
                        "people.",
        "limitations": "Census data from 1994; labels and groups reflect that survey. Sex is "
                       "recorded as binary and race in five coarse categories. Sex and race are "
                       "model inputs, so the model can use them directly.",
        "planted_defect": None,
    }
    return save_checkpoint(NAME, model, card, directory)
