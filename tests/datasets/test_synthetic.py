import numpy as np
import pytest

from dermfeat.datasets import load_image_folder, make_lesion_images
from dermfeat.utils import InvalidParameterError


def test_deterministic_and_shaped():
    a = make_lesion_images(20, image_size=64, random_state=3)
    b = make_lesion_images(20, image_size=64, random_state=3)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (20, 64, 64, 3)
    assert set(a.labels) == {"atopic_dermatitis", "eczema"}
    assert a.signs.shape == (20, 4) and a.signs.min() >= 0 and a.signs.max() <= 3
    assert set(np.unique(a.severity)) <= {0, 1, 2, 3}
    assert not np.array_equal(a.images, make_lesion_images(20, image_size=64, random_state=4).images)


def test_groups_share_class_and_skin_tone():
    data = make_lesion_images(60, random_state=0)
    for g in np.unique(data.groups):
        members = data.groups == g
        assert len(set(data.labels[members])) == 1
        assert np.ptp(data.lightness[members]) == 0
    assert len(np.unique(data.groups)) == 20


def test_severity_shows_in_redness():
    """Erythema makes lesions redder: CIELAB a* inside the mask grows with the sign."""
    import cv2

    data = make_lesion_images(120, image_size=64, quality_variation=0.0, random_state=0)
    redness = []
    for image, mask in zip(data.images, data.lesion_masks):
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab).astype(float)
        redness.append(lab[..., 1][mask].mean() - lab[..., 1][~mask].mean() if mask.any() and (~mask).any() else 0)
    redness = np.array(redness)
    means = [redness[data.signs[:, 0] == level].mean() for level in range(4)]
    assert means == sorted(means)


def test_parameters_checked():
    with pytest.raises(InvalidParameterError, match="n_samples"):
        make_lesion_images(0)


def test_written_folder_roundtrip(tmp_path):
    data = make_lesion_images(10, image_size=40, directory=tmp_path, random_state=0)
    loaded = load_image_folder(tmp_path)
    assert len(loaded.filenames) == 10
    np.testing.assert_array_equal(np.sort(loaded.filenames), np.sort(data.filenames))
    assert set(loaded) >= {"groups", "severity", "erythema", "lichenification"}
