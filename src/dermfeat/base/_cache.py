"""A per-image feature cache on disk, keyed by image content and extractor state."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import os
import stat
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..io import source_bytes
from ..utils._files import atomic_write, memoised_digest


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

    def read_and_hash(path):
        content = source_bytes(source, name)
        return content_hash(content), content

    # the same memory as file_sha256: an image file's content hash is its SHA-256
    return memoised_digest(source, read_and_hash)


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


class _PassRows:
    """The rows of one extractor within one :func:`one_pass` (a cache with nothing on disk)."""

    def __init__(self, rows, prefix):
        self._rows, self._prefix = rows, prefix

    def get(self, key):
        return self._rows.get((self._prefix, key))

    def set(self, key, row):
        self._rows.put((self._prefix, key), np.array(row, copy=True))


_PASS = contextvars.ContextVar("dermfeat_one_pass", default=None)


@contextlib.contextmanager
def one_pass(max_bytes=256 * 2**20):
    """Within the block, extractors without a ``memory`` remember the rows they compute.

    A composite model may run the same extractor on the same images more than
    once for one answer: a soft vote's branches extract in ``predict_proba``
    and again in ``predict``, and a subtype head's probabilities need them a
    third time.  Inside this block the second and later runs find the rows of
    the first (keyed like the feature cache: the extractor's state and the
    image's content), in memory only, for as long as the block lasts (at most
    ``max_bytes`` of rows, least recently used dropped first).  Extractors with
    a ``memory`` use their cache as always.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.base import one_pass
    >>> from dermfeat.features import ColorFeatures
    >>> images = [np.full((32, 32, 3), 120, np.uint8)]
    >>> colour = ColorFeatures().fit(images)
    >>> with one_pass():
    ...     first, again = colour.transform(images), colour.transform(images)  # computed once
    >>> bool((first == again).all())
    True
    """
    token = _PASS.set(_RowMemory(max_bytes))
    try:
        yield
    finally:
        _PASS.reset(token)


def in_one_pass():
    """Whether a :func:`one_pass` block is active in this context."""
    return _PASS.get() is not None


def pass_rows(namespace, state_key):
    """The in-memory rows of the current :func:`one_pass` for one extractor, or None outside one."""
    rows = _PASS.get()
    return None if rows is None else _PassRows(rows, (namespace, state_key))


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


#: Every cache entry is a ``.npy`` file followed by this marker and the SHA-256 of
#: the entry's identity (extractor, state, image key) and the ``.npy`` bytes
#: (header and row), so that a damaged, truncated, foreign or misplaced entry is
#: recognised.  ``np.load`` still reads an entry (it ignores the trailer).
_TRAILER = b"\x93DERMFEAT-SHA256"
_DIGEST_BYTES = 32
#: Entries larger than this are not read (a row of 1280 float64 features is 10 kB).
_MAX_ENTRY_BYTES = 64 * 2**20

_warned = set()
_warned_lock = threading.Lock()
#: State folders known to be writable in this process (probed once, not per call).
_writable = set()


class FeatureCacheWarning(UserWarning):
    """The feature cache folder is unusable, or held damaged entries; features are computed instead."""


def _warn_once(topic, message):
    with _warned_lock:
        if topic in _warned:
            return
        _warned.add(topic)
    warnings.warn(message, FeatureCacheWarning, stacklevel=4)


def _read_regular(path):
    """The bytes of a regular file of bounded size; ``None`` for anything else (never blocks)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_ENTRY_BYTES:
            return None
        chunks, size = [], 0
        while size <= _MAX_ENTRY_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks) if size <= _MAX_ENTRY_BYTES else None
    finally:
        os.close(fd)


#: ``.npy`` header bytes -> (dtype, shape) of the rows seen so far: every entry of one
#: extractor has the same header, and parsing it (a Python literal) costs more than the
#: rest of a look-up together.
_HEADERS = {}
_MAX_HEADERS = 256


def _parse_npy(body):
    """The array of ``.npy`` bytes (read-only, sharing ``body``), or ``None`` if malformed."""
    if body[:6] != b"\x93NUMPY" or len(body) < 10:
        return None
    start = 10 if body[6] == 1 else 12
    header = bytes(body[: start + int.from_bytes(body[8:start], "little")])
    known = _HEADERS.get(header)
    if known is None:
        try:
            array = np.lib.format.read_array(io.BytesIO(body), allow_pickle=False)
        except Exception:  # malformed
            return None
        if array.dtype.hasobject or array.dtype.fields is not None:
            return None
        if len(_HEADERS) < _MAX_HEADERS:
            _HEADERS[header] = (array.dtype, array.shape, array.flags.f_contiguous and array.ndim > 1)
        return array
    dtype, shape, fortran = known
    count = int(np.prod(shape))
    if len(body) != len(header) + count * dtype.itemsize:
        return None
    return np.frombuffer(body, dtype=dtype, count=count, offset=len(header)).reshape(
        shape, order="F" if fortran else "C")


