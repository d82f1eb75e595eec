"""ML engineer: audit a model you can only query (a scoring service, a model in another runtime).

Anything that maps a batch of inputs to class probabilities can be audited;
checks that need gradients or internals report SKIP with the reason.

Run: python examples/audit_black_box.py
"""

import os

import numpy as np
import torch

from auditkit import audit, zoo

# The standard audit; the "quick" preset is a first look in seconds.
PRESET = "quick" if os.environ.get("AUDITKIT_EXAMPLE_BUDGET") == "small" else "standard"

network, data = zoo.load("adult-mlp")


def score(batch: np.ndarray) -> np.ndarray:
    """Stand-in for a remote call: returns P(<=50K), P(>50K) per row."""
    with torch.inference_mode():
        positive = torch.sigmoid(network(torch.as_tensor(batch, dtype=torch.float32)))[:, 0]
    return np.column_stack([1 - positive.numpy(), positive.numpy()])


result = audit(score, data, preset=PRESET, title="Adult income scorer (black box)")
result.save_html("black_box_report.html")
print(result.summary()[["check", "status", "headline"]].to_string(index=False))
