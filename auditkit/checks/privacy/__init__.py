"""Privacy: whether an attacker can tell the model's training records from others.

Membership inference judged the way privacy auditors judge it: the true
positive rate at a low false-positive rate, with exact intervals, from
attacks calibrated against reference models trained without each record
(LiRA, RMIA), and a lower bound on the differential-privacy epsilon from
planted canaries, and attribute inference of sensitive features from the
model's outputs against a baseline without them. Each check is one module
of this package; importing the package registers them.
"""

from .attributes import PrivacyAttributeInference
from .canaries import PrivacyCanaryAudit
from .membership import PrivacyMembershipInference

__all__: list[str] = ["PrivacyMembershipInference", "PrivacyCanaryAudit",
                       "PrivacyAttributeInference"]
