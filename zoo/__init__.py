"""The zoo: reference models trained on real, vendored data.

``zoo.load(name)`` returns a ready model and its :class:`~auditkit.AuditData`
(the split to audit, the training split as members, sensitive features);
weights are verified against the SHA-256 in the model card before loading.

Examples
--------
>>> from auditkit import zoo
>>> zoo.list_models()  # doctest: +SKIP
['adult-mlp']
>>> model, data = zoo.load("adult-mlp")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from ..exceptions import UNKNOWN_NAME, ZooError
from ._datasets import (
    load_adult,
    load_compas,
    load_fashion_mnist_subset,
    load_german,
    load_japanese_vowels,
    load_mnist_5k,
    load_newsgroups_sentences,
    load_rotten_tomatoes,
)

__all__ = [
    "ZooEntry",
    "info",
    "list_models",
    "load",
    "load_adult",
    "load_compas",
    "load_fashion_mnist_subset",
    "load_german",
    "load_japanese_vowels",
    "load_mnist_5k",
    "load_newsgroups_sentences",
    "load_rotten_tomatoes",
    "load_with_card",
    "train",
]


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: its name, a one-line summary, and the module that builds it.

    The module defines ``load(name, directory) -> (model, data, card)`` and
    ``train(name, *, device, directory, max_steps) -> card``; one module may
    build several entries (a model and its planted-defect variants).
    """

    name: str
    summary: str
    module: str

    def implementation(self) -> Any:
        """The module with ``load`` and ``train``."""
        return import_module(f"{__name__}.{self.module}")


_ENTRIES = {e.name: e for e in (
    ZooEntry("adult-mlp", "MLP on UCI Adult income (tabular, binary); sex and race sensitive",
             "adult_mlp"),
    ZooEntry("adult-mlp-biased", "adult-mlp trained on income labels skewed against women "
             "(planted bias: demographic-parity gap by sex 0.354 vs 0.193)", "tabular"),
    ZooEntry("adult-mlp-overfit", "Wide MLP that memorised 400 UCI Adult rows (planted "
             "overfitting: train/test gap 17.5 points; members = those rows)", "tabular"),
    ZooEntry("adult-mlp-canary", "adult-mlp-overfit's recipe with 100 mislabelled canary rows, "
             "50 of them trained on (planted membership leak; AuditData.canaries)",
             "adult_canary"),
    ZooEntry("adult-mlp-drift", "adult-mlp audited on a drifted split of Adult's test file "
             "(planted covariate shift: older people, more managers and professionals)",
             "adult_drift"),
    ZooEntry("compas-mlp", "MLP on ProPublica COMPAS two-year recidivism, beside the COMPAS "
             "score; race, sex and age group sensitive", "tabular"),
    ZooEntry("mnist-cnn", "Small CNN on MNIST 5k (image, 10 classes); not adversarially robust",
             "mnist_cnn"),
    ZooEntry("mnist-cnn-robust", "The same CNN adversarially trained with L-inf PGD (eps 0.3); "
             "fix of mnist-cnn's non-robustness", "mnist_cnn"),
    ZooEntry("sentiment-lstm", "Bidirectional LSTM sentiment classifier of Rotten Tomatoes "
             "snippets (text, binary), with its word tokenizer", "sentiment"),
    ZooEntry("sentiment-transformer", "Small Transformer encoder trained from scratch on Rotten "
             "Tomatoes snippets (text, binary), with its word tokenizer", "sentiment"),
    ZooEntry("mnist-vae", "Convolutional VAE of MNIST 5k digits (16-d latent, Bernoulli decoder, "
             "Gaussian-mixture prior); generative: sample, elbo, reconstruct", "mnist_generative"),
    ZooEntry("mnist-gan", "DCGAN of MNIST 5k digits (64-d latent); generator and discriminator "
             "in one checkpoint; 73% of samples recognised by mnist-cnn", "mnist_generative"),
    ZooEntry("mnist-gan-memorizing", "The DCGAN trained on 32 MNIST images until its samples copy "
             "them (planted memorisation: 90.5% near-copies)", "mnist_generative"),
    ZooEntry("mnist-gan-collapsed", "The DCGAN trained only on MNIST digits 0, 1 and 7 (planted "
             "mode collapse: 99.8% of confidently recognised samples are 0, 1 or 7)",
             "mnist_generative"),
    ZooEntry("vowels-gru", "GRU speaker classifier on UEA/UCR JapaneseVowels (variable-length "
             "12-channel sequences, padded to 29 frames + mask channel; 7 speakers, 2 more "
             "held out as near OOD)",
             "vowels_gru"),
)}

#: The model the README's first command audits.
DEFAULT = "adult-mlp"


def _entry(name: str) -> ZooEntry:
    if name not in _ENTRIES:
        raise ZooError(UNKNOWN_NAME.format(param="name", expected=sorted(_ENTRIES), got=name))
    return _ENTRIES[name]


def list_models() -> list[str]:
    """Names of the zoo's models."""
    return list(_ENTRIES)


def info(name: str) -> dict[str, Any]:
    """The model card of ``name`` (data, metrics measured at training, hash, limitations)."""
    from ._checkpoints import load_card

    _entry(name)
    return load_card(name)


def load_with_card(name: str, *, directory: str | Path | None = None) -> tuple[Any, Any,
                                                                              dict[str, Any]]:
    """Like :func:`load`, and also return the model card."""
    entry = _entry(name)
    return entry.implementation().load(name, Path(directory) if directory else None)


def load(name: str, *, directory: str | Path | None = None) -> tuple[Any, Any]:
    """Load a zoo model and its AuditData.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    directory : path, optional
        Where the checkpoints are (defaults to those shipped with auditkit).

    Returns
    -------
    model : torch.nn.Module
        In eval mode, on the CPU, with verified weights.
    data : AuditData
    """
    model, data, _ = load_with_card(name, directory=directory)
    return model, data


def train(name: str, *, device: str = "auto", directory: str | Path | None = None,
          max_steps: int | None = None, progress: Callable[[str], None] | None = None
          ) -> dict[str, Any]:
    """Retrain a zoo model from its recipe and write its checkpoint and card.

    Parameters
    ----------
    name : str
    device : str, default="auto"
        CUDA, then MPS, then CPU.
    directory : path, optional
        Where to write; defaults to the shipped checkpoints' folder.
    max_steps : int, optional
        Stop early (for smoke tests).

    Returns
    -------
    dict
        The new model card.
    """
    from .._device import resolve_device

    entry = _entry(name)
    return entry.implementation().train(name, device=resolve_device(device),
                                        directory=Path(directory) if directory else None,
                                        max_steps=max_steps)
