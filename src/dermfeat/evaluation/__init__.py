"""Leak-free evaluation: cross-validated metrics, subgroups, plots and an HTML report."""

from ._display import SubgroupMetricsDisplay, ThresholdCurveDisplay
from ._evaluate import evaluate
from ._metrics import fold_metrics
from ._report import EvaluationReport
from ._subgroups import image_subgroups

__all__ = [
    "EvaluationReport",
    "SubgroupMetricsDisplay",
    "ThresholdCurveDisplay",
    "evaluate",
    "fold_metrics",
    "image_subgroups",
]
