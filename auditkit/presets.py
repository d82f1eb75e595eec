"""Named lists of checks.

``quick`` is what a first look needs; ``standard`` is the default audit;
``full`` is every registered check; and each family has a preset of its own
(``performance``, ``fairness``, ...). Presets name checks that exist in later
versions too: a preset runs those of its checks that are registered.
"""

from __future__ import annotations

from .checks import FAMILIES, list_checks
from .exceptions import UNKNOWN_NAME, CheckError

__all__ = ["PRESETS", "preset_checks", "list_presets"]

_QUICK = ("performance_metrics", "performance_calibration")

#: Presets besides the per-family ones: name -> checks (None means every check).
PRESETS: dict[str, tuple[str, ...] | None] = {
    "quick": _QUICK,
    "standard": None,
    "full": None,
}


def list_presets() -> list[str]:
    """Every preset name: quick, standard, full and one per family."""
    return [*PRESETS, *FAMILIES]


def preset_checks(preset: str) -> list[str]:
    """The registered checks a preset runs, in report order.

    Parameters
    ----------
    preset : str
        ``"quick"``, ``"standard"``, ``"full"`` or a family name.

    Returns
    -------
    list of str
    """
    registered = list_checks()
    if preset in FAMILIES:
        return list_checks(preset)
    if preset not in PRESETS:
        raise CheckError(UNKNOWN_NAME.format(param="preset", expected=list_presets(), got=preset))
    names = PRESETS[preset]
    if names is None:
        return [n for n in registered if preset == "full" or n not in _FULL_ONLY]
    return [n for n in registered if n in names]


# Checks too slow for the default audit; they run with preset="full" or by name.
_FULL_ONLY: frozenset[str] = frozenset()
