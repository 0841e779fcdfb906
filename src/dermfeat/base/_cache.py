"""A per-image feature cache on disk, keyed by image content and extractor state."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..io import source_bytes


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


#: A file's hash is remembered against its stat signature only if the file was
#: last modified at least this many seconds ago, so that a file rewritten within
#: the file system's timestamp granularity is never taken for its old content.
_RACY_SECONDS = 2.0
_MAX_MEMO_FILES = 1_000_000
_path_memo = {}
_path_memo_lock = threading.Lock()


def _signature(st):
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def source_hash(source, name=None):
    """Content hash of an image source, reading a file only when needed.

    A file's SHA-256 is remembered per process against its path and stat
    signature (size, modification and change times, inode, device), so looking
    up an unchanged file again costs one ``os.stat`` instead of a read and a
    hash.  Any change to the file changes its signature and is hashed afresh.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    name : str, optional
        Name used in error messages.

    Returns
    -------
    digest : str
        :func:`content_hash` of the source's content.
    content : bytes, ndarray or None
        The content if it had to be read (reuse it to decode), else ``None``.

    Raises
    ------
    InvalidImageError
        If a path does not exist or cannot be read.

    Examples
    --------
    >>> from dermfeat.base import content_hash
    >>> from dermfeat.base._cache import source_hash
    >>> digest, content = source_hash(b"abc")
    >>> digest == content_hash(b"abc"), content
    (True, b'abc')
    """
    if not isinstance(source, (str, os.PathLike)):
        content = source_bytes(source, name)
        return content_hash(content), content
    path = os.fspath(source)
    try:
        before = _signature(os.stat(path))
    except OSError:
        before = None
    if before is not None:
        known = _path_memo.get(path)
        if known is not None and known[0] == before:
            return known[1], None
    content = source_bytes(source, name)
    digest = content_hash(content)
    if before is not None and time.time() - before[1] / 1e9 > _RACY_SECONDS:
        try:
            after = _signature(os.stat(path))
        except OSError:
            after = None
        if after == before:
            with _path_memo_lock:
                if len(_path_memo) >= _MAX_MEMO_FILES:
                    _path_memo.clear()
                _path_memo[path] = (before, digest)
    return digest, content


class _RowMemory:
    """Process-wide, size-bounded LRU of cached feature rows (read-only arrays)."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._rows = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        row = self._rows.get(key)
        if row is not None:
            try:
                self._rows.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
        return row

    def put(self, key, row):
        """Remember ``row`` (taken over and made read-only: pass a copy you no longer need)."""
        row.setflags(write=False)
        with self._lock:
            old = self._rows.pop(key, None)
            if old is not None:
                self._nbytes -= old.nbytes
            if row.nbytes > self.max_bytes:
                return
            self._rows[key] = row
            self._nbytes += row.nbytes
            while self._nbytes > self.max_bytes:
                _, dropped = self._rows.popitem(last=False)
                self._nbytes -= dropped.nbytes

    def clear(self):
        with self._lock:
            self._rows.clear()
            self._nbytes = 0


#: Rows read from or written to any feature cache in this process, so that
#: repeated ``transform`` calls (every fold and candidate of a grid search) do
#: not go back to the disk.  256 MB holds 50,000 rows of 1280 float32 features.
_ROW_MEMORY = _RowMemory(256 * 2**20)


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
    Rows read or written are also kept in a bounded in-process memory (256 MB,
    least recently used first out), so repeated lookups of the same images, as
    in every fold of a grid search, cost a dictionary access.
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
        self._prefix = os.path.abspath(self.root)

    def _path(self, key):
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key):
        """Return the cached row for ``key`` or ``None``.

        The returned array is read-only; copy it before modifying it.
        """
        row = _ROW_MEMORY.get((self._prefix, key))
        if row is not None:
            return row
        path = self._path(key)
        try:
            row = np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError, EOFError):
            return None
        _ROW_MEMORY.put((self._prefix, key), row)
        return row

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
        _ROW_MEMORY.put((self._prefix, key), np.array(row, copy=True))

    def __len__(self):
        return sum(1 for _ in self.root.glob("*/*.npy")) if self.root.exists() else 0
