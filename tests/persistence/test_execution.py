"""Execution settings (cache folder, workers, threads, verbose) are not taken from a model file."""

import warnings

import numpy as np
import pytest

from dermfeat import ModelSettingsWarning
from dermfeat.cli import main
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx_tiny import write_tiny_onnx_model
from dermfeat.persistence import load_model, save_model
from dermfeat.persistence._execution import execution_settings
from dermfeat.persistence._models import _walk
from dermfeat.pipeline import make_classifier
from dermfeat.testing._malicious_models import _json, _nodes, _read_skops, _write_skops


@pytest.fixture(scope="module")
def fitted(lesion_data):
    """A colour + logistic model fitted with a feature cache and two workers."""
    return make_classifier("color", memory=None, n_jobs=2).fit(lesion_data.images[:24], lesion_data.labels[:24])


def _edited(path, out, owner, **settings):
    """``path`` with ``settings`` written into every ``owner`` object of its schema, as an attacker would."""
    schema, entries = _read_skops(path)
    nodes = list(_nodes(schema, owner))
    assert nodes
    for node in nodes:
        node["content"]["content"].update({k: _json(v) for k, v in settings.items()})
    return _write_skops(out, schema, entries)


def test_saved_with_defaults_and_the_estimator_left_alone(tmp_path, fitted, lesion_data):
    path = save_model(fitted, tmp_path / "m.skops")
    assert fitted.named_steps["features"].n_jobs == 2  # the caller's estimator keeps its settings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelSettingsWarning)  # nothing to reset in a file save_model wrote
        loaded, _ = load_model(path)
    assert loaded.named_steps["features"].n_jobs is None
    images = lesion_data.images[24:30]
    np.testing.assert_array_equal(loaded.predict_proba(images), fitted.predict_proba(images))


def test_hostile_settings_are_reset_with_one_warning(tmp_path, fitted, lesion_data):
    cache = tmp_path / "attacker_named" / "cache"
    path = _edited(save_model(fitted, tmp_path / "m.skops"), tmp_path / "hostile.skops", "ColorFeatures",
                   memory=str(cache), n_jobs=512, verbose=5)
    with pytest.warns(ModelSettingsWarning) as caught:
        loaded, _ = load_model(path)
    message = str(caught[0].message)
    assert len(caught) == 1 and "\n" not in message and message.startswith(str(path))
    assert "ColorFeatures.memory=" in message and "ColorFeatures.n_jobs=512" in message
    assert "keep_execution_params=True" in message
    features = loaded.named_steps["features"]
    assert (features.memory, features.n_jobs) == (None, None)
    assert execution_settings(_walk(loaded)) == []
    loaded.predict(lesion_data.images[24:30])
    assert not cache.parent.exists()  # no cache written where the file said


def test_keep_execution_params_opts_in(tmp_path, fitted):
    cache = tmp_path / "mine"
    path = _edited(save_model(fitted, tmp_path / "m.skops"), tmp_path / "own.skops", "ColorFeatures",
                   memory=str(cache), n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelSettingsWarning)
        loaded, _ = load_model(path, keep_execution_params=True)
    assert loaded.named_steps["features"].memory == str(cache) and loaded.named_steps["features"].n_jobs == 2


def test_threads_and_batch_size_of_an_embedder_and_scikit_learn_n_jobs(tmp_path, lesion_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    embedder = OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=32, center_crop=32)
    pipe = make_pipeline(embedder, LogisticRegression()).fit(lesion_data.images[:20], lesion_data.labels[:20])
    saved = save_model(pipe, tmp_path / "m.skops")
    path = _edited(saved, tmp_path / "a.skops", "OnnxEmbedder", n_threads=4096, batch_size=10**7)
    path = _edited(path, tmp_path / "b.skops", "LogisticRegression", n_jobs=4096)
    with pytest.warns(ModelSettingsWarning, match="OnnxEmbedder.n_threads=4096.*LogisticRegression.n_jobs=4096"):
        loaded, _ = load_model(path)
    step = loaded.steps[0][1]
    assert (step.n_threads, step.batch_size) == (None, 32) and loaded.steps[1][1].n_jobs is None


def test_cli_predict_warns_and_writes_no_cache(tmp_path, fitted, lesion_folder, capsys):
    cache = tmp_path / "elsewhere"
    path = _edited(save_model(fitted, tmp_path / "m.skops"), tmp_path / "hostile.skops", "ColorFeatures",
                   memory=str(cache), verbose=10)
    images = sorted(str(p) for p in lesion_folder.rglob("*.jpg"))[:3]
    with pytest.warns(ModelSettingsWarning, match="execution settings stored in the model file were reset"):
        assert main(["predict", str(path), *images]) == 0
    out, _ = capsys.readouterr()
    assert len(out.strip().splitlines()) == 1 + len(images)  # the CSV only: verbose=10 was not kept
    assert not cache.exists()
