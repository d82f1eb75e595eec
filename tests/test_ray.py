"""The Ray executor on a real single-node cluster (``ray.init(num_cpus=2)``), started once.

Units come back in order and each is counted once, a unit's own exception
reaches the check as itself, a worker killed mid-task has its unit run again,
and an audit on Ray equals the same audit on the local executor.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from auditkit import AuditData, Status, audit  # noqa: E402
from auditkit.checks._executor import LocalExecutor, make_executor  # noqa: E402
from auditkit.checks._ray import RayExecutor  # noqa: E402
from auditkit.exceptions import AuditkitError  # noqa: E402

# The unit functions below live in this test module, which the workers cannot import by
# name: ship them by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, object_store_memory=256 * 2**20)
    yield ray
    if started:
        ray.shutdown()


def _slow_square(shared, unit):
    time.sleep(shared[unit % len(shared)])
    return unit * unit


def _fail_on_three(shared, unit):
    if unit == 3:
        raise ValueError(f"unit {unit} is bad")
    return unit


def _record_then_maybe_hang(shared, unit):
    """Write this attempt's pid; the first attempt of the victim unit waits to be killed."""
    folder, victim = Path(shared[0]), shared[1]
    attempts = sorted(folder.glob(f"unit{unit}-*.pid"))
    (folder / f"unit{unit}-{len(attempts)}.pid").write_text(str(os.getpid()))
    if unit == victim and not attempts:
        time.sleep(120)  # killed long before this ends
    return unit + 100


def test_results_come_back_in_order_and_each_unit_is_counted_once(cluster):
    executor = RayExecutor()
    done = []
    delays = np.array([0.3, 0.0, 0.2, 0.0, 0.1])  # later units finish first
    results = executor.map(_slow_square, range(10), shared=delays, on_done=done.append)
    assert results == [i * i for i in range(10)]
    assert done == [1] * 10
    assert executor.n_workers == 2
    assert executor.map(_slow_square, [], shared=delays) == []


def _torch_threads(shared, unit):
    import torch

    return torch.get_num_threads()


def test_units_run_torch_on_as_many_threads_as_this_process(cluster):
    import torch

    # Ray gives a worker one thread; torch sums in another order on another number of threads.
    assert RayExecutor().map(_torch_threads, range(2)) == [torch.get_num_threads()] * 2
    assert RayExecutor(torch_threads=3).map(_torch_threads, range(2)) == [3, 3]


def _interval(shared, unit):
    started = time.monotonic()
    time.sleep(0.5)
    return started, time.monotonic()


@pytest.mark.slow  # about 7 s: two rounds of units or batches on the cluster
def test_units_ask_ray_for_as_many_cpus_as_their_torch_threads(cluster, tmp_path):
    from auditkit import wrap_model

    (a, b), (c, d) = RayExecutor(torch_threads=2).map(_interval, range(2))
    assert b <= c or d <= a  # 2 threads each on 2 CPUs: one at a time
    RayExecutor(torch_threads=1).map(_interval, range(2))  # two workers started, not timed
    (a, b), (c, d) = RayExecutor(torch_threads=1).map(_interval, range(2))
    assert a < d and c < b  # one CPU each: both at once
    model = wrap_model(_EncodeRows(tmp_path))
    assert len(list(RayExecutor(torch_threads=2).predict_batches(
        model, _batches_of_ids([2] * 4)))) == 4
    assert len(list(tmp_path.glob("load-*"))) == 1  # a single 2-CPU actor


def test_a_units_own_exception_reaches_the_check_as_itself(cluster):
    with pytest.raises(ValueError, match="unit 3 is bad"):
        RayExecutor().map(_fail_on_three, range(6))


def _kill_when_started(pid_file) -> threading.Thread:
    """A thread that SIGKILLs the process whose pid ``pid_file`` receives, once it appears."""
    def kill():
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    return killer


def test_a_killed_worker_has_its_unit_run_again_and_nothing_is_lost(cluster, tmp_path):
    victim = 2
    done = []
    killer = _kill_when_started(tmp_path / f"unit{victim}-0.pid")
    results = RayExecutor(max_retries=2).map(_record_then_maybe_hang, range(6),
                                             shared=(str(tmp_path), victim),
                                             on_done=done.append)
    killer.join(timeout=5)
    assert results == [i + 100 for i in range(6)]
    assert sum(done) == 6  # every unit counted once, the retried one included
    attempts = {i: len(list(tmp_path.glob(f"unit{i}-*.pid"))) for i in range(6)}
    assert attempts[victim] == 2, attempts  # killed once, run again once
    first_pid = int((tmp_path / f"unit{victim}-0.pid").read_text())
    assert int((tmp_path / f"unit{victim}-1.pid").read_text()) != first_pid


