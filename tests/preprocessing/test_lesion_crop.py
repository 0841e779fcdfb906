"""LesionCrop: the redness ROI on constructed and synthetic photographs, and its fallbacks."""

import numpy as np
import pytest

from dermfeat.preprocessing import LesionCrop
from dermfeat.utils import InvalidParameterError

SKIN, RED = (210, 170, 150), (200, 90, 90)


def plaque_image(shape=(200, 300), box=(60, 150, 120, 250)):
    image = np.empty((*shape, 3), np.uint8)
    image[:] = SKIN
    top, left, bottom, right = box
    image[top:bottom, left:right] = RED
    return image


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.5])
def test_box_around_a_plaque(margin):
    top, left, bottom, right = LesionCrop(margin=margin).fit().get_boxes(plaque_image())[0]
    dy, dx = margin * 60, margin * 100
    assert abs(top - (60 - dy)) <= 2 and abs(bottom - (120 + dy)) <= 2
    assert abs(left - (150 - dx)) <= 2 and abs(right - (250 + dx)) <= 2


def test_full_resolution_crop():
    image = plaque_image(shape=(1000, 1500), box=(300, 750, 600, 1250))
    crop = LesionCrop(margin=0).fit().transform(image)[0]
    assert abs(crop.shape[0] - 300) <= 8 and abs(crop.shape[1] - 500) <= 8
    assert (crop.reshape(-1, 3) == RED).all(axis=1).mean() > 0.95


def test_two_plaques_and_a_speck():
    image = plaque_image(box=(20, 20, 60, 70))
    image[140:190, 200:280] = RED  # a second plaque
    image[100:102, 150:152] = RED  # a speck removed by the opening
    top, left, bottom, right = LesionCrop(margin=0).fit().get_boxes(image)[0]
    assert top <= 22 and left <= 22 and bottom >= 188 and right >= 278
    assert LesionCrop(margin=0, max_components=1).fit().get_boxes(image)[0][0] >= 138  # only the larger, lower plaque


@pytest.mark.parametrize(
    "image",
    [
        np.full((50, 80, 3), 180, np.uint8),  # grey: no redness contrast
        np.full((40, 40, 3), SKIN, np.uint8),  # plain skin
        np.zeros((1, 1, 3), np.uint8),  # a single pixel
    ],
)
def test_falls_back_to_the_whole_image(image):
    crop = LesionCrop().fit()
    assert crop.get_boxes(image) == [(0, 0, *image.shape[:2])]
    np.testing.assert_array_equal(crop.transform(image)[0], image)


def test_synthetic_lesions_are_inside_the_crop(lesion_data):
    crop = LesionCrop().fit()
    hits = []
    for image, mask in zip(lesion_data.images[:20], lesion_data.lesion_masks[:20]):
        top, left, bottom, right = crop.get_boxes(image)[0]
        inside = mask[top:bottom, left:right].sum() / max(1, mask.sum())
        hits.append(inside)
    assert np.median(hits) > 0.8


@pytest.mark.parametrize("params", [{"margin": -1}, {"max_components": 0}, {"working_size": 8}])
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        LesionCrop(**params).fit()
