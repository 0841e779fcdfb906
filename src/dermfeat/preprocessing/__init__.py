"""Image-to-image steps for the front of a pipeline.

Each transformer takes images and returns images (a list of RGB ``uint8``
arrays), so it can stand in front of any feature extractor in a
:class:`~sklearn.pipeline.Pipeline`:

* :class:`ColorConstancy`: grey-world / shades-of-grey white balance.
* :class:`LesionCrop`: crop to the redness-based lesion region of interest.
"""

from ._color_constancy import ColorConstancy, estimate_illuminant
from ._lesion_crop import LesionCrop

__all__ = ["ColorConstancy", "LesionCrop", "estimate_illuminant"]
