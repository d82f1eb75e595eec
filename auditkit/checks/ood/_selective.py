"""Shared ground of the covariate-shift and selective-prediction checks.

Two things both checks read: the *shifted sets* (a seeded subsample of the
audited inputs, corrupted by the natural corruptions of
:mod:`auditkit.checks._corruptions` at a severity, and the model's outputs on
them, computed once per audit under the key ``"shift:<corruption>:<severity>"``),
and the maths of *selective prediction* (risk-coverage curves and their area,
AURC, Geifman & El-Yaniv 2017), written for bootstrap counts so that one
matrix pass gives every resample.

Ties in the selection score are broken at random, in expectation: inside a
group of tied scores the expected number of errors among the first ``t``
accepted grows linearly, so the curve (and its area) does not depend on the
order in which tied samples happen to be stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import digamma

from ..._stats import calibration_bin_index
from ...inputs import AuditData, ModelAdapter
from .._base import CheckContext
from .._corruptions import Corruption, CorruptionDomain, apply_corruption, corrupt_texts
from ._common import ModelOutputs, model_outputs, reference_rows
from ._detectors import Detector, DetectorUnavailable, make_detector

__all__ = ["SelectionScores", "ShiftedSets", "aurc_statistics", "calibration_terms",
           "fit_detectors", "harmonic", "optimal_aurc", "risk_coverage", "shift_key", "subset"]

# Values corrupted at once: bounds the memory of one batch (about 64 MB of float64).
_MAX_VALUES = 2**23


# -- risk-coverage maths ------------------------------------------------------------------


def harmonic(x: np.ndarray | float) -> np.ndarray:
    """Harmonic numbers ``H(x) = sum_{k=1..x} 1/k``, extended to reals (``H(0) = 0``)."""
    return digamma(np.asarray(x, dtype=np.float64) + 1.0) + np.euler_gamma


def _groups(confidence: np.ndarray) -> np.ndarray:
    """Group index of each sample: groups of equal confidence, most confident first."""
    _, group = np.unique(-np.asarray(confidence, dtype=np.float64), return_inverse=True)
    return group.reshape(-1)


def aurc_statistics(weights: np.ndarray, errors: np.ndarray) -> dict[str, np.ndarray]:
    """AURC, optimal AURC and E-AURC for each row of per-group weights and weighted errors.

    Groups are tied-confidence groups, most confident first; a row is one
    weighting of the samples (all ones for the estimate, bootstrap counts for
    a resample). The risk at coverage ``k / n`` is the (expected) share of
    errors among the ``k`` most confident; AURC is its mean over
    ``k = 1..n``. Within a group of ``w`` tied samples with error rate ``r``,
    after ``W`` samples and ``E`` errors, ``sum_{t=1..w} (E + t r) / (W + t)
    = w r + (E - r W) (H(W + w) - H(W))`` with ``H`` the harmonic numbers.

    Parameters
    ----------
    weights : ndarray of shape (b, n_groups)
        Samples of each group in each row.
    errors : ndarray of shape (b, n_groups)
        Errors of each group in each row.

    Returns
    -------
    dict
        ``"aurc"``, ``"optimal_aurc"`` (every correct sample accepted before any
        error: ``(m - (n - m)(H(n) - H(n - m))) / n`` with ``m`` errors), ``"excess_aurc"``
        (their difference, E-AURC) and ``"error_rate"``, each of shape (b,).
    """
    w = np.asarray(weights, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    before_w = np.cumsum(w, axis=1) - w
    before_e = np.cumsum(e, axis=1) - e
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(w > 0, e / w, 0.0)
    terms = w * rate + (before_e - rate * before_w) * (harmonic(before_w + w)
                                                       - harmonic(before_w))
    n, m = w.sum(axis=1), e.sum(axis=1)
    aurc = terms.sum(axis=1) / n
    optimal = (m - (n - m) * (harmonic(n) - harmonic(n - m))) / n
    return {"aurc": aurc, "optimal_aurc": optimal, "excess_aurc": aurc - optimal,
            "error_rate": m / n}


@dataclass(frozen=True)
class SelectionScores:
    """Samples grouped by tied confidence, for :func:`aurc_statistics` on bootstrap counts."""

    group: np.ndarray  # (n,) group of each sample, 0 = most confident
    error: np.ndarray  # (n,) 1.0 where the prediction is wrong
    n_groups: int

    @classmethod
    def of(cls, confidence: np.ndarray, correct: np.ndarray) -> SelectionScores:
        group = _groups(confidence)
        return cls(group, 1.0 - np.asarray(correct, dtype=np.float64), int(group.max()) + 1)

    def per_group(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-group weights and errors of each row of ``counts`` (b, n)."""
        # samples sorted by group, summed over each group's contiguous run
        order = np.argsort(self.group, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(self.group[order]) != 0])
        weights = np.asarray(counts, dtype=np.float64)[:, order]
        return (np.add.reduceat(weights, starts, axis=1),
                np.add.reduceat(weights * self.error[order], starts, axis=1))


