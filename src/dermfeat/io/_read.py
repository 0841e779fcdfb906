"""Decode any supported image source to an RGB ``uint8`` array."""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .._exceptions import InvalidImageError

#: Images with more pixels than this are refused before decoding (64 megapixels,
#: e.g. 8000 x 8000).  Clinical photographs are far smaller; a file claiming more
#: is most likely a decompression bomb.  Pass ``max_pixels`` to raise it.
DEFAULT_MAX_PIXELS = 64_000_000

_HEIF_REGISTERED = None
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError)


def _register_heif():
    """Register the HEIC/HEIF opener once if ``pillow-heif`` is installed."""
    global _HEIF_REGISTERED
    if _HEIF_REGISTERED is None:
        try:
            from pillow_heif import register_heif_opener
        except ImportError:
            _HEIF_REGISTERED = False
        else:
            register_heif_opener()
            _HEIF_REGISTERED = True
    return _HEIF_REGISTERED


def image_name(source, index=None):
    """A short human-readable name for an image source, used in messages.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    index : int, optional
        Position of the source in a batch, used for anonymous sources.

    Returns
    -------
    name : str
        The path for a path, otherwise ``"<array #i>"`` or ``"<bytes #i>"``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.io import image_name
    >>> image_name("photos/a.jpg")
    'photos/a.jpg'
    >>> image_name(np.zeros((2, 2, 3), dtype=np.uint8), index=4)
    '<array #4>'
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    suffix = "" if index is None else f" #{index}"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<bytes{suffix}>"
    return f"<array{suffix}>"


def source_bytes(source, name=None):
    """Return the raw content of a source: file bytes, bytes, or the array itself.

    Paths are read once here; callers hash and decode the returned bytes, so a file
    is never read twice.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    name : str, optional
        Name used in error messages (default: :func:`image_name`).

    Returns
    -------
    content : bytes or ndarray

    Raises
    ------
    InvalidImageError
        If the path does not exist, is a directory or cannot be read.
    """
    name = image_name(source) if name is None else name
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise InvalidImageError(name, "file not found") from None
        except IsADirectoryError:
            raise InvalidImageError(name, "is a directory, not an image file") from None
        except OSError as exc:
            raise InvalidImageError(name, f"cannot read file ({exc.strerror or exc})") from None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, np.ndarray):
        return source
    raise InvalidImageError(
        name,
        f"unsupported image source of type {type(source).__name__}; "
        "expected a path, bytes or a numpy array",
    )


def read_image(source, *, min_side=None, max_pixels=DEFAULT_MAX_PIXELS, name=None):
    """Decode an image to an RGB ``uint8`` array of shape ``(H, W, 3)``.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        A file path, the encoded bytes of a file, or an already decoded array.
        Arrays may be ``(H, W)`` grey, ``(H, W, 1)``, ``(H, W, 3)`` RGB or
        ``(H, W, 4)`` RGBA, of dtype ``uint8``, ``uint16``, ``bool`` or float in
        ``[0, 1]``.
    min_side : int, optional
        The caller only needs the shorter side to be at least this many pixels.
        For JPEG files the decoder then decodes directly at a reduced scale (1/2,
        1/4 or 1/8) that still keeps the shorter side at or above ``min_side``,
        which is several times faster than a full decode followed by a resize.
        The result is *not* resized to ``min_side``; resize it yourself if you
        need an exact size.  Ignored for other formats and for arrays.
    max_pixels : int, default=DEFAULT_MAX_PIXELS
        Refuse images with more pixels than this (checked from the header, before
        any pixel is decoded).
    name : str, optional
        Name of the source in error messages (default: the path).

    Returns
    -------
    image : ndarray of shape (H, W, 3), dtype uint8
        EXIF orientation applied; grey, palette, CMYK and 16-bit images converted;
        transparent images composited on white.  HEIC/HEIF files are read when the
        ``heic`` extra (``pillow-heif``) is installed.

    Raises
    ------
    InvalidImageError
        For a missing, empty, truncated, non-image or over-limit file, or an array
        of unsupported shape or dtype.  The message names the source.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.io import read_image
    >>> grey = np.full((4, 6), 200, dtype=np.uint8)
    >>> read_image(grey).shape
    (4, 6, 3)
    >>> read_image(b"not an image", name="upload.jpg")
    Traceback (most recent call last):
    ...
    dermfeat._exceptions.InvalidImageError: upload.jpg: not a recognised image format (starts with b'not an i')
    """
    name = image_name(source) if name is None else name
    content = source_bytes(source, name)
    if isinstance(content, np.ndarray):
        return _array_to_rgb(content, name, max_pixels)
    return _decode_bytes(content, name, min_side, max_pixels)


def image_size(source, *, name=None):
    """Return ``(width, height)`` of an image as :func:`read_image` would return it.

    Only the header is read for files (EXIF orientation is taken into account).

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    name : str, optional
        Name of the source in error messages.

    Returns
    -------
    size : tuple of int
        ``(width, height)``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.io import image_size
    >>> image_size(np.zeros((3, 5, 3), dtype=np.uint8))
    (5, 3)
    """
    name = image_name(source) if name is None else name
    content = source_bytes(source, name)
    if isinstance(content, np.ndarray):
        if content.ndim < 2:
            raise InvalidImageError(name, f"array of shape {content.shape} is not an image")
        return int(content.shape[1]), int(content.shape[0])
    img = _open(content, name)
    width, height = img.size
    try:
        orientation = img.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:
        orientation = 1
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return int(width), int(height)


def _open(data, name):
    if len(data) == 0:
        raise InvalidImageError(name, "file is empty (0 bytes)")
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(
            name, f"image is over the limit of pixels Pillow will open, refused as a possible decompression bomb ({exc})"
        ) from None
    except UnidentifiedImageError:
        hint = "" if _register_heif() else "; HEIC/HEIF needs the 'heic' extra (pip install dermfeat[heic])"
        if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypmsf1"):
            raise InvalidImageError(name, "HEIC/HEIF image cannot be read" + hint) from None
        raise InvalidImageError(name, f"not a recognised image format (starts with {data[:8]!r})") from None
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(name, f"unreadable image header ({exc})") from None


def _decode_bytes(data, name, min_side, max_pixels):
    img = _open(data, name)
    width, height = img.size
    if width < 1 or height < 1:
        raise InvalidImageError(name, f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise InvalidImageError(
            name,
            f"{width}x{height} = {width * height:,} pixels is over the limit of {max_pixels:,} "
            "(refused as a possible decompression bomb; pass max_pixels to allow it)",
        )
    scale = 1
    if min_side is not None and img.format == "JPEG":
        scale = _jpeg_scale(width, height, int(min_side))
    image = _decode_jpeg_fast(data, img, scale)
    if image is not None:
        return image
    if scale > 1 and img.mode in ("RGB", "L", "CMYK"):
        img.draft(img.mode, (max(1, width // scale), max(1, height // scale)))  # Pillow picks the scale
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(name, f"too many pixels, refused as a possible decompression bomb ({exc})") from None
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(name, f"truncated or corrupt image data ({exc})") from None
    try:
        img = ImageOps.exif_transpose(img)
    except _DECODE_ERRORS as exc:
        warnings.warn(f"{name}: EXIF orientation could not be applied ({exc}); image left as stored", stacklevel=3)
    return _pil_to_rgb(img, name)


def _jpeg_scale(width, height, min_side):
    """Largest JPEG DCT scale denominator (1, 2, 4 or 8) keeping the shorter side >= min_side."""
    short = min(width, height)
    for scale in (8, 4, 2):
        if -(-short // scale) >= min_side:  # libjpeg rounds scaled sizes up
            return scale
    return 1


#: OpenCV flags decoding an 8-bit JPEG to RGB at 1/1, 1/2, 1/4 or 1/8 scale.  EXIF
#: orientation is ignored by OpenCV and applied from Pillow's reading of the header,
#: so that both decoders orient images alike.
_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)
_CV2_FLAGS = {
    scale: (flag & ~cv2.IMREAD_COLOR if _RGB else flag) | (_RGB or 0) | cv2.IMREAD_IGNORE_ORIENTATION
    for scale, flag in {
        1: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }.items()
}
#: Pillow's ``Image.transpose`` operation for each EXIF orientation, as numpy views.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: a.transpose(1, 0, 2)[::-1],
}


def _decode_jpeg_fast(data, img, scale):
    """Decode a complete 8-bit RGB or grey JPEG with OpenCV's libjpeg-turbo, or return None.

    The pixels are the same as Pillow's (both decode with libjpeg-turbo's default
    settings, at the same DCT scale), but OpenCV writes them straight into a numpy
    array, where Pillow's ``load`` plus the array export take about four times as
    long.  Anything else -- other formats, CMYK, transparency, a stream without its
    end-of-image marker (truncated), or a stream OpenCV refuses -- returns None, and
    the caller decodes with Pillow, which reports the precise problem.
    """
    if img.format != "JPEG" or img.mode not in ("RGB", "L") or "transparency" in img.info:
        return None
    if not data.endswith(b"\xff\xd9") or img.size[0] * img.size[1] >= 1 << 30:
        return None
    try:
        orientation = img.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:
        return None  # Pillow's path warns that the orientation could not be applied
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _CV2_FLAGS[scale])
    if image is None or image.ndim != 3 or image.shape[2] != 3:
        return None
    if _RGB is None:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if orientation in _ORIENT:
        image = np.ascontiguousarray(_ORIENT[orientation](image))
    return image


def _pil_to_rgb(img, name):
    mode = img.mode
    transparent = "transparency" in img.info
    try:
        if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (transparent and mode in ("P", "L", "RGB")):
            rgba = np.asarray(img.convert("RGBA"))
            return _composite_on_white(rgba)
        if mode.startswith("I;16") or mode in ("I", "F"):
            return _array_to_rgb(np.asarray(img), name, None)
        if mode != "RGB":
            img = img.convert("RGB")
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(name, f"cannot convert image mode {mode!r} to RGB ({exc})") from None


def _composite_on_white(rgba):
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


def _to_uint8(array, name):
    """Scale any supported numeric array to uint8 without silently wrapping values."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return np.rint(array.astype(np.float32) / 257.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise InvalidImageError(name, "float image contains NaN or infinite values")
        lo, hi = float(array.min()), float(array.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidImageError(
                name, f"float image values must lie in [0, 1], found [{lo:.3g}, {hi:.3g}]; pass uint8 instead"
            )
        return np.rint(array * 255.0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        lo, hi = int(array.min()), int(array.max())
        if lo >= 0 and hi <= 255:
            return array.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return np.rint(array.astype(np.float32) / 257.0).astype(np.uint8)
        raise InvalidImageError(name, f"integer image values out of range [{lo}, {hi}]")
    raise InvalidImageError(name, f"unsupported array dtype {array.dtype}")


def _array_to_rgb(array, name, max_pixels):
    if array.dtype == object:
        raise InvalidImageError(name, "object array is not an image; pass a list of paths or arrays instead")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InvalidImageError(
            name, f"array of shape {array.shape} is not an image; expected (H, W), (H, W, 3) or (H, W, 4)"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidImageError(name, f"image has no pixels (shape {array.shape})")
    if max_pixels is not None and array.shape[0] * array.shape[1] > max_pixels:
        raise InvalidImageError(name, f"array with {array.shape[0] * array.shape[1]:,} pixels is over the limit")
    array = _to_uint8(np.asarray(array), name)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(array, 3, axis=2))
    if array.shape[2] == 4:
        return _composite_on_white(array)
    return np.ascontiguousarray(array)
