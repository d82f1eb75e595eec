"""ML engineer: audit your own scikit-learn model before release.

A gradient-boosting classifier on the German credit data, audited with age
group and sex as sensitive features; the report and a JSON copy are written
next to this script's working directory.

Run: python examples/audit_sklearn_model.py
"""

import os

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from auditkit import AuditData, audit
from auditkit.zoo import load_german

# The standard audit; the "quick" preset is a first look in seconds.
PRESET = "quick" if os.environ.get("AUDITKIT_EXAMPLE_BUDGET") == "small" else "standard"

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

result = audit(model, data, preset=PRESET, random_state=0)
result.save_html("german_credit_report.html")
result.save_json("german_credit_report.json")
print(result.summary()[["check", "status"]].to_string(index=False))
print("Test accuracy:", round(float(np.mean(model.predict(X_test) == y_test)), 4))
