"""Model input views of a photograph: resize, centre crop (test-time crops and flips), then normalise.

The preprocessing that model cards describe ("resize the shorter side to 256,
centre-crop 224, scale, subtract the mean, divide by the standard deviation"),
as two pure functions: :func:`crop_views` (``uint8`` views) and
:func:`normalise` (the model's float32 tensor).
"""

from __future__ import annotations

import numpy as np

from ._resize import resize

__all__ = ["MAX_RESIZED_PIXELS", "affine", "crop_views", "normalise"]

#: With test-time crops, an image whose resized copy would have more pixels than
#: this (48 MB as RGB; e.g. a 256-pixel side with an aspect ratio over 256:1) is
#: not resized whole: each crop is resized from its own source region instead, so
#: that a long thin strip cannot take gigabytes.
MAX_RESIZED_PIXELS = 1 << 24


def crop_views(image, side, crop, interpolation="antialias", tta_crops=1, tta_flip=False, view="crop"):
    """Resize so that the shorter side is ``side``, then crop: ``(n_views, crop, crop, 3)`` uint8.

    With ``view="whole"`` or ``"pad"`` nothing is cropped: the whole image
    becomes the ``crop`` x ``crop`` view (see ``view``).

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
    side : int
        Shorter side after resizing (aspect ratio kept).
    crop : int
        Side of the square centre crop.
    interpolation : str, default="antialias"
        See :func:`~dermfeat.imaging.resize`.
    tta_crops : {1, 5}, default=1
        ``5`` adds the four corner crops.
    tta_flip : bool, default=False
        Add the horizontally flipped views (after the unflipped ones).
    view : {"crop", "whole", "pad"}, default="crop"
        ``"crop"``: resize then crop, as above (on a 4:3 photograph the centre
        crop leaves out about 44 % of the frame).  ``"whole"``: the whole image
        resized to ``crop`` x ``crop`` (its aspect ratio is not kept).
        ``"pad"``: the whole image resized so that its longer side is
        ``crop`` (aspect ratio kept), centred on a ``crop`` x ``crop`` canvas
        filled with its mean colour.  ``side`` is unused by both; they allow
        ``tta_crops=1`` only.

    Returns
    -------
    views : ndarray of shape (tta_crops * (1 + tta_flip), crop, crop, 3), uint8

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import crop_views
    >>> crop_views(np.zeros((48, 64, 3), np.uint8), 40, 32, tta_flip=True).shape
    (2, 32, 32, 3)
    >>> crop_views(np.zeros((48, 64, 3), np.uint8), 40, 32, view="whole").shape
    (1, 32, 32, 3)
    """
    if view != "crop":
        return _whole_views(image, crop, interpolation, tta_crops, tta_flip, view)
    h, w = image.shape[:2]
    short = min(h, w)
    if tta_crops == 1 and short != side:
        # Only the centre crop is needed: resize just the source region it covers,
        # with the same scale factor (about half the work of resizing everything).
        # Offsets follow the usual resize-then-crop geometry, so that the result
        # matches it to within rounding (a small fraction of a pixel).
        nh, nw = int(round(h * side / short)), int(round(w * side / short))
        top = int(round(round((nh - crop) / 2.0) * h / nh))
        left = int(round(round((nw - crop) / 2.0) * w / nw))
        rh, rw = max(1, int(round(crop * h / nh))), max(1, int(round(crop * w / nw)))
        view = resize(image[top:top + rh, left:left + rw], (crop, crop), interpolation)
        views = np.empty((2 if tta_flip else 1, crop, crop, 3), dtype=np.uint8)
        views[0] = view
        if tta_flip:
            views[1] = view[:, ::-1]
        return views
    nh = max(crop, int(round(h * side / short)))
    nw = max(crop, int(round(w * side / short)))
    top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
    boxes = [(top, left)]
    if tta_crops == 5:
        boxes += [(0, 0), (0, nw - crop), (nh - crop, 0), (nh - crop, nw - crop)]
    n = len(boxes)
    views = np.empty((n * (2 if tta_flip else 1), crop, crop, 3), dtype=np.uint8)
    if nh * nw <= MAX_RESIZED_PIXELS:
        image = resize(image, (nw, nh), interpolation)
        for i, (t, l) in enumerate(boxes):
            views[i] = image[t:t + crop, l:l + crop]
    else:
        # A long thin image: resize each crop from its own source region rather
        # than the whole image, whose resized copy could take gigabytes.
        rh, rw = max(1, int(round(crop * h / nh))), max(1, int(round(crop * w / nw)))
        for i, (t, l) in enumerate(boxes):
            t, l = min(h - rh, int(round(t * h / nh))), min(w - rw, int(round(l * w / nw)))
            views[i] = resize(image[t:t + rh, l:l + rw], (crop, crop), interpolation)
    if tta_flip:
        views[n:] = views[:n, :, ::-1]
    return views


