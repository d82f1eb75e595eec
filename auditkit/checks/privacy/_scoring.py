"""Privacy: run every applicable membership attack on the shared sample, once per audit.

What a model allows decides what runs: probabilities give the population
thresholds; labels alone give the label-only baselines; a model that can be
refitted gives LiRA and RMIA through reference models (:mod:`._reference`).
An attack that cannot run is kept with the sentence saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...inputs import AuditData, ModelAdapter
from .._base import CheckContext
from ._attacks import (
    POPULATION_ATTACKS,
    REFERENCE_ATTACKS,
    gap_score,
    lira_offline,
    lira_online,
    noise_robustness_score,
    reference_confidences,
    rmia_offline,
    threshold_scores,
)
from ._common import MembershipSample, target_proba
from ._reference import cache_directory, reference_outputs, reference_unavailable_reason

__all__ = ["AttackRun", "NO_PROBABILITIES", "run_attacks"]

NO_PROBABILITIES = ("needs the model's class probabilities; this model returns labels only "
                    "(the label-only attacks apply).")
NO_NOISE_TEXT = "adds Gaussian noise to inputs, which does not apply to {modality} inputs."
NO_POPULATION = ("needs population records: all audited records were drawn as non-members "
                 "(give more audited records than training records, or lower max_per_side).")


@dataclass
class AttackRun:
    """Scores of the attacks that ran, and why the others did not.

    Attributes
    ----------
    scores : dict of str to ndarray of shape (n,)
    skipped : dict of str to str
    references : ReferenceOutputs or None
    cache_dir : str
        Where reference models are cached.
    """

    scores: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    references: object | None = None
    cache_dir: str = ""


def run_attacks(model: ModelAdapter, data: AuditData, sample: MembershipSample,
                context: CheckContext, *, attacks: tuple[str, ...], n_reference_models: int,
                population_size: int, fixed_variance: bool, offline_a: float, gamma: float,
                noise_copies: int, noise_scale: float, cache_dir: str | None,
                rng: np.random.Generator, reference_train_size: int | None = None) -> AttackRun:
    """Score the sample with each of ``attacks`` that applies (see the module docstring)."""
    run = AttackRun(cache_dir=str(cache_directory(cache_dir)))
    proba = target_proba(model, sample, context)  # first: it fixes a new adapter's classes
    label_index = model.label_indices(sample.y)
    has_proba = "probabilities" in model.capabilities
    if has_proba:
        thresholds = threshold_scores(proba, label_index)
    for name in attacks:
        if name in POPULATION_ATTACKS:
            if has_proba:
                run.scores[name] = thresholds[name]
            else:
                run.skipped[name] = NO_PROBABILITIES
    if "gap" in attacks:
        run.scores["gap"] = gap_score(proba.argmax(axis=1), label_index)
    if "noise_robustness" in attacks:
        if data.modality in ("tabular", "image", "sequence"):
            low, high = data.valid_bounds()
            scale = noise_scale * np.maximum(np.asarray(high, float) - np.asarray(low, float),
                                             1e-12)

            def predict(batch: np.ndarray) -> np.ndarray:
                return model.predict_proba(batch).argmax(axis=1)

            run.scores["noise_robustness"] = noise_robustness_score(
                predict, sample.X, label_index, n_copies=noise_copies, scale=scale, rng=rng,
                bounds=(low, high))
        else:
            run.skipped["noise_robustness"] = NO_NOISE_TEXT.format(modality=data.modality)
    wanted = [name for name in attacks if name in REFERENCE_ATTACKS]
    if not wanted:
        return run
    reason = None if has_proba else NO_PROBABILITIES
    reason = reason or reference_unavailable_reason(model)
    if reason is not None:
        run.skipped.update({name: reason for name in wanted})
        return run
    refs = reference_outputs(model, data, sample, context, n_models=n_reference_models,
                            population_size=population_size, train_size=reference_train_size,
                            cache_dir=cache_dir)
    run.references = refs
    target_p, target_logit = reference_confidences(proba, label_index)
    ref_p, ref_logit = reference_confidences(refs.proba, label_index)
    included = np.asarray(refs.included, dtype=bool)
    for name in wanted:
        if name == "lira_online":
            run.scores[name] = lira_online(target_logit, ref_logit, included,
                                           fixed_variance=fixed_variance)
        elif name == "lira_offline":
            run.scores[name] = lira_offline(target_logit, ref_logit, included,
                                            fixed_variance=fixed_variance)
        elif len(refs.population_index) == 0:
            run.skipped[name] = NO_POPULATION
        else:
            rows = np.asarray(refs.population_index)
            z_proba = context.predict_proba(model, data.X[rows],
                                            key=f"privacy.population:{len(rows)}")
            z_index = model.label_indices(data.y[rows])
            target_z, _ = reference_confidences(z_proba, z_index)
            reference_z, _ = reference_confidences(refs.population_proba, z_index)
            out_x = np.where(included, np.nan, ref_p)
            run.scores[name] = rmia_offline(target_p, out_x, target_z, reference_z,
                                            offline_a=offline_a, gamma=gamma,
                                            z_included=refs.population_included)
    return run
