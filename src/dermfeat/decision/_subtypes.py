"""The subtype probabilities of a fitted model whose decision comes from a :class:`HierarchicalClassifier`."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline

from ._hierarchical import HierarchicalClassifier


def hierarchical_step(model):
    """The fitted :class:`HierarchicalClassifier` that a fitted model decides with, or ``None``.

    Looks through pipelines (their last step) and meta-estimators (their
    fitted ``estimator_``: threshold tuning, resampling, uncertainty guards).
    A hierarchical step fitted without fine labels (whose fine classes are
    the classes themselves) does not count.

    Parameters
    ----------
    model : fitted estimator or Pipeline

    Returns
    -------
    step : HierarchicalClassifier or None

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import hierarchical_step
    >>> hierarchical_step(LogisticRegression()) is None
    True
    """
    seen = 0
    while model is not None and seen < 50:  # nesting depth, against cycles
        seen += 1
        if isinstance(model, Pipeline):
            model = model.steps[-1][1]
        elif isinstance(model, HierarchicalClassifier):
            fitted = hasattr(model, "fine_classes_")
            if fitted and set(model.fine_classes_.tolist()) != set(model.classes_.tolist()):
                return model
            return None
        else:
            model = getattr(model, "estimator_", None)
    return None


def _features_for(model, X):
    """The input of the model's hierarchical step for ``X`` (its preceding pipeline steps applied)."""
    while isinstance(model, Pipeline):
        if len(model.steps) > 1:
            X = model[:-1].transform(X)
        model = model.steps[-1][1]
    return X


def predict_subtype_proba(model, X):
    """Subtype (fine class) probabilities of a fitted model with a :class:`HierarchicalClassifier`.

    Parameters
    ----------
    model : fitted estimator or Pipeline
        E.g. a pipeline of :func:`~dermfeat.pipeline.make_classifier` with
        ``subtypes=True`` fitted with ``fine_labels=``.
    X : images or array-like
        What the model's first step takes.

    Returns
    -------
    classes : ndarray of shape (n_subtypes,)
        The subtypes, in column order.
    proba : ndarray of shape (n_samples, n_subtypes)

    Raises
    ------
    ValueError
        When the model has no subtypes (see :func:`hierarchical_step`).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import HierarchicalClassifier, predict_subtype_proba, top_subtypes
    >>> fine = np.repeat(["ad", "discoid", "hand"], 20)
    >>> X = np.repeat(np.eye(3) * 3, 20, axis=0) + np.random.RandomState(0).normal(size=(60, 3))
    >>> y = np.where(fine == "ad", "atopic", "other")
    >>> clf = HierarchicalClassifier(LogisticRegression()).fit(X, y, fine_labels=fine)
    >>> classes, proba = predict_subtype_proba(clf, X[:2])
    >>> classes.tolist(), proba.shape
    (['ad', 'discoid', 'hand'], (2, 3))
    >>> [name for name, _ in top_subtypes(classes, proba, k=2)[0]]
    ['ad', 'hand']
    """
    step = hierarchical_step(model)
    if step is None:
        raise ValueError(f"{type(model).__name__} has no subtypes: its decision is not a HierarchicalClassifier "
                         "fitted with fine_labels")
    return step.fine_classes_, step.predict_fine_proba(_features_for(model, X))


def top_subtypes(classes, proba, k=3):
    """The ``k`` most likely subtypes of each row: lists of ``(subtype, probability)``, most likely first.

    Parameters
    ----------
    classes : array-like of shape (n_subtypes,)
    proba : array-like of shape (n_samples, n_subtypes)
    k : int, default=3
        At most this many per row (fewer when there are fewer subtypes).

    Returns
    -------
    top : list of lists of (str, float)

    Examples
    --------
    >>> from dermfeat.decision import top_subtypes
    >>> top_subtypes(["discoid", "hand", "venous"], [[0.2, 0.7, 0.1]], k=2)
    [[('hand', 0.7), ('discoid', 0.2)]]
    """
    classes = np.asarray(classes)
    proba = np.asarray(proba, dtype=float)
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return [[(str(classes[j]), float(row[j])) for j in idx] for row, idx in zip(proba, order)]
