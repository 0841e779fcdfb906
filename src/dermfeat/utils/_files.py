"""Files written and hashed safely: one atomic write, one memoised SHA-256.

* :func:`atomic_write` writes to a temporary file beside the target and renames
  it over the target, so that readers see the old file or the new one, never
  half of one; by default the data reach the disk (``fsync``) before the rename.
* :func:`file_sha256` hashes a file once per process while it is unchanged;
  :func:`memoised_digest` is the same memory for any digest of a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time

__all__ = ["atomic_write", "file_sha256", "memoised_digest"]


# ------------------------------------------------------------------ atomic write
def atomic_write(path, data, *, durable=True):
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path : pathlib.Path
        The target; its folder must exist.
    data : bytes or callable
        The bytes, or ``write(tmp_path)``, a function that writes the file itself
        (e.g. a Parquet writer).
    durable : bool, default=True
        ``fsync`` the file before the rename, so that after a crash the target
        holds the old content or the whole new one.  Caches whose entries carry
        their own integrity check may skip it.

    Notes
    -----
    The temporary file is ``.<name>.<random>.tmp`` in the target's folder (the
    command line recognises it as an atomic write under way); it is removed if
    anything fails.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dermfeat.utils._files import atomic_write
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(path, b"one")
    >>> atomic_write(path, lambda tmp: tmp.write_text("two"))
    >>> path.read_text()
    'two'
    """
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if not callable(data):
                fh.write(data)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
        if callable(data):
            data(type(path)(tmp))
            if durable:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------- memoised hashes
#: A digest is remembered against the file's stat signature only if the file was
#: last modified at least this many seconds ago, so that a file rewritten within
#: the file system's timestamp granularity is never taken for its old content.
_RACY_SECONDS = 2.0
_MAX_MEMO_FILES = 1_000_000
_memo = {}
_memo_lock = threading.Lock()


def _signature(path):
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def memoised_digest(path, digest_of, *, kind="sha256"):
    """``digest_of(path)``, remembered per process while the file is unchanged.

    The file's stat signature (size, modification and change times, inode,
    device) is taken before and after computing; the digest is remembered only
    when both agree and the file is older than the timestamp granularity, so any
    change to the file is noticed.  An unchanged file costs one ``os.stat``.

    Parameters
    ----------
    path : str or path-like
    digest_of : callable
        ``digest_of(path) -> (digest, payload)``; ``payload`` (e.g. the bytes it
        read) is passed back only when it was computed.
    kind : str, default="sha256"
        Name of the digest, so that different digests of one file do not mix.

    Returns
    -------
    digest : str
    payload : object or None
        ``None`` when the digest came from memory.
    """
    key = (kind, os.path.abspath(path))
    try:
        before = _signature(path)
    except OSError:
        before = None
    if before is not None:
        known = _memo.get(key)
        if known is not None and known[0] == before:
            return known[1], None
    digest, payload = digest_of(path)
    if before is not None and time.time() - before[1] / 1e9 > _RACY_SECONDS:
        try:
            after = _signature(path)
        except OSError:
            after = None
        if after == before:
            with _memo_lock:
                if len(_memo) >= _MAX_MEMO_FILES:
                    _memo.clear()
                _memo[key] = (before, digest)
    return digest, payload


def _read_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest(), None


def file_sha256(path, *, memo=True):
    """SHA-256 of a file's bytes, remembered per process while the file is unchanged.

    Parameters
    ----------
    path : str or path-like
    memo : bool, default=True
        ``False`` always reads and hashes the file (and remembers nothing).

    Returns
    -------
    digest : str
        Hexadecimal SHA-256.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        As :func:`open` does.

    Examples
    --------
    >>> import hashlib, os, tempfile
    >>> from dermfeat.utils._files import file_sha256
    >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(b"not really a model")
    >>> file_sha256(path) == hashlib.sha256(b"not really a model").hexdigest()
    True
    """
    if not memo:
        return _read_sha256(path)[0]
    return memoised_digest(path, _read_sha256)[0]
