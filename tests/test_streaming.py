"""Streamed data: Parquet, tables and batches read once, every row predicted, a sample kept."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, StreamingData, audit
from auditkit.exceptions import AuditkitError, DataValidationError, ModelError
from auditkit.inputs import wrap_model
from auditkit.inputs._streaming import ONE_PASS, row_keys

pa = pytest.importorskip("pyarrow")
pytest.importorskip("pyarrow.parquet")

N = 6_000
FEATURES = [f"x{i}" for i in range(4)]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, len(FEATURES)))
    sex = rng.choice(["female", "male"], N)
    region = rng.choice(["north", "south", "east"], N)
    y = (X[:, 0] + 0.8 * (sex == "male") + rng.normal(size=N) > 0.4).astype(int)
    out = pd.DataFrame(X, columns=FEATURES)
    out["sex"], out["region"], out["y"] = sex, region, y
    return out


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(frame[FEATURES].to_numpy()[:2000], frame["y"][:2000])


@pytest.fixture(scope="module")
def parquet(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("stream") / "scored.parquet"
    frame.to_parquet(path, row_group_size=1_000)
    return str(path)


def _batches(frame: pd.DataFrame, size: int):
    def make():
        for start in range(0, len(frame), size):
            part = frame.iloc[start:start + size]
            yield part[FEATURES].to_numpy(), part["y"].to_numpy(), part[["sex", "region"]]
    return make


def _collect(data: StreamingData, model) -> AuditData:
    return data.collect(wrap_model(model))


def test_splitmix64_matches_the_published_algorithm():
    def reference(state: int, k: int) -> int:  # Steele, Lea & Flood (2014), k-th output
        mask = 2**64 - 1
        z = (state + 0x9E3779B97F4A7C15 * k) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    rows = np.array([0, 1, 2, 1_000_003, 2**40])
    got = row_keys(12345, rows)
    assert [int(v) for v in got] == [reference(12345, int(r) + 1) for r in rows]


@pytest.mark.parametrize("batch_size", [1_000, 777, 6_000])
def test_every_source_and_batching_gives_the_same_rows_and_sample(frame, model, parquet,
                                                                  batch_size):
    base = _collect(AuditData.from_table(frame, label="y", sensitive=["sex", "region"],
                                         batch_size=500, sample_size=300), model)
    sources = [
        AuditData.from_parquet(parquet, label="y", sensitive=["sex", "region"],
                               batch_size=batch_size, sample_size=300),
        AuditData.from_table(pa.Table.from_pandas(frame), label="y",
                             sensitive=["sex", "region"], batch_size=batch_size,
                             sample_size=300),
        AuditData.from_batches(_batches(frame, batch_size), sample_size=300,
                               feature_names=FEATURES),
    ]
    for source in sources:
        data = _collect(source, model)
        pop, ref = data.population, base.population
        assert pop.n_rows == N
        np.testing.assert_array_equal(pop.y, frame["y"].to_numpy())
        # BLAS may round the last bit differently for another batch size.
        np.testing.assert_allclose(pop.proba, ref.proba, rtol=0, atol=1e-15)
        assert (pop.sensitive.astype(str) == frame[["sex", "region"]]).all().all()
        np.testing.assert_array_equal(pop.sample_rows, ref.sample_rows)
        np.testing.assert_array_equal(data.X, frame[FEATURES].to_numpy()[pop.sample_rows])
        np.testing.assert_array_equal(data.y, frame["y"].to_numpy()[pop.sample_rows])
        assert list(data.feature_names) == FEATURES
        assert data.fingerprint() == base.fingerprint()
        assert data.n_rows == N and data.n_samples == 300


def test_the_sample_is_the_rows_with_the_smallest_keys(frame, model):
    data = _collect(AuditData.from_table(frame, label="y", features=FEATURES, sample_size=250,
                                         random_state=7, batch_size=999), model)
    seed = int(row_keys(7, np.array([0]))[0])
    expected = np.sort(np.argsort(row_keys(seed, np.arange(N)), kind="stable")[:250])
    np.testing.assert_array_equal(data.population.sample_rows, expected)
    other = _collect(AuditData.from_table(frame, label="y", features=FEATURES, sample_size=250,
                                          random_state=8), model)
    assert not np.array_equal(other.population.sample_rows, expected)


def test_the_fingerprint_covers_every_row(frame, model):
    changed = frame.copy()
    changed.loc[N - 1, "x2"] += 1e-9  # a row outside any sample of 100
    a = _collect(AuditData.from_table(frame, label="y", features=FEATURES, sample_size=100), model)
    b = _collect(AuditData.from_table(changed, label="y", features=FEATURES, sample_size=100),
                 model)
    assert N - 1 not in a.population.sample_rows
    assert a.fingerprint() != b.fingerprint()


def test_streamed_audit_equals_the_in_memory_audit(frame, model, parquet):
    checks = ["performance_metrics", "performance_calibration", "performance_confusion_matrix"]
    streamed = audit(model, AuditData.from_parquet(parquet, label="y", features=FEATURES,
                                                   sensitive=["sex"],
                                                   batch_size=1_234, sample_size=500),
                     checks=checks, progress=False)
    in_memory = audit(model, AuditData(frame[FEATURES].to_numpy(), frame["y"].to_numpy(),
                                       sensitive=frame[["sex"]]),
                      checks=checks, progress=False)
    for a, b in zip(streamed.results, in_memory.results, strict=True):
        assert a.status == b.status and a.rows == b.rows == N, a.name
        for key, metric in a.metrics.items():
            other = b.metrics[key]
            for x, y in ((metric.value, other.value), (metric.lower, other.lower),
                         (metric.upper, other.upper)):
                assert (x is None) == (y is None)
                if x is not None:
                    assert abs(x - y) <= 1e-12, (a.name, key)


def test_checks_that_need_inputs_read_the_sample_and_say_so(frame, model):
    result = audit(model, AuditData.from_table(frame, label="y", sensitive=["sex"],
                                               features=FEATURES, sample_size=400),
                   checks=["performance_metrics", "robustness_tabular"], progress=False)
    rows = {r.name: r.rows for r in result.results}
    assert rows == {"performance_metrics": N, "robustness_tabular": 400}
    assert result.provenance["data"]["streamed"]["n_rows"] == N
    assert result.provenance["data"]["n_samples"] == N
    from auditkit.report import render_html

    html = render_html(result)
    assert f"on all {N:,} rows, streamed in" in html
    assert f"on a seeded sample of 400 of the {N:,} rows" in html
    again = type(result).from_json(result.to_json())
    assert [r.rows for r in again.results] == [N, 400]


def test_an_iterator_is_read_once_and_a_function_again(frame, model):
    once = AuditData.from_batches(_batches(frame, 2_000)(), sample_size=100)
    _collect(once, model)
    with pytest.raises(DataValidationError, match="reads once"):
        _collect(once, model)
    assert "reads once" in ONE_PASS
    again = AuditData.from_batches(_batches(frame, 2_000), sample_size=100)
    assert _collect(again, model).n_rows == _collect(again, model).n_rows == N


def test_bad_sources_get_one_sentence_naming_the_parameter(frame, model, parquet, tmp_path):
    with pytest.raises(DataValidationError, match="'label'.*Got 'target'"):
        AuditData.from_parquet(parquet, label="target")
    with pytest.raises(DataValidationError, match="'sensitive'.*'age'"):
        AuditData.from_table(frame, label="y", sensitive=["age"])
    with pytest.raises(DataValidationError, match="'features'.*non-numeric columns \\['sex'\\]"):
        _collect(AuditData.from_table(frame, label="y", features=FEATURES + ["sex"]), model)
    with pytest.raises(DataValidationError, match="'path'"):
        AuditData.from_parquet(tmp_path / "missing.parquet", label="y")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataValidationError, match="'path'.*readable Parquet"):
        AuditData.from_parquet(tmp_path / "junk.parquet", label="y")
    with pytest.raises(DataValidationError, match="'table'"):
        AuditData.from_table([[1, 2]], label="y")
    with pytest.raises(DataValidationError, match="'batches'"):
        AuditData.from_batches(frame)
    with pytest.raises(DataValidationError, match="'sample_size'"):
        AuditData.from_table(frame, label="y", sample_size=0)
    with pytest.raises(DataValidationError, match="'colour'"):
        AuditData.from_table(frame, label="y", colour="red")

    def ragged():
        yield np.zeros((5, 4)), np.array([0, 1, 0, 1, 0])
        yield np.zeros((5, 3)), np.array([0, 1, 0, 1, 0])
    with pytest.raises(DataValidationError, match=r"batches\[1\] X"):
        _collect(AuditData.from_batches(ragged()), model)

    def not_tuples():
        yield np.zeros((5, 4))
    with pytest.raises(DataValidationError, match=r"'batches\[0\]'.*tuple"):
        _collect(AuditData.from_batches(not_tuples()), model)

    def unknown_label():
        yield np.zeros((4, 4)), np.array([0, 1, 2, 1])
    with pytest.raises(DataValidationError, match="'y'.*labels \\[2\\]"):
        _collect(AuditData.from_batches(unknown_label()), model)


def test_a_model_failing_on_a_batch_fails_the_audit_with_one_sentence(frame, model):
    calls = []

    def flaky(X):
        calls.append(len(X))
        if len(calls) == 3:
            raise RuntimeError("out of GPU memory")
        return model.predict_proba(X)

    source = AuditData.from_batches(_batches(frame, 1_000), sample_size=100)
    with pytest.raises(ModelError, match="RuntimeError on a batch of the streamed "
                                         "data \\(batches\\): out of GPU memory"):
        audit(wrap_model(flaky, classes=[0, 1]), source, checks=["performance_metrics"],
              progress=False)
    with pytest.raises(AuditkitError, match="'data'"):
        audit(model, frame, checks=["performance_metrics"])


def test_reading_keeps_one_batch_of_inputs_in_memory(model):
    """300,000 rows of 50 features (120 MB as one array) stream in well under that."""
    n, width, size = 300_000, 50, 10_000
    weights = np.zeros(width)
    weights[:4] = model.coef_[0]
    bias = float(model.intercept_[0])

    def batches():
        rng = np.random.default_rng(0)
        for _ in range(n // size):
            X = rng.normal(size=(size, width))
            yield X, (X @ weights + bias > 0).astype(int)

    def proba(X):
        p = 1 / (1 + np.exp(-(X @ weights + bias)))
        return np.column_stack([1 - p, p])

    tracemalloc.start()
    try:
        data = AuditData.from_batches(batches, sample_size=1_000).collect(
            wrap_model(proba, classes=[0, 1]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data.n_rows == n and data.n_samples == 1_000
    # Per row, kept: a label (8 B) and two probabilities (16 B), twice while joined; inputs:
    # a few batches read and a few model calls of about 8 MiB each.
    assert peak < n * 24 * 2 + 4 * size * width * 8 + 4 * 8 * 2**20, \
        f"peak {peak / 2**20:.1f} MiB"
    assert peak < 0.4 * n * width * 8
