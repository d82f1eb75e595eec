"""ML engineer: audit a zoo model in three lines and open the report.

The ``quick`` preset is a first look at every family (in well under a minute
on a laptop CPU). The release audit is ``--preset standard``: every check at
its defaults, with SHAP, LIME, PGD and reference models for membership
inference; it takes a few minutes.

Run: python examples/quickstart.py [--preset standard]  (writes quickstart_report.html)
"""

import argparse
import textwrap

from auditkit import audit, zoo

parser = argparse.ArgumentParser(description="Audit the zoo's adult-mlp.")
parser.add_argument("--preset", default="quick", help="quick (default), standard or full")
args = parser.parse_args()

model, data = zoo.load("adult-mlp")
result = audit(model, data, preset=args.preset)
result.save_html("quickstart_report.html")

# One line per check; the report has every headline in full.
for row in result.summary().itertuples():
    print(f"{row.status:<5} {row.check:<34} {textwrap.shorten(row.headline, 59)}")
