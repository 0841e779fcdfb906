"""EfficientNet-Lite0 and -Lite2 as ONNX graphs, written from a PyTorch state dict with the ``onnx`` package.

The checkpoints use the ``_conv_stem`` / ``_blocks.<i>`` / ``_conv_head`` / ``_fc``
parameter names of the common PyTorch EfficientNet port.  EfficientNet-Lite
differs from EfficientNet in three ways that matter here: no squeeze-and-
excitation, ReLU6 instead of swish, and a stem (32 channels) and head (1280
channels) that are not scaled with the width.

A variant is EfficientNet-B0's stage table scaled as TensorFlow's
``efficientnet_lite_builder`` scales it (:func:`lite_stages`): widths by the
width multiplier, rounded to multiples of 8 (never more than 10 % down), and
the repeats of every stage but the first and the last by the depth
multiplier, rounded up.  The layer list is read from the state dict (which
blocks have an expansion convolution, kernel sizes, channel counts); what the
weights cannot tell, the strides, comes from the variant's stage table, and the
stages found in the checkpoint must match that table exactly.  Convolutions use
TensorFlow's ``SAME`` padding for the variant's fixed input size (the extra
pixel of an odd padding goes to the bottom/right), as the checkpoints were
trained with.  BatchNormalization (epsilon 1e-3) is folded into the preceding
convolution in float64.
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = ["LITE0_STAGES", "VARIANTS", "build_efficientnet_lite", "build_efficientnet_lite0", "lite_stages"]

#: EfficientNet-B0's stages, which every Lite variant scales:
#: (kernel, stride of the first block, expansion, output channels, repeats).
B0_STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
#: Lite variant -> (width multiplier, depth multiplier, input size), as in TensorFlow's
#: ``efficientnet_lite_builder.efficientnet_lite_params``.
VARIANTS = {"lite0": (1.0, 1.0, 224), "lite2": (1.1, 1.2, 260)}
STEM_CHANNELS, HEAD_CHANNELS, WIDTH_DIVISOR = 32, 1280, 8
BN_EPSILON = 1e-3
OPSET = 17


def _variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return VARIANTS[variant]


def _round_filters(channels, width):
    """Channels scaled by ``width``, rounded to a multiple of 8 and never more than 10 % down."""
    scaled = channels * width
    rounded = max(WIDTH_DIVISOR, int(scaled + WIDTH_DIVISOR / 2) // WIDTH_DIVISOR * WIDTH_DIVISOR)
    return int(rounded + WIDTH_DIVISOR if rounded < 0.9 * scaled else rounded)


def lite_stages(variant):
    """The stage table of an EfficientNet-Lite variant.

    Parameters
    ----------
    variant : {"lite0", "lite2"}
        A key of :data:`VARIANTS`.

    Returns
    -------
    stages : tuple of (kernel, stride, expansion, output channels, repeats)
        :data:`B0_STAGES` with the widths scaled and the repeats of the inner
        stages deepened (the first and last stages are kept, as the stem and
        the head are in the Lite models).

    Examples
    --------
    >>> from dermfeat.zoo._efficientnet import lite_stages
    >>> [(channels, repeats) for _, _, _, channels, repeats in lite_stages("lite2")]
    [(16, 1), (24, 3), (48, 3), (88, 4), (120, 4), (208, 5), (352, 1)]
    """
    width, depth, _ = _variant(variant)
    last = len(B0_STAGES) - 1
    return tuple(
        (kernel, stride, expansion, _round_filters(channels, width),
         repeats if s in (0, last) else int(math.ceil(depth * repeats)))
        for s, (kernel, stride, expansion, channels, repeats) in enumerate(B0_STAGES)
    )


#: Lite0's stages (B0's, unscaled).
LITE0_STAGES = lite_stages("lite0")


def _same_pads(size, kernel, stride):
    """TensorFlow ``SAME`` padding of one spatial axis: ``(begin, end, output size)``."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def _fold(state, conv, bn):
    """Conv weight and BatchNorm (eps 1e-3) folded into one float32 weight and bias."""
    weight = state[f"{conv}.weight"].astype(np.float64)
    bias = state.get(f"{conv}.bias")
    bias = np.zeros(weight.shape[0]) if bias is None else bias.astype(np.float64)
    gamma, beta = state[f"{bn}.weight"].astype(np.float64), state[f"{bn}.bias"].astype(np.float64)
    mean, var = state[f"{bn}.running_mean"].astype(np.float64), state[f"{bn}.running_var"].astype(np.float64)
    if not (gamma.shape == beta.shape == mean.shape == var.shape == (weight.shape[0],)):
        raise ValueError(f"{bn}: BatchNorm parameters do not match {conv} ({weight.shape[0]} channels)")
    factor = gamma / np.sqrt(var + BN_EPSILON)
    folded_w = weight * factor.reshape((-1,) + (1,) * (weight.ndim - 1))
    folded_b = (bias - mean) * factor + beta
    return folded_w.astype(np.float32), folded_b.astype(np.float32)


