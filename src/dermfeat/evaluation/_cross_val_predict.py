"""Out-of-fold predictions that keep the class labels (a string ``pos_label`` keeps working)."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import check_cv
from sklearn.utils.parallel import Parallel, delayed

from ._fit_params import _groups_param, _take

_PROBA_METHODS = ("predict_proba", "predict_log_proba", "decision_function")


def _fit_predict(estimator, X, y, train, test, params, method):
    estimator.fit(_take(X, train), y[train], **params)
    return getattr(estimator, method)(_take(X, test)), np.asarray(estimator.classes_)


def cross_val_predict(estimator, X, y, *, groups=None, cv=None, method="predict", params=None, n_jobs=None):
    """Out-of-fold predictions, like :func:`sklearn.model_selection.cross_val_predict`, without encoding ``y``.

    scikit-learn's ``cross_val_predict`` encodes ``y`` as ``0 .. k-1`` for
    ``method="predict_proba"`` (to align the columns of folds that miss a
    class), so an estimator told ``pos_label="atopic_dermatitis"`` (a
    :class:`~dermfeat.model_selection.ThresholdTunedClassifier`, a
    ``make_classifier`` pipeline) never sees that class.  This one fits every
    fold on the labels as given and aligns the columns by each fold's
    ``classes_`` instead.

    Parameters
    ----------
    estimator : classifier
        Cloned for every fold.
    X : images or array-like
        Indexable by rows (lists, arrays, data frames).
    y : array-like of shape (n_samples,)
        Class labels, passed on unchanged.
    groups : array-like of shape (n_samples,), optional
        Group labels for the splitter and, when the estimator's ``fit`` takes
        ``groups`` (or, with metadata routing enabled, its routing consumes
        them), each fold's training groups.
    cv : int, cross-validation splitter or None
        As for scikit-learn (stratified 5-fold by default).
    method : {"predict", "predict_proba", "predict_log_proba", "decision_function"}
        What to collect.
    params : dict, optional
        Extra ``fit`` parameters; sample-aligned arrays are indexed per fold.
    n_jobs : int, optional
        Folds fitted in parallel.

    Returns
    -------
    predictions : ndarray
        ``(n_samples,)`` for ``predict``; ``(n_samples, n_classes)`` in the order
        of ``numpy.unique(y)`` otherwise (0 for a class a training fold lacked;
        ``-inf`` for ``predict_log_proba``; a binary ``decision_function`` is one
        column, as scikit-learn returns it).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.evaluation import cross_val_predict
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.model_selection import ThresholdTunedClassifier
    >>> data = make_lesion_images(60, image_size=64, random_state=0)
    >>> X = ColorFeatures(image_size=64).fit_transform(data.images)
    >>> tuned = ThresholdTunedClassifier(LogisticRegression(max_iter=1000), pos_label="atopic_dermatitis", cv=3)
    >>> cross_val_predict(tuned, X, data.labels, groups=data.groups, cv=3, method="predict_proba").shape
    (60, 2)
    """
    if method not in ("predict", *_PROBA_METHODS):
        raise ValueError(f"method must be 'predict' or one of {', '.join(_PROBA_METHODS)}; got {method!r}")
    y = np.asarray(y)
    n = len(y)
    classes = np.unique(y)
    cv = check_cv(cv, y, classifier=True)
    splits = list(cv.split(np.zeros(n), y, None if groups is None else np.asarray(groups)))
    test_all = np.concatenate([test for _, test in splits])
    if len(test_all) != n or len(np.unique(test_all)) != n:
        raise ValueError("cross_val_predict needs a splitter whose test folds are a partition of the samples")
    name = _groups_param(estimator) if groups is not None else None

    def params_for(train):
        out = {k: _take(v, train) if hasattr(v, "__len__") and len(v) == n else v for k, v in (params or {}).items()}
        if name is not None and name not in out:
            out[name] = np.asarray(groups)[train]
        return out

    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_predict)(clone(estimator), X, y, train, test, params_for(train), method) for train, test in splits
    )
    if method == "predict":
        out = np.empty(n, dtype=np.asarray(results[0][0]).dtype)
        for (_, test), (pred, _) in zip(splits, results):
            out = out.astype(np.result_type(out, np.asarray(pred)), copy=False)
            out[test] = pred
        return out
    binary_decision = method == "decision_function" and len(classes) == 2
    fill = -np.inf if method == "predict_log_proba" else 0.0
    out = np.full((n,) if binary_decision else (n, len(classes)), fill)
    for (_, test), (values, fold_classes) in zip(splits, results):
        values = np.asarray(values, dtype=float)
        if binary_decision:
            out[test] = values.ravel()
            continue
        out[np.ix_(test, np.searchsorted(classes, fold_classes))] = values
    return out


def majority_over_repeats(preds):
    """Most frequent prediction per sample across repeats (ties: the earliest repeat).

    ``preds``: ``(n_repeats, n_samples)`` object array, ``None`` where a repeat has no prediction.
    """
    n_repeats, n = preds.shape
    out = np.empty(n, dtype=object)
    for i in range(n):
        votes = [p for p in preds[:, i] if p is not None]
        values, first = [], {}
        for r, v in enumerate(votes):
            first.setdefault(v, r)
            values.append(v)
        out[i] = max(first, key=lambda v: (values.count(v), -first[v])) if votes else None
    return np.array(out.tolist())
