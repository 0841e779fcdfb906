"""A Pipeline whose ``fit`` keeps near-duplicate photographs together in every inner split."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import UNUSED, get_routing_for_object

from .._exceptions import UngroupedSelectionWarning
from ..decision._meta import n_rows, routing_enabled
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import InvalidParameterError


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


class ImagePipeline(DocLinkMixin, Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` of images that groups near-duplicates for its inner choices.

    Steps that choose something by cross-validation *inside* ``fit`` (a tuned
    :class:`~dermfeat.decision.ThresholdTunedClassifier`, a
    ``GridSearchCV`` with a group splitter, ...) need the groups of the
    training photographs: copies, re-crops and consecutive photographs of one
    lesion on both sides of an inner split make the choice optimistic (a
    threshold tuned on them is too confident).  ``ImagePipeline.fit`` takes
    ``groups`` and routes them to every such step; given none, it finds them
    from the images with :func:`~dermfeat.model_selection.near_duplicate_groups`
    (``groups="auto"``, the default).  Otherwise it is a plain ``Pipeline``.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As for :class:`~sklearn.pipeline.Pipeline`; the first step takes images.
    groups : "auto" or None, default="auto"
        What ``fit`` does when it gets no groups and a step chooses by
        cross-validation: ``"auto"`` finds the near-duplicate groups of the
        training images; ``None`` passes none and warns
        (:class:`~dermfeat.UngroupedSelectionWarning`).  Groups passed to
        ``fit`` are always used as given (never recomputed).
    transform_input, memory, verbose
        As for :class:`~sklearn.pipeline.Pipeline`.

    Attributes
    ----------
    groups_source_ : {"given", "auto", "none", "unused"}
        Where the groups of the last ``fit`` came from (``"unused"``: no step
        chooses by cross-validation).
    n_groups_ : int or None
        Number of groups the inner choices saw.

    See Also
    --------
    dermfeat.pipeline.make_image_pipeline : Builds one from features and a head.
    dermfeat.model_selection.near_duplicate_groups : The groups of ``"auto"``.

    Notes
    -----
    A step chooses by cross-validation when its metadata routing consumes
    ``groups`` in ``fit`` (a dermfeat estimator may narrow this with a private
    ``_uses_groups()``: a ``ThresholdTunedClassifier`` with ``tune=False``
    does not).  Without metadata routing the groups reach those steps as
    ``<step>__groups``; with ``sklearn.set_config(enable_metadata_routing=True)``
    they are routed as ``groups`` like any metadata, so a ``GridSearchCV``
    around this pipeline passes each training fold's groups on by itself.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.model_selection import ThresholdTunedClassifier
    >>> from dermfeat.pipeline import ImagePipeline
    >>> data = make_lesion_images(60, image_size=64, random_state=0)
    >>> pipe = ImagePipeline([("features", ColorFeatures(image_size=64)), ("scale", StandardScaler()),
    ...                       ("clf", ThresholdTunedClassifier(LogisticRegression(), cv=3))])
    >>> pipe = pipe.fit(data.images, data.labels)  # inner folds keep near-duplicates together
    >>> pipe.groups_source_, pipe.n_groups_ <= 60
    ('auto', True)
    >>> pipe.fit(data.images, data.labels, groups=data.groups).groups_source_
    'given'
    """

    # ``groups`` is handled by fit itself (routed to the steps), never requested from a parent
    __metadata_request__fit = {"groups": UNUSED}
    # "None or a string" here; fit refines the string to "auto" with its own message
    _parameter_constraints = {**Pipeline._parameter_constraints, "groups": [None, str]}

    def __init__(self, steps, *, groups="auto", transform_input=None, memory=None, verbose=False):
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.groups = groups

    def __getitem__(self, ind):
        """A step, or a sub-pipeline (a slice) that keeps ``groups``."""
        out = super().__getitem__(ind)
        if isinstance(ind, slice):
            out.groups = self.groups
        return out

    def _group_consumers(self):
        """Names of the steps whose ``fit`` chooses something by grouped cross-validation."""
        names = []
        for _, name, est in self._iter(with_final=True, filter_passthrough=True):
            uses = getattr(est, "_uses_groups", None)
            if callable(uses):
                if uses():
                    names.append(name)
            elif hasattr(est, "get_metadata_routing") and get_routing_for_object(est).consumes("fit", ["groups"]):
                names.append(name)
        return names

    def _route_groups(self, X, groups, params):
        if not (self.groups is None or _is_auto(self.groups)):
            raise InvalidParameterError(
                f"The 'groups' parameter of {type(self).__name__} must be 'auto' or None; got {self.groups!r}. "
                "Pass your own groups to fit(X, y, groups=...)."
            )
        consumers = self._group_consumers()
        routing = routing_enabled()
        if not consumers:
            self.groups_source_, self.n_groups_ = "unused", None
            return params
        step_groups = None if routing else next((params[f"{n}__groups"] for n in consumers if f"{n}__groups" in params), None)
        if groups is not None or step_groups is not None:
            source = "given"
        elif _is_auto(self.groups):
            groups, source = self._find_groups(X), "auto"
        else:
            warnings.warn(
                f"{type(self).__name__}(groups=None): step(s) {', '.join(consumers)} choose by cross-validation "
                "without groups, so near-duplicate photographs can sit on both sides of an inner split and make "
                "the choice optimistic; pass groups= to fit or keep groups='auto'",
                UngroupedSelectionWarning,
                stacklevel=3,
            )
            source = "none"
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape[0] != n_rows(X):
                raise ValueError(f"groups has {groups.shape[0]} entries for {n_rows(X)} samples")
            params = dict(params)
            if routing:
                params["groups"] = groups
            else:
                for name in consumers:
                    params.setdefault(f"{name}__groups", groups)
        seen = groups if groups is not None else step_groups
        self.groups_source_ = source
        self.n_groups_ = None if seen is None else int(np.unique(np.asarray(seen)).shape[0])
        return params

    @staticmethod
    def _find_groups(X):
        from ..base import as_image_list
        from ..model_selection import near_duplicate_groups

        n = n_rows(X)
        try:
            sources = as_image_list(X)
        except (TypeError, ValueError) as exc:
            sources, reason = None, str(exc)
        else:
            reason = f"it reads as {len(sources)} images for {n} samples"
        if sources is None or len(sources) != n:
            raise ValueError(
                f"groups='auto' finds near-duplicate photographs, so X must be images ({reason}); "
                "pass groups= to fit, or build the pipeline with groups=None"
            )
        return near_duplicate_groups(sources, on_error="singleton")

    def fit(self, X, y=None, groups=None, **params):
        """Fit the steps, with groups for every step that chooses by cross-validation.

        Parameters
        ----------
        X : images
            Anything the first step takes (paths, arrays, a data frame column).
        y : array-like of shape (n_samples,), optional
            Targets.
        groups : array-like of shape (n_samples,), optional
            Group labels (patients, near-duplicates).  ``None``: found from the
            images when ``self.groups == "auto"``.  Ignored when no step
            chooses by cross-validation.
        **params : dict
            As for :meth:`sklearn.pipeline.Pipeline.fit` (``<step>__<param>``
            without metadata routing; an explicit ``<step>__groups`` wins).
            Without metadata routing, a parameter without a step prefix (such
            as ``fine_labels`` of a :class:`~dermfeat.decision.HierarchicalClassifier`
            inside the decision) goes to the last step; with routing, it goes
            where the steps request it.

        Returns
        -------
        self : ImagePipeline
        """
        params = self._route_groups(X, groups, params)
        if not routing_enabled():
            last = self.steps[-1][0]
            params = {(key if "__" in key else f"{last}__{key}"): value for key, value in params.items()}
        return super().fit(X, y, **params)
