from pathlib import Path

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
    assert len(data.filenames) == 596
    # every other file under the root is reported: here only the source notes beside the manifest
    assert [(Path(p).name, "not an image type" in r) for p, r in data.skipped] == [("SOURCE.md", True)]
    assert (np.bincount(data.target) == [128, 468]).all()
    assert len(np.unique(data.subtype)) == 15


# ------------------------------------------------------------- manifest checks
def _write_manifest(root, lines):
    (root / "manifest.csv").write_text("path,label,group\n" + "".join(line + "\n" for line in lines))


@pytest.fixture()
def manifest_folder(tmp_path):
    """Four images a-d.png (listed by the tests' manifests) and one the manifests never list."""
    from PIL import Image

    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c", "d", "unlisted"):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / "img" / f"{name}.png")
    return root


def _reasons(data):
    return {Path(p).name: r for p, r in data.skipped}


def test_manifest_labels_are_stripped_and_checked(manifest_folder):
    _write_manifest(manifest_folder, ["img/a.png, eczema ,1", "img/b.png,eczema,2", "img/c.png,   ,3", "img/d.png"])
    data = load_image_folder(manifest_folder)
    assert list(data.target_names) == ["eczema"] and list(data.labels) == ["eczema", "eczema"]
    assert [Path(f).name for f in data.filenames] == ["a.png", "b.png"] and list(data.groups) == [1, 2]
    reasons = _reasons(data)
    assert reasons["c.png"] == "manifest row 4 has an empty label"
    assert reasons["d.png"] == "manifest row 5 has no label (the row has too few columns)"
    assert reasons["unlisted.png"] == "image not listed in the manifest"
    assert "manifest.csv" not in reasons  # the manifest itself is not a stray file


def test_manifest_row_without_a_path(manifest_folder):
    _write_manifest(manifest_folder, ["img/a.png,eczema,1", ",eczema,2"])
    data = load_image_folder(manifest_folder)
    assert len(data.filenames) == 1
    assert (f"{manifest_folder / 'manifest.csv'}:3", "manifest row 3 has no path") in data.skipped


def test_manifest_duplicates(manifest_folder):
    _write_manifest(manifest_folder, ["img/a.png,eczema,1", "img/b.png,atopic,2", "./img/a.png,eczema ,1"])
    data = load_image_folder(manifest_folder)
    assert [Path(f).name for f in data.filenames] == ["a.png", "b.png"]
    assert "manifest row 4 repeats row 2 (same path and label); taken once" in _reasons(data)["a.png"]
    _write_manifest(manifest_folder, ["img/a.png,eczema,1", "img/b.png,atopic,2", "img/x/../a.png,atopic,1"])
    with pytest.raises(ValueError, match=r"a\.png: listed twice in .*'eczema' \(row 2\) and 'atopic' \(row 4\)"):
        load_image_folder(manifest_folder)


def test_manifest_paths_outside_the_root_are_refused(manifest_folder, tmp_path):
    from PIL import Image

    outside = tmp_path / "outside.png"
    Image.new("RGB", (20, 20), (200, 100, 90)).save(outside)
    (manifest_folder / "img" / "sneaky.png").symlink_to(outside)
    _write_manifest(
        manifest_folder,
        ["img/a.png,eczema,1", "../outside.png,eczema,2", f"{outside},eczema,3", "img/sneaky.png,eczema,4"],
    )
    data = load_image_folder(manifest_folder)
    assert [Path(f).name for f in data.filenames] == ["a.png"]
    reasons = [r for p, r in data.skipped if Path(p).name in ("outside.png", "sneaky.png")]
    assert len(reasons) == 3 and all("leads outside the dataset folder" in r for r in reasons)
    assert all("allow_outside_root=True" in r for r in reasons)
    opted_in = load_image_folder(manifest_folder, allow_outside_root=True)
    # "../outside.png" and its absolute path are one path: taken once
    assert [Path(f).name for f in opted_in.filenames] == ["a.png", "outside.png", "sneaky.png"]
    assert "repeats row 3" in _reasons(opted_in)["outside.png"]


def test_manifest_must_be_utf8(manifest_folder):
    (manifest_folder / "manifest.csv").write_bytes(b"path,label\nimg/a.png,ecz\xe9ma\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_image_folder(manifest_folder)


def test_top_level_and_dot_files_in_class_folders_are_reported(folder):
    (folder / "README.md").write_text("photos of 2024")
    (folder / ".DS_Store").write_bytes(bytes(32))
    data = load_image_folder(folder, on_error="skip")
    reasons = _reasons(data)
    assert {"README.md", ".DS_Store", "broken.jpg", "notes.txt"} <= set(reasons)
    assert len(data.filenames) == 8
