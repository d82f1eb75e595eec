"""Performance: whether the model's confidence matches how often it is right.

Expected calibration error (ECE, Naeini et al. 2015; Guo et al. 2017): the
samples are binned by confidence (the top predicted probability) and ECE is
the sample-weighted mean gap |accuracy - mean confidence| over the bins;
maximum calibration error (MCE) is the largest gap. Reliability-diagram data
come with them, and the class-1 calibration curve of scikit-learn for binary
models.

The plug-in ECE is biased upwards (a bin's |gap| is positive even when the model
is calibrated), and so is every resample of it: a percentile bootstrap interval
can lie wholly above the estimate. The resamples are those of a Poisson
bootstrap (each row weighted by a Poisson(1) count), whose memory does not grow
with the number of rows. The interval reported is the percentile
interval of the resamples shifted down by their estimated bias, so it is the
estimate's sampling spread and contains it. The method string states the
estimated bias, so a reader can take it off the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from sklearn.calibration import calibration_curve

from ..._stats import (
    WILSON,
    BootstrapSpec,
    bias_corrected_interval,
    expected_calibration_error,
    poisson_bootstrap,
    wilson_interval,
)
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._classification import ResampledECE, predictions
from .._params import CONFIDENCE, NON_NEGATIVE_INT, Interval

__all__ = ["PerformanceCalibration"]


@register_check
@dataclass(frozen=True)
class PerformanceCalibration(Check):
    """Expected and maximum calibration error, with reliability-diagram data.

    Parameters
    ----------
    n_bins : int, default=15
        Equal-width confidence bins (at least 2).
    n_resamples : int, default=1000
        Bootstrap resamples for the ECE interval (0 for none).
    confidence : float, default=0.95
        Level of the interval, in (0, 1).

    Examples
    --------
    >>> from auditkit.checks import PerformanceCalibration
    >>> PerformanceCalibration(n_bins=10).n_bins
    10
    """

    name = "performance_calibration"
    family = "performance"
    order = 2
    description = ("Whether predicted probabilities can be read as probabilities: expected "
                   "calibration error and a reliability diagram.")
    requires = frozenset({"predict", "probabilities"})

    verdict_metrics = ("expected_calibration_error",)
    shares = ("predictions",)
    streams = True  # every row of streamed data, through the shared predictions
    parameter_constraints = {"n_bins": [Interval(Integral, 2, None)],
                             "n_resamples": NON_NEGATIVE_INT, "confidence": CONFIDENCE}

    n_bins: int = 15
    n_resamples: int = 1000
    confidence: float = 0.95

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the class docstring."""
        spec = BootstrapSpec(self.n_resamples, self.confidence)
        pred = predictions(model, data, context)
        ece, bins = expected_calibration_error(pred.confidence, pred.correct, self.n_bins)
        low = high = None
        method = None
        if spec.n_resamples:
            samples = poisson_bootstrap(ResampledECE(pred, self.n_bins), spec=spec,
                                        rng=context.rng(self.name), executor=context.executor)
            low, high, bias = bias_corrected_interval(samples["ece"], ece, spec.confidence)
            low = max(low, 0.0)  # an ECE is never negative
            method = (f"bias-corrected {spec.poisson_method}: the "
                      f"resampled ECEs shifted by their estimated bias ({bias:+.4f}), so the "
                      "interval is the spread of the estimate around itself")
        populated = bins[bins["count"] > 0]
        mce = float(populated["gap"].abs().max())
        mean_conf, accuracy = float(pred.confidence.mean()), float(pred.correct.mean())
        metrics = {
            "expected_calibration_error": Metric(ece, low, high, spec.confidence if low is not None
                                                 else None, pred.n, method, False),
            "maximum_calibration_error": Metric(mce, n=pred.n, higher_is_better=False),
            "mean_confidence": Metric(mean_conf, n=pred.n),
            "accuracy": Metric(accuracy, *map(float, wilson_interval(
                int(pred.correct.sum()), pred.n, spec.confidence)), spec.confidence, pred.n,
                WILSON, True),
        }
        gap = mean_conf - accuracy
        interval = (f" ({spec.confidence:.0%} bias-corrected interval {low:.3f} to {high:.3f})"
                    if low is not None and high is not None else "")
        headline = (f"Expected calibration error {ece:.3f}{interval} over {self.n_bins} bins; "
                    f"mean confidence {mean_conf:.1%} against accuracy {accuracy:.1%} "
                    f"(confidence minus accuracy {gap * 100:+.1f} points).")
        figure_data = {"bin_lower": bins["lower"].to_numpy(), "bin_upper": bins["upper"].to_numpy(),
                       "mean_confidence": bins["mean_confidence"].to_numpy(),
                       "accuracy": bins["accuracy"].to_numpy(),
                       "count": bins["count"].to_numpy()}
        figures = {"reliability": Figure("reliability_diagram", figure_data,
                                         "Reliability diagram")}
        if pred.n_classes == 2:
            frac_pos, mean_pred = calibration_curve(pred.y == 1, pred.proba[:, 1],
                                                    n_bins=min(self.n_bins, 10),
                                                    strategy="quantile")
            figures["calibration_curve"] = Figure(
                "calibration_curve", {"mean_predicted": mean_pred, "fraction_positive": frac_pos,
                                      "positive_class": pred.class_names[1]},
                f"Calibration curve of class {pred.class_names[1]!r} (quantile bins)")
        return self.result(Status.INFO, headline, metrics=metrics, tables={"bins": bins},
                           figures=figures)
