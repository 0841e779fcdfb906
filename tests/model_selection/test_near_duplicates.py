import warnings

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


# --------------------------------------------------- odd shapes and failures
from dermfeat.model_selection import _near_duplicates  # noqa: E402


def _noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)


@pytest.mark.parametrize("shape", [(1, 5000, 3), (5000, 1, 3), (1, 1, 3), (2, 3, 3), (3, 7000, 3), (40, 6000, 3)])
def test_odd_shapes_are_compared_by_their_hashes(lesion_data, shape):
    strip = _noise(shape, 1)
    images = [lesion_data.images[0], strip, lesion_data.images[5], strip.copy()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to report: these are valid images
        groups, details = near_duplicate_groups(images, return_details=True)
    assert groups[1] == groups[3] and len({groups[0], groups[1], groups[2]}) == 3
    assert details.errors == []


def test_strip_files_do_not_stop_the_search(lesion_data, tmp_path):
    files = []
    for i, shape in enumerate([(1, 5000), (5000, 1), (1, 1)]):
        path = tmp_path / f"strip{i}.png"
        cv2.imwrite(str(path), _noise((*shape, 3), i))
        files.append(str(path))
    groups = near_duplicate_groups([*files, lesion_data.images[0]], n_jobs=2)
    # degenerate images have near-constant hashes and may group together (the safe side); the photo does not
    assert len(groups) == 4 and groups[3] not in groups[:3]


def test_any_read_failure_is_an_invalid_image(lesion_data, monkeypatch):
    real = _near_duplicates.read_image

    def flaky(content, **kwargs):
        if kwargs.get("name") == "<array #1>":
            raise RuntimeError("decoder plugin crashed")
        return real(content, **kwargs)

    monkeypatch.setattr(_near_duplicates, "read_image", flaky)
    images = [lesion_data.images[0], lesion_data.images[1], lesion_data.images[2]]
    with pytest.raises(InvalidImageError, match=r"<array #1>: cannot be read \(RuntimeError: decoder plugin crashed\)"):
        near_duplicate_groups(images)
    with pytest.warns(SkippedImagesWarning, match="<array #1>"):
        groups, details = near_duplicate_groups(images, on_error="singleton", return_details=True)
    assert len(set(groups)) == 3 and [e[:2] for e in details.errors] == [(1, "<array #1>")]


def test_a_failing_signature_gives_the_image_its_own_group(lesion_data, monkeypatch):
    real = _near_duplicates._signature
    bad = lesion_data.images[3]

    def failing(image, match_crops):
        if image.shape == bad.shape and np.array_equal(image, bad):
            raise cv2.error("OpenCV(5.0.0) resize.cpp: error: (-215:Assertion failed) inv_scale_x > 0")
        return real(image, match_crops)

    monkeypatch.setattr(_near_duplicates, "_signature", failing)
    images = [lesion_data.images[0], bad, lesion_data.images[0].copy(), bad.copy(), _reencode(bad, 70)]
    with pytest.warns(SkippedImagesWarning, match=r"<array #1>: hashing or keypoints failed \(error: .*inv_scale_x"):
        groups, details = near_duplicate_groups(images, return_details=True)  # on_error="raise" too
    # a byte-identical copy still shares the group; the re-encode cannot be matched to it
    assert groups[0] == groups[2] and groups[1] == groups[3] and groups[4] not in (groups[0], groups[1])
    assert {e[1] for e in details.errors} == {"<array #1>", "<array #3>"}


def test_a_failing_geometric_check_is_reported_and_the_rest_goes_on(lesion_data, monkeypatch):
    def failing(a, b, min_spread):
        raise cv2.error("estimateAffinePartial2D failed")

    monkeypatch.setattr(_near_duplicates, "_geometric_inliers", failing)
    images = list(lesion_data.images[:4]) + [lesion_data.images[0].copy()]
    with pytest.warns(SkippedImagesWarning, match="crop check against <array #"):
        groups, details = near_duplicate_groups(images, return_details=True)
    assert groups[0] == groups[4] and details.errors


def test_describe_and_cv_go_on_with_a_strip_and_an_odd_file(tmp_path, capsys):
    from dermfeat.cli import main
    from dermfeat.datasets import describe_dataset, load_image_folder, make_lesion_images

    root = tmp_path / "photos"
    make_lesion_images(24, image_size=64, directory=root, random_state=3)
    (root / "manifest.csv").unlink()
    cv2.imwrite(str(root / "eczema" / "strip.png"), _noise((1, 5000, 3), 0))
    cv2.imwrite(str(root / "eczema" / "dot.png"), _noise((1, 1, 3), 1))
    summary = describe_dataset(load_image_folder(root))
    assert summary.n_images == 26 and summary.duplicate_errors == []
    assert main(["describe", str(root)]) == 0
    assert "near-duplicate groups:" in capsys.readouterr().out
    code = main(["cv", str(root), "--features", "color", "--folds", "2", "--repeats", "1", "--report", ""])
    assert code == 0 and "roc_auc" in capsys.readouterr().out
