"""The PyTorch state-dict reader: both file layouts, hand-written, and what it refuses."""

import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from dermfeat.zoo._torch_state import UnsafeCheckpointError, load_state_dict


# A minimal pickle writer (protocol 2 opcodes), so that the tests need no PyTorch.
def _global(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def _str(text):
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(value):
    return b"J" + struct.pack("<i", value)


def _tuple(items):
    return b"(" + b"".join(items) + b"t"


def _tensor(key, numel, offset, size, stride, storage="FloatStorage", view=None):
    pid = [_str("storage"), _global("torch", storage), _str(key), _str("cpu"), _int(numel)]
    if view is not None:
        pid.append(_tuple([_str(view[0]), _int(view[1]), _int(view[2])]))
    return (_global("torch._utils", "_rebuild_tensor_v2") + b"(" + _tuple(pid) + b"Q" + _int(offset)
            + _tuple([_int(s) for s in size]) + _tuple([_int(s) for s in stride]) + b"\x89"
            + _global("collections", "OrderedDict") + b")R" + b"tR")


def _state_pickle(entries):
    body = b"".join(_str(name) + value for name, value in entries)
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + body + b"u."


WEIGHT = np.arange(12, dtype=np.float32).reshape(3, 4)
STEPS = np.array(7, dtype=np.int64)
ENTRIES = [
    ("conv.weight", _tensor("0", 12, 0, (3, 4), (4, 1))),
    ("conv.weight_t", _tensor("0", 12, 0, (4, 3), (1, 4))),  # a transposed view of the same storage
    ("conv.bias", _tensor("0", 12, 9, (3,), (1,))),  # an offset into it
    ("bn.num_batches_tracked", _tensor("1", 1, 0, (), (), storage="LongStorage")),
]


def _write_zip(path, state_pickle, storages):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", state_pickle)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for key, array in storages.items():
            archive.writestr(f"archive/data/{key}", array.tobytes())


def _write_legacy(path, state_pickle, storages, truncate=0):
    out = io.BytesIO()
    out.write(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
    out.write(pickle.dumps(1001, protocol=2))
    out.write(pickle.dumps({"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))
    out.write(state_pickle)
    out.write(pickle.dumps(list(storages), protocol=2))
    for array in storages.values():
        out.write(struct.pack("<q", array.size))
        out.write(array.tobytes())
    data = out.getvalue()
    path.write_bytes(data[: len(data) - truncate])


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reads_tensors_views_offsets_and_integers(tmp_path, layout):
    path = tmp_path / "state.pth"
    writer = _write_zip if layout == "zip" else _write_legacy
    writer(path, _state_pickle(ENTRIES), {"0": WEIGHT.ravel(), "1": STEPS.ravel()})
    state = load_state_dict(path)
    assert list(state) == [name for name, _ in ENTRIES]
    np.testing.assert_array_equal(state["conv.weight"], WEIGHT)
    np.testing.assert_array_equal(state["conv.weight_t"], WEIGHT.T)
    np.testing.assert_array_equal(state["conv.bias"], [9, 10, 11])
    assert state["conv.weight"].dtype == np.float32 and state["conv.weight"].flags.writeable
    assert state["bn.num_batches_tracked"].shape == () and state["bn.num_batches_tracked"] == 7


def test_legacy_storage_views(tmp_path):
    path = tmp_path / "state.pth"
    entries = [("part", _tensor("0", 12, 1, (2,), (1,), view=("v", 4, 6)))]  # root[4:10], then [1:3]
    _write_legacy(path, _state_pickle(entries), {"0": WEIGHT.ravel()})
    np.testing.assert_array_equal(load_state_dict(path)["part"], [5, 6])


@pytest.mark.parametrize("module, name", [("os", "system"), ("builtins", "eval"), ("torch.nn", "Module"),
                                          ("torch._utils", "_rebuild_device_tensor_from_numpy")])
def test_refuses_any_other_global(tmp_path, module, name):
    path = tmp_path / "evil.pth"
    evil = b"\x80\x02" + _global(module, name) + b"(" + _str("echo hacked") + b"tR."
    _write_zip(path, evil, {})
    with pytest.raises(UnsafeCheckpointError, match=f"{module}.{name}"):
        load_state_dict(path)


def test_refuses_malformed_files(tmp_path):
    state = _state_pickle(ENTRIES)
    path = tmp_path / "short.pth"
    _write_legacy(path, state, {"0": WEIGHT.ravel(), "1": STEPS.ravel()}, truncate=3)
    with pytest.raises(UnsafeCheckpointError, match="truncated"):
        load_state_dict(path)
    path = tmp_path / "past_end.pth"
    _write_zip(path, _state_pickle([("w", _tensor("0", 12, 10, (3,), (1,)))]), {"0": WEIGHT.ravel()})
    with pytest.raises(UnsafeCheckpointError, match="past the end"):
        load_state_dict(path)
    path = tmp_path / "missing.pth"
    _write_zip(path, state, {"0": WEIGHT.ravel()})
    with pytest.raises(UnsafeCheckpointError, match="storage 1 is missing"):
        load_state_dict(path)
    path = tmp_path / "junk.pth"
    path.write_bytes(pickle.dumps("not a checkpoint", protocol=2))
    with pytest.raises(UnsafeCheckpointError, match="not a PyTorch checkpoint"):
        load_state_dict(path)
    path = tmp_path / "list.pth"
    _write_zip(path, b"\x80\x02]q\x00.", {})
    with pytest.raises(UnsafeCheckpointError, match="not a state dict"):
        load_state_dict(path)
