"""ML engineer: audit a model you can only query (a scoring service, a model in another runtime).

Anything that maps a batch of inputs to class probabilities can be audited;
checks that need gradients or internals report SKIP with the reason.

The ``quick`` preset (the default here) is a first look in well under a
minute; ``--preset standard`` is the release audit (LIME, KernelSHAP,
attribute inference on every training record, a few minutes on a CPU).

Run: python examples/audit_black_box.py [--preset standard]  (writes black_box_report.html)
"""

import argparse
import textwrap

import numpy as np
import torch

from auditkit import audit, zoo

parser = argparse.ArgumentParser(description="Audit a black-box scorer.")
parser.add_argument("--preset", default="quick", help="quick (default), standard or full")
args = parser.parse_args()

network, data = zoo.load("adult-mlp")


def score(batch: np.ndarray) -> np.ndarray:
    """Stand-in for a remote call: returns P(<=50K), P(>50K) per row."""
    with torch.inference_mode():  # torch.tensor copies: the audit's arrays are read-only
        positive = torch.sigmoid(network(torch.tensor(batch, dtype=torch.float32)))[:, 0]
    positive = positive.numpy().astype(np.float64)  # rows then sum to one to double precision
    return np.column_stack([1.0 - positive, positive])


result = audit(score, data, preset=args.preset, title="Adult income scorer (black box)")
result.save_html("black_box_report.html")
# One line per check (SKIPs say why); the report has every headline in full.
for row in result.summary().itertuples():
    print(f"{row.status:<5} {row.check:<34} {textwrap.shorten(row.headline, 59)}")
