"""GaborFeatures: kernels, FFT filtering vs scikit-image, statistics, the bank cache."""

import numpy as np
import pytest
from skimage.filters import gabor, gabor_kernel

from dermfeat.features import GaborFeatures, gabor_kernels, gabor_magnitudes
from dermfeat.features import _gabor
from dermfeat.features._handcrafted import WorkingImage
from dermfeat.utils import InvalidParameterError


@pytest.mark.parametrize("bandwidth", [1.0, 1.5])
def test_kernels_match_scikit_image(bandwidth):
    for frequency, theta, kernel in gabor_kernels([0.05, 0.13, 0.4], n_orientations=6, bandwidth=bandwidth):
        expected = gabor_kernel(frequency, theta=theta, bandwidth=bandwidth)
        assert kernel.shape == expected.shape
        np.testing.assert_allclose(kernel, expected, rtol=0, atol=1e-12)


def test_kernel_formula_at_the_centre_and_along_the_carrier():
    (f, theta, kernel), = gabor_kernels([0.25], n_orientations=1)
    sigma = np.sqrt(np.log(2) / 2) / (np.pi * f) * 3.0  # bandwidth 1: (2 + 1) / (2 - 1)
    cy, cx = np.array(kernel.shape) // 2
    np.testing.assert_allclose(kernel[cy, cx], 1 / (2 * np.pi * sigma**2))
    # theta = 0: x' = x; one pixel to the right the carrier has turned by 2 pi f = pi / 2
    np.testing.assert_allclose(kernel[cy, cx + 1], np.exp(-0.5 / sigma**2) / (2 * np.pi * sigma**2) * 1j, atol=1e-15)


def test_magnitudes_match_scikit_image_gabor():
    rng = np.random.default_rng(0)
    image = rng.random((40, 52)).astype(np.float32)
    freqs = [0.08, 0.3]
    mags = gabor_magnitudes(image, freqs, n_orientations=3)
    k = 0
    for f in freqs:
        for j in range(3):
            real, imag = gabor(image, f, theta=j * np.pi / 3, mode="reflect")
            np.testing.assert_allclose(mags[k], np.hypot(real, imag), rtol=0, atol=1e-5 * np.abs(mags[k]).max())
            k += 1


def test_features_are_mean_std_energy_of_the_magnitudes():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    est = GaborFeatures(frequencies=[0.1, 0.25], n_orientations=2, image_size=48).fit()
    row = est.transform(image)[0].reshape(4, 3)
    mags = gabor_magnitudes(WorkingImage(image).grey_float, [0.1, 0.25], 2).reshape(4, -1).astype(np.float64)
    np.testing.assert_allclose(row[:, 0], mags.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(row[:, 1], mags.std(axis=1), rtol=1e-5)
    np.testing.assert_allclose(row[:, 2], (mags**2).mean(axis=1), rtol=1e-6)
    assert est.get_feature_names_out()[:4].tolist() == ["f0.1_t0_mean", "f0.1_t0_std", "f0.1_t0_energy", "f0.1_t90_mean"]


def test_orientation_selectivity():
    stripes = np.tile(np.uint8([0, 0, 0, 255, 255, 255]), (48, 8))  # vertical stripes, period 6
    image = np.dstack([stripes] * 3)
    est = GaborFeatures(frequencies=[1 / 6], n_orientations=2, image_size=48).fit()
    mean_0, mean_90 = est.transform(image)[0][[0, 3]]
    assert mean_0 > 20 * mean_90


def test_bank_is_built_once_on_first_use_not_in_init():
    _gabor._bank.cache_clear()
    _gabor._bank_spectra.cache_clear()
    est = GaborFeatures(frequencies=[0.2, 0.31], n_orientations=3, image_size=32)
    assert _gabor._bank.cache_info().currsize == 0  # __init__ stores parameters only
    images = np.random.default_rng(2).integers(0, 256, size=(5, 32, 40, 3), dtype=np.uint8)
    est.fit().transform(images)
    info = _gabor._bank_spectra.cache_info()
    assert info.misses == 1 and info.hits == 4  # one build, reused for the other four images
    est.transform(images)
    assert _gabor._bank_spectra.cache_info().misses == 1


def test_small_image_with_a_large_kernel():
    # the f = 0.05 kernel (69 px) is larger than a 16-px working image
    row = GaborFeatures(image_size=16).fit().transform(np.random.default_rng(3).integers(0, 256, (16, 16, 3), np.uint8))
    assert np.all(np.isfinite(row))


@pytest.mark.parametrize("params", [{"frequencies": [0.0]}, {"frequencies": [0.7]}, {"n_orientations": 0}, {"frequencies": []}])
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        GaborFeatures(**params).fit()
