"""vowels-gru: a GRU that recognises one of seven speakers from a spoken Japanese vowel.

Data: UEA/UCR JapaneseVowels, vendored in ``zoo/data``: utterances of /ae/ by
nine male speakers, 7 to 29 frames of 12 LPC cepstrum coefficients each. The
model knows speakers 1 to 7 only, with the archive's own split (210 training
and 291 test utterances). Speakers 8 and 9 are held out altogether: all their
utterances (60 from the archive's training file, 79 from its test file) form
the out-of-distribution set ``"unseen-speakers"``, of kind ``"near"``: the
same vowel, the same recording set-up and features, spoken by someone the
model was never trained on, the real open-set risk of a speaker classifier.
Every channel is standardised with the mean and standard deviation of the
seven known speakers' training frames (recorded in the card), the unseen
speakers' utterances included, so nothing of them leaks into the model.

Input format. The auditkit adapter calls ``module(x)`` with one tensor and
:class:`~auditkit.AuditData` needs a fixed shape, so a batch of utterances is
one float32 tensor of shape (batch, length, 13): channels 0-11 are the
standardised coefficients and channel 12 is a mask, 1.0 on real frames and 0.0
on padding; padding frames are all zeros and come after the real frames.
``encode`` pads to :data:`MAX_LENGTH` (29) frames; the model accepts any
length, and more trailing zero padding does not change its output, because
it reads each utterance's length from the mask and packs the sequence, so the
GRU never sees padding.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .._stats import wilson_interval
from ..inputs import AuditData
from ._checkpoints import (
    count_parameters,
    load_card,
    load_weights,
    save_checkpoint,
    seed_everything,
)
from ._datasets import load_japanese_vowels
from ._training import (
    Recipe,
    accuracy,
    fit_classifier,
    predict_logits,
    private_torch_seed,
)

__all__ = ["NAME", "MAX_LENGTH", "OOD_NAME", "VowelsGRU", "audit_data", "encode",
           "fit_normalisation", "load", "refit", "train"]

NAME = "vowels-gru"
N_CHANNELS = 12
#: Speakers in the archive (labels 0..8 = speakers 1..9).
N_SPEAKERS = 9
#: Speakers the model is trained on and classifies: speakers 1..7 (labels 0..6).
N_CLASSES = 7
#: Speakers held out of training and testing; their utterances are the OOD set.
HELD_OUT_SPEAKERS = tuple(f"speaker {i}" for i in range(N_CLASSES + 1, N_SPEAKERS + 1))
OOD_NAME = "unseen-speakers"
#: The longest utterance in the archive (train and test); ``encode`` pads to it.
MAX_LENGTH = 29
CLASS_NAMES = tuple(f"speaker {i}" for i in range(1, N_CLASSES + 1))
#: The 12 standardised LPC cepstrum coefficients, then the mask channel (never perturbed).
CHANNEL_NAMES = tuple(f"lpc{i}" for i in range(1, N_CHANNELS + 1)) + ("mask",)
HIDDEN = 64
DROPOUT = 0.2
RECIPE = Recipe(epochs=60, batch_size=32, lr=3e-3, weight_decay=1e-4, seed=0)


class VowelsGRU(nn.Module):
    """A one-layer GRU over the real frames, its last hidden state, then a linear head.

    Parameters
    ----------
    n_channels : int, default=12
        Coefficients per frame; the input has one more channel, the mask.
    hidden : int, default=64
        GRU hidden size (also the size of the features the head reads).
    n_classes : int, default=7
    dropout : float, default=0.2
        Dropout on the last hidden state during training.

    Notes
    -----
    Input: float32 of shape (batch, length, n_channels + 1), the last channel
    being the mask (1.0 on real frames, 0.0 on padding, real frames first).
    Output: logits of shape (batch, n_classes).
    """

    def __init__(self, n_channels: int = N_CHANNELS, hidden: int = HIDDEN,
                 n_classes: int = N_CLASSES, dropout: float = DROPOUT) -> None:
        super().__init__()
        self.n_channels = n_channels
        self.gru = nn.GRU(n_channels, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    @staticmethod
    def lengths(x: torch.Tensor) -> torch.Tensor:
        """Real frames per sequence, read from the mask channel; int64 on the CPU, >= 1."""
        mask = x[..., -1].detach()
        # The threshold is half the sequence's largest mask value rather than a fixed 0.5,
        # so that inputs scaled towards a zero baseline (integrated gradients scales the
        # whole input, mask included) keep their length for every positive scale.
        peak = mask.amax(dim=1, keepdim=True).clamp(min=0)
        lengths = (mask > 0.5 * peak).sum(dim=1)
        # An all-padding sequence would have length 0, which pack_padded_sequence rejects;
        # it is read as its first (zero) frame instead.
        return lengths.clamp(min=1).cpu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the known speakers, shape (batch, n_classes)."""
        packed = pack_padded_sequence(x[..., :self.n_channels], self.lengths(x),
                                      batch_first=True, enforce_sorted=False)
        # cuDNN implements the RNN backward pass only in training mode, and audits ask for
        # input gradients (captum, adversarial attacks) from the model in eval mode; the
        # native kernels have no such limit, so use them whenever a gradient may follow.
        native = torch.is_grad_enabled() and not self.training and x.is_cuda
        with torch.backends.cudnn.flags(enabled=False) if native else contextlib.nullcontext():
            _, last = self.gru(packed)
        # With a packed input, the final hidden state is the one after each sequence's own
        # last real frame, returned in the batch's original order.
        return self.head(self.dropout(last[-1]))

    @staticmethod
    def attribution_baseline(x: torch.Tensor) -> torch.Tensor:
        """The input with every coefficient at its training mean (0) and the mask kept.

        Explanations remove frames by this baseline: a removed frame keeps its place in
        the utterance (so the length read from the mask does not jump) but carries no
        information. An all-zero baseline would also erase the mask.
        """
        baseline = torch.zeros_like(x)
        baseline[..., -1] = x[..., -1]
        return baseline


