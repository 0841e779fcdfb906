"""Pooling of patch tokens (mean, signed GeM, inside the lesion), alone and in OnnxEmbedder."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from dermfeat.base._image_transformer import feature_state
from dermfeat.datasets import make_lesion_images
from dermfeat.features import OnnxEmbedder
from dermfeat.features._token_pooling import check_token_output, lesion_patch_mask, patch_redness, pool_tokens

onnx = pytest.importorskip("onnx")
from dermfeat.features._onnx_tiny import write_tiny_onnx_model  # noqa: E402

SKIN, RED = (205, 160, 140), (185, 80, 85)


def test_none_returns_the_output_itself():
    out = np.ones((2, 5), dtype=np.float32)
    assert pool_tokens(out, None) is out


def test_mean_and_gem(rng):
    tokens = rng.standard_normal((3, 16, 5)) * 2
    np.testing.assert_allclose(pool_tokens(tokens, "mean"), tokens.mean(axis=1), rtol=1e-6, atol=1e-6)
    gem = pool_tokens(tokens, "gem").astype(np.float64)
    assert gem.dtype == np.float64 and np.isfinite(gem).all()
    # between the smallest and the largest token value, odd, homogeneous
    assert (gem >= tokens.min(axis=1) - 1e-5).all() and (gem <= tokens.max(axis=1) + 1e-5).all()
    np.testing.assert_allclose(pool_tokens(-tokens, "gem"), -gem, rtol=1e-5)
    np.testing.assert_allclose(pool_tokens(3 * tokens, "gem"), 3 * gem, rtol=1e-5)
    # the classic GeM for positive values, and above the mean there (power mean inequality)
    positive = np.abs(tokens) + 0.1
    classic = np.mean(positive ** 3, axis=1) ** (1 / 3)
    np.testing.assert_allclose(pool_tokens(positive, "gem"), classic, rtol=1e-5)
    assert (classic > positive.mean(axis=1)).all()


def _plaque_view(grid=8, patch=4, rows=slice(2, 5), cols=slice(2, 6)):
    view = np.full((grid * patch, grid * patch, 3), SKIN, dtype=np.uint8)
    view[rows.start * patch:rows.stop * patch, cols.start * patch:cols.stop * patch] = RED
    return view


def test_redness_is_averaged_per_patch_row_by_row():
    redness = patch_redness(_plaque_view(), 8).reshape(8, 8)
    assert (redness[2:5, 2:6] > redness.max() - 1e-3).all()
    assert redness[0, 0] < redness[2, 2] - 20


def test_lesion_mask_follows_the_tokens_of_the_reddest_patches(rng):
    view = _plaque_view()
    lesion = np.zeros((8, 8), dtype=bool)
    lesion[2:5, 2:6] = True
    lesion[6, 0:3] = True  # lesion-like tokens that are not red (e.g. a pale part of the plaque)
    tokens = np.where(lesion.ravel()[:, None], [4.0, 1.0, 0.0], [0.0, 1.0, 4.0]) + rng.normal(0, 0.2, (64, 3))
    mask = lesion_patch_mask(tokens, patch_redness(view, 8))
    np.testing.assert_array_equal(mask, lesion.ravel())
    pooled = pool_tokens(tokens[None], "lesion", view[None])[0]
    np.testing.assert_allclose(pooled, tokens[lesion.ravel()].mean(axis=0), rtol=1e-5)
    # the same tokens on a photograph without a redder region: no lesion, the mean of all patches
    flat = np.full_like(view, SKIN)
    assert not lesion_patch_mask(tokens, patch_redness(flat, 8)).any()
    np.testing.assert_allclose(pool_tokens(tokens[None], "lesion", [flat[None]])[0], tokens.mean(axis=0), rtol=1e-5)
    # red patches whose tokens are all alike: no split, the mean again
    assert not lesion_patch_mask(np.ones((64, 3)), patch_redness(view, 8)).any()


def test_lesion_pooling_refuses_what_it_cannot_use():
    with pytest.raises(ValueError, match="square patch grid"):
        pool_tokens(np.zeros((1, 10, 3)), "lesion", np.zeros((1, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="view of every"):
        pool_tokens(np.zeros((2, 16, 3)), "lesion", np.zeros((1, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="shape \\(n, n_patches, width\\)"):
        pool_tokens(np.zeros((2, 16)), "gem")
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool_tokens(np.zeros((1, 4, 2)), "max")


@pytest.fixture(scope="module")
def token_model():
    return write_tiny_onnx_model(tokens=True, seed=2)


@pytest.fixture(scope="module")
def images():
    return make_lesion_images(6, image_size=64, random_state=0).images


def _embedder(model, **params):
    return OnnxEmbedder(model, output_name="tokens", resize_short_side=40, center_crop=32, n_threads=1, **params)


def test_embedder_pools_the_tokens_of_each_view(token_model, images):
    import onnxruntime as ort

    mean = _embedder(token_model, pooling="mean").fit()
    assert mean.embedding_dim_ == 8 and mean.get_feature_names_out()[0] == "tokens_mean_0"
    session = ort.InferenceSession(token_model, providers=["CPUExecutionProvider"])
    tensor = mean._tensor([mean._prepare(image) for image in images])
    tokens = session.run(["tokens"], {"input": tensor})[0]
    assert tokens.shape == (6, 256, 8)
    np.testing.assert_allclose(mean.transform(images), tokens.mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_embedder(token_model, pooling="gem").fit().transform(images),
                               pool_tokens(tokens, "gem"), rtol=1e-5, atol=1e-6)
    # test-time augmentation: each view pooled, then the views averaged
    for pooling in ("gem", "lesion"):
        tta = _embedder(token_model, pooling=pooling, tta_flip=True, tta_crops=5, batch_size=7).fit()
        views = [tta._prepare(image) for image in images]
        tokens = session.run(["tokens"], {"input": tta._tensor(views)})[0]
        expected = pool_tokens(tokens, pooling, views).reshape(6, 10, 8).mean(axis=1)
        features = tta.transform(images)
        assert features.shape == (6, 8) and np.isfinite(features).all()
        np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(features, clone(tta).fit().transform(images))  # deterministic


def test_embedder_checks_the_output_rank(token_model):
    with pytest.raises(ValueError, match="pooling='mean', 'gem' or 'lesion'"):
        _embedder(token_model).fit()
    with pytest.raises(ValueError, match="pooling='gem' needs a \\(batch, tokens, features\\) output"):
        OnnxEmbedder(token_model, output_name="embedding", pooling="gem", center_crop=32).fit()
    with pytest.raises(ValueError, match="m.onnx: pooling='lesion' needs the tokens of a square patch grid"):
        check_token_output("m.onnx", "tokens", (257, 384), "lesion")  # the CLS token among the patches
    check_token_output("m.onnx", "tokens", (257, 384), "gem")  # mean and GeM need no grid
    with pytest.raises(ValueError, match="pooling"):
        _embedder(token_model, pooling="max").fit()


def test_cache_key_of_the_default_is_unchanged_and_poolings_do_not_collide(token_model, images, tmp_path):
    plain = OnnxEmbedder(write_tiny_onnx_model(), center_crop=32).fit()
    state = feature_state(plain)
    assert "pooling" not in state["params"]  # the key an embedder without the option wrote
    gem = _embedder(token_model, pooling="gem", memory=tmp_path).fit()
    mean = _embedder(token_model, pooling="mean", memory=tmp_path).fit()
    assert feature_state(gem)["params"]["pooling"] == "gem"
    a, b = gem.transform(images), mean.transform(images)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, _embedder(token_model, pooling="gem", memory=tmp_path).fit().transform(images))


def test_pickle_and_clone_keep_the_pooling(token_model, images):
    est = _embedder(token_model, pooling="lesion").fit()
    restored = pickle.loads(pickle.dumps(est))
    assert restored.pooling == "lesion" and clone(est).get_params()["pooling"] == "lesion"
    np.testing.assert_array_equal(restored.transform(images), est.transform(images))
