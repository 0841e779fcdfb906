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
