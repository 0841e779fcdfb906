"""Metrics for ordered classes (severity levels).

All functions take class *values* (e.g. severity 0-3) and measure distances
between them on that scale, so a level missing from a test fold does not shift
the distances between the others.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d


def _weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n, dtype=float)
    w = column_or_1d(np.asarray(sample_weight, dtype=float))
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} entries, expected {n}")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    return w


def _numeric_labels(labels):
    labels = np.asarray(labels)
    if labels.dtype.kind in "biuf":
        return labels.astype(float)
    # non-numeric labels: their position in the (sorted) label list is the scale
    return np.arange(len(labels), dtype=float)


def ranked_probability_score(y_true, y_proba, *, labels=None, sample_weight=None, normalize=True):
    """Ranked probability score of predicted distributions over ordered classes.

    For each sample the squared differences between the predicted and the
    observed cumulative distributions are summed over the class boundaries::

        RPS_i = sum_{k < K-1} (P(y <= c_k) - 1[y_i <= c_k])^2

    and averaged over samples (weighted by ``sample_weight``).  With
    ``normalize=True`` the sum is divided by ``K - 1`` so the score lies in
    ``[0, 1]``; lower is better.  Unlike the log-loss, predicting a level next to
    the true one costs less than predicting a distant one.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed classes.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted class probabilities, columns in the order of ``labels``.  A 1-D
        array is read as the probability of the second of two classes (what
        scikit-learn scorers pass for binary problems).
    labels : array-like of shape (n_classes,), optional
        The ordered classes of the columns.  By default: ``0 .. n_classes - 1``
        when ``y_true`` holds integers in that range (a severity level missing
        from ``y_true`` is fine), otherwise the sorted unique values of
        ``y_true``, which must then number ``n_classes``.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.
    normalize : bool, default=True
        Divide by ``n_classes - 1``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from dermfeat.metrics import ranked_probability_score
    >>> ranked_probability_score([0, 2], [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    0.0625
    """
    y_true = column_or_1d(np.asarray(y_true))
    proba = np.asarray(y_proba, dtype=float)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2:
        raise ValueError(f"y_proba must be 1-D or 2-D, got shape {proba.shape}")
    check_consistent_length(y_true, proba)
    n_classes = proba.shape[1]
    if labels is None:
        labels = _default_labels(y_true, n_classes)
    labels = np.asarray(labels)
    if labels.shape[0] != n_classes:
        raise ValueError(f"y_proba has {n_classes} columns but {labels.shape[0]} labels were given")
    if n_classes < 2:
        raise ValueError("the ranked probability score needs at least two classes")
    index = _index_of(y_true, labels)
    w = _weights(sample_weight, y_true.shape[0])
    cum_pred = np.cumsum(proba, axis=1)[:, :-1]
    cum_true = (index[:, None] <= np.arange(n_classes - 1)[None, :]).astype(float)
    per_sample = np.sum((cum_pred - cum_true) ** 2, axis=1)
    if normalize:
        per_sample /= n_classes - 1
    return float(np.average(per_sample, weights=w))


def _default_labels(y_true, n_classes):
    values = np.unique(y_true)
    if values.dtype.kind in "biu" or (values.dtype.kind == "f" and np.all(values == np.round(values))):
        if values.size and values.min() >= 0 and values.max() < n_classes:
            return np.arange(n_classes)
    if values.shape[0] != n_classes:
        raise ValueError(
            f"y_true has {values.shape[0]} classes but y_proba has {n_classes} columns; pass labels=..."
        )
    return values


def _index_of(y, labels):
    order = np.argsort(labels, kind="stable")
    pos = np.searchsorted(labels[order], y)
    pos = np.clip(pos, 0, len(labels) - 1)
    found = labels[order][pos] == y
    if not np.all(found):
        missing = np.unique(np.asarray(y)[~found])
        raise ValueError(f"y contains labels not in labels: {missing.tolist()}")
    return order[pos]


def quadratic_weighted_kappa(y_true, y_pred, *, labels=None, sample_weight=None):
    """Cohen's kappa with quadratic disagreement weights.

    Agreement beyond chance where a disagreement of ``d`` levels costs ``d**2``.
    Distances are measured between the class *values* when they are numeric
    (so a severity level absent from a fold does not shrink the distance
    between its neighbours) and between positions in ``labels`` otherwise.
    Equal to ``sklearn.metrics.cohen_kappa_score(..., weights="quadratic")``
    whenever all levels are present.  1 is perfect agreement, 0 chance level.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted classes.
    labels : array-like, optional
        The ordered classes; default: the sorted union of both.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.

    Returns
    -------
    kappa : float

    Examples
    --------
    >>> from dermfeat.metrics import quadratic_weighted_kappa
    >>> round(quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 3, 3]), 3)
    0.917
    """
    y_true = column_or_1d(np.asarray(y_true))
    y_pred = column_or_1d(np.asarray(y_pred))
    check_consistent_length(y_true, y_pred)
    labels = np.unique(np.concatenate([y_true, y_pred])) if labels is None else np.asarray(labels)
    k = labels.shape[0]
    w = _weights(sample_weight, y_true.shape[0])
    i, j = _index_of(y_true, labels), _index_of(y_pred, labels)
    observed = np.zeros((k, k))
    np.add.at(observed, (i, j), w)
    total = observed.sum()
    if total == 0:
        return 0.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    values = _numeric_labels(labels)
    disagreement = (values[:, None] - values[None, :]) ** 2
    denom = np.sum(disagreement * expected)
    if denom == 0:
        return 1.0 if np.sum(disagreement * observed) == 0 else 0.0
    return float(1.0 - np.sum(disagreement * observed) / denom)


def macro_averaged_mae(y_true, y_pred, *, sample_weight=None):
    """Mean absolute error averaged over the classes present in ``y_true``.

    The MAE is computed separately within each true class and the per-class
    values are averaged with equal weight, so a rare severe level counts as much
    as the frequent mild ones (Baccianella et al. 2009).  Equals
    ``imblearn.metrics.macro_averaged_mean_absolute_error`` without requiring
    imbalanced-learn.  Lower is better.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Observed and predicted numeric classes.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights (within each class).

    Returns
    -------
    mae : float

    Examples
    --------
    >>> from dermfeat.metrics import macro_averaged_mae
    >>> macro_averaged_mae([0, 0, 0, 3], [0, 0, 0, 1])
    1.0
    """
    y_true = column_or_1d(np.asarray(y_true, dtype=float))
    y_pred = column_or_1d(np.asarray(y_pred, dtype=float))
    check_consistent_length(y_true, y_pred)
    w = _weights(sample_weight, y_true.shape[0])
    errors = []
    for value in np.unique(y_true):
        mask = y_true == value
        if w[mask].sum() > 0:
            errors.append(np.average(np.abs(y_true[mask] - y_pred[mask]), weights=w[mask]))
    if not errors:
        raise ValueError("macro_averaged_mae needs at least one sample with positive weight")
    return float(np.mean(errors))
