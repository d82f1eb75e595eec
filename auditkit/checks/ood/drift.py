"""OOD: whether the audited data has drifted from the reference data, where, and how much.

Reference rows (:attr:`AuditData.reference_inputs`, the training inputs) and
audited rows (``X``) are compared feature by feature and as a whole. Tabular
data is compared on its own features: Kolmogorov-Smirnov tests of numeric
features and chi-square tests of categorical ones (a one-hot group is one
feature), corrected for multiple testing, with two effect sizes (Wasserstein
distance in reference standard deviations, population stability index); then
an MMD permutation test and a classifier two-sample test on all features at
once. Images, text and sequences are compared on what the model makes of
them: its penultimate features (else its logits, else its probabilities),
projected on their principal components fitted on the reference.

A huge sample makes a trivial shift significant, so the verdict rests on
effect sizes that must also be significant: the largest PSI among features
whose corrected p-value is below ``alpha``, and the lower confidence bound of
the classifier's AUROC. The maths is in :mod:`._drift`.

On learned features the reference should be data the model was not fitted
on: features of training inputs differ from those of unseen inputs as soon as
the model overfits, which these tests cannot tell from drift. When most
reference rows are training rows, the headline says so and the verdict
metrics are left out (the result is INFO): the tests are reported, not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._params import CONFIDENCE, NON_NEGATIVE_INT, Interval, Options
from ._common import model_outputs, reference_rows
from ._drift import (
    CLASSIFIERS,
    CORRECTIONS,
    NUMERIC,
    PSI_FLOOR,
    FeatureUnit,
    classifier_two_sample_test,
    feature_units,
    mmd_permutation_test,
    univariate_table,
)

__all__ = ["OODDrift"]

NO_REFERENCE = ("This check compares the audited data with reference data "
                "(AuditData(..., reference=...) or train=...); the audited data has neither.")
TOO_FEW = ("This check needs at least {minimum} reference and {minimum} audited samples; "
           "got {n_reference} and {n_audited}.")
NO_OUTPUTS = ("On {modality} data this check compares the model's features, logits or "
              "probabilities; the audited {framework} model gives none of them.")
_MIN_ROWS = 10
_N_SHOWN = 3  # most drifted features whose distributions are drawn
_CONFOUNDED = (", with training inputs as reference: the model was fitted on them, so "
               "overfitting alone can set them apart from unseen inputs, and the policy does "
               "not judge these tests; give held-out in-distribution data as "
               "AuditData(reference=...) to judge drift")
_SPACES = {"features": "penultimate-layer features", "logits": "logits",
           "proba": "predicted probabilities"}


@register_check
@dataclass(frozen=True)
class OODDrift(Check):
    """Drift between reference and audited data: per-feature and multivariate two-sample tests.

    Parameters
    ----------
    alpha : float, default=0.05
        Family-wise significance level of the per-feature tests, and level of the
        multivariate tests.
    correction : {"holm", "bonferroni"}, default="holm"
        Multiple-testing correction of the per-feature p-values.
    n_bins : int, default=10
        Reference-quantile bins of the population stability index (numeric features;
        categories are their own bins).
    n_resamples : int, default=1000
        Multinomial bootstrap resamples of the bin counts for PSI intervals (0 for none).
    n_permutations : int, default=500
        Random relabellings of the MMD permutation test; its p-value is at least
        ``1 / (1 + n_permutations)``.
    max_samples : int, default=1000
        Rows drawn at random from each sample for the MMD test, whose cost grows
        with the square of the rows (the per-feature tests use every row).
    max_classifier_samples : int, default=5000
        Rows drawn at random from each sample for the classifier two-sample test.
    max_reference : int or None, default=5000
        Images, text and sequences: reference rows run through the model (None: all).
    n_components : int, default=16
        Images, text and sequences: principal components of the model's features
        (fitted on the reference) that are compared.
    classifier : {"logistic", "gradient_boosting"}, default="logistic"
        The classifier of the two-sample test: a standardised logistic regression, or
        scikit-learn's histogram gradient boosting (finds non-linear differences, slower).
    test_fraction : float, default=0.5
        Share of the rows (stratified) held out to score the classifier; it is
        fitted on the others, so its held-out AUROC has a valid DeLong interval.
    confidence : float, default=0.95
        Level of the intervals (PSI, classifier AUROC).

    Examples
    --------
    >>> from auditkit.checks import OODDrift
    >>> OODDrift(alpha=0.01, correction="bonferroni").correction
    'bonferroni'
    """

    name = "ood_drift"
    requires = frozenset({"predict"})
    family = "ood"
    order = 40
    tags = ("data drift", "two-sample tests", "PSI", "MMD", "classifier two-sample test")
    description = ("Whether the audited data has drifted from the reference data: per-feature "
                   "Kolmogorov-Smirnov and chi-square tests with effect sizes (PSI, Wasserstein), "
                   "an MMD permutation test and a classifier two-sample test; on learned "
                   "features for images, text and sequences.")
    verdict_metrics = ("max_psi_significant", "classifier_auroc_lower_bound")
    shares = ("ood.logits", "ood.features")
    parameter_constraints = {
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "correction": [Options(CORRECTIONS)],
        "n_bins": [Interval(Integral, 2, None)],
        "n_resamples": NON_NEGATIVE_INT,
        "n_permutations": [Interval(Integral, 1, None)],
        "max_samples": [Interval(Integral, _MIN_ROWS, None)],
        "max_classifier_samples": [Interval(Integral, _MIN_ROWS, None)],
        "max_reference": [Interval(Integral, _MIN_ROWS, None), None],
        "n_components": [Interval(Integral, 1, None)],
        "classifier": [Options(CLASSIFIERS)],
        "test_fraction": [Interval(Real, 0.1, 0.9)],
        "confidence": CONFIDENCE,
    }

    alpha: float = 0.05
    correction: str = "holm"
    n_bins: int = 10
    n_resamples: int = 1000
    n_permutations: int = 500
    max_samples: int = 1000
    max_classifier_samples: int = 5000
    max_reference: int | None = 5000
    n_components: int = 16
    classifier: str = "logistic"
    test_fraction: float = 0.5
    confidence: float = 0.95

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply: no reference data, too few rows, or no model outputs."""
        reason = super().skip_reason(model, data)
        if reason is not None:
            return reason
        if data.reference is None and data.train is None:
            return NO_REFERENCE
        n_reference, n_audited = len(data.reference_inputs), data.n_samples
        if min(n_reference, n_audited) < _MIN_ROWS:
            return TOO_FEW.format(minimum=_MIN_ROWS, n_reference=n_reference,
                                  n_audited=n_audited)
        if data.modality != "tabular" and not ({"probabilities", "logits", "features"}
                                               & model.capabilities):
            return NO_OUTPUTS.format(modality=data.modality, framework=model.framework)
        return super().skip_reason(model, data)

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Run the tests; see the module docstring."""
        reference, audited, units, space = self._samples(model, data, context)
        rng = context.rng(self.name)
        table, bins = univariate_table(reference, audited, units, alpha=self.alpha,
                                       correction=self.correction, n_bins=self.n_bins,
                                       n_resamples=self.n_resamples,
                                       confidence=self.confidence, rng=rng)
        ref_rows = _subsample(len(reference), self.max_samples, rng)
        aud_rows = _subsample(len(audited), self.max_samples, rng)
        scaled_ref, scaled_aud = _scaled(reference, audited, units)
        mmd = mmd_permutation_test(scaled_ref[ref_rows], scaled_aud[aud_rows],
                                   n_permutations=self.n_permutations, rng=rng)
        ref_fit = _subsample(len(reference), self.max_classifier_samples, rng)
        aud_fit = _subsample(len(audited), self.max_classifier_samples, rng)
        c2st = classifier_two_sample_test(reference[ref_fit], audited[aud_fit], units,
                                          classifier=self.classifier,
                                          test_fraction=self.test_fraction,
                                          confidence=self.confidence, rng=rng)
        n_multi = (len(ref_rows), len(aud_rows))
        metrics = self._metrics(table, mmd, c2st, len(audited), n_multi[1])
        if _CONFOUNDED in space:
            # Not judged: the model's features of its own training rows differ from those of
            # unseen rows whenever it overfits, so a flag here would not mean drift.
            for name in self.verdict_metrics:
                metrics.pop(name)
        tables = {"features": table,
                  "multivariate": self._multivariate_table(
                      mmd, c2st, n_multi, (len(ref_fit), len(aud_fit)), space),
                  "separating_features": c2st.importance}
        figures = self._figures(table, bins, mmd, space)
        return self.result(Status.INFO, self._headline(table, metrics, mmd, space),
                           metrics=metrics, tables=tables, figures=figures)

    # -- what is compared ---------------------------------------------------------------

    def _samples(self, model: ModelAdapter, data: AuditData, context: CheckContext
                 ) -> tuple[np.ndarray, np.ndarray, list[FeatureUnit], str]:
        """Reference and audited rows in the space the tests compare, its features, its name."""
        if data.modality == "tabular":
            units = feature_units(data.X.shape[1], feature_names=data.feature_names,
                                  feature_groups=data.feature_groups,
                                  categorical_features=data.categorical_features)
            return (np.asarray(data.reference_inputs, dtype=np.float64),
                    np.asarray(data.X, dtype=np.float64), units, "input features")
        rows = reference_rows(data, self.max_reference, context)
        with_features = "features" in model.capabilities
        ref_out = model_outputs(model, data.reference_inputs[rows], context,
                                key=f"reference[max {self.max_reference}]",
                                features=with_features)
        aud_out = model_outputs(model, data.X, context, key="test", features=with_features)
        kind = ("features" if ref_out.features is not None else
                "logits" if ref_out.logits is not None else "proba")
        ref, aud = (np.asarray(getattr(out, kind), dtype=np.float64)
                    for out in (ref_out, aud_out))
        k = min(self.n_components, ref.shape[1], len(ref) - 1)
        pca = PCA(n_components=k, svd_solver="full").fit(ref)
        kept = pca.explained_variance_ > 1e-10 * max(pca.explained_variance_.sum(), 1e-300)
        kept[0] = True
        ref, aud = pca.transform(ref)[:, kept], pca.transform(aud)[:, kept]
        units = [FeatureUnit(f"PC{i + 1}", (i,), NUMERIC) for i in range(ref.shape[1])]
        share = pca.explained_variance_ratio_[kept].sum()
        space = (f"the first {ref.shape[1]} principal components ({share:.0%} of the variance) "
                 f"of the model's {_SPACES[kind]}")
        if kind != "features":
            space += " (the model exposes no penultimate features)"
        if _training_share(data, data.reference_inputs[rows]) > 0.5:
            space += _CONFOUNDED
        return ref, aud, units, space

    # -- numbers ------------------------------------------------------------------------

    def _metrics(self, table: pd.DataFrame, mmd: Any, c2st: Any, n_audited: int,
                 n_multi: int) -> dict[str, Metric]:
        drifted = table[table["drifted"]]
        method = self._psi_method()
        if len(drifted):
            worst = drifted.loc[drifted["psi"].idxmax()]
            bounded = bool(self.n_resamples)
            max_significant = Metric(worst["psi"], worst["psi_lower"] if bounded else None,
                                     worst["psi_upper"] if bounded else None,
                                     self.confidence if bounded else None, n_audited, method,
                                     False)
        else:
            max_significant = Metric(0.0, n=n_audited, method="no feature drifted "
                                     f"significantly ({self.correction}, alpha {self.alpha:g})",
                                     higher_is_better=False)
        delong = (f"DeLong, on {c2st.n_held_out} held-out rows ({c2st.n_held_out_audited} "
                  "audited)")
        n_held = c2st.n_held_out_audited
        return {
            "max_psi_significant": max_significant,
            "max_psi": Metric(float(table["psi"].max()), n=n_audited, higher_is_better=False),
            "drifted_share": Metric(float(table["drifted"].mean()), n=n_audited,
                                    method=f"{self.correction}-corrected p < {self.alpha:g}",
                                    higher_is_better=False),
            "classifier_auroc": Metric(c2st.auroc, c2st.lower, c2st.upper, self.confidence,
                                       n_held, delong, False),
            "classifier_auroc_lower_bound": Metric(c2st.lower, n=n_held, method=delong,
                                                   higher_is_better=False),
            "classifier_p_value": Metric(c2st.p_value, n=n_held,
                                         method="one-sided DeLong z-test of AUROC > 0.5"),
            "mmd_squared": Metric(mmd.statistic, n=n_multi, higher_is_better=False,
                                  method="unbiased estimator, Gaussian kernel"),
            "mmd_p_value": Metric(mmd.p_value, n=n_multi,
                                  method=f"permutation test, {mmd.n_permutations} permutations"),
        }

    def _psi_method(self) -> str:
        """How PSI is computed, as stated in the result."""
        text = (f"PSI over {self.n_bins} reference-quantile bins (numeric; categories for "
                f"categorical features), proportions floored at {PSI_FLOOR:g}")
        if self.n_resamples:
            text += ("; bias-corrected percentile interval of a multinomial bootstrap of the "
                     f"bin counts, {self.n_resamples} resamples")
        return text

    def _multivariate_table(self, mmd: Any, c2st: Any, n: tuple[int, int],
                            n_classifier: tuple[int, int], space: str) -> pd.DataFrame:
        return pd.DataFrame([
            {"test": "MMD (Gaussian kernel, unbiased MMD^2)", "statistic": mmd.statistic,
             "p_value": mmd.p_value, "lower": np.nan, "upper": np.nan,
             "drifted": mmd.p_value < self.alpha, "n_reference": n[0], "n_audited": n[1],
             "detail": f"bandwidth {mmd.bandwidth:.4g} (median heuristic), "
                       f"{mmd.n_permutations} permutations; on {space}"},
            {"test": "Classifier two-sample test (AUROC)", "statistic": c2st.auroc,
             "p_value": c2st.p_value, "lower": c2st.lower, "upper": c2st.upper,
             "drifted": c2st.p_value < self.alpha, "n_reference": n_classifier[0],
             "n_audited": n_classifier[1],
             "detail": f"{c2st.classifier.replace('_', ' ')} classifier fitted on {c2st.n_fit} "
                       f"rows, scored on {c2st.n_held_out} held-out rows, DeLong interval; "
                       f"on {space}"},
        ])

    # -- figures and headline -----------------------------------------------------------

    def _figures(self, table: pd.DataFrame, bins: list[dict], mmd: Any,
                 space: str) -> dict[str, Figure]:
        order = table.sort_values(["drifted", "psi"], ascending=False, kind="stable").index
        shown = list(order[:_N_SHOWN])
        effect = Figure("drift_effect_sizes", {
            "features": table["feature"].tolist(), "psi": table["psi"].to_numpy(),
            "psi_lower": table["psi_lower"].to_numpy(), "psi_upper": table["psi_upper"].to_numpy(),
            "wasserstein_sd": table["wasserstein_sd"].to_numpy(),
            "drifted": table["drifted"].to_numpy(), "alpha": self.alpha,
            "correction": self.correction, "space": space, "binning": self._psi_method()},
            "Effect size of the shift, per feature")
        distributions = Figure("drift_distributions", {
            "features": [bins[i]["feature"] for i in shown],
            "kinds": [bins[i]["kind"] for i in shown],
            "labels": [list(bins[i]["labels"]) for i in shown],
            "reference": [np.asarray(bins[i]["reference"], dtype=np.float64) for i in shown],
            "audited": [np.asarray(bins[i]["audited"], dtype=np.float64) for i in shown],
            "psi": table.loc[shown, "psi"].to_numpy(),
            "p_corrected": table.loc[shown, "p_corrected"].to_numpy()},
            "Reference and audited distributions of the most drifted features")
        null = Figure("mmd_permutation_null", {
            "null": mmd.null, "observed": mmd.statistic, "p_value": mmd.p_value,
            "n_permutations": mmd.n_permutations, "bandwidth": mmd.bandwidth},
            "MMD permutation test: null distribution and observed statistic")
        return {"effect_sizes": effect, "distributions": distributions, "mmd_null": null}

    def _headline(self, table: pd.DataFrame, metrics: dict[str, Metric], mmd: Any,
                  space: str) -> str:
        drifted = table[table["drifted"]]
        what = "features" if space == "input features" else "components"
        auroc = metrics["classifier_auroc"]
        text = (f"{len(drifted)} of {len(table)} {what} drifted ({self.correction}-corrected "
                f"p < {self.alpha:g})")
        if len(drifted):
            worst = drifted.loc[drifted["psi"].idxmax()]
            text += f", the largest shift {worst['feature']} (PSI {worst['psi']:.3f})"
        text += (f"; a classifier tells audited from reference rows with AUROC {auroc.value:.3f} "
                 f"[{auroc.lower:.3f}, {auroc.upper:.3f}]; MMD permutation p = "
                 f"{mmd.p_value:.3g}")
        if space != "input features":
            text += f"; compared on {space}"
        return text + "."


def _training_share(data: AuditData, reference: np.ndarray) -> float:
    """Share of the reference rows that are rows of the training set (hashed, vectorised)."""
    if data.train is None:
        return 0.0
    if data.reference is None:
        return 1.0

    def hashes(rows: np.ndarray) -> np.ndarray:
        flat = pd.DataFrame(np.asarray(rows).reshape(len(rows), -1))
        return pd.util.hash_pandas_object(flat, index=False).to_numpy()

    return float(np.isin(hashes(reference), hashes(data.train.X)).mean())


def _subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: all rows, or ``cap`` of them drawn without replacement."""
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, size=cap, replace=False))


def _scaled(reference: np.ndarray, audited: np.ndarray,
            units: list[FeatureUnit]) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns standardised by the reference (kernel distances in its units).

    One-hot columns stay 0/1: a differing category adds 2 to a squared distance.
    """
    numeric = [u.columns[0] for u in units if u.kind == NUMERIC]
    centre = np.zeros(reference.shape[1])
    scale = np.ones(reference.shape[1])
    centre[numeric] = reference[:, numeric].mean(axis=0)
    spread = reference[:, numeric].std(axis=0)
    scale[numeric] = np.where(spread > 0, spread, 1.0)
    return (reference - centre) / scale, (audited - centre) / scale

