"""Comparing audits: side-by-side values, better / worse marks, the HTML page, the CLI."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from auditkit import AuditData, AuditResult, CheckResult, Metric, Status, audit
from auditkit.cli import main
from auditkit.exceptions import AuditkitError
from auditkit.report import find_regressions, render_comparison_html
from auditkit.report._compare import build_comparison
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
    # the plain-words lists: the improvement, and the family verdict marked in the legend
    better = html.split('<section id="improvements">', 1)[1].split("</section>", 1)[0]
    assert "Accuracy rose from" in better and "(better" in better
    assert "Accuracy" not in html.split('<section id="regressions"', 1)[1].split("</section>")[0]
    legend = html.split('<table class="legend">', 1)[1].split("</table>", 1)[0]
    assert legend.count('class="verdict-better"') == 1  # performance: FAIL in A, PASS in B


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
    assert "<h3>Speeds</h3>" in html and "From the custom_measure check: speeds per part." in html
    assert "<caption>Speed by x</caption>" in html and 'id="speeds-y"' in html
    assert "mark-better" in _row(html, "speed-x-speed")  # intervals apart, higher is better
    assert "mark-unchanged" in _row(html, "speed-y-speed")
    assert "Speed by x rose from" in html  # summarised among the improvements
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


# -- regressions first: the planted fairness regression of adult-mlp-biased -------------------


@pytest.fixture(scope="module")
def planted() -> tuple[AuditResult, AuditResult]:
    """adult-mlp and its variant trained on labels skewed against women (small budgets)."""
    from auditkit import zoo
    from auditkit.checks import FairnessDisparities, PerformanceMetrics

    out = []
    for name in ("adult-mlp", "adult-mlp-biased"):
        model, data = zoo.load(name)
        out.append(audit(model, data, progress=False, checks=[
            PerformanceMetrics(n_resamples=200),
            FairnessDisparities(n_resamples=200, intersections=False)]))
    return out[0], out[1]


@pytest.fixture(scope="module")
def planted_html(planted) -> str:
    return render_comparison_html(*planted)


def _section(html: str, anchor: str) -> str:
    return html.split(f'<section id="{anchor}"', 1)[1].split("</section>", 1)[0]


def _old_cli_regressions(base: AuditResult, new: AuditResult) -> list[tuple[float, str]]:
    """The gate of ``auditkit compare --fail-on-regression`` before find_regressions."""
    import math

    before = {r.name: r for r in base.results}
    found = []
    for result in new.results:
        if result.name not in before:
            continue
        for name, metric in result.metrics.items():
            old = before[result.name].metrics.get(name)
            if old is None:
                continue
            higher = (metric.higher_is_better if metric.higher_is_better is not None
                      else old.higher_is_better)
            bounds = (old.lower, old.upper, metric.lower, metric.upper, old.value, metric.value)
            if higher is None or not all(b is not None and math.isfinite(b) for b in bounds):
                continue
            if (metric.upper < old.lower) if higher else (metric.lower > old.upper):
                size = abs(metric.value - old.value)
                found.append((size, f"{result.name}.{name} went from {old.value:.4g} "
                              f"[{old.lower:.4g}, {old.upper:.4g}] to {metric.value:.4g} "
                              f"[{metric.lower:.4g}, {metric.upper:.4g}] "
                              f"({'higher' if higher else 'lower'} is better; "
                              f"worse by {size:.4g})"))
    return sorted(found, key=lambda x: -x[0])


def test_find_regressions_keeps_what_the_cli_gate_found(planted):
    base, new = planted
    found = find_regressions(base, new)
    sizes = [r.size for r in found]
    assert sizes == sorted(sizes, reverse=True)
    metrics = [(r.size, r.line) for r in found if not r.where]
    old = _old_cli_regressions(base, new)
    assert len(old) >= 8 and metrics == old
    # the table rows are gates too: the disparities by sex
    rows = [r for r in found if r.where]
    assert rows and {r.where for r in rows} == {"sex"}
    assert all(r.family == "fairness" and r.check == "fairness_disparities" for r in rows)
    assert find_regressions(base, base) == []


def test_find_regressions_on_shifted_metrics_reads_like_the_cli(planted):
    # the shifts of tests/test_cli_gates.py: two clearly worse, log loss within its interval
    first, _ = planted
    shifted = AuditResult.from_json(first.to_json())
    results = []
    for result in shifted.results:
        if result.name == "performance_metrics":
            metrics = dict(result.metrics)
            for name, shift in {"accuracy": -0.05, "roc_auc": -0.1, "log_loss": 0.001}.items():
                m = metrics[name]
                metrics[name] = m.__class__(m.value + shift, m.lower + shift, m.upper + shift,
                                            m.confidence, m.n, m.method, m.higher_is_better)
            result = result.with_changes(metrics=metrics)
        results.append(result)
    worse = AuditResult(results, shifted.provenance, title="worse")
    found = find_regressions(first, worse)
    assert [r.key for r in found] == ["performance_metrics.roc_auc",
                                      "performance_metrics.accuracy"]
    assert found[0].line.startswith("performance_metrics.roc_auc went from ")
    assert "(higher is better; worse by 0.1)" in found[0].line
    assert found[0].higher_is_better and found[0].limit == 0.7  # the default policy's fail
    assert found[0].sentence.startswith("ROC AUC fell from ")


def test_the_planted_fairness_regression_is_listed_first(planted, planted_html):
    base, new = planted
    first = find_regressions(base, new)[0]
    assert (first.family, first.check, first.where) == ("fairness", "fairness_disparities",
                                                        "sex")
    regressions = _section(planted_html, "regressions")
    groups = re.findall(r"<h3>(.*?) <span", regressions)
    assert groups[:2] == ["Fairness", "Performance"]  # the family with the largest change first
    items = re.findall(r"<li>(.*?)</li>", regressions, re.S)
    assert " by sex rose from " in items[0] and f'href="#{first.anchor}"' in items[0]
    disparity = new["fairness_disparities"].tables["disparities"].loc[
        ("sex", "demographic_parity_difference")]
    old = base["fairness_disparities"].tables["disparities"].loc[
        ("sex", "demographic_parity_difference")]
    sentence = (f"Demographic parity difference by sex rose from {old['value']:.3g} "
                f"[{old['lower']:.3g}, {old['upper']:.3g}] to {disparity['value']:.3g} "
                f"[{disparity['lower']:.3g}, {disparity['upper']:.3g}] (worse; limit 0.2)")
    assert sentence in regressions
    fairness = [i for i in items if "by sex" in i or "Equal" in i or "parity" in i]
    assert len(fairness) == len(re.findall(r"<li>", regressions.split("<h3>Performance")[0]))
    # within each family, largest change first
    view = build_comparison(planted)
    for group in view.regressions:
        sizes = [f.size for f in group.findings]
        assert sizes == sorted(sizes, reverse=True)
    assert [g.findings[0].size for g in view.regressions] == sorted(
        (g.findings[0].size for g in view.regressions), reverse=True)


def test_the_disparity_regression_is_drawn_in_the_fairness_chart(planted, planted_html):
    fairness = _section(planted_html, "family-fairness")
    assert fairness.count("<svg") == 1
    svg = fairness.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert re.search(r"<text[^>]*>Demographic parity difference by sex</text>", svg)
    values = [a["fairness_disparities"].tables["disparities"].loc[
        ("sex", "demographic_parity_difference"), "value"] for a in planted]
    assert f"{values[0]:.3g} \u2192 {values[1]:.3g}</text>" in svg
    (panel,) = [p for p in build_comparison(planted).families if p.title == "Fairness"]
    data = panel.chart.data
    row = data["labels"].index("Demographic parity difference by sex")
    assert data["marks"][row] == "worse" and data["shared"][row]  # shaded red, on [0, 1]
    assert data["values"][row] == pytest.approx(values)
    assert data["limits"][row] == 0.2
    assert data["marks"][data["labels"].index("Demographic parity difference by race")] == ""
    assert "Demographic parity difference by race</text>" in svg  # unchanged rows drawn too
    performance = _section(planted_html, "family-performance")
    assert "<svg" in performance and ">ROC AUC</text>" in performance


def test_the_data_differ_note_names_both_hashes(planted, planted_html, audits):
    hashes = [a.provenance["data"]["sha256"] for a in planted]
    assert hashes[0] != hashes[1]  # the variant is audited on the test split's true labels
    header = planted_html.split("</header>", 1)[0]
    assert "Different data." in header and "may come from the data, not the model" in header
    note = header.split('<div class="notice"', 1)[1].split("</div>", 1)[0]
    assert all(f'<code class="hash">{h}</code>' in note for h in hashes)
    same = render_comparison_html(*audits).split("</header>", 1)[0]
    assert "Different data" not in same  # the weak model is a callable: another kind
    assert "Different kinds of model." in same and "LogisticRegression (sklearn)" in same
    assert f"same data (SHA-256 {audits[0].provenance['data']['sha256']})" in same


def test_different_policies_and_versions_are_noted(audits):
    first, second = audits
    provenance = dict(second.provenance, auditkit_version="0.0.9",
                      policy=dict(second.provenance["policy"], name="strict"))
    other = AuditResult(second.results, provenance, title=second.title)
    header = render_comparison_html(first, other).split("</header>", 1)[0]
    assert "Different policies." in header and "strict" in header
    assert "Different auditkit versions." in header and "0.0.9" in header
    assert "Different data" not in header


def test_the_audits_are_named_once_in_a_legend(planted_html, planted):
    titles = [a.title for a in planted]
    legend = planted_html.split('<table class="legend">', 1)[1].split("</table>", 1)[0]
    assert '<th scope="row" class="audit-label">A</th>' in legend
    assert '<th scope="row" class="audit-label">B</th>' in legend
    for title in titles:  # the legend and the provenance table, nowhere else
        assert planted_html.count(title) == 2
    assert "<h1>A vs B</h1>" in planted_html


def test_mitigation_bookkeeping_stays_in_the_family_detail():
    def result(shift: float) -> CheckResult:
        return CheckResult(
            "fairness_mitigation", "fairness", Status.INFO, "Mitigated.",
            metrics={"demographic_parity_difference_unmitigated":
                     Metric(0.19 + shift, higher_is_better=False),
                     "accuracy_cost_points": Metric(1.3 + shift, higher_is_better=False)})

    before = AuditResult([result(0.0)], title="v1")
    after = AuditResult([result(0.16)], title="v2")
    html = render_comparison_html(before, after)
    assert "Nothing got worse by this rule." in _section(html, "regressions")
    rest = _section(html, "unchanged")
    assert "Demographic parity difference unmitigated: 0.19 \u2192 0.35 (no interval)" in rest
    row = _row(html, "metric-fairness_mitigation-demographic_parity_difference_unmitigated")
    assert "mark-worse" in row and "no interval" in row
    assert find_regressions(before, after) == []


def test_titles_are_escaped_everywhere(audits):
    first, second = audits
    hostile = '<img src=x onerror="alert(1)"> & co'
    renamed = [AuditResult(a.results, a.provenance, title=f"{hostile} {i}")
               for i, a in enumerate((first, second))]
    html = render_comparison_html(*renamed, names=["<i>old</i>", "new & <b>"])
    assert "<img" not in html and "<i>old" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; co 0" in html
    assert "&lt;i&gt;old&lt;/i&gt; vs new &amp; &lt;b&gt;" in html
    svg_text = re.findall(r"<text[^>]*>(.*?)</text>", html)
    assert "&lt;i&gt;old&lt;/i&gt;" in svg_text  # the chart's legend, escaped by matplotlib


@pytest.mark.parametrize("pair", ["planted", "audits"])
def test_every_link_resolves(pair, request):
    first, second = request.getfixturevalue(pair)
    html = render_comparison_html(first, second)
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    links = re.findall(r'href="#([^"]*)"', html)
    assert links and [link for link in links if link not in ids] == []
    assert len(re.findall(r'\sid="([^"]+)"', html)) == len(ids)  # ids are unique
    rows = re.findall(r'class="row-link" href="#([^"]+)"', html)
    assert rows and all(re.search(rf'<tr id="{re.escape(r)}">', html) for r in rows)


def test_families_skipped_everywhere_take_one_line():
    def results(accuracy: float) -> list[CheckResult]:
        return [CheckResult("performance_metrics", "performance", Status.PASS, "Measured.",
                            metrics={"accuracy": Metric(accuracy, accuracy - 0.01,
                                                        accuracy + 0.01,
                                                        higher_is_better=True)}),
                CheckResult("robustness_text", "robustness", Status.SKIP, "Text only.")]

    html = render_comparison_html(AuditResult(results(0.8), title="v1"),
                                  AuditResult(results(0.9), title="v2"))
    assert "Skipped in every audit (no check applied): Robustness." in html
    assert 'id="family-robustness"' not in html and 'id="family-performance"' in html
    legend = html.split('<table class="legend">', 1)[1].split("</table>", 1)[0]
    assert ">Performance</th>" in legend and "Robustness" not in legend
    assert "Accuracy rose from 80.0% [79.0%, 81.0%] to 90.0% [89.0%, 91.0%] (better)" in html
