"""read_image's safety rules: allowed formats only, strict JPEG, plausible headers, regular files."""

import io
import os
import stat
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from dermfeat import CorruptImageWarning, InvalidImageError
from dermfeat.io import SUPPORTED_EXTENSIONS, SUPPORTED_FORMATS, image_name, image_size, read_image, source_bytes
from dermfeat.testing._hostile_images import _jpeg, _jpeg_header_lie, _photo, _png_header_lie

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"


def test_allow_list_is_exported():
    assert {"JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF"} <= set(SUPPORTED_FORMATS)
    assert not {"EPS", "PDF", "WMF", "XBM", "XPM", "PSD"} & set(SUPPORTED_FORMATS)
    assert {".jpg", ".jpeg", ".png", ".heic", ".avif", ".tif", ".ico", ".jp2", ".ppm", ".tga", ".pcx"} <= set(
        SUPPORTED_EXTENSIONS
    )
    assert all(ext == ext.lower() and ext.startswith(".") for ext in SUPPORTED_EXTENSIONS)


@pytest.mark.skipif(os.name != "posix", reason="needs a shell script on PATH")
def test_eps_never_reaches_ghostscript(tmp_path, monkeypatch):
    # a fake Ghostscript that leaves a trace if anything runs it
    marker = tmp_path / "gs_ran"
    gs = tmp_path / "bin" / "gs"
    gs.parent.mkdir()
    gs.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    gs.chmod(gs.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{gs.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    path = tmp_path / "photo.jpg"
    path.write_bytes(EPS)
    for source in (path, EPS):
        with pytest.raises(InvalidImageError, match="EPS .* is not accepted; only raster image formats"):
            read_image(source)
        with pytest.raises(InvalidImageError, match="EPS"):
            image_size(source)
    assert not marker.exists()


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9])
def test_corrupt_jpeg_refused_or_flagged(fraction):
    data = _jpeg(_photo(240, 320))
    cut = data[: int(len(data) * fraction)] + b"\xff\xd9"
    with pytest.raises(InvalidImageError, match=r"cut.jpg: truncated or corrupt image data \(libjpeg: Corrupt JPEG"):
        read_image(cut, name="cut.jpg")
    with pytest.warns(CorruptImageWarning, match="cut.jpg: corrupt JPEG data decoded anyway"):
        image = read_image(cut, strict=False, name="cut.jpg")
    assert image.shape == (240, 320, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(read_image(data, strict=False), read_image(data))


def test_header_lies_refused_before_decoding():
    lie = _jpeg_header_lie(_jpeg(_photo()), 8000, 6000)
    assert len(lie) < 2000
    with pytest.raises(InvalidImageError, match="header claims 8000x6000 .* more than a .*-byte JPEG file can hold"):
        read_image(lie)
    with pytest.raises(InvalidImageError, match="more than a .*-byte PNG file can hold"):
        read_image(_png_header_lie(4000, 4000))
    # a genuinely flat image of the same size compresses less well than the bound: accepted
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1500), (120, 80, 60)).save(buf, "PNG", optimize=True)
    assert read_image(buf.getvalue()).shape == (1500, 2000, 3)
    buf = io.BytesIO()
    Image.new("RGB", (2000, 1500), (120, 80, 60)).save(buf, "JPEG", quality=50)
    assert read_image(buf.getvalue()).shape == (1500, 2000, 3)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(InvalidImageError, match=r"pipe.jpg: is a named pipe \(FIFO\), not a regular file"):
        read_image(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_link_refused(tmp_path):
    link = tmp_path / "zero.jpg"
    os.symlink("/dev/zero", link)
    with pytest.raises(InvalidImageError, match="zero.jpg: is a character device"):
        source_bytes(link)


def test_size_limit_and_odd_names(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg(_photo()))
    with pytest.raises(InvalidImageError, match="over the limit of 100 bytes"):
        read_image(path, max_bytes=100)
    with pytest.raises(InvalidImageError, match=r"a\\x00b.jpg: path contains a NUL byte"):
        read_image(str(tmp_path / "a\x00b.jpg"))
    assert image_name("x\udcffy.jpg") == "x\\xffy.jpg"
    assert image_name("line\nbreak.jpg") == "line\\nbreak.jpg"
    if sys.platform.startswith("linux"):
        raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
        with open(raw, "wb") as fh:
            fh.write(_jpeg(_photo()))
        assert read_image(os.fsdecode(raw)).shape == (48, 64, 3)
        with pytest.raises(InvalidImageError) as info:
            read_image(os.fsdecode(raw), max_bytes=10)
        str(info.value).encode("utf-8")  # printable: no lone surrogates


def test_integer_colour_scale_depends_on_dtype_only():
    # the same value gives the same colour whatever the other pixels are
    dark = np.full((2, 2, 3), 200, dtype=np.int32)
    mixed = dark.copy()
    mixed[0, 0] = 0
    assert read_image(dark)[1, 1, 0] == read_image(mixed)[1, 1, 0] == 200
    with pytest.raises(InvalidImageError, match="int32 image values out of range .* cast 16-bit data to uint16"):
        read_image(np.full((2, 2, 3), 300, dtype=np.int32))
    sixteen = np.full((2, 2, 3), 200, dtype=np.uint16)
    assert read_image(sixteen)[0, 0, 0] == 1  # uint16 is 16-bit data: 200 / 257
    values = np.arange(65536, dtype=np.uint16)
    expected = np.rint(values.astype(np.float32) / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(read_image(values.reshape(256, 256))[..., 0].ravel(), expected)


def test_large_transparent_image_converted_in_strips():
    rgba = np.zeros((3000, 1500, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[::2, :, 3] = 255
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    image = read_image(buf.getvalue())
    assert image.shape == (3000, 1500, 3)
    assert image[0, 0].tolist() == [200, 0, 0] and image[1, 0].tolist() == [255, 255, 255]
