"""RednessFeatures: erythema index of known reflectances, a* statistics, Otsu split."""

import math

import numpy as np
import pytest
from skimage.filters import threshold_otsu

from dermfeat.features import RednessFeatures, erythema_index, otsu_threshold
from dermfeat.features._handcrafted import rgb_to_lab
from dermfeat.utils import InvalidParameterError


def test_erythema_index_of_known_reflectances():
    rgb = np.array([[200, 100, 0], [120, 120, 120], [51, 255, 0], [0, 255, 0], [255, 0, 0]], dtype=np.uint8)
    # EI = 100 (log10(1/G) - log10(1/R)) with reflectances v / 255, 0 clipped to 1/255
    expected = [
        100 * (math.log10(255 / 100) - math.log10(255 / 200)),  # = 100 log10(2) = 30.103
        0.0,
        100 * (math.log10(1.0) - math.log10(5.0)),  # R = 0.2, G = 1 -> -69.897
        100 * (math.log10(1.0) - math.log10(255.0)),  # R clipped to 1/255
        100 * math.log10(255.0),
    ]
    np.testing.assert_allclose(erythema_index(rgb), expected, atol=1e-4)
    assert erythema_index(rgb)[0] == pytest.approx(30.103, abs=1e-3)


def test_erythema_index_rejects_non_uint8():
    with pytest.raises(ValueError):
        erythema_index(np.zeros((2, 3), np.float32))


def test_two_tone_image():
    skin, lesion = (205, 160, 140), (190, 100, 100)
    image = np.empty((40, 40, 3), np.uint8)
    image[:, :20], image[:, 20:] = skin, lesion
    est = RednessFeatures(image_size=40).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(image)[0]))
    ei_skin, ei_lesion = 100 * math.log10(205 / 160), 100 * math.log10(190 / 100)
    assert f["ei_mean"] == pytest.approx((ei_skin + ei_lesion) / 2, abs=1e-4)
    assert f["ei_std"] == pytest.approx((ei_lesion - ei_skin) / 2, abs=1e-4)
    assert f["ei_p10"] == pytest.approx(ei_skin, abs=1e-4) and f["ei_p90"] == pytest.approx(ei_lesion, abs=1e-4)
    assert f["ei_spread"] == pytest.approx(ei_lesion - ei_skin, abs=1e-4)
    a_skin, a_lesion = rgb_to_lab(np.array([[skin, lesion]], np.uint8))[0, :, 1]
    assert f["a_mean"] == pytest.approx((a_skin + a_lesion) / 2, abs=1e-4)
    assert f["a_otsu_fraction"] == 0.5
    assert f["a_otsu_contrast"] == pytest.approx(a_lesion - a_skin, abs=1e-4)


def test_uniform_image_has_no_split():
    est = RednessFeatures(image_size=16).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(np.full((16, 16, 3), (180, 120, 110), np.uint8))[0]))
    assert f["a_otsu_contrast"] == 0 and f["a_otsu_fraction"] == 0 and f["ei_spread"] == 0


def test_otsu_matches_scikit_image():
    rng = np.random.default_rng(0)
    for _ in range(5):
        values = np.r_[rng.normal(5, 2, 3000), rng.normal(20, 4, 1000)].astype(np.float64)
        assert otsu_threshold(values) == pytest.approx(threshold_otsu(values), abs=1e-9)
    assert otsu_threshold(np.full(10, 3.0)) == 3.0


@pytest.mark.parametrize("params", [{"percentiles": [50]}, {"percentiles": [10, 150]}])
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        RednessFeatures(**params).fit()
