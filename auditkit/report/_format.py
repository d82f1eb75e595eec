"""How numbers, names and statuses read in the report (HTML and PDF alike).

Rates and accuracies between 0 and 1 read as percentages with one decimal;
every other number reads with 3 significant digits (4 in tables).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import numpy as np

from .._families import FAMILY_TITLES
from ..results import Status

__all__ = ["format_number", "format_metric", "format_cell", "format_value", "humanize",
           "column_label", "marked_parts", "family_title", "is_rate", "is_numeric",
           "FAMILY_TITLES", "VERDICTS"]

_RATE_WORDS = ("accuracy", "rate", "recall", "precision", "share", "fraction", "coverage",
               "tpr", "fpr", "proportion")
_NOT_RATE_WORDS = ("difference", "ratio", "gap", "change")
_ACRONYMS = {"roc": "ROC", "auc": "AUC", "f1": "F1", "tpr": "TPR", "fpr": "FPR", "ood": "OOD",
             "knn": "KNN", "pgd": "PGD", "fgsm": "FGSM", "ece": "ECE", "mce": "MCE",
             "lira": "LiRA", "rmia": "RMIA", "id": "ID", "sha256": "SHA-256", "fid": "FID",
             "ci": "CI", "ks": "KS", "mia": "MIA", "fnr": "FNR", "tnr": "TNR", "psi": "PSI",
             "auroc": "AUROC", "aurc": "AURC", "sd": "SD", "ppv": "PPV",
             "mmd": "MMD", "kl": "KL", "js": "JS", "ssim": "SSIM", "svg": "SVG"}
_LABELS = {"n_samples": "Samples", "n_train": "Training samples", "n_resamples": "Resamples",
           "n_bins": "Bins", "sha256": "SHA-256", "ood_sets": "OOD sets", "n": "n",
           "p_value": "p-value", "p_value_holm": "p-value (Holm)",
           "p_corrected": "p (corrected)", "f1": "F1"}
#: Unit suffixes of names, shown in brackets: ``duration_s`` -> ``"Duration (s)"``.
_UNITS = {"s": "s", "ms": "ms", "pct": "%", "px": "px", "mb": "MB"}
_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)pct\b")
#: Names a table's column header is made readable from (snake_case identifiers).
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_.]*")
_MARKED = re.compile(r"\[\[(.+?)\]\]")

#: What the overall verdict means, in one sentence.
VERDICTS = {
    Status.ERROR: "At least one check could not be completed; its evidence is missing.",
    Status.FAIL: "At least one check is past the failure level of the policy.",
    Status.WARN: "No check fails, but at least one is past a warning level of the policy.",
    Status.PASS: "Every check the policy judges is within its thresholds.",
    Status.INFO: "The checks measured the model; no policy threshold applied to them.",
    Status.SKIP: "No check applied to this model and data.",
}


def humanize(name: str) -> str:
    """``"roc_auc"`` -> ``"ROC AUC"``, ``"expected_calibration_error"`` -> ``"Expected ..."``."""
    if name in _LABELS:
        return _LABELS[name]
    words = str(name).replace("_", " ").split()
    unit = ""
    if len(words) > 1 and words[-1] in _UNITS:
        unit = f" ({_UNITS[words.pop()]})"
    words = [_ACRONYMS.get(word.lower(), word) for word in words]
    if not words:
        return str(name)
    first = words[0]
    if first == "n" and len(words) > 1:  # a count: "n members"
        pass
    elif first not in _ACRONYMS.values():
        words[0] = first[:1].upper() + first[1:]
    return _PERCENT.sub(r"\1%", " ".join(words)) + unit


def column_label(name: object) -> str:
    """A table's column header: snake_case names made readable, other labels kept.

    ``"fpr_upper"`` -> ``"FPR upper"``, ``"n"`` -> ``"n"``, but a class or group
    label (``"sex=Female"``, ``">50K"``, ``"GradientShap"``) stays as the data
    has it.
    """
    text = str(name)
    return humanize(text) if _IDENTIFIER.fullmatch(text) else text


def marked_parts(text: str) -> tuple[tuple[str, bool], ...]:
    """``"a [[he]] b"`` -> ``(("a ", False), ("he", True), (" b", False))``; ``()`` if unmarked.

    The counterfactual checks mark the words they swapped with ``[[...]]``; the
    report highlights them (as escaped text in ``<mark>``, never as markup).
    """
    if "[[" not in text:
        return ()
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _MARKED.finditer(text):
        if match.start() > position:
            parts.append((text[position:match.start()], False))
        parts.append((match.group(1), True))
        position = match.end()
    if position < len(text):
        parts.append((text[position:], False))
    return tuple(parts) if any(marked for _, marked in parts) else ()


def family_title(family: str) -> str:
    """The section title of ``family``."""
    return FAMILY_TITLES.get(family, humanize(family))


def is_rate(name: str, *values: float | None) -> bool:
    """Whether metric ``name`` is a rate to show as a percentage (all values in [0, 1])."""
    lowered = name.lower()
    if not any(word in lowered for word in _RATE_WORDS):
        return False
    if any(word in lowered for word in _NOT_RATE_WORDS):
        return False
    return all(v is None or (math.isfinite(v) and 0.0 <= v <= 1.0) for v in values)


def format_number(value: float | None, *, digits: int = 3, percent: bool = False) -> str:
    """A number with ``digits`` significant digits, or as a percentage with one decimal."""
    if value is None:
        return "\u2014"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "\u221e" if value > 0 else "\u2212\u221e"
    if percent:
        return f"{value:.1%}"
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 10 ** digits:
        text = f"{value:.{digits}g}"
    else:
        text = f"{value:.{digits - 1}e}" if abs(value) < 1e-4 else f"{value:,.0f}"
    return text


def format_metric(name: str, value: float | None, *, percent: bool | None = None) -> str:
    """A metric value as the report shows it."""
    if percent is None:
        percent = is_rate(name, value)
    return format_number(value, percent=percent)


def format_cell(value: Any) -> str:
    """A table cell: floats with 4 significant digits, everything else as text."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return format_number(float(value), digits=4)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2014"
    return str(value)


def is_numeric(value: Any) -> bool:
    """Whether a cell holds a number (right-aligned in tables)."""
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_))


def format_value(value: Any) -> str:
    """A parameter or card value on one line: numbers formatted, arrays summarised."""
    if isinstance(value, np.ndarray):
        if value.size <= 12:
            return format_value(value.tolist())
        return f"array of shape {value.shape} ({value.dtype})"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or "(none)"
    if value is None:
        return "\u2014"
    return format_cell(value)
