"""Utilities on the ground floor: parameter validation, safe file writing and hashing.

Estimator discovery and the shared estimator checks live in
:mod:`dermfeat.testing` (``all_image_estimators`` is still reachable here, and
``dermfeat.utils.estimator_checks`` still imports).
"""

from ._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    PathLike,
    validate_arguments,
    validate_parameters,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "PathLike",
    "validate_arguments",
    "validate_parameters",
]


def __getattr__(name):
    # the old home of all_image_estimators (now dermfeat.testing, a floor above): resolved
    # on first use only, so that importing utils never imports the estimators
    if name == "all_image_estimators":
        from ..testing import all_image_estimators

        return all_image_estimators
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
