"""Small folders of synthetic photographs, one per test, with a few bad files when asked."""

import numpy as np
import pytest

from dermfeat.datasets import make_lesion_images
from dermfeat.features import QualityFeatures


class SimulatedCrash(BaseException):
    """A process crash in the middle of a run (not an image's fault, so the engine does not catch it)."""


class CountingQuality(QualityFeatures):
    """QualityFeatures that counts the images it computes and can fail part-way (a simulated kill)."""

    computed = 0
    fail_after = None

    def _compute(self, prepared):
        cls = type(self)
        if cls.fail_after is not None and cls.computed + len(prepared) > cls.fail_after:
            raise SimulatedCrash("simulated crash")
        cls.computed += len(prepared)
        return super()._compute(prepared)


@pytest.fixture()
def counting():
    CountingQuality.computed = 0
    CountingQuality.fail_after = None
    yield CountingQuality
    CountingQuality.computed = 0
    CountingQuality.fail_after = None


def write_images(folder, n=40, size=48, seed=0):
    data = make_lesion_images(n, image_size=size, directory=folder, random_state=seed)
    return [str(f) for f in data.filenames], np.asarray(data.labels), np.asarray(data.groups)


@pytest.fixture()
def images(tmp_path):
    """40 JPEG files: paths, labels, patient groups."""
    return write_images(tmp_path / "images")


@pytest.fixture()
def images_with_bad(tmp_path):
    """30 good JPEG files with three bad ones in between: junk bytes, empty, missing."""
    files, labels, groups = write_images(tmp_path / "images", n=30)
    bad = {3: tmp_path / "junk.jpg", 11: tmp_path / "empty.jpg", 20: tmp_path / "missing.jpg"}
    bad[3].write_bytes(b"not an image at all")
    bad[11].write_bytes(b"")
    files, labels, groups = list(files), list(labels), list(groups)
    for i in sorted(bad):
        files.insert(i, str(bad[i]))
        labels.insert(i, "eczema")
        groups.insert(i, -1)
    return files, np.asarray(labels, dtype=object), np.asarray(groups), {str(p) for p in bad.values()}
