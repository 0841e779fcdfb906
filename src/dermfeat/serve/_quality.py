"""Image-quality warnings of the web demo: blurred, too dark, overexposed, colour cast."""

from __future__ import annotations

#: Thresholds of the image-quality warnings, on the features of
#: :class:`~dermfeat.features.QualityFeatures` at its default working size
#: (shorter side 256 px).  They were set on the 596 DermNet NZ photographs, of
#: which each warning fires on 1-4 %, and on degraded copies of them:
#:
#: ``blur_max`` (0.002)
#:     ``blur_laplacian_var`` below it: "blurred".  About the 1.5th percentile of
#:     DermNet NZ (10th percentile 0.0035, median 0.0068); a Gaussian blur of
#:     sigma 2 px takes a typical photograph to about 0.0004.
#: ``dark_brightness`` (0.25), ``dark_fraction`` (0.5)
#:     Mean luma below 0.25, or half the pixels crushed to black: "too dark".
#:     (A tenth of DermNet NZ photographs have a black background covering more
#:     than 10 % of the frame, so the fraction alone must be large.)
#: ``bright_brightness`` (0.85), ``bright_fraction`` (0.25)
#:     Mean luma at or above 0.85, or a quarter of the pixels with a blown
#:     channel: "overexposed".
#: ``cast_strength`` (0.8), ``cast_rg_min`` (-0.1), ``cast_bg_max`` (0.35)
#:     Grey-world cast far from what skin gives (skin alone makes ``cast_rg``
#:     about 0.3): a strong overall cast, green (red below green) or blue
#:     (blue above green by more than 40 %): "colour cast".  A coloured drape
#:     behind the skin triggers it too.
QUALITY_THRESHOLDS = {
    "blur_max": 0.002,
    "dark_brightness": 0.25,
    "dark_fraction": 0.5,
    "bright_brightness": 0.85,
    "bright_fraction": 0.25,
    "cast_strength": 0.8,
    "cast_rg_min": -0.1,
    "cast_bg_max": 0.35,
}

def quality_warnings(features, thresholds=None):
    """Image-quality warnings from the features of :class:`~dermfeat.features.QualityFeatures`.

    Parameters
    ----------
    features : dict
        Feature name -> value for one image (``blur_laplacian_var``,
        ``brightness``, ``dark_fraction``, ``bright_fraction``, ``cast_rg``,
        ``cast_bg``, ``cast_strength``).
    thresholds : dict, optional
        Overrides of :data:`QUALITY_THRESHOLDS`.

    Returns
    -------
    warnings : list of dict
        ``{"code", "message"}`` per warning, codes ``"blurred"``,
        ``"too_dark"``, ``"overexposed"`` and ``"colour_cast"``; empty when the
        photograph looks fine.

    Examples
    --------
    >>> from dermfeat.serve import quality_warnings
    >>> ok = {"blur_laplacian_var": 0.007, "brightness": 0.5, "dark_fraction": 0.0,
    ...       "bright_fraction": 0.0, "cast_rg": 0.3, "cast_bg": -0.1, "cast_strength": 0.32}
    >>> quality_warnings(ok)
    []
    >>> [w["code"] for w in quality_warnings({**ok, "blur_laplacian_var": 0.0004, "brightness": 0.15})]
    ['blurred', 'too_dark']
    """
    t = {**QUALITY_THRESHOLDS, **(thresholds or {})}
    f = {k: float(v) for k, v in features.items()}
    out = []
    if f["blur_laplacian_var"] < t["blur_max"]:
        out.append({"code": "blurred", "message": (
            f"The photo looks blurred or has very little fine detail (sharpness {f['blur_laplacian_var']:.4f}, "
            f"warning below {t['blur_max']}). Texture features are unreliable; retake it in focus if you can.")})
    if f["brightness"] < t["dark_brightness"] or f["dark_fraction"] >= t["dark_fraction"]:
        out.append({"code": "too_dark", "message": (
            f"The photo is too dark (mean brightness {f['brightness']:.2f}, {f['dark_fraction']:.0%} of pixels "
            "black). Retake it in better light.")})
    if f["brightness"] >= t["bright_brightness"] or f["bright_fraction"] >= t["bright_fraction"]:
        out.append({"code": "overexposed", "message": (
            f"The photo is overexposed (mean brightness {f['brightness']:.2f}, {f['bright_fraction']:.0%} of pixels "
            "clipped white). Redness and texture are washed out; avoid direct flash.")})
    if f["cast_strength"] > t["cast_strength"] or f["cast_rg"] < t["cast_rg_min"] or f["cast_bg"] > t["cast_bg_max"]:
        out.append({"code": "colour_cast", "message": (
            "The photo has a strong colour cast (or a coloured background fills much of it): colour-based "
            "features, redness and the skin-tone estimate may be off. Use neutral light and background.")})
    return out
