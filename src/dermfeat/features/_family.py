"""The handcrafted feature family: the base class every family derives from, and its small helpers.

Every family (:class:`~dermfeat.features.LBPFeatures`,
:class:`~dermfeat.features.GaborFeatures`, ...) derives from
:class:`_HandcraftedFamily`.  A family computes its features from a
:class:`~dermfeat.imaging.WorkingImage`: the decoded photograph resized to a
fixed working size, with the grey, CIELAB, HSV and YCrCb representations
computed lazily and at most once, so that
:class:`~dermfeat.features.HandcraftedFeatures` can share them between families.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..base import BaseImageTransformer
from ..imaging import WorkingImage
from ..utils._param_validation import Interval, SequenceOf, validate_parameters  # noqa: F401 - SequenceOf: its old path


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


def _as_float_tuple(values):
    return tuple(float(v) for v in values)


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

    def _fit(self, X, y):
        self._check_params()
