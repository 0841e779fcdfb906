import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dermfeat.explain import occlusion_sensitivity, overlay_heatmap
from tests._helpers import MeanColour


@pytest.fixture(scope="module")
def region_model():
    """Class 1 iff a red lesion sits in the top-left quadrant; class 0 has it nowhere."""
    rng = np.random.default_rng(0)
    images = rng.integers(120, 140, size=(60, 96, 96, 3), dtype=np.uint8)
    y = np.arange(60) % 2
    for i in np.flatnonzero(y):
        cy, cx = rng.integers(12, 36, 2)
        images[i, cy - 8 : cy + 8, cx - 8 : cx + 8] = (220, 60, 60)
    model = make_pipeline(MeanColour(), LogisticRegression(C=100, max_iter=5000)).fit(images, y)
    return model, images, y


def test_peak_inside_the_deciding_region(region_model):
    model, images, y = region_model
    image = images[np.flatnonzero(y)[0]].copy()
    lesion = np.all(image == (220, 60, 60), axis=-1)
    result = occlusion_sensitivity(model, image, working_size=None, patch_size=12, stride=4)
    assert result.target == 1 and result.base_probability > 0.5
    assert lesion[result.peak], f"peak {result.peak} outside the lesion"
    assert result.heatmap.shape == image.shape[:2]
    assert result.heatmap[lesion].mean() > 5 * abs(result.heatmap[~lesion].mean())


def test_working_size_and_overlay(region_model):
    model, images, y = region_model
    big = np.kron(images[1], np.ones((4, 4, 1), np.uint8))  # 384 px
    result = occlusion_sensitivity(model, big, working_size=96)
    assert result.heatmap.shape == big.shape[:2]
    overlay = result.overlay()
    assert overlay.shape == big.shape and overlay.dtype == np.uint8
    assert overlay_heatmap(big, np.zeros((10, 10))).tolist() == big.tolist()


def test_errors(region_model):
    model, images, _ = region_model
    with pytest.raises(ValueError, match="target"):
        occlusion_sensitivity(model, images[0], target=7)
    with pytest.raises(ValueError, match="fill"):
        occlusion_sensitivity(model, images[0], fill="zebra")
    with pytest.raises(TypeError, match="fitted classifier"):
        occlusion_sensitivity(MeanColour(), images[0])


def test_batches_in_parallel_threads_give_the_same_map(region_model):
    model, images, y = region_model
    image = images[np.flatnonzero(y)[0]]
    one = occlusion_sensitivity(model, image, working_size=None, patch_size=12, stride=6)
    for n_jobs, batch_size in ((2, 32), (3, 5), (8, 1000)):
        other = occlusion_sensitivity(model, image, working_size=None, patch_size=12, stride=6, n_jobs=n_jobs,
                                      batch_size=batch_size)
        assert np.array_equal(one.heatmap, other.heatmap) and other.n_evaluations == one.n_evaluations


def test_colour_scale_under_the_overlay(region_model):
    from dermfeat.explain import colour_bar

    model, images, y = region_model
    result = occlusion_sensitivity(model, images[1], working_size=None)
    plain, scaled = result.overlay(), result.overlay(colorbar=True)
    assert scaled.shape[0] > plain.shape[0] and np.array_equal(scaled[: plain.shape[0]], plain)
    bar = colour_bar(400, 0.25)
    assert bar.shape[1] == 400
    row = bar[6, 10:390]  # the ramp runs from the coldest colour to the hottest
    assert row[0, 2] > row[0, 0] and row[-1, 0] > row[-1, 2]
