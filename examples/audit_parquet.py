"""ML engineer: audit a model on scored data that lives in Parquet files.

Production data is often a dataset directory of Parquet files, too large to
load at once. ``AuditData.from_parquet`` reads it batch by batch when the
audit runs: the performance and group-fairness checks use every row (their
intervals come from a Poisson bootstrap of per-group counts, so memory does
not grow with the rows), and the checks that need inputs (attacks,
explanations) use a seeded sample, each saying how many rows it read.

Here the Adult census test set (16,281 real rows) is written as a dataset of
four Parquet files, one per quarter, and the zoo's adult-mlp is audited on it.
The same audit from memory gives the same numbers, which the script checks.
For the time and memory at a million rows and more, see the README's
Performance section (benchmarks/bench_scale.py).

Run: python examples/audit_parquet.py [OUT_DIR]
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit import AuditData, audit, zoo

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
out.mkdir(parents=True, exist_ok=True)
model, data = zoo.load("adult-mlp")

with tempfile.TemporaryDirectory() as folder:
    # The scored data as it would arrive: encoded features, the label, the sensitive columns.
    table = pd.DataFrame(data.X, columns=list(data.feature_names))
    table["income"] = data.y
    table[["sex", "race"]] = data.sensitive[["sex", "race"]].to_numpy()
    for quarter, rows in enumerate(np.array_split(np.arange(len(table)), 4), start=1):
        table.iloc[rows].to_parquet(Path(folder) / f"scores-2026-q{quarter}.parquet")

    streamed = AuditData.from_parquet(folder, label="income", sensitive=["sex", "race"],
                                      features=list(data.feature_names), batch_size=4_096,
                                      sample_size=2_000, class_names=data.class_names,
                                      name="Adult test set, from Parquet")
    checks = ["performance_metrics", "performance_calibration", "fairness_group_metrics",
              "fairness_disparities", "robustness_tabular"]
    result = audit(model, streamed, checks=checks, random_state=0)

result.save_html(out / "parquet_report.html")
result.save_json(out / "parquet_report.json")
for check in result.results:
    print(f"{check.status.value:5} {check.name:28} read {check.rows:>6,} rows")

# The performance and fairness numbers equal those of the audit from memory.
same = AuditData(data.X, data.y, sensitive=data.sensitive[["sex", "race"]],
                 class_names=data.class_names)
in_memory = audit(model, same, checks=checks[:4], random_state=0, progress=False)
worst = max(abs(a - b)
            for r, m in zip(result.results[:4], in_memory.results, strict=True)
            for name, metric in r.metrics.items()
            for a, b in ((metric.value, m.metrics[name].value),
                         (metric.lower, m.metrics[name].lower),
                         (metric.upper, m.metrics[name].upper))
            if a is not None and b is not None)
print(f"Largest difference from the in-memory audit: {worst:.1e}")
