"""GLCMFeatures: hand-computed 4x4 co-occurrence matrices and properties, scikit-image agreement."""

import math

import numpy as np
import pytest
from skimage.feature import graycomatrix, graycoprops

from dermfeat.features import GLCM_PROPERTIES, GLCMFeatures, glcm_matrices, glcm_properties
from dermfeat.features._glcm import glcm_offsets, quantise
from dermfeat.features._handcrafted import WorkingImage
from dermfeat.utils import InvalidParameterError

IMAGE = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 2, 2, 2], [2, 2, 3, 3]], dtype=np.uint8)

# Counted by hand: P[i, j] = number of pixels of level i whose neighbour at the
# offset has level j.  0 deg: right neighbour; 45 deg: (1, 1); 90 deg: below;
# 135 deg: (1, -1) (row, column offsets; rows point down).
HAND = {
    0: [[2, 2, 1, 0], [0, 2, 0, 0], [0, 0, 3, 1], [0, 0, 0, 1]],
    45: [[1, 1, 3, 0], [0, 1, 1, 0], [0, 0, 0, 2], [0, 0, 0, 0]],
    90: [[3, 0, 2, 0], [0, 2, 2, 0], [0, 0, 1, 2], [0, 0, 0, 0]],
    135: [[2, 0, 0, 0], [1, 1, 2, 0], [0, 0, 2, 1], [0, 0, 0, 0]],
}

# Properties of the symmetric, normalised 0-degree matrix S / 24 with
# S = [[4, 2, 1, 0], [2, 4, 0, 0], [1, 0, 6, 1], [0, 0, 1, 2]]:
#   contrast      = (4*1 + 2*4 + 2*1) / 24 = 14/24
#   dissimilarity = (4*1 + 2*2 + 2*1) / 24 = 10/24
#   homogeneity   = (16 + 4/2 + 2/5 + 2/2) / 24 = 19.4/24
#   ASM           = (16+4+1+4+16+1+36+1+1+4) / 576 = 84/576
#   marginals 7, 6, 8, 3 (/24): mu = 31/24, var = 65/24 - mu^2 = 599/576,
#   E[ij] = 58/24, cov = 58/24 - mu^2 = 431/576, correlation = 431/599
#   entropy = -(2 (4/24) ln(4/24) + 3 (2/24) ln(2/24) + 4 (1/24) ln(1/24) + (6/24) ln(6/24))
HAND_PROPS_0 = {
    "contrast": 14 / 24,
    "dissimilarity": 10 / 24,
    "homogeneity": 19.4 / 24,
    "ASM": 84 / 576,
    "energy": math.sqrt(84 / 576),
    "correlation": 431 / 599,
    "entropy": -sum(n * (c / 24) * math.log(c / 24) for n, c in [(2, 4), (3, 2), (4, 1), (1, 6)]),
}


def test_offsets_follow_scikit_image():
    assert glcm_offsets([1], [0, 45, 90, 135]) == [(0, 1), (1, 1), (1, 0), (1, -1)]
    assert glcm_offsets([2, 3, 5], [45]) == [(1, 1), (2, 2), (4, 4)]


def test_hand_computed_matrices():
    P = glcm_matrices(IMAGE, [1], [0, 45, 90, 135], levels=4, symmetric=False, normed=False)
    for a, angle in enumerate([0, 45, 90, 135]):
        np.testing.assert_array_equal(P[0, a], HAND[angle], err_msg=f"angle {angle}")
    sym = glcm_matrices(IMAGE, [1], [0], levels=4)[0, 0]
    np.testing.assert_allclose(sym * 24, [[4, 2, 1, 0], [2, 4, 0, 0], [1, 0, 6, 1], [0, 0, 1, 2]])


def test_hand_computed_properties():
    props = glcm_properties(glcm_matrices(IMAGE, [1], [0], levels=4))
    for name, expected in HAND_PROPS_0.items():
        assert props[name].shape == (1, 1)
        assert props[name][0, 0] == pytest.approx(expected, rel=1e-12), name


def test_family_on_the_hand_image():
    # grey 64 k + 10 quantises to level k with 4 levels; the working image is the
    # 4x4 image itself (no resize), so the features are the hand values
    rgb = np.repeat((IMAGE.astype(np.uint8) * 64 + 10)[:, :, None], 3, axis=2)
    assert np.array_equal(quantise(WorkingImage(rgb).grey, 4), IMAGE)
    est = GLCMFeatures(levels=4, distances=[1], angles=[0], aggregate="none", image_size=16).fit()
    row = dict(zip(est.get_feature_names_out(), est._features_from_view(WorkingImage(rgb))))
    for name, expected in HAND_PROPS_0.items():
        assert row[f"{name}_d1_a0"] == pytest.approx(expected, rel=1e-12)


def test_agrees_with_scikit_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 32, size=(50, 61), dtype=np.uint8)
    image[:10, :10] = 7  # some structure
    angles = [0, 45, 90, 135]
    ours = glcm_matrices(image, [1, 3, 5], angles, levels=32)
    theirs = graycomatrix(image, [1, 3, 5], np.radians(angles), levels=32, symmetric=True, normed=True)
    np.testing.assert_allclose(ours, theirs.transpose(2, 3, 0, 1), rtol=0, atol=1e-15)
    props = glcm_properties(ours)
    for name in GLCM_PROPERTIES:
        np.testing.assert_allclose(props[name], graycoprops(theirs, name), rtol=1e-12, atol=1e-15, err_msg=name)


def test_flat_image_and_empty_offsets_stay_finite():
    est = GLCMFeatures(image_size=16, distances=[1, 40]).fit()
    row = dict(zip(est.get_feature_names_out(), est.transform(np.full((16, 16, 3), 90, np.uint8))[0]))
    assert np.all(np.isfinite(list(row.values())))
    assert row["contrast_d1"] == 0 and row["ASM_d1"] == 1 and row["correlation_d1"] == 1 and row["entropy_d1"] == 0
    assert row["ASM_d40"] == 0  # no pixel pair at distance 40 in a 16-px image: an empty matrix


def test_quantisation():
    grey = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(quantise(grey, 32), np.arange(256) * 32 // 256)
    np.testing.assert_array_equal(quantise(grey, 10), np.arange(256) * 10 // 256)


def test_mean_aggregation_averages_the_angles():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    per_angle = GLCMFeatures(aggregate="none", image_size=40).fit().transform(image)[0]
    mean = GLCMFeatures(image_size=40).fit().transform(image)[0]
    np.testing.assert_allclose(mean, per_angle.reshape(-1, 4).mean(axis=1))


@pytest.mark.parametrize("params", [{"levels": 1}, {"distances": [0]}, {"aggregate": "max"}, {"angles": []}])
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        GLCMFeatures(**params).fit()
