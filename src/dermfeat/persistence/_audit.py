"""What a skops file would import and call, read from its node tree before anything is built.

skops turns ``schema.json`` into a tree of nodes (``skops.io`` ``get_tree``) without
importing or creating anything, and builds the objects in a second step
(``construct``).  Every node kind resolves a name stored in the file and uses it in
its own way: ``ObjectNode`` creates an instance without calling ``__init__`` and
sets its state, ``ListNode``, ``SetNode``, ``ConstructorFromReduceNode``,
``NdArrayNode`` (for anything but ``numpy.ndarray``), ``DictNode``,
``RandomStateNode`` and the ``ReduceNode`` kinds *call* the named class with
arguments from the file, ``FunctionNode`` and ``TypeNode`` return the named
function or type, ``MethodNode`` looks up a method by a name from the file,
``RandomGeneratorNode`` calls a ``numpy.random`` attribute named inside its state,
``OperatorFuncNode`` builds ``operator.attrgetter``/``methodcaller`` objects.

:func:`names_used` lists, for each node, every such name together with the node
kind that would use it, so that the caller can check each pair against an
allow-list: a class allowed as an ``ObjectNode`` cannot be called as a
``ListNode``.  Node kinds that are not listed here (a future skops, a node of an
old protocol with a known hole) are refused rather than guessed at.
"""

from __future__ import annotations

import io

#: Node kinds whose own declared ``module.class`` is what they import and use.
_DECLARED = frozenset({
    "skops.io._general.DictNode",
    "skops.io._general.DefaultDictNode",
    "skops.io._general.ListNode",
    "skops.io._general.SetNode",
    "skops.io._general.TupleNode",
    "skops.io._general.BytesNode",
    "skops.io._general.BytearrayNode",
    "skops.io._general.SliceNode",
    "skops.io._general.PartialNode",
    "skops.io._general.TypeNode",
    "skops.io._general.ConstructorFromReduceNode",
    "skops.io._general.ObjectNode",
    "skops.io._general.OperatorFuncNode",
    "skops.io._numpy.NdArrayNode",
    "skops.io._numpy.MaskedArrayNode",
    "skops.io._numpy.DTypeNode",
    "skops.io._numpy.RandomStateNode",
    "skops.io._scipy.SparseMatrixNode",
    "skops.io._sklearn.LossNode",
    "skops.io._sklearn.TreeNode",
})
#: Function nodes: the function they return (``_get_function_name``), of the current and of protocol 0.
_FUNCTIONS = frozenset({"skops.io._general.FunctionNode", "skops.io.old._general_v0.FunctionNode"})
#: Bound methods: the owner's class and ``Class.method``.
_METHODS = frozenset({"skops.io._general.MethodNode"})
#: ``numpy.random.Generator``: the class and the bit generator named in the state (current and protocol 1).
_GENERATORS = frozenset({"skops.io._numpy.RandomGeneratorNode", "skops.io.old._numpy_v1.RandomGeneratorNode"})
#: Nodes that resolve nothing: JSON values; references to a node seen earlier (followed below).
_INERT = frozenset({"skops.io._general.JsonNode", "skops.io._audit.CachedNode"})

#: Every node kind this module knows how to read.
KNOWN_NODE_KINDS = _DECLARED | _FUNCTIONS | _METHODS | _GENERATORS | _INERT


class UnknownNodeError(ValueError):
    """A node kind :func:`names_used` does not know; the file is refused."""


def _kind(node):
    cls = type(node)
    return f"{cls.__module__}.{cls.__qualname__}"


def _own_names(node, kind):
    declared = f"{node.module_name}.{node.class_name}"
    if kind in _DECLARED:
        return [declared]
    if kind in _FUNCTIONS:
        return [node._get_function_name()]
    if kind in _METHODS:
        return [declared, f"{declared}.{node.func}"]
    if kind in _GENERATORS:
        return [declared, f"numpy.random.{node.bit_generator_name}"]
    return []


#: Nodes whose children are plain values from the file (``slice(start, stop, step)``), not nodes.
_LEAVES = frozenset({"skops.io._general.SliceNode"})


def _children(node, kind):
    """The child nodes (and bare types) of a node, as skops' own audit walks them."""
    if kind in _LEAVES:
        return
    for child in node.children.values():
        if child is None or isinstance(child, (str, io.BytesIO)):
            continue
        if isinstance(child, dict):
            child = list(child.values())
        if isinstance(child, list):
            for item in child:
                if not isinstance(item, str):  # protocol-0 functions keep their name as strings
                    yield item
        else:
            yield child
    cached = getattr(node, "cached", None)
    if cached is not None:
        yield cached


def names_used(tree):
    """Every name a skops node tree would import or call, with the node kinds using it.

    Parameters
    ----------
    tree : skops.io node
        The root returned by skops' ``get_tree`` (nothing constructed yet).

    Returns
    -------
    names : dict of str to set of str
        ``{"module.Class": {"ObjectNode", ...}}``; a bound method appears as
        ``"module.Class.method"``, a bare type child as kind ``"type"``.

    Raises
    ------
    UnknownNodeError
        For a node kind this module does not know.
    """
    from skops.io._audit import Node

    found = {}
    seen = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, type):
            found.setdefault(f"{node.__module__}.{node.__qualname__}", set()).add("type")
            continue
        if not isinstance(node, Node):
            raise UnknownNodeError(f"unexpected {type(node).__name__} in the object tree")
        kind = _kind(node)
        if kind not in KNOWN_NODE_KINDS:
            raise UnknownNodeError(f"unsupported skops node kind {type(node).__name__} ({kind})")
        for name in _own_names(node, kind):
            found.setdefault(name, set()).add(type(node).__name__)
        stack.extend(_children(node, kind))
    return found