def test_an_audit_on_ray_equals_the_local_audit(cluster, logreg_and_data):
    model, data = logreg_and_data
    checks = ["performance_metrics", "performance_calibration", "fairness_group_metrics",
              "robustness_tabular"]
    local = audit(model, data, checks=checks, random_state=3, progress=False)
    spread = audit(model, data, checks=checks, random_state=3, progress=False, executor="ray")
    assert [r.status for r in spread] == [r.status for r in local]
    assert all(r.status is not Status.ERROR for r in spread), [r.error for r in spread]
    timeless = [[r.with_changes(duration_s=0.0) for r in audit_.results]
                for audit_ in (local, spread)]
    assert timeless[0] == timeless[1]  # every metric, table and figure, bit for bit
    assert [json.dumps(r.to_dict(), sort_keys=True) for r in timeless[0]] == \
        [json.dumps(r.to_dict(), sort_keys=True) for r in timeless[1]]
    assert spread.provenance["executor"] == "ray"
    assert local.provenance["executor"] == "local"


@pytest.fixture(scope="module")
def logreg_and_data():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    group = rng.integers(0, 2, size=600)
    y = (X[:, 0] + 0.8 * group + rng.normal(scale=0.8, size=600) > 0.4).astype(int)
    model = LogisticRegression().fit(np.c_[X, group], y)
    data = AuditData(np.c_[X, group], y, feature_names=["a", "b", "c", "d", "e", "group"],
                     sensitive={"group": np.where(group == 1, "one", "zero")},
                     train=(np.c_[X, group][:300], y[:300]))
    return model, data


def test_executor_names_are_checked():
    assert isinstance(make_executor("local", n_jobs=2), LocalExecutor)
    with pytest.raises(AuditkitError, match=r"'executor' parameter must be one of \['local', "
                                            r"'ray'\]\. Got 'spark'"):
        make_executor("spark")
    with pytest.raises(AuditkitError, match=r"'ray_address' parameter must be None unless "
                                            r"executor='ray'"):
        make_executor("local", ray_address="auto")
    with pytest.raises(AuditkitError, match=r"'executor' parameter must be one of"):
        make_executor(3)
    with pytest.raises(AuditkitError, match=r"'max_retries' parameter must be an integer >= 0"):
        RayExecutor(max_retries=-1)
    with pytest.raises(AuditkitError, match=r"'ray_address' parameter must be a Ray cluster"):
        RayExecutor(address="  ")
    with pytest.raises(AuditkitError, match=r"'torch_threads' parameter must be an integer >= 1"):
        RayExecutor(torch_threads=0)


# --- Model inference on actors: RayExecutor.predict_batches ---------------------------------


class _EncodeRows:
    """A callable model whose probabilities encode each row's first value; optionally slow.

    Each unpickling (one per actor that loads the model) leaves a file in ``folder``.
    """

    def __init__(self, folder, scale=1000.0, delay=0.0, bad=None):
        self.folder, self.scale, self.delay, self.bad = str(folder), scale, delay, bad

    def __setstate__(self, state):
        self.__dict__.update(state)
        Path(self.folder, f"load-{os.getpid()}-{time.monotonic_ns()}").touch()

    def __call__(self, X):
        Path(self.folder, f"pid-{os.getpid()}").touch()
        value = X[:, 0] / self.scale
        if self.bad is not None and np.any(X[:, 0] == self.bad):
            return np.full((len(X), 2), 0.7)  # rows summing to 1.4: the adapter refuses them
        if self.delay:
            time.sleep(self.delay * float(X[0, 0] % 3))  # later batches may finish first
        return np.c_[1 - value, value]


class _HangOnVictim:
    """Records each attempt at each batch; the first attempt at the victim batch hangs."""

    def __init__(self, folder, victim):
        self.folder, self.victim = str(folder), victim

    def __call__(self, X):
        batch = int(X[0, 0]) // 10
        attempts = sorted(Path(self.folder).glob(f"batch{batch}-*.pid"))
        Path(self.folder, f"batch{batch}-{len(attempts)}.pid").write_text(str(os.getpid()))
        if batch == self.victim and not attempts:
            time.sleep(120)  # killed long before this ends
        return np.c_[1 - X[:, 0] / 1000, X[:, 0] / 1000]


def _one_cpu_each(**options):
    """An executor with an actor per CPU: 2 here (by default one per 2 CPUs, as torch uses 2)."""
    return RayExecutor(torch_threads=1, **options)


def _batches_of_ids(sizes, consumed=None):
    """Batches of rows numbered 0, 1, 2, ...; ``consumed`` counts the batches drawn."""
    start = 0
    for size in sizes:
        if consumed is not None:
            consumed.append(start)
        yield np.arange(start, start + size, dtype=np.float64)[:, None]
        start += size


def _pids_in(folder):
    return {int(p.name.split("-")[1]) for p in Path(folder).glob("pid-*")}


