"""The Poisson bootstrap: counter-based weights, chunked statistics, bounded memory.

The weights are checked against the published SplitMix64 algorithm and the
Poisson(1) distribution; every resampled statistic against scikit-learn (or a
direct computation) with the same weights as ``sample_weight``; the intervals
against a change of the processing chunk and of the executor; memory against
the number of rows; and coverage by simulation on data from a known model.
"""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as skm

import auditkit._stats as stats
from auditkit import AuditData, CheckContext, wrap_model
from auditkit._stats import BootstrapBlock, BootstrapSpec
from auditkit.checks import PerformanceCalibration, PerformanceMetrics, get_check
from auditkit.checks._classification import Predictions, ResampledECE, ResampledMetrics
from auditkit.checks.fairness._common import (
    ResampledGroupSums,
    evaluated_classes,
    rates_from_sums,
    sensitive_group_sets,
)

MASK = (1 << 64) - 1


def splitmix64_stream(seed: int, n: int) -> list[int]:
    """The published SplitMix64 generator (Steele, Lea & Flood 2014), in pure Python."""
    out, state = [], seed
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def block_weights(seed: np.random.SeedSequence, size: int, n: int) -> np.ndarray:
    return stats.poisson_weights(seed.generate_state(size, np.uint64), slice(0, n))


