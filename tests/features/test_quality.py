"""QualityFeatures: hand-computed blur, noise, exposure and cast values."""

import math

import cv2
import numpy as np
import pytest

from dermfeat.features import QualityFeatures
from dermfeat.features._handcrafted import WorkingImage
from dermfeat.features._quality import _histogram_percentiles
from dermfeat.utils import InvalidParameterError


def features(image, **params):
    est = QualityFeatures(image_size=min(image.shape[:2]), **params).fit()
    return dict(zip(est.get_feature_names_out(), est.transform(image)[0]))


def test_single_bright_pixel_by_hand():
    image = np.zeros((16, 16, 3), np.uint8)
    image[8, 8] = 255
    f = features(image)
    # Laplacian of g (g = 1 at one pixel): -4 there, +1 at its 4 neighbours, 0 elsewhere:
    # mean 0, variance (16 + 4) / 256
    assert f["blur_laplacian_var"] == pytest.approx(20 / 256, rel=1e-6)
    # Immerkaer: |K * g| sums to 4 + 4*2 + 4*1 = 16 over the 14 x 14 interior
    assert f["noise_sigma"] == pytest.approx(math.sqrt(math.pi / 2) * 16 / (6 * 14 * 14), rel=1e-6)
    assert f["brightness"] == pytest.approx(1 / 256)
    assert f["dark_fraction"] == 255 / 256 and f["bright_fraction"] == 1 / 256


def test_exposure_and_contrast():
    image = np.full((16, 16, 3), 128, np.uint8)
    image[:4] = 0  # a quarter crushed black
    image[4:8] = (255, 200, 200)  # a quarter with a blown red channel
    f = features(image)
    assert f["dark_fraction"] == 0.25 and f["bright_fraction"] == 0.25
    grey = WorkingImage(image).grey.astype(np.float64) / 255
    assert f["brightness"] == pytest.approx(grey.mean()) and f["contrast_rms"] == pytest.approx(grey.std())
    p5, p95 = np.percentile(grey * 255, [5, 95])
    assert f["contrast_range"] == pytest.approx((p95 - p5) / 255)


def test_histogram_percentiles_match_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000):
        values = rng.integers(0, 256, n)
        counts = np.bincount(values, minlength=256)
        np.testing.assert_allclose(_histogram_percentiles(counts, (0, 5, 50, 95, 100)), np.percentile(values, [0, 5, 50, 95, 100]))


def test_colour_cast():
    f = features(np.full((16, 16, 3), 90, np.uint8))
    assert f["cast_rg"] == 0 and f["cast_bg"] == 0 and f["cast_strength"] == 0
    f = features(np.full((16, 16, 3), (200, 100, 50), np.uint8))
    assert f["cast_rg"] == pytest.approx(math.log(201 / 101)) and f["cast_bg"] == pytest.approx(math.log(51 / 101))
    assert f["cast_strength"] == pytest.approx(math.hypot(math.log(201 / 101), math.log(51 / 101)))


def test_blur_lowers_the_laplacian_variance(lesion_data):
    image = lesion_data.images[0]
    sharp, blurred = (features(im)["blur_laplacian_var"] for im in (image, cv2.GaussianBlur(image, (0, 0), 2)))
    assert sharp > 3 * blurred


def test_noise_estimate_tracks_added_noise():
    rng = np.random.default_rng(1)
    flat = np.full((64, 64, 3), 128, np.float64)
    noisy = np.clip(flat + rng.normal(0, 10, flat.shape[:2])[:, :, None], 0, 255).astype(np.uint8)
    assert features(noisy)["noise_sigma"] == pytest.approx(10 / 255, rel=0.15)


def test_invalid_parameters():
    with pytest.raises(InvalidParameterError):
        QualityFeatures(dark_threshold=200, bright_threshold=100).fit()
