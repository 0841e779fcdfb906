"""The hostile-input suite: read_image and every image estimator, over every kind and a fuzz run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dermfeat import InvalidImageError
from dermfeat.io import image_name, read_image
from dermfeat.testing import ImageCase, hostile_image_inputs, mutate_images

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return hostile_image_inputs(tmp_path_factory.mktemp("hostile"))


def test_at_least_seventy_distinct_kinds(cases):
    kinds = [c.kind for c in cases]
    assert len(kinds) == len(set(kinds)) >= 70
    assert all(isinstance(c, ImageCase) and c.description and c.expected in ("ok", "refused") for c in cases)
    expected = {c.kind: c.expected for c in cases}
    for kind in ("eps_named_jpg", "jpeg_truncated_50_with_eoi", "jpeg_header_lie_8000x6000", "path_named_pipe",
                 "path_symlink_to_dev_zero", "path_nul_byte", "array_object", "png_header_lie_4000x4000"):
        assert expected.get(kind, "refused") == "refused"
    for k in range(1, 9):
        assert expected[f"jpeg_exif_orientation_{k}"] == "ok"
    assert sum(e == "ok" for e in expected.values()) > 40 and sum(e == "refused" for e in expected.values()) > 40


def test_read_image_does_what_each_case_expects(cases):
    for case in cases:
        if case.expected == "ok":
            image = read_image(case.source)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, case.kind
        else:
            with pytest.raises(InvalidImageError) as info:
                read_image(case.source)
            message = str(info.value)
            assert "\n" not in message and message.startswith(image_name(case.source) + ": "), case.kind


def test_exif_orientations_are_all_distinct_views(cases):
    images = {c.kind: read_image(c.source) for c in cases if c.kind.startswith("jpeg_exif_orientation_")}
    assert len({im.tobytes() + bytes(im.shape) for im in images.values()}) == 8


def test_fuzzer_is_seeded_and_bounded(tmp_path):
    a, b = mutate_images(7, 30), mutate_images(7, 30)
    assert [c.source for c in a] == [c.source for c in b]
    assert [c.source for c in a] != [c.source for c in mutate_images(8, 30)]
    assert {c.kind.split("_")[3] for c in a} == {"jpeg", "png", "webp", "tiff", "gif"}
    on_disk = mutate_images(7, 3, tmp_path)
    assert [Path(c.source).read_bytes() for c in on_disk] == [c.source for c in a[:3]]
    assert all(len(c.source) < 20_000 for c in a)


def _run_child(args, timeout):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_child_measures_its_own_peak_memory_not_its_parents():
    # ru_maxrss of a child started by a process that once held a lot (pytest, late in the full
    # suite) reports the parent's peak; the sweep below must measure the child's own
    held = np.ones(400 * 2**20, np.uint8)  # 400 MB resident in this process
    try:
        own = _run_child(["-c", "import json; from tests.testing._memory import peak_mb; print(json.dumps(peak_mb()))"],
                         timeout=120)
    finally:
        del held
    assert own < 200


def test_every_estimator_survives_every_kind_and_300_fuzzed_files():
    # in a child process: a hang fails as a timeout, and the peak memory is its own
    report = _run_child(["tests/testing/_sweep.py", "300", "0"], timeout=600)
    assert report["problems"] == []
    assert report["kinds"] >= 70 and report["fuzzed"] == 300 and report["estimators"] >= 11
    assert report["peak_rss_mb"] < 1024


MEMORY_CHECK = r"""
import io, json, warnings
import numpy as np
from PIL import Image
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx_tiny import write_tiny_onnx_model
from dermfeat.testing._hostile_images import _jpeg, _jpeg_header_lie, _photo
from dermfeat.utils import all_image_estimators
from tests.testing._memory import peak_mb, reset_peak

lie = _jpeg_header_lie(_jpeg(_photo()), 8000, 6000)
buf = io.BytesIO(); Image.new("RGB", (60000, 1), (200, 90, 80)).save(buf, "PNG", optimize=True); strip = buf.getvalue()
burst = [lie] * 16 + [strip] * 4
estimators = [cls(**(cls._get_test_params()[0] if hasattr(cls, "_get_test_params") else {}))
              for _, cls in all_image_estimators()]
estimators.append(OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=256, center_crop=224, tta_crops=5,
                               tta_flip=True, n_threads=1))
reset_peak()  # where it cannot be reset, the delta below is of the peak since start
base = peak_mb()
for est in estimators:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(est, "on_error"):
            est.set_params(on_error="nan").fit().transform(burst)
        else:
            est.fit()
            for item in burst:
                try:
                    est.transform([item])
                except ValueError:
                    pass
print(json.dumps({"delta_mb": peak_mb() - base}))
"""


def test_header_lies_and_thin_strips_stay_small_in_memory():
    # 16 header-lie JPEGs (0.8 kB claiming 8000x6000) and 1x60000 strips, through every estimator
    # and test-time crops: refused or handled in a few megabytes, not 144 MB or 12 GB each
    report = _run_child(["-c", MEMORY_CHECK], timeout=300)
    assert report["delta_mb"] < 200
