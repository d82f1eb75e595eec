"""Zoo checkpoints: safetensors weights beside a JSON model card that records their hash.

Weights load only from safetensors (never unpickled) and only after their
SHA-256 matches the one in the card; a mismatch is an error, not a warning.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..exceptions import ZooError

__all__ = ["CHECKPOINT_DIR", "card_path", "load_card", "load_weights", "save_checkpoint",
           "sha256_of"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"

_HASH_MISMATCH = (
    "The checkpoint {path} does not match the SHA-256 recorded in its model card: expected "
    "{expected}, got {actual}. The file is corrupt or was changed; retrain it with "
    "'auditkit zoo train {name}' or restore it."
)
_MISSING = (
    "The zoo model {name!r} has no {what} at {path}; train it with 'auditkit zoo train {name}'."
)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(name: str, directory: Path | None = None) -> Path:
    """Where the model card of ``name`` lives."""
    return (directory or CHECKPOINT_DIR) / f"{name}.json"


def load_card(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The model card of ``name``."""
    path = card_path(name, directory)
    if not path.is_file():
        raise ZooError(_MISSING.format(name=name, what="model card", path=path))
    return json.loads(path.read_text("utf-8"))


def load_weights(name: str, module: nn.Module, directory: Path | None = None) -> dict[str, Any]:
    """Load the verified weights of ``name`` into ``module``; return the card."""
    card = load_card(name, directory)
    path = (directory or CHECKPOINT_DIR) / card["checkpoint"]["file"]
    if not path.is_file():
        raise ZooError(_MISSING.format(name=name, what="checkpoint", path=path))
    actual = sha256_of(path)
    expected = card["checkpoint"]["sha256"]
    if actual != expected:
        raise ZooError(_HASH_MISMATCH.format(path=path, expected=expected, actual=actual,
                                             name=name))
    module.load_state_dict(load_file(str(path), device="cpu"))
    module.eval()
    return card


def save_checkpoint(name: str, module: nn.Module, card: dict[str, Any],
                    directory: Path | None = None) -> dict[str, Any]:
    """Write the weights and the card (with the weights' hash); return the card."""
    directory = directory or CHECKPOINT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(path), metadata={"name": name})
    card = {**card, "checkpoint": {"file": path.name, "sha256": sha256_of(path),
                                   "size_bytes": path.stat().st_size,
                                   "format": "safetensors"}}
    card_path(name, directory).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n",
                                          "utf-8")
    return card


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch for a deterministic run and return a generator for data order."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
