import numpy as np

from dermfeat.base import FeatureCache, cache_location, content_hash


def test_content_hash_depends_on_dtype_shape_and_bytes():
    a = np.zeros((2, 3), np.uint8)
    assert content_hash(a) != content_hash(a.reshape(3, 2))
    assert content_hash(a) != content_hash(a.astype(np.uint16))
    assert content_hash(b"abc") == content_hash(b"abc")


def test_roundtrip_and_atomic_files(tmp_path):
    cache = FeatureCache(tmp_path, "X", "state")
    assert cache.get("ab" * 32) is None
    cache.set("ab" * 32, np.arange(3.0))
    np.testing.assert_array_equal(cache.get("ab" * 32), np.arange(3.0))
    assert len(cache) == 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_cache_location():
    import joblib

    assert cache_location(None) is None
    assert cache_location(joblib.Memory(None)) is None
    assert str(cache_location("x")) == "x"


# ------------------------------------------------------------ untrusted entries
import errno  # noqa: E402
import os  # noqa: E402
import warnings  # noqa: E402

import pytest  # noqa: E402

from dermfeat.base import FeatureCacheWarning, _cache  # noqa: E402
from dermfeat.features import ColorFeatures, QualityFeatures  # noqa: E402

KEY = "cd" * 32


@pytest.fixture()
def images(lesion_data):
    return list(lesion_data.images[:6])


def fresh_memory():
    _cache._ROW_MEMORY.clear()


def cache_warnings(caught):
    return [w for w in caught if issubclass(w.category, FeatureCacheWarning)]


def entry_files(tmp_path):
    return sorted((tmp_path / "dermfeat").rglob("*.npy"))


def test_entries_carry_a_checksum_and_np_load_still_reads_them(tmp_path):
    cache = FeatureCache(tmp_path, "X", "state")
    row = np.array([1.5, -2.0, 3e-300])
    cache.set(KEY, row)
    (path,) = entry_files(tmp_path)
    data = path.read_bytes()
    assert data[-32 - len(_cache._TRAILER):-32] == _cache._TRAILER
    np.testing.assert_array_equal(np.load(path), row)  # still a .npy for anyone inspecting it
    fresh_memory()
    assert cache.get(KEY).tobytes() == row.tobytes()


def _corrupt(path, how):
    data = path.read_bytes()
    header_end = data.index(b"\n") + 1  # the .npy header ends with a newline
    rng = np.random.default_rng(0)
    if how == "random data":  # header intact, data random (can be NaN/inf as float64)
        data = data[:header_end] + rng.bytes(len(data) - header_end)
    elif how == "nan data, old format":  # a plain .npy of non-finite values, as older versions wrote
        n = (len(data) - header_end - 16 - 32) // 8
        import io

        buf = io.BytesIO()
        np.save(buf, np.full(n, np.nan))
        data = buf.getvalue()
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "one flipped bit":
        data = bytearray(data)
        data[header_end + 3] ^= 0x10
        data = bytes(data)
    elif how == "empty":
        data = b""
    path.write_bytes(data)


@pytest.mark.parametrize("how", ["random data", "nan data, old format", "truncated", "one flipped bit", "empty"])
def test_damaged_entries_are_recomputed_and_overwritten(tmp_path, images, how):
    est = QualityFeatures(memory=tmp_path).fit()
    expected = QualityFeatures().fit().transform(images)
    est.transform(images)
    files = entry_files(tmp_path)
    assert len(files) == len(images)
    for path in files[:3]:
        _corrupt(path, how)
    fresh_memory()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = est.transform(images)
    assert again.tobytes() == expected.tobytes()
    found = cache_warnings(caught)
    assert len(found) == 1 and "failed its integrity check" in str(found[0].message)
    # overwritten: every entry reads back sound, with no warning
    fresh_memory()
    cache = est._feature_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureCacheWarning)
        assert est.transform(images).tobytes() == expected.tobytes()
        for path in entry_files(tmp_path):
            assert cache.get(path.stem) is not None


