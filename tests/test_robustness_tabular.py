"""Tabular invariance (robustness_tabular) and recourse (fairness_recourse).

robustness_tabular asks whether changes that should not matter (numeric noise
within measurement precision, features marked irrelevant) flip predictions
more often than for a logistic regression fitted on the same data; a
simulation shows that a model no more fragile than its baseline is not
flagged. fairness_recourse runs the same feasible search on the actionable
features: property tests (hypothesis) record every row it asks a random model
about and check that it respects the domain (immutable features untouched,
values inside the valid bounds, one-hot groups exactly one-hot, discrete
features on observed values, numeric changes within epsilon, no more changed
features than the budget). Hand-picked rows of a linear model check which
changes are found; the zoo's adult-mlp checks the real case.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from auditkit import AuditData, CheckContext, Policy, Status, get_check, wrap_model
from auditkit.exceptions import CheckError

NAME = "robustness_tabular"
RECOURSE = "fairness_recourse"


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _run(model, data, seed=0, name=NAME, **options):
    check = get_check(name, **options)
    return check.run(wrap_model(model), data, context=CheckContext(random_state=seed))


# -- a random tabular world ----------------------------------------------------------------


class Recorder:
    """A random one-hidden-layer model that keeps every row it is asked about."""

    def __init__(self, width: int, n_classes: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.hidden = rng.normal(size=(width, 6))
        self.out = rng.normal(size=(6, n_classes)) * 3
        self.queries: list[np.ndarray] = []
        self.recording = False

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.recording:
            self.queries.append(np.array(X, dtype=np.float64))
        return _softmax(np.tanh(np.asarray(X, dtype=np.float64) @ self.hidden) @ self.out)


def _world(seed: int, n_rows: int, n_continuous: int, n_integer: int, n_binary: int,
           categories: list[int], wide_integers: bool, explicit_range: bool,
           with_reference: bool, n_classes: int, mutable_share: float):
    """Random data of every feature kind, a random model, and the mutable features."""
    rng = np.random.default_rng(seed)
    n_ref = 30 if with_reference else 0
    total = n_rows + n_ref
    columns, names, groups = [], [], {}

    def numeric(name: str, values: np.ndarray) -> None:
        groups[name] = [len(names)]
        names.append(name)
        columns.append(values)

    # a unique, immutable id ties every row the model sees to the row it came from
    numeric("id", rng.permutation(total) + rng.uniform(0.0, 0.5, size=total))
    for j in range(n_continuous):
        numeric(f"cont{j}", rng.normal(size=total) * rng.uniform(0.1, 10))
    for j in range(n_integer):
        top = int(rng.integers(40, 120)) if wide_integers else int(rng.integers(2, 12))
        # standardised integers: discrete values on an even grid, not on integers
        values = rng.integers(0, top + 1, size=total).astype(np.float64)
        numeric(f"int{j}", (values - values.mean()) / (values.std() + 1e-9))
    for j in range(n_binary):
        numeric(f"flag{j}", rng.integers(0, 2, size=total).astype(np.float64))
    for j, size in enumerate(categories):
        chosen = rng.integers(0, size, size=total)
        groups[f"cat{j}"] = list(range(len(names), len(names) + size))
        for c in range(size):
            names.append(f"cat{j}=level{c}")
            columns.append((chosen == c).astype(np.float64))
    matrix = np.column_stack(columns)
    X, reference = matrix[:n_rows], (matrix[n_rows:] if with_reference else None)
    model = Recorder(matrix.shape[1], n_classes, seed + 1)
    y = model(X).argmax(axis=1)
    y[: n_classes] = np.arange(n_classes)  # every class present; some rows misclassified
    candidates = [g for g in groups if g != "id"]
    mutable = [g for g in candidates if rng.random() < mutable_share]
    input_range = None
    if explicit_range:
        low, high = matrix.min(axis=0), matrix.max(axis=0)
        numeric_column = np.array(["=" not in n for n in names]) & (np.array(names) != "id")
        pad = np.where(numeric_column, rng.uniform(0, 1, size=len(names)), 0.0)
        input_range = (low - pad, high + pad)
    data = AuditData(X, y, reference=reference, feature_names=names, feature_groups=groups,
                     mutable_features=mutable, input_range=input_range)
    return data, model, groups


world = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "n_rows": st.integers(12, 40),
    "n_continuous": st.integers(0, 3),
    "n_integer": st.integers(0, 2),
    "n_binary": st.integers(0, 2),
    "categories": st.lists(st.integers(2, 5), max_size=3),
    "wide_integers": st.booleans(),
    "explicit_range": st.booleans(),
    "with_reference": st.booleans(),
    "n_classes": st.integers(2, 3),
    "mutable_share": st.floats(0.3, 1.0),
})
options = st.fixed_dictionaries({
    "max_features_changed": st.integers(1, 4),
    "epsilon": st.sampled_from([0.02, 0.1, 0.3, 1.0]),
    "n_steps": st.integers(1, 6),
    "max_discrete_values": st.sampled_from([2, 8, 32]),
    "n_samples": st.sampled_from([None, 10]),
})


def _feature_kind(name: str) -> str:
    return name.rstrip("0123456789")


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(spec=world, opts=options)
def test_every_recourse_query_stays_in_the_domain(spec, opts):
    data, model, groups = _world(**spec)
    wrapped = wrap_model(model)
    context = CheckContext(random_state=0)
    context.test_proba(wrapped, data)
    model.recording = True
    result = get_check(RECOURSE, **opts).run(wrapped, data, context=context)
    model.recording = False
    mutable = set(data.mutable_features)
    if not mutable:
        assert result.status is Status.SKIP
        return
    assert result.status is Status.INFO, result.error
    queries = np.concatenate(model.queries) if model.queries else np.empty((0, data.X.shape[1]))
    X = np.asarray(data.X, dtype=np.float64)
    observed = X if data.reference is None else np.vstack([X, data.reference])
    ids = X[:, groups["id"][0]]
    source = np.searchsorted(np.sort(ids), queries[:, groups["id"][0]])
    original = X[np.argsort(ids)][source]
    assert np.array_equal(original[:, groups["id"][0]], queries[:, groups["id"][0]])
    low, high = data.valid_bounds()
    assert np.all(queries >= low) and np.all(queries <= high)
    n_changed = np.zeros(len(queries), dtype=int)
    for name, columns in groups.items():
        before, after = original[:, columns], queries[:, columns]
        differs = np.any(before != after, axis=1)
        n_changed += differs
        if name not in mutable:
            assert not differs.any(), f"immutable feature {name} changed"
            continue
        kind = _feature_kind(name)
        if kind == "cat":
            assert np.all(np.isin(after, (0.0, 1.0))) and np.all(after.sum(axis=1) == 1.0)
            continue
        values = np.unique(observed[:, columns[0]])
        if kind in ("int", "flag") and len(values) > 2:
            # discrete: only observed values, at most epsilon of the range away
            assert np.all(np.isin(after[differs, 0], values)), name
        if kind in ("int", "cont"):
            radius = opts["epsilon"] * (high[columns[0]] - low[columns[0]])
            assert np.all(np.abs(after - before)[:, 0] <= radius * (1 + 1e-9) + 1e-12), name
        if kind == "flag":
            assert np.all(np.isin(after, values))
    assert np.all(n_changed <= opts["max_features_changed"])
    assert set(result.tables["features_changed"]["feature"]) == mutable


# -- values worked out by hand -------------------------------------------------------------

COLUMNS = ["decisive", "lever", "noise", "colour=red", "colour=green", "colour=blue",
           "region=north", "region=south"]
GROUPS = {"decisive": [0], "lever": [1], "noise": [2], "colour": [3, 4, 5], "region": [6, 7]}


def _linear(X: np.ndarray) -> np.ndarray:
    """Class 1 iff 10 (decisive - 0.5) + 4 (lever - 0.6) + 0.6 blue + 10 south > 0."""
    X = np.asarray(X, dtype=np.float64)
    z = 10 * (X[:, 0] - 0.5) + 4 * (X[:, 1] - 0.6) + 0.6 * X[:, 5] + 10 * X[:, 7]
    return _softmax(np.column_stack([np.zeros(len(X)), z]))


def _row(decisive: float, lever: float, noise: float = 0.5) -> list[float]:
    return [decisive, lever, noise, 1.0, 0.0, 0.0, 1.0, 0.0]  # red, north


@pytest.fixture(scope="module")
def hand_data() -> AuditData:
    rows = [_row(0.5, 0.5),    # z -0.4: lever +0.2 flips it (z +0.4), and beats blue (+0.2)
            _row(0.5, 0.3),    # z -1.2: lever +0.2 leaves z -0.4, still class 0
            _row(0.55, 0.8),   # z +1.3: lever -0.2 leaves z +0.5, still class 1
            _row(0.5, 0.65),   # z +0.2: lever -0.2 flips it (z -0.6)
            _row(0.3, 1.0)]    # z -0.4, lever at its bound: only blue flips it (z +0.2)
    rng = np.random.default_rng(0)
    reference = np.column_stack([rng.uniform(size=(200, 3)), np.eye(3)[rng.integers(0, 3, 200)],
                                 np.eye(2)[rng.integers(0, 2, 200)]])
    return AuditData(np.array(rows), [0, 0, 1, 1, 0], reference=reference,
                     feature_names=COLUMNS, feature_groups=GROUPS, input_range=(0.0, 1.0),
                     mutable_features=["lever", "noise", "colour"])


def test_recourse_finds_the_changes_worked_out_by_hand(hand_data):
    # predicted classes 0, 0, 1, 1, 0; one change of lever (0.2) or colour reverses rows 0, 3, 4
    result = _run(_linear, hand_data, name=RECOURSE, max_features_changed=1, epsilon=0.2,
                  n_steps=4)
    assert result.status is Status.INFO
    assert result.metrics["recourse_rate"].value == pytest.approx(3 / 5)
    assert result.metrics["recourse_rate"].n == 5
    changed = result.tables["features_changed"].set_index("feature")
    assert set(changed.index) == {"lever", "noise", "colour"}  # never decisive or region
    assert changed.loc["lever", "times_changed"] == 2
    assert changed.loc["colour", "times_changed"] == 1
    assert changed.loc["noise", "times_changed"] == 0
    assert "reverses 60.0%" in result.headline


def test_recourse_seeks_only_the_favourable_class(hand_data):
    # rows 0, 1, 4 are predicted 0; rows 0 and 4 reach class 1 with one change
    result = _run(_linear, hand_data, name=RECOURSE, max_features_changed=1, epsilon=0.2,
                  n_steps=4, favourable_class=1)
    assert result.metrics["recourse_rate"].value == pytest.approx(2 / 3)
    assert result.metrics["recourse_rate"].n == 3


def test_recourse_gap_compares_groups_of_a_sensitive_feature():
    # group "b" sits right at the boundary, group "a" far from it
    rng = np.random.default_rng(2)
    n = 200
    group = np.where(np.arange(n) < n // 2, "a", "b")
    x = np.where(group == "a", rng.uniform(0.0, 0.2, n), rng.uniform(0.45, 0.5, n))
    X = np.column_stack([x, rng.uniform(size=n)])

    def model(X):
        return _softmax(np.column_stack([np.zeros(len(X)), 20 * (np.asarray(X)[:, 0] - 0.5)]))

    data = AuditData(X, np.r_[np.zeros(n - 1, dtype=int), 1], sensitive={"group": group},
                     feature_names=["x", "z"], input_range=(0.0, 1.0), mutable_features=["x"])
    result = _run(model, data, name=RECOURSE, n_samples=None, epsilon=0.1)
    gap = result.metrics["group_recourse_gap"]
    assert gap.value == pytest.approx(1.0)
    assert 0 < gap.lower < gap.value <= gap.upper
    gaps = result.tables["group_gaps"].iloc[0]
    assert (gaps["most_recourse"], gaps["least_recourse"]) == ("b", "a")
    assert gaps["p_value_holm"] < 1e-6
    assert set(result.tables["by_group"]["group"]) == {"a", "b"}
    assert "group=b" in result.headline


def test_recourse_discrete_features_move_to_observed_values():
    # a count 0..5 (standardised) with epsilon 0.2 of its range moves by exactly one step
    rng = np.random.default_rng(1)
    count = rng.integers(0, 6, size=200).astype(float)
    scaled = (count - count.mean()) / count.std()
    X = np.column_stack([scaled, rng.normal(size=200)])

    def model(X):
        return _softmax(np.column_stack([np.zeros(len(X)), 3 * np.asarray(X)[:, 0]]))

    data = AuditData(X, (scaled > 0).astype(int), feature_names=["count", "other"],
                     mutable_features=["count"])
    result = _run(model, data, name=RECOURSE, epsilon=0.2, max_features_changed=1)
    table = result.tables["features_changed"]
    assert table.loc[0, "kind"] == "discrete"
    # only the rows one step from the boundary (count 2 or 3) can cross it
    near = np.isin(count, (2.0, 3.0)).mean()
    assert 0 < result.metrics["recourse_rate"].value <= near + 0.1


# -- robustness against a baseline -------------------------------------------------------------


def _logistic_world(seed: int, n: int = 200):
    """Numeric a, b, c (c plays no part in the labels) and a category; a train split."""
    rng = np.random.default_rng(seed)

    def draw(m):
        X = rng.normal(size=(m, 3))
        category = np.eye(3)[rng.integers(0, 3, m)]
        z = X @ np.array([1.5, -1.0, 0.0]) + category @ np.array([0.0, 0.8, -0.8])  # c: no part
        y = (rng.uniform(size=m) < 1 / (1 + np.exp(-z))).astype(int)
        return np.column_stack([X, category]), y

    (X_train, y_train), (X_other, y_other), (X, y) = draw(n), draw(n), draw(n)
    data = AuditData(X, y, train=(X_train, y_train), feature_names=["a", "b", "c", "cat=0",
                     "cat=1", "cat=2"], feature_groups={"cat": [3, 4, 5]})
    return data, (X_other, y_other)


#: Worlds per scenario of the simulation test: about 0.1 s each on one BLAS thread.
N_WORLDS = 24


@pytest.mark.parametrize("options", [{"noise": 0.05},
                                     {"noise": 0.0, "irrelevant_features": ("c",)}])
def test_a_model_no_more_fragile_than_its_baseline_is_not_flagged(options):
    # The audited model is itself a logistic regression, fitted on another sample of the same
    # size: as fragile as the baseline, give or take its own fit (which feature c's
    # coefficient, learnt from noise, makes large). The default rule (lower 95% bound of the
    # excess flip rate above 0.05) may then flag at most 2.5% of such models. The judged
    # number rests on the search and the baseline's refits, so each world is a whole run of
    # the check, judged by the default policy. 24 worlds cannot pin a 2.5% rate down: the
    # count must stay at or under the 99th percentile of Binomial(24, 0.025), 3; the sweep
    # (benchmarks/bench_tabular_false_alarms.py) measures the rates.
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    policy = Policy.default()
    check = get_check(NAME, n_samples=None, n_steps=3, **options)
    flagged, flip_rates = 0, []
    # a tiny lbfgs fit is several times slower on two BLAS threads that share two busy cores
    with threadpool_limits(limits=1, user_api="blas"):
        for seed in range(N_WORLDS):
            data, (X_other, y_other) = _logistic_world(seed, n=150)
            model = LogisticRegression().fit(X_other, y_other)
            result = check.run(wrap_model(model), data, context=CheckContext(random_state=seed))
            flagged += policy.judge(result).status in (Status.WARN, Status.FAIL)
            flip_rates.append(result.metrics["flip_rate"].value)
    assert flagged <= binom.ppf(0.99, N_WORLDS, 0.025), flagged
    assert np.mean(flip_rates) > 0.05  # the changes are real: they do flip predictions


def test_a_model_that_uses_an_irrelevant_feature_fails():
    # the labels do not depend on feature "c"; the model leans on it, the baseline learns not to
    data, _ = _logistic_world(0, n=300)

    def model(X):
        X = np.asarray(X, dtype=np.float64)
        return _softmax(np.column_stack([np.zeros(len(X)),
                                         1.5 * X[:, 0] - X[:, 1] + 4 * X[:, 2]]))

    result = _run(model, data, n_samples=None, noise=0.0, irrelevant_features=("c",))
    judged = Policy.default().judge(result)
    assert judged.status is Status.FAIL
    excess = result.metrics["excess_flip_rate"]
    assert excess.lower > 0.15 and excess.lower == result.metrics[
        "excess_flip_rate_lower_bound"].value
    assert result.metrics["flip_rate"].value > result.metrics["baseline_flip_rate"].value
    table = result.tables["features_changed"].set_index("feature")
    assert list(table.index) == ["c"]
    assert "any value of c" in result.headline


def test_the_baseline_without_a_train_split_learns_the_model_labels(hand_data):
    # no train split: the baseline is fitted on the reference inputs labelled by the model
    result = _run(_linear, hand_data, irrelevant_features=("noise",), noise=0.0)
    assert result.status is Status.INFO, result.error
    comparison = result.tables["comparison"].set_index("model")
    assert "labelled by the audited model" in comparison["fitted_on"].iloc[1]
    assert result.metrics["flip_rate"].value == 0.0  # _linear ignores "noise"


def test_skips_when_nothing_may_change(hand_data):
    result = _run(_linear, hand_data, noise=0.0)
    assert result.status is Status.SKIP
    assert "nothing to perturb" in result.headline


def test_an_unknown_irrelevant_feature_is_an_error(hand_data):
    with pytest.raises(CheckError, match="'irrelevant_features' option.*height"):
        _run(_linear, hand_data, irrelevant_features=("colour", "height"))


def test_recourse_skips_when_nothing_is_actionable(hand_data):
    data = AuditData(hand_data.X, hand_data.y, feature_names=COLUMNS, feature_groups=GROUPS,
                     mutable_features=[])
    result = _run(_linear, data, name=RECOURSE)
    assert result.status is Status.SKIP
    assert "No feature is actionable" in result.headline


# -- the zoo -------------------------------------------------------------------------------


def test_adult_mlp_is_no_more_fragile_than_a_logistic_regression(zoo_adult):
    model, data = zoo_adult
    result = _run(model, data, n_samples=200)
    assert result.status is Status.INFO, result.error
    assert Policy.default().judge(result).status is Status.PASS
    excess = result.metrics["excess_flip_rate"]
    assert excess.lower < 0.05 < excess.upper + 0.05


def test_adult_mlp_recourse_differs_by_sex(zoo_adult):
    model, data = zoo_adult
    result = _run(model, data, name=RECOURSE, n_samples=300)
    changed = result.tables["features_changed"]
    assert set(changed["feature"]) == set(data.mutable_features)
    gaps = result.tables["group_gaps"].set_index("sensitive_feature")
    assert (gaps.loc["sex", "most_recourse"], gaps.loc["sex", "least_recourse"]) == (
        "Male", "Female")
    assert gaps.loc["sex", "lower"] > 0


# -- bad options ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, param, value", [
    (NAME, "n_samples", 0), (NAME, "n_samples", 2.5), (NAME, "noise", -0.1),
    (NAME, "noise", 1.5), (NAME, "noise", float("nan")), (NAME, "irrelevant_features", "c"),
    (NAME, "max_features_changed", 0), (NAME, "n_steps", 0),
    (NAME, "baseline_max_samples", 0), (NAME, "n_refits", 1), (NAME, "confidence", 1.0),
    (RECOURSE, "max_features_changed", 0), (RECOURSE, "max_features_changed", True),
    (RECOURSE, "epsilon", 0.0), (RECOURSE, "epsilon", 1.5), (RECOURSE, "favourable_class", -1),
    (RECOURSE, "min_group_size", 0), (RECOURSE, "confidence", 0.0),
])
def test_bad_options_raise_naming_the_parameter(name, param, value):
    with pytest.raises(CheckError, match=f"'{param}' option"):
        get_check(name, **{param: value})