def fit_normalisation(series: Sequence[np.ndarray]) -> dict[str, Any]:
    """Per-channel mean and standard deviation over all frames of the training utterances."""
    frames = np.concatenate(list(series)).astype(np.float64)
    return {"mean": frames.mean(axis=0).round(8).tolist(),
            "std": frames.std(axis=0, ddof=0).round(8).tolist()}


def encode(series: Sequence[np.ndarray], normalisation: dict[str, Any],
           length: int = MAX_LENGTH) -> np.ndarray:
    """Standardise, pad and mask utterances into the model's input format.

    Parameters
    ----------
    series : sequence of array-like of shape (n_frames, 12)
        Raw utterances, ``n_frames <= length``.
    normalisation : dict
        ``{"mean": [...], "std": [...]}``, one value per channel (the card's
        ``preprocessing``).
    length : int, default=29
        Frames after padding.

    Returns
    -------
    numpy.ndarray of shape (n_utterances, length, 13), float32
        Standardised channels then the mask channel; padding frames are zeros.
    """
    mean = np.asarray(normalisation["mean"], dtype=np.float64)
    std = np.asarray(normalisation["std"], dtype=np.float64)
    X = np.zeros((len(series), length, len(mean) + 1), dtype=np.float32)
    for i, frames in enumerate(series):
        n = len(frames)
        if n > length:
            raise ValueError(f"Utterance {i} has {n} frames; 'length' must be at least {n}.")
        X[i, :n, :-1] = (np.asarray(frames, dtype=np.float64) - mean) / std
        X[i, :n, -1] = 1.0
    return X


class _Splits(NamedTuple):
    """The archive split by speaker: the known speakers' train and test, the unseen ones."""

    x_train: list[np.ndarray]
    y_train: np.ndarray
    x_test: list[np.ndarray]
    y_test: np.ndarray
    #: Every utterance of the held-out speakers: the archive's training file, then its test file.
    x_ood: list[np.ndarray]
    #: The archive label (0..8) of each held-out utterance.
    speaker_ood: np.ndarray
    #: How many of ``x_ood`` (the first ones) come from the archive's training file.
    n_ood_from_train_file: int


