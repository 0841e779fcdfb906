"""ColorFeatures and the colour conversions: hand-computed values and independent formulas."""

import numpy as np
import pytest
from skimage import color as skcolor

from dermfeat.features import ColorFeatures
from dermfeat.features._handcrafted import WorkingImage, rgb_to_hsv, rgb_to_lab, rgb_to_ycrcb
from dermfeat.utils import InvalidParameterError


def lab_float64(rgb):
    """CIELAB from the textbook formulas (sRGB, D65), in float64."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def colour_grid(levels=16):
    v = np.linspace(0, 255, levels).round().astype(np.uint8)
    return np.stack(np.meshgrid(v, v, v, indexing="ij"), axis=-1).reshape(levels, -1, 3)


def test_lab_matches_the_cie_formulas():
    grid = colour_grid()
    np.testing.assert_allclose(rgb_to_lab(grid), lab_float64(grid), atol=2e-3)
    np.testing.assert_allclose(rgb_to_lab(grid), skcolor.rgb2lab(grid), atol=2e-3)
    white = rgb_to_lab(np.full((1, 1, 3), 255, np.uint8))[0, 0]
    # the sRGB matrix rows sum to the D65 white only to 5 digits: a*, b* of white are ~0.005
    np.testing.assert_allclose(white, [100, 0, 0], atol=1e-2)


def test_ycrcb_by_hand():
    # Y = 0.299*200 + 0.587*100 + 0.114*50 = 124.2
    # Cr = 128 + 0.5*200 - 0.418688*100 - 0.081312*50 = 182.0656
    # Cb = 128 - 0.168736*200 - 0.331264*100 + 0.5*50 = 86.1264
    out = rgb_to_ycrcb(np.array([[[200, 100, 50]]], dtype=np.uint8))[0, 0]
    np.testing.assert_allclose(out, [124.2, 182.0656, 86.1264], atol=1e-4)


def test_hsv_by_hand():
    colours = np.array(
        [[[255, 0, 0], [255, 255, 0], [0, 255, 0], [0, 255, 255], [0, 0, 255], [255, 0, 255], [200, 120, 100], [90, 90, 90], [10, 200, 200]]],
        dtype=np.uint8,
    )
    hsv = rgb_to_hsv(colours)[0]
    np.testing.assert_allclose(hsv[:, 0], [0, 60, 120, 180, 240, 300, 12, 0, 180], atol=1e-3)
    assert hsv[3, 0] == 180.0 and hsv[8, 0] == 180.0  # exactly: cyan is the wrap point of the signed hue
    np.testing.assert_allclose(hsv[6, 1:], [100 / 200, 200 / 255], atol=1e-6)
    np.testing.assert_allclose(hsv[7, 1:], [0, 90 / 255], atol=1e-6)
    grid = colour_grid(12)
    reference = skcolor.rgb2hsv(grid)
    reference[..., 0] *= 360
    np.testing.assert_allclose(rgb_to_hsv(grid), reference, atol=2e-3)


def test_uniform_image_statistics():
    image = np.full((20, 30, 3), (200, 100, 50), dtype=np.uint8)
    est = ColorFeatures(image_size=20).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(image)[0]))
    assert len(f) == 4 * 3 * 5
    for channel, value in zip("rgb", (200, 100, 50)):
        for stat in ("mean", "p10", "p50", "p90"):
            assert f[f"rgb_{channel}_{stat}"] == value
        assert f[f"rgb_{channel}_std"] == 0
    assert f["ycrcb_y_mean"] == pytest.approx(124.2, abs=1e-4)
    assert f["hsv_h_mean"] == pytest.approx(60 * 50 / 150, abs=1e-3)  # 60 (G - B) / (max - min)
    np.testing.assert_allclose([f["lab_L_mean"], f["lab_a_mean"], f["lab_b_mean"]], lab_float64([200, 100, 50]), atol=2e-3)


def test_signed_hue_keeps_reds_together():
    image = np.zeros((16, 32, 3), np.uint8)
    image[:, :16] = (255, 0, 10)  # hue 357.6 -> -2.35
    image[:, 16:] = (255, 10, 0)  # hue 2.35
    est = ColorFeatures(spaces=["hsv"], percentiles=[], image_size=16).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(image)[0]))
    assert f["hsv_h_mean"] == pytest.approx(0, abs=1e-3)
    assert f["hsv_h_std"] == pytest.approx(60 * 10 / 255, abs=1e-3)


def test_percentiles_interpolate_linearly():
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, 8:] = 255
    est = ColorFeatures(spaces=["rgb"], percentiles=[10, 50, 90], image_size=16).fit()
    f = dict(zip(est.get_feature_names_out(), est.transform(image)[0]))
    assert (f["rgb_r_p10"], f["rgb_r_p50"], f["rgb_r_p90"]) == (0, 127.5, 255)
    assert f["rgb_r_std"] == 127.5


def test_histograms_sum_to_one():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)
    est = ColorFeatures(histogram_bins=8, image_size=24).fit()
    names = est.get_feature_names_out()
    row = est.transform(image)[0]
    for space in ("rgb", "hsv", "lab", "ycrcb"):
        for k in range(3):
            cols = [i for i, n in enumerate(names) if n.startswith(f"{space}_") and "_hist" in n][8 * k : 8 * (k + 1)]
            assert row[cols].sum() == pytest.approx(1.0)


def test_view_shares_conversions():
    view = WorkingImage(np.zeros((4, 4, 3), np.uint8))
    assert view.lab is view.lab and view.hsv is view.hsv


@pytest.mark.parametrize("params", [{"spaces": ["xyz"]}, {"spaces": ["lab", "lab"]}, {"percentiles": [120]}, {"histogram_bins": -1}])
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        ColorFeatures(**params).fit()
