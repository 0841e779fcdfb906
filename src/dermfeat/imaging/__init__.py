"""Image processing on the ground floor: colour conversions, the working image, resizing, Otsu.

Pure functions of ``uint8`` RGB arrays, with no estimator in sight, shared by
:mod:`dermfeat.features` and :mod:`dermfeat.preprocessing`:

* :func:`rgb_to_lab`, :func:`rgb_to_hsv`, :func:`rgb_to_ycrcb`, :func:`rgb_to_grey`:
  colour conversions (exact sRGB decoding, CIE formulas).
* :class:`WorkingImage`, :func:`to_working_size`, :func:`working_shape`: a
  photograph at a fixed working size with its conversions computed once.
* :func:`resize`: the anti-aliased resize model cards assume.
* :func:`crop_views`, :func:`affine`, :func:`normalise`: a model's input views
  (resize, centre crop, test-time crops and flips) and its float32 tensor.
* :func:`otsu_threshold`: Otsu's two-class split of a sample.
"""

from ._color import rgb_to_grey, rgb_to_hsv, rgb_to_lab, rgb_to_ycrcb
from ._resize import INTERPOLATIONS, resize
from ._threshold import otsu_threshold
from ._views import MAX_RESIZED_PIXELS, affine, crop_views, normalise
from ._working import MAX_ASPECT, WorkingImage, to_working_size, working_shape

__all__ = [
    "INTERPOLATIONS",
    "MAX_ASPECT",
    "MAX_RESIZED_PIXELS",
    "WorkingImage",
    "affine",
    "crop_views",
    "normalise",
    "otsu_threshold",
    "resize",
    "rgb_to_grey",
    "rgb_to_hsv",
    "rgb_to_lab",
    "rgb_to_ycrcb",
    "to_working_size",
    "working_shape",
]
