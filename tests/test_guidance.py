"""The report's guidance: a human title, how to read it and what to do next, for every check."""

from __future__ import annotations

import re

import pytest

from auditkit import Policy
from auditkit.checks import check_class, list_checks
from auditkit.report._guidance import GUIDANCE, Guidance, guidance_for

CHECKS = list_checks()
MAX_TITLE = 45
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "cf.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
_SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


def sentences(text: str) -> list[str]:
    """The sentences of ``text``: abbreviations and decimals do not end one."""
    masked = text.strip()
    for abbreviation in _ABBREVIATIONS:
        masked = masked.replace(abbreviation, abbreviation.replace(".", ""))
    return [part for part in _SENTENCE_END.split(masked) if part]


def _judged_checks() -> set[str]:
    """Checks the default policy can give a verdict (the others are information only)."""
    return ({rule.check for rule in Policy.default().rules}
            | {name for name in CHECKS if check_class(name).verdict_metrics})


def _is_diagnostic(name: str) -> bool:
    return check_class(name).family == "explanations" or name == "robustness_gradient_masking"


# -- the sentence counter the tests below rely on ----------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("One sentence.", 1),
    ("First one. Second one.", 2),
    ("ROC AUC of 0.5 is chance, e.g. a coin. Then 1.0 is perfect.", 2),
    ("Methods differ (Petsiuk et al. 2018). A gap of 5% matters? Yes.", 3),
    ("Values 0.05 and 0.1 vs. 0.2 stay in one sentence.", 1),
])
def test_sentences_ignores_abbreviations_and_decimals(text, expected):
    assert len(sentences(text)) == expected


# -- every registered check ---------------------------------------------------------------------


def test_every_registered_check_has_guidance():
    assert sorted(set(CHECKS) - set(GUIDANCE)) == []


def test_guidance_names_only_registered_checks():
    assert sorted(set(GUIDANCE) - set(CHECKS)) == []


def test_titles_are_short_plain_and_unique():
    titles = [GUIDANCE[name].title for name in CHECKS]
    assert len(set(titles)) == len(titles), sorted(t for t in titles if titles.count(t) > 1)
    for name, title in zip(CHECKS, titles, strict=True):
        assert 0 < len(title) <= MAX_TITLE, (name, title, len(title))
        assert title[0].isupper() and not title.endswith("."), (name, title)
        assert _SNAKE.search(title) is None, (name, title)


@pytest.mark.parametrize("name", CHECKS)
def test_how_to_read_is_two_plain_sentences(name):
    text = GUIDANCE[name].how_to_read
    assert len(sentences(text)) == 2, (name, sentences(text))
    assert text.endswith("."), name
    assert _SNAKE.search(text) is None, (name, _SNAKE.search(text).group(0))


@pytest.mark.parametrize("name", CHECKS)
def test_next_steps_are_one_to_three_sentences(name):
    steps = GUIDANCE[name].next_steps
    if name in _judged_checks():
        assert steps, f"{name} can warn or fail but says nothing to do"
    assert len(steps) <= 3, name
    for step in steps:
        assert step[0].isupper() and step.endswith("."), (name, step)
    assert len(set(steps)) == len(steps), name


def test_every_information_only_check_still_says_what_to_do():
    # a stricter policy may judge their emitted metrics, and any check can raise
    informational = [name for name in CHECKS if name not in _judged_checks()]
    assert informational, "expected some checks without a default verdict"
    assert [name for name in informational if not GUIDANCE[name].next_steps] == []


@pytest.mark.parametrize("name", CHECKS)
def test_see_also_names_other_registered_checks(name):
    see_also = GUIDANCE[name].see_also
    assert see_also, name
    assert name not in see_also
    assert len(set(see_also)) == len(see_also), name
    assert sorted(set(see_also) - set(CHECKS)) == [], name


def test_diagnostics_advise_on_the_method_not_the_model():
    diagnostics = [name for name in CHECKS if _is_diagnostic(name)]
    assert "robustness_gradient_masking" in diagnostics
    assert len(diagnostics) >= 8
    for name in diagnostics:
        text = " ".join(GUIDANCE[name].next_steps).lower()
        assert "retrain" not in text and "train with" not in text, name
    for name in diagnostics:
        if check_class(name).family == "explanations" and name != "explanations_agreement":
            method = check_class(name).method
            assert GUIDANCE[name].title == f"{method} explanations"
            assert method in GUIDANCE[name].next_steps[0]


# -- what points where --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("fairness_disparities", {"fairness_mitigation", "fairness_thresholds",
                              "fairness_group_metrics"}),
    ("privacy_membership_inference", {"privacy_canary_audit"}),
    ("performance_metrics", {"performance_confusion_matrix", "performance_calibration"}),
    ("robustness_pgd", {"robustness_minimal_perturbation", "robustness_gradient_masking"}),
    ("robustness_pgd_l2", {"robustness_minimal_perturbation", "robustness_gradient_masking"}),
    ("robustness_fgsm", {"robustness_pgd", "robustness_gradient_masking"}),
    ("robustness_square", {"robustness_gradient_masking"}),
    ("explanations_saliency", {"explanations_agreement"}),
    ("generative_membership", {"generative_memorisation"}),
])
def test_see_also_points_to_the_checks_that_help(name, expected):
    assert expected <= set(GUIDANCE[name].see_also)


def test_membership_inference_points_to_its_per_record_evidence():
    assert "per-record evidence" in GUIDANCE["privacy_membership_inference"].next_steps[0]


def test_integrated_gradients_mentions_completeness_others_do_not():
    assert "add up to the model's output" in \
        GUIDANCE["explanations_integrated_gradients"].how_to_read
    assert "add up" not in GUIDANCE["explanations_saliency"].how_to_read


# -- lookup -------------------------------------------------------------------------------------


def test_guidance_for_a_registered_check_is_its_entry():
    assert guidance_for("performance_calibration") is GUIDANCE["performance_calibration"]
    assert guidance_for("fairness_disparities").title == "Group fairness gaps"


def test_guidance_for_an_unknown_check_falls_back_to_a_readable_title():
    found = guidance_for("unknown_plugin_check")
    assert found == Guidance(title="Unknown plugin check")
    assert (found.how_to_read, found.next_steps, found.see_also) == ("", (), ())
    assert "unknown_plugin_check" not in GUIDANCE
