"""ConformalClassifier: coverage, class-conditional coverage, grouped folds, agreement with MAPIE."""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from dermfeat.model_selection import ThresholdTunedClassifier
from dermfeat.uncertainty import ConformalClassifier, coverage_table, mean_set_size, set_coverage
from dermfeat.utils._param_validation import InvalidParameterError


def _data(n, random_state, weights=(0.75, 0.25)):
    return make_classification(n, n_features=6, n_informative=3, flip_y=0.15, weights=list(weights),
                               class_sep=0.8, random_state=random_state)


@pytest.mark.parametrize("method", ["cross", "split"])
@pytest.mark.parametrize("class_conditional", [False, True])
def test_coverage_is_at_least_the_confidence_level(method, class_conditional):
    """Averaged over repeated draws, coverage is near 90 % overall and, per class, when class-conditional."""
    overall, minority = [], []
    for seed in range(6):
        X, y = _data(1400, seed)
        clf = ConformalClassifier(LogisticRegression(), confidence_level=0.9, method=method,
                                  class_conditional=class_conditional, random_state=seed).fit(X[:400], y[:400])
        sets = clf.predict_set(X[400:])
        overall.append(set_coverage(y[400:], sets, clf.classes_))
        minority.append(set_coverage(y[400:][y[400:] == 1], sets[y[400:] == 1], clf.classes_))
    assert 0.88 <= np.mean(overall) <= 0.95, overall
    if class_conditional:
        assert 0.87 <= np.mean(minority) <= 0.96, minority


def test_marginal_sets_can_undercover_the_rare_class_and_mondrian_fixes_it():
    X, y = make_classification(4000, n_features=4, n_informative=2, weights=[0.9, 0.1], flip_y=0.2,
                               class_sep=0.5, random_state=0)
    marginal = ConformalClassifier(LogisticRegression(), method="split").fit(X[:1500], y[:1500])
    mondrian = ConformalClassifier(LogisticRegression(), method="split", class_conditional=True).fit(X[:1500], y[:1500])
    rare = y[1500:] == 1
    cov_marginal = set_coverage(y[1500:][rare], marginal.predict_set(X[1500:])[rare], [0, 1])
    cov_mondrian = set_coverage(y[1500:][rare], mondrian.predict_set(X[1500:])[rare], [0, 1])
    assert cov_marginal < 0.85 <= cov_mondrian


def test_split_sets_equal_mapie_split_conformal():
    """MAPIE, calibrating our fitted estimator on our calibration rows, gives the same sets."""
    mapie = pytest.importorskip("mapie.classification")
    X, y = _data(900, 1)
    ours = ConformalClassifier(LogisticRegression(), method="split", calibration_size=0.3).fit(X[:600], y[:600])
    cal = ours.calibration_indices_
    assert cal.shape[0] == 180
    ref = mapie.SplitConformalClassifier(ours.estimator_, confidence_level=0.9, conformity_score="lac", prefit=True)
    ref.conformalize(X[cal], y[cal])
    _, ref_sets = ref.predict_set(X[600:])
    np.testing.assert_array_equal(ours.predict_set(X[600:]), ref_sets[:, :, 0])
    assert 0.05 < np.mean(ours.predict_set(X[600:]).sum(axis=1) == 2) < 0.95  # not a trivial comparison


def test_cross_sets_agree_with_mapie_cross_conformal():
    """Same folds, same fold models: our p-value rule (Vovk's, counting the test point) never excludes a
    class MAPIE's ``crossval`` rule keeps, and the sets differ on few photographs."""
    mapie = pytest.importorskip("mapie.classification")
    from sklearn.model_selection import StratifiedKFold

    X, y = _data(900, 2)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = ConformalClassifier(LogisticRegression(), cv=folds).fit(X[:600], y[:600])
    ref = mapie.CrossConformalClassifier(LogisticRegression(), confidence_level=0.9, conformity_score="lac",
                                         cv=folds)
    ref.fit_conformalize(X[:600], y[:600])
    _, ref_sets = ref.predict_set(X[600:], agg_scores="crossval")
    ours_sets = ours.predict_set(X[600:])
    ref_sets = ref_sets[:, :, 0]
    assert np.all(ours_sets >= ref_sets)
    assert np.mean(np.any(ours_sets != ref_sets, axis=1)) <= 0.05
    assert abs(set_coverage(y[600:], ours_sets, [0, 1]) - set_coverage(y[600:], ref_sets, [0, 1])) <= 0.02


