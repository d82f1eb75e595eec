"""Adversarial attacks and natural corruptions as functions, for stress tests outside an audit.

The robustness checks run these on the audited samples; they are public so
that a user can generate adversarial examples directly. Every attack works in
the unit space of a :class:`Domain` (inputs scaled to [0, 1] per value, fixed
values masked); for inputs already in [0, 1] the unit space is the input space.

Examples
--------
>>> import torch
>>> from auditkit.attacks import Domain, pgd
>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
>>> x, y = torch.rand(8, 4), torch.randint(0, 3, (8,))
>>> domain = Domain.from_arrays(0.0, 1.0)
>>> outcome = pgd(model, x, y, 0.1, domain=domain, steps=10)
>>> bool(((outcome.adversarial - x).abs() <= 0.1 + 1e-6).all())
True
"""

from ._resources import synonym_table
from .checks._text import split_words
from .checks.robustness._attacks import (
    AttackOutcome,
    Domain,
    apgd,
    attack_loss,
    deepfool,
    dlr_loss,
    fgsm,
    frozen_parameters,
    pgd,
    square_linf,
)
from .checks.robustness.corruptions import CORRUPTIONS, corrupt, corrupt_text
from .checks.robustness.text import (
    KEYBOARD,
    adjacent_swaps,
    deletions,
    keyboard_insertions,
    keyboard_substitutions,
    typos,
)

__all__ = [
    "CORRUPTIONS",
    "KEYBOARD",
    "AttackOutcome",
    "Domain",
    "adjacent_swaps",
    "apgd",
    "attack_loss",
    "corrupt",
    "corrupt_text",
    "deepfool",
    "deletions",
    "dlr_loss",
    "fgsm",
    "frozen_parameters",
    "keyboard_insertions",
    "keyboard_substitutions",
    "pgd",
    "split_words",
    "square_linf",
    "synonym_table",
    "typos",
]
