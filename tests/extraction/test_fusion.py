"""make_fusion_pipeline: image features and clinical columns in one pipeline."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

from dermfeat.datasets import load_image_folder, make_lesion_images
from dermfeat.features import QualityFeatures, SkinToneFeatures
from dermfeat.pipeline import make_fusion_pipeline

pd = pytest.importorskip("pandas")


@pytest.fixture()
def frame(tmp_path):
    make_lesion_images(48, image_size=48, positive_fraction=0.5, directory=tmp_path, random_state=3)
    rng = np.random.default_rng(0)
    frame = load_image_folder(tmp_path, as_frame=True).frame
    frame["age"] = rng.integers(1, 90, len(frame)).astype(float)
    frame.loc[3, "age"] = np.nan
    frame["site"] = rng.choice(["face", "flexure", "hand"], len(frame)).astype(object)
    frame.loc[5, "site"] = None
    return frame


def test_fusion_layout_and_names(frame):
    pipe = make_fusion_pipeline("quality", numeric=["age"], categorical=["site"]).fit(frame, frame["label"])
    names = list(pipe[:-1].get_feature_names_out())
    quality = list(QualityFeatures().fit().get_feature_names_out())
    assert names == [f"image__{n}" for n in quality] + ["numeric__age"] + [
        f"categorical__site_{s}" for s in ("face", "flexure", "hand")]
    # unseen categories and missing values at prediction time
    new = frame.head(3).copy()
    new["site"] = ["scalp", None, "face"]
    new["age"] = [np.nan, 40.0, 7.0]
    assert pipe.predict_proba(new).shape == (3, 2)
    # the image features equal the extractor's, scaled
    image_part = pipe.named_steps["columns"].named_transformers_["image"]
    np.testing.assert_allclose(image_part.transform(frame[["image"]]),
                               image_part.named_steps["scale"].transform(QualityFeatures().fit().transform(frame["image"])))


def test_fusion_variants_cross_validate(frame):
    y, groups = frame["label"], frame["group"]
    cv = StratifiedGroupKFold(3)
    for pipe in (
        make_fusion_pipeline([QualityFeatures(), SkinToneFeatures()]),
        make_fusion_pipeline(None, numeric=["age"], categorical=["site"]),
        make_fusion_pipeline(QualityFeatures(), numeric=["age"], categorical=["site"]),
    ):
        scores = cross_val_score(pipe, frame, y, groups=groups, cv=cv, scoring="roc_auc")
        assert scores.shape == (3,) and np.isfinite(scores).all()


def test_fusion_needs_something():
    with pytest.raises(ValueError, match="nothing to learn from"):
        make_fusion_pipeline(None)
