"""Declarative parameter checks for dermfeat estimators.

scikit-learn's own constraint classes are private, so dermfeat states its
constraints with these small public ones.  An estimator lists them in the class
attribute ``_parameter_constraints`` (parameter name -> list of accepted
constraints) and calls :func:`validate_parameters` at the start of ``fit``.
"""

from __future__ import annotations

import numbers
import os


class InvalidParameterError(ValueError, TypeError):
    """A parameter has a value or type outside its documented constraints."""


class Interval:
    """A numeric range.

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
        Accepted number type (``Real`` accepts integers too).
    left, right : float or None
        Bounds; ``None`` is unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are included.
    """

    def __init__(self, kind, left, right, closed="both"):
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value):
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if self.left is not None:
            if value < self.left or (value == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if value > self.right or (value == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self):
        kind = "an int" if self.kind is numbers.Integral else "a float"
        lb = "[" if self.closed in ("both", "left") and self.left is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        left = "-inf" if self.left is None else self.left
        right = "inf" if self.right is None else self.right
        return f"{kind} in the range {lb}{left}, {right}{rb}"


class Options:
    """One of a fixed set of values (usually strings)."""

    def __init__(self, *values):
        self.values = values

    def is_satisfied_by(self, value):
        try:
            return any(value == v and type(value) is type(v) for v in self.values)
        except Exception:  # noqa: BLE001 - comparison of exotic objects
            return False

    def __str__(self):
        return "one of " + ", ".join(repr(v) for v in self.values)


class HasMethods:
    """An object that has all the given methods (duck-typed estimators)."""

    def __init__(self, *methods):
        self.methods = methods

    def is_satisfied_by(self, value):
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self):
        return "an object implementing " + ", ".join(repr(m) for m in self.methods)


class PathLike:
    """A ``str`` or ``os.PathLike`` path."""

    def is_satisfied_by(self, value):
        return isinstance(value, (str, os.PathLike))

    def __str__(self):
        return "a path (str or os.PathLike)"


def _satisfied(constraint, value):
    if constraint is None:
        return value is None
    if constraint == "boolean":
        return isinstance(value, bool)
    if constraint == "callable":
        return callable(value)
    if constraint == "array-like":
        return hasattr(value, "__len__") or hasattr(value, "__array__")
    if isinstance(constraint, type):
        return isinstance(value, constraint) and not (constraint is not bool and isinstance(value, bool))
    return constraint.is_satisfied_by(value)


def _describe(constraint):
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return {"boolean": "a bool", "callable": "a callable", "array-like": "an array-like"}[constraint]
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def validate_parameters(estimator, params=None):
    """Check an estimator's parameters against its ``_parameter_constraints``.

    Parameters
    ----------
    estimator : object
        Has ``get_params`` and a ``_parameter_constraints`` class attribute.
    params : dict, optional
        Parameters to check (default: ``estimator.get_params(deep=False)``).

    Raises
    ------
    InvalidParameterError
        Naming the parameter, what it must be and what it was.

    Examples
    --------
    >>> from numbers import Integral
    >>> from dermfeat.utils import Interval, validate_parameters
    >>> class Est:
    ...     _parameter_constraints = {"k": [Interval(Integral, 1, None)]}
    ...     def __init__(self, k=1):
    ...         self.k = k
    ...     def get_params(self, deep=False):
    ...         return {"k": self.k}
    >>> validate_parameters(Est(k=0))
    Traceback (most recent call last):
    ...
    dermfeat.utils._param_validation.InvalidParameterError: The 'k' parameter of Est must be an int in the range [1, inf). Got 0 instead.
    """
    constraints = getattr(type(estimator), "_parameter_constraints", {})
    params = estimator.get_params(deep=False) if params is None else params
    validate_arguments(type(estimator).__name__, constraints, params)


def validate_arguments(owner, constraints, params):
    """Check values against constraints; the shared core of :func:`validate_parameters`.

    Functions use it directly for their keyword arguments.

    Parameters
    ----------
    owner : str
        Name of the estimator or function, for the message.
    constraints : dict
        Argument name -> list of accepted constraints.
    params : dict
        Argument name -> value (names without constraints are ignored).

    Raises
    ------
    InvalidParameterError
        Naming the argument, what it must be and what it was.

    Examples
    --------
    >>> from numbers import Integral
    >>> from dermfeat.utils import Interval, validate_arguments
    >>> validate_arguments("f", {"k": [Interval(Integral, 1, None)]}, {"k": 3})
    """
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_satisfied(c, value) for c in allowed):
            continue
        choices = [_describe(c) for c in allowed]
        text = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
        raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {text}. Got {value!r} instead.")


class SequenceOf:
    """A non-empty list or tuple whose items all satisfy ``constraint``."""

    def __init__(self, constraint, description=None):
        self.constraint, self.description = constraint, description

    def is_satisfied_by(self, value):
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            return False
        for item in value:
            if isinstance(self.constraint, type):
                if not isinstance(item, self.constraint) or isinstance(item, bool):
                    return False
            elif not self.constraint.is_satisfied_by(item):
                return False
        return True

    def __str__(self):
        return self.description or f"a non-empty list or tuple of {self.constraint}"
