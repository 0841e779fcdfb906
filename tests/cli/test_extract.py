"""``dermfeat extract``: Parquet and .npy outputs, resuming, the error file."""

import csv

import numpy as np
import pytest

from dermfeat.cli import main
from dermfeat.datasets import make_lesion_images
from dermfeat.extraction import read_features
from dermfeat.features import QualityFeatures

pytest.importorskip("pyarrow")


@pytest.fixture()
def folder(tmp_path):
    """Class sub-folders (no manifest) with one unreadable JPEG and one stray text file."""
    root = tmp_path / "photos"
    make_lesion_images(20, image_size=48, directory=root, random_state=0)
    (root / "manifest.csv").unlink()
    (root / "eczema" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "eczema" / "notes.txt").write_text("not a photo")
    return root


def test_extract_parquet_resume_and_errors(folder, tmp_path, capsys):
    out = tmp_path / "features.parquet"
    args = ["extract", str(folder), "-o", str(out), "--features", "quality", "--batch-size", "8"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "20 of 22 images x 10 features (quality)" in captured.out and "extracted 21, resumed 0" in captured.out
    assert "2 unreadable or skipped files" in captured.err and "broken.jpg" in captured.err
    with open(tmp_path / "features.errors.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["file"].rsplit("/", 1)[-1] for r in rows) == ["broken.jpg", "notes.txt"]
    data = read_features(out)
    assert set(data.labels) == {"atopic_dermatitis", "eczema"} and data.groups is None
    np.testing.assert_array_equal(data.X, QualityFeatures().fit().transform(list(data.filenames)))
    # a rerun has nothing to do
    assert main(args) == 0
    assert "already done" in capsys.readouterr().out
    assert main([*args, "--no-resume", "--no-progress"]) == 0
    assert "extracted 21, resumed 0" in capsys.readouterr().out


def test_extract_npy_with_manifest_groups(tmp_path, capsys):
    root = tmp_path / "photos"
    make_lesion_images(12, image_size=48, directory=root, random_state=1)
    out = tmp_path / "f.npy"
    assert main(["extract", str(root), "-o", str(out), "--features", "color+quality", "--n-jobs", "1"]) == 0
    assert "unreadable files: none" in capsys.readouterr().out
    data = read_features(out)
    assert data.X.shape == (12, 70) and np.issubdtype(data.groups.dtype, np.integer)
    assert (tmp_path / "f.csv").read_text().startswith("file,label,group\n")
    assert main(["extract", str(root), "-o", str(out), "--group-column", "nope"]) == 1
    assert "no column 'nope'" in capsys.readouterr().err


def test_extract_unlabelled_folder_and_user_errors(tmp_path, capsys):
    root = tmp_path / "archive" / "2024"
    data = make_lesion_images(5, image_size=48, random_state=2)
    root.mkdir(parents=True)
    import cv2

    for i, image in enumerate(data.images):
        cv2.imwrite(str(root / f"img{i}.png"), image[..., ::-1])
    out = tmp_path / "f.parquet"
    # sub-folders are classes by default ...
    assert main(["extract", str(tmp_path / "archive"), "-o", str(out), "--features", "quality"]) == 0
    assert set(read_features(out).labels) == {"2024"}
    # ... or not
    assert main(["extract", str(tmp_path / "archive"), "-o", str(out), "--features", "quality", "--unlabelled"]) == 0
    result = read_features(out)
    assert len(result.filenames) == 5 and result.labels is None
    # a flat folder has no classes: its images are taken unlabelled
    assert main(["extract", str(root), "-o", str(out), "--features", "quality"]) == 0
    assert read_features(out).labels is None
    assert main(["extract", str(tmp_path / "missing"), "-o", str(out)]) == 1
    assert main(["extract", str(tmp_path / "archive"), "-o", str(out), "--features", "nonsense"]) == 1
    assert "unknown feature set" in capsys.readouterr().err
