"""Presets: named lists of checks, each with the options that fit its budget.

- ``quick``: a first look at every family, in seconds: a few samples per
  check, few bootstrap resamples, one cheap method per question (gradient
  saliency and occlusion, FGSM, a few corruptions, four OOD detectors,
  membership inference by thresholds), no LIME, SHAP, attack searches or
  reference models.
- ``standard``: what a release audit needs, in a few minutes on a CPU: every
  registered check at its default options except the expensive ones that
  ``full`` adds (``FULL_ONLY``).
- ``full``: every registered check, with larger budgets (stronger attacks,
  more explained samples).
- one preset per family (``performance``, ``fairness``, ...): the family's
  checks at their default options.

Presets name checks that exist in later versions too: a preset runs those of
its checks that are registered, and ``standard`` and ``full`` pick up new
checks by themselves. Options given by the user override a preset's options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .checks import FAMILIES, list_checks
from .exceptions import UNKNOWN_NAME, CheckError

__all__ = ["FULL_ONLY", "PRESETS", "Preset", "list_presets", "preset_checks", "preset_options"]


@dataclass(frozen=True)
class Preset:
    """A named audit: which checks run, and with which options.

    Parameters
    ----------
    description : str
        What the preset is for and what it costs, in one sentence.
    checks : tuple of str, optional
        The checks it runs, when registered. None: every registered check,
        less ``exclude``.
    exclude : frozenset of str, default=frozenset()
        Checks left out when ``checks`` is None.
    options : mapping of str to mapping of str to object, default={}
        Options of some of its checks (check name -> option -> value); the
        other checks, and the other options, keep their defaults.
    """

    description: str
    checks: tuple[str, ...] | None = None
    exclude: frozenset[str] = frozenset()
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {name: MappingProxyType(dict(values)) for name, values in self.options.items()}
        object.__setattr__(self, "options", MappingProxyType(frozen))

    def names(self) -> list[str]:
        """The registered checks this preset runs, in report order.

        Returns
        -------
        list of str
        """
        if self.checks is None:
            return [n for n in list_checks() if n not in self.exclude]
        return [n for n in list_checks() if n in self.checks]


# Small budgets that still give a number with an interval: bootstrap intervals
# from 200 resamples, explanations of 8 samples, attacks on 100 to 200 samples.
_QUICK_RESAMPLES = {"n_resamples": 200}
_QUICK_EXPLANATIONS = {"n_samples": 8, "n_resamples": 200}

#: Checks too slow for the default audit: black-box and minimal-perturbation
#: searches (minutes on a CPU for an image model) and the L2 attack. They run with
#: ``preset="full"`` or by name.
FULL_ONLY: frozenset[str] = frozenset({
    "robustness_square",
    "robustness_minimal_perturbation",
    "robustness_pgd_l2",
})

#: Every preset besides the per-family ones, by name.
PRESETS: Mapping[str, Preset] = MappingProxyType({
    "quick": Preset(
        description="A first look at every family in seconds: small samples, few resamples, "
                    "one cheap method per question.",
        checks=("performance_metrics", "performance_confusion_matrix",
                "performance_calibration", "performance_generalisation",
                "explanations_saliency", "explanations_occlusion", "explanations_agreement",
                "fairness_group_metrics", "fairness_disparities",
                "fairness_counterfactual_text", "robustness_fgsm", "robustness_tabular",
                "robustness_text", "robustness_corruptions", "ood_detection", "ood_drift",
                "privacy_membership_inference", "privacy_canary_audit",
                "privacy_attribute_inference", "generative_fidelity", "generative_coverage",
                "generative_memorisation", "generative_membership", "generative_autoencoder"),
        options={
            "performance_metrics": _QUICK_RESAMPLES,
            "performance_calibration": _QUICK_RESAMPLES,
            "performance_generalisation": {"max_train_samples": 2000},
            "explanations_saliency": _QUICK_EXPLANATIONS,
            "explanations_occlusion": _QUICK_EXPLANATIONS,
            # Compares the two methods above and reuses their attributions.
            "explanations_agreement": {"methods": ("explanations_saliency",
                                                   "explanations_occlusion"), "n_samples": 8},
            "fairness_group_metrics": _QUICK_RESAMPLES,
            "fairness_disparities": _QUICK_RESAMPLES,
            "fairness_counterfactual_text": {**_QUICK_RESAMPLES, "n_examples": 4},
            "robustness_fgsm": {"n_samples": 100},
            "robustness_tabular": {"n_samples": 100},
            "robustness_text": {"n_samples": 100},
            "robustness_corruptions": {"n_samples": 200, "severities": (1, 3, 5)},
            "ood_detection": {"detectors": ("msp", "energy", "mahalanobis", "knn"),
                              "n_samples": 500, "max_reference": 2000, "n_resamples": 200},
            "ood_drift": {"n_resamples": 200, "n_permutations": 200, "max_reference": 2000},
            # Threshold attacks only: no reference models to train.
            "privacy_membership_inference": {"attacks": ("loss", "confidence", "entropy",
                                                         "gap"), "max_per_side": 500},
            "privacy_attribute_inference": {"max_members": 2000, "n_resamples": 200},
            "generative_fidelity": {"n_samples": 500, "n_resamples": 50, "kid_subsets": 50,
                                    "severities": (1, 3)},
            "generative_coverage": {"n_samples": 1000},
            "generative_memorisation": {"n_samples": 1000},
            "generative_membership": {"n_generated": 2000, "max_per_side": 500},
            "generative_autoencoder": {"max_per_side": 500},
        }),
    "standard": Preset(
        description="A release audit in a few minutes on a CPU: every check at its defaults "
                    "but the slowest attacks, and membership inference against two reference "
                    "models.",
        exclude=FULL_ONLY,
        # RMIA stays strong with two reference models (benchmarks/bench_privacy.py); each is
        # a full training run of the audited model, the dearest part of the preset.
        options={"privacy_membership_inference": {"n_reference_models": 2}}),
    "full": Preset(
        description="Every check, with stronger attacks and more explained samples.",
        options={
            **{name: {"n_samples": 64, "cascade": True, "sanity_samples": 16} for name in (
                "explanations_integrated_gradients", "explanations_saliency",
                "explanations_gradient_shap", "explanations_occlusion",
                "explanations_gradcam")},
            "explanations_lime": {"n_samples": 32},
            "explanations_shap": {"n_samples": 128},
            "robustness_pgd": {"steps": 50, "restarts": 2, "every_loss_at_every_epsilon": True},
            "robustness_pgd_l2": {"steps": 50, "restarts": 2},
            "robustness_gradient_masking": {"steps": 50},
            "robustness_square": {"n_queries": 1000},
            "robustness_tabular": {"n_samples": 1000},
            "privacy_membership_inference": {"n_reference_models": 8},
        }),
})


def list_presets() -> list[str]:
    """Every preset name: quick, standard, full and one per family.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from auditkit import list_presets
    >>> list_presets()[:3]
    ['quick', 'standard', 'full']
    """
    return [*PRESETS, *FAMILIES]


def _preset(preset: str) -> Preset:
    if preset in PRESETS:
        return PRESETS[preset]
    if preset in FAMILIES:
        return Preset(description=f"The {preset} checks at their default options.",
                      checks=tuple(list_checks(preset)))
    raise CheckError(UNKNOWN_NAME.format(param="preset", expected=list_presets(), got=preset))


def preset_checks(preset: str) -> list[str]:
    """The registered checks a preset runs, in report order.

    Parameters
    ----------
    preset : str
        ``"quick"``, ``"standard"``, ``"full"`` or a family name.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from auditkit import preset_checks
    >>> preset_checks("quick")[:2]
    ['performance_metrics', 'performance_confusion_matrix']
    """
    return _preset(preset).names()


def preset_options(preset: str) -> dict[str, dict[str, Any]]:
    """The options a preset gives each of its checks (empty: the check's defaults).

    Parameters
    ----------
    preset : str
        ``"quick"``, ``"standard"``, ``"full"`` or a family name.

    Returns
    -------
    dict of str to dict
        Check name -> option name -> value, for every check of
        :func:`preset_checks`, in the same order.

    Examples
    --------
    >>> from auditkit import preset_options
    >>> preset_options("quick")["performance_metrics"]
    {'n_resamples': 200}
    """
    chosen = _preset(preset)
    return {name: dict(chosen.options.get(name, {})) for name in chosen.names()}
