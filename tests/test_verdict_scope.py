"""The verdict means what it says: diagnostics apart from findings, the scope, plain findings.

Also the expected calibration error's interval, which must contain its estimate.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from auditkit import (
    AuditData,
    AuditResult,
    CheckResult,
    Metric,
    Policy,
    Status,
    audit,
    wrap_model,
)
from auditkit.checks import PerformanceCalibration
from auditkit.exceptions import PolicyError
from auditkit.report import render_html


def _policy_provenance(policy: Policy, **extra) -> dict:
    return {"policy": policy.describe(), "model": {"capabilities": ["predict"]}, **extra}


def _judged(policy: Policy, name: str, family: str, headline: str, **metrics) -> CheckResult:
    result = CheckResult(name=name, family=family, status=Status.INFO, headline=headline,
                         metrics={k: Metric(v) for k, v in metrics.items()})
    return policy.judge(result)


def _audit(policy: Policy) -> AuditResult:
    """A clean model whose Saliency explainer fails its randomisation sanity check."""
    results = (
        _judged(policy, "performance_metrics", "performance",
                "Accuracy 85.0% on 1,000 samples.", accuracy=0.85, balanced_accuracy=0.8,
                roc_auc=0.9),
        _judged(policy, "explanations_saliency", "explanations",
                "Saliency: deletion AUC 0.6 vs 0.7 for random orderings.",
                faithfulness_gain=0.07, randomisation_null_share=0.0,
                null_rank_correlation=0.1),
    )
    return AuditResult(results, provenance=_policy_provenance(policy, preset="standard",
                                                              selection="preset"))


# -- diagnostics apart from findings ---------------------------------------------------------


def test_diagnostics_are_marked_and_round_trip():
    result = _audit(Policy.default())
    assert result["explanations_saliency"].diagnostic
    assert not result["performance_metrics"].diagnostic
    masking = CheckResult("robustness_gradient_masking", "robustness", Status.PASS, "ok")
    assert masking.diagnostic
    assert AuditResult.from_json(result.to_json()) == result
    # results written before the field existed are classified by their name and family
    data = result.to_dict()
    for entry in data["results"]:
        del entry["diagnostic"]
    assert AuditResult.from_dict(data)["explanations_saliency"].diagnostic


def test_a_failing_explainer_does_not_fail_the_model():
    result = _audit(Policy.default())
    assert result["explanations_saliency"].status is Status.FAIL  # the check keeps its verdict
    assert result.status is Status.PASS
    assert result.family_status() == {"performance": Status.PASS, "explanations": Status.INFO}
    html = render_html(result)
    summary = html.split('id="summary"', 1)[1].split('id="checks"', 1)[0]
    assert "Diagnostics of the audit's methods" in summary
    assert "Do not trust the Saliency explanations of this model" in summary
    assert "No check of the model failed" in summary


def test_the_policy_can_count_diagnostics():
    policy = Policy.from_dict({"extends": "default", "diagnostics_affect_verdict": True})
    assert policy.diagnostics_affect_verdict
    assert policy.describe()["diagnostics_affect_verdict"] is True
    result = _audit(policy)
    assert result.status is Status.FAIL
    assert result.family_status()["explanations"] is Status.FAIL
    assert "this policy counts them in the verdict" in render_html(result)


def test_a_diagnostic_that_raised_still_counts():
    raised = CheckResult("explanations_lime", "explanations", Status.ERROR, "The check raised.")
    result = AuditResult((raised,), provenance=_policy_provenance(Policy.default()))
    assert result.status is Status.ERROR


@pytest.mark.parametrize("value", ["no", 1, None])
def test_the_switch_is_validated(value):
    with pytest.raises(PolicyError, match="'diagnostics_affect_verdict' parameter must be true "
                                          "or false"):
        Policy.from_dict({"extends": "default", "diagnostics_affect_verdict": value})


def test_the_default_policy_documents_the_switch():
    from importlib import resources

    text = resources.files("auditkit.policy").joinpath("default.yaml").read_text("utf-8")
    assert "diagnostics_affect_verdict: false" in text
    assert Policy.default().diagnostics_affect_verdict is False
    strict = Policy.default().with_rule("performance_metrics", "accuracy",
                                        direction="higher_is_better", warn=0.9)
    assert strict.diagnostics_affect_verdict is False


# -- scope -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_result(make_binary) -> AuditResult:
    from sklearn.linear_model import LogisticRegression

    X, y, _ = make_binary(n=300, seed=3)
    model = LogisticRegression().fit(X, y)
    return audit(model, AuditData(X, y), preset="performance", progress=False,
                 checks=[PerformanceCalibration(n_resamples=50)], random_state=0)


def test_the_scope_names_every_family_and_why_it_did_not_run(make_binary):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = make_binary(n=300, seed=3)
    model = LogisticRegression().fit(X, y)
    from auditkit.policy import Rule

    # one rule, so that the PASS below rests on a known number
    lenient = Policy("lenient", (Rule("performance_metrics", "accuracy", "higher_is_better",
                                      warn=0.5),))
    result = audit(model, AuditData(X, y), preset="performance", progress=False, policy=lenient)
    scope = {s.family: s for s in result.scope()}
    assert scope["performance"].run and scope["performance"].checks_run >= 2
    assert scope["privacy"].reason == "not in the performance preset"
    assert scope["generative"].reason == "not in the performance preset"
    html = render_html(result)
    cover = html.split('id="summary"', 1)[0]
    assert "Scope: the performance preset" in cover
    assert "not run: not in the performance preset" in cover
    verdict = re.search(r'<span class="verdict-text">(.*?)</span>', html, re.S).group(1)
    assert "It covers performance; not run: explanations" in verdict
    assert result.status is Status.PASS
    assert "The 1 check of the model that the policy judges is within its thresholds" in verdict


def test_a_skipped_family_gives_the_skip_reason(quick_result):
    skipped = CheckResult("generative_fidelity", "generative", Status.SKIP,
                          "This check applies to generative models.")
    result = AuditResult((*quick_result.results, skipped),
                         provenance=quick_result.provenance)
    scope = {s.family: s for s in result.scope()}
    assert not scope["generative"].run
    assert scope["generative"].reason == "the model is a classifier, not a generative model"


def test_checks_with_options_keep_the_preset(quick_result, make_binary):
    # named checks: no preset, and the report says so instead of a dash
    assert quick_result.provenance["preset"] is None
    html = render_html(quick_result)
    assert "checks named one by one" in html
    assert "not among the checks asked for" in html
    # the command line's --option passes the preset's checks, configured: the preset stays
    from sklearn.linear_model import LogisticRegression

    from auditkit.checks import get_check
    from auditkit.presets import preset_checks

    X, y, _ = make_binary(n=300, seed=3)
    model = LogisticRegression().fit(X, y)
    checks = [get_check(n) for n in preset_checks("performance")]
    checks = [c if c.name != "performance_calibration" else PerformanceCalibration(n_bins=10)
              for c in checks]
    result = audit(model, AuditData(X, y), preset="performance", checks=checks, progress=False)
    assert result.provenance["preset"] == "performance"
    html = render_html(result)
    provenance = html.split('id="provenance"', 1)[1]
    assert "the performance preset, with options changed" in provenance
    assert not re.search(r"Preset</th><td>\s*\u2014", provenance)


# -- plain findings ----------------------------------------------------------------------------


def test_findings_are_plain_words_never_code_names():
    policy = Policy.default()
    fairness = _judged(
        policy, "fairness_disparities", "fairness",
        "By race, the model predicts '>50K' for 27.5% of Asian-Pac-Islander and 6.3% of "
        "Amer-Indian-Eskimo: a demographic parity difference of 0.212 (95% CI 0.167 to 0.268; "
        "chi-square test p < 0.001). Largest error-rate gap: equalized odds difference 0.338.",
        demographic_parity_difference_lower_bound=0.224)
    privacy = _judged(policy, "privacy_membership_inference", "privacy",
                      "tpr_at_1pct_fpr of lira is high.", tpr_at_1pct_fpr=0.08)
    result = AuditResult((fairness, privacy), provenance=_policy_provenance(policy))
    html = render_html(result)
    findings = html.split('class="findings"', 1)[1].split("</ol>", 1)[0]
    assert ("By race, the model predicts &#39;&gt;50K&#39; for 27.5% of Asian-Pac-Islander and "
            "6.3% of Amer-Indian-Eskimo (difference in selection rates, at least 0.224, limit "
            "0.2)") in findings
    text = re.sub(r"<[^>]+>", " ", findings)
    text = re.sub(r"\(\s*privacy_membership_inference\s*\)|\(\s*fairness_disparities\s*\)", "",
                  text)
    assert "tpr_at_1pct_fpr" not in text and "_lower_bound" not in text
    assert ("The share of training records an attacker identifies at 1 false accusation in "
            "100 is 8.0%, above the failure level of 5.0%") in text


# -- the ECE interval ----------------------------------------------------------------------------


def _calibrated(n: int = 4000, seed: int = 0):
    """A model whose probabilities are right by construction: labels drawn from them."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.02, 0.98, size=(n, 1))
    y = (rng.uniform(size=n) < X[:, 0]).astype(int)

    def proba(batch):
        p = np.asarray(batch, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])

    return wrap_model(proba, classes=[0, 1]), AuditData(X, y)


