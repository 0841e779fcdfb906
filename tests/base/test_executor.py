"""The execution engine: one mechanism, named strategies that give the same rows, and a final fit."""

import numpy as np
import pytest
from sklearn.base import clone

from dermfeat.base import BaseImagePreprocessor, BaseImageTransformer
from dermfeat.base._executor import STRATEGIES, Chunk, Job
from dermfeat.features import ColorFeatures, OnnxEmbedder
from dermfeat.features._onnx_tiny import write_tiny_onnx_model
from dermfeat.testing import all_image_estimators


@pytest.fixture(scope="module")
def images(lesion_data):
    return list(lesion_data.images[:9]) + [b"not an image"] + list(lesion_data.images[9:12])


@pytest.mark.parametrize("estimator", [ColorFeatures(image_size=32),
                                       OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=40, center_crop=32,
                                                    batch_size=3, n_threads=2)],
                         ids=["ColorFeatures", "OnnxEmbedder"])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_gives_the_same_rows_and_errors(estimator, strategy, images, monkeypatch):
    estimator = clone(estimator).fit()
    reference = Job(estimator, None, raising=False)
    rows, errors = zip(*STRATEGIES["serial"](reference, images, [f"im{i}" for i in range(len(images))]))
    if strategy == "processes":
        estimator.set_params(n_jobs=2)
    # the threaded strategy needs threads: the embedder has two, the colour features get two here
    monkeypatch.setattr(type(estimator), "_n_prepare_threads", lambda self: 2)
    job = Job(estimator, None, raising=False)
    got_rows, got_errors = zip(*STRATEGIES[strategy](job, images, [f"im{i}" for i in range(len(images))]))
    np.testing.assert_array_equal(np.vstack(got_rows), np.vstack(rows))
    assert got_errors == errors
    flat = [e for part in got_errors for e in part]
    assert [name for _, name, _ in flat] == ["im9"]  # the bad image, named, in every strategy


def test_transform_selects_the_strategy_by_class_attribute(images, monkeypatch):
    chosen = []
    for name, run in list(STRATEGIES.items()):
        def recorded(job, sources, names, name=name, run=run):
            chosen.append(name)
            return run(job, sources, names)

        monkeypatch.setitem(STRATEGIES, name, recorded)
    ColorFeatures(image_size=32).fit().transform(images[:3])
    OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=40, center_crop=32).fit().transform(images[:3])
    ColorFeatures(image_size=32, n_jobs=2).fit().transform(images[:3] * 12)  # several chunks: processes
    assert chosen == ["serial", "prepare_then_infer", "processes"]


def test_merged_chunks_shift_indices():
    a = Chunk(np.zeros((2, 1)), [(1, "b", "bad")], [(0, "k0", "p0")], ["a", "b"])
    b = Chunk(np.ones((3, 1)), [(0, "c", "bad")], [(2, "k4", "p4")], ["c", "d", "e"])
    merged = Chunk.merge([a, b])
    assert merged.rows.shape == (5, 1) and merged.names == ["a", "b", "c", "d", "e"]
    assert merged.errors == [(1, "b", "bad"), (2, "c", "bad")]
    assert [j for j, _, _ in merged.todo] == [0, 4]


@pytest.mark.parametrize("name, cls", all_image_estimators())
def test_fit_is_final_and_the_strategy_is_known(name, cls):
    """Estimators implement ``_fit``: ``fit`` (validate once, then ``_fit``) is the base class's."""
    base = BaseImageTransformer if issubclass(cls, BaseImageTransformer) else BaseImagePreprocessor
    assert cls.fit is base.fit, f"{name} overrides fit; implement _fit instead"
    if base is BaseImageTransformer:
        assert cls._strategy in STRATEGIES


def test_parameters_are_validated_once_per_fit(monkeypatch):
    from dermfeat.base import _image_transformer

    calls = []
    original = _image_transformer.validate_parameters
    monkeypatch.setattr(_image_transformer, "validate_parameters", lambda est: (calls.append(est), original(est))[1])
    ColorFeatures(image_size=32).fit()
    assert len(calls) == 1
