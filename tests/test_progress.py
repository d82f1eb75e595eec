"""Progress inside long checks: bars advance to their totals, nest, and never change a result.

A recording bar factory stands in for tqdm: each bar remembers its total,
label, position and how far it got. The slow steps of fairness_mitigation
(ExponentiatedGradient's refits) and of an explanations check (LIME's
batches and re-initialised copies) must each show on a bar below the check's
own, and the same seed must give the same result with bars on or off.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, CheckContext, get_check, wrap_model
from auditkit.checks import Progress
from auditkit.checks._base import map_units, track_checks

N = 240


class RecordingBar:
    """A bar that records what a check did with it, as tqdm's keyword arguments describe it."""

    def __init__(self, log: list[RecordingBar], *, total, desc, position, leave, unit, **_):
        self.total, self.description, self.position = total, desc, position
        self.leave, self.unit = leave, unit
        self.n, self.postfixes, self.closed = 0, [], False
        log.append(self)

    def update(self, n=1):
        self.n += n

    def set_postfix_str(self, s="", refresh=True):
        self.postfixes.append(s)

    def set_description_str(self, desc=None, refresh=True):
        self.description = desc

    def close(self):
        self.closed = True


def recording_progress() -> tuple[Progress, list[RecordingBar]]:
    log: list[RecordingBar] = []
    return Progress(True, bar_factory=lambda **kw: RecordingBar(log, **kw)), log


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(N, 4))
    sex = np.where(rng.random(N) < 0.45, "f", "m")
    X[:, 3] = (sex == "m") * 1.0
    y = (X[:, 0] + 0.9 * X[:, 3] + rng.normal(size=N) > 0.5).astype(int)
    X_train, y_train = X[: N // 2], y[: N // 2]
    model = wrap_model(LogisticRegression().fit(X_train, y_train))
    data = AuditData(X[N // 2:], y[N // 2:], sensitive={"sex": sex[N // 2:]},
                     train=(X_train, y_train), name="progress test")
    return model, data


def _run(check, model, data, progress=None):
    context = CheckContext(random_state=0, progress=progress or Progress(False))
    return check.run(model, data, context=context)


def _same(first, second):
    first, second = (r.with_changes(duration_s=0.0) for r in (first, second))
    return json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(),
                                                                     sort_keys=True)


def test_mitigation_shows_each_fit_and_each_refit(tabular):
    model, data = tabular
    check = get_check("fairness_mitigation", min_group_size=10, reduction_iterations=4,
                      grid_size=50)
    progress, bars = recording_progress()
    result = _run(check, model, data, progress)
    assert result.status.value != "ERROR", result.headline
    outer = next(b for b in bars if b.description == "fairness_mitigation")
    assert outer.total == len(check.constraints) + 1 and outer.n == outer.total
    assert outer.postfixes[-1] == "ExponentiatedGradient"
    refits = next(b for b in bars if b.description == "ExponentiatedGradient refits")
    # at least one refit per iteration, each counted, on a bar nested below the check's
    assert refits.n >= check.reduction_iterations and refits.total is None
    assert refits.position == outer.position + 1
    assert all(b.closed and not b.leave for b in bars)
    assert _same(result, _run(check, model, data))


def test_lime_shows_its_batches_and_its_copies(torch_model, binary_data):
    model = wrap_model(torch_model, device="cpu")
    check = get_check("explanations_lime", n_samples=10, num_samples=40, n_randomisations=2,
                      n_resamples=20, n_random=2, steps=4)
    progress, bars = recording_progress()
    result = _run(check, model, binary_data, progress)
    assert result.status.value != "ERROR", result.headline
    attributions = [b for b in bars if b.description == "LIME: attributions"]
    # the explained samples (two batches), then each re-initialised copy (on the samples the
    # sanity check uses), counted in samples
    assert len(attributions) == 3 and all(b.unit == "sample" for b in attributions)
    assert attributions[0].total == 10 and all(b.n == b.total > 0 for b in attributions)
    sanity = next(b for b in bars if b.description == "LIME: sanity check")
    assert sanity.n == sanity.total == 2
    assert all(b.position == sanity.position + 1 for b in attributions[1:])
    assert all(b.closed for b in bars)
    assert _same(result, _run(check, model, binary_data))


def test_attribute_inference_counts_its_two_attackers_per_feature(logreg, binary_data):
    model = wrap_model(logreg)
    check = get_check("privacy_attribute_inference", n_resamples=20)
    progress, bars = recording_progress()
    result = _run(check, model, binary_data, progress)
    assert result.status.value not in ("ERROR", "SKIP"), result.headline
    (bar,) = [b for b in bars if b.description == "privacy_attribute_inference"]
    assert bar.total == 2 * binary_data.train.sensitive.shape[1] and bar.n == bar.total
    assert _same(result, _run(check, model, binary_data))


def test_map_units_counts_samples_and_nests_below_an_open_bar():
    progress, bars = recording_progress()
    context = CheckContext(progress=progress)
    with progress.bar(total=1, description="check") as outer:
        out = map_units(context, _double, [1, 2, 3], description="batches", sizes=[8, 8, 2],
                        unit="sample")
        outer.update(1)
    assert out == [2, 4, 6]
    inner = bars[1]
    assert (inner.total, inner.n, inner.unit, inner.position) == (18, 18, "sample", 1)
    with pytest.raises(ValueError, match="one size per unit"):
        map_units(context, _double, [1, 2], description="batches", sizes=[1])


def test_the_audit_bar_names_the_running_check_and_weighs_by_cost(tabular):
    model, data = tabular
    checks = [get_check("performance_metrics"), get_check("fairness_mitigation"),
              get_check("robustness_pgd")]  # robustness_pgd does not apply to scikit-learn
    progress, bars = recording_progress()
    seen = []
    for check in track_checks(CheckContext(progress=progress), checks, model, data):
        seen.append((check.name, bars[0].description, bars[0].n))
    assert [name for name, _, _ in seen] == [c.name for c in checks]
    assert [label for _, label, _ in seen] == [f"auditkit: {c.name}" for c in checks]
    weights = [c.expected_cost(model, data) for c in checks]
    assert weights[1] > weights[0] > weights[2]  # the refits dominate; a SKIP costs nothing
    assert bars[0].total == pytest.approx(sum(weights)) and bars[0].n == pytest.approx(
        sum(weights))
    assert bars[0].postfixes == ["1/3", "2/3", "3/3"]


def test_real_tqdm_bars_draw_where_told_and_nothing_when_off():
    stream = io.StringIO()
    progress = Progress(True, file=stream)
    items = list(progress.track(["a", "b"], description="auditkit", labels=["first", "second"],
                                weights=[1.0, 3.0]))
    with progress.bar(total=2, description="inner") as bar:
        bar.update(2)
    assert items == ["a", "b"]
    drawn = stream.getvalue()
    assert "auditkit: first" in drawn and "auditkit: second" in drawn and "inner" in drawn
    silent = io.StringIO()
    off = Progress(False, file=silent)
    assert list(off.track([1, 2], description="auditkit")) == [1, 2]
    with off.bar(total=3, description="inner") as bar:
        bar.update(3)
    assert silent.getvalue() == ""


def test_progress_is_off_by_default_when_standard_error_is_not_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert Progress().enabled is False
    monkeypatch.setattr("sys.stderr", Terminal())
    assert Progress().enabled is True
    assert Progress(False).enabled is False


def test_track_needs_a_label_and_a_weight_per_item():
    with pytest.raises(ValueError, match="as many labels and weights as items"):
        list(Progress(True, bar_factory=lambda **kw: RecordingBar([], **kw)).track(
            [1, 2], description="auditkit", weights=[1.0]))


def _double(shared, unit):
    return 2 * unit
