"""Metrics of one test fold, from predictions and probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ..metrics import expected_calibration_error

#: Metrics shown first in tables, in this order (binary problems).
BINARY_HEADLINE = ("roc_auc", "average_precision", "macro_f1", "balanced_accuracy", "sensitivity", "specificity", "brier", "calibration_error")
MULTICLASS_HEADLINE = ("roc_auc", "macro_f1", "weighted_f1", "balanced_accuracy", "accuracy", "brier")


def fold_metrics(y_true, y_pred, proba, classes, pos_label):
    """All reported metrics for one set of predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels.
    proba : ndarray of shape (n, n_classes) or None
        Class probabilities in the order of ``classes``.
    classes : ndarray
        All classes (sorted).
    pos_label : label
        The positive class of binary metrics.

    Returns
    -------
    metrics : dict of float
        Binary: ``roc_auc``, ``average_precision`` (area under the
        precision-recall curve of ``pos_label``), ``macro_f1``, ``balanced_accuracy``, ``accuracy``,
        ``sensitivity`` and ``specificity`` of ``pos_label``, ``precision_<c>`` and
        ``recall_<c>`` per class, ``brier``, ``calibration_error``.  Multiclass: ROC
        AUC one-vs-rest (macro), macro/weighted F1, balanced accuracy, accuracy,
        per-class precision/recall, multiclass Brier score.  Metrics that are
        undefined for the fold (a class missing) are NaN.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(classes)
    out = {
        "macro_f1": f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "weighted_f1": f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0),
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred, labels),
        "accuracy": float(np.mean(y_true == y_pred)),
    }
    precision, recall, _, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    for c, p, r, s in zip(labels, precision, recall, support):
        out[f"precision_{c}"] = float(p)
        out[f"recall_{c}"] = float(r) if s else np.nan
    present = set(np.unique(y_true).tolist())
    if len(labels) == 2:
        negative = labels[0] if labels[1] == pos_label else labels[1]
        out["sensitivity"] = out[f"recall_{pos_label}"]
        out["specificity"] = out[f"recall_{negative}"]
        if proba is not None:
            p_pos = proba[:, labels.index(pos_label)]
            y_pos = (y_true == pos_label).astype(int)
            out["roc_auc"] = roc_auc_score(y_pos, p_pos) if len(present) == 2 else np.nan
            out["average_precision"] = average_precision_score(y_pos, p_pos) if y_pos.any() else np.nan
            out["brier"] = brier_score_loss(y_pos, p_pos)
            out["calibration_error"] = expected_calibration_error(y_pos, p_pos)
    elif proba is not None:
        onehot = (y_true[:, None] == np.asarray(labels)[None, :]).astype(float)
        out["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
        if present == set(labels):
            out["roc_auc"] = roc_auc_score(y_true, proba, labels=labels, multi_class="ovr", average="macro")
        else:
            out["roc_auc"] = np.nan
    return {k: float(v) for k, v in out.items()}


def _balanced_accuracy(y_true, y_pred, labels):
    """Mean recall over the classes present in ``y_true`` (no warning when a prediction names another class)."""
    present = [c for c in labels if np.any(y_true == c)]
    if not present:
        return np.nan
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))
