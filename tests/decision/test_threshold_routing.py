"""groups and sample_weight reach the splitter, the estimator and the metrics."""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.decision import ThresholdTunedClassifier
from tests._helpers import RecordingGroupKFold


class RecordingLR(ClassifierMixin, BaseEstimator):
    """Logistic regression that records what ``fit`` received (column 0 of X is a row id)."""

    log = []

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y, sample_weight=None):
        ids = X[:, 0].astype(int)
        RecordingLR.log.append({"ids": ids, "sample_weight": sample_weight})
        self.model_ = LogisticRegression(C=self.C).fit(X[:, 1:], y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X[:, 1:])

    def predict(self, X):
        return self.model_.predict(X[:, 1:])


@pytest.fixture()
def data():
    X, y = make_classification(240, n_features=5, weights=[0.7], random_state=0)
    ids = np.arange(len(y))
    groups = ids // 6  # 40 "patients" with 6 photographs each
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    RecordingLR.log = []
    return np.column_stack([ids, X]), y, groups, sw


def _grouped(record, groups):
    """Every fold fit saw each group either completely or not at all."""
    counts = np.bincount(groups)
    for fit in record:
        seen = np.bincount(groups[fit["ids"]], minlength=len(counts))
        if not np.all((seen == 0) | (seen == counts)):
            return False
    return True


@pytest.fixture(params=[False, True], ids=["no-routing", "routing"])
def routing(request):
    with sklearn.config_context(enable_metadata_routing=request.param):
        yield request.param


def test_groups_reach_the_splitter(data, routing):
    X, y, groups, _ = data
    cv = RecordingGroupKFold(3)
    ThresholdTunedClassifier(RecordingLR(), cv=cv, thresholds=10).fit(X, y, groups=groups)
    np.testing.assert_array_equal(cv.seen[0], groups)
    assert _grouped(RecordingLR.log[:-1], groups)


def test_int_cv_with_groups_is_grouped(data, routing):
    X, y, groups, _ = data
    ThresholdTunedClassifier(RecordingLR(), cv=4, thresholds=10).fit(X, y, groups=groups)
    assert len(RecordingLR.log) == 5
    assert _grouped(RecordingLR.log[:-1], groups)
    RecordingLR.log = []
    ThresholdTunedClassifier(RecordingLR(), cv=4, thresholds=10).fit(X, y)
    assert not _grouped(RecordingLR.log[:-1], groups)  # plain stratified folds split the patients


def test_float_cv_with_groups_is_grouped(data, routing):
    X, y, groups, _ = data
    ThresholdTunedClassifier(RecordingLR(), cv=0.3, refit=False, random_state=0, thresholds=10).fit(
        X, y, groups=groups
    )
    assert len(RecordingLR.log) == 1 and _grouped(RecordingLR.log, groups)


def _check_weights_reached(record, sw):
    assert all(fit["sample_weight"] is not None for fit in record)
    for fit in record:
        np.testing.assert_array_equal(fit["sample_weight"], sw[fit["ids"]])


def test_sample_weight_without_routing(data):
    X, y, groups, sw = data
    clf = ThresholdTunedClassifier(RecordingLR(), cv=3, thresholds=10).fit(X, y, sample_weight=sw)
    assert len(RecordingLR.log) == 4
    _check_weights_reached(RecordingLR.log, sw)
    unweighted = ThresholdTunedClassifier(LogisticRegression(), cv=3, thresholds=10).fit(X[:, 1:], y)
    assert not np.allclose(clf.cv_results_["mean_sensitivity"], unweighted.cv_results_["mean_sensitivity"])


def test_sample_weight_with_routing(data):
    X, y, groups, sw = data
    with sklearn.config_context(enable_metadata_routing=True):
        cv = RecordingGroupKFold(3)
        est = RecordingLR().set_fit_request(sample_weight=True)
        ThresholdTunedClassifier(est, cv=cv, thresholds=10).fit(X, y, groups=groups, sample_weight=sw)
        _check_weights_reached(RecordingLR.log, sw)
        np.testing.assert_array_equal(cv.seen[0], groups)
        # an estimator that did not state its request is an error, as everywhere in scikit-learn
        with pytest.raises(ValueError, match="sample_weight"):
            ThresholdTunedClassifier(RecordingLR(), cv=3, thresholds=10).fit(X, y, sample_weight=sw)
        # ... and one that declined it is fitted unweighted, while the metrics stay weighted
        RecordingLR.log = []
        declined = RecordingLR().set_fit_request(sample_weight=False)
        ThresholdTunedClassifier(declined, cv=3, thresholds=10).fit(X, y, sample_weight=sw)
        assert all(fit["sample_weight"] is None for fit in RecordingLR.log)


def test_metadata_routing_object():
    with sklearn.config_context(enable_metadata_routing=True):
        est = RecordingLR().set_fit_request(sample_weight=True)
        routing = ThresholdTunedClassifier(est, cv=GroupKFold(3)).get_metadata_routing()
        text = str(routing)
        assert "splitter" in text and "estimator" in text


def test_grid_search_routes_groups_to_inner_cv(data):
    X, y, groups, sw = data
    with sklearn.config_context(enable_metadata_routing=True):
        inner = RecordingGroupKFold(2)
        tuner = ThresholdTunedClassifier(
            RecordingLR().set_fit_request(sample_weight=True), cv=inner, thresholds=10
        ).set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        search = GridSearchCV(tuner, {"estimator__C": [0.1, 1.0]}, cv=GroupKFold(3)).fit(
            X, y, groups=groups, sample_weight=sw
        )
        assert search.best_estimator_.n_splits_ == 2
    # the inner splitter is cloned by GridSearchCV, so check the effect: grouped inner folds
    inner_fits = [fit for fit in RecordingLR.log if len(fit["ids"]) < 0.5 * len(y)]
    assert inner_fits and _grouped(inner_fits, groups)
    _check_weights_reached(RecordingLR.log, sw)


def test_pipeline_step_params_without_routing(data):
    X, y, groups, sw = data
    pipe = Pipeline([("scale", "passthrough"), ("clf", ThresholdTunedClassifier(RecordingLR(), cv=3, thresholds=10))])
    pipe.fit(X, y, clf__groups=groups, clf__sample_weight=sw)
    assert _grouped(RecordingLR.log[:-1], groups)
    _check_weights_reached(RecordingLR.log, sw)
    search = GridSearchCV(pipe, {"clf__tune": [True]}, cv=GroupKFold(2)).fit(X, y, groups=groups, clf__groups=groups)
    assert search.best_score_ > 0.5


def test_unsupported_sample_weight_warns(data):
    X, y, _, sw = data
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())])
    with pytest.warns(UserWarning, match="only weights the metrics"):
        ThresholdTunedClassifier(pipe, cv=KFold(3), thresholds=10).fit(X[:, 1:], y, sample_weight=sw)
