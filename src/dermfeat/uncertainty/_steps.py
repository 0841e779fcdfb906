"""Finding the step of a (nested) pipeline that gives an answer, and its input."""

from __future__ import annotations

from sklearn.pipeline import Pipeline


def final_step_and_features(model, X):
    """The last step of ``model`` and its input for ``X`` (the other steps' output, computed once)."""
    if isinstance(model, Pipeline):
        if len(model.steps) > 1:
            return model.steps[-1][1], model[:-1].transform(X)
        return model.steps[-1][1], X
    return model, X


def last_step_has(model, attr):
    """Whether ``model`` (or the last step of a Pipeline, recursively) has ``attr``."""
    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    return hasattr(model, attr)


def call_last_step(model, method, X):
    """``method`` of the last step of ``model`` on ``X`` passed through the steps before it."""
    while isinstance(model, Pipeline):
        model, X = final_step_and_features(model, X)
    return getattr(model, method)(X)


def decision_step(model):
    """The step that makes the decision, inside pipelines and uncertainty wrappers.

    Pipelines give their last step; :class:`GuardedClassifier` and
    :class:`ConformalClassifier` their (fitted) inner estimator; the first
    object that is none of these is returned (e.g. a
    :class:`~dermfeat.model_selection.ThresholdTunedClassifier`, whose
    ``best_threshold_`` a caller may want).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.pipeline import make_image_pipeline
    >>> from dermfeat.uncertainty import add_uncertainty, decision_step
    >>> type(decision_step(add_uncertainty(make_image_pipeline(ColorFeatures(), LogisticRegression())))).__name__
    'ThresholdTunedClassifier'
    """
    while True:
        if isinstance(model, Pipeline):
            model = model.steps[-1][1]
        elif getattr(type(model), "_wraps_decision", False):  # GuardedClassifier, ConformalClassifier
            model = getattr(model, "estimator_", model.estimator)
        else:
            return model
