"""Shared machinery of the handcrafted feature families, and their combination.

Every family (:class:`~dermfeat.features.LBPFeatures`,
:class:`~dermfeat.features.GaborFeatures`, ...) derives from
:class:`_HandcraftedFamily`.  A family computes its features from a
:class:`WorkingImage`: the decoded photograph resized to a fixed working size,
with the grey, CIELAB, HSV and YCrCb representations computed lazily and at most
once.  :class:`HandcraftedFeatures` decodes each image once, builds one working
image per distinct working size and calls every family's
``_features_from_view`` hook on it, so conversions are shared between families.
"""

from __future__ import annotations

import functools
from numbers import Integral

import cv2
import numpy as np
from sklearn.base import clone

from ..base import BaseImageTransformer, feature_state
from ..utils._param_validation import InvalidParameterError, Interval, validate_parameters

#: The longer side of the working image is at most this many times ``image_size``
#: (extreme strips are squeezed rather than producing huge working images).
MAX_ASPECT = 4


# --------------------------------------------------------------- working size
def working_shape(height, width, image_size):
    """Shape ``(h, w)`` of the working image for an image of ``height x width``.

    The shorter side becomes ``image_size`` and the aspect ratio is kept, except
    that the longer side is capped at ``MAX_ASPECT * image_size``.
    """
    scale = image_size / min(height, width)
    cap = MAX_ASPECT * image_size
    h = int(min(cap, max(image_size, round(height * scale))))
    w = int(min(cap, max(image_size, round(width * scale))))
    return h, w


def to_working_size(image, image_size):
    """Resize an ``(H, W, ...)`` image so that its shorter side is ``image_size``.

    Downscaling uses pixel-area averaging (no aliasing), upscaling bilinear
    interpolation; an image already at the working size is returned unchanged.
    """
    h, w = image.shape[:2]
    th, tw = working_shape(h, w, image_size)
    if (th, tw) == (h, w):
        return image
    interpolation = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_LINEAR
    return cv2.resize(image, (tw, th), interpolation=interpolation)


# ------------------------------------------------------------ colour spaces
# sRGB (IEC 61966-2-1) decoding of 8-bit values to linear light, exact per value.
_V = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_V <= 0.04045, _V / 12.92, ((_V + 0.055) / 1.055) ** 2.4).astype(np.float32)
#: Linear sRGB -> CIE XYZ (D65) and the D65 2-degree reference white.
_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZN = (_RGB_TO_XYZ / _WHITE_D65[:, None]).astype(np.float32)
_LAB_EPS = 216.0 / 24389.0  # (6/29)**3
_LAB_SLOPE = 24389.0 / 27.0 / 116.0  # slope of the linear segment: 1 / (3 (6/29)**2)
#: [L, a, b] = A @ [fX, fY, fZ] + offset
_F_TO_LAB = np.array([[0, 116, 0, -16], [500, -500, 0, 0], [0, 200, -200, 0]], dtype=np.float32)
#: Full-range ITU-R BT.601 (JFIF) R'G'B' (0-255) -> Y, Cr, Cb (0-255)
_RGB_TO_YCRCB = np.array(
    [
        [0.299, 0.587, 0.114, 0.0],
        [0.5, -0.418688, -0.081312, 128.0],
        [-0.168736, -0.331264, 0.5, 128.0],
    ],
    dtype=np.float32,
)


def rgb_to_lab(rgb):
    """CIELAB (D65, 2-degree observer) of an RGB ``uint8`` image, as float32.

    ``L*`` is in [0, 100]; ``a*`` and ``b*`` roughly in [-128, 128].  sRGB values
    are decoded exactly (a 256-entry table), converted to XYZ with the sRGB/D65
    matrix and to CIELAB with the CIE formulas::

        f(t) = t ** (1/3)                 if t > (6/29)**3
             = t / (3 (6/29)**2) + 4/29   otherwise
        L* = 116 f(Y/Yn) - 16
        a* = 500 (f(X/Xn) - f(Y/Yn))
        b* = 200 (f(Y/Yn) - f(Z/Zn))

    The result agrees with :func:`skimage.color.rgb2lab` to about 1e-3.
    """
    linear = cv2.LUT(np.ascontiguousarray(rgb), _SRGB_TO_LINEAR)
    xyz = cv2.transform(linear, _RGB_TO_XYZN)
    # f(t) = cbrt(max(t, eps)) + slope * min(t - eps, 0): the CIE linear segment is
    # the tangent of the cube root at eps, so this equals the piecewise definition.
    below = np.minimum(xyz, np.float32(_LAB_EPS))
    below -= np.float32(_LAB_EPS)
    below *= np.float32(_LAB_SLOPE)
    np.maximum(xyz, np.float32(_LAB_EPS), out=xyz)
    np.cbrt(xyz, out=xyz)
    xyz += below
    return cv2.transform(xyz, _F_TO_LAB)


def rgb_to_ycrcb(rgb):
    """Full-range (JFIF) ``Y, Cr, Cb`` of an RGB ``uint8`` image, float32 in [0, 255]::

        Y  = 0.299 R + 0.587 G + 0.114 B
        Cr = 128 + 0.5 R - 0.418688 G - 0.081312 B
        Cb = 128 - 0.168736 R - 0.331264 G + 0.5 B
    """
    return cv2.transform(np.asarray(rgb, dtype=np.float32), _RGB_TO_YCRCB)