class _GroupRecorder(ClassifierMixin, BaseEstimator):
    """A logistic regression that records the groups and rows it was fitted on."""

    seen = []

    def _uses_groups(self):
        return True

    def fit(self, X, y, groups=None):
        type(self).seen.append(None if groups is None else set(np.asarray(groups).tolist()))
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_groups_are_never_split_and_reach_a_grouped_inner_estimator():
    X, y = _data(300, 3)
    groups = np.arange(300) // 3
    _GroupRecorder.seen = []
    clf = ConformalClassifier(_GroupRecorder(), cv=4).fit(X, y, groups=groups)
    assert len(_GroupRecorder.seen) == 5 and _GroupRecorder.seen[4] == set(groups.tolist())
    for k, seen in enumerate(_GroupRecorder.seen[:4]):
        held_out = set(groups[clf.calibration_indices_[clf.calibration_folds_ == k]].tolist())
        assert held_out and not held_out & seen  # fold k's model never saw a group it scores
        assert held_out | seen == set(groups.tolist())
    assert sorted(clf.calibration_indices_.tolist()) == list(range(300))


@pytest.mark.filterwarnings("ignore::dermfeat.UnstableThresholdWarning")
def test_a_tuned_threshold_inside_keeps_its_decision_and_gets_sets():
    X, y = _data(400, 4)
    tuned = ThresholdTunedClassifier(LogisticRegression(), objective="balanced_accuracy", cv=3)
    clf = ConformalClassifier(tuned, cv=3).fit(X[:300], y[:300], groups=np.arange(300) // 2)
    np.testing.assert_array_equal(clf.predict(X[300:]), clf.estimator_.predict(X[300:]))
    assert 0 < clf.estimator_.best_threshold_ < 1
    np.testing.assert_allclose(clf.predict_proba(X[300:]), clf.estimator_.predict_proba(X[300:]))
    sets = clf.predict_set(X[300:])
    assert 1.0 <= mean_set_size(sets) <= 2.0


def test_pvalues_decide_the_sets():
    X, y = _data(300, 5)
    clf = ConformalClassifier(LogisticRegression(), confidence_level=0.8).fit(X[:200], y[:200])
    pvalues = clf.predict_pvalues(X[200:])
    assert np.all((pvalues > 0) & (pvalues <= 1))
    np.testing.assert_array_equal(clf.predict_set(X[200:]), pvalues > 0.2)


def test_coverage_table_by_class():
    X, y = _data(600, 6)
    clf = ConformalClassifier(LogisticRegression(), class_conditional=True).fit(X[:300], y[:300])
    rows = coverage_table(y[300:], clf.predict_set(X[300:]), clf.classes_, by=y[300:])
    assert [r["group"] for r in rows] == [0, 1]
    assert sum(r["n"] for r in rows) == 300


def test_errors_are_clear():
    X, y = _data(100, 7)
    with pytest.raises(InvalidParameterError, match="confidence_level"):
        ConformalClassifier(LogisticRegression(), confidence_level=90).fit(X, y)
    with pytest.raises(ValueError, match="at least two classes"):
        ConformalClassifier(LogisticRegression()).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="folds need at least 5 groups"):
        ConformalClassifier(LogisticRegression()).fit(X, y, groups=np.arange(100) % 3)
    with pytest.raises(InvalidParameterError, match="estimator"):
        from sklearn.svm import LinearSVC

        ConformalClassifier(LinearSVC()).fit(X, y)


def test_clone_pickle_grid_search():
    X, y = _data(300, 8)
    clf = ConformalClassifier(LogisticRegression(), cv=3)
    search = GridSearchCV(clf, {"estimator__C": [0.1, 1.0]}, cv=3, n_jobs=2).fit(X, y)
    best = search.best_estimator_
    loaded = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(loaded.predict_set(X), best.predict_set(X))
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_set(X), clf.fit(X, y).predict_set(X))
