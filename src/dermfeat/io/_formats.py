"""Which file formats are decoded, how many pixels a file of a given size may claim, and at what memory cost."""

from __future__ import annotations

from PIL import Image

#: Raster formats dermfeat decodes, as Pillow format names, in the order they are
#: tried.  Everything else is refused, whatever the file is called: PostScript/EPS
#: (Pillow would run Ghostscript on it), PDF, SVG, WMF/EMF and other vector or
#: document formats, and the many rarely used formats Pillow can also identify
#: (XBM, XPM, PSD, ICNS, FITS, SPIDER, ...).  ``HEIF`` needs the ``heic`` extra
#: (``pillow-heif``); ``AVIF`` needs a Pillow built with libavif (the wheels are).
#: GIF and other animated files give their first frame, TIFF its first page.
#: ``TGA`` has no signature, so it is tried last.
SUPPORTED_FORMATS = (
    "JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF",
    "PPM", "ICO", "JPEG2000", "PCX", "TGA",
)

#: File name extensions of :data:`SUPPORTED_FORMATS` (lower case, with the dot).
#: The content decides the format, never the name; this list is for finding
#: image files in folders.
SUPPORTED_EXTENSIONS = (
    ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".apng", ".webp", ".tif", ".tiff",
    ".bmp", ".dib", ".gif", ".heic", ".heif", ".hif", ".avif", ".ppm", ".pgm", ".pbm",
    ".pnm", ".ico", ".jp2", ".j2k", ".jpc", ".jpf", ".jpx", ".j2c", ".pcx", ".tga",
)

