"""HandcraftedFeatures: one decode for all families, nested parameters, scikit-learn composition."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline

from dermfeat.datasets import load_image_folder
from dermfeat.features import (
    ColorFeatures,
    GaborFeatures,
    GLCMFeatures,
    HandcraftedFeatures,
    LBPFeatures,
    QualityFeatures,
    RednessFeatures,
    SkinToneFeatures,
)
from dermfeat.features._handcrafted import MAX_ASPECT, WorkingImage, to_working_size, working_shape
from dermfeat.io import read_image
from dermfeat.preprocessing import ColorConstancy, LesionCrop
from dermfeat.utils import InvalidParameterError


def small_families():
    return [
        ("lbp", LBPFeatures(points_radii=[(8, 1)], image_size=32)),
        ("gabor", GaborFeatures(frequencies=[0.2], n_orientations=2, image_size=32)),
        ("glcm", GLCMFeatures(distances=[1], image_size=48)),
        ("color", ColorFeatures(spaces=["lab", "hsv"], image_size=48)),
        ("redness", RednessFeatures(image_size=32)),
        ("skin", SkinToneFeatures(image_size=32)),
        ("quality", QualityFeatures(image_size=32)),
    ]


def test_working_shape():
    assert working_shape(480, 640, 256) == (256, 341)
    assert working_shape(640, 480, 256) == (341, 256)
    assert working_shape(1, 1, 256) == (256, 256)
    assert working_shape(10, 1000, 64) == (64, MAX_ASPECT * 64)  # extreme strips are capped
    image = np.zeros((100, 150, 3), np.uint8)
    assert to_working_size(image, 100) is image  # already at the working size: no copy
    assert to_working_size(image, 64).shape == (64, 96, 3)


def test_equals_the_concatenation_of_the_families(lesion_data):
    images = lesion_data.images[:5]
    bank = HandcraftedFeatures(families=small_families()).fit()
    out = bank.transform(images)
    parts, names = [], []
    for name, family in small_families():
        family.fit()
        parts.append(family.transform(images))
        names += [f"{name}__{n}" for n in family.get_feature_names_out()]
    np.testing.assert_array_equal(out, np.hstack(parts))
    assert bank.get_feature_names_out().tolist() == names
    assert bank._decode_target() == 48  # the largest working size


def test_feature_union_gives_the_same_features_and_names(lesion_data):
    images = lesion_data.images[:4]
    union = FeatureUnion(small_families()[:2]).fit(images)
    bank = HandcraftedFeatures(families=small_families()[:2]).fit(images)
    np.testing.assert_array_equal(union.transform(images), bank.transform(images))
    assert union.get_feature_names_out().tolist() == bank.get_feature_names_out().tolist()


def test_default_bank():
    bank = HandcraftedFeatures().fit()
    prefixes = [n.split("__")[0] for n in bank.get_feature_names_out()]
    assert list(dict.fromkeys(prefixes)) == ["lbp", "gabor", "glcm", "color", "redness", "skin", "quality"]
    counts = {p: prefixes.count(p) for p in set(prefixes)}
    assert counts == {"lbp": 54, "gabor": 48, "glcm": 21, "color": 60, "redness": 14, "skin": 10, "quality": 10}
    assert bank.families is None and bank._decode_target() == 256


def test_nested_parameters():
    bank = HandcraftedFeatures()
    assert "lbp__method" not in bank.get_params()
    bank.set_params(glcm__levels=16, gabor="drop")  # expands the default bank
    assert [name for name, _ in bank.families] == ["lbp", "gabor", "glcm", "color", "redness", "skin", "quality"]
    params = bank.get_params()
    assert params["glcm__levels"] == 16 and params["gabor"] == "drop" and params["lbp__method"] == "uniform"
    bank.fit()
    assert [name for name, _ in bank.families_] == ["lbp", "glcm", "color", "redness", "skin", "quality"]
    cloned = clone(bank)
    assert cloned.get_params()["glcm__levels"] == 16 and cloned.families[2][1] is not bank.families[2][1]
    bank.set_params(families=small_families()[:1], lbp__points_radii=[(4, 1)])
    assert bank.fit().n_features_out_ == 6


@pytest.mark.parametrize(
    "families, match",
    [
        ([("a", "not a family")], "handcrafted feature family"),
        ([("a", LBPFeatures()), ("a", ColorFeatures())], "unique"),
        ([("a__b", LBPFeatures())], "__"),
        ([("n_jobs", LBPFeatures())], "conflicts"),
        ([("a", "drop")], "at least one"),
        ([LBPFeatures()], "tuples"),
    ],
)
def test_invalid_families(families, match):
    with pytest.raises(InvalidParameterError, match=match):
        HandcraftedFeatures(families=families).fit()


def test_pipeline_with_preprocessing(lesion_data):
    X, y = lesion_data.images[:24], lesion_data.target[:24]
    pipe = make_pipeline(
        ColorConstancy(), LesionCrop(working_size=64), HandcraftedFeatures(families=small_families()),
        LogisticRegression(max_iter=2000),
    )
    assert pipe.fit(X, y).predict(X).shape == (24,)
    assert pipe[:-1].set_output(transform="pandas").fit_transform(X).shape[0] == 24


def test_column_transformer_over_a_column_of_paths(lesion_folder):
    data = load_image_folder(lesion_folder, as_frame=True)
    frame = data.frame.assign(age=np.arange(len(data.frame), dtype=float))
    for column in ("image", ["image"]):
        ct = ColumnTransformer(
            [("photo", HandcraftedFeatures(families=small_families()[:2]), column), ("age", "passthrough", ["age"])]
        )
        out = ct.fit_transform(frame)
        expected = HandcraftedFeatures(families=small_families()[:2]).fit().transform(list(frame["image"]))
        np.testing.assert_array_equal(out[:, :-1], expected)
        assert ct.get_feature_names_out()[0] == "photo__lbp__grey_p8_r1_0"


def test_grid_search_in_parallel(lesion_data):
    X, y = lesion_data.images[:30], lesion_data.target[:30]
    pipe = Pipeline(
        [("features", HandcraftedFeatures(families=small_families()[:4])), ("clf", LogisticRegression(max_iter=2000))]
    )
    grid = {"features__lbp__points_radii": [[(8, 1)], [(8, 1), (8, 2)]], "features__gabor": ["drop", small_families()[1][1]]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4 and np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.predict(X).shape == (30,)


def test_real_photographs(dermnet_dir):
    paths = sorted(str(p) for p in dermnet_dir.rglob("*.jpg"))[:3]
    bank = HandcraftedFeatures().fit()
    out = bank.transform(paths)
    assert out.shape == (3, 217) and np.all(np.isfinite(out))
    # a path decodes at the reduced JPEG scale for the working size: same as passing that decode
    decoded = [read_image(p, min_side=256) for p in paths]
    np.testing.assert_array_equal(bank.transform(decoded), out)
    # the working image does not depend on how large the photograph is stored
    assert WorkingImage.from_image(decoded[0], 256).rgb.shape[:2] == working_shape(*decoded[0].shape[:2], 256)


FAMILY_CLASSES = [LBPFeatures, GaborFeatures, GLCMFeatures, ColorFeatures, RednessFeatures, SkinToneFeatures, QualityFeatures]


@pytest.mark.parametrize("cls", FAMILY_CLASSES, ids=lambda c: c.__name__)
def test_every_family_composes(cls, lesion_folder):
    family = cls(**cls._get_test_params()[0])
    data = load_image_folder(lesion_folder, as_frame=True)
    frame, y = data.frame.iloc[:12], data.target[:12]
    expected = clone(family).fit().transform(list(frame["image"]))
    # a DataFrame column of paths
    ct = ColumnTransformer([("photo", clone(family), ["image"])]).fit(frame)
    np.testing.assert_array_equal(ct.transform(frame), expected)
    # behind the image-to-image steps, and inside a FeatureUnion
    pipe = make_pipeline(ColorConstancy(), LesionCrop(working_size=64), FeatureUnion([("f", clone(family))]))
    assert pipe.fit_transform(list(frame["image"])).shape == expected.shape
    # a parallel grid search over the working size
    search = GridSearchCV(
        make_pipeline(clone(family), LogisticRegression(max_iter=2000)),
        {f"{cls.__name__.lower()}__image_size": [16, 24]},
        cv=2,
        n_jobs=2,
    ).fit(list(frame["image"]), y)
    assert len(search.cv_results_["params"]) == 2
