"""adult-mlp-drift: adult-mlp audited on a drifted split of UCI Adult (planted covariate shift).

The model, its weights, encoding, reference rows and members are adult-mlp's;
only the audited rows change. They are drawn from Adult's test file
(16,281 rows) without replacement, each row with a weight:

- age: ``AGE_WEIGHT`` (6) for people aged ``AGE_FROM`` (50) or older, 1 otherwise;
- occupation: ``OCCUPATION_WEIGHTS`` -- Exec-managerial and Prof-specialty 2,
  Handlers-cleaners, Other-service and Machine-op-inspct 0.5, others 1;

the weights multiply. ``N_ROWS`` (5,000) rows are drawn by Efraimidis-Spirakis
weighted sampling (the rows with the largest ``log(u) / w``, ``u`` uniform from
``numpy.random.default_rng(SEED)``, seed 0), so the draw depends only on the
generator's stream. The card records the rows' SHA-256 and the shift measured
(share aged 50+, occupation mix, the model's accuracy), and loading checks the
rows against it. A drift check must flag age and occupation here, and stay
quiet on adult-mlp's own test split.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..exceptions import ZooError
from ..inputs import AuditData
from . import adult_mlp
from ._checkpoints import CHECKPOINT_DIR, card_path, load_card

__all__ = ["AGE_FROM", "AGE_WEIGHT", "NAME", "N_ROWS", "OCCUPATION_WEIGHTS", "SEED",
           "drifted_rows", "load", "train"]

NAME = "adult-mlp-drift"
AGE_FROM = 50
AGE_WEIGHT = 6.0
OCCUPATION_WEIGHTS = {"Exec-managerial": 2.0, "Prof-specialty": 2.0, "Handlers-cleaners": 0.5,
                      "Other-service": 0.5, "Machine-op-inspct": 0.5}
N_ROWS = 5000
SEED = 0

_ROWS_CHANGED = ("The drifted rows of {name!r} do not match its model card: expected SHA-256 "
                 "{expected}, got {actual}. Rewrite the card with 'auditkit zoo train {name}'.")
_OTHER_WEIGHTS = ("The card of {name!r} was written for adult-mlp weights {expected}; the "
                  "adult-mlp found has {actual}. Rewrite it with 'auditkit zoo train {name}'.")


def drifted_rows(test: pd.DataFrame, *, n_rows: int = N_ROWS, age_from: int = AGE_FROM,
                 age_weight: float = AGE_WEIGHT,
                 occupation_weights: dict[str, float] | None = None,
                 seed: int = SEED) -> np.ndarray:
    """Positions of the test rows drawn into the drifted split, sorted.

    Parameters
    ----------
    test : pandas.DataFrame
        Adult's test file, as :func:`auditkit.zoo.load_adult` returns it.
    n_rows : int
        Rows drawn, without replacement.
    age_from, age_weight : int, float
        People aged ``age_from`` or older weigh ``age_weight``.
    occupation_weights : dict of str to float, optional
        Weight per occupation (others weigh 1); defaults to ``OCCUPATION_WEIGHTS``.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray of shape (n_rows,)
    """
    weights_by_occupation = OCCUPATION_WEIGHTS if occupation_weights is None \
        else occupation_weights
    weight = np.where(test["age"].to_numpy() >= age_from, age_weight, 1.0)
    weight = weight * test["occupation"].map(weights_by_occupation).fillna(1.0).to_numpy()
    keys = np.log(np.random.default_rng(seed).random(len(test))) / weight
    return np.sort(np.argsort(-keys, kind="stable")[:n_rows])


def _sha256(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()


def _audit_data(encoding: dict[str, Any], rows: np.ndarray) -> AuditData:
    """adult-mlp's AuditData with the drifted rows of the test file as the audited split."""
    train, test = adult_mlp._splits()
    drifted = test.iloc[rows].reset_index(drop=True)
    X, names, groups = adult_mlp.encode(drifted, encoding)
    X_train, _, _ = adult_mlp.encode(train, encoding)
    return AuditData(
        X, adult_mlp._targets(drifted),
        sensitive=drifted[list(adult_mlp.SENSITIVE)],
        train=(X_train, adult_mlp._targets(train)),
        reference=X_train[:5000],
        modality="tabular",
        feature_names=names,
        categorical_features=list(adult_mlp.CATEGORICAL),
        feature_groups=groups,
        class_names=adult_mlp.CLASS_NAMES,
        mutable_features=list(adult_mlp.MUTABLE),
        name="UCI Adult (test split, drifted: older, more managers and professionals)",
    )


def _baseline_directory(directory: Path | None) -> Path | None:
    """Where adult-mlp is: ``directory`` if it holds it, else the shipped checkpoints."""
    if directory is not None and card_path(adult_mlp.NAME, directory).is_file():
        return directory
    return None


