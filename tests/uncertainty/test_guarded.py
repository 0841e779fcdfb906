"""GuardedClassifier: the classifier's answers unchanged, the guard on the same rows, groups passed on."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.uncertainty import ConformalClassifier, GuardedClassifier, OutOfDistributionDetector


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)


def test_answers_are_the_classifiers_and_the_guard_flags_far_rows():
    X, y = _data()
    plain = LogisticRegression().fit(X, y)
    guarded = GuardedClassifier(LogisticRegression(), OutOfDistributionDetector(normalize="standard")).fit(X, y)
    np.testing.assert_array_equal(guarded.predict(X), plain.predict(X))
    np.testing.assert_allclose(guarded.predict_proba(X), plain.predict_proba(X))
    far = np.full((3, 4), 25.0)
    assert not guarded.predict_in_distribution(far).any()
    assert guarded.predict_in_distribution(X).mean() > 0.9
    np.testing.assert_array_equal(guarded.score_samples(far), guarded.detector_.score_samples(far))
    assert not hasattr(guarded, "predict_set")  # only when the classifier gives sets


def test_sets_through_an_inner_pipeline():
    X, y = _data()
    inner = make_pipeline(StandardScaler(), ConformalClassifier(LogisticRegression(), cv=3))
    guarded = GuardedClassifier(inner).fit(X, y)
    sets = guarded.predict_set(X)
    assert sets.shape == (240, 2) and sets.dtype == bool
    np.testing.assert_array_equal(sets, inner.fit(X, y)[-1].predict_set(inner[:-1].transform(X)))


def test_groups_reach_the_detector_and_a_grouped_estimator():
    X, y = _data()
    groups = np.arange(240) // 4
    guarded = GuardedClassifier(ConformalClassifier(LogisticRegression(), cv=3)).fit(X, y, groups=groups)
    cal = guarded.estimator_.calibration_indices_
    folds = guarded.estimator_.calibration_folds_
    for k in range(3):
        assert len(set(groups[cal[folds == k]]) & set(groups[cal[folds != k]])) == 0
    with pytest.raises(ValueError, match="groups has 2 entries for 240"):
        GuardedClassifier(LogisticRegression()).fit(X, y, groups=[0, 1])


def test_default_detector_is_built_at_fit():
    X, y = _data()
    guarded = GuardedClassifier(LogisticRegression())
    assert guarded.detector is None
    assert isinstance(guarded.fit(X, y).detector_, OutOfDistributionDetector)
