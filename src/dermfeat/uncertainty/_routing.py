"""How the uncertainty wrappers take ``groups`` in ``fit`` and pass metadata to their inner estimator."""

from __future__ import annotations

import inspect

from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing

from ..decision._meta import routing_enabled


def uses_groups(estimator):
    """Whether ``estimator.fit`` wants ``groups`` (it chooses something by grouped cross-validation)."""
    uses = getattr(estimator, "_uses_groups", None)
    if callable(uses):
        return bool(uses())
    try:
        return "groups" in inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return False


def inner_params(owner, estimator, groups, fit_params):
    """Fit parameters of the inner estimator: routed with metadata routing, else ``groups`` if it wants them."""
    if routing_enabled():
        metadata = dict(fit_params) if groups is None else {**fit_params, "groups": groups}
        return dict(process_routing(owner, "fit", **metadata)["estimator"]["fit"])
    params = dict(fit_params)
    if groups is not None and uses_groups(estimator):
        params["groups"] = groups
    return params


def routing_with_estimator(owner):
    """``owner`` consumes ``groups`` itself and routes ``fit`` metadata to ``owner.estimator``."""
    return (
        MetadataRouter(owner=type(owner).__name__)
        .add_self_request(owner)
        .add(estimator=owner.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
    )


class GroupedFitMixin:
    """``fit`` consumes ``groups`` (held-out calibration folds keep them whole) and routes the rest on.

    :class:`~dermfeat.pipeline.ImagePipeline` reads ``_uses_groups`` and passes
    the near-duplicate groups of its training photographs; with metadata
    routing, ``groups`` is requested by default.
    """

    __metadata_request__fit = {"groups": True}

    def _uses_groups(self):
        """Always: the calibration folds hold out whole groups."""
        return True

    def get_metadata_routing(self):
        """Routing of ``fit`` metadata: ``groups`` for the calibration folds, the rest (and groups if asked) to the
        estimator.

        Returns
        -------
        routing : MetadataRouter
        """
        return routing_with_estimator(self)
