"""Choosing the torch device: ``"auto"`` means CUDA, then MPS, then CPU."""

from __future__ import annotations

from typing import Any

import torch

from .exceptions import BAD_VALUE, AuditkitError

__all__ = ["resolve_device", "validate_device"]

_EXPECTED = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
_TYPES = ("cpu", "cuda", "mps")


def validate_device(device: Any) -> torch.device | None:
    """Check that ``device`` names a device auditkit can use, whatever the model.

    A scikit-learn model or a function runs where it runs, but a misspelled
    device is still a mistake worth one sentence rather than silence.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    torch.device or None
        The parsed device; None for ``"auto"``.

    Raises
    ------
    AuditkitError
        ``device`` is not one of those.

    Examples
    --------
    >>> validate_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return None
    if not isinstance(device, (str, torch.device)):
        raise AuditkitError(BAD_VALUE.format(param="device", expected=_EXPECTED,
                                             got=repr(device)))
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise AuditkitError(BAD_VALUE.format(param="device", expected=_EXPECTED,
                                             got=repr(device))) from exc
    if resolved.type not in _TYPES:
        raise AuditkitError(BAD_VALUE.format(param="device", expected=_EXPECTED,
                                             got=repr(device)))
    return resolved


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device that ``device`` names.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (or None) picks CUDA when available, then Apple's MPS, then
        the CPU. Otherwise ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    torch.device
    """
    resolved = validate_device(device)
    if resolved is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise AuditkitError(
            BAD_VALUE.format(param="device", expected="a device present on this machine "
                             "(CUDA is not available here)", got=repr(device))
        )
    return resolved
