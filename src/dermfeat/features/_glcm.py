"""Grey-level co-occurrence matrix (GLCM) statistics."""

from __future__ import annotations

import math
from numbers import Integral, Real

import cv2
import numpy as np

from ..utils._param_validation import Interval, Options, SequenceOf
from ._family import _HandcraftedFamily

#: The GLCM properties, in output order.
GLCM_PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation", "entropy")


def _round_half_away(value):
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def glcm_offsets(distances, angles):
    """``(d_row, d_col)`` of each (distance, angle) pair, distance-major.

    ``d_row = round(d sin(theta))``, ``d_col = round(d cos(theta))`` with ``theta``
    in degrees and rows pointing down (so 90 degrees pairs a pixel with the one
    below; with symmetric matrices the direction does not matter).  This is the
    convention of :func:`skimage.feature.graycomatrix`.
    """
    return [
        (_round_half_away(d * math.sin(math.radians(a))), _round_half_away(d * math.cos(math.radians(a))))
        for d in distances
        for a in angles
    ]


def glcm_matrices(levels_image, distances, angles, levels, symmetric=True, normed=True):
    """Grey-level co-occurrence matrices of an image of small integer levels.

    ``P[d, a, i, j]`` counts the pixel pairs ``(p, p + offset(d, a))`` (both inside
    the image) with level ``i`` at ``p`` and ``j`` at the other pixel, see
    :func:`glcm_offsets`.  With ``symmetric`` the transpose is added (each pair is
    counted in both orders); with ``normed`` each matrix is divided by its sum
    (an empty matrix stays 0).  Counting is one 2-D histogram per offset over
    shifted views of the image, with no per-pixel Python loop.

    Parameters
    ----------
    levels_image : ndarray of shape (H, W), integer
        Values in ``[0, levels)``.
    distances : sequence of int
        Pair distances in pixels.
    angles : sequence of float
        Pair angles in degrees.
    levels : int
        Number of grey levels (at most 256).
    symmetric : bool, default=True
    normed : bool, default=True

    Returns
    -------
    P : ndarray of shape (n_distances, n_angles, levels, levels), float64

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import glcm_matrices
    >>> image = np.array([[0, 0, 1],
    ...                   [1, 2, 2]], dtype=np.uint8)
    >>> glcm_matrices(image, [1], [0], levels=3, symmetric=False, normed=False)[0, 0]
    array([[1., 1., 0.],
           [0., 0., 1.],
           [0., 0., 1.]])
    """
    image = np.asarray(levels_image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image of levels, got shape {image.shape}")
    if not 1 <= levels <= 256:
        raise ValueError(f"levels must be in [1, 256], got {levels}")
    if image.size and (image.min() < 0 or image.max() >= levels):
        raise ValueError(f"image values must lie in [0, {levels}), found [{image.min()}, {image.max()}]")
    image = image.astype(np.uint8)
    h, w = image.shape
    offsets = glcm_offsets(distances, angles)
    out = np.zeros((len(offsets), levels, levels), dtype=np.float64)
    for k, (dr, dc) in enumerate(offsets):
        r0, r1 = max(0, -dr), min(h, h - dr)
        c0, c1 = max(0, -dc), min(w, w - dc)
        if r1 <= r0 or c1 <= c0:
            continue
        first = np.ascontiguousarray(image[r0:r1, c0:c1])
        second = np.ascontiguousarray(image[r0 + dr : r1 + dr, c0 + dc : c1 + dc])
        out[k] = cv2.calcHist([first, second], [0, 1], None, [levels, levels], [0, levels, 0, levels])
    if symmetric:
        out += out.transpose(0, 2, 1)
    if normed:
        sums = out.sum(axis=(1, 2), keepdims=True)
        np.divide(out, sums, out=out, where=sums > 0)
    return out.reshape(len(distances), len(angles), levels, levels)


def glcm_properties(P):
    """Texture properties of normalised co-occurrence matrices.

    With ``P`` normalised (sums to 1) and ``i, j`` the level indices, following
    :func:`skimage.feature.graycoprops`::

        contrast      = sum_ij P_ij (i - j)^2
        dissimilarity = sum_ij P_ij |i - j|
        homogeneity   = sum_ij P_ij / (1 + (i - j)^2)
        ASM           = sum_ij P_ij^2
        energy        = sqrt(ASM)
        correlation   = sum_ij P_ij (i - mu_i)(j - mu_j) / (sigma_i sigma_j)
                        with mu_i = sum_ij i P_ij, sigma_i^2 = sum_ij P_ij (i - mu_i)^2
                        (and likewise for j); 1 when sigma_i or sigma_j < 1e-15
        entropy       = -sum_ij P_ij ln(P_ij)   (natural log, 0 ln 0 = 0)

    Parameters
    ----------
    P : ndarray of shape (..., levels, levels)
        Normalised co-occurrence matrices.

    Returns
    -------
    properties : dict of str to ndarray of shape P.shape[:-2]
        One entry per name in ``GLCM_PROPERTIES``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import glcm_properties
    >>> P = np.array([[0.5, 0.0], [0.0, 0.5]])  # two levels, never adjacent to each other
    >>> props = glcm_properties(P)
    >>> float(props["contrast"]), float(props["energy"]), float(props["correlation"])
    (0.0, 0.7071067811865476, 1.0)
    """
    P = np.asarray(P, dtype=np.float64)
    levels = P.shape[-1]
    i = np.arange(levels, dtype=np.float64)
    diff = i[:, None] - i[None, :]
    flat = P.reshape(-1, levels, levels)
    contrast = np.einsum("kij,ij->k", flat, diff**2)
    dissimilarity = np.einsum("kij,ij->k", flat, np.abs(diff))
    homogeneity = np.einsum("kij,ij->k", flat, 1.0 / (1.0 + diff**2))
    asm = np.einsum("kij,kij->k", flat, flat)
    row = flat.sum(axis=2)  # marginal of i
    col = flat.sum(axis=1)  # marginal of j
    mu_i, mu_j = row @ i, col @ i
    sigma_i = np.sqrt(np.einsum("ki,ki->k", row, (i[None, :] - mu_i[:, None]) ** 2))
    sigma_j = np.sqrt(np.einsum("kj,kj->k", col, (i[None, :] - mu_j[:, None]) ** 2))
    cov = np.einsum("kij,ki,kj->k", flat, i[None, :] - mu_i[:, None], i[None, :] - mu_j[:, None])
    flat_sigma = (sigma_i < 1e-15) | (sigma_j < 1e-15)
    correlation = np.ones_like(cov)
    np.divide(cov, sigma_i * sigma_j, out=correlation, where=~flat_sigma)
    logs = np.zeros_like(flat)
    np.log(flat, out=logs, where=flat > 0)
    entropy = -np.einsum("kij,kij->k", flat, logs)
    values = {
        "contrast": contrast,
        "dissimilarity": dissimilarity,
        "homogeneity": homogeneity,
        "ASM": asm,
        "energy": np.sqrt(asm),
        "correlation": correlation,
        "entropy": entropy,
    }
    return {name: values[name].reshape(P.shape[:-2]) for name in GLCM_PROPERTIES}


def quantise(grey, levels):
    """Grey ``uint8`` to ``levels`` levels: ``floor(grey * levels / 256)``."""
    return ((grey.astype(np.uint16) * levels) >> 8).astype(np.uint8)


class GLCMFeatures(_HandcraftedFamily):
    """Grey-level co-occurrence (Haralick-style) texture statistics.

    The BT.601 luma of the working image is quantised to ``levels`` levels,
    ``q = floor(grey * levels / 256)``; for every distance ``d`` and angle
    ``theta`` a symmetric, normalised co-occurrence matrix ``P`` is counted over
    the pixel pairs ``(p, p + (round(d sin theta), round(d cos theta)))``
    (:func:`glcm_matrices`), and these properties are computed from it
    (:func:`glcm_properties`, the definitions of
    :func:`skimage.feature.graycoprops`; implementations such as mahotas differ
    in details like the log base of the entropy or the handling of flat
    images)::

        contrast      = sum_ij P_ij (i - j)^2
        dissimilarity = sum_ij P_ij |i - j|
        homogeneity   = sum_ij P_ij / (1 + (i - j)^2)
        ASM           = sum_ij P_ij^2            (angular second moment)
        energy        = sqrt(ASM)
        correlation   = sum_ij P_ij (i - mu_i)(j - mu_j) / (sigma_i sigma_j)
                        (1 when either sigma is below 1e-15, e.g. a flat image)
        entropy       = -sum_ij P_ij ln P_ij     (natural logarithm)

    With ``aggregate="mean"`` each property is averaged over the angles (an
    approximately rotation-invariant value per distance), with ``"none"`` it is
    reported per angle.

    Parameters
    ----------
    levels : int, default=32
        Number of grey levels after quantisation.
    distances : list of int, default=(1, 3, 5)
        Pair distances in pixels of the working image.
    angles : list of float, default=(0, 45, 90, 135)
        Pair angles in degrees.
    aggregate : {"mean", "none"}, default="mean"
        Average the properties over the angles, or keep one value per angle.
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
        ``<property>_d<d>`` (or ``<property>_d<d>_a<angle>``), e.g. ``contrast_d1``.
    n_features_out_ : int

    Notes
    -----
    Offsets are rounded, as in scikit-image: at 45 degrees, distance 1 pairs
    ``(1, 1)`` neighbours and distance 2 also ``(1, 1)``; the default distances
    1, 3 and 5 give distinct offsets at every angle.

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import GLCMFeatures
    >>> images = make_lesion_images(2, image_size=64, random_state=0).images
    >>> glcm = GLCMFeatures(distances=[1, 2], image_size=64)
    >>> glcm.fit_transform(images).shape
    (2, 14)
    >>> glcm.get_feature_names_out()[:3].tolist()
    ['contrast_d1', 'contrast_d2', 'dissimilarity_d1']
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "levels": [Interval(Integral, 2, 256)],
        "distances": [SequenceOf(Interval(Integral, 1, 64), "a non-empty list of ints in [1, 64]")],
        "angles": [SequenceOf(Interval(Real, -360, 360), "a non-empty list of angles in degrees")],
        "aggregate": [Options("mean", "none")],
    }

    def __init__(
        self,
        levels=32,
        distances=(1, 3, 5),
        angles=(0, 45, 90, 135),
        aggregate="mean",
        image_size=256,
        n_jobs=None,
        memory=None,
        on_error="raise",
    ):
        self.levels = levels
        self.distances = distances
        self.angles = angles
        self.aggregate = aggregate
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [{"image_size": 32}, {"image_size": 32, "levels": 8, "distances": [1], "aggregate": "none"}]

    def _feature_names(self):
        if self.aggregate == "mean":
            return [f"{prop}_d{int(d)}" for prop in GLCM_PROPERTIES for d in self.distances]
        return [f"{prop}_d{int(d)}_a{float(a):g}" for prop in GLCM_PROPERTIES for d in self.distances for a in self.angles]

    def _features_from_view(self, view):
        q = quantise(view.grey, self.levels)
        P = glcm_matrices(q, self.distances, self.angles, self.levels, symmetric=True, normed=True)
        props = glcm_properties(P)  # each (n_distances, n_angles)
        if self.aggregate == "mean":
            return np.concatenate([props[name].mean(axis=1) for name in GLCM_PROPERTIES])
        return np.concatenate([props[name].ravel() for name in GLCM_PROPERTIES])