def _block_layout(state, variant):
    """The blocks found in the checkpoint, checked against the variant's :func:`lite_stages`.

    Returns a list of dicts: ``index``, ``in``, ``out``, ``expanded``, ``kernel``,
    ``stride``, ``expand`` (whether there is a 1x1 expansion convolution).
    """
    stages, label = lite_stages(variant), variant.capitalize()
    indices = sorted({int(m.group(1)) for k in state for m in [re.match(r"_blocks\.(\d+)\.", k)] if m})
    expected_blocks = sum(stage[4] for stage in stages)
    if indices != list(range(expected_blocks)):
        raise ValueError(f"expected blocks 0..{expected_blocks - 1} in the checkpoint (EfficientNet-{label}), "
                         f"found {len(indices)} blocks")
    extra = [k for k in state if re.match(r"_blocks\.\d+\._se_", k)]
    if extra:
        raise ValueError("the checkpoint has squeeze-and-excitation weights: it is not an EfficientNet-Lite model")
    stem = state["_conv_stem.weight"]
    if stem.shape != (STEM_CHANNELS, 3, 3, 3):
        raise ValueError(f"stem convolution has shape {stem.shape}, expected {(STEM_CHANNELS, 3, 3, 3)}")
    blocks, channels, i = [], STEM_CHANNELS, 0
    for s, (kernel, stride, expansion, out_channels, repeats) in enumerate(stages):
        for r in range(repeats):
            prefix = f"_blocks.{i}"
            dw = state[f"{prefix}._depthwise_conv.weight"]
            project = state[f"{prefix}._project_conv.weight"]
            expand = f"{prefix}._expand_conv.weight" in state
            expanded = channels * expansion
            if expand != (expansion != 1):
                raise ValueError(f"block {i}: expansion convolution {'present' if expand else 'missing'}, "
                                 f"but stage {s + 1} of {label} has expansion ratio {expansion}")
            if expand and state[f"{prefix}._expand_conv.weight"].shape != (expanded, channels, 1, 1):
                raise ValueError(f"block {i}: expansion convolution has shape "
                                 f"{state[f'{prefix}._expand_conv.weight'].shape}, expected {(expanded, channels, 1, 1)}")
            if dw.shape != (expanded, 1, kernel, kernel):
                raise ValueError(f"block {i}: depthwise convolution has shape {dw.shape}, "
                                 f"expected {(expanded, 1, kernel, kernel)} (stage {s + 1} of {label})")
            if project.shape != (out_channels, expanded, 1, 1):
                raise ValueError(f"block {i}: projection has shape {project.shape}, "
                                 f"expected {(out_channels, expanded, 1, 1)}")
            blocks.append({"index": i, "in": channels, "out": out_channels, "expanded": expanded,
                           "kernel": kernel, "stride": stride if r == 0 else 1, "expand": expand})
            channels, i = out_channels, i + 1
    head = state["_conv_head.weight"]
    if head.shape != (HEAD_CHANNELS, channels, 1, 1):
        raise ValueError(f"head convolution has shape {head.shape}, expected {(HEAD_CHANNELS, channels, 1, 1)}")
    if state["_fc.weight"].shape[1] != HEAD_CHANNELS:
        raise ValueError(f"classifier has shape {state['_fc.weight'].shape}, expected (classes, {HEAD_CHANNELS})")
    return blocks


class _Graph:
    """A small helper that accumulates ONNX nodes and initializers."""

    def __init__(self):
        self.nodes, self.initializers = [], []

    def constant(self, name, array):
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def conv(self, name, x, weight, bias, *, stride=1, size=None, group=1):
        from onnx import helper

        kernel = weight.shape[-1]
        pads = [0, 0, 0, 0]
        out = size
        if kernel > 1 or stride > 1:
            begin, end, out = _same_pads(size, kernel, stride)
            pads = [begin, begin, end, end]
        w = self.constant(f"{name}.weight", weight)
        b = self.constant(f"{name}.bias", bias)
        self.nodes.append(helper.make_node(
            "Conv", [x, w, b], [f"{name}.out"], name=name, kernel_shape=[kernel, kernel],
            strides=[stride, stride], pads=pads, group=group, dilations=[1, 1],
        ))
        return f"{name}.out", out


