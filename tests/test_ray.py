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


def test_a_units_own_exception_reaches_the_check_as_itself(cluster):
    with pytest.raises(ValueError, match="unit 3 is bad"):
        RayExecutor().map(_fail_on_three, range(6))


def test_a_killed_worker_has_its_unit_run_again_and_nothing_is_lost(cluster, tmp_path):
    victim = 2
    done = []

    def kill_the_victim():
        deadline = time.monotonic() + 90
        first = tmp_path / f"unit{victim}-0.pid"
        while time.monotonic() < deadline and not first.exists():
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int(first.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_the_victim, daemon=True)
    killer.start()
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