def test_ece_interval_contains_its_estimate_on_a_calibrated_model():
    model, data = _calibrated()
    result = audit(model, data, checks=[PerformanceCalibration(n_resamples=400)],
                   progress=False)["performance_calibration"]
    ece = result.metrics["expected_calibration_error"]
    # the old contradiction: the resampled ECEs sit above the plug-in estimate
    from auditkit.checks._classification import ResampledECE  # noqa: F401 (statistic exists)

    assert ece.value < 0.03
    assert ece.lower <= ece.value <= ece.upper
    assert ece.lower >= 0.0
    assert "bias-corrected" in ece.method and "estimated bias (+" in ece.method
    assert "bias-corrected interval" in result.headline


def test_the_percentile_interval_alone_misses_the_estimate():
    """Reproduces the report's contradiction (0.00282 with a 95% CI [0.00355, 0.01])."""
    from auditkit._stats import bias_corrected_interval, percentile_interval

    # a calibrated sample whose plug-in ECE happens to be low, as the adult-mlp one was
    rng = np.random.default_rng(8)
    n, bins = 4000, 15
    confidence = rng.uniform(0.5, 1.0, size=n)
    correct = (rng.uniform(size=n) < confidence).astype(float)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    terms = np.eye(bins)[index] * (correct - confidence)[:, None]

    def ece(weights):
        return np.abs(weights @ terms).sum(axis=-1) / n

    estimate = float(ece(np.ones(n)))
    counts = rng.multinomial(n, np.full(n, 1 / n), size=500).astype(float)
    samples = ece(counts)
    low, high = percentile_interval(samples, 0.95)
    assert estimate < low  # the plug-in estimate lies below its own percentile interval
    low, high, bias = bias_corrected_interval(samples, estimate, 0.95)
    assert bias > 0 and low <= estimate <= high
