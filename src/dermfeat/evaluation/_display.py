"""Matplotlib displays in scikit-learn's style (``from_*`` constructors, ``plot``)."""

from __future__ import annotations

import numpy as np

_LABELS = {
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "macro_f1": "macro-F1",
    "balanced_accuracy": "balanced accuracy",
    "precision": "precision (PPV)",
    "roc_auc": "ROC AUC",
    "accuracy": "correctly classified",
}

#: Above this many levels, or labels this long, subgroup bars are drawn horizontally.
_MAX_VERTICAL_LEVELS, _MAX_VERTICAL_LABEL = 6, 16


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    return ax


class ThresholdCurveDisplay:
    """Metrics against the decision threshold.

    Like scikit-learn's displays: build it with :meth:`from_predictions` or
    :meth:`from_report`, then read ``ax_``, ``figure_`` and ``lines_``.

    Parameters
    ----------
    thresholds : ndarray
        Threshold grid.
    curves : dict of str to ndarray
        Metric name -> values at each threshold.
    chosen : array-like of float, optional
        Thresholds chosen in the training folds (drawn as a rug and their mean).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from dermfeat.evaluation import ThresholdCurveDisplay
    >>> display = ThresholdCurveDisplay.from_predictions([0, 0, 1, 1], [0.2, 0.6, 0.4, 0.9])
    >>> sorted(display.lines_)
    ['macro_f1', 'sensitivity', 'specificity']
    """

    def __init__(self, thresholds, curves, chosen=None):
        self.thresholds = np.asarray(thresholds)
        self.curves = curves
        self.chosen = None if chosen is None else np.asarray(chosen, dtype=float)

    @classmethod
    def from_predictions(
        cls, y_true, y_score, *, pos_label=None, metrics=("sensitivity", "specificity", "macro_f1"), thresholds=101, ax=None
    ):
        """Compute the curves from labels and positive-class scores, then plot."""
        from ..metrics import threshold_metrics

        grid = np.linspace(0, 1, thresholds) if np.isscalar(thresholds) else np.asarray(thresholds)
        table = threshold_metrics(y_true, y_score, grid, pos_label=pos_label)
        return cls(grid, {m: table[m] for m in metrics}).plot(ax=ax)

    @classmethod
    def from_report(cls, report, *, metrics=("sensitivity", "specificity", "macro_f1"), thresholds=101, ax=None):
        """Curves of a report's out-of-fold probabilities, with its chosen thresholds."""
        table = report.threshold_curve(thresholds)
        chosen = report.thresholds()
        return cls(table["threshold"], {m: table[m] for m in metrics}, chosen if len(chosen) else None).plot(ax=ax)

    def plot(self, ax=None):
        """Draw on ``ax`` (a new figure by default); returns ``self``."""
        ax = _axes(ax)
        self.lines_ = {}
        for name, values in self.curves.items():
            (self.lines_[name],) = ax.plot(self.thresholds, values, label=_LABELS.get(name, name))
        if self.chosen is not None:
            ax.plot(self.chosen, np.full(len(self.chosen), 0.02), "|", color="k", markersize=12, label="per-fold choice")
            ax.axvline(self.chosen.mean(), color="k", linestyle="--", linewidth=1, label=f"mean choice {self.chosen.mean():.2f}")
        ax.set(xlabel="decision threshold (probability of the positive class)", ylabel="metric", xlim=(0, 1), ylim=(0, 1.02))
        ax.legend(loc="lower center", fontsize="small", ncol=2)
        ax.grid(alpha=0.3)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class SubgroupMetricsDisplay:
    """Metrics per subgroup (skin tone, image quality, ...) with the group sizes.

    Parameters
    ----------
    groups : list of str
        Subgroup levels.
    sizes : list of int
        Images per level.
    values : dict of str to list of float
        Metric -> one value per level.
    title : str, optional
        Axis title.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from dermfeat.evaluation import SubgroupMetricsDisplay
    >>> d = SubgroupMetricsDisplay(["light", "dark"], [40, 12], {"sensitivity": [0.8, 0.6]}).plot()
    >>> len(d.bars_["sensitivity"])
    2

    Many levels or long names (subtypes) are drawn as horizontal bars, one
    readable row each:

    >>> names = [f"subtype number {i}" for i in range(12)]
    >>> d = SubgroupMetricsDisplay(names, [5] * 12, {"accuracy": [0.5] * 12}).plot()
    >>> d.horizontal_
    True
    """

    def __init__(self, groups, sizes, values, title=None):
        self.groups = [str(g) for g in groups]
        self.sizes = list(sizes)
        self.values = values
        self.title = title

    @classmethod
    def from_report(cls, report, name, *, metrics=None, ax=None):
        """Bars of a report's subgroup table."""
        rows = report.subgroup_table(name)
        if metrics is None:
            single_class = all(np.isnan(r.get("macro_f1", np.nan)) for r in rows)
            if single_class:  # e.g. subtypes, each of one diagnosis: the share each one gets right
                metrics = ["accuracy"]
            else:
                metrics = ["sensitivity", "specificity", "macro_f1"] if report.is_binary else ["macro_f1", "balanced_accuracy"]
        values = {m: [r.get(m, np.nan) for r in rows] for m in metrics}
        return cls([r["group"] for r in rows], [r["n"] for r in rows], values, title=name.replace("_", " ")).plot(ax=ax)

    def plot(self, ax=None):
        """Draw grouped bars (horizontal for many or long levels); returns ``self``.

        A metric that is undefined for a level (NaN) gets no bar.
        """
        self.horizontal_ = (len(self.groups) > _MAX_VERTICAL_LEVELS
                            or max((len(g) for g in self.groups), default=0) > _MAX_VERTICAL_LABEL)
        if ax is None:
            import matplotlib.pyplot as plt

            height = max(4.0, 0.32 * len(self.groups) * max(len(self.values), 1) + 1.2) if self.horizontal_ else 4
            _, ax = plt.subplots(figsize=(6.5 if self.horizontal_ else 6, height))
        k = len(self.values)
        x = np.arange(len(self.groups))
        width = 0.8 / max(k, 1)
        self.bars_ = {}
        for j, (name, vals) in enumerate(self.values.items()):
            vals = np.asarray(vals, dtype=float)
            shown = ~np.isnan(vals)
            where = (x + (j - (k - 1) / 2) * width)[shown]
            draw = ax.barh if self.horizontal_ else ax.bar
            self.bars_[name] = draw(where, vals[shown], width, label=_LABELS.get(name, name))
        labels = [f"{g} (n={n})" if self.horizontal_ else f"{g}\n(n={n})" for g, n in zip(self.groups, self.sizes)]
        if self.horizontal_:
            ax.set_yticks(x, labels, fontsize="small")
            ax.invert_yaxis()  # first level on top
            ax.set(xlim=(0, 1.0), xlabel="metric", xticks=np.linspace(0, 1, 6))
            if self.title:
                ax.set_title(self.title)
            ax.legend(fontsize="small", loc="lower right")
            ax.grid(axis="x", alpha=0.3)
            self.ax_, self.figure_ = ax, ax.figure
            return self
        ax.set_xticks(x, labels, fontsize="small")
        ax.set(ylim=(0, 1.22), ylabel="metric", yticks=np.linspace(0, 1, 6))
        if self.title:
            ax.set_title(self.title)
        ax.legend(fontsize="small", ncol=k, loc="upper center")
        ax.grid(axis="y", alpha=0.3)
        self.ax_, self.figure_ = ax, ax.figure
        return self
