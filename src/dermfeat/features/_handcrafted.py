"""The combination of handcrafted families: every family from one decoded image (:class:`HandcraftedFeatures`).

:class:`HandcraftedFeatures` decodes each image once, builds one working image
per distinct working size and calls every family's ``_features_from_view`` hook
on it, so conversions are shared between families.  The family base class lives
in :mod:`dermfeat.features._family`, the image processing in
:mod:`dermfeat.imaging`; their names stay importable from here.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..base import BaseImageTransformer, feature_state
from ..imaging import (  # noqa: F401 - the old import path of these names
    MAX_ASPECT,
    WorkingImage,
    rgb_to_grey,
    rgb_to_hsv,
    rgb_to_lab,
    rgb_to_ycrcb,
    to_working_size,
    working_shape,
)
from ..utils._param_validation import InvalidParameterError
from ._color import ColorFeatures
from ._family import (  # noqa: F401 - the old import path of these names
    SequenceOf,
    _as_float_tuple,
    _HandcraftedFamily,
    channel_statistics,
    percentile_name,
)
from ._gabor import GaborFeatures
from ._glcm import GLCMFeatures
from ._lbp import LBPFeatures
from ._quality import QualityFeatures
from ._redness import RednessFeatures
from ._skin_tone import SkinToneFeatures


def default_families():
    """The default ``(name, family)`` list of :class:`HandcraftedFeatures` (fresh instances)."""
    return [
        ("lbp", LBPFeatures()),
        ("gabor", GaborFeatures()),
        ("glcm", GLCMFeatures()),
        ("color", ColorFeatures()),
        ("redness", RednessFeatures()),
        ("skin", SkinToneFeatures()),
        ("quality", QualityFeatures()),
    ]


class HandcraftedFeatures(BaseImageTransformer):
    """All handcrafted families in one pass: each image is decoded and resized once.

    The families are ordinary transformers held as ``(name, family)`` pairs, like
    the transformers of a :class:`~sklearn.pipeline.FeatureUnion`; their nested
    parameters are reachable as ``<name>__<parameter>`` (e.g. in a grid search),
    a family set to ``"drop"`` is skipped.  Each image is decoded once (at a
    reduced JPEG scale when possible), resized once per distinct ``image_size``
    of the families, and its grey/CIELAB/HSV/YCrCb conversions are shared, so the
    result equals the concatenation of the families' own outputs at a fraction
    of the cost.  Feature names are ``<name>__<family feature name>``.

    Parameters
    ----------
    families : list of (str, transformer) or None, default=None
        The families, in output order.  ``None`` means the default bank:
        ``lbp`` (:class:`LBPFeatures`), ``gabor`` (:class:`GaborFeatures`),
        ``glcm`` (:class:`GLCMFeatures`), ``color`` (:class:`ColorFeatures`),
        ``redness`` (:class:`RednessFeatures`), ``skin``
        (:class:`SkinToneFeatures`) and ``quality`` (:class:`QualityFeatures`),
        all at their default settings (working size 256).  The families'
        own ``n_jobs``, ``memory`` and ``on_error`` are not used.
    n_jobs : int or None, default=None
        Parallel workers over images (see :class:`~dermfeat.base.BaseImageTransformer`).
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    families_ : list of (str, transformer)
        The fitted families actually used (defaults expanded, dropped ones removed).
    feature_names_out_ : ndarray of str
    n_features_out_ : int

    See Also
    --------
    LBPFeatures, GaborFeatures, GLCMFeatures, ColorFeatures, RednessFeatures,
    SkinToneFeatures, QualityFeatures

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import ColorFeatures, HandcraftedFeatures, LBPFeatures
    >>> images = make_lesion_images(3, image_size=64, random_state=0).images
    >>> bank = HandcraftedFeatures(families=[
    ...     ("lbp", LBPFeatures(image_size=64, points_radii=[(8, 1)])),
    ...     ("color", ColorFeatures(image_size=64, spaces=["lab"])),
    ... ])
    >>> X = bank.fit_transform(images)
    >>> X.shape
    (3, 25)
    >>> bank.get_feature_names_out()[[0, 10]].tolist()
    ['lbp__grey_p8_r1_0', 'color__lab_L_mean']
    >>> bank.set_params(lbp__points_radii=[(8, 1), (16, 2)]).fit_transform(images).shape
    (3, 43)
    """

    _parameter_constraints = {
        **BaseImageTransformer._parameter_constraints,
        "families": [None, list, tuple],
    }

    def __init__(self, families=None, n_jobs=None, memory=None, on_error="raise"):
        self.families = families
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        from ._color import ColorFeatures
        from ._gabor import GaborFeatures
        from ._glcm import GLCMFeatures
        from ._lbp import LBPFeatures
        from ._quality import QualityFeatures
        from ._redness import RednessFeatures
        from ._skin_tone import SkinToneFeatures

        return [
            {
                "families": [
                    ("lbp", LBPFeatures(image_size=32, points_radii=[(8, 1)])),
                    ("gabor", GaborFeatures(image_size=32, frequencies=[0.25], n_orientations=2)),
                    ("glcm", GLCMFeatures(image_size=48, distances=[1])),
                    ("color", ColorFeatures(image_size=32)),
                    ("redness", RednessFeatures(image_size=32)),
                    ("skin", SkinToneFeatures(image_size=32)),
                    ("quality", QualityFeatures(image_size=32)),
                ]
            }
        ]

    # ----------------------------------------------- nested parameters
    def _family_list(self):
        families = default_families() if self.families is None else self.families
        return list(families)

    def get_params(self, deep=True):
        """Parameters of this estimator and, with ``deep``, of every family.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``<name>`` (the family) and ``<name>__<param>`` entries.
            With ``families=None`` there are no family entries (the default bank
            is created by ``fit``, or by ``set_params`` of a nested parameter).

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=False)
        if not deep or not isinstance(self.families, (list, tuple)):
            return params
        for item in self.families:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                continue
            name, family = item
            params[name] = family
            if hasattr(family, "get_params"):
                for key, value in family.get_params(deep=True).items():
                    params[f"{name}__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters, including ``<name>`` (replace a family) and ``<name>__<param>``.

        Setting a family parameter while ``families=None`` first expands the
        default bank into an explicit list.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
        """
        if "families" in params:
            self.families = params.pop("families")
        own = set(super().get_params(deep=False))
        family_keys = [key for key in params if key.split("__", 1)[0] not in own]
        if family_keys and self.families is None:
            self.families = default_families()
        if family_keys and isinstance(self.families, tuple):
            self.families = list(self.families)
        names = [item[0] for item in self.families] if family_keys else []
        for key in family_keys:
            if "__" in key or key not in names:
                continue
            index = names.index(key)
            self.families = list(self.families)
            self.families[index] = (key, params.pop(key))
        return super().set_params(**params)

    # ------------------------------------------------------------ fitting
    def _check_families(self):
        families = self._family_list()
        seen = set()
        for item in families:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise InvalidParameterError(
                    f"families must be a list of (name, transformer) tuples, got the item {item!r}"
                )
            name, family = item
            if not name or "__" in name:
                raise InvalidParameterError(f"family names must be non-empty and must not contain '__': {name!r}")
            if name in seen:
                raise InvalidParameterError(f"family names must be unique; {name!r} appears twice")
            if name in self.get_params(deep=False):
                raise InvalidParameterError(f"family name {name!r} conflicts with a parameter of HandcraftedFeatures")
            seen.add(name)
            if isinstance(family, str) and family == "drop":
                continue
            if not isinstance(family, _HandcraftedFamily):
                raise InvalidParameterError(
                    f"family {name!r} must be a handcrafted feature family (LBPFeatures, GaborFeatures, ...) "
                    f"or 'drop', got {family!r}"
                )
        return families

    def _fit(self, X, y):
        """Fit (validate) every family; the families are stateless."""
        families = self._check_families()
        self.families_ = [(name, clone(family).fit()) for name, family in families if not isinstance(family, str)]
        if not self.families_:
            raise InvalidParameterError("HandcraftedFeatures needs at least one family that is not 'drop'")

    def _feature_names(self):
        return [f"{name}__{feature}" for name, family in self.families_ for feature in family.feature_names_out_]

    def _cache_token(self):
        return [(name, feature_state(family)) for name, family in self.families_]

    def _decode_target(self):
        return max(family.image_size for _, family in self.families_)

    def _transform_one(self, image):
        views = {}
        parts = []
        for _, family in self.families_:
            view = views.get(family.image_size)
            if view is None:
                view = views[family.image_size] = WorkingImage.from_image(image, family.image_size)
            parts.append(np.asarray(family._features_from_view(view), dtype=np.float64).ravel())
        return np.concatenate(parts)