@functools.lru_cache(maxsize=1)
def _splits() -> _Splits:
    x_train, y_train, x_test, y_test = load_japanese_vowels()
    known_train = np.flatnonzero(y_train < N_CLASSES)
    known_test = np.flatnonzero(y_test < N_CLASSES)
    unseen_train = np.flatnonzero(y_train >= N_CLASSES)
    unseen_test = np.flatnonzero(y_test >= N_CLASSES)
    out = _Splits([x_train[i] for i in known_train], y_train[known_train],
                  [x_test[i] for i in known_test], y_test[known_test],
                  [x_train[i] for i in unseen_train] + [x_test[i] for i in unseen_test],
                  np.concatenate([y_train[unseen_train], y_test[unseen_test]]),
                  len(unseen_train))
    for array in (out.y_train, out.y_test, out.speaker_ood):
        array.setflags(write=False)  # cached: shared by every caller
    return out


def audit_data(normalisation: dict[str, Any]) -> AuditData:
    """The known speakers' test split to audit, their training split as members and reference.

    Parameters
    ----------
    normalisation : dict
        The card's ``preprocessing`` (per-channel mean and standard deviation).

    Returns
    -------
    AuditData
        ``X`` float32 of shape (291, 29, 13), labels 0..6 (speakers 1..7);
        ``train`` and ``reference`` the 210 training utterances;
        ``ood["unseen-speakers"]`` the 139 utterances of speakers 8 and 9,
        encoded the same way, of kind ``"near"``.
    """
    splits = _splits()
    X_train = encode(splits.x_train, normalisation)
    return AuditData(
        encode(splits.x_test, normalisation), splits.y_test,
        train=(X_train, splits.y_train),
        reference=X_train,
        ood={OOD_NAME: encode(splits.x_ood, normalisation)},
        # Same vowel, microphone and features; only the speaker is new: a near shift.
        ood_kinds={OOD_NAME: "near"},
        modality="sequence",
        feature_names=CHANNEL_NAMES,
        mutable_features=CHANNEL_NAMES[:N_CHANNELS],
        class_names=CLASS_NAMES,
        name="UEA/UCR JapaneseVowels, speakers 1-7 (test split, padded to 29 frames + mask "
             "channel)",
    )


