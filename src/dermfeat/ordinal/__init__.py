"""Ordinal severity: cumulative-binary heads, multi-sign heads, composite scores.

:class:`OrdinalClassifier` decomposes ordered levels into "severity > k"
problems and returns consistent class probabilities;
:class:`MultiSignOrdinalClassifier` fits one such head per clinical sign and
predicts the distribution of their sum (:func:`composite_distribution`,
:func:`composite_summary`).  Evaluate with :mod:`dermfeat.metrics`
(ranked probability score, quadratic-weighted kappa, macro-averaged MAE).
The heads are part of the decision layer and are defined in
:mod:`dermfeat.decision`; this package re-exports them.
"""

from ..decision import (
    MultiSignOrdinalClassifier,
    OrdinalClassifier,
    composite_distribution,
    composite_summary,
    cumulative_to_proba,
    monotone_decreasing,
)

__all__ = [
    "MultiSignOrdinalClassifier",
    "OrdinalClassifier",
    "composite_distribution",
    "composite_summary",
    "cumulative_to_proba",
    "monotone_decreasing",
]
