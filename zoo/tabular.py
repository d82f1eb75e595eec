"""Tabular zoo models beyond adult-mlp: two planted-defect Adult variants and COMPAS.

- ``adult-mlp-biased``: adult-mlp's data, encoding, architecture and recipe,
  trained on labels skewed against women (a known fraction of women's
  ``>50K`` training labels set to ``<=50K``, and of men's ``<=50K`` labels set
  to ``>50K``). The test split keeps its true labels, so a fairness audit
  sees a much larger demographic-parity gap by sex than adult-mlp's.
- ``adult-mlp-overfit``: a wide MLP without dropout or weight decay that
  memorises 400 rows of Adult's training file; its AuditData's ``train`` is
  exactly those rows, so a membership-inference audit sees the leak.
- ``compas-mlp``: an MLP on ProPublica's COMPAS two-year recidivism data,
  whose card sets its accuracy and error rates by race beside those of the
  COMPAS score itself (:func:`compas_score_baseline`).

Each card records the planted defect, if any, as the finding an audit should
report, with the numbers measured when the model was trained.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from ..exceptions import UNKNOWN_NAME, ZooError
from ..inputs import AuditData
from . import adult_mlp
from ._checkpoints import (
    count_parameters,
    load_card,
    load_weights,
    save_checkpoint,
    seed_everything,
)
from ._datasets import load_compas
from ._training import Recipe, accuracy, fit_classifier, predict_logits, private_torch_seed

__all__ = ["BIASED", "COMPAS", "NAMES", "OVERFIT", "CompasMLP", "biased_training_labels",
           "compas_score_baseline", "load", "refit_compas", "refit_overfit", "train"]

BIASED = "adult-mlp-biased"
OVERFIT = "adult-mlp-overfit"
COMPAS = "compas-mlp"
NAMES = (BIASED, OVERFIT, COMPAS)

# adult-mlp-biased. Setting women's positives to negative alone cannot meet the
# issue's bar: it lowers women's selection rate at most to zero, from 0.093 for
# adult-mlp, while men's stays near 0.28 (measured: gap 0.281 vs 0.193, +0.088).
# Promoting a fraction of men's negatives as well raises men's rate and gives a
# margin that holds across label seeds (+0.15 to +0.16 measured for seeds 0-2).
WOMEN_POSITIVES_DEMOTED = 0.65
MEN_NEGATIVES_PROMOTED = 0.15
LABEL_SEED = 0

# adult-mlp-overfit: few rows, many parameters, no regularisation, many epochs.
OVERFIT_ROWS = 400
MEMBER_SEED = 0
OVERFIT_HIDDEN = (256, 256)
OVERFIT_RECIPE = Recipe(epochs=600, batch_size=64, lr=3e-3, weight_decay=0.0, seed=0)

# compas-mlp, with ProPublica's filtering (Larson et al., 2016).
COMPAS_NUMERIC = ("age", "priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count")
COMPAS_CATEGORICAL = ("c_charge_degree", "sex", "race", "age_cat")
COMPAS_SENSITIVE = ("race", "sex", "age_cat")
# What could differ in a defendant's record (a prior or juvenile count recorded or not, a
# charge filed as a felony or a misdemeanour), so what a robustness attack may change.
# Age (and its category), sex and race are the person, not the record.
COMPAS_MUTABLE = ("priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count",
                  "c_charge_degree")
COMPAS_TARGET = "two_year_recid"
COMPAS_CLASS_NAMES = ("no recidivism within two years", "recidivism within two years")
COMPAS_SPLIT_SEED = 0
COMPAS_TEST_SIZE = 0.3
COMPAS_HIDDEN = (32, 16)
COMPAS_RECIPE = Recipe(epochs=40, batch_size=128, lr=1e-3, weight_decay=1e-4, seed=0)
# The score's own decision: decile 5 and above is "Medium" or "High" risk.
COMPAS_SCORE_THRESHOLD = 5
PROPUBLICA_GROUPS = ("African-American", "Caucasian")

_LABELS_CHANGED = (
    "The training labels of {name!r} rebuilt from its card do not match the SHA-256 recorded "
    "in it (expected {expected}, got {actual}); the vendored data or the random generator "
    "changed. Retrain it with 'auditkit zoo train {name}'."
)
_SPLIT_CHANGED = (
    "The COMPAS test split rebuilt from the card of {name!r} does not match the SHA-256 of its "
    "defendant ids recorded there (expected {expected}, got {actual}); the vendored data or "
    "scikit-learn's splitter changed. Retrain it with 'auditkit zoo train {name}'."
)
_NOT_FOR_PEOPLE = "Not for decisions about people."


class CompasMLP(adult_mlp.AdultMLP):
    """adult-mlp's network (ReLU hidden layers with dropout, one logit), for COMPAS."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of two-year recidivism, shape (batch, 1)."""
        return self.head(self.body(x))


