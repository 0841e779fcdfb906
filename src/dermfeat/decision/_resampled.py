"""Resampling as a switchable step of a plain scikit-learn Pipeline."""

from __future__ import annotations

import warnings

import importlib
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._meta import (
    DelegatingClassifierMixin,
    class_labels,
    n_rows,
    routed_fit_params,
    take_rows,
)
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Options, validate_parameters

#: Sampler names accepted by :class:`ResampledClassifier` (imbalanced-learn classes).
SAMPLERS = {
    "random_over": "RandomOverSampler",
    "random_under": "RandomUnderSampler",
    "smote": "SMOTE",
    "borderline_smote": "BorderlineSMOTE",
    "adasyn": "ADASYN",
}


def _import_imblearn(what):
    try:
        return importlib.import_module("imblearn.over_sampling"), importlib.import_module("imblearn.under_sampling")
    except ImportError as exc:
        raise ImportError(
            f"{what} needs imbalanced-learn, an optional dependency of dermfeat. "
            "Install it with: pip install 'dermfeat[imbalanced]' (or pip install imbalanced-learn)."
        ) from exc


def make_sampler(name, *, random_state=None, **params):
    """An imbalanced-learn sampler from a short name.

    Parameters
    ----------
    name : {"random_over", "random_under", "smote", "borderline_smote", "adasyn"}
        The sampler (``RandomOverSampler``, ``RandomUnderSampler``, ``SMOTE``,
        ``BorderlineSMOTE``, ``ADASYN``).
    random_state : int, RandomState or None, default=None
        Passed to the sampler.
    **params : dict
        Other sampler parameters.

    Returns
    -------
    sampler : imbalanced-learn sampler

    Raises
    ------
    ImportError
        When imbalanced-learn (the ``imbalanced`` extra) is not installed.

    Examples
    --------
    >>> from dermfeat.decision import make_sampler
    >>> make_sampler("smote", random_state=0, k_neighbors=3)
    SMOTE(k_neighbors=3, random_state=0)
    """
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of {sorted(SAMPLERS)}")
    over, under = _import_imblearn(f"sampler={name!r}")
    cls_name = SAMPLERS[name]
    cls = getattr(over, cls_name, None) or getattr(under, cls_name)
    return cls(random_state=random_state, **params)


def _selects_rows_blindly(sampler):
    """Random over/under-sampling without smoothing: rows are chosen from y alone."""
    name = type(sampler).__name__
    module = type(sampler).__module__
    if not module.startswith("imblearn.") or name not in ("RandomOverSampler", "RandomUnderSampler"):
        return False
    return getattr(sampler, "shrinkage", None) is None


