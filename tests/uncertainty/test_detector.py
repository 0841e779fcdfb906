"""OutOfDistributionDetector: calibrated false alarms, grouped calibration, scikit-learn conventions."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold

from dermfeat.uncertainty import OutOfDistributionDetector
from dermfeat.utils._param_validation import InvalidParameterError


@pytest.mark.parametrize("method", ["knn", "mahalanobis"])
@pytest.mark.parametrize("normalize", ["l2", "standard"])
def test_false_alarm_rate_is_about_the_nominal_one(method, normalize):
    rng = np.random.default_rng(0)
    X = rng.normal(1.0, 1.0, size=(400, 6))
    new = rng.normal(1.0, 1.0, size=(4000, 6))
    detector = OutOfDistributionDetector(method=method, normalize=normalize, false_alarm_rate=0.1).fit(X)
    rate = float(np.mean(detector.predict(new) == -1))
    assert 0.05 <= rate <= 0.14, rate
    far = rng.normal(9.0, 1.0, size=(50, 6)) * np.array([1, -1, 1, -1, 1, -1])
    assert np.all(detector.predict(far) == -1)


def test_scores_are_minus_the_distance_and_decide_with_the_threshold():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    detector = OutOfDistributionDetector(normalize="standard").fit(X)
    Q = rng.normal(size=(20, 3)) * 3
    scores = detector.score_samples(Q)
    np.testing.assert_allclose(detector.decision_function(Q), scores + detector.threshold_)
    np.testing.assert_array_equal(detector.predict(Q) == 1, -scores <= detector.threshold_)
    assert detector.calibration_scores_.shape == (100,)
    # a training row is its own nearest neighbour: its score is not its calibration score
    assert np.all(-detector.score_samples(X) <= detector.calibration_scores_ + 1e-9)


def test_threshold_is_the_conformal_order_statistic_of_held_out_scores():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(59, 4))
    detector = OutOfDistributionDetector(false_alarm_rate=0.05).fit(X)
    k = int(np.ceil(60 * 0.95))  # 57th smallest of 59
    assert detector.threshold_ == np.sort(detector.calibration_scores_)[k - 1]
    # too few rows for the level: nothing is ever flagged rather than a made-up threshold
    assert OutOfDistributionDetector(false_alarm_rate=0.01).fit(X[:20]).threshold_ == np.inf


def test_grouped_calibration_keeps_near_duplicates_out_of_the_reference():
    """Copies of a photograph in the reference set make held-out scores too small and alarms too frequent."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(80, 5))
    X = np.repeat(base, 4, axis=0) + rng.normal(scale=0.01, size=(320, 5))
    groups = np.repeat(np.arange(80), 4)
    new = rng.normal(size=(3000, 5))
    grouped = OutOfDistributionDetector(normalize="standard", n_neighbors=1).fit(X, groups=groups)
    ungrouped = OutOfDistributionDetector(normalize="standard", n_neighbors=1).fit(X)
    rate_grouped = np.mean(grouped.predict(new) == -1)
    rate_ungrouped = np.mean(ungrouped.predict(new) == -1)
    assert rate_grouped < 0.12
    assert rate_ungrouped > 0.5
    with pytest.raises(ValueError, match="groups has 3 entries for 320"):
        OutOfDistributionDetector().fit(X, groups=[1, 2, 3])


def test_splitter_must_hold_out_every_row_once():
    X = np.random.default_rng(0).normal(size=(30, 2))
    OutOfDistributionDetector(cv=KFold(3)).fit(X)
    from sklearn.model_selection import ShuffleSplit

    with pytest.raises(ValueError, match="exactly once"):
        OutOfDistributionDetector(cv=ShuffleSplit(2, test_size=0.2)).fit(X)


def test_invalid_parameters_and_inputs_are_named():
    X = np.zeros((10, 2))
    with pytest.raises(InvalidParameterError, match="false_alarm_rate"):
        OutOfDistributionDetector(false_alarm_rate=1.5).fit(X)
    with pytest.raises(InvalidParameterError, match="method"):
        OutOfDistributionDetector(method="lof").fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        OutOfDistributionDetector().fit(np.full((10, 2), np.nan))
    fitted = OutOfDistributionDetector().fit(np.random.default_rng(0).normal(size=(10, 2)))
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((2, 3)))


def test_clone_pickle_and_determinism():
    X = np.random.default_rng(4).normal(size=(60, 3))
    detector = OutOfDistributionDetector(method="mahalanobis").fit(X)
    again = clone(detector).fit(X)
    np.testing.assert_array_equal(detector.score_samples(X), again.score_samples(X))
    loaded = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(loaded.decision_function(X), detector.decision_function(X))
