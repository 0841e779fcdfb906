"""WebP decoding with libwebp through OpenCV: one output buffer instead of four.

Pillow decodes every WebP file, still or animated, with libwebp's animation
decoder, which keeps two canvases of the full size; Pillow then copies the
frame into a ``bytes`` object and that into its image.  A 1 MB WebP of 63
megapixels took 1 GB that way.  OpenCV's libwebp decodes a still image straight
into its output array, with the same pixels (libwebp's decoder and its default
fancy upsampling).  The first frame of an animation is a key frame, which
libwebp's animation decoder decodes straight into a cleared canvas: when it
covers the whole canvas, it is decoded here as a still image made of its own
chunks, again with the same pixels; other animations are left to Pillow.  The
tests compare both paths with Pillow on lossy, lossless, transparent and
animated files.
"""

from __future__ import annotations

import cv2
import numpy as np

from .._exceptions import InvalidImageError
from ._convert import composite_on_white
from ._jpeg import ORIENT


def _chunks(data, start, end):
    """``(tag, offset of the payload, size)`` of the RIFF chunks in ``data[start:end]``; None if they do not fit."""
    out, pos = [], start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if pos + 8 + size > end:
            return None
        out.append((bytes(data[pos:pos + 4]), pos + 8, size))
        pos += 8 + size + (size & 1)
    return out


def _first_frame_as_still(data, riff, width, height):
    """The first frame of an animated WebP as a still WebP file, if it covers the whole canvas; else None."""
    chunks = _chunks(data, 12, riff)
    frame = next(((at, size) for tag, at, size in chunks or () if tag == b"ANMF"), None)
    if frame is None or frame[1] < 16:
        return None
    at, size = frame
    field = [int.from_bytes(data[at + k:at + k + 3], "little") for k in (0, 3, 6, 9)]
    if (field[0], field[1], field[2] + 1, field[3] + 1) != (0, 0, width, height):
        return None
    parts = _chunks(data, at + 16, at + size) or ()
    alpha = bitstream = None
    for tag, start, length in parts:
        chunk = bytes(data[start - 8:start + length + (length & 1)])
        if tag == b"ALPH" and alpha is None:
            alpha = chunk
        elif tag in (b"VP8 ", b"VP8L"):
            bitstream = (tag, chunk)
            break
    if bitstream is None:
        return None
    body = bitstream[1]
    if bitstream[0] == b"VP8 " and alpha is not None:
        header = bytes([0x10, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        body = b"VP8X" + len(header).to_bytes(4, "little") + header + alpha + body
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WEBP" + body


def decode_webp(data, img, orientation, name):
    """Decode a WebP file (the first frame of an animation) to RGB ``uint8``, oriented.

    Transparent images are composited on white, as for every format; ``img`` is
    Pillow's parsed header, whose size the pixels must have.  Returns ``None``
    for an animation whose first frame does not cover the canvas (rare: Pillow
    decodes it).
    """
    # the RIFF container says how long the file is: libwebp's simple decoder would otherwise read
    # a chunk's data on into whatever follows it, and decode damaged files Pillow's demuxer refuses
    riff = 8 + int.from_bytes(data[4:8], "little")
    if len(data) < riff:
        raise InvalidImageError(name, f"truncated image data (WebP file of {len(data):,} bytes, its header says {riff:,})")
    content = memoryview(data)[:riff]
    if bytes(content[12:16]) == b"VP8X" and len(content) > 20 and content[20] & 0x02:  # the animation flag
        content = _first_frame_as_still(content, riff, *img.size)
        if content is None:
            return None  # Pillow's animation decoder, as before
    try:
        image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InvalidImageError(name, f"truncated or corrupt image data (cv2.error: {str(exc).strip()[-120:]})") from None
    if image is None or image.size == 0:
        raise InvalidImageError(name, "truncated or corrupt image data (libwebp could not decode it)")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InvalidImageError(name, f"unexpected WebP pixel layout {image.shape} {image.dtype}")
    if image.shape[1::-1] != img.size:
        raise InvalidImageError(name, f"decoded size {image.shape[1::-1]} differs from the header's {img.size}")
    if image.shape[2] == 4:
        image = composite_on_white(cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA, dst=image))
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)
    if orientation in ORIENT:
        image = np.ascontiguousarray(ORIENT[orientation](image))
    return image
