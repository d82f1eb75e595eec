"""Performance: how accurate the model is, and how well its confidence matches its accuracy.

Each check is one module of this package; importing the package registers them.
"""

from .calibration import PerformanceCalibration
from .confusion_matrix import PerformanceConfusionMatrix
from .metrics import PerformanceMetrics

__all__ = ["PerformanceCalibration", "PerformanceConfusionMatrix", "PerformanceMetrics"]
