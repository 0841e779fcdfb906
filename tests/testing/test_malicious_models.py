"""Every malicious or broken model file is refused with its one-line message, and nothing it tries happens."""

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

import dermfeat
from dermfeat import InvalidModelError
from dermfeat.persistence import load_model
from dermfeat.testing import MaliciousModel, write_malicious_models

KINDS = {"missing", "not_a_file", "empty", "truncated", "damaged", "too_large", "not_a_model", "not_dermfeat",
         "pickle", "unsafe", "unloadable"}


@pytest.fixture(scope="module")
def malicious(tmp_path_factory):
    folder = tmp_path_factory.mktemp("malicious")
    return folder, write_malicious_models(folder)


def test_many_distinct_kinds_described(malicious):
    _, models = malicious
    names = [m.name for m in models]
    assert len(names) >= 30 and len(set(names)) == len(names)
    assert all(isinstance(m, MaliciousModel) and m.attack and m.message and m.kind in KINDS for m in models)
    assert sum(m.sentinel is not None for m in models) >= 10  # attacks that would run code or write files
    assert {"exec", "open_for_writing", "numpy_savetxt", "save_model", "os_system", "subprocess", "importlib",
            "method_key_type", "getattr_import", "zip_bomb", "truncated", "wrong_inner_schema", "path_traversal",
            "pickle_as_skops"} <= set(names)


def test_each_is_refused_with_its_one_line_message_and_no_side_effect(malicious, monkeypatch):
    folder, models = malicious
    monkeypatch.syspath_prepend(str(folder))  # the import attacks are live
    before = set(sys.modules)
    for model in models:
        with pytest.raises(InvalidModelError) as info:
            load_model(model.path)
        message = str(info.value)
        assert info.value.kind == model.kind, (model.name, message)
        assert model.message in message, (model.name, message)
        assert message.startswith(str(model.path)) and "\n" not in message, (model.name, message)
    assert not [m.name for m in models if m.sentinel is not None and m.sentinel.exists()]
    assert not [name for name in set(sys.modules) - before if name.startswith("_dermfeat_probe")]


def test_missing_file_is_also_file_not_found(malicious):
    _, models = malicious
    missing = next(m for m in models if m.name == "missing")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(missing.path)


def test_refusing_takes_little_memory(malicious):
    """Bombs and size lies are refused without inflating them (tracemalloc peak per file)."""
    _, models = malicious
    peaks = {}
    for model in models:
        tracemalloc.start()
        try:
            load_model(model.path)
        except InvalidModelError:
            pass
        peaks[model.name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert max(peaks.values()) < 16 * 2**20, peaks


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    cv2.imwrite(str(path), np.full((40, 40, 3), 128, np.uint8))
    return path


@pytest.mark.parametrize("name", ["exec", "getattr_import", "zip_bomb"])
def test_cli_predict_refuses_on_one_line(malicious, photo, name):
    folder, models = malicious
    model = next(m for m in models if m.name == name)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(dermfeat.__file__).parents[1]), str(folder)]))
    result = subprocess.run([sys.executable, "-m", "dermfeat", "predict", str(model.path), str(photo)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0
    assert str(model.path) in result.stderr and model.message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    assert model.sentinel is None or not model.sentinel.exists()
