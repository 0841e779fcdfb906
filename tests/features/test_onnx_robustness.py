"""OnnxEmbedder on long thin images: test-time crops in bounded memory, unchanged features elsewhere."""

import numpy as np
import pytest

from dermfeat.features import OnnxEmbedder
from dermfeat.imaging import _views
from dermfeat.features._onnx_tiny import write_tiny_onnx_model


@pytest.fixture(scope="module")
def model():
    return write_tiny_onnx_model()


def _embedder(model, **params):
    return OnnxEmbedder(model, resize_short_side=40, center_crop=32, n_threads=1, **params).fit()


@pytest.mark.parametrize("shape", [(1, 60000, 3), (60000, 1, 3), (2, 30001, 3)])
@pytest.mark.parametrize("crops, flip", [(1, False), (5, True)])
def test_long_thin_images_give_finite_features_from_small_views(model, shape, crops, flip, monkeypatch):
    largest = []
    resize = _views.resize

    def watched(image, size, interpolation):
        out = resize(image, size, interpolation)
        largest.append(out.size)
        return out

    monkeypatch.setattr(_views, "resize", watched)
    strip = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    emb = _embedder(model, tta_crops=crops, tta_flip=flip)
    features = emb.transform(strip)
    assert features.shape == (1, 8) and np.isfinite(features).all()
    assert max(largest) <= 32 * 32 * 3  # only crop-sized views were made, never the 40 x 2.4M resize


def test_region_crops_only_beyond_the_size_limit(model, monkeypatch):
    # below the limit the whole image is resized then cropped (features unchanged);
    # above it each crop is resized from its source region, to within rounding
    image = np.random.default_rng(1).integers(0, 256, (30, 400, 3), dtype=np.uint8)
    emb = _embedder(model, tta_crops=5)
    whole = emb._prepare(image)
    monkeypatch.setattr(_views, "MAX_RESIZED_PIXELS", 100)
    regions = emb._prepare(image)
    assert whole.shape == regions.shape == (5, 32, 32, 3)
    assert np.abs(whole.astype(int) - regions).mean() < 40  # same places, slightly different sampling
    corner_whole, corner_regions = whole[1].astype(int), regions[1].astype(int)
    assert np.corrcoef(corner_whole.ravel(), corner_regions.ravel())[0, 1] > 0.3
