"""ImagePipeline: near-duplicate groups for every step that chooses by inner cross-validation."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat import UngroupedSelectionWarning
from dermfeat.datasets import make_lesion_images
from dermfeat.evaluation import evaluate
from dermfeat.features import ColorFeatures
from dermfeat.model_selection import ThresholdTunedClassifier, near_duplicate_groups
from dermfeat.persistence import load_model, save_model
from dermfeat.pipeline import ImagePipeline, make_classifier, make_image_pipeline
from dermfeat.utils import InvalidParameterError
from tests._helpers import RecordingGroupKFold


@pytest.fixture(scope="module")
def data():
    data = make_lesion_images(60, image_size=64, random_state=0)
    # copies of four photographs: near-duplicates the groups must find
    images = list(data.images) + [data.images[i].copy() for i in (0, 10, 20, 30)]
    labels = np.concatenate([data.labels, data.labels[[0, 10, 20, 30]]])
    return images, labels


def _pipe(cv=3, tune=True, groups="auto"):
    clf = ThresholdTunedClassifier(LogisticRegression(), cv=cv, tune=tune, thresholds=20)
    return ImagePipeline([("features", ColorFeatures(image_size=64)), ("scale", StandardScaler()), ("clf", clf)],
                         groups=groups)


@pytest.fixture(params=[False, True], ids=["no-routing", "routing"])
def routing(request):
    with sklearn.config_context(enable_metadata_routing=request.param):
        yield request.param


def test_auto_groups_reach_the_threshold_tuner(data, routing):
    images, labels = data
    cv = RecordingGroupKFold(3)
    pipe = _pipe(cv=cv).fit(images, labels)
    expected = near_duplicate_groups(images)
    assert len(np.unique(expected)) < len(images)  # the copies were found
    np.testing.assert_array_equal(cv.seen[0], expected)
    assert pipe.groups_source_ == "auto" and pipe.n_groups_ == len(np.unique(expected))


def test_given_groups_are_used_as_given(data, routing, monkeypatch):
    images, labels = data
    import dermfeat.model_selection as ms

    monkeypatch.setattr(ms, "near_duplicate_groups", lambda *a, **k: pytest.fail("groups were recomputed"))
    groups = np.arange(len(labels)) // 4
    cv = RecordingGroupKFold(3)
    pipe = _pipe(cv=cv).fit(images, labels, groups=groups)
    np.testing.assert_array_equal(cv.seen[0], groups)
    assert pipe.groups_source_ == "given" and pipe.n_groups_ == 16
    if not routing:  # an explicit step parameter wins
        other = np.arange(len(labels)) // 2
        _pipe(cv=cv).fit(images, labels, groups=groups, clf__groups=other)
        np.testing.assert_array_equal(cv.seen[-1], other)


def test_evaluate_passes_its_groups_and_never_recomputes_them(data, monkeypatch):
    images, labels = data
    import dermfeat.model_selection as ms

    groups = near_duplicate_groups(images)
    monkeypatch.setattr(ms, "near_duplicate_groups", lambda *a, **k: pytest.fail("groups were recomputed"))
    report = evaluate(_pipe(), images, labels, groups=groups, cv=3, subgroups=None)
    assert len(report.folds) == 3 and all(f["threshold"] is not None for f in report.folds)


def test_groups_none_opts_out_with_a_warning(data):
    images, labels = data
    cv = RecordingGroupKFold(3)
    with pytest.warns(UngroupedSelectionWarning, match="without groups"):
        with pytest.raises(ValueError, match="groups"):  # a group splitter needs groups: it says so
            _pipe(cv=cv, groups=None).fit(images, labels)
    with pytest.warns(UngroupedSelectionWarning):
        pipe = _pipe(cv=3, groups=None).fit(images, labels)
    assert pipe.groups_source_ == "none" and pipe.n_groups_ is None


def test_no_groups_are_looked_for_when_nothing_is_chosen(data, monkeypatch):
    images, labels = data
    import dermfeat.model_selection as ms

    monkeypatch.setattr(ms, "near_duplicate_groups", lambda *a, **k: pytest.fail("nothing needs groups"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UngroupedSelectionWarning)
        pipe = _pipe(tune=False).fit(images, labels, groups=np.zeros(len(labels)))
        _pipe(tune=False, groups=None).fit(images, labels)
    assert pipe.groups_source_ == "unused"


def test_non_images_and_bad_parameters_are_refused(data):
    images, labels = data
    features = np.random.default_rng(0).normal(size=(len(labels), 5))
    pipe = ImagePipeline([("clf", ThresholdTunedClassifier(LogisticRegression(), cv=3))])
    with pytest.raises(ValueError, match="groups='auto' finds near-duplicate photographs, so X must be images"):
        pipe.fit(features, labels)
    assert pipe.fit(features, labels, groups=np.arange(len(labels)) // 4).groups_source_ == "given"
    with pytest.raises(InvalidParameterError, match="'auto' or None"):
        _pipe(groups="near").fit(images, labels)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        pipe.fit(features, labels, groups=[0, 1, 2])


def test_clone_params_pickle_and_skops(data, tmp_path):
    images, labels = data
    pipe = make_classifier("color", threshold="macro_f1", inner_cv=3)
    assert isinstance(pipe, ImagePipeline) and pipe.get_params()["groups"] == "auto"
    assert pipe.get_params()["clf__random_state"] == 0
    assert clone(pipe).set_params(groups=None).get_params()["groups"] is None
    assert pipe.set_params(groups=None)[1:].groups is None and isinstance(pipe[1:], ImagePipeline)
    pipe.set_params(groups="auto")
    assert make_classifier("color", groups=None, color_constancy=True).groups is None
    assert isinstance(make_image_pipeline(ColorFeatures(), LogisticRegression()), ImagePipeline)
    pipe = _pipe().fit(images, labels)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(images), pipe.predict(images))
    path = save_model(pipe, tmp_path / "pipe.skops")
    loaded, _ = load_model(path)
    assert type(loaded) is ImagePipeline and loaded.groups_source_ == "auto"
    np.testing.assert_array_equal(loaded.predict(images), pipe.predict(images))


def test_grid_search_with_two_jobs(data, routing):
    images, labels = data
    groups = near_duplicate_groups(images)
    grid = {"clf__objective": ["macro_f1", "balanced_accuracy"]}
    search = GridSearchCV(_pipe(), grid, cv=GroupKFold(3), n_jobs=2).fit(images, labels, groups=groups)
    # with routing the search hands each training fold's groups on; without, the pipeline finds them
    assert search.best_estimator_.groups_source_ == ("given" if routing else "auto")
    assert search.predict(images).shape == labels.shape


def test_plain_pipeline_of_the_same_steps_is_unchanged(data):
    images, labels = data
    pipe = _pipe()
    plain = Pipeline(clone(pipe).steps)
    groups = near_duplicate_groups(images)
    a = pipe.fit(images, labels)
    b = plain.fit(images, labels, clf__groups=groups)
    assert a[-1].best_threshold_ == b[-1].best_threshold_
