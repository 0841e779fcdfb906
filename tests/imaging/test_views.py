"""Model input views: the resize-then-crop geometry, test-time views, the fused normalisation."""

import numpy as np
import pytest

from dermfeat.imaging import affine, crop_views, normalise, resize


@pytest.fixture()
def photo():
    return np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)


@pytest.mark.parametrize("crops, flip, n", [(1, False, 1), (1, True, 2), (5, False, 5), (5, True, 10)])
def test_view_counts_and_flips(photo, crops, flip, n):
    views = crop_views(photo, 40, 32, "linear", crops, flip)
    assert views.shape == (n, 32, 32, 3) and views.dtype == np.uint8
    if flip:
        np.testing.assert_array_equal(views[n // 2:], views[: n // 2, :, ::-1])


def test_the_centre_view_is_the_centre_of_the_resized_image(photo):
    whole = resize(photo, (60, 40), "linear")  # shorter side 60 -> 40
    centre = whole[4:36, 14:46]
    views = crop_views(photo, 40, 32, "linear", tta_crops=5)
    np.testing.assert_array_equal(views[0], centre)
    np.testing.assert_array_equal(views[1], whole[:32, :32])  # then the four corners
    np.testing.assert_array_equal(views[4], whole[-32:, -32:])


@pytest.mark.parametrize("layout, order", [("NCHW", "RGB"), ("NHWC", "BGR")])
def test_normalise_is_scale_mean_std(photo, layout, order):
    views = crop_views(photo, 40, 32, tta_flip=True)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    tensor = normalise(views, *affine(1 / 255, mean, std), order, layout)
    pixels = views[..., ::-1] if order == "BGR" else views
    expected = (pixels / 255 - np.array(mean)) / np.array(std)
    if layout == "NCHW":
        expected = expected.transpose(0, 3, 1, 2)
    assert tensor.dtype == np.float32 and tensor.shape == expected.shape
    np.testing.assert_allclose(tensor, expected, atol=1e-5)
