"""A classifier that knows when not to answer: a decision plus an out-of-distribution guard on the same features."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..decision._meta import DelegatingClassifierMixin, n_rows
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, validate_parameters
from ._detector import OutOfDistributionDetector
from ._routing import GroupedFitMixin, inner_params
from ._steps import call_last_step, last_step_has


def _inner_has(attr):
    def check(self):
        return last_step_has(getattr(self, "estimator_", self.estimator), attr)

    return check


class GuardedClassifier(DocLinkMixin, GroupedFitMixin, DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier with an out-of-distribution guard fitted on the same rows.

    The last step of an image pipeline: the features the pipeline extracts
    once go both to the classifier (``estimator``) and to the detector, so
    one model file answers "which class", "how sure" (a
    :class:`ConformalClassifier`'s prediction sets) and "is this a skin
    photograph like the training ones at all".  ``predict`` and
    ``predict_proba`` are the classifier's, unchanged; the guard adds
    :meth:`predict_in_distribution` and :meth:`score_samples`.  What to do
    with an out-of-distribution photograph (give no class, say so) is left to
    the caller: :func:`predict_with_uncertainty` collects everything in one
    pass.

    Parameters
    ----------
    estimator : classifier
        Cloned; typically a :class:`ConformalClassifier` around the decision,
        or a pipeline (scaling, then that) whose last step gives
        ``predict_set``.
    detector : outlier detector or None, default=None
        Has ``fit`` (taking ``groups``), ``predict`` (1 in, -1 out) and
        ``score_samples``.  ``None``: :class:`OutOfDistributionDetector()`.

    Attributes
    ----------
    estimator_ : classifier
    detector_ : outlier detector
    classes_ : ndarray of shape (n_classes,)

    See Also
    --------
    dermfeat.uncertainty.add_uncertainty : Puts one at the end of a pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.uncertainty import GuardedClassifier, OutOfDistributionDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> guard = OutOfDistributionDetector(normalize="standard")
    >>> clf = GuardedClassifier(LogisticRegression(), detector=guard).fit(X, y)
    >>> clf.predict([[1.0, 0.0, 0.0], [30.0, 30.0, 30.0]]).tolist()
    [1, 1]
    >>> clf.predict_in_distribution([[1.0, 0.0, 0.0], [30.0, 30.0, 30.0]]).tolist()
    [True, False]
    """

    #: An uncertainty wrapper: the decision is its inner estimator's (see ``decision_step``).
    _wraps_decision = True

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict")],
        "detector": [None, HasMethods("fit", "predict", "score_samples")],
    }

    def __init__(self, estimator, detector=None):
        self.estimator = estimator
        self.detector = detector

    def fit(self, X, y, groups=None, **fit_params):
        """Fit the classifier and the detector on the same rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the training photographs.
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            Near-duplicate groups: the detector's calibration folds (and the
            estimator's, when it chooses by cross-validation) keep them whole.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : GuardedClassifier
        """
        validate_parameters(self)
        if groups is not None and np.asarray(groups).shape[0] != n_rows(X):
            raise ValueError(f"groups has {np.asarray(groups).shape[0]} entries for {n_rows(X)} samples")
        params = inner_params(self, self.estimator, groups, fit_params)
        self.estimator_ = clone(self.estimator).fit(X, y, **params)
        detector = OutOfDistributionDetector() if self.detector is None else clone(self.detector)
        self.detector_ = detector.fit(X, groups=groups)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        """The classifier's decision, whatever the guard says.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_inner_has("predict_set"))
    def predict_set(self, X):
        """The classifier's conformal prediction sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        sets : ndarray of shape (n_samples, n_classes), dtype bool
        """
        check_is_fitted(self, "estimator_")
        return call_last_step(self.estimator_, "predict_set", X)

    def predict_in_distribution(self, X):
        """Whether each photograph looks like the training photographs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        in_distribution : ndarray of shape (n_samples,), dtype bool
        """
        check_is_fitted(self, "detector_")
        return np.asarray(self.detector_.predict(X)) == 1

    def score_samples(self, X):
        """The detector's score: the lower, the less like the training photographs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "detector_")
        return self.detector_.score_samples(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # the detector measures distances between dense rows
        return tags
