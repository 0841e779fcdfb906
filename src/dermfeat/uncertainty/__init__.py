"""Knowing when not to answer: an out-of-distribution guard and conformal prediction sets.

:class:`OutOfDistributionDetector` flags photographs unlike the training ones
(a cat, a blank frame, a photograph too corrupted to read) at a false-alarm
rate calibrated on held-out, grouped folds of the training photographs.
:class:`ConformalClassifier` turns a classifier's probabilities into
prediction sets (one class, or both when the photograph is a coin toss) that
contain the true class with a guaranteed probability, marginally or per class.
:class:`GuardedClassifier` carries both as the last step of an image pipeline
(:func:`add_uncertainty`), and :func:`predict_with_uncertainty` reads
everything in one pass.  :func:`set_coverage`, :func:`mean_set_size` and
:func:`coverage_table` measure whether the sets keep their promise.
"""

from ._build import add_uncertainty
from ._conformal import ConformalClassifier
from ._detector import OutOfDistributionDetector
from ._guarded import GuardedClassifier
from ._inference import predict_with_uncertainty, set_labels
from ._steps import decision_step
from ._metrics import coverage_table, mean_set_size, report_coverage, set_coverage

__all__ = [
    "ConformalClassifier",
    "GuardedClassifier",
    "OutOfDistributionDetector",
    "add_uncertainty",
    "coverage_table",
    "decision_step",
    "mean_set_size",
    "predict_with_uncertainty",
    "report_coverage",
    "set_coverage",
    "set_labels",
]
