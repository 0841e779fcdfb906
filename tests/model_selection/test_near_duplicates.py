import cv2
import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from dermfeat import InvalidImageError, SkippedImagesWarning
from dermfeat.datasets import load_image_folder
from dermfeat.io import read_image
from dermfeat.model_selection import near_duplicate_groups


def _reencode(image, quality):
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope="module")
def dermnet(dermnet_dir):
    return load_image_folder(dermnet_dir, validate=False)


def test_byte_identical_files_share_a_group(dermnet):
    groups, details = near_duplicate_groups(dermnet.filenames, return_details=True, n_jobs=2)
    for digest in np.unique(dermnet.sha256):
        assert len(set(groups[dermnet.sha256 == digest])) == 1
    kinds = {p[2] for p in details.pairs}
    assert kinds == {"identical", "near", "crop"}
    # identical content alone would give 530 groups; near-duplicates merge more
    assert details.n_groups < len(np.unique(dermnet.sha256))
    # the groups work with grouped CV
    folds = StratifiedGroupKFold(5).split(dermnet.filenames, dermnet.target, groups)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


def test_recrops_and_reencodes_of_real_photos_are_found(dermnet):
    rng = np.random.default_rng(0)
    picks = rng.choice(len(dermnet.filenames), 6, replace=False)
    images, owners = [], []
    for k, i in enumerate(picks):
        photo = read_image(dermnet.filenames[i])
        h, w = photo.shape[:2]
        images.append(photo)
        owners.append(k)
        images.append(_reencode(photo, 60))  # re-encode
        owners.append(k)
        y, x = int(h * 0.05), int(w * 0.12)
        images.append(np.ascontiguousarray(photo[y : y + int(h * 0.85), x : x + int(w * 0.85)]))  # off-centre crop
        owners.append(k)
    groups = near_duplicate_groups(images)
    owners = np.array(owners)
    for k in range(6):
        assert len(set(groups[owners == k])) == 1, f"copies of photo {k} were split"
    # and copies of different photos were not merged
    assert len(np.unique(groups)) == 6


def test_unrelated_synthetic_images_stay_apart(lesion_data):
    groups = near_duplicate_groups(lesion_data.images[:12], match_crops=False)
    assert len(np.unique(groups)) >= 10


def test_bad_images(lesion_data):
    images = [lesion_data.images[0], b"junk"]
    with pytest.raises(InvalidImageError, match="<bytes #1>"):
        near_duplicate_groups(images)
    with pytest.warns(SkippedImagesWarning, match="<bytes #1>"):
        groups = near_duplicate_groups(images, on_error="singleton")
    assert list(groups) == [0, 1]


def test_labels_numbered_by_first_appearance(lesion_data):
    a, b = lesion_data.images[0], lesion_data.images[5]
    assert list(near_duplicate_groups([b, a, b, a])) == [0, 1, 0, 1]
