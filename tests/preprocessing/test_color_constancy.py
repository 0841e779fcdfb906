"""ColorConstancy: shades-of-grey illuminant estimate and von Kries gains."""

import numpy as np
import pytest

from dermfeat.preprocessing import ColorConstancy, estimate_illuminant
from dermfeat.utils import InvalidParameterError


def test_illuminant_is_the_minkowski_mean():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    x = image.reshape(-1, 3).astype(np.float64) / 255
    for p in (1, 2, 6):
        np.testing.assert_allclose(estimate_illuminant(image, p), (x**p).mean(axis=0) ** (1 / p), rtol=1e-12)
    np.testing.assert_allclose(estimate_illuminant(image, np.inf), x.max(axis=0))


def test_grey_world_removes_a_cast():
    rng = np.random.default_rng(1)
    scene = rng.integers(60, 200, size=(32, 32, 1)).repeat(3, axis=2).astype(np.float64)  # a grey scene
    cast = np.clip(scene * [1.2, 1.0, 0.7], 0, 255).round().astype(np.uint8)  # warm light
    balanced = ColorConstancy(power=1).fit_transform(cast)[0].astype(np.float64)
    means = balanced.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(means, means.mean(), atol=0.6)  # neutral again
    assert np.abs(balanced[..., 0] - balanced[..., 2]).mean() < 1.0


def test_gains_by_hand():
    image = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    # e = (200, 100, 50) / 255 for every p; gains mean(e) / e = (116.67/200, 116.67/100, 116.67/50)
    out = ColorConstancy(power=6).fit_transform(image)[0]
    assert out[0, 0].tolist() == [117, 117, 117]


def test_black_channel_is_left_alone():
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 100
    out = ColorConstancy().fit_transform(image)[0]
    assert out[..., 1:].max() == 0 and out[0, 0, 0] == round(100 * (100 / 255 / 3) / (100 / 255))


def test_keeps_the_size():
    image = np.random.default_rng(2).integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    assert ColorConstancy().fit_transform([image])[0].shape == image.shape


def test_invalid_power():
    with pytest.raises(InvalidParameterError):
        ColorConstancy(power=0.5).fit()