def test_an_entry_moved_to_another_key_or_state_is_refused(tmp_path):
    a = FeatureCache(tmp_path, "X", "state")
    a.set(KEY, np.arange(4.0))
    (path,) = entry_files(tmp_path)
    other_key = "ef" * 32
    target = a._path(other_key)
    target.parent.mkdir(parents=True)
    target.write_bytes(path.read_bytes())
    b = FeatureCache(tmp_path, "X", "other-state")
    moved = b._path(KEY)
    moved.parent.mkdir(parents=True)
    moved.write_bytes(path.read_bytes())
    fresh_memory()
    with pytest.warns(FeatureCacheWarning):
        assert a.get(other_key) is None
    assert b.get(KEY) is None
    np.testing.assert_array_equal(a.get(KEY), np.arange(4.0))


def test_entries_that_are_not_regular_files_are_not_read(tmp_path):
    cache = FeatureCache(tmp_path, "X", "state")
    fifo = cache._path(KEY)
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)  # reading it would block forever
    folder = cache._path("ef" * 32)
    folder.mkdir(parents=True)
    fresh_memory()
    with pytest.warns(FeatureCacheWarning):
        assert cache.get(KEY) is None and cache.get("ef" * 32) is None
    cache.set(KEY, np.ones(2))  # replaces the pipe
    cache.set("ef" * 32, np.ones(2))  # a folder in the way: kept in memory only
    fresh_memory()
    np.testing.assert_array_equal(cache.get(KEY), np.ones(2))


def test_a_file_in_place_of_the_cache_folder_gives_one_warning(tmp_path, images):
    location = tmp_path / "cache"
    location.write_text("not a folder")
    est = QualityFeatures(memory=location).fit()
    expected = QualityFeatures().fit().transform(images)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            fresh_memory()
            assert est.transform(images).tobytes() == expected.tobytes()
        ColorFeatures(memory=location).fit().transform(images)  # another extractor, same folder
    found = cache_warnings(caught)
    assert len(found) == 1, [str(w.message) for w in found]
    assert str(location) in str(found[0].message) and "continuing without it" in str(found[0].message)
    assert location.read_text() == "not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_cache_folder_gives_one_warning(tmp_path, images):
    location = tmp_path / "cache"
    location.mkdir()
    location.chmod(0o555)
    try:
        with pytest.warns(FeatureCacheWarning, match="cannot be written to"):
            out = QualityFeatures(memory=location).fit().transform(images)
    finally:
        location.chmod(0o755)
    assert out.tobytes() == QualityFeatures().fit().transform(images).tobytes()


def test_a_read_only_cache_folder_simulated(tmp_path, images, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_cache.tempfile, "mkstemp", read_only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = QualityFeatures(memory=tmp_path / "cache").fit().transform(images)
    found = cache_warnings(caught)
    assert len(found) == 1 and "Read-only file system" in str(found[0].message)
    assert out.tobytes() == QualityFeatures().fit().transform(images).tobytes()


def test_disk_errors_while_running_give_one_warning(tmp_path, images, monkeypatch):
    est = QualityFeatures(memory=tmp_path / "cache").fit()
    expected = QualityFeatures().fit().transform(images)

    def disk_full(self, key, row):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FeatureCache, "_encode", disk_full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert est.transform(images).tobytes() == expected.tobytes()
    assert len(cache_warnings(caught)) == 1 and "No space left" in str(cache_warnings(caught)[0].message)
    monkeypatch.undo()

    other = QualityFeatures(memory=tmp_path / "cache2").fit()
    other.transform(images)  # entries written
    fresh_memory()

    def io_error(path):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_cache, "_read_regular", io_error)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert other.transform(images).tobytes() == expected.tobytes()
    assert len(cache_warnings(caught)) == 1 and "Input/output error" in str(cache_warnings(caught)[0].message)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_features_of_valid_images_are_bit_identical_with_the_cache(tmp_path, lesion_data, n_jobs):
    images = list(lesion_data.images[:10])
    for cls in (QualityFeatures, ColorFeatures):
        plain = cls(n_jobs=n_jobs).fit().transform(images)
        cached = cls(memory=tmp_path, n_jobs=n_jobs).fit()
        computed = cached.transform(images)  # computed and stored
        fresh_memory()
        from_disk = cached.transform(images)  # read back from the files
        from_memory = cached.transform(images)  # from the in-process memory
        for out in (computed, from_disk, from_memory):
            assert out.dtype == plain.dtype and out.tobytes() == plain.tobytes()