def _whole_views(image, crop, interpolation, tta_crops, tta_flip, view):
    """The whole image as one ``crop`` x ``crop`` view (squashed or padded), and its flip."""
    if view not in ("whole", "pad"):
        raise ValueError(f"view must be 'crop', 'whole' or 'pad', got {view!r}")
    if tta_crops != 1:
        raise ValueError(f"view={view!r} shows the whole image: tta_crops must be 1, got {tta_crops}")
    views = np.empty((2 if tta_flip else 1, crop, crop, 3), dtype=np.uint8)
    if view == "whole":
        views[0] = resize(image, (crop, crop), interpolation)
    else:
        h, w = image.shape[:2]
        scale = crop / max(h, w)
        nh, nw = min(crop, max(1, int(round(h * scale)))), min(crop, max(1, int(round(w * scale))))
        # the mean colour of the image, in integers (deterministic, whatever the summation order)
        views[0] = np.round(image.reshape(-1, 3).mean(axis=0, dtype=np.float64)).astype(np.uint8)
        top, left = (crop - nh) // 2, (crop - nw) // 2
        views[0, top:top + nh, left:left + nw] = resize(image, (nw, nh), interpolation)
    if tta_flip:
        views[1] = views[0, :, ::-1]
    return views


def affine(scale, mean, std):
    """``(gain, shift)`` per channel, float32: ``(pixel * scale - mean) / std = pixel * gain + shift``.

    Parameters
    ----------
    scale : float
    mean, std : sequence of 3 floats

    Returns
    -------
    gain, shift : ndarray of shape (3,), float32

    Examples
    --------
    >>> from dermfeat.imaging import affine
    >>> gain, shift = affine(1 / 255, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    >>> (255 * gain + shift).tolist()
    [1.0, 1.0, 1.0]
    """
    std = np.asarray(std, dtype=np.float64)
    gain = (scale / std).astype(np.float32)
    shift = (-np.asarray(mean, dtype=np.float64) / std).astype(np.float32)
    return gain, shift


def normalise(views, gain, shift, channel_order="RGB", layout="NCHW", out=None):
    """uint8 ``(n, h, w, 3)`` RGB views -> a model's float32 tensor, in one fused pass.

    Parameters
    ----------
    views : ndarray of shape (n, h, w, 3), uint8
    gain, shift : ndarray of shape (3,), float32
        See :func:`affine` (in the model's channel order).
    channel_order : {"RGB", "BGR"}, default="RGB"
    layout : {"NCHW", "NHWC"}, default="NCHW"
    out : ndarray, optional
        The float32 array to fill.

    Returns
    -------
    tensor : ndarray, float32
        ``(n, 3, h, w)`` for ``"NCHW"``, ``(n, h, w, 3)`` for ``"NHWC"``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import affine, normalise
    >>> views = np.full((2, 4, 4, 3), 255, np.uint8)
    >>> tensor = normalise(views, *affine(1 / 255, (0, 0, 0), (1, 1, 1)))
    >>> tensor.shape, float(tensor.max())
    ((2, 3, 4, 4), 1.0)
    """
    source = views[..., ::-1] if channel_order == "BGR" else views
    if layout == "NCHW":
        if out is None:
            out = np.empty((views.shape[0], 3) + views.shape[1:3], dtype=np.float32)
        np.multiply(source.transpose(0, 3, 1, 2), gain[:, None, None], out=out)
        out += shift[:, None, None]
    else:
        if out is None:
            out = np.empty(views.shape, dtype=np.float32)
        np.multiply(source, gain, out=out)
        out += shift
    return out
