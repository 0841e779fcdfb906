"""Malicious and broken model files, made at run time from real fitted models.

Each file is what an attacker (or a bad disk) could hand to
:func:`~dermfeat.persistence.load_model`, ``dermfeat predict``, ``explain`` or
the web demo.  The files are generated from freshly fitted dermfeat models by
editing their skops ``schema.json`` or their zip structure, so no binary
fixture is kept anywhere.  Every attack that would run code targets a sentinel
file: if that file exists after loading, the attack worked.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MaliciousModel:
    """One hostile model file and what loading it must do.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"exec"``.
    path : pathlib.Path
        The file (for ``"missing"``, a path that does not exist).
    attack : str
        What the file tries.
    kind : str
        The :attr:`~dermfeat.InvalidModelError.kind` of the expected refusal.
    message : str
        A fragment of the expected one-line message.
    sentinel : pathlib.Path or None
        A file the attack would create if it ran.
    """

    name: str
    path: Path
    attack: str
    kind: str
    message: str
    sentinel: Path | None = None


# ----------------------------------------------------------------- skops states
def _json(value):
    return {"__class__": type(value).__name__, "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _tuple(*items):
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items)}


def _list(*items):
    return {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": list(items)}


def _dict(**items):
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
            "content": dict(items), "key_types": _list(*[_type("builtins", "str")] * len(items))}


def _type(module, name):
    return {"__class__": name, "__module__": module, "__loader__": "TypeNode"}


def _function(module, name):
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode"}


def _call(module, name, *args):
    """A node that skops builds by calling ``module.name(*args)``."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": _tuple(*[a if isinstance(a, dict) else _json(a) for a in args])}


def _array_entry(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _array_node(file):
    return {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": file}


def _read_skops(path):
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(entries.pop("schema.json")), entries


def _write_skops(path, schema, entries, extra=()):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in [*entries.items(), *extra]:
            archive.writestr(name, data)
    return path


def _inject(schema, key, node, key_type=None):
    """Add ``key: node`` to the metadata dict, which skops builds while loading."""
    metadata = schema["content"]["metadata"]
    metadata["content"][key] = node
    metadata["key_types"]["content"].append(key_type or _type("builtins", "str"))
    return schema


def _nodes(state, cls=None):
    """Every node state in a schema (depth first), optionally only those of some classes (a name or a tuple)."""
    stack = [state]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__loader__" in item and (cls is None or item.get("__class__") in ((cls,) if isinstance(cls, str) else cls)):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _edit_array(schema, entries, owner, attribute, edit):
    """Apply ``edit`` to the array ``attribute`` (a key, or a position in a tuple state) of an ``owner`` object."""
    for node in _nodes(schema, owner):
        state = node.get("content", {}).get("content")  # the attribute dict (or tuple) of the object
        try:
            target = state[attribute]
        except (KeyError, IndexError, TypeError):
            continue  # e.g. the unfitted template of a meta-estimator
        break
    else:
        raise ValueError(f"no {owner} with {attribute!r} in this model")
    array = np.load(io.BytesIO(entries[target["file"]]), allow_pickle=False)
    entries[target["file"]] = _array_entry(edit(array.copy()))


# ----------------------------------------------------------------- raw zip files
def _deflate(data_or_chunks):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunks = [data_or_chunks] if isinstance(data_or_chunks, bytes) else data_or_chunks
    return b"".join(compressor.compress(chunk) for chunk in chunks) + compressor.flush()


def _raw_zip(path, members):
    """Write a zip archive byte by byte: ``(name, payload, method, crc, size, flags)`` per member.

    Unlike :mod:`zipfile`, this writes whatever it is told: sizes that lie,
    duplicate or escaping names, precompressed streams, encryption flags.
    """
    out, central = io.BytesIO(), []
    for name, payload, method, crc, size, flags in members:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(payload), size,
                              len(encoded), 0) + encoded + payload)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc,
                                   len(payload), size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    directory = b"".join(central)
    start = out.tell()
    out.write(directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory),
                                      start, 0))
    Path(path).write_bytes(out.getvalue())
    return path


