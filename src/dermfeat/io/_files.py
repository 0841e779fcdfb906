"""Reading an image source's bytes safely: regular files only, bounded, clear names."""

from __future__ import annotations

import os
import stat

import numpy as np

from .._exceptions import InvalidImageError

#: Files larger than this are refused before reading (256 MiB).  It holds an
#: uncompressed 64-megapixel 8-bit RGB TIFF (192 MB), far more than any photograph
#: needs.  Pass ``max_bytes`` to raise it.
DEFAULT_MAX_FILE_BYTES = 256 * 2**20

_FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def printable(text, limit=300):
    """One printable line: control characters, NUL and undecodable bytes escaped, long text cut.

    File names may hold bytes that are not UTF-8 (kept by Python as lone
    surrogates) or control characters; printed raw they break terminals, logs
    and CSV files, or raise ``UnicodeEncodeError``.  ``\\x..`` escapes keep
    the name recognisable.

    Examples
    --------
    >>> from dermfeat.io._files import printable
    >>> printable("photos/a.jpg")
    'photos/a.jpg'
    >>> printable("bad\\udcffname\\n.jpg")
    'bad\\\\xffname\\\\n.jpg'
    """
    text = str(text)
    if text.isprintable():
        out = text
    else:
        raw = text.encode("utf-8", "surrogateescape")
        out = raw.decode("utf-8", "backslashreplace")
        out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in out)
    if len(out) > limit:
        out = out[: limit - 3] + "..."
    return out


def image_name(source, index=None):
    """A short human-readable name for an image source, used in messages.

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    index : int, optional
        Position of the source in a batch, used for anonymous sources.

    Returns
    -------
    name : str
        The path for a path (control characters and bytes that are not UTF-8
        escaped, so that it prints on one line), otherwise ``"<array #i>"`` or
        ``"<bytes #i>"``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.io import image_name
    >>> image_name("photos/a.jpg")
    'photos/a.jpg'
    >>> image_name(np.zeros((2, 2, 3), dtype=np.uint8), index=4)
    '<array #4>'
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            path = os.fspath(source)
        except TypeError:
            return f"<{type(source).__name__}>"
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return printable(path)
    suffix = "" if index is None else f" #{index}"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<bytes{suffix}>"
    return f"<array{suffix}>"


def read_file(path, name, max_bytes=DEFAULT_MAX_FILE_BYTES):
    """The bytes of a regular file, refusing anything else without reading it.

    The path is checked with ``stat`` (following symbolic links) and opened
    non-blocking, then checked again with ``fstat`` on the open descriptor, so
    that a named pipe, a device such as ``/dev/zero`` or a socket is never read
    (a pipe would block forever, a device would fill the memory), even if the
    path is swapped between the two checks.  At most ``max_bytes`` are read.
    """
    if "\x00" in path:
        raise InvalidImageError(name, "path contains a NUL byte; no file can have this name")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InvalidImageError(name, "file not found") from None
    except (OSError, ValueError) as exc:
        raise InvalidImageError(name, f"cannot read file ({_os_reason(exc)})") from None
    _check_kind(st, name, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise InvalidImageError(name, "is a directory, not an image file") from None
    except OSError as exc:
        raise InvalidImageError(name, f"cannot read file ({_os_reason(exc)})") from None
    try:
        _check_kind(os.fstat(fd), name, max_bytes)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 22, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise InvalidImageError(name, f"file grew past the limit of {max_bytes:,} bytes while being read")
    except BlockingIOError:
        raise InvalidImageError(name, "file would block when read; refused") from None
    except OSError as exc:
        raise InvalidImageError(name, f"cannot read file ({_os_reason(exc)})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _check_kind(st, name, max_bytes):
    if stat.S_ISDIR(st.st_mode):
        raise InvalidImageError(name, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        kind = next((text for test, text in _FILE_KINDS if test(st.st_mode)), "not a regular file")
        raise InvalidImageError(name, f"is {kind}, not a regular file; refused without reading it")
    if st.st_size > max_bytes:
        raise InvalidImageError(
            name, f"file is {st.st_size:,} bytes, over the limit of {max_bytes:,} bytes (pass max_bytes to allow it)"
        )


def _os_reason(exc):
    return printable(getattr(exc, "strerror", None) or exc, limit=120)


def source_bytes(source, name=None, *, max_bytes=DEFAULT_MAX_FILE_BYTES):
    """Return the raw content of a source: file bytes, bytes, or the array itself.

    Paths are read once here; callers hash and decode the returned bytes, so a file
    is never read twice.  Only regular files are read (see :func:`read_file`).

    Parameters
    ----------
    source : str, path-like, bytes or ndarray
        The image source.
    name : str, optional
        Name used in error messages (default: :func:`image_name`).
    max_bytes : int, default=DEFAULT_MAX_FILE_BYTES
        Refuse files larger than this, before reading them.

    Returns
    -------
    content : bytes or ndarray

    Raises
    ------
    InvalidImageError
        If the path does not exist, is a directory, a pipe, a device or a socket,
        is over ``max_bytes``, contains a NUL byte or cannot be read.

    Examples
    --------
    >>> from dermfeat.io import source_bytes
    >>> source_bytes(b"abc")
    b'abc'
    >>> source_bytes("no/such/photo.jpg")
    Traceback (most recent call last):
    ...
    dermfeat._exceptions.InvalidImageError: no/such/photo.jpg: file not found
    """
    name = image_name(source) if name is None else printable(name)
    if isinstance(source, (str, os.PathLike)):
        try:
            path = os.fspath(source)
        except TypeError as exc:
            raise InvalidImageError(name, f"not a usable path ({exc})") from None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return read_file(path, name, max_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, np.ndarray):
        return source
    raise InvalidImageError(
        name,
        f"unsupported image source of type {type(source).__name__}; "
        "expected a path, bytes or a numpy array",
    )
