"""Conformal prediction sets around a classifier: split or cross-conformal, marginal or per class."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..decision._meta import (
    DelegatingClassifierMixin,
    aligned_response,
    n_rows,
    take_params,
    take_rows,
    with_input_tags_of,
)
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Interval, Options, validate_parameters
from ._folds import calibration_folds, check_partition, order_statistic
from ._routing import GroupedFitMixin, inner_params

#: Tolerance on probabilities when comparing conformity scores (that of MAPIE).
EPSILON = 1e-8


class ConformalClassifier(DocLinkMixin, GroupedFitMixin, DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Prediction sets that contain the true class with a guaranteed probability.

    ``predict_set`` returns, per photograph, the classes that cannot be ruled
    out at the ``confidence_level``: one class when the model is sure enough,
    both when it is a coin toss (and rarely none).  The conformity score of a
    class is one minus its probability (the "LAC" score of MAPIE); its
    threshold comes from photographs the model did not see in training:

    - ``method="cross"`` (cross-conformal, the default): the estimator is
      fitted ``cv`` times, each time without one fold (whole groups of
      near-duplicates held out together when ``fit`` gets ``groups``); every
      training photograph gets its score from the model that did not see it,
      and a new photograph's class ``c`` is in the set when the share of
      calibration scores at least as large as its own (each fold model
      scoring the new photograph against its own held-out fold) exceeds
      ``1 - confidence_level``.  All data train the model used for ``predict``
      and ``predict_proba`` (``estimator_``).
    - ``method="split"``: one grouped, stratified hold-out of
      ``calibration_size`` calibrates the ``estimator_`` fitted on the rest
      (exactly MAPIE's ``SplitConformalClassifier`` with ``prefit=True``).

    Split conformal covers the true class with probability at least
    ``confidence_level``; cross-conformal at least ``2 * confidence_level - 1``
    in theory and about ``confidence_level`` in practice.  With
    ``class_conditional=True`` (Mondrian) each class is calibrated on its own
    photographs only, so the guarantee holds for the rare class too (for
    atopic dermatitis alone, not just on average over both classes).

    Parameters
    ----------
    estimator : classifier
        Has ``predict_proba``.  Cloned for every fold.
    confidence_level : float in (0, 1), default=0.9
        Target coverage.
    method : {"cross", "split"}, default="cross"
        See above.
    class_conditional : bool, default=False
        Calibrate each class on its own photographs (Mondrian).
    cv : int or splitter, default=5
        Folds of ``"cross"``: an int gives shuffled stratified folds, grouped
        by ``groups``.  Every row must be held out exactly once.
    calibration_size : float in (0, 1), default=0.25
        Share of the training photographs held out by ``"split"``.
    random_state : int or None, default=0
        Seed of the folds.

    Attributes
    ----------
    estimator_ : classifier
        Fitted on all the data (``"cross"``) or on the training part (``"split"``).
    estimators_ : list of classifiers
        ``"cross"``: the fold models.
    classes_ : ndarray of shape (n_classes,)
    conformity_scores_ : ndarray of shape (n_calibration,)
        One minus the held-out probability of the true class.
    calibration_labels_ : ndarray of shape (n_calibration,)
        Class index of each calibration score.
    calibration_indices_ : ndarray of shape (n_calibration,)
        The training row of each calibration score.
    calibration_folds_ : ndarray of shape (n_calibration,)
        ``"cross"``: which fold model scored it.
    quantiles_ : ndarray of shape (n_classes,)
        ``"split"``: the score threshold of each class (all equal unless
        ``class_conditional``).

    See Also
    --------
    dermfeat.uncertainty.GuardedClassifier : Adds an out-of-distribution guard.
    dermfeat.uncertainty.set_coverage : Empirical coverage of prediction sets.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.uncertainty import ConformalClassifier, set_coverage
    >>> X, y = make_classification(600, n_features=5, flip_y=0.2, random_state=0)
    >>> clf = ConformalClassifier(LogisticRegression(), confidence_level=0.9).fit(X[:400], y[:400])
    >>> sets = clf.predict_set(X[400:])
    >>> sets.shape, sets.dtype
    ((200, 2), dtype('bool'))
    >>> 0.85 <= set_coverage(y[400:], sets, clf.classes_) <= 1.0
    True
    """

    #: An uncertainty wrapper: the decision is its inner estimator's (see ``decision_step``).
    _wraps_decision = True

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict_proba")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "method": [Options("cross", "split")],
        "class_conditional": ["boolean"],
        "cv": [Interval(Integral, 2, None), HasMethods("split", "get_n_splits")],
        "calibration_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": [None, Integral],
    }

    def __init__(self, estimator, *, confidence_level=0.9, method="cross", class_conditional=False, cv=5,
                 calibration_size=0.25, random_state=0):
        self.estimator = estimator
        self.confidence_level = confidence_level
        self.method = method
        self.class_conditional = class_conditional
        self.cv = cv
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X, y, groups=None, **fit_params):
        """Fit the estimator and calibrate the prediction sets on held-out photographs.

        Parameters
        ----------
        X : array-like or images
            Training samples (features, in a pipeline).
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), optional
            Near-duplicate or patient groups: never split between a fold
            model's training and calibration rows; passed on (per fold) to an
            estimator that chooses by grouped cross-validation.
        **fit_params : dict
            Passed to the estimator's ``fit`` (indexed per fold).

        Returns
        -------
        self : ConformalClassifier
        """
        validate_parameters(self)
        check_classification_targets(y)
        y = column_or_1d(np.asarray(y) if not hasattr(y, "iloc") else y.to_numpy(), warn=True)
        n = n_rows(X)
        if y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has {y.shape[0]}")
        groups = None if groups is None else np.asarray(groups)
        if groups is not None and groups.shape[0] != n:
            raise ValueError(f"groups has {groups.shape[0]} entries for {n} samples")
        self.classes_ = np.unique(y)
        if self.classes_.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least two classes; got one class: {self.classes_.tolist()}")
        params = inner_params(self, self.estimator, groups, fit_params)
        label_index = np.searchsorted(self.classes_, y)
        if self.method == "split":
            splits = self._split_holdout(n, y, groups)
        else:
            splits = calibration_folds(self.cv, n, y=y, groups=groups, random_state=self.random_state)
            check_partition(splits, n)
        models, scores, labels, fold_ids, rows = [], [], [], [], []
        for k, (train, test) in enumerate(splits):
            model = clone(self.estimator).fit(take_rows(X, train), y[train], **take_params(params, train, n))
            proba = aligned_response(model, take_rows(X, test), "predict_proba", self.classes_)
            scores.append(1.0 - proba[np.arange(test.shape[0]), label_index[test]])
            labels.append(label_index[test])
            fold_ids.append(np.full(test.shape[0], k))
            rows.append(np.asarray(test))
            models.append(model)
        self.conformity_scores_ = np.concatenate(scores)
        self.calibration_labels_ = np.concatenate(labels)
        self.calibration_indices_ = np.concatenate(rows)
        if self.method == "split":
            self.estimator_ = models[0]
            self.quantiles_ = self._quantiles()
        else:
            self.estimators_ = models
            self.calibration_folds_ = np.concatenate(fold_ids)
            self.estimator_ = clone(self.estimator).fit(X, y, **params)
        return self

    def _split_holdout(self, n, y, groups):
        from sklearn.model_selection import StratifiedShuffleSplit

        from ..model_selection._split import StratifiedGroupHoldout

        if groups is not None:
            splitter = StratifiedGroupHoldout(test_size=self.calibration_size, random_state=self.random_state)
        else:
            splitter = StratifiedShuffleSplit(n_splits=1, test_size=self.calibration_size,
                                              random_state=self.random_state)
        return [next(iter(splitter.split(np.zeros((n, 1)), y, groups)))]

    def _quantiles(self):
        """Per-class thresholds of split conformal (the pooled one repeated unless class-conditional)."""
        level = self.confidence_level
        if not self.class_conditional:
            return np.full(self.classes_.shape[0], order_statistic(self.conformity_scores_, level))
        return np.array([order_statistic(self.conformity_scores_[self.calibration_labels_ == c], level)
                         for c in range(self.classes_.shape[0])])

    def predict_pvalues(self, X):
        """Conformal p-value of every class: the share of calibration photographs less typical than this one.

        A class is in the prediction set when its p-value exceeds
        ``1 - confidence_level``.

        Parameters
        ----------
        X : array-like or images

        Returns
        -------
        pvalues : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "conformity_scores_")
        if self.method == "split":
            test = 1.0 - aligned_response(self.estimator_, X, "predict_proba", self.classes_)
            return self._pvalues([test], np.zeros(self.conformity_scores_.shape[0], dtype=int))
        tests = [1.0 - aligned_response(m, X, "predict_proba", self.classes_) for m in self.estimators_]
        return self._pvalues(tests, self.calibration_folds_)

    def _pvalues(self, tests, folds):
        n_test, k = tests[0].shape
        counts = np.zeros((n_test, k))
        totals = np.zeros(k)
        for c in range(k):
            rows = self.calibration_labels_ == c if self.class_conditional else np.ones_like(folds, dtype=bool)
            totals[c] = rows.sum()
            for f, test in enumerate(tests):
                cal = np.sort(self.conformity_scores_[rows & (folds == f)])
                # calibration scores >= the test score (within EPSILON)
                counts[:, c] += cal.shape[0] - np.searchsorted(cal, test[:, c] - EPSILON, side="left")
        return (counts + 1.0) / (totals + 1.0)

    def predict_set(self, X):
        """The classes that cannot be ruled out at ``confidence_level``, as a boolean matrix.

        Parameters
        ----------
        X : array-like or images

        Returns
        -------
        sets : ndarray of shape (n_samples, n_classes), dtype bool
            ``sets[i, j]``: ``classes_[j]`` is in the set of sample ``i``.
        """
        check_is_fitted(self, "conformity_scores_")
        if self.method == "split":
            proba = aligned_response(self.estimator_, X, "predict_proba", self.classes_)
            return (1.0 - proba) - self.quantiles_[None, :] <= EPSILON
        return self.predict_pvalues(X) > 1.0 - self.confidence_level

    def predict(self, X):
        """The estimator's decision (its own threshold or argmax).

        Parameters
        ----------
        X : array-like or images

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def __sklearn_tags__(self):
        return with_input_tags_of(self.estimator, super().__sklearn_tags__())
