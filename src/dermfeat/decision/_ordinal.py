"""Ordinal classification by cumulative binary decomposition."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from ._cost import min_expected_cost, resolve_cost_matrix
from ._meta import FitRoutingMixin, aligned_response, class_labels, routed_fit_params, with_input_tags_of
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Options, validate_parameters
from ._composite import composite_distribution, composite_summary


def monotone_decreasing(values, method="isotonic"):
    """Make each row non-increasing (cumulative exceedance probabilities).

    Parameters
    ----------
    values : array-like of shape (n_samples, n_thresholds)
        Estimates of ``P(y > c_0), P(y > c_1), ...`` per row.
    method : {"isotonic", "cummin"}, default="isotonic"
        ``"isotonic"``: the closest non-increasing sequence in the least-squares
        sense (pool-adjacent-violators, as
        ``IsotonicRegression(increasing=False)`` row by row); ``"cummin"``:
        running minimum from the lowest threshold up.

    Returns
    -------
    monotone : ndarray of shape (n_samples, n_thresholds)
        Clipped to ``[0, 1]``.

    Examples
    --------
    >>> from dermfeat.decision import monotone_decreasing
    >>> monotone_decreasing([[0.9, 0.3, 0.5]])
    array([[0.9, 0.4, 0.4]])
    >>> monotone_decreasing([[0.9, 0.3, 0.5]], method="cummin")
    array([[0.9, 0.3, 0.3]])
    """
    q = np.asarray(values, dtype=float)
    if method == "cummin":
        out = np.minimum.accumulate(q, axis=1)
    elif method == "isotonic":
        # non-increasing fit of q = -(non-decreasing fit of -q); the non-decreasing
        # least-squares fit at j is max_{i<=j} min_{k>=j} mean(x[i..k]).
        x = -q
        m = x.shape[1]
        csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
        out = np.empty_like(x)
        for j in range(m):
            best = np.full(x.shape[0], -np.inf)
            for i in range(j + 1):
                ks = np.arange(j, m)
                means = (csum[:, ks + 1] - csum[:, [i]]) / (ks - i + 1)
                best = np.maximum(best, means.min(axis=1))
            out[:, j] = best
        out = -out
    else:
        raise ValueError(f"method must be 'isotonic' or 'cummin', got {method!r}")
    return np.clip(out, 0.0, 1.0)


def cumulative_to_proba(exceedance):
    """Class probabilities from non-increasing exceedance probabilities.

    Parameters
    ----------
    exceedance : array-like of shape (n_samples, n_classes - 1)
        ``P(y > c_k)``, non-increasing along each row.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        ``P(c_0) = 1 - q_0``, ``P(c_k) = q_{k-1} - q_k``, ``P(c_last) = q_last``;
        non-negative, rows sum to 1.

    Examples
    --------
    >>> from dermfeat.decision import cumulative_to_proba
    >>> cumulative_to_proba([[0.75, 0.25]])
    array([[0.25, 0.5 , 0.25]])
    """
    q = np.asarray(exceedance, dtype=float)
    ones, zeros = np.ones((q.shape[0], 1)), np.zeros((q.shape[0], 1))
    cdf_upper = np.concatenate([ones, q], axis=1)
    cdf_lower = np.concatenate([q, zeros], axis=1)
    proba = np.clip(cdf_upper - cdf_lower, 0.0, None)
    return proba / proba.sum(axis=1, keepdims=True)


def _fit_binary(estimator, X, target, params):
    return estimator.fit(X, target, **params)


class OrdinalClassifier(DocLinkMixin, FitRoutingMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Ordinal classifier from cumulative binary problems ("severity > k").

    For ordered classes ``c_0 < c_1 < ... < c_{K-1}`` (the sorted labels), one
    binary classifier per boundary estimates ``P(y > c_k | x)``
    (Frank & Hall 2001; the cumulative encoding of EczemaNet's severity heads).
    Independent estimates may cross, so each row is made non-increasing
    (``monotonic``) before class probabilities are taken as differences: they
    are non-negative and sum to 1.

    Parameters
    ----------
    estimator : binary classifier with ``predict_proba``
        Cloned once per boundary.
    decision : {"most_probable", "min_expected_cost"}, default="most_probable"
        ``predict`` returns the most probable class, or the class of minimum
        expected cost under ``cost_matrix``.
    cost_matrix : {"absolute", "squared", "zero_one"} or array-like, default="absolute"
        Used by ``decision="min_expected_cost"``: ``"absolute"`` (``|i - j|``)
        predicts the median level, ``"squared"`` the level nearest the mean;
        ``cost_matrix[i, j]`` is the cost of predicting ``classes_[j]`` when
        the truth is ``classes_[i]``.
    monotonic : {"isotonic", "cummin"}, default="isotonic"
        How crossing cumulative estimates are repaired
        (:func:`monotone_decreasing`).
    n_jobs : int or None, default=None
        Boundaries fitted in parallel.

    Attributes
    ----------
    estimators_ : list of estimators
        ``estimators_[k]`` estimates ``P(y > classes_[k])``.
    classes_ : ndarray of shape (n_classes,)
        The ordered classes.
    cost_matrix_ : ndarray of shape (n_classes, n_classes)
        The resolved cost matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import OrdinalClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=300), [-1, 0, 1])  # levels 0-3
    >>> clf = OrdinalClassifier(LogisticRegression()).fit(X, y)
    >>> proba = clf.predict_proba(X[:3])
    >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1))
    ((3, 4), True)
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict_proba")],
        "decision": [Options("most_probable", "min_expected_cost")],
        "cost_matrix": [Options("absolute", "squared", "zero_one"), "array-like"],
        "monotonic": [Options("isotonic", "cummin")],
        "n_jobs": [None, Integral],
    }

    def __init__(self, estimator, *, decision="most_probable", cost_matrix="absolute", monotonic="isotonic",
                 n_jobs=None):
        self.estimator = estimator
        self.decision = decision
        self.cost_matrix = cost_matrix
        self.monotonic = monotonic
        self.n_jobs = n_jobs

    def fit(self, X, y, **fit_params):
        """Fit one binary classifier per class boundary.

        Parameters
        ----------
        X : array-like, images or data frame
            Training input.
        y : array-like of shape (n_samples,)
            Ordered class labels (sorted order is the scale).
        **fit_params : dict
            Passed to every binary estimator's ``fit`` (routed when metadata
            routing is enabled).

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        y = class_labels(y)
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least two classes; got 1 class: {classes.tolist()}")
        params = routed_fit_params(self, fit_params)
        index = np.searchsorted(classes, y)
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_binary)(clone(self.estimator), X, (index > k).astype(int), params)
            for k in range(classes.shape[0] - 1)
        )
        self.classes_ = classes
        self.cost_matrix_ = resolve_cost_matrix(self.cost_matrix, classes.shape[0])
        return self

    def predict_cumulative(self, X, *, monotonic=None):
        """Exceedance probabilities ``P(y > classes_[k])``.

        Parameters
        ----------
        X : array-like or images
            Input samples.
        monotonic : {"isotonic", "cummin", "none"}, optional
            Repair method (default: the ``monotonic`` parameter); ``"none"``
            returns the raw, possibly crossing, estimates.

        Returns
        -------
        exceedance : ndarray of shape (n_samples, n_classes - 1)
        """
        check_is_fitted(self, "estimators_")
        raw = np.column_stack(
            [aligned_response(est, X, "predict_proba", np.array([0, 1]))[:, 1] for est in self.estimators_]
        )
        method = self.monotonic if monotonic is None else monotonic
        return raw if method == "none" else monotone_decreasing(raw, method)

    def predict_proba(self, X):
        """Class probabilities, consistent across boundaries.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return cumulative_to_proba(self.predict_cumulative(X))

    def predict(self, X):
        """Most probable class or class of minimum expected cost.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        if self.decision == "min_expected_cost":
            return self.classes_[min_expected_cost(proba, self.cost_matrix_)]
        return self.classes_[np.argmax(proba, axis=1)]

    @property
    def n_features_in_(self):
        """Number of features seen by the fitted estimators (if they record it)."""
        try:
            check_is_fitted(self, "estimators_")
        except Exception as exc:
            raise AttributeError(f"{type(self).__name__} is not fitted: no n_features_in_") from exc
        return self.estimators_[0].n_features_in_

    def __sklearn_tags__(self):
        return with_input_tags_of(self.estimator, super().__sklearn_tags__())


