"""Shared ground of the privacy family: the members and non-members an attack is scored on.

Members are training records (:attr:`AuditData.train`); non-members are the
audited records (:attr:`AuditData.X`, a held-out split). Both sides are
subsampled to the same size, seeded, so that an attack's false-positive rate
is measured on as many non-members as its true-positive rate on members.
What the model outputs on them is computed once per audit and shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from .._base import CheckContext

__all__ = ["NO_MEMBERS", "MembershipSample", "logit_confidence", "membership_sample",
           "target_proba"]

NO_MEMBERS = ("This check needs the model's training records as members "
              "(AuditData(..., train=(X_train, y_train))); the audited data has none.")


@dataclass(frozen=True)
class MembershipSample:
    """The records an attack is scored on.

    Attributes
    ----------
    X : ndarray of shape (n, ...)
        Members first, then non-members.
    y : ndarray of shape (n,)
        Labels, in the model's label space.
    member : bool ndarray of shape (n,)
    source_index : int ndarray of shape (n,)
        Row of each record in ``data.train.X`` (members) or ``data.X`` (non-members).
    sensitive : DataFrame or None
        Sensitive features of every record, in order; None unless the data
        has them for both the audited and the training records
        (``AuditData(train=(X, y, sensitive_train))``).
    population : ndarray of int
        Rows of ``data.X`` not drawn as non-members: a population the attacks
        may use (RMIA's reference records, reference models' training pool).
    """

    X: np.ndarray
    y: np.ndarray
    member: np.ndarray
    source_index: np.ndarray
    sensitive: pd.DataFrame | None
    population: np.ndarray

    @property
    def n_members(self) -> int:
        return int(self.member.sum())

    @property
    def n_non_members(self) -> int:
        return int((~self.member).sum())


def membership_sample(data: AuditData, max_per_side: int | None,
                      context: CheckContext) -> MembershipSample:
    """Members and non-members, at most ``max_per_side`` of each, seeded.

    Non-members may outnumber members (up to half of the audited rows, the
    rest being the population): the smallest false-positive rate an attack can
    resolve is one over the number of non-members. The same ``max_per_side``
    gives the same records in every check of an audit.
    """
    def compute() -> MembershipSample:
        if data.train is None:
            raise ValueError(NO_MEMBERS)
        rng = context.rng("privacy.membership")
        cap = np.inf if max_per_side is None else max_per_side
        n = int(min(len(data.train), cap))
        n_out = int(min(cap, max(min(n, data.n_samples), data.n_samples // 2)))
        members = np.sort(rng.choice(len(data.train), size=n, replace=False))
        order = rng.permutation(data.n_samples)
        non_members, population = np.sort(order[:n_out]), np.sort(order[n_out:])
        X = np.concatenate([data.train.X[members], data.X[non_members]])
        y = np.concatenate([data.train.y[members], data.y[non_members]])
        member = np.r_[np.ones(n, dtype=bool), np.zeros(n_out, dtype=bool)]
        source = np.r_[members, non_members]
        sensitive = None
        if data.sensitive is not None and data.train.sensitive is not None:
            sensitive = pd.concat([data.train.sensitive.iloc[members],
                                   data.sensitive.iloc[non_members]], ignore_index=True)
        return MembershipSample(X, y, member, source, sensitive, population)

    return context.shared("privacy.membership", max_per_side, compute)


def target_proba(model: ModelAdapter, sample: MembershipSample,
                 context: CheckContext) -> np.ndarray:
    """The audited model's probabilities on the sample's records, once per audit."""
    return context.predict_proba(model, sample.X, key=f"privacy:{len(sample.X)}")


def logit_confidence(proba: np.ndarray, label_index: np.ndarray) -> np.ndarray:
    """LiRA's score: ``log p_y - log(1 - p_y)`` of the true class, computed stably.

    Parameters
    ----------
    proba : ndarray of shape (..., n, n_classes)
    label_index : int ndarray of shape (n,)

    Returns
    -------
    ndarray of shape (..., n)
    """
    proba = np.asarray(proba, dtype=np.float64)
    rows = np.arange(proba.shape[-2])
    true = proba[..., rows, label_index]
    others = proba.copy()
    others[..., rows, label_index] = 0.0
    # The other classes summed, not 1 - p_y, which rounds to 0 as p_y nears 1.
    rest = others.sum(axis=-1)
    tiny = np.finfo(np.float64).tiny
    return np.log(np.maximum(true, tiny)) - np.log(np.maximum(rest, tiny))
