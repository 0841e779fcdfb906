"""The working image: a photograph at a fixed working size, with its colour representations on demand."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ._color import rgb_to_grey, rgb_to_hsv, rgb_to_lab, rgb_to_ycrcb

__all__ = ["MAX_ASPECT", "WorkingImage", "to_working_size", "working_shape"]

#: The longer side of the working image is at most this many times ``image_size``
#: (extreme strips are squeezed rather than producing huge working images).
MAX_ASPECT = 4


def working_shape(height, width, image_size):
    """Shape ``(h, w)`` of the working image for an image of ``height x width``.

    The shorter side becomes ``image_size`` and the aspect ratio is kept, except
    that the longer side is capped at ``MAX_ASPECT * image_size``.

    Parameters
    ----------
    height, width : int
    image_size : int

    Returns
    -------
    shape : tuple of int

    Examples
    --------
    >>> from dermfeat.imaging import working_shape
    >>> working_shape(480, 640, 256), working_shape(10, 1000, 32)
    ((256, 341), (32, 128))
    """
    scale = image_size / min(height, width)
    cap = MAX_ASPECT * image_size
    h = int(min(cap, max(image_size, round(height * scale))))
    w = int(min(cap, max(image_size, round(width * scale))))
    return h, w


def to_working_size(image, image_size):
    """Resize an ``(H, W, ...)`` image so that its shorter side is ``image_size``.

    Downscaling uses pixel-area averaging (no aliasing), upscaling bilinear
    interpolation; an image already at the working size is returned unchanged.

    Parameters
    ----------
    image : ndarray of shape (H, W, ...)
    image_size : int

    Returns
    -------
    resized : ndarray of shape (h, w, ...), see :func:`working_shape`

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import to_working_size
    >>> to_working_size(np.zeros((480, 640, 3), np.uint8), 256).shape
    (256, 341, 3)
    """
    h, w = image.shape[:2]
    th, tw = working_shape(h, w, image_size)
    if (th, tw) == (h, w):
        return image
    interpolation = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_LINEAR
    return cv2.resize(image, (tw, th), interpolation=interpolation)


class WorkingImage:
    """One photograph at the working size, with representations computed on demand.

    Each attribute is computed at most once, so families sharing a
    :class:`WorkingImage` share the colour conversions.

    Attributes
    ----------
    rgb : ndarray of shape (h, w, 3), uint8
    grey : ndarray of shape (h, w), uint8
        BT.601 luma.
    grey_float : ndarray of shape (h, w), float32
        ``grey / 255``.
    lab, hsv, ycrcb : ndarray of shape (h, w, 3), float32
        See :func:`rgb_to_lab`, :func:`rgb_to_hsv`, :func:`rgb_to_ycrcb`.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import WorkingImage
    >>> view = WorkingImage.from_image(np.full((96, 128, 3), 200, np.uint8), 64)
    >>> view.rgb.shape, view.grey.dtype, view.lab.dtype
    ((64, 85, 3), dtype('uint8'), dtype('float32'))
    """

    def __init__(self, rgb):
        self.rgb = np.ascontiguousarray(rgb)

    @classmethod
    def from_image(cls, image, image_size):
        return cls(to_working_size(image, image_size))

    @functools.cached_property
    def grey(self):
        return rgb_to_grey(self.rgb)

    @functools.cached_property
    def grey_float(self):
        return self.grey.astype(np.float32) * np.float32(1 / 255)

    @functools.cached_property
    def lab(self):
        return rgb_to_lab(self.rgb)

    @functools.cached_property
    def hsv(self):
        return rgb_to_hsv(self.rgb)

    @functools.cached_property
    def ycrcb(self):
        return rgb_to_ycrcb(self.rgb)
