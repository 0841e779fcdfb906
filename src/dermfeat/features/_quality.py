"""Image quality: blur, noise, exposure, contrast and colour cast."""

from __future__ import annotations

import math
from numbers import Integral

import cv2
import numpy as np

from ..utils._param_validation import InvalidParameterError, Interval
from ._family import _HandcraftedFamily

#: Immerkaer's noise-estimation kernel (difference of two Laplacians).
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


class QualityFeatures(_HandcraftedFamily):
    """Acquisition quality: the image properties that classification errors cluster on.

    Computed on the working image, with ``g`` the BT.601 luma scaled to [0, 1]
    and ``N`` the number of pixels:

    ``blur_laplacian_var``
        Variance of the 4-neighbour Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``
        of ``g`` (symmetric boundary, ``d c b a | a b c d``); low values mean a
        blurred or out-of-focus photograph (Pech-Pacheco et al. 2000).
    ``noise_sigma``
        Immerkaer's (1996) noise estimate
        ``sqrt(pi / 2) / (6 (H - 2) (W - 2)) * sum |g * K|`` over the interior
        pixels, ``K = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]]``.
    ``brightness``
        Mean of ``g``.
    ``contrast_rms``
        Standard deviation of ``g``.
    ``contrast_range``
        ``p95(g) - p5(g)``.
    ``dark_fraction``, ``bright_fraction``
        Fraction of clipped pixels: ``max(R, G, B) <= dark_threshold`` (crushed
        shadows) and ``max(R, G, B) >= bright_threshold`` (a blown channel).
    ``cast_rg``, ``cast_bg``, ``cast_strength``
        Grey-world colour cast: ``ln((mean R + 1) / (mean G + 1))``,
        ``ln((mean B + 1) / (mean G + 1))`` and their Euclidean norm (0 for a
        neutral image; skin itself makes ``cast_rg`` positive).

    Parameters
    ----------
    dark_threshold : int, default=10
        Pixels whose brightest channel is at or below this count as clipped dark.
    bright_threshold : int, default=250
        Pixels with a channel at or above this count as clipped bright.
    image_size : int, default=256
        Working size: the shorter side of the resized image.  Blur and noise
        depend on the scale, so compare values at one working size.
    n_jobs : int or None, default=None
        Parallel workers over images.
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
    n_features_out_ : int

    Examples
    --------
    >>> import cv2
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import QualityFeatures
    >>> image = make_lesion_images(1, image_size=128, quality_variation=0, random_state=0).images[0]
    >>> blurred = cv2.GaussianBlur(image, (0, 0), 3)
    >>> quality = QualityFeatures(image_size=128).fit()
    >>> sharp_blur, blurred_blur = quality.transform([image, blurred])[:, 0]
    >>> bool(sharp_blur > 5 * blurred_blur)
    True
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "dark_threshold": [Interval(Integral, 0, 254)],
        "bright_threshold": [Interval(Integral, 1, 255)],
    }

    def __init__(self, dark_threshold=10, bright_threshold=250, image_size=256, n_jobs=None, memory=None, on_error="raise"):
        self.dark_threshold = dark_threshold
        self.bright_threshold = bright_threshold
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [{"image_size": 32}]

    def _check_params(self):
        if self.dark_threshold >= self.bright_threshold:
            raise InvalidParameterError(
                f"QualityFeatures: dark_threshold ({self.dark_threshold}) must be below "
                f"bright_threshold ({self.bright_threshold})"
            )

    def _feature_names(self):
        return [
            "blur_laplacian_var", "noise_sigma", "brightness", "contrast_rms", "contrast_range",
            "dark_fraction", "bright_fraction", "cast_rg", "cast_bg", "cast_strength",
        ]

    def _features_from_view(self, view):
        g = view.grey_float
        h, w = g.shape
        laplacian = cv2.Laplacian(g, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
        noise = cv2.filter2D(g, cv2.CV_32F, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
        noise_sigma = math.sqrt(math.pi / 2) * float(np.abs(noise).sum(dtype=np.float64)) / (6 * noise.size) if noise.size else 0.0
        counts = np.bincount(view.grey.ravel(), minlength=256)
        p5, p95 = _histogram_percentiles(counts, (5, 95))
        brightest = cv2.max(cv2.max(view.rgb[:, :, 0], view.rgb[:, :, 1]), view.rgb[:, :, 2])
        means = view.rgb.reshape(-1, 3).mean(axis=0, dtype=np.float64)
        cast_rg = math.log((means[0] + 1) / (means[1] + 1))
        cast_bg = math.log((means[2] + 1) / (means[1] + 1))
        return np.array(
            [
                laplacian.var(dtype=np.float64),
                noise_sigma,
                g.mean(dtype=np.float64),
                g.std(dtype=np.float64),
                (p95 - p5) / 255.0,
                np.count_nonzero(brightest <= self.dark_threshold) / (h * w),
                np.count_nonzero(brightest >= self.bright_threshold) / (h * w),
                cast_rg,
                cast_bg,
                math.hypot(cast_rg, cast_bg),
            ],
            dtype=np.float64,
        )


def _histogram_percentiles(counts, percentiles):
    """Percentiles of integer data from its histogram, as ``numpy.percentile`` (linear) computes them."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    out = []
    for q in percentiles:
        position = (n - 1) * q / 100.0
        lower = math.floor(position)
        frac = position - lower
        lo = int(np.searchsorted(cumulative, lower + 1))
        hi = int(np.searchsorted(cumulative, min(lower + 1, n - 1) + 1))
        out.append(lo + frac * (hi - lo))
    return out
