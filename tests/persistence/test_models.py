"""save_model / load_model: identical predictions, model files checked by SHA-256."""

import shutil
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dermfeat import ModelMismatchError
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx_tiny import tiny_onnx_model_bytes
from dermfeat.persistence import load_model, required_model_files, save_model
from tests._helpers import MeanColour


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
    loaded, meta = load_model(path, trusted=["tests._helpers.MeanColour"])
    np.testing.assert_array_equal(loaded.predict_proba(lesion_data.images), pipe.predict_proba(lesion_data.images))
    assert meta["threshold"] == 0.5 and meta["classes"] == ["atopic_dermatitis", "eczema"]


def test_untrusted_types_refused(tmp_path, lesion_data):
    pipe = make_pipeline(MeanColour(), LogisticRegression()).fit(lesion_data.images, lesion_data.labels)
    path = save_model(pipe, tmp_path / "m.skops")
    with pytest.raises(ValueError, match="not trusted: tests._helpers.MeanColour"):
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


def _edit_schema(path, edit):
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(entries.pop("schema.json"))
    edit(schema["content"])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in entries.items():
            archive.writestr(name, data)


def test_versions_recorded_and_compared(tmp_path, lesion_data):
    import sklearn
    import skops

    from dermfeat import ModelVersionWarning, __version__

    clf = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    path = save_model(clf, tmp_path / "m.skops")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, meta = load_model(path)  # same versions: no warning
    assert meta["versions"]["dermfeat"] == __version__ and meta["versions"]["scikit-learn"] == sklearn.__version__
    assert meta["versions"]["numpy"] == np.__version__ and meta["versions"]["skops"] == skops.__version__
    assert "imbalanced-learn" not in meta["versions"] and "python" in meta["versions"]

    def older(payload):
        metadata = payload["metadata"]["content"]
        versions = metadata["versions"]["content"]
        versions["scikit-learn"]["content"] = '"1.5.0"'
        # skops stores equal strings once: the first occurrence is what loads
        versions["dermfeat"]["content"] = metadata["dermfeat_version"]["content"] = '"0.0.1"'

    _edit_schema(path, older)
    with pytest.warns(ModelVersionWarning) as record:
        model, _ = load_model(path)
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(f"{path}: saved with dermfeat 0.0.1 (running {__version__}), scikit-learn 1.5.0")
    assert "\n" not in message and record[0].filename == __file__
    assert model.predict([[0.9]]).tolist() == [1]


def test_files_without_a_version_record(tmp_path):
    """Files from before the record: the dermfeat version, and scikit-learn's own in each estimator."""
    from dermfeat import ModelVersionWarning

    clf = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    path = save_model(clf, tmp_path / "old.skops")

    def older(payload):
        metadata = payload["metadata"]
        index = list(metadata["content"]).index("versions")
        del metadata["content"]["versions"], metadata["key_types"]["content"][index]
        # as if fitted with another scikit-learn
        payload["estimator"]["content"]["content"]["_sklearn_version"]["content"] = '"1.4.2"'

    _edit_schema(path, older)
    with pytest.warns(ModelVersionWarning, match=r"scikit-learn 1.4.2 \(running"):
        load_model(path)


def test_imblearn_version_recorded_when_used(tmp_path):
    pytest.importorskip("imblearn")
    from dermfeat.pipeline import ResampledClassifier

    X = np.arange(20.0).reshape(-1, 1)
    clf = ResampledClassifier(LogisticRegression(), sampler="random_over", random_state=0).fit(X, [0] * 14 + [1] * 6)
    _, meta = load_model(save_model(clf, tmp_path / "r.skops"))
    assert "imbalanced-learn" in meta["versions"]


def test_trusted_accepts_types(tmp_path, lesion_data):
    pipe = make_pipeline(MeanColour(), LogisticRegression()).fit(lesion_data.images, lesion_data.labels)
    path = save_model(pipe, tmp_path / "m.skops")
    loaded, _ = load_model(path, trusted=[MeanColour])
    np.testing.assert_array_equal(loaded.predict(lesion_data.images), pipe.predict(lesion_data.images))


def test_recorded_embedding_path_must_be_a_path(tmp_path, onnx_pipeline):
    from dermfeat import InvalidModelError

    pipe, _ = onnx_pipeline
    pipe[0].model_path_ = ["not", "a", "path"]
    with pytest.raises(InvalidModelError, match="records a model file that is not a path"):
        load_model(save_model(pipe, tmp_path / "m.skops"))
