"""A per-image feature cache on disk, keyed by image content and extractor state."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


def content_hash(content):
    """SHA-256 of an image's content: file bytes, or an array's dtype, shape and data.

    Parameters
    ----------
    content : bytes or ndarray
        What :func:`dermfeat.io.source_bytes` returns.

    Returns
    -------
    digest : str
        Hexadecimal SHA-256.

    Examples
    --------
    >>> from dermfeat.base import content_hash
    >>> content_hash(b"abc")[:12]
    'ba7816bf8f01'
    """
    h = hashlib.sha256()
    if isinstance(content, np.ndarray):
        h.update(f"ndarray:{content.dtype.str}:{content.shape}:".encode())
        h.update(np.ascontiguousarray(content).tobytes())
    else:
        h.update(content)
    return h.hexdigest()


def cache_location(memory):
    """Resolve a ``memory`` parameter (None, path or ``joblib.Memory``) to a folder.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
        Where to cache.  A ``joblib.Memory`` with ``location=None`` disables caching.

    Returns
    -------
    location : Path or None
    """
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        return Path(memory)
    location = getattr(memory, "location", None)
    if location is None and hasattr(memory, "cache"):
        return None
    if location is None:
        raise TypeError(f"memory must be None, a path or a joblib.Memory, got {type(memory).__name__}")
    return Path(location)


class FeatureCache:
    """One ``.npy`` file per (extractor state, image content) pair.

    Files live in ``<location>/dermfeat/<ExtractorClass>/<state-key>/<ab>/<image-hash>.npy``.
    The state key hashes the extractor's class, its feature-defining parameters and
    any extra token it declares (such as a model file's SHA-256), so changing either
    the image bytes or a parameter misses.  Writes are atomic (write to a temporary
    file, then rename), so concurrent workers never read a half-written entry.

    Parameters
    ----------
    location : path-like
        Root folder.
    namespace : str
        Usually the extractor class name.
    state_key : str
        Hash of everything besides the image that determines the features.
    """

    def __init__(self, location, namespace, state_key):
        self.root = Path(location) / "dermfeat" / namespace / state_key

    def _path(self, key):
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key):
        """Return the cached row for ``key`` or ``None``."""
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError, EOFError):
            return None

    def set(self, key, row):
        """Store ``row`` for ``key`` atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.asarray(row), allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def __len__(self):
        return sum(1 for _ in self.root.glob("*/*.npy")) if self.root.exists() else 0
