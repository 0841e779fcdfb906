"""Metadata routing end to end: evaluate, the splitters' requests, the CV helpers."""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.metadata_routing import get_routing_for_object

from dermfeat.evaluation import cross_val_predict, evaluate
from dermfeat.model_selection import RepeatedStratifiedGroupKFold, ThresholdTunedClassifier
from dermfeat.pipeline import ImagePipeline

pytestmark = pytest.mark.filterwarnings("ignore::dermfeat.UnstableThresholdWarning")

SEEN = []


class SpyGroupKFold(GroupKFold):
    """GroupKFold that records the groups it is given (module-level: clones copy the splitter)."""

    def split(self, X, y=None, groups=None):
        SEEN.append(None if groups is None else np.asarray(groups).copy())
        return super().split(X, y, groups)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 2)
    y = np.where(np.repeat(rng.random(30) < 0.4, 2), "atopic_dermatitis", "eczema")
    X = rng.normal(size=(60, 4)) + (y == "atopic_dermatitis")[:, None]
    return X, y, groups


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def _tuned(cv=3):
    return ThresholdTunedClassifier(LogisticRegression(), objective="macro_f1", pos_label="atopic_dermatitis", cv=cv)


@pytest.mark.parametrize("kind", ["pipeline", "image_pipeline", "tuned"])
def test_evaluate_routes_each_training_folds_groups(routing, data, kind):
    X, y, groups = data
    SEEN.clear()
    clf = _tuned(SpyGroupKFold(3))
    estimator = {"pipeline": make_pipeline(StandardScaler(), clf),
                 "image_pipeline": ImagePipeline([("scale", StandardScaler()), ("clf", clf)]),
                 "tuned": clf}[kind]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    report = evaluate(estimator, X, y, groups=groups, cv=cv, subgroups=None)
    assert len(report.folds) == 3 and report.pos_label == "atopic_dermatitis"
    trains = [train for train, _ in cv.split(X, y, groups)]
    inner = [g for g in SEEN if g is not None]
    assert len(inner) == 3, "the inner splitter did not get the groups"
    for seen, train in zip(inner, trains):
        np.testing.assert_array_equal(seen, groups[train])


def test_evaluate_without_a_groups_consumer_under_routing(routing, data):
    X, y, groups = data
    report = evaluate(make_pipeline(StandardScaler(), LogisticRegression()), X, y, groups=groups, cv=3, subgroups=None)
    assert len(report.folds) == 3


def test_evaluate_same_figures_with_and_without_routing(data):
    X, y, groups = data
    estimator = make_pipeline(StandardScaler(), _tuned(GroupKFold(3)))
    plain = evaluate(estimator, X, y, groups=groups, cv=3, subgroups=None)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = evaluate(estimator, X, y, groups=groups, cv=3, subgroups=None)
    np.testing.assert_allclose(plain.scores("macro_f1"), routed.scores("macro_f1"))
    np.testing.assert_allclose(plain.thresholds(), routed.thresholds())


def test_splitter_requests_groups(routing, data):
    X, y, groups = data
    cv = RepeatedStratifiedGroupKFold(n_splits=3, n_repeats=2, random_state=0)
    assert get_routing_for_object(cv).consumes("split", ["groups"]) == {"groups"}
    scores = cross_val_score(LogisticRegression(), X, y, cv=cv, params={"groups": groups})
    assert scores.shape == (6,)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv).fit(X, y, groups=groups)
    assert search.n_splits_ == 6


def test_splitter_without_groups_raises_under_routing(routing, data):
    X, y, _ = data
    # a group splitter must be given groups: the request is not optional
    with pytest.raises(Exception, match="groups"):
        cross_val_score(LogisticRegression(), X, y, cv=GroupKFold(3))
    scores = cross_val_score(LogisticRegression(), X, y, cv=RepeatedStratifiedGroupKFold(3, 1, random_state=0))
    assert scores.shape == (3,)  # None groups: each sample its own group, as documented


@pytest.mark.parametrize("routed", [False, True])
def test_cross_val_predict_keeps_string_labels(data, routed):
    X, y, groups = data
    with sklearn.config_context(enable_metadata_routing=routed):
        proba = cross_val_predict(_tuned(GroupKFold(3)), X, y, groups=groups, cv=GroupKFold(4), method="predict_proba")
        pred = cross_val_predict(_tuned(GroupKFold(3)), X, y, groups=groups, cv=GroupKFold(4))
    assert proba.shape == (60, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(pred) <= {"atopic_dermatitis", "eczema"}
    # the first column is atopic_dermatitis (sorted labels) and it separates the classes
    assert proba[y == "atopic_dermatitis", 0].mean() > proba[y == "eczema", 0].mean()
    # the same as fitting each fold by hand
    for train, test in GroupKFold(4).split(X, y, groups):
        est = _tuned(GroupKFold(3)).fit(X[train], y[train], groups=groups[train])
        np.testing.assert_allclose(proba[test], est.predict_proba(X[test]))
        np.testing.assert_array_equal(pred[test], est.predict(X[test]))
        break


def test_cross_val_predict_aligns_missing_classes():
    X = np.arange(12, dtype=float)[:, None]
    y = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 2)
    cv = [(np.arange(10), np.arange(10, 12)), (np.r_[0:5, 10:12], np.arange(5, 10)), (np.arange(5, 12), np.arange(5))]
    proba = cross_val_predict(LogisticRegression(), X, y, cv=cv, method="predict_proba")
    assert proba.shape == (12, 3)
    assert np.all(proba[10:, 2] == 0)  # the first fold never saw "c"
    with pytest.raises(ValueError, match="partition"):
        cross_val_predict(LogisticRegression(), X, y, cv=RepeatedStratifiedGroupKFold(2, 2), method="predict")
