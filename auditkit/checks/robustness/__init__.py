"""Adversarial robustness: white- and black-box attacks, natural corruptions, diagnostics.

Each check is one module of this package; importing the package registers them.
The attacks themselves are public in :mod:`auditkit.attacks`.
"""

from .corruptions import RobustnessCorruptions
from .fgsm import RobustnessFGSM
from .gradient_masking import RobustnessGradientMasking
from .minimal_perturbation import RobustnessMinimalPerturbation
from .pgd import RobustnessPGD
from .pgd_l2 import RobustnessPGDL2
from .square import RobustnessSquare
from .tabular import RobustnessTabular
from .text import RobustnessText

__all__ = [
    "RobustnessCorruptions",
    "RobustnessFGSM",
    "RobustnessGradientMasking",
    "RobustnessMinimalPerturbation",
    "RobustnessPGD",
    "RobustnessPGDL2",
    "RobustnessSquare",
    "RobustnessTabular",
    "RobustnessText",
]
