"""Constraints on a tuned decision, and the choice of the best decision that meets them.

A :class:`Constraint` bounds one metric (``sensitivity >= 0.9``); :func:`pick`
chooses among candidate decisions the one with the best objective among those
that meet every constraint (or, if none does, the one closest to meeting them).
Both decision rules of :class:`~dermfeat.decision.ThresholdTunedClassifier`
(binary thresholds and multiclass offsets) choose this way.
"""

from __future__ import annotations

import warnings

import numpy as np

class Constraint:
    """A requirement on a metric that the chosen decision must meet.

    Used as ``ThresholdTunedClassifier(objective=..., constraint=Constraint(...))``:
    the decision maximising the objective is chosen among those meeting every
    constraint.  ``("sensitivity", 0.9)`` is shorthand for
    ``Constraint("sensitivity", minimum=0.9)``.

    Parameters
    ----------
    metric : str
        A metric of :func:`dermfeat.metrics.threshold_metrics` (binary:
        ``"sensitivity"``, ``"specificity"``, ``"precision"``, ``"npv"``,
        ``"positive_rate"``, ...) or of
        :func:`dermfeat.metrics.multiclass_metrics` (multiclass:
        ``"recall_<class>"``, ``"balanced_accuracy"``, ...).
    minimum, maximum : float, optional
        Bounds (inclusive) on the metric; at least one is required.
    aggregate : {"mean", "all"}, default="mean"
        ``"mean"``: the bound applies to the metric averaged over the CV folds;
        ``"all"``: every fold must meet it (more conservative).

    Examples
    --------
    >>> from dermfeat.decision import Constraint
    >>> Constraint("sensitivity", minimum=0.9)
    Constraint('sensitivity', minimum=0.9)
    >>> Constraint("positive_rate", maximum=0.3, aggregate="all")
    Constraint('positive_rate', maximum=0.3, aggregate='all')
    """

    def __init__(self, metric, minimum=None, maximum=None, *, aggregate="mean"):
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a str, got {metric!r}")
        if minimum is None and maximum is None:
            raise ValueError("a Constraint needs a minimum or a maximum")
        if aggregate not in ("mean", "all"):
            raise ValueError(f"aggregate must be 'mean' or 'all', got {aggregate!r}")
        self.metric, self.minimum, self.maximum, self.aggregate = metric, minimum, maximum, aggregate

    def violation(self, mean_values, fold_values):
        """Amount by which the bounds are missed (0 where met).

        Parameters
        ----------
        mean_values : ndarray of shape (n_candidates,)
            The metric averaged over folds.
        fold_values : ndarray of shape (n_folds, n_candidates)
            The metric per fold.

        Returns
        -------
        violation : ndarray of shape (n_candidates,)
        """
        if self.aggregate == "mean":
            low = high = np.asarray(mean_values, dtype=float)
        else:
            fold_values = np.asarray(fold_values, dtype=float)
            low, high = fold_values.min(axis=0), fold_values.max(axis=0)
        out = np.zeros_like(low)
        if self.minimum is not None:
            out += np.maximum(0.0, self.minimum - low)
        if self.maximum is not None:
            out += np.maximum(0.0, high - self.maximum)
        return out

    def __repr__(self):
        parts = [repr(self.metric)]
        if self.minimum is not None:
            parts.append(f"minimum={self.minimum!r}")
        if self.maximum is not None:
            parts.append(f"maximum={self.maximum!r}")
        if self.aggregate != "mean":
            parts.append(f"aggregate={self.aggregate!r}")
        return f"Constraint({', '.join(parts)})"

    def __eq__(self, other):
        return isinstance(other, Constraint) and (self.metric, self.minimum, self.maximum, self.aggregate) == (
            other.metric,
            other.minimum,
            other.maximum,
            other.aggregate,
        )

    def __hash__(self):
        return hash((self.metric, self.minimum, self.maximum, self.aggregate))


def as_constraints(constraint):
    """The ``constraint`` parameter as a list of :class:`Constraint` objects."""
    if constraint is None:
        return []
    if isinstance(constraint, Constraint):
        return [constraint]
    if isinstance(constraint, tuple) and len(constraint) == 2 and isinstance(constraint[0], str):
        return [Constraint(constraint[0], minimum=constraint[1])]
    if isinstance(constraint, (list, tuple)):
        return [c for item in constraint for c in as_constraints(item)]
    raise ValueError(
        f"constraint must be None, a Constraint, a (metric, minimum) tuple or a list of them; got {constraint!r}"
    )


def pick(objective, violation):
    """Index of the best candidate: feasible first, then highest objective.

    Returns the index and whether that candidate meets every constraint.
    """
    objective = np.where(np.isnan(objective), -np.inf, objective)
    best_violation = violation.min()
    candidates = violation <= best_violation + 1e-12
    return int(np.argmax(np.where(candidates, objective, -np.inf))), bool(best_violation <= 1e-12)


def violations(constraints, stack, aliases):
    """Per candidate: how far it misses the constraints on the fold means, and on each fold alone."""
    n_folds, n_candidates = next(iter(stack.values())).shape
    violation = np.zeros(n_candidates)
    fold_violation = np.zeros((n_folds, n_candidates))
    for c in constraints:
        values = stack[aliases.get(c.metric, c.metric)]
        violation += c.violation(values.mean(axis=0), values)
        per_fold = Constraint(c.metric, c.minimum, c.maximum)
        for k in range(n_folds):
            fold_violation[k] += per_fold.violation(values[k], values[k : k + 1])
    return violation, fold_violation


def warn_infeasible(feasible, constraints):
    """Warn that no candidate meets the constraints (the closest one is used)."""
    if constraints and not feasible:
        warnings.warn(
            f"no decision meets the constraint(s) {constraints} in cross-validation; "
            "using the one closest to meeting them",
            UserWarning,
            stacklevel=3,
        )
