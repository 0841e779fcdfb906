"""How well prediction sets keep their promise: empirical coverage and set size, overall and per group."""

from __future__ import annotations

import numpy as np


def _hits(y_true, sets, classes):
    y_true = np.asarray(y_true)
    sets = np.asarray(sets, dtype=bool)
    classes = np.asarray(classes)
    if sets.ndim != 2 or sets.shape != (y_true.shape[0], classes.shape[0]):
        raise ValueError(f"sets must have shape ({y_true.shape[0]}, {classes.shape[0]}); got {sets.shape}")
    index = {c: i for i, c in enumerate(classes.tolist())}
    try:
        cols = np.array([index[c] for c in y_true.tolist()], dtype=int)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not among the classes {classes.tolist()}") from None
    return sets[np.arange(y_true.shape[0]), cols], sets


def set_coverage(y_true, sets, classes):
    """Share of samples whose prediction set contains their true class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    sets : array-like of shape (n_samples, n_classes), bool
        From :meth:`ConformalClassifier.predict_set`.
    classes : array-like of shape (n_classes,)
        The columns of ``sets``.

    Returns
    -------
    coverage : float

    Examples
    --------
    >>> from dermfeat.uncertainty import set_coverage
    >>> set_coverage(["a", "b", "b"], [[True, False], [True, False], [True, True]], ["a", "b"])
    0.6666666666666666
    """
    hits, _ = _hits(y_true, sets, classes)
    return float(hits.mean())


def mean_set_size(sets):
    """Average number of classes per prediction set.

    Parameters
    ----------
    sets : array-like of shape (n_samples, n_classes), bool

    Returns
    -------
    size : float

    Examples
    --------
    >>> from dermfeat.uncertainty import mean_set_size
    >>> mean_set_size([[True, False], [True, True]])
    1.5
    """
    return float(np.asarray(sets, dtype=bool).sum(axis=1).mean())


def coverage_table(y_true, sets, classes, by=None):
    """Coverage, average set size and the share of two-or-more-class sets, per level of ``by``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    sets : array-like of shape (n_samples, n_classes), bool
    classes : array-like of shape (n_classes,)
    by : array-like of shape (n_samples,), optional
        A grouping (the true class, a skin-tone category, ...).  ``None``:
        one row, ``"all"``.

    Returns
    -------
    rows : list of dict
        ``group``, ``n``, ``coverage``, ``mean_set_size``, ``uncertain``
        (share of sets with more than one class) and ``empty`` (share with none).

    Examples
    --------
    >>> from dermfeat.uncertainty import coverage_table
    >>> rows = coverage_table(["a", "b"], [[True, False], [True, True]], ["a", "b"], by=["a", "b"])
    >>> [(r["group"], r["coverage"], r["mean_set_size"]) for r in rows]
    [('a', 1.0, 1.0), ('b', 1.0, 2.0)]
    """
    hits, sets = _hits(y_true, sets, classes)
    by = np.full(hits.shape[0], "all", dtype=object) if by is None else np.asarray(by, dtype=object)
    if by.shape[0] != hits.shape[0]:
        raise ValueError(f"by has {by.shape[0]} entries for {hits.shape[0]} samples")
    sizes = sets.sum(axis=1)
    rows = []
    for level in dict.fromkeys(sorted(by.tolist(), key=str)):
        mask = by == level
        rows.append({"group": level, "n": int(mask.sum()), "coverage": float(hits[mask].mean()),
                     "mean_set_size": float(sizes[mask].mean()), "uncertain": float((sizes[mask] > 1).mean()),
                     "empty": float((sizes[mask] == 0).mean())})
    return rows


def fold_set_metrics(y_true, sets, classes, in_distribution=None):
    """Coverage figures of one test fold for :func:`~dermfeat.evaluation.evaluate` (empty without sets).

    ``coverage``, ``coverage_<class>`` (class-conditional), ``mean_set_size``
    and, with a guard, ``out_of_distribution_rate`` (share of the fold's
    photographs flagged: false alarms, when the fold is in-distribution).
    """
    out = {}
    if sets is not None:
        hits, sets = _hits(y_true, sets, classes)
        out["coverage"] = float(hits.mean())
        y_true = np.asarray(y_true)
        for c in classes:
            mask = y_true == c
            out[f"coverage_{c}"] = float(hits[mask].mean()) if mask.any() else np.nan
        out["mean_set_size"] = float(sets.sum(axis=1).mean())
    if in_distribution is not None:
        out["out_of_distribution_rate"] = float(1.0 - np.mean(in_distribution))
    return out


def report_coverage(report, by=None):
    """Coverage table of an :class:`~dermfeat.evaluation.EvaluationReport` whose model gives prediction sets.

    Every out-of-fold prediction set counts (one per photograph and repeat).

    Parameters
    ----------
    report : EvaluationReport
        From :func:`~dermfeat.evaluation.evaluate` of a model with
        prediction sets (:func:`add_uncertainty`).
    by : None, "class" or str
        ``None``: one row; ``"class"``: per true class; otherwise the name of
        one of the report's subgroups (``"skin_tone"``, ...).

    Returns
    -------
    rows : list of dict
        As :func:`coverage_table`.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.evaluation import evaluate
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.pipeline import make_image_pipeline
    >>> from dermfeat.uncertainty import add_uncertainty, report_coverage
    >>> data = make_lesion_images(90, image_size=48, random_state=0)
    >>> pipe = add_uncertainty(make_image_pipeline(ColorFeatures(image_size=48), LogisticRegression()), cv=3)
    >>> report = evaluate(pipe, data.images, data.labels, groups=data.groups, cv=3, subgroups=None)
    >>> "coverage" in report.summary() and "mean_set_size" in report.summary()
    True
    >>> [row["group"] for row in report_coverage(report, by="class")]
    ['atopic_dermatitis', 'eczema']
    """
    folds = [f for f in report.fold_predictions if f.get("sets") is not None]
    if not folds:
        raise ValueError("this report's model gives no prediction sets (see dermfeat.uncertainty.add_uncertainty)")
    index = np.concatenate([f["test"] for f in folds])
    sets = np.concatenate([f["sets"] for f in folds])
    y = np.asarray(report.y)[index]
    if by is None:
        labels = None
    elif by == "class":
        labels = y
    elif by in report.subgroups:
        labels = np.asarray(report.subgroups[by], dtype=object)[index]
    else:
        raise ValueError(f"by must be None, 'class' or a subgroup of the report ({sorted(report.subgroups)}); got {by!r}")
    return coverage_table(y, sets, report.classes, by=labels)
