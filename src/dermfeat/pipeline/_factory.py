"""One factory for image classification pipelines with switchable imbalance handling."""

from __future__ import annotations

import warnings

from sklearn.base import clone
from sklearn.pipeline import make_union
from sklearn.preprocessing import StandardScaler

from ..decision import ResampledClassifier, ThresholdTunedClassifier
from ._image_pipeline import ImagePipeline


#: Spellings of "keep the head's own decision" (0.5 on probabilities).
_FIXED = ("fixed", "0.5", None)


def threshold_objective(threshold, objective=None):
    """The metric a threshold is tuned for, or ``None`` for a fixed threshold.

    One vocabulary for :func:`make_image_pipeline`, :func:`make_classifier` and
    the command line: ``threshold="fixed"`` keeps the head's decision;
    a metric name (``"balanced_accuracy"``, ``"macro_f1"``, ``"specificity"``,
    ...) tunes the threshold for that metric.  ``threshold="tuned"``, the
    former spelling (with the metric as ``objective``), still works and warns.

    Parameters
    ----------
    threshold : str or None
        ``"fixed"`` (also ``"0.5"`` or ``None``), a metric name, or ``"tuned"``.
    objective : str, callable or None, default=None
        With the former ``threshold="tuned"``: the metric (default
        ``"balanced_accuracy"``); with a metric name, it must agree.

    Returns
    -------
    objective : str, callable or None
        ``None`` for a fixed threshold.

    Examples
    --------
    >>> from dermfeat.pipeline import threshold_objective
    >>> threshold_objective("macro_f1"), threshold_objective("fixed")
    ('macro_f1', None)
    """
    if threshold in _FIXED:
        return None
    if not isinstance(threshold, str) or not threshold:
        raise ValueError(
            f"threshold must be 'fixed' or the name of the metric to tune it for ('balanced_accuracy', 'macro_f1', "
            f"'specificity', ...), got {threshold!r}"
        )
    if threshold == "tuned":
        suggestion = objective if isinstance(objective, str) else "balanced_accuracy"
        warnings.warn(
            f"threshold='tuned' is deprecated: name the metric to tune the threshold for, "
            f"threshold={suggestion!r} (objective= is then not needed)",
            FutureWarning,
            stacklevel=3,
        )
        return "balanced_accuracy" if objective is None else objective
    if objective is not None and objective != threshold:
        raise ValueError(f"threshold={threshold!r} names the metric to tune for; objective={objective!r} contradicts it")
    return threshold


def make_image_pipeline(features, head, *, sampler=None, threshold="fixed", scaler="standard", groups="auto",
                        random_state=None, **threshold_params):
    """Images -> features -> (scaling) -> resampling -> head -> decision, as one Pipeline.

    Every imbalance strategy is a plain parameter of the result, so one
    :class:`~sklearn.model_selection.GridSearchCV` grid can switch between
    them (step names: ``features``, ``scale``, ``clf``):

    ==============================================  ===============================================
    grid key                                        values
    ==============================================  ===============================================
    ``clf__estimator__sampler``                     ``None``, ``"random_over"``, ``"smote"``, objects
    ``clf__estimator__estimator__class_weight``     ``None``, ``"balanced"`` (heads that have it)
    ``clf__tune``                                   ``True`` (tuned threshold), ``False`` (0.5)
    ``clf__objective``, ``clf__constraint``         what the tuned threshold optimises
    ==============================================  ===============================================

    The layout keeps each step where it is valid: features are extracted once
    per fit; the sampler runs on feature rows (so SMOTE interpolates features,
    not pixels) and only inside ``fit``; the threshold is tuned by an inner
    cross-validation on the *original* class balance, around the resampled head,
    in shuffled (seeded) stratified folds that keep near-duplicate photographs
    together (see :class:`ImagePipeline`).

    Parameters
    ----------
    features : transformer or list of transformers
        Image feature extractors (e.g. from :mod:`dermfeat.features`); a list is
        combined with :func:`~sklearn.pipeline.make_union`.  Cloned.
    head : classifier
        The classifier on the features (e.g. ``LogisticRegression``).  Cloned.
    sampler : str, sampler object or None, default=None
        See :class:`ResampledClassifier`.
    threshold : str, default="fixed"
        ``"fixed"`` keeps the head's own decision (``clf__tune=False``); a
        metric name (``"balanced_accuracy"``, ``"macro_f1"``,
        ``"specificity"``, ...) tunes the threshold by cross-validation for
        that metric (``clf__tune=True``, ``clf__objective``), as in
        :func:`make_classifier` and the command line.  ``"tuned"`` with
        ``objective=...`` is the former spelling (deprecated).  With
        ``"fixed"``, an ``objective`` in ``threshold_params`` is kept for a
        grid over ``clf__tune``.
    scaler : "standard", transformer, "passthrough" or None, default="standard"
        Feature scaling before the head (``None``: none).
    groups : "auto" or None, default="auto"
        See :class:`ImagePipeline`: ``fit`` finds the near-duplicate groups of
        the training images for the threshold's inner cross-validation unless
        it is given groups; ``None`` opts out (with a warning).
    random_state : int or None, default=None
        Seed of named samplers and, unless ``threshold_params`` set it, of the
        inner folds of the threshold (``None``: the tuner's own default, 0).
    **threshold_params : dict
        Parameters of the :class:`~dermfeat.decision.ThresholdTunedClassifier`
        (``constraint``, ``pos_label``, ``cv``, ``thresholds``, ...).

    Returns
    -------
    pipeline : ImagePipeline

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from dermfeat.pipeline import make_image_pipeline
    >>> mean_colour = FunctionTransformer(lambda imgs: np.asarray(imgs).mean(axis=(1, 2)))
    >>> pipe = make_image_pipeline(mean_colour, LogisticRegression(), sampler="random_over",
    ...                            threshold="macro_f1", pos_label=1, cv=3)
    >>> [name for name, _ in pipe.steps]
    ['features', 'scale', 'clf']
    >>> pipe.get_params()["clf__objective"], pipe.get_params()["clf__estimator__sampler"]
    ('macro_f1', 'random_over')
    """
    objective = threshold_objective(threshold, threshold_params.get("objective"))
    if objective is not None:
        threshold_params["objective"] = objective
    if isinstance(features, (list, tuple)):
        features = make_union(*[clone(f) for f in features])
    else:
        features = clone(features)
    if scaler is None or (isinstance(scaler, str) and scaler == "passthrough"):
        scale = "passthrough"
    elif isinstance(scaler, str) and scaler == "standard":
        scale = StandardScaler()
    elif isinstance(scaler, str):
        raise ValueError(f"scaler must be 'standard', 'passthrough', None or a transformer, got {scaler!r}")
    else:
        scale = clone(scaler)
    resampled = ResampledClassifier(clone(head), sampler=sampler, random_state=random_state)
    if random_state is not None:
        threshold_params.setdefault("random_state", random_state)
    decision = ThresholdTunedClassifier(resampled, tune=objective is not None, **threshold_params)
    return ImagePipeline([("features", features), ("scale", scale), ("clf", decision)], groups=groups)
