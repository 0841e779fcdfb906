"""The object :func:`evaluate` returns: tables, out-of-fold predictions, plots, HTML."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix

from ..metrics import threshold_metrics
from ._intervals import bootstrap_intervals
from ._metrics import BINARY_HEADLINE, MULTICLASS_HEADLINE, fold_metrics


#: Metrics that mean nothing for photographs of a single class.
_NEEDS_BOTH_CLASSES = ("roc_auc", "average_precision", "macro_f1", "weighted_f1", "calibration_error")


def _fmt(mean, std):
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {std:.3f}"


class EvaluationReport:
    """Results of :func:`dermfeat.evaluation.evaluate`.

    Attributes
    ----------
    folds : list of dict
        One record per test fold: ``fold``, ``repeat``, sizes, the decision
        ``threshold`` the fitted estimator used (when it exposes one), timings and
        every metric of :func:`~dermfeat.evaluation.fold_metrics`.
    oof_proba : ndarray of shape (n_samples, n_classes) or None
        Out-of-fold class probabilities, averaged over repeats.  Metrics of
        these pooled predictions (:meth:`oof_metrics`, :meth:`intervals`, the
        ROC and precision-recall plots) are one number over all photographs;
        :meth:`summary` averages the metric of each test fold.  The two differ
        (a fold's AUC only ranks the photographs of that fold), so every table
        and plot says which one it shows.
    oof_pred : ndarray of shape (n_samples,)
        Out-of-fold predictions (majority over repeats).
    fold_predictions : list of dict
        Per test fold: ``train`` and ``test`` (indices), ``proba`` (class
        probabilities in the order of ``classes``, or None) and ``pred``.
    classes, pos_label, groups, y, subgroups
        What the evaluation ran on.
    subtype_true, subtype_pred : ndarray of shape (n_samples,) or None
        With a model fitted on subtypes (``fit_params={"fine_labels": ...}``
        and a :class:`~dermfeat.decision.HierarchicalClassifier` decision):
        the true subtypes and the out-of-fold most likely subtype (majority
        over repeats); None otherwise.
    elapsed : float
        Wall time of the cross-validation, in seconds.
    """

    def __init__(
        self,
        *,
        estimator,
        sources,
        y,
        classes,
        pos_label,
        groups,
        cv,
        folds,
        oof_proba,
        oof_pred,
        repeat_preds,
        subgroups,
        elapsed,
        fold_predictions=None,
        fit_params=None,
        subtype_true=None,
        subtype_pred=None,
    ):
        self.estimator = estimator
        self.sources = sources
        self.y = y
        self.classes = classes
        self.pos_label = pos_label
        self.groups = groups
        self.cv = cv
        self.folds = folds
        self.oof_proba = oof_proba
        self.oof_pred = oof_pred
        self.repeat_preds = repeat_preds
        self.fold_predictions = fold_predictions or []
        self.subgroups = subgroups
        self.elapsed = elapsed
        self.fit_params = fit_params or {}
        self.subtype_true = subtype_true
        self.subtype_pred = subtype_pred
        self._intervals = {}

    # ------------------------------------------------------------- numbers
    @property
    def is_binary(self):
        return len(self.classes) == 2

    @property
    def headline_metrics(self):
        names = BINARY_HEADLINE if self.is_binary else MULTICLASS_HEADLINE
        return [m for m in names if m in self.folds[0]]

    def scores(self, metric):
        """Per-fold values of one metric (NaN where undefined for a fold)."""
        return np.array([f.get(metric, np.nan) for f in self.folds], dtype=float)

    def summary(self):
        """Mean and standard deviation over folds of every metric.

        Returns
        -------
        summary : dict
            ``metric -> (mean, std)``; folds where a metric is undefined are skipped.
        """
        skip = {"fold", "repeat", "n_train", "n_test", "threshold", "threshold_std", "fit_time", "score_time"}
        out = {}
        for metric in self.folds[0]:
            if metric in skip:
                continue
            values = self.scores(metric)
            values = values[~np.isnan(values)]
            out[metric] = (float(values.mean()), float(values.std())) if len(values) else (np.nan, np.nan)
        return out

    def thresholds(self):
        """Decision thresholds chosen inside each training fold (empty if none)."""
        values = [f["threshold"] for f in self.folds if f["threshold"] is not None]
        return np.array(values, dtype=float)

    @property
    def threshold_is_fixed(self):
        """Whether every fold used the same threshold without tuning it (e.g. ``threshold="fixed"``)."""
        thresholds = self.thresholds()
        tuned = any(f.get("threshold_std") is not None for f in self.folds)
        return bool(len(thresholds)) and not tuned and bool(np.all(thresholds == thresholds[0]))

    def threshold_text(self):
        """The decision threshold in words: fixed, or its spread over the training folds ('' if none)."""
        thresholds = self.thresholds()
        if not len(thresholds):
            return ""
        if self.threshold_is_fixed:
            return f"{thresholds[0]:.3f} (fixed, not tuned)"
        return f"{_fmt(thresholds.mean(), thresholds.std())} (chosen in training folds)"

    def intervals(self, metrics=("roc_auc", "macro_f1"), *, n_resamples=1000, confidence=0.95, random_state=0):
        """Pooled out-of-fold metrics with group-bootstrap confidence intervals.

        The groups (near-duplicates, patients; each photograph its own group
        when there are none) are resampled with replacement, so copies of one
        photograph move together and the interval is not too narrow.

        Parameters
        ----------
        metrics : sequence of str, default=("roc_auc", "macro_f1")
            Any of ``roc_auc``, ``average_precision``, ``macro_f1``,
            ``balanced_accuracy``, ``sensitivity``, ``specificity``, ``accuracy``.
        n_resamples : int, default=1000
        confidence : float, default=0.95
        random_state : int, default=0

        Returns
        -------
        intervals : dict
            ``metric -> {"pooled", "low", "high"}`` (percentile interval); NaN
            where a metric is undefined.
        """
        key = (tuple(metrics), n_resamples, confidence, random_state)
        if key not in self._intervals:
            self._intervals[key] = bootstrap_intervals(
                self.y, self.oof_pred, self.oof_proba, self.classes, self.pos_label, self.groups, metrics,
                n_resamples=n_resamples, confidence=confidence, random_state=random_state,
            )
        return self._intervals[key]

    def table(self, metrics=None):
        """The mean ± std table as text.

        Parameters
        ----------
        metrics : list of str, optional
            Default: the headline metrics plus per-class precision/recall.
        """
        summary = self.summary()
        if metrics is None:
            metrics = list(self.headline_metrics)
            metrics += [m for m in summary if m.startswith(("precision_", "recall_"))]
            metrics += [m for m in summary if m.startswith(("coverage", "mean_set_size", "out_of_distribution"))]
        width = max(len(m) for m in metrics) + 2
        pooled = self.intervals()
        lines = [f"{'metric':<{width}}{'mean ± std over ' + str(len(self.folds)) + ' folds':<26}"
                 "pooled out-of-fold [95% group-bootstrap interval]"]
        for m in metrics:
            line = f"{m:<{width}}{_fmt(*summary.get(m, (np.nan, np.nan))):<26}"
            if m in pooled and not np.isnan(pooled[m]["pooled"]):
                p = pooled[m]
                line += f"{p['pooled']:.3f} [{p['low']:.3f}, {p['high']:.3f}]"
            lines.append(line.rstrip())
        if len(self.thresholds()):
            lines.append(f"{'threshold':<{width}}{self.threshold_text()}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<EvaluationReport: {len(self.folds)} folds, {len(self.y)} samples>\n" + self.table()

    def confusion_matrix(self):
        """Confusion matrix of the out-of-fold predictions (rows: true, columns: predicted)."""
        return confusion_matrix(self.y, self.oof_pred, labels=self.classes)

    def subtype_confusion_matrix(self):
        """Out-of-fold subtype confusion matrix: true subtypes x predicted subtypes, or None.

        Returns
        -------
        confusion : tuple or None
            ``(rows, columns, counts)``: the true subtypes (most frequent
            first), the predicted ones (merged classes such as
            ``"other eczema"`` last) and the counts; None when the evaluation
            had no subtypes.
        """
        if self.subtype_pred is None:
            return None
        from ._subtypes import subtype_confusion

        return subtype_confusion(self.subtype_true, self.subtype_pred)

    def oof_metrics(self):
        """Metrics of the pooled out-of-fold predictions (one number each, no spread)."""
        return fold_metrics(self.y, self.oof_pred, self.oof_proba, self.classes, self.pos_label)

    @property
    def positive_proba(self):
        """Out-of-fold probability of ``pos_label`` (binary problems)."""
        if self.oof_proba is None or not self.is_binary:
            return None
        return self.oof_proba[:, list(self.classes).index(self.pos_label)]

    def threshold_curve(self, thresholds=101):
        """Metrics of the out-of-fold probabilities at every threshold (binary).

        Parameters
        ----------
        thresholds : int or array-like, default=101
            An int gives an evenly spaced grid on [0, 1].

        Returns
        -------
        curve : dict of ndarray
            See :func:`dermfeat.metrics.threshold_metrics`.
        """
        if self.positive_proba is None:
            raise ValueError("a threshold curve needs binary out-of-fold probabilities")
        grid = np.linspace(0, 1, thresholds) if np.isscalar(thresholds) else np.asarray(thresholds)
        return threshold_metrics(self.y, self.positive_proba, grid, pos_label=self.pos_label)

    def misclassified(self, n=None):
        """Misclassified samples, most confident first.

        Returns
        -------
        rows : list of dict
            ``index``, ``source`` (the path or ``"<array #i>"``), ``true``,
            ``predicted``, ``confidence`` (out-of-fold probability of the
            predicted class) and ``kind`` (``"false positive"`` / ``"false
            negative"`` for binary problems, else ``"error"``).
        """
        from ..io import image_name

        wrong = np.flatnonzero(self.oof_pred != self.y)
        rows = []
        for i in wrong:
            confidence = np.nan
            if self.oof_proba is not None:
                confidence = float(self.oof_proba[i, list(self.classes).index(self.oof_pred[i])])
            kind = "error"
            if self.is_binary:
                kind = "false positive" if self.oof_pred[i] == self.pos_label else "false negative"
            source = self.sources[i] if not hasattr(self.sources, "iloc") else self.sources.iloc[i]
            rows.append(
                {
                    "index": int(i),
                    "source": image_name(source, int(i)) if not isinstance(source, str) else source,
                    "true": self.y[i],
                    "predicted": self.oof_pred[i],
                    "confidence": confidence,
                    "kind": kind,
                }
            )
        rows.sort(key=lambda r: -r["confidence"] if not np.isnan(r["confidence"]) else 0)
        return rows[:n] if n is not None else rows

    def subgroup_table(self, name):
        """Metrics of the out-of-fold predictions per level of one subgroup variable.

        Parameters
        ----------
        name : str
            A key of ``subgroups`` (e.g. ``"skin_tone"``, ``"blur"``, ``"exposure"``).

        Returns
        -------
        rows : list of dict
            ``group``, ``n``, ``n_positive`` and the metrics for each level, in the
            variable's natural order.  Small groups give noisy numbers: read ``n``.
            A level whose photographs all have one class (a subtype of one
            diagnosis, say) has the metrics of that class only (``accuracy``,
            its recall, ``sensitivity`` or ``specificity``, ``brier``) and
            NaN for the metrics that need both classes.
        """
        from ._subgroups import level_order

        labels = np.asarray(self.subgroups[name], dtype=object)
        levels = level_order(labels)
        rows = []
        for level in levels:
            mask = labels == level
            proba = None if self.oof_proba is None else self.oof_proba[mask]
            metrics = fold_metrics(self.y[mask], self.oof_pred[mask], proba, self.classes, self.pos_label)
            if len(np.unique(self.y[mask])) < 2:
                for key in metrics:
                    if key in _NEEDS_BOTH_CLASSES or key.startswith("precision_"):
                        metrics[key] = np.nan
            row = {"group": level, "n": int(mask.sum())}
            if self.is_binary:
                row["n_positive"] = int((self.y[mask] == self.pos_label).sum())
            row.update(metrics)
            rows.append(row)
        return rows

    def fold_estimator(self, fold):
        """Refit the estimator of one fold (its training photographs, groups and fit parameters).

        The model that made the fold's out-of-fold predictions, rebuilt: with
        seeded estimators it predicts the same probabilities, so it can explain
        them (the report's heat maps).

        Parameters
        ----------
        fold : int
            Index into ``folds``.

        Returns
        -------
        estimator : fitted clone of ``estimator``
        """
        from sklearn.base import clone

        from ._fit_params import _groups_param, _take

        train = self.fold_predictions[fold]["train"]
        n = len(self.y)
        params = {k: _take(v, train) if hasattr(v, "__len__") and len(v) == n else v for k, v in self.fit_params.items()}
        name = _groups_param(self.estimator)
        if name is not None and self.groups is not None and name not in params:
            params[name] = np.asarray(self.groups)[train]
        return clone(self.estimator).fit(_take(self.sources, train), self.y[train], **params)

    def to_frame(self):
        """Per-fold records as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.folds)

    # --------------------------------------------------------------- plots
    def plot_confusion_matrix(self, ax=None, normalize=None):
        """Plot the out-of-fold confusion matrix (:class:`sklearn.metrics.ConfusionMatrixDisplay`)."""
        from sklearn.metrics import ConfusionMatrixDisplay

        return ConfusionMatrixDisplay.from_predictions(
            self.y, self.oof_pred, labels=self.classes, normalize=normalize, ax=ax, colorbar=False
        )

    def _pooled_vs_mean(self, metric, label):
        mean, std = self.summary().get(metric, (np.nan, np.nan))
        return f"{label}: pooled out-of-fold (legend); mean over {len(self.folds)} test folds {_fmt(mean, std)}"

    def plot_roc_curve(self, ax=None):
        """Plot the pooled out-of-fold ROC curve of ``pos_label`` (:class:`sklearn.metrics.RocCurveDisplay`).

        The legend's AUC is that of the pooled predictions; the title gives
        the mean ± std of the per-fold AUCs the tables report.
        """
        from sklearn.metrics import RocCurveDisplay

        display = RocCurveDisplay.from_predictions(
            self.y, self.positive_proba, pos_label=self.pos_label, ax=ax, name="pooled out-of-fold",
            plot_chance_level=True,
        )
        display.ax_.set_title(self._pooled_vs_mean("roc_auc", "ROC AUC"), fontsize="small")
        return display

    def plot_precision_recall_curve(self, ax=None):
        """Plot the pooled out-of-fold precision-recall curve of ``pos_label`` with its average precision.

        Uses :class:`sklearn.metrics.PrecisionRecallDisplay`; the dashed line
        is the prevalence of ``pos_label`` (a classifier without skill).
        """
        from sklearn.metrics import PrecisionRecallDisplay

        display = PrecisionRecallDisplay.from_predictions(
            self.y, self.positive_proba, pos_label=self.pos_label, ax=ax, name="pooled out-of-fold",
            plot_chance_level=True,
        )
        display.ax_.set_title(self._pooled_vs_mean("average_precision", "AP"), fontsize="small")
        return display

    def plot_calibration(self, ax=None, n_bins=10):
        """Plot the calibration curve (:class:`sklearn.calibration.CalibrationDisplay`)."""
        from sklearn.calibration import CalibrationDisplay

        return CalibrationDisplay.from_predictions(
            self.y, self.positive_proba, pos_label=self.pos_label, n_bins=n_bins, ax=ax, name="out-of-fold"
        )

    def plot_threshold_curve(self, ax=None, metrics=("sensitivity", "specificity", "macro_f1")):
        """Plot metrics against the decision threshold (:class:`ThresholdCurveDisplay`)."""
        from ._display import ThresholdCurveDisplay

        return ThresholdCurveDisplay.from_report(self, metrics=metrics, ax=ax)

    def plot_subgroups(self, name, ax=None, metrics=None):
        """Plot metrics per subgroup level with group sizes (:class:`SubgroupMetricsDisplay`)."""
        from ._display import SubgroupMetricsDisplay

        return SubgroupMetricsDisplay.from_report(self, name, metrics=metrics, ax=ax)

    def to_html(self, path, *, title="dermfeat evaluation report", n_gallery=8, n_heatmaps=4):
        """Write one self-contained HTML file: tables, plots and an error gallery.

        Parameters
        ----------
        path : path-like
            Output file.
        title : str
            Page title.
        n_gallery : int, default=8
            Most confident false positives and false negatives shown as
            thumbnails; copies of one photograph are shown once.
        n_heatmaps : int, default=4
            Of those, the most confident mistakes get an occlusion heat map
            (:func:`dermfeat.explain.occlusion_sensitivity`, with a colour bar)
            from the model of their fold, refitted
            (:meth:`fold_estimator`); 0 for none.

        Returns
        -------
        path : pathlib.Path
        """
        from ._html import write_html

        if not isinstance(n_heatmaps, int) or isinstance(n_heatmaps, bool) or n_heatmaps < 0:
            raise ValueError(f"n_heatmaps must be a whole number >= 0, got {n_heatmaps!r}")
        return write_html(self, path, title=title, n_gallery=n_gallery, n_heatmaps=n_heatmaps)
