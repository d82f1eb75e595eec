"""adult-mlp-canary: adult-mlp-overfit trained with planted canaries, for privacy audits.

The overfit model's recipe and its 400 member rows, plus 100 canaries: rows
of Adult's training file that are neither members nor reference rows, with
their labels flipped (a mislabelled record is what a model can only fit by
memorising it). Each canary is put in the training set by an independent
fair coin (a seeded Bernoulli(1/2) draw), as the one-run audit of Steinke,
Nasr & Jagielski (2023) assumes; the others are held out. The AuditData's
``train`` is the training rows (the 400 members then the included canaries,
with the labels trained on) and its ``canaries`` the 100 canaries with their
flipped labels
and whether each was included, so that a membership attack can be scored on
records whose membership is known to leak, and an empirical
differential-privacy epsilon bound drawn from the two halves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from ..inputs import AuditData
from . import adult_mlp, tabular
from ._checkpoints import load_card, load_weights, save_checkpoint, seed_everything
from ._training import accuracy

__all__ = ["CANARIES", "CANARY_INCLUSION_PROBABILITY", "CANARY_SEED", "NAME", "canary_rows",
           "load", "train"]

NAME = "adult-mlp-canary"
CANARIES = 100
# Each canary is included by its own fair coin: the one-run bound's hypothesis test rests on it.
CANARY_INCLUSION_PROBABILITY = 0.5
CANARY_SEED = 0
_REFERENCE_ROWS = 5000  # tabular._non_member_reference's


def canary_rows(n_rows: int, members: np.ndarray, *, size: int = CANARIES,
                seed: int = CANARY_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of adult.data are canaries, and which of them go into training.

    Parameters
    ----------
    n_rows : int
        Rows of adult.data.
    members : ndarray of int
        The member rows (adult-mlp-overfit's).
    size, seed : int
        Number of canaries, and the seed of the generator that draws the
        canaries and then, for each, an independent fair coin deciding
        whether it is trained on (so the number included is itself random,
        Binomial(size, 1/2)).

    Returns
    -------
    rows : ndarray of shape (size,)
        Sorted rows of adult.data, none of them a member nor one of the
        first 5,000 non-member rows (the audit's reference data).
    included : bool ndarray of shape (size,)
        Whether each canary was put in the training set.
    """
    outside = np.setdiff1d(np.arange(n_rows), members)
    eligible = outside[_REFERENCE_ROWS:]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(eligible, size, replace=False))
    chosen = rng.random(size) < CANARY_INCLUSION_PROBABILITY
    return rows, chosen


def _training_rows(card_or_none: dict[str, Any] | None = None
                   ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, np.ndarray]:
    """(members, member rows, canaries with flipped labels, canary rows, included)."""
    train_frame, _ = adult_mlp._splits()
    if card_or_none is None:
        members = tabular._member_rows(len(train_frame))
        rows, included = canary_rows(len(train_frame), members)
    else:
        data = card_or_none["data"]
        members = np.asarray(data["member_rows"], dtype=np.int64)
        rows = np.asarray(data["canary_rows"], dtype=np.int64)
        included = np.isin(rows, np.asarray(data["canary_rows_included"], dtype=np.int64))
    return train_frame.iloc[members], members, train_frame.iloc[rows], rows, included


def _flipped(frame: pd.DataFrame) -> np.ndarray:
    return 1 - adult_mlp._targets(frame)


def _audit_data(encoding: dict[str, Any], card: dict[str, Any] | None) -> AuditData:
    train_frame, _ = adult_mlp._splits()
    members, member_rows, canaries, _, included = _training_rows(card)
    trained_on = pd.concat([members, canaries.iloc[np.flatnonzero(included)]])
    y_trained = np.r_[adult_mlp._targets(members), _flipped(canaries)[included]]
    X_canaries = adult_mlp.encode(canaries, encoding)[0]
    return tabular._adult_audit_data(
        encoding, trained_on, y_trained, tabular._non_member_reference(train_frame, member_rows),
        "UCI Adult (test split)", canaries=(X_canaries, _flipped(canaries), included))


def load(name: str = NAME, directory: Path | None = None
         ) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    """The shipped model (weights verified), its AuditData (with canaries) and its card."""
    directory = Path(directory) if directory else None
    card = load_card(NAME, directory)
    data = _audit_data(card["preprocessing"], card)
    model = adult_mlp.AdultMLP(data.X.shape[1], tuple(card["architecture"]["hidden"]),
                               dropout=card["architecture"]["dropout"])
    load_weights(NAME, model, directory)
    model.model_card = card
    model.train_fn = tabular.refit_overfit  # trained like adult-mlp-overfit
    return model, data, card


def _label_loss(logits: torch.Tensor, y: np.ndarray) -> np.ndarray:
    """Per-row binary cross-entropy of label ``y``, in float64."""
    z = logits[:, 0].double()
    target = torch.from_numpy(y.astype(np.float64))
    return nn.functional.binary_cross_entropy_with_logits(z, target, reduction="none").numpy()


