"""Leak-free evaluation: cross-validated metrics, subgroups, plots, an HTML report, and validated models."""

from ._cross_val_predict import cross_val_predict
from ._display import SubgroupMetricsDisplay, ThresholdCurveDisplay
from ._evaluate import evaluate
from ._metrics import fold_metrics
from ._report import EvaluationReport
from ._subgroups import image_subgroups
from ._validate import VALIDATION_METRICS, describe_validation, validate, validation_summary

__all__ = [
    "VALIDATION_METRICS",
    "EvaluationReport",
    "SubgroupMetricsDisplay",
    "ThresholdCurveDisplay",
    "cross_val_predict",
    "evaluate",
    "fold_metrics",
    "image_subgroups",
    "describe_validation",
    "validate",
    "validation_summary",
]
