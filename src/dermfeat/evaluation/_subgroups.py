"""Subgroups that errors cluster on: skin tone and image quality."""

from __future__ import annotations

import numpy as np

#: Natural order of known subgroup levels (others are sorted).
KNOWN_ORDERS = (
    ("very light", "light", "intermediate", "tan", "brown", "dark"),
    ("sharp", "moderate blur", "blurred"),
    ("underexposed", "normal exposure", "overexposed"),
)


def level_order(labels):
    """Levels of a subgroup variable in their natural order."""
    present = list(dict.fromkeys(np.asarray(labels, dtype=object).tolist()))
    for order in KNOWN_ORDERS:
        if set(present) <= set(order):
            return [lv for lv in order if lv in present]
    return sorted(present, key=str)


def _bins(values, edges, names):
    return np.array([names[i] for i in np.digitize(values, edges)], dtype=object)


def image_subgroups(X, *, blur_edges=(50.0, 200.0), exposure_fraction=0.05, n_jobs=None):
    """Skin-tone and image-quality subgroup labels of photographs.

    Parameters
    ----------
    X : images
        Paths or arrays.
    blur_edges : tuple of float, default=(50.0, 200.0)
        Variance-of-Laplacian edges (at the quality extractor's working size):
        below the first is ``"blurred"``, between is ``"moderate blur"``, above is
        ``"sharp"``.
    exposure_fraction : float, default=0.05
        An image with more than this fraction of clipped dark (bright) pixels is
        ``"underexposed"`` (``"overexposed"``); otherwise ``"normal exposure"``.
    n_jobs : int, optional
        Parallel extraction.

    Returns
    -------
    subgroups : dict of str to ndarray
        ``skin_tone`` (ITA category: very light, light, intermediate, tan, brown,
        dark), ``blur`` and ``exposure``.

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.evaluation import image_subgroups
    >>> groups = image_subgroups(make_lesion_images(6, image_size=64, random_state=0).images)
    >>> sorted(groups)
    ['blur', 'exposure', 'skin_tone']
    """
    from ..features import QualityFeatures, SkinToneFeatures, ita_category

    tone = SkinToneFeatures(n_jobs=n_jobs).fit(X)
    tone_values = tone.transform(X)
    ita = tone_values[:, list(tone.get_feature_names_out()).index("ita")]
    quality = QualityFeatures(n_jobs=n_jobs).fit(X)
    q = quality.transform(X)
    names = list(quality.get_feature_names_out())
    blur = q[:, names.index("laplacian_variance")]
    dark = q[:, names.index("dark_fraction")]
    bright = q[:, names.index("bright_fraction")]
    exposure = np.where(
        dark > exposure_fraction,
        "underexposed",
        np.where(bright > exposure_fraction, "overexposed", "normal exposure"),
    ).astype(object)
    return {
        "skin_tone": np.asarray(ita_category(ita), dtype=object),
        "blur": _bins(blur, blur_edges, ["blurred", "moderate blur", "sharp"]),
        "exposure": exposure,
    }
