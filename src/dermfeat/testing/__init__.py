"""Hostile inputs made at run time, for testing that dermfeat refuses them.

:func:`write_malicious_models` writes model files that try to run code, exhaust
memory or smuggle content past the checks of
:func:`~dermfeat.persistence.load_model`, plus broken and non-model files, each
described by a :class:`MaliciousModel` (what it tries and the refusal
expected).  Everything is generated from freshly fitted models: no binary
fixture is needed.
"""

from ._malicious_models import MaliciousModel, write_malicious_models

__all__ = ["MaliciousModel", "write_malicious_models"]
