"""Reading a model file safely: what it is, and a bounded, checked copy of its entries.

Everything here happens before skops sees the file: the file must be a regular
file within the size limit; a zip archive must have at most
:data:`MAX_ENTRIES` entries, plain names, no encryption, only the stored or
deflate methods, a total uncompressed size within the limit and no entry
compressed more than :data:`MAX_COMPRESSION_RATIO` times.  Entries are then
decompressed in bounded chunks (so a size written in the archive cannot hide a
bigger stream) and their checksums verified; NumPy array entries must hold no
objects and exactly the bytes their header announces.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile

import numpy as np

from .._exceptions import InvalidModelError, ModelFileNotFoundError

#: Default limit on a model file's size and on its total uncompressed size (bytes).
MAX_MODEL_SIZE = 256 * 2**20
#: Most entries a model archive may have.
MAX_ENTRIES = 100_000
#: Highest compression ratio of an entry over 1 MiB (uncompressed / compressed size).
MAX_COMPRESSION_RATIO = 100

_RATIO_FLOOR = 2**20
_CHUNK = 2**20
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EOCD = b"PK\x05\x06"


def read_model_bytes(path, max_size):
    """The bytes of a model file: a regular, non-empty file of at most ``max_size`` bytes.

    The file is opened without blocking and checked again once open, so a
    named pipe or a device is never read.
    """
    source = os.fspath(path)
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise ModelFileNotFoundError(source, "no such file (missing model file)") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise InvalidModelError(source, f"cannot be read: {_describe(exc)}", kind="not_a_file") from None
    _check_regular(source, info, max_size)
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InvalidModelError(source, f"cannot be read: {_describe(exc)}", kind="not_a_file") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        _check_regular(source, info, max_size)  # the file opened is the file checked
        data = fh.read(info.st_size + 1)  # one byte more: a file still growing is refused
    if len(data) != info.st_size or len(data) > max_size:
        raise InvalidModelError(source, "changed while it was read", kind="damaged")
    return data


def _check_regular(source, info, max_size):
    if stat.S_ISDIR(info.st_mode):
        raise InvalidModelError(source, "is a folder, not a model file", kind="not_a_file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidModelError(source, "not a regular file (a pipe, device or socket); not read", kind="not_a_file")
    if info.st_size == 0:
        raise InvalidModelError(source, "empty file (0 bytes), not a model", kind="empty")
    if info.st_size > max_size:
        raise InvalidModelError(
            source, f"{info.st_size} bytes, over the limit of {max_size} bytes (max_size=)", kind="too_large")


def _describe(exc):
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def sniff(data):
    """``"zip"``, ``"pickle"`` (protocol 2 or later) or ``None`` from the first bytes."""
    if data[:4] in _ZIP_MAGIC:
        return "zip"
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "pickle"
    return None


class ArchiveEntries:
    """The checked, decompressed entries of an archive, read like a ``ZipFile``."""

    def __init__(self, entries):
        self._entries = entries

    def read(self, name):
        return self._entries[name]

    def namelist(self):
        return list(self._entries)


def _unsafe_name(name):
    parts = name.replace("\\", "/").split("/")
    return (not name or "\\" in name or "\x00" in name or name.startswith("/") or ":" in name
            or any(part in ("", ".", "..") for part in parts))


def _looks_truncated(data):
    """No complete end record, or one pointing past itself: the end of the file is missing."""
    pos = data.rfind(_EOCD)
    if pos < 0 or len(data) - pos < 22:
        return True
    size, offset = struct.unpack("<II", data[pos + 12: pos + 20])
    return offset + size > pos


def open_archive(data, source, max_size, *, nested=False):
    """Check a zip archive held in ``data`` and return its entries (see the module docstring)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError,
            OverflowError, UnicodeDecodeError) as exc:
        if _looks_truncated(data):
            raise InvalidModelError(source, "truncated: the zip archive has no end record (cut short?)",
                                    kind="truncated") from None
        raise InvalidModelError(source, f"damaged zip archive ({_describe(exc)})") from None
    with archive:
        infos = archive.infolist()
        _check_listing(infos, source, max_size)
        if not nested and "schema.json" not in {info.filename for info in infos}:
            raise InvalidModelError(
                source, "a zip archive without schema.json: not a model file written by dermfeat (skops)",
                kind="not_dermfeat")
        entries = {info.filename: _read_entry(archive, info, source) for info in infos}
    for name, content in entries.items():
        if name.endswith(".npy"):
            check_npy(content, f"{source}: entry {name}")
        elif name.endswith(".npz") and not nested:
            inner = open_archive(content, f"{source}: entry {name}", max_size, nested=True)
            for inner_name in inner.namelist():
                if not inner_name.endswith(".npy"):
                    raise InvalidModelError(source, f"entry {name} holds {inner_name!r}, not an array",
                                            kind="unsafe")
    return ArchiveEntries(entries)


