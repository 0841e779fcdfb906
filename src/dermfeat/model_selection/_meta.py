"""Former home of the shared plumbing of the meta-classifiers, now ``dermfeat.decision._meta`` (forwarding only).

Kept so that code and model files saved before the move, which name
``dermfeat.model_selection._meta``, keep working.
"""

from ._moved import forward_to

__getattr__ = forward_to(globals(), "dermfeat.decision._meta")
