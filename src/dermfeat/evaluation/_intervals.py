"""Group-bootstrap confidence intervals of pooled out-of-fold metrics."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

#: Metrics :func:`bootstrap_intervals` computes.
INTERVAL_METRICS = ("roc_auc", "average_precision", "macro_f1", "balanced_accuracy", "sensitivity", "specificity",
                    "accuracy")


def _auc(positive, score):
    """Binary ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half (as scikit-learn)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _recalls(codes_true, codes_pred, k):
    """Correct predictions and support per class (code ``k``: a prediction outside the classes)."""
    support = np.bincount(codes_true, minlength=k + 1)[:k]
    hits = np.bincount(codes_true[codes_true == codes_pred], minlength=k + 1)[:k]
    return hits, support


def _metric(name, codes_true, codes_pred, proba, k, pos):
    """One metric of integer-coded labels (``pos``: the positive code for binary metrics)."""
    present = np.unique(codes_true)
    if name in ("roc_auc", "average_precision"):
        if proba is None or len(present) < 2:
            return np.nan
        if k == 2:
            if name == "average_precision":
                return float(average_precision_score(codes_true == pos, proba[:, pos]))
            return float(_auc(codes_true == pos, proba[:, pos]))
        if name == "average_precision" or len(present) < k:
            return np.nan
        # one-vs-rest, macro average: scikit-learn's roc_auc_score(multi_class="ovr")
        return float(np.mean([_auc(codes_true == c, proba[:, c]) for c in range(k)]))
    hits, support = _recalls(codes_true, codes_pred, k)
    if name == "accuracy":
        return float(hits.sum() / len(codes_true))
    if name == "balanced_accuracy":
        return float(np.mean(hits[support > 0] / support[support > 0]))
    if name in ("sensitivity", "specificity"):
        if k != 2:
            return np.nan
        c = pos if name == "sensitivity" else 1 - pos
        return float(hits[c] / support[c]) if support[c] else np.nan
    if name == "macro_f1":
        predicted = np.bincount(codes_pred, minlength=k + 1)[:k]
        denom = support + predicted
        f1 = np.where(denom > 0, 2 * hits / np.where(denom > 0, denom, 1), 0.0)
        return float(f1.mean())
    raise ValueError(f"unknown metric {name!r}; choose from {', '.join(INTERVAL_METRICS)}")


def bootstrap_intervals(y, pred, proba, classes, pos_label, groups, metrics, *, n_resamples=1000, confidence=0.95,
                        random_state=0):
    """Pooled metrics and percentile intervals over resampled groups.

    Parameters
    ----------
    y, pred : array-like of shape (n,)
        True and predicted labels.
    proba : ndarray of shape (n, n_classes) or None
        Probabilities in the order of ``classes``.
    classes : array-like
        Sorted classes.
    pos_label : label
        Positive class of the binary metrics.
    groups : array-like of shape (n,) or None
        Resampled as units; None: every sample is its own group.
    metrics : sequence of str
        Names in :data:`INTERVAL_METRICS`.
    n_resamples : int, default=1000
    confidence : float, default=0.95
    random_state : int, default=0

    Returns
    -------
    intervals : dict
        ``metric -> {"pooled", "low", "high"}``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.evaluation._intervals import bootstrap_intervals
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["a", "b"] * 50)
    >>> p_b = np.clip((y == "b") * 0.3 + rng.random(100) * 0.7, 0, 1)
    >>> proba = np.column_stack([1 - p_b, p_b])
    >>> pred = np.where(p_b > 0.5, "b", "a")
    >>> out = bootstrap_intervals(y, pred, proba, ["a", "b"], "b", None, ["roc_auc"], n_resamples=200)
    >>> bool(out["roc_auc"]["low"] < out["roc_auc"]["pooled"] < out["roc_auc"]["high"])
    True
    """
    classes = np.asarray(classes)
    k = len(classes)
    codes_true = np.searchsorted(classes, np.asarray(y))
    codes_pred = np.searchsorted(classes, np.asarray(pred))
    codes_pred = np.where(classes[np.clip(codes_pred, 0, k - 1)] == np.asarray(pred), codes_pred, k)  # unknown: never right
    pos = int(np.searchsorted(classes, pos_label)) if k == 2 else None
    _, members = np.unique(np.arange(len(codes_true)) if groups is None else np.asarray(groups).astype(str),
                           return_inverse=True)
    order = np.argsort(members, kind="stable")
    sizes = np.bincount(members)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    n_groups = len(sizes)
    rng = np.random.default_rng(random_state)
    alpha = (1 - confidence) / 2
    draws = {m: [] for m in metrics}
    for _ in range(int(n_resamples)):
        chosen = rng.integers(0, n_groups, n_groups)
        lengths = sizes[chosen]
        offsets = np.repeat(starts[chosen] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        index = order[offsets + np.arange(lengths.sum())]
        sub_proba = None if proba is None else proba[index]
        for m in metrics:
            draws[m].append(_metric(m, codes_true[index], codes_pred[index], sub_proba, k, pos))
    out = {}
    for m in metrics:
        pooled = _metric(m, codes_true, codes_pred, proba, k, pos)
        values = np.asarray(draws[m], dtype=float)
        values = values[~np.isnan(values)]
        low, high = (np.quantile(values, [alpha, 1 - alpha]) if len(values) else (np.nan, np.nan))
        out[m] = {"pooled": float(pooled), "low": float(low), "high": float(high)}
    return out
