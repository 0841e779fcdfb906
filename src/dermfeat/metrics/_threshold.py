"""Every standard binary metric at every decision threshold, in one pass."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

#: Binary metrics computed by :func:`threshold_metrics` (all but
#: ``positive_rate`` are "higher is better").
BINARY_METRICS = (
    "sensitivity",
    "specificity",
    "precision",
    "npv",
    "f1_positive",
    "f1_negative",
    "macro_f1",
    "weighted_f1",
    "balanced_accuracy",
    "accuracy",
    "youden",
    "positive_rate",
    "neg_mean_cost",
)

#: Other names accepted for the binary metrics.
BINARY_ALIASES = {
    "recall": "sensitivity",
    "tpr": "sensitivity",
    "true_positive_rate": "sensitivity",
    "tnr": "specificity",
    "true_negative_rate": "specificity",
    "ppv": "precision",
    "f1": "f1_positive",
    "f1_macro": "macro_f1",
    "f1_weighted": "weighted_f1",
    "youden_j": "youden",
}


def _ratio(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _binary_target(y_true, pos_label):
    y_true = column_or_1d(np.asarray(y_true))
    if pos_label is None:
        values = set(np.unique(y_true).tolist())
        if values <= {0, 1} or values <= {-1, 1}:
            pos_label = 1
        else:
            raise ValueError(f"y_true has labels {sorted(values)}; pass pos_label=...")
    return (y_true == pos_label).astype(float)


def threshold_metrics(y_true, y_score, thresholds=None, *, pos_label=None, sample_weight=None, cost_matrix=None):
    """Standard binary metrics at every decision threshold.

    A sample is predicted positive when ``y_score >= threshold``.  The confusion
    counts at all thresholds are obtained from one sort of the scores, so
    thousands of thresholds cost about as much as one.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,)
        Scores of the positive class (probabilities or decision values).
    thresholds : array-like of shape (n_thresholds,), optional
        Default: the unique values of ``y_score``.
    pos_label : int or str, optional
        The positive class (default 1 for 0/1 or -1/1 labels).
    sample_weight : array-like of shape (n_samples,), optional
        Weights of the confusion counts.
    cost_matrix : array-like of shape (2, 2), optional
        ``cost_matrix[i, j]`` is the cost of predicting class ``j`` (0:
        negative, 1: positive) for a sample of class ``i``; used for
        ``neg_mean_cost`` (default: the 0-1 loss, i.e. the error rate).

    Returns
    -------
    metrics : dict of ndarray of shape (n_thresholds,)
        ``threshold`` and the metrics of :data:`BINARY_METRICS`: ``sensitivity``
        (recall of the positive class), ``specificity``, ``precision`` (positive
        predictive value), ``npv`` (negative predictive value), ``f1_positive``,
        ``f1_negative``, ``macro_f1``, ``weighted_f1`` (support-weighted),
        ``balanced_accuracy``, ``accuracy``,
        ``youden`` (sensitivity + specificity - 1), ``positive_rate`` (fraction
        predicted positive) and ``neg_mean_cost``.  Ratios with a zero
        denominator are 0.  Convertible with ``pandas.DataFrame(metrics)``.

    Examples
    --------
    >>> from dermfeat.metrics import threshold_metrics
    >>> m = threshold_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8], [0.5])
    >>> float(m["sensitivity"][0]), float(m["specificity"][0])
    (0.5, 0.5)
    """
    y = _binary_target(y_true, pos_label)
    score = column_or_1d(np.asarray(y_score, dtype=float))
    check_consistent_length(y, score)
    w = np.ones_like(score) if sample_weight is None else column_or_1d(np.asarray(sample_weight, dtype=float))
    check_consistent_length(y, w)
    thresholds = np.unique(score) if thresholds is None else np.asarray(thresholds, dtype=float).ravel()
    order = np.argsort(score, kind="mergesort")
    s, yp, wp = score[order], y[order] * w[order], (1.0 - y[order]) * w[order]
    cum_pos = np.concatenate([[0.0], np.cumsum(yp)])
    cum_neg = np.concatenate([[0.0], np.cumsum(wp)])
    # samples with s >= t are those from searchsorted(s, t, "left") onwards
    start = np.searchsorted(s, thresholds, side="left")
    P, N = cum_pos[-1], cum_neg[-1]
    fn, tn = cum_pos[start], cum_neg[start]
    tp, fp = P - fn, N - tn
    return _from_counts(thresholds, tp, fp, tn, fn, cost_matrix)


def _from_counts(thresholds, tp, fp, tn, fn, cost_matrix=None):
    total = tp + fp + tn + fn
    sens, spec = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    prec, npv = _ratio(tp, tp + fp), _ratio(tn, tn + fn)
    f1p, f1n = _ratio(2 * tp, 2 * tp + fp + fn), _ratio(2 * tn, 2 * tn + fn + fp)
    c = np.array([[0.0, 1.0], [1.0, 0.0]]) if cost_matrix is None else np.asarray(cost_matrix, dtype=float)
    if c.shape != (2, 2):
        raise ValueError(f"a binary cost_matrix must have shape (2, 2), got {c.shape}")
    cost = _ratio(tn * c[0, 0] + fp * c[0, 1] + fn * c[1, 0] + tp * c[1, 1], total)
    return {
        "threshold": np.asarray(thresholds, dtype=float),
        "sensitivity": sens,
        "specificity": spec,
        "precision": prec,
        "npv": npv,
        "f1_positive": f1p,
        "f1_negative": f1n,
        "macro_f1": (f1p + f1n) / 2,
        "weighted_f1": _ratio(f1p * (tp + fn) + f1n * (tn + fp), total),
        "balanced_accuracy": (sens + spec) / 2,
        "accuracy": _ratio(tp + tn, total),
        "youden": sens + spec - 1,
        "positive_rate": _ratio(tp + fp, total),
        "neg_mean_cost": -cost,
    }


def multiclass_metrics(y_true, y_pred, n_classes, *, sample_weight=None, cost_matrix=None, class_names=None):
    """Standard multiclass metrics of integer-coded predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of int of shape (n_samples,)
        Class indices in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes.
    sample_weight : array-like of shape (n_samples,), optional
        Weights.
    cost_matrix : array-like of shape (n_classes, n_classes), optional
        ``cost_matrix[i, j]``: cost of predicting ``j`` for class ``i``
        (default: 0-1 loss).
    class_names : sequence of str, optional
        Suffixes of the per-class metrics (default: the indices).

    Returns
    -------
    metrics : dict of float
        ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``weighted_f1``,
        ``neg_mean_cost`` and, per class ``c``, ``recall_c``, ``precision_c`` and
        ``f1_c``.

    Examples
    --------
    >>> from dermfeat.metrics import multiclass_metrics
    >>> m = multiclass_metrics([0, 1, 2, 2], [0, 2, 2, 2], 3)
    >>> m["accuracy"], m["recall_1"]
    (0.75, 0.0)
    """
    t = np.asarray(y_true, dtype=np.intp)
    p = np.asarray(y_pred, dtype=np.intp)
    w = np.ones(t.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    cm = np.bincount(t * n_classes + p, weights=w, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    return _multiclass_from_confusion(cm, cost_matrix, class_names)


def _multiclass_from_confusion(cm, cost_matrix=None, class_names=None, only=None):
    """Metrics of confusion matrices ``cm`` of shape (..., k, k) (rows: truth).

    Returns floats for one matrix, arrays over the leading axes otherwise;
    ``only`` restricts the computation to the named metrics.
    """
    cm = np.asarray(cm, dtype=float)
    k = cm.shape[-1]
    total = cm.sum(axis=(-2, -1))
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(axis=-1), cm.sum(axis=-2)
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]

    def want(name):
        return only is None or name in only

    def per_class(prefix):
        return any(want(f"{prefix}_{n}") for n in names)

    def masked_mean(values, mask):
        count = mask.sum(axis=-1)
        return _ratio(np.where(mask, values, 0.0).sum(axis=-1), count)

    out = {}
    if want("accuracy"):
        out["accuracy"] = _ratio(tp.sum(axis=-1), total)
    recall = _ratio(tp, support) if want("balanced_accuracy") or per_class("recall") else None
    if recall is not None:
        out["balanced_accuracy"] = masked_mean(recall, support > 0)
    f1 = _ratio(2 * tp, support + predicted) if want("macro_f1") or want("weighted_f1") or per_class("f1") else None
    if f1 is not None:
        out["macro_f1"] = masked_mean(f1, (support + predicted) > 0)
        out["weighted_f1"] = _ratio(np.sum(f1 * support, axis=-1), total)
    if want("neg_mean_cost"):
        c = 1.0 - np.eye(k) if cost_matrix is None else np.asarray(cost_matrix, dtype=float)
        out["neg_mean_cost"] = -_ratio(np.sum(cm * c, axis=(-2, -1)), total)
    precision = _ratio(tp, predicted) if per_class("precision") else None
    for i, name in enumerate(names):
        if recall is not None:
            out[f"recall_{name}"] = recall[..., i]
        if precision is not None:
            out[f"precision_{name}"] = precision[..., i]
        if f1 is not None:
            out[f"f1_{name}"] = f1[..., i]
    scalar = cm.ndim == 2
    return {key: (float(v) if scalar else np.asarray(v)) for key, v in out.items() if want(key)}
