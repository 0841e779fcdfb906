"""Leak-free model selection: near-duplicate groups and decision thresholds."""

from ._near_duplicates import near_duplicate_groups
from ._split import RepeatedStratifiedGroupKFold
from ._cost import CostSensitiveClassifier, bayes_threshold, min_expected_cost, ordinal_cost_matrix
from ._threshold import UNSTABLE_THRESHOLD_STD, Constraint, ThresholdTunedClassifier

__all__ = [
    "UNSTABLE_THRESHOLD_STD",
    "RepeatedStratifiedGroupKFold",
    "near_duplicate_groups",
    "Constraint",
    "CostSensitiveClassifier",
    "ThresholdTunedClassifier",
    "bayes_threshold",
    "min_expected_cost",
    "ordinal_cost_matrix",
]
