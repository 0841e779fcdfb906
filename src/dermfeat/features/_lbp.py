"""Local binary pattern (LBP) histograms."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from ..utils._param_validation import Interval, InvalidParameterError, Options, SequenceOf
from ._family import _HandcraftedFamily

_METHODS = ("uniform", "nri_uniform")


class _PointRadius:
    """A ``(points, radius)`` pair: an int >= 3 and a positive number."""

    def is_satisfied_by(self, value):
        return (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and Interval(Integral, 3, 64).is_satisfied_by(value[0])
            and Interval(Real, 0, 32, closed="right").is_satisfied_by(value[1])
        )

    def __str__(self):
        return "a (points, radius) pair with 3 <= points <= 64 and 0 < radius <= 32"


def n_lbp_bins(points, method):
    """Number of histogram bins: ``P + 2`` for "uniform", ``P (P - 1) + 3`` for "nri_uniform"."""
    return points + 2 if method == "uniform" else points * (points - 1) + 3


def _sampling_points(points, radius):
    """Row and column offsets of the P sampling points, rounded to 5 decimals.

    Point ``p`` lies at angle ``2 pi p / P`` counter-clockwise from the +column
    axis: ``(-R sin(2 pi p / P), R cos(2 pi p / P))`` in (row, column), with rows
    pointing down (p = 0 is the right neighbour, p = P/4 the one above).  The
    rounding makes the axis-aligned points exact.
    """
    angles = 2.0 * np.pi * np.arange(points) / points
    return np.round(-radius * np.sin(angles), 5), np.round(radius * np.cos(angles), 5)


class _DifferenceImages:
    """``I[y + dy, x + dx] - I[y, x]`` over an interior region, per integer offset, cached."""

    def __init__(self, image, margin):
        self.image = image
        self.margin = margin
        h, w = image.shape
        self.centre = image[margin : h - margin, margin : w - margin]
        self._cache = {}

    def __call__(self, dy, dx):
        key = (dy, dx)
        diff = self._cache.get(key)
        if diff is None:
            m = self.margin
            h, w = self.image.shape
            diff = self._cache[key] = self.image[m + dy : h - m + dy, m + dx : w - m + dx] - self.centre
        return diff


def _neighbour_bits(diffs, points, radius):
    """One boolean plane per sampling point: ``neighbour >= centre``.

    The neighbour is the bilinear interpolation of the four pixels around the
    sampling point.  It is compared through ``sum_k w_k (I_k - I_c) >= 0``, with
    the differences exact for integer images, so ties (a flat neighbourhood, or
    a linear gradient across a diagonal point) are resolved exactly.
    """
    planes = []
    tmp = np.empty(diffs.centre.shape, np.float32)
    for dy, dx in zip(*_sampling_points(points, radius)):
        fy, fx = math.floor(dy), math.floor(dx)
        ty, tx = dy - fy, dx - fx
        # offsets have 5 decimals, so the exact weights have 10: rounding to 10 makes
        # weights that are equal in exact arithmetic bitwise equal (symmetric ties cancel)
        terms = [
            (fy, fx, round((1.0 - ty) * (1.0 - tx), 10)),
            (fy, fx + 1, round((1.0 - ty) * tx, 10)),
            (fy + 1, fx, round(ty * (1.0 - tx), 10)),
            (fy + 1, fx + 1, round(ty * tx, 10)),
        ]
        acc = None
        for oy, ox, weight in terms:
            if weight == 0.0:
                continue
            diff = diffs(oy, ox)
            if acc is None:
                acc = diff.copy() if weight == 1.0 else np.multiply(diff, np.float32(weight))
            else:
                acc += np.multiply(diff, np.float32(weight), out=tmp)
        planes.append(acc >= 0)
    return planes


def _codes_from_bits(planes, method):
    """LBP codes from the P bit planes (bit p set when neighbour p >= centre).

    With ``U`` the number of 0/1 transitions around the circle and ``n`` the number
    of set bits:

    * ``"uniform"`` (rotation-invariant uniform, riu2): ``n`` if ``U <= 2`` else
      ``P + 1``;
    * ``"nri_uniform"``: 0 if ``n = 0``; ``P (P - 1) + 1`` if ``n = P``;
      ``1 + (n - 1) P + ((P - s) mod P)`` for the other uniform patterns, where
      ``s`` is the point at which the run of ones starts; ``P (P - 1) + 2`` for
      non-uniform patterns (the same numbering as scikit-image).
    """
    points = len(planes)
    shape = planes[0].shape
    ones = np.zeros(shape, np.uint8)
    changes = np.zeros(shape, np.uint8)
    for p in range(points):
        ones += planes[p]
        changes += planes[p] ^ planes[p - 1]
    uniform = changes <= 2
    if method == "uniform":
        codes = ones
        codes[~uniform] = points + 1
        return codes
    start = np.zeros(shape, np.uint16)
    for p in range(points):
        start[planes[p] & ~planes[p - 1]] = p
    codes = 1 + (ones.astype(np.uint16) - 1) * points + (points - start) % points
    codes[ones == 0] = 0
    codes[ones == points] = points * (points - 1) + 1
    codes[~uniform] = points * (points - 1) + 2
    return codes


def _check_grey(image):
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {image.shape}")
    return image.astype(np.float32)


def lbp_code_map(image, points=8, radius=1, method="uniform"):
    """Local binary pattern code of every pixel whose sampling circle lies in the image.

    For each pixel ``c``, ``P`` points are sampled on a circle of radius ``R``
    (bilinear interpolation, point ``p`` at angle ``2 pi p / P`` from the +column
    axis, counter-clockwise with rows pointing down) and bit ``p`` is set when the
    sample is ``>=`` the centre.  The bits are mapped to codes:

    * ``"uniform"``: rotation-invariant uniform patterns (riu2): the number of
      set bits when the circular pattern has at most two 0/1 transitions, else
      ``P + 1``.  ``P + 2`` codes.
    * ``"nri_uniform"``: non-rotation-invariant uniform patterns: one code per
      uniform pattern and one for all others, ``P (P - 1) + 3`` codes, numbered
      as in :func:`skimage.feature.local_binary_pattern`.

    Only pixels at least ``ceil(R)`` from the border are coded, so no padding
    value enters the codes.  Ties are resolved exactly for integer images: the
    comparison is made as ``sum_k w_k (I_k - I_c) >= 0`` over the four pixels of
    the interpolation, which is exactly 0 on flat neighbourhoods and symmetric
    gradients.  (scikit-image's float64 interpolation occasionally turns such
    ties into 0 bits for R >= 2, so the two codes can differ on a small fraction
    of pixels.)

    Parameters
    ----------
    image : array-like of shape (H, W)
        Grey image, preferably of integer type (``uint8``).
    points : int, default=8
        Number of sampling points ``P``.
    radius : float, default=1
        Radius ``R`` of the circle, in pixels.
    method : {"uniform", "nri_uniform"}, default="uniform"
        Code mapping.

    Returns
    -------
    codes : ndarray of shape (H - 2 ceil(R), W - 2 ceil(R))
        Integer codes in ``[0, n_bins)``.

    Examples
    --------
    A bright centre pixel has no neighbour at least as bright (code 0), a dark
    one has all eight (code 8):

    >>> import numpy as np
    >>> from dermfeat.features import lbp_code_map
    >>> image = np.array([[5, 5, 5, 5],
    ...                   [5, 9, 1, 5],
    ...                   [5, 5, 5, 5]], dtype=np.uint8)
    >>> lbp_code_map(image, points=8, radius=1)
    array([[0, 8]], dtype=uint8)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    grey = _check_grey(image)
    margin = math.ceil(radius)
    if min(grey.shape) <= 2 * margin:
        raise ValueError(f"image of shape {grey.shape} is too small for radius {radius}")
    diffs = _DifferenceImages(grey, margin)
    return _codes_from_bits(_neighbour_bits(diffs, int(points), float(radius)), method)


