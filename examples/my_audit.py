"""A build function for the command line: `auditkit audit examples/my_audit.py:build`.

The function returns the model and its AuditData; auditkit does the rest. The
command's default preset, ``standard``, takes about a minute on a laptop CPU;
``--preset quick`` is a first look in seconds.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, zoo


def build():
    """A logistic regression on the Adult features the zoo MLP uses."""
    _, data = zoo.load("adult-mlp")
    # Fitted on float64: fitted on the zoo's float32 arrays, scikit-learn keeps float32
    # coefficients and probabilities, whose rows sum to one only to float32 precision.
    X_train = np.asarray(data.train.X, dtype=np.float64)
    model = LogisticRegression(max_iter=1000).fit(X_train, data.train.y)
    return model, AuditData(data.X, data.y, sensitive=data.sensitive, train=data.train,
                            feature_names=data.feature_names, class_names=data.class_names,
                            name="UCI Adult (test split), logistic regression")
