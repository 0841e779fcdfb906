"""LBPFeatures and lbp_code_map: hand-computed code maps, exact ties, scikit-image agreement."""

import math
from fractions import Fraction

import numpy as np
import pytest
from skimage.feature import local_binary_pattern

from dermfeat.features import LBPFeatures, lbp_code_map
from dermfeat.features._handcrafted import WorkingImage
from dermfeat.features._lbp import _sampling_points, n_lbp_bins
from dermfeat.utils import InvalidParameterError

# P = 4, R = 1 samples right, up, left, down exactly (no interpolation), so the
# codes below follow from the definition by hand:
#   (1,1)=7: right 8>=7, up 2, left 6, down 5     -> bits 1000 -> 1 one, uniform
#   (1,2)=8: right 9>=8, up 3, left 7, down 5     -> bits 1000 -> 1
#   (1,3)=9: right 0, up 4, left 8, down 5        -> bits 0000 -> 0
#   (2,1)=5: right 5, up 7, left 5, down 9 (>=)   -> bits 1111 -> 4
#   (2,2)=5: right 5, up 8, left 5, down 1 (<)    -> bits 1110 -> 3
#   (2,3)=5: right 5, up 9, left 5, down 9        -> bits 1111 -> 4
HAND_IMAGE = np.array(
    [
        [1, 2, 3, 4, 5],
        [6, 7, 8, 9, 0],
        [5, 5, 5, 5, 5],
        [1, 9, 1, 9, 1],
    ],
    dtype=np.uint8,
)
HAND_UNIFORM = np.array([[1, 1, 0], [4, 3, 4]])
# nri_uniform, P = 4: 0 ones -> 0; all ones -> P(P-1)+1 = 13; otherwise
# 1 + (n-1) P + ((P - s) mod P) with s the start of the run of ones:
#   bits 1000: n=1, s=0 -> 1;  bits 1110 (p0..p2 set): n=3, s=0 -> 1 + 8 + 0 = 9
HAND_NRI = np.array([[1, 1, 0], [13, 9, 13]])


def test_hand_computed_code_map():
    np.testing.assert_array_equal(lbp_code_map(HAND_IMAGE, 4, 1, "uniform"), HAND_UNIFORM)
    np.testing.assert_array_equal(lbp_code_map(HAND_IMAGE, 4, 1, "nri_uniform"), HAND_NRI)
    # scikit-image agrees on this image (no interpolation involved)
    for method, expected in (("uniform", HAND_UNIFORM), ("nri_uniform", HAND_NRI)):
        np.testing.assert_array_equal(local_binary_pattern(HAND_IMAGE, 4, 1, method)[1:-1, 1:-1], expected)


def test_sampling_points_order():
    dy, dx = _sampling_points(4, 1)
    # right, up, left, down (rows point down)
    np.testing.assert_array_equal(np.c_[dy, dx], [[0, 1], [-1, 0], [0, -1], [1, 0]])


def _exact_codes(a, b, points, radius, method):
    """Codes of a plane I = a x + b y: the interpolated neighbour is exactly I_c + a dx + b dy."""
    dy, dx = _sampling_points(points, radius)
    bits = [a * Fraction(repr(float(x))) + b * Fraction(repr(float(y))) >= 0 for y, x in zip(dy, dx)]
    ones = sum(bits)
    changes = sum(bits[p] != bits[p - 1] for p in range(points))
    if method == "uniform":
        return ones if changes <= 2 else points + 1
    if changes > 2:
        return points * (points - 1) + 2
    if ones == 0:
        return 0
    if ones == points:
        return points * (points - 1) + 1
    start = next(p for p in range(points) if bits[p] and not bits[p - 1])
    return 1 + (ones - 1) * points + (points - start) % points


