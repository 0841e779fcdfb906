"""Former home of the cost-matrix decisions, now ``dermfeat.decision._cost`` (forwarding only).

Kept so that code and model files saved before the move, which name
``dermfeat.model_selection._cost``, keep working.
"""

from ._moved import forward_to

__getattr__ = forward_to(globals(), "dermfeat.decision._cost")
