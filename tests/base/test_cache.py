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
