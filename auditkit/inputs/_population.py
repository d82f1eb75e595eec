"""Population: every row of data too large for memory, less its inputs.

When an audit streams its data (:class:`~auditkit.inputs.StreamingData`),
one pass over the batches keeps, for every row, what the checks that stream
need: the label, the sensitive features and the model's probabilities. The
inputs themselves are kept only for a seeded sample of rows, which becomes
the :class:`~auditkit.inputs.AuditData` that the other checks read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Population"]


@dataclass(frozen=True)
class Population:
    """Every row of streamed data: labels, sensitive features and predictions.

    Attributes
    ----------
    y : ndarray of shape (n_rows,)
        True labels, as given.
    sensitive : pandas.DataFrame or None
        Sensitive features of every row.
    proba : ndarray of shape (n_rows, n_classes)
        The model's probabilities, computed batch by batch.
    sample_rows : ndarray of int of shape (n_sample,)
        Positions (in the stream) of the rows kept with their inputs, sorted.
    source : str
        Where the rows came from, for the report ("Parquet file data.parquet").
    n_batches : int
        Batches read.
    sample_seed : int
        Seeds the choice of ``sample_rows``.
    """

    y: np.ndarray
    sensitive: pd.DataFrame | None
    proba: np.ndarray
    sample_rows: np.ndarray
    source: str
    n_batches: int
    sample_seed: int

    @property
    def n_rows(self) -> int:
        """Number of rows in the stream."""
        return len(self.y)

    def describe(self) -> dict[str, Any]:
        """Plain facts for the report's provenance."""
        return {"source": self.source, "n_rows": self.n_rows, "n_batches": self.n_batches,
                "n_sample": len(self.sample_rows), "sample_seed": self.sample_seed}