def rgb_to_hsv(rgb):
    """HSV of an RGB ``uint8`` image as float32: hue in degrees [0, 360), S and V in [0, 1].

    With ``M = max(R, G, B)``, ``m = min(R, G, B)`` and ``d = M - m``::

        V = M / 255,   S = d / M  (0 when M = 0)
        H = 60 (G - B) / d        (mod 360) if M = R
          = 120 + 60 (B - R) / d            if M = G
          = 240 + 60 (R - G) / d            if M = B
          = 0                               if d = 0

    Hues of 8-bit colours are multiples of ``60 / d``, so float rounding only
    matters at exactly 180 degrees (``G = B > R``), which is set exactly; any
    other hue is at least 0.23 degrees from 180.
    """
    rgb = np.ascontiguousarray(rgb)
    hsv = cv2.cvtColor(rgb.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2HSV)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hsv[..., 0][(g == b) & (r < g)] = 180.0
    return hsv


def rgb_to_grey(rgb):
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` as ``uint8`` (OpenCV's rounding)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


class WorkingImage:
    """One photograph at the working size, with representations computed on demand.

    Each attribute is computed at most once, so families sharing a
    :class:`WorkingImage` share the colour conversions.

    Attributes
    ----------
    rgb : ndarray of shape (h, w, 3), uint8
    grey : ndarray of shape (h, w), uint8
        BT.601 luma.
    grey_float : ndarray of shape (h, w), float32
        ``grey / 255``.
    lab, hsv, ycrcb : ndarray of shape (h, w, 3), float32
        See :func:`rgb_to_lab`, :func:`rgb_to_hsv`, :func:`rgb_to_ycrcb`.
    """

    def __init__(self, rgb):
        self.rgb = np.ascontiguousarray(rgb)

    @classmethod
    def from_image(cls, image, image_size):
        return cls(to_working_size(image, image_size))

    @functools.cached_property
    def grey(self):
        return rgb_to_grey(self.rgb)

    @functools.cached_property
    def grey_float(self):
        return self.grey.astype(np.float32) * np.float32(1 / 255)

    @functools.cached_property
    def lab(self):
        return rgb_to_lab(self.rgb)

    @functools.cached_property
    def hsv(self):
        return rgb_to_hsv(self.rgb)

    @functools.cached_property
    def ycrcb(self):
        return rgb_to_ycrcb(self.rgb)


def channel_statistics(channels, percentiles):
    """Mean, standard deviation and percentiles of each row of a ``(C, N)`` array.

    Returns an array of shape ``(C, 2 + len(percentiles))``; percentiles use
    linear interpolation between order statistics (numpy's default).
    """
    channels = np.asarray(channels)
    out = np.empty((channels.shape[0], 2 + len(percentiles)), dtype=np.float64)
    out[:, 0] = channels.mean(axis=1, dtype=np.float64)
    out[:, 1] = channels.std(axis=1, dtype=np.float64)
    if len(percentiles):
        out[:, 2:] = np.percentile(channels, percentiles, axis=1).T
    return out


def percentile_name(q):
    """``10 -> 'p10'``, ``2.5 -> 'p2.5'``."""
    return f"p{q:g}"


# ----------------------------------------------------------- constraints
class SequenceOf:
    """A non-empty list or tuple whose items all satisfy ``constraint``."""

    def __init__(self, constraint, description=None):
        self.constraint, self.description = constraint, description

    def is_satisfied_by(self, value):
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            return False
        for item in value:
            if isinstance(self.constraint, type):
                if not isinstance(item, self.constraint) or isinstance(item, bool):
                    return False
            elif not self.constraint.is_satisfied_by(item):
                return False
        return True

    def __str__(self):
        return self.description or f"a non-empty list or tuple of {self.constraint}"


def _as_float_tuple(values):
    return tuple(float(v) for v in values)


# ------------------------------------------------------------ family base
class _HandcraftedFamily(BaseImageTransformer):
    """Base of the handcrafted families: a fixed working size and a per-view hook.

    Subclasses implement ``_feature_names()`` and ``_features_from_view(view)``
    (``view`` is a :class:`WorkingImage`), and store ``image_size`` among their
    parameters.  JPEG files decode directly at a reduced scale that keeps the
    shorter side at or above ``image_size``.
    """

    _parameter_constraints = {
        **BaseImageTransformer._parameter_constraints,
        "image_size": [Interval(Integral, 16, 4096)],
    }

    def _decode_target(self):
        return self.image_size

    def _transform_one(self, image):
        return self._features_from_view(WorkingImage.from_image(image, self.image_size))

    def _features_from_view(self, view):
        raise NotImplementedError

    def _check_params(self):
        """Checks beyond ``_parameter_constraints`` (called by ``fit``)."""

    def fit(self, X=None, y=None):
        """Validate the parameters; the families are stateless.

        Parameters
        ----------
        X : images, optional
            Ignored.
        y : array-like, optional
            Ignored.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        self._check_params()
        return super().fit(X, y)


# ------------------------------------------------------ the combination
def default_families():
    """The default ``(name, family)`` list of :class:`HandcraftedFeatures` (fresh instances)."""
    from ._color import ColorFeatures
    from ._gabor import GaborFeatures
    from ._glcm import GLCMFeatures
    from ._lbp import LBPFeatures
    from ._quality import QualityFeatures
    from ._redness import RednessFeatures
    from ._skin_tone import SkinToneFeatures

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

    def fit(self, X=None, y=None):
        """Validate the parameters and fit (validate) every family.

        Parameters
        ----------
        X : images, optional
            Ignored: the families are stateless.
        y : array-like, optional
            Ignored.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        families = self._check_families()
        self.families_ = [(name, clone(family).fit()) for name, family in families if not isinstance(family, str)]
        if not self.families_:
            raise InvalidParameterError("HandcraftedFeatures needs at least one family that is not 'drop'")
        return super().fit(X, y)

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
