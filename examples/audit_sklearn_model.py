"""ML engineer: audit your own scikit-learn model before release.

A gradient-boosting classifier on the German credit data, audited with age
group and sex as sensitive features; the report and a JSON copy are written
next to this script's working directory.

The audit is the ``standard`` preset with SHAP on a smaller budget: 16 rows
instead of 64, and 1,000 model evaluations per row instead of 2,000 (its
permutation explainer is most of the running time on this model). The full
standard audit, ``--full``, takes about a minute more on a laptop CPU.

Run: python examples/audit_sklearn_model.py [--full]
"""

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from auditkit import AuditData, audit, get_check, preset_options
from auditkit.zoo import load_german

parser = argparse.ArgumentParser(description="Audit a gradient-boosting credit model.")
parser.add_argument("--full", action="store_true", help="the standard preset's own budgets")
args = parser.parse_args()

credit = load_german()
target = credit["credit_risk"].to_numpy()
features = pd.get_dummies(
    credit.drop(columns=["credit_risk", "credit", "personal_status", "age_group", "sex"]),
    dtype=float,
)
X_train, X_test, y_train, y_test, _, groups_test = train_test_split(
    features.to_numpy(), target, credit[["sex", "age_group"]], test_size=0.3, random_state=0,
    stratify=target)

model = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
data = AuditData(X_test, y_test, sensitive=groups_test.reset_index(drop=True),
                 train=(X_train, y_train), feature_names=list(features.columns),
                 class_names=["bad credit", "good credit"], name="German credit (30% test)")

# A preset's checks with some options changed: start from preset_options and override.
# The examples' test (AUDITKIT_EXAMPLE_BUDGET=small) runs the quick preset instead.
preset = "quick" if os.environ.get("AUDITKIT_EXAMPLE_BUDGET") == "small" else "standard"
lighter = {} if args.full else {"explanations_shap": {"n_samples": 16, "max_evals": 1000}}
checks = [get_check(name, **{**options, **lighter.get(name, {})})
          for name, options in preset_options(preset).items()]
result = audit(model, data, preset=preset, checks=checks, random_state=0)
result.save_html("german_credit_report.html")
result.save_json("german_credit_report.json")
summary = result.summary()
applied = summary[summary["status"] != "SKIP"]
print(applied[["check", "status"]].to_string(index=False))
print(f"({len(summary) - len(applied)} checks do not apply to this model; the report says why)")
print("Test accuracy:", round(float(np.mean(model.predict(X_test) == y_test)), 4))
