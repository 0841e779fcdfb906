"""Decode any supported image source to an RGB ``uint8`` array."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .._exceptions import InvalidImageError
from ._convert import array_to_rgb, pil_to_rgb
from ._files import DEFAULT_MAX_FILE_BYTES, image_name, printable, source_bytes
from ._formats import (
    DECODE_BYTES_PER_PIXEL,
    PLAUSIBLE_FLOOR_PIXELS,
    REFERENCE_DECODE_BYTES,
    allowed_formats,
    max_plausible_pixels,
    pixel_limit,
    refused_format,
)
from ._jpeg import decode_jpeg, jpeg_scale
from ._webp import decode_webp

#: Images with more pixels than this are refused before decoding (64 megapixels,
#: e.g. 8000 x 8000).  Clinical photographs are far smaller; a file claiming more
#: is most likely a decompression bomb.  Pass ``max_pixels`` to raise it.
DEFAULT_MAX_PIXELS = 64_000_000

_HEIF_REGISTERED = None
_HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypmsf1")


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


def read_image(source, *, min_side=None, max_pixels=DEFAULT_MAX_PIXELS, strict=True, max_bytes=DEFAULT_MAX_FILE_BYTES,
               name=None):
    """Decode an image to an RGB ``uint8`` array of shape ``(H, W, 3)``.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        A file path, the encoded bytes of a file, or an already decoded array.
        Arrays may be ``(H, W)`` grey, ``(H, W, 1)``, ``(H, W, 3)`` RGB or
        ``(H, W, 4)`` RGBA, of dtype ``uint8``, ``uint16`` (0-65535), ``bool``,
        float in ``[0, 1]``, or another integer type holding 0-255.
    min_side : int, optional
        The caller only needs the shorter side to be at least this many pixels.
        For JPEG files the decoder then decodes directly at a reduced scale (1/2,
        1/4 or 1/8) that still keeps the shorter side at or above ``min_side``,
        which is several times faster than a full decode followed by a resize.
        The result is *not* resized to ``min_side``; resize it yourself if you
        need an exact size.  Ignored for other formats and for arrays.
    max_pixels : int, default=DEFAULT_MAX_PIXELS
        Refuse images with more pixels than this (checked from the header, before
        any pixel is decoded).  Formats whose decoding needs more memory per
        pixel are held to proportionally fewer: JPEG 2000 to 8/17 of it, AVIF
        to 8/9.
    strict : bool, default=True
        Refuse JPEG files whose data libjpeg finds corrupt (truncated, bad
        Huffman codes, garbage between markers): decoders would fill the damage
        with grey.  ``False`` decodes them anyway and warns with a
        :class:`~dermfeat.CorruptImageWarning`.
    max_bytes : int, default=DEFAULT_MAX_FILE_BYTES
        Refuse files larger than this, before reading them.
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
        For a missing, empty, truncated, corrupt, non-image, refused-format or
        over-limit file, a file claiming more pixels than its size can hold, a
        pipe or device, or an array of unsupported shape or dtype.  The
        message is one line and names the source.

    See Also
    --------
    dermfeat.io.SUPPORTED_FORMATS : the formats decoded; any other is refused.

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
    >>> read_image(b"%!PS-Adobe-3.0 EPSF-3.0 ...", name="photo.jpg")
    Traceback (most recent call last):
    ...
    dermfeat._exceptions.InvalidImageError: photo.jpg: PostScript/EPS (a program, not a raster image) is not accepted; only raster image formats are decoded
    """
    return read_image_checked(source, min_side=min_side, max_pixels=max_pixels, strict=strict,
                              max_bytes=max_bytes, name=name)[0]


def read_image_checked(source, *, min_side=None, max_pixels=DEFAULT_MAX_PIXELS, strict=True,
                       max_bytes=DEFAULT_MAX_FILE_BYTES, name=None):
    """:func:`read_image`, also returning libjpeg's complaint when ``strict=False`` let one through.

    Returns
    -------
    image : ndarray of shape (H, W, 3), dtype uint8
    problem : str or None
        ``None`` for an image decoded without complaint.
    """
    name = image_name(source) if name is None else printable(name)
    content = source_bytes(source, name, max_bytes=max_bytes)
    if isinstance(content, np.ndarray):
        return array_to_rgb(content, name, max_pixels), None
    return _decode_bytes(content, name, min_side, max_pixels, strict)


def image_size(source, *, max_bytes=DEFAULT_MAX_FILE_BYTES, name=None):
    """Return ``(width, height)`` of an image as :func:`read_image` would return it.

    Only the header is read for files (EXIF orientation is taken into account).
    The same formats as :func:`read_image` are accepted.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    max_bytes : int, default=DEFAULT_MAX_FILE_BYTES
        Refuse files larger than this, before reading them.
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
    name = image_name(source) if name is None else printable(name)
    content = source_bytes(source, name, max_bytes=max_bytes)
    if isinstance(content, np.ndarray):
        if content.ndim < 2:
            raise InvalidImageError(name, f"array of shape {content.shape} is not an image")
        return int(content.shape[1]), int(content.shape[0])
    img = _open(content, name)
    width, height = img.size
    if _orientation(img, name, warn=False) in (5, 6, 7, 8):
        width, height = height, width
    return int(width), int(height)


