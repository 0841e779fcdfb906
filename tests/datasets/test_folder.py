import numpy as np
import pytest

from dermfeat import InvalidImageError
from dermfeat.datasets import describe_dataset, load_image_folder, make_lesion_images


@pytest.fixture()
def folder(tmp_path):
    make_lesion_images(8, image_size=32, directory=tmp_path, random_state=0)
    (tmp_path / "manifest.csv").unlink()
    (tmp_path / "eczema" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    (tmp_path / "eczema" / "notes.txt").write_text("hello")
    return tmp_path


def test_class_folders_raise_on_bad_file(folder):
    with pytest.raises(InvalidImageError, match="broken.jpg"):
        load_image_folder(folder)


def test_class_folders_skip_and_report(folder):
    data = load_image_folder(folder, on_error="skip")
    assert len(data.filenames) == 8
    reasons = dict((p.split("/")[-1], r) for p, r in data.skipped)
    assert "broken.jpg" in reasons and "notes.txt" in reasons
    assert "not an image type" in reasons["notes.txt"]
    assert list(data.target_names) == ["atopic_dermatitis", "eczema"]
    assert data.image_sizes.shape == (8, 2) and (data.image_sizes == 32).all()


def test_manifest_with_extra_columns(tmp_path):
    make_lesion_images(6, image_size=32, directory=tmp_path, random_state=0)
    data = load_image_folder(tmp_path / "manifest.csv", classes=["eczema", "atopic_dermatitis"])
    assert list(data.target_names) == ["eczema", "atopic_dermatitis"]
    assert data.severity.dtype.kind == "i" and len(data.groups) == 6
    assert (data.target_names[data.target] == data.labels).all()


def test_manifest_missing_file(tmp_path):
    make_lesion_images(4, image_size=32, directory=tmp_path, random_state=0)
    next((tmp_path / "eczema").glob("*.jpg")).unlink()
    with pytest.raises(InvalidImageError, match="file not found"):
        load_image_folder(tmp_path)
    assert len(load_image_folder(tmp_path, on_error="skip").filenames) == 3


def test_as_frame(tmp_path):
    pytest.importorskip("pandas")
    make_lesion_images(4, image_size=32, directory=tmp_path, random_state=0)
    frame = load_image_folder(tmp_path, as_frame=True).frame
    assert list(frame.columns[:2]) == ["image", "label"] and "severity" in frame


def test_describe(folder):
    data = load_image_folder(folder, on_error="skip")
    summary = describe_dataset(data, duplicates=True)
    assert sum(row["n"] for row in summary.per_class) == 8
    assert summary.n_groups <= 8 and len(summary.groups) == 8


def test_real_dermnet(dermnet_dir):
    data = load_image_folder(dermnet_dir)
    assert len(data.filenames) == 596 and not data.skipped
    assert (np.bincount(data.target) == [128, 468]).all()
    assert len(np.unique(data.subtype)) == 15