#: Signatures of formats that are refused on purpose, for a precise message.
_REFUSED_SIGNATURES = (
    (b"%!PS", "PostScript/EPS (a program, not a raster image)"),
    (b"\xc5\xd0\xd3\xc6", "EPS (a PostScript program, not a raster image)"),
    (b"%PDF", "PDF (a document, not a raster image)"),
    (b"\xd7\xcd\xc6\x9a", "WMF (a vector drawing)"),
    (b"\x01\x00\x00\x00", None),  # EMF: checked below (" EMF" at offset 40)
    (b"<svg", "SVG (a vector drawing)"),
    (b"<?xml", "XML/SVG (not a raster image)"),
    (b"#define", "XBM (X bitmap source code)"),
    (b"/* XPM */", "XPM (X pixmap source code)"),
    (b"8BPS", "PSD (a layered Photoshop document)"),
    (b"icns", "ICNS (a macOS icon container)"),
    (b"SIMPLE  =", "FITS (astronomical data)"),
    (b"qoif", "QOI"),
    (b"DDS ", "DDS (a texture container)"),
    (b"\x01\xda", "SGI"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
)


def refused_format(data):
    """A description of ``data``'s format if it is one refused on purpose, else None."""
    head = data[:64].lstrip() if data[:1] in (b" ", b"\t", b"\r", b"\n") else data[:64]
    for signature, what in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            if what is None:
                if data[40:44] == b" EMF":
                    return "EMF (a vector drawing)"
                continue
            return what
    if head[:5].lower() in (b"<svg ", b"<!doc") or b"<svg" in data[:1024].lower():
        return "SVG (a vector drawing)"
    return None


def allowed_formats():
    """:data:`SUPPORTED_FORMATS` that this installation can open (registered with Pillow)."""
    if any(name not in Image.OPEN for name in SUPPORTED_FORMATS if name != "HEIF"):
        Image.init()
    return tuple(name for name in SUPPORTED_FORMATS if name in Image.OPEN)


# --------------------------------------------------------------- plausibility
#: Images of at most this many pixels (1 megapixel, 3 MB as RGB) are never refused
#: as implausible: however small the file, decoding them costs little.
PLAUSIBLE_FLOOR_PIXELS = 1 << 20

#: Best compression, in pixels per byte of file, of formats whose codecs have a
#: hard limit.  Derivations (``px`` = pixels):
#:
#: * PNG: deflate's best ratio is 1032:1 (a 258-byte match coded in 2 bits) on the
#:   filtered scanlines, which hold ``bits per pixel / 8`` bytes per pixel plus one
#:   filter byte per row (computed exactly from the header, see
#:   :func:`max_plausible_pixels`).
#: * GIF: an LZW code of 12 bits stands for at most 4096 px: 2731 px per byte.
#: * JPEG: every 8 x 8 block of a coded component costs at least one bit (its DC
#:   coefficient, with the shortest Huffman code, in a progressive file's first
#:   scan); the least sampled component's block covers at most 16 blocks of the
#:   image (4 x 4 subsampling): ``8 * 64 * 16 = 8192`` px per byte, computed per
#:   file from its sampling factors.  Arithmetic-coded JPEG, which has no such
#:   limit, is held to the same bound.
#: * PPM/PGM/PBM: at least one bit per pixel (PBM): 8 px per byte.
#: * TGA: a run of at most 128 px costs at least 2 bytes: 64 px per byte.
#: * PCX: a run of at most 63 bytes costs 2 bytes, at 8 px per byte for 1-bit planes:
#:   252 px per byte.
_MAX_PIXELS_PER_BYTE = {"GIF": 2731, "PPM": 8, "TGA": 64, "PCX": 252}

#: Formats whose codecs have no useful limit (WebP lossless codes of zero bits,
#: BMP run-length "skip" codes, TIFF fax compression, AVIF/HEIF, JPEG 2000) are
#: held to this many pixels per byte.  Photographs compress to about 2-20 pixels
#: per byte; only a nearly uniform image of more than a megapixel can exceed it.
DEFAULT_MAX_PIXELS_PER_BYTE = 4096


def max_plausible_pixels(img, data):
    """Most pixels a file ``data`` in ``img``'s format can hold.

    Parameters
    ----------
    img : PIL.Image.Image
        The opened (not decoded) image: its format and header.
    data : bytes
        The whole file.

    Returns
    -------
    pixels : int
        An upper bound of ``width * height``; see :data:`_MAX_PIXELS_PER_BYTE`.
    """
    fmt, n_bytes = img.format, len(data)
    if fmt == "PNG" and data[12:16] == b"IHDR":
        width = max(1, int.from_bytes(data[16:20], "big"))
        bits = data[24] * _PNG_CHANNELS.get(data[25], 4)
        row_bytes = 1 + -(-width * max(1, bits) // 8)
        return 1032 * n_bytes // row_bytes * width + width
    if fmt in ("JPEG", "MPO"):
        layers = getattr(img, "layer", None) or [(0, 4, 4, 0), (1, 1, 1, 0)]
        h_max = max(h for _, h, _, _ in layers) or 1
        v_max = max(v for _, _, v, _ in layers) or 1
        ratio = max((h_max // max(1, h)) * (v_max // max(1, v)) for _, h, v, _ in layers)
        return 8 * 64 * min(16, max(1, ratio)) * n_bytes
    return _MAX_PIXELS_PER_BYTE.get(fmt, DEFAULT_MAX_PIXELS_PER_BYTE) * n_bytes


#: Channels of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


# --------------------------------------------------------------- decoding memory
#: ``max_pixels`` is meant for formats decoded within this many bytes per pixel:
#: Pillow's image (4 bytes per pixel) and the RGB result (3), and a little more.
REFERENCE_DECODE_BYTES = 8

#: Working memory of decoding, in bytes per pixel, of the formats whose decoders
#: need more than :data:`REFERENCE_DECODE_BYTES` (measured on 63-megapixel files):
#: OpenJPEG holds a 32-bit integer per component in the image and in its tile
#: (JPEG 2000: 17, a 4.5 MB file took 1 GB); libavif a YUV and an RGBA copy
#: besides Pillow's image (AVIF: 9).
DECODE_BYTES_PER_PIXEL = {"JPEG2000": 17, "AVIF": 9}


def pixel_limit(fmt, max_pixels):
    """The most pixels an image in format ``fmt`` may have under ``max_pixels``.

    ``max_pixels`` itself for most formats; for those that need more memory per
    pixel to decode (:data:`DECODE_BYTES_PER_PIXEL`) proportionally fewer, so that
    decoding any accepted image takes about as much memory as the largest PNG.

    Examples
    --------
    >>> from dermfeat.io._formats import pixel_limit
    >>> pixel_limit("PNG", 64_000_000), pixel_limit("JPEG2000", 64_000_000)
    (64000000, 30117647)
    """
    cost = DECODE_BYTES_PER_PIXEL.get(fmt, REFERENCE_DECODE_BYTES)
    return max_pixels if cost <= REFERENCE_DECODE_BYTES else max_pixels * REFERENCE_DECODE_BYTES // cost
