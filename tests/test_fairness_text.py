"""Counterfactual fairness of text models: the swap, hand-computed values, the zoo models."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from auditkit import AuditData, CheckContext, CheckResult, Status, get_check, wrap_model
from auditkit.checks.fairness import GENDER_PAIRS, TEMPLATES, swap_terms
from auditkit.report._plots import to_svg

NAME = "fairness_counterfactual_text"
SHE = 2


def _run(model, data, *, seed=0, **options):
    check = get_check(NAME, n_resamples=200, **options)
    return check.run(model, data, context=CheckContext(random_state=seed))


# -- the swap ---------------------------------------------------------------------------


def test_swap_preserves_case_and_word_boundaries():
    mapping = {"his": "her", "her": "his", "he": "she", "she": "he"}
    swap = swap_terms("His hershey bar? HE said she'd share; the-he-man.", mapping)
    assert swap.text == "Her hershey bar? SHE said he'd share; the-she-man."
    assert swap.swaps == (("His", "Her"), ("HE", "SHE"), ("she", "he"), ("he", "she"))
    assert swap.original_marked.startswith("[[His]] hershey bar? [[HE]] said [[she]]'d")
    assert swap.swapped_marked.startswith("[[Her]] hershey bar? [[SHE]] said [[he]]'d")
    assert swap_terms("Theirs, ashes, shelf.", mapping).swaps == ()


def test_swap_names_only_when_case_sensitive_match():
    names = {"Bill": "Donna", "Donna": "Bill"}
    swap = swap_terms("Bill paid the bill; Donna laughed.", names, case_sensitive=True)
    assert swap.text == "Donna paid the bill; Bill laughed."


def test_gender_pairs_cover_the_weat_gender_terms():
    from auditkit._resources import weat_terms

    weat = weat_terms()
    covered = {w for pair in GENDER_PAIRS for w in pair}
    assert set(weat["male_terms"]["words"]) | set(weat["female_terms"]["words"]) <= covered
    assert len(weat["european_american_names"]["words"]) == 18


# -- hand-computed values on a stub model -----------------------------------------------


def _tokenizer(texts):
    """Id 2 for 'she', 1 for every other word, 0 for padding; 8 ids per text."""
    ids = np.zeros((len(texts), 8), dtype=np.int64)
    for row, text in enumerate(texts):
        words = re.findall(r"\w+", text.lower())[:8]
        ids[row, :len(words)] = [SHE if w == "she" else 1 for w in words]
    return ids


def _stub(ids):
    """p(positive) = 0.9 when 'she' is present, else 0.2."""
    positive = np.where((np.asarray(ids) == SHE).any(axis=1), 0.9, 0.2)
    return np.column_stack([1 - positive, positive])


@pytest.fixture(scope="module")
def stub_result():
    texts = ["he is good", "She is bad", "nothing here", "his film"]
    data = AuditData(_tokenizer(texts), [1, 0, 1, 0], modality="text", tokenizer=_tokenizer,
                     texts=texts)
    return _run(wrap_model(_stub), data)


def test_stub_flip_rate_and_shift_match_hand_values(stub_result):
    # he->she: 0.2 -> 0.9 (flip); She->He: 0.9 -> 0.2 (flip); his->her: 0.2 -> 0.2.
    metrics = stub_result.metrics
    assert metrics["counterfactual_flip_rate"].value == pytest.approx(2 / 3)
    assert metrics["counterfactual_flip_rate"].n == 3
    assert metrics["mean_absolute_score_shift"].value == pytest.approx(1.4 / 3)
    # toward the female version: +0.7, +0.7, 0
    assert metrics["mean_score_shift"].value == pytest.approx(1.4 / 3)
    assert stub_result.tables["swap_sets"].loc["gender words", "sentences_affected"] == 3
    # no template contains 'she', so every name scores 0.2: no gap
    assert metrics["name_group_score_gap"].value == pytest.approx(0.0)
    terms = stub_result.tables["term_sensitivity"]
    top = terms.set_index("term").loc[["he -> she", "she -> he"]]
    assert top["mean_effect"].tolist() == pytest.approx([0.7, -0.7])
    examples = stub_result.tables["examples"]
    assert "[[she]] is good" in examples["counterfactual"].tolist()


def test_result_round_trips_through_json(stub_result):
    text = json.dumps(stub_result.to_dict(), allow_nan=False)
    assert CheckResult.from_dict(json.loads(text)) == stub_result
    for figure in stub_result.figures.values():
        assert to_svg(figure, salt="t").svg is not None


def test_skips_non_text_data(black_box, binary_data):
    result = _run(wrap_model(black_box), binary_data)
    assert result.status is Status.SKIP and "text" in result.headline


def test_skips_text_without_tokenizer():
    data = AuditData(np.ones((4, 3), dtype=np.int64), [0, 1, 0, 1], modality="text")
    result = _run(wrap_model(_stub), data)
    assert result.status is Status.SKIP and "tokenizer" in result.headline


# -- the zoo text models ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["sentiment-lstm", "sentiment-transformer"])
def test_zoo_text_models_report_finite_numbers(name):
    from auditkit import zoo

    model, data = zoo.load(name)
    adapter = wrap_model(model, device="cpu")
    result = _run(adapter, data)
    assert result.status is Status.INFO
    for metric in ("counterfactual_flip_rate", "mean_absolute_score_shift", "mean_score_shift",
                   "name_group_score_gap"):
        m = result.metrics[metric]
        assert np.isfinite(m.value) and m.lower <= m.value <= m.upper and m.n > 0
    groups = result.tables["name_groups"]
    assert (groups["n_templates"] == len(TEMPLATES)).all()
    assert len(result.tables["term_sensitivity"]) == 15
    again = _run(adapter, data)
    assert again.to_dict() | {"duration_s": None} == result.to_dict() | {"duration_s": None}


def test_a_positive_class_beyond_the_model_outputs_is_a_clear_error():
    from auditkit.exceptions import CheckError

    texts = ["he is good", "She is bad"]
    data = AuditData(_tokenizer(texts), [1, 0], modality="text", tokenizer=_tokenizer,
                     texts=texts)
    with pytest.raises(CheckError, match=re.escape(
            "The 'positive_class' option of check 'fairness_counterfactual_text' must be a "
            "column of the model's probabilities (0 to 1) or None. Got 2 instead.")):
        _run(wrap_model(_stub), data, positive_class=2)


@pytest.mark.parametrize("options", [{"n_resamples": 0}, {"confidence": "x"},
                                     {"positive_class": True}, {"n_top_terms": 0}], ids=str)
def test_bad_options_raise_at_construction(options):
    from auditkit.exceptions import CheckError

    option = next(iter(options))
    with pytest.raises(CheckError, match=f"^The '{option}' option of check '{NAME}' must be"):
        get_check(NAME, **options)