def _check_listing(infos, source, max_size):
    if len(infos) > MAX_ENTRIES:
        raise InvalidModelError(source, f"{len(infos)} entries in the archive, over the limit of {MAX_ENTRIES}",
                                kind="too_large")
    names = set()
    total = 0
    for info in infos:
        name = info.filename
        if _unsafe_name(name) or info.is_dir():
            raise InvalidModelError(source, f"unsafe entry name {name!r} in the archive", kind="unsafe")
        if name in names:
            raise InvalidModelError(source, f"entry {name!r} appears twice in the archive", kind="unsafe")
        names.add(name)
        if info.flag_bits & 0x1:
            raise InvalidModelError(source, f"entry {name!r} is encrypted", kind="unsafe")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidModelError(
                source, f"entry {name!r} uses compression method {info.compress_type}; only stored or deflate",
                kind="unsafe")
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise InvalidModelError(
                source, f"entry {name!r} expands {info.file_size} bytes from {info.compress_size} "
                f"(over {MAX_COMPRESSION_RATIO}:1): a zip bomb?", kind="too_large")
        total += info.file_size
        if total > max_size:
            raise InvalidModelError(
                source, f"uncompressed content over the limit of {max_size} bytes (max_size=): a zip bomb?",
                kind="too_large")


def _read_entry(archive, info, source):
    """Decompress one entry in bounded chunks: never more than its recorded size."""
    chunks, size = [], 0
    try:
        with archive.open(info) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > info.file_size:  # pragma: no cover - zipfile stops at the recorded size
                    raise InvalidModelError(source, f"entry {info.filename!r} is longer than recorded",
                                            kind="too_large")
                chunks.append(chunk)
    except EOFError:
        raise InvalidModelError(source, f"truncated: entry {info.filename!r} is cut short", kind="truncated") from None
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, OverflowError) as exc:
        raise InvalidModelError(source, f"damaged entry {info.filename!r} ({_describe(exc)})") from None
    if size != info.file_size:
        raise InvalidModelError(source, f"truncated: entry {info.filename!r} is cut short", kind="truncated")
    return b"".join(chunks)


_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def check_npy(content, where):
    """A ``.npy`` entry: a known header, no objects, exactly the bytes the header announces."""
    fh = io.BytesIO(content)
    try:
        version = np.lib.format.read_magic(fh)
        shape, _, dtype = _HEADER_READERS[version](fh)
    except (KeyError, ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise InvalidModelError(where, f"damaged array header ({_describe(exc)})") from None
    if dtype.hasobject:
        raise InvalidModelError(where, "array of Python objects (would need pickle)", kind="unsafe")
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    actual = len(content) - fh.tell()
    if actual != expected:
        kind = "truncated" if actual < expected else "damaged"
        raise InvalidModelError(where, f"array header announces {expected} bytes of data, the entry has {actual}",
                                kind=kind)
