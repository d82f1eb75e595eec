"""Comparing audits: side-by-side values, better / worse marks, the HTML page, the CLI."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, AuditResult, CheckResult, Status, audit
from auditkit.cli import main
from auditkit.exceptions import AuditkitError
from auditkit.report import render_comparison_html
from auditkit.results import TableComparison

CHECKS = ["performance_metrics", "fairness_group_metrics", "fairness_disparities"]


@pytest.fixture(scope="module")
def audits() -> tuple[AuditResult, AuditResult]:
    """A weak model (sees only a noise feature) and a strong one, on the same data."""
    rng = np.random.default_rng(0)
    n = 800
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=n) > 0).astype(int)
    group = np.where(rng.integers(0, 2, n) == 1, "a", "b")
    data = AuditData(X[400:], y[400:], sensitive={"group": group[400:]})
    strong = LogisticRegression().fit(X[:400], y[:400])
    weak_fit = LogisticRegression().fit(X[:400, 2:], y[:400])

    def weak(batch: np.ndarray) -> np.ndarray:
        return weak_fit.predict_proba(np.asarray(batch)[:, 2:])

    first = audit(weak, data, checks=CHECKS, progress=False, title="weak model")
    second = audit(strong, data, checks=CHECKS, progress=False, title="strong model")
    return first, second


def _row(html: str, anchor: str) -> str:
    match = re.search(rf'<tr id="{re.escape(anchor)}">(.*?)</tr>', html, re.S)
    assert match, f"no row {anchor!r}"
    return match.group(1)


def test_fairness_preset_runs_the_compared_checks(audits):
    first, _ = audits
    assert {"fairness_group_metrics", "fairness_disparities"} <= set(first.check_names)


def test_compare_table_is_unchanged_by_the_report(audits):
    first, second = audits
    table = first.compare(second)
    assert list(table.columns) == ["weak model", "strong model", "change (strong model)"]
    key = ("performance_metrics", "accuracy")
    assert table.loc[key, "strong model"] > table.loc[key, "weak model"] + 0.2


def test_side_by_side_values_and_marks(audits):
    first, second = audits
    html = render_comparison_html(first, second)
    weak = first["performance_metrics"].metrics["accuracy"]
    strong = second["performance_metrics"].metrics["accuracy"]
    accuracy = _row(html, "metric-performance_metrics-accuracy")
    assert f"{weak.value:.1%}" in accuracy and f"{strong.value:.1%}" in accuracy
    assert f"[{weak.lower:.1%}, {weak.upper:.1%}]" in accuracy
    assert "mark-better" in accuracy and "intervals apart" in accuracy
    # lower is better: a smaller log loss is better, not worse
    assert "mark-better" in _row(html, "metric-performance_metrics-log_loss")
    # no direction, same value: unchanged
    assert "mark-unchanged" in _row(html, "metric-fairness_group_metrics-smallest_group_size")
    # read the other way round, the same changes are worse
    reverse = render_comparison_html(second, first)
    assert "mark-worse" in _row(reverse, "metric-performance_metrics-accuracy")
    assert "mark-worse" in _row(reverse, "metric-performance_metrics-roc_auc")
    # the plain-words lists
    better = html.split("What got better", 1)[1].split("What got worse", 1)[0]
    assert "Accuracy (performance_metrics) went from" in better
    assert "Performance verdict went from FAIL" in better


def test_fairness_tables_side_by_side(audits):
    first, second = audits
    html = render_comparison_html(first, second)
    assert 'id="disparities-group"' in html and 'id="groups-group"' in html
    row = _row(html, "disparity-group-equalized_odds_difference")
    table = first["fairness_disparities"].tables["disparities"]
    value = table.loc[("group", "equalized_odds_difference"), "value"]
    assert f"{value:.3g}" in row
    fpr = _row(html, "group-group-a-FPR")
    assert fpr.count("%") >= 6  # two values, each with a two-bound interval


def test_fairness_sections_come_from_the_declarations_the_results_carry(audits):
    first, second = audits
    html = render_comparison_html(first, second)
    assert html.index('<section id="disparities">') < html.index('<section id="groups">')
    assert "From the fairness_disparities check: the gap between" in html
    stripped = [a.__class__([r.with_changes(comparisons=()) for r in a.results], a.provenance,
                            title=a.title) for a in audits]
    bare = render_comparison_html(*stripped)
    assert 'id="disparities"' not in bare and 'id="groups"' not in bare


def _declaring(name: str, shift: float, declaration: TableComparison) -> AuditResult:
    long = pd.DataFrame({"value": [0.5 + shift, 0.2], "low": [0.45 + shift, 0.1],
                         "high": [0.55 + shift, 0.3]},
                        index=pd.MultiIndex.from_tuples([("x", "speed"), ("y", "speed")],
                                                        names=["part", "metric"]))
    wide = pd.DataFrame({"speed": [1.0 + shift, 2.0], "cost": [3.0, 4.0 + shift]},
                        index=pd.Index(["p", "q"], name="item"))
    result = CheckResult(name="custom_measure", family="performance", status=Status.INFO,
                         headline="Measured.", tables={"long": long, "wide": wide},
                         comparisons=(declaration,
                                      TableComparison("wide", "Wide items", values=("speed",
                                                                                    "cost"),
                                                      value_label="Quantity", anchor="wide",
                                                      directions={"cost": False}, order=1)))
    return AuditResult([result], title=name)


def test_any_check_declares_its_compared_tables():
    declaration = TableComparison("long", "Speed by {split}", heading="Speeds",
                                  note="speeds per part.", anchor="speeds", row_anchor="speed",
                                  split_level="part", metric_level="metric", lower="low",
                                  upper="high", higher_is_better=True, summarise=True)
    before, after = _declaring("v1", 0.0, declaration), _declaring("v2", 0.3, declaration)
    html = render_comparison_html(before, after)
    assert html.index('<section id="speeds">') < html.index('<section id="wide">')
    assert "<h2>Speeds</h2>" in html and "From the custom_measure check: speeds per part." in html
    assert "<caption>Speed by x</caption>" in html and 'id="speeds-y"' in html
    assert "mark-better" in _row(html, "speed-x-speed")  # intervals apart, higher is better
    assert "mark-unchanged" in _row(html, "speed-y-speed")
    assert "v2: Speed by x went from" in html  # summarised among what got better
    assert "mark-worse" in _row(html, "wide-q-Cost")  # lower is better, it went up
    assert "mark-changed" in _row(html, "wide-p-Speed")  # no direction declared
    assert "<caption>Wide items</caption>" in html and ">Quantity</th>" in html
    after_json = AuditResult.from_json(after.to_json())
    assert render_comparison_html(before, after_json) == html


def test_overlapping_intervals_read_as_unchanged(audits):
    first, _ = audits
    html = render_comparison_html(first, first, names=["run 1", "run 2"])
    assert "change mark-better" not in html and "change mark-worse" not in html
    assert "Nothing got better by this rule." in html


def test_html_is_safe_and_self_contained(audits, tmp_path):
    first, second = audits
    hostile = '<script>alert("x")</script>'
    html = render_comparison_html(first, second, names=[hostile, "v2 & <b>"])
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html and "v2 &amp; &lt;b&gt;" in html
    assert 'http-equiv="Content-Security-Policy"' in html
    assert "default-src 'none'" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "weak model" in html and "strong model" in html
    path = first.save_comparison_html(tmp_path / "diff.html", second)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    weights = second.provenance["model"]["weights_sha256"]
    assert weights in path.read_text(encoding="utf-8")


def test_bad_comparisons_raise(audits):
    first, second = audits
    with pytest.raises(AuditkitError, match="at least two audits"):
        render_comparison_html(first)
    with pytest.raises(AuditkitError, match="must be AuditResult"):
        render_comparison_html(first, "second.json")
    with pytest.raises(AuditkitError, match="'names' parameter"):
        render_comparison_html(first, second, names=["only one"])


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def saved(audits, tmp_path):
    first, second = audits
    return (str(first.save_json(tmp_path / "a.json")),
            str(second.save_json(tmp_path / "b.json")))


def test_cli_compare_writes_the_page(saved, tmp_path, capsys):
    out = tmp_path / "diff.html"
    assert main(["compare", *saved, "--out", str(out), "--names", "before,after"]) == 0
    assert f"Wrote {out.resolve()}" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert "before vs after" in html and "change mark-better" in html


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("auditkit: error: ")
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err


@pytest.mark.parametrize("case", ["one file", "missing", "not json", "not auditkit", "names"])
def test_cli_compare_bad_input_exits_2(case, saved, tmp_path, capsys):
    junk = tmp_path / "junk.json"
    junk.write_text("not json at all\n{" if case == "not json" else '{"hello": [1, 2]}')
    files = {"one file": [saved[0]], "missing": [saved[0], str(tmp_path / "nope.json")],
             "not json": [saved[0], str(junk)], "not auditkit": [str(junk), saved[1]],
             "names": list(saved)}[case]
    extra = ["--names", "only-one"] if case == "names" else []
    out = tmp_path / "diff.html"
    assert main(["compare", *files, "--out", str(out), *extra]) == 2
    err = _one_line_error(capsys)
    assert {"one file": "at least two", "missing": "does not exist",
            "not json": "not an auditkit JSON", "not auditkit": "not an auditkit JSON",
            "names": "--names"}[case] in err
    assert not out.exists()


# -- COMPAS: the score's false-positive-rate gap ----------------------------------------------


def test_compas_score_fpr_gap_between_black_and_white_defendants():
    from auditkit.zoo import tabular

    deciles, y, sensitive = tabular.compas_score_baseline()
    positive = 0.5 + (deciles.astype(np.float64) - 4.5) / 12.0
    assert np.array_equal(positive > 0.5, deciles >= 5)

    def compas_score(rows: np.ndarray) -> np.ndarray:
        index = np.asarray(rows)[:, 0].astype(np.int64)
        return np.column_stack([1.0 - positive[index], positive[index]])

    data = AuditData(np.arange(len(deciles), dtype=np.float64)[:, None], y,
                     sensitive=sensitive[["race"]])
    result = audit(compas_score, data, checks=["fairness_group_metrics"], progress=False)
    check = result["fairness_group_metrics"]
    points = check.tables["groups"].xs("race", level="sensitive_feature")
    bounds = check.tables["groups_intervals"].xs("race", level="sensitive_feature")
    black, white = tabular.PROPUBLICA_GROUPS
    gap = points.loc[black, "fpr"] - points.loc[white, "fpr"]
    assert gap > 0.15
    # the groups' intervals are apart, so an interval of the gap excludes 0
    assert bounds.loc[black, "fpr_lower"] > bounds.loc[white, "fpr_upper"]
    negatives = [(sensitive["race"].to_numpy() == g) & (y == 0) for g in (black, white)]
    flagged = [(deciles[m] >= 5).mean() for m in negatives]
    assert gap == pytest.approx(flagged[0] - flagged[1])
