"""A build function for the command line: `auditkit audit examples/my_audit.py:build`.

The function returns the model and its AuditData; auditkit does the rest.
"""

from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, zoo


def build():
    """A logistic regression on the Adult features the zoo MLP uses."""
    _, data = zoo.load("adult-mlp")
    model = LogisticRegression(max_iter=1000).fit(data.train.X, data.train.y)
    return model, AuditData(data.X, data.y, sensitive=data.sensitive, train=data.train,
                            feature_names=data.feature_names, class_names=data.class_names,
                            name="UCI Adult (test split), logistic regression")