@pytest.mark.parametrize("a, b", [(1, 0), (0, -1), (1, 1), (2, -2), (-3, 3), (1, 2), (-2, 1), (0, 0)])
@pytest.mark.parametrize("points, radius", [(8, 1), (16, 2), (24, 3), (8, 1.5)])
def test_ties_on_linear_gradients_are_exact(a, b, points, radius):
    # On a plane every diagonal or axis sample that lies on the same level line as
    # the centre is an exact tie (neighbour == centre), which must give bit 1.
    y, x = np.mgrid[0:15, 0:15]
    image = (100 + a * x + b * y).astype(np.uint8)
    for method in ("uniform", "nri_uniform"):
        codes = lbp_code_map(image, points, radius, method)
        assert np.all(codes == _exact_codes(a, b, points, radius, method)), (method, np.unique(codes))


def test_agrees_with_scikit_image_on_noise():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(60, 70), dtype=np.uint8)
    for points, radius in [(8, 1), (16, 2), (24, 3)]:
        m = math.ceil(radius)
        for method in ("uniform", "nri_uniform"):
            ours = lbp_code_map(image, points, radius, method)
            theirs = local_binary_pattern(image, points, radius, method)[m:-m, m:-m]
            # random noise has no exact ties off the axes: the codes are identical
            np.testing.assert_array_equal(ours, theirs)


def test_histograms_are_normalised_and_sized():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    for method in ("uniform", "nri_uniform"):
        est = LBPFeatures(points_radii=[(8, 1), (12, 2)], method=method, image_size=40).fit()
        row = est.transform(image)[0]
        sizes = [n_lbp_bins(8, method), n_lbp_bins(12, method)]
        assert row.size == sum(sizes) == est.n_features_out_
        assert sizes == ([10, 14] if method == "uniform" else [59, 135])
        np.testing.assert_allclose([row[: sizes[0]].sum(), row[sizes[0] :].sum()], 1.0)


def test_histogram_is_the_normalised_code_count():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
    est = LBPFeatures(points_radii=[(8, 1), (16, 2)], image_size=32).fit()
    row = est.transform(image)[0]
    grey = WorkingImage(image).grey
    # all radii share the interior at least max ceil(R) = 2 pixels from the border
    codes1 = lbp_code_map(grey, 8, 1)[1:-1, 1:-1]
    codes2 = lbp_code_map(grey, 16, 2)
    assert codes1.shape == codes2.shape == (28, 44)
    np.testing.assert_allclose(row[:10], np.bincount(codes1.ravel(), minlength=10) / codes1.size)
    np.testing.assert_allclose(row[10:], np.bincount(codes2.ravel(), minlength=18) / codes2.size)


def test_rgb_channels_of_a_grey_image_repeat_the_grey_features():
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, size=(32, 32), dtype=np.uint8)
    image = np.dstack([grey] * 3)
    g = LBPFeatures(points_radii=[(8, 1)], image_size=32).fit().transform(image)[0]
    rgb = LBPFeatures(points_radii=[(8, 1)], channels="rgb", image_size=32).fit()
    np.testing.assert_array_equal(rgb.transform(image)[0], np.tile(g, 3))
    assert rgb.get_feature_names_out()[[0, 10, 20]].tolist() == ["r_p8_r1_0", "g_p8_r1_0", "b_p8_r1_0"]


def test_flat_image_is_all_ones():
    est = LBPFeatures(points_radii=[(8, 1), (16, 2)], image_size=16).fit()
    row = est.transform(np.full((16, 16, 3), 77, np.uint8))[0]
    assert row[8] == 1.0 and row[10 + 16] == 1.0  # every pixel has all P bits set


@pytest.mark.parametrize(
    "params",
    [{"points_radii": [(8, 20)], "image_size": 32}, {"method": "ror"}, {"points_radii": []}, {"points_radii": [(2, 1)]}],
)
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        LBPFeatures(**params).fit()


def test_code_map_rejects_small_images():
    with pytest.raises(ValueError, match="too small"):
        lbp_code_map(np.zeros((4, 4), np.uint8), 8, 2)