def _open(data, name):
    """Identify ``data`` among the allowed formats and parse its header (no pixel decoded)."""
    if len(data) == 0:
        raise InvalidImageError(name, "file is empty (0 bytes)")
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data), formats=allowed_formats())
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(
            name, f"image is over the limit of pixels Pillow will open, refused as a possible decompression bomb ({exc})"
        ) from None
    except UnidentifiedImageError:
        refused = refused_format(data)
        if refused is not None:
            raise InvalidImageError(
                name, f"{refused} is not accepted; only raster image formats are decoded"
            ) from None
        if data[4:12] in _HEIF_BRANDS and not _register_heif():
            raise InvalidImageError(
                name, "HEIC/HEIF image cannot be read; HEIC/HEIF needs the 'heic' extra (pip install dermfeat[heic])"
            ) from None
        if data[4:12] in _HEIF_BRANDS:
            raise InvalidImageError(name, "HEIC/HEIF image cannot be read (damaged or unsupported)") from None
        raise InvalidImageError(name, f"not a recognised image format (starts with {data[:8]!r})") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a header parser on untrusted bytes
        raise InvalidImageError(name, f"unreadable image header ({_describe(exc)})") from None


def _describe(exc):
    return printable(f"{type(exc).__name__}: {exc}", limit=200)


def _orientation(img, name, warn=True):
    """The EXIF orientation (1-8; 1 when absent or unreadable)."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception as exc:  # noqa: BLE001 - EXIF parsing of untrusted bytes
        if warn:
            warnings.warn(f"{name}: EXIF orientation could not be read ({_describe(exc)}); image left as stored",
                          stacklevel=4)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _decode_bytes(data, name, min_side, max_pixels, strict):
    img = _open(data, name)
    width, height = img.size
    if width < 1 or height < 1:
        raise InvalidImageError(name, f"image has no pixels ({width}x{height})")
    pixels = width * height
    limit = pixel_limit(img.format, max_pixels)
    if pixels > limit:
        why = "" if limit == max_pixels else (
            f" for {img.format}, whose decoding needs {DECODE_BYTES_PER_PIXEL[img.format]} bytes per pixel "
            f"(max_pixels={max_pixels:,} is for formats needing {REFERENCE_DECODE_BYTES})")
        raise InvalidImageError(
            name,
            f"{width}x{height} = {pixels:,} pixels is over the limit of {limit:,}{why} "
            "(refused as a possible decompression bomb; pass max_pixels to allow it)",
        )
    if pixels > PLAUSIBLE_FLOOR_PIXELS and pixels > max_plausible_pixels(img, data):
        raise InvalidImageError(
            name,
            f"header claims {width}x{height} = {pixels:,} pixels, more than a {len(data):,}-byte "
            f"{img.format} file can hold; refused as damaged or a decompression bomb",
        )
    if img.format in ("JPEG", "MPO"):
        scale = jpeg_scale(width, height, int(min_side)) if min_side is not None else 1
        return decode_jpeg(data, img, scale, _orientation(img, name), strict, name)
    if img.format == "WEBP":
        image = decode_webp(data, img, _orientation(img, name), name)
        if image is not None:
            return image, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(name, f"too many pixels, refused as a possible decompression bomb ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a decoder on untrusted bytes
        raise InvalidImageError(name, f"truncated or corrupt image data ({_describe(exc)})") from None
    if img.size != (width, height):
        raise InvalidImageError(name, f"decoded size {img.size} differs from the header's {(width, height)}")
    if _orientation(img, name) != 1:
        try:
            img = ImageOps.exif_transpose(img)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"{name}: EXIF orientation could not be applied ({_describe(exc)}); image left as stored",
                          stacklevel=3)
    return pil_to_rgb(img, name), None
