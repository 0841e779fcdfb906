"""The extractor template of the developer guide: one file and one export make an extractor the checks cover."""

import importlib
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from joblib.externals.loky import get_reusable_executor

import dermfeat.features
from dermfeat.testing import all_image_estimators
from dermfeat.testing.estimator_checks import image_estimator_checks

TEMPLATE = Path(__file__).resolve().parents[2] / "docs" / "developers" / "extractor_template.py"


@pytest.fixture(scope="module")
def template_class():
    """The template, copied in as ``dermfeat.features._template`` and exported by one line."""
    name = "dermfeat.features._template"
    spec = importlib.util.spec_from_file_location(name, TEMPLATE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    dermfeat.features.TemplateFeatures = module.TemplateFeatures  # the one line in features/__init__.py
    yield module.TemplateFeatures
    del dermfeat.features.TemplateFeatures
    del sys.modules[name]


def test_the_registry_finds_the_new_extractor(template_class):
    assert ("TemplateFeatures", template_class) in all_image_estimators("transformer")


def test_the_template_passes_every_shared_check(tmp_path, monkeypatch):
    """The file as it is, importable in joblib's worker processes too (they inherit ``sys.path``)."""
    shutil.copy(TEMPLATE, tmp_path / "template_features.py")
    monkeypatch.syspath_prepend(tmp_path)
    get_reusable_executor().shutdown(wait=True)  # workers started from here on see the new sys.path
    template_class = importlib.import_module("template_features").TemplateFeatures
    checks = [check for params in template_class._get_test_params()
              for check in image_estimator_checks(template_class(**params))]
    assert len(checks) >= 10
    for check in checks:
        check()


def test_the_template_computes_what_it_says(template_class, lesion_data):
    images = lesion_data.images[:2]
    features = template_class(image_size=96).fit_transform(images)  # the images are 96 px: no resize
    pixels = images.reshape(2, -1, 3).astype(np.float64)
    np.testing.assert_allclose(features, np.hstack([pixels.mean(axis=1), pixels.std(axis=1)]))
