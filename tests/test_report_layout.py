"""The report's layout: folding, the skipped table, contents and filters, guidance, tables.

Structural tests on the HTML, and one measurement in a headless browser (skipped
when chromium is not on PATH) of how tall the default report is and whether it
fits a phone.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

import auditkit
import auditkit.compliance
import auditkit.model_card
from auditkit import AuditResult, CheckResult, Figure, Metric, Policy, Status
from auditkit.compliance import Requirement, RequirementStatus
from auditkit.model_card import CardSection, ModelCard
from auditkit.report import render_html
from auditkit.report._guidance import GUIDANCE, Guidance

_ROOT = Path(__file__).resolve().parents[1]


def _check(name: str, status: Status, headline: str = "", **fields) -> CheckResult:
    family = fields.pop("family", name.split("_", 1)[0])
    return CheckResult(name=name, family=family, status=status,
                       headline=headline or f"{name} says {status.value}.", **fields)


def _policy(*, count_diagnostics: bool = False) -> dict:
    policy = Policy.from_dict({"extends": "default",
                               "diagnostics_affect_verdict": count_diagnostics})
    return {"policy": policy.describe()}


def _mixed(*, count_diagnostics: bool = False) -> AuditResult:
    """One check per status, a failing diagnostic and two skipped checks."""
    return AuditResult([
        _check("performance_metrics", Status.PASS),
        _check("performance_confusion_matrix", Status.INFO),
        _check("performance_calibration", Status.WARN),
        _check("fairness_disparities", Status.FAIL),
        _check("fairness_mitigation", Status.INFO),
        _check("fairness_counterfactual_text", Status.SKIP, "Needs a text model."),
        _check("privacy_membership_inference", Status.ERROR, error="Traceback ..."),
        _check("explanations_saliency", Status.FAIL),
        _check("generative_fidelity", Status.SKIP, "The model is not generative."),
    ], provenance=_policy(count_diagnostics=count_diagnostics))


def _details_open(html: str, anchor: str) -> bool:
    """Whether the first <details> after ``id="anchor"`` has the open attribute."""
    after = html[html.index(f'id="{anchor}"'):]
    tag = re.search(r"<details\b[^>]*>", after).group(0)
    return " open" in tag


@pytest.fixture(scope="module")
def mixed_html() -> str:
    return render_html(_mixed())


# -- folding ---------------------------------------------------------------------------------


def test_checks_fold_open_when_they_warn_fail_or_raise(mixed_html):
    opened = {"check-performance_calibration", "check-fairness_disparities",
              "check-privacy_membership_inference"}
    folded = {"check-performance_metrics", "check-performance_confusion_matrix",
              "check-fairness_mitigation"}
    assert all(_details_open(mixed_html, a) for a in opened)
    assert not any(_details_open(mixed_html, a) for a in folded)
    # the summary line of a folded check still names it, with its status and headline
    summary = re.search(r'id="check-performance_metrics">\s*<details[^>]*>\s*<summary[^>]*>'
                        r"(.*?)</summary>", mixed_html, re.S).group(1)
    assert "Accuracy and error rates" in summary and "performance_metrics" in summary
    assert "badge-pass" in summary and "performance_metrics says PASS." in summary


def test_diagnostics_stay_folded_unless_the_policy_counts_them(mixed_html):
    assert not _details_open(mixed_html, "check-explanations_saliency")
    assert not _details_open(mixed_html, "family-explanations")
    assert _details_open(mixed_html, "family-fairness")
    counted = render_html(_mixed(count_diagnostics=True))
    assert _details_open(counted, "check-explanations_saliency")
    assert _details_open(counted, "family-explanations")


def test_print_mode_opens_every_fold(mixed_html):
    printed = render_html(_mixed(), print_mode=True)
    tags = re.findall(r"<details\b[^>]*>", printed)
    assert len(tags) >= 8 and all(" open" in tag for tag in tags)
    assert any(" open" not in tag for tag in re.findall(r"<details\b[^>]*>", mixed_html))


# -- skipped checks, links, filters ------------------------------------------------------------


def test_skipped_checks_are_rows_of_one_table_with_their_anchor(mixed_html):
    table = mixed_html[mixed_html.index('id="skipped"'):]
    rows = re.findall(r'<tr id="(check-[^"]+)">(.*?)</tr>', table, re.S)
    assert [anchor for anchor, _ in rows] == ["check-fairness_counterfactual_text",
                                              "check-generative_fidelity"]
    assert "Needs a text model." in rows[0][1] and "Fairness" in rows[0][1]
    assert mixed_html.count('id="check-generative_fidelity"') == 1
    assert 'class="check check-skip' not in mixed_html  # no card for a skipped check


def test_every_internal_link_resolves_and_there_is_no_script(mixed_html):
    ids = set(re.findall(r'\sid="([^"]+)"', mixed_html))
    targets = set(re.findall(r'href="#([^"]*)"', mixed_html))
    assert targets and targets <= ids
    assert "<script" not in mixed_html.lower() and " on" + "click" not in mixed_html.lower()


def test_status_filters_are_links_to_targets_that_css_uses(mixed_html):
    for status in ("error", "fail", "warn", "pass", "info"):
        assert f'href="#only-{status}"' in mixed_html
        assert f'<span class="filter-target" id="only-{status}"></span>' in mixed_html
        assert f"#only-{status}:target ~ .families .check:not(.check-{status})" in mixed_html
    # the targets come before the checks they filter (CSS's ~ looks forward only)
    assert mixed_html.index('id="only-fail"') < mixed_html.index('<div class="families">')
    assert "::details-content" in mixed_html  # a filtered view unfolds its cards
    only_pass = render_html(AuditResult([_check("performance_metrics", Status.PASS)]))
    assert 'href="#only-fail"' not in only_pass  # no filter for a status no check has


def test_contents_list_uses_human_titles_with_badges(mixed_html):
    toc = mixed_html[mixed_html.index('<nav class="toc"'):mixed_html.index("</nav>")]
    assert re.search(r'href="#check-fairness_disparities">Group fairness gaps</a>\s*'
                     r'<span class="badge badge-fail">', toc)
    assert 'href="#skipped"' in toc and "check-generative_fidelity" not in toc


def test_counts_keep_findings_and_diagnostics_apart(mixed_html):
    counts = re.search(r'<p class="counts">(.*?)</p>', mixed_html, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", counts).replace("&nbsp;", " ")
    assert text.startswith("6 checks of the model: ERROR 1 FAIL 1 WARN 1 PASS 1 INFO 2")
    assert "1 diagnostic of the audit's methods: FAIL 1" in text
    assert "2 checks skipped" in text
    table = mixed_html[mixed_html.index('<table class="families">'):]
    row = re.search(r'href="#family-explanations">Explanations</a>.*?</tr>', table, re.S)
    assert "1 FAIL (diagnostics)" in row.group(0)


# -- guidance -----------------------------------------------------------------------------------


def test_guidance_titles_how_to_read_and_next_steps(monkeypatch):
    monkeypatch.setitem(GUIDANCE, "fairness_disparities", Guidance(
        title="Gaps <between> groups", how_to_read="Read the gap's interval.",
        next_steps=("Try the mitigation.",),
        see_also=("fairness_mitigation", "fairness_thresholds")))
    html = render_html(_mixed())
    card = html[html.index('id="check-fairness_disparities"'):]
    card = card[:card.index("</article>")]
    assert re.search(r"<h3>Gaps &lt;between&gt; groups</h3>\s*"
                     r'<code class="check-name">fairness_disparities</code>', card)
    assert "How to read this" in card and "Read the gap&#39;s interval." in card
    assert "What to do next" in card and "Try the mitigation." in card
    assert 'href="#check-fairness_mitigation"' in card  # it ran: linked
    assert "check-fairness_thresholds" not in card  # it did not run: not linked
    passing = AuditResult([_check("fairness_disparities", Status.PASS)])
    assert "What to do next" not in render_html(passing)  # only when it warns or fails
    findings = html[html.index('class="findings"'):]
    assert 'href="#check-fairness_disparities">Gaps &lt;between&gt; groups</a>' in findings


# -- tables and figures ----------------------------------------------------------------------


def test_column_headers_are_human_and_data_labels_are_kept():
    table = pd.DataFrame({"fpr_upper": [0.1], "n": [30], "selection_rate": [0.5],
                          "duration_s": [1.5], "sex=Female": [0.2], "GradientShap": [0.3]},
                         index=pd.Index(["a"], name="sensitive_feature"))
    html = render_html(AuditResult([_check("custom_table", Status.INFO,
                                           tables={"by_group": table})]))
    header = re.search(r"<thead>(.*?)</thead>", html.split("By group", 1)[1], re.S).group(1)
    labels = re.findall(r"<th[^>]*>([^<]*)</th>", header)
    assert labels == ["Sensitive feature", "FPR upper", "n", "Selection rate", "Duration (s)",
                      "sex=Female", "GradientShap"]


def test_wide_tables_scroll_with_a_hint_and_marked_words_are_highlighted():
    wide = pd.DataFrame([[i * j for j in range(9)] for i in range(2)],
                        columns=[f"column_{j}" for j in range(9)])
    pairs = pd.DataFrame({"original": ["[[He]] is a <b>nurse</b>"],
                          "swapped": ["[[She]] is a <b>nurse</b>"]})
    html = render_html(AuditResult([_check("custom_tables", Status.INFO,
                                           tables={"wide": wide, "pairs": pairs})]))
    assert '<div class="table-wrap wide"' in html and "9 columns: scroll" in html
    assert "<mark>He</mark> is a &lt;b&gt;nurse&lt;/b&gt;" in html
    assert "[[" not in html.split("<main>", 1)[1]
    assert '<div class="table-wrap" role="region" aria-label="Pairs"' in html  # not wide


def test_figures_are_labelled_images():
    figure = Figure("bar_chart", {"labels": ["a", "b"], "values": [1.0, 2.0]}, "Two <bars>")
    html = render_html(AuditResult([_check("custom_figure", Status.INFO,
                                           figures={"bars": figure})]))
    assert re.search(r'<figure class="plot" id="[^"]+" role="img" '
                     r'aria-label="Two &lt;bars&gt;">', html)


# -- compliance map and model card ---------------------------------------------------------


def _fake_compliance(result: AuditResult) -> tuple[RequirementStatus, ...]:
    accuracy = Requirement("EU AI Act", "Art. 15(1)", "Accuracy <declared>", "text", "source",
                           checks=("performance_metrics", "performance_calibration"))
    oversight = Requirement("EU AI Act", "Art. 14", "Human oversight", "text", "source",
                            process="oversight measures")
    measure = Requirement("NIST AI RMF 1.0", "MEASURE 2.11", "Fairness", "text", "source",
                          checks=("fairness_disparities",))
    return (RequirementStatus(accuracy, (("performance_metrics", Status.PASS),
                                         ("performance_calibration", Status.WARN)),
                              Status.WARN, ""),
            RequirementStatus(oversight, (), None, "needs a documented process: oversight"),
            RequirementStatus(measure, (("fairness_disparities", Status.FAIL),), Status.FAIL,
                              ""))


def test_compliance_map_groups_requirements_by_framework(monkeypatch):
    monkeypatch.setattr(auditkit.compliance, "compliance_status", lambda result: ())
    empty = render_html(_mixed())
    assert 'id="compliance"' not in empty and 'href="#compliance"' not in empty
    monkeypatch.setattr(auditkit.compliance, "compliance_status", _fake_compliance)
    html = render_html(_mixed())
    section = html[html.index('id="compliance"'):html.index('id="provenance"')]
    captions = re.findall(r"<caption>(.*?)</caption>", section)
    assert captions == ["EU AI Act", "NIST AI RMF 1.0"]
    row = re.search(r"<tr><th scope=\"row\">Art\. 15\(1\).*?</tr>", section, re.S).group(0)
    assert "Accuracy &lt;declared&gt;" in row
    assert re.search(r'href="#check-performance_calibration">Calibration of confidence</a>'
                     r'&nbsp;<span class="badge badge-warn">', row)
    assert row.count("badge-warn") == 2  # the evidence's and the requirement's
    assert "needs a documented process: oversight" in section
    assert 'href="#compliance"' in html  # in the contents


def test_model_card_renders_its_sections_in_order(monkeypatch):
    monkeypatch.setattr(auditkit.model_card, "build_model_card",
                        lambda result: ModelCard(name="empty", sections=()))
    assert 'id="model-card"' not in render_html(_mixed())  # no section in the card
    card = ModelCard(name="adult <mlp>", sections=(
        CardSection("model_details", "Model details", paragraphs=("An MLP.",),
                    fields=(("Owner", "not provided by the model owner"),)),
        CardSection("metrics", "Metrics",
                    tables=(("Accuracy by group", pd.DataFrame(
                        {"selection_rate": [0.2, 0.3]}, index=pd.Index(["F", "M"],
                                                                       name="sex"))),)),
    ))
    monkeypatch.setattr(auditkit.model_card, "build_model_card", lambda result: card)
    html = render_html(_mixed())
    section = html[html.index('id="model-card"'):html.index('id="provenance"')]
    assert section.index('id="card-model_details"') < section.index('id="card-metrics"')
    assert "adult &lt;mlp&gt;" in section and "<p>An MLP.</p>" in section
    assert "<dt>Owner</dt><dd>not provided by the model owner</dd>" in section
    assert "<caption>Accuracy by group" in section and ">Selection rate</th>" in section


# -- measured in a browser -------------------------------------------------------------------


def _screenshots_tool():
    spec = importlib.util.spec_from_file_location("screenshots",
                                                  _ROOT / "tools" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_NO_CHROMIUM = pytest.mark.skipif(
    not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
    reason="needs chromium on PATH")


@_NO_CHROMIUM
def test_the_measurement_sees_height_and_overflow(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
                    '<body style="margin:0"><div style="width:700px;height:2000px;'
                    'background:#333"></div></body></html>', encoding="utf-8")
    found = _screenshots_tool().measure(page, tmp_path / "shots")
    assert abs(found.height_px - 2000) <= 8 and found.phone_overflows
    assert abs(found.phone_width_px - 700) <= 8
    assert all(path.is_file() for path in found.files)


@pytest.mark.slow
@_NO_CHROMIUM
def test_the_default_report_is_short_and_fits_a_phone(tmp_path):
    from auditkit import zoo

    model, data = zoo.load("adult-mlp")
    result = auditkit.audit(model, data, preset="standard", progress=False)
    page = result.save_html(tmp_path / "report.html")
    found = _screenshots_tool().measure(page, tmp_path / "shots")
    assert found.screens <= 15, f"{found.screens:.1f} screens tall at 1366 px"
    assert not found.phone_overflows, f"painted up to {found.phone_width_px} px at 390 px"


def test_metrics_table_scrolls_inside_its_card():
    result = _check("performance_metrics", Status.INFO,
                    metrics={"accuracy": Metric(0.9, 0.85, 0.95, 0.95, 100)})
    html = render_html(AuditResult([result]))
    assert re.search(r'<div class="table-wrap"[^>]*>\s*<table class="metrics">', html)


def test_tables_wider_than_the_report_shows_say_how_many_columns_are_left_out():
    from auditkit.report._view import MAX_TABLE_COLUMNS

    n = MAX_TABLE_COLUMNS + 6
    frame = pd.DataFrame([list(range(n)), [f"text {i}" for i in range(n)]],
                         columns=[f"column_{i}" for i in range(n)])
    html = render_html(AuditResult([CheckResult(name="custom_wide", family="performance",
                                                status=Status.PASS, headline="Wide.",
                                                tables={"records": frame})]))
    start = html.index('<table class="data cells">')
    table = html[start:html.index("</table>", start)]
    assert table.count('<th scope="col">') == MAX_TABLE_COLUMNS
    assert f"Column {MAX_TABLE_COLUMNS - 1}<" in table
    assert f"Column {MAX_TABLE_COLUMNS}<" not in table
    assert f"(first {MAX_TABLE_COLUMNS} of {n} columns)" in table
    assert "6 more columns not shown; the full table is in the audit's JSON." in html
    # numbers are right-aligned by default, text cells marked
    assert '<td class="t">text 0</td>' in table and "<td>0</td>" in table


def test_disparity_figure_gets_the_policy_levels_as_threshold_lines():
    from auditkit.report._view import build_view
    from auditkit.results import Threshold

    figure = Figure("disparity_intervals", {
        "features": ["sex"], "metrics": ["demographic_parity_difference",
                                         "equalized_odds_difference"],
        "values": [[0.3], [0.1]], "lower": [[0.25], [0.05]], "upper": [[0.35], [0.15]]},
        "Disparities")
    thresholds = (Threshold("demographic_parity_difference_lower_bound", "lower_is_better",
                            0.1, 0.2, 0.25, Status.FAIL),)
    result = AuditResult([CheckResult(name="fairness_disparities", family="fairness",
                                      status=Status.FAIL, headline="Gap.",
                                      figures={"disparities": figure},
                                      thresholds=thresholds)])
    shown = build_view(result).checks[0].figures[0].figure.data
    assert shown["warn_thresholds"][0] == 0.1 and shown["fail_thresholds"][0] == 0.2
    assert all(map(pd.isna, (shown["warn_thresholds"][1], shown["fail_thresholds"][1])))
    assert "warn_thresholds" not in figure.data  # the check's own data is untouched
    html = render_html(result)
    assert "policy fail level 0.2" in html and "policy warn level 0.1" in html
