"""add_uncertainty: the pipeline it builds fits, searches, saves, and refuses a cat."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from dermfeat.datasets import make_lesion_images
from dermfeat.features import ColorFeatures
from dermfeat.pipeline import ImagePipeline, make_image_pipeline
from dermfeat.uncertainty import (
    ConformalClassifier,
    GuardedClassifier,
    OutOfDistributionDetector,
    add_uncertainty,
    decision_step,
    predict_with_uncertainty,
)


pytestmark = pytest.mark.filterwarnings("ignore::dermfeat.UnstableThresholdWarning")


@pytest.fixture(scope="module")
def lesions():
    return make_lesion_images(120, image_size=64, random_state=0)


def _pipe(**params):
    return add_uncertainty(make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=500),
                                               threshold="tuned", pos_label="atopic_dermatitis", cv=3),
                           cv=3, **params)


def test_structure_and_parameters():
    pipe = _pipe(class_conditional=True, false_alarm_rate=0.1)
    assert [n for n, _ in pipe.steps] == ["features", "guarded"]
    guarded = pipe[-1]
    assert isinstance(guarded, GuardedClassifier) and isinstance(guarded.estimator, ImagePipeline)
    assert isinstance(guarded.estimator[-1], ConformalClassifier)
    params = pipe.get_params()
    assert params["guarded__estimator__clf__class_conditional"] is True
    assert params["guarded__detector__false_alarm_rate"] == 0.1
    assert params["guarded__estimator__clf__estimator__tune"] is True
    with pytest.raises(ValueError, match="no step after it"):
        add_uncertainty(make_image_pipeline(ColorFeatures(), LogisticRegression()), guard_after="clf")
    assert isinstance(add_uncertainty(LogisticRegression()), GuardedClassifier)


def test_the_cat_is_flagged_by_a_model_of_synthetic_lesions(lesions):
    """scikit-image's cat (and coffee, a rocket, blank frames) are not lesion photographs."""
    data = pytest.importorskip("skimage.data")
    # handcrafted colour features: standardised distances (unit-length rows suit embeddings)
    pipe = _pipe(detector=OutOfDistributionDetector(normalize="standard")).fit(lesions.images, lesions.labels)
    others = [data.chelsea(), data.coffee(), data.rocket(), np.full((64, 64, 3), 255, np.uint8),
              np.zeros((64, 64, 3), np.uint8)]
    assert not predict_with_uncertainty(pipe, others).in_distribution.any()
    new = make_lesion_images(100, image_size=64, random_state=1)
    assert predict_with_uncertainty(pipe, new.images).in_distribution.mean() >= 0.85


def test_groups_found_by_the_image_pipeline_reach_both_calibrations(lesions):
    pipe = _pipe().fit(lesions.images, lesions.labels)
    assert pipe.groups_source_ == "auto"
    decision = decision_step(pipe)
    assert 0 < decision.best_threshold_ < 1
    given = _pipe().fit(lesions.images, lesions.labels, groups=lesions.groups)
    conformal = given[-1].estimator_[-1]
    cal, folds = conformal.calibration_indices_, conformal.calibration_folds_
    for k in range(3):
        assert not set(lesions.groups[cal[folds == k]]) & set(lesions.groups[cal[folds != k]])


def test_clone_pickle_and_skops_keep_every_answer(lesions, tmp_path):
    from dermfeat.persistence import load_model, save_model

    pipe = _pipe(method="split").fit(lesions.images, lesions.labels)
    expected = predict_with_uncertainty(pipe, lesions.images[:10])
    for loaded in (pickle.loads(pickle.dumps(pipe)), load_model(save_model(pipe, tmp_path / "m.skops"))[0]):
        got = predict_with_uncertainty(loaded, lesions.images[:10])
        for key in ("proba", "pred", "prediction_set", "in_distribution", "ood_score"):
            np.testing.assert_array_equal(got[key], expected[key])
    refit = predict_with_uncertainty(clone(pipe).fit(lesions.images, lesions.labels), lesions.images[:10])
    np.testing.assert_array_equal(refit.prediction_set, expected.prediction_set)


def test_grid_search_in_two_processes(lesions):
    search = GridSearchCV(_pipe(), {"guarded__estimator__clf__confidence_level": [0.8, 0.9]},
                          cv=StratifiedGroupKFold(3), n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(lesions.images, lesions.labels, groups=lesions.groups)
    assert predict_with_uncertainty(search.best_estimator_, lesions.images[:4]).prediction_set.shape == (4, 2)


def test_metadata_routing_passes_groups(lesions):
    with config_context(enable_metadata_routing=True):
        pipe = _pipe().fit(lesions.images, lesions.labels, groups=lesions.groups)
    conformal = pipe[-1].estimator_[-1]
    cal, folds = conformal.calibration_indices_, conformal.calibration_folds_
    assert pipe.groups_source_ == "given"
    for k in range(3):
        assert not set(lesions.groups[cal[folds == k]]) & set(lesions.groups[cal[folds != k]])
