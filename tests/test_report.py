"""The HTML and PDF reports: layout, escaping, offline safety, determinism, robustness."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import auditkit
from auditkit import AuditData, AuditResult, CheckResult, Figure, Metric, Policy, Status
from auditkit.report import render_html, render_pdf

HOSTILE = "<script>alert(1)</script>"
CSP = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
       'style-src \'unsafe-inline\'; img-src data:">')
CHECKS = ("performance_metrics", "performance_confusion_matrix", "performance_calibration")


def _quick_checks():
    return [auditkit.get_check("performance_metrics", n_resamples=50),
            auditkit.get_check("performance_confusion_matrix"),
            auditkit.get_check("performance_calibration", n_resamples=50)]


@pytest.fixture(scope="module")
def binary_result() -> AuditResult:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    data = AuditData(X, y, feature_names=["a", "b", "c", HOSTILE],
                     class_names=["no", "<b>yes</b>"])
    return auditkit.audit(LogisticRegression().fit(X, y), data, checks=_quick_checks(),
                          title=f"Audit {HOSTILE} $x$",
                          model_card={"name": "<i>card</i>", "metrics": {"accuracy": 0.9},
                                      "limitations": ["one", "<two>"]})


@pytest.fixture(scope="module")
def binary_html(binary_result) -> str:
    return render_html(binary_result)


def _provenance(policy: Policy | None = None) -> dict:
    return {"auditkit_version": auditkit.__version__, "random_state": 0,
            "policy": (policy or Policy.default()).describe()}


def _result(name: str, status: Status, headline: str, **fields) -> CheckResult:
    return CheckResult(name=name, family=fields.pop("family", "performance"), status=status,
                       headline=headline, **fields)


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find("<article", start)
    return html[start:end if end > 0 else len(html)]


# -- layout --------------------------------------------------------------------------------


def test_one_section_per_check_after_the_summary(binary_html):
    summary = binary_html.index('id="summary"')
    for name in CHECKS:
        assert binary_html.count(f'id="check-{name}"') == 1
        assert f'href="#check-{name}"' in binary_html  # contents and findings link to it
        assert binary_html.index(f'id="check-{name}"') > summary
    assert binary_html.index("Executive summary") < binary_html.index('id="check-')
    assert 'id="family-performance"' in binary_html
    assert 'id="family-fairness"' not in binary_html  # families without checks are omitted
    assert binary_html.index('id="model-card"') < binary_html.index('id="provenance"')


def test_findings_are_sentences_from_thresholds_worst_first():
    policy = (Policy.default()
              .with_rule("performance_metrics", "accuracy", direction="higher_is_better",
                         warn=0.8, fail=0.7)
              .with_rule("performance_calibration", "expected_calibration_error",
                         direction="lower_is_better", warn=0.05, fail=0.1))
    metrics = _result("performance_metrics", Status.INFO, "Accuracy 74.0%.",
                      metrics={"accuracy": Metric(0.74, 0.7, 0.78, 0.95, 500)})
    calibration = _result("performance_calibration", Status.INFO, "ECE 0.12.",
                          metrics={"expected_calibration_error": Metric(0.125)})
    results = [policy.judge(metrics), policy.judge(calibration)]
    html = render_html(AuditResult(results, provenance=_provenance(policy)))
    warn = "Accuracy is 74.0%, below the warning level of 80.0%"
    fail = "Expected calibration error is 0.125, above the failure level of 0.1"
    assert warn in html and fail in html
    assert html.index(fail) < html.index(warn)  # FAIL before WARN
    assert "[70.0%, 78.0%]" in html  # the interval, with its level
    assert "EU-AI-Act-Art-15" in _section(html, "check-performance_calibration")


# -- escaping and offline safety -------------------------------------------------------------


def test_user_strings_are_escaped(binary_html):
    assert "<script" not in binary_html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in binary_html  # the title, as text
    assert "<b>yes" not in binary_html and "&lt;b&gt;yes&lt;/b&gt;" in binary_html
    assert "<i>card" not in binary_html and "&lt;i&gt;card&lt;/i&gt;" in binary_html


def test_hostile_table_cells_and_index_are_escaped():
    table = pd.DataFrame({"<th>col": ["<img src=x onerror=alert(1)>", "ok"]},
                         index=pd.Index([HOSTILE, "b"], name="<u>group</u>"))
    html = render_html(AuditResult([_result("custom_table", Status.INFO, f"Found {HOSTILE}.",
                                            tables={"per_group": table})]))
    assert "<script" not in html.lower() and "<img" not in html and "<u>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;th&gt;col" in html and "&lt;u&gt;group&lt;/u&gt;" in html


def test_matplotlib_escapes_text_in_svg(binary_html):
    svgs = re.findall(r"<svg\b.*?</svg>", binary_html, flags=re.DOTALL)
    assert len(svgs) >= 4
    assert any("&lt;b&gt;yes&lt;/b&gt;" in svg for svg in svgs)  # class name in the plots
    assert not any("<b>" in svg for svg in svgs)


def test_no_script_and_no_external_reference(binary_html):
    assert CSP in binary_html
    assert "<script" not in binary_html.lower()
    assert "@import" not in binary_html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", binary_html, re.I)
    assert not re.search(r"url\(\s*(?!#)", binary_html)  # only the SVGs' own #ids
    assert "<!DOCTYPE svg" not in binary_html and "<?xml" not in binary_html
    assert "<metadata>" not in binary_html
    ids = re.findall(r'\sid="([^"]+)"', binary_html)
    assert len(ids) == len(set(ids))  # figures share one page: their ids must not clash


# -- statuses that are not judged ------------------------------------------------------------


def test_error_shows_its_traceback_and_is_a_finding():
    traceback = ('Traceback (most recent call last):\n  File "<check>", line 1\n'
                 'RuntimeError: boom <b>')
    result = _result("performance_broken", Status.ERROR, "The check raised RuntimeError: boom",
                     error=traceback)
    html = render_html(AuditResult([result]))
    section = _section(html, "check-performance_broken")
    assert "<details" in section and "<pre>" in section
    assert "Traceback (most recent call last):" in section
    assert "RuntimeError: boom &lt;b&gt;" in section and "&lt;check&gt;" in section
    assert 'href="#check-performance_broken"' in html[:html.index('id="family-')]


def test_skip_shows_its_reason_in_the_summary_and_section():
    reason = "The model does not provide gradients."
    html = render_html(AuditResult([_result("robustness_pgd", Status.SKIP, reason,
                                            family="robustness")]))
    summary = html[html.index('id="summary"'):html.index('id="family-')]
    assert '<a href="#skipped">1 check skipped</a>' in summary
    skipped = html[html.index('id="skipped"'):]
    assert "Skipped checks" in skipped
    # one compact row, not a card: the check's anchor is the row's id
    row = re.search(r'<tr id="check-robustness_pgd">(.*?)</tr>', skipped, re.S).group(1)
    assert reason in row and "Robustness" in row
    assert '<article class="check check-skip' not in html


def test_unknown_check_family_and_figure_kind_still_render():
    figures = {"sparkles": Figure("sparkle_chart", {"x": np.arange(3), "y": [1, 2]},
                                  "A <new> chart"),
               "broken": Figure("roc_curves", {"fpr": [0.0, 1.0]}, "Broken ROC")}
    result = _result("from_the_future", Status.INFO, "Something new.", family="quantum",
                     figures=figures)
    html = render_html(AuditResult([result]))
    section = _section(html, "check-from_the_future")
    assert "A &lt;new&gt; chart" in section
    assert "no drawing for figures of kind" in section and "x, y" in section
    assert "Broken ROC" in section and "could not be drawn" in section


def test_the_description_shown_is_the_one_the_result_carries():
    result = _result("from_the_future", Status.INFO, "New.", family="quantum",
                     description="Measures <new> things.")
    html = render_html(AuditResult.from_json(AuditResult([result]).to_json()))
    assert "Measures &lt;new&gt; things." in _section(html, "check-from_the_future")
    registered = _result("performance_metrics", Status.INFO, "Old JSON, no description.")
    assert auditkit.get_check("performance_metrics").description not in render_html(
        AuditResult([registered]))  # the report reads the result, never the registry


def test_long_tables_are_cut_with_a_note():
    table = pd.DataFrame({"value": np.arange(45) / 7}, index=[f"row {i}" for i in range(45)])
    html = render_html(AuditResult([_result("custom_long", Status.INFO, "Long.",
                                            tables={"long": table})]))
    assert "row 29" in html and "row 30" not in html
    assert "15 more rows not shown" in html
    assert "0.1429" in html  # 4 significant digits


def test_grouped_and_empty_tables_render_after_a_json_round_trip():
    grouped = pd.DataFrame({"rate": [0.5, 0.25]},
                           index=pd.MultiIndex.from_tuples([("f", "<a>"), ("m", "b")],
                                                           names=["sex", "age"]))
    empty = pd.DataFrame({"true_class": [], "count": []})
    result = AuditResult([_result("custom_grouped", Status.INFO, "Groups.",
                                  tables={"by_group": grouped, "top": empty})])
    for audit in (result, AuditResult.from_json(result.to_json())):
        html = render_html(audit)
        header = re.search(r"<caption>By group</caption>\s*<thead>(.*?)</thead>", html, re.S)
        assert header.group(1).count("<th") == 3  # two index levels and one column
        assert "&lt;a&gt;" in html and "No rows." in html


# -- determinism, JSON, PDF ------------------------------------------------------------------


def test_rendering_is_deterministic(binary_result, binary_html):
    assert render_html(binary_result) == binary_html


def test_a_result_loaded_from_json_renders_the_same(binary_result, binary_html):
    loaded = AuditResult.from_json(binary_result.to_json())
    assert render_html(loaded) == binary_html


def _pdf_text(path) -> str:
    from pypdf import PdfReader

    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(path).pages))


def test_save_html_and_pdf(binary_result, tmp_path):
    html_path = binary_result.save_html(tmp_path / "report.html")
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    pdf_path = binary_result.save_pdf(tmp_path / "report.pdf")
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = _pdf_text(pdf_path)  # the HTML report, laid out: every check, the card, provenance
    for name in CHECKS:
        assert name in text
    for shown in (HOSTILE, "<i>card</i>", "<two>", "Modelcard", "Provenance"):
        assert re.sub(r"\s+", "", shown) in text  # printed as text, never as markup


def test_pdf_of_error_skip_and_unknown_figure_is_deterministic(tmp_path):
    results = [_result("performance_broken", Status.ERROR, "Raised.",
                       error="Traceback ...\nValueError: boom"),
               _result("robustness_pgd", Status.SKIP, "No gradients.", family="robustness"),
               _result("from_the_future", Status.INFO, "New.",
                       figures={"f": Figure("sparkle_chart", {"x": [1]}, "New chart")})]
    render_pdf(AuditResult(results), tmp_path / "odd.pdf")
    render_pdf(AuditResult(results), tmp_path / "again.pdf")
    content = (tmp_path / "odd.pdf").read_bytes()
    assert content.startswith(b"%PDF")
    assert (tmp_path / "again.pdf").read_bytes() == content  # no creation date, no random ID
    text = _pdf_text(tmp_path / "odd.pdf")
    assert "ValueError:boom" in text  # the folded traceback is open in print
    assert "Thereisnodrawingforfiguresofkind'sparkle_chart'" in text  # noted, not fatal
    assert "robustness_pgd" in text and "Nogradients." in text


def test_importing_auditkit_does_not_import_matplotlib():
    code = "import sys, auditkit, auditkit.report; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- every figure draws -------------------------------------------------------------------

#: Small budgets for a full audit of each zoo model: every check runs, on few samples. The
#: explanation checks keep their other defaults, so explanations_agreement reuses their
#: attributions instead of computing them again.
_SMALL_OPTIONS = {"n_samples": 8, "n_resamples": 20, "n_queries": 30, "square_samples": 16,
                  "n_thresholds": 21, "grid_size": 20, "reduction_iterations": 3, "steps": 3,
                  "restarts": 1, "candidates": 3, "n_examples": 2, "n_top_terms": 5}
_UNDRAWN = re.compile(r"could not be drawn[^<]*|There is no drawing for figures of kind[^<]*")


def _small_full_preset() -> list[auditkit.Check]:
    from dataclasses import fields

    from auditkit.checks import check_class
    from auditkit.presets import preset_checks

    checks = []
    for name in preset_checks("full"):
        known = {f.name for f in fields(check_class(name))}
        taken = {"n_samples"} if name.startswith("explanations_") else known
        checks.append(auditkit.get_check(name, **{k: v for k, v in _SMALL_OPTIONS.items()
                                                  if k in taken}))
    return checks


def test_every_module_of_plots_is_loaded_without_a_list():
    import pkgutil

    import auditkit.report

    modules = [m.name for m in pkgutil.iter_modules(auditkit.report.__path__)
               if m.name.startswith("_plots_")]
    assert modules
    assert all(f"auditkit.report.{name}" in sys.modules for name in modules)


@pytest.mark.parametrize("name", [
    "adult-mlp",
    "vowels-gru",
    "sentiment-lstm",
    "mnist-vae",  # the generative family's figures
    pytest.param("mnist-cnn", marks=pytest.mark.slow),  # about 30 s; its LIME heatmaps below
])
def test_every_figure_of_a_full_zoo_audit_draws(name):
    from auditkit import zoo

    model, data = zoo.load(name)
    result = auditkit.audit(model, data, checks=_small_full_preset(), device="cpu",
                            progress=False)
    assert [r.name for r in result.results if r.status is Status.ERROR] == []
    html = render_html(result)
    assert _UNDRAWN.findall(html) == []
    assert html.count('<figure class="plot"') == sum(len(r.figures) for r in result.results)
    assert "mathdefault" not in html  # TeX markup of default log-axis labels, unrendered


def test_lime_image_heatmaps_draw():
    from auditkit import zoo

    model, data = zoo.load("mnist-cnn")
    lime = auditkit.get_check("explanations_lime", n_samples=2, num_samples=100)
    result = auditkit.audit(model, data, checks=[lime], device="cpu", progress=False)
    kinds = {f.kind for f in result["explanations_lime"].figures.values()}
    assert "image_attributions" in kinds
    assert _UNDRAWN.findall(render_html(result)) == []
