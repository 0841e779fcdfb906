"""Redness: erythema index and CIELAB a* statistics."""

from __future__ import annotations

from numbers import Real

import cv2
import numpy as np

from ..utils._param_validation import InvalidParameterError, Interval
from ..imaging import otsu_threshold
from ._family import _HandcraftedFamily, channel_statistics, percentile_name

# 100 * log10(reflectance) of every 8-bit value; 0 is clipped to 1/255 so black stays finite.
_LOG_REFLECTANCE = (100.0 * np.log10(np.maximum(np.arange(256), 1) / 255.0)).astype(np.float32)


def erythema_index(rgb):
    """Per-pixel erythema index from RGB reflectances.

    Following Yamamoto et al. (2008), with the customary factor 100::

        EI = 100 * (log10(1 / rho_G) - log10(1 / rho_R)) = 100 * log10(rho_R / rho_G)

    where ``rho = v / 255`` is the reflectance of the 8-bit (sRGB-encoded,
    not linearised) value ``v``, clipped below at ``1 / 255`` so that black
    pixels give finite values.  Grey pixels give 0, red ones positive values.

    Parameters
    ----------
    rgb : ndarray of shape (..., 3), uint8
        RGB image or colours.

    Returns
    -------
    ei : ndarray of shape rgb.shape[:-1], float32

    References
    ----------
    T. Yamamoto, H. Takiwaki, S. Arase, H. Ohshima, "Derivation and clinical
    application of special imaging by means of digital cameras and Image J
    freeware for quantification of erythema and pigmentation", Skin Research and
    Technology 14(1), 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import erythema_index
    >>> erythema_index(np.array([[200, 100, 90], [120, 120, 120]], dtype=np.uint8)).round(3)
    array([30.103,  0.   ], dtype=float32)
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB values of shape (..., 3), got {rgb.dtype} {rgb.shape}")
    red = cv2.LUT(np.ascontiguousarray(rgb[..., 0]), _LOG_REFLECTANCE)
    green = cv2.LUT(np.ascontiguousarray(rgb[..., 1]), _LOG_REFLECTANCE)
    return (red - green).reshape(rgb.shape[:-1])


def _split_contrast(values, threshold):
    upper = values > threshold
    n_upper = int(np.count_nonzero(upper))
    if n_upper in (0, values.size):
        return 0.0, n_upper / values.size
    return float(values[upper].mean(dtype=np.float64) - values[~upper].mean(dtype=np.float64)), n_upper / values.size


class RednessFeatures(_HandcraftedFamily):
    """Erythema index and CIELAB ``a*`` statistics: how red the skin and the lesion are.

    Per pixel of the working image, the erythema index
    ``EI = 100 * log10(rho_R / rho_G)`` (:func:`erythema_index`; Yamamoto et al.
    2008) and the CIELAB redness ``a*`` are computed.  For each, over all ``N``
    pixels: mean, standard deviation, the requested percentiles and the spread
    ``p_high - p_low`` between the highest and the lowest requested percentile
    (how much redder the reddest part is than the rest).  Lesion redness is also
    measured by splitting ``a*`` with Otsu's threshold (:func:`otsu_threshold`):

        a_otsu_contrast = mean(a* | a* > t) - mean(a* | a* <= t)
        a_otsu_fraction = fraction of pixels with a* > t

    (0 and the fraction of the upper class when one class is empty).

    Parameters
    ----------
    percentiles : list of float, default=(10, 50, 90)
        Percentiles in [0, 100]; at least two for the spread.
    image_size : int, default=256
        Working size: the shorter side of the resized image.
    n_jobs : int or None, default=None
        Parallel workers over images.
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``ei_mean, ei_std, ei_p10, ..., ei_spread, a_mean, ..., a_spread,
        a_otsu_contrast, a_otsu_fraction``.
    n_features_out_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import RednessFeatures
    >>> skin = np.full((64, 64, 3), (205, 160, 140), dtype=np.uint8)
    >>> skin[16:48, 16:48] = (190, 100, 100)  # a red plaque
    >>> redness = RednessFeatures(image_size=64).fit()
    >>> features = dict(zip(redness.get_feature_names_out(), redness.transform(skin)[0].round(2).tolist()))
    >>> features["ei_p90"], features["ei_p10"]  # 100 log10(190 / 100), 100 log10(205 / 160)
    (27.88, 10.76)
    >>> features["a_otsu_fraction"]  # the plaque covers a quarter of the image
    0.25
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "percentiles": [list, tuple],
    }

    def __init__(self, percentiles=(10, 50, 90), image_size=256, n_jobs=None, memory=None, on_error="raise"):
        self.percentiles = percentiles
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [{"image_size": 32}]

    def _check_params(self):
        if len(self.percentiles) < 2 or not all(Interval(Real, 0, 100).is_satisfied_by(q) for q in self.percentiles):
            raise InvalidParameterError(
                f"RednessFeatures: percentiles must be at least two values in [0, 100], got {self.percentiles!r}"
            )

    def _feature_names(self):
        stats = ["mean", "std", *(percentile_name(q) for q in self.percentiles), "spread"]
        return [f"{name}_{stat}" for name in ("ei", "a") for stat in stats] + ["a_otsu_contrast", "a_otsu_fraction"]

    def _features_from_view(self, view):
        ei = erythema_index(view.rgb).ravel()
        a_star = np.ascontiguousarray(view.lab[:, :, 1]).ravel()
        q = list(self.percentiles)
        low, high = q.index(min(q)), q.index(max(q))
        out = []
        for values in (ei, a_star):
            stats = channel_statistics(values[None, :], q)[0]
            out.append(np.r_[stats, stats[2 + high] - stats[2 + low]])
        contrast, fraction = _split_contrast(a_star, otsu_threshold(a_star))
        out.append([contrast, fraction])
        return np.concatenate(out)
