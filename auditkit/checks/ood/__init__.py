"""Out-of-distribution detection and distribution shift.

Two questions: can the model's own outputs or features tell that an input is
unlike anything it was trained on (and which detector to deploy), and has
the audited data drifted from the reference data (on which features, by how
much)? Each check is one module of this package; importing the package
registers them.
"""

from .detection import OODDetection
from .drift import OODDrift
from .selective import OODSelectivePrediction
from .shift import OODCovariateShift

__all__: list[str] = ["OODDetection", "OODDrift", "OODCovariateShift", "OODSelectivePrediction"]