class FeatureCache:
    """One checksummed ``.npy`` file per (extractor state, image content) pair.

    Files live in ``<location>/dermfeat/<ExtractorClass>/<state-key>/<ab>/<image-hash>.npy``.
    Rows read or written are also kept in a bounded in-process memory (256 MB,
    least recently used first out), so repeated lookups of the same images, as
    in every fold of a grid search, cost a dictionary access.
    The state key hashes the extractor's class, its feature-defining parameters and
    any extra token it declares (such as a model file's SHA-256), so changing either
    the image bytes or a parameter misses.  Writes are atomic (write to a temporary
    file, then rename), so concurrent workers never read a half-written entry.

    The files are not trusted: each entry ends with a SHA-256 of its identity
    (extractor, state, image key) and of its bytes (``.npy`` header and row),
    checked on every read, and a row must be one-dimensional, numeric and
    finite.  An entry that fails (damaged, truncated, copied from elsewhere,
    written by an older dermfeat, not a regular file) is a miss: the row is
    computed again and the entry overwritten, with one
    :class:`FeatureCacheWarning`.  A folder that cannot be used (read-only, a
    file in its place, disk errors) gives one :class:`FeatureCacheWarning` per
    process and location, and features are computed without it.

    Parameters
    ----------
    location : path-like
        Root folder.
    namespace : str
        Usually the extractor class name.
    state_key : str
        Hash of everything besides the image that determines the features.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from dermfeat.base import FeatureCache
    >>> cache = FeatureCache(tempfile.mkdtemp(), "Extractor", "state")
    >>> cache.set("ab" * 32, np.array([0.5, 2.0]))
    >>> cache.get("ab" * 32)
    array([0.5, 2. ])
    """

    def __init__(self, location, namespace, state_key):
        self.location = Path(location)
        self.root = self.location / "dermfeat" / namespace / state_key
        self._prefix = os.path.abspath(self.root)
        self._identity = f"dermfeat-feature-cache\0{namespace}\0{state_key}\0".encode()
        self.readable = True
        self.writable = self._probe()

    def _path(self, key):
        return self.root / key[:2] / f"{key}.npy"

    def _probe(self):
        """Whether entries can be written here (checked once per process and state folder)."""
        if self._prefix in _writable:
            return True
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".probe-", suffix=".tmp")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            self._give_up("written to", exc)
            return False
        _writable.add(self._prefix)
        return True

    def _give_up(self, what, exc):
        if what == "read from":
            self.readable = False
        self.writable = False
        _writable.discard(self._prefix)
        _warn_once(
            ("unusable", os.path.abspath(self.location)),
            f"the feature cache folder {self.location} cannot be {what} ({exc.strerror or exc}); "
            "continuing without it: features are computed and not stored",
        )

    def _digest(self, key, body):
        return hashlib.sha256(self._identity + key.encode() + b"\0" + body).digest()

    def _encode(self, key, row):
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(row), allow_pickle=False)
        body = buffer.getvalue()
        return body + _TRAILER + self._digest(key, body)

    def _decode(self, key, data):
        """The row of a sound entry, else ``None``."""
        end = len(_TRAILER) + _DIGEST_BYTES
        if len(data) < end or data[-end:-_DIGEST_BYTES] != _TRAILER:
            return None
        body = data[:-end]
        if self._digest(key, body) != data[-_DIGEST_BYTES:]:
            return None
        row = _parse_npy(body)
        if row is None or row.ndim != 1 or row.dtype.kind not in "fiu" or not np.all(np.isfinite(row)):
            return None
        return row

    def get(self, key):
        """Return the cached row for ``key`` or ``None``.

        The returned array is read-only; copy it before modifying it.  A damaged
        entry is ``None`` (a miss), so that the caller computes and stores the row
        again.
        """
        row = _ROW_MEMORY.get((self._prefix, key))
        if row is not None or not self.readable:
            return row
        path = self._path(key)
        try:
            data = _read_regular(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self._give_up("read from", exc)
            return None
        row = None if data is None else self._decode(key, data)
        if row is None:
            _warn_once(
                ("damaged", os.path.abspath(self.location)),
                f"feature cache entry {path} failed its integrity check (damaged, or written by an older "
                "dermfeat); it is computed again and overwritten (further such entries are not reported)",
            )
            return None
        _ROW_MEMORY.put((self._prefix, key), row)
        return row

    def set(self, key, row):
        """Store ``row`` for ``key`` atomically (only in memory when the folder is unusable)."""
        if self.writable:
            path = self._path(key)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # entries carry their own integrity check, so no fsync: a torn entry is recomputed
                atomic_write(path, self._encode(key, row), durable=False)
            except IsADirectoryError:  # a folder in the entry's place: leave it, keep the row in memory
                pass
            except OSError as exc:
                self._give_up("written to", exc)
        _ROW_MEMORY.put((self._prefix, key), np.array(row, copy=True))

    def __len__(self):
        return sum(1 for _ in self.root.glob("*/*.npy")) if self.root.exists() else 0
