"""JPEG decoding with libjpeg-turbo through ``simplejpeg``: corrupt data is an error."""

from __future__ import annotations

import warnings

import numpy as np
import simplejpeg
from PIL import Image

from .._exceptions import CorruptImageWarning, InvalidImageError

#: Pillow's ``Image.transpose`` operation for each EXIF orientation, as numpy views.
ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: a.transpose(1, 0, 2)[::-1],
}


def jpeg_scale(width, height, min_side):
    """Largest JPEG DCT scale denominator (1, 2, 4 or 8) keeping the shorter side >= min_side."""
    short = min(width, height)
    for scale in (8, 4, 2):
        if -(-short // scale) >= min_side:  # libjpeg rounds scaled sizes up
            return scale
    return 1


def decode_jpeg(data, img, scale, orientation, strict, name):
    """Decode a JPEG (or the first picture of an MPO) to RGB ``uint8``, oriented.

    libjpeg-turbo decodes with its default, exact settings (integer ``ISLOW``
    IDCT, smooth chroma upsampling) at 1/``scale`` of the size: the pixels are
    those Pillow's and OpenCV's libjpeg-turbo give.  ``strict`` turns every
    libjpeg warning ("Corrupt JPEG data: premature end of data segment", "bad
    Huffman code", "extraneous bytes before marker", a missing end of image)
    into an :class:`~dermfeat.InvalidImageError`; otherwise the image is decoded
    as libjpeg recovers it (missing parts grey) and a
    :class:`~dermfeat.CorruptImageWarning` names the file.

    Returns
    -------
    image : ndarray of shape (H, W, 3), uint8
    problem : str or None
        libjpeg's warning, when ``strict=False`` let it through.
    """
    width, height = img.size
    expected = (-(-height // scale), -(-width // scale))
    kwargs = {} if scale == 1 else {"min_height": expected[0], "min_width": expected[1]}
    colorspace = {"L": "GRAY", "CMYK": "CMYK"}.get(img.mode, "RGB")
    problem = None
    try:
        image = simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=True, **kwargs)
    except ValueError as exc:
        problem = str(exc).strip() or "libjpeg reported an error"
        if strict:
            raise InvalidImageError(
                name, f"truncated or corrupt image data (libjpeg: {problem}); pass strict=False to accept it"
            ) from None
        try:
            image = simplejpeg.decode_jpeg(data, colorspace=colorspace, strict=False, **kwargs)
        except Exception as exc2:  # noqa: BLE001 - the decoder's own failure on untrusted bytes
            raise InvalidImageError(name, f"truncated or corrupt image data (libjpeg: {exc2})") from None
        warnings.warn(
            f"{name}: corrupt JPEG data decoded anyway because strict=False (libjpeg: {problem}); "
            "damaged parts of the image are grey",
            CorruptImageWarning,
            stacklevel=4,
        )
    except Exception as exc:  # noqa: BLE001 - RuntimeError and the like from the decoder
        raise InvalidImageError(name, f"cannot decode JPEG ({type(exc).__name__}: {exc})") from None
    if image.shape[:2] != expected:
        raise InvalidImageError(
            name, f"JPEG decoded to {image.shape[1]}x{image.shape[0]} pixels, its header says "
            f"{expected[1]}x{expected[0]}; refused as inconsistent"
        )
    if colorspace == "GRAY":
        image = np.repeat(image, 3, axis=2)
    elif colorspace == "CMYK":
        image = _cmyk_to_rgb(image, img)
    if orientation in ORIENT:
        image = np.ascontiguousarray(ORIENT[orientation](image))
    return image, problem


def _cmyk_to_rgb(cmyk, img):
    """Pillow's own CMYK -> RGB conversion, with its reading of Adobe's inverted CMYK."""
    rawmode = "CMYK"
    if img.tile and img.tile[0].args:
        args = img.tile[0].args
        rawmode = args[0] if isinstance(args, tuple) else args
    height, width = cmyk.shape[:2]
    converted = Image.frombuffer("CMYK", (width, height), np.ascontiguousarray(cmyk), "raw", rawmode, 0, 1)
    return np.ascontiguousarray(np.asarray(converted.convert("RGB"), dtype=np.uint8))
