"""Generative: what a generative model's samples look like next to its data.

The family's checks are built on the metrics in ``_metrics`` (recognisability,
memorisation, diversity, Fréchet distance). It registers no check yet, so
``auditkit.checks`` does not import it; the metrics are importable from here.
"""

from ._metrics import (
    frechet_distance,
    memorisation,
    nearest_neighbour_distances,
    recognisability,
    sample_diversity,
)

#: The checks of this family (none yet).
CHECKS: tuple[str, ...] = ()

__all__ = [
    "CHECKS",
    "frechet_distance",
    "memorisation",
    "nearest_neighbour_distances",
    "recognisability",
    "sample_diversity",
]