def _stored(name, data, flags=0):
    return (name, data, zipfile.ZIP_STORED, zlib.crc32(data), len(data), flags)


class _OpenForWriting:
    """Pickles as a call to ``open(path, "w")``: unpickling it creates the file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# ----------------------------------------------------------------- fitted models
def _fitted_models(random_state):
    """A real image classifier and a table classifier with trees, a KD-tree and an SVM."""
    from ..datasets import make_lesion_images
    from ..pipeline import ResampledClassifier, make_classifier, make_head

    data = make_lesion_images(24, image_size=32, random_state=random_state)
    image_model = make_classifier("quality").fit(data.images, data.labels)
    rng = np.random.default_rng(random_state)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + rng.normal(size=200) > 0.8, "eczema", "atopic_dermatitis")
    tree_model = ResampledClassifier(make_head("gb").set_params(max_iter=3), sampler="smote",
                                     random_state=random_state).fit(X, y)
    svm_model = make_head("svm").fit(X, y)
    return image_model, tree_model, svm_model


def write_malicious_models(folder, *, random_state=0):
    """Write hostile and broken model files into ``folder``, made from real fitted models.

    Kinds: code execution through every way skops calls a name (``exec``,
    ``open`` for writing, ``numpy.savetxt``, dermfeat's own ``save_model``,
    ``os.system``, ``subprocess``, ``importlib``, a module whose import has a
    side effect, a bound method smuggled in as a dict key type, ``os.system``
    reached through ``getattr`` and ``__import__`` alone, a function
    called at prediction time, an allowed class called as a constructor), zip
    bombs, a size that lies, unsafe entry names, duplicate entries, encryption,
    truncation, a non-zip file, a zip or skops file that is not a dermfeat
    model, a pickle disguised as ``.skops``, an object array, an array header
    that lies, fitted trees, KD-tree and SVM with out-of-range indices, a
    missing file, an empty file, a folder and (on POSIX) a named pipe.

    Parameters
    ----------
    folder : path-like
        Created if needed.  Sentinel files, if an attack ever worked, would
        appear in ``folder / "sentinels"``.  Two attacks import a module written
        into ``folder``: they are live only while ``folder`` is on ``sys.path``.
    random_state : int, default=0
        Seed of the synthetic data the models are fitted on.

    Returns
    -------
    models : list of MaliciousModel

    Examples
    --------
    >>> import tempfile
    >>> from dermfeat import InvalidModelError
    >>> from dermfeat.persistence import load_model
    >>> from dermfeat.testing import write_malicious_models
    >>> models = write_malicious_models(tempfile.mkdtemp())
    >>> len(models) >= 12
    True
    >>> refused = []
    >>> for model in models:
    ...     try:
    ...         load_model(model.path)
    ...     except InvalidModelError as exc:
    ...         refused.append(exc.kind == model.kind and model.message in str(exc))
    >>> all(refused) and len(refused) == len(models)
    True
    >>> any(m.sentinel is not None and m.sentinel.exists() for m in models)
    False
    """
    from ..persistence import save_model

    folder = Path(folder)
    sentinels = folder / "sentinels"
    sentinels.mkdir(parents=True, exist_ok=True)
    image_model, tree_model, svm_model = _fitted_models(random_state)
    base = save_model(image_model, folder / "_base_image.skops")
    trees = save_model(tree_model, folder / "_base_trees.skops")
    svm = save_model(svm_model, folder / "_base_svm.skops")
    models = []

    def add(name, attack, kind, message, *, schema=None, entries=None, extra=(), data=None, sentinel=None,
            suffix=".skops"):
        path = folder / f"{name}{suffix}"
        if schema is not None:
            _write_skops(path, schema, entries, extra)
        elif data is not None:
            path.write_bytes(data)
        models.append(MaliciousModel(name, path, attack, kind, message, sentinel))
        return path

    def sentinel(name):
        return sentinels / f"{name}.txt"

    def code_attack(name, attack, node, refused_name, target):
        schema, entries = _read_skops(base)
        add(name, attack, "unsafe", f"not trusted: {refused_name}", schema=_inject(schema, "x", node),
            entries=entries, sentinel=target)

    target = sentinel("exec")
    code_attack("exec", "builtins.exec(code) while loading: the code writes a file",
                _call("builtins", "exec", f"open({str(target)!r}, 'w').write('pwned')"), "builtins.exec", target)
    target = sentinel("open_for_writing")
    code_attack("open_for_writing", "builtins.open(path, 'w') while loading",
                _call("builtins", "open", str(target), "w"), "builtins.open", target)
    target = sentinel("numpy_savetxt")
    code_attack("numpy_savetxt", "numpy.savetxt(path, array) while loading",
                _call("numpy", "savetxt", str(target), _list(_json(1.0), _json(2.0))), "numpy.savetxt", target)
    target = sentinel("save_model")
    code_attack("save_model", "dermfeat.persistence.save_model(obj, path) while loading",
                _call("dermfeat.persistence", "save_model", _list(_json(1)), str(target)),
                "dermfeat.persistence.save_model", target)
    target = sentinel("os_system")
    code_attack("os_system", "os.system(shell command) while loading",
                _call("os", "system", f"{sys.executable} -c \"open({str(target)!r}, 'w')\""), "os.system", target)
    target = sentinel("subprocess")
    code_attack("subprocess", "subprocess.call([python, -c, code]) while loading",
                _call("subprocess", "call", _list(*[_json(a) for a in (sys.executable, "-c",
                                                                          f"open({str(target)!r}, 'w')")])),
                "subprocess.call", target)

    # a module whose import writes the sentinel: imported by name, or through importlib
    target = sentinel("import_side_effect")
    probe = f"_dermfeat_probe_{uuid.uuid4().hex[:12]}"
    (folder / f"{probe}.py").write_text(f"open({str(target)!r}, 'w').write('imported')\n")
    code_attack("import_side_effect", f"an object of a class in module {probe}, whose import writes a file",
                {"__class__": "Anything", "__module__": probe, "__loader__": "ObjectNode"}, f"{probe}.Anything",
                target)
    code_attack("importlib", f"importlib.import_module({probe!r}) while loading",
                _call("importlib", "import_module", probe), "importlib.import_module", target)

    # getattr trick: a bound method of an allowed type (ndarray.tofile) as a dict key type;
    # skops calls key types on the key, here the sentinel path
    target = sentinel("method_key_type")
    schema, entries = _read_skops(base)
    entries["evil.npy"] = _array_entry(np.arange(3.0))
    method = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "MethodNode",
              "content": {"func": "tofile", "obj": _array_node("evil.npy")}}
    add("method_key_type", "numpy.ndarray.tofile(path) through a bound method smuggled in as a dict key type",
        "unsafe", "numpy.ndarray.tofile (as MethodNode)",
        schema=_inject(schema, str(target), _json(1), key_type=method), entries=entries, sentinel=target)

    # getattr trick: os.system reached as getattr(__import__("os"), "system") -- only builtins named --
    # and used as a dict key type, so skops calls it on the key, here a shell command
    target = sentinel("getattr_import")
    schema, entries = _read_skops(base)
    system = _call("builtins", "getattr", _call("builtins", "__import__", "os"), "system")
    command = f"{sys.executable} -c \"open({str(target)!r}, 'w')\""
    add("getattr_import", "getattr(__import__('os'), 'system') as a dict key type: os.system(key) while loading",
        "unsafe", "builtins.getattr (as ConstructorFromReduceNode)",
        schema=_inject(schema, command, _json(1), key_type=system), entries=entries, sentinel=target)

    # a function stored in a pipeline step, called at prediction time
    target = sentinel("predict_time_function")
    schema, entries = _read_skops(base)
    spy = {"__class__": "FunctionTransformer", "__module__": "sklearn.preprocessing._function_transformer",
           "__loader__": "ObjectNode",
           "content": _dict(func=_function("dermfeat.persistence._models", "save_model"),
                            kw_args=_dict(path=_json(str(target))), validate=_json(False))}
    steps = next(_nodes(schema, ("Pipeline", "ImagePipeline")))["content"]["content"]["steps"]["content"]
    steps.insert(0, _tuple(_json("spy"), spy))
    add("predict_time_function", "a FunctionTransformer step calling save_model(images, path) at prediction time",
        "unsafe", "dermfeat.persistence._models.save_model (as FunctionNode)", schema=schema, entries=entries,
        sentinel=target)

    # an allowed class, but called as a constructor with arguments from the file
    schema, entries = _read_skops(base)
    add("ndarray_constructor", "numpy.ndarray((2**22, 2**22)): a 128 TiB allocation while loading", "unsafe",
        "numpy.ndarray (as ConstructorFromReduceNode)",
        schema=_inject(schema, "x", _call("numpy", "ndarray", _tuple(_json(2**22), _json(2**22)))), entries=entries)

    # ------------------------------------------------------------ archive attacks
    zeros = b"\0" * 2**20
    bomb = _deflate([zeros] * 16)
    base_bytes = base.read_bytes()
    with zipfile.ZipFile(base) as archive:
        members = [_stored(name, archive.read(name)) for name in archive.namelist()]
    add("zip_bomb", "one 16 KiB entry that inflates to 16 MiB (1000:1)", "too_large", "a zip bomb?")
    _raw_zip(models[-1].path, [*members, ("bomb.bin", bomb, zipfile.ZIP_DEFLATED, zlib.crc32(zeros * 16),
                                          len(zeros) * 16, 0)])
    one = _deflate(zeros)
    add("zip_bomb_many_entries", "300 entries of 1 KiB that inflate to 1 MiB each (300 MiB)", "too_large",
        "uncompressed content over the limit")
    _raw_zip(models[-1].path, [*members, *[(f"bomb{i}.bin", one, zipfile.ZIP_DEFLATED, zlib.crc32(zeros),
                                            len(zeros), 0) for i in range(300)]])
    add("size_lie", "an entry recorded as 1 kB whose stream inflates to 16 MiB", "damaged", "damaged array header")
    _raw_zip(models[-1].path, [*members, ("0.npy", bomb, zipfile.ZIP_DEFLATED, zlib.crc32(b"\0" * 1000), 1000, 0)])
    add("path_traversal", "an entry named ../../escape.txt", "unsafe", "unsafe entry name")
    _raw_zip(models[-1].path, [*members, _stored("../../escape.txt", b"escaped")])
    add("absolute_name", "an entry with an absolute path", "unsafe", "unsafe entry name")
    _raw_zip(models[-1].path, [*members, _stored("/absolute/escape.txt", b"absolute")])
    add("duplicate_entry", "a second schema.json after the real one (what a scanner reads is not what loads)",
        "unsafe", "appears twice")
    _raw_zip(models[-1].path, [*members, _stored("schema.json", b"{}")])
    add("encrypted_entry", "an entry flagged as encrypted", "unsafe", "is encrypted")
    _raw_zip(models[-1].path, [members[0], _stored("secret.bin", b"x" * 64, flags=1), *members[1:]])
    add("truncated", "the model file cut at 60 %", "truncated", "truncated", data=base_bytes[: len(base_bytes) * 3 // 5])
    add("not_a_zip", "text named .skops", "not_a_model", "neither a skops (zip) archive nor a pickle",
        data=b"this is not a model\n" * 20)
    add("foreign_zip", "a zip archive of other files (no schema.json)", "not_dermfeat", "without schema.json")
    _raw_zip(models[-1].path, [_stored("readme.txt", b"hello")])
    schema, entries = _read_skops(base)
    inner = {**schema["content"]["estimator"], "protocol": schema["protocol"]}
    add("wrong_inner_schema", "a skops file whose payload is not an estimator with metadata", "not_dermfeat",
        "not a model saved by dermfeat", schema=inner, entries=entries)
    schema["content"]["estimator"] = _json("not an estimator")
    add("not_an_estimator", "the estimator replaced by a string", "not_dermfeat", "not an estimator",
        schema=schema, entries=entries)
    add("damaged_schema", "schema.json that is not JSON", "damaged", "damaged schema.json")
    _raw_zip(models[-1].path, [_stored("schema.json", b"{not json"), *[m for m in members if m[0] != "schema.json"]])
    target = sentinel("pickle")
    add("pickle_as_skops", "a pickle named .skops that calls open(path, 'w') when unpickled", "pickle",
        "allow_pickle=True", data=pickle.dumps(_OpenForWriting(target), protocol=4), sentinel=target)

    # ------------------------------------------------------------ array attacks
    schema, entries = _read_skops(base)
    array_file = next(n["file"] for n in _nodes(schema) if n.get("__loader__") == "NdArrayNode" and "file" in n)
    lie = io.BytesIO()
    np.lib.format.write_array_header_1_0(lie, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    entries[array_file] = lie.getvalue() + b"\0" * 8
    add("array_header_lie", "an array whose header claims 8 TiB of data", "truncated", "array header announces",
        schema=schema, entries=entries)
    schema, entries = _read_skops(base)
    entries[array_file] = _array_entry(np.array([print, {"a": 1}], dtype=object))
    add("object_array", "an array of Python objects (loading it would unpickle)", "unsafe",
        "array of Python objects", schema=schema, entries=entries)

    # ------------------------------------------------------------ fitted values out of range
    def edit_tree(nodes):
        inner = np.flatnonzero(nodes["is_leaf"] == 0)
        nodes["left"][inner[0]] = 10**6
        return nodes

    schema, entries = _read_skops(trees)
    _edit_array(schema, entries, "TreePredictor", "nodes", edit_tree)
    add("tree_out_of_range", "a boosted tree whose child index points 1,000,000 nodes away", "unsafe",
        "tree node left child out of range", schema=schema, entries=entries)
    schema, entries = _read_skops(trees)
    _edit_array(schema, entries, "KDTree", 1, lambda idx: idx + 10**6)
    add("kdtree_out_of_range", "a KD-tree whose sample indices point outside its data", "unsafe",
        "tree sample index out of range", schema=schema, entries=entries)
    schema, entries = _read_skops(svm)
    _edit_array(schema, entries, "SVC", "_dual_coef_", lambda coef: np.ascontiguousarray(coef[:, :1]))
    add("svm_coefficients", "an SVM with one dual coefficient for all its support vectors (libsvm reads past it)",
        "unsafe", "dual coefficients have the wrong shape", schema=schema, entries=entries)

    # ------------------------------------------------------------ not model files at all
    add("missing", "a path that does not exist", "missing", "no such file")
    add("empty", "an empty file", "empty", "empty file", data=b"")
    (folder / "folder.skops").mkdir(exist_ok=True)
    models.append(MaliciousModel("folder", folder / "folder.skops", "a folder named like a model", "not_a_file",
                                 "is a folder"))
    if hasattr(os, "mkfifo"):
        fifo = folder / "named_pipe.skops"
        if not fifo.exists():
            os.mkfifo(fifo)
        models.append(MaliciousModel("named_pipe", fifo, "a named pipe: reading it would block forever",
                                     "not_a_file", "not a regular file"))
    for path in (base, trees, svm):
        path.unlink()
    return models
