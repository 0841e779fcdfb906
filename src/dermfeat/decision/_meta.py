"""Shared plumbing of dermfeat's meta-classifiers (private).

Row indexing of any input (arrays, image lists, data frames, sparse matrices),
class-aligned responses, metadata routing helpers and delegation of
``predict_proba``/``decision_function`` to the fitted inner estimator.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils.metaestimators import available_if
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d


def routing_enabled():
    """Whether scikit-learn's metadata routing is switched on."""
    return bool(get_config().get("enable_metadata_routing", False))


def n_rows(X):
    if hasattr(X, "shape") and len(getattr(X, "shape", ())) >= 1:
        return X.shape[0]
    if not hasattr(X, "__len__") and hasattr(X, "__array__"):
        return np.asarray(X).shape[0]
    return len(X)


def class_labels(y):
    """``y`` checked as classification targets, as a 1-d array (from a list, an array or a pandas Series)."""
    check_classification_targets(y)
    return column_or_1d(np.asarray(y) if not hasattr(y, "to_numpy") else y.to_numpy(), warn=True)


def take_rows(X, idx):
    """Rows ``idx`` of ``X`` whatever its container (keeps the container type)."""
    idx = np.asarray(idx)
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if sp.issparse(X):
        return (X if X.format in ("csr", "csc") else X.tocsr())[idx]
    if isinstance(X, np.ndarray):
        return X[idx]
    if hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
        return np.asarray(X)[idx]
    return [X[int(i)] for i in idx]


def take_params(params, idx, n_samples):
    """Index every array-like fit parameter of length ``n_samples`` by ``idx``."""
    out = {}
    for key, value in params.items():
        if value is not None and not isinstance(value, (str, bytes, dict)) and _has_len(value, n_samples):
            out[key] = take_rows(value, idx)
        else:
            out[key] = value
    return out


def _has_len(value, n):
    try:
        return n_rows(value) == n
    except TypeError:
        return False


def aligned_response(estimator, X, method, classes):
    """Responses of ``estimator`` as an ``(n, len(classes))`` matrix in ``classes`` order.

    Binary ``decision_function`` output ``d`` becomes ``[-d, d]``; columns of
    classes the estimator never saw are 0 (probabilities) or the row minimum
    minus one (decision values).
    """
    values = np.asarray(getattr(estimator, method)(X), dtype=float)
    est_classes = np.asarray(estimator.classes_)
    if values.ndim == 1:
        values = np.column_stack([-values, values])
    if values.shape[1] != est_classes.shape[0]:
        raise ValueError(f"{method} returned {values.shape[1]} columns for {est_classes.shape[0]} classes")
    if est_classes.shape[0] == len(classes) and np.array_equal(est_classes, classes):
        return values
    fill = 0.0 if method == "predict_proba" else None
    out = np.full((values.shape[0], len(classes)), np.nan)
    lookup = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    for j, c in enumerate(est_classes.tolist()):
        out[:, lookup[c]] = values[:, j]
    missing = np.isnan(out)
    if missing.any():
        if fill is None:
            row_min = np.nanmin(np.where(missing, np.inf, out), axis=1, keepdims=True) - 1.0
            out = np.where(missing, row_min, out)
        else:
            out[missing] = fill
    return out


def resolve_response_method(estimator, response_method):
    if response_method != "auto":
        if not hasattr(estimator, response_method):
            raise AttributeError(f"{type(estimator).__name__} has no {response_method}")
        return response_method
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            return method
    raise AttributeError(f"{type(estimator).__name__} has neither predict_proba nor decision_function")


def routed_fit_params(owner, params):
    """Fit parameters for the inner estimator: routed when routing is on, as given otherwise."""
    if routing_enabled():
        return dict(process_routing(owner, "fit", **params)["estimator"]["fit"])
    return dict(params)


def _inner_has(attr):
    def check(self):
        inner = getattr(self, "estimator_", None)
        if inner is None:
            inner = self.estimator
        return hasattr(inner, attr)

    return check


class FitRoutingMixin:
    """Routing of ``fit`` metadata to the wrapped ``estimator`` (a meta-estimator's ``get_metadata_routing``)."""

    def get_metadata_routing(self):
        """Routing of fit metadata to the wrapped estimator.

        Returns
        -------
        routing : MetadataRouter
        """
        router = MetadataRouter(owner=type(self).__name__)
        return router.add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))


class DelegatingClassifierMixin(FitRoutingMixin):
    """What a classifier wrapping ``estimator`` delegates to it.

    ``predict_proba``/``predict_log_proba``/``decision_function`` of the fitted
    ``estimator_``, its input tags, and the routing of ``fit`` metadata to it.
    Put it before scikit-learn's classes in the bases.
    """

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the fitted inner estimator.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the fitted inner estimator.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_log_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        """Decision values of the fitted inner estimator.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    @property
    def n_features_in_(self):
        """Number of features seen by the inner estimator (if it records it)."""
        try:
            check_is_fitted(self, "estimator_")
        except Exception as exc:  # NotFittedError is an AttributeError subclass
            raise AttributeError(f"{type(self).__name__} is not fitted: no n_features_in_") from exc
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Feature names seen by the inner estimator (if it records them)."""
        try:
            check_is_fitted(self, "estimator_")
        except Exception as exc:
            raise AttributeError(f"{type(self).__name__} is not fitted: no feature_names_in_") from exc
        return self.estimator_.feature_names_in_

    def __sklearn_tags__(self):
        return with_input_tags_of(self.estimator, super().__sklearn_tags__())



def with_input_tags_of(estimator, tags):
    """``tags`` (of a meta-estimator) taking the input tags of the ``estimator`` it wraps."""
    from sklearn_compat.utils import get_tags

    tags.input_tags = copy.deepcopy(get_tags(estimator).input_tags)
    tags.target_tags.required = True
    return tags


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
