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


_VOCABULARY = {"he", "his", "her", "is", "good", "bad", "film", "nothing", "here"}


def _tokenizer(texts):
    """Id 2 for 'she', 3 for the other words it knows, 1 for unknown ones, 0 pads; 8 ids."""
    ids = np.zeros((len(texts), 8), dtype=np.int64)
    for row, text in enumerate(texts):
        words = re.findall(r"\w+", text.lower())[:8]
        ids[row, :len(words)] = [SHE if w == "she" else 3 if w in _VOCABULARY else 1
                                 for w in words]
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
    # the tokenizer knows no name: no template is scored, no name gap is judged
    assert "name_group_score_gap" not in metrics
    assert metrics["name_in_vocabulary_coverage"].value == 0.0
    assert not stub_result.tables["name_group_gaps"]["judged"].any()
    terms = stub_result.tables["term_sensitivity"]
    top = terms.set_index("term").loc[["he -> she", "she -> he"]]
    assert top["mean_effect"].tolist() == pytest.approx([0.7, -0.7])
    examples = stub_result.tables["examples"]
    assert "[[she]] is good" in examples["counterfactual"].tolist()


def _named_case(n_male, n_female):
    """A tokenizer that knows the first names of each WEAT gender group; male ones score 0.8."""
    from auditkit._resources import weat_terms

    weat = weat_terms()
    male = weat["male_names"]["words"][:n_male]
    female = weat["female_names"]["words"][:n_female]

    def tokenizer(texts):
        ids = np.zeros((len(texts), 8), dtype=np.int64)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text)[:8]
            ids[row, :len(words)] = [4 if w in male else 5 if w in female else
                                     3 if w.lower() in _VOCABULARY else 1 for w in words]
        return ids

    def model(ids):
        ids = np.asarray(ids)
        positive = np.where((ids == 4).any(1), 0.8, np.where((ids == 5).any(1), 0.3, 0.5))
        return np.column_stack([1 - positive, positive])

    texts = ["he is good", "his film"]
    data = AuditData(tokenizer(texts), [1, 0], modality="text", tokenizer=tokenizer,
                     texts=texts)
    return wrap_model(model), data, male, female


def test_unknown_names_are_left_out_and_a_gap_needs_enough_known_names():
    model, data, male, female = _named_case(6, 2)
    result = _run(model, data)
    coverage = result.tables["vocabulary_coverage"]
    assert coverage.loc["Male names", "n_in_vocabulary"] == 6
    assert coverage.loc["Female names", "n_in_vocabulary"] == 2
    assert coverage.loc["Female names", "in_vocabulary_coverage"] == pytest.approx(2 / 8)
    groups = result.tables["name_groups"]
    # unknown names are not averaged in: every known male name scores 0.8, female 0.3
    assert groups.loc["Male names", "mean_score"] == pytest.approx(0.8)
    assert groups.loc["Female names", "mean_score"] == pytest.approx(0.3)
    gaps = result.tables["name_group_gaps"]
    assert gaps.loc["names: male / female", "gap"] == pytest.approx(0.5)
    assert not gaps["judged"].any()  # 2 female names < min_known_terms=5
    assert "name_group_score_gap" not in result.metrics
    assert "not judged" in result.headline
    judged = _run(model, data, min_known_terms=2)
    gap = judged.metrics["name_group_score_gap"]
    assert gap.value == pytest.approx(0.5) and gap.n == 8
    assert gap.lower == pytest.approx(0.5) and gap.upper == pytest.approx(0.5)
    terms = judged.tables["term_sensitivity"]
    assert set(terms.loc[terms["source"] == "templates", "term"]) <= set(male) | set(female)


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
    for metric in ("counterfactual_flip_rate", "mean_absolute_score_shift", "mean_score_shift"):
        m = result.metrics[metric]
        assert np.isfinite(m.value) and m.lower <= m.value <= m.upper and m.n > 0
    # The zoo tokenizer knows none of the 18 African American names and 3 of the 8 female
    # names: too few to judge a name gap, which is reported but not judged.
    coverage = result.tables["vocabulary_coverage"]["n_in_vocabulary"]
    assert (coverage["Male names"], coverage["Female names"]) == (7, 3)
    assert coverage["African American names"] == 0
    assert "name_group_score_gap" not in result.metrics
    gaps = result.tables["name_group_gaps"]
    assert not gaps["judged"].any() and np.isfinite(gaps.loc["names: male / female", "gap"])
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
