"""Plots of the covariate-shift and selective-prediction checks (OOD family).

Registered with :func:`auditkit.report._plots.plotter` when the report package
is imported: accuracy and detection AUROC against severity (two panels, one
line per corruption, silent failures ringed), calibration error against
severity, and the risk-coverage curve with the random-abstention and optimal
curves. Lines differ in colour, dash and marker, so they read apart in grey.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..results import Figure
from ._plots import PALETTE, _capped_legend, _series_style, _wrapped, new_figure, plotter

_GREY = "#6B6B6B"
_RING = "black"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _lines(ax: Any, severities: np.ndarray, values: np.ndarray, lower: np.ndarray,
           upper: np.ndarray, labels: list[str], *, clean: float | None) -> np.ndarray:
    """One line with intervals per row of ``values``, starting at severity 0 from ``clean``."""
    offsets = (np.arange(len(labels)) - (len(labels) - 1) / 2) * 0.04
    for i, label in enumerate(labels):
        error = np.nan_to_num(np.vstack([np.clip(values[i] - lower[i], 0, None),
                                         np.clip(upper[i] - values[i], 0, None)]))
        x, y = severities + offsets[i], values[i]
        if clean is not None:
            ax.plot([0, x[0]], [clean, y[0]], linewidth=0.8, alpha=0.6, **_series_style(i))
        ax.errorbar(x, y, yerr=error, marker=_MARKERS[i % len(_MARKERS)], markersize=4,
                    capsize=2, linewidth=1.4, label=_wrapped(label), **_series_style(i))
    ticks = np.concatenate([[0], severities]) if clean is not None else severities
    ax.set_xticks(ticks, ["clean" if t == 0 else str(int(t)) for t in ticks])
    ax.set_xlabel("Severity")
    return offsets


@plotter("ood_shift_curves")
def ood_shift_curves(figure: Figure) -> Any:
    """Accuracy (left) and detection AUROC (right) against severity, one line per corruption."""
    data = figure.data
    severities = np.asarray(data["severities"], dtype=float)
    labels = [str(label) for label in data["labels"]]
    accuracy = np.atleast_2d(np.asarray(data["accuracy"], dtype=float))
    silent = np.atleast_2d(np.asarray(data["silent"], dtype=bool))
    level = float(data.get("confidence", 0.95))
    fig = new_figure(7.5, 4.2)
    left, right = fig.subplots(1, 2)
    clean = float(data["clean_accuracy"])
    left.axhline(clean, color=_GREY, linestyle="--", linewidth=1.0, label=f"clean ({clean:.1%})")
    offsets = _lines(left, severities, accuracy, np.atleast_2d(data["lower"]),
                     np.atleast_2d(data["upper"]), labels, clean=clean)
    rows, cols = np.nonzero(silent)
    if len(rows):
        left.scatter(severities[cols] + offsets[rows], accuracy[rows, cols], s=90,
                     facecolors="none", edgecolors=_RING, linewidths=1.4, zorder=5,
                     label="silent failure")
    left.set_ylim(0, 1.02)
    left.set_ylabel(f"Accuracy ({level:.0%} intervals, n={int(data['n']):,})")
    left.set_title("Accuracy")
    handles, names = left.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=min(4, len(names)),
               fontsize=8.0)

    auroc = np.atleast_2d(np.asarray(data["auroc"], dtype=float))
    right.axhline(0.5, color=_GREY, linestyle=":", linewidth=1.0)
    right.axhspan(0.5, float(data["detection_auroc"]), color=_GREY, alpha=0.12, linewidth=0)
    _lines(right, severities, auroc, np.atleast_2d(data["auroc_lower"]),
           np.atleast_2d(data["auroc_upper"]), labels, clean=0.5)
    right.set_ylim(min(0.0, float(np.nanmin(auroc)) - 0.05), 1.02)
    right.set_ylabel(f"AUROC, shifted vs clean ({level:.0%} intervals)")
    right.set_title(f"Detection: {data['detector']}", fontsize=8.5)
    right.annotate(f"grey band: AUROC under {float(data['detection_auroc']):g} (not seen)",
                   xy=(0.02, 0.02), xycoords="axes fraction", fontsize=8.0, color=_GREY)
    fig.suptitle(figure.title or "Accuracy and shift detection against severity",
                 fontsize=9.0, fontweight="bold")
    return fig


@plotter("ood_shift_calibration")
def ood_shift_calibration(figure: Figure) -> Any:
    """Expected calibration error against severity, one line per corruption; clean as a band."""
    data = figure.data
    severities = np.asarray(data["severities"], dtype=float)
    labels = [str(label) for label in data["labels"]]
    ece = np.atleast_2d(np.asarray(data["ece"], dtype=float))
    fig = new_figure()
    ax = fig.subplots()
    clean = float(data["clean_ece"])
    low, high = (float(data[k]) if data.get(k) is not None else clean
                 for k in ("clean_lower", "clean_upper"))
    ax.axhspan(low, high, color=_GREY, alpha=0.15, linewidth=0)
    ax.axhline(clean, color=_GREY, linestyle="--", linewidth=1.0, label=f"clean ({clean:.3f})")
    _lines(ax, severities, ece, np.atleast_2d(data["lower"]), np.atleast_2d(data["upper"]),
           labels, clean=clean)
    ax.set_ylim(0, max(0.05, float(np.nanmax(np.atleast_2d(data["upper"]))) * 1.1, high * 1.1))
    ax.set_ylabel(f"ECE ({float(data.get('confidence', 0.95)):.0%} intervals, "
                  f"n={int(data['n']):,})")
    ax.set_title(figure.title or "Expected calibration error against severity")
    _capped_legend(ax, len(labels) + 1, loc="upper left")
    return fig


@plotter("risk_coverage_curve")
def risk_coverage_curve(figure: Figure) -> Any:
    """Risk against coverage, with random and optimal rejection; shifted copies beside."""
    data = figure.data
    coverage = np.asarray(data["coverage"], dtype=float)
    risk = np.asarray(data["risk"], dtype=float)
    error_rate = float(data["error_rate"])
    shifted = np.atleast_2d(np.asarray(data.get("shift_risk", []), dtype=float))
    shift_labels = [str(label) for label in data.get("shift_labels", [])]
    fig = new_figure(7.5, 3.6) if shift_labels else new_figure()
    axes = fig.subplots(1, 2) if shift_labels else [fig.subplots()]
    ax = axes[0]
    ax.plot(coverage, risk, color=PALETTE[0], linewidth=2.0,
            label=f"{data.get('score', 'msp')} (AURC {float(data['aurc']):.3g})")
    ax.plot(coverage, np.asarray(data["optimal_risk"], dtype=float), color="black",
            linestyle=":", linewidth=1.2, label="optimal ranking")
    ax.axhline(error_rate, color=_GREY, linestyle="--", linewidth=1.0,
               label=f"random rejection ({error_rate:.1%})")
    for target in np.asarray(data.get("coverages", []), dtype=float):
        ax.axvline(target, color=_GREY, linewidth=0.5, alpha=0.4)
    tail = risk[len(coverage) // 10:]
    ax.set_ylim(0, min(1.02, max(error_rate, float(np.nanmax(tail)) if tail.size else 0) * 1.25
                       + 0.005))
    ax.set_xlim(0, 1.0)
    ax.set_xlabel("Coverage (share accepted)")
    ax.set_ylabel("Risk (error rate among accepted)")
    ax.set_title(f"Audited samples (n={int(data['n']):,})")
    ax.legend(loc="upper left", fontsize=8.0)
    if shift_labels:
        ax = axes[1]
        ax.plot(coverage, risk, color=PALETTE[0], linewidth=2.0, label="clean")
        for i, label in enumerate(shift_labels):
            ax.plot(coverage, shifted[i], linewidth=1.2, label=_wrapped(label),
                    **_series_style(i + 1))
        ax.set_xlim(0, 1.0)
        ax.set_ylim(0, min(1.02, float(np.nanmax(shifted)) * 1.1 + 0.01))
        ax.set_xlabel("Coverage (share accepted)")
        ax.set_title(f"Under shift (severity {int(data.get('severity', 0))})")
        ax.legend(loc="upper left", fontsize=8.0)
    fig.suptitle(figure.title or "Risk against coverage", fontsize=9.0, fontweight="bold")
    return fig