class ResampledClassifier(DocLinkMixin, DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier whose training data are resampled, in ``fit`` only.

    Makes a sampler an ordinary parameter of any scikit-learn ``Pipeline`` or
    grid search: ``fit`` resamples ``(X, y)`` with ``sampler.fit_resample`` and
    fits ``estimator`` on the result; ``predict``/``predict_proba`` see the data
    untouched.  ``sampler=None`` (or ``"passthrough"``) switches resampling off.
    Unlike ``imblearn.pipeline.Pipeline``, it nests anywhere (inside pipelines,
    :class:`~dermfeat.decision.ThresholdTunedClassifier`, grid searches).

    Place it *after* feature extraction for samplers that interpolate (SMOTE
    family: they create synthetic feature rows).  Random over/under-sampling
    only selects rows, so it also works before extraction, on any input
    (a list of image paths, a 4-D image array, a data frame): wrap the whole
    image pipeline, and with a feature cache (``memory=``) duplicated images
    are not recomputed.
    Put a :class:`~dermfeat.decision.ThresholdTunedClassifier` *around*
    it, never inside: thresholds must be tuned on the original class balance.

    Parameters
    ----------
    estimator : classifier
        Fitted on the resampled data (cloned).
    sampler : str, sampler object, "passthrough" or None, default=None
        An object with ``fit_resample`` (any imbalanced-learn sampler), a name
        of :func:`make_sampler` (``"random_over"``, ``"random_under"``,
        ``"smote"``, ``"borderline_smote"``, ``"adasyn"``; needs the
        ``imbalanced`` extra), or ``None``/``"passthrough"`` for none.
    random_state : int, RandomState or None, default=None
        Seed for named samplers (objects keep their own).

    Attributes
    ----------
    estimator_ : estimator
        The fitted classifier.
    sampler_ : object or None
        The fitted sampler.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    sample_indices_ : ndarray or None
        Indices of the resampled rows in the input, when the sampler only
        selects rows (random over/under-sampling); ``None`` otherwise.
    n_resampled_ : int
        Number of rows the estimator was fitted on.

    Notes
    -----
    Fit parameters of length ``n_samples`` (e.g. ``sample_weight``) follow the
    resampled rows when the sampler records ``sample_indices_``; with samplers
    that synthesise rows (SMOTE) they raise an error.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import ResampledClassifier
    >>> X, y = make_classification(200, weights=[0.9], random_state=0)
    >>> clf = ResampledClassifier(LogisticRegression(), sampler="random_over", random_state=0).fit(X, y)
    >>> clf.n_resampled_ > len(y)
    True
    >>> ResampledClassifier(LogisticRegression()).fit(X, y).n_resampled_ == len(y)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict")],
        "sampler": [None, Options("passthrough", *SAMPLERS), HasMethods("fit_resample")],
        "random_state": [None, Integral, np.random.RandomState],
    }

    def __init__(self, estimator, sampler=None, *, random_state=None):
        self.estimator = estimator
        self.sampler = sampler
        self.random_state = random_state

    def _make_sampler(self):
        if self.sampler is None or (isinstance(self.sampler, str) and self.sampler == "passthrough"):
            return None
        if isinstance(self.sampler, str):
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            return make_sampler(self.sampler, random_state=seed)
        return clone(self.sampler)

    def fit(self, X, y, **fit_params):
        """Resample the training data and fit the estimator on it.

        Parameters
        ----------
        X : array-like, images or data frame
            Training input (image paths for random over/under-sampling; feature
            rows for SMOTE-like samplers).
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled), resampled along with ``X``.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        y = class_labels(y)
        params = routed_fit_params(self, fit_params)
        n = n_rows(X)
        sampler = self._make_sampler()
        self.sample_indices_ = None
        if sampler is None:
            X_res, y_res = X, y
        else:
            sampler = _fit_neighbours(sampler, y)
            if _selects_rows_blindly(sampler):
                # random over/under-sampling never looks at X: resample row numbers, then take
                # those rows of X whatever it is (image paths, 4-D image arrays, data frames)
                rows, y_res = sampler.fit_resample(np.arange(n).reshape(-1, 1), y)
                X_res = take_rows(X, rows[:, 0])
            else:
                X_res, y_res = sampler.fit_resample(X, y)
            indices = getattr(sampler, "sample_indices_", None)
            self.sample_indices_ = None if indices is None else np.asarray(indices)
            params = self._resample_params(params, n, sampler)
        self.sampler_ = sampler
        self.estimator_ = clone(self.estimator).fit(X_res, y_res, **params)
        self.classes_ = np.asarray(self.estimator_.classes_)
        self.n_resampled_ = n_rows(X_res)
        return self

    def _resample_params(self, params, n, sampler):
        out = {}
        for key, value in params.items():
            length = None
            try:
                length = n_rows(value)
            except TypeError:
                pass
            if value is None or isinstance(value, (str, bytes, dict)) or length != n:
                out[key] = value
            elif self.sample_indices_ is None:
                raise ValueError(
                    f"fit parameter {key!r} cannot follow {type(sampler).__name__}, which creates synthetic "
                    "samples; drop it or use a sampler that selects rows (random over/under-sampling)"
                )
            else:
                out[key] = take_rows(value, self.sample_indices_)
        return out

    def predict(self, X):
        """Predict with the estimator fitted on resampled data.

        Parameters
        ----------
        X : array-like or images
            Input samples (never resampled).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if isinstance(self.sampler, str) and self.sampler != "passthrough":
            seeded = self.random_state is not None
        elif self.sampler is not None and hasattr(self.sampler, "get_params"):
            seeded = self.sampler.get_params().get("random_state", 0) is not None
        else:
            seeded = True
        tags.non_deterministic = tags.non_deterministic or not seeded
        return tags


def _fit_neighbours(sampler, y):
    """Lower an integer ``k_neighbors`` / ``n_neighbors`` that the smallest class cannot support.

    SMOTE-like samplers need ``k + 1`` samples of each class they oversample; the
    inner folds of a small minority class often have fewer.  Rather than fail a whole
    cross-validation, ``k`` is lowered to ``smallest class - 1`` (the sampler is a
    fresh copy, so the parameter the user set is unchanged) with a warning.
    """
    _, counts = np.unique(y, return_counts=True)
    smallest = int(counts.min())
    params = sampler.get_params(deep=False)
    for name in ("k_neighbors", "n_neighbors"):
        k = params.get(name)
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= smallest:
            if smallest < 2:
                raise ValueError(
                    f"{type(sampler).__name__} needs at least 2 samples of every class, the smallest class has {smallest}"
                )
            warnings.warn(
                f"{type(sampler).__name__}: {name}={k} needs more than the {smallest} samples of the smallest class "
                f"in this training set; using {name}={smallest - 1}",
                UserWarning,
                stacklevel=3,
            )
            sampler = clone(sampler).set_params(**{name: smallest - 1})
    return sampler
