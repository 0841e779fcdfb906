import importlib.util
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from dermfeat.base import BaseImageTransformer
from dermfeat.decision import ThresholdTunedClassifier
from dermfeat.decision import ResampledClassifier, make_sampler
from dermfeat.pipeline import make_image_pipeline

needs_imblearn = pytest.mark.skipif(
    importlib.util.find_spec("imblearn") is None, reason="imbalanced-learn (the 'imbalanced' extra) is not installed"
)


def _imblearn():
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    return SMOTE, RandomOverSampler


class MeanColour(BaseImageTransformer):
    """Tiny test extractor: mean and standard deviation of each RGB channel."""

    def __init__(self, n_jobs=None, memory=None, on_error="raise"):
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    def _feature_names(self):
        return [f"{stat}_{c}" for stat in ("mean", "std") for c in "rgb"]

    def _transform_one(self, image):
        pixels = image.reshape(-1, 3).astype(float)
        return np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)])


class RecordingLR(ClassifierMixin, BaseEstimator):
    log = []

    def fit(self, X, y, sample_weight=None):
        RecordingLR.log.append({"n": len(y), "y": np.asarray(y), "sample_weight": sample_weight})
        self.model_ = LogisticRegression().fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


@pytest.fixture(scope="module")
def tabular():
    return make_classification(300, n_features=6, weights=[0.85], random_state=0)


def test_passthrough_equals_plain_estimator(tabular):
    X, y = tabular
    for sampler in (None, "passthrough"):
        clf = ResampledClassifier(LogisticRegression(), sampler=sampler).fit(X, y)
        np.testing.assert_allclose(clf.predict_proba(X), LogisticRegression().fit(X, y).predict_proba(X))
        assert clf.n_resampled_ == len(y) and clf.sample_indices_ is None


@needs_imblearn
@pytest.mark.parametrize("name", ["random_over", "smote", "random_under"])
def test_named_samplers_balance_the_training_set(tabular, name):
    X, y = tabular
    RecordingLR.log = []
    clf = ResampledClassifier(RecordingLR(), sampler=name, random_state=0).fit(X, y)
    fitted_y = RecordingLR.log[-1]["y"]
    counts = np.bincount(fitted_y)
    assert counts[0] == counts[1]
    assert clf.n_resampled_ == len(fitted_y) != len(y)
    assert clf.predict(X).shape == y.shape  # prediction never resamples
    if name == "smote":
        assert clf.sample_indices_ is None
    else:
        assert clf.sample_indices_ is not None


@needs_imblearn
def test_sample_weight_follows_selected_rows(tabular):
    X, y = tabular
    SMOTE, RandomOverSampler = _imblearn()
    sw = np.arange(len(y), dtype=float)
    RecordingLR.log = []
    clf = ResampledClassifier(RecordingLR(), sampler=RandomOverSampler(random_state=0)).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(RecordingLR.log[-1]["sample_weight"], sw[clf.sample_indices_])
    with pytest.raises(ValueError, match="synthetic"):
        ResampledClassifier(RecordingLR(), sampler=SMOTE(random_state=0)).fit(X, y, sample_weight=sw)


def test_missing_imblearn_gives_clear_import_error(tabular, monkeypatch):
    X, y = tabular
    for mod in [m for m in list(sys.modules) if m == "imblearn" or m.startswith("imblearn.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "imblearn", None)
    with pytest.raises(ImportError, match=r"dermfeat\[imbalanced\]"):
        ResampledClassifier(LogisticRegression(), sampler="smote").fit(X, y)
    with pytest.raises(ImportError, match="imbalanced-learn"):
        make_sampler("random_over")
    # without a named sampler imbalanced-learn is never needed
    ResampledClassifier(LogisticRegression()).fit(X, y)


@needs_imblearn
def test_random_oversampling_on_image_paths(lesion_folder):
    paths = sorted(str(p) for p in Path(lesion_folder).rglob("*.jpg"))
    labels = np.array([Path(p).parent.name for p in paths])
    pipe = Pipeline([("features", MeanColour()), ("lr", LogisticRegression())])
    clf = ResampledClassifier(pipe, sampler="random_over", random_state=0).fit(paths, labels)
    _, counts = np.unique(labels, return_counts=True)
    assert clf.n_resampled_ == 2 * counts.max() > len(paths)
    assert clf.predict(paths).shape == (len(paths),)
    images = ResampledClassifier(pipe, sampler="random_under", random_state=0).fit(
        np.stack([np.zeros((16, 16, 3), np.uint8) + i for i in range(6)]), [0, 0, 0, 0, 1, 1]
    )
    assert images.n_resampled_ == 4


@needs_imblearn
def test_tuned_threshold_around_resampling_sees_original_balance(tabular):
    X, y = tabular
    RecordingLR.log = []
    tuner = ThresholdTunedClassifier(
        ResampledClassifier(RecordingLR(), sampler="random_over", random_state=0), cv=3, thresholds=20
    ).fit(X, y)
    # every inner fit saw balanced data; the held-out folds (metrics) keep the original balance
    assert all(np.bincount(fit["y"])[0] == np.bincount(fit["y"])[1] for fit in RecordingLR.log)
    assert tuner.cv_results_["mean_positive_rate"].max() == pytest.approx(1.0)


def test_make_image_pipeline_structure(tabular):
    pipe = make_image_pipeline(MeanColour(), LogisticRegression(), sampler="smote", threshold="macro_f1", cv=3)
    params = pipe.get_params()
    assert params["clf__tune"] is True and params["clf__objective"] == "macro_f1"
    assert params["clf__estimator__sampler"] == "smote"
    assert "clf__estimator__estimator__class_weight" in params
    assert isinstance(pipe.named_steps["clf"], ThresholdTunedClassifier)
    union = make_image_pipeline([MeanColour(), MeanColour()], LogisticRegression(), scaler=None)
    assert union.named_steps["scale"] == "passthrough"
    with pytest.raises(ValueError, match="threshold"):
        make_image_pipeline(MeanColour(), LogisticRegression(), threshold=0.3)


@needs_imblearn
def test_imbalance_grid_over_image_pipeline(lesion_data):
    images, y, groups = lesion_data.images, lesion_data.labels, lesion_data.groups
    pipe = make_image_pipeline(
        MeanColour(), LogisticRegression(max_iter=500), pos_label="atopic_dermatitis", cv=3, thresholds=20
    )
    grid = {
        "clf__estimator__sampler": [None, "random_over", "smote"],
        "clf__estimator__estimator__class_weight": [None, "balanced"],
        "clf__tune": [False, True],
    }
    search = GridSearchCV(pipe, grid, scoring="balanced_accuracy", cv=StratifiedGroupKFold(3), n_jobs=2)
    search.fit(images, y, groups=groups)
    assert len(search.cv_results_["params"]) == 12
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert set(best.predict(images[:5])) <= set(lesion_data.target_names)
    again = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(again.predict(images), best.predict(images))


@needs_imblearn
def test_clone_keeps_sampler_objects():
    SMOTE, _ = _imblearn()
    sampler = SMOTE(k_neighbors=3)
    clf = clone(ResampledClassifier(LogisticRegression(), sampler=sampler))
    assert clf.sampler is not sampler and clf.sampler.get_params()["k_neighbors"] == 3
