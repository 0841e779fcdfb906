"""Former home of the cross-validated threshold tuner, now :mod:`dermfeat.decision` (forwarding only).

Kept so that code and model files saved before the move, which name
``dermfeat.model_selection._threshold``, keep working.
"""

from ._moved import forward_to

__getattr__ = forward_to(globals(), "dermfeat.decision", ("UNSTABLE_THRESHOLD_STD", "Constraint", "ThresholdTunedClassifier"))
