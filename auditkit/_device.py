"""Choosing the torch device: ``"auto"`` means CUDA, then MPS, then CPU."""

from __future__ import annotations

import torch

from .exceptions import BAD_VALUE, AuditkitError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device that ``device`` names.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None) picks CUDA when available, then Apple's MPS, then
        the CPU. Any other value is passed to :class:`torch.device`.

    Returns
    -------
    torch.device
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise AuditkitError(
            BAD_VALUE.format(param="device", expected="'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'",
                             got=repr(device))
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise AuditkitError(
            BAD_VALUE.format(param="device", expected="a device present on this machine "
                             "(CUDA is not available here)", got=repr(device))
        )
    return resolved
