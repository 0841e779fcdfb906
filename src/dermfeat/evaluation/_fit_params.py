"""How evaluation hands a fold's rows and near-duplicate groups to an estimator's ``fit``."""

from __future__ import annotations

import inspect

import numpy as np
from sklearn import get_config
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import get_routing_for_object


def _take(X, index):
    """Rows of X: lists, arrays and pandas objects."""
    if hasattr(X, "iloc"):
        return X.iloc[index]
    if isinstance(X, np.ndarray):
        return X[index]
    return [X[i] for i in index]


def _groups_param(estimator):
    """Name under which ``fit`` takes ``groups`` (``"clf__groups"`` in a Pipeline), or None.

    An estimator whose own ``fit`` names ``groups`` (a
    :class:`~dermfeat.pipeline.ImagePipeline`, a
    :class:`~dermfeat.model_selection.ThresholdTunedClassifier`) takes them
    directly.  With metadata routing enabled, any estimator whose routing
    consumes ``groups`` in ``fit`` takes them as ``groups`` (a Pipeline routes
    them to the steps that request them); without it, a plain Pipeline passes
    them to its last step as ``<step>__groups``.
    """
    try:
        if "groups" in inspect.signature(estimator.fit).parameters:
            return "groups"
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return None
    if get_config().get("enable_metadata_routing", False):
        if hasattr(estimator, "get_metadata_routing") and get_routing_for_object(estimator).consumes("fit", ["groups"]):
            return "groups"
        return None
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        inner = _groups_param(last) if last not in (None, "passthrough") else None
        return None if inner is None else f"{name}__{inner}"
    return None
