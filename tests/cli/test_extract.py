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


# ------------------------------------------- every file is extracted or listed
def _encoded(fmt, seed):
    import io

    from PIL import Image

    image = np.random.default_rng(seed).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def _every_file(root):
    import os

    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


def _errors(path):
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return {r["file"]: r["reason"] for r in csv.DictReader(fh)}


def test_unlabelled_takes_every_file_unlisted_formats_and_dot_files(tmp_path, capsys):
    root = tmp_path / "archive"
    (root / "2024" / ".cache").mkdir(parents=True)
    formats = {"a.avif": "AVIF", "b.ico": "ICO", "c.jp2": "JPEG2000", "d.ppm": "PPM", "e.tga": "TGA",
               "f.pcx": "PCX", "no_extension": "PNG", ".hidden.jpg": "JPEG", ".cache/thumb.png": "PNG"}
    for i, (name, fmt) in enumerate(formats.items()):
        (root / "2024" / name).write_bytes(_encoded(fmt, i))
    (root / "2024" / "._a.avif").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (root / "2024" / "notes.txt").write_text("not a photo")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    out = tmp_path / "f.parquet"
    assert main(["extract", str(root), "-o", str(out), "--features", "quality", "--unlabelled", "--no-progress"]) == 0
    data = read_features(out)
    errors = _errors(tmp_path / "f.errors.csv")
    assert set(data.filenames) | set(errors) == _every_file(root)
    assert {str(root / "2024" / n) for n in formats} == set(data.filenames)
    assert set(errors) == {str(root / "2024" / "._a.avif"), str(root / "2024" / "notes.txt"), str(root / "broken.jpg")}
    assert "hidden file" in errors[str(root / "2024" / "._a.avif")]
    assert "9 of 12 images" in capsys.readouterr().out


def test_labelled_folder_reports_top_level_files_and_skips_its_own_output(tmp_path, capsys):
    root = tmp_path / "photos"
    make_lesion_images(8, image_size=48, directory=root, random_state=0)
    (root / "manifest.csv").unlink()
    (root / "README.md").write_text("photos of 2024")
    (root / "eczema" / "scan").write_bytes(_encoded("PNG", 0))  # no extension: found by its content
    out = root / "features.parquet"  # written inside DATA
    args = ["extract", str(root), "-o", str(out), "--features", "quality", "--batch-size", "4", "--no-progress"]
    assert main(args) == 0
    errors = _errors(root / "features.errors.csv")
    assert list(errors) == [str(root / "README.md")]
    data = read_features(out)
    assert str(root / "eczema" / "scan") in set(data.filenames) and len(data.filenames) == 9
    assert set(data.filenames) | set(errors) | {str(out), str(root / "features.errors.csv")} == _every_file(root)
    capsys.readouterr()
    assert main(args) == 0  # the output is not taken for a new stray file: nothing to redo
    assert "already done" in capsys.readouterr().out and list(_errors(root / "features.errors.csv")) == list(errors)


@pytest.mark.parametrize("suffix", [".parquet", ".npy"])
def test_non_utf8_names_survive_extract_and_its_reruns(tmp_path, capsys, suffix):
    import os

    root = os.fsencode(tmp_path / "photos")
    os.makedirs(root + b"/ecz\xe9ma")
    os.makedirs(root + b"/atopic")
    for i in range(3):
        for label in (b"ecz\xe9ma", b"atopic"):
            with open(root + b"/" + label + b"/ph\xf6to-\xff%d.png" % i, "wb") as fh:
                fh.write(_encoded("PNG", i + 10 * len(label)))
    with open(root + b"/atopic/bad-\xe9.jpg", "wb") as fh:
        fh.write(b"\xff\xd8\xff not a photo")
    out = tmp_path / f"f{suffix}"
    args = ["extract", os.fsdecode(root), "-o", str(out), "--features", "quality", "--no-progress"]
    assert main(args) == 0
    assert "6 of 7 images" in capsys.readouterr().out
    assert main(args) == 0  # the rerun reads the written names back
    assert "already done" in capsys.readouterr().out
    data = read_features(out)
    assert sorted(os.fsencode(f).rsplit(b"/", 1)[1] for f in data.filenames) == sorted(
        b"ph\xf6to-\xff%d.png" % i for i in range(3) for _ in range(2))
    assert set(data.labels) == {"atopic", os.fsdecode(b"ecz\xe9ma")}
    assert root + b"/atopic/bad-\xe9.jpg" in (tmp_path / "f.errors.csv").read_bytes()