def _shares(frame: pd.DataFrame) -> dict[str, Any]:
    occupations = frame["occupation"].fillna("?").value_counts(normalize=True)
    return {"aged_50_or_older": round(float((frame["age"] >= AGE_FROM).mean()), 6),
            "mean_age": round(float(frame["age"].mean()), 4),
            "occupation": {k: round(float(v), 6) for k, v in occupations.sort_index().items()}}


def load(name: str = NAME, directory: Path | None = None) -> tuple[nn.Module, AuditData,
                                                                    dict[str, Any]]:
    """adult-mlp (weights verified) with the drifted audited split, and the drift card.

    Parameters
    ----------
    name : {"adult-mlp-drift"}
    directory : Path, optional
        Where the cards are; defaults to the shipped ones (adult-mlp is read from
        there if it is there too).

    Returns
    -------
    model : torch.nn.Module
    data : AuditData
    card : dict
    """
    directory = Path(directory) if directory else None
    card = load_card(NAME, directory if directory and card_path(NAME, directory).is_file()
                     else None)
    model, _, baseline = adult_mlp.load(adult_mlp.NAME, _baseline_directory(directory))
    if baseline["checkpoint"]["sha256"] != card["checkpoint"]["sha256"]:
        raise ZooError(_OTHER_WEIGHTS.format(name=NAME, expected=card["checkpoint"]["sha256"],
                                             actual=baseline["checkpoint"]["sha256"]))
    defect = card["planted_defect"]
    rows = drifted_rows(adult_mlp._splits()[1], n_rows=defect["rows"],
                        age_from=defect["age_from"], age_weight=defect["age_weight"],
                        occupation_weights=defect["occupation_weights"], seed=defect["seed"])
    if _sha256(rows) != defect["rows_sha256"]:
        raise ZooError(_ROWS_CHANGED.format(name=NAME, expected=defect["rows_sha256"],
                                            actual=_sha256(rows)))
    data = _audit_data(card["preprocessing"], rows)
    model.model_card = card
    return model, data, card


def train(name: str = NAME, *, device: torch.device | str = "cpu", directory: Path | None = None,
          max_steps: int | None = None) -> dict[str, Any]:
    """Write the drift card: nothing is trained (the weights are adult-mlp's).

    The card is adult-mlp's with this variant's name, the drift's recipe and
    the shift and accuracy measured on the drifted rows. ``device`` and
    ``max_steps`` are accepted for the zoo's common interface and unused.

    Returns
    -------
    dict
        The card written to ``directory`` (default: the shipped checkpoints).
    """
    from sklearn.metrics import roc_auc_score

    base_directory = _baseline_directory(Path(directory) if directory else None)
    model, _, baseline = adult_mlp.load(adult_mlp.NAME, base_directory)
    _, test = adult_mlp._splits()
    rows = drifted_rows(test)
    data = _audit_data(baseline["preprocessing"], rows)
    with torch.inference_mode():
        logits = model(torch.from_numpy(np.array(data.X, dtype=np.float32)))[:, 0].numpy()
    y = np.asarray(data.y)
    card = copy.deepcopy(baseline)
    card.update({
        "name": NAME,
        "summary": "adult-mlp audited on a drifted split of UCI Adult's test file: older "
                   "people and more managers and professionals (planted covariate shift).",
        "metrics": {"test_accuracy": round(float(((logits > 0) == y).mean()), 6),
                    "test_roc_auc": round(float(roc_auc_score(y, logits)), 6),
                    "test_positive_rate": round(float(y.mean()), 6)},
        "intended_use": "A planted-defect variant: a drift check must flag the audited split "
                        "as shifted from the reference (training) rows. Not for decisions "
                        "about people.",
        "planted_defect": {
            "kind": "covariate shift of the audited split (the model is adult-mlp's)",
            "description": f"{N_ROWS} rows of Adult's test file drawn without replacement, "
                           f"each weighted {AGE_WEIGHT:g}x if aged {AGE_FROM}+ and by its "
                           "occupation's weight (Efraimidis-Spirakis sampling, keys "
                           "log(u) / w with u from numpy.random.default_rng(seed)).",
            "rows": N_ROWS, "age_from": AGE_FROM, "age_weight": AGE_WEIGHT,
            "occupation_weights": dict(OCCUPATION_WEIGHTS), "seed": SEED,
            "rows_sha256": _sha256(rows),
            "measured": {"test_split": _shares(test), "drifted_split": _shares(test.iloc[rows]),
                         "adult_mlp_test_accuracy": baseline["metrics"]["test_accuracy"]},
            "expected_finding": "ood_drift flags age and occupation (age PSI about 0.38, "
                                "above 0.25) "
                                "and a classifier separates the drifted rows from the "
                                "reference rows.",
        },
    })
    card["data"] = {**card["data"], "test_rows": N_ROWS,
                    "split": "reference and members: adult-mlp's (the training file); audited: "
                             "the drifted rows of the test file"}
    target = Path(directory) if directory else CHECKPOINT_DIR
    target.mkdir(parents=True, exist_ok=True)

    card_path(NAME, target).write_text(json.dumps(card, indent=2) + "\n", "utf-8")
    return card
