"""Zoo fixtures: one build per session into a temporary DERMFEAT_HOME."""

import csv

import pytest

from dermfeat import zoo
from dermfeat.zoo import _registry


@pytest.fixture(scope="session", autouse=True)
def zoo_home(tmp_path_factory):
    """Every zoo test builds into (and reads from) a temporary DERMFEAT_HOME, never ~/.cache."""
    home = tmp_path_factory.mktemp("dermfeat_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DERMFEAT_HOME", str(home))
        yield home


def _require_weights(name):
    entry = _registry._entry(name)
    try:
        _registry._locate_source(entry)
        _registry._check_onnx()
    except zoo.ZooModelUnavailable:
        pytest.skip(f"{entry.requirement} (or onnx) is not installed: {entry.pip_command}; make test installs it")
    return entry


def _built(name):
    """The zoo's model ``name``, built once into the session's zoo folder (skipped without its weights)."""
    _require_weights(name)
    return zoo.get_model(name)


@pytest.fixture(scope="session")
def efficientnet_onnx(zoo_home):
    """The EfficientNet-Lite0 built by the zoo (once per session)."""
    return _built("efficientnet-lite0")


@pytest.fixture(scope="session")
def efficientnet_lite2_onnx(zoo_home):
    """The EfficientNet-Lite2 built by the zoo (once per session)."""
    return _built("efficientnet-lite2")


@pytest.fixture(scope="session")
def dinov2_onnx(zoo_home):
    """The DINOv2-small backbone cut by the zoo (once per session)."""
    return _built("dinov2-small")


@pytest.fixture(scope="session")
def photographs(dermnet_dir):
    """Twelve real DermNet NZ photographs, both classes."""
    with open(dermnet_dir / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_label = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(str(dermnet_dir / row["path"]))
    return [path for paths in by_label.values() for path in paths[:6]]


@pytest.fixture(scope="session")
def dinov2_tokens_onnx(zoo_home):
    """The DINOv2-small backbone with its patch tokens as an output (once per session)."""
    return _built("dinov2-small-tokens")


@pytest.fixture(scope="session")
def dinov2_336_onnx(zoo_home):
    """The DINOv2-small backbone at a 336 x 336 input, patch tokens as an output (once per session)."""
    return _built("dinov2-small-336")
