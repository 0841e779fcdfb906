"""Metrics and scorers for decisions: ordinal severity and binary thresholds.

Ordinal metrics (:func:`ranked_probability_score`,
:func:`quadratic_weighted_kappa`, :func:`macro_averaged_mae`) measure distances
on the severity scale; the matching scorers (:data:`rps_scorer`,
:data:`qwk_scorer`, :data:`macro_mae_scorer`, :data:`weighted_f1_scorer`, or by
name through :func:`get_scorer`) plug into ``GridSearchCV(scoring=...)``.
:func:`threshold_metrics` tabulates the standard binary metrics at every
decision threshold.
"""

from ._calibration import expected_calibration_error
from ._ordinal import macro_averaged_mae, quadratic_weighted_kappa, ranked_probability_score
from ._scorers import get_scorer, macro_mae_scorer, ordinal_scoring, qwk_scorer, rps_scorer, weighted_f1_scorer
from ._threshold import BINARY_METRICS, multiclass_metrics, threshold_metrics

__all__ = [
    "expected_calibration_error",
    "BINARY_METRICS",
    "get_scorer",
    "macro_averaged_mae",
    "macro_mae_scorer",
    "multiclass_metrics",
    "ordinal_scoring",
    "quadratic_weighted_kappa",
    "qwk_scorer",
    "ranked_probability_score",
    "rps_scorer",
    "threshold_metrics",
    "weighted_f1_scorer",
]
