"""robustness_tabular: the attack stays in the data's domain, finds what it should, reports it.

Property tests (hypothesis) record every row the attack asks a random model
about and check that it respects the domain: immutable features untouched,
values inside the valid bounds, one-hot groups exactly one-hot, discrete
features on observed values, numeric changes within epsilon, and no more
changed features than the budget. A linear model with hand-picked rows checks
which changes are found; the zoo's adult-mlp checks the real case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit import AuditData, CheckContext, Status, get_check, wrap_model
from auditkit.exceptions import CheckError

NAME = "robustness_tabular"


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _run(model, data, seed=0, **options):
    check = get_check(NAME, **options)
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


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(spec=world, opts=options)
def test_every_query_stays_in_the_domain(spec, opts):
    data, model, groups = _world(**spec)
    wrapped = wrap_model(model)
    context = CheckContext(random_state=0)
    context.test_proba(wrapped, data)
    model.recording = True
    result = get_check(NAME, **opts).run(wrapped, data, context=context)
    model.recording = False
    mutable = set(data.mutable_features)
    if not mutable:
        assert result.status is Status.SKIP
        return
    if result.status is Status.SKIP:  # nothing correct among the selected rows
        return
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
    changed = result.tables["features_changed"]
    assert set(changed["feature"]) == mutable
    budget = result.tables["flip_rate_by_budget"]["flip_rate"].to_numpy()
    assert np.all(np.diff(budget) >= 0)
    assert budget[-1] == pytest.approx(result.metrics["flip_rate"].value)
    if "examples" in result.tables:
        per_sample = result.tables["examples"].groupby("sample")["feature"]
        assert per_sample.nunique().max() <= opts["max_features_changed"]
        assert set(result.tables["examples"]["feature"]) <= mutable


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


def test_finds_the_changes_worked_out_by_hand(hand_data):
    result = _run(_linear, hand_data, max_features_changed=1, epsilon=0.2, n_steps=4)
    assert result.status is Status.INFO
    assert result.metrics["flip_rate"].value == pytest.approx(3 / 5)
    assert result.metrics["flip_rate"].n == 5
    assert result.metrics["robust_accuracy"].value == pytest.approx(2 / 5)
    assert result.metrics["mean_features_changed"].value == 1.0
    changed = result.tables["features_changed"].set_index("feature")
    assert set(changed.index) == {"lever", "noise", "colour"}  # never decisive or region
    assert changed.loc["lever", "times_changed"] == 2
    assert changed.loc["colour", "times_changed"] == 1
    assert changed.loc["noise", "times_changed"] == 0
    assert changed.loc["lever", "mean_abs_change"] == pytest.approx(0.2)
    examples = result.tables["examples"].set_index("sample")
    assert examples.loc[0, "feature"] == "lever"
    assert float(examples.loc[0, "adversarial"]) == pytest.approx(0.7)
    assert float(examples.loc[3, "adversarial"]) == pytest.approx(0.45)
    assert examples.loc[3, "change_of_range"] == pytest.approx(-0.2)
    assert (examples.loc[4, "feature"], examples.loc[4, "original"],
            examples.loc[4, "adversarial"]) == ("colour", "red", "blue")
    assert "lever is changed most" in result.headline
    curve = result.tables["flip_rate_by_budget"]
    assert curve["flip_rate"].tolist() == pytest.approx([0.6])


def test_a_larger_budget_flips_with_two_changes(hand_data):
    # row 1: lever +0.2 (z -0.4), then blue (z +0.2) flips it
    result = _run(_linear, hand_data, max_features_changed=2, epsilon=0.2, n_steps=4)
    assert result.tables["flip_rate_by_budget"]["flip_rate"].tolist() == pytest.approx(
        [0.6, 0.8])
    examples = result.tables["examples"]
    assert sorted(examples.loc[examples["sample"] == 1, "feature"]) == ["colour", "lever"]
    assert result.metrics["mean_features_changed"].value == pytest.approx(5 / 4)


def test_discrete_features_move_to_observed_values():
    # a count 0..5 (standardised) with epsilon 0.2 of its range moves by exactly one
    rng = np.random.default_rng(1)
    count = rng.integers(0, 6, size=200).astype(float)
    scaled = (count - count.mean()) / count.std()
    X = np.column_stack([scaled, rng.normal(size=200)])
    step = 1 / count.std()

    def model(X):
        return _softmax(np.column_stack([np.zeros(len(X)), 3 * np.asarray(X)[:, 0]]))

    y = (scaled > 0).astype(int)
    data = AuditData(X, y, feature_names=["count", "other"], mutable_features=["count"])
    result = _run(model, data, epsilon=0.2, max_features_changed=1, n_examples=200)
    examples = result.tables["examples"]
    moved = examples["original"].astype(float) - examples["adversarial"].astype(float)
    assert len(examples) > 0
    assert np.allclose(np.abs(moved), step, rtol=1e-3)
    assert result.tables["features_changed"].loc[0, "kind"] == "discrete"


def test_group_gap_compares_groups_of_a_sensitive_feature():
    # group "b" sits right at the boundary, group "a" far from it
    rng = np.random.default_rng(2)
    n = 200
    group = np.where(np.arange(n) < n // 2, "a", "b")
    x = np.where(group == "a", rng.uniform(0.0, 0.2, n), rng.uniform(0.45, 0.5, n))
    X = np.column_stack([x, rng.uniform(size=n)])

    def model(X):
        return _softmax(np.column_stack([np.zeros(len(X)), 20 * (np.asarray(X)[:, 0] - 0.5)]))

    # all rows are class 0 but the last (misclassified: two classes, and it is not attacked)
    data = AuditData(X, np.r_[np.zeros(n - 1, dtype=int), 1], sensitive={"group": group},
                     feature_names=["x", "z"], input_range=(0.0, 1.0), mutable_features=["x"])
    result = _run(model, data, n_samples=None, epsilon=0.1)
    gap = result.metrics["group_flip_rate_gap"]
    assert gap.value == pytest.approx(1.0, abs=0.02)
    assert gap.lower < gap.value <= gap.upper
    gaps = result.tables["group_gaps"].iloc[0]
    assert (gaps["most_flipped"], gaps["least_flipped"]) == ("b", "a")
    by_group = result.tables["by_group"]
    assert set(by_group["group"]) == {"a", "b"}
    assert "group=b" in result.headline


# -- the zoo -------------------------------------------------------------------------------


def test_adult_mlp_flips_some_and_never_touches_immutable_features(zoo_adult):
    model, data = zoo_adult
    result = _run(model, data, n_samples=120)
    assert result.status is Status.INFO
    assert 0 < result.metrics["flip_rate"].value < 1
    assert result.metrics["robust_accuracy"].value < result.metrics["clean_accuracy"].value
    changed = result.tables["features_changed"]
    immutable = {"age", "sex", "race", "native_country", "relationship", "marital_status"}
    assert set(changed["feature"]) == set(data.mutable_features)
    assert not immutable & set(changed["feature"])
    assert not immutable & set(result.tables["examples"]["feature"])
    assert set(result.tables["by_group"]["sensitive_feature"]) == {"sex", "race"}
    assert set(result.tables["by_class"]["group"]) == {"<=50K", ">50K"}
    categorical = result.tables["examples"]
    categorical = categorical[categorical["feature"].isin(["workclass", "occupation"])]
    assert not categorical["adversarial"].str.contains("=").any()  # category names, readable


# -- bad options and nothing to attack ---------------------------------------------------


@pytest.mark.parametrize("param, value", [
    ("n_samples", 0), ("n_samples", 2.5), ("max_features_changed", 0),
    ("max_features_changed", True), ("epsilon", 0.0), ("epsilon", 1.5),
    ("epsilon", float("nan")), ("n_steps", 0), ("max_discrete_values", -1),
    ("n_examples", -1), ("min_group_size", 0), ("confidence", 1.0), ("confidence", 0.0),
])
def test_bad_options_raise_naming_the_parameter(param, value):
    with pytest.raises(CheckError, match=f"'{param}' option"):
        get_check(NAME, **{param: value})


def test_skips_when_no_feature_is_mutable(hand_data):
    data = AuditData(hand_data.X, hand_data.y, feature_names=COLUMNS, feature_groups=GROUPS,
                     mutable_features=[])
    result = _run(_linear, data)
    assert result.status is Status.SKIP
    assert "No feature may change" in result.headline


def test_skips_when_no_prediction_is_correct(hand_data):
    def wrong(X):
        return 1.0 - _linear(X)

    result = _run(wrong, hand_data)
    assert result.status is Status.SKIP
    assert "none of the 5" in result.headline


def test_tables_are_plain_frames(hand_data):
    result = _run(_linear, hand_data, epsilon=0.2)
    assert all(isinstance(t, pd.DataFrame) for t in result.tables.values())
    assert {"tabular_attack_budget", "tabular_attack_features", "tabular_attack_groups"} == {
        f.kind for f in result.figures.values()}
