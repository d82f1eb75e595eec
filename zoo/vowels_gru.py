"""vowels-gru: a GRU that recognises one of nine speakers from a spoken Japanese vowel.

Data: UEA/UCR JapaneseVowels, vendored in ``zoo/data``, with the archive's own
split (270 training and 370 test utterances of /ae/ by nine male speakers).
Each utterance is 7 to 29 frames of 12 LPC cepstrum coefficients; every
channel is standardised with the mean and standard deviation of the training
frames (recorded in the card).

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
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..inputs import AuditData
from ._checkpoints import (
    count_parameters,
    load_card,
    load_weights,
    save_checkpoint,
    seed_everything,
)
from ._datasets import load_japanese_vowels
from ._training import Recipe, accuracy, fit_classifier, predict_logits

__all__ = ["NAME", "MAX_LENGTH", "VowelsGRU", "encode", "fit_normalisation", "load", "train"]

NAME = "vowels-gru"
N_CHANNELS = 12
N_CLASSES = 9
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
    n_classes : int, default=9
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
        """Logits of the nine speakers, shape (batch, 9)."""
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


@functools.lru_cache(maxsize=1)
def _splits() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]:
    return load_japanese_vowels()


def audit_data(normalisation: dict[str, Any]) -> AuditData:
    """The archive's test split to audit; the training split as members and as reference."""
    x_train, y_train, x_test, y_test = _splits()
    X_train = encode(x_train, normalisation)
    # No out-of-distribution set: nothing real with this format is vendored, and an
    # invented one would make an OOD check measure the invention, not the model.
    return AuditData(
        encode(x_test, normalisation), y_test,
        train=(X_train, y_train),
        reference=X_train,
        modality="sequence",
        feature_names=CHANNEL_NAMES,
        mutable_features=CHANNEL_NAMES[:N_CHANNELS],
        class_names=CLASS_NAMES,
        name="UEA/UCR JapaneseVowels (test split, padded to 29 frames + mask channel)",
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
    return model, data, card


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
    """Train vowels-gru on the archive's training split and write its checkpoint and card."""
    recipe = replace(RECIPE, seed=seed)
    seed_everything(recipe.seed)
    x_train, y_train, x_test, y_test = _splits()
    normalisation = fit_normalisation(x_train)
    X_train = torch.from_numpy(encode(x_train, normalisation))
    X_test = torch.from_numpy(encode(x_test, normalisation))
    model = VowelsGRU()
    # The CPU kernels are already deterministic, and switching the flag on imports
    # torch._inductor (seconds), so it is only turned on where it changes something.
    with _deterministic() if device.type == "cuda" else contextlib.nullcontext():
        history = fit_classifier(model, X_train, torch.from_numpy(y_train), recipe,
                                 device=device, loss_fn=nn.functional.cross_entropy,
                                 max_steps=max_steps)
    model.cpu()
    test_logits = predict_logits(model, X_test, torch.device("cpu"))
    train_logits = predict_logits(model, X_train, torch.device("cpu"))
    predicted = test_logits.argmax(1).numpy()
    per_class = {CLASS_NAMES[k]: round(float((predicted[y_test == k] == k).mean()), 6)
                 for k in range(N_CLASSES)}
    lengths = [len(s) for s in x_train + x_test]
    card = {
        "name": NAME,
        "summary": "GRU speaker classifier (nine speakers) on UEA/UCR JapaneseVowels, "
                   "variable-length sequences of 12 LPC cepstrum coefficients.",
        "task": "multi-class classification (9 logits, softmax)",
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
                 "split": "the archive's own JapaneseVowels_TRAIN / JapaneseVowels_TEST files "
                          "(test = the audit split)",
                 "target": "speaker (nine male Japanese speakers uttering /ae/)",
                 "class_names": list(CLASS_NAMES),
                 "sequence_lengths": [min(lengths), max(lengths)],
                 "sensitive_features": [], "ood_sets": []},
        "preprocessing": {**normalisation,
                          "description": "per-channel standardisation with the mean and "
                                         "standard deviation (ddof=0) of all training frames; "
                                         "padding is left at zero after standardisation"},
        "metrics": {
            "test_accuracy": round(accuracy(test_logits, y_test), 6),
            "train_accuracy": round(accuracy(train_logits, y_train), 6),
            "test_per_class_accuracy": per_class,
        },
        "training": {"optimizer": "Adam", "loss": "cross-entropy", "epochs": recipe.epochs,
                     "batch_size": recipe.batch_size, "learning_rate": recipe.lr,
                     "weight_decay": recipe.weight_decay, "seed": recipe.seed,
                     "device": str(device), "torch_version": torch.__version__,
                     "steps": history["steps"], "duration_s": history["duration_s"],
                     "loss_history": history["loss_history"]},
        "intended_use": "A reference model for trying auditkit's checks on variable-length "
                        "multichannel sequences (explanations over time steps and channels, "
                        "robustness, membership inference). Not a speaker-verification system.",
        "limitations": "Nine adult male speakers and one vowel pair (/ae/); 270 training "
                       "utterances, 30 per speaker. The test classes are imbalanced (24 to 88 "
                       "utterances per speaker). Inputs must follow the padded-and-masked "
                       "format above; attributions on the mask channel are zero by "
                       "construction. An all-zero baseline (integrated gradients' default) "
                       "has no real frames, so the path jumps at the baseline and "
                       "completeness fails; a baseline that zeroes channels 0-11 and keeps "
                       "the mask avoids the jump. No out-of-distribution set ships with it.",
        "planted_defect": None,
    }
    return save_checkpoint(NAME, model, card, directory)
