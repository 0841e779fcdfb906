"""The image-transformer base: input forms, order, errors, cache, parallelism."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from dermfeat import InvalidImageError, SkippedImagesWarning
from dermfeat.base import as_image_list, feature_state
from dermfeat.utils import InvalidParameterError
from dermfeat.utils.estimator_checks import check_image_estimator

from tests._helpers import MeanColour


class CountingMeanColour(MeanColour):
    calls = 0

    def _transform_one(self, image):
        type(self).calls += 1
        return super()._transform_one(image)


def test_passes_all_image_checks():
    check_image_estimator(MeanColour())


def test_input_forms(lesion_data, tmp_path):
    images = lesion_data.images[:3]
    expected = images.reshape(3, -1, 3).mean(axis=1)
    est = MeanColour().fit()
    np.testing.assert_allclose(est.transform(images), expected)
    np.testing.assert_allclose(est.transform(list(images)), expected)
    np.testing.assert_allclose(est.transform(images[0]), expected[:1])
    assert len(as_image_list(np.array(["a.jpg", "b.jpg"], dtype=object)[:, None])) == 2
    with pytest.raises(TypeError, match="cannot read images from int"):
        est.transform(3)


def test_dataframe_column_in_column_transformer(lesion_folder):
    pd = pytest.importorskip("pandas")
    from dermfeat.datasets import load_image_folder

    data = load_image_folder(lesion_folder, as_frame=True)
    frame = data.frame[["image", "severity"]]
    ct = ColumnTransformer([("img", MeanColour(), ["image"]), ("meta", "passthrough", ["severity"])])
    out = ct.fit_transform(frame)
    assert out.shape == (len(frame), 4)
    assert list(ct.get_feature_names_out())[:1] == ["img__mean_r"]
    assert isinstance(frame, pd.DataFrame)


def test_errors_raise_or_fill(lesion_data):
    images = list(lesion_data.images[:2])
    with pytest.raises(InvalidImageError, match=r"<bytes #1>: not a recognised image format"):
        MeanColour().fit().transform([images[0], b"junk", images[1]])
    est = MeanColour(on_error="nan").fit()
    with pytest.warns(SkippedImagesWarning, match=r"1 of 3 images.*<bytes #1>"):
        out = est.transform([images[0], b"junk", images[1]])
    assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all()
    features, errors = MeanColour().fit().transform_with_errors([images[0], b"", images[1]])
    assert errors == [(1, "<bytes #1>", "file is empty (0 bytes)")]


def test_parameters_validated_in_fit():
    est = MeanColour(on_error="ignore")  # __init__ accepts anything
    with pytest.raises(InvalidParameterError, match="'on_error' parameter of MeanColour must be one of 'raise', 'nan'"):
        est.fit()


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MeanColour().transform(np.zeros((4, 4, 3), np.uint8))


def test_cache_hits_and_invalidation(lesion_data, tmp_path):
    images = list(lesion_data.images[:5])
    CountingMeanColour.calls = 0
    est = CountingMeanColour(memory=tmp_path).fit()
    first = est.transform(images)
    assert CountingMeanColour.calls == 5
    np.testing.assert_array_equal(est.transform(images), first)
    assert CountingMeanColour.calls == 5  # all hits
    # a parameter that changes features misses; one that does not (n_jobs) hits
    clone(est).set_params(n_jobs=2).fit().transform(images)
    assert CountingMeanColour.calls == 5
    clone(est).set_params(scale=2.0).fit().transform(images)
    assert CountingMeanColour.calls == 10
    # joblib.Memory works as well as a path
    import joblib

    np.testing.assert_array_equal(CountingMeanColour(memory=joblib.Memory(tmp_path, verbose=0)).fit().transform(images), first)
    assert CountingMeanColour.calls == 10


def test_cache_keyed_by_file_content_not_path(tmp_path):
    import cv2

    path = tmp_path / "a.png"
    cv2.imwrite(str(path), np.full((8, 8, 3), 10, np.uint8))
    est = MeanColour(memory=tmp_path / "cache").fit()
    assert est.transform([path])[0, 0] == 10
    cv2.imwrite(str(path), np.full((8, 8, 3), 99, np.uint8))  # same path, new bytes
    assert est.transform([path])[0, 0] == 99


def test_feature_state_ignores_execution_params():
    assert feature_state(MeanColour(n_jobs=2, memory="x")) == feature_state(MeanColour())
    assert feature_state(MeanColour(scale=3)) != feature_state(MeanColour())


def test_pipeline_and_grid_search(lesion_data):
    y = lesion_data.labels
    pipe = Pipeline([("feat", MeanColour()), ("clf", LogisticRegression(max_iter=500))])
    grid = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=3, n_jobs=2).fit(list(lesion_data.images), y)
    assert set(grid.predict(list(lesion_data.images[:4]))) <= set(y)
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.predict(lesion_data.images[:6]), grid.predict(lesion_data.images[:6]))


def test_pandas_output(lesion_data):
    pytest.importorskip("pandas")
    out = MeanColour().set_output(transform="pandas").fit().transform(lesion_data.images[:2])
    assert list(out.columns) == ["mean_r", "mean_g", "mean_b"]


def test_no_warnings_on_clean_input(lesion_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MeanColour(n_jobs=2).fit().transform(list(lesion_data.images) * 2)


def test_feature_state_leaves_out_added_params_at_their_old_value():
    class Extended(MeanColour):
        _cache_added_params = {"scale": 1.0}

    state = feature_state(Extended())
    assert "scale" not in state["params"]  # the key an older version without ``scale`` wrote
    assert feature_state(Extended(scale=3))["params"]["scale"] == 3


def test_one_pass_remembers_rows_of_extractors_without_memory_for_its_duration(tmp_path):
    from dermfeat.base import one_pass

    images = [np.full((16, 16, 3), v, np.uint8) for v in (10, 200, 10)]
    est = CountingMeanColour().fit()
    CountingMeanColour.calls = 0
    with one_pass():
        first = est.transform(images)
        again = est.transform(images)
    assert CountingMeanColour.calls == 3  # the first call computes its three images, the second none
    np.testing.assert_array_equal(first, again)
    est.transform(images)  # outside the block nothing is remembered
    assert CountingMeanColour.calls == 6
    scaled = CountingMeanColour(scale=2.0).fit()
    with one_pass():  # another setting is another extractor: no row is shared
        assert not np.allclose(scaled.transform(images[:1]), est.transform(images[:1]))