class LBPFeatures(_HandcraftedFamily):
    """Normalised local binary pattern histograms at several scales.

    For each ``(P, R)`` pair and channel, the LBP code of every pixel at least
    ``max ceil(R)`` pixels from the border is computed as in :func:`lbp_code_map`
    and the codes are counted; each histogram is divided by the number of pixels
    (it sums to 1).  Computed on the working image (shorter side
    ``image_size``), so the features do not depend on the photograph's
    resolution.  Sampling offsets shared between points and radii are computed
    once per image; no kernel is rebuilt per image.

    Parameters
    ----------
    points_radii : list of (int, float), default=((8, 1), (16, 2), (24, 3))
        ``(P, R)``: number of sampling points and circle radius in pixels.
    method : {"uniform", "nri_uniform"}, default="uniform"
        ``"uniform"``: rotation-invariant uniform patterns, ``P + 2`` bins;
        ``"nri_uniform"``: non-rotation-invariant uniform patterns,
        ``P (P - 1) + 3`` bins.
    channels : {"grey", "rgb"}, default="grey"
        Code the BT.601 luma, or each of R, G and B separately.
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
        ``<channel>_p<P>_r<R>_<code>``, e.g. ``grey_p8_r1_9`` (the non-uniform bin
        of the uniform method at P = 8).
    n_features_out_ : int

    See Also
    --------
    lbp_code_map : the per-pixel codes.

    References
    ----------
    T. Ojala, M. Pietikainen, T. Maenpaa, "Multiresolution gray-scale and rotation
    invariant texture classification with local binary patterns", IEEE TPAMI 24(7),
    2002.

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import LBPFeatures
    >>> images = make_lesion_images(2, image_size=64, random_state=0).images
    >>> lbp = LBPFeatures(points_radii=[(8, 1), (16, 2)], image_size=64)
    >>> X = lbp.fit_transform(images)
    >>> X.shape
    (2, 28)
    >>> round(float(X[0, :10].sum()), 12)  # one normalised histogram per (P, R)
    1.0
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "points_radii": [SequenceOf(_PointRadius(), "a non-empty list of (points, radius) pairs")],
        "method": [Options(*_METHODS)],
        "channels": [Options("grey", "rgb")],
    }

    def __init__(
        self,
        points_radii=((8, 1), (16, 2), (24, 3)),
        method="uniform",
        channels="grey",
        image_size=256,
        n_jobs=None,
        memory=None,
        on_error="raise",
    ):
        self.points_radii = points_radii
        self.method = method
        self.channels = channels
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [
            {"image_size": 48},
            {"image_size": 32, "points_radii": [(8, 1.5)], "method": "nri_uniform", "channels": "rgb"},
        ]

    def _check_params(self):
        margin = max(math.ceil(r) for _, r in self.points_radii)
        if 2 * margin + 1 > self.image_size:
            raise InvalidParameterError(
                f"LBPFeatures: the largest radius ({margin}) does not fit in image_size={self.image_size}"
            )

    def _channel_names(self):
        return ["grey"] if self.channels == "grey" else ["r", "g", "b"]

    def _feature_names(self):
        return [
            f"{channel}_p{int(p)}_r{float(r):g}_{k}"
            for channel in self._channel_names()
            for p, r in self.points_radii
            for k in range(n_lbp_bins(int(p), self.method))
        ]

    def _features_from_view(self, view):
        planes = [view.grey] if self.channels == "grey" else [view.rgb[:, :, c] for c in range(3)]
        margin = max(math.ceil(r) for _, r in self.points_radii)
        out = []
        for plane in planes:
            diffs = _DifferenceImages(plane.astype(np.float32), margin)
            n_pixels = diffs.centre.size
            for p, r in self.points_radii:
                codes = _codes_from_bits(_neighbour_bits(diffs, int(p), float(r)), self.method)
                counts = np.bincount(codes.ravel(), minlength=n_lbp_bins(int(p), self.method))
                out.append(counts / n_pixels)
        return np.concatenate(out)
