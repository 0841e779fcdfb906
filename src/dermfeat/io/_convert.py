"""Decoded pixels (Pillow images, numpy arrays) to RGB ``uint8``, in bounded memory.

The colour scale depends on the data type only, never on the values present,
so the same value always gives the same colour:

* ``uint8``: as is; ``bool``: ``False`` -> 0, ``True`` -> 255;
* ``uint16`` (and 16-bit files): 0-65535 scaled to 0-255 (``round(v / 257)``);
* float: 0.0-1.0 scaled to 0-255 (``round(v * 255)``); NaN, infinity and values
  outside [0, 1] are refused;
* every other integer type (``int8`` ... ``int64``, ``uint32``, ``uint64``):
  8-bit values 0-255, taken as they are; other values are refused (cast 16-bit
  data to ``uint16`` first).

Large images are converted in strips of rows, so that the conversion holds
only a few tens of megabytes besides its input and output.
"""

from __future__ import annotations

import numpy as np

from .._exceptions import InvalidImageError

#: Rows are converted in strips of about this many pixels.
_STRIP_PIXELS = 1 << 22

#: ... and composited in float32 in strips of this many (each temporary array
#: of a strip is then 3 MB, not 48 MB: a 63-megapixel RGBA PNG took 200 MB more).
_FLOAT_STRIP_PIXELS = 1 << 18


def _strips(height, width, pixels=_STRIP_PIXELS):
    rows = max(1, pixels // max(1, width))
    return [(y, min(height, y + rows)) for y in range(0, height, rows)]


def pil_to_rgb(img, name):
    """A loaded Pillow image (any mode) to RGB ``uint8``, strip by strip.

    Grey, palette, CMYK, YCbCr and LAB are converted by Pillow; transparent
    images are composited on white; 16-bit and 32-bit integer modes (``I;16*``,
    ``I``) hold 16-bit values; ``F`` holds floats in [0, 1].
    """
    mode = img.mode
    width, height = img.size
    transparent = "transparency" in img.info
    try:
        if mode.startswith("I;16") or mode in ("I", "F"):
            out = np.empty((height, width, 3), dtype=np.uint8)
            for y0, y1 in _strips(height, width):
                values = np.asarray(img.crop((0, y0, width, y1)))
                if mode == "I":
                    values = _sixteen_bit_ints(values, name)
                out[y0:y1] = _to_uint8(values, name)[:, :, None]
            return out
        if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (transparent and mode in ("P", "L", "RGB")):
            return _convert_strips(img, "RGBA", composite_on_white)
        if mode == "RGB" and height * width <= _STRIP_PIXELS:
            return np.array(img, dtype=np.uint8)
        return _convert_strips(img, "RGB", None)
    except InvalidImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow's converters on untrusted data
        raise InvalidImageError(name, f"cannot convert image mode {mode!r} to RGB ({type(exc).__name__}: {exc})") from None


def _convert_strips(img, mode, finish):
    width, height = img.size
    out = np.empty((height, width, 3), dtype=np.uint8)
    for y0, y1 in _strips(height, width):
        strip = img.crop((0, y0, width, y1))
        if strip.mode != mode:
            strip = strip.convert(mode)
        values = np.asarray(strip)
        out[y0:y1] = finish(values) if finish is not None else values
    return out


def _sixteen_bit_ints(values, name):
    """Pillow's ``I`` mode (16-bit PPM/PGM, 32-bit TIFF) as 16-bit values."""
    lo, hi = int(values.min()), int(values.max())
    if lo < 0 or hi > 65535:
        raise InvalidImageError(name, f"32-bit integer image values out of the 16-bit range 0-65535 ([{lo}, {hi}])")
    return values.astype(np.uint16)


def composite_on_white(rgba):
    """RGBA ``uint8`` (``(H, W, 4)``) composited on white, as RGB ``uint8``, strip by strip."""
    height, width = rgba.shape[:2]
    out = np.empty((height, width, 3), dtype=np.uint8)
    for y0, y1 in _strips(height, width, _FLOAT_STRIP_PIXELS):
        part = rgba[y0:y1]
        alpha = part[..., 3:4].astype(np.float32) / 255.0
        rgb = part[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        out[y0:y1] = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return out


def _native(array):
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _to_uint8(array, name):
    """Scale a numeric array to ``uint8`` by the rule of its dtype (see the module docstring)."""
    array = _native(array)
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "u" and size == 1:
        return array
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind == "u" and size == 2:
        # == rint(v / 257) for every 16-bit v (no v / 257 lies near a half: 257 is odd)
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if kind == "f":
        if not np.all(np.isfinite(array)):
            raise InvalidImageError(name, "float image contains NaN or infinite values")
        lo, hi = float(array.min()), float(array.max())
        if lo < 0.0 or hi > 1.0:
            raise InvalidImageError(
                name, f"float image values must lie in [0, 1], found [{lo:.3g}, {hi:.3g}]; pass uint8 instead"
            )
        return np.rint(array * 255.0).astype(np.uint8)
    if kind in "iu":
        lo, hi = int(array.min()), int(array.max())
        if lo < 0 or hi > 255:
            raise InvalidImageError(
                name,
                f"{array.dtype.name} image values out of range [{lo}, {hi}]: integer arrays hold 8-bit "
                "values 0-255, except uint16 (0-65535); cast 16-bit data to uint16",
            )
        return array.astype(np.uint8)
    raise InvalidImageError(name, f"unsupported array dtype {array.dtype}")


def array_to_rgb(array, name, max_pixels):
    """A decoded array (``(H, W)``, ``(H, W, 1|3|4)``) to contiguous RGB ``uint8`` (the input itself if it is one)."""
    if not isinstance(array, np.ndarray) or array.dtype == object:
        raise InvalidImageError(name, "object array is not an image; pass a list of paths or arrays instead")
    if array.dtype.kind not in "biuf":
        raise InvalidImageError(name, f"unsupported array dtype {array.dtype}; pass uint8 RGB")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InvalidImageError(
            name, f"array of shape {array.shape} is not an image; expected (H, W), (H, W, 3) or (H, W, 4)"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InvalidImageError(name, f"image has no pixels (shape {array.shape})")
    if max_pixels is not None and array.shape[0] * array.shape[1] > max_pixels:
        raise InvalidImageError(name, f"array with {array.shape[0] * array.shape[1]:,} pixels is over the limit")
    array = _to_uint8(array, name)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(array, 3, axis=2))
    if array.shape[2] == 4:
        return composite_on_white(array)
    return np.ascontiguousarray(array)
