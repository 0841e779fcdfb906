"""Shared fixtures: the synthetic images and the real data beside the project."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from dermfeat.datasets import make_lesion_images

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DERMNET = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"


@pytest.fixture(scope="session")
def lesion_data():
    """60 synthetic 96-px photographs, both classes, with groups and severity."""
    return make_lesion_images(60, image_size=96, random_state=0)


@pytest.fixture(scope="session")
def lesion_folder(tmp_path_factory):
    """The same kind of data written as JPEG files with a manifest."""
    folder = tmp_path_factory.mktemp("lesions")
    make_lesion_images(24, image_size=80, directory=folder, random_state=1)
    return folder


@pytest.fixture(scope="session")
def dermnet_dir():
    """The real DermNet NZ photographs (``../shared/data/dermnetnz``)."""
    if not (DERMNET / "manifest.csv").is_file():
        pytest.skip("../shared/data/dermnetnz is not beside the project (CI always has it)")
    return DERMNET


@pytest.fixture(scope="session")
def models_dir():
    """The real ONNX backbones (``../shared/models``)."""
    if not (MODELS / "efficientnet_lite0.onnx").is_file():
        pytest.skip("../shared/models is not beside the project (CI always has it)")
    return MODELS


@pytest.fixture(scope="session")
def feature_cache():
    """A feature cache folder kept between test sessions (``DERMFEAT_TEST_CACHE`` or the temp dir).

    Entries are keyed by image content and extractor state, so sharing them is
    safe; tests on the real photographs then extract each of them once per machine.
    """
    folder = Path(os.environ.get("DERMFEAT_TEST_CACHE") or Path(tempfile.gettempdir()) / "dermfeat-test-cache")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
