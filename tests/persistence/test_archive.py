"""Model files are checked as files and archives before skops reads them."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dermfeat import InvalidModelError, ModelFileNotFoundError
from dermfeat.persistence import MAX_COMPRESSION_RATIO, MAX_MODEL_SIZE, load_model, save_model
from dermfeat.persistence import _archive
from dermfeat.persistence._archive import check_npy, open_archive, sniff


@pytest.fixture()
def model_file(tmp_path):
    clf = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    return save_model(clf, tmp_path / "m.skops")


def _refused(path, kind, message, **kwargs):
    with pytest.raises(InvalidModelError) as info:
        load_model(path, **kwargs)
    text = str(info.value)
    assert info.value.kind == kind and message in text, text
    assert text.startswith(str(path)) and "\n" not in text
    return info.value


def test_missing_file_says_so_and_not_pickle(tmp_path):
    err = _refused(tmp_path / "nope.skops", "missing", "no such file")
    assert isinstance(err, ModelFileNotFoundError) and isinstance(err, FileNotFoundError)
    assert "pickle" not in str(err)


def test_empty_folder_and_fifo(tmp_path):
    (tmp_path / "empty.skops").write_bytes(b"")
    _refused(tmp_path / "empty.skops", "empty", "empty file")
    (tmp_path / "dir.skops").mkdir()
    _refused(tmp_path / "dir.skops", "not_a_file", "is a folder")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.skops")
        _refused(tmp_path / "pipe.skops", "not_a_file", "not a regular file")
    _refused(str(tmp_path / "nul\x00.skops"), "not_a_file", "cannot be read")


def test_truncated_damaged_and_foreign_files(model_file, tmp_path):
    data = model_file.read_bytes()
    for cut in (0.2, 0.5, 0.9, 0.999):
        path = tmp_path / f"cut{cut}.skops"
        path.write_bytes(data[: int(len(data) * cut)])
        _refused(path, "truncated", "truncated")
    flipped = bytearray(data)
    offset = data.index(b"\x93NUMPY") + 200  # inside an array's data
    flipped[offset] ^= 0xFF
    (tmp_path / "flipped.skops").write_bytes(bytes(flipped))
    _refused(tmp_path / "flipped.skops", "damaged", "damaged entry")
    (tmp_path / "text.skops").write_text("hello")
    _refused(tmp_path / "text.skops", "not_a_model", "neither a skops (zip) archive nor a pickle")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("schema.json", '{"__class__": "int", "__module__": "builtins", "__loader__": "JsonNode", '
                                        '"content": "1", "protocol": 2}')
    _refused(tmp_path / "other.zip", "not_dermfeat", "not a model saved by dermfeat")


def test_pickles(model_file, tmp_path):
    payload = {"estimator": LogisticRegression(), "metadata": {}}
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    (tmp_path / "p.skops").write_bytes(data)
    _refused(tmp_path / "p.skops", "pickle", "allow_pickle=True")
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="only do this"):
        _refused(tmp_path / "cut.pkl", "truncated", "truncated or damaged pickle", allow_pickle=True)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.warns(UserWarning):
        _refused(tmp_path / "list.pkl", "not_dermfeat", "not written by dermfeat", allow_pickle=True)
    (tmp_path / "text.pkl").write_text("hello")
    with pytest.warns(UserWarning):
        _refused(tmp_path / "text.pkl", "not_a_model", "neither", allow_pickle=True)


def test_size_limits(model_file, tmp_path, monkeypatch):
    size = model_file.stat().st_size
    _refused(model_file, "too_large", "over the limit", max_size=size - 1)
    load_model(model_file, max_size=size + 10_000)
    assert MAX_MODEL_SIZE == 256 * 2**20
    # total uncompressed size: a deflated archive small on disk, large inside
    with zipfile.ZipFile(model_file) as source, zipfile.ZipFile(tmp_path / "z.skops", "w", zipfile.ZIP_DEFLATED) as z:
        for name in source.namelist():
            z.writestr(name, source.read(name))
        z.writestr("padding.bin", b"\0" * 200_000)
    small = (tmp_path / "z.skops").stat().st_size
    _refused(tmp_path / "z.skops", "too_large", "uncompressed content over the limit", max_size=small + 100_000)
    monkeypatch.setattr(_archive, "MAX_ENTRIES", 3)
    _refused(model_file, "too_large", "entries in the archive, over the limit of 3")


def test_compression_ratio_limit(model_file, tmp_path):
    with zipfile.ZipFile(model_file) as source, zipfile.ZipFile(tmp_path / "r.skops", "w") as z:
        for name in source.namelist():
            z.writestr(name, source.read(name))
        z.writestr("zeros.bin", b"\0" * (2 * 2**20), compress_type=zipfile.ZIP_DEFLATED)
    _refused(tmp_path / "r.skops", "too_large", f"over {MAX_COMPRESSION_RATIO}:1")
    with zipfile.ZipFile(model_file) as source, zipfile.ZipFile(tmp_path / "ok.skops", "w") as z:
        for name in source.namelist():  # deflate is fine below the ratio
            z.writestr(name, source.read(name), compress_type=zipfile.ZIP_DEFLATED)
    load_model(tmp_path / "ok.skops")


def test_only_stored_or_deflate(model_file, tmp_path):
    with zipfile.ZipFile(model_file) as source, zipfile.ZipFile(tmp_path / "b.skops", "w") as z:
        for name in source.namelist():
            z.writestr(name, source.read(name), compress_type=zipfile.ZIP_BZIP2)
    _refused(tmp_path / "b.skops", "unsafe", "only stored or deflate")


def test_sniff():
    assert sniff(b"PK\x03\x04rest") == "zip" and sniff(b"PK\x05\x06" + b"\0" * 18) == "zip"
    assert sniff(pickle.dumps(1, protocol=2)) == "pickle" and sniff(pickle.dumps(1, protocol=5)) == "pickle"
    assert sniff(b"hello") is None and sniff(b"\x80") is None


def test_npy_entries_checked():
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10.0))
    good = buffer.getvalue()
    check_npy(good, "x")
    with pytest.raises(InvalidModelError, match="announces 80 bytes of data, the entry has 72") as info:
        check_npy(good[:-8], "x")
    assert info.value.kind == "truncated"
    with pytest.raises(InvalidModelError, match="has 88"):
        check_npy(good + b"\0" * 8, "x")
    with pytest.raises(InvalidModelError, match="damaged array header"):
        check_npy(b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n", "x")


def test_nested_npz_entries_checked(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("data.npy", b"not an array")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("schema.json", b"{}")
        archive.writestr("1.npz", buffer.getvalue())
    with pytest.raises(InvalidModelError, match="entry 1.npz: entry data.npy: damaged array header"):
        open_archive(outer.getvalue(), "m.skops", 2**20)
