"""Leak-free model selection: near-duplicate groups and grouped cross-validation.

The decision rules tuned by cross-validation (:class:`ThresholdTunedClassifier`,
:class:`Constraint`, :class:`CostSensitiveClassifier` and the cost helpers) now
live in :mod:`dermfeat.decision`, which stands above this package; they stay
importable from here (looked up on first use).
"""

from ._moved import forward_to
from ._near_duplicates import near_duplicate_groups
from ._split import RepeatedStratifiedGroupKFold

_MOVED = (
    "UNSTABLE_THRESHOLD_STD",
    "Constraint",
    "CostSensitiveClassifier",
    "ThresholdTunedClassifier",
    "bayes_threshold",
    "min_expected_cost",
    "ordinal_cost_matrix",
)

__getattr__ = forward_to(globals(), "dermfeat.decision", _MOVED)

__all__ = [
    "RepeatedStratifiedGroupKFold",
    "near_duplicate_groups",
    *_MOVED,
]
