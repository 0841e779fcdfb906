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


def test_the_whole_view_is_the_photo_squashed(photo):
    views = crop_views(photo, 40, 32, "linear", tta_flip=True, view="whole")
    np.testing.assert_array_equal(views[0], resize(photo, (32, 32), "linear"))
    np.testing.assert_array_equal(views[1], views[0, :, ::-1])


def test_the_padded_view_keeps_the_aspect_ratio_on_the_mean_colour(photo):
    (view,) = crop_views(photo, 40, 32, "linear", view="pad")  # 60 x 90 -> 21 x 32, rows 5..26
    fill = np.round(photo.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    np.testing.assert_array_equal(view[5:26], resize(photo, (32, 21), "linear"))
    assert (view[:5] == fill).all() and (view[26:] == fill).all()
    tall = np.ascontiguousarray(photo.transpose(1, 0, 2))  # 90 x 60: padded left and right
    (view,) = crop_views(tall, 40, 32, "linear", view="pad")
    np.testing.assert_array_equal(view[:, 5:26], resize(tall, (21, 32), "linear"))
    assert (view[:, :5] == fill).all()


@pytest.mark.parametrize("view", ["whole", "pad"])
def test_whole_views_cover_extreme_shapes_and_refuse_corner_crops(view):
    for shape in [(1, 500, 3), (700, 2, 3), (32, 32, 3), (5, 7, 3)]:
        image = np.full(shape, 200, np.uint8)
        views = crop_views(image, 40, 32, view=view)
        assert views.shape == (1, 32, 32, 3) and (views == 200).all()
    with pytest.raises(ValueError, match="tta_crops must be 1"):
        crop_views(np.zeros((40, 40, 3), np.uint8), 40, 32, tta_crops=5, view=view)
    with pytest.raises(ValueError, match="view must be"):
        crop_views(np.zeros((40, 40, 3), np.uint8), 40, 32, view="squash")


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
