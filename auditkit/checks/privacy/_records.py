"""Privacy: who leaks. Per-class and per-group TPR at a fixed threshold, and the top records.

The threshold is the one set on all non-members (1% FPR overall); within a
class or a sensitive group, the share of its members above it is the TPR
(Clopper-Pearson interval) and the share of its non-members above it the
FPR. The records with the highest membership scores are the per-record
evidence: tabular rows with feature names (sensitive values masked unless
asked), images as a figure, text with its raw string (``AuditData.texts``,
truncated), other modalities by index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..._stats import clopper_pearson_interval
from ...inputs import AuditData, ModelAdapter
from ...results import Figure
from ._common import MembershipSample

__all__ = ["MASK", "MEMBER_TEXT_MISSING", "TEXT_MISSING", "TEXT_WIDTH", "leak_by_group",
           "top_records"]

MASK = "***"
TEXT_WIDTH = 80
MEMBER_TEXT_MISSING = "(member text not supplied)"
TEXT_MISSING = "(text not supplied)"


def _shorten(text: str, width: int = TEXT_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1].rstrip() + "\u2026"


def _texts(sample: MembershipSample, data: AuditData, order: np.ndarray) -> list[str]:
    """The raw string of each record in ``order``: ``data.texts`` for audited rows.

    Members are rows of the training set, whose strings the data rarely
    carries (``data.train.texts`` when it has them).
    """
    train_texts = getattr(data.train, "texts", None) if data.train is not None else None
    shown = []
    for i in order:
        member, row = bool(sample.member[i]), int(sample.source_index[i])
        source = train_texts if member else data.texts
        if source is None:
            shown.append(MEMBER_TEXT_MISSING if member else TEXT_MISSING)
        else:
            shown.append(_shorten(source[row]))
    return shown


def _rates(scores: np.ndarray, member: np.ndarray, groups: np.ndarray, threshold: float,
           confidence: float) -> pd.DataFrame:
    values = np.unique(groups)
    inside = groups[None] == values[:, None]  # (g, n)
    above = scores > threshold
    n_mem = (inside & member).sum(axis=1)
    n_non = (inside & ~member).sum(axis=1)
    hits = (inside & member & above).sum(axis=1)
    false = (inside & ~member & above).sum(axis=1)
    low, high = clopper_pearson_interval(hits, n_mem, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"group": values.astype(str), "n_members": n_mem,
                             "tpr": hits / np.where(n_mem > 0, n_mem, np.nan),
                             "tpr_lower": low, "tpr_upper": high, "n_non_members": n_non,
                             "fpr": false / np.where(n_non > 0, n_non, np.nan)})


def leak_by_group(scores: np.ndarray, sample: MembershipSample, model: ModelAdapter,
                  threshold: float, confidence: float) -> dict[str, pd.DataFrame]:
    """``leak_by_class`` and, when the sample has sensitive features, ``leak_by_group`` tables."""
    tables = {"leak_by_class": _rates(scores, sample.member, np.asarray(sample.y).astype(str),
                                      threshold, confidence).rename(columns={"group": "class"})}
    if sample.sensitive is not None:
        frames = []
        for column in sample.sensitive.columns:
            frame = _rates(scores, sample.member, sample.sensitive[column].astype(str).to_numpy(),
                           threshold, confidence)
            frame.insert(0, "feature", column)
            frames.append(frame)
        tables["leak_by_group"] = pd.concat(frames, ignore_index=True)
    return tables


def top_records(scores: np.ndarray, sample: MembershipSample, data: AuditData, n: int,
                show_sensitive: bool) -> tuple[pd.DataFrame, Figure | None]:
    """The ``n`` records with the highest scores: a table, and a figure of images."""
    order = np.argsort(-scores, kind="stable")[:n]
    table = pd.DataFrame({"rank": np.arange(1, len(order) + 1), "member": sample.member[order],
                          "source": np.where(sample.member[order], "train", "audited"),
                          "source_row": sample.source_index[order],
                          "label": np.asarray(sample.y)[order].astype(str),
                          "score": scores[order]})
    sensitive_names = set(data.sensitive.columns) if data.sensitive is not None else set()
    if data.modality == "tabular" and len(order):
        names = list(data.feature_names or [f"x{i}" for i in range(sample.X.shape[1])])
        features = pd.DataFrame(np.asarray(sample.X)[order], columns=names)
        for column in names:
            if column in sensitive_names and not show_sensitive:
                features[column] = MASK
        table = pd.concat([table, features], axis=1)
    if sample.sensitive is not None:
        for column in sample.sensitive.columns:
            values = sample.sensitive[column].to_numpy()[order].astype(str)
            table[f"sensitive:{column}"] = values if show_sensitive else MASK
    if data.modality == "text" and len(order):
        table["text"] = _texts(sample, data, order)
    figure = None
    if data.modality == "image" and len(order):
        figure = Figure("membership_top_records", {
            "images": np.asarray(sample.X)[order], "labels": table["label"].tolist(),
            "scores": scores[order], "member": sample.member[order]},
            "Records with the highest membership scores")
    return table, figure
