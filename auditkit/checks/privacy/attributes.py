"""Privacy: whether the model's outputs reveal a sensitive feature of its training records.

Attribute inference against a baseline (issue 13, item 7): for each
sensitive feature, a classifier predicts it from the training records'
non-sensitive features alone, and another from the same features plus the
audited model's class probabilities; both are cross-validated on the
members. The gain in balanced accuracy is what the model's outputs add to
what the other features already tell, with a paired-bootstrap interval (the
same resampled records score both classifiers).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..._stats import BootstrapSpec, bootstrap, percentile_interval
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Metric, Status
from .._base import Check, CheckContext, register_check
from .._params import CONFIDENCE, NON_NEGATIVE_INT, Interval
from .._progress import Bar

__all__ = ["PrivacyAttributeInference"]

NO_SENSITIVE_MEMBERS = ("This check needs tabular training records with their sensitive "
                        "features: AuditData(..., sensitive=..., train=(X_train, y_train, "
                        "sensitive_train)); the audited data has none.")


def balanced_accuracy_samples(shared: tuple[np.ndarray, np.ndarray, np.ndarray],
                              counts: np.ndarray) -> dict[str, np.ndarray]:
    """Balanced accuracy of both classifiers and the gain, on each resample (module-level).

    ``shared`` is (class index of each record, baseline correct, with-outputs
    correct); ``counts`` (b, n) the bootstrap counts. A class absent from a
    resample is left out of its mean.
    """
    label, base_correct, model_correct = shared
    recalls = {"baseline": [], "with_outputs": []}
    present = []
    for c in np.unique(label):
        weight = counts[:, label == c]
        total = weight.sum(axis=1)
        present.append(total > 0)
        for name, correct in (("baseline", base_correct), ("with_outputs", model_correct)):
            hits = weight @ correct[label == c].astype(np.float64)
            recalls[name].append(np.where(total > 0, hits / np.maximum(total, 1), 0.0))
    present = np.array(present)
    out = {name: np.array(v).sum(axis=0) / present.sum(axis=0) for name, v in recalls.items()}
    out["gain"] = out["with_outputs"] - out["baseline"]
    return out


@register_check
@dataclass(frozen=True)
class PrivacyAttributeInference(Check):
    """Attribute inference: how much the model's outputs help guess a sensitive feature.

    Parameters
    ----------
    max_members : int or None, default=5000
        Members used (a seeded draw without replacement; None: all).
    n_folds : int, default=5
        Cross-validation folds on the members.
    n_resamples : int, default=1000
        Paired bootstrap resamples of the members.
    confidence : float, default=0.95
        Level of every interval.

    Examples
    --------
    >>> from auditkit.checks import PrivacyAttributeInference
    >>> PrivacyAttributeInference(n_folds=3).n_folds
    3
    """

    name = "privacy_attribute_inference"
    # Relative cost (progress ETA): cross-validated attackers on the training records.
    cost = 10.0
    family = "privacy"
    order = 3
    description = ("Whether the model's outputs reveal a sensitive feature of its training "
                   "records: balanced accuracy of inferring it from the other features with "
                   "and without the model's probabilities (cross-validated on the members), "
                   "and the gain with a paired-bootstrap interval.")
    requires = frozenset({"predict", "probabilities"})
    modalities = ("tabular",)
    shares = ("proba",)
    parameter_constraints = {"max_members": [Interval(Integral, 20, None), None],
                             "n_folds": [Interval(Integral, 2, None)],
                             "n_resamples": NON_NEGATIVE_INT, "confidence": CONFIDENCE}

    max_members: int | None = 5000
    n_folds: int = 5
    n_resamples: int = 1000
    confidence: float = 0.95

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """SKIP without members' sensitive features; otherwise the base class's reasons."""
        reason = super().skip_reason(model, data)
        if reason is None and (data.sensitive is None or data.train is None
                               or data.train.sensitive is None):
            reason = NO_SENSITIVE_MEMBERS
        return reason

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Fit both classifiers per sensitive feature; see the class docstring."""
        rng = context.rng(self.name)
        n_train = len(data.train)
        members = np.arange(n_train) if self.max_members is None or \
            self.max_members >= n_train else \
            np.sort(rng.choice(n_train, size=self.max_members, replace=False))
        X = np.asarray(data.train.X[members], dtype=np.float64).reshape(len(members), -1)
        sensitive = data.train.sensitive.iloc[members].reset_index(drop=True)
        keep = self._non_sensitive_columns(data, X.shape[1], list(sensitive.columns))
        proba = context.predict_proba(model, data.train.X[members],
                                      key=f"privacy.attributes.train-{len(members)}")
        rows, samples = [], {}
        # Two cross-validated attackers per sensitive feature: without and with the outputs.
        with context.progress.bar(total=2 * len(sensitive.columns), unit="attacker",
                                  description=self.name) as bar:
            for column in sensitive.columns:
                row = self._infer(column, sensitive, X, keep, proba, rng, context, bar)
                rows.append(row)
                if "gain" in row:
                    samples[column] = row
        table = pd.DataFrame(rows)
        if not samples:
            return self.result(Status.SKIP, "No sensitive feature has enough members of each "
                               f"value to cross-validate with {self.n_folds} folds.",
                               tables={"attribute_inference": table})
        worst = max(samples.values(), key=lambda r: r["gain"])
        n = worst["n_members"]
        metrics = {"attribute_inference_gain": Metric(
            worst["gain"], worst["gain_lower"], worst["gain_upper"], self.confidence, n,
            f"balanced accuracy with the model's outputs minus without, cross-validated on the "
            f"members ({self.n_folds} folds), paired percentile bootstrap", False)}
        headline = (f"The model's outputs change how well {worst['feature']} is inferred from "
                    f"its training records' other features from {worst['baseline']:.1%} to "
                    f"{worst['with_outputs']:.1%} balanced accuracy (gain "
                    f"{worst['gain']:+.1%} [{worst['gain_lower']:+.1%}, "
                    f"{worst['gain_upper']:+.1%}]; chance {worst['chance']:.1%}; {n:,} members).")
        notes = pd.DataFrame([
            ("attacker", "logistic regression (classes weighted to balance) on the standardised "
             "non-sensitive features, "
             "with and without the model's class probabilities"),
            ("non-sensitive features", f"{len(keep)} of {X.shape[1]} columns (those of every "
             "sensitive feature left out)"),
            ("records", f"{len(X):,} of the {len(data.train):,} training records (members; "
             "a seeded draw when fewer), "
             f"{self.n_folds}-fold stratified cross-validation"),
        ], columns=["item", "value"])
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"attribute_inference": table, "notes": notes})

    def _infer(self, column: str, sensitive: pd.DataFrame, X: np.ndarray, keep: np.ndarray,
               proba: np.ndarray, rng: np.random.Generator, context: CheckContext,
               bar: Bar) -> dict[str, Any]:
        """Both attackers' balanced accuracy on ``column``, and the gain, with intervals."""
        values, label = np.unique(sensitive[column].astype(str).to_numpy(), return_inverse=True)
        if len(values) < 2 or np.bincount(label).min() < self.n_folds:
            bar.update(2)
            return {"feature": column, "n_members": len(label), "classes": len(values),
                    "note": f"too few members per value to cross-validate with {self.n_folds} "
                    "folds"}
        folds = StratifiedKFold(self.n_folds, shuffle=True,
                                random_state=int(rng.integers(2**31 - 1)))
        base = self._predict(X[:, keep], label, folds)
        bar.update(1)
        with_outputs = self._predict(np.c_[X[:, keep], proba], label, folds)
        bar.update(1)
        shared = (label, base == label, with_outputs == label)
        point = balanced_accuracy_samples(shared, np.ones((1, len(label))))
        boot = bootstrap(balanced_accuracy_samples, len(label),
                         spec=BootstrapSpec(self.n_resamples, self.confidence), rng=rng,
                         shared=shared, executor=context.executor) \
            if self.n_resamples else {}
        row: dict[str, Any] = {"feature": column, "n_members": len(label),
                               "classes": len(values), "chance": 1.0 / len(values)}
        for name in ("baseline", "with_outputs", "gain"):
            low, high = percentile_interval(boot[name], self.confidence) if boot \
                else (np.nan, np.nan)
            row.update({name: float(point[name][0]), f"{name}_lower": low,
                        f"{name}_upper": high})
        row["note"] = ""
        return row

    @staticmethod
    def _non_sensitive_columns(data: AuditData, n_columns: int, names: list[str]) -> np.ndarray:
        """Columns of ``X`` that encode no sensitive feature (by feature group, else by name)."""
        drop: set[int] = set()
        for name in names:
            if data.feature_groups is not None and name in data.feature_groups:
                drop.update(int(i) for i in data.feature_groups[name])
            elif data.feature_names is not None:
                drop.update(i for i, f in enumerate(data.feature_names)
                            if f == name or str(f).startswith(f"{name}_")
                            or str(f).startswith(f"{name}="))
        return np.array([i for i in range(n_columns) if i not in drop], dtype=int)

    @staticmethod
    def _predict(features: np.ndarray, label: np.ndarray, folds: StratifiedKFold) -> np.ndarray:
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000,
                                                                      class_weight="balanced"))
        return cross_val_predict(classifier, features, label, cv=folds)