def load(name: str = NAME, directory: Any = None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    """The shipped model (weights verified), its AuditData and its card."""
    card = load_card(NAME, directory)
    data = audit_data(card["preprocessing"])
    architecture = card["architecture"]
    model = VowelsGRU(architecture["channels"], architecture["hidden"],
                      architecture["outputs"], architecture["dropout"])
    load_weights(NAME, model, directory)
    model.model_card = card
    model.train_fn = refit  # wrap_model reads it: the adapter can refit a fresh copy
    return model, data, card


def refit(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int = 0
          ) -> nn.Module:
    """Train a freshly initialised VowelsGRU with vowels-gru's recipe (the adapter's ``train_fn``).

    ``X`` is already encoded (normalised frames plus the mask channel, as
    AuditData holds them); ``random_state`` seeds the batch order and dropout.
    Returned in eval mode, on the device it trained on.
    """
    recipe = replace(RECIPE, seed=int(random_state))
    device = next(module.parameters()).device
    with private_torch_seed(recipe.seed):
        fit_classifier(module, torch.from_numpy(np.array(X, dtype=np.float32)),
                       torch.from_numpy(np.array(y, dtype=np.int64)), recipe, device=device,
                       loss_fn=nn.functional.cross_entropy)
    return module


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic kernels while training, restoring the caller's setting afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def train(name: str = NAME, *, device: torch.device, directory: Any = None,
          max_steps: int | None = None, seed: int = RECIPE.seed) -> dict[str, Any]:
    """Train vowels-gru on the known speakers' training split; write its checkpoint and card.

    Parameters
    ----------
    name : str, default="vowels-gru"
    device : torch.device
        Where to train (deterministic kernels on CUDA).
    directory : path, optional
        Where to write; defaults to the shipped checkpoints' folder.
    max_steps : int, optional
        Stop after this many optimiser steps (smoke tests).
    seed : int, default=0
        Weights and data order.

    Returns
    -------
    dict
        The model card, as written.
    """
    from sklearn.metrics import roc_auc_score

    recipe = replace(RECIPE, seed=seed)
    seed_everything(recipe.seed)
    splits = _splits()
    x_train, y_train, x_test, y_test = (splits.x_train, splits.y_train, splits.x_test,
                                        splits.y_test)
    normalisation = fit_normalisation(x_train)
    X_train = torch.from_numpy(encode(x_train, normalisation))
    X_test = torch.from_numpy(encode(x_test, normalisation))
    X_ood = torch.from_numpy(encode(splits.x_ood, normalisation))
    model = VowelsGRU()
    # The CPU kernels are already deterministic, and switching the flag on imports
    # torch._inductor (seconds), so it is only turned on where it changes something.
    with _deterministic() if device.type == "cuda" else contextlib.nullcontext():
        history = fit_classifier(model, X_train, torch.from_numpy(np.array(y_train)), recipe,
                                 device=device, loss_fn=nn.functional.cross_entropy,
                                 max_steps=max_steps)
    model.cpu()
    cpu = torch.device("cpu")
    test_logits = predict_logits(model, X_test, cpu)
    train_logits = predict_logits(model, X_train, cpu)
    ood_logits = predict_logits(model, X_ood, cpu)
    predicted = test_logits.argmax(1).numpy()
    per_class = {CLASS_NAMES[k]: round(float((predicted[y_test == k] == k).mean()), 6)
                 for k in range(N_CLASSES)}
    correct = int((predicted == y_test).sum())
    # For orientation only (the OOD checks measure detectors with intervals): how well the
    # plainest detector, one minus the top softmax probability, tells the unseen speakers
    # (positive) from the known speakers' test utterances.
    top = torch.cat([test_logits, ood_logits]).softmax(1).amax(1).numpy()
    is_ood = np.r_[np.zeros(len(test_logits)), np.ones(len(ood_logits))]
    ood_auroc = float(roc_auc_score(is_ood, 1.0 - top))
    lengths = [len(s) for s in x_train + x_test + splits.x_ood]
    from_train_file = splits.n_ood_from_train_file
    card = {
        "name": NAME,
        "summary": "GRU speaker classifier (seven known speakers) on UEA/UCR JapaneseVowels, "
                   "variable-length sequences of 12 LPC cepstrum coefficients; two further "
                   "speakers are held out as a near out-of-distribution set.",
        "task": f"multi-class classification ({N_CLASSES} logits, softmax)",
        "architecture": {"type": "GRU + linear head", "channels": N_CHANNELS,
                         "input_channels": N_CHANNELS + 1, "hidden": HIDDEN, "layers": 1,
                         "bidirectional": False, "readout": "last hidden state after the last "
                         "real frame (packed sequence)", "dropout": DROPOUT,
                         "outputs": N_CLASSES, "parameters": count_parameters(model)},
        "input_format": {
            "shape": ["batch", MAX_LENGTH, N_CHANNELS + 1], "dtype": "float32",
            "channels": "0-11: standardised LPC cepstrum coefficients; 12: mask (1.0 on real "
                        "frames, 0.0 on padding)",
            "padding": f"zeros after the real frames, up to {MAX_LENGTH} frames (the longest "
                       "utterance); the model reads each length from the mask channel (frames "
                       "above half its peak), packs the sequence so the GRU never sees "
                       "padding, and treats an all-zero mask as length 1",
        },
        "data": {"dataset": "UEA/UCR JapaneseVowels (Kudo, Toyama & Shimbo, 1999), via the "
                            "UEA multivariate archive (Bagnall et al., 2018); UCI data CC BY 4.0",
                 "train_rows": len(x_train), "test_rows": len(x_test),
                 "split": "the archive's own JapaneseVowels_TRAIN / JapaneseVowels_TEST files, "
                          f"restricted to speakers 1-{N_CLASSES} (test = the audit split); "
                          "every utterance of the held-out speakers is removed from both",
                 "target": f"speaker ({N_CLASSES} of the archive's {N_SPEAKERS} male Japanese "
                           "speakers uttering /ae/)",
                 "class_names": list(CLASS_NAMES),
                 "held_out_speakers": list(HELD_OUT_SPEAKERS),
                 "sequence_lengths": [min(lengths), max(lengths)],
                 "sensitive_features": [],
                 "ood_sets": {OOD_NAME: {
                     "kind": "near",
                     "rows": len(splits.x_ood),
                     "speakers": list(HELD_OUT_SPEAKERS),
                     "description": f"all {len(splits.x_ood)} utterances of "
                                    f"{' and '.join(HELD_OUT_SPEAKERS)} ({from_train_file} "
                                    "from the archive's training file, "
                                    f"{len(splits.x_ood) - from_train_file} from its test "
                                    "file), encoded exactly like the audit split (the known "
                                    "speakers' normalisation, padded to 29 frames + mask)",
                     "why": "a speaker classifier's real open-set risk is an utterance by "
                            "someone it was never trained on, which it still attributes to a "
                            "known speaker; the same vowel, recording set-up and features "
                            "make the shift near and realistic, and nothing else real in this "
                            "format (12 LPC channels) is vendored, so the set is held out of "
                            "the archive rather than invented"}}},
        "preprocessing": {**normalisation,
                          "description": "per-channel standardisation with the mean and "
                                         "standard deviation (ddof=0) of all training frames "
                                         f"of speakers 1-{N_CLASSES}; padding is left at zero "
                                         "after standardisation; the held-out speakers are "
                                         "standardised with the same statistics"},
        "metrics": {
            "test_accuracy": round(correct / len(y_test), 6),
            "test_accuracy_95ci": [round(float(v), 6)
                                   for v in wilson_interval(correct, len(y_test))],
            "train_accuracy": round(accuracy(train_logits, np.asarray(y_train)), 6),
            "test_per_class_accuracy": per_class,
            f"{OOD_NAME.replace('-', '_')}_auroc_max_softmax": round(ood_auroc, 6),
        },
        "training": {"optimizer": "Adam", "loss": "cross-entropy", "epochs": recipe.epochs,
                     "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
                     "weight_decay": recipe.weight_decay, "seed": recipe.seed,
                     "device": str(device), "torch_version": torch.__version__,
                     "steps": history["steps"], "duration_s": history["duration_s"],
                     "loss_history": history["loss_history"]},
        "intended_use": "A reference model for trying auditkit's checks on variable-length "
                        "multichannel sequences (explanations over time steps and channels, "
                        "robustness, membership inference, near out-of-distribution detection "
                        "of unseen speakers). Not a speaker-verification system.",
        "limitations": f"{N_CLASSES} adult male speakers and one vowel pair (/ae/); "
                       f"{len(x_train)} training utterances, 30 per speaker. The test classes "
                       "are imbalanced (24 to 88 utterances per speaker). It always answers one "
                       "of the seven known speakers, also for anyone else's voice; the "
                       f"'{OOD_NAME}' set has two speakers only, so what a detector achieves "
                       "on it speaks for these two voices, not for every unseen speaker. "
                       "Inputs must follow the padded-and-masked format above; attributions on "
                       "the mask channel are zero by construction. An all-zero baseline "
                       "(integrated gradients' default) has no real frames, so the path jumps "
                       "at the baseline and completeness fails; a baseline that zeroes "
                       "channels 0-11 and keeps the mask avoids the jump.",
        "planted_defect": None,
    }
    return save_checkpoint(NAME, model, card, directory)