def _wait_until_dead(pids, seconds=30.0):
    deadline = time.monotonic() + seconds
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                alive.discard(pid)
        time.sleep(0.1)
    return alive


def test_predicted_batches_come_back_in_order_from_actors_that_load_the_model_once(
        cluster, tmp_path):
    from auditkit import wrap_model

    model = wrap_model(_EncodeRows(tmp_path, delay=0.01))
    sizes = [1 + i % 5 for i in range(60)]  # many small batches
    results = list(_one_cpu_each().predict_batches(model, _batches_of_ids(sizes)))
    assert [len(r) for r in results] == sizes
    assert np.array_equal(np.concatenate(results)[:, 1], np.arange(sum(sizes)) / 1000.0)
    loads = list(tmp_path.glob("load-*"))
    assert len(loads) == 2, loads  # one actor per worker, each loading the model once
    assert len(_pids_in(tmp_path)) == 2  # both actors predicted
    assert not _wait_until_dead(_pids_in(tmp_path))  # killed once the stream is exhausted
    assert list(_one_cpu_each().predict_batches(model, iter([]))) == []


def test_predictions_on_actors_equal_the_local_executors_bit_for_bit(cluster):
    from auditkit import wrap_model, zoo

    model, data = zoo.load("adult-mlp")  # torch, in float32: the harder case
    adapter = wrap_model(model, device="cpu")
    X = data.X[:3000]
    batches = np.array_split(X, 7)
    spread = list(RayExecutor().predict_batches(adapter, iter(batches)))
    assert adapter.classes_.tolist() == [0, 1]  # learnt from the actors' predictions
    local = list(LocalExecutor().predict_batches(adapter, batches))
    assert len(spread) == len(local) == 7
    for a, b in zip(local, spread, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    # The whole array goes through torch in other batch shapes: equal to float32 precision.
    assert np.allclose(np.concatenate(spread), adapter.predict_proba(X), rtol=0, atol=1e-6)


def test_a_model_error_on_one_batch_is_raised_as_itself_and_the_actors_are_killed(
        cluster, tmp_path):
    from auditkit import wrap_model
    from auditkit.exceptions import ModelError

    model = wrap_model(_EncodeRows(tmp_path, bad=12.0))
    stream = _one_cpu_each().predict_batches(model, _batches_of_ids([4] * 10))
    for _ in range(3):
        assert next(stream).shape == (4, 2)
    with pytest.raises(ModelError, match=r"must return probabilities in \[0, 1\] that sum to one"):
        next(stream)  # the batch of rows 12..15
    assert not _wait_until_dead(_pids_in(tmp_path))


@pytest.mark.slow  # about 7 s: two rounds of units or batches on the cluster
def test_the_batch_iterator_is_consumed_lazily_with_bounded_batches_in_flight(cluster, tmp_path):
    from auditkit import wrap_model

    model = wrap_model(_EncodeRows(tmp_path))
    consumed = []
    stream = _one_cpu_each().predict_batches(model, _batches_of_ids([3] * 40, consumed))
    assert consumed == []  # nothing runs before the first result is asked for
    next(stream)
    assert len(consumed) == 4  # 2 per actor, 2 actors
    stream.close()  # closing early kills the actors and consumes no more
    assert len(consumed) == 4
    assert not _wait_until_dead(_pids_in(tmp_path))

    consumed = []
    seen = []
    for proba in _one_cpu_each().predict_batches(model, _batches_of_ids([3] * 12, consumed),
                                               max_in_flight=3):
        seen.append(len(consumed))
        assert len(proba) == 3
    assert seen == [min(i + 3, 12) for i in range(12)]
    with pytest.raises(AuditkitError, match=r"'max_in_flight' parameter must be a positive "
                                            r"integer or None\. Got 0 instead"):
        _one_cpu_each().predict_batches(model, [], max_in_flight=0)


def test_a_killed_actor_is_restarted_and_every_batch_comes_back_exactly_once(cluster, tmp_path):
    from auditkit import wrap_model

    victim = 3
    model = wrap_model(_HangOnVictim(tmp_path, victim))

    killer = _kill_when_started(tmp_path / f"batch{victim}-0.pid")
    batches = [np.arange(10 * b, 10 * b + 10, dtype=np.float64)[:, None] for b in range(10)]
    results = list(_one_cpu_each(max_retries=2).predict_batches(model, iter(batches)))
    killer.join(timeout=5)
    assert len(results) == 10
    assert np.array_equal(np.concatenate(results)[:, 1], np.arange(100) / 1000)
    attempts = {b: len(list(tmp_path.glob(f"batch{b}-*.pid"))) for b in range(10)}
    assert attempts == {b: 2 if b == victim else 1 for b in range(10)}, attempts
    first_pid = int((tmp_path / f"batch{victim}-0.pid").read_text())
    assert int((tmp_path / f"batch{victim}-1.pid").read_text()) != first_pid
