"""ML engineer: audit a zoo model in three lines and open the report.

Run: python examples/quickstart.py  (writes quickstart_report.html)
"""

import os

from auditkit import audit, zoo

# The standard audit; the "quick" preset is a first look in seconds.
PRESET = "quick" if os.environ.get("AUDITKIT_EXAMPLE_BUDGET") == "small" else "standard"

model, data = zoo.load("adult-mlp")
result = audit(model, data, preset=PRESET)
result.save_html("quickstart_report.html")

print(result.summary()[["check", "status", "headline"]].to_string(index=False))
