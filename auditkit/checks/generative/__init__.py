"""Generative: fidelity, coverage, memorisation and membership of a VAE's or GAN's samples.

Checks of a generative model (a torch module with ``generative = True`` and a
``sample`` method, or any :class:`~auditkit.inputs.GenerativeModel`), each
comparing generated samples with the model's training data and held-out
real data in one feature space (``AuditData(feature_extractor=...)``): a
domain classifier's penultimate layer by default for the zoo, never
downloaded weights. Each check is one module of this package; importing the
package registers them. The metrics are public functions here too.
"""

from ._copying import authenticity, closest_pairs, data_copying_ct, near_copies
from ._coverage import class_coverage, intra_class_diversity, vendi_score
from ._distances import kth_neighbour_distances, pairwise_distance_blocks
from ._fidelity import Estimate, fidelity_metrics, frechet_interval, kid, prdc
from ._metrics import (
    frechet_distance,
    memorisation,
    nearest_neighbour_distances,
    recognisability,
    sample_diversity,
)
from .autoencoder import GenerativeAutoencoder
from .copying import GenerativeMemorisation
from .coverage import GenerativeCoverage
from .fidelity import GenerativeFidelity
from .membership import GenerativeMembership

__all__ = [
    "GenerativeFidelity",
    "GenerativeCoverage",
    "GenerativeMemorisation",
    "GenerativeMembership",
    "GenerativeAutoencoder",
    "Estimate",
    "authenticity",
    "class_coverage",
    "closest_pairs",
    "data_copying_ct",
    "fidelity_metrics",
    "frechet_distance",
    "frechet_interval",
    "intra_class_diversity",
    "kid",
    "kth_neighbour_distances",
    "memorisation",
    "near_copies",
    "nearest_neighbour_distances",
    "pairwise_distance_blocks",
    "prdc",
    "recognisability",
    "sample_diversity",
    "vendi_score",
]
