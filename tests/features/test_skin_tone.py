"""SkinToneFeatures: the ITA of known CIELAB colours, categories, the skin mask and its fallback."""

import math

import numpy as np
import pytest

from dermfeat.features import (
    ITA_CATEGORIES,
    ITA_THRESHOLDS,
    SkinToneFeatures,
    individual_typology_angle,
    ita_category,
)
from dermfeat.features._handcrafted import rgb_to_ycrcb
from dermfeat.features._skin_tone import ita_category_code, skin_mask
from dermfeat.utils import InvalidParameterError


def lab_float64(rgb):
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def test_ita_of_known_cielab_colours():
    lab = np.array([[70.0, 12.0, 20.0], [50.0, 5.0, 10.0], [30.0, 8.0, 20.0], [100.0, 0.0, 0.0], [60.0, 9.0, 10 * math.sqrt(3)]])
    # arctan((L - 50) / b): 45, 0, -45, 90 (b = 0, L > 50), 30 degrees
    np.testing.assert_allclose(individual_typology_angle(lab), [45, 0, -45, 90, 30], atol=1e-12)


@pytest.mark.parametrize("rgb", [(224, 172, 140), (141, 85, 36), (255, 219, 172), (92, 56, 40)])
def test_ita_of_a_uniform_skin_photo(rgb):
    L, _, b = lab_float64(rgb)
    expected = math.degrees(math.atan2(L - 50, b))
    est = SkinToneFeatures(image_size=16).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(np.full((16, 16, 3), rgb, np.uint8))[0]))
    assert f["ita_median"] == pytest.approx(expected, abs=1e-3)
    assert f["ita_mean"] == pytest.approx(expected, abs=1e-3) and f["ita_std"] == pytest.approx(0, abs=1e-3)
    assert f["L_median"] == pytest.approx(L, abs=2e-3) and f["b_median"] == pytest.approx(b, abs=2e-3)
    assert f["ita_category"] == ITA_CATEGORIES.index(ita_category(expected))


def test_category_boundaries():
    values = [90, 55.001, 55, 41.001, 41, 28.001, 28, 10.001, 10, -29.999, -30, -90]
    names = ["very light", "very light", "light", "light", "intermediate", "intermediate", "tan", "tan",
             "brown", "brown", "dark", "dark"]
    assert ita_category(values).tolist() == names
    assert ita_category_code(values).tolist() == [ITA_CATEGORIES.index(n) for n in names]
    assert ita_category(np.array([[60.0], [np.nan]])).tolist() == [["very light"], ["unknown"]]
    assert ita_category(-45) == "dark" and isinstance(ita_category(12.0), str)
    assert ITA_CATEGORIES == ("very light", "light", "intermediate", "tan", "brown", "dark")
    assert ITA_THRESHOLDS == (55.0, 41.0, 28.0, 10.0, -30.0)


def test_skin_mask_thresholds():
    colours = np.array([[[224, 172, 140], [92, 56, 40], [30, 60, 200], [0, 200, 0], [128, 128, 128]]], np.uint8)
    assert skin_mask(rgb_to_ycrcb(colours))[0].tolist() == [True, True, False, False, False]


def test_background_is_excluded_and_fallback_to_all_pixels():
    skin, drape = (141, 85, 36), (40, 90, 180)
    image = np.empty((32, 32, 3), np.uint8)
    image[:, :8], image[:, 8:] = skin, drape  # a quarter skin, three quarters blue drape
    est = SkinToneFeatures(image_size=32).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(image)[0]))
    L, _, b = lab_float64(skin)
    assert f["skin_mask_used"] == 1 and f["skin_fraction"] == 0.25
    assert f["ita_median"] == pytest.approx(math.degrees(math.atan2(L - 50, b)), abs=1e-3) and f["ita_std"] < 1e-3
    # demand more skin than there is: all pixels are used
    f = dict(zip(est.get_feature_names_out(), SkinToneFeatures(min_skin_fraction=0.5, image_size=32).fit().transform(image)[0]))
    assert f["skin_mask_used"] == 0 and f["skin_fraction"] == 0.25 and f["ita_std"] > 1
    # no skin at all
    f = dict(zip(est.get_feature_names_out(), est.transform(np.full((16, 16, 3), drape, np.uint8))[0]))
    assert f["skin_mask_used"] == 0 and f["skin_fraction"] == 0 and np.isfinite(f["ita_median"])


def test_invalid_parameters():
    with pytest.raises(InvalidParameterError):
        SkinToneFeatures(min_skin_fraction=1.5).fit()