def scored(n: int, k: int, seed: int = 0, decimals: int | None = 2) -> Predictions:
    """Random probabilities (rounded: many ties) and labels drawn from them."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), n)
    if decimals is not None:
        proba = np.round(proba, decimals) + 1e-9
        proba /= proba.sum(axis=1, keepdims=True)
    y = (proba.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1).clip(0, k - 1)
    return Predictions(y, proba, tuple(str(c) for c in range(k)))


# -- the weights -------------------------------------------------------------------------------


def test_splitmix64_equals_the_published_algorithm():
    keys = [0, 1, 0x0123456789ABCDEF, MASK]
    for key in keys:
        expected = splitmix64_stream(key, 9)
        states = np.uint64(key) + stats.SPLITMIX_GAMMA * np.arange(1, 10, dtype=np.uint64)
        assert stats.splitmix64(states).tolist() == expected
    # rows 2j and 2j + 1 read the low and the high half of the j-th output
    key = 0x0123456789ABCDEF
    outputs = splitmix64_stream(key, 5)
    halves = np.array([[z & 0xFFFFFFFF, z >> 32] for z in outputs], dtype=np.uint32).ravel()
    expected = stats.poisson_from_uniform(halves)
    got = stats.poisson_weights(np.array([key], dtype=np.uint64), slice(0, 10))[0]
    np.testing.assert_array_equal(got, expected)


def test_thresholds_are_the_poisson_cdf_to_2_to_the_minus_32():
    thresholds = stats.poisson_thresholds().astype(np.float64)
    cdf = scipy_stats.poisson.cdf(np.arange(len(thresholds)), 1.0)
    assert np.all(np.diff(thresholds) > 0)
    assert np.all(np.abs(thresholds / 2.0**32 - cdf) <= 2.0**-32)
    # the largest weight, len(thresholds), stands for every larger count: less than 2**-32
    assert scipy_stats.poisson.sf(len(thresholds), 1.0) < 2.0**-32


def test_the_lookup_table_equals_exact_inversion():
    thresholds = stats.poisson_thresholds()
    table, split = stats._poisson_lookup()
    assert 0 < split.sum() <= len(thresholds)
    starts = np.arange(2**16, dtype=np.uint64) << np.uint64(16)
    ends = starts + np.uint64(2**16 - 1)
    exact = np.searchsorted(thresholds, starts, side="right")
    np.testing.assert_array_equal(table[~split], exact[~split])
    np.testing.assert_array_equal(split, exact != np.searchsorted(thresholds, ends, side="right"))
    # every threshold and its neighbours, and a million random draws
    edges = np.concatenate([thresholds.astype(np.int64) + d for d in (-1, 0, 1)])
    draws = np.concatenate([edges.clip(0, 2**32 - 1).astype(np.uint32),
                            np.random.default_rng(0).integers(0, 2**32, 10**6,
                                                              dtype=np.uint32)])
    np.testing.assert_array_equal(stats.poisson_from_uniform(draws),
                                  np.searchsorted(thresholds, draws, side="right"))


def test_weights_follow_poisson_1():
    keys = np.random.default_rng(1).integers(0, 2**63, 16, dtype=np.uint64)
    weights = stats.poisson_weights(keys, slice(0, 65_536)).ravel()  # about 10**6
    observed = np.bincount(weights, minlength=7)[:7].astype(np.float64)
    observed[6] += (weights > 6).sum()
    expected = scipy_stats.poisson.pmf(np.arange(7), 1.0)
    expected[6] = scipy_stats.poisson.sf(5, 1.0)
    _, p = scipy_stats.chisquare(observed, expected * len(weights))
    assert p > 1e-3
    assert abs(weights.mean() - 1.0) < 0.005 and abs(weights.var() - 1.0) < 0.01


def test_a_weight_depends_only_on_its_key_and_row():
    keys = np.random.default_rng(2).integers(0, 2**63, 5, dtype=np.uint64)
    whole = stats.poisson_weights(keys, slice(0, 1001))
    for start, stop in [(0, 1), (1, 2), (3, 800), (501, 1001)]:
        np.testing.assert_array_equal(stats.poisson_weights(keys, slice(start, stop)),
                                      whole[:, start:stop])
    order = np.random.default_rng(3).permutation(1001)
    np.testing.assert_array_equal(stats.poisson_weights(keys, order), whole[:, order])
    np.testing.assert_array_equal(stats.poisson_weights(keys[2:3], order), whole[2:3, order])


# -- each resampled statistic against scikit-learn with the same weights ----------------------


@pytest.mark.parametrize("k, decimals", [(2, 2), (2, None), (4, 2), (20, 2)],
                         ids=["binary_ties", "binary", "4_class", "20_class_sparse"])
def test_metrics_per_resample_equal_scikit_learn_with_sample_weight(k, decimals):
    pred = scored(1500, k, seed=k, decimals=decimals)
    seed = np.random.SeedSequence(11)
    values = stats.poisson_block(ResampledMetrics(pred), BootstrapBlock(0, seed, 6))
    weights = block_weights(seed, 6, pred.n).astype(np.float64)
    y, guess, proba, labels = pred.y, pred.predicted, pred.proba, np.arange(k)
    for r, w in enumerate(weights):
        auc = (skm.roc_auc_score(y, proba[:, 1], sample_weight=w) if k == 2 else
               skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels, sample_weight=w))
        expected = {
            "accuracy": skm.accuracy_score(y, guess, sample_weight=w),
            "balanced_accuracy": skm.balanced_accuracy_score(y, guess, sample_weight=w),
            "precision_macro": skm.precision_score(y, guess, labels=labels, average="macro",
                                                   zero_division=0, sample_weight=w),
            "recall_macro": skm.recall_score(y, guess, labels=labels, average="macro",
                                             zero_division=0, sample_weight=w),
            "f1_macro": skm.f1_score(y, guess, labels=labels, average="macro",
                                     zero_division=0, sample_weight=w),
            "roc_auc": auc,
            "log_loss": skm.log_loss(y, proba, labels=labels, sample_weight=w),
            "brier_score": skm.brier_score_loss(y, proba if k > 2 else proba[:, 1],
                                                labels=labels, sample_weight=w),
        }
        for name, value in expected.items():
            assert values[name][r] == pytest.approx(value, rel=1e-12, abs=1e-12), (name, r)


def test_running_auc_is_exact_whatever_the_chunks_and_ties():
    rng = np.random.default_rng(4)
    scores = np.round(rng.random(3000), 1)  # eleven distinct values: long tie groups
    positive = rng.random(3000) < scores
    order = np.argsort(scores, kind="stable")
    keys = rng.integers(0, 2**63, 8, dtype=np.uint64)
    results = []
    for chunk in (1, 7, 250, 3000):
        auc = stats.RunningAUC(8)
        for start in range(0, 3000, chunk):
            rows = order[start:start + chunk]
            auc.update(stats.poisson_weights(keys, rows), scores[rows], positive[rows])
        results.append(auc.result())
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])  # integer sums: bit for bit
    weights = stats.poisson_weights(keys, slice(0, 3000))
    expected = [skm.roc_auc_score(positive, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(results[0], expected, rtol=1e-12)


def test_ece_per_resample_by_hand():
    pred = scored(2000, 3, seed=5)
    seed = np.random.SeedSequence(12)
    values = stats.poisson_block(ResampledECE(pred, 10), BootstrapBlock(0, seed, 5))["ece"]
    for r, w in enumerate(block_weights(seed, 5, pred.n).astype(np.float64)):
        index = stats.calibration_bin_index(pred.confidence, 10)
        gap = [np.sum(w[index == b] * (pred.correct - pred.confidence)[index == b])
               for b in range(10)]
        assert values[r] == pytest.approx(np.abs(gap).sum() / w.sum(), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_fairness_sums_give_the_directly_weighted_group_rates(k):
    import pandas as pd

    pred = scored(2500, k, seed=6)
    rng = np.random.default_rng(7)
    sensitive = pd.DataFrame({"sex": rng.choice(["f", "m"], pred.n),
                              "race": rng.choice(["a", "b", "c"], pred.n, p=[.6, .3, .1])})
    group_sets, _ = sensitive_group_sets(sensitive)
    classes = evaluated_classes(pred)
    statistic = ResampledGroupSums(pred, group_sets, classes)
    seed = np.random.SeedSequence(13)
    sums = stats.poisson_block(statistic, BootstrapBlock(0, seed, 4))["sums"]
    weights = block_weights(seed, 4, pred.n).astype(np.float64)
    for (start, stop), group_set in zip(statistic.bounds, group_sets, strict=True):
        rates = rates_from_sums(sums[:, start:stop], len(group_set.groups), len(classes))
        for g in range(len(group_set.groups)):
            member = group_set.codes == g
            for r, w in enumerate(weights):
                w = w * member
                assert rates["count"][r, g] == w.sum()
                assert rates["accuracy"][r, g] == pytest.approx(
                    np.sum(w * pred.correct) / w.sum(), rel=1e-12)
                for j, c in enumerate(classes):
                    truth, chosen = pred.y == c, pred.predicted == c
                    assert rates["selection_rate"][r, g, j] == pytest.approx(
                        np.sum(w * chosen) / w.sum(), rel=1e-12)
                    assert rates["tpr"][r, g, j] == pytest.approx(
                        np.sum(w * chosen * truth) / np.sum(w * truth), rel=1e-12)
                    assert rates["fpr"][r, g, j] == pytest.approx(
                        np.sum(w * chosen * ~truth) / np.sum(w * ~truth), rel=1e-12)
    # the point sums are the sums with every weight 1
    state = statistic.start(1)
    statistic.update(state, 0, np.ones((1, pred.n), dtype=np.uint8), slice(0, pred.n))
    np.testing.assert_array_equal(statistic.finish(state)["sums"], statistic.point_sums())


def test_a_group_absent_from_a_resample_has_undefined_rates():
    pred = scored(40, 2, seed=8)
    codes = np.zeros(pred.n, dtype=np.int64)
    codes[0] = 1  # a group of one row: weight 0 in about a third of the resamples
    from auditkit.checks.fairness._common import GroupSet

    group_set = GroupSet("g", ("g",), ("big", "one"), codes, np.bincount(codes))
    statistic = ResampledGroupSums(pred, [group_set], [1])
    sums = stats.poisson_bootstrap(statistic, spec=BootstrapSpec(200),
                                   rng=np.random.default_rng(0))["sums"]
    rates = rates_from_sums(sums, 2, 1)
    absent = rates["count"][:, 1] == 0
    assert 0.2 < absent.mean() < 0.5  # P(Poisson(1) = 0) = 0.37
    assert np.isnan(rates["tpr"][absent, 1]).all() and np.isnan(rates["accuracy"][absent, 1]).all()
    assert np.isfinite(rates["accuracy"][~absent, 1]).all()


# -- the same seed gives the same intervals: any chunk, any executor ----------------------------


def _checks_and_data(make_binary):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = make_binary(n=3000, seed=3)
    rng = np.random.default_rng(0)
    sensitive = {"sex": rng.choice(["f", "m"], len(y)), "band": rng.choice(list("abc"), len(y))}
    model = wrap_model(LogisticRegression().fit(X, y))
    checks = [PerformanceMetrics(n_resamples=150), PerformanceCalibration(n_resamples=150),
              get_check("fairness_group_metrics", n_resamples=150)]
    return model, AuditData(X, y, sensitive=sensitive), checks


def _interval_values(result):
    out = {name: (m.lower, m.upper) for name, m in result.metrics.items()
           if m.lower is not None}
    for name, table in result.tables.items():
        for column in table.columns:
            if str(column).endswith(("lower", "upper")):
                out[f"{name}.{column}"] = table[column].to_numpy(dtype=np.float64)
    return out


def test_the_processing_chunk_changes_intervals_by_less_than_1e_12(make_binary, monkeypatch):
    model, data, checks = _checks_and_data(make_binary)
    runs = []
    for chunk in (stats.ROWS_PER_CHUNK, 1000, 333):
        monkeypatch.setattr(stats, "ROWS_PER_CHUNK", chunk)
        runs.append([_interval_values(c.run(model, data, context=CheckContext(random_state=2)))
                     for c in checks])
    for other in runs[1:]:
        for first, second in zip(runs[0], other, strict=True):
            assert first.keys() == second.keys() and first
            for name in first:
                np.testing.assert_allclose(np.asarray(second[name], dtype=np.float64),
                                           np.asarray(first[name], dtype=np.float64),
                                           rtol=0, atol=1e-12, err_msg=name)


class _SendingExecutor:
    """Runs units as another process would get them: function, shared and units pickled."""

    n_workers = 1

    def map(self, function, units, *, shared=None, on_done=None):
        function, shared = pickle.loads(pickle.dumps((function, shared)))
        return [function(shared, pickle.loads(pickle.dumps(unit))) for unit in units]


def test_threads_and_other_processes_give_the_same_intervals(make_binary):
    from auditkit.checks._executor import LocalExecutor

    model, data, checks = _checks_and_data(make_binary)
    for check in checks:
        local = check.run(model, data, context=CheckContext(random_state=4))
        for executor in (_SendingExecutor(), LocalExecutor(n_workers=2)):
            other = check.run(model, data, context=CheckContext(random_state=4,
                                                                executor=executor))
            assert other.metrics == local.metrics, check.name


def test_a_statistic_another_process_cannot_import_is_refused():
    class Local(stats.ChunkedStatistic):
        n_rows = 3

    with pytest.raises(TypeError, match="module-level ChunkedStatistic"):
        stats.poisson_bootstrap(Local(), spec=BootstrapSpec(10), rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="module-level ChunkedStatistic"):
        stats.poisson_bootstrap(lambda: None, spec=BootstrapSpec(10),  # type: ignore[arg-type]
                                rng=np.random.default_rng(0))


# -- memory: O(resamples x chunk), not O(resamples x rows) --------------------------------------


def _bootstrap_peak(n: int) -> int:
    pred = scored(n, 2, seed=9, decimals=None)
    statistic = ResampledMetrics(pred)
    statistic.orders  # noqa: B018 (the sort order is per-row data, made before measuring)
    tracemalloc.start()
    try:
        stats.poisson_bootstrap(statistic, spec=BootstrapSpec(100), rng=np.random.default_rng(0))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bootstrap_memory_does_not_grow_with_the_rows():
    small, large = _bootstrap_peak(100_000), _bootstrap_peak(400_000)
    old = 100 * 400_000 * 8  # one (resamples x rows) float64 array of the old bootstrap
    assert large < 60 * 2**20 and large < old / 5
    assert large - small < 8 * 2**20  # per-row temporaries of a chunk only


# -- coverage on data from a known model -------------------------------------------------------


def test_intervals_cover_the_true_values_about_95_percent_of_the_time():
    """Calibrated scores s ~ U(0, 1), y ~ Bernoulli(s): the true values are known.

    Log loss: the mean binary entropy, 1/2; Brier score E[s(1 - s)] = 1/6;
    AUC: P(score of a positive > score of a negative) = 5/6.
    """
    truth = {"log_loss": 0.5, "brier_score": 1 / 6, "roc_auc": 5 / 6}
    rng = np.random.default_rng(10)
    hits = {name: 0 for name in truth}
    repetitions = 200
    for _ in range(repetitions):
        s = rng.random(400)
        y = (rng.random(400) < s).astype(np.int64)
        pred = Predictions(y, np.column_stack([1 - s, s]), ("0", "1"))
        samples = stats.poisson_bootstrap(ResampledMetrics(pred), spec=BootstrapSpec(200),
                                          rng=rng)
        for name, value in truth.items():
            low, high = stats.percentile_interval(samples[name], 0.95)
            hits[name] += low <= value <= high
    for name in truth:
        assert 0.90 <= hits[name] / repetitions <= 0.99, (name, hits[name])


def test_group_ece_equals_the_ece_of_each_group_alone():
    import pandas as pd

    from auditkit._stats import expected_calibration_error
    from auditkit.checks.fairness._common import group_ece

    pred = scored(3000, 3, seed=14, decimals=None)
    band = np.random.default_rng(15).choice(list("abcd"), pred.n, p=[.4, .3, .2, .1])
    (group_set,), _ = sensitive_group_sets(pd.DataFrame({"band": band}))
    expected = [expected_calibration_error(pred.confidence[group_set.codes == g],
                                           pred.correct[group_set.codes == g])[0]
                for g in range(len(group_set.groups))]
    np.testing.assert_array_equal(group_ece(pred, group_set), expected)


# -- the other checks of the performance and fairness presets on many rows -------------------


def _frame(n: int, seed: int = 0):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    sex, band = rng.choice(["f", "m"], n), rng.choice(list("abc"), n)
    y = (X[:, 0] + (sex == "m") * 0.5 + rng.standard_normal(n) > 0).astype(np.int64)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(4)]).assign(sex=sex, band=band,
                                                                        label=y)
    return X, y, {"sex": sex, "band": band}, frame, LogisticRegression().fit(X, y)


def test_mitigation_caps_its_sample_and_says_so():
    X, y, sensitive, _, model = _frame(3000)
    check = get_check("fairness_mitigation", max_samples=1000, constraints=("equalized_odds",))
    result = check.run(wrap_model(model), AuditData(X, y, sensitive=sensitive),
                       context=CheckContext(random_state=0))
    assert "seeded sample of 1,000 of the 3,000 audited rows" in result.headline
    assert result.metrics["accuracy_unmitigated"].n == 500  # the evaluation half of the sample
    assert int(result.tables["split"]["audit_split"].sum()) == 1000
    whole = get_check("fairness_mitigation", constraints=("equalized_odds",)).run(
        wrap_model(model), AuditData(X, y, sensitive=sensitive),
        context=CheckContext(random_state=0))
    assert "seeded sample" not in whole.headline
    assert whole.metrics["accuracy_unmitigated"].n == 1500


def test_thresholds_rates_equal_a_direct_count_at_every_threshold():
    from auditkit.checks.fairness.thresholds import threshold_rates

    rng = np.random.default_rng(16)
    scores = np.round(rng.random(2000), 2)  # scores on the thresholds themselves too
    positive = rng.random(2000) < scores
    codes = rng.integers(0, 3, 2000)
    thresholds = np.linspace(0.0, 1.0, 101)
    rates = threshold_rates(scores, positive, codes, 3, thresholds)
    for g in range(3):
        for j, t in enumerate(thresholds):
            chosen, member = scores > t, codes == g
            assert rates["selection_rate"][g, j] == chosen[member].mean()
            assert rates["tpr"][g, j] == chosen[member & positive].mean()
            assert rates["fpr"][g, j] == chosen[member & ~positive].mean()


def test_streamed_rows_give_the_in_memory_intervals():
    """Every row's predictions are kept when streamed: the same weights, the same intervals."""
    from auditkit import audit

    X, y, sensitive, frame, model = _frame(4000, seed=1)
    names = ["performance_metrics", "fairness_group_metrics", "fairness_disparities",
             "fairness_thresholds", "fairness_mitigation"]
    in_memory = audit(model, AuditData(X, y, sensitive=sensitive), checks=names,
                      progress=False, random_state=3)
    streamed = audit(model, AuditData.from_table(frame, label="label", sensitive=["sex", "band"],
                                                 batch_size=700, sample_size=1500),
                     checks=names, progress=False, random_state=3)
    for first, second in zip(in_memory.results, streamed.results, strict=True):
        if first.name == "fairness_mitigation":  # fits on the sample kept with its inputs
            assert "seeded sample of 1,500 of the 4,000 audited rows" in second.headline
            continue
        assert first.metrics.keys() == second.metrics.keys()
        for name, metric in first.metrics.items():
            other = second.metrics[name]
            assert other.n == metric.n, name
            for a, b in ((metric.value, other.value), (metric.lower, other.lower),
                         (metric.upper, other.upper)):
                assert (a is None and b is None) or a == pytest.approx(b, rel=1e-12,
                                                                       abs=1e-12), name
