"""Cost-matrix decisions: the class of minimum expected cost.

One decision rule serves every dermfeat classifier: for class probabilities
``P`` (rows: samples) and a cost matrix ``C`` (``C[i, j]``: cost of predicting
class ``j`` when the truth is class ``i``), the decision for a sample is::

    argmax_j ( -(P @ C)[j] + offset[j] )

i.e. the class of minimum expected cost, shifted by per-class offsets that
:class:`~dermfeat.decision.ThresholdTunedClassifier` may tune by
cross-validation (offsets of zero give the pure Bayes decision).  With the 0-1
cost this is the most probable class; for two classes it is a threshold on the
positive-class probability.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Options, validate_parameters
from ._meta import (
    DelegatingClassifierMixin,
    aligned_response,
    routed_fit_params,
)


def ordinal_cost_matrix(n_classes, kind="absolute"):
    """Cost of predicting level ``j`` for true level ``i`` on an ordinal scale.

    Parameters
    ----------
    n_classes : int
        Number of ordered levels.
    kind : {"absolute", "squared", "zero_one"}, default="absolute"
        ``|i - j|`` (the Bayes decision is then the median of the predicted
        distribution), ``(i - j)**2`` (closest level to the mean) or the 0-1
        loss (the mode).

    Returns
    -------
    cost_matrix : ndarray of shape (n_classes, n_classes)
        Rows are true levels, columns predicted levels.

    Examples
    --------
    >>> from dermfeat.decision import ordinal_cost_matrix
    >>> ordinal_cost_matrix(3, "squared")
    array([[0., 1., 4.],
           [1., 0., 1.],
           [4., 1., 0.]])
    """
    if not (isinstance(n_classes, Integral) and n_classes >= 2):
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    levels = np.arange(n_classes, dtype=float)
    diff = levels[:, None] - levels[None, :]
    if kind == "absolute":
        return np.abs(diff)
    if kind == "squared":
        return diff**2
    if kind == "zero_one":
        return 1.0 - np.eye(n_classes)
    raise ValueError(f"kind must be 'absolute', 'squared' or 'zero_one', got {kind!r}")


def resolve_cost_matrix(cost_matrix, n_classes):
    """``None`` (0-1), a kind name of :func:`ordinal_cost_matrix` or a square array."""
    if cost_matrix is None:
        return 1.0 - np.eye(n_classes)
    if isinstance(cost_matrix, str):
        return ordinal_cost_matrix(n_classes, cost_matrix)
    cost = np.asarray(cost_matrix, dtype=float)
    if cost.shape != (n_classes, n_classes):
        raise ValueError(f"cost_matrix must have shape ({n_classes}, {n_classes}) for {n_classes} classes, got {cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost_matrix must be finite")
    return cost


def min_expected_cost(proba, cost_matrix=None, offsets=None):
    """Index of the class of minimum expected cost for each row of ``proba``.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Class probabilities.
    cost_matrix : array-like of shape (n_classes, n_classes) or str, optional
        ``cost_matrix[i, j]``: cost of predicting ``j`` when the truth is ``i``;
        a kind of :func:`ordinal_cost_matrix`; default: the 0-1 loss.
    offsets : array-like of shape (n_classes,), optional
        Added to the negative expected costs before the arg-max (a bonus for
        predicting each class).

    Returns
    -------
    indices : ndarray of int of shape (n_samples,)
        Ties go to the lower class index.

    Examples
    --------
    >>> from dermfeat.decision import min_expected_cost
    >>> min_expected_cost([[0.4, 0.25, 0.35]], "absolute")  # the median level
    array([1])
    >>> min_expected_cost([[0.4, 0.25, 0.35]])  # 0-1 cost: the mode
    array([0])
    """
    proba = np.asarray(proba, dtype=float)
    utility = -(proba @ resolve_cost_matrix(cost_matrix, proba.shape[1]))
    if offsets is not None:
        utility = utility + np.asarray(offsets, dtype=float)[None, :]
    return np.argmax(utility, axis=1)


def bayes_threshold(cost_matrix):
    """Probability threshold of the positive class equivalent to a 2x2 cost matrix.

    Predicting positive has the lower expected cost when ``P(pos) >= t`` with
    ``t = (C01 - C00) / ((C01 - C00) + (C10 - C11))`` (index 1 = positive).

    Parameters
    ----------
    cost_matrix : array-like of shape (2, 2)
        ``cost_matrix[i, j]``: cost of predicting ``j`` for a sample of class ``i``.

    Returns
    -------
    threshold : float

    Examples
    --------
    >>> from dermfeat.decision import bayes_threshold
    >>> bayes_threshold([[0, 1], [4, 0]])  # a miss costs four false alarms
    0.2
    """
    c = np.asarray(cost_matrix, dtype=float)
    gain_neg = c[0, 1] - c[0, 0]  # extra cost of a false positive
    gain_pos = c[1, 0] - c[1, 1]  # extra cost of a false negative
    if gain_neg + gain_pos <= 0:
        raise ValueError("the cost matrix must make correct decisions cheaper than errors")
    return float(gain_neg / (gain_neg + gain_pos))


class CostSensitiveClassifier(DocLinkMixin, DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Predict the class of minimum expected cost under a fixed cost matrix.

    The wrapped classifier is fitted as is; only the decision changes: instead
    of the most probable class, ``predict`` returns
    ``argmin_j sum_i P(i | x) C[i, j]``.  For two classes this is a threshold
    on the positive-class probability (:func:`bayes_threshold`); for ordered
    severity levels with ``cost_matrix="absolute"`` it is the median level.
    To tune the decision by cross-validation instead, use
    :class:`ThresholdTunedClassifier` (which accepts the same ``cost_matrix``).

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The probabilistic classifier (cloned in ``fit``).
    cost_matrix : array-like of shape (n_classes, n_classes), str or None, default=None
        ``cost_matrix[i, j]`` is the cost of predicting ``classes_[j]`` for a
        sample of class ``classes_[i]`` (rows: truth, as in
        :func:`~sklearn.metrics.confusion_matrix`); ``"absolute"``, ``"squared"``
        or ``"zero_one"`` build an :func:`ordinal_cost_matrix` over the sorted
        classes; ``None`` is the 0-1 loss.

    Attributes
    ----------
    estimator_ : estimator
        The fitted classifier.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    cost_matrix_ : ndarray of shape (n_classes, n_classes)
        The cost matrix used.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import CostSensitiveClassifier
    >>> X, y = make_classification(200, weights=[0.8], random_state=0)
    >>> cost = [[0, 1], [5, 0]]  # a missed positive costs five false alarms
    >>> clf = CostSensitiveClassifier(LogisticRegression(), cost_matrix=cost).fit(X, y)
    >>> bool((clf.predict(X) == 1).sum() >= (clf.estimator_.predict(X) == 1).sum())
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict_proba")],
        "cost_matrix": [None, Options("absolute", "squared", "zero_one"), "array-like"],
    }

    def __init__(self, estimator, cost_matrix=None):
        self.estimator = estimator
        self.cost_matrix = cost_matrix

    def fit(self, X, y, **fit_params):
        """Fit the classifier and fix the cost matrix.

        Parameters
        ----------
        X : array-like or images
            Training input.
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled).

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        check_classification_targets(y)
        params = routed_fit_params(self, fit_params)
        self.estimator_ = clone(self.estimator).fit(X, y, **params)
        self.classes_ = np.asarray(self.estimator_.classes_)
        self.cost_matrix_ = resolve_cost_matrix(self.cost_matrix, len(self.classes_))
        return self

    def predict(self, X):
        """Class of minimum expected cost.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        proba = aligned_response(self.estimator_, X, "predict_proba", self.classes_)
        return self.classes_[min_expected_cost(proba, self.cost_matrix_)]