# -- shared helpers -------------------------------------------------------------------------


def _sha256_of_array(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<i8").tobytes()).hexdigest()


def _fit(model: nn.Module, X: np.ndarray, y: np.ndarray, recipe: Recipe, device: torch.device,
         max_steps: int | None) -> dict[str, Any]:
    """Train with BCE, deterministic kernels on; leave the model on the CPU."""
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        history = fit_classifier(
            model, torch.from_numpy(np.array(X, dtype=np.float32)),
            torch.from_numpy(np.array(y, dtype=np.float32))[:, None], recipe,
            device=device, loss_fn=nn.functional.binary_cross_entropy_with_logits,
            max_steps=max_steps)
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
    model.cpu()
    return history


def _logits(model: nn.Module, X: np.ndarray) -> torch.Tensor:
    return predict_logits(model, torch.from_numpy(np.array(X, dtype=np.float32)),
                          torch.device("cpu"))


def _predictions(logits: torch.Tensor) -> np.ndarray:
    """Class 1 where the logit is positive, i.e. probability above 0.5."""
    return (logits[:, 0] > 0).numpy().astype(np.int64)


def _rounded(values: pd.Series) -> dict[str, float]:
    return {str(k): round(float(v), 6) for k, v in values.items()}


def _sex_fairness(y: np.ndarray, predicted: np.ndarray, sex: pd.Series) -> dict[str, Any]:
    """Demographic parity and equal opportunity by sex, with fairlearn."""
    frame = MetricFrame(metrics={"selection_rate": selection_rate,
                                 "true_positive_rate": true_positive_rate},
                        y_true=y, y_pred=predicted, sensitive_features=sex)
    return {
        "demographic_parity_difference": round(float(demographic_parity_difference(
            y, predicted, sensitive_features=sex)), 6),
        "equal_opportunity_difference": round(float(frame.difference()["true_positive_rate"]),
                                              6),
        "selection_rate": _rounded(frame.by_group["selection_rate"]),
        "true_positive_rate": _rounded(frame.by_group["true_positive_rate"]),
    }


def _training_card(recipe: Recipe, device: torch.device, history: dict[str, Any],
                   dropout: float) -> dict[str, Any]:
    return {"optimizer": "Adam", "loss": "binary cross-entropy", "epochs": recipe.epochs,
            "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
            "weight_decay": recipe.weight_decay, "dropout": dropout, "seed": recipe.seed,
            "device": str(device), "torch_version": torch.__version__,
            "steps": history["steps"], "duration_s": history["duration_s"],
            "loss_history": history["loss_history"]}


def _architecture(model: nn.Module, inputs: int, hidden: tuple[int, ...],
                  dropout: float) -> dict[str, Any]:
    return {"type": "MLP", "inputs": inputs, "hidden": list(hidden), "activation": "ReLU",
            "dropout": dropout, "outputs": 1, "parameters": count_parameters(model)}


def _adult_audit_data(encoding: dict[str, Any], members: pd.DataFrame, y_members: np.ndarray,
                      reference: pd.DataFrame, name: str, canaries: Any = None) -> AuditData:
    """Adult's test split (true labels), with the given members and reference rows.

    The members carry their sex and race (``train=(X, y, sensitive_train)``).
    """
    _, test = adult_mlp._splits()
    X_test, names, groups = adult_mlp.encode(test, encoding)
    return AuditData(
        X_test, adult_mlp._targets(test),
        sensitive=test[list(adult_mlp.SENSITIVE)].reset_index(drop=True),
        train=(adult_mlp.encode(members, encoding)[0], y_members,
               members[list(adult_mlp.SENSITIVE)].reset_index(drop=True)),
        canaries=canaries,
        reference=adult_mlp.encode(reference, encoding)[0],
        modality="tabular",
        feature_names=names,
        categorical_features=list(adult_mlp.CATEGORICAL),
        feature_groups=groups,
        class_names=adult_mlp.CLASS_NAMES,
        mutable_features=list(adult_mlp.MUTABLE),
        name=name,
    )


def _adult_data_card(train_rows: int, **extra: Any) -> dict[str, Any]:
    return {"dataset": "UCI Adult (Becker & Kohavi, 1996), CC BY 4.0",
            "train_rows": train_rows, "test_rows": len(adult_mlp._splits()[1]),
            "target": "income > $50K", "sensitive_features": list(adult_mlp.SENSITIVE),
            **extra}


def _refit_binary(module: nn.Module, X: np.ndarray, y: np.ndarray, recipe: Recipe,
                  random_state: int) -> nn.Module:
    """Train ``module`` (one logit) on ``(X, y)`` with ``recipe`` seeded by ``random_state``."""
    from dataclasses import replace

    recipe = replace(recipe, seed=int(random_state))
    with private_torch_seed(recipe.seed):
        fit_classifier(module, torch.from_numpy(np.array(X, dtype=np.float32)),
                       torch.from_numpy(np.array(y, dtype=np.float32))[:, None], recipe,
                       device=next(module.parameters()).device,
                       loss_fn=nn.functional.binary_cross_entropy_with_logits)
    return module


def refit_overfit(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
                  ) -> nn.Module:
    """Train a fresh copy with adult-mlp-overfit's recipe (the adapter's ``train_fn``).

    The full recipe (600 epochs of Adam, batches of 64, no weight decay, the
    network without dropout), so that a reference model memorises its
    training rows as the audited model did; ``random_state`` seeds the batch
    order. About 14 s per 400 rows on a 2-core CPU (the time grows with the
    rows). Also the training function of adult-mlp-canary, trained alike.
    """
    return _refit_binary(module, X, y, OVERFIT_RECIPE, random_state)


def refit_compas(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
                 ) -> nn.Module:
    """Train a fresh CompasMLP with compas-mlp's recipe (the adapter's ``train_fn``).

    ``random_state`` seeds the batch order and dropout; returned in eval mode.
    """
    return _refit_binary(module, X, y, COMPAS_RECIPE, random_state)


# -- adult-mlp-biased -----------------------------------------------------------------------


def biased_training_labels(train_frame: pd.DataFrame, *,
                           women_demoted: float = WOMEN_POSITIVES_DEMOTED,
                           men_promoted: float = MEN_NEGATIVES_PROMOTED,
                           seed: int = LABEL_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The skewed training labels of adult-mlp-biased.

    Parameters
    ----------
    train_frame : pandas.DataFrame
        Adult's training file, as :func:`auditkit.zoo.load_adult` returns it.
    women_demoted : float
        Fraction of women's ``>50K`` labels set to ``<=50K``.
    men_promoted : float
        Fraction of men's ``<=50K`` labels set to ``>50K``.
    seed : int
        Seed of the generator that picks the rows (women's first, then men's).

    Returns
    -------
    labels : numpy.ndarray of shape (n_rows,)
        int64, 1 for ``>50K``, after the changes.
    demoted, promoted : numpy.ndarray
        Sorted row positions whose label went from 1 to 0, and from 0 to 1.
    """
    labels = adult_mlp._targets(train_frame)
    sex = train_frame["sex"].to_numpy()
    rng = np.random.default_rng(seed)
    women_positive = np.flatnonzero((sex == "Female") & (labels == 1))
    men_negative = np.flatnonzero((sex == "Male") & (labels == 0))
    demoted = np.sort(rng.choice(women_positive, round(women_demoted * len(women_positive)),
                                 replace=False))
    promoted = np.sort(rng.choice(men_negative, round(men_promoted * len(men_negative)),
                                  replace=False))
    labels = labels.copy()
    labels[demoted] = 0
    labels[promoted] = 1
    return labels, demoted, promoted


def _biased_labels_from_card(card: dict[str, Any]) -> np.ndarray:
    defect = card["planted_defect"]
    train_frame, _ = adult_mlp._splits()
    labels, _, _ = biased_training_labels(
        train_frame, women_demoted=defect["women_positive_labels_flipped_fraction"],
        men_promoted=defect["men_negative_labels_flipped_fraction"], seed=defect["label_seed"])
    actual = _sha256_of_array(labels)
    expected = card["data"]["train_labels_sha256"]
    if actual != expected:
        raise ZooError(_LABELS_CHANGED.format(name=card["name"], expected=expected,
                                              actual=actual))
    return labels


def _load_biased(directory: Path | None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    card = load_card(BIASED, directory)
    train_frame, _ = adult_mlp._splits()
    data = _adult_audit_data(card["preprocessing"], train_frame, _biased_labels_from_card(card),
                             train_frame.iloc[:5000],
                             "UCI Adult (test split, true labels)")
    model = adult_mlp.AdultMLP(data.X.shape[1], tuple(card["architecture"]["hidden"]),
                               dropout=card["architecture"]["dropout"])
    load_weights(BIASED, model, directory)
    # adult-mlp's architecture and recipe: its training function retrains this one too
    # (on whatever labels it is given; reference models get the audit's labels).
    model.train_fn = adult_mlp.refit
    return model, data, card


def _adult_mlp_baseline(directory: Path | None) -> tuple[nn.Module, dict[str, Any]]:
    """adult-mlp from ``directory`` if it is there, else the shipped one."""
    if directory is None or not (directory / f"{adult_mlp.NAME}.json").is_file():
        directory = None
    model, _, card = adult_mlp.load(adult_mlp.NAME, directory)
    return model, card


def _train_biased(device: torch.device, directory: Path | None,
                  max_steps: int | None) -> dict[str, Any]:
    recipe = adult_mlp.RECIPE
    dropout = 0.1  # adult-mlp's
    seed_everything(recipe.seed)
    train_frame, test_frame = adult_mlp._splits()
    encoding = adult_mlp.fit_encoding(train_frame)
    X_train, names, _ = adult_mlp.encode(train_frame, encoding)
    X_test, _, _ = adult_mlp.encode(test_frame, encoding)
    y_true_train, y_test = adult_mlp._targets(train_frame), adult_mlp._targets(test_frame)
    y_train, demoted, promoted = biased_training_labels(train_frame)
    model = adult_mlp.AdultMLP(X_train.shape[1], adult_mlp.HIDDEN, dropout=dropout)
    history = _fit(model, X_train, y_train, recipe, device, max_steps)

    test_logits, train_logits = _logits(model, X_test), _logits(model, X_train)
    sex = test_frame["sex"].reset_index(drop=True)
    fairness = _sex_fairness(y_test, _predictions(test_logits), sex)
    baseline_model, baseline_card = _adult_mlp_baseline(directory)
    baseline = _sex_fairness(y_test, _predictions(_logits(baseline_model, X_test)), sex)
    sex_train = train_frame["sex"].to_numpy()
    dp, dp_base = (fairness["demographic_parity_difference"],
                   baseline["demographic_parity_difference"])
    eo, eo_base = (fairness["equal_opportunity_difference"],
                   baseline["equal_opportunity_difference"])
    card = {
        "name": BIASED,
        "summary": "adult-mlp trained on income labels skewed against women (planted "
                   "label bias); audit it for group fairness by sex.",
        "task": "binary classification (one logit, sigmoid)",
        "architecture": _architecture(model, X_train.shape[1], adult_mlp.HIDDEN, dropout),
        "data": _adult_data_card(
            train_rows=len(train_frame),
            split="the original adult.data (train) / adult.test (test) files",
            training_labels="adult.data's labels after the planted changes (see "
                            "planted_defect); the test split keeps its true labels",
            members="all rows of adult.data, with the changed labels the model was trained on",
            train_labels_sha256=_sha256_of_array(y_train),
            train_positive_rate_by_sex_true={
                s: round(float(y_true_train[sex_train == s].mean()), 6)
                for s in ("Female", "Male")},
            train_positive_rate_by_sex_trained_on={
                s: round(float(y_train[sex_train == s].mean()), 6) for s in ("Female", "Male")}),
        "preprocessing": encoding,
        "feature_names": names,
        "metrics": {
            "test_accuracy": round(accuracy(test_logits, y_test), 6),
            "train_accuracy": round(accuracy(train_logits, y_train), 6),
            "train_accuracy_true_labels": round(accuracy(train_logits, y_true_train), 6),
            "test_roc_auc": round(float(roc_auc_score(y_test, test_logits[:, 0].numpy())), 6),
            "test_positive_rate": round(float(y_test.mean()), 6),
            "fairness_by_sex": fairness,
            "adult_mlp_fairness_by_sex": baseline,
            "adult_mlp_test_accuracy": baseline_card["metrics"]["test_accuracy"],
            "demographic_parity_difference_increase": round(dp - dp_base, 6),
        },
        "training": _training_card(recipe, device, history, dropout),
        "intended_use": "A planted-defect model: evidence that auditkit's group-fairness checks "
                        "find a bias by sex that was put there on purpose. " + _NOT_FOR_PEOPLE,
        "limitations": "The bias is synthetic (labels changed at random within each sex), on "
                       "top of the bias already in the 1994 census data that adult-mlp shows. "
                       "Sex is recorded as binary and is a model input.",
        "planted_defect": {
            "kind": "label bias against women (group fairness)",
            "description": f"Before training, {WOMEN_POSITIVES_DEMOTED:.0%} of the >50K labels "
                           f"of women (sex == 'Female') in adult.data ({len(demoted)} rows) "
                           f"were set to <=50K, and {MEN_NEGATIVES_PROMOTED:.0%} of the <=50K "
                           f"labels of men ({len(promoted)} rows) to >50K, rows drawn at random "
                           f"with seed {LABEL_SEED}. The test split keeps its true labels.",
            "women_positive_labels_flipped_fraction": WOMEN_POSITIVES_DEMOTED,
            "women_positive_labels_flipped": len(demoted),
            "men_negative_labels_flipped_fraction": MEN_NEGATIVES_PROMOTED,
            "men_negative_labels_flipped": len(promoted),
            "label_seed": LABEL_SEED,
            "why_men_too": "Measured when this variant was designed: flipping women's "
                           "positive labels alone lowers women's selection "
                           "rate at most to zero, from adult-mlp's 0.093, while men's stays "
                           "near 0.28: with 65% flipped, the demographic-parity "
                           "difference rose from 0.193 to 0.281 (+0.088), short of the +0.1 "
                           "this variant must show. Promoting men's negatives raises men's "
                           "rate as well.",
            "sensitive_feature": "sex",
            "expected_finding": f"demographic parity difference by sex {dp:.3f} vs {dp_base:.3f} "
                                f"for adult-mlp (+{dp - dp_base:.3f}); equal opportunity (true "
                                f"positive rate) gap by sex {eo:.3f} vs {eo_base:.3f} for "
                                "adult-mlp; selection rate of women near zero at threshold 0.5",
        },
    }
    return save_checkpoint(BIASED, model, card, directory)


# -- adult-mlp-overfit ----------------------------------------------------------------------


def _loss_attack_auc(member_logits: torch.Tensor, y_members: np.ndarray,
                     other_logits: torch.Tensor, y_other: np.ndarray) -> float:
    """ROC AUC of the per-row loss as a membership score (Yeom et al., 2018).

    The loss is ranked through the label-signed logit in float64, which orders
    rows exactly as the cross-entropy does without its float32 underflow to 0.
    """
    def margin(logits: torch.Tensor, y: np.ndarray) -> np.ndarray:
        return logits[:, 0].double().numpy() * (2 * y - 1)

    scores = np.concatenate([margin(member_logits, y_members), margin(other_logits, y_other)])
    is_member = np.concatenate([np.ones(len(y_members)), np.zeros(len(y_other))])
    return float(roc_auc_score(is_member, scores))


def _member_rows(n_rows: int, size: int = OVERFIT_ROWS, seed: int = MEMBER_SEED) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n_rows, size, replace=False))


def _non_member_reference(train_frame: pd.DataFrame, members: np.ndarray) -> pd.DataFrame:
    """The first 5,000 rows of adult.data that are not members: population data."""
    outside = np.setdiff1d(np.arange(len(train_frame)), members)
    return train_frame.iloc[outside[:5000]]


def _load_overfit(directory: Path | None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    card = load_card(OVERFIT, directory)
    train_frame, _ = adult_mlp._splits()
    rows = np.asarray(card["data"]["member_rows"], dtype=np.int64)
    members = train_frame.iloc[rows]
    data = _adult_audit_data(card["preprocessing"], members, adult_mlp._targets(members),
                             _non_member_reference(train_frame, rows),
                             "UCI Adult (test split)")
    model = adult_mlp.AdultMLP(data.X.shape[1], tuple(card["architecture"]["hidden"]),
                               dropout=card["architecture"]["dropout"])
    load_weights(OVERFIT, model, directory)
    model.train_fn = refit_overfit  # wrap_model reads it: the adapter can refit a fresh copy
    return model, data, card


def _train_overfit(device: torch.device, directory: Path | None,
                   max_steps: int | None) -> dict[str, Any]:
    recipe = OVERFIT_RECIPE
    seed_everything(recipe.seed)
    train_frame, test_frame = adult_mlp._splits()
    # adult-mlp's preprocessing (fitted on all of adult.data) keeps the three Adult
    # models in one feature space; only the network's training is limited to the members.
    encoding = adult_mlp.fit_encoding(train_frame)
    rows = _member_rows(len(train_frame))
    members = train_frame.iloc[rows]
    X_train, names, _ = adult_mlp.encode(members, encoding)
    X_test, _, _ = adult_mlp.encode(test_frame, encoding)
    y_train, y_test = adult_mlp._targets(members), adult_mlp._targets(test_frame)
    model = adult_mlp.AdultMLP(X_train.shape[1], OVERFIT_HIDDEN, dropout=0.0)
    history = _fit(model, X_train, y_train, recipe, device, max_steps)

    test_logits, train_logits = _logits(model, X_test), _logits(model, X_train)
    train_accuracy, test_accuracy = accuracy(train_logits, y_train), accuracy(test_logits, y_test)
    gap_points = round(100 * (train_accuracy - test_accuracy), 2)
    # Identical encoded rows with opposite labels cap the reachable training accuracy.
    _, inverse = np.unique(X_train, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    unlearnable = sum(min(np.bincount(y_train[inverse == g], minlength=2))
                      for g in np.unique(inverse))
    attack_auc = _loss_attack_auc(train_logits, y_train, test_logits, y_test)
    card = {
        "name": OVERFIT,
        "summary": "A wide MLP that memorised 400 rows of UCI Adult (planted overfitting); "
                   "audit it for membership inference.",
        "task": "binary classification (one logit, sigmoid)",
        "architecture": _architecture(model, X_train.shape[1], OVERFIT_HIDDEN, 0.0),
        "data": _adult_data_card(
            train_rows=len(members),
            split=f"{OVERFIT_ROWS} rows of adult.data drawn without replacement with seed "
                  f"{MEMBER_SEED} (the members) / the adult.test file (test)",
            members="the 400 rows of adult.data the model was trained on (member_rows); "
                    "AuditData.train holds exactly these, with their true labels",
            reference="the first 5,000 rows of adult.data that are not members",
            member_rows=rows.tolist(),
            preprocessing_fitted_on="all of adult.data, as adult-mlp (same 91 columns)",
            rows_unlearnable_identical_features_opposite_label=int(unlearnable)),
        "preprocessing": encoding,
        "feature_names": names,
        "metrics": {
            "test_accuracy": round(test_accuracy, 6),
            "train_accuracy": round(train_accuracy, 6),
            "train_test_gap_points": gap_points,
            "max_reachable_train_accuracy": round(1 - unlearnable / len(y_train), 6),
            "loss_threshold_attack_auc": round(attack_auc, 6),
            "test_roc_auc": round(float(roc_auc_score(y_test, test_logits[:, 0].numpy())), 6),
            "final_train_loss": history["loss_history"][-1],
            "test_positive_rate": round(float(y_test.mean()), 6),
        },
        "training": _training_card(recipe, device, history, 0.0),
        "intended_use": "A planted-defect model: evidence that auditkit's privacy checks "
                        "(membership inference) and generalisation checks find a model that "
                        "leaks its training rows. " + _NOT_FOR_PEOPLE,
        "limitations": "Trained on 400 rows only, so its accuracy is that of a small-data "
                       "model; the encoding was fitted on all of adult.data. The census data "
                       "carry adult-mlp's limitations.",
        "planted_defect": {
            "kind": "overfitting / training-data leakage (privacy)",
            "description": f"A {OVERFIT_HIDDEN[0]}x{OVERFIT_HIDDEN[1]} MLP without dropout or "
                           f"weight decay, trained for {recipe.epochs} epochs on {OVERFIT_ROWS} "
                           "rows, memorises them: near-zero training loss, much lower accuracy "
                           "on unseen rows.",
            "members": OVERFIT_ROWS,
            "member_seed": MEMBER_SEED,
            "expected_finding": f"overfit/leaky: memorises its {OVERFIT_ROWS} training rows "
                                f"(train accuracy {train_accuracy:.1%}, test accuracy "
                                f"{test_accuracy:.1%}); train-test gap {gap_points:.1f} "
                                "points; expect membership inference to succeed (a per-row "
                                f"loss threshold separates the members from the test rows "
                                f"with ROC AUC {attack_auc:.3f}; guessing 'member' when the "
                                f"prediction is right has advantage {gap_points / 100:.3f})",
        },
    }
    return save_checkpoint(OVERFIT, model, card, directory)


# -- compas-mlp -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _compas_splits() -> tuple[pd.DataFrame, pd.DataFrame]:
    """ProPublica's rows of COMPAS, split 70/30 stratified on the target (train, test)."""
    frame = load_compas()
    keep = (frame["days_b_screening_arrest"].between(-30, 30)
            & (frame["is_recid"] != -1)
            & (frame["c_charge_degree"] != "O")
            & frame["score_text"].notna() & (frame["score_text"] != "N/A"))
    frame = frame.loc[keep].reset_index(drop=True)
    train_frame, test_frame = train_test_split(frame, test_size=COMPAS_TEST_SIZE,
                                               stratify=frame[COMPAS_TARGET],
                                               random_state=COMPAS_SPLIT_SEED)
    return train_frame.reset_index(drop=True), test_frame.reset_index(drop=True)


def _compas_targets(frame: pd.DataFrame) -> np.ndarray:
    return frame[COMPAS_TARGET].to_numpy(np.int64)


def _compas_sensitive(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(COMPAS_SENSITIVE)].reset_index(drop=True)


def compas_score_baseline() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The COMPAS decile score of compas-mlp's test rows, to audit the score as a model.

    The rows and their order are those of ``zoo.load("compas-mlp")``'s
    AuditData. The score's own decision is ``decile_score >= 5`` (score text
    "Medium" or "High") for "will reoffend within two years".

    Returns
    -------
    decile_scores : numpy.ndarray of shape (n_test,)
        int64 decile scores, 1 (lowest risk) to 10.
    y : numpy.ndarray of shape (n_test,)
        int64 ``two_year_recid``, 1 = rearrested within two years.
    sensitive : pandas.DataFrame of shape (n_test, 3)
        ``race``, ``sex`` and ``age_cat`` of each row.

    Examples
    --------
    >>> from auditkit.zoo import tabular
    >>> scores, y, sensitive = tabular.compas_score_baseline()  # doctest: +SKIP
    >>> float(((scores >= 5) == y).mean())  # the score's accuracy  # doctest: +SKIP
    """
    _, test_frame = _compas_splits()
    return (test_frame["decile_score"].to_numpy(np.int64), _compas_targets(test_frame),
            _compas_sensitive(test_frame))


def _by_race(y: np.ndarray, predicted: np.ndarray, race: pd.Series) -> dict[str, Any]:
    """ProPublica's comparison: error rates for African-American vs Caucasian defendants."""
    frame = MetricFrame(metrics={"false_positive_rate": false_positive_rate,
                                 "false_negative_rate": false_negative_rate,
                                 "selection_rate": selection_rate},
                        y_true=y, y_pred=predicted, sensitive_features=race)
    rows = frame.by_group.loc[list(PROPUBLICA_GROUPS)]
    return {metric: _rounded(rows[metric]) for metric in rows.columns}


def _load_compas(directory: Path | None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    card = load_card(COMPAS, directory)
    train_frame, test_frame = _compas_splits()
    actual = _sha256_of_array(test_frame["id"].to_numpy())
    expected = card["data"]["test_ids_sha256"]
    if actual != expected:
        raise ZooError(_SPLIT_CHANGED.format(name=COMPAS, expected=expected, actual=actual))
    encoding = card["preprocessing"]
    X_test, names, groups = adult_mlp.encode(test_frame, encoding)
    X_train, _, _ = adult_mlp.encode(train_frame, encoding)
    data = AuditData(
        X_test, _compas_targets(test_frame),
        sensitive=_compas_sensitive(test_frame),
        train=(X_train, _compas_targets(train_frame), _compas_sensitive(train_frame)),
        reference=X_train,
        modality="tabular",
        feature_names=names,
        categorical_features=list(COMPAS_CATEGORICAL),
        feature_groups=groups,
        class_names=COMPAS_CLASS_NAMES,
        mutable_features=list(COMPAS_MUTABLE),
        name="COMPAS two-year recidivism (30% test split)",
    )
    model = CompasMLP(data.X.shape[1], tuple(card["architecture"]["hidden"]),
                      dropout=card["architecture"]["dropout"])
    load_weights(COMPAS, model, directory)
    model.train_fn = refit_compas  # wrap_model reads it: the adapter can refit a fresh copy
    return model, data, card


def _train_compas(device: torch.device, directory: Path | None,
                  max_steps: int | None) -> dict[str, Any]:
    recipe = COMPAS_RECIPE
    dropout = 0.1
    seed_everything(recipe.seed)
    train_frame, test_frame = _compas_splits()
    encoding = adult_mlp.fit_encoding(train_frame, numeric=COMPAS_NUMERIC, log_scaled=(),
                                      categorical=COMPAS_CATEGORICAL)
    X_train, names, _ = adult_mlp.encode(train_frame, encoding)
    X_test, _, _ = adult_mlp.encode(test_frame, encoding)
    y_train, y_test = _compas_targets(train_frame), _compas_targets(test_frame)
    model = CompasMLP(X_train.shape[1], COMPAS_HIDDEN, dropout=dropout)
    history = _fit(model, X_train, y_train, recipe, device, max_steps)

    test_logits, train_logits = _logits(model, X_test), _logits(model, X_train)
    scores, _, sensitive = compas_score_baseline()
    score_predicted = (scores >= COMPAS_SCORE_THRESHOLD).astype(np.int64)
    model_rates = _by_race(y_test, _predictions(test_logits), sensitive["race"])
    score_rates = _by_race(y_test, score_predicted, sensitive["race"])
    model_accuracy = accuracy(test_logits, y_test)
    score_accuracy = float((score_predicted == y_test).mean())
    fpr_model, fpr_score = (model_rates["false_positive_rate"],
                            score_rates["false_positive_rate"])
    african_american, caucasian = PROPUBLICA_GROUPS
    card = {
        "name": COMPAS,
        "summary": "MLP predicting two-year recidivism on ProPublica's COMPAS data, beside the "
                   "COMPAS score itself; race, sex and age group as sensitive features.",
        "task": "binary classification (one logit, sigmoid)",
        "architecture": _architecture(model, X_train.shape[1], COMPAS_HIDDEN, dropout),
        "data": {
            "dataset": "ProPublica COMPAS recidivism (compas-scores-two-years.csv, Broward "
                       "County, Florida, 2013-2014)",
            "filtering": "ProPublica's: -30 <= days_b_screening_arrest <= 30, is_recid != -1, "
                         "c_charge_degree != 'O', score_text != 'N/A'",
            "rows_after_filtering": len(train_frame) + len(test_frame),
            "train_rows": len(train_frame), "test_rows": len(test_frame),
            "split": f"stratified on {COMPAS_TARGET}, {1 - COMPAS_TEST_SIZE:.0%} train / "
                     f"{COMPAS_TEST_SIZE:.0%} test (the audit split), scikit-learn "
                     f"train_test_split with random_state={COMPAS_SPLIT_SEED}",
            "test_ids_sha256": _sha256_of_array(test_frame["id"].to_numpy()),
            "target": f"{COMPAS_TARGET} (rearrested within two years of the screening)",
            "features": list(COMPAS_NUMERIC) + list(COMPAS_CATEGORICAL),
            "sensitive_features": list(COMPAS_SENSITIVE),
            "members": "the training split (AuditData.train); reference data: the same rows",
            "compas_score": "The COMPAS decile_score (1-10) of each test row, in AuditData "
                            "order, is not a model input: auditkit.zoo.tabular."
                            "compas_score_baseline() returns (decile_scores, y, sensitive) for "
                            "the test split. The score's decision is decile_score >= 5 "
                            "(score_text 'Medium' or 'High') predicts recidivism.",
        },
        "preprocessing": encoding,
        "feature_names": names,
        "metrics": {
            "test_accuracy": round(model_accuracy, 6),
            "compas_score_test_accuracy": round(score_accuracy, 6),
            "train_accuracy": round(accuracy(train_logits, y_train), 6),
            "test_roc_auc": round(float(roc_auc_score(y_test, test_logits[:, 0].numpy())), 6),
            "compas_score_test_roc_auc": round(float(roc_auc_score(y_test, scores)), 6),
            "test_positive_rate": round(float(y_test.mean()), 6),
            "by_race_model": model_rates,
            "by_race_compas_score": score_rates,
        },
        "training": _training_card(recipe, device, history, dropout),
        "intended_use": "A reference model for auditing a real, contested risk-assessment "
                        "task, and a second model beside the COMPAS score for comparing "
                        "group error rates. " + _NOT_FOR_PEOPLE,
        "limitations": "One county's defendants in 2013-2014; the label is rearrest, not "
                       "reoffending, and inherits policing bias. Race (six categories, two of "
                       "them very small: Asian, Native American) and sex are model inputs as "
                       "well as sensitive features.",
        "planted_defect": None,
        "expected_finding": f"Accuracy {model_accuracy:.1%} vs {score_accuracy:.1%} for the "
                            f"COMPAS score on the same rows. False positive rate "
                            f"{african_american} vs {caucasian}: model "
                            f"{fpr_model[african_american]:.3f} vs {fpr_model[caucasian]:.3f}, "
                            f"COMPAS score {fpr_score[african_american]:.3f} vs "
                            f"{fpr_score[caucasian]:.3f} (ProPublica's finding).",
    }
    return save_checkpoint(COMPAS, model, card, directory)


# -- entry points ---------------------------------------------------------------------------

_LOADERS: dict[str, Callable[[Path | None], tuple[nn.Module, AuditData, dict[str, Any]]]] = {
    BIASED: _load_biased, OVERFIT: _load_overfit, COMPAS: _load_compas}
_TRAINERS: dict[str, Callable[[torch.device, Path | None, int | None], dict[str, Any]]] = {
    BIASED: _train_biased, OVERFIT: _train_overfit, COMPAS: _train_compas}


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ZooError(UNKNOWN_NAME.format(param="name", expected=list(NAMES), got=name))


def load(name: str, directory: Path | None = None) -> tuple[nn.Module, AuditData,
                                                               dict[str, Any]]:
    """One of this module's models (weights verified), its AuditData and its card.

    Parameters
    ----------
    name : {"adult-mlp-biased", "adult-mlp-overfit", "compas-mlp"}
    directory : Path, optional
        Where the checkpoints are; defaults to the shipped ones.

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on the CPU, with ``model.model_card`` set.
    data : AuditData
    card : dict
    """
    _check_name(name)
    model, data, card = _LOADERS[name](Path(directory) if directory else None)
    model.model_card = card
    return model, data, card


def train(name: str, *, device: torch.device, directory: Path | None = None,
          max_steps: int | None = None) -> dict[str, Any]:
    """Train one of this module's models from the vendored data; write checkpoint and card.

    Parameters
    ----------
    name : {"adult-mlp-biased", "adult-mlp-overfit", "compas-mlp"}
    device : torch.device
        Where to train (CUDA, MPS or CPU); the weights are saved from the CPU.
    directory : Path, optional
        Where to write; defaults to the shipped checkpoints' folder
        (``adult-mlp-biased`` also compares itself with the adult-mlp found
        there, or with the shipped one).
    max_steps : int, optional
        Stop after this many optimiser steps (smoke tests).

    Returns
    -------
    dict
        The new model card.
    """
    _check_name(name)
    return _TRAINERS[name](torch.device(device), Path(directory) if directory else None,
                           max_steps)
