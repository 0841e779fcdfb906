"""The decision layer: what a fitted classifier's scores become.

A classifier's probabilities are not yet a decision.  This package holds every
rule dermfeat has for turning them into one, each a scikit-learn meta-estimator
that wraps any classifier (a pipeline from images included):

- :class:`ThresholdTunedClassifier`: a decision threshold (binary) or per-class
  offsets (multiclass) chosen by cross-validation for an objective, under
  :class:`Constraint` s;
- :class:`CostSensitiveClassifier`: the class of minimum expected cost under a
  fixed cost matrix (:func:`min_expected_cost`, :func:`bayes_threshold`,
  :func:`ordinal_cost_matrix`);
- :class:`ResampledClassifier`: training data resampled by an imbalanced-learn
  sampler (:func:`make_sampler`), in ``fit`` only;
- :class:`HierarchicalClassifier`: a head trained on fine labels (subtypes) whose
  probabilities are summed into the coarse classes the decision is about
  (:func:`predict_subtype_proba` and :func:`top_subtypes` read the subtypes
  of a fitted model);
- :class:`OrdinalClassifier` and :class:`MultiSignOrdinalClassifier`: ordered
  severity levels from cumulative binary heads, and composite scores
  (:func:`composite_distribution`, :func:`composite_summary`).

The same names stay importable from their former homes
(:mod:`dermfeat.model_selection`, :mod:`dermfeat.pipeline`, :mod:`dermfeat.ordinal`).
"""

from ._composite import composite_distribution, composite_summary
from ._cost import CostSensitiveClassifier, bayes_threshold, min_expected_cost, ordinal_cost_matrix
from ._hierarchical import HierarchicalClassifier
from ._ordinal import MultiSignOrdinalClassifier, OrdinalClassifier, cumulative_to_proba, monotone_decreasing
from ._resampled import SAMPLERS, ResampledClassifier, make_sampler
from ._subtypes import hierarchical_step, predict_subtype_proba, top_subtypes
from ._threshold import UNSTABLE_THRESHOLD_STD, Constraint, ThresholdTunedClassifier

__all__ = [
    "SAMPLERS",
    "UNSTABLE_THRESHOLD_STD",
    "Constraint",
    "CostSensitiveClassifier",
    "HierarchicalClassifier",
    "MultiSignOrdinalClassifier",
    "OrdinalClassifier",
    "ResampledClassifier",
    "ThresholdTunedClassifier",
    "bayes_threshold",
    "composite_distribution",
    "composite_summary",
    "cumulative_to_proba",
    "hierarchical_step",
    "make_sampler",
    "min_expected_cost",
    "monotone_decreasing",
    "ordinal_cost_matrix",
    "predict_subtype_proba",
    "top_subtypes",
]
