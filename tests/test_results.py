"""AuditResult and CheckResult: exact JSON round trip, summaries, verdicts and provenance."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import auditkit
from auditkit import (
    AuditData,
    AuditResult,
    CheckContext,
    CheckResult,
    Figure,
    Metric,
    Status,
    audit,
    wrap_model,
)
from auditkit.checks import FairnessDisparities, PerformanceConfusionMatrix, PerformanceMetrics
from auditkit.exceptions import AuditkitError
from auditkit.results import TableComparison, Threshold


def _mixed_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "group": ["a", "b", "c"],
            "count": np.array([10, 20, 30], dtype=np.int64),
            "small": np.array([1, 2, 3], dtype=np.int8),
            "rate": [0.5, np.nan, np.inf],
            "flag": [True, False, True],
            "category": pd.Categorical(["x", "y", "x"]),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    frame.columns.name = "column"
    return frame


def _weird_result(name: str = "weird", family: str = "performance",
                  status: Status = Status.WARN) -> CheckResult:
    return CheckResult(
        name=name, family=family, status=status, headline="Numbers JSON cannot hold.",
        metrics={
            "nan": Metric(float("nan")),
            "plus_inf": Metric(math.inf, lower=-math.inf, upper=math.inf, confidence=0.9, n=3,
                               method="none", higher_is_better=False),
            "plain": Metric(0.25, 0.1, 0.4, 0.95, 100, "percentile bootstrap, 10 resamples",
                            True),
        },
        tables={"mixed": _mixed_frame(),
                "int_index": pd.DataFrame({"v": [1.5, -2.5]},
                                          index=pd.Index([3, 7], name="k"))},
        figures={"arrays": Figure("heatmap", {
            "matrix": np.arange(6, dtype=np.float64).reshape(2, 3) / 7,
            "with_nan": np.array([[np.nan, np.inf], [-np.inf, 1.0]]),
            "ints": np.array([1, 2, 3], dtype=np.int32),
            "bools": np.array([True, False]),
            "labels": ["a", "b"],
            "scalar": 3.5,
            "text": "caption",
        }, "A heatmap")},
        params={"n": 3, "eps": 1e-3, "names": ("a", "b"), "nothing": None},
        thresholds=(Threshold("plain", "higher_is_better", 0.3, 0.2, 0.25, Status.WARN,
                              ("EU-AI-Act-Art-15",)),),
        duration_s=0.125,
        error=None,
    )


def test_check_result_round_trip_with_nan_inf_frames_and_arrays():
    result = _weird_result()
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = CheckResult.from_dict(json.loads(text))
    assert back == result
    assert math.isnan(back.metrics["nan"].value)
    assert back.metrics["plus_inf"].value == math.inf
    assert back.metrics["plus_inf"].lower == -math.inf
    frame = back.tables["mixed"]
    pd.testing.assert_frame_equal(frame, _mixed_frame(), check_exact=True)
    assert (frame.index.name, frame.columns.name) == ("row", "column")
    assert frame["small"].dtype == np.int8
    assert isinstance(frame["category"].dtype, pd.CategoricalDtype)
    matrix = back.figures["arrays"].data["matrix"]
    assert isinstance(matrix, np.ndarray) and matrix.shape == (2, 3)
    np.testing.assert_array_equal(matrix, np.arange(6).reshape(2, 3) / 7)
    np.testing.assert_array_equal(back.figures["arrays"].data["with_nan"],
                                  [[np.nan, np.inf], [-np.inf, 1.0]])
    assert back.figures["arrays"].data["ints"].dtype == np.int32
    assert back.thresholds[0].clauses == ("EU-AI-Act-Art-15",)
    assert back.thresholds[0].status is Status.WARN


def test_check_result_equality_sees_differences():
    base = _weird_result()
    assert base != base.with_changes(headline="Another sentence.")
    assert base != base.with_changes(metrics={**base.metrics, "plain": Metric(0.26)})
    changed = _mixed_frame()
    changed.loc["r1", "count"] = 11
    assert base != base.with_changes(tables={**base.tables, "mixed": changed})
    assert base != base.with_changes(duration_s=1.0)


@pytest.fixture(scope="module")
def two_audits(logreg, binary_data):
    checks = [PerformanceMetrics(n_resamples=100), "performance_confusion_matrix",
              "performance_calibration"]
    first = audit(logreg, binary_data, checks=checks, random_state=3, progress=False)
    second = audit(logreg, binary_data, checks=checks, random_state=3, progress=False)
    return first, second


def _without_times(result: AuditResult) -> dict:
    data = result.to_dict()
    for key in ("started_at", "duration_s"):
        data["provenance"].pop(key)
    for check in data["results"]:
        check.pop("duration_s")
    return data


def test_same_seed_gives_the_same_json_apart_from_times(two_audits):
    first, second = two_audits
    assert json.dumps(_without_times(first), sort_keys=True) == json.dumps(
        _without_times(second), sort_keys=True)


def test_audit_result_save_and_load_json_exactly(two_audits, tmp_path):
    result, _ = two_audits
    path = result.save_json(tmp_path / "result.json")
    assert path == tmp_path / "result.json"
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    loaded = AuditResult.load_json(path)
    assert loaded == result
    assert loaded.check_names == result.check_names
    assert loaded.provenance["model"]["weights_sha256"] == \
        result.provenance["model"]["weights_sha256"]


def test_audit_result_round_trip_with_weird_values(tmp_path):
    result = AuditResult(results=(_weird_result(),
                                  _weird_result("skipped", "fairness", Status.SKIP)),
                         provenance={"seed": 1, "nan": float("nan"), "nested": {"inf": math.inf}},
                         title="Weird", model_card={"metrics": {"auc": 0.5}})
    loaded = AuditResult.load_json(result.save_json(tmp_path / "weird.json"))
    assert loaded == result
    assert math.isnan(loaded.provenance["nan"])
    assert loaded.provenance["nested"]["inf"] == math.inf
    assert loaded.model_card == {"metrics": {"auc": 0.5}}


def test_loading_another_format_version_raises():
    data = AuditResult(results=()).to_dict()
    data["format_version"] = 2
    with pytest.raises(auditkit.AuditkitError, match=r"'format_version' parameter must be 1\. "
                                                     r"Got 2 instead"):
        AuditResult.from_dict(data)


def test_result_of_a_perfect_model_round_trips():
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    X = np.column_stack([y, np.arange(8.0)])  # the first column is the label

    def oracle(batch):
        return np.eye(2)[np.asarray(batch)[:, 0].astype(int)] * 0.98 + 0.01

    result = PerformanceConfusionMatrix().run(wrap_model(oracle), AuditData(X, y),
                                              context=CheckContext())
    assert result.tables["top_confusions"].empty
    assert CheckResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_multiindex_table_round_trips():
    frame = pd.DataFrame({"rate": [0.1, 0.2, 0.3]}, index=pd.MultiIndex.from_tuples(
        [("f", "a"), ("f", "b"), ("m", "a")], names=["sex", "race"]))
    result = CheckResult("t", "fairness", Status.INFO, "h", tables={"by_group": frame})
    assert CheckResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


# -- summary, verdicts, comparison --------------------------------------------------------


def _status_result(name: str, family: str, status: Status) -> CheckResult:
    return CheckResult(name=name, family=family, status=status, headline=f"{name} {status.value}",
                       metrics={"m": Metric(0.5)}, duration_s=0.5)


def test_summary_columns_and_rows(two_audits):
    result, _ = two_audits
    summary = result.summary()
    assert list(summary.columns) == ["family", "check", "status", "headline", "duration_s"]
    assert list(summary["check"]) == ["performance_metrics", "performance_confusion_matrix",
                                      "performance_calibration"]
    assert list(summary["family"]) == ["performance"] * 3
    assert list(summary["status"]) == [r.status.value for r in result]
    assert list(summary["headline"]) == [r.headline for r in result]
    assert (summary["duration_s"] >= 0).all()


def test_metrics_frame(two_audits):
    result, _ = two_audits
    frame = result.metrics_frame()
    assert list(frame.columns) == ["family", "check", "metric", "value", "lower", "upper", "n"]
    row = frame[(frame["check"] == "performance_metrics") & (frame["metric"] == "accuracy")]
    assert row["value"].item() == result["performance_metrics"].metric_value("accuracy")
    assert len(frame) == sum(len(r.metrics) for r in result)


def test_family_status_and_status_are_worst_of():
    result = AuditResult(results=(
        _status_result("a", "performance", Status.PASS),
        _status_result("b", "performance", Status.WARN),
        _status_result("c", "performance", Status.INFO),
        _status_result("d", "fairness", Status.SKIP),
        _status_result("e", "fairness", Status.SKIP),
        _status_result("f", "privacy", Status.INFO),
        _status_result("g", "privacy", Status.FAIL),
        _status_result("h", "robustness", Status.SKIP),
        _status_result("i", "robustness", Status.PASS),
    ))
    assert result.family_status() == {"performance": Status.WARN, "fairness": Status.SKIP,
                                      "privacy": Status.FAIL, "robustness": Status.PASS}
    assert result.status is Status.FAIL
    assert result.families == ["performance", "fairness", "privacy", "robustness"]
    with_error = AuditResult(results=(*result.results,
                                      _status_result("j", "ood", Status.ERROR)))
    assert with_error.status is Status.ERROR
    assert AuditResult(results=()).status is Status.SKIP


def test_severity_order():
    order = [Status.SKIP, Status.INFO, Status.PASS, Status.WARN, Status.FAIL, Status.ERROR]
    assert [s.severity for s in order] == sorted(s.severity for s in order)
    assert len({s.severity for s in order}) == 6


def test_getitem_and_iteration(two_audits):
    result, _ = two_audits
    assert result["performance_calibration"].name == "performance_calibration"
    assert len(result) == 3 and [r.name for r in result] == result.check_names
    with pytest.raises(KeyError, match="fairness_group_metrics"):
        result["fairness_group_metrics"]


def test_compare_table(logreg, black_box, binary_data):
    checks = [PerformanceMetrics(n_resamples=0)]
    first = audit(logreg, binary_data, checks=checks, progress=False, title="logreg")
    second = audit(black_box, binary_data, checks=checks, progress=False, title="black box")
    table = first.compare(second)
    assert table.index.names == ["check", "metric"]
    assert list(table.columns) == ["logreg", "black box", "change (black box)"]
    key = ("performance_metrics", "accuracy")
    a = first["performance_metrics"].metric_value("accuracy")
    b = second["performance_metrics"].metric_value("accuracy")
    assert table.loc[key, "logreg"] == a
    assert table.loc[key, "black box"] == b
    assert table.loc[key, "change (black box)"] == pytest.approx(b - a)
    assert len(table) == len(first["performance_metrics"].metrics)
    named = first.compare(second, names=["v1", "v2"])
    assert list(named.columns) == ["v1", "v2", "change (v2)"]
    same_titles = first.compare(first)
    assert list(same_titles.columns) == ["logreg [0]", "logreg [1]", "change (logreg [1])"]
    assert (same_titles["change (logreg [1])"] == 0).all()


# -- provenance ------------------------------------------------------------------------------


def test_provenance_keys(two_audits, logreg, binary_data):
    result, _ = two_audits
    provenance = result.provenance
    for key in ("auditkit_version", "python_version", "libraries", "device", "random_state",
                "model", "data", "started_at", "duration_s", "policy", "preset"):
        assert key in provenance, key
    assert provenance["auditkit_version"] == auditkit.__version__
    assert provenance["python_version"].count(".") == 2
    assert {"numpy", "pandas", "scikit-learn", "torch"} <= set(provenance["libraries"])
    assert provenance["libraries"]["numpy"] == np.__version__
    assert provenance["device"] == "cpu"
    assert provenance["random_state"] == 3
    assert provenance["preset"] is None  # checks= were given
    assert provenance["model"]["weights_sha256"] == wrap_model(logreg).fingerprint()
    assert provenance["model"]["framework"] == "sklearn"
    assert provenance["model"]["type"] == "LogisticRegression"
    assert provenance["data"]["sha256"] == binary_data.fingerprint()
    assert provenance["data"]["n_samples"] == binary_data.n_samples
    assert provenance["started_at"].endswith("+00:00")
    assert provenance["duration_s"] >= 0
    assert provenance["policy"]["name"] == "auditkit-default"


def _declared() -> TableComparison:
    return TableComparison("groups", "Rates by {split}", heading="Rates", note="each rate.",
                           split_level="sensitive_feature", values=("tpr", "fpr"),
                           value_label="Rate", lower="{value}_lower", upper="{value}_upper",
                           bounds_table="groups_intervals", higher_is_better=True,
                           directions={"fpr": False, "count": None}, summarise=True, order=2)


def test_description_and_comparisons_round_trip_exactly():
    result = _weird_result().with_changes(description="What the check <measures>.",
                                          comparisons=(_declared(),))
    back = CheckResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))
    assert back == result
    assert back.description == "What the check <measures>."
    assert back.comparisons == (_declared(),)
    assert back.comparisons[0].values == ("tpr", "fpr")
    assert back.comparisons[0].direction("fpr") is False
    assert back.comparisons[0].direction("count") is None
    assert back.comparisons[0].direction("tpr") is True
    assert result != result.with_changes(description="Another.")
    assert result != result.with_changes(comparisons=())


def test_json_without_description_or_comparisons_still_loads():
    data = _weird_result().to_dict()
    del data["description"], data["comparisons"]
    back = CheckResult.from_dict(json.loads(json.dumps(data, allow_nan=False)))
    assert back.description == "" and back.comparisons == ()
    assert back == _weird_result()


def test_a_check_result_carries_its_description_and_declared_comparisons(logreg, binary_data):
    result = auditkit.audit(logreg, binary_data, checks=["performance_confusion_matrix"],
                            progress=False)["performance_confusion_matrix"]
    assert result.description == PerformanceConfusionMatrix.description != ""
    declared = FairnessDisparities.comparisons
    assert declared and declared[0].table == "disparities"


@pytest.mark.parametrize(("options", "match"), [
    ({"values": ()}, "'values' parameter of TableComparison"),
    ({"values": ("a", "b"), "metric_level": "m"}, "one column when 'metric_level'"),
    ({"lower": "{value}_lower"}, "'upper' parameter"),
    ({"directions": ["a"]}, "'directions' parameter"),
    ({"order": True}, "'order' parameter"),
])
def test_bad_table_comparison_raises(options, match):
    with pytest.raises(AuditkitError, match=match):
        TableComparison("t", "T", **options)
