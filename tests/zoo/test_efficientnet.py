"""EfficientNet-Lite0 built from the weights package: the same network as the shared reference."""

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
from dermfeat.zoo._efficientnet import build_efficientnet_lite0
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