def resampled_aurc(scores: SelectionScores, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Bootstrap statistic of the AURC family (module-level: any executor can send it)."""
    return aurc_statistics(*scores.per_group(counts))


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The risk-coverage curve: the error rate among the ``k`` most confident, ``k = 1..n``.

    Parameters
    ----------
    confidence : ndarray of shape (n,)
        The selection score, larger meaning more confident.
    correct : ndarray of shape (n,)
        Whether each prediction is right.

    Returns
    -------
    coverage : ndarray of shape (n,)
        ``k / n``.
    risk : ndarray of shape (n,)
        Expected error rate among the ``k`` most confident, ties broken at random.

    Examples
    --------
    >>> coverage, risk = risk_coverage(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]))
    >>> risk.round(3).tolist()
    [0.0, 0.5, 0.333]
    """
    group = _groups(confidence)
    n = len(group)
    weight = np.bincount(group).astype(np.float64)
    error = np.bincount(group, weights=1.0 - np.asarray(correct, dtype=np.float64))
    before_w = np.cumsum(weight) - weight
    before_e = np.cumsum(error) - error
    k = np.arange(1, n + 1, dtype=np.float64)
    # the group of the k-th accepted sample, and how many of its group are in
    at = np.searchsorted(np.cumsum(weight), k, side="left")
    expected_errors = before_e[at] + (k - before_w[at]) * error[at] / weight[at]
    return k / n, expected_errors / k


def calibration_terms(proba: np.ndarray, correct: np.ndarray, n_bins: int) -> np.ndarray:
    """Per-sample calibration gap in its confidence bin's column, shape (n, n_bins).

    ``abs(counts @ terms).sum(axis=1) / n`` is the expected calibration error of
    each row of bootstrap counts (equal-width bins, as
    :func:`auditkit._stats.expected_calibration_error`).
    """
    confidence = proba.max(axis=1)
    terms = np.zeros((len(proba), n_bins))
    terms[np.arange(len(proba)), calibration_bin_index(confidence, n_bins)] = correct - confidence
    return terms


def optimal_aurc(error_rate: float, n: int) -> float:
    """AURC of a perfect ranking (every error last) for ``n`` samples at ``error_rate``."""
    m = round(error_rate * n)
    return float((m - (n - m) * (harmonic(n) - harmonic(n - m))) / n)


# -- the shifted sets ---------------------------------------------------------------------


def shift_key(corruption: str, severity: int, n_selected: int, n_samples: int) -> str:
    """The :func:`model_outputs` key of one shifted set (the subsample size where one is drawn)."""
    key = f"shift:{corruption}:{severity}"
    return key if n_selected == n_samples else f"{key}:n={n_selected}"


def subset(outputs: ModelOutputs, index: np.ndarray) -> ModelOutputs:
    """The rows ``index`` of ``outputs``."""
    return ModelOutputs(outputs.proba[index],
                        None if outputs.logits is None else outputs.logits[index],
                        None if outputs.features is None else outputs.features[index])


@dataclass(frozen=True)
class ShiftedSets:
    """Covariate-shifted copies of a seeded subsample of the audited inputs.

    The subsample depends only on the audit's seed and ``n_samples``, and the
    corruption's random draws only on the seed and the corruption (the same at
    every severity, so a higher severity corrupts the same samples more):
    two checks asking for the same set get the same inputs, and the model's
    outputs on them are computed once (:func:`model_outputs`).

    Attributes
    ----------
    index : ndarray of int
        The audited samples the sets are made of (sorted).
    domain : CorruptionDomain or None
        Where array inputs may change (None for text).
    """

    index: np.ndarray
    domain: CorruptionDomain | None

    @classmethod
    def draw(cls, data: AuditData, n_samples: int | None, context: CheckContext) -> ShiftedSets:
        """The subsample of at most ``n_samples`` audited samples (all when None)."""
        n = data.n_samples
        if n_samples is None or n_samples >= n:
            index = np.arange(n)
        else:
            rng = context.rng(f"ood.shift/samples/{n_samples}")
            index = np.sort(rng.choice(n, size=n_samples, replace=False))
        domain = None if data.modality == "text" else CorruptionDomain.from_data(data)
        return cls(index, domain)

    def usable(self, corruptions: list[Corruption]) -> list[Corruption]:
        """The corruptions that have something to change in this data."""
        if self.domain is None:
            return corruptions
        return [c for c in corruptions if self.domain.can_change(c)]

    def clean(self, model: ModelAdapter, data: AuditData, context: CheckContext, *,
              features: bool) -> ModelOutputs:
        """The model's outputs on the clean subsample (rows of the shared ``"test"`` outputs)."""
        return subset(model_outputs(model, data.X, context, key="test", features=features),
                      self.index)

    def outputs(self, model: ModelAdapter, data: AuditData, context: CheckContext,
                corruption: Corruption, severity: int, *, features: bool) -> ModelOutputs:
        """The model's outputs on one shifted set, corrupting the inputs only if not yet done."""
        key = shift_key(corruption.name, severity, len(self.index), data.n_samples)
        done = context.peek("ood.logits", (id(model), key)) is not None and (
            not features or "features" not in model.capabilities
            or context.peek("ood.features", (id(model), key)) is not None)
        X = self.index[:0] if done else self.inputs(data, context, corruption, severity)
        return model_outputs(model, X, context, key=key, features=features)

    def inputs(self, data: AuditData, context: CheckContext, corruption: Corruption,
               severity: int) -> Any:
        """The corrupted inputs of the subsample (texts re-tokenised with ``data.tokenizer``)."""
        stream = context.rng(f"ood.shift/{data.modality}/{corruption.name}")
        if data.modality == "text":
            texts = corrupt_texts([data.texts[i] for i in self.index],  # type: ignore[index]
                                  corruption, severity, stream)
            return np.asarray(data.tokenizer(texts))  # type: ignore[misc]
        X = data.X[self.index]
        size = max(1, _MAX_VALUES // max(1, int(np.prod(X.shape[1:]))))
        return np.concatenate([
            apply_corruption(corruption, X[start:start + size], severity,
                             self.domain, stream)  # type: ignore[arg-type]
            for start in range(0, len(X), size)])


# -- detectors fitted on the reference ----------------------------------------------------


def fit_detectors(model: ModelAdapter, data: AuditData, context: CheckContext,
                  names: tuple[str, ...], *, max_reference: int | None, held_out: np.ndarray
                  ) -> tuple[dict[str, Detector], dict[str, str]]:
    """The detectors ``names`` fitted on the reference outputs, and why others were left out.

    Left out: detectors the model cannot feed, those that read the inputs
    themselves (ODIN: the shifted sets are compared through outputs only),
    and those whose fit finds they cannot work (:class:`DetectorUnavailable`).
    When the data has no reference apart from the audited samples, detectors
    are fitted on the audited samples outside ``held_out`` (those that are
    scored), so that no sample is scored by a detector fitted on it.

    Parameters
    ----------
    model : ModelAdapter
    data : AuditData
    context : CheckContext
    names : tuple of str
        Detector option names.
    max_reference : int or None
        Reference rows at most (a seeded subsample, as ``ood_detection`` draws it).
    held_out : ndarray of int
        Audited samples that are scored.

    Returns
    -------
    fitted : dict of str to Detector
    left_out : dict of str to str
        The reason for each detector left out.
    """
    fitted: dict[str, Detector] = {}
    left_out: dict[str, str] = {}
    for name in names:
        detector = make_detector(name)
        reason = detector.unavailable_reason(model, data)
        if reason is None and getattr(detector, "reads_inputs", False):
            reason = (f"{detector.label} scores the raw inputs through the model; shifted sets "
                      "are compared through the model's outputs only.")
        if reason is None:
            fitted[name] = detector
        else:
            left_out[name] = reason
    needs_fit = {n: d for n, d in fitted.items() if type(d).fit is not Detector.fit}
    if not needs_fit:
        return fitted, left_out
    features = any("features" in d.needs for d in needs_fit.values())
    if data.reference_inputs is data.X:
        rows = np.setdiff1d(np.arange(data.n_samples), held_out)
        if max_reference is not None:
            rows = rows[:max_reference]
        reference = subset(model_outputs(model, data.X, context, key="test", features=features),
                           rows) if len(rows) else None
    else:
        rows = reference_rows(data, max_reference, context)
        key = "reference" if len(rows) == len(data.reference_inputs) \
            else f"reference[{max_reference}]"
        reference = model_outputs(model, data.reference_inputs[rows], context, key=key,
                                  features=features)
    for name, detector in needs_fit.items():
        if reference is None or len(reference) < 2:
            reason = (f"{detector.label} is fitted on reference inputs; the data has none "
                      "apart from the audited samples, which are all scored.")
        else:
            try:
                detector.fit(reference)
                continue
            except DetectorUnavailable as error:
                reason = str(error)
        del fitted[name]
        left_out[name] = reason
    return fitted, left_out
