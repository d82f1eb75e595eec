"""Tabular rows seen one original feature at a time (one-hot groups as one feature).

Explanations (LIME, Shapley values) and the tabular attack perturb whole
features; :class:`GroupSpace` maps encoded rows to one value per original
feature and back, so that a one-hot feature is switched as one.
"""

from __future__ import annotations

import numpy as np

from ._data import AuditData

__all__ = ["GroupSpace"]


class GroupSpace:
    """Tabular rows as one value per original feature (a category index for one-hot groups).

    LIME and Shapley values perturb whole features; this maps encoded rows to
    that space and back, so that a one-hot feature is switched as one.
    """

    def __init__(self, data: AuditData) -> None:
        width = data.X.shape[1]
        groups = data.feature_groups or {name: [i] for i, name in
                                         enumerate(data.feature_names or
                                                   [f"x{i}" for i in range(width)])}
        self.names = list(groups)
        self.columns = [np.asarray(c) for c in groups.values()]
        self.categorical = [len(c) > 1 for c in self.columns]
        names = data.feature_names or [f"x{i}" for i in range(width)]
        self.categories = [[names[i].split("=", 1)[-1] for i in c] for c in self.columns]
        self.width = width

    def to_groups(self, X: np.ndarray) -> np.ndarray:
        """Encoded rows -> (n, n_groups) values."""
        return np.column_stack([X[:, c].argmax(axis=1) if cat else X[:, c[0]]
                                for c, cat in zip(self.columns, self.categorical, strict=True)]
                               ).astype(np.float64)

    def from_groups(self, Z: np.ndarray) -> np.ndarray:
        """(n, n_groups) values -> encoded rows (float32)."""
        X = np.zeros((len(Z), self.width), dtype=np.float32)
        rows = np.arange(len(Z))
        for j, (columns, cat) in enumerate(zip(self.columns, self.categorical, strict=True)):
            if cat:
                X[rows, columns[np.clip(np.rint(Z[:, j]).astype(np.int64), 0,
                                        len(columns) - 1)]] = 1.0
            else:
                X[:, columns[0]] = Z[:, j]
        return X
