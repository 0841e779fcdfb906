"""Bad and unusual image inputs, generated on the spot (the seeded fuzzer is :mod:`._fuzz`).

Everything is made at run time from a small synthetic photograph (no binary
fixtures): files of every allowed format and of refused ones, truncations, bit
flips, header lies, EXIF orientations, colour modes, degenerate sizes, special
files (pipes, directories, device links), awkward file names and arrays of odd
dtypes and shapes.  Each case says what :func:`dermfeat.io.read_image` must do
with it: decode it (``"ok"``) or refuse it with an
:class:`~dermfeat.InvalidImageError` (``"refused"``); fuzzed files may do either
(``"any"``), but nothing else.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

__all__ = ["ImageCase", "hostile_image_inputs"]


@dataclass(frozen=True)
class ImageCase:
    """One input for :func:`~dermfeat.io.read_image` and every image estimator.

    Attributes
    ----------
    kind : str
        Unique name of the kind of input, e.g. ``"jpeg_truncated_50_with_eoi"``.
    description : str
        What it is, in words.
    expected : {"ok", "refused", "any"}
        ``"ok"``: decoded to an RGB image; ``"refused"``: an
        :class:`~dermfeat.InvalidImageError` naming the source; ``"any"``: either.
    source : str, bytes, ndarray or object
        What to pass: a path (as ``str``), encoded bytes, an array, or another object.
    """

    kind: str
    description: str
    expected: str
    source: object

    def __repr__(self):
        return f"ImageCase({self.kind!r}, expected={self.expected!r})"


# ------------------------------------------------------------------- pictures
def _photo(h=48, w=64, seed=0):
    """A small textured colour photograph stand-in (odd content in every 8x8 block)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.dstack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1), np.full((h, w), 140)])
    noise = rng.integers(-25, 26, (h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _save(image, fmt, **kwargs):
    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buf, fmt, **kwargs)
    return buf.getvalue()


def _jpeg(photo, **kwargs):
    return _save(photo, "JPEG", quality=90, **kwargs)


def _exif_jpeg(photo, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _jpeg(photo, exif=exif)


def _entropy_start(jpeg):
    sos = jpeg.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(jpeg[sos + 2:sos + 4], "big")


def _jpeg_header_lie(jpeg, width, height):
    """The first scan's start of ``jpeg`` with a frame header claiming ``width x height``."""
    data = bytearray(jpeg[:_entropy_start(jpeg) + 200] + b"\xff\xd9")
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 7] = height.to_bytes(2, "big")
    data[sof + 7:sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def _png_chunk(kind, payload):
    body = kind + payload
    return len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")


def _png_header_lie(width, height):
    """A valid PNG signature and header claiming ``width x height`` RGB, with a few bytes of data."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(bytes(3 * 64 + 1))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _png16(photo, channels):
    data = photo.astype(np.uint16) * 257
    data = data[..., 0] if channels == 1 else cv2.cvtColor(data, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", data)
    return buf.tobytes()


def _animated(photo, fmt):
    frames = [Image.fromarray(photo), Image.fromarray(photo[::-1].copy())]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _pil_supports(fmt):
    try:
        _save(np.zeros((4, 4, 3), np.uint8), fmt)
        return True
    except Exception:  # noqa: BLE001 - codec not built in
        return False


def _heic(photo):
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return None
    register_heif_opener()
    try:
        return _save(photo, "HEIF", quality=90)
    except Exception:  # noqa: BLE001 - no HEVC encoder
        return None


# ---------------------------------------------------------------------- files
def _file_cases(photo):
    """``(kind, extension, bytes, expected, description)`` of every file kind."""
    jpeg = _jpeg(photo)
    png = _save(photo, "PNG")
    rgba = np.dstack([photo, np.linspace(0, 255, photo.shape[1], dtype=np.uint8)[None, :].repeat(photo.shape[0], 0)])
    entropy = _entropy_start(jpeg)
    mid = (entropy + len(jpeg)) // 2
    cases = [
        ("jpeg_baseline", ".jpg", jpeg, "ok", "baseline JPEG, 4:2:0"),
        ("jpeg_progressive", ".jpg", _jpeg(photo, progressive=True), "ok", "progressive JPEG"),
        ("jpeg_444", ".jpg", _jpeg(photo, subsampling=0), "ok", "JPEG without chroma subsampling"),
        ("jpeg_grey", ".jpg", _jpeg(photo[..., 1]), "ok", "greyscale JPEG"),
        ("jpeg_cmyk", ".jpg", _save(Image.fromarray(photo).convert("CMYK"), "JPEG"), "ok", "CMYK JPEG"),
        ("jpeg_trailing_bytes", ".jpg", jpeg + b"camera trailer", "ok", "bytes after the end-of-image marker"),
        ("jpeg_restart_markers", ".jpg", _jpeg(photo, restart_marker_blocks=2), "ok", "JPEG with restart intervals"),
        ("jpeg_uppercase_extension", ".JPG", jpeg, "ok", "upper-case extension"),
        ("jpeg_named_png", ".png", jpeg, "ok", "a JPEG named .png"),
        ("jpeg_no_extension", "", jpeg, "ok", "a JPEG without extension"),
        ("mpo", ".mpo", _animated(photo, "MPO"), "ok", "multi-picture JPEG (MPO), first picture"),
        ("png_rgb", ".png", png, "ok", "8-bit RGB PNG"),
        ("png_rgba", ".png", _save(rgba, "PNG"), "ok", "PNG with an alpha gradient (composited on white)"),
        ("png_la", ".png", _save(Image.fromarray(rgba).convert("LA"), "PNG"), "ok", "grey + alpha PNG"),
        ("png_palette", ".png", _save(Image.fromarray(photo).convert("P"), "PNG"), "ok", "palette PNG"),
        ("png_palette_transparency", ".png", _save(Image.fromarray(photo).convert("P"), "PNG", transparency=0),
         "ok", "palette PNG with a transparent colour"),
        ("png_grey16", ".png", _png16(photo, 1), "ok", "16-bit greyscale PNG"),
        ("png_rgb16", ".png", _png16(photo, 3), "ok", "16-bit RGB PNG"),
        ("png_bilevel", ".png", _save(Image.fromarray(photo[..., 0]).convert("1"), "PNG"), "ok", "1-bit PNG"),
        ("png_interlaced", ".png", _interlaced_png(photo),
         "ok", "Adam7-interlaced PNG"),
        ("png_animated", ".png", _animated(photo, "PNG"), "ok", "animated PNG (APNG), first frame"),
        ("png_named_jpg", ".jpg", png, "ok", "a PNG named .jpg"),
        ("png_one_pixel", ".png", _save(photo[:1, :1], "PNG"), "ok", "1x1 image"),
        ("png_strip_1x5000", ".png", _save(np.repeat(photo[:1, :1], 5000, axis=1), "PNG"), "ok", "1x5000 strip"),
        ("png_strip_5000x1", ".png", _save(np.repeat(photo[:1, :1], 5000, axis=0), "PNG"), "ok", "5000x1 strip"),
        ("png_strip_1x60000", ".png", _save(np.repeat(photo[:1, :1], 60000, axis=1), "PNG", optimize=True), "ok",
         "254-byte 1x60000 strip (exploded test-time crops)"),
        ("webp_lossy", ".webp", _save(photo, "WEBP", quality=80), "ok", "lossy WebP"),
        ("webp_lossless", ".webp", _save(photo, "WEBP", lossless=True), "ok", "lossless WebP"),
        ("webp_alpha", ".webp", _save(rgba, "WEBP"), "ok", "WebP with alpha"),
        ("webp_animated", ".webp", _animated(photo, "WEBP"), "ok", "animated WebP, first frame"),
        ("tiff_raw", ".tif", _save(photo, "TIFF"), "ok", "uncompressed TIFF"),
        ("tiff_lzw", ".tiff", _save(photo, "TIFF", compression="tiff_lzw"), "ok", "LZW TIFF"),
        ("tiff_grey16", ".tif", _save(Image.fromarray(photo[..., 0].astype(np.uint16) * 257), "TIFF"), "ok",
         "16-bit greyscale TIFF"),
        ("tiff_float", ".tif", _save(Image.fromarray(photo[..., 0].astype(np.float32) / 255), "TIFF"), "ok",
         "32-bit float TIFF in [0, 1]"),
        ("tiff_cmyk", ".tif", _save(Image.fromarray(photo).convert("CMYK"), "TIFF"), "ok", "CMYK TIFF"),
        ("tiff_multipage", ".tif", _animated(photo, "TIFF"), "ok", "two-page TIFF, first page"),
        ("bmp", ".bmp", _save(photo, "BMP"), "ok", "24-bit BMP"),
        ("bmp_palette", ".bmp", _save(Image.fromarray(photo).convert("P"), "BMP"), "ok", "8-bit palette BMP"),
        ("gif", ".gif", _save(photo, "GIF"), "ok", "GIF"),
        ("gif_animated", ".gif", _animated(photo, "GIF"), "ok", "animated GIF, first frame"),
        ("gif_transparent", ".gif", _save(Image.fromarray(photo).convert("P"), "GIF", transparency=0), "ok",
         "GIF with a transparent colour"),
        ("ppm", ".ppm", _save(photo, "PPM"), "ok", "binary PPM"),
        ("pgm16", ".pgm", _save(Image.fromarray(photo[..., 0].astype(np.uint16) * 257), "PPM"), "ok", "16-bit PGM"),
        ("pbm", ".pbm", _save(Image.fromarray(photo[..., 0]).convert("1"), "PPM"), "ok", "bilevel PBM"),
        ("tga", ".tga", _save(photo, "TGA"), "ok", "TGA"),
        ("tga_rle", ".tga", _save(photo, "TGA", compression="tga_rle"), "ok", "run-length TGA"),
        ("ico", ".ico", _save(photo, "ICO", sizes=[(48, 48)]), "ok", "Windows icon"),
        ("pcx", ".pcx", _save(photo, "PCX"), "ok", "PCX"),
        # refused
        ("empty", ".jpg", b"", "refused", "0-byte file"),
        ("text_named_jpg", ".jpg", b"patient notes, not a photograph\n" * 20, "refused", "a text file named .jpg"),
        ("random_bytes", ".jpg", np.random.default_rng(1).bytes(4000), "refused", "4000 random bytes"),
        ("eps_named_jpg", ".jpg", _EPS, "refused", "EPS named .jpg (must never reach Ghostscript)"),
        ("postscript", ".ps", b"%!PS-Adobe-3.0\n/Times findfont 12 scalefont setfont\nshowpage\n", "refused",
         "PostScript program"),
        ("pdf", ".pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
         "refused", "PDF document"),
        ("svg_named_png", ".png", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "refused",
         "SVG named .png"),
        ("xbm", ".xbm", _save(Image.fromarray(photo[..., 0]).convert("1"), "XBM"), "refused", "X bitmap (C source)"),
        ("xpm", ".xpm", b'/* XPM */\nstatic char *x[] = {"1 1 1 1", "a c #ff0000", "a"};\n', "refused", "X pixmap"),
        ("psd_header", ".psd", b"8BPS\x00\x01" + bytes(6) + b"\x00\x03" + (64).to_bytes(4, "big") * 2 + bytes(40),
         "refused", "Photoshop document header"),
        ("wmf_header", ".wmf", b"\xd7\xcd\xc6\x9a" + bytes(60), "refused", "placeable WMF header"),
        ("jpeg_truncated_30_no_eoi", ".jpg", jpeg[:int(len(jpeg) * 0.3)], "refused", "JPEG cut at 30%"),
        ("jpeg_truncated_50_with_eoi", ".jpg", jpeg[:len(jpeg) // 2] + b"\xff\xd9", "refused",
         "JPEG cut at 50%, end marker added"),
        ("jpeg_truncated_90_with_eoi", ".jpg", jpeg[:int(len(jpeg) * 0.9)] + b"\xff\xd9", "refused",
         "JPEG cut at 90%, end marker added"),
        ("jpeg_truncated_in_header", ".jpg", jpeg[:entropy - 10], "refused", "JPEG cut inside its headers"),
        ("jpeg_stray_restart_marker", ".jpg", jpeg[:mid] + b"\xff\xd0" + jpeg[mid:], "refused",
         "RST marker inside the data of a JPEG without restart intervals"),
        ("jpeg_bad_huffman", ".jpg", jpeg[:mid] + b"\xff\x00" * 32 + jpeg[mid + 64:], "refused",
         "JPEG data overwritten with invalid Huffman codes"),
        ("jpeg_bad_marker", ".jpg", jpeg[:mid] + b"\xff\xff\xff" + jpeg[mid + 3:], "refused",
         "unknown marker inside the JPEG data"),
        ("jpeg_header_lie_8000x6000", ".jpg", _jpeg_header_lie(jpeg, 8000, 6000), "refused",
         "a 0.8 kB JPEG whose header claims 8000x6000"),
        ("jpeg_zero_height", ".jpg", _jpeg_header_lie(jpeg, 64, 0), "refused", "JPEG frame of height 0"),
        ("png_header_lie_4000x4000", ".png", _png_header_lie(4000, 4000), "refused",
         "a 100-byte PNG whose header claims 4000x4000"),
        ("png_bomb_10000x10000", ".png", _save(Image.new("L", (10000, 10000)), "PNG", optimize=True), "refused",
         "100-megapixel PNG (over the pixel limit)"),
        ("png_truncated", ".png", png[: len(png) // 2], "refused", "PNG cut in half"),
        ("png_bad_crc", ".png", png[:40] + bytes([png[40] ^ 0xFF]) + png[41:], "refused", "PNG with a broken CRC"),
        ("gif_truncated", ".gif", _save(photo, "GIF")[:300], "refused", "GIF cut short"),
        ("gif_screen_65535", ".gif", _gif_screen_lie(_save(photo, "GIF")), "refused",
         "GIF whose logical screen claims 65535x65535"),
        ("webp_truncated", ".webp", _save(photo, "WEBP")[:200], "refused", "WebP cut short"),
        ("tiff_truncated", ".tif", _save(photo, "TIFF")[:2000], "refused", "TIFF cut short"),
        ("bmp_header_lie", ".bmp", _bmp_header_lie(_save(photo, "BMP")), "refused", "BMP claiming 30000x30000"),
        ("heic_fake_brand", ".heic", b"\x00\x00\x00\x18ftypheic" + bytes(40), "refused", "HEIC brand, no image"),
    ]
    for fmt, kind, ext in (("AVIF", "avif", ".avif"), ("JPEG2000", "jpeg2000", ".jp2")):
        if _pil_supports(fmt):
            data = _save(photo, fmt)
            cases.append((kind, ext, data, "ok", f"{fmt} image"))
            cases.append((f"{kind}_truncated", ext, data[: len(data) // 2], "refused", f"{fmt} cut in half"))
    heic = _heic(photo)
    if heic is not None:
        cases.append(("heic", ".heic", heic, "ok", "HEIC phone photograph"))
        cases.append(("heic_truncated", ".heic", heic[: len(heic) // 2], "refused", "HEIC cut in half"))
    cases += [(f"jpeg_exif_orientation_{k}", ".jpg", _exif_jpeg(photo, k), "ok", f"EXIF orientation {k}")
              for k in range(1, 9)]
    return cases


_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"


def _interlaced_png(photo):
    """An Adam7-interlaced PNG (Pillow cannot write one), built chunk by chunk."""
    h, w = photo.shape[:2]
    raw = b""
    for y0, x0, dy, dx in ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
                           (1, 0, 2, 1)):
        sub = photo[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 1])
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw))
            + _png_chunk(b"IEND", b""))


def _gif_screen_lie(gif):
    return gif[:6] + (65535).to_bytes(2, "little") * 2 + gif[10:]


def _bmp_header_lie(bmp):
    return bmp[:18] + (30000).to_bytes(4, "little") * 2 + bmp[26:]


# ---------------------------------------------------------------- paths, arrays
def _path_cases(folder, jpeg):
    cases = []
    good = folder / "valid.jpg"
    good.write_bytes(jpeg)
    cases.append(("path_missing", str(folder / "no_such_photo.jpg"), "refused", "a path that does not exist"))
    subdir = folder / "a_folder.jpg"
    subdir.mkdir(exist_ok=True)
    cases.append(("path_directory", str(subdir), "refused", "a directory named like an image"))
    cases.append(("path_nul_byte", str(folder / "bad\x00name.jpg"), "refused", "a path containing a NUL byte"))
    huge = folder / "sparse_300MB.jpg"
    with open(huge, "wb") as fh:
        fh.write(jpeg)
        fh.truncate(300 * 2**20)  # sparse: costs no disk space
    cases.append(("path_over_size_limit", str(huge), "refused", "a 300 MB (sparse) file, over the size limit"))
    odd = folder / "control\tchars\nname.jpg"
    odd.write_bytes(jpeg)
    cases.append(("path_control_characters", str(odd), "ok", "tab and newline in the file name"))
    link = folder / "link_to_valid.jpg"
    _symlink(good, link)
    if link.is_symlink():
        cases.append(("path_symlink_to_image", str(link), "ok", "symbolic link to a valid photograph"))
        dangling = folder / "dangling.jpg"
        _symlink(folder / "gone.jpg", dangling)
        cases.append(("path_dangling_symlink", str(dangling), "refused", "symbolic link to nothing"))
        if os.path.exists("/dev/zero"):
            zero = folder / "zero.jpg"
            _symlink(Path("/dev/zero"), zero)
            cases.append(("path_symlink_to_dev_zero", str(zero), "refused", "symbolic link to /dev/zero"))
    if hasattr(os, "mkfifo"):
        fifo = folder / "pipe.jpg"
        if not fifo.exists():
            os.mkfifo(fifo)
        cases.append(("path_named_pipe", str(fifo), "refused", "a named pipe (FIFO) nobody writes to"))
    if os.name == "posix":
        try:
            raw = os.path.join(os.fsencode(folder), b"latin1_\xe9t\xe9.jpg")
            with open(raw, "wb") as fh:
                fh.write(jpeg)
            cases.append(("path_not_utf8", os.fsdecode(raw), "ok", "a file name that is not valid UTF-8"))
        except OSError:
            pass
    return cases


def _symlink(target, link):
    try:
        if not link.is_symlink():
            os.symlink(target, link)
    except (OSError, NotImplementedError):
        pass


def _array_cases(photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)])
    read_only = photo.copy()
    read_only.setflags(write=False)
    f = photo.astype(np.float64) / 255.0
    return [
        ("array_uint8_rgb", photo, "ok", "uint8 RGB array"),
        ("array_uint8_grey", photo[..., 0].copy(), "ok", "uint8 (H, W) array"),
        ("array_uint8_one_channel", photo[..., :1].copy(), "ok", "uint8 (H, W, 1) array"),
        ("array_uint8_rgba", rgba, "ok", "uint8 RGBA array"),
        ("array_one_pixel", photo[:1, :1].copy(), "ok", "1x1 array"),
        ("array_strip_1x20000", np.repeat(photo[:1, :1], 20000, axis=1), "ok", "1x20000 array"),
        ("array_non_contiguous", photo[::2, ::-1], "ok", "strided, reversed view"),
        ("array_read_only", read_only, "ok", "read-only array"),
        ("array_fortran_order", np.asfortranarray(photo), "ok", "Fortran-ordered array"),
        ("array_uint16", photo.astype(np.uint16) * 257, "ok", "uint16 array (0-65535)"),
        ("array_uint16_big_endian", (photo.astype(np.uint16) * 257).astype(">u2"), "ok", "big-endian uint16"),
        ("array_bool", photo[..., 0] > 128, "ok", "boolean mask"),
        ("array_float64", f, "ok", "float64 in [0, 1]"),
        ("array_float32", f.astype(np.float32), "ok", "float32 in [0, 1]"),
        ("array_float16", f.astype(np.float16), "ok", "float16 in [0, 1]"),
        ("array_int32_in_range", photo.astype(np.int32), "ok", "int32 holding 0-255"),
        ("array_int64_in_range", photo.astype(np.int64), "ok", "int64 holding 0-255"),
        ("array_float64_out_of_range", f * 255.0, "refused", "float64 holding 0-255"),
        ("array_float_nan", np.where(f > 0.5, np.nan, f), "refused", "float with NaN"),
        ("array_float_inf", np.where(f > 0.5, np.inf, f), "refused", "float with infinity"),
        ("array_int32_out_of_range", photo.astype(np.int32) * 300, "refused", "int32 beyond 255"),
        ("array_int8_negative", (photo // 2).astype(np.int8) - 64, "refused", "negative int8"),
        ("array_object", np.array([photo, "x"], dtype=object), "refused", "object array"),
        ("array_complex", photo.astype(np.complex64), "refused", "complex array"),
        ("array_datetime", np.zeros((4, 4), dtype="datetime64[s]"), "refused", "datetime64 array"),
        ("array_two_channels", photo[..., :2].copy(), "refused", "(H, W, 2) array"),
        ("array_five_channels", np.dstack([photo, photo[..., :2]]), "refused", "(H, W, 5) array"),
        ("array_empty", np.zeros((0, 10, 3), np.uint8), "refused", "array with no pixels"),
        ("array_five_dims", np.zeros((1, 1, 4, 4, 3), np.uint8), "refused", "5-D array"),
        ("source_int", 42, "refused", "an integer instead of an image"),
        ("source_none", None, "refused", "None instead of an image"),
    ]


def hostile_image_inputs(folder):
    """Write every kind of bad or unusual image input into ``folder`` and list them.

    Parameters
    ----------
    folder : str or path-like
        An empty (or reusable) folder for the files, pipes and links.

    Returns
    -------
    cases : list of ImageCase
        More than 150 distinct kinds: every file is given both as a path and (when
        it is bytes a web upload could carry) as bytes; see :class:`ImageCase`.

    Examples
    --------
    >>> import tempfile
    >>> from dermfeat.testing import hostile_image_inputs
    >>> cases = hostile_image_inputs(tempfile.mkdtemp())
    >>> len({case.kind for case in cases}) >= 70
    True
    >>> sorted({case.expected for case in cases})
    ['ok', 'refused']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photo = _photo()
    cases = []
    for kind, ext, data, expected, description in _file_cases(photo):
        path = folder / f"{kind}{ext}"
        path.write_bytes(data)
        cases.append(ImageCase(kind, description, expected, str(path)))
        if kind.startswith(("jpeg_truncated", "jpeg_header_lie", "png_header_lie", "eps", "heic")):
            cases.append(ImageCase(f"{kind}_bytes", f"{description}, as uploaded bytes", expected, data))
    cases += [ImageCase(k, d, e, s) for k, s, e, d in _path_cases(folder, _jpeg(photo))]
    cases += [ImageCase(k, d, e, s) for k, s, e, d in _array_cases(photo)]
    return cases
