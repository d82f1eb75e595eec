"""Explanations: whether the methods agree, and which one is most faithful for this model.

Compares the attributions of several explanation methods on the same samples:
the rank correlation between each pair of methods, each method's faithfulness
gain over random orderings, and its rank correlation with the explanations of a
weight-randomised model. Each method's attributions are a value shared within
the audit: the methods that ran are reused, the others are computed here with
their default options, so the check also works on its own.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._params import SAMPLE_SIZE, Options, SequenceOf
from ._common import ExplanationCheck, rank_correlation
from .gradcam import ExplanationsGradCam
from .gradient_shap import ExplanationsGradientShap
from .integrated_gradients import ExplanationsIntegratedGradients
from .lime_surrogate import ExplanationsLime
from .occlusion import ExplanationsOcclusion
from .saliency import ExplanationsSaliency
from .shapley import ExplanationsShap

__all__ = ["ExplanationsAgreement"]

#: The methods the check can compare, by registered name.
METHODS: dict[str, type[ExplanationCheck]] = {cls.name: cls for cls in (
    ExplanationsIntegratedGradients, ExplanationsSaliency, ExplanationsGradientShap,
    ExplanationsOcclusion, ExplanationsGradCam, ExplanationsShap, ExplanationsLime)}
#: Methods left out of the default set unless they already ran in the audit (expensive).
EXPENSIVE = frozenset({ExplanationsLime.name})

FEWER_THAN_TWO = ("Fewer than two explanation methods apply to this model and data "
                  "(applicable: {found}).")


@register_check
@dataclass(frozen=True)
class ExplanationsAgreement(Check):
    """Agreement between explanation methods, and how faithful each one is.

    Parameters
    ----------
    methods : tuple of str, optional
        Registered names of the explanation checks to compare (at least two,
        for example ``("explanations_integrated_gradients",
        "explanations_occlusion")``). By default, every method that applies to
        the model and data, LIME only when it already ran in the audit.
    n_samples : int, optional
        How many samples each method explains; by default each method's own
        default, so the attributions of a preset's checks are reused.
    """

    name = "explanations_agreement"
    family = "explanations"
    description = ("Rank agreement between explanation methods on the same samples, with each "
                   "method's faithfulness gain and model-randomisation rank correlation.")
    requires = frozenset({"predict"})
    order = 99
    shares = ("proba", "predictions", "explanations.samples", "explanations.attributions",
              "explanations.evaluation", "explanations.shap_background")
    parameter_constraints = {
        "methods": [SequenceOf(Options(sorted(METHODS)), min_length=2, distinct=True), None],
        "n_samples": SAMPLE_SIZE,
    }

    methods: tuple[str, ...] | None = None
    n_samples: int | None = None

    def _instances(self, model: ModelAdapter, data: AuditData,
                   context: CheckContext) -> list[ExplanationCheck]:
        """The applicable methods to compare, as checks with their default options."""
        options: dict[str, Any] = {} if self.n_samples is None else {"n_samples": self.n_samples}
        names = list(self.methods) if self.methods is not None else list(METHODS)
        chosen = []
        for name in names:
            check = METHODS[name](**options)
            if check.skip_reason(model, data) is not None:
                continue
            if self.methods is None and name in EXPENSIVE and context.peek(
                    "explanations.attributions", check.attribution_key(model)) is None:
                continue
            chosen.append(check)
        return chosen

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Attribute with each method (or reuse its attributions) and compare them."""
        checks = self._instances(model, data, context)
        if len(checks) < 2:
            found = ", ".join(c.method for c in checks) or "none"
            return self.result(Status.SKIP, FEWER_THAN_TWO.format(found=found))
        attributions = [c.attributions(model, data, context) for c in checks]
        evaluations = [c.evaluation(model, data, context, a)
                       for c, a in zip(checks, attributions, strict=True)]
        labels = [c.method for c in checks]
        matrix = np.eye(len(checks))
        for (i, a), (j, b) in combinations(enumerate(attributions), 2):
            common, ia, ib = np.intersect1d(a.explained.index, b.explained.index,
                                            return_indices=True)
            if not len(common):
                matrix[i, j] = matrix[j, i] = np.nan
                continue
            rho = rank_correlation(np.abs(a.scores[ia]), np.abs(b.scores[ib]), a.valid()[ia])
            with warnings.catch_warnings():  # a pair with only constant rows has no mean
                warnings.simplefilter("ignore", RuntimeWarning)
                matrix[i, j] = matrix[j, i] = float(np.nanmean(rho))
        gains = [float(np.mean(e.areas()["faithfulness_gain"])) for e in evaluations]
        sanity = [np.nan if e.sanity is None or not np.isfinite(e.sanity.trained).any()
                  else float(np.nanmean(e.sanity.trained)) for e in evaluations]
        shares = [np.nan if e.sanity is None or e.sanity.why_not_judged() is not None
                  else e.sanity.null_share() for e in evaluations]
        off_diagonal = matrix[~np.eye(len(checks), dtype=bool)]
        agreement = float(np.nanmean(off_diagonal)) if np.isfinite(off_diagonal).any() \
            else float("nan")
        best = int(np.argmax(gains))
        metrics = {}
        if np.isfinite(agreement):  # NaN only when no pair of methods explains common samples
            metrics["mean_rank_agreement"] = Metric(agreement, n=len(checks),
                                                    higher_is_better=True)
        headline = (f"Mean rank agreement between {len(checks)} methods {agreement:.2f} "
                    f"(Spearman, absolute attributions); largest faithfulness gain: "
                    f"{labels[best]} ({gains[best]:+.3f})")
        if np.isfinite(sanity).any():
            metrics["max_randomisation_rank_correlation"] = Metric(
                float(np.nanmax(sanity)), n=int(np.isfinite(sanity).sum()),
                higher_is_better=False)
            headline += "; rank correlation with a weight-randomised model: " + ", ".join(
                f"{label} {rho:.2f}" for label, rho in zip(labels, sanity, strict=True)
                if np.isfinite(rho))
        table = pd.DataFrame({"method": labels, "check": [c.name for c in checks],
                              "n_samples": [len(a.explained) for a in attributions],
                              "faithfulness_gain": gains,
                              "randomisation_rank_correlation": sanity,
                              "randomisation_null_share": shares})
        return self.result(
            Status.INFO, headline + ".", metrics=metrics,
            tables={"methods": table,
                    "agreement": pd.DataFrame(matrix, index=pd.Index(labels, name="method"),
                                              columns=pd.Index(labels, name="method"))},
            figures={"agreement": Figure("agreement_matrix", {"matrix": matrix,
                                                              "labels": labels},
                                         "Rank agreement between methods (Spearman)")})
