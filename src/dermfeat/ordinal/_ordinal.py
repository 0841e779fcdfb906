"""Former home of the ordinal heads, now ``dermfeat.decision._ordinal`` (re-export only).

Kept so that model files saved before the move, which name
``dermfeat.ordinal._ordinal.OrdinalClassifier``, keep loading.
"""

from ..decision._ordinal import MultiSignOrdinalClassifier, OrdinalClassifier, cumulative_to_proba, monotone_decreasing

__all__ = ["MultiSignOrdinalClassifier", "OrdinalClassifier", "cumulative_to_proba", "monotone_decreasing"]
