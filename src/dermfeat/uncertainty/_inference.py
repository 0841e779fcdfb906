"""Everything a user sees about one prediction, from one pass through a fitted pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ..base import one_pass
from ..decision._subtypes import hierarchical_step, predict_subtype_proba
from ._steps import call_last_step, final_step_and_features, last_step_has


def predict_with_uncertainty(model, X):
    """Probabilities, decision, prediction set and out-of-distribution flag in one pass.

    The images are decoded and their features extracted once, by every step
    but the last; the last step then gives whatever it knows.  A model without
    an uncertainty step is asked for ``predict_proba`` and ``predict`` as
    usual and gives ``None`` for the rest, so callers can use this for every
    model.

    Parameters
    ----------
    model : fitted classifier or Pipeline
        Typically a pipeline whose last step is a :class:`GuardedClassifier`
        (:func:`add_uncertainty`).
    X : images or array-like
        What the model's first step takes.

    Returns
    -------
    result : Bunch
        ``classes`` (ndarray), ``proba`` (``(n, n_classes)`` or None),
        ``pred`` (ndarray), ``prediction_set`` (``(n, n_classes)`` bool or
        None), ``in_distribution`` (``(n,)`` bool or None) and ``ood_score``
        (``(n,)``, the guard's ``score_samples``, or None); ``subtype_classes``
        and ``subtype_proba`` (``(n, n_subtypes)``) when the decision is a
        :class:`~dermfeat.decision.HierarchicalClassifier` fitted on
        subtypes, else None.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.pipeline import make_image_pipeline
    >>> from dermfeat.uncertainty import add_uncertainty, predict_with_uncertainty
    >>> data = make_lesion_images(80, image_size=48, random_state=0)
    >>> pipe = add_uncertainty(make_image_pipeline(ColorFeatures(image_size=48), LogisticRegression()))
    >>> pipe = pipe.fit(data.images, data.labels)
    >>> result = predict_with_uncertainty(pipe, data.images[:3])
    >>> result.prediction_set.shape, result.in_distribution.dtype
    ((3, 2), dtype('bool'))
    """
    with one_pass():  # a soft vote's branches extract inside the last step: once, not once per question
        return _predict_with_uncertainty(model, X)


def _predict_with_uncertainty(model, X):
    # the photographs go through the feature steps once; the last step answers everything from there
    final, Xt = final_step_and_features(model, X)
    proba = np.asarray(final.predict_proba(Xt)) if hasattr(final, "predict_proba") else None
    pred = np.asarray(final.predict(Xt))
    sets = np.asarray(call_last_step(final, "predict_set", Xt), dtype=bool) if last_step_has(final, "predict_set") else None
    guarded = hasattr(final, "predict_in_distribution")
    in_dist = np.asarray(final.predict_in_distribution(Xt), dtype=bool) if guarded else None
    score = np.asarray(final.score_samples(Xt), dtype=float) if guarded else None
    sub_classes = sub_proba = None
    if hierarchical_step(final) is not None:
        sub_classes, sub_proba = predict_subtype_proba(final, Xt)
    return Bunch(classes=np.asarray(final.classes_), proba=proba, pred=pred, prediction_set=sets,
                 in_distribution=in_dist, ood_score=score, subtype_classes=sub_classes, subtype_proba=sub_proba)


def set_labels(row, classes):
    """The class labels of one prediction-set row (a list of str).

    Examples
    --------
    >>> from dermfeat.uncertainty import set_labels
    >>> set_labels([True, True], ["atopic_dermatitis", "eczema"])
    ['atopic_dermatitis', 'eczema']
    """
    return [str(c) for c, keep in zip(classes, row) if keep]
