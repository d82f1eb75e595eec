"""Text attacks: the typo edits, the synonym table, hand-checked stub models, the zoo models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from auditkit import AuditData, CheckContext, CheckResult, Status, get_check, wrap_model
from auditkit.attacks import (
    KEYBOARD,
    adjacent_swaps,
    deletions,
    keyboard_insertions,
    keyboard_substitutions,
    split_words,
    synonym_table,
    typos,
)
from auditkit.checks import LocalExecutor
from auditkit.exceptions import CheckError
from auditkit.report._plots import to_svg

NAME = "robustness_text"
VOCAB = ("<pad>", "<unk>", "good", "great", "fine", "film", "this", "is", "a", "dull", "plot",
         "solid", "acting")


# -- typos and synonyms -------------------------------------------------------------------


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_each_typo_kind_is_one_edit_of_its_kind():
    word = "Terrible"
    swaps = adjacent_swaps(word)
    assert swaps and all(len(w) == len(word) and sorted(w) == sorted(word) for w in swaps)
    for w in swaps:  # exactly two neighbouring letters trade places
        diff = [i for i in range(len(word)) if w[i] != word[i]]
        assert len(diff) == 2 and diff[1] == diff[0] + 1
    for edits, length in ((deletions(word), len(word) - 1),
                          (keyboard_substitutions(word), len(word)),
                          (keyboard_insertions(word), len(word) + 1)):
        assert edits and all(len(w) == length and _levenshtein(w.lower(), word.lower()) == 1
                             for w in edits)
    for w in keyboard_substitutions(word):
        (i,) = [i for i in range(len(word)) if w[i] != word[i]]
        assert w[i] in KEYBOARD[word[i].lower()]
    every = swaps + deletions(word) + keyboard_substitutions(word) + keyboard_insertions(word)
    assert all(w[0] == "T" and w != word for w in every)  # first letter and case kept
    assert keyboard_substitutions("DULL")[0].isupper()


def test_typos_are_distinct_seeded_and_mix_the_kinds():
    first = typos("wonderful", np.random.default_rng(3), 8)
    assert first == typos("wonderful", np.random.default_rng(3), 8)
    assert len(first) == len(set(first)) == 8 and "wonderful" not in first
    lengths = {len(w) - len("wonderful") for w in first}
    assert lengths == {-1, 0, 1}  # deletions, swaps or substitutions, insertions
    assert len(typos("bad", np.random.default_rng(0), 100)) < 100  # as many as there are


def test_split_words_round_trips_and_keeps_contractions():
    text = "It's a fine film -- isn't it?"
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert pieces[1::2] == ["It's", "a", "fine", "film", "isn't", "it"]


def test_synonym_table_is_small_and_sensible():
    import auditkit

    # shipped with the library (hash-checked), not read from the zoo
    path = Path(auditkit.__file__).parent / "_resources" / "wordnet_synonyms.json.xz"
    assert path.stat().st_size < 1_000_000
    table = synonym_table()
    assert len(table) > 30_000
    assert {"satisfactory", "solid"} & set(table["good"])
    assert "film" in table["movie"] and "terrible" in table["awful"]
    assert all(re.fullmatch("[a-z]+", w) for words in table.values() for w in words)
    assert max(len(words) for words in table.values()) <= 8


# -- hand-made models -------------------------------------------------------------------


def _tokenizer(texts):
    """Ids of VOCAB (1 for unknown words), 10 ids per text."""
    index = {w: i for i, w in enumerate(VOCAB)}
    ids = np.zeros((len(texts), 10), dtype=np.int64)
    for row, text in enumerate(texts):
        words = re.findall(r"\w+", text.lower())[:10]
        ids[row, :len(words)] = [index.get(w, 1) for w in words]
    return ids


class _Tokenizer:
    """The same, exposing its vocabulary like WordTokenizer."""

    vocab = {w: i for i, w in enumerate(VOCAB)}

    def __call__(self, texts):
        return _tokenizer(texts)


def _keyword(ids):
    """p(positive) = 0.9 when 'good' is present, else 0.2."""
    positive = np.where((np.asarray(ids) == VOCAB.index("good")).any(axis=1), 0.9, 0.2)
    return np.column_stack([1 - positive, positive])


def _counting(ids):
    """Each of 'good', 'great', 'fine' adds 1 to the positive logit, which starts at -3.5."""
    ids = np.asarray(ids)
    hits = np.isin(ids, [VOCAB.index(w) for w in ("good", "great", "fine")]).sum(axis=1)
    positive = 1 / (1 + np.exp(-(hits - 3.5)))
    return np.column_stack([1 - positive, positive])


def _run(model, data, *, seed=0, n_workers=1, **options):
    check = get_check(NAME, **options)
    context = CheckContext(random_state=seed, executor=LocalExecutor(n_workers))
    return check.run(wrap_model(model), data, context=context)


def _data(texts, labels, tokenizer=_tokenizer, **extra):
    return AuditData(tokenizer(texts), labels, modality="text", tokenizer=tokenizer,
                     texts=texts, class_names=["negative", "positive"], **extra)


KEYWORD_TEXTS = ["This is a good film", "A good plot", "Good acting", "A dull film",
                 "This film is dull", "A dull plot"]


@pytest.fixture(scope="module")
def keyword_result():
    data = _data(KEYWORD_TEXTS, [1, 1, 1, 0, 0, 0], tokenizer=_Tokenizer(),
                 sensitive={"group": ["a", "b", "a", "b", "a", "b"]})
    return _run(_keyword, data, max_fraction_changed=1.0)


def test_the_keyword_model_is_flipped_by_changing_that_one_word(keyword_result):
    metrics = keyword_result.metrics
    assert metrics["clean_accuracy"].value == 1.0
    # every 'good' sentence flips (one word), no 'dull' sentence can
    for name in ("attack_success_rate", "synonym_success_rate", "typo_success_rate"):
        assert metrics[name].value == pytest.approx(0.5) and metrics[name].n == 6
    assert metrics["robust_accuracy"].value == pytest.approx(0.5)
    assert metrics["mean_words_changed"].value == 1.0
    examples = keyword_result.tables["examples"]
    flipped = examples[examples["flipped"]]
    assert len(flipped) == 3 and (flipped["words_changed"] == 1).all()
    assert set(flipped["original"]) == {"This is a [[good]] film", "A [[good]] plot",
                                        "[[Good]] acting"}
    for _, row in flipped.iterrows():
        (new,) = re.findall(r"\[\[(\w+)\]\]", row["perturbed"])
        assert new.lower() != "good" and row["p_true_after"] == pytest.approx(0.2)
    # the vocabulary is known: the known synonym 'solid' is tried (and kept) first
    assert "[[solid]]" in " ".join(flipped["perturbed"])
    assert set(keyword_result.tables["by_sensitive_group"]["group"]) == {"a", "b"}
    assert list(keyword_result.tables["by_class"]["group"]) == ["negative", "positive"]


def test_result_round_trips_and_figures_draw(keyword_result):
    text = json.dumps(keyword_result.to_dict(), allow_nan=False)
    assert CheckResult.from_dict(json.loads(text)) == keyword_result
    for figure in keyword_result.figures.values():
        assert to_svg(figure, salt="t").svg is not None


def test_example_figure_escapes_the_text():
    texts = ["<script>alert('x')</script> & a good film", "a dull film"]
    result = _run(_keyword, _data(texts, [1, 0]), max_fraction_changed=1.0)
    svg = str(to_svg(result.figures["examples"], salt="e").svg)
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg
    assert re.search(r"font-weight: 700[^>]*>\s*good", svg) or ">good<" in svg


def test_the_budget_is_never_exceeded():
    # five keywords: 1.5 on the positive logit, so two must go; 'great good' stays negative
    texts = ["good great fine good great", "fine fine good great good", "great good"]
    data = _data(texts, [1, 1, 0])
    tight = _run(_counting, data, max_words_changed=1, max_fraction_changed=1.0)
    assert tight.metrics["attack_success_rate"].value == 0.0  # two changes are needed
    assert (tight.tables["examples"]["words_changed"] <= 1).all()
    loose = _run(_counting, data, max_words_changed=3, max_fraction_changed=1.0)
    assert loose.metrics["attack_success_rate"].value == pytest.approx(2 / 3)
    assert loose.metrics["mean_words_changed"].value == 2.0
    budget = loose.tables["success_by_budget"].set_index(["attack", "max_words_changed"])
    assert budget.loc[("combined", 1), "success_rate"] == 0.0
    assert budget.loc[("combined", 2), "success_rate"] == pytest.approx(2 / 3)
    # at most a quarter of five words, rounded up: two
    fraction = _run(_counting, data, max_words_changed=3)
    assert (fraction.tables["examples"]["words_changed"] <= 2).all()


def test_same_seed_same_result_whatever_the_workers():
    texts = ["good film " * (i % 4 + 1) + "fine" for i in range(12)]
    data = _data(texts, [1] * 11 + [0])
    first = _run(_counting, data, seed=4)
    second = _run(_counting, data, seed=4, n_workers=2)
    assert first.with_changes(duration_s=0.0) == second.with_changes(duration_s=0.0)


def test_skips_without_texts_or_tokenizer():
    ids = _tokenizer(KEYWORD_TEXTS)
    for extra in ({}, {"texts": KEYWORD_TEXTS}, {"tokenizer": _tokenizer}):
        data = AuditData(ids, [1, 1, 1, 0, 0, 0], modality="text", **extra)
        result = _run(_keyword, data)
        assert result.status is Status.SKIP and "tokenizer" in result.headline


def test_skips_tabular_data(black_box, binary_data):
    result = get_check(NAME).run(wrap_model(black_box), binary_data, context=CheckContext())
    assert result.status is Status.SKIP and "text" in result.headline


@pytest.mark.parametrize("option, value", [
    ("n_samples", 0), ("max_words_changed", 0), ("max_words_changed", 1.5),
    ("max_fraction_changed", 0.0), ("max_fraction_changed", 1.5), ("n_typos", -1),
    ("n_examples", -1), ("min_group_size", 0), ("confidence", 1.0)])
def test_bad_options_name_the_parameter(option, value):
    with pytest.raises(CheckError, match=f"'{option}'"):
        get_check(NAME, **{option: value})


# -- the zoo text model -----------------------------------------------------------------


def test_sentiment_lstm_is_flipped_by_a_few_words():
    from auditkit import zoo

    model, data = zoo.load("sentiment-lstm")
    result = _run(model, data, n_samples=60)
    metrics = result.metrics
    assert result.status is Status.INFO
    assert metrics["attack_success_rate"].value > 0.25
    assert metrics["synonym_success_rate"].value > 0.1
    assert metrics["typo_success_rate"].value > 0.1
    assert metrics["robust_accuracy"].value < metrics["clean_accuracy"].value
    flipped = result.tables["examples"].query("flipped")
    assert len(flipped) and (flipped["words_changed"] <= 3).all()
    assert all("[[" in text for text in flipped["perturbed"])
    assert "Changing at most 3 words" in result.headline