def build_efficientnet_lite(state, variant="lite0", *, producer_version="1"):
    """The EfficientNet-Lite ONNX model of a state dict.

    Parameters
    ----------
    state : mapping of str to ndarray
        The checkpoint, e.g. from :func:`~dermfeat.zoo._torch_state.load_state_dict`.
    variant : {"lite0", "lite2"}, default="lite0"
        Which network the checkpoint holds (a key of :data:`VARIANTS`): its
        stage table and input size.
    producer_version : str, default="1"
        Recorded in the model (the zoo's builder version).

    Returns
    -------
    model : onnx.ModelProto
        Input ``input`` ``(batch, 3, size, size)`` float32 RGB (224 for Lite0,
        260 for Lite2); outputs ``embedding`` ``(batch, 1280)`` (global average
        of the head) and ``logits`` ``(batch, classes)``.

    Raises
    ------
    ValueError
        If the variant is unknown, or the checkpoint is not that variant (the
        message names the first layer that differs).

    Examples
    --------
    >>> from dermfeat.zoo._efficientnet import _same_pads
    >>> _same_pads(224, 3, 2), _same_pads(56, 5, 2), _same_pads(14, 5, 1)
    ((0, 1, 112), (1, 2, 28), (2, 2, 14))
    >>> _same_pads(260, 3, 2), _same_pads(65, 5, 2)
    ((0, 1, 130), (2, 2, 33))
    """
    from onnx import TensorProto, checker, helper

    image_size = _variant(variant)[2]
    blocks = _block_layout(state, variant)
    bad = [k for k, v in state.items() if np.issubdtype(v.dtype, np.floating) and not np.all(np.isfinite(v))]
    if bad:
        raise ValueError(f"the checkpoint holds non-finite weights ({', '.join(bad[:3])})")
    g = _Graph()
    g.constant("relu6.min", np.array(0.0, dtype=np.float32))
    g.constant("relu6.max", np.array(6.0, dtype=np.float32))

    def clip(name, x):
        g.nodes.append(helper.make_node("Clip", [x, "relu6.min", "relu6.max"], [f"{name}.out"], name=name))
        return f"{name}.out"

    x, size = g.conv("stem.conv", "input", *_fold(state, "_conv_stem", "_bn0"), stride=2, size=image_size)
    x = clip("stem.relu6", x)
    for block in blocks:
        p, name = f"_blocks.{block['index']}", f"blocks.{block['index']}"
        inp = x
        if block["expand"]:
            x, size = g.conv(f"{name}.expand", x, *_fold(state, f"{p}._expand_conv", f"{p}._bn0"), size=size)
            x = clip(f"{name}.expand_relu6", x)
        x, size = g.conv(f"{name}.depthwise", x, *_fold(state, f"{p}._depthwise_conv", f"{p}._bn1"),
                         stride=block["stride"], size=size, group=block["expanded"])
        x = clip(f"{name}.depthwise_relu6", x)
        x, size = g.conv(f"{name}.project", x, *_fold(state, f"{p}._project_conv", f"{p}._bn2"), size=size)
        if block["stride"] == 1 and block["in"] == block["out"]:
            g.nodes.append(helper.make_node("Add", [x, inp], [f"{name}.residual.out"], name=f"{name}.residual"))
            x = f"{name}.residual.out"
    x, size = g.conv("head.conv", x, *_fold(state, "_conv_head", "_bn1"), size=size)
    x = clip("head.relu6", x)
    g.nodes.append(helper.make_node("ReduceMean", [x], ["embedding"], name="head.pool", axes=[2, 3], keepdims=0))
    fc_w = g.constant("fc.weight", state["_fc.weight"].astype(np.float32))
    fc_b = g.constant("fc.bias", state["_fc.bias"].astype(np.float32))
    g.nodes.append(helper.make_node("Gemm", ["embedding", fc_w, fc_b], ["logits"], name="fc", transB=1))

    n_classes = int(state["_fc.weight"].shape[0])
    graph = helper.make_graph(
        g.nodes, f"efficientnet_{variant}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, image_size, image_size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HEAD_CHANNELS]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_classes])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="dermfeat.zoo", producer_version=str(producer_version))
    model.ir_version = 8
    checker.check_model(model)
    return model


def build_efficientnet_lite0(state, *, producer_version="1"):
    """``build_efficientnet_lite(state, "lite0")``: see :func:`build_efficientnet_lite`.

    Examples
    --------
    >>> from dermfeat.zoo._efficientnet import LITE0_STAGES
    >>> sum(repeats for *_, repeats in LITE0_STAGES)
    16
    """
    return build_efficientnet_lite(state, "lite0", producer_version=producer_version)
