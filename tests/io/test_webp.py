"""WebP through OpenCV's libwebp: Pillow's pixels and refusals, a quarter of its memory."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from dermfeat import InvalidImageError
from dermfeat.datasets import make_lesion_images
from dermfeat.io import read_image
from dermfeat.io._convert import pil_to_rgb
from dermfeat.io._webp import _first_frame_as_still
from dermfeat.testing import mutate_images

ROOT = Path(__file__).resolve().parents[2]


def _pillow(data):
    """What read_image gave before: Pillow's decoder, oriented, converted the usual way."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return pil_to_rgb(ImageOps.exif_transpose(img), "x")


@pytest.fixture(scope="module")
def photo():
    return make_lesion_images(1, image_size=96, random_state=3).images[0][:, :80]


def _save(image, **kwargs):
    buf = io.BytesIO()
    image.save(buf, "WEBP", **kwargs)
    return buf.getvalue()


def _files(photo):
    rgb = Image.fromarray(photo)
    ramp = np.arange(photo.shape[1], dtype=np.uint32)[None, :].repeat(photo.shape[0], 0) * 9 % 256
    rgba = Image.fromarray(np.dstack([photo, ramp.astype(np.uint8)]))
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {"lossy": _save(rgb, quality=80), "lossless": _save(rgb, lossless=True),
             "alpha": _save(rgba, quality=70), "alpha_lossless": _save(rgba, lossless=True),
             "grey": _save(rgb.convert("L")), "exif_orientation_6": _save(rgb, exif=exif)}
    for name, image, kwargs in (("animated", rgb, {"quality": 80}), ("animated_alpha", rgba, {"quality": 70}),
                                ("animated_lossless", rgba, {"lossless": True})):
        files[name] = _save(image, save_all=True, append_images=[image.transpose(0)], **kwargs)
    return files


def test_same_pixels_as_pillow(photo):
    for name, data in _files(photo).items():
        np.testing.assert_array_equal(read_image(data), _pillow(data), err_msg=name)


def test_first_frames_are_decoded_as_still_images(photo):
    for name, data in _files(photo).items():
        if name.startswith("animated"):
            still = _first_frame_as_still(memoryview(data), 8 + int.from_bytes(data[4:8], "little"),
                                          *Image.open(io.BytesIO(data)).size)
            assert still is not None, name
            np.testing.assert_array_equal(read_image(still), read_image(data), err_msg=name)


def test_damaged_files_refused_as_pillow_refuses_them():
    # libwebp's simple decoder reads past a chunk's end: the file is cut at the length its header gives
    cases = [c for c in mutate_images(5, 1200) if "webp" in c.kind]
    assert len(cases) == 200
    outcomes = []
    for case in cases:
        try:
            expected = _pillow(case.source)
        except Exception:  # noqa: BLE001 - whatever Pillow raises on damaged data
            expected = None
        try:
            got = read_image(case.source)
        except InvalidImageError:
            got = None
        assert (got is None) == (expected is None), case.kind
        assert got is None or np.array_equal(got, expected), case.kind
        outcomes.append(got is None)
    assert 0 < sum(outcomes) < len(outcomes)


MEMORY = r"""
import io, json, numpy as np
from PIL import Image
from dermfeat.io import read_image
from tests.testing._memory import peak_mb, reset_peak
tile = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
buf = io.BytesIO(); Image.fromarray(np.tile(tile, (64, 64, 1))).save(buf, "WEBP", quality=80, method=0)
data = buf.getvalue()
reset_peak(); base = peak_mb()
image = read_image(data)
print(json.dumps({"delta_mb": peak_mb() - base, "image_mb": image.nbytes / 2**20}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to measure the peak")
def test_a_16_megapixel_webp_takes_little_more_than_twice_its_pixels():
    # Pillow's animation decoder took 6.4 times the decoded image (two canvases, a copy, its image); now 2.4
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-c", MEMORY], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["image_mb"] == 48
    assert report["delta_mb"] < 3 * report["image_mb"], report
