"""Every name a skops file would import or call is listed, with the node kind that would use it."""

import json
import zipfile

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dermfeat import InvalidModelError
from dermfeat.persistence import load_model, save_model
from dermfeat.persistence._audit import UnknownNodeError, names_used
from dermfeat.persistence._skops import refused_names


@pytest.fixture()
def saved(tmp_path):
    clf = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), ["a", "a", "b", "b"])
    path = save_model(clf, tmp_path / "m.skops", metadata={"rng": np.random.default_rng(0), "part": slice(1, 3)})
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    return path, json.loads(entries.pop("schema.json")), entries


def _rewrite(path, schema, entries):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _metadata_node(schema, key):
    return schema["content"]["metadata"]["content"][key]


def test_names_of_a_saved_model(saved):
    from skops.io._audit import get_tree
    from skops.io._utils import read_schema

    path, _, _ = saved
    with zipfile.ZipFile(path) as archive:
        schema, context = read_schema(archive)
        found = names_used(get_tree(schema, context, trusted=None))
    assert found["sklearn.linear_model._logistic.LogisticRegression"] == {"ObjectNode"}
    assert found["numpy.ndarray"] == {"NdArrayNode"} and found["builtins.slice"] == {"SliceNode"}
    assert found["numpy.random.PCG64"] == {"RandomGeneratorNode"}
    loaded, meta = load_model(path)
    assert meta["part"] == slice(1, 3) and isinstance(meta["rng"], np.random.Generator)


def test_refused_names_format():
    found = {"a.B": {"ObjectNode"}, "numpy.ndarray": {"NdArrayNode", "ListNode"}, "c.d": {"FunctionNode"}}
    allowed = {"numpy.ndarray": frozenset({"NdArrayNode"})}
    assert refused_names(found, set(), allowed) == ["a.B", "c.d (as FunctionNode)", "numpy.ndarray (as ListNode)"]
    assert refused_names(found, {"a.B", "c.d", "numpy.ndarray"}, allowed) == []


def test_bit_generator_name_is_audited(saved, tmp_path):
    """A numpy.random attribute named in a Generator's state would be called: it must be allowed."""
    path, schema, entries = saved
    state = _metadata_node(schema, "rng")["content"]["bit_generator"]["content"]["bit_generator"]
    state["content"] = json.dumps("seed")
    with pytest.raises(InvalidModelError, match=r"not trusted: numpy.random.seed \(as RandomGeneratorNode\)"):
        load_model(_rewrite(tmp_path / "g.skops", schema, entries))


def test_old_protocol_function_is_audited_by_its_real_name(saved, tmp_path):
    """Claiming protocol 0 selects skops' old FunctionNode, which reads the function from its content."""
    path, schema, entries = saved
    schema["protocol"] = 0
    metadata = schema["content"]["metadata"]
    index = list(metadata["content"]).index("rng")  # protocol 0 Generators are refused on their own
    del metadata["content"]["rng"], metadata["key_types"]["content"][index]
    schema["content"]["metadata"]["content"]["f"] = {
        "__class__": "str", "__module__": "builtins", "__loader__": "FunctionNode",
        "content": {"module_path": "os", "function": "system"}}
    schema["content"]["metadata"]["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"})
    with pytest.raises(InvalidModelError, match=r"not trusted: .*os.system \(as FunctionNode\)"):
        load_model(_rewrite(tmp_path / "old.skops", schema, entries))


def test_allowed_class_in_another_role_is_refused(saved, tmp_path):
    path, schema, entries = saved
    _metadata_node(schema, "part")["__loader__"] = "ListNode"  # slice called with a list
    _metadata_node(schema, "part")["content"] = []
    with pytest.raises(InvalidModelError, match=r"builtins.slice \(as ListNode\)"):
        load_model(_rewrite(tmp_path / "role.skops", schema, entries))


def test_unknown_node_kind_is_refused():
    from skops.io._audit import Node

    class NewNode(Node):
        def __init__(self):
            self.class_name, self.module_name, self.children = "X", "y", {}

    with pytest.raises(UnknownNodeError, match="unsupported skops node kind NewNode"):
        names_used(NewNode())
