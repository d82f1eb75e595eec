"""Explanations: whether the methods agree, and which one is most faithful for this model.

Reads the attributions every explanation check of this audit produced (they
explain the same samples), and reports the rank correlation between each
pair of methods, the method with the largest faithfulness gain over random
attributions, and the methods whose explanations barely change when the
model's weights are randomised (they fail the sanity check).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from ._common import methods_cache, rank_correlation

__all__ = ["ExplanationsAgreement"]


@register_check
@dataclass(frozen=True)
class ExplanationsAgreement(Check):
    """Agreement between explanation methods, and the most faithful one.

    Parameters
    ----------
    sanity_cutoff : float, default=0.5
        A method whose mean rank correlation with its weight-randomised
        explanations reaches this value is named as failing the sanity check.
    """

    name = "explanations_agreement"
    family = "explanations"
    description = ("Rank agreement between the explanation methods run in this audit, the most "
                   "faithful method, and the methods that fail the sanity check.")
    requires = frozenset({"predict"})
    order = 99

    sanity_cutoff: float = 0.5

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compare the cached attributions of the methods that ran."""
        methods = methods_cache(context, model)
        if len(methods) < 2:
            return self.result(Status.SKIP, "Fewer than two explanation methods ran in this "
                               "audit (run the 'explanations' preset to compare them).")
        names = list(methods)
        labels = [methods[m]["method"] for m in names]
        matrix = np.eye(len(names))
        for (i, a), (j, b) in combinations(enumerate(names), 2):
            common, ia, ib = np.intersect1d(methods[a]["index"], methods[b]["index"],
                                            return_indices=True)
            if not len(common):
                matrix[i, j] = matrix[j, i] = np.nan
                continue
            valid = methods[a]["valid"][ia]
            rho = rank_correlation(np.abs(methods[a]["scores"][ia]),
                                   np.abs(methods[b]["scores"][ib]), valid)
            matrix[i, j] = matrix[j, i] = float(np.nanmean(rho))
        gains = {methods[m]["method"]: methods[m]["gain"] for m in names}
        best = max(gains, key=gains.get)
        failing = [methods[m]["method"] for m in names if methods[m]["sanity"] is not None
                   and methods[m]["sanity"] >= self.sanity_cutoff]
        off_diagonal = matrix[~np.eye(len(names), dtype=bool)]
        table = pd.DataFrame({
            "method": labels,
            "faithfulness_gain": [methods[m]["gain"] for m in names],
            "randomisation_rank_correlation": [np.nan if methods[m]["sanity"] is None
                                               else methods[m]["sanity"] for m in names],
            "fails_sanity_check": [m in failing for m in labels],
        })
        headline = (f"Most faithful for this model: {best} (faithfulness gain "
                    f"{gains[best]:+.3f} over random attributions). Mean rank agreement between "
                    f"methods {np.nanmean(off_diagonal):.2f}. ")
        headline += (f"Failing the sanity check: {', '.join(failing)}." if failing else
                     "No method fails the model-randomisation sanity check.")
        return self.result(
            Status.INFO, headline,
            metrics={"mean_rank_agreement": Metric(float(np.nanmean(off_diagonal)),
                                                   higher_is_better=True),
                     "methods_failing_sanity_check": Metric(float(len(failing)),
                                                            higher_is_better=False)},
            tables={"methods": table,
                    "agreement": pd.DataFrame(matrix, index=pd.Index(labels, name="method"),
                                              columns=pd.Index(labels, name="method"))},
            figures={"agreement": Figure("agreement_matrix", {"matrix": matrix,
                                                              "labels": labels},
                                         "Rank agreement between methods (Spearman)")})
