"""read_image: a bad-input corpus generated here, each decoded correctly or refused clearly."""

import io
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from dermfeat import InvalidImageError
from dermfeat.io import DEFAULT_MAX_PIXELS, image_name, image_size, read_image


def _photo(h=60, w=90):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.dstack([(xx * 255 // w), (yy * 255 // h), np.full((h, w), 128)]).astype(np.uint8)


def _encode(image, fmt="JPEG", **kwargs):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every kind of awkward file a clinic's export produces."""
    root = tmp_path_factory.mktemp("bad_inputs")
    photo = _photo()
    files = {}

    def put(name, data):
        (root / name).write_bytes(data)
        files[name] = root / name

    jpeg = _encode(photo, quality=95)
    put("good.jpg", jpeg)
    put("truncated.jpg", jpeg[: len(jpeg) // 2])
    put("empty.jpg", b"")
    put("text.jpg", b"patient notes, not a photograph\n" * 20)
    sixteen = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    ok, buf = cv2.imencode(".png", sixteen)
    put("grey16.png", buf.tobytes())
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:10, :10, 3] = 0  # transparent corner
    put("rgba.png", _encode(rgba, "PNG"))
    put("palette.png", _palette_png(photo))
    put("cmyk.jpg", _encode_cmyk(photo))
    put("rotated.jpg", _exif_rotated(photo))
    put("one_pixel.png", _encode(np.array([[[200, 100, 50]]], np.uint8), "PNG"))
    put("png_named.jpg", _encode(photo, "PNG"))
    put("bomb.png", _bomb_png())
    return files


def _palette_png(photo):
    buf = io.BytesIO()
    Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(buf, "PNG")
    return buf.getvalue()


def _encode_cmyk(photo):
    buf = io.BytesIO()
    Image.fromarray(photo).convert("CMYK").save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _exif_rotated(photo):
    """Stored landscape (90 wide) with EXIF orientation 6: displayed portrait."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


def _bomb_png():
    """A tiny PNG whose header claims 10000 x 10000 = 100 megapixels."""
    buf = io.BytesIO()
    Image.new("L", (10000, 10000)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def test_good_jpeg(corpus):
    image = read_image(corpus["good.jpg"])
    assert image.shape == (60, 90, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - _photo()).mean() < 3


@pytest.mark.parametrize(
    "name, reason",
    [
        ("truncated.jpg", "truncated or corrupt"),
        ("empty.jpg", "file is empty"),
        ("text.jpg", "not a recognised image format"),
        ("bomb.png", "over the limit"),
    ],
)
def test_refused_with_clear_reason(corpus, name, reason):
    with pytest.raises(InvalidImageError) as info:
        read_image(corpus[name])
    assert name in str(info.value) and reason in str(info.value)
    assert info.value.source.endswith(name)


def test_bomb_refused_before_decoding(corpus):
    start = time.perf_counter()
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        read_image(corpus["bomb.png"])
    # decoding 100 MP would take seconds and 100 MB; the header check is instant
    assert time.perf_counter() - start < 1.0
    assert 10000 * 10000 > DEFAULT_MAX_PIXELS
    assert len(corpus["bomb.png"].read_bytes()) < 200_000
    assert image_size(corpus["bomb.png"]) == (10000, 10000)  # the header alone is fine


def test_pillow_limit_also_reported_clearly():
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        read_image(buf.getvalue(), max_pixels=10**10)


def test_sixteen_bit_grey_is_scaled_not_clipped(corpus):
    image = read_image(corpus["grey16.png"])
    assert image.shape == (30, 40, 3)
    assert image[0, 0, 0] == 0 and image[-1, -1, 0] == 255
    assert np.all(image[..., 0] == image[..., 1])
    assert len(np.unique(image)) > 200  # the full range is used, not clipped at 255/65535


def test_rgba_composited_on_white(corpus):
    image = read_image(corpus["rgba.png"])
    assert image.shape == (60, 90, 3)
    assert np.all(image[:10, :10] == 255)
    np.testing.assert_array_equal(image[20:, 20:], _photo()[20:, 20:])


def test_palette_and_cmyk(corpus):
    palette = read_image(corpus["palette.png"])
    assert palette.shape == (60, 90, 3) and np.abs(palette.astype(int) - _photo()).mean() < 20
    cmyk = read_image(corpus["cmyk.jpg"])
    assert cmyk.shape == (60, 90, 3) and np.abs(cmyk.astype(int) - _photo()).mean() < 10


def test_exif_orientation_applied(corpus):
    image = read_image(corpus["rotated.jpg"])
    assert image.shape == (90, 60, 3)  # displayed as portrait
    assert image_size(corpus["rotated.jpg"]) == (60, 90)
    # orientation 6 = rotate 90 degrees clockwise for display
    expected = np.rot90(_photo(), k=-1)
    assert np.abs(image.astype(int) - expected).mean() < 3


def test_one_pixel_and_png_named_jpg(corpus):
    assert read_image(corpus["one_pixel.png"]).tolist() == [[[200, 100, 50]]]
    np.testing.assert_array_equal(read_image(corpus["png_named.jpg"]), _photo())


def test_missing_and_directory(tmp_path):
    with pytest.raises(InvalidImageError, match="nope.jpg: file not found"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(InvalidImageError, match="is a directory"):
        read_image(tmp_path)


def test_bytes_and_arrays():
    photo = _photo()
    np.testing.assert_array_equal(read_image(_encode(photo, "PNG")), photo)
    assert read_image(photo) is not None
    np.testing.assert_array_equal(read_image(photo[..., 0])[..., 2], photo[..., 0])
    np.testing.assert_array_equal(read_image(photo.astype(np.float64) / 255.0), photo)
    np.testing.assert_array_equal(read_image(photo.astype(np.uint16) * 257), photo)
    assert read_image(np.ones((4, 4), bool)).max() == 255


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 4, 2), np.uint8), "not an image"),
        (np.zeros((2, 2, 2, 3), np.uint8), "not an image"),
        (np.zeros((0, 4, 3), np.uint8), "no pixels"),
        (np.full((4, 4, 3), 2.0), r"must lie in \[0, 1\]"),
        (np.full((4, 4, 3), np.nan), "NaN"),
        (np.full((4, 4, 3), -5, np.int32), "out of range"),
        (np.array(["a"], dtype=object), "not an image"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(InvalidImageError, match=message):
        read_image(array)


def test_unsupported_type():
    with pytest.raises(InvalidImageError, match="unsupported image source of type int"):
        read_image(42)


def test_reduced_size_jpeg_decoding():
    big = cv2.resize(_photo(), (1600, 1200), interpolation=cv2.INTER_LINEAR)
    data = _encode(big, quality=90)
    full = read_image(data)
    assert full.shape == (1200, 1600, 3)
    reduced = read_image(data, min_side=200)
    # 1/4 scale keeps the short side at 300 >= 200; 1/8 would give 150 < 200
    assert reduced.shape == (300, 400, 3)
    assert min(read_image(data, min_side=150).shape[:2]) == 150
    assert read_image(data, min_side=5000).shape == full.shape  # never upscales
    # the reduced decode looks like the downscaled full decode
    down = cv2.resize(full, (400, 300), interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(int) - down).mean() < 3


def test_image_name():
    assert image_name(b"x", 3) == "<bytes #3>"
    assert image_name("a/b.jpg") == "a/b.jpg"


def test_heic_without_extra_is_explained():
    fake_heic = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40
    with pytest.raises(InvalidImageError, match="HEIC"):
        read_image(fake_heic)


def _pillow_decode(data, scale=1):
    """The reference: Pillow alone (draft scale, EXIF orientation, RGB)."""
    from PIL import ImageOps

    img = Image.open(io.BytesIO(data))
    if scale > 1:
        img.draft(img.mode, (img.width // scale, img.height // scale))
    return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


def _textured(h=123, w=157, seed=0):
    """Odd sizes (partial MCUs at every scale) and real texture, so that any decoder difference shows."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (3, 3), 0)
    return cv2.addWeighted(noise, 0.5, cv2.resize(_photo(), (w, h)), 0.5, 0)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_fast_path_equals_pillow_for_every_orientation(orientation):
    # read_image decodes complete RGB / grey JPEGs with OpenCV's libjpeg-turbo; the
    # pixels and the EXIF orientation must be exactly Pillow's
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(_textured(), quality=90, exif=exif)
    np.testing.assert_array_equal(read_image(data), _pillow_decode(data))


@pytest.mark.parametrize("min_side, scale", [(None, 1), (60, 2), (30, 4), (15, 8)])
@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0 chroma
def test_jpeg_fast_path_equals_pillow_at_every_scale(min_side, scale, subsampling):
    data = _encode(_textured(), quality=85, subsampling=subsampling)
    reduced = read_image(data, min_side=min_side)
    expected = _pillow_decode(data, scale)
    assert reduced.shape == expected.shape == (-(-123 // scale), -(-157 // scale), 3)
    np.testing.assert_array_equal(reduced, expected)


def test_grey_jpeg_and_jpeg_with_trailing_bytes():
    grey = _textured()[..., 0]
    data = _encode(grey, quality=90)
    image = read_image(data)
    assert image.shape == grey.shape + (3,)
    np.testing.assert_array_equal(image, _pillow_decode(data))
    # bytes after the end-of-image marker (some cameras append data): decoded by Pillow
    np.testing.assert_array_equal(read_image(data + b"trailer"), image)


def test_truncated_jpeg_is_refused_at_every_length():
    data = _encode(_textured(), quality=90)
    for cut in (len(data) // 3, len(data) - 40, len(data) - 2):
        with pytest.raises(InvalidImageError, match="cut.jpg: truncated or corrupt image data"):
            read_image(data[:cut], name="cut.jpg")



def test_formats_that_need_more_memory_to_decode_get_fewer_pixels():
    # OpenJPEG needs 17 bytes per pixel: a 4.5 MB JPEG 2000 file of 63 megapixels took 1 GB
    from dermfeat.io._formats import pixel_limit

    assert pixel_limit("PNG", 64_000_000) == pixel_limit("JPEG", 64_000_000) == 64_000_000
    assert pixel_limit("JPEG2000", 64_000_000) == 64_000_000 * 8 // 17
    assert pixel_limit("AVIF", 50_000_000) == 50_000_000 * 8 // 9
    image = Image.new("RGB", (700, 700), (200, 90, 80))
    data = _encode(np.asarray(image), "JPEG2000", quality_mode="rates", quality_layers=[40])
    with pytest.raises(InvalidImageError, match=r"over the limit of 230,588 for JPEG2000, whose decoding needs 17 "
                                                r"bytes per pixel \(max_pixels=490,000 is for formats needing 8\)"):
        read_image(data, max_pixels=490_000)
    assert read_image(_encode(np.asarray(image), "PNG"), max_pixels=490_000).shape == (700, 700, 3)
    assert read_image(data, max_pixels=490_000 * 17 // 8 + 17).shape == (700, 700, 3)
