"""The generative protocol: what auditkit needs from a model that makes data.

A generative model (VAE, GAN) is not a classifier: it has no classes and no
``predict_proba``, so it does not subclass :class:`ModelAdapter`. It shares only
what every audited model has (``capabilities``, ``framework``, ``device``,
``batch_size``, ``fingerprint()``) and offers ``sample``, and where the model
provides them ``encode``, ``decode``, ``elbo`` and ``discriminator_score``.
Classifier checks SKIP on it (they require ``"predict"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch import nn

from .._device import resolve_device
from ..exceptions import BAD_TYPE, BAD_VALUE, ModelError
from ._adapters import _NOT_CAPABLE, _evaluating, _torch_fingerprint

__all__ = ["GenerativeAdapter", "GenerativeModel"]


class GenerativeModel(ABC):
    """What auditkit needs from a generative model.

    Attributes
    ----------
    capabilities : frozenset of str
        ``"generate"`` always; ``"encode"``, ``"decode"``, ``"reconstruct"``
        (data through the encoder and decoder, shaped like the data),
        ``"likelihood"`` (an ELBO or other log-likelihood bound) and
        ``"discriminator"`` where the model provides them.
    framework : str
    batch_size : int
        Number of samples per model call.
    """

    capabilities: frozenset[str] = frozenset({"generate"})
    framework: str = "generative"

    def __init__(self, *, batch_size: int = 512) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ModelError(BAD_VALUE.format(param="batch_size", expected="a positive integer",
                                              got=repr(batch_size)))
        self.batch_size = int(batch_size)

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return "cpu"

    def fingerprint(self) -> str | None:
        """SHA-256 of the model's parameters, or None when they cannot be read."""
        return None

    @abstractmethod
    def sample(self, n: int, *, random_state: int = 0) -> np.ndarray:
        """Draw ``n`` samples, array of shape (n, ...) shaped like the data."""

    def encode(self, X: Any) -> np.ndarray:
        """Latent codes of ``X``, array of shape (n_samples, latent_dim)."""
        raise self._missing("encode")

    def decode(self, Z: Any) -> np.ndarray:
        """Data decoded from latent codes ``Z`` of shape (n_samples, latent_dim)."""
        raise self._missing("decode")

    def reconstruct(self, X: Any) -> np.ndarray:
        """``X`` encoded and decoded, array shaped and scaled like ``X``."""
        raise self._missing("reconstruct")

    def elbo(self, X: Any, *, random_state: int = 0) -> np.ndarray:
        """Per-sample log-likelihood bound (ELBO, nats), array of shape (n_samples,)."""
        raise self._missing("likelihood")

    def discriminator_score(self, X: Any) -> np.ndarray:
        """Per-sample discriminator logit (real vs generated), array of shape (n_samples,)."""
        raise self._missing("discriminator")

    def _missing(self, what: str) -> ModelError:
        return ModelError(_NOT_CAPABLE.format(what=what, have=sorted(self.capabilities)))

    def _batches(self, n: int) -> list[slice]:
        return [slice(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(capabilities={sorted(self.capabilities)}, "
                f"batch_size={self.batch_size})")


class GenerativeAdapter(GenerativeModel):
    """Adapter for a generative torch module (VAE, GAN).

    The module declares ``generative = True`` and provides
    ``sample(n, *, generator=None) -> Tensor``. Optional methods set the
    capabilities: ``encode(x)`` (a tensor, or a tuple whose first item is the
    code, e.g. a VAE's posterior mean), ``decode(z)``, ``reconstruct(x)`` (data
    shaped and scaled like ``x``), ``elbo(x[, generator=])``
    of shape (n,), and ``discriminate(x)`` or a ``discriminator`` module
    returning one logit per sample.

    Parameters
    ----------
    module : torch.nn.Module
    batch_size : int, default=512
    device : str, default="auto"
    """

    framework = "torch-generative"

    def __init__(self, module: nn.Module, *, batch_size: int = 512, device: str = "auto") -> None:
        super().__init__(batch_size=batch_size)
        if not isinstance(module, nn.Module):
            raise ModelError(BAD_TYPE.format(param="model", expected="a torch.nn.Module",
                                              got=type(module).__name__))
        if not callable(getattr(module, "sample", None)):
            raise ModelError(BAD_VALUE.format(param="model", expected="a generative module with "
                                              "a sample(n, *, generator) method",
                                              got=type(module).__name__))
        self.module = module
        self._device = resolve_device(device)
        self._discriminator = getattr(module, "discriminate", None)
        if not callable(self._discriminator):
            self._discriminator = getattr(module, "discriminator", None)
        optional = {"encode": callable(getattr(module, "encode", None)),
                    "decode": callable(getattr(module, "decode", None)),
                    "reconstruct": callable(getattr(module, "reconstruct", None)),
                    "likelihood": callable(getattr(module, "elbo", None)),
                    "discriminator": callable(self._discriminator)}
        self.capabilities = frozenset({"generate", "weights"} |
                                      {name for name, present in optional.items() if present})

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return str(self._device)

    def sample(self, n: int, *, random_state: int = 0) -> np.ndarray:
        """Draw ``n`` samples with a CPU generator seeded by ``random_state``."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ModelError(BAD_VALUE.format(param="n", expected="a non-negative int",
                                              got=repr(n)))
        generator = torch.Generator(device="cpu").manual_seed(int(random_state))
        with _evaluating(self.module, self._device), torch.inference_mode():
            return self.module.sample(int(n), generator=generator).float().cpu().numpy()

    def _map(self, function: Any, X: Any, **kwargs: Any) -> np.ndarray:
        tensor = torch.tensor(np.asarray(X, dtype=np.float32))
        out = []
        with _evaluating(self.module, self._device), torch.inference_mode():
            for batch in self._batches(len(tensor)):
                value = function(tensor[batch].to(self._device), **kwargs)
                if isinstance(value, (tuple, list)):
                    value = value[0]
                out.append(value.float().cpu())
        if not out:
            return np.empty((0,))
        return torch.cat(out).numpy().astype(np.float64)

    def encode(self, X: Any) -> np.ndarray:
        """Latent codes of ``X`` (the first output of the module's ``encode``)."""
        if "encode" not in self.capabilities:
            raise self._missing("encode")
        return self._map(self.module.encode, X)

    def decode(self, Z: Any) -> np.ndarray:
        """What the module's ``decode`` returns for latent codes ``Z`` (a VAE: pixel logits)."""
        if "decode" not in self.capabilities:
            raise self._missing("decode")
        return self._map(self.module.decode, Z)

    def reconstruct(self, X: Any) -> np.ndarray:
        """``X`` through the module's ``reconstruct`` (a VAE: the decoded posterior mean)."""
        if "reconstruct" not in self.capabilities:
            raise self._missing("reconstruct")
        out = self._map(self.module.reconstruct, X)
        return out.reshape(np.shape(X)) if out.size == np.size(X) else out

    def elbo(self, X: Any, *, random_state: int = 0) -> np.ndarray:
        """Per-sample evidence lower bound, array of shape (n_samples,).

        A module whose ``elbo`` takes a ``generator`` gets one seeded by
        ``random_state`` (its Monte Carlo draws are then repeatable).
        """
        if "likelihood" not in self.capabilities:
            raise self._missing("likelihood")
        import inspect

        try:
            seeded = "generator" in inspect.signature(self.module.elbo).parameters
        except (TypeError, ValueError):
            seeded = False
        if not seeded:
            return self._map(self.module.elbo, X)
        generator = torch.Generator(device="cpu").manual_seed(int(random_state))
        # One generator for all batches: the draws follow the samples' order.
        return self._map(self.module.elbo, X, generator=generator)

    def discriminator_score(self, X: Any) -> np.ndarray:
        """The discriminator's logit that each sample is real, array of shape (n_samples,)."""
        if "discriminator" not in self.capabilities:
            raise self._missing("discriminator")
        scores = self._map(self._discriminator, X)
        return scores.reshape(len(scores), -1)[:, 0] if scores.ndim > 1 else scores

    def fingerprint(self) -> str:
        """SHA-256 of the parameters and buffers, in state-dict order."""
        return _torch_fingerprint(self.module)
