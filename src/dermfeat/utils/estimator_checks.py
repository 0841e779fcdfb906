"""The old import path of :mod:`dermfeat.testing.estimator_checks`, kept so that existing code works.

The checks moved to :mod:`dermfeat.testing` (they use the datasets and the
image estimators, so they cannot stand on the ground floor with ``utils``).
This module is the one import from ``utils`` to a floor above it, and it is
never imported by dermfeat itself.
"""

from ..testing.estimator_checks import *  # noqa: F401,F403
from ..testing.estimator_checks import __all__  # noqa: F401
