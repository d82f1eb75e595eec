"""Performance: accuracy, calibration, and how much of the training accuracy carries over.

Each check is one module of this package; importing the package registers them.
"""

from .calibration import PerformanceCalibration
from .confusion_matrix import PerformanceConfusionMatrix
from .generalisation import PerformanceGeneralisation
from .metrics import PerformanceMetrics

__all__ = ["PerformanceCalibration", "PerformanceConfusionMatrix", "PerformanceGeneralisation",
           "PerformanceMetrics"]
