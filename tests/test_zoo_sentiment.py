"""The zoo's text models: sentiment-lstm and sentiment-transformer, and their tokenizer."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from auditkit import zoo
from auditkit.exceptions import AuditkitError, ZooError

NAMES = ("sentiment-lstm", "sentiment-transformer")
BAR = 0.73


@pytest.fixture(scope="module", params=NAMES)
def shipped(request):
    return zoo.load_with_card(request.param)


def _accuracy(model, X):
    with torch.inference_mode():
        return model(torch.tensor(X)).argmax(1).numpy()


def test_shipped_checkpoint_reproduces_card_accuracy(shipped):
    model, data, card = shipped
    accuracy = float((_accuracy(model, data.X) == data.y).mean())
    assert accuracy >= BAR
    assert abs(accuracy - card["metrics"]["test_accuracy"]) <= 0.005
    assert card["metrics"]["test_accuracy"] >= BAR
    assert card["checkpoint"]["size_bytes"] <= 5_000_000


def test_audit_data_is_well_formed(shipped):
    model, data, card = shipped
    n = card["data"]["test_rows"]
    assert data.modality == "text"
    assert data.X.shape == (n, card["preprocessing"]["max_length"])
    assert data.X.dtype == np.int64
    assert len(data.texts) == n == len(data.y)
    np.testing.assert_array_equal(data.tokenizer(list(data.texts)), data.X)
    assert data.class_names == ("negative", "positive")
    assert set(np.unique(data.y)) == {0, 1}
    assert data.train.X.shape == (card["data"]["train_rows"], data.X.shape[1])
    assert data.reference.shape[1] == data.X.shape[1]
    assert set(data.ood) == {"20-newsgroups"}
    assert data.ood["20-newsgroups"].shape == (3000, data.X.shape[1])
    assert data.ood_kinds == {"20-newsgroups": "far"}
    assert data.tokenizer.vocab_size == card["preprocessing"]["vocabulary_size"]
    assert int(data.X.max()) < data.tokenizer.vocab_size
    # The audit split holds no snippet of the training split (duplicates share a split).
    from auditkit.zoo import sentiment

    assert not set(data.texts) & set(sentiment.splits()["train"][0])


def test_ood_texts_are_the_raw_sentences_behind_the_ood_ids(shipped):
    _, data, _ = shipped
    sentences, groups = zoo.load_newsgroups_sentences()
    texts = data.ood_texts["20-newsgroups"]
    assert set(data.ood_texts) == {"20-newsgroups"}
    assert list(texts) == sentences and len(set(groups)) == 20
    # Row i of the ids is the model's own tokenizer applied to text i, in the same order.
    np.testing.assert_array_equal(data.tokenizer(list(texts)), data.ood["20-newsgroups"])
    assert all(isinstance(t, str) and 5 <= len(t.split()) <= 40 for t in texts)
    # Every window keeps at least one token after padding (no empty OOD row).
    assert ((data.ood["20-newsgroups"] != 0).sum(1) >= 1).all()


def test_all_padding_row_gives_finite_logits_and_gradients(shipped):
    model, data, _ = shipped
    ids = torch.tensor(np.vstack([np.zeros(data.X.shape[1], np.int64), data.X[0]]))
    with torch.inference_mode():
        assert torch.isfinite(model(ids)).all()
    # Explanations take gradients of the model in eval mode, through its embeddings.
    embedded = []

    def keep(module, args, out):
        out.retain_grad()
        embedded.append(out)

    handle = model.embedding.register_forward_hook(keep)
    try:
        model(ids)[:, 1].sum().backward()
    finally:
        handle.remove()
        model.zero_grad(set_to_none=True)
    assert torch.isfinite(embedded[0].grad).all()
    assert not model.training


def test_tokenizer_round_trip_and_determinism(shipped):
    _, data, _ = shipped
    tokenizer = data.tokenizer
    text = "A thoughtful, funny film."
    ids = tokenizer([text, text])
    np.testing.assert_array_equal(ids[0], ids[1])
    assert tokenizer.decode(ids[0]) == tokenizer.tokenize(text) == \
        ["a", "thoughtful", ",", "funny", "film", "."]
    assert (ids[0, len(tokenizer.tokenize(text)):] == 0).all()
    assert tokenizer(["zzqxv blorptastic film"])[0, :2].tolist() == [1, 1]
    assert tokenizer([""])[0].tolist() == [0] * tokenizer.max_length
    assert tokenizer([" ".join(["film"] * 100)]).shape == (1, tokenizer.max_length)
    restored = type(tokenizer).from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    assert restored == tokenizer
    np.testing.assert_array_equal(restored(list(data.texts[:50])), data.X[:50])
    with pytest.raises(AuditkitError, match="'texts' parameter must be a list of str"):
        tokenizer(text)


def test_tokenizer_is_built_deterministically():
    from auditkit.zoo._text import WordTokenizer

    corpus = ["The film is good.", "A good, good cast!", "Bad film, it's bad."]
    first = WordTokenizer.from_texts(corpus, min_frequency=2, max_length=8)
    second = WordTokenizer.from_texts(list(reversed(corpus)), min_frequency=2, max_length=8)
    assert first.id_to_token == second.id_to_token == \
        ("<pad>", "<unk>", "good", ",", ".", "bad", "film")
    assert first(["It\u2019s GOOD"]).tolist() == [[1, 2, 0, 0, 0, 0, 0, 0]]
    with pytest.raises(AuditkitError, match="'id_to_token' parameter"):
        WordTokenizer(["film", "<unk>"])


def test_tampered_vocabulary_is_refused(tmp_path):
    from auditkit.zoo._checkpoints import CHECKPOINT_DIR

    name = "sentiment-lstm"
    for suffix in (".json", ".safetensors", ".vocab.json"):
        shutil.copy(CHECKPOINT_DIR / f"{name}{suffix}", tmp_path)
    vocab = tmp_path / f"{name}.vocab.json"
    state = json.loads(vocab.read_text("utf-8"))
    state["id_to_token"][2], state["id_to_token"][3] = state["id_to_token"][3], \
        state["id_to_token"][2]
    vocab.write_text(json.dumps(state), "utf-8")
    with pytest.raises(ZooError, match="does not match the SHA-256"):
        zoo.load(name, directory=tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_training_smoke_loss_decreases(name, tmp_path):
    from auditkit.zoo import sentiment

    card = sentiment.train(name, device=torch.device("cpu"), directory=tmp_path, max_steps=30)
    assert card["training"]["steps"] == 30
    assert card["training"]["device"] == "cpu"
    model, data, _ = zoo.load_with_card(name, directory=tmp_path)
    # The untrained model: same seed, same initialisation as the run's first step.
    torch.manual_seed(card["training"]["seed"])
    untrained = sentiment.build_model(name, data.tokenizer.vocab_size).eval()
    X, y = torch.tensor(data.train.X[:1000]), torch.tensor(data.train.y[:1000])
    with torch.inference_mode():
        before = torch.nn.functional.cross_entropy(untrained(X), y).item()
        after = torch.nn.functional.cross_entropy(model(X), y).item()
    assert after < before - 0.005
