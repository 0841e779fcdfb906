"""quantize_model on the tiny test backbone: cards, hashes, reproducibility, checks, errors."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from dermfeat import InvalidImageError, ModelMismatchError
from dermfeat.base import content_hash
from dermfeat.datasets import make_lesion_images
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx_tiny import write_tiny_onnx_model
from dermfeat.zoo import default_calibration_images, quantize_model
from dermfeat.zoo._quantize import _activation_products

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

PRE = {"resize_short_side": 40, "center_crop": 32}


@pytest.fixture(scope="module")
def images():
    return make_lesion_images(25, image_size=48, random_state=3).images


@pytest.fixture()
def tiny(tmp_path):
    """The tiny model and its card, in a folder of their own."""
    model = tmp_path / "tiny.onnx"
    write_tiny_onnx_model(model)
    card = {"name": "tiny", "file": "tiny.onnx", "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
            "kind": "a test backbone", "input": {"name": "input", "layout": "NCHW", "channels": "RGB"},
            "preprocessing": {**PRE, "scale": "x/255", "mean": [0.5] * 3, "std": [0.25] * 3},
            "outputs": {"embedding": ["batch", 8], "logits": ["batch", 3]}, "checks": "float32 only"}
    (tmp_path / "tiny.json").write_text(json.dumps(card))
    return tmp_path / "tiny.json"


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_card_records_how_the_model_was_made(tiny, images, tmp_path):
    card_path = quantize_model(tiny, images, tmp_path / "out" / "tiny_int8.onnx")
    assert card_path == tmp_path / "out" / "tiny_int8.json"
    card = json.loads(card_path.read_text())
    model = tmp_path / "out" / "tiny_int8.onnx"
    assert card["name"] == "tiny-int8" and card["file"] == "tiny_int8.onnx" and card["sha256"] == _sha(model)
    assert card["precision"] == "int8" and "checks" not in card  # the float32 model's checks do not carry over
    assert card["kind"] == "a test backbone; int8-quantised"
    assert card["preprocessing"] == {**PRE, "scale": "x/255", "mean": [0.5] * 3, "std": [0.25] * 3}
    assert list(card["outputs"]) == ["embedding", "logits"]
    made = card["quantization"]
    assert made["method"] == "static" and made["format"] == "QDQ" and made["per_channel"] is True
    assert made["calibration_method"] == "MinMax" and made["excluded_nodes"] == []
    assert made["onnxruntime"] == ort.__version__ and made["onnx"] == onnx.__version__
    assert made["source"] == {"file": "tiny.onnx", "sha256": _sha(tmp_path / "tiny.onnx")}
    # 25 images: the 5 whose content hashes sort at positions 4, 9, ... are held out of calibration
    hashes = sorted(content_hash(image) for image in images)
    held_out = hashes[4::5]
    calibrated = [h for h in hashes if h not in held_out]

    def set_hash(part):
        return hashlib.sha256("\n".join(part).encode()).hexdigest()

    assert made["calibration"] == {"images": 20, "batch_size": 8, "sha256": set_hash(calibrated)}
    assert made["agreement"]["images"] == 5 and made["agreement"]["sha256"] == set_hash(held_out)
    assert "sorted" in made["image_hash"]
    for name in ("embedding", "logits"):
        cosine = made["agreement"]["cosine"][name]
        assert 0.99 < cosine["cosine_min"] <= cosine["cosine_mean"] <= 1.0
    # the int8 model is really quantised, and follows the float32 one
    ops = {node.op_type for node in onnx.load(str(model)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    fp32 = OnnxEmbedder.from_card(tiny).fit_transform(images)
    int8 = OnnxEmbedder.from_card(card_path).fit_transform(images)
    cos = np.sum(fp32 * int8, 1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(int8, axis=1)
    assert cos.min() > 0.99 and not np.array_equal(fp32, int8)


def test_same_bytes_from_the_same_images_in_any_order(tiny, images, tmp_path):
    first = quantize_model(tiny, images, tmp_path / "a" / "m.onnx")
    again = quantize_model(tiny, list(images[::-1]), tmp_path / "b" / "m.onnx")
    assert (tmp_path / "a" / "m.onnx").read_bytes() == (tmp_path / "b" / "m.onnx").read_bytes()
    assert first.read_bytes() == again.read_bytes()  # the whole card, agreement included
    other = quantize_model(tiny, images[:-1], tmp_path / "c" / "m.onnx")
    a, c = json.loads(first.read_text())["quantization"], json.loads(other.read_text())["quantization"]
    assert a["calibration"]["sha256"] != c["calibration"]["sha256"]


def test_paths_validation_images_and_an_embedder(tiny, images, tmp_path):
    folder = tmp_path / "photos"
    data = make_lesion_images(12, image_size=48, directory=folder, random_state=4)
    # the .onnx file: its card beside it is used; explicit validation images
    card_path = quantize_model(tmp_path / "tiny.onnx", data.filenames, tmp_path / "q1.onnx",
                               validation_images=images[:3])
    made = json.loads(card_path.read_text())["quantization"]
    assert made["calibration"]["images"] == 12 and made["agreement"]["images"] == 3
    files = sorted(content_hash(open(f, "rb").read()) for f in data.filenames)
    assert made["calibration"]["sha256"] == hashlib.sha256("\n".join(files).encode()).hexdigest()
    assert json.loads(card_path.read_text())["preprocessing"]["std"] == [0.25] * 3
    # an embedder: its own preprocessing is used and recorded; test-time augmentation is not
    embedder = OnnxEmbedder.from_card(tiny, resize_short_side=36, tta_flip=True)
    card = json.loads(quantize_model(embedder, images, tmp_path / "q2.onnx", name="mine").read_text())
    assert card["name"] == "mine" and card["preprocessing"]["resize_short_side"] == 36
    # no card anywhere: the embedder's defaults
    bare = tmp_path / "bare" / "model.onnx"
    bare.parent.mkdir()
    shutil.copy(tmp_path / "tiny.onnx", bare)
    card = json.loads(quantize_model(bare, images, tmp_path / "q3.onnx").read_text())
    assert card["name"] == "model-int8" and card["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    assert card["preprocessing"]["center_crop"] == 224 and card["input"]["shape"] == ["batch", 3, "height", "width"]


@pytest.mark.parametrize("calibrate_method", ["entropy", "percentile"])
def test_other_calibration_methods(tiny, images, tmp_path, calibrate_method):
    card = json.loads(quantize_model(tiny, images, tmp_path / "m.onnx", calibrate_method=calibrate_method,
                                     per_channel=False, batch_size=3).read_text())
    made = card["quantization"]
    assert made["calibration_method"] == calibrate_method.capitalize() and made["per_channel"] is False
    assert made["calibration"]["batch_size"] == 3  # an uneven last batch is fine
    assert made["agreement"]["cosine"]["embedding"]["cosine_mean"] > 0.99


def test_dynamic_quantisation_and_exclusions(tiny, images, tmp_path):
    card = json.loads(quantize_model(tiny, images, tmp_path / "d.onnx", method="dynamic").read_text())
    made = card["quantization"]
    assert made["method"] == "dynamic" and made["calibration"] is None and made["calibration_method"] is None
    assert made["agreement"]["images"] == 5  # nothing calibrated, a fifth measures the agreement
    ops = {node.op_type for node in onnx.load(str(tmp_path / "d.onnx")).graph.node}
    assert "ConvInteger" in ops or "DynamicQuantizeLinear" in ops
    card = json.loads(quantize_model(tiny, images, tmp_path / "x.onnx", exclude_op_types=["Gemm"]).read_text())
    excluded = card["quantization"]["excluded_nodes"]
    assert len(excluded) == 1 and card["quantization"]["excluded_op_types"] == ["Gemm"]
    graph = onnx.load(str(tmp_path / "x.onnx")).graph
    gemm = next(node for node in graph.node if node.op_type == "Gemm")
    producers = {out: node.op_type for node in graph.node for out in node.output}
    assert producers.get(gemm.input[0]) != "DequantizeLinear"  # the classifier stayed float32
    with pytest.raises(ValueError, match="no node named 'nope' to exclude"):
        quantize_model(tiny, images, tmp_path / "y.onnx", exclude_nodes=["nope"])


def test_activation_products():
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("MatMul", ["x", "w"], ["a"], name="linear"),
             helper.make_node("Transpose", ["a"], ["t"], name="t"),
             helper.make_node("MatMul", ["a", "t"], ["s"], name="scores"),
             helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.eye(4, dtype=np.float32))),
             helper.make_node("MatMul", ["s", "c"], ["o"], name="constant_weight")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
                              [helper.make_tensor_value_info("o", TensorProto.FLOAT, [4, 4])],
                              initializer=[numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")])
    assert _activation_products(graph) == {"scores"}


def test_the_card_hash_is_checked(tiny, images, tmp_path):
    card_path = quantize_model(tiny, images, tmp_path / "m.onnx")
    embedder = OnnxEmbedder.from_card(card_path).fit()
    model = tmp_path / "m.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ModelMismatchError, match="SHA-256"):
        embedder.transform(images[:1])
    with pytest.raises(ModelMismatchError, match="SHA-256"):
        OnnxEmbedder.from_card(card_path).fit()


def test_errors(tiny, images, tmp_path):
    with pytest.raises(ValueError, match="method must be one of static, dynamic"):
        quantize_model(tiny, images, tmp_path / "m.onnx", method="qat")
    with pytest.raises(ValueError, match="calibrate_method must be one of"):
        quantize_model(tiny, images, tmp_path / "m.onnx", calibrate_method="mse")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        quantize_model(tiny, images, tmp_path / "m.onnx", batch_size=0)
    with pytest.raises(TypeError, match="exclude_op_types must be a sequence of names"):
        quantize_model(tiny, images, tmp_path / "m.onnx", exclude_op_types="Gemm")
    with pytest.raises(ValueError, match="out is the int8 .onnx file to write"):
        quantize_model(tiny, images, tmp_path / "m.json")
    with pytest.raises(ValueError, match="must not be the float32 model itself"):
        quantize_model(tiny, images, tmp_path / "tiny.onnx")
    with pytest.raises(FileNotFoundError, match=r"missing.onnx.*model_card_path"):
        quantize_model(tmp_path / "missing.onnx", images, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="model must be a model card"):
        quantize_model(3, images, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="need at least 2 calibration images"):
        quantize_model(tiny, images[:1], tmp_path / "m.onnx")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photograph")
    with pytest.raises(InvalidImageError, match="bad.jpg: not a recognised image format"):
        quantize_model(tiny, [*images[:4], bad], tmp_path / "m.onnx")
    wrong = json.loads(tiny.read_text())
    wrong["sha256"] = "0" * 64
    tiny.write_text(json.dumps(wrong))
    with pytest.raises(ModelMismatchError):
        quantize_model(tiny, images, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_default_calibration_images_are_fixed():
    a, b = default_calibration_images(6, image_size=40), default_calibration_images(6, image_size=40)
    assert a.shape == (6, 40, 40, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert np.array_equal(a, make_lesion_images(6, image_size=40, random_state=0).images)


# ------------------------------------------------------------- the zoo's int8 models
@pytest.fixture(scope="module")
def small_zoo(tmp_path_factory):
    """A private zoo cache whose default calibration set has 10 images instead of 320 (quick builds)."""
    from dermfeat.zoo import _quantize

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DERMFEAT_HOME", str(tmp_path_factory.mktemp("int8_home")))
        mp.setattr(_quantize, "default_calibration_images", lambda **kw: default_calibration_images(10))
        yield


def _require(name):
    from dermfeat import zoo

    if not zoo.is_available(name):
        pytest.skip(f"the weights of {name!r} are not installed: {zoo.model_card(name)['pip_install']}")


@pytest.mark.parametrize("name", ["efficientnet-lite0-int8", "dinov2-small-int8"])
def test_zoo_int8_is_built_from_the_float32_model(name, small_zoo):
    from dermfeat import zoo

    _require(name)
    path = zoo.get_model(name)
    card = json.loads(zoo.model_card_path(name).read_text())
    fp32 = json.loads(zoo.model_card_path(name[:-len("-int8")]).read_text())
    assert card["name"] == name and card["precision"] == "int8" and card["sha256"] == _sha(path)
    assert card["builder"]["version"] == 1 and card["builder"]["source_sha256"] == fp32["builder"]["source_sha256"]
    made = card["quantization"]
    assert made["source"] == {"file": fp32["file"], "sha256": fp32["sha256"]}
    assert "default_calibration_images" in made["images"]
    if name.startswith("efficientnet"):
        assert made["method"] == "static" and made["calibration"]["images"] == 8
        assert made["agreement"]["images"] == 2
    else:
        assert made["method"] == "dynamic" and made["calibration"] is None and made["agreement"]["images"] == 2
        assert made["excluded_nodes"] and all("attention" in node for node in made["excluded_nodes"])
    assert card["preprocessing"] == fp32["preprocessing"] and card["outputs"] == fp32["outputs"]
    if made["method"] == "static":  # checked like the float32 models: a changed file is rebuilt, to the same bytes
        data = path.read_bytes()
        path.write_bytes(data[:-1])
        with pytest.warns(UserWarning, match="failed its integrity check"):
            zoo.get_model(name)
        assert path.read_bytes() == data
    embedder = OnnxEmbedder(name).fit()
    assert embedder.model_sha256_ == card["sha256"] and embedder.model_path_ == str(path)


@pytest.mark.parametrize("name", ["efficientnet-lite0-int8", "dinov2-small-int8"])
def test_zoo_int8_follows_float32_on_photographs(name, small_zoo, photographs):
    _require(name)
    int8 = OnnxEmbedder(name).fit_transform(photographs)
    fp32 = OnnxEmbedder(name[:-len("-int8")]).fit_transform(photographs)
    cos = np.sum(fp32 * int8, 1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(int8, axis=1)
    assert cos.mean() > 0.97 and cos.min() > 0.9, cos
