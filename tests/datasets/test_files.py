"""find_image_files: every file under a folder is an image or is listed with a reason."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from dermfeat.datasets import find_image_files, load_image_folder
from dermfeat.io import SUPPORTED_EXTENSIONS as IMAGE_EXTENSIONS
from dermfeat.datasets._files import sniff_image

#: Pillow format -> file name without a listed extension (the content decides).
UNLISTED = {
    "AVIF": "photo.avif_export",
    "ICO": "favicon.bin",
    "JPEG2000": "scan.raw",
    "PPM": "frame.pnmx",
    "TGA": "render.targa",
    "PCX": "old.pcc",
    "PNG": "no_extension",
}


def encoded(fmt, size=40, seed=0):
    image = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def all_files(root):
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


def accounted(files, skipped):
    return set(files) | {p for p, _ in skipped}


@pytest.fixture()
def mixed(tmp_path):
    """Class folders with unlisted formats, dot-files, stray files at the top and in a hidden folder."""
    root = tmp_path / "data"
    (root / "eczema").mkdir(parents=True)
    (root / "atopic").mkdir()
    (root / ".thumbs").mkdir()
    for i, (fmt, name) in enumerate(UNLISTED.items()):
        (root / "eczema" / name).write_bytes(encoded(fmt, seed=i))
    (root / "atopic" / "a.jpg").write_bytes(encoded("JPEG", seed=10))
    (root / "atopic" / ".hidden.png").write_bytes(encoded("PNG", seed=11))  # an image: loaded
    (root / "atopic" / "._a.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")
    (root / "atopic" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(40))
    (root / "atopic" / "notes.txt").write_text("seen on Monday")
    (root / "README.md").write_text("# photos")
    (root / "top.png").write_bytes(encoded("PNG", seed=12))
    (root / ".thumbs" / "t.png").write_bytes(encoded("PNG", seed=13))
    return root


def test_every_file_is_found_or_reported(mixed):
    files, skipped = find_image_files(mixed)
    assert accounted(files, skipped) == all_files(mixed)
    assert not set(files) & {p for p, _ in skipped}
    names = {os.path.basename(p) for p in files}
    assert set(UNLISTED.values()) <= names and {"a.jpg", ".hidden.png", "top.png", "t.png"} <= names
    reasons = {os.path.basename(p): r for p, r in skipped}
    assert set(reasons) == {"._a.jpg", ".DS_Store", "notes.txt", "README.md"}
    assert "hidden file" in reasons["._a.jpg"] and "hidden file" in reasons[".DS_Store"]
    assert "'.txt' is not an image type" in reasons["notes.txt"]


def test_sniffing_can_be_turned_off(mixed):
    files, skipped = find_image_files(mixed, sniff=False)
    assert accounted(files, skipped) == all_files(mixed)
    reasons = {os.path.basename(p): r for p, r in skipped}
    assert reasons["no_extension"] == "extension '(none)' is not an image type"
    assert "favicon.bin" in reasons and "scan.raw" in reasons
    # without sniffing a dot-file goes by its extension too
    assert {".hidden.png", "._a.jpg"} <= {os.path.basename(p) for p in files}


def test_load_image_folder_loads_unlisted_formats_and_reports_the_rest(mixed):
    data = load_image_folder(mixed)  # on_error="raise": nothing unreadable is taken as an image
    by_name = dict(zip((os.path.basename(f) for f in data.filenames), data.labels))
    assert by_name == {**dict.fromkeys(UNLISTED.values(), "eczema"), "a.jpg": "atopic", ".hidden.png": "atopic"}
    assert list(data.target_names) == ["atopic", "eczema"]
    reasons = {os.path.basename(p): r for p, r in data.skipped}
    assert "not inside a class folder" in reasons["top.png"] and "not an image type" in reasons["README.md"]
    assert "hidden folder '.thumbs'" in reasons["t.png"]
    assert {"._a.jpg", ".DS_Store", "notes.txt"} <= set(reasons)
    assert accounted(data.filenames, data.skipped) == all_files(mixed)


def test_extension_list_is_the_one_list(mixed):
    from dermfeat.datasets import _folder

    assert _folder.SUPPORTED_EXTENSIONS is IMAGE_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in IMAGE_EXTENSIONS)


def test_named_pipes_and_devices_are_refused_without_reading(tmp_path):
    root = tmp_path / "data"
    (root / "eczema").mkdir(parents=True)
    (root / "eczema" / "a.png").write_bytes(encoded("PNG"))
    os.mkfifo(root / "eczema" / "pipe.jpg")  # opening it for reading would block forever
    os.symlink("/dev/zero", root / "eczema" / "zero.jpg")  # would read until memory runs out
    files, skipped = find_image_files(root, allow_outside_root=True)
    reasons = {os.path.basename(p): r for p, r in skipped}
    assert [os.path.basename(f) for f in files] == ["a.png"]
    assert "named pipe" in reasons["pipe.jpg"] and "character device" in reasons["zero.jpg"]
    data = load_image_folder(root, allow_outside_root=True)
    assert len(data.filenames) == 1 and len(data.skipped) == 2


def test_symbolic_links(tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.png").write_bytes(encoded("PNG", seed=1))
    (outside / "sub" / "b.png").write_bytes(encoded("PNG", seed=2))
    root = tmp_path / "data"
    (root / "eczema").mkdir(parents=True)
    (root / "eczema" / "a.png").write_bytes(encoded("PNG", seed=3))
    os.symlink(outside / "secret.png", root / "eczema" / "link.png")
    os.symlink(outside / "sub", root / "eczema" / "linked_dir")
    os.symlink(root / "eczema", root / "eczema" / "loop")
    os.symlink(root / "eczema" / "a.png", root / "eczema" / "inside.png")
    os.symlink(tmp_path / "gone.png", root / "eczema" / "broken.png")

    files, skipped = find_image_files(root)
    reasons = {os.path.basename(p): r for p, r in skipped}
    assert sorted(os.path.basename(f) for f in files) == ["a.png", "inside.png"]
    assert "outside the dataset folder" in reasons["link.png"] and "allow_outside_root" in reasons["link.png"]
    assert "outside the dataset folder" in reasons["linked_dir"]
    assert "inside the dataset folder, not followed" in reasons["loop"]
    assert reasons["broken.png"] == "broken symbolic link"

    files, skipped = find_image_files(root, allow_outside_root=True)
    assert sorted(os.path.basename(f) for f in files) == ["a.png", "b.png", "inside.png", "link.png"]
    assert {os.path.basename(p) for p, _ in skipped} == {"loop", "broken.png"}
    data = load_image_folder(root, allow_outside_root=True)
    assert len(data.filenames) == 4 and set(data.labels) == {"eczema"}


def test_unlistable_folder_is_reported(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "eczema" / "locked").mkdir(parents=True)
    (root / "eczema" / "a.png").write_bytes(encoded("PNG"))
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, skipped = find_image_files(root)
    assert len(files) == 1 and skipped == [(str(root / "eczema" / "locked"), "cannot list folder (Permission denied)")]


def test_non_utf8_file_names_are_kept_losslessly(tmp_path):
    root = tmp_path / "data"
    (root / "eczema").mkdir(parents=True)
    raw = os.fsencode(root / "eczema") + b"/caf\xe9.png"
    with open(raw, "wb") as fh:
        fh.write(encoded("PNG"))
    data = load_image_folder(root)
    assert [os.fsencode(f) for f in data.filenames] == [raw]


def test_sniff_image(tmp_path):
    for fmt in ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF", "ICO", "PPM", "TGA", "PCX", "JPEG2000"):
        (tmp_path / fmt).write_bytes(encoded(fmt))
        assert sniff_image(tmp_path / fmt), fmt
    (tmp_path / "eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n")
    (tmp_path / "pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "text").write_text("hello")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "qoi").write_bytes(encoded("QOI"))  # Pillow reads QOI, but the decoder refuses it
    for name in ("eps", "pdf", "text", "empty", "qoi"):
        assert not sniff_image(tmp_path / name), name


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        find_image_files(tmp_path / "nope")