def train(name: str = NAME, *, device: torch.device, directory: Path | None = None,
          max_steps: int | None = None) -> dict[str, Any]:
    """Train adult-mlp-canary from the vendored data and write its checkpoint and card."""
    directory = Path(directory) if directory else None
    recipe = tabular.OVERFIT_RECIPE
    seed_everything(recipe.seed)
    train_frame, test_frame = adult_mlp._splits()
    encoding = adult_mlp.fit_encoding(train_frame)
    data = _audit_data(encoding, None)
    members, member_rows, canaries, rows, included = _training_rows(None)
    model = adult_mlp.AdultMLP(data.X.shape[1], tabular.OVERFIT_HIDDEN, dropout=0.0)
    history = tabular._fit(model, data.train.X, data.train.y, recipe, torch.device(device),
                           max_steps)

    test_logits = tabular._logits(model, data.X)
    train_logits = tabular._logits(model, data.train.X)
    canary_logits = tabular._logits(model, data.canaries.X)
    n_members = len(members)
    member_accuracy = accuracy(train_logits[:n_members], data.train.y[:n_members])
    train_accuracy = accuracy(train_logits, data.train.y)
    test_accuracy = accuracy(test_logits, data.y)
    flipped_predicted = (canary_logits[:, 0] > 0).numpy().astype(np.int64) == data.canaries.y
    canary_loss = _label_loss(canary_logits, data.canaries.y)
    # How well the plainest score (low loss on the flipped label) tells included canaries
    # from held-out ones: the leak the canaries plant, before any calibrated attack.
    canary_auc = float(roc_auc_score(included, -canary_loss))
    member_auc = tabular._loss_attack_auc(train_logits, data.train.y, test_logits, data.y)
    n_in = int(included.sum())
    card = {
        "name": NAME,
        "summary": f"adult-mlp-overfit's recipe on its 400 rows plus {n_in} of 100 "
                   "mislabelled canary rows, each included by a fair coin (planted membership "
                   "leak); audit it for membership inference and an empirical privacy bound.",
        "task": "binary classification (one logit, sigmoid)",
        "architecture": tabular._architecture(model, data.X.shape[1], tabular.OVERFIT_HIDDEN,
                                              0.0),
        "data": tabular._adult_data_card(
            train_rows=len(data.train),
            split=f"adult-mlp-overfit's {n_members} member rows plus the {n_in} included "
                  "canaries (the training set) / the adult.test file (test)",
            members=f"AuditData.train: the {n_members} member rows (true labels) then the "
                    f"{n_in} included canaries (flipped labels), {len(data.train)} rows, "
                    "exactly what the model was trained on",
            reference="the first 5,000 rows of adult.data that are not members (no canary "
                      "among them)",
            member_rows=member_rows.tolist(),
            canary_rows=rows.tolist(),
            canary_rows_included=rows[included].tolist(),
            preprocessing_fitted_on="all of adult.data, as adult-mlp (same 91 columns)"),
        "preprocessing": encoding,
        "feature_names": data.feature_names,
        "metrics": {
            "test_accuracy": round(test_accuracy, 6),
            "train_accuracy": round(train_accuracy, 6),
            "member_rows_accuracy": round(member_accuracy, 6),
            "included_canaries_fit_flipped_label": round(float(flipped_predicted[included]
                                                               .mean()), 6),
            "held_out_canaries_predicted_flipped_label": round(float(
                flipped_predicted[~included].mean()), 6),
            "canary_loss_attack_auc": round(canary_auc, 6),
            "loss_threshold_attack_auc": round(member_auc, 6),
            "test_roc_auc": round(float(roc_auc_score(data.y, test_logits[:, 0].numpy())), 6),
            "final_train_loss": history["loss_history"][-1],
            "test_positive_rate": round(float(data.y.mean()), 6),
        },
        "training": tabular._training_card(recipe, torch.device(device), history, 0.0),
        "intended_use": "A planted-defect model: evidence that auditkit's privacy checks find "
                        "membership at a very low false-positive rate, and turn canaries into "
                        "an empirical epsilon bound. " + tabular._NOT_FOR_PEOPLE,
        "limitations": f"Trained on {len(data.train)} rows, {n_in} of them deliberately "
                       "mislabelled; its accuracy "
                       "is that of a small-data model and says nothing about Adult. The census "
                       "data carry adult-mlp's limitations.",
        "planted_defect": {
            "kind": "membership leak through memorised canaries (privacy)",
            "description": f"{CANARIES} canaries: rows of adult.data that are neither among "
                           f"the {n_members} members nor among the 5,000 reference rows, drawn "
                           f"without replacement with seed {CANARY_SEED}, their income label "
                           f"flipped (>50K <-> <=50K). Each was then added to the training "
                           "set by an independent fair coin (Bernoulli(1/2), same generator): "
                           f"{n_in} were, the other {CANARIES - n_in} were held out. Trained "
                           f"with adult-mlp-overfit's recipe ({recipe.epochs} "
                           "epochs, no dropout nor weight decay), the model memorises the "
                           "included canaries' wrong labels.",
            "members": len(data.train),
            "member_seed": tabular.MEMBER_SEED,
            "canaries": CANARIES,
            "canaries_included": n_in,
            "canaries_held_out": CANARIES - n_in,
            "canary_inclusion": "independent fair coin per canary (Bernoulli(1/2), seeded)",
            "canary_seed": CANARY_SEED,
            "canary_label": "flipped: 1 - the true label",
            "expected_finding": f"membership of the included canaries leaks at a very low "
                                f"false-positive rate: the model predicts the flipped label "
                                f"for {flipped_predicted[included].mean():.0%} of the included "
                                f"canaries and {flipped_predicted[~included].mean():.0%} of the "
                                f"held-out ones (loss on the flipped label separates them with "
                                f"ROC AUC {canary_auc:.3f}); a calibrated attack (RMIA, LiRA) "
                                "finds members at 1% FPR well above chance, and the canaries "
                                "give an empirical epsilon lower bound above 1 "
                                "(privacy_canary_audit FAILs).",
        },
    }
    return save_checkpoint(NAME, model, card, directory)
