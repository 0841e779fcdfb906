"""Utilities: parameter validation, estimator discovery and shared checks."""

from ._discovery import all_image_estimators
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
    "all_image_estimators",
    "validate_arguments",
    "validate_parameters",
]