class MultiSignOrdinalClassifier(DocLinkMixin, FitRoutingMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """One ordinal head per clinical sign, and the distribution of their sum.

    In the spirit of EczemaNet: each sign (erythema, oedema, excoriation,
    lichenification, ... scored 0-3) gets its own :class:`OrdinalClassifier`;
    a composite score (an EASI-like sum of signs) is predicted as a whole
    distribution, the convolution of the per-sign distributions
    (:func:`composite_distribution`), with its mean and a prediction interval.
    Place it after feature extraction in a ``Pipeline`` so images are
    processed once, not once per sign and boundary.

    Parameters
    ----------
    estimator : binary classifier with ``predict_proba``
        Base of every ordinal head (cloned).
    sign_names : list of str, optional
        Names of the columns of ``y`` (default: data-frame columns or
        ``sign0, sign1, ...``).
    decision, cost_matrix, monotonic, n_jobs
        As in :class:`OrdinalClassifier`, for every head.

    Attributes
    ----------
    estimators_ : list of OrdinalClassifier
        One fitted head per sign.
    classes_ : list of ndarray or ndarray
        The levels of each sign; for a 1-d ``y`` (a single sign), the levels
        of that sign (as scikit-learn's single- and multi-output classifiers).
    n_features_in_ : int
        Number of features seen by the heads (if their estimator records it).
    sign_names_ : ndarray of str
        The sign names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import MultiSignOrdinalClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> signs = np.column_stack([np.digitize(X[:, j], [-0.7, 0, 0.7]) for j in range(2)])
    >>> clf = MultiSignOrdinalClassifier(LogisticRegression(), sign_names=["erythema", "oedema"]).fit(X, signs)
    >>> clf.predict(X[:2]).shape
    (2, 2)
    >>> total = clf.predict_composite(X[:2], interval=0.9)
    >>> total.distribution.shape, bool(np.all(total.lower <= total.upper))
    ((2, 7), True)
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict_proba")],
        "sign_names": [None, "array-like"],
        **{k: v for k, v in OrdinalClassifier._parameter_constraints.items() if k != "estimator"},
    }

    def __init__(self, estimator, *, sign_names=None, decision="most_probable", cost_matrix="absolute",
                 monotonic="isotonic", n_jobs=None):
        self.estimator = estimator
        self.sign_names = sign_names
        self.decision = decision
        self.cost_matrix = cost_matrix
        self.monotonic = monotonic
        self.n_jobs = n_jobs

    def fit(self, X, y, **fit_params):
        """Fit one ordinal head per sign.

        Parameters
        ----------
        X : array-like, images or data frame
            Training input.
        y : array-like of shape (n_samples, n_signs) or (n_samples,)
            Sign levels (a data frame's columns name the signs); a 1-d ``y``
            is a single sign, and predictions then have its shape.
        **fit_params : dict
            Passed to every head.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        names = list(y.columns) if hasattr(y, "columns") else None
        Y = np.asarray(y)
        single = Y.ndim == 1
        if single:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"y must have shape (n_samples, n_signs) or (n_samples,), got {Y.shape}")
        if self.sign_names is not None:
            names = [str(n) for n in self.sign_names]
            if len(names) != Y.shape[1]:
                raise ValueError(f"{len(names)} sign_names for {Y.shape[1]} columns of y")
        if names is None:
            names = [f"sign{s}" for s in range(Y.shape[1])]
        params = routed_fit_params(self, fit_params)
        head = OrdinalClassifier(
            self.estimator, decision=self.decision, cost_matrix=self.cost_matrix, monotonic=self.monotonic,
            n_jobs=self.n_jobs,
        )
        self.estimators_ = [clone(head).fit(X, Y[:, s], **params) for s in range(Y.shape[1])]
        self.classes_ = self.estimators_[0].classes_ if single else [est.classes_ for est in self.estimators_]
        self.sign_names_ = np.asarray(names, dtype=object)
        return self

    def _single(self):
        """Whether ``fit`` saw a 1-d ``y`` (one sign): its outputs are then 1-d too."""
        return not isinstance(self.classes_, list)

    def predict(self, X):
        """Level of every sign.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_signs), or (n_samples,) for a 1-d ``y``
        """
        check_is_fitted(self, "estimators_")
        pred = np.column_stack([est.predict(X) for est in self.estimators_])
        return pred[:, 0] if self._single() else pred

    def predict_proba(self, X):
        """Level probabilities of every sign.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        probas : list of ndarray of shape (n_samples, n_levels_s)
            One array per sign; for a 1-d ``y``, the array of its sign.
        """
        probas = self._sign_probas(X)
        return probas[0] if self._single() else probas

    def _sign_probas(self, X):
        check_is_fitted(self, "estimators_")
        return [est.predict_proba(X) for est in self.estimators_]

    def predict_composite(self, X, *, interval=0.9):
        """Distribution of the sum of the signs, its mean and a prediction interval.

        Parameters
        ----------
        X : array-like or images
            Input samples.
        interval : float in (0, 1), default=0.9
            Probability of the equal-tailed interval ``[lower, upper]``.

        Returns
        -------
        composite : :class:`~sklearn.utils.Bunch`
            See :func:`composite_summary`: ``distribution`` (n_samples,
            max_total + 1), ``support``, ``mean``, ``std``, ``median``,
            ``mode``, ``lower``, ``upper``.
        """
        supports = [est.classes_ for est in self.estimators_]
        return composite_summary(composite_distribution(self._sign_probas(X), supports=supports), interval=interval)

    def score(self, X, y, sample_weight=None):
        """Mean over signs of the per-sign accuracy.

        Parameters
        ----------
        X : array-like or images
            Input samples.
        y : array-like of shape (n_samples, n_signs) or (n_samples,)
            True sign levels.
        sample_weight : array-like of shape (n_samples,), optional
            Sample weights.

        Returns
        -------
        score : float
        """
        Y, pred = np.asarray(y), self.predict(X)
        if Y.ndim == 1:
            Y, pred = Y[:, None], pred[:, None]
        w = np.ones(Y.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        return float(np.mean([np.average(Y[:, s] == pred[:, s], weights=w) for s in range(Y.shape[1])]))

    n_features_in_ = OrdinalClassifier.n_features_in_

    def __sklearn_tags__(self):
        tags = with_input_tags_of(self.estimator, super().__sklearn_tags__())
        tags.target_tags.multi_output = True
        return tags

