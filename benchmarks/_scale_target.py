"""The audit target of ``bench_scale.py``: ``build()`` returns (model, data) for the CLI.

``auditkit audit benchmarks/_scale_target.py:build`` reads where the data and
the model are from the environment, so the benchmark can run it in a fresh
process per size and preset:

- ``AUDITKIT_SCALE_DATA``: the Parquet file written by ``bench_scale.py``;
- ``AUDITKIT_SCALE_MODEL``: the pickled scikit-learn model;
- ``AUDITKIT_SCALE_SOURCE``: ``parquet`` (default; streamed through
  ``AuditData.from_parquet``) or ``memory`` (the whole file read into an
  in-memory ``AuditData``, for the comparison of intervals).
"""

from __future__ import annotations

import os
import pickle

import numpy as np

#: Columns of the synthetic data, as ``bench_scale.py`` writes them.
FEATURES = [f"x{i:02d}" for i in range(20)]
LABEL = "y"
SENSITIVE = ["sex", "region"]
BATCH_SIZE = 65536
SAMPLE_SIZE = 10000


def build():
    from auditkit import AuditData

    path = os.environ["AUDITKIT_SCALE_DATA"]
    with open(os.environ["AUDITKIT_SCALE_MODEL"], "rb") as file:
        model = pickle.load(file)
    source = os.environ.get("AUDITKIT_SCALE_SOURCE", "parquet")
    if source == "parquet":
        return model, AuditData.from_parquet(path, label=LABEL, sensitive=SENSITIVE,
                                             features=FEATURES, batch_size=BATCH_SIZE,
                                             sample_size=SAMPLE_SIZE, random_state=0)
    if source != "memory":
        raise ValueError(f"AUDITKIT_SCALE_SOURCE must be 'parquet' or 'memory'; got {source!r}")
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    X = np.column_stack([table.column(name).to_numpy() for name in FEATURES]).astype(np.float64)
    y = table.column(LABEL).to_numpy()
    sensitive = {name: table.column(name).to_numpy(zero_copy_only=False) for name in SENSITIVE}
    del table
    return model, AuditData(X, y, sensitive=sensitive, feature_names=FEATURES)
