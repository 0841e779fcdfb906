"""A deterministic tiny ONNX backbone, written with the ``onnx`` package.

For tests, doctests and examples of :class:`~dermfeat.features.OnnxEmbedder`
that must not depend on a real pretrained model file: the model is built at run
time (nothing is committed or downloaded), is a few kilobytes, and runs in
microseconds.  Its weights are random but fixed, so its file and its SHA-256 are
the same on every run with the same ``onnx`` version.

Graph: ``input`` (batch, 3, H, W) -> Conv 3x3 stride 2 (3 -> ``n_features``) ->
ReLU -> global average pool -> ``embedding`` (batch, ``n_features``) -> Gemm ->
``logits`` (batch, 3).  ``layout="NHWC"`` adds a leading transpose so that the
input is (batch, H, W, 3).  ``tokens=True`` adds a third output, ``tokens``
(batch, H/2 * W/2, ``n_features``): the convolution's output before the ReLU,
one signed "patch token" per output pixel, row by row, like a ViT's patch tokens.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..utils._files import atomic_write

_lock = threading.Lock()
_written = {}


def tiny_onnx_model_bytes(*, n_features=8, image_size=None, layout="NCHW", input_name="input",
                          n_logits=3, seed=0, tokens=False):
    """Serialise the tiny backbone to ``bytes``.

    Parameters
    ----------
    n_features : int, default=8
        Width of the ``embedding`` output.
    image_size : int or None, default=None
        Fixed square input size; ``None`` accepts any height and width.
    layout : {"NCHW", "NHWC"}, default="NCHW"
        Input layout.
    input_name : str, default="input"
        Name of the graph input.
    n_logits : int, default=3
        Width of the ``logits`` output.
    seed : int, default=0
        Seed of the fixed random weights.
    tokens : bool, default=False
        Also output ``tokens``, ``(batch, patches, n_features)``.

    Returns
    -------
    model : bytes
        A valid ONNX model (opset 17, IR version 8).

    Raises
    ------
    ImportError
        If the ``onnx`` package is not installed (``pip install dermfeat[onnx]``).
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:  # pragma: no cover - onnx is in the dev/onnx extras
        raise ImportError(
            "building the tiny test ONNX model needs the 'onnx' package: pip install dermfeat[onnx]"
        ) from exc
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    rng = np.random.default_rng(seed)
    conv_w = (rng.standard_normal((n_features, 3, 3, 3)) * 0.4).astype(np.float32)
    conv_b = (rng.standard_normal(n_features) * 0.1).astype(np.float32)
    fc_w = (rng.standard_normal((n_features, n_logits)) * 0.3).astype(np.float32)
    fc_b = np.zeros(n_logits, dtype=np.float32)
    side = "height" if image_size is None else image_size
    width = "width" if image_size is None else image_size
    shape = ["batch", 3, side, width] if layout == "NCHW" else ["batch", side, width, 3]
    nodes = []
    first = input_name
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [input_name], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    nodes += [
        helper.make_node("Conv", [first, "conv_w", "conv_b"], ["conv"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1),
        helper.make_node("Gemm", ["embedding", "fc_w", "fc_b"], ["logits"]),
    ]
    outputs = [
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", n_features]),
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_logits]),
    ]
    initializers = [
        numpy_helper.from_array(conv_w, "conv_w"),
        numpy_helper.from_array(conv_b, "conv_b"),
        numpy_helper.from_array(fc_w, "fc_w"),
        numpy_helper.from_array(fc_b, "fc_b"),
    ]
    if tokens:
        initializers.append(numpy_helper.from_array(np.array([0, n_features, -1], dtype=np.int64), "token_shape"))
        nodes += [
            helper.make_node("Reshape", ["conv", "token_shape"], ["conv_flat"]),
            helper.make_node("Transpose", ["conv_flat"], ["tokens"], perm=[0, 2, 1]),
        ]
        outputs.append(helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["batch", "patches", n_features]))
    graph = helper.make_graph(nodes, "dermfeat_tiny_backbone",
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, shape)], outputs,
                              initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="dermfeat-tiny")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_tiny_onnx_model(path=None, **kwargs):
    """Write the tiny backbone to ``path`` (or a content-addressed temporary file).

    Parameters
    ----------
    path : str, path-like or None, default=None
        Where to write.  ``None`` writes once per process into
        ``<tempdir>/dermfeat-tiny-onnx/tiny-<sha256 prefix>.onnx`` and reuses
        the file on later calls (the name is its content hash, so a stale or
        foreign file is never picked up).
    **kwargs
        Passed to :func:`tiny_onnx_model_bytes`.

    Returns
    -------
    path : str

    Examples
    --------
    >>> import os
    >>> from dermfeat.features._onnx_tiny import write_tiny_onnx_model
    >>> path = write_tiny_onnx_model(n_features=4)
    >>> path.endswith(".onnx") and os.path.getsize(path) < 10_000
    True
    """
    data = tiny_onnx_model_bytes(**kwargs)
    digest = hashlib.sha256(data).hexdigest()
    if path is not None:
        Path(path).write_bytes(data)
        return os.fspath(path)
    with _lock:
        known = _written.get(digest)
        if known is not None and _has_content(known, digest):
            return known
        folder = Path(tempfile.gettempdir()) / "dermfeat-tiny-onnx"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"tiny-{digest[:16]}.onnx"
        if not _has_content(target, digest):
            atomic_write(target, data, durable=False)
        _written[digest] = os.fspath(target)
        return _written[digest]


def _has_content(path, digest):
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest
    except OSError:
        return False


def tiny_embedder_test_params():
    """Cheap :class:`~dermfeat.features.OnnxEmbedder` settings on tiny models, for the estimator checks.

    Between them they cover both layouts and channel orders, every test-time
    augmentation, the whole-photograph view and token pooling.
    """
    return [
        {"model": write_tiny_onnx_model(), "resize_short_side": 40, "center_crop": 32, "batch_size": 3,
         "n_threads": 1},
        {"model": write_tiny_onnx_model(layout="NHWC", image_size=24, seed=1), "resize_short_side": 28,
         "channel_order": "BGR", "tta_flip": True, "tta_crops": 5, "batch_size": 2, "n_threads": 1},
        {"model": write_tiny_onnx_model(tokens=True, seed=2), "output_name": "tokens", "pooling": "lesion",
         "resize_short_side": 40, "center_crop": 32, "view": "pad", "tta_flip": True, "batch_size": 3,
         "n_threads": 1},
    ]
