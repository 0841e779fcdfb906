"""save_model / load_model: identical predictions, model files checked by SHA-256."""

import shutil

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dermfeat import ModelMismatchError
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx_tiny import tiny_onnx_model_bytes
from dermfeat.persistence import load_model, required_model_files, save_model
from tests.base.test_image_transformer import MeanColour


@pytest.fixture()
def onnx_pipeline(tmp_path, lesion_data):
    model = tmp_path / "models" / "tiny.onnx"
    model.parent.mkdir()
    model.write_bytes(tiny_onnx_model_bytes(n_features=6))
    pipe = make_pipeline(
        OnnxEmbedder(model=str(model), resize_short_side=32, center_crop=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        LogisticRegression(max_iter=1000),
    )
    return pipe.fit(lesion_data.images, lesion_data.labels), model


def test_roundtrip_identical_predictions(tmp_path, lesion_data):
    pipe = make_pipeline(MeanColour(), LogisticRegression(max_iter=1000)).fit(lesion_data.images, lesion_data.labels)
    path = save_model(pipe, tmp_path / "m.skops", metadata={"threshold": 0.5})
    loaded, meta = load_model(path, trusted=["tests.base.test_image_transformer.MeanColour"])
    np.testing.assert_array_equal(loaded.predict_proba(lesion_data.images), pipe.predict_proba(lesion_data.images))
    assert meta["threshold"] == 0.5 and meta["classes"] == ["atopic_dermatitis", "eczema"]


def test_untrusted_types_refused(tmp_path, lesion_data):
    pipe = make_pipeline(MeanColour(), LogisticRegression()).fit(lesion_data.images, lesion_data.labels)
    path = save_model(pipe, tmp_path / "m.skops")
    with pytest.raises(ValueError, match="not trusted: tests.base.test_image_transformer.MeanColour"):
        load_model(path)


def test_pickle_only_on_request(tmp_path, lesion_data):
    pipe = make_pipeline(MeanColour(), LogisticRegression()).fit(lesion_data.images, lesion_data.labels)
    path = save_model(pipe, tmp_path / "m.pkl", format="pickle")
    with pytest.raises(ValueError, match="allow_pickle=True"):
        load_model(path)
    with pytest.warns(UserWarning, match="only do this for files you trust"):
        loaded, _ = load_model(path, allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(lesion_data.images), pipe.predict(lesion_data.images))


def test_embedding_model_recorded_and_checked(tmp_path, onnx_pipeline, lesion_data):
    pipe, model = onnx_pipeline
    files = required_model_files(pipe)
    assert [f["file"] for f in files] == ["tiny.onnx"] and len(files[0]["sha256"]) == 64
    path = save_model(pipe, tmp_path / "m.skops")
    loaded, meta = load_model(path)
    assert meta["model_files"] == files
    expected = pipe.predict_proba(lesion_data.images[:5])
    np.testing.assert_allclose(loaded.predict_proba(lesion_data.images[:5]), expected)

    # moved: found by name in model_dir
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(model, moved / "tiny.onnx")
    with pytest.raises(FileNotFoundError, match=r"needs the embedding model file tiny.onnx \(SHA-256"):
        load_model(path)
    loaded, _ = load_model(path, model_dir=moved)
    np.testing.assert_allclose(loaded.predict_proba(lesion_data.images[:5]), expected)

    # replaced by another model: refused
    (moved / "tiny.onnx").write_bytes(tiny_onnx_model_bytes(n_features=6, seed=1))
    with pytest.raises(ModelMismatchError, match="differs from"):
        load_model(path, model_dir=moved)


def test_bad_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        save_model(LogisticRegression(), tmp_path / "x", format="json")


def test_zoo_model_survives_a_new_cache(tmp_path, monkeypatch, lesion_data):
    """A saved pipeline with a dermfeat.zoo model loads where the zoo cache is elsewhere."""
    from dermfeat import zoo

    if not zoo.is_available("efficientnet-lite0"):
        pytest.skip("the zoo-efficientnet extra is not installed")
    monkeypatch.setenv("DERMFEAT_HOME", str(tmp_path / "home1"))
    pipe = make_pipeline(OnnxEmbedder("efficientnet-lite0"), LogisticRegression(max_iter=1000))
    pipe.fit(lesion_data.images[:20], lesion_data.labels[:20])
    expected = pipe.predict_proba(lesion_data.images[:3])
    path = save_model(pipe, tmp_path / "zoo.skops")
    shutil.rmtree(tmp_path / "home1")
    monkeypatch.setenv("DERMFEAT_HOME", str(tmp_path / "home2"))  # another machine's cache
    loaded, _ = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(lesion_data.images[:3]), expected, atol=1e-6)
