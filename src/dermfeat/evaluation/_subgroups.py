"""Subgroups that errors cluster on: skin tone and image quality."""

from __future__ import annotations

import numpy as np

#: Natural order of known subgroup levels (others are sorted).
KNOWN_ORDERS = (
    ("very light", "light", "intermediate", "tan", "brown", "dark"),
    ("sharpest third", "middle third", "blurriest third"),
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


def image_subgroups(X, *, exposure_fraction=0.05, n_jobs=None):
    """Skin-tone and image-quality subgroup labels of photographs.

    Parameters
    ----------
    X : images
        Paths or arrays.
    exposure_fraction : float, default=0.05
        An image with more than this fraction of clipped dark (bright) pixels is
        ``"underexposed"`` (``"overexposed"``); otherwise ``"normal exposure"``.
    n_jobs : int, optional
        Parallel extraction.

    Returns
    -------
    subgroups : dict of str to ndarray
        ``skin_tone`` (ITA category of the median ITA over skin pixels: very light,
        light, intermediate, tan, brown, dark); ``blur``: tertiles of the
        variance of the Laplacian within these images (``"sharpest third"``,
        ``"middle third"``, ``"blurriest third"``; sharpness has no absolute scale
        across cameras and resolutions, so the bins are relative); ``exposure``.

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
    ita = tone_values[:, list(tone.get_feature_names_out()).index("ita_median")]
    quality = QualityFeatures(n_jobs=n_jobs).fit(X)
    q = quality.transform(X)
    names = list(quality.get_feature_names_out())
    blur = q[:, names.index("blur_laplacian_var")]
    dark = q[:, names.index("dark_fraction")]
    bright = q[:, names.index("bright_fraction")]
    exposure = np.where(
        dark > exposure_fraction,
        "underexposed",
        np.where(bright > exposure_fraction, "overexposed", "normal exposure"),
    ).astype(object)
    return {
        "skin_tone": np.asarray(ita_category(ita), dtype=object),
        "blur": _bins(blur, np.quantile(blur, [1 / 3, 2 / 3]), ["blurriest third", "middle third", "sharpest third"]),
        "exposure": exposure,
    }
