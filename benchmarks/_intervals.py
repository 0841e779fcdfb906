"""Pooled out-of-fold metrics and their 95 % intervals by a bootstrap over near-duplicate groups.

Each repeat of a repeated K-fold gives every photograph exactly one out-of-fold
prediction.  A figure is the metric of those pooled predictions, averaged over
repeats.  Its interval resamples the near-duplicate *groups* with replacement
(a group's photographs are not independent), recomputes the figure on the
resampled photographs for every repeat and averages over repeats, and takes the
2.5th and 97.5th percentiles (percentile bootstrap).  Systems scored on the same
photographs are resampled with the same draws, so differences between them get
paired intervals.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

BINARY = ("roc_auc", "macro_f1", "balanced_accuracy", "sensitivity", "specificity")
MULTICLASS = ("macro_f1", "weighted_f1", "balanced_accuracy", "roc_auc")


def pooled_by_repeat(report, n_repeats=None):
    """``[(score, pred), ...]`` per repeat from an EvaluationReport's fold predictions.

    ``score`` is the out-of-fold probability of the positive class (binary) or
    the probability matrix (multiclass); ``pred`` the predicted labels.  Only
    the first ``n_repeats`` repeats are used when given.
    """
    n = len(report.y)
    total = int(getattr(report.cv, "n_repeats", 1))
    per_repeat = max(1, len(report.fold_predictions) // total)
    binary = len(report.classes) == 2
    pos = list(report.classes).index(report.pos_label) if binary else None
    out = []
    for r in range(total if n_repeats is None else min(n_repeats, total)):
        score = np.full(n, np.nan) if binary else np.full((n, len(report.classes)), np.nan)
        pred = np.empty(n, dtype=object)
        for fold in report.fold_predictions[r * per_repeat:(r + 1) * per_repeat]:
            test = fold["test"]
            score[test] = fold["proba"][:, pos] if binary else fold["proba"]
            pred[test] = fold["pred"]
        out.append((score, pred))
    return out


def _auc(y_pos, score):
    n_pos = int(y_pos.sum())
    n_neg = y_pos.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = rankdata(score)
    return (ranks[y_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def binary_metrics(y, score, pred, pos):
    """ROC AUC, macro-F1, balanced accuracy, sensitivity and specificity of ``pos``."""
    y_pos = y == pos
    p_pos = pred == pos
    tp = np.sum(y_pos & p_pos)
    fn = np.sum(y_pos & ~p_pos)
    tn = np.sum(~y_pos & ~p_pos)
    fp = np.sum(~y_pos & p_pos)
    sens = tp / (tp + fn) if tp + fn else np.nan
    spec = tn / (tn + fp) if tn + fp else np.nan
    f1_pos = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    f1_neg = 2 * tn / (2 * tn + fn + fp) if tn + fn + fp else 0.0
    return {"roc_auc": _auc(y_pos, score), "macro_f1": (f1_pos + f1_neg) / 2,
            "balanced_accuracy": (sens + spec) / 2, "sensitivity": sens, "specificity": spec}


def multiclass_metrics(y, proba, pred, classes):
    """Macro and weighted F1, balanced accuracy and one-vs-rest macro ROC AUC."""
    f1, recall, support, aucs = [], [], [], []
    for j, c in enumerate(classes):
        yt, yp = y == c, pred == c
        tp, fp, fn = np.sum(yt & yp), np.sum(~yt & yp), np.sum(yt & ~yp)
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        recall.append(tp / (tp + fn) if tp + fn else np.nan)
        support.append(tp + fn)
        aucs.append(_auc(yt, proba[:, j]))
    f1, support = np.array(f1), np.array(support, dtype=float)
    return {"macro_f1": float(f1.mean()), "weighted_f1": float((f1 * support).sum() / support.sum()),
            "balanced_accuracy": float(np.nanmean(recall)), "roc_auc": float(np.nanmean(aucs))}


class GroupBootstrap:
    """Figures with percentile intervals, resampling whole groups (the same draws for every system).

    Parameters
    ----------
    y : ndarray of shape (n,)
        Labels.
    groups : ndarray of shape (n,)
        Near-duplicate group of every photograph.
    n_resamples : int, default=1000
    random_state : int, default=0
    """

    def __init__(self, y, groups, n_resamples=1000, random_state=0):
        self.y = np.asarray(y)
        _, codes = np.unique(groups, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        self.members = np.split(order, np.cumsum(counts)[:-1])
        rng = np.random.default_rng(random_state)
        self.draws = [rng.integers(0, len(self.members), len(self.members)) for _ in range(n_resamples)]

    def _indices(self, draw):
        return np.concatenate([self.members[g] for g in draw])

    def values(self, pooled, metric_fn, y=None):
        """Figure on all photographs and on every resample: ``(point dict, {metric: ndarray})``.

        ``y``: the labels of this problem (default: those given at construction).
        """
        y = self.y if y is None else np.asarray(y)

        def figure(idx):
            rows = [metric_fn(y[idx], score[idx], pred[idx]) for score, pred in pooled]
            return {m: float(np.nanmean([r[m] for r in rows])) for m in rows[0]}

        point = figure(np.arange(y.shape[0]))
        samples = [figure(self._indices(d)) for d in self.draws]
        return point, {m: np.array([s[m] for s in samples]) for m in point}

    @staticmethod
    def interval(samples):
        lo, hi = np.nanpercentile(samples, [2.5, 97.5])
        return float(lo), float(hi)

    def summarise(self, pooled, metric_fn, y=None):
        """``{metric: (point, low, high)}`` and the resampled values (for paired differences)."""
        point, samples = self.values(pooled, metric_fn, y)
        return {m: (point[m], *self.interval(samples[m])) for m in point}, samples
